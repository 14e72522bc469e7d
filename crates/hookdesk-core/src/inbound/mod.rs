//! Inbound webhooks: what an outside system's call to `/hooks/TOKEN` does (ticket actions
//! whose fields are templates over the request), how it is verified, and what it answers.
//!
//! `request` is a call as read (and as templates see it); `verify` checks its signature;
//! `actions` are the ticket actions it runs; `response` is what it answers; `token` is the
//! secret of its URL; `header` is the rule for the header names it reads and sets; `call_log`
//! is what the log keeps of each call.

mod actions;
mod call_log;
mod header;
mod request;
mod response;
mod token;
mod verify;

use crate::Timestamp;
use crate::id::InboundWebhookId;
use crate::template::TemplateMode;

pub use actions::{FieldsShape, InboundAction, MAX_ACTIONS, Templated, TicketFields, render_ticket_id};
pub use call_log::{ActionRun, CallError, CallFilter, InboundCall};
pub use header::check_header_name;
pub use request::{InboundRequest, MAX_PARAMS, Malformed};
pub use response::{InboundResponse, RenderedResponse, ResponseStatus, is_reserved_header};
pub use token::UrlToken;
pub use verify::{TIMESTAMP_TOLERANCE_SECS, Verify, VerifyView, hmac_sha256_hex};

/// An inbound webhook as stored: a secret URL, what a call to it does and answers.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundWebhook {
    pub id: InboundWebhookId,
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
    /// How its actions and response render: lax (what is undefined is empty) or strict (what
    /// is undefined fails the call with a 422 and runs nothing).
    pub template_mode: TemplateMode,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
