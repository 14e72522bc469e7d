//! Users and their API tokens.

use hookdesk_core::Timestamp;
use hookdesk_core::ticket::Requester;
use hookdesk_core::user::{Email, Role, User};
use sqlx::Row;

use crate::db::Conn;
use crate::rows;
use crate::{Store, StoreError};

fn user_from_row(row: &crate::db::Row) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        role: rows::name("users.role", row.try_get::<&str, _>("role")?, Role::parse)?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

/// Finds the user with `email`, or creates an end user with it (requesters are found or
/// created by email).
pub(crate) async fn find_or_create_requester(
    conn: &mut Conn,
    name: &str,
    email: &Email,
    now: Timestamp,
) -> Result<Requester, StoreError> {
    sqlx::query(
        "INSERT INTO users (name, email, role, created_at, updated_at) VALUES ($1, $2, 'end_user', $3, $3)
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(name)
    .bind(email.as_str())
    .bind(now.as_millis())
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query("SELECT id, name, email FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_one(&mut *conn)
        .await?;
    Ok(Requester { id: row.try_get("id")?, name: row.try_get("name")?, email: row.try_get("email")? })
}

impl Store {
    /// The user an API token acts as. `token_hash` is the hex SHA-256 of the token.
    pub async fn user_for_token(&self, token_hash: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.email, u.role, u.created_at FROM api_tokens t
             JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Makes `token_hash` the bootstrap admin token (replacing an earlier bootstrap token),
    /// creating the admin user on first use.
    pub async fn set_bootstrap_token(&self, token_hash: &str, now: Timestamp) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO users (name, email, role, created_at, updated_at) VALUES ('Admin', 'admin@hookdesk.invalid', 'admin', $1, $1)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        let row =
            sqlx::query("SELECT id, name, email, role, created_at FROM users WHERE email = 'admin@hookdesk.invalid'")
                .fetch_one(&mut *tx)
                .await;
        let admin = user_from_row(&row?)?;
        // Idempotent, so that several nodes starting at once with the same token agree.
        sqlx::query("DELETE FROM api_tokens WHERE label = 'bootstrap' AND token_hash <> $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO api_tokens (user_id, token_hash, label, created_at) VALUES ($1, $2, 'bootstrap', $3)
             ON CONFLICT (token_hash) DO NOTHING",
        )
        .bind(admin.id)
        .bind(token_hash)
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(admin)
    }

    pub async fn has_bootstrap_token(&self) -> Result<bool, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM api_tokens WHERE label = 'bootstrap'").fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    pub async fn user(&self, id: i64) -> Result<User, StoreError> {
        let row = sqlx::query("SELECT id, name, email, role, created_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        user_from_row(&row)
    }
}
