//! Zendesk's exports as hookdesk's objects: webhooks, triggers, automations and macros as
//! Zendesk's list endpoints return them (`{"triggers": [...]}`), turned into a configuration
//! document (objects by name, webhooks referred to by name) that the app applies with the
//! checks every object gets. What has no equivalent is never guessed: a rule with a condition
//! that cannot be mapped is skipped, one with an action that cannot be mapped is imported
//! inactive without it; the report names the exact condition or action and why.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::Invalid;
use crate::template::lex::{Kind, elements};

/// An object of the export that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Skipped {
    /// `webhook`, `trigger`, `automation` or `macro`.
    pub kind: String,
    /// Its id in Zendesk.
    #[schema(value_type = Object)]
    pub source_id: Value,
    pub title: String,
    pub reason: String,
}

/// What an export becomes.
#[derive(Debug, Clone, Default)]
pub struct Mapped {
    /// A configuration document of the objects to create (by name, none taken on the server).
    pub document: Map<String, Value>,
    pub skipped: Vec<Skipped>,
    /// What was imported other than as it was (inactive, a secret missing, a placeholder that
    /// means nothing here).
    pub warnings: Vec<String>,
}

/// The names already taken on the server, by kind (`webhooks`, `triggers`, ...): an import
/// never takes one (`Name (2)` instead).
pub type TakenNames = HashMap<&'static str, HashSet<String>>;

/// Zendesk's answers as one import: each list joined with the same list of the others (pages
/// of triggers, the webhooks file and the triggers file), `credentials` merged.
pub fn merge(answers: impl IntoIterator<Item = Value>) -> Result<Value, Invalid> {
    let mut merged = Map::new();
    for (i, answer) in answers.into_iter().enumerate() {
        let Value::Object(parts) = answer else {
            return Err(Invalid::new(format!("[{i}]"), "each of Zendesk's answers is a JSON object"));
        };
        for (key, value) in parts {
            match (merged.get_mut(&key), value) {
                (Some(Value::Array(items)), Value::Array(more)) => items.extend(more),
                (Some(Value::Object(items)), Value::Object(more)) => items.extend(more),
                (_, value) => {
                    merged.insert(key, value);
                }
            }
        }
    }
    // Pagination and counts are Zendesk's, not lists to import.
    for key in ["next_page", "previous_page", "count", "meta", "links"] {
        merged.remove(key);
    }
    Ok(Value::Object(merged))
}

/// Maps `export` (any of `webhooks`, `triggers`, `automations`, `macros`, and `credentials`
/// by Zendesk webhook id) to the objects to create.
pub fn map(export: &Value, taken: &TakenNames) -> Result<Mapped, Invalid> {
    let object = export.as_object().ok_or_else(|| {
        Invalid::new("", "an import is an object of Zendesk's lists: {\"webhooks\": [...], \"triggers\": [...], ...}")
    })?;
    const KEYS: [&str; 5] = ["webhooks", "triggers", "automations", "macros", "credentials"];
    // Zendesk's pagination beside its lists.
    const PAGING: [&str; 5] = ["next_page", "previous_page", "count", "meta", "links"];
    if let Some(unknown) = object.keys().find(|k| !KEYS.contains(&k.as_str()) && !PAGING.contains(&k.as_str())) {
        return Err(Invalid::new(
            unknown.as_str(),
            format!("is not one of Zendesk's lists hookdesk imports; expected {}", KEYS.join(", ")),
        ));
    }
    let list = |key: &str| -> Result<Vec<Value>, Invalid> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(_) => Err(Invalid::new(key, "must be a list, as Zendesk's API returns it")),
        }
    };
    let empty = Map::new();
    let credentials = match object.get("credentials") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => Err(Invalid::new("credentials", "must be an object by Zendesk webhook id"))?,
    };
    let mut mapped = Mapped::default();
    let mut names = Names { taken: taken.clone() };
    // Zendesk's webhook ids to the names their copies take.
    let mut webhooks = HashMap::new();
    let mut docs = Vec::new();
    for (i, webhook) in list("webhooks")?.iter().enumerate() {
        match map_webhook(webhook, credentials, &mut mapped.warnings) {
            Ok(mut doc) => {
                let name = names.take("webhooks", doc["name"].as_str().unwrap_or("Zendesk webhook"));
                doc["name"] = Value::String(name.clone());
                webhooks.insert(id_text(&webhook["id"]), name);
                docs.push(doc);
            }
            Err(reason) => mapped.skipped.push(skipped("webhook", webhook, "name", reason, i)),
        }
    }
    mapped.document.insert("webhooks".into(), Value::Array(docs));
    for (section, kind) in [("triggers", "trigger"), ("automations", "automation")] {
        let mut docs = Vec::new();
        // Zendesk lists rules in the order they run.
        let mut rules = list(section)?;
        rules.sort_by_key(|r| r["position"].as_i64().unwrap_or(i64::MAX));
        for (i, rule) in rules.iter().enumerate() {
            match map_rule(rule, kind, &webhooks, &mut mapped.warnings) {
                Ok(mut doc) => {
                    doc["title"] = Value::String(names.take(section, doc["title"].as_str().unwrap_or(kind)));
                    docs.push(doc);
                }
                Err(reason) => mapped.skipped.push(skipped(kind, rule, "title", reason, i)),
            }
        }
        mapped.document.insert(section.into(), Value::Array(docs));
    }
    let mut docs = Vec::new();
    for (i, macro_) in list("macros")?.iter().enumerate() {
        match map_macro(macro_, &mut mapped.warnings) {
            Ok(mut doc) => {
                doc["title"] = Value::String(names.take("macros", doc["title"].as_str().unwrap_or("macro")));
                docs.push(doc);
            }
            Err(reason) => mapped.skipped.push(skipped("macro", macro_, "title", reason, i)),
        }
    }
    mapped.document.insert("macros".into(), Value::Array(docs));
    Ok(mapped)
}

fn skipped(kind: &str, source: &Value, name: &str, reason: String, index: usize) -> Skipped {
    Skipped {
        kind: kind.into(),
        source_id: source.get("id").cloned().unwrap_or_else(|| json!(index)),
        title: source[name].as_str().unwrap_or_default().to_owned(),
        reason,
    }
}

/// An id as Zendesk gives it (a number or a text), as text.
fn id_text(id: &Value) -> String {
    match id {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Names made unique: neither taken on the server nor by an earlier object of the import.
struct Names {
    taken: TakenNames,
}

impl Names {
    fn take(&mut self, section: &'static str, wanted: &str) -> String {
        let wanted = wanted.trim();
        let wanted = if wanted.is_empty() { "Imported from Zendesk" } else { wanted };
        let taken = self.taken.entry(section).or_default();
        let name = (1..)
            .map(|n| if n == 1 { wanted.to_owned() } else { format!("{wanted} ({n})") })
            .find(|name| !taken.contains(name))
            .unwrap_or_default();
        taken.insert(name.clone());
        name
    }
}

fn map_webhook(webhook: &Value, credentials: &Map<String, Value>, warnings: &mut Vec<String>) -> Result<Value, String> {
    let name = webhook["name"].as_str().unwrap_or("Zendesk webhook").to_owned();
    let endpoint = webhook["endpoint"].as_str().ok_or("it has no endpoint")?;
    let request_format = match webhook["request_format"].as_str().unwrap_or("json") {
        "json" => "json",
        "xml" => "xml",
        "form_encoded" => "form",
        other => return Err(format!("its request_format {other:?} has no equivalent")),
    };
    let subscriptions: Vec<String> = match webhook["subscriptions"].as_array() {
        None => vec!["conditional_ticket_events".into()],
        Some(list) => {
            let mut mapped = Vec::new();
            for subscription in list.iter().filter_map(Value::as_str) {
                match subscription {
                    "conditional_ticket_events" => mapped.push(subscription.to_owned()),
                    // zen:event-type:user.created is hookdesk's user.created.
                    event => match event.strip_prefix("zen:event-type:") {
                        Some(event) if crate::event::EventType::parse(event).is_some() => mapped.push(event.to_owned()),
                        _ => warnings.push(format!(
                            "webhook {name:?}: the event {event:?} has no equivalent in hookdesk; it is not subscribed"
                        )),
                    },
                }
            }
            if mapped.is_empty() {
                return Err("none of its subscriptions has an equivalent in hookdesk".into());
            }
            mapped
        }
    };
    let mut active = webhook["status"].as_str() != Some("inactive");
    let given = credentials.get(&id_text(&webhook["id"]));
    let secret = |key: &str| given.and_then(|c| c.get(key)).and_then(Value::as_str).map(str::to_owned);
    let auth = &webhook["authentication"];
    let authentication = match auth["type"].as_str() {
        None => json!({"type": "none"}),
        Some(kind) => {
            let (mapped, needs) = match kind {
                "basic_auth" => (
                    json!({"type": "basic", "username": auth["data"]["username"].as_str().unwrap_or_default(),
                        "password": secret("password")}),
                    "password",
                ),
                "bearer_token" => (json!({"type": "bearer", "token": secret("token")}), "token"),
                "api_key" => (
                    json!({"type": "api_key", "header": auth["data"]["name"].as_str().unwrap_or("X-Api-Key"),
                        "value": secret("value")}),
                    "value",
                ),
                other => return Err(format!("its authentication {other:?} has no equivalent")),
            };
            if secret(needs).is_some() {
                mapped
            } else {
                // Zendesk never exports a secret: the copy sends nothing until it has its own.
                active = false;
                warnings.push(format!(
                    "webhook {name:?} was created inactive without authentication: Zendesk does not export its {kind} secret; give it under credentials[{:?}].{needs}, or set its authentication and activate it",
                    id_text(&webhook["id"])
                ));
                json!({"type": "none"})
            }
        }
    };
    Ok(json!({
        "name": name,
        "description": webhook["description"].as_str().unwrap_or_default(),
        "endpoint": endpoint,
        "http_method": webhook["http_method"].as_str().unwrap_or("POST"),
        "request_format": request_format,
        "status": if active { "active" } else { "inactive" },
        "subscriptions": subscriptions,
        "authentication": authentication,
        "custom_headers": webhook.get("custom_headers").filter(|h| h.is_object()).cloned().unwrap_or(json!({})),
    }))
}

/// The condition operators of Zendesk that hookdesk has, by their names here.
fn operator(zendesk: &str) -> Option<&'static str> {
    Some(match zendesk {
        "is" => "is",
        "is_not" => "is_not",
        "less_than" => "less_than",
        "greater_than" => "greater_than",
        "changed" => "changed",
        "not_changed" => "not_changed",
        "value" => "changed_to",
        "value_previous" => "changed_from",
        "includes" => "includes",
        "not_includes" => "not_includes",
        "present" => "present",
        "not_present" => "not_present",
        _ => return None,
    })
}

/// Zendesk's hours-since fields of automations, as hookdesk's conditions: hours since the
/// ticket took a status (`SOLVED`) is, while it has that status, hours since its status
/// changed.
fn hours_since(field: &str) -> Option<(Option<&'static str>, &'static str)> {
    Some(match field {
        "NEW" => (Some("new"), "hours_since_status_changed"),
        "OPEN" => (Some("open"), "hours_since_status_changed"),
        "PENDING" => (Some("pending"), "hours_since_status_changed"),
        "HOLD" => (Some("hold"), "hours_since_status_changed"),
        "SOLVED" => (Some("solved"), "hours_since_status_changed"),
        "CLOSED" => (Some("closed"), "hours_since_status_changed"),
        "updated_at" => (None, "hours_since_updated"),
        "created_at" => (None, "hours_since_created"),
        _ => return None,
    })
}

/// One Zendesk condition as hookdesk's (one or two of them), or why it cannot be.
fn map_condition(condition: &Value, kind: &str) -> Result<Vec<Value>, String> {
    let field = condition["field"].as_str().unwrap_or_default();
    let zendesk_operator = condition["operator"].as_str().unwrap_or("is");
    let value = &condition["value"];
    let said = || format!("the condition {} {} {}", field, zendesk_operator, value);
    if zendesk_operator.ends_with("business_hours") {
        return Err(format!("{}: business hours have no equivalent in hookdesk", said()));
    }
    if kind == "automation"
        && let Some((status, hours_field)) = hours_since(field)
    {
        let hours = match value {
            Value::String(text) => text.trim().parse::<f64>().ok(),
            other => other.as_f64(),
        }
        .ok_or_else(|| format!("{}: the hours are not a number", said()))?;
        let op = match zendesk_operator {
            "is" | "less_than" | "greater_than" => zendesk_operator,
            _ => return Err(format!("{}: that operator has no equivalent for hours", said())),
        };
        let mut mapped = vec![json!({"field": hours_field, "operator": op, "value": hours})];
        if let Some(status) = status {
            mapped.insert(0, json!({"field": "status", "operator": "is", "value": status}));
        }
        return Ok(mapped);
    }
    let op =
        operator(zendesk_operator).ok_or_else(|| format!("{}: the operator has no equivalent in hookdesk", said()))?;
    let text = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
    let with = |field: &str, value: Option<Value>| {
        let mut condition = json!({"field": field, "operator": op});
        if let Some(value) = value.filter(|_| !matches!(op, "changed" | "not_changed" | "present" | "not_present")) {
            condition["value"] = value;
        }
        Ok(vec![condition])
    };
    match field {
        "status" | "priority" | "type" => with(field, Some(json!(text(value).to_lowercase()))),
        "current_tags" | "tags" => with("tags", Some(json!(text(value)))),
        "update_type" => with("update_type", Some(json!(text(value).to_lowercase()))),
        "comment_is_public" => match text(value).as_str() {
            "true" => with("comment_is_public", Some(json!(true))),
            "false" => with("comment_is_public", Some(json!(false))),
            other => Err(format!("{}: {other:?} has no equivalent (true or false)", said())),
        },
        "assignee_id" => match text(value).as_str() {
            // "" is no one: is "" means no assignee.
            "" => match op {
                "is" => Ok(vec![json!({"field": "assignee_id", "operator": "not_present"})]),
                "is_not" => Ok(vec![json!({"field": "assignee_id", "operator": "present"})]),
                _ => with("assignee_id", None),
            },
            _ if matches!(op, "changed" | "not_changed" | "present" | "not_present") => with("assignee_id", None),
            id => Err(format!(
                "{}: {id} is a Zendesk user, and hookdesk has no map from Zendesk's users to its own",
                said()
            )),
        },
        "requester_id" | "group_id" | "organization_id" | "brand_id" | "ticket_form_id" => Err(format!(
            "{}: {field} names Zendesk's own records (users, groups, organizations), which hookdesk cannot map",
            said()
        )),
        "via_id" => Err(format!("{}: the channel a ticket came by (via_id) has no equivalent in hookdesk", said())),
        custom if custom.starts_with("custom_fields_") => Err(format!(
            "{}: a Zendesk custom field by its numeric id; hookdesk's custom fields have keys of their own",
            said()
        )),
        _ => Err(format!("{}: the field has no equivalent in hookdesk", said())),
    }
}

fn map_conditions(rule: &Value, kind: &str) -> Result<Value, String> {
    let mut out = json!({"all": [], "any": []});
    for list in ["all", "any"] {
        for condition in rule["conditions"][list].as_array().into_iter().flatten() {
            let mapped = map_condition(condition, kind)?;
            if let Some(items) = out[list].as_array_mut() {
                items.extend(mapped);
            }
        }
    }
    Ok(out)
}

/// Zendesk's action values: a text, or for a comment `["channel:all", "text"]`.
fn action_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(Value::as_str).next_back().unwrap_or_default().to_owned(),
        other => other.to_string(),
    }
}

/// A rule's or macro's actions as hookdesk's; each one with no equivalent is said in `left_out`.
fn map_actions(
    actions: &[Value],
    webhooks: &HashMap<String, String>,
    left_out: &mut Vec<String>,
    placeholders: &mut Vec<String>,
) -> Vec<Value> {
    let mut mapped = Vec::new();
    // Zendesk sets a comment's visibility with an action of its own, before or after it.
    let public =
        actions.iter().find(|a| a["field"] == "comment_mode_is_public").map(|a| action_text(&a["value"]) != "false");
    for action in actions {
        let field = action["field"].as_str().unwrap_or_default();
        let value = &action["value"];
        match field {
            "status" | "priority" | "type" => mapped.push(json!({"field": field, "value": action_text(value).to_lowercase()})),
            "set_tags" => mapped.push(json!({"field": "set_tags", "value": action_text(value)})),
            "current_tags" => mapped.push(json!({"field": "add_tags", "value": action_text(value)})),
            "remove_tags" => mapped.push(json!({"field": "remove_tags", "value": action_text(value)})),
            "comment_value" | "comment_value_html" => mapped.push(json!({"field": "add_comment", "value": {
                "body": rewrite_placeholders(&action_text(value), placeholders), "public": public.unwrap_or(true)}})),
            "comment_mode_is_public" => {}
            "assignee_id" if action_text(value).is_empty() => mapped.push(json!({"field": "assignee_id", "value": null})),
            "notification_webhook" => {
                let parts = value.as_array().cloned().unwrap_or_default();
                let id = parts.first().map(id_text).unwrap_or_default();
                match webhooks.get(&id) {
                    Some(name) => {
                        let mut notify = json!({"webhook": name});
                        if let Some(payload) = parts.get(1).and_then(Value::as_str).filter(|p| !p.trim().is_empty()) {
                            notify["payload"] = Value::String(escaped_json_placeholders(rewrite_placeholders(payload, placeholders)));
                        }
                        mapped.push(json!({"field": "notify_webhook", "value": notify}));
                    }
                    None => left_out.push(format!(
                        "the action notification_webhook {id}: that Zendesk webhook is not in this import (export it too)"
                    )),
                }
            }
            "notification_user" | "notification_group" | "notification_target" => left_out.push(format!(
                "the action {field}: e-mail notifications and legacy targets have no equivalent in hookdesk (notify a webhook)"
            )),
            "assignee_id" | "group_id" => left_out.push(format!(
                "the action {field} {}: Zendesk's users and groups cannot be mapped to hookdesk's",
                action_text(value)
            )),
            other => left_out.push(format!("the action {other}: it has no equivalent in hookdesk")),
        }
    }
    mapped
}

fn map_rule(
    rule: &Value,
    kind: &str,
    webhooks: &HashMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<Value, String> {
    let title = rule["title"].as_str().unwrap_or(kind).to_owned();
    let conditions = map_conditions(rule, kind)?;
    let mut left_out = Vec::new();
    let mut placeholders = Vec::new();
    let actions = map_actions(
        rule["actions"].as_array().map(Vec::as_slice).unwrap_or_default(),
        webhooks,
        &mut left_out,
        &mut placeholders,
    );
    if actions.is_empty() {
        return Err(if left_out.is_empty() {
            "it has no action".into()
        } else {
            format!("none of its actions can be imported: {}", left_out.join("; "))
        });
    }
    let mut active = rule["active"].as_bool().unwrap_or(true);
    if !left_out.is_empty() {
        active = false;
        warnings.push(format!("{kind} {title:?} was imported inactive without {}", left_out.join("; ")));
    }
    if !placeholders.is_empty() {
        warnings
            .push(format!("{kind} {title:?} uses placeholders hookdesk does not have: {}", placeholders.join(", ")));
    }
    Ok(json!({
        "title": title,
        "description": rule["description"].as_str().unwrap_or_default(),
        "active": active,
        "conditions": conditions,
        "actions": actions,
    }))
}

fn map_macro(macro_: &Value, warnings: &mut Vec<String>) -> Result<Value, String> {
    let title = macro_["title"].as_str().unwrap_or("macro").to_owned();
    let mut left_out = Vec::new();
    let mut placeholders = Vec::new();
    let actions = map_actions(
        macro_["actions"].as_array().map(Vec::as_slice).unwrap_or_default(),
        &HashMap::new(),
        &mut left_out,
        &mut placeholders,
    );
    if actions.is_empty() {
        return Err(format!("none of its actions can be imported: {}", left_out.join("; ")));
    }
    let mut active = macro_["active"].as_bool().unwrap_or(true);
    if !left_out.is_empty() {
        active = false;
        warnings.push(format!("macro {title:?} was imported inactive without {}", left_out.join("; ")));
    }
    if !placeholders.is_empty() {
        warnings.push(format!("macro {title:?} uses placeholders hookdesk does not have: {}", placeholders.join(", ")));
    }
    Ok(json!({"title": title, "description": macro_["description"].as_str().unwrap_or_default(),
        "active": active, "actions": actions}))
}

/// Zendesk's placeholders with hookdesk's names for the same values.
const RENAMED: &[(&str, &str)] = &[
    ("ticket.title", "ticket.subject"),
    ("ticket.ticket_type", "ticket.type"),
    ("ticket.latest_comment", "ticket.latest_comment.body"),
    ("ticket.latest_public_comment", "ticket.latest_comment.body"),
    ("ticket.group.name", "ticket.group"),
    ("ticket.link", "ticket.url"),
];

/// What hookdesk's context holds as Zendesk's placeholders name it.
const KEPT: &[&str] = &[
    "ticket.id",
    "ticket.url",
    "ticket.subject",
    "ticket.description",
    "ticket.status",
    "ticket.priority",
    "ticket.type",
    "ticket.tags",
    "ticket.group",
    "ticket.assignee_id",
    "ticket.created_at",
    "ticket.updated_at",
    "ticket.requester.name",
    "ticket.requester.email",
    "ticket.requester.id",
    "current_user.name",
    "current_user.email",
    "current_user.id",
    "current_user.role",
];

/// `template` with Zendesk's placeholders renamed to hookdesk's (`{{ticket.title}}` is
/// `{{ticket.subject}}`; `{{ticket.tags}}`, a list here, is joined as Zendesk prints it). A
/// placeholder with no equivalent is kept (it renders empty) and named in `unknown`.
pub fn rewrite_placeholders(template: &str, unknown: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(template.len());
    for element in elements(template) {
        let text = &template[element.start..element.end];
        let Kind::Output { markup } = element.kind else {
            out.push_str(text);
            continue;
        };
        let (name, rest) = markup.split_once('|').map_or((markup.trim(), ""), |(n, r)| (n.trim(), r));
        let renamed = RENAMED.iter().find(|(from, _)| *from == name).map(|(_, to)| *to);
        let known = renamed.unwrap_or(name);
        let ours = ["ticket.", "current_user.", "satisfaction."].iter().any(|p| name.starts_with(p));
        if ours && !KEPT.contains(&known) && !unknown.iter().any(|u| u == name) {
            unknown.push(name.to_owned());
        }
        let filters = if rest.is_empty() { String::new() } else { format!(" |{rest}") };
        if known == "ticket.tags" && rest.is_empty() {
            out.push_str("{{ ticket.tags | join: \" \" }}");
        } else {
            out.push_str(&format!("{{{{ {known}{filters} }}}}"));
        }
    }
    out
}

/// A JSON body with each placeholder that is a whole string (`"{{ticket.title}}"`) written as
/// the escaped literal (`{{ticket.title | json}}`): Zendesk escapes placeholders in JSON
/// bodies, Liquid does not, and a quote in a title would change the document's structure.
fn escaped_json_placeholders(payload: String) -> String {
    if payload.trim_start().starts_with(['{', '[']) {
        crate::template::json_escape_whole_strings(&payload)
    } else {
        payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_hookdesk_names() {
        let mut unknown = Vec::new();
        let rewritten = rewrite_placeholders(
            "{\"text\": \"{{ticket.title}} ({{ticket.id}}, {{ticket.tags}}) {{ticket.title | upcase}} by {{current_user.name}} {{ticket.organization.name}}\"}",
            &mut unknown,
        );
        assert_eq!(
            rewritten,
            "{\"text\": \"{{ ticket.subject }} ({{ ticket.id }}, {{ ticket.tags | join: \" \" }}) {{ ticket.subject | upcase }} by {{ current_user.name }} {{ ticket.organization.name }}\"}"
        );
        assert_eq!(unknown, ["ticket.organization.name"]);
    }

    #[test]
    fn names_never_take_one_taken() {
        let mut names = Names { taken: HashMap::from([("webhooks", HashSet::from(["Slack".to_owned()]))]) };
        assert_eq!(names.take("webhooks", "Slack"), "Slack (2)");
        assert_eq!(names.take("webhooks", "Slack"), "Slack (3)");
        assert_eq!(names.take("triggers", "Slack"), "Slack");
    }

    #[test]
    fn conditions_map_or_say_why_not() {
        let mapped = |c: Value, kind| map_condition(&c, kind);
        assert_eq!(
            mapped(json!({"field": "status", "operator": "value", "value": "solved"}), "trigger"),
            Ok(vec![json!({"field": "status", "operator": "changed_to", "value": "solved"})])
        );
        assert_eq!(
            mapped(json!({"field": "update_type", "operator": "is", "value": "Change"}), "trigger"),
            Ok(vec![json!({"field": "update_type", "operator": "is", "value": "change"})])
        );
        assert_eq!(
            mapped(json!({"field": "SOLVED", "operator": "greater_than", "value": "96"}), "automation"),
            Ok(vec![
                json!({"field": "status", "operator": "is", "value": "solved"}),
                json!({"field": "hours_since_status_changed", "operator": "greater_than", "value": 96.0})
            ])
        );
        assert_eq!(
            mapped(json!({"field": "assignee_id", "operator": "is", "value": ""}), "trigger"),
            Ok(vec![json!({"field": "assignee_id", "operator": "not_present"})])
        );
        for (condition, said) in [
            (json!({"field": "via_id", "operator": "is", "value": 4}), "via_id"),
            (json!({"field": "requester_id", "operator": "is", "value": 1234}), "requester_id"),
            (json!({"field": "custom_fields_360001", "operator": "is", "value": "x"}), "custom field"),
            (json!({"field": "SOLVED", "operator": "greater_than_business_hours", "value": "4"}), "business hours"),
            (json!({"field": "status", "operator": "not_value", "value": "open"}), "operator"),
        ] {
            let reason = mapped(condition.clone(), "automation").expect_err("unmappable");
            assert!(reason.contains(said), "{condition}: {reason}");
        }
    }
}
