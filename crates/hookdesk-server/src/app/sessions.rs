//! Admin UI sign-ins. A session is opened with an API token and acts as it (an agent's
//! session can do what the agent's token can, no more), or with a password (`passwords`) and
//! acts as its user. The browser holds only a random id;
//! the database only its hash.

use std::time::Duration;

use hookdesk_core::Timestamp;
use hookdesk_core::user::{Role, User};
use hookdesk_store::StoreError;

use super::callers::{Admin, Agent, Client};
use super::{App, AppError, ids};

/// How long a sign-in lasts: a working day.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    user: User,
    /// What every state-changing request of this session must carry.
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

/// A session just opened: the id goes into the cookie, and nowhere else.
#[derive(Debug)]
pub struct SignedIn {
    pub session_id: String,
    pub session: Session,
}

impl Session {
    pub fn user(&self) -> &User {
        &self.user
    }

    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// The session as an agent: every session is one (the store opens no other).
    pub fn agent(&self) -> Agent {
        Agent::checked(self.user.clone())
    }

    /// The session as an admin, if its user is one.
    pub fn admin(&self) -> Result<Admin, AppError> {
        if !self.is_admin() {
            return Err(AppError::Forbidden("admin"));
        }
        Ok(Admin::checked(self.user.clone()))
    }
}

impl App {
    /// Signs in with an API token (an agent's or an admin's), presented by `client`.
    pub async fn sign_in(&self, token: &str, client: Client) -> Result<SignedIn, AppError> {
        let user = self.agent(token, client).await?.user().clone();
        let session_id = ids::random_token(32)?;
        let csrf_token = ids::random_token(32)?;
        let now = self.clock.now();
        let expires_at = now.plus_millis(SESSION_LIFETIME.as_millis() as i64);
        match self
            .store
            .open_session(&ids::token_hash(&session_id), &ids::token_hash(token), &csrf_token, now, expires_at)
            .await
        {
            // The token was revoked between the check and the insert.
            Err(StoreError::NotFound) => return Err(AppError::Unauthenticated),
            other => other?,
        }
        Ok(SignedIn { session_id, session: Session { user, csrf_token, expires_at } })
    }

    /// Opens a session for `user`, an agent or admin who just proved their password.
    pub(super) async fn open_password_session(&self, user: User) -> Result<SignedIn, AppError> {
        let session_id = ids::random_token(32)?;
        let csrf_token = ids::random_token(32)?;
        let now = self.clock.now();
        let expires_at = now.plus_millis(SESSION_LIFETIME.as_millis() as i64);
        self.store.open_password_session(&ids::token_hash(&session_id), user.id, &csrf_token, now, expires_at).await?;
        Ok(SignedIn { session_id, session: Session { user, csrf_token, expires_at } })
    }

    /// The open session a cookie names.
    pub async fn session(&self, session_id: &str) -> Result<Session, AppError> {
        let open = self.store.session(&ids::token_hash(session_id), self.clock.now()).await?;
        let open = open.ok_or(AppError::Unauthenticated)?;
        Ok(Session { user: open.user, csrf_token: open.csrf_token, expires_at: open.expires_at })
    }

    pub async fn sign_out(&self, session_id: &str) -> Result<(), AppError> {
        Ok(self.store.close_session(&ids::token_hash(session_id)).await?)
    }

    /// Whether the public URL is https, so cookies must be `Secure`.
    pub fn serves_https(&self) -> bool {
        self.config.public_url.starts_with("https://")
    }
}
