//! The ticket actions an inbound call runs: ticket bodies and ids whose strings are templates
//! over the request, parsed when the webhook is saved and rendered at each call.

use serde_json::{Map, Value};

use crate::Invalid;
use crate::id::TicketId;
use crate::template::{Context, RenderError, Rendering, Template};
use crate::text::cut;

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
) -> Result<TicketId, Invalid> {
    let text = rendering.render(template, context).map_err(|e| e.invalid(field))?;
    match text.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(TicketId(id)),
        _ => Err(Invalid::new(field, format!("rendered {:?}, which is not a ticket id", cut(&text, 64)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
