//! Outbound webhooks: where a request goes, how it is shaped and authenticated.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::endpoint::{Endpoint, check_url};
use crate::id::WebhookId;
use crate::template::{Template, TemplateMode};
use crate::{Invalid, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }

    /// GET and DELETE send no body; their params go in the query string.
    pub fn has_body(self) -> bool {
        !matches!(self, HttpMethod::Get | HttpMethod::Delete)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestFormat {
    Json,
    Xml,
    Form,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    Active,
    Inactive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Ordering {
    None,
    PerTicket,
}

/// How a webhook authenticates to its receiver. The secret parts never leave the server:
/// [`Authentication::public_view`] is what the API shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Authentication {
    None,
    Basic { username: String, password: String },
    Bearer { token: String },
    ApiKey { header: String, value: String },
}

/// The non-secret half of [`Authentication`], as responses show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthenticationView {
    None,
    Basic { username: String },
    Bearer,
    ApiKey { header: String },
}

impl Authentication {
    pub fn validate(&self) -> Result<(), Invalid> {
        let check = |field: &str, value: &str| -> Result<(), Invalid> {
            if value.is_empty() {
                return Err(Invalid::new(field, "must not be empty"));
            }
            if value.len() > 1000 || !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
                return Err(Invalid::new(field, "must be at most 1000 printable ASCII characters"));
            }
            Ok(())
        };
        match self {
            Authentication::None => Ok(()),
            Authentication::Basic { username, password } => {
                check("username", username)?;
                if username.contains(':') {
                    return Err(Invalid::new("username", "must not contain ':'"));
                }
                check("password", password)
            }
            Authentication::Bearer { token } => check("token", token),
            Authentication::ApiKey { header, value } => {
                HeaderName::parse(header).map_err(|e| Invalid::new("header", e.message))?;
                check("value", value)
            }
        }
        .map_err(|e| e.within("authentication"))
    }

    pub fn public_view(&self) -> AuthenticationView {
        match self {
            Authentication::None => AuthenticationView::None,
            Authentication::Basic { username, .. } => AuthenticationView::Basic { username: username.clone() },
            Authentication::Bearer { .. } => AuthenticationView::Bearer,
            Authentication::ApiKey { header, .. } => AuthenticationView::ApiKey { header: header.clone() },
        }
    }
}

/// A custom header name, checked against the contract's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderName(String);

const REFUSED_HEADERS: &[&str] = &[
    "accept-charset",
    "accept-encoding",
    "connection",
    "content-encoding",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "expect",
    "forwarded",
    "host",
    "keep-alive",
    "max-forwards",
    "origin",
    "proxy-authenticate",
    "referer",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "via",
    "www-authenticate",
];
const REFUSED_PREFIXES: &[&str] = &["access-control", "x-forwarded", "webhook-"];

impl HeaderName {
    pub fn parse(name: &str) -> Result<Self, Invalid> {
        let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || name.len() > 128 || !name.chars().all(is_tchar) {
            return Err(Invalid::new(
                "",
                format!("header name {name:?} must be 1 to 128 characters of letters, digits and !#$%&'*+-.^_`|~"),
            ));
        }
        let lower = name.to_ascii_lowercase();
        if REFUSED_HEADERS.contains(&lower.as_str()) || REFUSED_PREFIXES.iter().any(|p| lower.starts_with(p)) {
            return Err(Invalid::new("", format!("header {name:?} is set by hookdesk and cannot be customised")));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At most five headers with templated values; a value that renders empty is not sent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomHeaders(Vec<(HeaderName, Template)>);

impl CustomHeaders {
    pub const MAX: usize = 5;

    pub fn parse(headers: &serde_json::Map<String, serde_json::Value>) -> Result<Self, Invalid> {
        if headers.len() > Self::MAX {
            return Err(Invalid::new("custom_headers", format!("at most {} headers", Self::MAX)));
        }
        let mut parsed: Vec<(HeaderName, Template)> = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let field = format!("custom_headers.{name}");
            let header = HeaderName::parse(name).map_err(|e| e.within(&field))?;
            if parsed.iter().any(|(h, _)| h.0.eq_ignore_ascii_case(name)) {
                return Err(Invalid::new(field, "header names must be unique (case-insensitive)"));
            }
            let Some(value) = value.as_str() else {
                return Err(Invalid::new(field, "must be a string"));
            };
            if value.len() > 1000 || !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
                return Err(Invalid::new(field, "must be at most 1000 ASCII characters from 0x20 to 0x7E"));
            }
            parsed.push((header, Template::parse(&field, value)?));
        }
        Ok(Self(parsed))
    }

    pub fn iter(&self) -> impl Iterator<Item = &(HeaderName, Template)> {
        self.0.iter()
    }

    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.0.iter().map(|(n, t)| (n.0.clone(), t.source().into())).collect()
    }
}

/// A signing secret: `whsec_` followed by the base64 of its random bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    pub const PREFIX: &'static str = "whsec_";

    /// Wraps random bytes (the caller owns the randomness: the core does no I/O).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn parse(text: &str) -> Option<Self> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD.decode(text.strip_prefix(Self::PREFIX)?).ok()?;
        (bytes.len() >= 24 && bytes.len() <= 64).then_some(Self(bytes))
    }

    pub fn expose(&self) -> String {
        use base64::Engine as _;
        format!("{}{}", Self::PREFIX, base64::engine::general_purpose::STANDARD.encode(&self.0))
    }

    pub fn key(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

/// A webhook as the domain uses it: parsed and valid.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: WebhookId,
    pub name: String,
    pub description: String,
    pub endpoint: Endpoint,
    pub http_method: HttpMethod,
    pub request_format: RequestFormat,
    pub status: WebhookStatus,
    pub subscriptions: Subscriptions,
    pub authentication: Authentication,
    pub custom_headers: CustomHeaders,
    pub max_retries: u8,
    pub ordering: Ordering,
    pub rate_limit_per_minute: Option<u32>,
    /// How its URL, headers and payloads render: lax (what is undefined is empty) or strict
    /// (what is undefined fails the invocation with `template_error`).
    pub template_mode: TemplateMode,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Webhook {
    pub const MAX_RETRIES_LIMIT: u8 = 10;
    pub const DEFAULT_MAX_RETRIES: u8 = 3;
}

/// The circuit breaker of a webhook's endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Requests flow.
    #[default]
    Closed,
    /// Too many recent requests failed: nothing is sent until `breaker_until`.
    Open,
    /// The pause is over: one probe request is sent; its outcome closes or reopens the breaker.
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Closed, Self::Open, Self::HalfOpen].into_iter().find(|s| s.as_str() == text)
    }
}

/// How deliveries to a webhook have been going, as the workers last recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct WebhookHealth {
    pub breaker: BreakerState,
    /// While the breaker is open: when it lets a probe through.
    pub breaker_until: Option<Timestamp>,
    /// Every request has failed for a long time (`--failing-after`); cleared by a success.
    pub failing: bool,
    /// The first failure since the last success, while requests keep failing.
    pub failing_since: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    pub last_failure_at: Option<Timestamp>,
}

/// The subscription that connects a webhook to triggers and automations.
pub const CONDITIONAL_TICKET_EVENTS: &str = "conditional_ticket_events";

/// How a webhook is connected: to triggers and automations, or to events. Never both.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Subscriptions {
    #[default]
    Conditional,
    Events(Vec<crate::event::EventType>),
}

impl Subscriptions {
    /// Parses the contract's list: `["conditional_ticket_events"]`, or event types.
    pub fn parse(names: &[String]) -> Result<Self, crate::Invalid> {
        use crate::event::EventType;
        if names.iter().any(|n| n == CONDITIONAL_TICKET_EVENTS) {
            return if names.len() == 1 {
                Ok(Self::Conditional)
            } else {
                Err(crate::Invalid::new(
                    "subscriptions",
                    "conditional_ticket_events cannot be combined with event types",
                ))
            };
        }
        if names.is_empty() {
            return Err(crate::Invalid::new(
                "subscriptions",
                format!("must be [\"{CONDITIONAL_TICKET_EVENTS}\"] or a list of event types: {}", EventType::names()),
            ));
        }
        let mut events = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                EventType::parse(n).ok_or_else(|| {
                    crate::Invalid::new(
                        format!("subscriptions[{i}]"),
                        format!(
                            "unknown event type {n:?}; expected {CONDITIONAL_TICKET_EVENTS} or one of {}",
                            EventType::names()
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        events.sort_unstable();
        events.dedup();
        Ok(Self::Events(events))
    }

    pub fn names(&self) -> Vec<String> {
        match self {
            Self::Conditional => vec![CONDITIONAL_TICKET_EVENTS.to_owned()],
            Self::Events(events) => events.iter().map(|e| e.as_str().to_owned()).collect(),
        }
    }

    pub fn is_conditional(&self) -> bool {
        matches!(self, Self::Conditional)
    }

    pub fn includes(&self, event: crate::event::EventType) -> bool {
        matches!(self, Self::Events(events) if events.contains(&event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_follow_the_contract() {
        assert!(HeaderName::parse("X-Deskpro-TicketId").is_ok());
        for refused in ["Content-Type", "host", "X-Forwarded-For", "webhook-id", "Access-Control-Allow-Origin"] {
            let message = HeaderName::parse(refused).expect_err("refused").message;
            assert!(message.ends_with("is set by hookdesk and cannot be customised"), "{refused}: {message}");
        }
        for malformed in ["bad header".to_owned(), "x".repeat(129)] {
            let message = HeaderName::parse(&malformed).expect_err("refused").message;
            assert!(message.contains("must be 1 to 128 characters"), "{malformed}: {message}");
        }
    }

    #[test]
    fn custom_headers_are_limited_and_unique() {
        let six: serde_json::Map<_, _> = (0..6).map(|i| (format!("x-h{i}"), serde_json::Value::from("v"))).collect();
        let refused = |headers: &serde_json::Map<_, _>| {
            let invalid = CustomHeaders::parse(headers).expect_err("refused");
            (invalid.field, invalid.message)
        };
        assert_eq!(refused(&six), ("custom_headers".into(), "at most 5 headers".into()));
        let dup = serde_json::json!({"X-A": "1", "x-a": "2"});
        let (field, message) = refused(dup.as_object().expect("object"));
        assert_eq!(field, "custom_headers.x-a");
        assert!(message.contains("must be unique"), "{message}");
        let bad_value = serde_json::json!({"X-A": "caf\u{e9}"});
        let (field, message) = refused(bad_value.as_object().expect("object"));
        assert_eq!(field, "custom_headers.X-A");
        assert!(message.contains("ASCII characters"), "{message}");
    }

    #[test]
    fn endpoints_must_be_http_urls() {
        assert!(Endpoint::parse("https://example.com/hook").is_ok());
        assert!(Endpoint::parse("https://api.example/tickets/{{ ticket.id }}.json").is_ok());
        for not_http in ["ftp://example.com", "/relative"] {
            let message = Endpoint::parse(not_http).expect_err("refused").message;
            assert_eq!(message, "must be an absolute http:// or https:// URL", "{not_http}");
        }
        let credentials = Endpoint::parse("https://user:pw@example.com").expect_err("refused").message;
        assert!(credentials.starts_with("credentials in the URL are not allowed"), "{credentials}");
    }

    #[test]
    fn signing_secrets_round_trip() {
        let secret = SigningSecret::from_bytes(vec![7; 24]);
        let text = secret.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&text), Some(secret));
        assert_eq!(SigningSecret::parse("whsec_c2hvcnQ="), None);
    }
}
