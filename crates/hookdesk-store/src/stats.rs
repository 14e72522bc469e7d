//! Figures over the invocation log: counts by outcome in a window, and what waits now.

use hookdesk_core::Timestamp;
use hookdesk_core::invocation::DeliveryStats;
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
        // Counted on the (status, id) index alone; the oldest is the smallest id (UUIDv7 ids
        // sort by creation), found at one end of that index.
        let waiting = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM invocations WHERE status IN ('pending', 'retrying') GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        for row in waiting {
            let (status, n): (String, i64) = (row.try_get("status")?, row.try_get("n")?);
            match status.as_str() {
                "pending" => stats.pending = n,
                _ => stats.retrying = n,
            }
        }
        let oldest = sqlx::query(
            "SELECT MIN(created_at) AS oldest FROM invocations WHERE id IN (
                (SELECT MIN(id) FROM invocations WHERE status = 'pending'),
                (SELECT MIN(id) FROM invocations WHERE status = 'retrying'))",
        )
        .fetch_one(&self.pool)
        .await?;
        stats.oldest_waiting_since = oldest.try_get::<Option<i64>, _>("oldest")?.map(Timestamp::from_millis);
        Ok(stats)
    }
}
