//! Webhook delivery health: the circuit breaker and the failing mark, written by the workers
//! when they change, and the last success and failure, written with every batch of attempts;
//! all shown on the webhook.

use std::collections::HashMap;

use hookdesk_core::Timestamp;
use hookdesk_core::webhook::{BreakerState, WebhookHealth};
use sqlx::{AssertSqlSafe, Row};

use crate::db::placeholders;
use crate::{Store, StoreError, rows};

fn millis(at: Option<Timestamp>) -> Option<i64> {
    at.map(Timestamp::as_millis)
}

fn timestamp(row: &crate::db::Row, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(Timestamp::from_millis))
}

/// What one batch of attempts says about a webhook.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    last_success: Option<Timestamp>,
    last_failure: Option<Timestamp>,
    /// The first failure after the batch's last success (or in the batch, without one).
    failing_since: Option<Timestamp>,
}

/// Each webhook of `records`, with what its attempts there say.
pub(crate) fn seen_in(records: &[crate::AttemptRecord]) -> Vec<(&str, Seen)> {
    let mut seen: Vec<(&str, Seen)> = Vec::new();
    let mut ordered: Vec<&crate::AttemptRecord> = records.iter().collect();
    ordered.sort_by_key(|r| r.started_at.as_millis() + r.duration_ms);
    for record in ordered {
        let at = record.started_at.plus_millis(record.duration_ms);
        let index = match seen.iter().position(|(id, _)| *id == record.webhook_id) {
            Some(index) => index,
            None => {
                seen.push((record.webhook_id.as_str(), Seen::default()));
                seen.len() - 1
            }
        };
        let entry = &mut seen[index].1;
        if record.next == crate::Next::Succeeded {
            entry.last_success = Some(at);
            entry.failing_since = None;
        } else {
            entry.last_failure = Some(at);
            entry.failing_since.get_or_insert(at);
        }
    }
    seen
}

/// Moves a webhook's last success, last failure and failing-since on by what a batch saw.
pub(crate) async fn note_attempts(conn: &mut crate::db::Conn, webhook_id: &str, seen: &Seen) -> Result<(), StoreError> {
    let later = |column: &str| {
        format!(
            "CASE WHEN excluded.{column} IS NOT NULL AND (webhook_health.{column} IS NULL OR webhook_health.{column} < excluded.{column}) THEN excluded.{column} ELSE webhook_health.{column} END"
        )
    };
    // A success in the batch: failing since its first failure after it (or not at all);
    // none: failing since the earlier first failure, if there was one.
    let sql = format!(
        "INSERT INTO webhook_health (webhook_id, breaker, breaker_until, failing, failing_since, last_success_at,
             last_failure_at, updated_at)
         SELECT $1, 'closed', NULL, 0, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $1)
         ON CONFLICT (webhook_id) DO UPDATE SET
             failing_since = CASE WHEN excluded.last_success_at IS NOT NULL THEN excluded.failing_since
                 ELSE COALESCE(webhook_health.failing_since, excluded.failing_since) END,
             last_success_at = {}, last_failure_at = {}, updated_at = excluded.updated_at",
        later("last_success_at"),
        later("last_failure_at"),
    );
    let now = seen.last_success.max(seen.last_failure).map_or(0, Timestamp::as_millis);
    sqlx::query(AssertSqlSafe(sql))
        .bind(webhook_id)
        .bind(millis(seen.failing_since))
        .bind(millis(seen.last_success))
        .bind(millis(seen.last_failure))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    /// Saves a webhook's breaker and failing mark (its last success and failure are the
    /// attempts' to write); nothing when the webhook was deleted meanwhile. Answers
    /// `Some(failing)` when the failing mark changed (a `webhook.failing` or
    /// `webhook.recovered` event is due).
    pub async fn save_webhook_health(
        &self,
        webhook_id: &str,
        health: &WebhookHealth,
        now: Timestamp,
    ) -> Result<Option<bool>, StoreError> {
        let mut tx = self.begin_write().await?;
        let was_failing = sqlx::query("SELECT failing FROM webhook_health WHERE webhook_id = $1")
            .bind(webhook_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get::<i64, _>("failing"))
            .transpose()?
            .is_some_and(|f| f != 0);
        sqlx::query(
            "INSERT INTO webhook_health (webhook_id, breaker, breaker_until, failing, failing_since, last_success_at,
                 last_failure_at, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $1)
             ON CONFLICT (webhook_id) DO UPDATE SET breaker = excluded.breaker, breaker_until = excluded.breaker_until,
                 failing = excluded.failing, updated_at = excluded.updated_at",
        )
        .bind(webhook_id)
        .bind(health.breaker.as_str())
        .bind(millis(health.breaker_until))
        .bind(i64::from(health.failing))
        .bind(millis(health.failing_since))
        .bind(millis(health.last_success_at))
        .bind(millis(health.last_failure_at))
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((was_failing != health.failing).then_some(health.failing))
    }

    /// The recorded health of each of `ids` that has one (a webhook never delivered to has none).
    pub async fn webhook_health(&self, ids: &[&str]) -> Result<HashMap<String, WebhookHealth>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT webhook_id, breaker, breaker_until, failing, failing_since, last_success_at, last_failure_at
             FROM webhook_health WHERE webhook_id IN ({})",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        let mut found = HashMap::new();
        for row in query.fetch_all(&self.pool).await? {
            let health = WebhookHealth {
                breaker: rows::name("webhook_health.breaker", row.try_get("breaker")?, BreakerState::parse)?,
                breaker_until: timestamp(&row, "breaker_until")?,
                failing: row.try_get::<i64, _>("failing")? == 1,
                failing_since: timestamp(&row, "failing_since")?,
                last_success_at: timestamp(&row, "last_success_at")?,
                last_failure_at: timestamp(&row, "last_failure_at")?,
            };
            found.insert(row.try_get("webhook_id")?, health);
        }
        Ok(found)
    }
}
