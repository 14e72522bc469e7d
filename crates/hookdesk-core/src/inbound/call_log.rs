//! The log of calls to an inbound webhook: what each call sent, what it was answered and what
//! its actions did.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::Timestamp;
use crate::id::{CallId, InboundWebhookId, TicketId};

/// What one action of a call did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct ActionRun {
    #[serde(rename = "type")]
    pub kind: String,
    /// The ticket it created or changed.
    #[schema(value_type = Option<i64>)]
    pub ticket_id: Option<TicketId>,
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
    #[schema(value_type = String)]
    pub id: CallId,
    #[schema(value_type = String)]
    pub inbound_webhook_id: InboundWebhookId,
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
    #[schema(value_type = Option<String>)]
    pub replay_of: Option<CallId>,
    pub duration_ms: i64,
}

/// Filters of an inbound webhook's call log.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    /// The status hookdesk answered.
    pub status: Option<u16>,
    /// `Some(true)`: calls answered with 400 or more; `Some(false)`: the others.
    pub failed: Option<bool>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub before_id: Option<CallId>,
    pub limit: u32,
}
