//! Webhooks and their signing secrets. Authentication and secrets are sealed by the cipher.

use std::collections::HashMap;

use hookdesk_core::Timestamp;
use hookdesk_core::id::WebhookId;
use hookdesk_core::template::TemplateMode;
use hookdesk_core::webhook::{
    CustomHeaders, Endpoint, HttpMethod, Ordering, RequestFormat, SigningSecret, Subscriptions, Webhook, WebhookStatus,
};
use sqlx::{AssertSqlSafe, Row};

use crate::cipher::Cipher;
use crate::db::{Conn, placeholders};
use crate::{Page, Store, StoreError, rows};

const WEBHOOK_COLUMNS: &str = "id, name, description, endpoint, http_method, request_format, status, subscriptions,
    authentication, custom_headers, max_retries, ordering, rate_limit_per_minute, created_at, updated_at, template_mode";

/// A webhook to create, with its first signing secret.
pub struct NewWebhook<'a> {
    pub webhook: &'a Webhook,
    pub secret: &'a SigningSecret,
}

/// The secrets that sign a webhook's requests now: the current one, and rotated-out ones
/// still in their grace period.
#[derive(Debug, Clone)]
pub struct WebhookSecrets {
    pub current: SigningSecret,
    pub previous: Vec<SigningSecret>,
}

impl WebhookSecrets {
    pub fn all(&self) -> Vec<&SigningSecret> {
        std::iter::once(&self.current).chain(&self.previous).collect()
    }
}

fn auth_place(id: &WebhookId) -> String {
    format!("webhook:{id}:authentication")
}

fn secret_place(id: &WebhookId) -> String {
    format!("webhook:{id}:signing_secret")
}

/// A row of `webhooks` ([`WEBHOOK_COLUMNS`]), as stored: its authentication still sealed.
struct WebhookRow {
    id: String,
    name: String,
    description: String,
    endpoint: String,
    http_method: String,
    request_format: String,
    status: String,
    subscriptions: String,
    authentication: Vec<u8>,
    custom_headers: String,
    max_retries: i64,
    ordering: String,
    rate_limit_per_minute: Option<i64>,
    created_at: i64,
    updated_at: i64,
    template_mode: String,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for WebhookRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            endpoint: row.try_get("endpoint")?,
            http_method: row.try_get("http_method")?,
            request_format: row.try_get("request_format")?,
            status: row.try_get("status")?,
            subscriptions: row.try_get("subscriptions")?,
            authentication: row.try_get("authentication")?,
            custom_headers: row.try_get("custom_headers")?,
            max_retries: row.try_get("max_retries")?,
            ordering: row.try_get("ordering")?,
            rate_limit_per_minute: row.try_get("rate_limit_per_minute")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            template_mode: row.try_get("template_mode")?,
        })
    }
}

impl WebhookRow {
    /// The webhook, its authentication opened by `cipher`.
    fn open(self, cipher: &Cipher) -> Result<Webhook, StoreError> {
        let id = WebhookId(self.id);
        let auth = cipher.open(&auth_place(&id), &self.authentication)?;
        let headers: serde_json::Map<String, serde_json::Value> =
            rows::json("webhooks.custom_headers", &self.custom_headers)?;
        Ok(Webhook {
            name: self.name,
            description: self.description,
            endpoint: Endpoint::parse(&self.endpoint).map_err(|e| StoreError::corrupt("webhooks.endpoint", e))?,
            http_method: rows::serde_name::<HttpMethod>("webhooks.http_method", &self.http_method)?,
            request_format: rows::serde_name::<RequestFormat>("webhooks.request_format", &self.request_format)?,
            status: rows::serde_name::<WebhookStatus>("webhooks.status", &self.status)?,
            subscriptions: Subscriptions::parse(&rows::json::<Vec<String>>(
                "webhooks.subscriptions",
                &self.subscriptions,
            )?)
            .map_err(|e| StoreError::corrupt("webhooks.subscriptions", e))?,
            authentication: serde_json::from_slice(&auth)
                .map_err(|e| StoreError::corrupt("webhooks.authentication", e))?,
            custom_headers: CustomHeaders::parse(&headers)
                .map_err(|e| StoreError::corrupt("webhooks.custom_headers", e))?,
            max_retries: u8::try_from(self.max_retries).map_err(|e| StoreError::corrupt("webhooks.max_retries", e))?,
            ordering: rows::serde_name::<Ordering>("webhooks.ordering", &self.ordering)?,
            rate_limit_per_minute: self
                .rate_limit_per_minute
                .map(u32::try_from)
                .transpose()
                .map_err(|e| StoreError::corrupt("webhooks.rate_limit_per_minute", e))?,
            template_mode: rows::serde_name::<TemplateMode>("webhooks.template_mode", &self.template_mode)?,
            created_at: Timestamp::from_millis(self.created_at),
            updated_at: Timestamp::from_millis(self.updated_at),
            id,
        })
    }
}

/// Opens each of `rows` with `cipher`.
fn open_all(rows: Vec<WebhookRow>, cipher: &Cipher) -> Result<Vec<Webhook>, StoreError> {
    rows.into_iter().map(|r| r.open(cipher)).collect()
}

pub(crate) async fn load_many(
    conn: &mut Conn,
    cipher: &Cipher,
    ids: &[&WebhookId],
) -> Result<Vec<Webhook>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id IN ({})", placeholders(1, ids.len()));
    let mut query = sqlx::query_as(AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(id.as_str());
    }
    open_all(query.fetch_all(&mut *conn).await?, cipher)
}

pub(crate) async fn load_event_webhooks(conn: &mut Conn, cipher: &Cipher) -> Result<Vec<Webhook>, StoreError> {
    let sql =
        format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE status = 'active' AND subscriptions <> $1 ORDER BY id");
    let rows = sqlx::query_as(AssertSqlSafe(sql))
        .bind(serde_json::Value::from(Subscriptions::Conditional.names()).to_string())
        .fetch_all(&mut *conn)
        .await?;
    open_all(rows, cipher)
}

/// The columns a create and an update both write, bound in the order of `$1..$16`.
fn bind_webhook<'q>(query: crate::db::Query<'q>, webhook: &'q Webhook, sealed_auth: Vec<u8>) -> crate::db::Query<'q> {
    query
        .bind(webhook.id.as_str())
        .bind(&webhook.name)
        .bind(&webhook.description)
        .bind(webhook.endpoint.template().source())
        .bind(webhook.http_method.as_str())
        .bind(rows::serde_text(&webhook.request_format))
        .bind(rows::serde_text(&webhook.status))
        .bind(serde_json::Value::from(webhook.subscriptions.names()).to_string())
        .bind(sealed_auth)
        .bind(serde_json::Value::Object(webhook.custom_headers.to_json()).to_string())
        .bind(i64::from(webhook.max_retries))
        .bind(rows::serde_text(&webhook.ordering))
        .bind(webhook.rate_limit_per_minute.map(i64::from))
        .bind(webhook.created_at.as_millis())
        .bind(webhook.updated_at.as_millis())
        .bind(webhook.template_mode.as_str())
}

/// Writes a new webhook and its first signing secret, in the caller's transaction.
pub(crate) async fn insert_webhook(conn: &mut Conn, cipher: &Cipher, new: NewWebhook<'_>) -> Result<(), StoreError> {
    let webhook = new.webhook;
    let auth = serde_json::to_vec(&webhook.authentication).map_err(|e| StoreError::corrupt("authentication", e))?;
    let sealed_auth = cipher.seal(&auth_place(&webhook.id), &auth)?;
    let sealed_secret = cipher.seal(&secret_place(&webhook.id), new.secret.expose().as_bytes())?;
    let insert = sqlx::query(
        "INSERT INTO webhooks (id, name, description, endpoint, http_method, request_format, status, subscriptions,
             authentication, custom_headers, max_retries, ordering, rate_limit_per_minute, created_at, updated_at,
             template_mode)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    );
    bind_webhook(insert, webhook, sealed_auth).execute(&mut *conn).await?;
    sqlx::query("INSERT INTO webhook_secrets (webhook_id, secret, created_at) VALUES ($1, $2, $3)")
        .bind(webhook.id.as_str())
        .bind(sealed_secret)
        .bind(webhook.created_at.as_millis())
        .execute(&mut *conn)
        .await?;
    crate::triggers::bump_rules_version(conn).await
}

/// Writes `webhook` over the one with its id, in the caller's transaction.
pub(crate) async fn update_webhook(conn: &mut Conn, cipher: &Cipher, webhook: &Webhook) -> Result<(), StoreError> {
    let auth = serde_json::to_vec(&webhook.authentication).map_err(|e| StoreError::corrupt("authentication", e))?;
    let sealed_auth = cipher.seal(&auth_place(&webhook.id), &auth)?;
    let update = sqlx::query(
        "UPDATE webhooks SET name = $2, description = $3, endpoint = $4, http_method = $5, request_format = $6,
             status = $7, subscriptions = $8, authentication = $9, custom_headers = $10, max_retries = $11,
             ordering = $12, rate_limit_per_minute = $13, created_at = $14, updated_at = $15, template_mode = $16
         WHERE id = $1",
    );
    let done = bind_webhook(update, webhook, sealed_auth).execute(&mut *conn).await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    crate::triggers::bump_rules_version(conn).await
}

/// Deletes a webhook in the caller's transaction; the invocations still waiting for it fail
/// with `webhook_deleted`. One whose request is on its way (claimed, its attempt not recorded
/// yet) is left to its answer: the attempt's record settles it as for any other, and a retry
/// it asks for fails as an orphan at its next claim. The invocations are written before the
/// webhook's row, in the order the recorder locks them (invocations, then the webhook's
/// health row, which the delete cascades to): the opposite order deadlocked with it on
/// PostgreSQL.
pub(crate) async fn delete_webhook(conn: &mut Conn, id: &WebhookId, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE invocations SET status = 'failed', next_attempt_at = NULL, completed_at = $2,
             error_code = 'webhook_deleted', error_message = 'the webhook was deleted before this invocation was delivered'
         WHERE webhook_id = $1 AND status IN ('pending', 'retrying')
           AND (attempts = 0 OR EXISTS (SELECT 1 FROM attempts a
                                        WHERE a.invocation_id = invocations.id AND a.number = invocations.attempts))",
    )
    .bind(id.as_str())
    .bind(now.as_millis())
    .execute(&mut *conn)
    .await?;
    let done = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id.as_str()).execute(&mut *conn).await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    crate::triggers::bump_rules_version(conn).await
}

impl Store {
    pub async fn create_webhook(&self, new: NewWebhook<'_>) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_webhook(&mut tx, &self.cipher, new).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn update_webhook(&self, webhook: &Webhook) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        update_webhook(&mut tx, &self.cipher, webhook).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn webhook(&self, id: &WebhookId) -> Result<Webhook, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_many(&mut conn, &self.cipher, &[id]).await?.pop().ok_or(StoreError::NotFound)
    }

    pub async fn webhooks(&self, ids: &[&WebhookId]) -> Result<Vec<Webhook>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_many(&mut conn, &self.cipher, ids).await
    }

    /// The names of the webhooks among `ids` (the ones that still exist); nothing is
    /// unsealed.
    pub async fn webhook_names(&self, ids: &[&WebhookId]) -> Result<HashMap<WebhookId, String>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!("SELECT id, name FROM webhooks WHERE id IN ({})", placeholders(1, ids.len()));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id.as_str());
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((WebhookId(r.try_get("id")?), r.try_get("name")?)))
            .collect()
    }

    /// Every webhook's id and name, at most `limit` of them (by id), and whether there are more.
    pub async fn all_webhook_names(&self, limit: u32) -> Result<(Vec<(WebhookId, String)>, bool), StoreError> {
        let mut names: Vec<(WebhookId, String)> = sqlx::query("SELECT id, name FROM webhooks ORDER BY id LIMIT $1")
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((WebhookId(r.try_get("id")?), r.try_get("name")?)))
            .collect::<Result<_, StoreError>>()?;
        let more = names.len() > limit as usize;
        names.truncate(limit as usize);
        Ok((names, more))
    }

    /// Every webhook's id, name and subscriptions, at most `limit` of them (by name): what an
    /// editor offers to pick from. Nothing is unsealed.
    pub async fn webhook_choices(&self, limit: u32) -> Result<Vec<(WebhookId, String, Subscriptions)>, StoreError> {
        sqlx::query("SELECT id, name, subscriptions FROM webhooks ORDER BY name, id LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let names: String = r.try_get("subscriptions")?;
                let subscriptions = Subscriptions::parse(&rows::json::<Vec<String>>("webhooks.subscriptions", &names)?)
                    .map_err(|e| StoreError::corrupt("webhooks.subscriptions", e))?;
                Ok((WebhookId(r.try_get("id")?), r.try_get("name")?, subscriptions))
            })
            .collect()
    }

    /// Webhooks by id after `after_id`; with `text`, those whose name or endpoint holds it.
    pub async fn list_webhooks(
        &self,
        after_id: Option<&WebhookId>,
        limit: u32,
        text: Option<&str>,
    ) -> Result<Page<Webhook>, StoreError> {
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id > $1
               AND (CAST($3 AS TEXT) IS NULL OR LOWER(name) LIKE $3 ESCAPE '\\' OR LOWER(endpoint) LIKE $3 ESCAPE '\\')
             ORDER BY id LIMIT $2"
        );
        let rows = sqlx::query_as(AssertSqlSafe(sql))
            .bind(after_id.map_or("", WebhookId::as_str))
            .bind(i64::from(limit) + 1)
            .bind(text.map(crate::db::contains_pattern))
            .fetch_all(&self.pool)
            .await?;
        let data = open_all(rows, &self.cipher)?;
        Ok(Page::of(data, limit, |w| w.id.to_string()))
    }

    /// Deletes a webhook. Invocations still queued for it fail with `webhook_deleted`; the
    /// execution log keeps them.
    pub async fn delete_webhook(&self, id: &WebhookId, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        delete_webhook(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The secrets that sign now (current first), or `NotFound`.
    pub async fn signing_secrets(&self, id: &WebhookId, now: Timestamp) -> Result<WebhookSecrets, StoreError> {
        let rows = sqlx::query(
            "SELECT secret FROM webhook_secrets WHERE webhook_id = $1 AND (expires_at IS NULL OR expires_at > $2)
             ORDER BY (expires_at IS NULL) DESC, id DESC",
        )
        .bind(id.as_str())
        .bind(now.as_millis())
        .fetch_all(&self.pool)
        .await?;
        let mut secrets = rows.iter().map(|row| {
            let sealed: Vec<u8> = row.try_get("secret")?;
            let text = self.cipher.open(&secret_place(id), &sealed)?;
            std::str::from_utf8(&text)
                .ok()
                .and_then(SigningSecret::parse)
                .ok_or_else(|| StoreError::Corrupt(format!("signing secret of {id}")))
        });
        let current = secrets.next().ok_or(StoreError::NotFound)??;
        let previous = secrets.collect::<Result<Vec<_>, _>>()?;
        Ok(WebhookSecrets { current, previous })
    }

    /// Makes `secret` the current one; the old current one keeps signing for `grace_ms`.
    pub async fn rotate_signing_secret(
        &self,
        id: &WebhookId,
        secret: &SigningSecret,
        now: Timestamp,
        grace_ms: i64,
    ) -> Result<(), StoreError> {
        let sealed = self.cipher.seal(&secret_place(id), secret.expose().as_bytes())?;
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("UPDATE webhook_secrets SET expires_at = $2 WHERE webhook_id = $1 AND expires_at IS NULL")
                .bind(id.as_str())
                .bind(now.plus_millis(grace_ms).as_millis())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM webhook_secrets WHERE webhook_id = $1 AND expires_at <= $2")
            .bind(id.as_str())
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO webhook_secrets (webhook_id, secret, created_at) VALUES ($1, $2, $3)")
            .bind(id.as_str())
            .bind(sealed)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
        // The delivery workers cache secrets: they sign with the new one from their next claim.
        crate::triggers::bump_rules_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
