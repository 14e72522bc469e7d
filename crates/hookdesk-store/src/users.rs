//! Users and their API tokens.

use hookdesk_core::Timestamp;
use hookdesk_core::id::{TokenId, UserId};
use hookdesk_core::ticket::Requester;
use hookdesk_core::user::{Email, Role, TokenInfo, User};
use sqlx::{AssertSqlSafe, Row};

use crate::db::Conn;
use crate::rows;
use crate::{Page, Store, StoreError};

/// A row of `users` ([`USER_COLUMNS`]), as stored.
pub(crate) struct UserRow {
    id: i64,
    name: String,
    email: String,
    role: String,
    created_at: i64,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for UserRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            email: row.try_get("email")?,
            role: row.try_get("role")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: UserId(row.id),
            name: row.name,
            email: row.email,
            role: rows::name("users.role", &row.role, Role::parse)?,
            created_at: Timestamp::from_millis(row.created_at),
        })
    }
}

/// A user as a ticket's requester: `id, name, email`.
struct RequesterRow {
    id: i64,
    name: String,
    email: String,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for RequesterRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self { id: row.try_get("id")?, name: row.try_get("name")?, email: row.try_get("email")? })
    }
}

impl From<RequesterRow> for Requester {
    fn from(row: RequesterRow) -> Self {
        Requester { id: UserId(row.id), name: row.name, email: row.email }
    }
}

/// Finds the user with `email`, or creates an end user with it (requesters are found or
/// created by email).
/// The requester with `email`, created as an end user if there is none; `true` when created.
pub(crate) async fn find_or_create_requester(
    conn: &mut Conn,
    name: &str,
    email: &Email,
    now: Timestamp,
) -> Result<(Requester, bool), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO users (name, email, role, created_at, updated_at) VALUES ($1, $2, 'end_user', $3, $3)
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(name)
    .bind(email.as_str())
    .bind(now.as_millis())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let requester = sqlx::query_as::<_, RequesterRow>("SELECT id, name, email FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_one(&mut *conn)
        .await?;
    Ok((requester.into(), inserted > 0))
}

const USER_COLUMNS: &str = "id, name, email, role, created_at";

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub name: Option<String>,
    pub email: Option<Email>,
    pub role: Option<Role>,
}

impl Store {
    /// The user an API token acts as. `token_hash` is the hex SHA-256 of the token. Only
    /// agents and admins hold tokens: one of a user since made an end user acts as no one.
    pub async fn user_for_token(&self, token_hash: &str) -> Result<Option<User>, StoreError> {
        Ok(self.token_holder(token_hash).await?.map(|(user, _, _)| user))
    }

    /// The user an API token acts as, with the token's id and when it was last used.
    pub async fn token_holder(
        &self,
        token_hash: &str,
    ) -> Result<Option<(User, TokenId, Option<Timestamp>)>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.email, u.role, u.created_at, t.id AS token_id, t.last_used_at FROM api_tokens t
             JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND u.role IN ('agent', 'admin')",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = User::try_from(<UserRow as sqlx::FromRow<_>>::from_row(&row)?)?;
        let last_used = row.try_get::<Option<i64>, _>("last_used_at")?.map(Timestamp::from_millis);
        Ok(Some((user, TokenId(row.try_get("token_id")?), last_used)))
    }

    /// Notes that token `id` was used at `now`, unless a use since `not_before` is noted
    /// already (another node's, say): callers write at most about once a minute a token.
    pub async fn note_token_use(&self, id: TokenId, now: Timestamp, not_before: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(now.as_millis())
        .bind(id.0)
        .bind(not_before.as_millis())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The email of the admin user the bootstrap token belongs to (`.invalid`: never mailed).
    pub const BOOTSTRAP_ADMIN_EMAIL: &'static str = "admin@hookdesk.invalid";

    /// Makes `token_hash` the bootstrap admin token (replacing an earlier bootstrap token),
    /// creating the admin user on first use.
    pub async fn set_bootstrap_token(&self, token_hash: &str, now: Timestamp) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO users (name, email, role, created_at, updated_at) VALUES ('Admin', $2, 'admin', $1, $1)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(now.as_millis())
        .bind(Self::BOOTSTRAP_ADMIN_EMAIL)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query_as::<_, UserRow>("SELECT id, name, email, role, created_at FROM users WHERE email = $1")
            .bind(Self::BOOTSTRAP_ADMIN_EMAIL)
            .fetch_one(&mut *tx)
            .await?;
        let admin = User::try_from(row)?;
        // Idempotent, so that several nodes starting at once with the same token agree.
        sqlx::query("DELETE FROM api_tokens WHERE label = 'bootstrap' AND token_hash <> $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO api_tokens (user_id, token_hash, label, created_at) VALUES ($1, $2, 'bootstrap', $3)
             ON CONFLICT (token_hash) DO NOTHING",
        )
        .bind(admin.id.0)
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

    /// Creates a user; a user with the same email is a conflict.
    pub async fn create_user(&self, name: &str, email: &Email, role: Role, now: Timestamp) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "INSERT INTO users (name, email, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(name)
        .bind(email.as_str())
        .bind(role.as_str())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("a user with the email {} exists already", email.as_str())));
        }
        let row =
            sqlx::query_as::<_, UserRow>(AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1")))
                .bind(email.as_str())
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        User::try_from(row)
    }

    /// Users by id, after `after_id`; with `text`, those whose name or email holds it.
    pub async fn list_users(
        &self,
        after_id: Option<UserId>,
        limit: u32,
        text: Option<&str>,
    ) -> Result<Page<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id > $1
               AND (CAST($3 AS TEXT) IS NULL OR LOWER(name) LIKE $3 ESCAPE '\\' OR LOWER(email) LIKE $3 ESCAPE '\\')
             ORDER BY id LIMIT $2"
        );
        let rows = sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql))
            .bind(after_id.map_or(0, |a| a.0))
            .bind(i64::from(limit) + 1)
            .bind(text.map(crate::db::contains_pattern))
            .fetch_all(&self.pool)
            .await?;
        let data = rows.into_iter().map(User::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::of(data, limit, |u| u.id.to_string()))
    }

    /// Agents and admins by name, at most `limit`: who a ticket may be assigned to.
    pub async fn staff(&self, limit: u32) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE role <> 'end_user' ORDER BY name, id LIMIT $1");
        let rows =
            sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql)).bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.into_iter().map(User::try_from).collect()
    }

    /// The names of the users among `ids` (the ones that exist).
    pub async fn user_names(&self, ids: &[UserId]) -> Result<std::collections::HashMap<UserId, String>, StoreError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!("SELECT id, name FROM users WHERE id IN ({})", crate::db::placeholders(1, ids.len()));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id.0);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((UserId(sqlx::Row::try_get(r, "id")?), sqlx::Row::try_get(r, "name")?)))
            .collect()
    }

    /// Changes a user. The last admin cannot stop being one (nobody could manage the
    /// server), and an email taken by another user is a conflict.
    pub async fn update_user(&self, id: UserId, patch: &UserPatch, now: Timestamp) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        let row =
            sqlx::query_as::<_, UserRow>(AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")))
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
        let mut user = User::try_from(row)?;
        if let Some(role) = patch.role {
            if user.role == Role::Admin && role != Role::Admin {
                let admins =
                    sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin'").fetch_one(&mut *tx).await?;
                if admins.try_get::<i64, _>("n")? <= 1 {
                    return Err(StoreError::Conflict("this is the last admin; make another user admin first".into()));
                }
            }
            user.role = role;
        }
        if let Some(email) = &patch.email {
            let taken = sqlx::query("SELECT id FROM users WHERE email = $1 AND id <> $2")
                .bind(email.as_str())
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Err(StoreError::Conflict(format!("a user with the email {} exists already", email.as_str())));
            }
            user.email = email.as_str().to_owned();
        }
        if let Some(name) = &patch.name {
            user.name.clone_from(name);
        }
        sqlx::query("UPDATE users SET name = $2, email = $3, role = $4, updated_at = $5 WHERE id = $1")
            .bind(id.0)
            .bind(&user.name)
            .bind(&user.email)
            .bind(user.role.as_str())
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
        if user.role == Role::EndUser {
            // A requester acts through no token, session, password or link: promoted again,
            // they need new ones (nothing of before comes back).
            for table in ["ui_sessions", "password_links", "user_passwords", "api_tokens"] {
                sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE user_id = $1")))
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(user)
    }

    /// Stores a new API token (its hash) for `user_id`; answers the token's id.
    pub async fn create_token(
        &self,
        user_id: UserId,
        token_hash: &str,
        label: &str,
        now: Timestamp,
    ) -> Result<TokenId, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO api_tokens (user_id, token_hash, label, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(user_id.0)
        .bind(token_hash)
        .bind(label)
        .bind(now.as_millis())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(TokenId(row.try_get("id")?))
    }

    /// The API tokens of `user_id`, oldest first.
    pub async fn tokens_of(&self, user_id: UserId) -> Result<Vec<TokenInfo>, StoreError> {
        let rows =
            sqlx::query("SELECT id, label, created_at, last_used_at FROM api_tokens WHERE user_id = $1 ORDER BY id")
                .bind(user_id.0)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(TokenInfo {
                    id: TokenId(row.try_get("id")?),
                    label: row.try_get("label")?,
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                    last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(Timestamp::from_millis),
                })
            })
            .collect()
    }

    /// Every user's API tokens, the latest used first (never used last), at most `limit`:
    /// with their user's id and name.
    pub async fn tokens_by_use(&self, limit: u32) -> Result<Vec<(UserId, String, TokenInfo)>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.id, t.label, t.created_at, t.last_used_at, u.id AS user_id, u.name FROM api_tokens t
             JOIN users u ON u.id = t.user_id ORDER BY COALESCE(t.last_used_at, 0) DESC, t.id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let token = TokenInfo {
                    id: TokenId(row.try_get("id")?),
                    label: row.try_get("label")?,
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                    last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(Timestamp::from_millis),
                };
                Ok((UserId(row.try_get("user_id")?), row.try_get("name")?, token))
            })
            .collect()
    }

    /// Revokes token `token_id` of `user_id`.
    pub async fn delete_token(&self, user_id: UserId, token_id: TokenId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
            .bind(token_id.0)
            .bind(user_id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn user(&self, id: UserId) -> Result<User, StoreError> {
        let row = sqlx::query_as::<_, UserRow>("SELECT id, name, email, role, created_at FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        User::try_from(row)
    }
}
