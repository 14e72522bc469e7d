//! Leases for work that must run on one node at a time, and the retention purge.

use hookdesk_core::Timestamp;
use sqlx::Row;

use crate::{Store, StoreError};

impl Store {
    /// Takes the lease `name` for `holder` until `until`, or renews it if `holder` has it.
    /// True when `holder` holds it afterwards. An expired lease goes to whoever asks first.
    pub async fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(until.as_millis())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT holder FROM leases WHERE name = $1").bind(name).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(row.try_get::<String, _>("holder")? == holder)
    }

    /// Gives the lease up, so another node can take it at once.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Deletes up to `limit` invocations completed before `before` (their attempts go with
    /// them: ON DELETE CASCADE); returns how many. Small batches keep each write short.
    pub async fn purge_invocations(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        // Waiting invocations have no `completed_at`: never before anything.
        self.delete_oldest("invocations", "completed_at", before, limit).await
    }
}
