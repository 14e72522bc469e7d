//! Macros, stored as their contract JSON.

use hookdesk_core::Timestamp;
use hookdesk_core::id::MacroId;
use hookdesk_core::rules::{Action, Macro, MacroTitle};
use sqlx::Row;

use crate::db::Conn;
use crate::{Page, Store, StoreError, rows};

/// A macro to create or to write over an existing one.
#[derive(Debug, Clone)]
pub struct NewMacro {
    pub title: String,
    pub description: String,
    pub active: bool,
    pub actions: Vec<Action>,
}

const MACRO_COLUMNS: &str = "SELECT id, title, description, active, actions, created_at, updated_at FROM macros";

/// A row of `macros`, as stored.
struct MacroRow {
    id: i64,
    title: String,
    description: String,
    active: i64,
    actions: String,
    created_at: i64,
    updated_at: i64,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for MacroRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            active: row.try_get("active")?,
            actions: row.try_get("actions")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

impl TryFrom<MacroRow> for Macro<serde_json::Value> {
    type Error = StoreError;

    fn try_from(row: MacroRow) -> Result<Self, StoreError> {
        Ok(Macro {
            id: MacroId(row.id),
            title: row.title,
            description: row.description,
            active: row.active != 0,
            actions: rows::json("macros.actions", &row.actions)?,
            created_at: Timestamp::from_millis(row.created_at),
            updated_at: Timestamp::from_millis(row.updated_at),
        })
    }
}

impl TryFrom<MacroRow> for Macro {
    type Error = StoreError;

    fn try_from(row: MacroRow) -> Result<Self, StoreError> {
        let stored = Macro::<serde_json::Value>::try_from(row)?;
        let actions = match &stored.actions {
            serde_json::Value::Array(actions) => actions
                .iter()
                .map(Action::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| StoreError::corrupt("macros.actions", e))?,
            _ => return Err(StoreError::corrupt("macros.actions", "not an array")),
        };
        Ok(Macro {
            id: stored.id,
            title: stored.title,
            description: stored.description,
            active: stored.active,
            actions,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        })
    }
}

/// The cursor of the macros after `(title, id)`: both, so that a page follows on by title.
pub fn macro_cursor(title: &str, id: MacroId) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}:{title}", id.0))
}

/// What a cursor of [`macro_cursor`] names; `None` for one it did not make.
pub fn parse_macro_cursor(cursor: &str) -> Option<(String, MacroId)> {
    use base64::Engine as _;
    let text = String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (id, title) = text.split_once(':')?;
    Some((title.to_owned(), MacroId(id.parse().ok()?)))
}

fn actions_text(actions: &[Action]) -> String {
    serde_json::to_string(actions).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// A page of macros by title (after the macro `after` names by title and id), their
    /// actions as stored, none parsed: at most `limit`, and no more than `max_bytes` of
    /// actions unless the first macro alone holds more.
    pub async fn macros(
        &self,
        after: Option<(&str, MacroId)>,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Page<Macro<serde_json::Value>>, StoreError> {
        let rows = sqlx::query_as::<_, MacroRow>(sqlx::AssertSqlSafe(format!(
            "{MACRO_COLUMNS} WHERE CAST($1 AS TEXT) IS NULL OR title > $1 OR (title = $1 AND id > $2)
             ORDER BY title, id LIMIT $3"
        )))
        .bind(after.map(|(title, _)| title))
        .bind(after.map_or(0, |(_, id)| id.0))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut bytes = 0;
        let fits = rows
            .iter()
            .take_while(|row| {
                bytes += row.actions.len();
                bytes <= max_bytes
            })
            .count()
            .max(1);
        let limit = u32::try_from(fits).unwrap_or(limit).min(limit);
        let data = rows.into_iter().map(Macro::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::of(data, limit, |m| macro_cursor(&m.title, m.id)))
    }

    /// Every macro's title, by title: what a list to pick from shows, and all it reads.
    pub async fn macro_titles(&self) -> Result<Vec<MacroTitle>, StoreError> {
        let rows = sqlx::query("SELECT id, title, active FROM macros ORDER BY title, id").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(MacroTitle {
                    id: MacroId(row.try_get("id")?),
                    title: row.try_get("title")?,
                    active: row.try_get::<i64, _>("active")? != 0,
                })
            })
            .collect()
    }

    pub async fn macro_by_id(&self, id: MacroId) -> Result<Macro, StoreError> {
        let row = sqlx::query_as::<_, MacroRow>(sqlx::AssertSqlSafe(format!("{MACRO_COLUMNS} WHERE id = $1")))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Macro::try_from(row)
    }

    pub async fn create_macro(&self, new: &NewMacro, now: Timestamp) -> Result<Macro, StoreError> {
        let mut tx = self.begin_write().await?;
        let id = insert_macro(&mut tx, new, now).await?;
        tx.commit().await?;
        self.macro_by_id(id).await
    }

    pub async fn update_macro(&self, id: MacroId, new: &NewMacro, now: Timestamp) -> Result<Macro, StoreError> {
        let mut tx = self.begin_write().await?;
        update_macro(&mut tx, id, new, now).await?;
        tx.commit().await?;
        self.macro_by_id(id).await
    }

    pub async fn delete_macro(&self, id: MacroId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        delete_macro(&mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Writes a new macro in the caller's transaction; answers its id.
pub(crate) async fn insert_macro(conn: &mut Conn, new: &NewMacro, now: Timestamp) -> Result<MacroId, StoreError> {
    let row = sqlx::query(
        "INSERT INTO macros (title, description, active, actions, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(&new.title)
    .bind(&new.description)
    .bind(i64::from(new.active))
    .bind(actions_text(&new.actions))
    .bind(now.as_millis())
    .fetch_one(&mut *conn)
    .await?;
    Ok(MacroId(row.try_get("id")?))
}

/// Writes macro `id` in the caller's transaction.
pub(crate) async fn update_macro(
    conn: &mut Conn,
    id: MacroId,
    new: &NewMacro,
    now: Timestamp,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE macros SET title = $2, description = $3, active = $4, actions = $5, updated_at = $6 WHERE id = $1",
    )
    .bind(id.0)
    .bind(&new.title)
    .bind(&new.description)
    .bind(i64::from(new.active))
    .bind(actions_text(&new.actions))
    .bind(now.as_millis())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Deletes macro `id` in the caller's transaction.
pub(crate) async fn delete_macro(conn: &mut Conn, id: MacroId) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM macros WHERE id = $1").bind(id.0).execute(&mut *conn).await?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}
