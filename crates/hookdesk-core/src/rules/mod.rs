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
pub mod vocabulary;

pub use action::{Action, NotifyWebhook, SideEffect};
pub use automation::check_automation;
pub use condition::{Condition, Conditions};
pub use cycle::{CycleReport, Fired, Rule, TicketTimes, UpdateContext, UpdateType, run_cycle};
pub use shortcut::{Macro, MacroTitle};
pub use trigger::Trigger;

/// Automations have the shape of triggers; only when they run differs.
pub type Automation = Trigger;

/// Which kind of rule: what the vocabulary is declared for, and which kind acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    Trigger,
    Automation,
    Macro,
}

impl RuleKind {
    pub const ALL: [RuleKind; 3] = [RuleKind::Trigger, RuleKind::Automation, RuleKind::Macro];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Trigger => "trigger",
            RuleKind::Automation => "automation",
            RuleKind::Macro => "macro",
        }
    }
}

/// Which rules: triggers run on updates, automations on a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSet {
    Triggers,
    Automations,
}

impl RuleSet {
    /// The kind of rule the set holds.
    pub fn kind(self) -> RuleKind {
        match self {
            RuleSet::Triggers => RuleKind::Trigger,
            RuleSet::Automations => RuleKind::Automation,
        }
    }

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
