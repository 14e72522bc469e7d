//! The execution log's values: an invocation (one webhook call, queued in the update that
//! fired it), its attempts, and what the queue hands a worker and takes back from it.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::id::{InvocationId, RuleId, TicketId, WebhookId};
use crate::request::{PrepareError, PreparedRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvocationStatus {
    Pending,
    Retrying,
    Succeeded,
    Failed,
}

impl InvocationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvocationStatus::Pending => "pending",
            InvocationStatus::Retrying => "retrying",
            InvocationStatus::Succeeded => "succeeded",
            InvocationStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Retrying, Self::Succeeded, Self::Failed].into_iter().find(|s| s.as_str() == text)
    }
}

/// An invocation to queue. A request that could not be prepared is stored failed, with its
/// error, so the log shows why nothing was sent.
#[derive(Debug, Clone)]
pub struct NewInvocation {
    pub id: InvocationId,
    pub webhook_id: WebhookId,
    pub ticket_id: Option<TicketId>,
    pub trigger_id: Option<RuleId>,
    pub automation_id: Option<RuleId>,
    pub event_type: Option<String>,
    pub replay_of: Option<InvocationId>,
    pub request: Result<PreparedRequest, PrepareError>,
    pub max_retries: u8,
    /// Delivered after the earlier invocations of the same ticket to the same webhook
    /// (`ordering: per_ticket`).
    pub ordered: bool,
    pub created_at: Timestamp,
}

/// An invocation a worker holds the lease of.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: InvocationId,
    pub webhook_id: WebhookId,
    pub ticket_id: Option<TicketId>,
    pub ordered: bool,
    pub request: PreparedRequest,
    /// The number of this attempt, from 1.
    pub attempt: u32,
    pub max_retries: u8,
    /// When the invocation was queued (the lag to its first attempt is measured from here).
    pub queued_at: Timestamp,
}

/// What was sent, as the log keeps it: secrets redacted, body cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoggedRequest {
    pub method: String,
    pub url: String,
    #[schema(value_type = Object)]
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoggedResponse {
    pub status: u16,
    #[schema(value_type = Object)]
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub body: String,
    /// Something to know about the answer: a 2xx whose body was still arriving when the
    /// request timed out counts as delivered, and says so here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttemptOutcome {
    pub code: String,
    pub message: String,
}

/// What happens to the invocation after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Succeeded,
    Failed,
    RetryAt(Timestamp),
}

#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub invocation_id: InvocationId,
    /// The webhook the attempt went to: its health moves with the record.
    pub webhook_id: WebhookId,
    pub number: u32,
    pub started_at: Timestamp,
    pub duration_ms: i64,
    pub request: LoggedRequest,
    pub response: Option<LoggedResponse>,
    pub error: Option<AttemptOutcome>,
    pub next: Next,
}

/// The contract's Invocation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Invocation {
    #[schema(value_type = String)]
    pub id: InvocationId,
    #[schema(value_type = String)]
    pub webhook_id: WebhookId,
    #[schema(value_type = Option<i64>)]
    pub ticket_id: Option<TicketId>,
    #[schema(value_type = Option<i64>)]
    pub trigger_id: Option<RuleId>,
    #[schema(value_type = Option<i64>)]
    pub automation_id: Option<RuleId>,
    pub event_type: Option<String>,
    pub status: InvocationStatus,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    /// When the next attempt is due, while pending or retrying.
    pub next_attempt_at: Option<Timestamp>,
    /// Why it failed when it failed before any attempt, or the last attempt's error.
    pub error: Option<AttemptOutcome>,
    #[schema(value_type = Option<String>)]
    pub replay_of: Option<InvocationId>,
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub number: u32,
    pub started_at: Timestamp,
    pub duration_ms: i64,
    pub request: LoggedRequest,
    pub response: Option<LoggedResponse>,
    pub error: Option<AttemptOutcome>,
}

/// Filters of `GET /invocations`.
#[derive(Debug, Clone, Default)]
pub struct InvocationFilter {
    pub status: Option<InvocationStatus>,
    pub ticket_id: Option<TicketId>,
    pub webhook_id: Option<WebhookId>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub q: Option<String>,
    /// Ids sort by creation time (UUIDv7), newest first; the cursor is the last id seen.
    pub before_id: Option<InvocationId>,
    pub limit: u32,
}

/// What new invocations (and the events they carry) are made with: hookdesk's public URL
/// (events' `source`, tickets' `url`), the time of the change, when they join the queue, and
/// how ids are made (`PREFIX_...`).
pub struct Origin<'a> {
    pub public_url: &'a str,
    pub now: Timestamp,
    /// The queue runs on the system clock, whatever clock tickets are on (a test's fake one
    /// must not schedule deliveries hours ahead).
    pub queued_at: Timestamp,
    pub new_id: &'a (dyn Fn(&str) -> String + Sync),
}

/// The invocations waiting to be delivered now, as `/metrics` and the overview show them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waiting {
    /// Never attempted yet.
    pub pending: i64,
    /// Attempted, failed, and due again later.
    pub retrying: i64,
    /// When the oldest pending invocation was queued.
    pub oldest_pending_since: Option<Timestamp>,
    /// When the oldest retrying invocation was queued.
    pub oldest_retrying_since: Option<Timestamp>,
}

/// How delivery went over a recent window, and what waits now: the overview's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Invocations completed in the window, by outcome.
    pub succeeded: i64,
    pub failed: i64,
    /// Waiting now, whatever their age.
    pub pending: i64,
    pub retrying: i64,
    /// When the oldest waiting invocation was queued.
    pub oldest_waiting_since: Option<Timestamp>,
    /// Completions per hour of the window, oldest first: (hour start, succeeded, failed).
    pub hourly: Vec<(Timestamp, i64, i64)>,
}

/// One webhook's deliveries over a recent window, and its invocations retrying now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookOutcomes {
    /// Invocations completed in the window, by outcome.
    pub succeeded: i64,
    pub failed: i64,
    /// Retrying now, and when the oldest of them was queued.
    pub retrying: i64,
    pub oldest_retrying_since: Option<Timestamp>,
}

impl WebhookOutcomes {
    /// The share of completed invocations that succeeded, in whole percent; None when none
    /// completed.
    pub fn success_percent(&self) -> Option<i64> {
        let total = self.succeeded + self.failed;
        (total > 0).then(|| (self.succeeded * 100) / total)
    }
}

/// The latest error a webhook's invocations met: when and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    pub at: Timestamp,
    pub code: String,
    pub message: String,
}
