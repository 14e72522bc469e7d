//! Triggers and automations (the same shape in two tables), stored as their contract JSON
//! and parsed back into rules.

use std::collections::HashMap;
use std::sync::Arc;

use hookdesk_core::Timestamp;
use hookdesk_core::id::{RuleId, WebhookId};
use hookdesk_core::rules::{Action, Conditions, Rule, Trigger};
use sqlx::{AssertSqlSafe, Row};

use crate::db::{Conn, placeholders};
use crate::{RuleSet, Store, StoreError, rows};

/// The table of a set of rules.
fn table(set: RuleSet) -> &'static str {
    match set {
        RuleSet::Triggers => "triggers",
        RuleSet::Automations => "automations",
    }
}

/// A trigger (or automation) to create or to write over an existing one.
#[derive(Debug, Clone)]
pub struct NewTrigger {
    pub title: String,
    pub description: String,
    pub active: bool,
    pub position: Option<i64>,
    pub conditions: Conditions,
    pub actions: Vec<Action>,
}

/// A row of `triggers` or `automations` ([`RULE_COLUMNS`]), as stored.
struct RuleRow {
    id: i64,
    title: String,
    description: String,
    active: i64,
    position: i64,
    conditions: String,
    actions: String,
    created_at: i64,
    updated_at: i64,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for RuleRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            active: row.try_get("active")?,
            position: row.try_get("position")?,
            conditions: row.try_get("conditions")?,
            actions: row.try_get("actions")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

impl TryFrom<RuleRow> for Trigger {
    type Error = StoreError;

    fn try_from(row: RuleRow) -> Result<Self, StoreError> {
        let conditions: serde_json::Value = rows::json("rules.conditions", &row.conditions)?;
        let actions: Vec<serde_json::Value> = rows::json("rules.actions", &row.actions)?;
        Ok(Trigger {
            rule: Rule {
                id: RuleId(row.id),
                title: row.title,
                conditions: Conditions::parse(&conditions).map_err(|e| StoreError::corrupt("rules.conditions", e))?,
                actions: actions
                    .iter()
                    .map(Action::parse)
                    .collect::<Result<_, _>>()
                    .map_err(|e| StoreError::corrupt("rules.actions", e))?,
            },
            description: row.description,
            active: row.active != 0,
            position: row.position,
            created_at: Timestamp::from_millis(row.created_at),
            updated_at: Timestamp::from_millis(row.updated_at),
        })
    }
}

const RULE_COLUMNS: &str = "id, title, description, active, position, conditions, actions, created_at, updated_at";

pub(crate) async fn load(conn: &mut Conn, set: RuleSet, active_only: bool) -> Result<Vec<Trigger>, StoreError> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM {} WHERE active = 1 OR $1 = 0 ORDER BY position, id", table(set));
    let rows =
        sqlx::query_as::<_, RuleRow>(AssertSqlSafe(sql)).bind(i64::from(active_only)).fetch_all(&mut *conn).await?;
    rows.into_iter().map(Trigger::try_from).collect()
}

/// Marks the triggers as changed, in the caller's transaction (automations are read afresh
/// on each run: no cache to invalidate).
async fn bump_version(conn: &mut Conn, set: RuleSet) -> Result<(), StoreError> {
    if set == RuleSet::Automations {
        return Ok(());
    }
    bump_rules_version(conn).await
}

/// Invalidates every node's [`RulesSnapshot`], in the caller's transaction.
pub(crate) async fn bump_rules_version(conn: &mut Conn) -> Result<(), StoreError> {
    sqlx::query("UPDATE rules_version SET version = version + 1 WHERE id = 1").execute(&mut *conn).await?;
    Ok(())
}

/// Writes a new rule of `set` (last, unless it gives a position), in the caller's
/// transaction; answers its id.
pub(crate) async fn insert_rule(
    conn: &mut Conn,
    set: RuleSet,
    new: &NewTrigger,
    now: Timestamp,
) -> Result<RuleId, StoreError> {
    let table = table(set);
    let position = match new.position {
        Some(p) => p,
        None => {
            let sql = format!("SELECT COALESCE(MAX(position), 0) + 1 AS next FROM {table}");
            let row = sqlx::query(AssertSqlSafe(sql)).fetch_one(&mut *conn).await?;
            row.try_get("next")?
        }
    };
    let sql = format!(
        "INSERT INTO {table} (title, description, active, position, conditions, actions, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(&new.title)
        .bind(&new.description)
        .bind(i64::from(new.active))
        .bind(position)
        .bind(json_text(&new.conditions))
        .bind(json_text(&new.actions))
        .bind(now.as_millis())
        .fetch_one(&mut *conn)
        .await?;
    let id = RuleId(row.try_get("id")?);
    bump_version(conn, set).await?;
    Ok(id)
}

/// Writes rule `id` of `set` (its position kept unless it gives one), in the caller's
/// transaction.
pub(crate) async fn update_rule(
    conn: &mut Conn,
    set: RuleSet,
    id: RuleId,
    new: &NewTrigger,
    now: Timestamp,
) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE {} SET title = $2, description = $3, active = $4, position = COALESCE($5, position),
             conditions = $6, actions = $7, updated_at = $8
         WHERE id = $1",
        table(set)
    );
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(id.0)
        .bind(&new.title)
        .bind(&new.description)
        .bind(i64::from(new.active))
        .bind(new.position)
        .bind(json_text(&new.conditions))
        .bind(json_text(&new.actions))
        .bind(now.as_millis())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    bump_version(conn, set).await
}

/// Deletes rule `id` of `set`, in the caller's transaction.
pub(crate) async fn delete_rule(conn: &mut Conn, set: RuleSet, id: RuleId) -> Result<(), StoreError> {
    let sql = format!("DELETE FROM {} WHERE id = $1", table(set));
    let done = sqlx::query(AssertSqlSafe(sql)).bind(id.0).execute(&mut *conn).await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    bump_version(conn, set).await
}

/// The rules every update runs with, as [`Store::rules_snapshot`] reads them.
#[derive(Debug, Clone, Default)]
pub struct RulesSnapshot {
    pub triggers: Arc<Vec<Trigger>>,
    pub event_webhooks: Arc<Vec<hookdesk_core::webhook::Webhook>>,
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl Store {
    /// What every update runs with: the active triggers in the order they run, parsed, and
    /// the active webhooks subscribed to events. Cached, and read again only when
    /// rules_version has moved (any node's change to a trigger or a webhook moves it), so an
    /// update need not load them inside its write transaction.
    pub async fn rules_snapshot(&self) -> Result<RulesSnapshot, StoreError> {
        let version = self.rules_version().await?;
        if let Some((cached, snapshot)) = self.rules.lock().ok().and_then(|c| c.clone())
            && cached == version
        {
            return Ok(snapshot);
        }
        let mut conn = self.pool.acquire().await?;
        let snapshot = RulesSnapshot {
            triggers: Arc::new(load(&mut conn, RuleSet::Triggers, true).await?),
            event_webhooks: Arc::new(crate::webhooks::load_event_webhooks(&mut conn, &self.cipher).await?),
        };
        if let Ok(mut cache) = self.rules.lock() {
            // A concurrent reader may have cached a newer version meanwhile: keep the newest.
            if cache.as_ref().is_none_or(|(cached, _)| *cached <= version) {
                *cache = Some((version, snapshot.clone()));
            }
        }
        Ok(snapshot)
    }

    /// Moves whenever any node changes a trigger, a webhook or a webhook's signing secrets:
    /// what caches them compares it.
    pub async fn rules_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT version FROM rules_version WHERE id = 1").fetch_one(&self.pool).await?;
        Ok(row.try_get("version")?)
    }

    pub async fn rules(&self, set: RuleSet) -> Result<Vec<Trigger>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, set, false).await
    }

    pub async fn active_rules(&self, set: RuleSet) -> Result<Vec<Trigger>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, set, true).await
    }

    pub async fn rule(&self, set: RuleSet, id: RuleId) -> Result<Trigger, StoreError> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM {} WHERE id = $1", table(set));
        let row = sqlx::query_as::<_, RuleRow>(AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Trigger::try_from(row)
    }

    pub async fn create_rule(&self, set: RuleSet, new: &NewTrigger, now: Timestamp) -> Result<Trigger, StoreError> {
        let mut tx = self.begin_write().await?;
        let id = insert_rule(&mut tx, set, new, now).await?;
        tx.commit().await?;
        self.rule(set, id).await
    }

    pub async fn update_rule(
        &self,
        set: RuleSet,
        id: RuleId,
        new: &NewTrigger,
        now: Timestamp,
    ) -> Result<Trigger, StoreError> {
        let mut tx = self.begin_write().await?;
        update_rule(&mut tx, set, id, new, now).await?;
        tx.commit().await?;
        self.rule(set, id).await
    }

    pub async fn delete_rule(&self, set: RuleSet, id: RuleId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        delete_rule(&mut tx, set, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets positions 1..n in the order of `ids`, which must name every rule of the set once.
    pub async fn order_rules(&self, set: RuleSet, ids: &[RuleId], now: Timestamp) -> Result<Vec<Trigger>, StoreError> {
        let table = table(set);
        let mut tx = self.begin_write().await?;
        let existing: Vec<i64> = sqlx::query(AssertSqlSafe(format!("SELECT id FROM {table} ORDER BY id")))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let mut given: Vec<i64> = ids.iter().map(|id| id.0).collect();
        given.sort_unstable();
        if given != existing {
            return Err(StoreError::Conflict(format!(
                "ids must list every one of the {table} exactly once; they are {existing:?}"
            )));
        }
        for (position, id) in (1_i64..).zip(ids) {
            sqlx::query(AssertSqlSafe(format!("UPDATE {table} SET position = $2, updated_at = $3 WHERE id = $1")))
                .bind(id.0)
                .bind(position)
                .bind(now.as_millis())
                .execute(&mut *tx)
                .await?;
        }
        bump_version(&mut tx, set).await?;
        tx.commit().await?;
        self.rules(set).await
    }

    /// The titles of the rules of `set` among `ids` (the ones that still exist).
    pub async fn rule_titles(&self, set: RuleSet, ids: &[RuleId]) -> Result<HashMap<RuleId, String>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!("SELECT id, title FROM {} WHERE id IN ({})", table(set), placeholders(1, ids.len()));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id.0);
        }
        query.fetch_all(&self.pool).await?.iter().map(|r| Ok((RuleId(r.try_get("id")?), r.try_get("title")?))).collect()
    }

    /// Ids of the rules whose actions notify `webhook_id`.
    pub async fn rules_using_webhook(&self, set: RuleSet, webhook_id: &WebhookId) -> Result<Vec<RuleId>, StoreError> {
        // Actions are stored as compact JSON by serde_json, so the key and value are adjacent.
        let needle = format!("%\"webhook_id\":{}%", serde_json::Value::from(webhook_id.as_str()));
        sqlx::query(AssertSqlSafe(format!("SELECT id FROM {} WHERE actions LIKE $1 ORDER BY id", table(set))))
            .bind(needle)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(RuleId(r.try_get("id")?)))
            .collect()
    }
}
