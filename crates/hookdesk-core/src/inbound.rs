//! Inbound webhooks: what an outside system's call to `/hooks/TOKEN` does (ticket actions
//! whose fields are templates over the request), how it is verified, and what it answers.

use hmac::{KeyInit, Mac};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::request::verify_signature;
use crate::template::{Context, RenderError, Rendering, Template};
use crate::text::cut;
use crate::ticket::parse_text;
use crate::webhook::SigningSecret;
use crate::{Invalid, Timestamp};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How a call proves it comes from who holds the shared secret. The secret never leaves the
/// server: [`Verify::public_view`] is what the API shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Verify {
    /// HMAC-SHA256 of the raw body, hex, in `header` (a `sha256=` prefix, as GitHub sends
    /// it, is accepted).
    HmacSha256 { header: String, secret: String },
    /// Standard Webhooks (what hookdesk, Svix and others send): `webhook-id`,
    /// `webhook-timestamp` (within five minutes of now, against replays) and
    /// `webhook-signature`, signed with a `whsec_` secret.
    StandardWebhooks { secret: String },
}

/// How far a Standard Webhooks timestamp may be from now.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// The non-secret half of [`Verify`], as responses show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VerifyView {
    HmacSha256 { header: String },
    StandardWebhooks,
}

impl Verify {
    pub fn validate(&self) -> Result<(), Invalid> {
        match self {
            Verify::HmacSha256 { header, secret } => {
                check_header_name("verify.header", header)?;
                if secret.is_empty() || secret.len() > 1000 {
                    return Err(Invalid::new("verify.secret", "must be 1 to 1000 bytes"));
                }
                Ok(())
            }
            Verify::StandardWebhooks { secret } => match SigningSecret::parse(secret) {
                Some(_) => Ok(()),
                None => Err(Invalid::new("verify.secret", "must be a whsec_ secret of 24 to 64 bytes")),
            },
        }
    }

    pub fn public_view(&self) -> VerifyView {
        match self {
            Verify::HmacSha256 { header, .. } => VerifyView::HmacSha256 { header: header.clone() },
            Verify::StandardWebhooks { .. } => VerifyView::StandardWebhooks,
        }
    }

    /// Checks a call: `header` gives a request header's value by lowercase name. The error
    /// says what is wrong, for the caller and the call log. Digests are compared in constant
    /// time.
    pub fn check<'a>(
        &self,
        header: impl Fn(&str) -> Option<&'a str>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<(), String> {
        match self {
            Verify::HmacSha256 { header: name, secret } => {
                let name = name.to_ascii_lowercase();
                let signature = header(&name).map(str::trim).ok_or_else(|| format!("the {name} header is missing"))?;
                let hex = match signature.get(..7) {
                    Some(prefix) if prefix.eq_ignore_ascii_case("sha256=") => &signature[7..],
                    _ => signature,
                };
                let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
                mac.update(body);
                match decode_hex(hex) {
                    Some(digest) if mac.verify_slice(&digest).is_ok() => Ok(()),
                    _ => Err(format!("the {name} header does not carry the HMAC-SHA256 of the body")),
                }
            }
            Verify::StandardWebhooks { secret } => {
                let secret = SigningSecret::parse(secret).ok_or("the verification secret is not a whsec_ secret")?;
                let [id, timestamp, signature] = ["webhook-id", "webhook-timestamp", "webhook-signature"]
                    .map(|name| header(name).map(str::trim).ok_or_else(|| format!("the {name} header is missing")));
                let (id, timestamp, signature) = (id?, timestamp?, signature?);
                let seconds: i64 = timestamp.parse().map_err(|_| "webhook-timestamp is not a number of seconds")?;
                if (now.as_millis() / 1000 - seconds).abs() > TIMESTAMP_TOLERANCE_SECS {
                    return Err("webhook-timestamp is more than five minutes from now".into());
                }
                if verify_signature(&secret, id, seconds, body, signature) {
                    Ok(())
                } else {
                    Err("webhook-signature does not match the body".into())
                }
            }
        }
    }
}

/// The hex digest `accepts` expects: what a sender computes.
pub fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes().chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()).collect()
}

/// A header name an inbound webhook reads, checked when it is saved.
pub fn check_header_name(field: &str, name: &str) -> Result<(), Invalid> {
    if is_token(name) { Ok(()) } else { Err(Invalid::new(field, "must be an HTTP header name")) }
}

/// RFC 9110's `token`: the characters of a header name.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A JSON value whose strings are templates.
#[derive(Debug, Clone, PartialEq)]
pub enum Templated {
    Text(Template),
    Array(Vec<Templated>),
    Object(Vec<(String, Templated)>),
    /// Numbers, booleans and null stay as written.
    Literal(Value),
}

impl Templated {
    fn parse(field: &str, value: &Value) -> Result<Self, Invalid> {
        Ok(match value {
            Value::String(source) => Templated::Text(Template::parse(field, source)?),
            Value::Array(items) => Templated::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| Templated::parse(&format!("{field}[{i}]"), item))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Templated::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Templated::parse(&format!("{field}.{k}"), v)?)))
                    .collect::<Result<_, Invalid>>()?,
            ),
            other => Templated::Literal(other.clone()),
        })
    }

    fn render(&self, context: &Context, rendering: &mut Rendering) -> Result<Value, RenderError> {
        Ok(match self {
            Templated::Text(template) => Value::String(rendering.render(template, context)?),
            Templated::Array(items) => {
                Value::Array(items.iter().map(|i| i.render(context, rendering)).collect::<Result<_, _>>()?)
            }
            Templated::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), v.render(context, rendering)?)))
                    .collect::<Result<_, RenderError>>()?,
            ),
            Templated::Literal(value) => value.clone(),
        })
    }

    /// Every template in it, each with the path of its field.
    fn templates<'t>(&'t self, field: &str, out: &mut Vec<(String, &'t Template)>) {
        match self {
            Templated::Text(template) => out.push((field.to_owned(), template)),
            Templated::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    item.templates(&format!("{field}[{i}]"), out);
                }
            }
            Templated::Object(fields) => {
                for (key, value) in fields {
                    value.templates(&format!("{field}.{key}"), out);
                }
            }
            Templated::Literal(_) => {}
        }
    }

    fn source(&self) -> Value {
        match self {
            Templated::Text(template) => Value::String(template.source().to_owned()),
            Templated::Array(items) => Value::Array(items.iter().map(Templated::source).collect()),
            Templated::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.source())).collect()),
            Templated::Literal(value) => value.clone(),
        }
    }
}

/// Which body a `fields` object has the shape of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldsShape {
    /// `POST /api/v1/tickets`.
    Create,
    /// `PATCH /api/v1/tickets/{id}`.
    Patch,
}

const CREATE_KEYS: &[&str] = &[
    "subject",
    "description",
    "status",
    "priority",
    "type",
    "tags",
    "requester",
    "assignee_id",
    "group",
    "custom_fields",
    "comment",
];
const PATCH_ONLY_KEYS: &[&str] = &["add_tags", "remove_tags"];
const TAG_KEYS: &[&str] = &["tags", "add_tags", "remove_tags"];

/// A ticket body whose strings are templates.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketFields {
    shape: FieldsShape,
    fields: Templated,
}

impl TicketFields {
    pub fn parse(shape: FieldsShape, field: &str, value: &Value) -> Result<Self, Invalid> {
        let Value::Object(map) = value else {
            return Err(Invalid::new(field, "must be an object of ticket fields"));
        };
        for key in map.keys() {
            let known = CREATE_KEYS.contains(&key.as_str())
                || (shape == FieldsShape::Patch && PATCH_ONLY_KEYS.contains(&key.as_str()));
            if !known {
                return Err(Invalid::new(format!("{field}.{key}"), "is not a ticket field this action can set"));
            }
        }
        for (key, allowed) in [("requester", &["name", "email"][..]), ("comment", &["body", "public"][..])] {
            match map.get(key) {
                None => {}
                Some(Value::Object(inner)) => {
                    if let Some(unknown) = inner.keys().find(|k| !allowed.contains(&k.as_str())) {
                        return Err(Invalid::new(format!("{field}.{key}.{unknown}"), "is not a field of it"));
                    }
                }
                Some(_) => return Err(Invalid::new(format!("{field}.{key}"), "must be an object")),
            }
        }
        if shape == FieldsShape::Create && !map.contains_key("subject") {
            return Err(Invalid::new(format!("{field}.subject"), "is required to create a ticket"));
        }
        Ok(Self { shape, fields: Templated::parse(field, value)? })
    }

    /// The body of the ticket request, rendered. A field that renders empty is left out (as
    /// if not given); tags may render to one space-separated string; `assignee_id` and
    /// `comment.public` are read from their text.
    pub fn render(&self, context: &Context, rendering: &mut Rendering) -> Result<Value, RenderError> {
        let Value::Object(rendered) = self.fields.render(context, rendering)? else {
            return Ok(Value::Object(Map::new()));
        };
        let mut body = Map::new();
        for (key, value) in rendered {
            let value = match (key.as_str(), value) {
                (_, Value::String(text)) if text.trim().is_empty() => continue,
                (k, Value::String(text)) if TAG_KEYS.contains(&k) => {
                    Value::Array(text.split_whitespace().map(|t| Value::String(t.to_owned())).collect())
                }
                (k, Value::Array(items)) if TAG_KEYS.contains(&k) => Value::Array(
                    items
                        .into_iter()
                        .filter(|t| t.as_str().is_none_or(|s| !s.trim().is_empty()))
                        .map(|t| match t {
                            Value::String(s) => Value::String(s.trim().to_owned()),
                            other => other,
                        })
                        .collect(),
                ),
                ("assignee_id", Value::String(text)) => number_or_text(text),
                ("comment", Value::Object(mut comment)) => {
                    if comment.get("body").and_then(Value::as_str).is_some_and(|b| b.trim().is_empty()) {
                        continue;
                    }
                    if let Some(Value::String(public)) = comment.get("public") {
                        let public = public.trim().to_ascii_lowercase();
                        if public == "true" || public == "false" {
                            comment.insert("public".into(), Value::Bool(public == "true"));
                        }
                    }
                    Value::Object(comment)
                }
                (_, value) => value,
            };
            body.insert(key, value);
        }
        Ok(Value::Object(body))
    }

    pub fn shape(&self) -> FieldsShape {
        self.shape
    }

    fn names_requester_email(&self) -> bool {
        let Templated::Object(fields) = &self.fields else { return false };
        fields.iter().any(|(key, value)| {
            key == "requester" && matches!(value, Templated::Object(inner) if inner.iter().any(|(k, _)| k == "email"))
        })
    }
}

fn number_or_text(text: String) -> Value {
    text.trim().parse::<i64>().map_or(Value::String(text), Value::from)
}

/// What a call does, in order; each ticket action is one update (triggers run).
#[derive(Debug, Clone, PartialEq)]
pub enum InboundAction {
    CreateTicket { fields: TicketFields },
    UpdateTicket { ticket_id: Template, fields: TicketFields },
    AddComment { ticket_id: Template, body: Template, public: bool },
}

/// At most this many actions per inbound webhook.
pub const MAX_ACTIONS: usize = 10;

impl InboundAction {
    pub fn parse_all(value: &Value) -> Result<Vec<Self>, Invalid> {
        let Value::Array(items) = value else { return Err(Invalid::new("actions", "must be an array")) };
        if items.len() > MAX_ACTIONS {
            return Err(Invalid::new("actions", format!("at most {MAX_ACTIONS} actions")));
        }
        items.iter().enumerate().map(|(i, item)| Self::parse(&format!("actions[{i}]"), item)).collect()
    }

    fn parse(field: &str, value: &Value) -> Result<Self, Invalid> {
        let Value::Object(map) = value else { return Err(Invalid::new(field, "must be an object")) };
        let kind = map.get("type").and_then(Value::as_str).unwrap_or_default();
        let allowed: &[&str] = match kind {
            "create_ticket" => &["type", "fields"],
            "update_ticket" => &["type", "ticket_id", "fields"],
            "add_comment" => &["type", "ticket_id", "body", "public"],
            _ => {
                return Err(Invalid::new(
                    format!("{field}.type"),
                    "must be create_ticket, update_ticket or add_comment",
                ));
            }
        };
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Invalid::new(format!("{field}.{unknown}"), format!("is not a field of {kind}")));
        }
        let fields = |shape| {
            let value = map.get("fields").ok_or_else(|| Invalid::new(format!("{field}.fields"), "is required"))?;
            TicketFields::parse(shape, &format!("{field}.fields"), value)
        };
        let template = |name: &str| -> Result<Template, Invalid> {
            let path = format!("{field}.{name}");
            match map.get(name) {
                Some(Value::String(source)) if !source.trim().is_empty() => Template::parse(&path, source),
                Some(Value::Number(n)) if n.is_i64() => Template::parse(&path, &n.to_string()),
                Some(_) => Err(Invalid::new(path, "must be a non-empty template")),
                None => Err(Invalid::new(path, "is required")),
            }
        };
        Ok(match kind {
            "create_ticket" => InboundAction::CreateTicket { fields: fields(FieldsShape::Create)? },
            "update_ticket" => {
                InboundAction::UpdateTicket { ticket_id: template("ticket_id")?, fields: fields(FieldsShape::Patch)? }
            }
            _ => InboundAction::AddComment {
                ticket_id: template("ticket_id")?,
                body: template("body")?,
                public: match map.get("public") {
                    None => true,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(Invalid::new(format!("{field}.public"), "must be true or false")),
                },
            },
        })
    }

    /// What saving (not loading) refuses: a `create_ticket` without `requester.email` would
    /// fail every call, since no user makes an inbound call to be the requester.
    pub fn check_before_saving(actions: &[Self]) -> Result<(), Invalid> {
        for (i, action) in actions.iter().enumerate() {
            if let InboundAction::CreateTicket { fields } = action
                && !fields.names_requester_email()
            {
                return Err(Invalid::new(
                    format!("actions[{i}].fields.requester.email"),
                    "is required to create a ticket: no user makes an inbound call (e.g. \"{{ request.params.email }}\")",
                ));
            }
        }
        Ok(())
    }

    /// Every template of the action, each with the path of its field (`actions[0].fields.subject`).
    pub fn templates(&self, field: &str) -> Vec<(String, &Template)> {
        let mut out = Vec::new();
        match self {
            InboundAction::CreateTicket { fields } => fields.fields.templates(&format!("{field}.fields"), &mut out),
            InboundAction::UpdateTicket { ticket_id, fields } => {
                out.push((format!("{field}.ticket_id"), ticket_id));
                fields.fields.templates(&format!("{field}.fields"), &mut out);
            }
            InboundAction::AddComment { ticket_id, body, .. } => {
                out.push((format!("{field}.ticket_id"), ticket_id));
                out.push((format!("{field}.body"), body));
            }
        }
        out
    }

    pub fn kind(&self) -> &'static str {
        match self {
            InboundAction::CreateTicket { .. } => "create_ticket",
            InboundAction::UpdateTicket { .. } => "update_ticket",
            InboundAction::AddComment { .. } => "add_comment",
        }
    }

    /// The contract's JSON of the action, templates as their source.
    pub fn to_json(&self) -> Value {
        match self {
            InboundAction::CreateTicket { fields } => {
                serde_json::json!({"type": self.kind(), "fields": fields.fields.source()})
            }
            InboundAction::UpdateTicket { ticket_id, fields } => {
                serde_json::json!({"type": self.kind(), "ticket_id": ticket_id.source(), "fields": fields.fields.source()})
            }
            InboundAction::AddComment { ticket_id, body, public } => serde_json::json!({
                "type": self.kind(), "ticket_id": ticket_id.source(), "body": body.source(), "public": public,
            }),
        }
    }
}

/// A ticket id rendered from a template: a positive integer, or an error naming `field`.
pub fn render_ticket_id(
    field: &str,
    template: &Template,
    context: &Context,
    rendering: &mut Rendering,
) -> Result<i64, Invalid> {
    let text = rendering.render(template, context).map_err(|e| e.invalid(field))?;
    match text.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(Invalid::new(field, format!("rendered {:?}, which is not a ticket id", cut(&text, 64)))),
    }
}

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

/// The secret part of an inbound webhook's URL. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlToken(String);

impl UrlToken {
    pub fn new(token: String) -> Self {
        Self(token)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for UrlToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlToken(..)")
    }
}

/// An inbound webhook as stored: a secret URL, what a call to it does and answers.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundWebhook {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub token: UrlToken,
    pub verify: Option<Verify>,
    /// A request header whose value identifies a delivery (`X-GitHub-Delivery`,
    /// `webhook-id`, `Idempotency-Key`): a call repeating an accepted one's value gets its
    /// answer again and runs nothing.
    pub idempotency_header: Option<String>,
    pub actions: Vec<InboundAction>,
    pub response: InboundResponse,
    /// Calls per minute this webhook accepts (per server process); `None` is no limit.
    pub rate_limit_per_minute: Option<u32>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What one action of a call did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct ActionRun {
    #[serde(rename = "type")]
    pub kind: String,
    /// The ticket it created or changed.
    pub ticket_id: Option<i64>,
    /// Why it failed: a failed action rolls back every action of the call.
    pub error: Option<String>,
}

/// Why a call did not run as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct CallError {
    pub code: String,
    pub message: String,
}

/// One call to an inbound webhook, as its log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InboundCall {
    pub id: String,
    pub inbound_webhook_id: String,
    pub created_at: Timestamp,
    pub method: String,
    /// The path after the token, `/` when none.
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
    /// Lowercase names; credentials (`authorization`, `cookie`...) shown as `[redacted]`.
    #[schema(value_type = Object)]
    pub headers: Map<String, Value>,
    /// The raw body as text, cut at 16 KiB.
    pub body: String,
    /// The body's whole size in bytes.
    pub body_bytes: i64,
    pub client_ip: Option<String>,
    /// The status hookdesk answered.
    pub status: u16,
    /// The body hookdesk answered, cut at 16 KiB.
    pub response_body: String,
    pub actions: Vec<ActionRun>,
    pub error: Option<CallError>,
    /// The value of the webhook's idempotency header, when sent.
    pub idempotency_key: Option<String>,
    /// The earlier call this one repeated: its answer was sent again and nothing ran.
    pub replay_of: Option<String>,
    pub duration_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::sign;
    use serde_json::json;

    #[test]
    fn signatures_verify_with_and_without_prefix_and_not_when_tampered() {
        let verify =
            Verify::HmacSha256 { header: "X-Hub-Signature-256".into(), secret: "It's a Secret to Everybody".into() };
        let body = b"Hello, World!";
        // GitHub's documented example.
        let expected = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(hmac_sha256_hex(b"It's a Secret to Everybody", body), expected);
        let now = Timestamp::from_millis(0);
        let accepts = |signature: Option<&str>, body: &[u8]| {
            verify.check(|name| (name == "x-hub-signature-256").then_some(signature).flatten(), body, now).is_ok()
        };
        assert!(accepts(Some(&format!("sha256={expected}")), body));
        assert!(accepts(Some(expected), body));
        assert!(accepts(Some(&expected.to_uppercase()), body));
        assert!(!accepts(Some(expected), b"Hello, World?"));
        assert!(!accepts(Some(&expected[..62]), body));
        assert!(!accepts(Some("sha256=zz"), body));
        assert!(!accepts(None, body));
    }

    #[test]
    fn standard_webhooks_signatures_verify_within_the_tolerance() {
        let secret = SigningSecret::from_bytes(vec![9; 24]);
        let verify = Verify::StandardWebhooks { secret: secret.expose() };
        assert_eq!(verify.validate(), Ok(()));
        let body = br#"{"id": 1}"#;
        // The headers of a message signed at `secs`.
        let at = |secs: i64| {
            let signature = format!("v1,{}", sign(&secret, "msg_1", secs, body));
            vec![
                ("webhook-id", "msg_1".to_owned()),
                ("webhook-timestamp", secs.to_string()),
                ("webhook-signature", signature),
            ]
        };
        let now = Timestamp::from_millis(1_700_000_000_000);
        let check = |headers: &[(&str, String)], body: &[u8]| {
            verify.check(|name| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()), body, now)
        };
        assert_eq!(check(&at(1_700_000_000), body), Ok(()));
        assert_eq!(check(&at(1_700_000_000 - 299), body), Ok(()));
        assert!(check(&at(1_700_000_000 - 301), body).expect_err("too old").contains("five minutes"));
        assert!(check(&at(1_700_000_000), b"{}").expect_err("tampered").contains("does not match"));
        assert!(check(&[], body).expect_err("unsigned").contains("webhook-id"));
        assert!(Verify::StandardWebhooks { secret: "whsec_short".into() }.validate().is_err());
    }

    #[test]
    fn fields_render_leaving_empty_values_out_and_reading_tags_and_ids() {
        let fields = TicketFields::parse(
            FieldsShape::Create,
            "fields",
            &json!({
                "subject": "Payment {{ request.json.id }}",
                "requester": {"email": "{{ request.json.email }}"},
                "status": "{{ request.json.missing }}",
                "tags": "billing {{ request.json.kind }}",
                "assignee_id": "{{ request.json.agent }}",
                "comment": {"body": "", "public": "false"},
                "custom_fields": {"amount": "{{ request.json.amount }}", "paid": true}
            }),
        )
        .expect("valid");
        let context = Context::new().with(
            "request",
            &json!({"json": {"id": 7, "email": "a@example.com", "kind": "stripe", "agent": "3", "amount": 12.5}}),
        );
        assert_eq!(
            fields.render(&context, &mut Rendering::new()).expect("renders"),
            json!({
                "subject": "Payment 7",
                "requester": {"email": "a@example.com"},
                "tags": ["billing", "stripe"],
                "assignee_id": 3,
                "custom_fields": {"amount": "12.5", "paid": true}
            })
        );
    }

    #[test]
    fn unknown_fields_and_bad_templates_name_their_place() {
        let bad = |value: Value| InboundAction::parse_all(&value).expect_err("refused").field;
        assert_eq!(bad(json!([{"type": "create_ticket", "fields": {"subjet": "x"}}])), "actions[0].fields.subjet");
        assert_eq!(bad(json!([{"type": "create_ticket", "fields": {"status": "new"}}])), "actions[0].fields.subject");
        let no_requester = json!([{"type": "create_ticket", "fields": {"subject": "x", "requester": {"name": "n"}}}]);
        let loaded = InboundAction::parse_all(&no_requester).expect("a stored one still loads");
        let refused = InboundAction::check_before_saving(&loaded).expect_err("every call would fail without one");
        assert_eq!(refused.field, "actions[0].fields.requester.email");
        assert_eq!(bad(json!([{"type": "update_ticket", "fields": {}}])), "actions[0].ticket_id");
        assert_eq!(bad(json!([{"type": "create_ticket", "fields": {"subject": "{{ x"}}])), "actions[0].fields.subject");
        assert_eq!(
            bad(json!([{"type": "create_ticket", "fields": {"subject": "x", "add_tags": "a"}}])),
            "actions[0].fields.add_tags"
        );
        assert_eq!(bad(json!([{"type": "delete_ticket"}])), "actions[0].type");
        assert_eq!(
            bad(json!([{"type": "add_comment", "ticket_id": "1", "body": "x", "public": "no"}])),
            "actions[0].public"
        );
        let ok = json!([{"type": "update_ticket", "ticket_id": 5, "fields": {"add_tags": "paid"}}]);
        let actions = InboundAction::parse_all(&ok).expect("valid");
        assert_eq!(
            actions[0].to_json(),
            json!({"type": "update_ticket", "ticket_id": "5", "fields": {"add_tags": "paid"}})
        );
    }

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
