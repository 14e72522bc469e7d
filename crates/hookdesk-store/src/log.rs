//! The execution log as the API reads it: invocations with their attempts, filtered and
//! paged, and replays (a new invocation of the same request).

use std::collections::HashMap;

use hookdesk_core::Timestamp;
use hookdesk_core::invocation::{
    Attempt, AttemptOutcome, Invocation, InvocationFilter, InvocationStatus, NewInvocation,
};
use hookdesk_core::request::PreparedRequest;
use sqlx::{AssertSqlSafe, Row};

use crate::attempts::RECORD_CHUNK;
use crate::db::{Conn, placeholders};
use crate::queue::insert;
use crate::{Page, Store, StoreError, rows};

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

impl Store {
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
