//! What an inbound call answers: a status, headers and body, each fixed or a template over the
//! request.

use serde_json::{Map, Value};

use super::header::is_token;
use crate::Invalid;
use crate::template::{Context, Rendering, Template};
use crate::text::cut;
use crate::ticket::parse_text;

/// The status of the response: fixed, or a template that must render to one.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseStatus {
    Fixed(u16),
    Template(Template),
}

/// What a call answers. Defaults: 202 with `{"ok": true}`.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundResponse {
    pub status: ResponseStatus,
    pub headers: Vec<(String, Template)>,
    pub body: Template,
}

/// Headers a response may not set: the server frames the response itself (hop-by-hop and
/// framing headers), and an answer served from hookdesk's own origin must not act on that
/// origin (cookies, security policies, CORS, reporting, credentials prompts, other
/// protocols). Names are compared lowercase; each entry ending in `-` is a prefix.
const RESERVED_HEADERS: &[&str] = &[
    // Framing and hop-by-hop.
    "content-length",
    "transfer-encoding",
    "content-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "upgrade",
    "te",
    "trailer",
    // The origin's state and policies.
    "set-cookie",
    "set-cookie2",
    "clear-site-data",
    "content-security-policy",
    "content-security-policy-report-only",
    "x-content-security-policy",
    "x-webkit-csp",
    "x-content-type-options",
    "x-frame-options",
    "x-xss-protection",
    "strict-transport-security",
    "permissions-policy",
    "feature-policy",
    "document-policy",
    "origin-agent-cluster",
    "service-worker-allowed",
    "access-control-",
    "cross-origin-",
    "timing-allow-origin",
    "report-to",
    "reporting-endpoints",
    "nel",
    "alt-svc",
    "link",
    "refresh",
    "www-authenticate",
];

/// Content types a page of hookdesk's origin would run or apply if it loaded the answer as a
/// sub-resource (`<script src="/hooks/...">`: a sandbox policy does not reach a script loaded
/// by another page). The WHATWG's JavaScript MIME types, and CSS.
const PAGE_CONTENT_TYPES: &[&str] = &[
    "application/ecmascript",
    "application/javascript",
    "application/x-ecmascript",
    "application/x-javascript",
    "text/ecmascript",
    "text/javascript",
    "text/javascript1.0",
    "text/javascript1.1",
    "text/javascript1.2",
    "text/javascript1.3",
    "text/javascript1.4",
    "text/javascript1.5",
    "text/jscript",
    "text/livescript",
    "text/x-ecmascript",
    "text/x-javascript",
    "text/css",
];

/// Whether `content_type` is one an answer may not have (see [`PAGE_CONTENT_TYPES`]): any
/// of a comma-separated list counts, since browsers take the last one that parses.
pub fn runs_in_a_page(content_type: &str) -> bool {
    content_type.split(',').any(|one| {
        let essence = one.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        PAGE_CONTENT_TYPES.contains(&essence.as_str())
    })
}

const PAGE_CONTENT_TYPE: &str =
    "would let a page of hookdesk's origin run the answer as a script or style: use text/plain, JSON, XML or HTML";

/// Whether a response may not set the header `name` (see [`RESERVED_HEADERS`]).
pub fn is_reserved_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    RESERVED_HEADERS
        .iter()
        .any(|reserved| if reserved.ends_with('-') { name.starts_with(reserved) } else { name == *reserved })
}

impl Default for InboundResponse {
    fn default() -> Self {
        Self {
            status: ResponseStatus::Fixed(202),
            headers: vec![],
            body: Template::parse("response.body", r#"{"ok": true}"#).expect("the default body parses"),
        }
    }
}

impl InboundResponse {
    /// A response as an admin saves it: a header it may not set is refused.
    pub fn parse(value: &Value) -> Result<Self, Invalid> {
        Self::read(value, true)
    }

    /// A response as stored: a header that may not be set (saved before it was refused) is
    /// left out, as it would be when answering.
    pub fn load(value: &Value) -> Result<Self, Invalid> {
        Self::read(value, false)
    }

    fn read(value: &Value, strict: bool) -> Result<Self, Invalid> {
        let mut response = Self::default();
        let map = match value {
            Value::Null => return Ok(response),
            Value::Object(map) => map,
            _ => return Err(Invalid::new("response", "must be an object {status, headers, body}")),
        };
        if let Some(unknown) = map.keys().find(|k| !["status", "headers", "body"].contains(&k.as_str())) {
            return Err(Invalid::new(format!("response.{unknown}"), "is not a field of a response"));
        }
        match map.get("status") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) => {
                response.status = ResponseStatus::Fixed(
                    n.as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                        .filter(|n| (200..=599).contains(n))
                        .ok_or_else(|| Invalid::new("response.status", "must be 200 to 599"))?,
                );
            }
            Some(Value::String(source)) => {
                response.status = match source.trim().parse::<u16>() {
                    Ok(n) if (200..=599).contains(&n) => ResponseStatus::Fixed(n),
                    Ok(_) => return Err(Invalid::new("response.status", "must be 200 to 599")),
                    Err(_) => ResponseStatus::Template(Template::parse("response.status", source)?),
                }
            }
            Some(_) => return Err(Invalid::new("response.status", "must be a number or a template")),
        }
        match map.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(headers)) => {
                if headers.len() > 20 {
                    return Err(Invalid::new("response.headers", "at most 20 headers"));
                }
                for (name, value) in headers {
                    let field = format!("response.headers.{name}");
                    if !is_token(name) {
                        return Err(Invalid::new(field, "is not an HTTP header name"));
                    }
                    if is_reserved_header(name) {
                        if strict {
                            return Err(Invalid::new(
                                field,
                                "is set by the server, or would act on hookdesk's own origin (cookies, security policies, CORS, framing, credentials prompts): a response may not set it",
                            ));
                        }
                        continue;
                    }
                    let Value::String(source) = value else { return Err(Invalid::new(field, "must be a template")) };
                    if strict && name.eq_ignore_ascii_case("content-type") && runs_in_a_page(source) {
                        return Err(Invalid::new(field, PAGE_CONTENT_TYPE));
                    }
                    response.headers.push((name.clone(), Template::parse(&field, source)?));
                }
            }
            Some(_) => return Err(Invalid::new("response.headers", "must be an object of header templates")),
        }
        match map.get("body") {
            None | Some(Value::Null) => {}
            Some(Value::String(source)) => response.body = Template::parse("response.body", source)?,
            Some(_) => return Err(Invalid::new("response.body", "must be a template")),
        }
        Ok(response)
    }

    /// Every template of the response, each with the path of its field.
    pub fn templates(&self) -> Vec<(String, &Template)> {
        let mut out = Vec::new();
        if let ResponseStatus::Template(status) = &self.status {
            out.push(("response.status".to_owned(), status));
        }
        out.extend(self.headers.iter().map(|(name, t)| (format!("response.headers.{name}"), t)));
        out.push(("response.body".to_owned(), &self.body));
        out
    }

    pub fn to_json(&self) -> Value {
        let status = match &self.status {
            ResponseStatus::Fixed(n) => Value::from(*n),
            ResponseStatus::Template(t) => Value::String(t.source().to_owned()),
        };
        let headers: Map<String, Value> =
            self.headers.iter().map(|(n, t)| (n.clone(), Value::String(t.source().to_owned()))).collect();
        serde_json::json!({"status": status, "headers": headers, "body": self.body.source()})
    }

    /// The status, headers and body for `context`. A status template that does not render to
    /// 200-599, or a header value that cannot be sent, is an error the call log shows.
    pub fn render(&self, context: &Context, rendering: &mut Rendering) -> Result<RenderedResponse, Invalid> {
        let status = match &self.status {
            ResponseStatus::Fixed(n) => *n,
            ResponseStatus::Template(t) => {
                let text = rendering.render(t, context).map_err(|e| e.invalid("response.status"))?;
                text.trim().parse::<u16>().ok().filter(|n| (200..=599).contains(n)).ok_or_else(|| {
                    Invalid::new("response.status", format!("rendered {:?}, not 200 to 599", cut(&text, 64)))
                })?
            }
        };
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, template) in &self.headers {
            let field = format!("response.headers.{name}");
            let value = rendering.render(template, context).map_err(|e| e.invalid(&field))?;
            let value = parse_text(&field, value.trim(), 8192)?;
            if value.chars().any(char::is_control) {
                return Err(Invalid::new(field, "rendered a control character"));
            }
            if name.eq_ignore_ascii_case("content-type") && runs_in_a_page(&value) {
                return Err(Invalid::new(field, format!("rendered {:?}, which {PAGE_CONTENT_TYPE}", cut(&value, 64))));
            }
            if !value.is_empty() {
                headers.push((name.to_ascii_lowercase(), value));
            }
        }
        let body = rendering.render(&self.body, context).map_err(|e| e.invalid("response.body"))?;
        Ok(RenderedResponse { status, headers, body })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RenderedResponse {
    /// The content type to send when the response sets none: JSON when the body is JSON.
    pub fn default_content_type(&self) -> &'static str {
        if serde_json::from_str::<serde::de::IgnoredAny>(&self.body).is_ok() {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn responses_default_and_render() {
        let default = InboundResponse::parse(&Value::Null).expect("default");
        let rendered = default.render(&Context::new(), &mut Rendering::new()).expect("renders");
        assert_eq!((rendered.status, rendered.body.as_str()), (202, r#"{"ok": true}"#));
        assert_eq!(rendered.default_content_type(), "application/json");
        let custom = InboundResponse::parse(&json!({
            "status": "{{ request.json.code }}", "headers": {"X-Echo": "{{ request.method }}"}, "body": "hi"
        }))
        .expect("valid");
        let context = Context::new().with("request", &json!({"method": "POST", "json": {"code": 201}}));
        let rendered = custom.render(&context, &mut Rendering::new()).expect("renders");
        assert_eq!(rendered.status, 201);
        assert_eq!(rendered.headers, vec![("x-echo".to_owned(), "POST".to_owned())]);
        assert_eq!(rendered.default_content_type(), "text/plain; charset=utf-8");
        assert_eq!(
            custom.render(&Context::new(), &mut Rendering::new()).expect_err("no status").field,
            "response.status"
        );
        for (bad, field) in [
            (json!({"status": 99}), "response.status"),
            (json!({"headers": {"Content-Length": "1"}}), "response.headers.Content-Length"),
            (json!({"body": 1}), "response.body"),
            (json!({"x": 1}), "response.x"),
        ] {
            assert_eq!(InboundResponse::parse(&bad).expect_err("refused").field, field, "{bad}");
        }
    }

    #[test]
    fn headers_that_act_on_the_origin_are_refused_when_saved_and_dropped_when_loaded() {
        for name in [
            "Set-Cookie",
            "set-cookie2",
            "Content-Security-Policy",
            "Access-Control-Allow-Origin",
            "Access-Control-Allow-Credentials",
            "X-Frame-Options",
            "Cross-Origin-Resource-Policy",
            "Clear-Site-Data",
            "WWW-Authenticate",
            "Transfer-Encoding",
            "Refresh",
            "Link",
        ] {
            let document = json!({"headers": {name: "x", "X-Kept": "y"}});
            let refused = InboundResponse::parse(&document).expect_err(name);
            assert_eq!(refused.field, format!("response.headers.{name}"));
            let loaded = InboundResponse::load(&document).expect(name);
            let names: Vec<&str> = loaded.headers.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["X-Kept"], "{name}");
        }
        for allowed in
            ["Content-Type", "Location", "Cache-Control", "Content-Disposition", "X-Request-Id", "Retry-After"]
        {
            assert!(InboundResponse::parse(&json!({"headers": {allowed: "x"}})).is_ok(), "{allowed}");
        }
    }
}
