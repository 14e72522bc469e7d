//! Webhook delivery health: the circuit breaker and the failing mark, written by the workers
//! when they change, and the last success and failure, written with every batch of attempts;
//! all shown on the webhook.

use std::collections::HashMap;

use hookdesk_core::Timestamp;
use hookdesk_core::id::WebhookId;
use hookdesk_core::webhook::{BreakerState, WebhookHealth};
use sqlx::{AssertSqlSafe, Row};

use crate::db::placeholders;
use crate::{Store, StoreError, rows};

fn millis(at: Option<Timestamp>) -> Option<i64> {
    at.map(Timestamp::as_millis)
}

/// The times of a `webhook_health` row, as stored, that a batch of attempts moves on.
struct TimesRow {
    webhook_id: String,
    last_success_at: Option<i64>,
    last_failure_at: Option<i64>,
    failing_since: Option<i64>,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for TimesRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            webhook_id: row.try_get("webhook_id")?,
            last_success_at: row.try_get("last_success_at")?,
            last_failure_at: row.try_get("last_failure_at")?,
            failing_since: row.try_get("failing_since")?,
        })
    }
}

impl TimesRow {
    /// The webhook's id and its times.
    fn keyed(self) -> (String, Times) {
        let times = Times {
            last_success: self.last_success_at.map(Timestamp::from_millis),
            last_failure: self.last_failure_at.map(Timestamp::from_millis),
            failing_since: self.failing_since.map(Timestamp::from_millis),
        };
        (self.webhook_id, times)
    }
}

/// A row of `webhook_health`, as stored.
struct HealthRow {
    webhook_id: String,
    breaker: String,
    breaker_until: Option<i64>,
    failing: i64,
    failing_since: Option<i64>,
    last_success_at: Option<i64>,
    last_failure_at: Option<i64>,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for HealthRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            webhook_id: row.try_get("webhook_id")?,
            breaker: row.try_get("breaker")?,
            breaker_until: row.try_get("breaker_until")?,
            failing: row.try_get("failing")?,
            failing_since: row.try_get("failing_since")?,
            last_success_at: row.try_get("last_success_at")?,
            last_failure_at: row.try_get("last_failure_at")?,
        })
    }
}

impl HealthRow {
    /// The webhook's id and its health.
    fn keyed(self) -> Result<(WebhookId, WebhookHealth), StoreError> {
        let health = WebhookHealth {
            breaker: rows::name("webhook_health.breaker", &self.breaker, BreakerState::parse)?,
            breaker_until: self.breaker_until.map(Timestamp::from_millis),
            failing: self.failing == 1,
            failing_since: self.failing_since.map(Timestamp::from_millis),
            last_success_at: self.last_success_at.map(Timestamp::from_millis),
            last_failure_at: self.last_failure_at.map(Timestamp::from_millis),
        };
        Ok((WebhookId(self.webhook_id), health))
    }
}

/// A webhook's last success and failure, and since when it has been failing: stored, or
/// what one batch of attempts saw (its `failing_since`: the first failure after its last
/// success, or its first failure when none succeeded).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Times {
    last_success: Option<Timestamp>,
    last_failure: Option<Timestamp>,
    failing_since: Option<Timestamp>,
}

/// Each webhook of `records` with what its attempts there say, ordered by webhook id (the
/// order rows are locked in, so that two nodes' batches never wait on each other in a circle).
pub(crate) fn seen_in(records: &[crate::AttemptRecord]) -> Vec<(&str, Times)> {
    let mut ordered: Vec<&crate::AttemptRecord> = records.iter().collect();
    ordered.sort_by_key(|r| r.started_at.as_millis() + r.duration_ms);
    let mut seen: std::collections::BTreeMap<&str, Times> = std::collections::BTreeMap::new();
    for record in ordered {
        let at = record.started_at.plus_millis(record.duration_ms);
        let entry = seen.entry(record.webhook_id.as_str()).or_default();
        if record.next == crate::Next::Succeeded {
            entry.last_success = Some(at);
            entry.failing_since = None;
        } else {
            entry.last_failure = Some(at);
            entry.failing_since.get_or_insert(at);
        }
    }
    seen.into_iter().collect()
}

/// What is true after a batch, whichever node recorded what first: the latest success and
/// failure, and, when a failure is the latest, the earliest failure known after the latest
/// success.
pub(crate) fn merge(stored: Times, batch: Times) -> Times {
    let last_success = stored.last_success.max(batch.last_success);
    let last_failure = stored.last_failure.max(batch.last_failure);
    let after_success = |at: Option<Timestamp>| at.filter(|at| last_success.is_none_or(|s| *at > s));
    let failing_since = match (last_success, last_failure) {
        (_, None) => None,
        (Some(success), Some(failure)) if success >= failure => None,
        _ => [stored.failing_since, batch.failing_since, batch.last_failure, stored.last_failure]
            .into_iter()
            .filter_map(after_success)
            .min(),
    };
    Times { last_success, last_failure, failing_since }
}

/// Moves each webhook's last success, last failure and failing-since on by what a batch of
/// attempts saw, in the batch's transaction.
pub(crate) async fn note_attempts(
    conn: &mut crate::db::Conn,
    backend: crate::Backend,
    seen: &[(&str, Times)],
) -> Result<(), StoreError> {
    if seen.is_empty() {
        return Ok(());
    }
    // Locked in id order (PostgreSQL; SQLite has one writer anyway).
    let lock = if backend == crate::Backend::Postgres { " FOR UPDATE" } else { "" };
    let sql = format!(
        "SELECT webhook_id, last_success_at, last_failure_at, failing_since FROM webhook_health
         WHERE webhook_id IN ({}) ORDER BY webhook_id{lock}",
        placeholders(1, seen.len())
    );
    let mut query = sqlx::query_as::<_, TimesRow>(AssertSqlSafe(sql));
    for (id, _) in seen {
        query = query.bind(*id);
    }
    let stored: HashMap<String, Times> = query.fetch_all(&mut *conn).await?.into_iter().map(TimesRow::keyed).collect();
    for (id, batch) in seen {
        let merged = merge(stored.get(*id).copied().unwrap_or_default(), *batch);
        let now = merged.last_success.max(merged.last_failure).map_or(0, Timestamp::as_millis);
        sqlx::query(
            "INSERT INTO webhook_health (webhook_id, breaker, breaker_until, failing, failing_since, last_success_at,
                 last_failure_at, updated_at)
             SELECT $1, 'closed', NULL, 0, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $1)
             ON CONFLICT (webhook_id) DO UPDATE SET failing_since = excluded.failing_since,
                 last_success_at = excluded.last_success_at, last_failure_at = excluded.last_failure_at,
                 updated_at = excluded.updated_at",
        )
        .bind(*id)
        .bind(millis(merged.failing_since))
        .bind(millis(merged.last_success))
        .bind(millis(merged.last_failure))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// How many webhooks are held back now, as `/metrics` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthCounts {
    /// Webhooks whose circuit breaker is open or probing (half open).
    pub breakers_open: i64,
    /// Webhooks marked failing.
    pub failing: i64,
}

impl Store {
    /// Webhooks with an open breaker and failing ones: one row per webhook, so cheap.
    pub async fn health_counts(&self) -> Result<HealthCounts, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN breaker <> 'closed' THEN 1 ELSE 0 END), 0) AS open,
                    COALESCE(SUM(failing), 0) AS failing
             FROM webhook_health",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(HealthCounts { breakers_open: row.try_get("open")?, failing: row.try_get("failing")? })
    }

    /// Saves a webhook's breaker and failing mark (its last success and failure are the
    /// attempts' to write); nothing when the webhook was deleted meanwhile. Answers
    /// `Some(failing)` when the failing mark changed (a `webhook.failing` or
    /// `webhook.recovered` event is due).
    pub async fn save_webhook_health(
        &self,
        webhook_id: &WebhookId,
        health: &WebhookHealth,
        now: Timestamp,
    ) -> Result<Option<bool>, StoreError> {
        let mut tx = self.begin_write().await?;
        let was_failing = sqlx::query("SELECT failing FROM webhook_health WHERE webhook_id = $1")
            .bind(webhook_id.as_str())
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
        .bind(webhook_id.as_str())
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
    pub async fn webhook_health(&self, ids: &[&WebhookId]) -> Result<HashMap<WebhookId, WebhookHealth>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT webhook_id, breaker, breaker_until, failing, failing_since, last_success_at, last_failure_at
             FROM webhook_health WHERE webhook_id IN ({})",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query_as::<_, HealthRow>(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id.as_str());
        }
        query.fetch_all(&self.pool).await?.into_iter().map(HealthRow::keyed).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Option<Timestamp> {
        Some(Timestamp::from_millis(ms))
    }

    #[test]
    fn the_latest_event_decides_whichever_batch_arrives_first() {
        let failing = Times { last_success: None, last_failure: at(30), failing_since: at(10) };
        // A success at 100 recorded by another node, then a failure at 90 arriving late.
        let recovered = merge(failing, Times { last_success: at(100), last_failure: None, failing_since: None });
        assert_eq!(recovered.failing_since, None);
        let late = merge(recovered, Times { last_success: None, last_failure: at(90), failing_since: at(90) });
        assert_eq!((late.last_success, late.last_failure, late.failing_since), (at(100), at(90), None));
        // A failure after the success: failing since the first failure after it.
        let again = merge(late, Times { last_success: None, last_failure: at(130), failing_since: at(110) });
        assert_eq!(again.failing_since, at(110));
        // A success arriving late (older than the latest failure) does not clear it.
        let stale = merge(again, Times { last_success: at(105), last_failure: None, failing_since: None });
        assert_eq!((stale.last_success, stale.failing_since), (at(105), at(110)));
        // Nothing stored yet: the batch as it is.
        let first = Times { last_success: at(5), last_failure: at(7), failing_since: at(7) };
        assert_eq!(merge(Times::default(), first), first);
    }
}
