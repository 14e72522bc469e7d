//! Inbound webhooks as admins manage them: their URL, verification, actions and response,
//! and the log of their calls. Handling a call is `inbound_calls`.

use hookdesk_core::id::{CallId, InboundWebhookId};
use hookdesk_core::inbound::CallFilter;
use hookdesk_core::inbound::{
    InboundAction, InboundCall, InboundResponse, InboundWebhook, UrlToken, Verify, VerifyView, check_header_name,
};
use hookdesk_core::template::{TemplateMode, check_template_text};
use hookdesk_core::ticket::parse_text;
use hookdesk_core::{Invalid, Page};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::OrNotFound;
use super::pages::{limit, time};
use super::{Admin, App, AppError, ids, nullable};

/// Calls a minute an inbound webhook accepts when its creator names no limit.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 600;
const MAX_RATE_LIMIT_PER_MINUTE: u32 = 1_000_000;

/// An inbound webhook as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboundWebhookView {
    #[schema(value_type = String)]
    pub id: InboundWebhookId,
    pub name: String,
    pub enabled: bool,
    /// The full URL to call: `PUBLIC_URL/hooks/TOKEN`. Anyone with it can call the webhook:
    /// rotate it if it leaks.
    pub url: String,
    /// `{"type": "hmac_sha256", "header"}`; the secret is never shown.
    pub verify: Option<VerifyView>,
    /// A request header identifying a delivery (`X-GitHub-Delivery`, `webhook-id`,
    /// `Idempotency-Key`): a call repeating an accepted one's value gets the same answer and
    /// runs nothing.
    pub idempotency_header: Option<String>,
    /// `[{"type": "create_ticket"|"update_ticket"|"add_comment", ...}]`.
    #[schema(value_type = Vec<Object>)]
    pub actions: Value,
    /// `{"status", "headers", "body"}`, templates.
    #[schema(value_type = Object)]
    pub response: Value,
    /// Calls a minute this webhook accepts, per server process; null is no limit.
    pub rate_limit_per_minute: Option<u32>,
    /// How the actions and the response render: `lax` (an undefined variable is empty text)
    /// or `strict` (an undefined variable, or a filter on the wrong type, fails the call
    /// with a 422 and runs nothing).
    pub template_mode: TemplateMode,
    pub created_at: hookdesk_core::Timestamp,
    pub updated_at: hookdesk_core::Timestamp,
}

/// `POST /inbound_webhooks`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundBody {
    pub name: String,
    /// Default true.
    pub enabled: Option<bool>,
    /// `{"type": "hmac_sha256", "header": "X-Hub-Signature-256", "secret": "..."}` or null.
    #[schema(value_type = Option<Object>)]
    pub verify: Option<Verify>,
    /// Default null (no deduplication).
    pub idempotency_header: Option<String>,
    /// Default `[]`: a call then only answers.
    #[serde(default = "no_actions")]
    #[schema(value_type = Vec<Object>)]
    pub actions: Value,
    /// Default `{"status": 202, "body": "{\"ok\": true}"}`.
    #[schema(value_type = Option<Object>)]
    pub response: Option<Value>,
    /// Default 600; null for no limit.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>)]
    pub rate_limit_per_minute: Option<Option<u32>>,
    /// Default lax: an undefined variable renders empty. `strict`: an undefined variable, or a
    /// filter on the wrong type, fails the call (422) and runs nothing.
    #[schema(default = "lax")]
    pub template_mode: Option<TemplateMode>,
}

fn no_actions() -> Value {
    Value::Array(vec![])
}

/// `PATCH /inbound_webhooks/{id}`: absent fields keep their value; for nullable ones `null`
/// clears it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchInboundBody {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    /// Replaces the verification (secret included); null removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub verify: Option<Option<Verify>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub idempotency_header: Option<Option<String>>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub actions: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub response: Option<Value>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>)]
    pub rate_limit_per_minute: Option<Option<u32>>,
    pub template_mode: Option<TemplateMode>,
}

/// `GET /inbound_webhooks/{id}/calls`: which calls.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CallQuery {
    /// The status hookdesk answered, e.g. 401.
    status: Option<u16>,
    /// true: calls answered with 400 or more; false: the others.
    failed: Option<bool>,
    /// RFC 3339.
    since: Option<String>,
    /// RFC 3339.
    until: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

impl CallQuery {
    /// `limit` calls, older than the call `cursor` names when there is one.
    pub fn page(limit: u32, cursor: Option<String>) -> Self {
        Self { limit: Some(limit), cursor, ..Self::default() }
    }

    fn into_filter(self) -> Result<CallFilter, Invalid> {
        Ok(CallFilter {
            status: self.status,
            failed: self.failed,
            since: time("since", self.since)?,
            until: time("until", self.until)?,
            before_id: self.cursor.map(CallId),
            limit: limit(self.limit)?,
        })
    }
}

fn check_name(name: &str) -> Result<String, Invalid> {
    if name.trim().is_empty() {
        return Err(Invalid::new("name", "must not be empty"));
    }
    parse_text("name", name.trim(), 255)
}

fn check_rate(limit: Option<u32>) -> Result<Option<u32>, Invalid> {
    match limit {
        Some(n) if !(1..=MAX_RATE_LIMIT_PER_MINUTE).contains(&n) => Err(Invalid::new(
            "rate_limit_per_minute",
            format!("must be null (no limit) or 1 to {MAX_RATE_LIMIT_PER_MINUTE}"),
        )),
        other => Ok(other),
    }
}

fn check_idempotency_header(name: Option<String>) -> Result<Option<String>, Invalid> {
    name.map(|n| check_header_name("idempotency_header", &n).map(|()| n)).transpose()
}

pub(crate) fn new_token() -> Result<(UrlToken, String), AppError> {
    // 192 random bits: far beyond guessing, and the URL stays short.
    let token = ids::random_token(24)?;
    let hash = ids::token_hash(&token);
    Ok((UrlToken::new(token), hash))
}

impl App {
    /// A webhook as the API shows it, with the full URL to call.
    fn inbound_view(&self, webhook: InboundWebhook) -> InboundWebhookView {
        InboundWebhookView {
            url: format!("{}/hooks/{}", self.config.hooks_public_url, webhook.token.expose()),
            verify: webhook.verify.as_ref().map(Verify::public_view),
            idempotency_header: webhook.idempotency_header.clone(),
            actions: Value::Array(webhook.actions.iter().map(InboundAction::to_json).collect()),
            response: webhook.response.to_json(),
            id: webhook.id,
            name: webhook.name,
            enabled: webhook.enabled,
            rate_limit_per_minute: webhook.rate_limit_per_minute,
            template_mode: webhook.template_mode,
            created_at: webhook.created_at,
            updated_at: webhook.updated_at,
        }
    }

    /// Creates an inbound webhook: its URL carries 192 random bits.
    pub async fn create_inbound_webhook(
        &self,
        _caller: &Admin,
        body: InboundBody,
    ) -> Result<InboundWebhookView, AppError> {
        let (token, hash) = new_token()?;
        let webhook = self.build_inbound(body, InboundWebhookId(ids::new_id("hook")), token, self.clock.now())?;
        Ok(self.inbound_view(self.store.save_inbound_webhook(&webhook, &hash, true).await?))
    }

    /// An inbound webhook from `body`, each field and template checked, with `id`, `token`
    /// and made at `created_at`.
    pub(crate) fn build_inbound(
        &self,
        body: InboundBody,
        id: InboundWebhookId,
        token: UrlToken,
        created_at: hookdesk_core::Timestamp,
    ) -> Result<InboundWebhook, AppError> {
        if let Some(verify) = &body.verify {
            verify.validate()?;
        }
        let webhook = InboundWebhook {
            id,
            name: check_name(&body.name)?,
            enabled: body.enabled.unwrap_or(true),
            token,
            verify: body.verify,
            idempotency_header: check_idempotency_header(body.idempotency_header)?,
            actions: {
                check_template_text("actions", &[&body.actions, body.response.as_ref().unwrap_or(&Value::Null)])?;
                InboundAction::parse_all(&body.actions)?
            },
            response: InboundResponse::parse(&body.response.unwrap_or(Value::Null))?,
            rate_limit_per_minute: check_rate(
                body.rate_limit_per_minute.unwrap_or(Some(DEFAULT_RATE_LIMIT_PER_MINUTE)),
            )?,
            template_mode: body.template_mode.unwrap_or_default(),
            created_at,
            updated_at: created_at,
        };
        InboundAction::check_before_saving(&webhook.actions)?;
        self.check_inbound_templates(&webhook.actions, &webhook.response)?;
        Ok(webhook)
    }

    /// A request bin: an inbound webhook with no actions, which only records its calls
    /// (headers and bodies) for the admin to inspect.
    pub async fn create_request_bin(&self, caller: &Admin) -> Result<InboundWebhookView, AppError> {
        let name = format!("Request bin {}", self.clock.now());
        let body = InboundBody {
            name,
            enabled: Some(true),
            verify: None,
            idempotency_header: None,
            actions: no_actions(),
            response: None,
            rate_limit_per_minute: None,
            template_mode: None,
        };
        self.create_inbound_webhook(caller, body).await
    }

    /// Changes an inbound webhook; absent fields keep their value. The URL stays.
    pub async fn update_inbound_webhook(
        &self,
        _caller: &Admin,
        id: &InboundWebhookId,
        patch: PatchInboundBody,
    ) -> Result<InboundWebhookView, AppError> {
        let mut webhook = self.find_inbound_webhook(id).await?;
        if let Some(name) = &patch.name {
            webhook.name = check_name(name)?;
        }
        if let Some(enabled) = patch.enabled {
            webhook.enabled = enabled;
        }
        if let Some(verify) = patch.verify {
            if let Some(verify) = &verify {
                verify.validate()?;
            }
            webhook.verify = verify;
        }
        if let Some(header) = patch.idempotency_header {
            webhook.idempotency_header = check_idempotency_header(header)?;
        }
        if patch.actions.is_some() || patch.response.is_some() {
            let current_actions = Value::Array(webhook.actions.iter().map(InboundAction::to_json).collect());
            let current_response = webhook.response.to_json();
            check_template_text(
                "actions",
                &[
                    patch.actions.as_ref().unwrap_or(&current_actions),
                    patch.response.as_ref().unwrap_or(&current_response),
                ],
            )?;
        }
        if let Some(actions) = &patch.actions {
            webhook.actions = InboundAction::parse_all(actions)?;
            InboundAction::check_before_saving(&webhook.actions)?;
        }
        if let Some(response) = &patch.response {
            webhook.response = InboundResponse::parse(response)?;
        }
        if let Some(rate) = patch.rate_limit_per_minute {
            webhook.rate_limit_per_minute = check_rate(rate)?;
        }
        if let Some(mode) = patch.template_mode {
            webhook.template_mode = mode;
        }
        if patch.actions.is_some() || patch.response.is_some() {
            self.check_inbound_templates(&webhook.actions, &webhook.response)?;
        }
        webhook.updated_at = self.clock.now();
        let hash = ids::token_hash(webhook.token.expose());
        let saved = self.store.save_inbound_webhook(&webhook, &hash, false).await.or_not_found("inbound webhook")?;
        Ok(self.inbound_view(saved))
    }

    /// A new URL; the old one stops working at once.
    pub async fn rotate_inbound_webhook(
        &self,
        _caller: &Admin,
        id: &InboundWebhookId,
    ) -> Result<InboundWebhookView, AppError> {
        let mut webhook = self.find_inbound_webhook(id).await?;
        let (token, hash) = new_token()?;
        webhook.token = token;
        webhook.updated_at = self.clock.now();
        let saved = self.store.save_inbound_webhook(&webhook, &hash, false).await.or_not_found("inbound webhook")?;
        Ok(self.inbound_view(saved))
    }

    /// Every inbound webhook, by name.
    pub async fn inbound_webhooks(&self, _caller: &Admin) -> Result<Vec<InboundWebhookView>, AppError> {
        Ok(self.store.inbound_webhooks().await?.into_iter().map(|w| self.inbound_view(w)).collect())
    }

    pub async fn inbound_webhook(
        &self,
        _caller: &Admin,
        id: &InboundWebhookId,
    ) -> Result<InboundWebhookView, AppError> {
        Ok(self.inbound_view(self.find_inbound_webhook(id).await?))
    }

    async fn find_inbound_webhook(&self, id: &InboundWebhookId) -> Result<InboundWebhook, AppError> {
        self.store.inbound_webhook(id).await.or_not_found("inbound webhook")
    }

    /// Deletes an inbound webhook and its call log.
    pub async fn delete_inbound_webhook(&self, _caller: &Admin, id: &InboundWebhookId) -> Result<(), AppError> {
        self.store.delete_inbound_webhook(id).await.or_not_found("inbound webhook")
    }

    /// The calls of an inbound webhook, newest first.
    pub async fn inbound_calls(
        &self,
        _caller: &Admin,
        id: &InboundWebhookId,
        query: CallQuery,
    ) -> Result<Page<InboundCall>, AppError> {
        self.find_inbound_webhook(id).await?;
        Ok(self.store.inbound_calls(id, &query.into_filter()?).await?)
    }

    pub async fn inbound_call(
        &self,
        _caller: &Admin,
        webhook_id: &InboundWebhookId,
        call_id: &CallId,
    ) -> Result<InboundCall, AppError> {
        self.store.inbound_call(webhook_id, call_id).await.or_not_found("call")
    }
}
