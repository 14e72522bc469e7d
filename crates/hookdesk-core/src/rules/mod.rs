//! Business rules: what an update does to a ticket.
//!
//! `condition` and `action` parse the contract's `{field, operator, value}` and
//! `{field, value}` into typed values (so a saved rule is always valid); `cycle` runs the
//! triggers of one update with the helpdesk convention.

pub mod action;
pub mod condition;
pub mod cycle;
mod trigger;

pub use action::{Action, NotifyWebhook};
pub use condition::{Condition, Conditions};
pub use cycle::{CycleReport, Fired, Rule, UpdateContext, UpdateType, run_cycle};
pub use trigger::Trigger;
