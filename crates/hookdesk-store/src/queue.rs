//! The invocation queue. An invocation is queued in the transaction of the update that
//! fired it. Workers claim due ones in batches: the claim moves `next_attempt_at` past a
//! lease and counts the attempt, so a worker that dies leaves a row that becomes due again
//! when its lease ends.

use hookdesk_core::Timestamp;
use hookdesk_core::id::{InvocationId, TicketId, WebhookId};
use hookdesk_core::invocation::{AttemptOutcome, Claimed, InvocationStatus, NewInvocation};
use hookdesk_core::text::storable;
use sqlx::{AssertSqlSafe, Row};

use crate::db::{Backend, Conn, placeholders};
use crate::{Store, StoreError, rows};

/// Queues `invocations`; once the transaction commits, [`Store::announce_queued`] tells every
/// node.
pub(crate) async fn insert(conn: &mut Conn, invocations: &[NewInvocation]) -> Result<(), StoreError> {
    for inv in invocations {
        let (status, request, error, next, completed) = match &inv.request {
            Ok(request) => (
                InvocationStatus::Pending,
                serde_json::to_string(request).map_err(|e| StoreError::corrupt("request", e))?,
                None,
                Some(inv.created_at.as_millis()),
                None,
            ),
            Err(error) => {
                (InvocationStatus::Failed, "null".to_owned(), Some(error), None, Some(inv.created_at.as_millis()))
            }
        };
        sqlx::query(
            "INSERT INTO invocations (id, webhook_id, ticket_id, trigger_id, automation_id, event_type, replay_of,
                 status, request, max_retries, attempts, next_attempt_at, error_code, error_message, created_at, completed_at,
                 ordered)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, $13, $14, $15, $16)",
        )
        .bind(inv.id.as_str())
        .bind(inv.webhook_id.as_str())
        .bind(inv.ticket_id.map(|t| t.0))
        .bind(inv.trigger_id.map(|t| t.0))
        .bind(inv.automation_id.map(|a| a.0))
        .bind(&inv.event_type)
        .bind(inv.replay_of.as_ref().map(InvocationId::as_str))
        .bind(status.as_str())
        .bind(request)
        .bind(i64::from(inv.max_retries))
        .bind(next)
        .bind(error.map(|e| e.code))
        .bind(error.map(|e| storable(&e.message).into_owned()))
        .bind(inv.created_at.as_millis())
        .bind(completed)
        .bind(i64::from(inv.ordered))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The claim: due invocations, oldest due first, skipping the webhooks the dispatcher holds
/// back (`$4..`) and ordered invocations with an earlier one of their ticket still open.
/// SQLite has one writer, so select-then-update in one statement is atomic; on PostgreSQL,
/// SKIP LOCKED lets several processes claim side by side without waiting on each other or
/// claiming the same row.
fn claim_sql(backend: Backend, skipped_webhooks: usize) -> String {
    let skip = if skipped_webhooks == 0 {
        String::new()
    } else {
        format!("AND i.webhook_id NOT IN ({})", placeholders(4, skipped_webhooks))
    };
    let lock = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
    };
    format!(
        "UPDATE invocations SET next_attempt_at = $2, attempts = attempts + 1
         WHERE id IN (SELECT i.id FROM invocations i
                      WHERE i.next_attempt_at <= $1 {skip}
                        AND (i.ordered = 0 OR NOT EXISTS (
                            SELECT 1 FROM invocations e
                            WHERE e.webhook_id = i.webhook_id AND e.ticket_id = i.ticket_id AND e.id < i.id
                              AND e.next_attempt_at IS NOT NULL AND e.ordered = 1))
                      ORDER BY i.next_attempt_at LIMIT $3 {lock})
         RETURNING id, webhook_id, ticket_id, ordered, request, attempts, max_retries, created_at"
    )
}

/// A claimed invocation as the claim returns it.
struct ClaimedRow {
    id: String,
    webhook_id: String,
    ticket_id: Option<i64>,
    ordered: i64,
    request: String,
    attempts: i64,
    max_retries: i64,
    created_at: i64,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for ClaimedRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            webhook_id: row.try_get("webhook_id")?,
            ticket_id: row.try_get("ticket_id")?,
            ordered: row.try_get("ordered")?,
            request: row.try_get("request")?,
            attempts: row.try_get("attempts")?,
            max_retries: row.try_get("max_retries")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl TryFrom<ClaimedRow> for Claimed {
    type Error = StoreError;

    fn try_from(row: ClaimedRow) -> Result<Self, StoreError> {
        Ok(Claimed {
            id: InvocationId(row.id),
            webhook_id: WebhookId(row.webhook_id),
            ticket_id: row.ticket_id.map(TicketId),
            ordered: row.ordered == 1,
            request: rows::json("invocations.request", &row.request)?,
            attempt: u32::try_from(row.attempts).map_err(|e| StoreError::corrupt("invocations.attempts", e))?,
            max_retries: u8::try_from(row.max_retries)
                .map_err(|e| StoreError::corrupt("invocations.max_retries", e))?,
            queued_at: Timestamp::from_millis(row.created_at),
        })
    }
}

impl Store {
    /// Claims up to `limit` due invocations for `lease_ms`, oldest due first, none of the
    /// webhooks in `skip`.
    pub async fn claim_due(
        &self,
        now: Timestamp,
        lease_ms: i64,
        limit: u32,
        skip: &[&WebhookId],
    ) -> Result<Vec<Claimed>, StoreError> {
        let sql = claim_sql(self.backend, skip.len());
        let mut query = sqlx::query_as::<_, ClaimedRow>(AssertSqlSafe(sql))
            .bind(now.as_millis())
            .bind(now.plus_millis(lease_ms).as_millis())
            .bind(i64::from(limit));
        for webhook in skip {
            query = query.bind(webhook.as_str());
        }
        let rows = query.fetch_all(&self.writer).await?;
        rows.into_iter().map(Claimed::try_from).collect()
    }

    /// Gives claims back without an attempt: each invocation waits until its time and the
    /// claim does not count against its retries (its webhook is inactive, paused or at its
    /// limits, say). A claim whose lease was taken over meanwhile is left alone.
    pub async fn give_back_claims(&self, claims: &[(&InvocationId, u32, Timestamp)]) -> Result<(), StoreError> {
        if claims.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (id, attempt, until) in claims {
            sqlx::query(
                "UPDATE invocations SET attempts = attempts - 1, next_attempt_at = $3
                 WHERE id = $1 AND attempts = $2 AND status IN ('pending', 'retrying')",
            )
            .bind(id.as_str())
            .bind(i64::from(*attempt))
            .bind(until.as_millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Fails a claimed invocation that cannot be sent at all (its webhook is gone).
    pub async fn fail_claim(
        &self,
        id: &InvocationId,
        attempt: u32,
        error: &AttemptOutcome,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE invocations SET attempts = attempts - 1, status = 'failed', next_attempt_at = NULL, completed_at = $3,
                 error_code = $4, error_message = $5
             WHERE id = $1 AND attempts = $2 AND status IN ('pending', 'retrying')",
        )
        .bind(id.as_str())
        .bind(i64::from(attempt))
        .bind(now.as_millis())
        .bind(&error.code)
        .bind(storable(&error.message).as_ref())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Invocations still pending or retrying.
    pub async fn count_open(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM invocations WHERE next_attempt_at IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Queued invocations that no worker has tried yet.
    pub async fn count_never_attempted(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM invocations WHERE status = 'pending' AND attempts = 0")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// When the earliest queued invocation comes due after `now`, if any. (Those due already
    /// and not claimed are held back: their webhook is paused or an earlier invocation of
    /// their ticket is open.)
    pub async fn next_due_after(&self, now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        let row = sqlx::query("SELECT MIN(next_attempt_at) AS due FROM invocations WHERE next_attempt_at > $1")
            .bind(now.as_millis())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>("due")?.map(Timestamp::from_millis))
    }
}
