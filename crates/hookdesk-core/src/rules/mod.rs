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

pub use action::{Action, NotifyWebhook, SideEffect};
pub use automation::check_automation;
pub use condition::{Condition, Conditions};
pub use cycle::{CycleReport, Fired, Rule, TicketTimes, UpdateContext, UpdateType, run_cycle};
pub use shortcut::{Macro, MacroTitle};
pub use trigger::Trigger;

/// Automations have the shape of triggers; only when they run differs.
pub type Automation = Trigger;

/// Which rules: triggers run on updates, automations on a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSet {
    Triggers,
    Automations,
}

impl RuleSet {
    /// The plural, as messages name them.
    pub fn name(self) -> &'static str {
        match self {
            RuleSet::Triggers => "triggers",
            RuleSet::Automations => "automations",
        }
    }

    /// One of them, as messages name it.
    pub fn one(self) -> &'static str {
        match self {
            RuleSet::Triggers => "trigger",
            RuleSet::Automations => "automation",
        }
    }
}
