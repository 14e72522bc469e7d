//! The audit trail of ticket updates, written in each update's transaction.

use hookdesk_core::Timestamp;
use hookdesk_core::audit::{Audit, NewAudit, Via};
use hookdesk_core::id::{AuditId, TicketId, UserId};
use sqlx::Row;

use crate::tickets::UpdateTx;
use crate::{Page, Store, StoreError, rows};

/// A row of `ticket_audits`, as stored.
struct AuditRow {
    id: i64,
    ticket_id: i64,
    actor_id: Option<i64>,
    via: String,
    changes: String,
    rules: String,
    events: String,
    invocations: String,
    bound_hit: i64,
    created_at: i64,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for AuditRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            ticket_id: row.try_get("ticket_id")?,
            actor_id: row.try_get("actor_id")?,
            via: row.try_get("via")?,
            changes: row.try_get("changes")?,
            rules: row.try_get("rules")?,
            events: row.try_get("events")?,
            invocations: row.try_get("invocations")?,
            bound_hit: row.try_get("bound_hit")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl TryFrom<AuditRow> for Audit {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        Ok(Audit {
            id: AuditId(row.id),
            ticket_id: TicketId(row.ticket_id),
            actor_id: row.actor_id.map(UserId),
            via: rows::name("ticket_audits.via", &row.via, Via::parse)?,
            changes: rows::json("ticket_audits.changes", &row.changes)?,
            rules: rows::json("ticket_audits.rules", &row.rules)?,
            events: rows::json("ticket_audits.events", &row.events)?,
            invocations: rows::json("ticket_audits.invocations", &row.invocations)?,
            bound_hit: row.bound_hit != 0,
            created_at: Timestamp::from_millis(row.created_at),
        })
    }
}

impl UpdateTx {
    pub async fn add_audit(&mut self, ticket_id: TicketId, audit: &NewAudit, now: Timestamp) -> Result<(), StoreError> {
        let text = |v: &dyn erased::Json| v.text();
        sqlx::query(
            "INSERT INTO ticket_audits (ticket_id, actor_id, via, changes, rules, events, invocations, bound_hit, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(ticket_id.0)
        .bind(audit.actor_id.map(|a| a.0))
        .bind(audit.via.as_str())
        .bind(text(&audit.changes))
        .bind(text(&audit.rules))
        .bind(text(&audit.events))
        .bind(text(&audit.invocations))
        .bind(i64::from(audit.bound_hit))
        .bind(now.as_millis())
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

mod erased {
    /// Any serialisable value as JSON text, so one closure writes every JSON column.
    pub trait Json {
        fn text(&self) -> String;
    }

    impl<T: serde::Serialize> Json for T {
        fn text(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|_| "null".into())
        }
    }
}

impl Store {
    /// Deletes the audit entries written before `before` among the `limit` oldest; answers
    /// how many. One short statement: the retention purge calls it until it answers 0. Ids
    /// grow with time, so the oldest entries are found on the primary key: no index on the
    /// time, which every update would pay for.
    pub async fn purge_audits(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM ticket_audits
             WHERE id IN (SELECT id FROM ticket_audits ORDER BY id LIMIT $2) AND created_at < $1",
        )
        .bind(before.as_millis())
        .bind(i64::from(limit))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// A ticket's updates, oldest first.
    pub async fn ticket_audits(
        &self,
        ticket_id: TicketId,
        after_id: Option<AuditId>,
        limit: u32,
    ) -> Result<Page<Audit>, StoreError> {
        let rows = sqlx::query_as::<_, AuditRow>(
            "SELECT id, ticket_id, actor_id, via, changes, rules, events, invocations, bound_hit, created_at
             FROM ticket_audits WHERE ticket_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(ticket_id.0)
        .bind(after_id.map_or(0, |a| a.0))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let data = rows.into_iter().map(Audit::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::of(data, limit, |a| a.id.to_string()))
    }
}
