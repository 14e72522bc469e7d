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

/// Every action, without its value: what the vocabulary declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionName {
    Status,
    Priority,
    Type,
    AssigneeId,
    Group,
    CustomField,
    SetTags,
    AddTags,
    RemoveTags,
    AddComment,
    NotifyWebhook,
}

/// What an action's value is, as the vocabulary declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionValue {
    /// One of these names; `nullable`: or null.
    Names { names: &'static [&'static str], nullable: bool },
    /// A user's id, or null.
    UserId,
    /// Text, or null.
    Text,
    /// Any JSON value.
    Any,
    /// Space-separated tags (or an array of them); `at_least_one`: not none.
    Tags { at_least_one: bool },
    /// `{"body": template, "public": bool}`.
    Comment,
    /// `{"webhook_id", "payload"?: template, "params"?: {name: template}}`.
    Notification,
}

/// An action as the vocabulary declares it: one entry per action.
#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    /// Its name in an action; `custom_fields.KEY` stands for any custom field.
    pub name: &'static str,
    pub value: ActionValue,
    /// Not in macros: a macro changes a ticket, and the triggers that run after it notify.
    pub rules_only: bool,
    pub description: &'static str,
}

impl ActionName {
    /// Every action, in the vocabulary's order.
    pub fn all() -> Vec<ActionName> {
        std::iter::successors(Some(ActionName::Status), |name| name.next()).collect()
    }

    /// The action after this one in [`ActionName::all`]: a new action must be placed here, or
    /// it does not compile.
    fn next(self) -> Option<ActionName> {
        use ActionName as A;
        Some(match self {
            A::Status => A::Priority,
            A::Priority => A::Type,
            A::Type => A::AssigneeId,
            A::AssigneeId => A::Group,
            A::Group => A::CustomField,
            A::CustomField => A::SetTags,
            A::SetTags => A::AddTags,
            A::AddTags => A::RemoveTags,
            A::RemoveTags => A::AddComment,
            A::AddComment => A::NotifyWebhook,
            A::NotifyWebhook => return None,
        })
    }

    /// What the vocabulary says of this action.
    pub fn spec(self) -> ActionSpec {
        use crate::rules::condition::{PRIORITY_NAMES, STATUS_NAMES, TYPE_NAMES};
        let names = |names, nullable| ActionValue::Names { names, nullable };
        let (name, value, description) = match self {
            ActionName::Status => ("status", names(STATUS_NAMES, false), "Set the status"),
            ActionName::Priority => ("priority", names(PRIORITY_NAMES, false), "Set the priority"),
            ActionName::Type => ("type", names(TYPE_NAMES, true), "Set the type, or clear it with null"),
            ActionName::AssigneeId => {
                ("assignee_id", ActionValue::UserId, "Assign to a user by id, or unassign with null")
            }
            ActionName::Group => ("group", ActionValue::Text, "Set the group, or clear it with null"),
            ActionName::CustomField => ("custom_fields.KEY", ActionValue::Any, "Set a custom field to a JSON value"),
            ActionName::SetTags => ("set_tags", ActionValue::Tags { at_least_one: false }, "Replace the tags"),
            ActionName::AddTags => ("add_tags", ActionValue::Tags { at_least_one: true }, "Add tags"),
            ActionName::RemoveTags => ("remove_tags", ActionValue::Tags { at_least_one: true }, "Remove tags"),
            ActionName::AddComment => {
                ("add_comment", ActionValue::Comment, "Add a comment: body is a Liquid template, public by default")
            }
            ActionName::NotifyWebhook => (
                "notify_webhook",
                ActionValue::Notification,
                "Send a webhook (one subscribed to conditional_ticket_events): payload and params are Liquid templates; without payload, the ticket document",
            ),
        };
        ActionSpec { name, value, rules_only: self == ActionName::NotifyWebhook, description }
    }

    /// The action named `text` (`custom_fields.` and a key is a custom field).
    pub fn parse(text: &str) -> Option<ActionName> {
        match text.strip_prefix("custom_fields.") {
            Some(key) => (!key.is_empty() && key.len() <= 128).then_some(ActionName::CustomField),
            None => ActionName::all().into_iter().find(|a| *a != ActionName::CustomField && a.spec().name == text),
        }
    }

    /// Whether rules of `kind` may take this action.
    pub fn serves(self, kind: crate::rules::RuleKind) -> bool {
        kind != crate::rules::RuleKind::Macro || !self.spec().rules_only
    }
}

impl Action {
    /// Which action this is.
    pub fn name(&self) -> ActionName {
        match self {
            Action::Status(_) => ActionName::Status,
            Action::Priority(_) => ActionName::Priority,
            Action::Type(_) => ActionName::Type,
            Action::AssigneeId(_) => ActionName::AssigneeId,
            Action::Group(_) => ActionName::Group,
            Action::CustomField(..) => ActionName::CustomField,
            Action::SetTags(_) => ActionName::SetTags,
            Action::AddTags(_) => ActionName::AddTags,
            Action::RemoveTags(_) => ActionName::RemoveTags,
            Action::AddComment { .. } => ActionName::AddComment,
            Action::NotifyWebhook(_) => ActionName::NotifyWebhook,
        }
    }

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
        let Some(action) = ActionName::parse(field) else {
            let names: Vec<&str> = ActionName::all().iter().map(|a| a.spec().name).collect();
            return Err(Invalid::new(
                "field",
                format!("unknown action field {field:?}; expected one of {}", names.join(", ")),
            ));
        };
        Ok(match action {
            ActionName::Status => {
                Action::Status(value.as_str().and_then(Status::parse).ok_or_else(name(Status::names()))?)
            }
            ActionName::Priority => {
                Action::Priority(value.as_str().and_then(Priority::parse).ok_or_else(name(Priority::names()))?)
            }
            ActionName::Type => Action::Type(match value {
                Value::Null => None,
                v => Some(v.as_str().and_then(TicketType::parse).ok_or_else(name(TicketType::names()))?),
            }),
            ActionName::AssigneeId => Action::AssigneeId(match value {
                Value::Null => None,
                v => Some(v.as_i64().map(UserId).ok_or_else(|| bad("must be an integer user id or null".into()))?),
            }),
            ActionName::Group => Action::Group(match value {
                Value::Null => None,
                Value::String(s) => Some(parse_text("value", s, 255)?),
                _ => return Err(bad("must be a string or null".into())),
            }),
            ActionName::CustomField => {
                Action::CustomField(field.trim_start_matches("custom_fields.").to_owned(), value.clone())
            }
            ActionName::SetTags => Action::SetTags(parse_tags(value).map_err(bad)?),
            ActionName::AddTags => Action::AddTags(non_empty(parse_tags(value).map_err(bad)?).map_err(bad)?),
            ActionName::RemoveTags => Action::RemoveTags(non_empty(parse_tags(value).map_err(bad)?).map_err(bad)?),
            ActionName::AddComment => parse_add_comment(value)?,
            ActionName::NotifyWebhook => Action::NotifyWebhook(parse_notify(value)?),
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
        let value: Value = match self {
            Action::Status(s) => s.as_str().into(),
            Action::Priority(p) => p.as_str().into(),
            Action::Type(t) => t.map_or(Value::Null, |t| t.as_str().into()),
            Action::AssigneeId(a) => (*a).into(),
            Action::Group(g) => g.clone().into(),
            Action::CustomField(_, v) => v.clone(),
            Action::SetTags(t) | Action::AddTags(t) | Action::RemoveTags(t) => tags(t),
            Action::AddComment { body, public } => serde_json::json!({"body": body.source(), "public": public}),
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
                Value::Object(value)
            }
        };
        let field = match self {
            Action::CustomField(key, _) => format!("custom_fields.{key}"),
            other => other.name().spec().name.to_owned(),
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
                Ok((k.clone(), crate::endpoint::param_template(&field, text)?))
            })
            .collect::<Result<_, Invalid>>()?,
        Some(_) => return Err(Invalid::new(format!("{prefix}params"), "must be an object of name: template")),
    };
    Ok(RequestTemplates { payload, params })
}
