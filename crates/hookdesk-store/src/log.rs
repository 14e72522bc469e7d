//! The execution log as the API reads it: invocations with their attempts, filtered and
//! paged, and replays (a new invocation of the same request).

use std::collections::HashMap;

use hookdesk_core::Timestamp;
use hookdesk_core::id::{InvocationId, RuleId, TicketId, WebhookId};
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

/// A row of `invocations` ([`INVOCATION_COLUMNS`]), as stored.
struct InvocationRow {
    id: String,
    webhook_id: String,
    ticket_id: Option<i64>,
    trigger_id: Option<i64>,
    automation_id: Option<i64>,
    event_type: Option<String>,
    replay_of: Option<String>,
    status: String,
    next_attempt_at: Option<i64>,
    error_code: Option<String>,
    error_message: Option<String>,
    created_at: i64,
    completed_at: Option<i64>,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for InvocationRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            webhook_id: row.try_get("webhook_id")?,
            ticket_id: row.try_get("ticket_id")?,
            trigger_id: row.try_get("trigger_id")?,
            automation_id: row.try_get("automation_id")?,
            event_type: row.try_get("event_type")?,
            replay_of: row.try_get("replay_of")?,
            status: row.try_get("status")?,
            next_attempt_at: row.try_get("next_attempt_at")?,
            error_code: row.try_get("error_code")?,
            error_message: row.try_get("error_message")?,
            created_at: row.try_get("created_at")?,
            completed_at: row.try_get("completed_at")?,
        })
    }
}

impl TryFrom<InvocationRow> for Invocation {
    type Error = StoreError;

    fn try_from(row: InvocationRow) -> Result<Self, StoreError> {
        let status: InvocationStatus = rows::name("invocations.status", &row.status, InvocationStatus::parse)?;
        let pending = matches!(status, InvocationStatus::Pending | InvocationStatus::Retrying);
        Ok(Invocation {
            id: InvocationId(row.id),
            webhook_id: WebhookId(row.webhook_id),
            ticket_id: row.ticket_id.map(TicketId),
            trigger_id: row.trigger_id.map(RuleId),
            automation_id: row.automation_id.map(RuleId),
            event_type: row.event_type,
            status,
            created_at: Timestamp::from_millis(row.created_at),
            completed_at: row.completed_at.map(Timestamp::from_millis),
            next_attempt_at: row.next_attempt_at.filter(|_| pending).map(Timestamp::from_millis),
            error: row.error_code.map(|code| AttemptOutcome { code, message: row.error_message.unwrap_or_default() }),
            replay_of: row.replay_of.map(InvocationId),
            attempts: Vec::new(),
        })
    }
}

/// A row of `attempts`, as stored, with the invocation it belongs to.
struct AttemptRow {
    invocation_id: String,
    number: i64,
    started_at: i64,
    duration_ms: i64,
    request: String,
    response: Option<String>,
    error_code: Option<String>,
    /// Read only with an error code, and required then.
    error_message: Option<String>,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for AttemptRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        let error_code: Option<String> = row.try_get("error_code")?;
        let error_message = match error_code {
            Some(_) => Some(row.try_get::<String, _>("error_message")?),
            None => None,
        };
        Ok(Self {
            invocation_id: row.try_get("invocation_id")?,
            number: row.try_get("number")?,
            started_at: row.try_get("started_at")?,
            duration_ms: row.try_get("duration_ms")?,
            request: row.try_get("request")?,
            response: row.try_get("response")?,
            error_code,
            error_message,
        })
    }
}

impl TryFrom<AttemptRow> for Attempt {
    type Error = StoreError;

    fn try_from(row: AttemptRow) -> Result<Self, StoreError> {
        Ok(Attempt {
            number: u32::try_from(row.number).map_err(|e| StoreError::corrupt("attempts.number", e))?,
            started_at: Timestamp::from_millis(row.started_at),
            duration_ms: row.duration_ms,
            request: rows::json("attempts.request", &row.request)?,
            response: row.response.map(|r| rows::json("attempts.response", &r)).transpose()?,
            error: row.error_code.map(|code| AttemptOutcome { code, message: row.error_message.unwrap_or_default() }),
        })
    }
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
    let mut query = sqlx::query_as::<_, AttemptRow>(AssertSqlSafe(sql));
    for inv in invocations.iter() {
        query = query.bind(inv.id.as_str());
    }
    let mut by_id: HashMap<InvocationId, Vec<Attempt>> = HashMap::new();
    for row in query.fetch_all(&mut *conn).await? {
        by_id.entry(InvocationId(row.invocation_id.clone())).or_default().push(Attempt::try_from(row)?);
    }
    for inv in invocations {
        inv.attempts = by_id.remove(&inv.id).unwrap_or_default();
    }
    Ok(())
}

impl Store {
    pub async fn invocation(&self, id: &InvocationId) -> Result<Invocation, StoreError> {
        let mut conn = self.begin_read().await?;
        let row = sqlx::query_as::<_, InvocationRow>(AssertSqlSafe(format!(
            "SELECT {INVOCATION_COLUMNS} FROM invocations WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut found = [Invocation::try_from(row)?];
        attach_attempts(&mut conn, &mut found).await?;
        conn.commit().await?;
        let [found] = found;
        Ok(found)
    }

    pub async fn list_invocations(&self, filter: &InvocationFilter) -> Result<Page<Invocation>, StoreError> {
        // Only the filters given become conditions, so that each can use its index (a
        // `$1 IS NULL OR ...` condition cannot).
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        let mut add = |condition: &str, value: Bind| {
            binds.push(value);
            conditions.push(condition.replace("$?", &format!("${}", binds.len())));
        };
        if let Some(before) = &filter.before_id {
            add("i.id < $?", Bind::Text(before.as_str().to_owned()));
        }
        if let Some(status) = filter.status {
            add("i.status = $?", Bind::Text(status.as_str().to_owned()));
        }
        if let Some(ticket) = filter.ticket_id {
            add("i.ticket_id = $?", Bind::Int(ticket.0));
        }
        if let Some(webhook) = &filter.webhook_id {
            add("i.webhook_id = $?", Bind::Text(webhook.as_str().to_owned()));
        }
        if let Some(since) = filter.since {
            add("i.created_at >= $?", Bind::Int(since.as_millis()));
        }
        if let Some(until) = filter.until {
            add("i.created_at <= $?", Bind::Int(until.as_millis()));
        }
        if let Some(q) = &filter.q {
            add(
                "(LOWER(i.error_message) LIKE $? ESCAPE '\\' OR LOWER(i.error_code) LIKE $? ESCAPE '\\'
                  OR EXISTS (SELECT 1 FROM attempts a WHERE a.invocation_id = i.id
                      AND (LOWER(a.error_message) LIKE $? ESCAPE '\\' OR LOWER(a.error_code) LIKE $? ESCAPE '\\')))",
                Bind::Text(crate::db::contains_pattern(q)),
            );
        }
        let limit = binds.len() + 1;
        let sql = format!(
            "SELECT {INVOCATION_COLUMNS} FROM invocations i {} ORDER BY i.id DESC LIMIT ${limit}",
            if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) }
        );
        let mut query = sqlx::query_as::<_, InvocationRow>(AssertSqlSafe(sql));
        for bind in binds {
            query = match bind {
                Bind::Text(text) => query.bind(text),
                Bind::Int(n) => query.bind(n),
            };
        }
        let mut conn = self.begin_read().await?;
        let rows = query.bind(i64::from(filter.limit) + 1).fetch_all(&mut *conn).await?;
        let data = rows.into_iter().map(Invocation::try_from).collect::<Result<Vec<_>, _>>()?;
        let mut page = Page::of(data, filter.limit, |i| i.id.to_string());
        attach_attempts(&mut conn, &mut page.data).await?;
        conn.commit().await?;
        Ok(page)
    }

    /// Queues a new invocation with the same request as `id`.
    pub async fn replay_invocation(
        &self,
        id: &InvocationId,
        new_id: &InvocationId,
        now: Timestamp,
    ) -> Result<Invocation, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query_as::<_, ReplayRow>(AssertSqlSafe(format!(
            "SELECT {REPLAY_COLUMNS} FROM invocations WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let message = row.error_message.clone();
        let Some(new) = row.replay(new_id.clone(), now)? else {
            return Err(StoreError::Conflict(format!(
                "this invocation never had a request to replay: {}",
                message.unwrap_or_default()
            )));
        };
        insert(&mut tx, std::slice::from_ref(&new)).await?;
        tx.commit().await?;
        self.announce_queued();
        self.invocation(new_id).await
    }

    /// Queues a replay of each failed invocation of `webhook_id` created in `[since, until]`
    /// that had a request and was not replayed before, oldest first, at most `limit`.
    /// Answers how many were queued and whether more matched.
    /// How many invocations [`Store::replay_failed`] would queue again, without a limit.
    pub async fn count_replayable(
        &self,
        webhook_id: &WebhookId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<u64, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM invocations i WHERE {REPLAYABLE}")))
            .bind(webhook_id.as_str())
            .bind(since.map(Timestamp::as_millis))
            .bind(until.map(Timestamp::as_millis))
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or_default())
    }

    pub async fn replay_failed(
        &self,
        webhook_id: &WebhookId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        limit: u32,
        now: Timestamp,
        mut new_id: impl FnMut() -> InvocationId,
    ) -> Result<(u32, bool), StoreError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query_as::<_, ReplayRow>(AssertSqlSafe(format!(
            "SELECT {REPLAY_COLUMNS} FROM invocations i WHERE {REPLAYABLE} ORDER BY i.id LIMIT $4"
        )))
        .bind(webhook_id.as_str())
        .bind(since.map(Timestamp::as_millis))
        .bind(until.map(Timestamp::as_millis))
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        let more = rows.len() > limit as usize;
        let mut replays = Vec::with_capacity(rows.len());
        for row in rows.into_iter().take(limit as usize) {
            replays.extend(row.replay(new_id(), now)?);
        }
        for chunk in replays.chunks(RECORD_CHUNK) {
            insert(&mut tx, chunk).await?;
        }
        tx.commit().await?;
        if !replays.is_empty() {
            self.announce_queued();
        }
        Ok((u32::try_from(replays.len()).unwrap_or(u32::MAX), more))
    }
}

/// Failed invocations of webhook `$1` created between `$2` and `$3` (either may be null)
/// that were not replayed yet, and whose request can be sent again.
const REPLAYABLE: &str = "i.webhook_id = $1 AND i.status = 'failed' AND i.request <> 'null'
    AND (CAST($2 AS BIGINT) IS NULL OR i.created_at >= $2)
    AND (CAST($3 AS BIGINT) IS NULL OR i.created_at <= $3)
    AND NOT EXISTS (SELECT 1 FROM invocations r WHERE r.replay_of = i.id)";

/// A value for a placeholder of a query built from the filters given.
enum Bind {
    Text(String),
    Int(i64),
}

const REPLAY_COLUMNS: &str =
    "id, webhook_id, ticket_id, trigger_id, automation_id, event_type, request, max_retries, ordered, error_message";

/// A row of `invocations` ([`REPLAY_COLUMNS`]): what a replay repeats.
struct ReplayRow {
    id: String,
    webhook_id: String,
    ticket_id: Option<i64>,
    trigger_id: Option<i64>,
    automation_id: Option<i64>,
    event_type: Option<String>,
    request: String,
    max_retries: i64,
    ordered: i64,
    error_message: Option<String>,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for ReplayRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            webhook_id: row.try_get("webhook_id")?,
            ticket_id: row.try_get("ticket_id")?,
            trigger_id: row.try_get("trigger_id")?,
            automation_id: row.try_get("automation_id")?,
            event_type: row.try_get("event_type")?,
            request: row.try_get("request")?,
            max_retries: row.try_get("max_retries")?,
            ordered: row.try_get("ordered")?,
            error_message: row.try_get("error_message")?,
        })
    }
}

impl ReplayRow {
    /// A new invocation `new_id` repeating this one's request; none when it never had one.
    fn replay(self, new_id: InvocationId, now: Timestamp) -> Result<Option<NewInvocation>, StoreError> {
        let Some(request) = rows::json::<Option<PreparedRequest>>("invocations.request", &self.request)? else {
            return Ok(None);
        };
        Ok(Some(NewInvocation {
            id: new_id,
            webhook_id: WebhookId(self.webhook_id),
            ticket_id: self.ticket_id.map(TicketId),
            trigger_id: self.trigger_id.map(RuleId),
            automation_id: self.automation_id.map(RuleId),
            event_type: self.event_type,
            replay_of: Some(InvocationId(self.id)),
            request: Ok(request),
            max_retries: u8::try_from(self.max_retries).map_err(|e| StoreError::corrupt("max_retries", e))?,
            ordered: self.ordered == 1,
            created_at: now,
        }))
    }
}
