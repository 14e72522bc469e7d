//! One module per resource. Each exposes `router()` with its documented routes.

pub mod automations;
pub mod config;
pub mod imports;
pub mod inbound_webhooks;
pub mod invocations;
pub mod macros;
pub mod tickets;
pub mod triggers;
pub mod users;
pub mod vocabulary;
pub mod webhooks;
