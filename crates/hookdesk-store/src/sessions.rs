//! Admin UI sessions: a sign-in with an API token acts as it until it expires, is closed, or
//! the token goes; a sign-in with a password acts as its user until it expires, is closed,
//! or the password changes.

use hookdesk_core::Timestamp;
use hookdesk_core::id::UserId;
use hookdesk_core::user::User;
use sqlx::Row;

use crate::users::UserRow;
use crate::{Store, StoreError};

/// Sessions open at once with one API token: a sign-in beyond ends the oldest (a script
/// signing in in a loop leaves this many, not thousands).
pub const MAX_SESSIONS_PER_TOKEN: i64 = 16;

/// An open session: who it acts as and the CSRF token its forms carry.
#[derive(Debug, Clone)]
pub struct OpenSession {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

impl Store {
    /// Opens a session acting as the token `token_hash`, dropping expired ones on the way and,
    /// beyond [`MAX_SESSIONS_PER_TOKEN`] open with the same token, its oldest. `NotFound` when
    /// the token does not exist (any more).
    pub async fn open_session(
        &self,
        id_hash: &str,
        token_hash: &str,
        csrf_token: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM ui_sessions WHERE expires_at <= $1").bind(now.as_millis()).execute(&mut *tx).await?;
        let opened = sqlx::query(
            "INSERT INTO ui_sessions (id_hash, token_id, user_id, csrf_token, created_at, expires_at)
             SELECT $1, id, user_id, $3, $4, $5 FROM api_tokens WHERE token_hash = $2 RETURNING token_id",
        )
        .bind(id_hash)
        .bind(token_hash)
        .bind(csrf_token)
        .bind(now.as_millis())
        .bind(expires_at.as_millis())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(opened) = opened else { return Err(StoreError::NotFound) };
        let token_id: i64 = opened.try_get("token_id")?;
        sqlx::query(
            "DELETE FROM ui_sessions WHERE token_id = $1 AND id_hash <> $2 AND id_hash NOT IN
                 (SELECT id_hash FROM ui_sessions WHERE token_id = $1 AND id_hash <> $2
                  ORDER BY created_at DESC, id_hash LIMIT $3)",
        )
        .bind(token_id)
        .bind(id_hash)
        .bind(MAX_SESSIONS_PER_TOKEN - 1)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Opens a session for user `user_id` signed in with a password (no token: it ends when
    /// it expires, is closed, the user's password changes or the user is no longer an agent
    /// or admin). Beyond [`MAX_SESSIONS_PER_TOKEN`] password sessions of the user, the oldest
    /// ends.
    pub async fn open_password_session(
        &self,
        id_hash: &str,
        user_id: UserId,
        csrf_token: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM ui_sessions WHERE expires_at <= $1").bind(now.as_millis()).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO ui_sessions (id_hash, token_id, user_id, csrf_token, created_at, expires_at)
             VALUES ($1, NULL, $2, $3, $4, $5)",
        )
        .bind(id_hash)
        .bind(user_id.0)
        .bind(csrf_token)
        .bind(now.as_millis())
        .bind(expires_at.as_millis())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM ui_sessions WHERE user_id = $1 AND token_id IS NULL AND id_hash <> $2 AND id_hash NOT IN
                 (SELECT id_hash FROM ui_sessions WHERE user_id = $1 AND token_id IS NULL AND id_hash <> $2
                  ORDER BY created_at DESC, id_hash LIMIT $3)",
        )
        .bind(user_id.0)
        .bind(id_hash)
        .bind(MAX_SESSIONS_PER_TOKEN - 1)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session `id_hash` names, if it is open at `now` and its user still holds an
    /// agent's or admin's role.
    pub async fn session(&self, id_hash: &str, now: Timestamp) -> Result<Option<OpenSession>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.email, u.role, u.created_at, s.csrf_token, s.expires_at
             FROM ui_sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.role IN ('agent', 'admin')",
        )
        .bind(id_hash)
        .bind(now.as_millis())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = User::try_from(<UserRow as sqlx::FromRow<_>>::from_row(&row)?)?;
        Ok(Some(OpenSession {
            user,
            csrf_token: row.try_get("csrf_token")?,
            expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        }))
    }

    /// Closes session `id_hash` (signing out); closing one that is gone is not an error.
    pub async fn close_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM ui_sessions WHERE id_hash = $1").bind(id_hash).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
