//! From a fired notification to the bytes of an HTTP request.
//!
//! [`prepare`] runs when the trigger fires: it renders the URL, headers and body and checks
//! them, so an invocation is stored ready to send. [`finalize`] runs at each attempt: it adds
//! authentication, the Standard Webhooks headers and the signature.

mod body;
mod sign;

use serde::{Deserialize, Serialize};

use crate::template::{Context, Rendering, Template};
use crate::webhook::{Authentication, HttpMethod, RequestFormat, SigningSecret, Webhook};

pub use sign::{sign, signature_header, verify as verify_signature};

/// The rendered request body limit (the contract's 256 KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A request rendered at fire time, stored with its invocation. No secrets in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedRequest {
    pub method: HttpMethod,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// Why an invocation fails before any request is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PrepareError {
    pub code: &'static str,
    pub message: String,
}

impl From<crate::template::RenderError> for PrepareError {
    fn from(error: crate::template::RenderError) -> Self {
        Self::new(error.code(), error.message())
    }
}

impl PrepareError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// Renders a webhook's request. `payload` is the notification's template, or `None` for the
/// standard ticket document `document`.
pub fn prepare(
    webhook: &Webhook,
    payload: Option<&Template>,
    params: &[(String, Template)],
    context: &Context,
    rendering: &mut Rendering,
    document: &serde_json::Value,
) -> Result<PreparedRequest, PrepareError> {
    let mut render = |t: &Template| rendering.render(t, context).map_err(PrepareError::from);

    let rendered_url = render(webhook.endpoint.template())?;
    let mut url = webhook.endpoint.check_rendered(&rendered_url).map_err(|m| PrepareError::new("invalid_url", m))?;
    if !params.is_empty() {
        let mut query = url.query_pairs_mut();
        for (name, template) in params {
            query.append_pair(name, &render(template)?);
        }
    }

    let content_type = match webhook.request_format {
        RequestFormat::Json => "application/json",
        RequestFormat::Xml => "application/xml",
        RequestFormat::Form => "application/x-www-form-urlencoded",
    };
    let body = if webhook.http_method.has_body() {
        let payload = payload.map(render).transpose()?;
        let body = body::encode(webhook.request_format, payload, document)?;
        if body.len() > MAX_BODY_BYTES {
            return Err(PrepareError::new(
                "payload_too_large",
                format!("the rendered body is {} bytes; the limit is {MAX_BODY_BYTES}", body.len()),
            ));
        }
        Some(body)
    } else {
        None
    };

    let mut headers = Vec::new();
    if body.is_some() {
        headers.push(("content-type".to_owned(), content_type.to_owned()));
    }
    headers.extend(render_headers(webhook, context, rendering)?);
    Ok(PreparedRequest { method: webhook.http_method, url: url.into(), headers, body })
}

/// Renders an event subscription's request: always a POST of the CloudEvents document, with
/// the webhook's URL and custom headers rendered as for a notification.
pub fn prepare_event(
    webhook: &Webhook,
    context: &Context,
    rendering: &mut Rendering,
    event: &serde_json::Value,
) -> Result<PreparedRequest, PrepareError> {
    let rendered_url = rendering.render(webhook.endpoint.template(), context).map_err(PrepareError::from)?;
    let url = webhook.endpoint.check_rendered(&rendered_url).map_err(|m| PrepareError::new("invalid_url", m))?;
    let body = event.to_string();
    if body.len() > MAX_BODY_BYTES {
        return Err(PrepareError::new(
            "payload_too_large",
            format!("the event document is {} bytes; the limit is {MAX_BODY_BYTES}", body.len()),
        ));
    }
    let mut headers = vec![("content-type".to_owned(), crate::event::CloudEvent::CONTENT_TYPE.to_owned())];
    headers.extend(render_headers(webhook, context, rendering)?);
    Ok(PreparedRequest { method: HttpMethod::Post, url: url.into(), headers, body: Some(body) })
}

/// The webhook's custom headers, rendered; one that renders empty is left out.
fn render_headers(
    webhook: &Webhook,
    context: &Context,
    rendering: &mut Rendering,
) -> Result<Vec<(String, String)>, PrepareError> {
    let mut headers = Vec::new();
    for (name, template) in webhook.custom_headers.iter() {
        let value = rendering.render(template, context).map_err(PrepareError::from)?;
        let value = value.trim();
        // Deskpro's rule: a header whose value renders empty is not sent at all.
        if value.is_empty() {
            continue;
        }
        if value.len() > 1000 || !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(PrepareError::new(
                "invalid_header",
                format!(
                    "header {} rendered to a value that is not printable ASCII of at most 1000 characters",
                    name.as_str()
                ),
            ));
        }
        headers.push((name.as_str().to_owned(), value.to_owned()));
    }
    Ok(headers)
}

/// A request ready for the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    pub method: HttpMethod,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

pub const REDACTED: &str = "[redacted]";

impl OutgoingRequest {
    /// The request as the execution log keeps it: secrets redacted, body cut.
    pub fn logged(&self, auth: &Authentication) -> crate::invocation::LoggedRequest {
        crate::invocation::LoggedRequest {
            method: self.method.as_str().to_owned(),
            url: self.url.clone(),
            headers: self.redacted_headers(auth).into_iter().map(|(n, v)| (n, v.into())).collect(),
            body: self.body.as_deref().map(|b| crate::text::cut(b, crate::text::LOGGED_BODY_BYTES).to_owned()),
        }
    }

    /// The headers as they may be logged: authentication, signatures and anything named like
    /// a credential (`X-Api-Key`, a custom `X-Auth-Token`) replaced by [`REDACTED`].
    pub fn redacted_headers(&self, auth: &Authentication) -> Vec<(String, String)> {
        let secret_header = match auth {
            Authentication::ApiKey { header, .. } => Some(header.as_str()),
            _ => None,
        };
        self.headers
            .iter()
            .map(|(name, value)| {
                let secret =
                    crate::text::is_secret_header(name) || secret_header.is_some_and(|h| h.eq_ignore_ascii_case(name));
                (name.clone(), if secret { REDACTED.to_owned() } else { value.clone() })
            })
            .collect()
    }
}

/// Adds authentication, `user-agent` and the Standard Webhooks headers to a prepared
/// request. `secrets` all sign (two during a rotation's grace period).
pub fn finalize(
    prepared: &PreparedRequest,
    auth: &Authentication,
    secrets: &[&SigningSecret],
    message_id: &str,
    timestamp_secs: i64,
    user_agent: &str,
) -> OutgoingRequest {
    use base64::Engine as _;
    let mut headers: Vec<(String, String)> = prepared
        .headers
        .iter()
        .filter(|(name, _)| {
            // Configured authentication wins over a custom header of the same name.
            !(matches!(auth, Authentication::Basic { .. } | Authentication::Bearer { .. })
                && name.eq_ignore_ascii_case("authorization"))
        })
        .cloned()
        .collect();
    match auth {
        Authentication::None => {}
        Authentication::Basic { username, password } => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            headers.push(("authorization".into(), format!("Basic {encoded}")));
        }
        Authentication::Bearer { token } => headers.push(("authorization".into(), format!("Bearer {token}"))),
        Authentication::ApiKey { header, value } => {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(header));
            headers.push((header.clone(), value.clone()));
        }
    }
    let body = prepared.body.as_deref().unwrap_or("");
    headers.push(("user-agent".into(), user_agent.to_owned()));
    headers.push(("webhook-id".into(), message_id.to_owned()));
    headers.push(("webhook-timestamp".into(), timestamp_secs.to_string()));
    headers.push(("webhook-signature".into(), signature_header(secrets, message_id, timestamp_secs, body.as_bytes())));
    OutgoingRequest { method: prepared.method, url: prepared.url.clone(), headers, body: prepared.body.clone() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Timestamp;
    use crate::id::WebhookId;
    use crate::webhook::{CustomHeaders, Endpoint, Ordering, WebhookStatus};

    fn webhook(endpoint: &str, method: HttpMethod, headers: serde_json::Value) -> Webhook {
        Webhook {
            id: WebhookId("wh_1".into()),
            name: "n".into(),
            description: String::new(),
            endpoint: Endpoint::parse(endpoint).expect("endpoint"),
            http_method: method,
            request_format: RequestFormat::Json,
            status: WebhookStatus::Active,
            subscriptions: crate::webhook::Subscriptions::Conditional,
            authentication: Authentication::None,
            custom_headers: CustomHeaders::parse(headers.as_object().expect("object")).expect("headers"),
            max_retries: 3,
            ordering: Ordering::None,
            rate_limit_per_minute: None,
            template_mode: crate::template::TemplateMode::Lax,
            created_at: Timestamp::default(),
            updated_at: Timestamp::default(),
        }
    }

    fn context() -> Context {
        Context::new().with("ticket", &json!({"id": 5, "subject": "Printer on fire"}))
    }

    fn prepare(
        hook: &Webhook,
        payload: Option<&Template>,
        params: &[(String, Template)],
        context: &Context,
        document: &serde_json::Value,
    ) -> Result<PreparedRequest, PrepareError> {
        super::prepare(hook, payload, params, context, &mut Rendering::new(), document)
    }

    #[test]
    fn renders_url_headers_and_body_and_drops_empty_headers() {
        let hook = webhook(
            "https://api.example/tickets/{{ ticket.id }}.json",
            HttpMethod::Put,
            json!({"X-Ticket": "{{ ticket.id }}", "X-Missing": "{{ ticket.nothing }}"}),
        );
        let payload = Template::parse("payload", r#"{"s": {{ ticket.subject | json }}}"#).expect("template");
        let prepared = prepare(&hook, Some(&payload), &[], &context(), &json!({})).expect("prepared");
        assert_eq!(prepared.url, "https://api.example/tickets/5.json");
        assert_eq!(prepared.body.as_deref(), Some(r#"{"s": "Printer on fire"}"#));
        assert_eq!(
            prepared.headers,
            [("content-type".to_owned(), "application/json".to_owned()), ("X-Ticket".into(), "5".into())]
        );
    }

    #[test]
    fn get_sends_params_in_the_query_and_no_body() {
        let hook = webhook("https://api.example/hook", HttpMethod::Get, json!({}));
        let params = [("q".to_owned(), Template::parse("q", "{{ ticket.subject }}").expect("template"))];
        let prepared = prepare(&hook, None, &params, &context(), &json!({"id": 5})).expect("prepared");
        assert_eq!(prepared.url, "https://api.example/hook?q=Printer+on+fire");
        assert_eq!(prepared.body, None);
        assert!(prepared.headers.is_empty());
    }

    #[test]
    fn invalid_json_and_oversized_bodies_fail_before_sending() {
        let hook = webhook("https://api.example/hook", HttpMethod::Post, json!({}));
        let broken = Template::parse("payload", "{\"s\": {{ ticket.subject }}}").expect("template");
        let err = prepare(&hook, Some(&broken), &[], &context(), &json!({})).expect_err("invalid");
        assert_eq!(err.code, "invalid_json");
        assert!(err.message.ends_with(r#"it rendered: {"s": Printer on fire}"#), "{}", err.message);
        let huge = Template::parse("payload", &format!("\"{}\"", "x".repeat(MAX_BODY_BYTES))).expect("template");
        let err = prepare(&hook, Some(&huge), &[], &context(), &json!({})).expect_err("too large");
        assert_eq!(err.code, "payload_too_large");
    }

    #[test]
    fn finalize_adds_auth_and_standard_webhooks_headers_and_redacts() {
        let prepared = PreparedRequest {
            method: HttpMethod::Post,
            url: "https://api.example/hook".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some("{}".into()),
        };
        let auth = Authentication::Bearer { token: "s3cret".into() };
        let secret = SigningSecret::from_bytes(vec![1; 24]);
        let out = finalize(&prepared, &auth, &[&secret], "inv_1", 1_700_000_000, "hookdesk/test");
        let get = |name: &str| out.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("authorization"), Some("Bearer s3cret"));
        assert_eq!(get("webhook-id"), Some("inv_1"));
        assert_eq!(get("webhook-timestamp"), Some("1700000000"));
        assert!(get("webhook-signature").is_some_and(|s| s.starts_with("v1,")));
        let logged = out.redacted_headers(&auth);
        assert!(logged.iter().all(|(_, v)| !v.contains("s3cret")));
        let logged_value = |name: &str| logged.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(logged_value("webhook-signature"), Some(REDACTED), "signatures are not kept either");
        assert_eq!(logged_value("webhook-id"), Some("inv_1"));
    }
}
