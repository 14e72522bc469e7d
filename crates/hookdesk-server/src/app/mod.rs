//! Use cases: what hookdesk does, independent of HTTP.

mod automations;
pub mod background;
mod checks;
mod dry_run;
mod error;
mod inbound;
mod macros;
mod rules;
mod test_send;
mod ticket_bodies;
mod updates;
mod users;
mod webhooks;

pub mod ids;

use std::sync::Arc;

use hookdesk_delivery::{DeliveryHandle, Sender};
use hookdesk_store::Store;

pub use automations::AutomationRun;
pub use checks::{Checked, Saved};
pub use dry_run::{DryRun, DryRunResult};
pub use error::AppError;
pub use hookdesk_core::Clock;
pub use inbound::{
    ActionsOutcome, Calls, DEFAULT_RATE_LIMIT_PER_MINUTE, InboundInput, InboundLimits, InboundPatch, KeyClaim,
};
pub use macros::MacroInput;
pub use rules::RuleInput;
pub use test_send::{TestResult, TestSend};
pub use ticket_bodies::{CreateTicketBody, PatchTicketBody, from_json, nullable, plain_words};
pub use updates::{NewTicket, RequesterInput, Step, TicketPatch, UpdateOutcome};
pub use users::NewToken;
pub use webhooks::{WebhookInput, WebhookPatch};

#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Base of absolute URLs in templates (`ticket.url`), without a trailing slash.
    pub public_url: String,
    pub user_agent: String,
    /// How long a rotated-out signing secret keeps signing.
    pub secret_grace_ms: i64,
    /// Tickets an automation run reads per batch.
    pub automation_batch: u32,
    /// Reverse proxies whose X-Forwarded-For names an inbound call's client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// Everything a use case needs. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub node: background::Node,
    pub delivery: DeliveryHandle,
    pub sender: Sender,
    pub config: Arc<AppConfig>,
    pub clock: Clock,
    /// Inbound webhooks' rate limiters (per process).
    pub inbound_limits: Arc<InboundLimits>,
}
