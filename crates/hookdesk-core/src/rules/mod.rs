//! Business rules: what an update does to a ticket.
//!
//! `condition` and `action` parse the contract's `{field, operator, value}` and
//! `{field, value}` into typed values (so a saved rule is always valid); `cycle` runs the
//! triggers of one update with the helpdesk convention.

pub mod action;
mod automation;
pub mod condition;
pub mod cycle;
mod shortcut;
mod trigger;

pub use action::{Action, NotifyWebhook};
pub use automation::check_automation;
pub use condition::{Condition, Conditions};
pub use cycle::{CycleReport, Fired, Rule, TicketTimes, UpdateContext, UpdateType, run_cycle};
pub use shortcut::Macro;
pub use trigger::Trigger;

/// Automations have the shape of triggers; only when they run differs.
pub type Automation = Trigger;
