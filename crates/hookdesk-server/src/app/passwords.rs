//! People signing in with an email and a password: argon2id hashes (PHC strings), the
//! one-time links (invitations and resets) an admin hands out to set one, the lockout of an
//! account after failed sign-ins in a row, and `hookdesk user set-password`.
//!
//! Nothing here logs a password, a hash or a link. A sign-in with an email nobody has takes
//! the same path as a wrong password (a dummy hash is verified, the failure is counted under
//! the email typed, and it locks alike), so neither the answer nor its timing says whether
//! an account exists.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use hookdesk_core::id::UserId;
use hookdesk_core::user::{Email, Role, User};
use hookdesk_core::{Invalid, Timestamp};
use hookdesk_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::callers::{Admin, Client};
use super::metrics::SignInRefusal;
use super::sessions::SignedIn;
use super::{App, AppError, ids};

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest, in bytes: hashing is costly, and no one types more.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Failed sign-ins in a row that lock an account.
pub const FAILURES_BEFORE_LOCK: i64 = 5;
/// The first lockout; each next one (without a success between) lasts twice as long...
pub const FIRST_LOCK: Duration = Duration::from_secs(5 * 60);
/// ...up to this.
pub const LONGEST_LOCK: Duration = Duration::from_secs(4 * 60 * 60);
/// How long an invitation works.
pub const INVITATION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How long a reset link works: it stands in for a password, so not long.
pub const RESET_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// What a link is for: a new person's first password, or a forgotten one's replacement.
/// They differ only in how long they work and what the page says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Invitation,
    Reset,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invitation => "invitation",
            Self::Reset => "reset",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Invitation, Self::Reset].into_iter().find(|k| k.as_str() == text)
    }

    pub fn lifetime(self) -> Duration {
        match self {
            Self::Invitation => INVITATION_LIFETIME,
            Self::Reset => RESET_LIFETIME,
        }
    }
}

/// `POST /users/{id}/password_links`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// `invitation` (works 7 days) or `reset` (works 1 hour).
    pub kind: LinkKind,
}

/// A link as created: shown this once; only its hash is stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewLink {
    pub kind: LinkKind,
    /// Opens a page that sets the user's password, then signs them in. Works once.
    pub url: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

/// An open link, as its page shows it.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub kind: LinkKind,
    pub user_name: String,
    pub email: String,
}

/// Why a password sign-in was refused: each says so in words on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No agent or admin has this email and password (which of the two is not said).
    WrongCredentials,
    /// Too many failures in a row for this email: it may try again after this.
    Locked(Duration),
    /// Too many failures from this address (the same throttle as wrong tokens).
    Throttled(Duration),
}

/// What a password sign-in came to.
#[derive(Debug)]
pub enum PasswordSignIn {
    SignedIn(SignedIn),
    Refused(Refused),
}

/// Why a new password was not taken: said at the field.
pub fn check_new_password(password: &str, confirmation: &str) -> Result<(), Invalid> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Invalid::new("password", format!("must be at least {MIN_PASSWORD_CHARS} characters long")));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Invalid::new("password", format!("must be at most {MAX_PASSWORD_BYTES} bytes long")));
    }
    if password != confirmation {
        return Err(Invalid::new("confirmation", "must be the same as the password"));
    }
    Ok(())
}

/// How long the `lockouts`-th lockout in a row (from 0) lasts.
pub fn lock_duration(lockouts: i64) -> Duration {
    let doublings = u32::try_from(lockouts.clamp(0, 16)).unwrap_or(16);
    FIRST_LOCK.saturating_mul(1 << doublings).min(LONGEST_LOCK)
}

/// Hashes and checks at once: each takes 19 MiB and a core for ~0.1 s, so many at once
/// (sign-in attempts from anywhere) would take the memory and the cores; the rest wait.
static ARGON2_TURNS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
});

/// The PHC string of `password`, argon2id with the crate's recommended parameters.
async fn hash_password(password: &str) -> Result<String, AppError> {
    let password = password.to_owned();
    let _turn = ARGON2_TURNS.acquire().await.map_err(|e| AppError::Internal(format!("no turn to hash: {e}")))?;
    let hashed = tokio::task::spawn_blocking(move || Argon2::default().hash_password(password.as_bytes()))
        .await
        .map_err(|e| AppError::Internal(format!("hashing a password stopped: {e}")))?;
    // The error says which step failed, never the password.
    hashed.map(|hash| hash.to_string()).map_err(|e| AppError::Internal(format!("a password did not hash: {e}")))
}

/// Whether `password` matches `phc`; a PHC string that does not parse matches nothing.
async fn verify_password(password: &str, phc: String) -> Result<bool, AppError> {
    let password = password.to_owned();
    let _turn = ARGON2_TURNS.acquire().await.map_err(|e| AppError::Internal(format!("no turn to verify: {e}")))?;
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc).is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
    })
    .await
    .map_err(|e| AppError::Internal(format!("verifying a password stopped: {e}")))
}

/// A hash of a random password, made once, verified in place of an account's when the email
/// has none: the refusal takes as long as a wrong password's.
async fn dummy_hash() -> Result<String, AppError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash.clone());
    }
    let hash = hash_password(&ids::random_token(32)?).await?;
    Ok(DUMMY.get_or_init(|| hash).clone())
}

impl App {
    /// Signs in with an email and a password, presented by `client`.
    pub async fn sign_in_with_password(
        &self,
        email: &str,
        password: &str,
        client: Client,
    ) -> Result<PasswordSignIn, AppError> {
        let started = Instant::now();
        if let Some(wait) = client.0.and_then(|address| self.token_failures.wait(address, started)) {
            self.metrics.sign_in_refused(SignInRefusal::Throttled);
            return Ok(PasswordSignIn::Refused(Refused::Throttled(wait)));
        }
        let now = self.clock.now();
        let email = Email::parse(email).ok();
        if let Some(email) = &email
            && let Some(until) = self.store.sign_in_locked_until(email, now).await?
        {
            self.metrics.sign_in_refused(SignInRefusal::Locked);
            let wait = Duration::from_millis(u64::try_from(until.as_millis() - now.as_millis()).unwrap_or(0));
            return Ok(PasswordSignIn::Refused(Refused::Locked(wait)));
        }
        // The attempt counts before the password is checked: attempts sent at once each take
        // a place in the count, and those past the lock's are refused unchecked (counted
        // after, all of them would be checked before the first lock was written).
        let attempt = match &email {
            Some(email) => Some(self.store.count_sign_in_failure(email, now).await?),
            None => None,
        };
        if let Some(attempt) = &attempt
            && attempt.in_a_row > FAILURES_BEFORE_LOCK
        {
            self.metrics.sign_in_refused(SignInRefusal::Locked);
            return Ok(PasswordSignIn::Refused(Refused::Locked(lock_duration(attempt.lockouts))));
        }
        let account = match &email {
            Some(email) => self.store.password_account(email).await?,
            None => None,
        };
        let (user, phc) = match account {
            Some(account) => (Some(account.user), account.phc),
            None => (None, None),
        };
        let matches = match phc {
            Some(phc) => verify_password(password, phc).await?,
            None => {
                verify_password(password, dummy_hash().await?).await?;
                false
            }
        };
        match (user, email) {
            (Some(user), Some(email)) if matches => {
                self.store.clear_sign_in_failures(&email).await?;
                Ok(PasswordSignIn::SignedIn(self.open_password_session(user).await?))
            }
            (_, email) => self.count_failed_sign_in(email.zip(attempt), client, started).await,
        }
    }

    /// Counts a failed password sign-in against the client's address (the email's attempt was
    /// counted before the check), locking the email at [`FAILURES_BEFORE_LOCK`] in a row.
    async fn count_failed_sign_in(
        &self,
        counted: Option<(Email, hookdesk_store::Failures)>,
        client: Client,
        started: Instant,
    ) -> Result<PasswordSignIn, AppError> {
        if let Some(address) = client.0 {
            self.token_failures.failed(address, started);
        }
        self.metrics.sign_in_refused(SignInRefusal::WrongPassword);
        let Some((email, failures)) = counted else { return Ok(PasswordSignIn::Refused(Refused::WrongCredentials)) };
        let now = self.clock.now();
        if failures.in_a_row < FAILURES_BEFORE_LOCK {
            return Ok(PasswordSignIn::Refused(Refused::WrongCredentials));
        }
        let lock = lock_duration(failures.lockouts);
        self.store.lock_sign_ins(&email, now.plus_millis(lock.as_millis() as i64), now).await?;
        tracing::warn!(
            failures = failures.in_a_row,
            minutes = lock.as_secs() / 60,
            "an account's password sign-ins are locked after failures in a row"
        );
        Ok(PasswordSignIn::Refused(Refused::Locked(lock)))
    }

    /// A new invitation or reset link for user `id` (an agent or admin), replacing any
    /// earlier link of theirs. Shown this once.
    pub async fn create_password_link(&self, caller: &Admin, id: UserId, body: LinkBody) -> Result<NewLink, AppError> {
        let user = self.user(caller, id).await?;
        if user.role < Role::Agent {
            return Err(Invalid::new("role", "only agents and admins sign in; make the user an agent first").into());
        }
        let token = ids::random_token(32)?;
        let now = self.clock.now();
        let expires_at = now.plus_millis(body.kind.lifetime().as_millis() as i64);
        match self.store.replace_password_link(id, &ids::token_hash(&token), body.kind.as_str(), now, expires_at).await
        {
            // Made an end user in between.
            Err(StoreError::NotFound) => return Err(AppError::NotFound("agent or admin")),
            other => other?,
        }
        tracing::info!(user.id = %id, kind = body.kind.as_str(), "password link created");
        let url = format!("{}/ui/password/{token}", self.config.public_url.trim_end_matches('/'));
        Ok(NewLink { kind: body.kind, url, expires_at })
    }

    /// The link `token` names, if it works (open, unused, the newest of its user, who is
    /// still an agent or admin).
    pub async fn password_link(&self, token: &str) -> Result<LinkView, AppError> {
        let link = self.store.password_link(&ids::token_hash(token), self.clock.now()).await?;
        let Some(link) = link.filter(|l| LinkKind::parse(&l.kind).is_some()) else {
            self.metrics.sign_in_refused(SignInRefusal::InvalidLink);
            return Err(AppError::NotFound("link"));
        };
        let kind = LinkKind::parse(&link.kind).unwrap_or(LinkKind::Reset);
        Ok(LinkView { kind, user_name: link.user.name, email: link.user.email })
    }

    /// Sets a password through the link `token`, which then stops working, and signs its
    /// user in. The password is checked first: a refused one leaves the link working.
    pub async fn use_password_link(
        &self,
        token: &str,
        password: &str,
        confirmation: &str,
    ) -> Result<SignedIn, AppError> {
        check_new_password(password, confirmation)?;
        // The link first: a hash costs 19 MiB and a core for ~0.1 s, not to be spent on
        // anyone's made-up link.
        if self.store.password_link(&ids::token_hash(token), self.clock.now()).await?.is_none() {
            self.metrics.sign_in_refused(SignInRefusal::InvalidLink);
            return Err(AppError::NotFound("link"));
        }
        let phc = hash_password(password).await?;
        let Some(user) = self.store.use_password_link(&ids::token_hash(token), &phc, self.clock.now()).await? else {
            self.metrics.sign_in_refused(SignInRefusal::InvalidLink);
            return Err(AppError::NotFound("link"));
        };
        tracing::info!(user.id = %user.id, "password set through a link");
        self.open_password_session(user).await
    }

    /// `hookdesk user set-password`: sets the password of the agent or admin with `email`
    /// and ends their lockout. Run beside the database, as its operator.
    pub async fn set_password_locally(&self, email: &str, password: &str) -> Result<User, AppError> {
        let email = Email::parse(email)?;
        check_new_password(password, password)?;
        let phc = hash_password(password).await?;
        match self.store.set_password(&email, &phc, self.clock.now()).await {
            Err(StoreError::NotFound) => Err(AppError::NotFound("agent or admin with this email")),
            other => Ok(other?),
        }
    }

    /// Whether user `id` has a password (their page says so).
    pub async fn has_password(&self, _caller: &Admin, id: UserId) -> Result<bool, AppError> {
        Ok(self.store.has_password(id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_password_is_long_enough_and_confirmed() {
        let refusal = |password: &str, confirmation: &str| {
            let invalid = check_new_password(password, confirmation).expect_err("refused");
            (invalid.field, invalid.message)
        };
        assert_eq!(refusal("short", "short"), ("password".into(), "must be at least 10 characters long".into()));
        assert_eq!(
            refusal("long enough, yes", "long enough, no"),
            ("confirmation".into(), "must be the same as the password".into())
        );
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert_eq!(
            refusal(&long, &long),
            ("password".into(), format!("must be at most {MAX_PASSWORD_BYTES} bytes long"))
        );
        assert!(check_new_password("ten chars!", "ten chars!").is_ok());
        // Characters, not bytes: ten accented letters are ten.
        assert!(check_new_password("éééééééééé", "éééééééééé").is_ok());
    }

    #[test]
    fn lockouts_grow_and_stop_growing() {
        assert_eq!(lock_duration(0), FIRST_LOCK);
        assert_eq!(lock_duration(1), FIRST_LOCK * 2);
        assert_eq!(lock_duration(2), FIRST_LOCK * 4);
        assert_eq!(lock_duration(50), LONGEST_LOCK);
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let phc = hash_password("correct horse battery").await.expect("hashes");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password("correct horse battery", phc.clone()).await.expect("verifies"));
        assert!(!verify_password("wrong horse battery", phc).await.expect("verifies"));
        assert!(!verify_password("anything", "not a phc string".into()).await.expect("verifies"));
    }
}
