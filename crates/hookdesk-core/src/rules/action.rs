//! Actions: `{field, value}`, parsed into a typed change or notification.

use serde::Serialize;
use serde_json::Value;

use crate::Invalid;
use crate::id::{UserId, WebhookId};
use crate::template::Template;
use crate::ticket::{Priority, Status, Tag, TicketFields, TicketType, parse_text};

/// `notify_webhook`'s value: which webhook, and the templates of its request.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyWebhook {
    pub webhook_id: WebhookId,
    pub payload: Option<Template>,
    pub params: Vec<(String, Template)>,
}

/// What an action does beyond the ticket's fields, rendered from the ticket as its rule
/// left it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SideEffect<'a> {
    Comment { body: &'a Template, public: bool },
    Notify(&'a NotifyWebhook),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Status(Status),
    Priority(Priority),
    Type(Option<TicketType>),
    AssigneeId(Option<UserId>),
    Group(Option<String>),
    CustomField(String, Value),
    SetTags(Vec<Tag>),
    AddTags(Vec<Tag>),
    RemoveTags(Vec<Tag>),
    AddComment { body: Template, public: bool },
    NotifyWebhook(NotifyWebhook),
}

const FIELDS: &str = "status, priority, type, assignee_id, group, custom_fields.KEY, set_tags, add_tags, remove_tags, add_comment, notify_webhook";

impl Action {
    /// Parses `{"field", "value"}`; errors name `field` or `value` (and the part of it).
    pub fn parse(raw: &Value) -> Result<Self, Invalid> {
        let Some(object) = raw.as_object() else {
            return Err(Invalid::new("", "an action is an object {\"field\", \"value\"}"));
        };
        if let Some(unknown) = object.keys().find(|k| *k != "field" && *k != "value") {
            return Err(Invalid::new(unknown.as_str(), "unknown key in an action"));
        }
        let field = object.get("field").and_then(Value::as_str).unwrap_or_default();
        let value = object.get("value").unwrap_or(&Value::Null);
        let bad = |message: String| Invalid::new("value", message);
        let name = |names: String| move || bad(format!("must be one of {names}"));
        Ok(match field {
            "status" => Action::Status(value.as_str().and_then(Status::parse).ok_or_else(name(Status::names()))?),
            "priority" => {
                Action::Priority(value.as_str().and_then(Priority::parse).ok_or_else(name(Priority::names()))?)
            }
            "type" => Action::Type(match value {
                Value::Null => None,
                v => Some(v.as_str().and_then(TicketType::parse).ok_or_else(name(TicketType::names()))?),
            }),
            "assignee_id" => Action::AssigneeId(match value {
                Value::Null => None,
                v => Some(v.as_i64().map(UserId).ok_or_else(|| bad("must be an integer user id or null".into()))?),
            }),
            "group" => Action::Group(match value {
                Value::Null => None,
                Value::String(s) => Some(parse_text("value", s, 255)?),
                _ => return Err(bad("must be a string or null".into())),
            }),
            "set_tags" => Action::SetTags(parse_tags(value).map_err(bad)?),
            "add_tags" => Action::AddTags(non_empty(parse_tags(value).map_err(bad)?).map_err(bad)?),
            "remove_tags" => Action::RemoveTags(non_empty(parse_tags(value).map_err(bad)?).map_err(bad)?),
            "add_comment" => parse_add_comment(value)?,
            "notify_webhook" => Action::NotifyWebhook(parse_notify(value)?),
            other => match other.strip_prefix("custom_fields.") {
                Some(key) if !key.is_empty() && key.len() <= 128 => Action::CustomField(key.to_owned(), value.clone()),
                _ => {
                    return Err(Invalid::new(
                        "field",
                        format!("unknown action field {other:?}; expected one of {FIELDS}"),
                    ));
                }
            },
        })
    }

    /// Applies a change to the ticket's fields. Comments and notifications change nothing
    /// here: the caller renders them from the ticket as it is after this trigger's changes.
    pub fn apply(&self, fields: &mut TicketFields) {
        match self {
            Action::Status(s) => fields.status = *s,
            Action::Priority(p) => fields.priority = *p,
            Action::Type(t) => fields.ticket_type = *t,
            Action::AssigneeId(a) => fields.assignee_id = *a,
            Action::Group(g) => fields.group.clone_from(g),
            Action::CustomField(k, v) => {
                fields.custom_fields.insert(k.clone(), v.clone());
            }
            Action::SetTags(tags) => fields.tags = crate::ticket::Tags::new(tags.iter().cloned()),
            Action::AddTags(tags) => fields.tags.add(tags.iter().cloned()),
            Action::RemoveTags(tags) => fields.tags.remove(tags),
            Action::AddComment { .. } | Action::NotifyWebhook(_) => {}
        }
    }

    /// What the action does beyond the ticket's fields. Every action is named here, so that a
    /// new one must say whether it has a side effect (and the update plan handle it).
    pub fn side_effect(&self) -> Option<SideEffect<'_>> {
        match self {
            Action::Status(_)
            | Action::Priority(_)
            | Action::Type(_)
            | Action::AssigneeId(_)
            | Action::Group(_)
            | Action::CustomField(..)
            | Action::SetTags(_)
            | Action::AddTags(_)
            | Action::RemoveTags(_) => None,
            Action::AddComment { body, public } => Some(SideEffect::Comment { body, public: *public }),
            Action::NotifyWebhook(notify) => Some(SideEffect::Notify(notify)),
        }
    }

    /// Whether the action adds a comment.
    pub fn adds_comment(&self) -> bool {
        matches!(self.side_effect(), Some(SideEffect::Comment { .. }))
    }

    /// The ticket field this action writes, named as conditions name it; `None` for comments
    /// and notifications.
    pub fn ticket_field(&self) -> Option<String> {
        Some(match self {
            Action::Status(_) => "status".into(),
            Action::Priority(_) => "priority".into(),
            Action::Type(_) => "type".into(),
            Action::AssigneeId(_) => "assignee_id".into(),
            Action::Group(_) => "group".into(),
            Action::CustomField(k, _) => format!("custom_fields.{k}"),
            Action::SetTags(_) | Action::AddTags(_) | Action::RemoveTags(_) => "tags".into(),
            Action::AddComment { .. } | Action::NotifyWebhook(_) => return None,
        })
    }

    /// The action as the API shows it: `{"field", "value"}`.
    pub fn to_json(&self) -> Value {
        let tags = |t: &[Tag]| Value::from(t.iter().map(Tag::as_str).collect::<Vec<_>>().join(" "));
        let (field, value): (String, Value) = match self {
            Action::Status(s) => ("status".into(), s.as_str().into()),
            Action::Priority(p) => ("priority".into(), p.as_str().into()),
            Action::Type(t) => ("type".into(), t.map_or(Value::Null, |t| t.as_str().into())),
            Action::AssigneeId(a) => ("assignee_id".into(), (*a).into()),
            Action::Group(g) => ("group".into(), g.clone().into()),
            Action::CustomField(k, v) => (format!("custom_fields.{k}"), v.clone()),
            Action::SetTags(t) => ("set_tags".into(), tags(t)),
            Action::AddTags(t) => ("add_tags".into(), tags(t)),
            Action::RemoveTags(t) => ("remove_tags".into(), tags(t)),
            Action::AddComment { body, public } => {
                ("add_comment".into(), serde_json::json!({"body": body.source(), "public": public}))
            }
            Action::NotifyWebhook(n) => {
                let mut value = serde_json::Map::new();
                value.insert("webhook_id".into(), n.webhook_id.clone().into());
                if let Some(payload) = &n.payload {
                    value.insert("payload".into(), payload.source().into());
                }
                if !n.params.is_empty() {
                    let params = n.params.iter().map(|(k, t)| (k.clone(), t.source().into())).collect();
                    value.insert("params".into(), Value::Object(params));
                }
                ("notify_webhook".into(), Value::Object(value))
            }
        };
        serde_json::json!({"field": field, "value": value})
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

fn parse_tags(value: &Value) -> Result<Vec<Tag>, String> {
    match value {
        Value::String(s) => Tag::parse_list(s).map_err(|e| e.message),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().ok_or_else(|| "tags must be strings".to_owned()))
            .map(|s| s.and_then(|s| Tag::parse(s).map_err(|e| e.message)))
            .collect(),
        _ => Err("must be space-separated tags, e.g. \"vip urgent\"".into()),
    }
}

fn non_empty(tags: Vec<Tag>) -> Result<Vec<Tag>, String> {
    if tags.is_empty() { Err("must name at least one tag".into()) } else { Ok(tags) }
}

fn parse_add_comment(value: &Value) -> Result<Action, Invalid> {
    let object =
        value.as_object().ok_or_else(|| Invalid::new("value", "must be {\"body\": template, \"public\": bool}"))?;
    if let Some(unknown) = object.keys().find(|k| *k != "body" && *k != "public") {
        return Err(Invalid::new(format!("value.{unknown}"), "unknown key; expected body or public"));
    }
    let body = object
        .get("body")
        .and_then(Value::as_str)
        .ok_or_else(|| Invalid::new("value.body", "must be a string template"))?;
    if body.trim().is_empty() {
        return Err(Invalid::new("value.body", "must not be empty"));
    }
    let public = match object.get("public") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Invalid::new("value.public", "must be true or false")),
    };
    Ok(Action::AddComment { body: Template::parse("value.body", body)?, public })
}

fn parse_notify(value: &Value) -> Result<NotifyWebhook, Invalid> {
    let object = value
        .as_object()
        .ok_or_else(|| Invalid::new("value", "must be {\"webhook_id\", \"payload\"?, \"params\"?}"))?;
    if let Some(unknown) = object.keys().find(|k| !["webhook_id", "payload", "params"].contains(&k.as_str())) {
        return Err(Invalid::new(format!("value.{unknown}"), "unknown key; expected webhook_id, payload or params"));
    }
    let webhook_id = object
        .get("webhook_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Invalid::new("value.webhook_id", "must be the id of a webhook"))?;
    let webhook_id = WebhookId(webhook_id.to_owned());
    let RequestTemplates { payload, params } =
        request_templates(object.get("payload"), object.get("params"), "value.")?;
    Ok(NotifyWebhook { webhook_id, payload, params })
}

/// The templates of a request a notification or a test send renders.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequestTemplates {
    pub payload: Option<Template>,
    pub params: Vec<(String, Template)>,
}

/// A request's `payload` and `params` templates, as JSON gives them; errors name the field
/// under `prefix` (`value.payload`, `params.q`).
pub fn request_templates(
    payload: Option<&Value>,
    params: Option<&Value>,
    prefix: &str,
) -> Result<RequestTemplates, Invalid> {
    let payload = match payload {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Template::parse(&format!("{prefix}payload"), s)?),
        Some(_) => return Err(Invalid::new(format!("{prefix}payload"), "must be a string template")),
    };
    let params = match params {
        None | Some(Value::Null) => vec![],
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let field = format!("{prefix}params.{k}");
                let text = v.as_str().ok_or_else(|| Invalid::new(&field, "must be a string template"))?;
                Ok((k.clone(), Template::parse(&field, text)?))
            })
            .collect::<Result<_, Invalid>>()?,
        Some(_) => return Err(Invalid::new(format!("{prefix}params"), "must be an object of name: template")),
    };
    Ok(RequestTemplates { payload, params })
}
