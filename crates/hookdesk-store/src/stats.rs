//! Figures over the invocation log: counts by outcome in a window, and what waits now.

use hookdesk_core::Timestamp;
use std::collections::HashMap;

use hookdesk_core::id::WebhookId;
use hookdesk_core::invocation::{DeliveryStats, LastError, Waiting, WebhookOutcomes};
use sqlx::Row;

use crate::{Store, StoreError};

const HOUR_MS: i64 = 3_600_000;

impl Store {
    /// Completions since `since`, hour by hour, and the invocations waiting now. Reads only
    /// the indexes on `completed_at` and on waiting invocations.
    pub async fn delivery_stats(&self, since: Timestamp, now: Timestamp) -> Result<DeliveryStats, StoreError> {
        let completed = sqlx::query(
            "SELECT completed_at / 3600000 AS hour, status, COUNT(*) AS n FROM invocations
             WHERE completed_at >= $1 GROUP BY completed_at / 3600000, status",
        )
        .bind(since.as_millis())
        .fetch_all(&self.pool)
        .await?;
        let first_hour = since.as_millis() / HOUR_MS;
        let hours = (now.as_millis() / HOUR_MS - first_hour + 1).clamp(1, 24 * 31) as usize;
        let mut stats = DeliveryStats {
            hourly: (0..hours).map(|h| (Timestamp::from_millis((first_hour + h as i64) * HOUR_MS), 0, 0)).collect(),
            ..DeliveryStats::default()
        };
        for row in completed {
            let (hour, status, n): (i64, String, i64) =
                (row.try_get("hour")?, row.try_get("status")?, row.try_get("n")?);
            let slot = usize::try_from(hour - first_hour).ok().and_then(|i| stats.hourly.get_mut(i));
            match status.as_str() {
                "succeeded" => {
                    stats.succeeded += n;
                    if let Some(slot) = slot {
                        slot.1 += n;
                    }
                }
                "failed" => {
                    stats.failed += n;
                    if let Some(slot) = slot {
                        slot.2 += n;
                    }
                }
                _ => {}
            }
        }
        let waiting = self.waiting().await?;
        stats.pending = waiting.pending;
        stats.retrying = waiting.retrying;
        stats.oldest_waiting_since = match (waiting.oldest_pending_since, waiting.oldest_retrying_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(stats)
    }

    /// The invocations waiting now: two counts and two ages, read from the (status, id) index
    /// alone (the oldest is the smallest id: UUIDv7 ids sort by creation), so that a scrape
    /// of `/metrics` stays cheap however long the queue.
    pub async fn waiting(&self) -> Result<Waiting, StoreError> {
        let counts = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM invocations WHERE status IN ('pending', 'retrying') GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut waiting = Waiting::default();
        for row in counts {
            let (status, n): (String, i64) = (row.try_get("status")?, row.try_get("n")?);
            match status.as_str() {
                "pending" => waiting.pending = n,
                _ => waiting.retrying = n,
            }
        }
        let oldest = sqlx::query(
            "SELECT
                (SELECT created_at FROM invocations WHERE id = (SELECT MIN(id) FROM invocations WHERE status = 'pending'))
                    AS pending,
                (SELECT created_at FROM invocations WHERE id = (SELECT MIN(id) FROM invocations WHERE status = 'retrying'))
                    AS retrying",
        )
        .fetch_one(&self.pool)
        .await?;
        waiting.oldest_pending_since = oldest.try_get::<Option<i64>, _>("pending")?.map(Timestamp::from_millis);
        waiting.oldest_retrying_since = oldest.try_get::<Option<i64>, _>("retrying")?.map(Timestamp::from_millis);
        Ok(waiting)
    }

    /// Each webhook's completions since `since` by outcome (from the index on completed
    /// invocations alone), and its invocations retrying now (from the status index).
    /// Webhooks with neither are absent.
    pub async fn webhook_outcomes(&self, since: Timestamp) -> Result<HashMap<WebhookId, WebhookOutcomes>, StoreError> {
        let mut outcomes: HashMap<WebhookId, WebhookOutcomes> = HashMap::new();
        let completed = sqlx::query(
            // `|| ''` keeps SQLite's planner off the (webhook_id, id) index, which it would
            // scan whole for the grouping: the range on the covering index reads the window only.
            "SELECT webhook_id || '' AS webhook_id, status, COUNT(*) AS n FROM invocations
             WHERE completed_at >= $1 GROUP BY webhook_id || '', status",
        )
        .bind(since.as_millis())
        .fetch_all(&self.pool)
        .await?;
        for row in completed {
            let (webhook, status, n): (String, String, i64) =
                (row.try_get("webhook_id")?, row.try_get("status")?, row.try_get("n")?);
            let entry = outcomes.entry(WebhookId(webhook)).or_default();
            match status.as_str() {
                "succeeded" => entry.succeeded += n,
                "failed" => entry.failed += n,
                _ => {}
            }
        }
        let retrying = sqlx::query(
            "SELECT webhook_id, COUNT(*) AS n, MIN(created_at) AS oldest FROM invocations
             WHERE status = 'retrying' GROUP BY webhook_id",
        )
        .fetch_all(&self.pool)
        .await?;
        for row in retrying {
            let entry = outcomes.entry(WebhookId(row.try_get("webhook_id")?)).or_default();
            entry.retrying = row.try_get("n")?;
            entry.oldest_retrying_since = row.try_get::<Option<i64>, _>("oldest")?.map(Timestamp::from_millis);
        }
        Ok(outcomes)
    }

    /// The error of the latest invocation of `webhook` that met one (retrying or failed),
    /// found newest first on the webhook's index: asked for troubled webhooks, whose latest
    /// invocations failed, it reads a few rows.
    pub async fn last_error(&self, webhook: &WebhookId) -> Result<Option<LastError>, StoreError> {
        let row = sqlx::query(
            "SELECT error_code, error_message, COALESCE(completed_at, created_at) AS at FROM invocations
             WHERE webhook_id = $1 AND error_code IS NOT NULL AND status IN ('retrying', 'failed')
             ORDER BY id DESC LIMIT 1",
        )
        .bind(webhook.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(LastError {
            at: Timestamp::from_millis(row.try_get("at")?),
            code: row.try_get("error_code")?,
            message: row.try_get::<Option<String>, _>("error_message")?.unwrap_or_default(),
        }))
    }
}
