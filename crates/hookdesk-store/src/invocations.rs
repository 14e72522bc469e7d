//! The invocation queue and execution log.
//!
//! An invocation is queued in the transaction of the update that fired it. Workers claim due
//! ones in batches: the claim moves `next_attempt_at` past a lease and counts the attempt, so
//! a worker that dies leaves a row that becomes due again when its lease ends. Outcomes of
//! many attempts are recorded in one transaction (group commit).

use std::collections::HashMap;

use hookdesk_core::Timestamp;
use hookdesk_core::request::{PrepareError, PreparedRequest};
use hookdesk_core::text::storable;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

use crate::db::{Backend, Conn, QUEUE_CHANNEL, placeholders};
use crate::{Page, Store, StoreError, rows};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvocationStatus {
    Pending,
    Retrying,
    Succeeded,
    Failed,
}

impl InvocationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvocationStatus::Pending => "pending",
            InvocationStatus::Retrying => "retrying",
            InvocationStatus::Succeeded => "succeeded",
            InvocationStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Retrying, Self::Succeeded, Self::Failed].into_iter().find(|s| s.as_str() == text)
    }
}

/// An invocation to queue. A request that could not be prepared is stored failed, with its
/// error, so the log shows why nothing was sent.
#[derive(Debug, Clone)]
pub struct NewInvocation {
    pub id: String,
    pub webhook_id: String,
    pub ticket_id: Option<i64>,
    pub trigger_id: Option<i64>,
    pub automation_id: Option<i64>,
    pub event_type: Option<String>,
    pub replay_of: Option<String>,
    pub request: Result<PreparedRequest, PrepareError>,
    pub max_retries: u8,
    /// Delivered after the earlier invocations of the same ticket to the same webhook
    /// (`ordering: per_ticket`).
    pub ordered: bool,
    pub created_at: Timestamp,
}

/// Queues `invocations`. On PostgreSQL it also announces them on [`QUEUE_CHANNEL`]; the
/// notification is delivered when the transaction commits, to every process listening.
pub(crate) async fn insert(conn: &mut Conn, backend: Backend, invocations: &[NewInvocation]) -> Result<(), StoreError> {
    if backend == Backend::Postgres && invocations.iter().any(|i| i.request.is_ok()) {
        sqlx::query("SELECT pg_notify($1, '')").bind(QUEUE_CHANNEL).execute(&mut *conn).await?;
    }
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
        .bind(&inv.id)
        .bind(&inv.webhook_id)
        .bind(inv.ticket_id)
        .bind(inv.trigger_id)
        .bind(inv.automation_id)
        .bind(&inv.event_type)
        .bind(&inv.replay_of)
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

/// An invocation a worker holds the lease of.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub webhook_id: String,
    pub ticket_id: Option<i64>,
    pub ordered: bool,
    pub request: PreparedRequest,
    /// The number of this attempt, from 1.
    pub attempt: u32,
    pub max_retries: u8,
}

/// What was sent, as the log keeps it: secrets redacted, body cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoggedRequest {
    pub method: String,
    pub url: String,
    #[schema(value_type = Object)]
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoggedResponse {
    pub status: u16,
    #[schema(value_type = Object)]
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub body: String,
    /// Something to know about the answer: a 2xx whose body was still arriving when the
    /// request timed out counts as delivered, and says so here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttemptOutcome {
    pub code: String,
    pub message: String,
}

/// What happens to the invocation after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Succeeded,
    Failed,
    RetryAt(Timestamp),
}

#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub invocation_id: String,
    /// The webhook the attempt went to: its health moves with the record.
    pub webhook_id: String,
    pub number: u32,
    pub started_at: Timestamp,
    pub duration_ms: i64,
    pub request: LoggedRequest,
    pub response: Option<LoggedResponse>,
    pub error: Option<AttemptOutcome>,
    pub next: Next,
}

/// The contract's Invocation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Invocation {
    pub id: String,
    pub webhook_id: String,
    pub ticket_id: Option<i64>,
    pub trigger_id: Option<i64>,
    pub automation_id: Option<i64>,
    pub event_type: Option<String>,
    pub status: InvocationStatus,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    /// When the next attempt is due, while pending or retrying.
    pub next_attempt_at: Option<Timestamp>,
    /// Why it failed when it failed before any attempt, or the last attempt's error.
    pub error: Option<AttemptOutcome>,
    pub replay_of: Option<String>,
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub number: u32,
    pub started_at: Timestamp,
    pub duration_ms: i64,
    pub request: LoggedRequest,
    pub response: Option<LoggedResponse>,
    pub error: Option<AttemptOutcome>,
}

/// Filters of `GET /invocations`.
#[derive(Debug, Clone, Default)]
pub struct InvocationFilter {
    pub status: Option<InvocationStatus>,
    pub ticket_id: Option<i64>,
    pub webhook_id: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub q: Option<String>,
    /// Ids sort by creation time (UUIDv7), newest first; the cursor is the last id seen.
    pub before_id: Option<String>,
    pub limit: u32,
}

const INVOCATION_COLUMNS: &str = "id, webhook_id, ticket_id, trigger_id, automation_id, event_type, replay_of,
    status, next_attempt_at, error_code, error_message, created_at, completed_at";

fn invocation_from_row(row: &crate::db::Row) -> Result<Invocation, StoreError> {
    let code: Option<String> = row.try_get("error_code")?;
    let message: Option<String> = row.try_get("error_message")?;
    let status: InvocationStatus = rows::name("invocations.status", row.try_get("status")?, InvocationStatus::parse)?;
    let pending = matches!(status, InvocationStatus::Pending | InvocationStatus::Retrying);
    Ok(Invocation {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        ticket_id: row.try_get("ticket_id")?,
        trigger_id: row.try_get("trigger_id")?,
        automation_id: row.try_get("automation_id")?,
        event_type: row.try_get("event_type")?,
        status,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        completed_at: row.try_get::<Option<i64>, _>("completed_at")?.map(Timestamp::from_millis),
        next_attempt_at: row
            .try_get::<Option<i64>, _>("next_attempt_at")?
            .filter(|_| pending)
            .map(Timestamp::from_millis),
        error: code.map(|code| AttemptOutcome { code, message: message.unwrap_or_default() }),
        replay_of: row.try_get("replay_of")?,
        attempts: Vec::new(),
    })
}

async fn attach_attempts(conn: &mut Conn, invocations: &mut [Invocation]) -> Result<(), StoreError> {
    if invocations.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT invocation_id, number, started_at, duration_ms, request, response, error_code, error_message
         FROM attempts WHERE invocation_id IN ({}) ORDER BY number",
        placeholders(1, invocations.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for inv in invocations.iter() {
        query = query.bind(&inv.id);
    }
    let mut by_id: HashMap<String, Vec<Attempt>> = HashMap::new();
    for row in query.fetch_all(&mut *conn).await? {
        let code: Option<String> = row.try_get("error_code")?;
        let response: Option<String> = row.try_get("response")?;
        let number: i64 = row.try_get("number")?;
        by_id.entry(row.try_get("invocation_id")?).or_default().push(Attempt {
            number: u32::try_from(number).map_err(|e| StoreError::corrupt("attempts.number", e))?,
            started_at: Timestamp::from_millis(row.try_get("started_at")?),
            duration_ms: row.try_get("duration_ms")?,
            request: rows::json("attempts.request", row.try_get("request")?)?,
            response: response.map(|r| rows::json("attempts.response", &r)).transpose()?,
            error: code
                .map(|code| Ok::<_, sqlx::Error>(AttemptOutcome { code, message: row.try_get("error_message")? }))
                .transpose()?,
        });
    }
    for inv in invocations {
        inv.attempts = by_id.remove(&inv.id).unwrap_or_default();
    }
    Ok(())
}

/// Records per statement: two statements per chunk instead of two per attempt (every
/// statement is a round trip to the database, or to SQLite's worker thread).
const RECORD_CHUNK: usize = 100;

/// Splits records into chunks of distinct invocations, so that one statement never holds two
/// outcomes for the same invocation (a stale lease's and its successor's).
fn record_chunks(records: &[AttemptRecord]) -> Vec<Vec<&AttemptRecord>> {
    let mut chunks: Vec<Vec<&AttemptRecord>> = Vec::new();
    for record in records {
        let open = chunks
            .iter_mut()
            .find(|c| c.len() < RECORD_CHUNK && c.iter().all(|r| r.invocation_id != record.invocation_id));
        match open {
            Some(chunk) => chunk.push(record),
            None => chunks.push(vec![record]),
        }
    }
    chunks
}

/// One multi-row INSERT of the attempts; a record already written (a retried batch) is skipped.
async fn insert_attempts(conn: &mut Conn, records: &[&AttemptRecord]) -> Result<(), StoreError> {
    const COLUMNS: usize = 8;
    let rows = (0..records.len())
        .map(|i| format!("({})", placeholders(i * COLUMNS + 1, COLUMNS)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO attempts (invocation_id, number, started_at, duration_ms, request, response, error_code, error_message)
         VALUES {rows} ON CONFLICT (invocation_id, number) DO NOTHING"
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for record in records {
        let request = serde_json::to_string(&record.request).map_err(|e| StoreError::corrupt("request", e))?;
        let response = record
            .response
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::corrupt("response", e))?;
        query = query
            .bind(record.invocation_id.as_str())
            .bind(i64::from(record.number))
            .bind(record.started_at.as_millis())
            .bind(record.duration_ms)
            .bind(request)
            .bind(response)
            .bind(record.error.as_ref().map(|e| e.code.as_str()))
            .bind(record.error.as_ref().map(|e| storable(&e.message).into_owned()));
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// One UPDATE moving every invocation of `records` on, each to its own outcome (a `CASE id`
/// per column); an invocation whose attempt count moved past its record is left alone.
async fn settle_invocations(conn: &mut Conn, records: &[&AttemptRecord]) -> Result<(), StoreError> {
    const PARAMS: usize = 7;
    let case = |offset: usize| {
        let arms: String =
            (0..records.len()).map(|i| format!(" WHEN ${} THEN ${}", i * PARAMS + 1, i * PARAMS + offset)).collect();
        format!("CASE id{arms} END")
    };
    let ids = (0..records.len()).map(|i| format!("${}", i * PARAMS + 1)).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "UPDATE invocations SET status = {}, next_attempt_at = {}, completed_at = {}, error_code = {}, error_message = {}
         WHERE id IN ({ids}) AND status IN ('pending', 'retrying') AND attempts = {}",
        case(3),
        case(4),
        case(5),
        case(6),
        case(7),
        case(2),
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for record in records {
        let finished_at = record.started_at.plus_millis(record.duration_ms).as_millis();
        let (status, next, completed) = match record.next {
            Next::Succeeded => (InvocationStatus::Succeeded, None, Some(finished_at)),
            Next::Failed => (InvocationStatus::Failed, None, Some(finished_at)),
            Next::RetryAt(at) => (InvocationStatus::Retrying, Some(at.as_millis()), None),
        };
        query = query
            .bind(record.invocation_id.as_str())
            .bind(i64::from(record.number))
            .bind(status.as_str())
            .bind(next)
            .bind(completed)
            .bind(record.error.as_ref().map(|e| e.code.as_str()))
            .bind(record.error.as_ref().map(|e| storable(&e.message).into_owned()));
    }
    query.execute(&mut *conn).await?;
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
         RETURNING id, webhook_id, ticket_id, ordered, request, attempts, max_retries"
    )
}

impl Store {
    /// Claims up to `limit` due invocations for `lease_ms`, oldest due first, none of the
    /// webhooks in `skip`.
    pub async fn claim_due(
        &self,
        now: Timestamp,
        lease_ms: i64,
        limit: u32,
        skip: &[&str],
    ) -> Result<Vec<Claimed>, StoreError> {
        let sql = claim_sql(self.backend, skip.len());
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(now.as_millis())
            .bind(now.plus_millis(lease_ms).as_millis())
            .bind(i64::from(limit));
        for webhook in skip {
            query = query.bind(*webhook);
        }
        let rows = query.fetch_all(&self.writer).await?;
        rows.iter()
            .map(|row| {
                let attempts: i64 = row.try_get("attempts")?;
                let max_retries: i64 = row.try_get("max_retries")?;
                Ok(Claimed {
                    id: row.try_get("id")?,
                    webhook_id: row.try_get("webhook_id")?,
                    ticket_id: row.try_get("ticket_id")?,
                    ordered: row.try_get::<i64, _>("ordered")? == 1,
                    request: rows::json("invocations.request", row.try_get("request")?)?,
                    attempt: u32::try_from(attempts).map_err(|e| StoreError::corrupt("invocations.attempts", e))?,
                    max_retries: u8::try_from(max_retries)
                        .map_err(|e| StoreError::corrupt("invocations.max_retries", e))?,
                })
            })
            .collect()
    }

    /// Records attempts and moves their invocations on, all in one transaction. An outcome
    /// whose lease was taken over by another claim (its attempt number is stale) is kept in
    /// the log but does not change the invocation.
    pub async fn record_attempts(&self, records: &[AttemptRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in record_chunks(records) {
            insert_attempts(&mut tx, &chunk).await?;
            settle_invocations(&mut tx, &chunk).await?;
        }
        // Each webhook's last success and failure are true as soon as its attempts are, on
        // every node: they are written with them.
        crate::health::note_attempts(&mut tx, self.backend, &crate::health::seen_in(records)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives claims back without an attempt: each invocation waits until its time and the
    /// claim does not count against its retries (its webhook is inactive, paused or at its
    /// limits, say). A claim whose lease was taken over meanwhile is left alone.
    pub async fn give_back_claims(&self, claims: &[(&str, u32, Timestamp)]) -> Result<(), StoreError> {
        if claims.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (id, attempt, until) in claims {
            sqlx::query(
                "UPDATE invocations SET attempts = attempts - 1, next_attempt_at = $3
                 WHERE id = $1 AND attempts = $2 AND status IN ('pending', 'retrying')",
            )
            .bind(*id)
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
        id: &str,
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
        .bind(id)
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

    pub async fn invocation(&self, id: &str) -> Result<Invocation, StoreError> {
        let mut conn = self.begin_read().await?;
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {INVOCATION_COLUMNS} FROM invocations WHERE id = $1")))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut found = [invocation_from_row(&row)?];
        attach_attempts(&mut conn, &mut found).await?;
        conn.commit().await?;
        let [found] = found;
        Ok(found)
    }

    pub async fn list_invocations(&self, filter: &InvocationFilter) -> Result<Page<Invocation>, StoreError> {
        let sql = format!(
            "SELECT {INVOCATION_COLUMNS} FROM invocations i
             WHERE (CAST($1 AS TEXT) IS NULL OR i.id < $1)
               AND (CAST($2 AS TEXT) IS NULL OR i.status = $2)
               AND (CAST($3 AS BIGINT) IS NULL OR i.ticket_id = $3)
               AND (CAST($4 AS TEXT) IS NULL OR i.webhook_id = $4)
               AND (CAST($5 AS BIGINT) IS NULL OR i.created_at >= $5)
               AND (CAST($6 AS BIGINT) IS NULL OR i.created_at <= $6)
               AND (CAST($7 AS TEXT) IS NULL
                    OR LOWER(i.error_message) LIKE $7 ESCAPE '\\' OR LOWER(i.error_code) LIKE $7 ESCAPE '\\'
                    OR EXISTS (SELECT 1 FROM attempts a WHERE a.invocation_id = i.id
                        AND (LOWER(a.error_message) LIKE $7 ESCAPE '\\' OR LOWER(a.error_code) LIKE $7 ESCAPE '\\')))
             ORDER BY i.id DESC LIMIT $8"
        );
        let q = filter.q.as_ref().map(|q| format!("%{}%", escape_like(&q.to_lowercase())));
        let mut conn = self.begin_read().await?;
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(&filter.before_id)
            .bind(filter.status.map(InvocationStatus::as_str))
            .bind(filter.ticket_id)
            .bind(&filter.webhook_id)
            .bind(filter.since.map(Timestamp::as_millis))
            .bind(filter.until.map(Timestamp::as_millis))
            .bind(q)
            .bind(i64::from(filter.limit) + 1)
            .fetch_all(&mut *conn)
            .await?;
        let data = rows.iter().map(invocation_from_row).collect::<Result<Vec<_>, _>>()?;
        let mut page = Page::of(data, filter.limit, |i| i.id.clone());
        attach_attempts(&mut conn, &mut page.data).await?;
        conn.commit().await?;
        Ok(page)
    }

    /// Queues a new invocation with the same request as `id`.
    pub async fn replay_invocation(&self, id: &str, new_id: &str, now: Timestamp) -> Result<Invocation, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {REPLAY_COLUMNS} FROM invocations WHERE id = $1")))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let Some(new) = replay_of_row(&row, new_id.to_owned(), now)? else {
            let message: Option<String> = row.try_get("error_message")?;
            return Err(StoreError::Conflict(format!(
                "this invocation never had a request to replay: {}",
                message.unwrap_or_default()
            )));
        };
        insert(&mut tx, self.backend, std::slice::from_ref(&new)).await?;
        tx.commit().await?;
        self.invocation(new_id).await
    }

    /// Queues a replay of each failed invocation of `webhook_id` created in `[since, until]`
    /// that had a request and was not replayed before, oldest first, at most `limit`.
    /// Answers how many were queued and whether more matched.
    pub async fn replay_failed(
        &self,
        webhook_id: &str,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        limit: u32,
        now: Timestamp,
        mut new_id: impl FnMut() -> String,
    ) -> Result<(u32, bool), StoreError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {REPLAY_COLUMNS} FROM invocations i
             WHERE i.webhook_id = $1 AND i.status = 'failed' AND i.request <> 'null'
               AND (CAST($2 AS BIGINT) IS NULL OR i.created_at >= $2)
               AND (CAST($3 AS BIGINT) IS NULL OR i.created_at <= $3)
               AND NOT EXISTS (SELECT 1 FROM invocations r WHERE r.replay_of = i.id)
             ORDER BY i.id LIMIT $4"
        )))
        .bind(webhook_id)
        .bind(since.map(Timestamp::as_millis))
        .bind(until.map(Timestamp::as_millis))
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        let more = rows.len() > limit as usize;
        let mut replays = Vec::with_capacity(rows.len());
        for row in rows.iter().take(limit as usize) {
            replays.extend(replay_of_row(row, new_id(), now)?);
        }
        for chunk in replays.chunks(RECORD_CHUNK) {
            insert(&mut tx, self.backend, chunk).await?;
        }
        tx.commit().await?;
        Ok((u32::try_from(replays.len()).unwrap_or(u32::MAX), more))
    }
}

const REPLAY_COLUMNS: &str =
    "id, webhook_id, ticket_id, trigger_id, automation_id, event_type, request, max_retries, ordered, error_message";

/// A new invocation repeating the request of `row`; none when it never had one.
fn replay_of_row(row: &crate::db::Row, new_id: String, now: Timestamp) -> Result<Option<NewInvocation>, StoreError> {
    let request_text: String = row.try_get("request")?;
    let Some(request) = rows::json::<Option<PreparedRequest>>("invocations.request", &request_text)? else {
        return Ok(None);
    };
    let max_retries: i64 = row.try_get("max_retries")?;
    Ok(Some(NewInvocation {
        id: new_id,
        webhook_id: row.try_get("webhook_id")?,
        ticket_id: row.try_get("ticket_id")?,
        trigger_id: row.try_get("trigger_id")?,
        automation_id: row.try_get("automation_id")?,
        event_type: row.try_get("event_type")?,
        replay_of: Some(row.try_get("id")?),
        request: Ok(request),
        max_retries: u8::try_from(max_retries).map_err(|e| StoreError::corrupt("max_retries", e))?,
        ordered: row.try_get::<i64, _>("ordered")? == 1,
        created_at: now,
    }))
}

/// Escapes LIKE's wildcards so user text matches literally (with `ESCAPE '\\'`).
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
