//! `POST /webhooks/{id}/test`: render a webhook's request against a ticket and send it once,
//! now, showing the admin exactly what went out and what came back.

use hookdesk_core::Timestamp;
use hookdesk_core::id::{TicketId, WebhookId};
use hookdesk_core::invocation::{AttemptOutcome, LoggedRequest, LoggedResponse};
use hookdesk_core::request::{finalize, prepare};
use hookdesk_core::rules::action::{RequestTemplates, request_templates};
use hookdesk_core::template::Rendering;
use hookdesk_core::webhook::CustomHeaders;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::checks::sample_ticket;
use super::error::OrNotFound;
use super::{Admin, Agent, App, AppError, ids};
use hookdesk_core::request::OutgoingRequest;
use hookdesk_core::rules::{Action, RuleKind};
use hookdesk_core::template::{Context, Template};
use hookdesk_core::ticket::Ticket;
use hookdesk_core::webhook::Webhook;

/// `POST /webhooks/{id}/test`: each part replaces the webhook's own for this one request.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    /// A Liquid payload instead of the standard ticket document.
    #[schema(value_type = Option<String>)]
    pub payload: Option<Value>,
    /// Headers (Liquid values) added to the webhook's custom headers, replacing same-named ones.
    #[schema(value_type = Option<Object>)]
    pub headers: Option<Map<String, Value>>,
    /// Query parameters (Liquid values).
    #[schema(value_type = Option<Object>)]
    pub params: Option<Value>,
    /// The ticket to render with; a sample ticket when absent.
    #[schema(value_type = Option<i64>)]
    pub ticket_id: Option<TicketId>,
}

/// What the test sent (secrets redacted), and the receiver's answer or why there was none.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    pub request: LoggedRequest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<LoggedResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<AttemptOutcome>,
    pub duration_ms: i64,
    /// Variables the templates asked for that did not exist (`ticket.subjct`): each
    /// rendered empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_variables: Vec<String>,
}

impl App {
    /// Sends one request now, synchronously, rendered against a ticket or a sample one.
    pub async fn test_webhook(&self, caller: &Admin, id: &WebhookId, input: TestBody) -> Result<TestResult, AppError> {
        let actor = caller.user();
        let headers = input.headers.unwrap_or_default();
        let mut webhook = self.find_webhook(id).await?;
        let RequestTemplates { payload, params } =
            request_templates(input.payload.as_ref(), input.params.as_ref(), "")?;
        if !headers.is_empty() {
            let mut merged: Map<String, Value> = webhook
                .custom_headers
                .iter()
                .filter(|(name, _)| !headers.keys().any(|k| k.eq_ignore_ascii_case(name.as_str())))
                .map(|(name, template)| (name.as_str().to_owned(), template.source().into()))
                .collect();
            merged.extend(headers);
            webhook.custom_headers = CustomHeaders::parse(&merged).map_err(|mut e| {
                e.field = e.field.replacen("custom_headers", "headers", 1);
                e
            })?;
        }
        let ticket = match input.ticket_id {
            Some(ticket_id) => self.store.ticket(ticket_id).await.or_not_found("ticket")?,
            None => sample_ticket(actor.id, Timestamp::now()),
        };

        let context = self
            .template_context(&ticket, Some(actor))
            .with("webhook", &serde_json::json!({"id": webhook.id, "name": webhook.name}));
        let mut rendering = Rendering::noting_unknown();
        let request =
            self.render_request(&webhook, payload.as_ref(), &params, &context, &ticket, &mut rendering).await?;
        let outcome = self.sender.send(&request).await;
        // A response is the answer, whatever its status; an error only when none came back.
        let error = if outcome.response.is_some() { None } else { outcome.error() };
        Ok(TestResult {
            request: request.logged(&webhook.authentication),
            response: outcome.response,
            error,
            duration_ms: i64::try_from(outcome.duration.as_millis()).unwrap_or(i64::MAX),
            unknown_variables: rendering.into_unknown(),
        })
    }

    /// The request `webhook` would send now for `ticket`, signed as it would be.
    async fn render_request(
        &self,
        webhook: &Webhook,
        payload: Option<&Template>,
        params: &[(String, Template)],
        context: &Context,
        ticket: &Ticket,
        rendering: &mut Rendering,
    ) -> Result<OutgoingRequest, AppError> {
        let document = serde_json::to_value(ticket).unwrap_or(Value::Null);
        // In the webhook's mode, as its invocations render; what is undefined is listed in
        // either mode, and named with the failure in strict mode.
        let prepared = rendering
            .in_mode(webhook.template_mode, |rendering| {
                prepare(webhook, payload, params, context, rendering, &document)
            })
            .map_err(|e| AppError::Unprocessable {
                code: e.code,
                message: e.message,
                unknown_variables: rendering.unknown().to_vec(),
            })?;
        let at = Timestamp::now();
        let secrets = self.store.signing_secrets(&webhook.id, at).await?;
        Ok(finalize(
            &prepared,
            &webhook.authentication,
            &secrets.all(),
            &ids::new_id("test"),
            at.as_secs(),
            &self.config.user_agent,
        ))
    }

    /// What a rule's `notify_webhook` action (`notify`, its value) would send for a ticket, or
    /// the sample: rendered as the rule `title` of `kind` renders it, nothing sent.
    pub async fn preview_notification(
        &self,
        caller: &Agent,
        kind: RuleKind,
        title: &str,
        notify: &Value,
        ticket_id: Option<TicketId>,
    ) -> Result<NotificationPreview, AppError> {
        let actor = caller.user();
        let Action::NotifyWebhook(notify) =
            Action::parse(&serde_json::json!({"field": "notify_webhook", "value": notify}))?
        else {
            return Err(AppError::Internal("notify_webhook parsed as another action".into()));
        };
        let webhook = self.find_webhook(&notify.webhook_id).await?;
        let ticket = match ticket_id {
            Some(ticket_id) => self.store.ticket(ticket_id).await.or_not_found("ticket")?,
            None => sample_ticket(actor.id, Timestamp::now()),
        };
        let rule = serde_json::json!({"id": 0, "title": title});
        let user = (kind != RuleKind::Automation).then_some(actor);
        let context = self
            .template_context(&ticket, user)
            .with("trigger", &rule)
            .with(kind.as_str(), &rule)
            .with("webhook", &serde_json::json!({"id": webhook.id, "name": webhook.name}));
        let mut rendering = Rendering::noting_unknown();
        let rendered = self
            .render_request(&webhook, notify.payload.as_ref(), &notify.params, &context, &ticket, &mut rendering)
            .await;
        let (request, error) = match rendered {
            Ok(request) => (Some(request.logged(&webhook.authentication)), None),
            Err(AppError::Unprocessable { message, .. }) => (None, Some(message)),
            Err(other) => return Err(other),
        };
        Ok(NotificationPreview { request, error, unknown_variables: rendering.into_unknown() })
    }
}

/// What a notification would send, or why it could not be rendered, and the variables its
/// templates asked for that do not exist.
#[derive(Debug, Clone)]
pub struct NotificationPreview {
    pub request: Option<LoggedRequest>,
    pub error: Option<String>,
    pub unknown_variables: Vec<String>,
}
