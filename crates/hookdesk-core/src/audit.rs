//! The audit trail: one record per ticket update, answering "why did this webhook fire?".

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::Timestamp;
use crate::id::{AuditId, InvocationId, RuleId, TicketId, UserId};
use crate::ticket::TicketFields;

/// What made an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// `POST` or `PATCH /tickets`.
    Api,
    Macro,
    Automation,
    Inbound,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Api => "api",
            Via::Macro => "macro",
            Via::Automation => "automation",
            Via::Inbound => "inbound",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Via::Api, Via::Macro, Via::Automation, Via::Inbound].into_iter().find(|v| v.as_str() == text)
    }
}

/// A rule that fired in an update, in firing order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct FiredRule {
    /// `trigger`, `automation` or `macro`.
    pub kind: String,
    // A trigger's, automation's or macro's id, as `kind` says.
    #[schema(value_type = i64)]
    pub id: RuleId,
    pub title: String,
}

/// An audit record to write; its id and ticket come from the update.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub actor_id: Option<UserId>,
    pub via: Via,
    pub changes: Value,
    pub rules: Vec<FiredRule>,
    pub events: Vec<String>,
    pub invocations: Vec<InvocationId>,
    pub bound_hit: bool,
}

/// One update of one ticket.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Audit {
    #[schema(value_type = i64)]
    pub id: AuditId,
    #[schema(value_type = i64)]
    pub ticket_id: TicketId,
    /// The user the update acted as; null for automations.
    #[schema(value_type = Option<i64>)]
    pub actor_id: Option<UserId>,
    pub via: Via,
    /// Field name to `{"from", "to"}`, for every field the update changed (triggers' changes
    /// included); `comments_added` counts the comments it added.
    #[schema(value_type = Object)]
    pub changes: Value,
    pub rules: Vec<FiredRule>,
    /// The event types it raised.
    pub events: Vec<String>,
    /// The invocations it queued (notifications and event deliveries).
    #[schema(value_type = Vec<String>)]
    pub invocations: Vec<InvocationId>,
    /// True when the trigger cycle stopped at its bound instead of settling.
    pub bound_hit: bool,
    pub created_at: Timestamp,
}

/// `{"field": {"from", "to"}}` for each field that differs between `before` and `after`
/// (all of them when there is no `before`). Compared as typed values: only what changed is
/// turned into JSON, since this runs inside every update's write transaction.
pub fn field_changes(before: Option<&TicketFields>, after: &TicketFields, comments_added: usize) -> Value {
    let mut changes = Map::new();
    let c = &mut changes;
    diff(c, "subject", before, after, |t| t.subject.as_str(), Value::from);
    diff(c, "description", before, after, |t| t.description.as_str(), audited_text);
    diff(c, "status", before, after, |t| t.status, |s| s.as_str().into());
    diff(c, "priority", before, after, |t| t.priority, |p| p.as_str().into());
    diff(c, "type", before, after, |t| t.ticket_type, |t| t.map_or(Value::Null, |t| t.as_str().into()));
    diff(c, "tags", before, after, |t| &t.tags, |tags| tags.iter().map(|t| Value::from(t.as_str())).collect());
    diff(c, "assignee_id", before, after, |t| t.assignee_id, Value::from);
    diff(c, "group", before, after, |t| t.group.as_deref(), Value::from);
    let empty = Map::new();
    let from_custom = before.map_or(&empty, |b| &b.custom_fields);
    for key in from_custom.keys().chain(after.custom_fields.keys()) {
        let (f, t) =
            (from_custom.get(key).unwrap_or(&Value::Null), after.custom_fields.get(key).unwrap_or(&Value::Null));
        if f != t {
            changes.insert(format!("custom_fields.{key}"), json!({"from": f, "to": t}));
        }
    }
    if comments_added > 0 {
        changes.insert("comments_added".into(), comments_added.into());
    }
    Value::Object(changes)
}

/// The most of a long text (a description) an audit keeps, in characters: the ticket holds
/// the whole, and a form posting 64 KiB descriptions must not store each twice over.
pub const AUDITED_TEXT_CHARS: usize = 4096;

fn audited_text(text: &str) -> Value {
    match text.char_indices().nth(AUDITED_TEXT_CHARS) {
        None => Value::from(text),
        Some((end, _)) => {
            let more = text[end..].chars().count();
            Value::from(format!("{} … [{more} more characters]", &text[..end]))
        }
    }
}

/// Notes `name` in `changes` when `read` gives another value after than before.
fn diff<'a, T: PartialEq>(
    changes: &mut Map<String, Value>,
    name: &str,
    before: Option<&'a TicketFields>,
    after: &'a TicketFields,
    read: impl Fn(&'a TicketFields) -> T,
    json: impl Fn(T) -> Value,
) {
    let to = read(after);
    let from = before.map(&read);
    if from.as_ref() != Some(&to) {
        changes.insert(name.to_owned(), json!({"from": from.map_or(Value::Null, &json), "to": json(to)}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::{Status, Tag, Tags};

    #[test]
    fn only_changed_fields_are_listed() {
        let before = TicketFields::default();
        let mut after = before.clone();
        after.status = Status::Open;
        after.tags = Tags::new([Tag::parse("vip").expect("tag")]);
        after.custom_fields.insert("plan".into(), "gold".into());
        let changes = field_changes(Some(&before), &after, 1);
        assert_eq!(
            changes,
            json!({"status": {"from": "new", "to": "open"}, "tags": {"from": [], "to": ["vip"]},
                   "custom_fields.plan": {"from": null, "to": "gold"}, "comments_added": 1})
        );
        assert_eq!(field_changes(Some(&after), &after, 0), json!({}));
        let long = TicketFields { description: "é".repeat(AUDITED_TEXT_CHARS + 10), ..after.clone() };
        let cut = &field_changes(Some(&after), &long, 0)["description"]["to"];
        assert_eq!(cut.as_str().map(|t| t.ends_with("é … [10 more characters]")), Some(true), "{cut}");
        assert_eq!(field_changes(None, &after, 0)["status"], json!({"from": null, "to": "open"}));
    }
}

/// How often a trigger or automation fired lately, as the lists and the overview show it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct RuleFirings {
    /// Firings over the last 7 UTC days, today included.
    pub fired_7d: i64,
    /// The latest firing, if any was recorded.
    #[schema(value_type = Option<String>)]
    pub last_fired_at: Option<crate::Timestamp>,
}
