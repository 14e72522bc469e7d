//! Passwords of people who sign in to the UI, the one-time links that set them, and the count
//! of failed sign-ins that locks an account. The store keeps what the app decided: PHC
//! strings (never a password), links' hashes (never a link), and counters.

use hookdesk_core::Timestamp;
use hookdesk_core::id::UserId;
use hookdesk_core::user::{Email, User};
use sqlx::Row;

use crate::db::Conn;
use crate::users::UserRow;
use crate::{Store, StoreError};

/// Rows of `sign_in_failures` untouched this long, and not locked, are forgotten.
const FORGET_FAILURES_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// An agent or admin found by email, with their password's PHC string if they have one.
#[derive(Debug, Clone)]
pub struct PasswordAccount {
    pub user: User,
    pub phc: Option<String>,
}

/// The failed sign-ins of an email so far: in a row since the last success or lockout, and
/// the lockouts since the last success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub in_a_row: i64,
    pub lockouts: i64,
}

/// An open link: whose, and what kind (`invitation` or `reset`; the app names them).
#[derive(Debug, Clone)]
pub struct OpenLink {
    pub user: User,
    pub kind: String,
    pub expires_at: Timestamp,
}

/// Sets `user_id`'s password within `conn`'s transaction: the PHC string replaces any earlier
/// one, the account's failed sign-ins are forgotten (the lockout ends), and the sessions
/// opened with the old password end.
async fn store_password(conn: &mut Conn, user: &User, phc: &str, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO user_passwords (user_id, phc, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET phc = excluded.phc, updated_at = excluded.updated_at",
    )
    .bind(user.id.0)
    .bind(phc)
    .bind(now.as_millis())
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM sign_in_failures WHERE email = $1").bind(&user.email).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM ui_sessions WHERE user_id = $1 AND token_id IS NULL")
        .bind(user.id.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The agent or admin `id`, within `conn`'s transaction; `None` for an end user or no one.
async fn staff_member(conn: &mut Conn, id: i64) -> Result<Option<User>, StoreError> {
    let row = sqlx::query_as::<_, UserRow>(
        "SELECT id, name, email, role, created_at FROM users WHERE id = $1 AND role IN ('agent', 'admin')",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(User::try_from).transpose()
}

impl Store {
    /// The agent or admin with `email`, and their password if any; `None` for anyone else.
    pub async fn password_account(&self, email: &Email) -> Result<Option<PasswordAccount>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.email, u.role, u.created_at, p.phc FROM users u
             LEFT JOIN user_passwords p ON p.user_id = u.id
             WHERE u.email = $1 AND u.role IN ('agent', 'admin')",
        )
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = User::try_from(<UserRow as sqlx::FromRow<_>>::from_row(&row)?)?;
        Ok(Some(PasswordAccount { user, phc: row.try_get("phc")? }))
    }

    /// Whether `id` has a password.
    pub async fn has_password(&self, id: UserId) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM user_passwords WHERE user_id = $1")
            .bind(id.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Sets the password of the agent or admin with `email` (`hookdesk user set-password`);
    /// `NotFound` when there is none.
    pub async fn set_password(&self, email: &Email, phc: &str, now: Timestamp) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let user = match id {
            Some(id) => staff_member(&mut tx, id).await?.ok_or(StoreError::NotFound)?,
            None => return Err(StoreError::NotFound),
        };
        store_password(&mut tx, &user, phc, now).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Until when `email` may not sign in with a password, if it is locked at `now`.
    pub async fn sign_in_locked_until(&self, email: &Email, now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        let until: Option<i64> =
            sqlx::query_scalar("SELECT locked_until FROM sign_in_failures WHERE email = $1 AND locked_until > $2")
                .bind(email.as_str())
                .bind(now.as_millis())
                .fetch_optional(&self.pool)
                .await?;
        Ok(until.map(Timestamp::from_millis))
    }

    /// Counts a failed sign-in for `email`; answers the count so far. Old, unlocked counts of
    /// other emails are forgotten on the way.
    pub async fn count_sign_in_failure(&self, email: &Email, now: Timestamp) -> Result<Failures, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM sign_in_failures WHERE updated_at < $1 AND locked_until < $2")
            .bind(now.as_millis() - FORGET_FAILURES_AFTER_MS)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "INSERT INTO sign_in_failures (email, failures, lockouts, locked_until, updated_at) VALUES ($1, 1, 0, 0, $2)
             ON CONFLICT (email) DO UPDATE SET failures = sign_in_failures.failures + 1, updated_at = $2
             RETURNING failures, lockouts",
        )
        .bind(email.as_str())
        .bind(now.as_millis())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Failures { in_a_row: row.try_get("failures")?, lockouts: row.try_get("lockouts")? })
    }

    /// Locks `email` until `until`: the count in a row starts again, the lockouts grow.
    pub async fn lock_sign_ins(&self, email: &Email, until: Timestamp, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE sign_in_failures SET failures = 0, lockouts = lockouts + 1, locked_until = $2, updated_at = $3
             WHERE email = $1",
        )
        .bind(email.as_str())
        .bind(until.as_millis())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets `email`'s failed sign-ins (it signed in).
    pub async fn clear_sign_in_failures(&self, email: &Email) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM sign_in_failures WHERE email = $1").bind(email.as_str()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes `token_hash` the one link of user `id` (an agent or admin), replacing any earlier
    /// one; `NotFound` when the user is not an agent or admin.
    pub async fn replace_password_link(
        &self,
        id: UserId,
        token_hash: &str,
        kind: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        staff_member(&mut tx, id.0).await?.ok_or(StoreError::NotFound)?;
        sqlx::query(
            "INSERT INTO password_links (user_id, token_hash, kind, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, kind = excluded.kind,
                 created_at = excluded.created_at, expires_at = excluded.expires_at",
        )
        .bind(id.0)
        .bind(token_hash)
        .bind(kind)
        .bind(now.as_millis())
        .bind(expires_at.as_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The link `token_hash` names, if it is open at `now` and its user is still an agent or
    /// admin.
    pub async fn password_link(&self, token_hash: &str, now: Timestamp) -> Result<Option<OpenLink>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.email, u.role, u.created_at, l.kind, l.expires_at
             FROM password_links l JOIN users u ON u.id = l.user_id
             WHERE l.token_hash = $1 AND l.expires_at > $2 AND u.role IN ('agent', 'admin')",
        )
        .bind(token_hash)
        .bind(now.as_millis())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = User::try_from(<UserRow as sqlx::FromRow<_>>::from_row(&row)?)?;
        Ok(Some(OpenLink {
            user,
            kind: row.try_get("kind")?,
            expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        }))
    }

    /// Uses the link `token_hash`: if it is open at `now` and its user still an agent or
    /// admin, the link goes and `phc` becomes the user's password, in one transaction (two
    /// browsers using it at once: one wins). `None` when the link does not work.
    pub async fn use_password_link(
        &self,
        token_hash: &str,
        phc: &str,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        let mut tx = self.begin_write().await?;
        let used: Option<i64> = sqlx::query_scalar(
            "DELETE FROM password_links WHERE token_hash = $1 AND expires_at > $2 RETURNING user_id",
        )
        .bind(token_hash)
        .bind(now.as_millis())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = used else { return Ok(None) };
        let Some(user) = staff_member(&mut tx, id).await? else { return Ok(None) };
        store_password(&mut tx, &user, phc, now).await?;
        tx.commit().await?;
        Ok(Some(user))
    }
}
