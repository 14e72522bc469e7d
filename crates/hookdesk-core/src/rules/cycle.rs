//! The trigger cycle of one update, as helpdesks run it.
//!
//! Active triggers are checked in position order. When one fires and changes the ticket,
//! checking starts again from the first; each fires at most once per update. The cycle ends
//! when a pass fires nothing that changes the ticket, or at [`MAX_PASSES`], which is reported.

use super::condition::Since;
use super::{Action, Conditions};
use crate::Timestamp;
use crate::id::RuleId;
use crate::ticket::{NewComment, TicketFields};
use crate::user::Role;

/// Enough for any realistic rule set (each pass that restarts fires a new trigger), small
/// enough that a pathological one cannot hold a transaction for long.
pub const MAX_PASSES: u32 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateType {
    Create,
    Change,
}

impl UpdateType {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateType::Create => "create",
            UpdateType::Change => "change",
        }
    }
}

/// What conditions can see of the update besides the ticket's current fields.
#[derive(Debug, Clone, Copy)]
pub struct UpdateContext<'a> {
    pub update_type: UpdateType,
    /// The ticket's fields before this update; `None` when it creates the ticket.
    pub previous: Option<&'a TicketFields>,
    /// The comment this update adds, if any.
    pub comment: Option<&'a NewComment>,
    pub current_user_role: Option<Role>,
    pub requester_email: &'a str,
    /// The ticket's times, for automations' `hours_since_*` conditions.
    pub times: Option<TicketTimes>,
}

/// When a ticket was created, updated and changed status, and the instant rules run at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketTimes {
    pub now: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub status_changed_at: Timestamp,
}

impl TicketTimes {
    pub fn hours_since(&self, since: Since) -> f64 {
        let at = match since {
            Since::Created => self.created_at,
            Since::Updated => self.updated_at,
            Since::StatusChanged => self.status_changed_at,
        };
        // Milliseconds to hours: exact enough in an f64 for any realistic age.
        #[expect(clippy::cast_precision_loss, reason = "ages in ms are far below 2^52")]
        let hours = (self.now.as_millis() - at.as_millis()) as f64 / 3_600_000.0;
        hours
    }
}

/// A trigger (or automation) as the engine runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The trigger's or automation's id; a macro applied as a rule keeps its number.
    pub id: RuleId,
    pub title: String,
    pub conditions: Conditions,
    pub actions: Vec<Action>,
}

/// A rule that fired, and the ticket as it was right after its changes: notifications and
/// comments are rendered from that.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub rule: usize,
    pub fields: TicketFields,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CycleReport {
    pub fired: Vec<Fired>,
    pub passes: u32,
    /// True when the cycle stopped at [`MAX_PASSES`] rather than settling.
    pub bound_hit: bool,
}

impl AsRef<Rule> for Rule {
    fn as_ref(&self) -> &Rule {
        self
    }
}

/// Runs `rules` (already in position order, active only) over `fields`, changing them.
pub fn run_cycle<R: AsRef<Rule>>(fields: &mut TicketFields, update: &UpdateContext<'_>, rules: &[R]) -> CycleReport {
    let mut report = CycleReport::default();
    let mut has_fired = vec![false; rules.len()];
    loop {
        if report.passes == MAX_PASSES {
            report.bound_hit = true;
            return report;
        }
        report.passes += 1;
        let mut restart = false;
        for (index, rule) in rules.iter().map(AsRef::as_ref).enumerate() {
            if has_fired[index] || !rule.conditions.hold(fields, update) {
                continue;
            }
            has_fired[index] = true;
            let before = fields.clone();
            for action in &rule.actions {
                action.apply(fields);
            }
            report.fired.push(Fired { rule: index, fields: fields.clone() });
            if *fields != before {
                restart = true;
                break;
            }
        }
        if !restart {
            return report;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ticket::{Status, Tag, Tags};

    fn rule(id: i64, conditions: serde_json::Value, actions: serde_json::Value) -> Rule {
        Rule {
            id: RuleId(id),
            title: format!("rule {id}"),
            conditions: Conditions::parse(&conditions).expect("valid conditions"),
            actions: actions
                .as_array()
                .expect("array")
                .iter()
                .map(|a| Action::parse(a).expect("valid action"))
                .collect(),
        }
    }

    fn change<'a>(previous: &'a TicketFields) -> UpdateContext<'a> {
        UpdateContext {
            update_type: UpdateType::Change,
            previous: Some(previous),
            comment: None,
            current_user_role: Some(Role::Agent),
            requester_email: "ann@example.com",
            times: None,
        }
    }

    fn with_tags(tags: &str) -> TicketFields {
        TicketFields { tags: Tags::new(Tag::parse_list(tags).expect("tags")), ..TicketFields::default() }
    }

    #[test]
    fn seed_tour_fires_once_and_removes_its_tag() {
        let rules = [rule(
            1,
            json!({"all": [{"field": "update_type", "operator": "is", "value": "change"},
                           {"field": "tags", "operator": "includes", "value": "send_web_action"}]}),
            json!([{"field": "notify_webhook", "value": {"webhook_id": "wh_1", "payload": "{}"}},
                   {"field": "remove_tags", "value": "send_web_action"}]),
        )];
        let previous = with_tags("");
        let mut fields = with_tags("send_web_action other");
        let report = run_cycle(&mut fields, &change(&previous), &rules);
        assert_eq!(report.fired.len(), 1);
        assert!(!fields.tags.contains(&Tag::parse("send_web_action").expect("tag")));
        assert!(!report.fired[0].fields.tags.contains(&Tag::parse("send_web_action").expect("tag")));

        // A later unrelated update: the tag is gone, nothing fires.
        let previous = fields.clone();
        let mut next = fields.clone();
        next.subject = "edited".into();
        assert!(run_cycle(&mut next, &change(&previous), &rules).fired.is_empty());
    }

    #[test]
    fn a_change_restarts_the_cycle_so_earlier_triggers_see_it() {
        // Trigger 1 reacts to what trigger 2 does; it only sees it because checking restarts.
        let rules = [
            rule(
                1,
                json!({"all": [{"field": "status", "operator": "changed_to", "value": "open"}]}),
                json!([{"field": "add_tags", "value": "opened"}]),
            ),
            rule(
                2,
                json!({"all": [{"field": "tags", "operator": "includes", "value": "go"}]}),
                json!([{"field": "status", "value": "open"}]),
            ),
        ];
        let previous = with_tags("");
        let mut fields = with_tags("go");
        let report = run_cycle(&mut fields, &change(&previous), &rules);
        assert_eq!(report.fired.iter().map(|f| f.rule).collect::<Vec<_>>(), [1, 0]);
        assert_eq!(fields.status, Status::Open);
        assert!(fields.tags.contains(&Tag::parse("opened").expect("tag")));
        assert_eq!(report.passes, 3);
    }

    #[test]
    fn each_trigger_fires_at_most_once_even_when_it_could_loop() {
        // Two triggers that undo each other would loop forever without the once rule.
        let rules = [
            rule(
                1,
                json!({"all": [{"field": "priority", "operator": "is", "value": "normal"}]}),
                json!([{"field": "priority", "value": "high"}]),
            ),
            rule(
                2,
                json!({"all": [{"field": "priority", "operator": "is", "value": "high"}]}),
                json!([{"field": "priority", "value": "normal"}]),
            ),
        ];
        let previous = TicketFields::default();
        let mut fields = TicketFields::default();
        let report = run_cycle(&mut fields, &change(&previous), &rules);
        assert_eq!(report.fired.len(), 2);
        assert!(!report.bound_hit);
    }

    #[test]
    fn any_needs_one_and_all_needs_every() {
        let rules = [rule(
            1,
            json!({"all": [{"field": "status", "operator": "less_than", "value": "solved"}],
                   "any": [{"field": "priority", "operator": "is", "value": "urgent"},
                           {"field": "tags", "operator": "includes", "value": "vip"}]}),
            json!([{"field": "add_tags", "value": "escalate"}]),
        )];
        let previous = TicketFields::default();
        let mut plain = TicketFields::default();
        assert!(run_cycle(&mut plain, &change(&previous), &rules).fired.is_empty());
        let mut vip = with_tags("vip");
        assert_eq!(run_cycle(&mut vip, &change(&previous), &rules).fired.len(), 1);
        let mut solved_vip = with_tags("vip");
        solved_vip.status = Status::Solved;
        assert!(run_cycle(&mut solved_vip, &change(&previous), &rules).fired.is_empty());
    }

    #[test]
    fn operators_and_values_are_checked_when_parsed() {
        let bad = [
            (json!({"field": "colour", "operator": "is", "value": "x"}), "field"),
            (json!({"field": "status", "operator": "includes", "value": "open"}), "operator"),
            (json!({"field": "status", "operator": "is", "value": "opened"}), "value"),
            (json!({"field": "status", "operator": "is", "value": 3}), "value"),
            (json!({"field": "tags", "operator": "includes", "value": ""}), "value"),
            (json!({"field": "status", "operator": "changed", "value": "open"}), "value"),
            (json!({"field": "update_type", "operator": "changed"}), "operator"),
        ];
        for (raw, field) in bad {
            let err = Condition::parse(&raw).expect_err("must be refused");
            assert_eq!(err.field, field, "{raw}: {err:?}");
        }
        let err = Conditions::parse(&json!({"all": [{"field": "status", "operator": "is", "value": "open"},
                                                     {"field": "status", "operator": "is", "value": "x"}]}))
        .expect_err("bad second condition");
        assert_eq!(err.field, "conditions.all[1].value");
    }

    use crate::rules::Condition;
}
