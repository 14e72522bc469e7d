//! `POST /webhooks/{id}/test`: render a webhook's request against a ticket and send it once,
//! now, showing the admin exactly what went out and what came back.

use hookdesk_core::Timestamp;
use hookdesk_core::request::{finalize, prepare};
use hookdesk_core::rules::action::{RequestTemplates, request_templates};
use hookdesk_core::template::Rendering;
use hookdesk_core::user::User;
use hookdesk_core::webhook::CustomHeaders;
use hookdesk_store::{AttemptOutcome, LoggedRequest, LoggedResponse};
use serde::Serialize;
use serde_json::{Map, Value};

use super::checks::sample_ticket;
use super::error::OrNotFound;
use super::{App, AppError, ids};

/// The body of a test send: templates that replace the webhook's for this one request.
#[derive(Debug, Clone, Default)]
pub struct TestSend {
    /// `payload` and `params`, as a trigger's `notify_webhook` gives them.
    pub payload: Option<Value>,
    pub params: Option<Value>,
    /// Headers added to (or replacing) the webhook's custom headers.
    pub headers: Map<String, Value>,
    pub ticket_id: Option<i64>,
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
    pub async fn test_webhook(&self, actor: &User, id: &str, input: TestSend) -> Result<TestResult, AppError> {
        let mut webhook = self.webhook(id).await?;
        let RequestTemplates { payload, params } =
            request_templates(input.payload.as_ref(), input.params.as_ref(), "")?;
        if !input.headers.is_empty() {
            let mut merged: Map<String, Value> = webhook
                .custom_headers
                .iter()
                .filter(|(name, _)| !input.headers.keys().any(|k| k.eq_ignore_ascii_case(name.as_str())))
                .map(|(name, template)| (name.as_str().to_owned(), template.source().into()))
                .collect();
            merged.extend(input.headers);
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
        let document = serde_json::to_value(&ticket).unwrap_or(Value::Null);
        let mut rendering = Rendering::noting_unknown();
        let prepared = prepare(&webhook, payload.as_ref(), &params, &context, &mut rendering, &document)
            .map_err(|e| AppError::Unprocessable { code: e.code, message: e.message })?;
        let at = Timestamp::now();
        let secrets = self.store.signing_secrets(&webhook.id, at).await?;
        let request = finalize(
            &prepared,
            &webhook.authentication,
            &secrets.all(),
            &ids::new_id("test"),
            at.as_secs(),
            &self.config.user_agent,
        );
        let outcome = self.sender.send(&request).await;
        // A response is the answer, whatever its status; an error only when none came back.
        let error = if outcome.response.is_some() { None } else { outcome.error };
        Ok(TestResult {
            request: request.logged(&webhook.authentication),
            response: outcome.response,
            error,
            duration_ms: i64::try_from(outcome.duration.as_millis()).unwrap_or(i64::MAX),
            unknown_variables: rendering.into_unknown(),
        })
    }
}
