//! Inbound webhooks and the log of their calls. The URL token and the verification secret
//! are sealed by the cipher; a call finds its webhook by the token's hash.

use hookdesk_core::Timestamp;
use hookdesk_core::id::{CallId, InboundWebhookId};
use hookdesk_core::inbound::{
    ActionRun, CallError, CallFilter, InboundAction, InboundCall, InboundResponse, InboundWebhook, UrlToken, Verify,
};
use hookdesk_core::template::TemplateMode;
use hookdesk_core::text::storable;
use sqlx::{AssertSqlSafe, Row};

use crate::cipher::Cipher;
use crate::db::Conn;
use crate::{Page, Store, StoreError, UpdateTx, rows};

const COLUMNS: &str = "SELECT id, name, enabled, token, verify, idempotency_header, actions, response,
    rate_limit_per_minute, created_at, updated_at, template_mode FROM inbound_webhooks";

const CALL_COLUMNS: &str = "SELECT id, inbound_webhook_id, created_at, method, path, query, headers, body, body_bytes,
    client_ip, status, response_body, actions, error, idempotency_key, replay_of, duration_ms FROM inbound_calls";

fn token_place(id: &InboundWebhookId) -> String {
    format!("inbound_webhook:{id}:token")
}

fn verify_place(id: &InboundWebhookId) -> String {
    format!("inbound_webhook:{id}:verify")
}

/// A row of `inbound_webhooks` ([`COLUMNS`]), as stored: its token and verification sealed.
struct InboundWebhookRow {
    id: String,
    name: String,
    enabled: i64,
    token: Vec<u8>,
    verify: Option<Vec<u8>>,
    idempotency_header: Option<String>,
    actions: String,
    response: String,
    rate_limit_per_minute: Option<i64>,
    created_at: i64,
    updated_at: i64,
    template_mode: String,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for InboundWebhookRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            enabled: row.try_get("enabled")?,
            token: row.try_get("token")?,
            verify: row.try_get("verify")?,
            idempotency_header: row.try_get("idempotency_header")?,
            actions: row.try_get("actions")?,
            response: row.try_get("response")?,
            rate_limit_per_minute: row.try_get("rate_limit_per_minute")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            template_mode: row.try_get("template_mode")?,
        })
    }
}

impl InboundWebhookRow {
    /// The webhook, its token and verification opened by `cipher`.
    fn open(self, cipher: &Cipher) -> Result<InboundWebhook, StoreError> {
        let id = InboundWebhookId(self.id);
        let token = cipher.open(&token_place(&id), &self.token)?;
        let token = String::from_utf8(token).map_err(|e| StoreError::corrupt("inbound_webhooks.token", e))?;
        let verify = self
            .verify
            .map(|sealed| {
                let plain = cipher.open(&verify_place(&id), &sealed)?;
                serde_json::from_slice::<Verify>(&plain).map_err(|e| StoreError::corrupt("inbound_webhooks.verify", e))
            })
            .transpose()?;
        let actions: serde_json::Value = rows::json("inbound_webhooks.actions", &self.actions)?;
        let response: serde_json::Value = rows::json("inbound_webhooks.response", &self.response)?;
        Ok(InboundWebhook {
            name: self.name,
            enabled: self.enabled != 0,
            token: UrlToken::new(token),
            verify,
            idempotency_header: self.idempotency_header,
            actions: InboundAction::parse_all(&actions)
                .map_err(|e| StoreError::corrupt("inbound_webhooks.actions", e))?,
            response: InboundResponse::load(&response)
                .map_err(|e| StoreError::corrupt("inbound_webhooks.response", e))?,
            rate_limit_per_minute: self
                .rate_limit_per_minute
                .map(u32::try_from)
                .transpose()
                .map_err(|e| StoreError::corrupt("inbound_webhooks.rate_limit_per_minute", e))?,
            template_mode: rows::serde_name::<TemplateMode>("inbound_webhooks.template_mode", &self.template_mode)?,
            created_at: Timestamp::from_millis(self.created_at),
            updated_at: Timestamp::from_millis(self.updated_at),
            id,
        })
    }
}

/// A row of `inbound_calls` ([`CALL_COLUMNS`]), as stored.
struct CallRow {
    id: String,
    inbound_webhook_id: String,
    created_at: i64,
    method: String,
    path: String,
    query: String,
    headers: String,
    body: String,
    body_bytes: i64,
    client_ip: Option<String>,
    status: i64,
    response_body: String,
    actions: String,
    error: Option<String>,
    idempotency_key: Option<String>,
    replay_of: Option<String>,
    duration_ms: i64,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for CallRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            inbound_webhook_id: row.try_get("inbound_webhook_id")?,
            created_at: row.try_get("created_at")?,
            method: row.try_get("method")?,
            path: row.try_get("path")?,
            query: row.try_get("query")?,
            headers: row.try_get("headers")?,
            body: row.try_get("body")?,
            body_bytes: row.try_get("body_bytes")?,
            client_ip: row.try_get("client_ip")?,
            status: row.try_get("status")?,
            response_body: row.try_get("response_body")?,
            actions: row.try_get("actions")?,
            error: row.try_get("error")?,
            idempotency_key: row.try_get("idempotency_key")?,
            replay_of: row.try_get("replay_of")?,
            duration_ms: row.try_get("duration_ms")?,
        })
    }
}

impl TryFrom<CallRow> for InboundCall {
    type Error = StoreError;

    fn try_from(row: CallRow) -> Result<Self, StoreError> {
        Ok(InboundCall {
            id: CallId(row.id),
            inbound_webhook_id: InboundWebhookId(row.inbound_webhook_id),
            created_at: Timestamp::from_millis(row.created_at),
            method: row.method,
            path: row.path,
            query: row.query,
            headers: rows::json("inbound_calls.headers", &row.headers)?,
            body: row.body,
            body_bytes: row.body_bytes,
            client_ip: row.client_ip,
            status: u16::try_from(row.status).map_err(|e| StoreError::corrupt("inbound_calls.status", e))?,
            response_body: row.response_body,
            actions: rows::json::<Vec<ActionRun>>("inbound_calls.actions", &row.actions)?,
            error: row.error.map(|e| rows::json::<CallError>("inbound_calls.error", &e)).transpose()?,
            idempotency_key: row.idempotency_key,
            replay_of: row.replay_of.map(CallId),
            duration_ms: row.duration_ms,
        })
    }
}

/// Logs `call`; answers the bytes it takes (as the budget counts them).
async fn insert_call<'c>(
    executor: impl sqlx::Executor<'c, Database = crate::db::Db>,
    call: &InboundCall,
) -> Result<u64, StoreError> {
    let (method, path, query) = (storable(&call.method), storable(&call.path), storable(&call.query));
    let headers = serde_json::Value::Object(call.headers.clone()).to_string();
    let (body, response_body) = (storable(&call.body), storable(&call.response_body));
    let actions = serde_json::to_string(&call.actions).unwrap_or_else(|_| "[]".into());
    let error = call.error.as_ref().and_then(|e| serde_json::to_string(e).ok());
    // What the row takes, give or take its fixed columns (counted as 256 bytes).
    let stored_bytes =
        [path.len(), query.len(), headers.len(), body.len(), response_body.len(), actions.len()].iter().sum::<usize>()
            + error.as_ref().map_or(0, String::len)
            + 256;
    sqlx::query(
        "INSERT INTO inbound_calls (id, inbound_webhook_id, created_at, method, path, query, headers, body,
             body_bytes, client_ip, status, response_body, actions, error, duration_ms, idempotency_key, replay_of,
             stored_bytes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(call.id.as_str())
    .bind(call.inbound_webhook_id.as_str())
    .bind(call.created_at.as_millis())
    .bind(method.as_ref())
    .bind(path.as_ref())
    .bind(query.as_ref())
    .bind(headers)
    .bind(body.as_ref())
    .bind(call.body_bytes)
    .bind(&call.client_ip)
    .bind(i64::from(call.status))
    .bind(response_body.as_ref())
    .bind(actions)
    .bind(error)
    .bind(call.duration_ms)
    .bind(&call.idempotency_key)
    .bind(call.replay_of.as_ref().map(CallId::as_str))
    .bind(i64::try_from(stored_bytes).unwrap_or(i64::MAX))
    .execute(executor)
    .await?;
    Ok(stored_bytes as u64)
}

/// Writes `webhook` (new, or over the one with its id) with the hash of its token, in the
/// caller's transaction.
pub(crate) async fn save_inbound_webhook(
    conn: &mut Conn,
    cipher: &Cipher,
    webhook: &InboundWebhook,
    token_hash: &str,
    create: bool,
) -> Result<(), StoreError> {
    let sealed_token = cipher.seal(&token_place(&webhook.id), webhook.token.expose().as_bytes())?;
    let sealed_verify = webhook
        .verify
        .as_ref()
        .map(|v| {
            let plain = serde_json::to_vec(v).map_err(|e| StoreError::corrupt("verify", e))?;
            cipher.seal(&verify_place(&webhook.id), &plain)
        })
        .transpose()?;
    let actions = serde_json::Value::Array(webhook.actions.iter().map(InboundAction::to_json).collect());
    let sql = if create {
        "INSERT INTO inbound_webhooks (id, name, enabled, token_hash, token, verify, actions, response,
             rate_limit_per_minute, created_at, updated_at, idempotency_header, template_mode)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    } else {
        "UPDATE inbound_webhooks SET name = $2, enabled = $3, token_hash = $4, token = $5, verify = $6,
             actions = $7, response = $8, rate_limit_per_minute = $9, created_at = $10, updated_at = $11,
             idempotency_header = $12, template_mode = $13
         WHERE id = $1"
    };
    let done = sqlx::query(sql)
        .bind(webhook.id.as_str())
        .bind(&webhook.name)
        .bind(i64::from(webhook.enabled))
        .bind(token_hash)
        .bind(sealed_token)
        .bind(sealed_verify)
        .bind(actions.to_string())
        .bind(webhook.response.to_json().to_string())
        .bind(webhook.rate_limit_per_minute.map(i64::from))
        .bind(webhook.created_at.as_millis())
        .bind(webhook.updated_at.as_millis())
        .bind(&webhook.idempotency_header)
        .bind(webhook.template_mode.as_str())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Deletes inbound webhook `id` (and its call log) in the caller's transaction.
pub(crate) async fn delete_inbound_webhook(conn: &mut Conn, id: &InboundWebhookId) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM inbound_webhooks WHERE id = $1").bind(id.as_str()).execute(&mut *conn).await?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

impl Store {
    /// Writes `webhook` (new, or over the one with its id) with the hash of its token.
    pub async fn save_inbound_webhook(
        &self,
        webhook: &InboundWebhook,
        token_hash: &str,
        create: bool,
    ) -> Result<InboundWebhook, StoreError> {
        let mut tx = self.begin_write().await?;
        save_inbound_webhook(&mut tx, &self.cipher, webhook, token_hash, create).await?;
        tx.commit().await?;
        self.inbound_webhook(&webhook.id).await
    }

    pub async fn inbound_webhooks(&self) -> Result<Vec<InboundWebhook>, StoreError> {
        let rows = sqlx::query_as::<_, InboundWebhookRow>(AssertSqlSafe(format!("{COLUMNS} ORDER BY name, id")))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(|r| r.open(&self.cipher)).collect()
    }

    pub async fn inbound_webhook(&self, id: &InboundWebhookId) -> Result<InboundWebhook, StoreError> {
        let row = sqlx::query_as::<_, InboundWebhookRow>(AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        row.open(&self.cipher)
    }

    /// The webhook whose token hashes to `token_hash`.
    pub async fn inbound_webhook_by_token(&self, token_hash: &str) -> Result<Option<InboundWebhook>, StoreError> {
        let row = sqlx::query_as::<_, InboundWebhookRow>(AssertSqlSafe(format!("{COLUMNS} WHERE token_hash = $1")))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.open(&self.cipher)).transpose()
    }

    pub async fn delete_inbound_webhook(&self, id: &InboundWebhookId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        delete_inbound_webhook(&mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Logs a call on its own; answers the bytes it takes.
    pub async fn record_inbound_call(&self, call: &InboundCall) -> Result<u64, StoreError> {
        insert_call(&self.writer, call).await
    }

    pub async fn inbound_calls(
        &self,
        webhook_id: &InboundWebhookId,
        filter: &CallFilter,
    ) -> Result<Page<InboundCall>, StoreError> {
        let sql = format!(
            "{CALL_COLUMNS}
             WHERE inbound_webhook_id = $1
               AND (CAST($2 AS TEXT) IS NULL OR id < $2)
               AND (CAST($3 AS BIGINT) IS NULL OR status = $3)
               AND (CAST($4 AS BIGINT) IS NULL OR (status >= 400) = ($4 = 1))
               AND (CAST($5 AS BIGINT) IS NULL OR created_at >= $5)
               AND (CAST($6 AS BIGINT) IS NULL OR created_at <= $6)
             ORDER BY id DESC LIMIT $7"
        );
        let rows = sqlx::query_as::<_, CallRow>(AssertSqlSafe(sql))
            .bind(webhook_id.as_str())
            .bind(filter.before_id.as_ref().map(CallId::as_str))
            .bind(filter.status.map(i64::from))
            .bind(filter.failed.map(i64::from))
            .bind(filter.since.map(Timestamp::as_millis))
            .bind(filter.until.map(Timestamp::as_millis))
            .bind(i64::from(filter.limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let data = rows.into_iter().map(InboundCall::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::of(data, filter.limit, |c| c.id.to_string()))
    }

    pub async fn inbound_call(
        &self,
        webhook_id: &InboundWebhookId,
        call_id: &CallId,
    ) -> Result<InboundCall, StoreError> {
        let row = sqlx::query_as::<_, CallRow>(AssertSqlSafe(format!(
            "{CALL_COLUMNS} WHERE inbound_webhook_id = $1 AND id = $2"
        )))
        .bind(webhook_id.as_str())
        .bind(call_id.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        InboundCall::try_from(row)
    }

    /// The first accepted (status under 400) call to `webhook_id` with `key`, if any.
    pub async fn inbound_call_by_key(
        &self,
        webhook_id: &InboundWebhookId,
        key: &str,
    ) -> Result<Option<InboundCall>, StoreError> {
        let row = sqlx::query_as::<_, CallRow>(AssertSqlSafe(format!(
            "{CALL_COLUMNS} WHERE inbound_webhook_id = $1 AND idempotency_key = $2 AND status < 400 AND replay_of IS NULL
             ORDER BY id LIMIT 1"
        )))
        .bind(webhook_id.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(InboundCall::try_from).transpose()
    }

    /// Deletes the oldest calls of `webhook_id` that the newest ones leave no room for within
    /// `budget` bytes; returns how many.
    pub async fn trim_inbound_calls(&self, webhook_id: &InboundWebhookId, budget: u64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM inbound_calls WHERE inbound_webhook_id = $1 AND id <= (
                 SELECT MAX(id) FROM (
                     SELECT id, SUM(stored_bytes) OVER (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS newer
                     FROM inbound_calls WHERE inbound_webhook_id = $1) sized
                 WHERE newer > $2)",
        )
        .bind(webhook_id.as_str())
        .bind(i64::try_from(budget).unwrap_or(i64::MAX))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// The inbound webhooks whose call logs hold more than `budget` bytes.
    pub async fn inbound_webhooks_over_budget(&self, budget: u64) -> Result<Vec<InboundWebhookId>, StoreError> {
        let rows = sqlx::query(
            "SELECT inbound_webhook_id FROM inbound_calls GROUP BY inbound_webhook_id HAVING SUM(stored_bytes) > $1",
        )
        .bind(i64::try_from(budget).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(InboundWebhookId(row.try_get("inbound_webhook_id")?))).collect()
    }

    /// Deletes at most `limit` calls (and idempotency keys) logged before `before`; returns
    /// how many calls.
    pub async fn purge_inbound_calls(&self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let calls = self.delete_oldest("inbound_calls", "created_at", before, limit).await?;
        sqlx::query(
            "DELETE FROM inbound_keys WHERE (inbound_webhook_id, idempotency_key) IN
                 (SELECT inbound_webhook_id, idempotency_key FROM inbound_keys WHERE created_at < $1
                  ORDER BY created_at LIMIT $2)",
        )
        .bind(before.as_millis())
        .bind(i64::from(limit))
        .execute(&self.writer)
        .await?;
        Ok(calls)
    }
}

impl UpdateTx {
    /// Logs a call in the transaction of its actions.
    /// Logs a call in the transaction of its actions; answers the bytes it takes.
    pub async fn record_inbound_call(&mut self, call: &InboundCall) -> Result<u64, StoreError> {
        insert_call(&mut *self.conn(), call).await
    }

    /// Claims `key` for the call `call_id` of `webhook_id` in this update's transaction; a
    /// conflict when another call holds it (committed, or committing now).
    pub async fn claim_inbound_key(
        &mut self,
        webhook_id: &InboundWebhookId,
        key: &str,
        call_id: &CallId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO inbound_keys (inbound_webhook_id, idempotency_key, call_id, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (inbound_webhook_id, idempotency_key) DO NOTHING",
        )
        .bind(webhook_id.as_str())
        .bind(key)
        .bind(call_id.as_str())
        .bind(now.as_millis())
        .execute(&mut *self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "a call with the idempotency key {key:?} ran already or is running now; retry to get its answer"
            )));
        }
        Ok(())
    }
}
