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

/// Headers a response template may not set: the server frames the response itself.
const FRAMING_HEADERS: &[&str] =
    &["content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"];

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
    pub fn parse(value: &Value) -> Result<Self, Invalid> {
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
                    if FRAMING_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                        return Err(Invalid::new(field, "is set by the server"));
                    }
                    let Value::String(source) = value else { return Err(Invalid::new(field, "must be a template")) };
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
        for bad in
            [json!({"status": 99}), json!({"headers": {"Content-Length": "1"}}), json!({"body": 1}), json!({"x": 1})]
        {
            assert!(InboundResponse::parse(&bad).is_err(), "{bad}");
        }
    }
}
