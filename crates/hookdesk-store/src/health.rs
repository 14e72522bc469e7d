//! Webhook delivery health: the circuit breaker and the failing mark, written by the workers
//! when they change and shown on the webhook.

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

impl Store {
    /// Saves the health of `webhook_id`; nothing when the webhook was deleted meanwhile.
    /// Saves a webhook's health; answers `Some(failing)` when the failing mark changed (a
    /// `webhook.failing` or `webhook.recovered` event is due).
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
                 failing = excluded.failing, failing_since = excluded.failing_since,
                 last_success_at = excluded.last_success_at, last_failure_at = excluded.last_failure_at,
                 updated_at = excluded.updated_at",
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
