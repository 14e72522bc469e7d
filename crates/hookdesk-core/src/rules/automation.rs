//! What makes an automation safe to run on a schedule: it waits for time to pass, and its own
//! actions make it false again, so it fires once per ticket rather than on every run.

use super::{Action, Conditions, UpdateContext, UpdateType};
use crate::Invalid;
use crate::ticket::{Tags, TicketFields};

/// Checks the contract's two rules for automations; the error names what is missing.
pub fn check_automation(conditions: &Conditions, actions: &[Action]) -> Result<(), Invalid> {
    if !conditions.all.iter().any(super::Condition::is_time_based) {
        return Err(Invalid::new(
            "conditions.all",
            "an automation needs an hours_since_created, hours_since_updated or hours_since_status_changed condition in all",
        ));
    }
    if !conditions.all.iter().any(|c| nullified(c, actions)) {
        return Err(Invalid::new(
            "conditions.all",
            "an automation needs a condition that its own actions make false (for example status less_than solved with an action setting status solved, or tags not_includes reminded with add_tags reminded), so that it fires once per ticket",
        ));
    }
    Ok(())
}

/// Whether `actions` write the field `condition` reads and leave it false, whatever the
/// ticket was: tried on a bare ticket and on one holding the condition's tags.
fn nullified(condition: &super::Condition, actions: &[Action]) -> bool {
    let Some(field) = condition.ticket_field() else {
        return false;
    };
    if !actions.iter().any(|a| a.ticket_field().as_deref() == Some(field.as_str())) {
        return false;
    }
    let samples = [
        TicketFields::default(),
        TicketFields { tags: Tags::new(condition.tags().iter().cloned()), ..TicketFields::default() },
    ];
    samples.into_iter().all(|mut fields| {
        for action in actions {
            action.apply(&mut fields);
        }
        let update = UpdateContext {
            update_type: UpdateType::Change,
            previous: Some(&fields),
            comment: None,
            current_user_role: None,
            requester_email: "",
            times: None,
        };
        !condition.holds(&fields, &update)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(conditions: serde_json::Value, actions: serde_json::Value) -> Result<(), Invalid> {
        let conditions = Conditions::parse(&conditions).expect("conditions");
        let actions: Vec<Action> =
            actions.as_array().expect("array").iter().map(|a| Action::parse(a).expect("action")).collect();
        check_automation(&conditions, &actions)
    }

    /// Which of the two rules a refusal names.
    fn refusal(checked: Result<(), Invalid>) -> &'static str {
        let invalid = checked.expect_err("refused");
        assert_eq!(invalid.field, "conditions.all");
        if invalid.message.contains("hours_since_created") { "no time condition" } else { "not nullified" }
    }

    #[test]
    fn needs_a_time_condition_and_a_nullifying_one() {
        let hours = json!({"field": "hours_since_updated", "operator": "greater_than", "value": 48});
        let pending = json!({"field": "status", "operator": "is", "value": "pending"});
        let close = json!([{"field": "status", "value": "solved"}]);
        assert!(check(json!({"all": [hours, pending]}), close.clone()).is_ok());
        assert_eq!(refusal(check(json!({"all": [pending]}), close.clone())), "no time condition");
        // Adds a tag the conditions do not look at: it would fire on every run.
        let tag = json!([{"field": "add_tags", "value": "reminded"}]);
        assert_eq!(refusal(check(json!({"all": [hours, pending]}), tag.clone())), "not nullified");
        let not_reminded = json!({"field": "tags", "operator": "not_includes", "value": "reminded"});
        assert!(check(json!({"all": [hours, pending, not_reminded]}), tag).is_ok());
        let removes = json!([{"field": "remove_tags", "value": "waiting"}]);
        let waiting = json!({"field": "tags", "operator": "includes", "value": "waiting"});
        assert!(check(json!({"all": [hours, waiting]}), removes).is_ok());
        // A nullifying condition in any is not enough: another any could keep it true.
        assert_eq!(refusal(check(json!({"all": [hours], "any": [pending]}), close)), "not nullified");
    }
}
