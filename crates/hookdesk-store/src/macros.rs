//! Macros, stored as their contract JSON.

use hookdesk_core::Timestamp;
use hookdesk_core::id::MacroId;
use hookdesk_core::rules::{Action, Macro, MacroTitle};
use sqlx::Row;

use crate::{Store, StoreError, rows};

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

fn actions_text(actions: &[Action]) -> String {
    serde_json::to_string(actions).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Every macro by title, its actions as stored: none is parsed.
    pub async fn macros(&self) -> Result<Vec<Macro<serde_json::Value>>, StoreError> {
        let rows = sqlx::query_as::<_, MacroRow>(sqlx::AssertSqlSafe(format!("{MACRO_COLUMNS} ORDER BY title, id")))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(Macro::try_from).collect()
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
        let row = sqlx::query(
            "INSERT INTO macros (title, description, active, actions, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(&new.title)
        .bind(&new.description)
        .bind(i64::from(new.active))
        .bind(actions_text(&new.actions))
        .bind(now.as_millis())
        .fetch_one(&self.writer)
        .await?;
        self.macro_by_id(MacroId(row.try_get("id")?)).await
    }

    pub async fn update_macro(&self, id: MacroId, new: &NewMacro, now: Timestamp) -> Result<Macro, StoreError> {
        let done = sqlx::query(
            "UPDATE macros SET title = $2, description = $3, active = $4, actions = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(id.0)
        .bind(&new.title)
        .bind(&new.description)
        .bind(i64::from(new.active))
        .bind(actions_text(&new.actions))
        .bind(now.as_millis())
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.macro_by_id(id).await
    }

    pub async fn delete_macro(&self, id: MacroId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM macros WHERE id = $1").bind(id.0).execute(&self.writer).await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}
