//! Triggers and automations as admins manage them: the same shape, checked differently.

use hookdesk_core::rules::{Action, Conditions, Trigger, check_automation};
use hookdesk_core::{Invalid, ticket::parse_text};
use hookdesk_store::{NewTrigger, RuleSet, StoreError};
use serde_json::Value;

use super::error::OrNotFound;
use super::{App, AppError, Checked};

/// A trigger or automation as the API gives it, before it is checked.
#[derive(Debug, Clone)]
pub struct RuleInput<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub active: bool,
    pub position: Option<i64>,
    pub conditions: &'a Value,
    pub actions: &'a Value,
    /// Whether the actions are new or changed: only then are their templates rendered against
    /// the sample ticket (a rule saved before a check existed can still be switched off).
    pub actions_changed: bool,
}

fn one(set: RuleSet) -> &'static str {
    match set {
        RuleSet::Triggers => "trigger",
        RuleSet::Automations => "automation",
    }
}

impl App {
    /// Parses and checks a rule: conditions that fit its set, actions that parse, webhooks
    /// that exist and are connected to rules.
    /// Its templates are rendered against the sample ticket (see `checks`).
    pub async fn check_rule(&self, set: RuleSet, input: &RuleInput<'_>) -> Result<Checked<NewTrigger>, AppError> {
        if input.title.trim().is_empty() {
            return Err(Invalid::new("title", "must not be empty").into());
        }
        let conditions = Conditions::parse(input.conditions)?;
        if conditions.is_empty() {
            return Err(Invalid::new("conditions", format!("a {} needs at least one condition", one(set))).into());
        }
        let actions = self.check_actions(input.actions).await?;
        match set {
            RuleSet::Triggers => {
                if let Some(at) = conditions.first_time_based() {
                    return Err(Invalid::new(
                        at,
                        "hours_since_* conditions are for automations: triggers run on updates, not on time",
                    )
                    .into());
                }
            }
            RuleSet::Automations => check_automation(&conditions, &actions)?,
        }
        let title = parse_text("title", input.title.trim(), 255)?;
        let warnings = if input.actions_changed {
            self.check_rule_templates(one(set), &title, &actions).await?
        } else {
            Vec::new()
        };
        let value = NewTrigger {
            title,
            description: parse_text("description", input.description, 4096)?,
            active: input.active,
            position: input.position,
            conditions,
            actions,
        };
        Ok(Checked { value, warnings })
    }

    /// Parses a non-empty array of actions; the webhooks they notify must exist and be
    /// connected to rules (`conditional_ticket_events`).
    pub(crate) async fn check_actions(&self, actions: &Value) -> Result<Vec<Action>, AppError> {
        let Some(raw_actions) = actions.as_array().filter(|a| !a.is_empty()) else {
            return Err(Invalid::new("actions", "must be a non-empty array of actions").into());
        };
        let mut parsed = Vec::with_capacity(raw_actions.len());
        for (i, raw) in raw_actions.iter().enumerate() {
            let field = format!("actions[{i}]");
            let action = Action::parse(raw).map_err(|e| e.within(&field))?;
            if let Action::NotifyWebhook(notify) = &action {
                let at = format!("{field}.value.webhook_id");
                match self.store.webhook(&notify.webhook_id).await {
                    Ok(webhook) if !webhook.subscriptions.is_conditional() => {
                        return Err(Invalid::new(
                            at,
                            format!(
                                "webhook {:?} is subscribed to events; rules notify webhooks subscribed to conditional_ticket_events",
                                notify.webhook_id
                            ),
                        )
                        .into());
                    }
                    Ok(_) => {}
                    Err(StoreError::NotFound) => {
                        return Err(Invalid::new(at, format!("no webhook has the id {:?}", notify.webhook_id)).into());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            parsed.push(action);
        }
        Ok(parsed)
    }

    pub async fn rules_of(&self, set: RuleSet) -> Result<Vec<Trigger>, AppError> {
        Ok(self.store.rules(set).await?)
    }

    pub async fn create_rule(&self, set: RuleSet, new: NewTrigger) -> Result<Trigger, AppError> {
        Ok(self.store.create_rule(set, &new, self.clock.now()).await?)
    }

    pub async fn update_rule(&self, set: RuleSet, id: i64, new: NewTrigger) -> Result<Trigger, AppError> {
        self.store.update_rule(set, id, &new, self.clock.now()).await.or_not_found(one(set))
    }

    pub async fn rule(&self, set: RuleSet, id: i64) -> Result<Trigger, AppError> {
        self.store.rule(set, id).await.or_not_found(one(set))
    }

    pub async fn delete_rule(&self, set: RuleSet, id: i64) -> Result<(), AppError> {
        self.store.delete_rule(set, id).await.or_not_found(one(set))
    }

    pub async fn order_rules(&self, set: RuleSet, ids: &[i64]) -> Result<Vec<Trigger>, AppError> {
        self.store.order_rules(set, ids, self.clock.now()).await.map_err(|e| match e {
            StoreError::Conflict(message) => Invalid::new("ids", message).into(),
            other => other.into(),
        })
    }
}
