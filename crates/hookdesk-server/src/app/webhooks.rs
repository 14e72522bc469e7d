//! Webhooks, triggers and invocations: the admin's use cases.

use hookdesk_core::event::EventType;
use hookdesk_core::webhook::{
    Authentication, CustomHeaders, Endpoint, HttpMethod, Ordering, RequestFormat, SigningSecret, Subscriptions,
    Webhook, WebhookHealth, WebhookStatus,
};
use hookdesk_core::{Invalid, Timestamp, ticket::parse_text};
use hookdesk_store::{Invocation, NewWebhook, RuleSet};
use serde_json::{Map, Value};

use super::error::OrNotFound;
use super::{App, AppError, Checked, ids};

/// `POST /webhooks`, typed.
#[derive(Debug, Clone)]
pub struct WebhookInput {
    pub name: String,
    pub description: String,
    pub endpoint: String,
    pub http_method: HttpMethod,
    pub request_format: RequestFormat,
    pub status: WebhookStatus,
    pub subscriptions: Option<Vec<String>>,
    pub authentication: Authentication,
    pub custom_headers: Map<String, Value>,
    pub max_retries: u8,
    pub ordering: Ordering,
    pub rate_limit_per_minute: Option<u32>,
}

/// `PATCH /webhooks/{id}`: `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub endpoint: Option<String>,
    pub http_method: Option<HttpMethod>,
    pub request_format: Option<RequestFormat>,
    pub status: Option<WebhookStatus>,
    pub subscriptions: Option<Vec<String>>,
    pub authentication: Option<Authentication>,
    pub custom_headers: Option<Map<String, Value>>,
    pub max_retries: Option<u8>,
    pub ordering: Option<Ordering>,
    pub rate_limit_per_minute: Option<Option<u32>>,
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

impl App {
    /// Creates a webhook; the warnings say what saving could not settle (an endpoint the
    /// SSRF guard refuses, a variable the sample ticket lacks).
    pub async fn create_webhook(&self, input: WebhookInput) -> Result<Checked<(Webhook, SigningSecret)>, AppError> {
        input.authentication.validate()?;
        let now = Timestamp::now();
        let webhook = Webhook {
            id: ids::new_id("wh"),
            name: check_name(&input.name)?,
            description: parse_text("description", &input.description, 4096)?,
            endpoint: Endpoint::parse(&input.endpoint)?,
            http_method: input.http_method,
            request_format: input.request_format,
            status: input.status,
            subscriptions: match &input.subscriptions {
                Some(names) => Subscriptions::parse(names)?,
                None => Subscriptions::Conditional,
            },
            authentication: input.authentication,
            custom_headers: CustomHeaders::parse(&input.custom_headers)?,
            max_retries: input.max_retries,
            ordering: input.ordering,
            rate_limit_per_minute: input.rate_limit_per_minute,
            created_at: now,
            updated_at: now,
        };
        check_supported(&webhook)?;
        let warnings = self.check_webhook_templates(&webhook).await?;
        let secret = SigningSecret::from_bytes(random(24)?);
        self.store.create_webhook(NewWebhook { webhook: &webhook, secret: &secret }).await?;
        Ok(Checked { value: (webhook, secret), warnings })
    }

    pub async fn update_webhook(&self, id: &str, patch: WebhookPatch) -> Result<Checked<Webhook>, AppError> {
        let mut webhook = self.webhook(id).await?;
        // Only changed templates are rendered against the sample (see `RuleInput`).
        let templates_changed = patch.endpoint.is_some() || patch.custom_headers.is_some();
        if let Some(names) = &patch.subscriptions {
            let subscriptions = Subscriptions::parse(names)?;
            if subscriptions.is_conditional() != webhook.subscriptions.is_conditional() {
                return Err(Invalid::new(
                    "subscriptions",
                    "the connection method of a webhook (conditional_ticket_events or event types) cannot change",
                )
                .into());
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
        check_supported(&webhook)?;
        let warnings = if templates_changed { self.check_webhook_templates(&webhook).await? } else { Vec::new() };
        webhook.updated_at = Timestamp::now();
        self.store.update_webhook(&webhook).await.or_not_found("webhook")?;
        Ok(Checked { value: webhook, warnings })
    }

    /// Deleting a webhook that rules still notify is refused: the rules would fail.
    pub async fn delete_webhook(&self, id: &str) -> Result<(), AppError> {
        for set in [RuleSet::Triggers, RuleSet::Automations] {
            let users = self.store.rules_using_webhook(set, id).await?;
            if !users.is_empty() {
                return Err(AppError::Conflict(format!(
                    "webhook {id} is used by {} {users:?}; remove it from them first",
                    set.name()
                )));
            }
        }
        self.store.delete_webhook(id, Timestamp::now()).await.or_not_found("webhook")
    }

    pub async fn webhook(&self, id: &str) -> Result<Webhook, AppError> {
        self.store.webhook(id).await.or_not_found("webhook")
    }

    pub async fn invocation(&self, id: &str) -> Result<Invocation, AppError> {
        self.store.invocation(id).await.or_not_found("invocation")
    }

    pub async fn signing_secret(&self, id: &str) -> Result<SigningSecret, AppError> {
        Ok(self.store.signing_secrets(id, Timestamp::now()).await.or_not_found("webhook")?.current)
    }

    pub async fn rotate_signing_secret(&self, id: &str) -> Result<SigningSecret, AppError> {
        let secret = SigningSecret::from_bytes(random(24)?);
        self.store
            .rotate_signing_secret(id, &secret, Timestamp::now(), self.config.secret_grace_ms)
            .await
            .or_not_found("webhook")?;
        Ok(secret)
    }

    /// Queues `webhook.failing` or `webhook.recovered` (as `health.failing` says) for the
    /// webhooks subscribed to it.
    pub async fn webhook_health_event(&self, id: &str, health: &WebhookHealth) -> Result<(), AppError> {
        let webhook = self.webhook(id).await?;
        let event = if health.failing { EventType::WebhookFailing } else { EventType::WebhookRecovered };
        tracing::warn!(webhook.id = %id, event = event.as_str(), "webhook health changed");
        let current = serde_json::json!({"id": webhook.id, "name": webhook.name,
            "endpoint": webhook.endpoint.template().source(), "health": health});
        self.queue_event(event, &format!("webhooks/{id}"), current, &Value::Null, Timestamp::now()).await
    }

    /// Queues a replay of each failed invocation of webhook `id` created in the range.
    pub async fn replay_failed(
        &self,
        id: &str,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        limit: u32,
    ) -> Result<(u32, bool), AppError> {
        self.webhook(id).await?;
        let at = Timestamp::now();
        let replayed =
            self.store.replay_failed(id, since, until.or(Some(at)), limit, at, || ids::new_id("inv")).await?;
        if replayed.0 > 0 {
            self.delivery.wake();
        }
        Ok(replayed)
    }

    pub async fn replay_invocation(&self, id: &str) -> Result<Invocation, AppError> {
        let replay =
            self.store.replay_invocation(id, &ids::new_id("inv"), Timestamp::now()).await.or_not_found("invocation")?;
        self.delivery.wake();
        Ok(replay)
    }
}

fn random(bytes: usize) -> Result<Vec<u8>, AppError> {
    Ok(ids::random_bytes(bytes)?)
}
