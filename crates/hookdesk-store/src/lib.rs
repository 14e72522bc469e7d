//! hookdesk's storage: the one place that speaks SQL.
//!
//! [`Store`] opens the database, applies migrations and offers one method per use. SQL is
//! written once with `$N` placeholders, integer-millisecond times and JSON as text, so the
//! PostgreSQL backend can run the same statements; only [`db`] names the backend.
//!
//! Secrets (webhook authentication and signing secrets) are encrypted at rest by [`cipher`].

mod attempts;
mod audits;
mod backup;
pub mod cipher;
mod config;
mod db;
mod error;
mod firings;
mod health;
mod inbound;
mod leases;
mod listen;
mod log;
mod macros;
mod passwords;
mod queue;
mod rows;
mod sessions;
mod stats;
mod tickets;
mod triggers;
mod users;
mod webhooks;

pub use backup::{BackedUp, backup_sqlite};
pub use cipher::{Cipher, SecretKey};
pub use config::ConfigTx;
pub use db::{Backend, QUEUE_CHANNEL, Store, sqlite_path};
pub use error::StoreError;
pub use health::HealthCounts;
pub use hookdesk_core::Page;
pub use hookdesk_core::audit::NewAudit;
pub use hookdesk_core::inbound::CallFilter;
pub use hookdesk_core::invocation::{
    AttemptOutcome, AttemptRecord, Claimed, Invocation, InvocationFilter, InvocationStatus, LoggedRequest,
    LoggedResponse, NewInvocation, Next,
};
pub use hookdesk_core::rules::RuleSet;
pub use hookdesk_core::ticket::TicketFilter;
pub use macros::{NewMacro, macro_cursor, parse_macro_cursor};
pub use passwords::{Failures, OpenLink, PasswordAccount};
pub use sessions::{MAX_SESSIONS_PER_TOKEN, OpenSession};
pub use tickets::{Committed, FailedBeforeSending, Tally, UpdateTx};
pub use triggers::{NewTrigger, RulesSnapshot};
pub use users::UserPatch;
pub use webhooks::{NewWebhook, WebhookSecrets};
