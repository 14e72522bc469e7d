//! Conditions: `{field, operator, value}`, parsed into a typed test on a ticket update.

use serde::Serialize;
use serde_json::Value;

use super::RuleKind;
use super::cycle::UpdateContext;
use crate::Invalid;
use crate::ticket::{Priority, Status, Tag, TicketFields, TicketType};
use crate::user::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    UpdateType,
    Status,
    Priority,
    Type,
    Tags,
    Subject,
    Description,
    Comment,
    CommentIsPublic,
    AssigneeId,
    Group,
    RequesterEmail,
    CustomField(String),
    CurrentUserRole,
    /// Automations only: hours since the ticket was created, last updated, or changed status.
    HoursSince(Since),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    Created,
    Updated,
    StatusChanged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Is,
    IsNot,
    LessThan,
    GreaterThan,
    Changed,
    NotChanged,
    ChangedTo,
    ChangedFrom,
    Includes,
    NotIncludes,
    Contains,
    NotContains,
    Present,
    NotPresent,
}

use Operator as Op;

pub(crate) const OPERATORS: &[(&str, Operator)] = &[
    ("is", Op::Is),
    ("is_not", Op::IsNot),
    ("less_than", Op::LessThan),
    ("greater_than", Op::GreaterThan),
    ("changed", Op::Changed),
    ("not_changed", Op::NotChanged),
    ("changed_to", Op::ChangedTo),
    ("changed_from", Op::ChangedFrom),
    ("includes", Op::Includes),
    ("not_includes", Op::NotIncludes),
    ("contains", Op::Contains),
    ("not_contains", Op::NotContains),
    ("present", Op::Present),
    ("not_present", Op::NotPresent),
];

impl Operator {
    fn parse(text: &str) -> Option<Self> {
        OPERATORS.iter().find(|(n, _)| *n == text).map(|(_, o)| *o)
    }

    pub fn as_str(self) -> &'static str {
        OPERATORS.iter().find(|(_, o)| *o == self).map_or("", |(n, _)| n)
    }

    /// Whether the operator compares with a value (`changed` and `present` take none).
    pub fn takes_value(self) -> bool {
        !matches!(self, Op::Changed | Op::NotChanged | Op::Present | Op::NotPresent)
    }
}

/// What kind of value a field holds, which decides the operators and values it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A closed set of names; `ordered` allows less_than / greater_than.
    Names {
        names: &'static [&'static str],
        ordered: bool,
        tracked: bool,
        optional: bool,
    },
    Tags,
    Text {
        tracked: bool,
    },
    Bool,
    Id,
    Json,
    Hours,
}

impl Kind {
    /// The operators a field of this kind takes, in the contract's order.
    pub fn operators(self) -> Vec<Operator> {
        OPERATORS.iter().map(|(_, op)| *op).filter(|op| self.allows(*op)).collect()
    }

    fn allows(self, op: Operator) -> bool {
        let tracked_ops = [Op::Changed, Op::NotChanged, Op::ChangedTo, Op::ChangedFrom];
        match self {
            Kind::Names { ordered, tracked, optional, .. } => {
                matches!(op, Op::Is | Op::IsNot)
                    || (ordered && matches!(op, Op::LessThan | Op::GreaterThan))
                    || (tracked && tracked_ops.contains(&op))
                    || (optional && matches!(op, Op::Present | Op::NotPresent))
            }
            Kind::Tags => matches!(op, Op::Includes | Op::NotIncludes | Op::Changed | Op::NotChanged),
            Kind::Text { tracked } => {
                matches!(op, Op::Is | Op::IsNot | Op::Contains | Op::NotContains | Op::Present | Op::NotPresent)
                    || (tracked && matches!(op, Op::Changed | Op::NotChanged))
            }
            Kind::Bool => matches!(op, Op::Is | Op::IsNot),
            Kind::Id => matches!(op, Op::Is | Op::IsNot | Op::Present | Op::NotPresent) || tracked_ops.contains(&op),
            Kind::Json => !matches!(op, Op::Includes | Op::NotIncludes),
            Kind::Hours => matches!(op, Op::Is | Op::IsNot | Op::LessThan | Op::GreaterThan),
        }
    }
}

pub const STATUS_NAMES: &[&str] = &["new", "open", "pending", "hold", "solved", "closed"];
pub const PRIORITY_NAMES: &[&str] = &["low", "normal", "high", "urgent"];
pub const TYPE_NAMES: &[&str] = &["question", "incident", "problem", "task"];
const UPDATE_TYPES: &[&str] = &["create", "change"];
const ROLE_NAMES: &[&str] = &["end_user", "agent", "admin"];

/// A condition field as the vocabulary declares it: one entry per field.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// Its name in a condition; `custom_fields.KEY` stands for any custom field.
    pub name: &'static str,
    pub kind: Kind,
    /// Automations only (a trigger runs on an update, not on time).
    pub automations_only: bool,
    pub description: &'static str,
}

impl Field {
    /// Every field, in the vocabulary's order (a custom field as `custom_fields.KEY`).
    pub fn all() -> Vec<Field> {
        std::iter::successors(Some(Field::UpdateType), Field::next).collect()
    }

    /// The field after this one in [`Field::all`]: a new field must be placed here, or it
    /// does not compile.
    fn next(&self) -> Option<Field> {
        Some(match self {
            Field::UpdateType => Field::Status,
            Field::Status => Field::Priority,
            Field::Priority => Field::Type,
            Field::Type => Field::Tags,
            Field::Tags => Field::Subject,
            Field::Subject => Field::Description,
            Field::Description => Field::Comment,
            Field::Comment => Field::CommentIsPublic,
            Field::CommentIsPublic => Field::AssigneeId,
            Field::AssigneeId => Field::Group,
            Field::Group => Field::RequesterEmail,
            Field::RequesterEmail => Field::CustomField("KEY".into()),
            Field::CustomField(_) => Field::CurrentUserRole,
            Field::CurrentUserRole => Field::HoursSince(Since::Created),
            Field::HoursSince(Since::Created) => Field::HoursSince(Since::Updated),
            Field::HoursSince(Since::Updated) => Field::HoursSince(Since::StatusChanged),
            Field::HoursSince(Since::StatusChanged) => return None,
        })
    }

    /// What the vocabulary says of this field.
    pub fn spec(&self) -> FieldSpec {
        let names = |names, ordered, tracked, optional| Kind::Names { names, ordered, tracked, optional };
        let (name, kind, description) = match self {
            Field::UpdateType => (
                "update_type",
                names(UPDATE_TYPES, false, false, false),
                "Whether the update created the ticket or changed it",
            ),
            Field::Status => {
                ("status", names(STATUS_NAMES, true, true, false), "The ticket's status, ordered new to closed")
            }
            Field::Priority => {
                ("priority", names(PRIORITY_NAMES, true, true, false), "The ticket's priority, ordered low to urgent")
            }
            Field::Type => ("type", names(TYPE_NAMES, false, true, true), "The ticket's type, or none"),
            Field::Tags => ("tags", Kind::Tags, "The ticket's tags: includes any of the space-separated values"),
            Field::Subject => {
                ("subject", Kind::Text { tracked: true }, "The ticket's subject (case-insensitive, whole words)")
            }
            Field::Description => ("description", Kind::Text { tracked: true }, "The ticket's description"),
            Field::Comment => ("comment", Kind::Text { tracked: false }, "The text of the comment this update adds"),
            Field::CommentIsPublic => {
                ("comment_is_public", Kind::Bool, "Whether the comment this update adds is public")
            }
            Field::AssigneeId => ("assignee_id", Kind::Id, "The assignee's user id, or none"),
            Field::Group => ("group", Kind::Text { tracked: true }, "The ticket's group, or none"),
            Field::RequesterEmail => {
                ("requester_email", Kind::Text { tracked: false }, "The requester's email address")
            }
            Field::CustomField(_) => {
                ("custom_fields.KEY", Kind::Json, "A custom field: any JSON value, numbers compared as numbers")
            }
            Field::CurrentUserRole => {
                ("current_user.role", names(ROLE_NAMES, false, false, false), "The role of who made the update")
            }
            Field::HoursSince(Since::Created) => {
                ("hours_since_created", Kind::Hours, "Hours since the ticket was created")
            }
            Field::HoursSince(Since::Updated) => {
                ("hours_since_updated", Kind::Hours, "Hours since the ticket was last updated")
            }
            Field::HoursSince(Since::StatusChanged) => {
                ("hours_since_status_changed", Kind::Hours, "Hours since the ticket's status last changed")
            }
        };
        FieldSpec { name, kind, automations_only: matches!(self, Field::HoursSince(_)), description }
    }

    fn parse(text: &str) -> Option<Self> {
        if let Some(key) = text.strip_prefix("custom_fields.") {
            return (!key.is_empty()).then(|| Field::CustomField(key.to_owned()));
        }
        Field::all().into_iter().find(|field| !matches!(field, Field::CustomField(_)) && field.spec().name == text)
    }

    fn name(&self) -> String {
        match self {
            Field::CustomField(key) => format!("custom_fields.{key}"),
            other => other.spec().name.to_owned(),
        }
    }

    fn kind(&self) -> Kind {
        self.spec().kind
    }

    fn allows(&self, op: Operator) -> bool {
        self.kind().allows(op)
    }

    /// Whether rules of `kind` may test this field.
    pub fn serves(&self, kind: RuleKind) -> bool {
        match kind {
            RuleKind::Trigger => !self.spec().automations_only,
            RuleKind::Automation => true,
            RuleKind::Macro => false,
        }
    }

    /// The field's value in `fields` (for ticket fields) or in the update (the rest).
    fn read(&self, fields: &TicketFields, update: &UpdateContext<'_>) -> Value {
        match self {
            Field::UpdateType => update.update_type.as_str().into(),
            Field::Status => fields.status.as_str().into(),
            Field::Priority => fields.priority.as_str().into(),
            Field::Type => fields.ticket_type.map_or(Value::Null, |t| t.as_str().into()),
            Field::Tags => fields.tags.iter().map(|t| Value::from(t.as_str())).collect(),
            Field::Subject => fields.subject.as_str().into(),
            Field::Description => fields.description.as_str().into(),
            Field::Comment => update.comment.map_or(Value::Null, |c| c.body.as_str().into()),
            Field::CommentIsPublic => update.comment.map_or(Value::Null, |c| c.public.into()),
            Field::AssigneeId => fields.assignee_id.map_or(Value::Null, Value::from),
            Field::Group => fields.group.as_deref().map_or(Value::Null, Value::from),
            Field::RequesterEmail => update.requester_email.into(),
            Field::CustomField(key) => fields.custom_fields.get(key).cloned().unwrap_or(Value::Null),
            Field::CurrentUserRole => update.current_user_role.map_or(Value::Null, |r| r.as_str().into()),
            Field::HoursSince(since) => update.times.map_or(Value::Null, |t| t.hours_since(*since).into()),
        }
    }
}

/// One condition, valid by construction.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    field: Field,
    operator: Operator,
    value: Value,
    /// For `tags` conditions: the parsed tags of `value`.
    tags: Vec<Tag>,
    source: Value,
}

impl Serialize for Condition {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.source.serialize(serializer)
    }
}

impl Condition {
    /// Parses `{"field", "operator", "value"}`; errors name `field`, `operator` or `value`.
    pub fn parse(raw: &Value) -> Result<Self, Invalid> {
        let Some(object) = raw.as_object() else {
            return Err(Invalid::new("", "a condition is an object {\"field\", \"operator\", \"value\"}"));
        };
        if let Some(unknown) = object.keys().find(|k| !["field", "operator", "value"].contains(&k.as_str())) {
            return Err(Invalid::new(unknown.as_str(), "unknown key in a condition"));
        }
        let field_name = object.get("field").and_then(Value::as_str).unwrap_or_default();
        let field = Field::parse(field_name).ok_or_else(|| {
            let names: Vec<&str> = Field::all().iter().map(|f| f.spec().name).collect();
            Invalid::new("field", format!("unknown field {field_name:?}; expected one of {}", names.join(", ")))
        })?;
        let op_name = object.get("operator").and_then(Value::as_str).unwrap_or_default();
        let operator = Operator::parse(op_name).ok_or_else(|| {
            let names: Vec<_> = OPERATORS.iter().map(|(n, _)| *n).collect();
            Invalid::new("operator", format!("unknown operator {op_name:?}; expected one of {}", names.join(", ")))
        })?;
        if !field.allows(operator) {
            return Err(Invalid::new(
                "operator",
                format!("operator {op_name:?} does not apply to field {:?}", field.name()),
            ));
        }
        let value = object.get("value").cloned().unwrap_or(Value::Null);
        let tags = check_value(&field, operator, &value).map_err(|m| Invalid::new("value", m))?;
        let value = normalise(&field, value);
        Ok(Self { field, operator, value, tags, source: raw.clone() })
    }

    pub fn holds(&self, fields: &TicketFields, update: &UpdateContext<'_>) -> bool {
        let now = self.field.read(fields, update);
        let before = || update.previous.map_or(Value::Null, |p| self.field.read(p, update));
        match self.operator {
            Op::Is => equal(&now, &self.value),
            Op::IsNot => !equal(&now, &self.value),
            Op::LessThan => self.compare(&now).is_some_and(std::cmp::Ordering::is_lt),
            Op::GreaterThan => self.compare(&now).is_some_and(std::cmp::Ordering::is_gt),
            Op::Changed => self.changed(&now, &before()),
            Op::NotChanged => !self.changed(&now, &before()),
            Op::ChangedTo => self.changed(&now, &before()) && equal(&now, &self.value),
            Op::ChangedFrom => self.changed(&now, &before()) && equal(&before(), &self.value),
            Op::Includes => self.tags.iter().any(|t| fields.tags.contains(t)),
            Op::NotIncludes => !self.tags.iter().any(|t| fields.tags.contains(t)),
            Op::Contains => contains(&now, &self.value),
            Op::NotContains => !contains(&now, &self.value),
            Op::Present => is_present(&now),
            Op::NotPresent => !is_present(&now),
        }
    }

    /// An `hours_since_*` condition: automations only.
    pub fn is_time_based(&self) -> bool {
        matches!(self.field, Field::HoursSince(_))
    }

    /// The ticket field this condition reads, as an action names it (`status`, `tags`,
    /// `custom_fields.KEY`); `None` for what no action can change.
    pub fn ticket_field(&self) -> Option<String> {
        match self.field {
            Field::Status
            | Field::Priority
            | Field::Type
            | Field::Tags
            | Field::AssigneeId
            | Field::Group
            | Field::CustomField(_) => Some(self.field.name()),
            _ => None,
        }
    }

    /// For tag conditions: the tags it names.
    pub fn tags(&self) -> &[Tag] {
        &self.tags
    }

    fn changed(&self, now: &Value, before: &Value) -> bool {
        match (&self.field, now, before) {
            // Tags are a set: reordering is not a change.
            (Field::Tags, Value::Array(a), Value::Array(b)) => a.len() != b.len() || a.iter().any(|t| !b.contains(t)),
            (Field::Tags, Value::Array(a), Value::Null) => !a.is_empty(),
            _ => now != before,
        }
    }

    /// Orders statuses and priorities as the contract lists them; numbers numerically.
    fn compare(&self, now: &Value) -> Option<std::cmp::Ordering> {
        if let Kind::Names { names, .. } = self.field.kind() {
            let rank = |v: &Value| names.iter().position(|n| Some(*n) == v.as_str());
            return Some(rank(now)?.cmp(&rank(&self.value)?));
        }
        now.as_f64()?.partial_cmp(&self.value.as_f64()?)
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Case-insensitive and word-aware: the needle (a word or a phrase) matches only where it is
/// not part of a longer word, so `bug` finds "A BUG" and "bug-fix" but not "debug".
fn contains(haystack: &Value, needle: &Value) -> bool {
    let (Some(haystack), Some(needle)) = (haystack.as_str(), needle.as_str()) else {
        return false;
    };
    let (haystack, needle) = (haystack.to_lowercase(), needle.trim().to_lowercase());
    if needle.is_empty() {
        return false;
    }
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    haystack.match_indices(&needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        let starts_word = needle.chars().next().is_some_and(char::is_alphanumeric);
        let ends_word = needle.chars().next_back().is_some_and(char::is_alphanumeric);
        let inside_a_word = (starts_word && is_word(before)) || (ends_word && is_word(after));
        !inside_a_word
    })
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    }
}

/// Checks that `value` fits `field` and `operator`; returns the parsed tags for tag fields.
fn check_value(field: &Field, operator: Operator, value: &Value) -> Result<Vec<Tag>, String> {
    if !operator.takes_value() {
        return if value.is_null() { Ok(vec![]) } else { Err("this operator takes no value".into()) };
    }
    match field.kind() {
        Kind::Names { names, .. } => match value.as_str() {
            Some(name) if names.contains(&name) => Ok(vec![]),
            _ => Err(format!("must be one of {}", names.join(", "))),
        },
        Kind::Tags => {
            let tags = match value {
                Value::String(s) => Tag::parse_list(s).map_err(|e| e.message)?,
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().ok_or("tags must be strings").map(Tag::parse))
                    .collect::<Result<Result<Vec<_>, _>, _>>()?
                    .map_err(|e| e.message)?,
                _ => return Err("must be space-separated tags".into()),
            };
            if tags.is_empty() { Err("must name at least one tag".into()) } else { Ok(tags) }
        }
        Kind::Text { .. } => {
            if value.is_string() {
                Ok(vec![])
            } else {
                Err("must be a string".into())
            }
        }
        Kind::Bool => {
            if value.is_boolean() {
                Ok(vec![])
            } else {
                Err("must be true or false".into())
            }
        }
        Kind::Id => {
            if value.is_i64() || value.is_null() {
                Ok(vec![])
            } else {
                Err("must be an integer id or null".into())
            }
        }
        Kind::Hours => {
            if value.as_f64().is_some_and(|h| h >= 0.0) {
                Ok(vec![])
            } else {
                Err("must be a number of hours, 0 or more".into())
            }
        }
        Kind::Json => {
            let numeric = matches!(operator, Op::LessThan | Op::GreaterThan);
            let textual = matches!(operator, Op::Contains | Op::NotContains);
            if numeric && !value.is_number() {
                Err("must be a number".into())
            } else if textual && !value.is_string() {
                Err("must be a string".into())
            } else {
                Ok(vec![])
            }
        }
    }
}

/// Makes values comparable with what [`Field::read`] returns.
fn normalise(field: &Field, value: Value) -> Value {
    match (field, &value) {
        (Field::RequesterEmail, Value::String(s)) => s.trim().to_lowercase().into(),
        _ => value,
    }
}

/// `{"all": [...], "any": [...]}`: every `all` holds and, when `any` is not empty, one of it.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Conditions {
    pub all: Vec<Condition>,
    pub any: Vec<Condition>,
}

impl Conditions {
    pub fn parse(raw: &Value) -> Result<Self, Invalid> {
        let Some(object) = raw.as_object() else {
            return Err(Invalid::new("conditions", "must be an object {\"all\": [...], \"any\": [...]}"));
        };
        if let Some(unknown) = object.keys().find(|k| *k != "all" && *k != "any") {
            return Err(Invalid::new(format!("conditions.{unknown}"), "unknown key; expected all or any"));
        }
        let list = |name: &str| -> Result<Vec<Condition>, Invalid> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(vec![]),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, c)| Condition::parse(c).map_err(|e| e.within(&format!("conditions.{name}[{i}]"))))
                    .collect(),
                Some(_) => Err(Invalid::new(format!("conditions.{name}"), "must be an array of conditions")),
            }
        };
        Ok(Self { all: list("all")?, any: list("any")? })
    }

    pub fn hold(&self, fields: &TicketFields, update: &UpdateContext<'_>) -> bool {
        self.all.iter().all(|c| c.holds(fields, update))
            && (self.any.is_empty() || self.any.iter().any(|c| c.holds(fields, update)))
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty() && self.any.is_empty()
    }

    /// Where the first `hours_since_*` condition is (`conditions.all[0].field`), if any.
    pub fn first_time_based(&self) -> Option<String> {
        let find = |name: &str, list: &[Condition]| {
            list.iter().position(Condition::is_time_based).map(|i| format!("conditions.{name}[{i}].field"))
        };
        find("all", &self.all).or_else(|| find("any", &self.any))
    }
}

// Keep the typed enums and the name tables in step.
const _: () = {
    assert!(STATUS_NAMES.len() == Status::ALL.len());
    assert!(PRIORITY_NAMES.len() == Priority::ALL.len());
    assert!(TYPE_NAMES.len() == TicketType::ALL.len());
    assert!(ROLE_NAMES.len() == Role::ALL.len());
};

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Timestamp;
    use crate::id::UserId;
    use crate::rules::{TicketTimes, UpdateType};
    use crate::ticket::{NewComment, Tags};

    /// Every operator against every field kind that accepts it, on one change of one ticket:
    /// before it was new/normal with tag `a`; now it is open/high, tagged `a vip`, assigned,
    /// grouped, with a private comment, 30 hours old.
    #[test]
    fn every_operator_on_every_field_kind() {
        let previous = TicketFields {
            subject: "Printer on fire".into(),
            tags: Tags::new([Tag::parse("a").expect("tag")]),
            custom_fields: json!({"plan": "gold", "seats": 5}).as_object().expect("object").clone(),
            ..TicketFields::default()
        };
        let current = TicketFields {
            status: Status::Open,
            priority: Priority::High,
            ticket_type: Some(TicketType::Incident),
            tags: Tags::new(Tag::parse_list("a vip").expect("tags")),
            description: "The debug log says BUG-42.".into(),
            assignee_id: Some(UserId(7)),
            group: Some("Tier 2".into()),
            custom_fields: json!({"plan": "gold", "seats": 12}).as_object().expect("object").clone(),
            ..previous.clone()
        };
        let comment = NewComment { author_id: Some(UserId(7)), body: "Please REFUND me, thanks".into(), public: false };
        let hour = 3_600_000;
        let update = UpdateContext {
            update_type: UpdateType::Change,
            previous: Some(&previous),
            comment: Some(&comment),
            current_user_role: Some(Role::Agent),
            requester_email: "ann@example.com",
            times: Some(TicketTimes {
                now: Timestamp::from_millis(30 * hour),
                created_at: Timestamp::from_millis(0),
                updated_at: Timestamp::from_millis(28 * hour),
                status_changed_at: Timestamp::from_millis(29 * hour),
            }),
        };
        let table: &[(&str, &str, Value, bool)] = &[
            // Names, ordered and tracked.
            ("status", "is", json!("open"), true),
            ("status", "is_not", json!("open"), false),
            ("status", "less_than", json!("solved"), true),
            ("status", "less_than", json!("open"), false),
            ("status", "greater_than", json!("new"), true),
            ("status", "changed", Value::Null, true),
            ("status", "not_changed", Value::Null, false),
            ("status", "changed_to", json!("open"), true),
            ("status", "changed_to", json!("pending"), false),
            ("status", "changed_from", json!("new"), true),
            ("status", "changed_from", json!("open"), false),
            ("priority", "greater_than", json!("normal"), true),
            ("priority", "less_than", json!("urgent"), true),
            ("priority", "changed_from", json!("normal"), true),
            ("update_type", "is", json!("change"), true),
            ("update_type", "is_not", json!("create"), true),
            ("current_user.role", "is", json!("agent"), true),
            ("current_user.role", "is_not", json!("admin"), true),
            // Names, optional.
            ("type", "is", json!("incident"), true),
            ("type", "present", Value::Null, true),
            ("type", "not_present", Value::Null, false),
            ("type", "changed_to", json!("incident"), true),
            // Tags: any of the listed ones.
            ("tags", "includes", json!("vip other"), true),
            ("tags", "includes", json!(["other"]), false),
            ("tags", "not_includes", json!("other"), true),
            ("tags", "not_includes", json!("vip"), false),
            ("tags", "changed", Value::Null, true),
            ("tags", "not_changed", Value::Null, false),
            // Text: word-aware, case-insensitive.
            ("subject", "is", json!("Printer on fire"), true),
            ("subject", "is_not", json!("x"), true),
            ("subject", "contains", json!("on FIRE"), true),
            ("subject", "contains", json!("fir"), false),
            ("subject", "not_contains", json!("ink"), true),
            ("subject", "not_changed", Value::Null, true),
            ("description", "contains", json!("bug"), true),
            ("description", "contains", json!("debug"), true),
            ("description", "contains", json!("log say"), false),
            ("description", "changed", Value::Null, true),
            ("description", "present", Value::Null, true),
            ("group", "is", json!("Tier 2"), true),
            ("group", "changed", Value::Null, true),
            ("group", "not_present", Value::Null, false),
            ("comment", "contains", json!("refund"), true),
            ("comment", "not_contains", json!("refunds"), true),
            ("comment", "present", Value::Null, true),
            ("requester_email", "is", json!("ANN@example.com"), true),
            ("requester_email", "contains", json!("example.com"), true),
            // Boolean.
            ("comment_is_public", "is", json!(false), true),
            ("comment_is_public", "is_not", json!(false), false),
            // Ids.
            ("assignee_id", "is", json!(7), true),
            ("assignee_id", "is_not", json!(7), false),
            ("assignee_id", "present", Value::Null, true),
            ("assignee_id", "changed", Value::Null, true),
            ("assignee_id", "changed_from", Value::Null, true),
            ("assignee_id", "changed_to", json!(7), true),
            ("assignee_id", "not_changed", Value::Null, false),
            // Custom fields: any JSON value.
            ("custom_fields.plan", "is", json!("gold"), true),
            ("custom_fields.plan", "not_changed", Value::Null, true),
            ("custom_fields.seats", "greater_than", json!(10), true),
            ("custom_fields.seats", "less_than", json!(10), false),
            ("custom_fields.seats", "changed_from", json!(5), true),
            ("custom_fields.seats", "changed_to", json!(12.0), true),
            ("custom_fields.plan", "contains", json!("GOLD"), true),
            ("custom_fields.plan", "not_contains", json!("silver"), true),
            ("custom_fields.missing", "not_present", Value::Null, true),
            ("custom_fields.plan", "present", Value::Null, true),
            ("custom_fields.plan", "is_not", json!("silver"), true),
            ("custom_fields.seats", "changed", Value::Null, true),
            // Hours (automations).
            ("hours_since_created", "greater_than", json!(24), true),
            ("hours_since_created", "less_than", json!(24), false),
            ("hours_since_updated", "is", json!(2), true),
            ("hours_since_updated", "is_not", json!(2), false),
            ("hours_since_status_changed", "less_than", json!(1.5), true),
        ];
        for (field, operator, value, expected) in table {
            let raw = json!({"field": field, "operator": operator, "value": value});
            let condition = Condition::parse(&raw).unwrap_or_else(|e| panic!("{raw}: {e:?}"));
            assert_eq!(condition.holds(&current, &update), *expected, "{raw}");
        }
        // Every operator appears in the table.
        for (name, _) in OPERATORS {
            assert!(table.iter().any(|(_, op, _, _)| op == name), "{name} is not tested");
        }
    }

    #[test]
    fn operators_that_do_not_fit_a_field_are_refused() {
        let refused = [
            ("update_type", "changed"),
            ("current_user.role", "less_than"),
            ("tags", "is"),
            ("tags", "contains"),
            ("comment", "changed"),
            ("comment_is_public", "contains"),
            ("assignee_id", "greater_than"),
            ("type", "less_than"),
            ("hours_since_created", "changed"),
            ("custom_fields.x", "includes"),
        ];
        for (field, operator) in refused {
            let raw = json!({"field": field, "operator": operator, "value": "x"});
            let err = Condition::parse(&raw).expect_err("refused");
            assert_eq!(err.field, "operator", "{raw}");
        }
        let wrong_values = [
            json!({"field": "hours_since_created", "operator": "greater_than", "value": "24"}),
            json!({"field": "hours_since_created", "operator": "greater_than", "value": -1}),
            json!({"field": "comment_is_public", "operator": "is", "value": "yes"}),
            json!({"field": "assignee_id", "operator": "is", "value": "7"}),
            json!({"field": "custom_fields.x", "operator": "less_than", "value": "7"}),
            json!({"field": "subject", "operator": "contains", "value": 7}),
        ];
        for raw in wrong_values {
            assert_eq!(Condition::parse(&raw).expect_err("refused").field, "value", "{raw}");
        }
    }
}
