//! Outbound webhooks: the admins' use cases, and their health as events.

use std::collections::HashMap;

use hookdesk_core::event::EventType;
use hookdesk_core::id::WebhookId;
use hookdesk_core::rules::RuleSet;
use hookdesk_core::template::TemplateMode;
use hookdesk_core::webhook::{
    Authentication, AuthenticationView, CustomHeaders, Endpoint, HttpMethod, Ordering, RequestFormat, SigningSecret,
    Subscriptions, Webhook, WebhookHealth, WebhookStatus,
};
use hookdesk_core::{Invalid, Page, Timestamp, ticket::parse_text};
use hookdesk_store::NewWebhook;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::error::OrNotFound;
use super::pages::SearchQuery;
use super::{Admin, App, AppError, Saved, ids, nullable};

/// A webhook as the API shows it: secrets are write-only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookView {
    #[schema(value_type = String)]
    pub id: WebhookId,
    pub name: String,
    pub description: String,
    pub endpoint: String,
    pub http_method: HttpMethod,
    pub request_format: RequestFormat,
    pub status: WebhookStatus,
    pub subscriptions: Vec<String>,
    pub authentication: AuthenticationView,
    #[schema(value_type = Object)]
    pub custom_headers: Map<String, Value>,
    pub max_retries: u8,
    pub ordering: Ordering,
    pub rate_limit_per_minute: Option<u32>,
    /// How the endpoint, headers and payloads render: `lax` (an undefined variable is empty
    /// text) or `strict` (an undefined variable, or a filter on the wrong type, fails the
    /// invocation with `template_error`).
    pub template_mode: TemplateMode,
    /// How deliveries are going: the circuit breaker and the failing mark.
    pub health: WebhookHealth,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl WebhookView {
    fn new(w: &Webhook, health: WebhookHealth) -> Self {
        Self {
            id: w.id.clone(),
            name: w.name.clone(),
            description: w.description.clone(),
            endpoint: w.endpoint.template().source().to_owned(),
            http_method: w.http_method,
            request_format: w.request_format,
            status: w.status,
            subscriptions: w.subscriptions.names(),
            authentication: w.authentication.public_view(),
            custom_headers: w.custom_headers.to_json(),
            max_retries: w.max_retries,
            ordering: w.ordering,
            rate_limit_per_minute: w.rate_limit_per_minute,
            template_mode: w.template_mode,
            health,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// `POST /webhooks`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookBody {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Absolute http(s) URL; may hold Liquid placeholders.
    pub endpoint: String,
    /// Default POST.
    pub http_method: Option<HttpMethod>,
    /// Default json.
    pub request_format: Option<RequestFormat>,
    /// Default active.
    pub status: Option<WebhookStatus>,
    /// Default `["conditional_ticket_events"]` (notified by triggers and automations); or a
    /// list of event types (`ticket.created`, `ticket.status_changed`, ...) to receive their
    /// CloudEvents. Never both.
    pub subscriptions: Option<Vec<String>>,
    /// Default `{"type": "none"}`.
    pub authentication: Option<Authentication>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom_headers: Map<String, Value>,
    /// 0 to 10, default 3.
    pub max_retries: Option<u8>,
    /// Default none.
    pub ordering: Option<Ordering>,
    /// Default null: no limit.
    pub rate_limit_per_minute: Option<u32>,
    /// Default lax: an undefined variable renders empty. `strict`: an undefined variable, or a
    /// filter on the wrong type, fails the invocation (`template_error`).
    #[schema(default = "lax")]
    pub template_mode: Option<TemplateMode>,
}

/// `PATCH /webhooks/{id}`: absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchWebhookBody {
    pub name: Option<String>,
    pub description: Option<String>,
    pub endpoint: Option<String>,
    pub http_method: Option<HttpMethod>,
    pub request_format: Option<RequestFormat>,
    pub status: Option<WebhookStatus>,
    pub subscriptions: Option<Vec<String>>,
    pub authentication: Option<Authentication>,
    #[schema(value_type = Option<Object>)]
    pub custom_headers: Option<Map<String, Value>>,
    pub max_retries: Option<u8>,
    pub ordering: Option<Ordering>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>)]
    pub rate_limit_per_minute: Option<Option<u32>>,
    pub template_mode: Option<TemplateMode>,
}

/// A million a minute is beyond what one process sends; a higher limit is no limit.
const MAX_RATE_LIMIT_PER_MINUTE: u32 = 1_000_000;

fn check_name(name: &str) -> Result<String, Invalid> {
    if name.trim().is_empty() {
        return Err(Invalid::new("name", "must not be empty"));
    }
    parse_text("name", name.trim(), 255)
}

/// Limits that span fields of a webhook.
fn check_supported(webhook: &Webhook) -> Result<(), Invalid> {
    if let Some(limit) = webhook.rate_limit_per_minute
        && !(1..=MAX_RATE_LIMIT_PER_MINUTE).contains(&limit)
    {
        return Err(Invalid::new(
            "rate_limit_per_minute",
            format!("must be null (no limit) or 1 to {MAX_RATE_LIMIT_PER_MINUTE}"),
        ));
    }
    if webhook.max_retries > Webhook::MAX_RETRIES_LIMIT {
        return Err(Invalid::new("max_retries", format!("must be 0 to {}", Webhook::MAX_RETRIES_LIMIT)));
    }
    Ok(())
}

/// `webhook` with `patch`'s fields, each checked.
fn patched(mut webhook: Webhook, patch: PatchWebhookBody) -> Result<Webhook, Invalid> {
    if let Some(names) = &patch.subscriptions {
        let subscriptions = Subscriptions::parse(names)?;
        if subscriptions.is_conditional() != webhook.subscriptions.is_conditional() {
            return Err(Invalid::new(
                "subscriptions",
                "the connection method of a webhook (conditional_ticket_events or event types) cannot change",
            ));
        }
        webhook.subscriptions = subscriptions;
    }
    if let Some(name) = patch.name {
        webhook.name = check_name(&name)?;
    }
    if let Some(description) = patch.description {
        webhook.description = parse_text("description", &description, 4096)?;
    }
    if let Some(endpoint) = patch.endpoint {
        webhook.endpoint = Endpoint::parse(&endpoint)?;
    }
    if let Some(method) = patch.http_method {
        webhook.http_method = method;
    }
    if let Some(format) = patch.request_format {
        webhook.request_format = format;
    }
    if let Some(status) = patch.status {
        webhook.status = status;
    }
    if let Some(auth) = patch.authentication {
        auth.validate()?;
        webhook.authentication = auth;
    }
    if let Some(headers) = patch.custom_headers {
        webhook.custom_headers = CustomHeaders::parse(&headers)?;
    }
    if let Some(retries) = patch.max_retries {
        webhook.max_retries = retries;
    }
    if let Some(ordering) = patch.ordering {
        webhook.ordering = ordering;
    }
    if let Some(rate) = patch.rate_limit_per_minute {
        webhook.rate_limit_per_minute = rate;
    }
    if let Some(mode) = patch.template_mode {
        webhook.template_mode = mode;
    }
    Ok(webhook)
}

/// A new webhook from `body`, each field checked, with `id` and made at `created_at`.
pub(crate) fn new_webhook(body: CreateWebhookBody, id: WebhookId, created_at: Timestamp) -> Result<Webhook, AppError> {
    let authentication = body.authentication.unwrap_or(Authentication::None);
    authentication.validate()?;
    let webhook = Webhook {
        id,
        name: check_name(&body.name)?,
        description: parse_text("description", &body.description, 4096)?,
        endpoint: Endpoint::parse(&body.endpoint)?,
        http_method: body.http_method.unwrap_or(HttpMethod::Post),
        request_format: body.request_format.unwrap_or(RequestFormat::Json),
        status: body.status.unwrap_or(WebhookStatus::Active),
        subscriptions: match &body.subscriptions {
            Some(names) => Subscriptions::parse(names)?,
            None => Subscriptions::Conditional,
        },
        authentication,
        custom_headers: CustomHeaders::parse(&body.custom_headers)?,
        max_retries: body.max_retries.unwrap_or(Webhook::DEFAULT_MAX_RETRIES),
        ordering: body.ordering.unwrap_or(Ordering::None),
        rate_limit_per_minute: body.rate_limit_per_minute,
        template_mode: body.template_mode.unwrap_or_default(),
        created_at,
        updated_at: created_at,
    };
    check_supported(&webhook)?;
    Ok(webhook)
}

impl App {
    /// Creates a webhook; the warnings say what saving could not settle (an endpoint the
    /// SSRF guard refuses, a variable the sample ticket lacks).
    pub async fn create_webhook(
        &self,
        _caller: &Admin,
        body: CreateWebhookBody,
    ) -> Result<Saved<WebhookView>, AppError> {
        let webhook = new_webhook(body, WebhookId(ids::new_id("wh")), Timestamp::now())?;
        let warnings = self.check_webhook_templates(&webhook).await?;
        let secret = SigningSecret::from_bytes(random(24)?);
        self.store.create_webhook(NewWebhook { webhook: &webhook, secret: &secret }).await?;
        Ok(Saved::new(WebhookView::new(&webhook, WebhookHealth::default()), warnings))
    }

    /// Webhooks, with their health.
    pub async fn webhooks(&self, _caller: &Admin, query: SearchQuery) -> Result<Page<WebhookView>, AppError> {
        let after = query.cursor.clone().map(WebhookId);
        let text = query.text()?;
        let _turn = self.search_turn(text).await?;
        let page = self.store.list_webhooks(after.as_ref(), query.page().limit()?, text).await?;
        let views = self.views(&page.data).await?;
        Ok(Page { data: views, next_cursor: page.next_cursor })
    }

    /// The names of the webhooks among `ids` that exist.
    pub async fn webhook_names(
        &self,
        _caller: &Admin,
        ids: &[&WebhookId],
    ) -> Result<HashMap<WebhookId, String>, AppError> {
        Ok(self.store.webhook_names(ids).await?)
    }

    /// Every webhook's id and name, to choose from: at most `limit`, and whether there are more.
    pub async fn webhook_choices(
        &self,
        _caller: &Admin,
        limit: u32,
    ) -> Result<(Vec<(WebhookId, String)>, bool), AppError> {
        Ok(self.store.all_webhook_names(limit).await?)
    }

    pub async fn webhook(&self, _caller: &Admin, id: &WebhookId) -> Result<WebhookView, AppError> {
        let webhook = self.find_webhook(id).await?;
        Ok(self.views(std::slice::from_ref(&webhook)).await?.remove(0))
    }

    /// Views of `webhooks` with their health.
    async fn views(&self, webhooks: &[Webhook]) -> Result<Vec<WebhookView>, AppError> {
        let ids: Vec<&WebhookId> = webhooks.iter().map(|w| &w.id).collect();
        let mut health = self.store.webhook_health(&ids).await?;
        Ok(webhooks.iter().map(|w| WebhookView::new(w, health.remove(&w.id).unwrap_or_default())).collect())
    }

    /// Changes a webhook. The connection method (`subscriptions`) cannot change.
    pub async fn update_webhook(
        &self,
        _caller: &Admin,
        id: &WebhookId,
        patch: PatchWebhookBody,
    ) -> Result<Saved<WebhookView>, AppError> {
        let current = self.find_webhook(id).await?;
        // Only changed templates are rendered against the sample (see `RuleInput`).
        let templates_changed = patch.endpoint.is_some() || patch.custom_headers.is_some();
        let mut webhook = patched(current, patch)?;
        check_supported(&webhook)?;
        let warnings = if templates_changed { self.check_webhook_templates(&webhook).await? } else { Vec::new() };
        webhook.updated_at = Timestamp::now();
        self.store.update_webhook(&webhook).await.or_not_found("webhook")?;
        let view = self.views(std::slice::from_ref(&webhook)).await?.remove(0);
        Ok(Saved::new(view, warnings))
    }

    /// Deleting a webhook that rules still notify is refused: the rules would fail.
    pub async fn delete_webhook(&self, _caller: &Admin, id: &WebhookId) -> Result<(), AppError> {
        for set in [RuleSet::Triggers, RuleSet::Automations] {
            let users: Vec<i64> = self.store.rules_using_webhook(set, id).await?.iter().map(|r| r.0).collect();
            if !users.is_empty() {
                return Err(AppError::Conflict(format!(
                    "webhook {id} is used by {} {users:?}; remove it from them first",
                    set.name()
                )));
            }
        }
        self.store.delete_webhook(id, Timestamp::now()).await.or_not_found("webhook")
    }

    /// The rules whose `notify_webhook` names webhook `id`: `(set, id, title)`.
    pub async fn rules_notifying(
        &self,
        caller: &Admin,
        id: &WebhookId,
    ) -> Result<Vec<(RuleSet, hookdesk_core::id::RuleId, String)>, AppError> {
        let mut found = Vec::new();
        for set in [RuleSet::Triggers, RuleSet::Automations] {
            for rule_id in self.store.rules_using_webhook(set, id).await? {
                let title = self.rule(&caller.as_agent(), set, rule_id).await.map_or(String::new(), |r| r.rule.title);
                found.push((set, rule_id, title));
            }
        }
        Ok(found)
    }

    pub(crate) async fn find_webhook(&self, id: &WebhookId) -> Result<Webhook, AppError> {
        self.store.webhook(id).await.or_not_found("webhook")
    }

    /// The current signing secret (`whsec_...`).
    pub async fn signing_secret(&self, _caller: &Admin, id: &WebhookId) -> Result<SigningSecret, AppError> {
        Ok(self.store.signing_secrets(id, Timestamp::now()).await.or_not_found("webhook")?.current)
    }

    /// Replaces the signing secret; the old one keeps signing (a second signature) for a grace time.
    pub async fn rotate_signing_secret(&self, _caller: &Admin, id: &WebhookId) -> Result<SigningSecret, AppError> {
        let secret = SigningSecret::from_bytes(random(24)?);
        self.store
            .rotate_signing_secret(id, &secret, Timestamp::now(), self.config.secret_grace_ms)
            .await
            .or_not_found("webhook")?;
        Ok(secret)
    }

    /// Queues `webhook.failing` or `webhook.recovered` (as `health.failing` says) for the
    /// webhooks subscribed to it.
    pub(crate) async fn webhook_health_event(&self, id: &WebhookId, health: &WebhookHealth) -> Result<(), AppError> {
        let webhook = self.find_webhook(id).await?;
        let event = if health.failing { EventType::WebhookFailing } else { EventType::WebhookRecovered };
        tracing::warn!(webhook.id = %id, event = event.as_str(), "webhook health changed");
        let current = serde_json::json!({"id": webhook.id, "name": webhook.name,
            "endpoint": webhook.endpoint.template().source(), "health": health});
        self.queue_event(event, &format!("webhooks/{id}"), current, &Value::Null, Timestamp::now()).await
    }
}

fn random(bytes: usize) -> Result<Vec<u8>, AppError> {
    Ok(ids::random_bytes(bytes)?)
}
