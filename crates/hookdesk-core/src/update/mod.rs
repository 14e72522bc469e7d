//! One update of a ticket, decided without I/O. The app reads what an update needs (the
//! ticket, the active triggers, the webhooks they notify), asks here what the update does,
//! and writes the answer in one transaction:
//!
//! 1. [`decide_fields`]: the macro or automations applied, then the trigger cycle: the
//!    ticket's new fields and the rules that fired. The app writes the ticket (a new one gets
//!    its id) and reserves ids for the comments the update adds ([`Decided::comments_added`]).
//! 2. [`Decided::plan`]: what the fired rules do beyond the fields, each rendered from the
//!    ticket as that rule left it (comments, webhook notifications), the events the change
//!    raises and the audit record: an [`UpdatePlan`] the app writes as it is.

mod input;
mod plan;
#[cfg(test)]
mod tests;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::audit::{FiredRule, Via};
use crate::rules::{CycleReport, Rule, TicketTimes, Trigger, UpdateContext, UpdateType, run_cycle};
use crate::template::{Context, Rendering, Template, TemplateMode};
use crate::ticket::{MAX_TEXT, NewComment, Ticket, TicketFields, parse_text};
use crate::user::User;
use crate::{Invalid, Timestamp};

pub use input::{
    CommentInput, NewTicket, RequesterInput, TicketPatch, parse_custom_fields, parse_description, parse_group,
    parse_subject, parse_tags,
};
pub use plan::{PlanContext, UpdatePlan};

/// Who or what makes an update: the audit's `via` and the acting user (none for automations
/// and inbound calls).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub via: Via,
    pub actor: Option<&'a User>,
}

impl<'a> Source<'a> {
    pub fn api(actor: &'a User) -> Self {
        Self { via: Via::Api, actor: Some(actor) }
    }
}

pub use crate::rules::RuleKind;

/// A macro or an automation applied to the ticket before the triggers run.
#[derive(Debug, Clone)]
pub struct Applied {
    pub kind: RuleKind,
    pub rule: Rule,
    /// Its comments' bodies, in order, rendered before the update's write transaction began
    /// (a macro's: an agent's template never renders while the writer is held, and cannot
    /// render cheaply outside it and dearly inside); empty: they render in the update.
    pub rendered: Vec<String>,
}

/// One rule's part in an update: what it changed, in firing order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Step {
    #[serde(flatten)]
    pub rule: FiredRule,
    /// Field name to `{"from", "to"}`: this rule's own changes.
    #[schema(value_type = Object)]
    pub changes: Value,
}

/// What an update asks: the ticket's fields before it (none when it creates the ticket), the
/// fields the request sets, its comment, and the macro or automations applied before the
/// triggers.
pub struct Change<'r> {
    pub previous: Option<TicketFields>,
    pub fields: TicketFields,
    pub comment: Option<NewComment>,
    pub applied: &'r [Applied],
}

/// A rule that acted, and the fields as it left them.
struct Acted<'r> {
    kind: RuleKind,
    rule: &'r Rule,
    fields: TicketFields,
    /// Its comments as rendered before the update (see [`Applied::rendered`]).
    rendered: &'r [String],
}

/// The fields an update leaves, and the rules that acted, in order.
pub struct Decided<'r> {
    previous: Option<TicketFields>,
    /// The fields the request set, before any rule acted.
    requested: TicketFields,
    pub fields: TicketFields,
    comment: Option<NewComment>,
    acted: Vec<Acted<'r>>,
    pub report: CycleReport,
}

/// Applies the macro or automations of `change`, then runs the triggers on the result.
pub fn decide_fields<'r>(
    change: Change<'r>,
    triggers: &'r [Trigger],
    source: Source<'_>,
    requester_email: &str,
) -> Decided<'r> {
    let Change { previous, mut fields, comment, applied } = change;
    let requested = fields.clone();
    let mut acted = Vec::new();
    // Macros and automations act first; the triggers then see their changes.
    for step in applied {
        for action in &step.rule.actions {
            action.apply(&mut fields);
        }
        acted.push(Acted { kind: step.kind, rule: &step.rule, fields: fields.clone(), rendered: &step.rendered });
    }
    let update = UpdateContext {
        update_type: if previous.is_some() { UpdateType::Change } else { UpdateType::Create },
        previous: previous.as_ref(),
        comment: comment.as_ref(),
        current_user_role: source.actor.map(|a| a.role),
        requester_email,
        times: None,
    };
    let report = run_cycle(&mut fields, &update, triggers);
    acted.extend(report.fired.iter().map(|f| Acted {
        kind: RuleKind::Trigger,
        rule: &triggers[f.rule].rule,
        fields: f.fields.clone(),
        rendered: &[],
    }));
    Decided { previous, requested, fields, comment, acted, report }
}

impl Decided<'_> {
    /// The fields before the update; `None` when it creates the ticket.
    pub fn previous(&self) -> Option<&TicketFields> {
        self.previous.as_ref()
    }

    /// How many comments the update adds: the request's and the rules'. The plan needs as
    /// many ids.
    pub fn comments_added(&self) -> usize {
        let by_rules = self.acted.iter().flat_map(|a| &a.rule.actions).filter(|a| a.adds_comment()).count();
        usize::from(self.comment.is_some()) + by_rules
    }
}

/// The automations (in order) whose conditions hold for `ticket` at `now`, each checked on
/// the fields as the ones before it left them.
pub fn automations_holding(ticket: &Ticket, automations: &[Applied], now: Timestamp) -> Vec<Applied> {
    let times = TicketTimes {
        now,
        created_at: ticket.created_at,
        updated_at: ticket.updated_at,
        status_changed_at: ticket.status_changed_at,
    };
    let update = UpdateContext {
        update_type: UpdateType::Change,
        previous: Some(&ticket.fields),
        comment: None,
        current_user_role: None,
        requester_email: &ticket.requester.email,
        times: Some(times),
    };
    let mut fields = ticket.fields.clone();
    let mut holding = Vec::new();
    for automation in automations {
        if automation.rule.conditions.hold(&fields, &update) {
            for action in &automation.rule.actions {
                action.apply(&mut fields);
            }
            holding.push(automation.clone());
        }
    }
    holding
}

/// The variables templates see for `ticket`, acting as `actor`.
pub fn template_context(ticket: &Ticket, actor: Option<&User>, public_url: &str) -> Context {
    let user = actor
        .map_or(Value::Null, |a| serde_json::json!({"id": a.id, "name": a.name, "email": a.email, "role": a.role}));
    Context::new().with("ticket", &ticket.document(public_url)).with("current_user", &user)
}

/// The context of a rule's templates: the ticket's, plus the rule as `trigger` and as its
/// kind (`automation`, `macro`).
pub fn rule_context(ticket: &Ticket, actor: Option<&User>, public_url: &str, kind: RuleKind, rule: &Rule) -> Context {
    let named = serde_json::json!({"id": rule.id, "title": rule.title});
    template_context(ticket, actor, public_url).with("trigger", &named).with(kind.as_str(), &named)
}

/// A rendered comment, held to the limits of a typed one.
pub fn render_comment(template: &Template, context: &Context, rendering: &mut Rendering) -> Result<String, Invalid> {
    // Up to four bytes a character: the limit itself counts characters.
    // Rules' and macros' comments are lax whatever renders around them (an inbound call's
    // strict actions, say): a missing variable in a comment is empty text.
    let body = rendering
        .in_mode(TemplateMode::Lax, |r| r.render_limited(template, context, MAX_TEXT * 4))
        .map_err(|e| e.invalid(""))?;
    parse_text("", &body, MAX_TEXT)
}
