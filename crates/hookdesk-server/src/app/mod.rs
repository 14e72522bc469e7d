//! Use cases: what hookdesk does, independent of HTTP.

pub mod background;
mod error;
mod test_send;
mod updates;
mod users;
mod webhooks;

pub mod ids;

use std::sync::Arc;

use hookdesk_delivery::{DeliveryHandle, Sender};
use hookdesk_store::Store;

pub use error::AppError;
pub use test_send::{TestResult, TestSend};
pub use updates::{NewTicket, RequesterInput, TicketPatch};
pub use users::NewToken;
pub use webhooks::{WebhookInput, WebhookPatch};

#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Base of absolute URLs in templates (`ticket.url`), without a trailing slash.
    pub public_url: String,
    pub user_agent: String,
    /// How long a rotated-out signing secret keeps signing.
    pub secret_grace_ms: i64,
}

/// Everything a use case needs. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub node: background::Node,
    pub delivery: DeliveryHandle,
    pub sender: Sender,
    pub config: Arc<AppConfig>,
}
