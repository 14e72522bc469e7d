//! The audit trail: one record per ticket update, answering "why did this webhook fire?".

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::Timestamp;
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
    pub id: i64,
    pub title: String,
}

/// One update of one ticket.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Audit {
    pub id: i64,
    pub ticket_id: i64,
    /// The user the update acted as; null for automations.
    pub actor_id: Option<i64>,
    pub via: Via,
    /// Field name to `{"from", "to"}`, for every field the update changed (triggers' changes
    /// included); `comments_added` counts the comments it added.
    #[schema(value_type = Object)]
    pub changes: Value,
    pub rules: Vec<FiredRule>,
    /// The event types it raised.
    pub events: Vec<String>,
    /// The invocations it queued (notifications and event deliveries).
    pub invocations: Vec<String>,
    /// True when the trigger cycle stopped at its bound instead of settling.
    pub bound_hit: bool,
    pub created_at: Timestamp,
}

/// `{"field": {"from", "to"}}` for each field that differs between `before` and `after`.
pub fn field_changes(before: Option<&TicketFields>, after: &TicketFields, comments_added: usize) -> Value {
    let after_json = serde_json::to_value(after).unwrap_or(Value::Null);
    let before_json = before.map(|b| serde_json::to_value(b).unwrap_or(Value::Null));
    let mut changes = Map::new();
    if let Value::Object(after_map) = &after_json {
        for (field, to) in after_map {
            let from = before_json.as_ref().and_then(|b| b.get(field)).cloned().unwrap_or(Value::Null);
            if field == "custom_fields" {
                let empty = Map::new();
                let (from, to) = (from.as_object().unwrap_or(&empty), to.as_object().unwrap_or(&empty));
                for key in from.keys().chain(to.keys()) {
                    let (f, t) = (from.get(key).unwrap_or(&Value::Null), to.get(key).unwrap_or(&Value::Null));
                    if f != t {
                        changes.insert(format!("custom_fields.{key}"), json!({"from": f, "to": t}));
                    }
                }
            } else if &from != to {
                changes.insert(field.clone(), json!({"from": from, "to": to}));
            }
        }
    }
    if comments_added > 0 {
        changes.insert("comments_added".into(), comments_added.into());
    }
    Value::Object(changes)
}
