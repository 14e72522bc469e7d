//! Triggers and automations as admins manage them: the same shape, checked differently.

use hookdesk_core::id::RuleId;
use hookdesk_core::rules::{Action, Conditions, RuleSet, Trigger, check_automation};
use hookdesk_core::{Invalid, ticket::parse_text};
use hookdesk_store::{NewTrigger, StoreError};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::checks::Webhooks;
use super::error::OrNotFound;
use super::{Admin, Agent, App, AppError, Checked, Saved};

/// `POST /triggers` and `POST /automations`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerBody {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Default true.
    pub active: Option<bool>,
    /// A new trigger goes last unless it gives one.
    pub position: Option<i64>,
    #[schema(value_type = super::rule_schemas::RuleConditions)]
    pub conditions: Value,
    #[schema(value_type = Vec<super::rule_schemas::RuleAction>)]
    pub actions: Value,
}

/// `PATCH /triggers/{id}` and `PATCH /automations/{id}`: absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTriggerBody {
    pub title: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
    pub position: Option<i64>,
    #[schema(value_type = Option<super::rule_schemas::RuleConditions>)]
    pub conditions: Option<Value>,
    #[schema(value_type = Option<Vec<super::rule_schemas::RuleAction>>)]
    pub actions: Option<Value>,
}

/// `PUT /triggers/order` and `PUT /automations/order`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// Every rule of the set, once, in the order they are to run.
    #[schema(value_type = Vec<i64>)]
    pub ids: Vec<RuleId>,
}

/// A trigger or automation as the API gives it, before it is checked.
#[derive(Debug, Clone)]
pub(crate) struct RuleInput<'a> {
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

impl TriggerBody {
    fn input(&self) -> RuleInput<'_> {
        RuleInput {
            title: &self.title,
            description: &self.description,
            active: self.active.unwrap_or(true),
            position: self.position,
            conditions: &self.conditions,
            actions: &self.actions,
            actions_changed: true,
        }
    }
}

impl App {
    /// What rules may say: the vocabulary's document.
    pub fn rule_vocabulary(&self, _caller: &Agent) -> Value {
        hookdesk_core::rules::vocabulary::document()
    }

    /// The rules of `set`, in the order they run.
    pub async fn rules(&self, _caller: &Agent, set: RuleSet) -> Result<Vec<Trigger>, AppError> {
        Ok(self.store.rules(set).await?)
    }

    /// How often each of `ids` fired over the last 7 days, and when last; rules that never
    /// fired are absent.
    pub async fn rule_firings(
        &self,
        _caller: &Agent,
        set: RuleSet,
        ids: &[RuleId],
    ) -> Result<std::collections::HashMap<RuleId, hookdesk_core::audit::RuleFirings>, AppError> {
        Ok(self.store.rule_firings(set.one(), ids, self.clock.now()).await?)
    }

    pub async fn rule(&self, _caller: &Agent, set: RuleSet, id: RuleId) -> Result<Trigger, AppError> {
        self.store.rule(set, id).await.or_not_found(set.one())
    }

    /// Creates a rule. Conditions, actions and templates are checked first (422 naming the part).
    pub async fn create_rule(
        &self,
        _caller: &Admin,
        set: RuleSet,
        body: TriggerBody,
    ) -> Result<Saved<Trigger>, AppError> {
        let Checked { value, warnings } = self.check_rule(set, &body.input(), Webhooks::Stored).await?;
        Ok(Saved::new(self.store.create_rule(set, &value, self.clock.now()).await?, warnings))
    }

    /// Changes a rule; absent fields keep their value.
    pub async fn update_rule(
        &self,
        _caller: &Admin,
        set: RuleSet,
        id: RuleId,
        body: PatchTriggerBody,
    ) -> Result<Saved<Trigger>, AppError> {
        let current = self.store.rule(set, id).await.or_not_found(set.one())?;
        let conditions =
            body.conditions.unwrap_or_else(|| serde_json::to_value(&current.rule.conditions).unwrap_or(Value::Null));
        let actions_changed = body.actions.is_some();
        let actions =
            body.actions.unwrap_or_else(|| serde_json::to_value(&current.rule.actions).unwrap_or(Value::Null));
        let input = RuleInput {
            title: body.title.as_deref().unwrap_or(&current.rule.title),
            description: body.description.as_deref().unwrap_or(&current.description),
            active: body.active.unwrap_or(current.active),
            position: body.position,
            conditions: &conditions,
            actions: &actions,
            actions_changed,
        };
        let Checked { value, warnings } = self.check_rule(set, &input, Webhooks::Stored).await?;
        let saved = self.store.update_rule(set, id, &value, self.clock.now()).await.or_not_found(set.one())?;
        Ok(Saved::new(saved, warnings))
    }

    pub async fn delete_rule(&self, _caller: &Admin, set: RuleSet, id: RuleId) -> Result<(), AppError> {
        self.store.delete_rule(set, id).await.or_not_found(set.one())
    }

    /// Sets the order the rules of `set` run in: `ids` lists every one once.
    pub async fn order_rules(&self, _caller: &Admin, set: RuleSet, body: OrderBody) -> Result<Vec<Trigger>, AppError> {
        self.store.order_rules(set, &body.ids, self.clock.now()).await.map_err(|e| match e {
            StoreError::Conflict(message) => Invalid::new("ids", message).into(),
            other => other.into(),
        })
    }

    /// A draft trigger, checked as creating it would be (a dry run tries it).
    pub(crate) async fn check_draft_trigger(&self, body: &TriggerBody) -> Result<NewTrigger, AppError> {
        Ok(self.check_rule(RuleSet::Triggers, &body.input(), Webhooks::Stored).await?.value)
    }

    /// Parses and checks a rule: conditions that fit its set, actions that parse, webhooks
    /// that exist and are connected to rules.
    /// Its templates are rendered against the sample ticket (see `checks`).
    pub(crate) async fn check_rule(
        &self,
        set: RuleSet,
        input: &RuleInput<'_>,
        webhooks: Webhooks<'_>,
    ) -> Result<Checked<NewTrigger>, AppError> {
        if input.title.trim().is_empty() {
            return Err(Invalid::new("title", "must not be empty").into());
        }
        let conditions = Conditions::parse(input.conditions)?;
        if conditions.is_empty() {
            return Err(Invalid::new("conditions", format!("a {} needs at least one condition", set.one())).into());
        }
        let actions = self.check_actions(input.actions, webhooks).await?;
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
            self.check_rule_templates(set.one(), &title, &actions, webhooks).await?
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
    pub(crate) async fn check_actions(&self, actions: &Value, webhooks: Webhooks<'_>) -> Result<Vec<Action>, AppError> {
        let Some(raw_actions) = actions.as_array().filter(|a| !a.is_empty()) else {
            return Err(Invalid::new("actions", "must be a non-empty array of actions").into());
        };
        hookdesk_core::template::check_template_text("actions", &[actions])?;
        let mut parsed = Vec::with_capacity(raw_actions.len());
        for (i, raw) in raw_actions.iter().enumerate() {
            let field = format!("actions[{i}]");
            let action = Action::parse(raw).map_err(|e| e.within(&field))?;
            if let Action::NotifyWebhook(notify) = &action {
                let at = format!("{field}.value.webhook_id");
                match self.webhook_in(webhooks, &notify.webhook_id).await? {
                    Some(webhook) if !webhook.subscriptions.is_conditional() => {
                        return Err(Invalid::new(
                            at,
                            format!(
                                "webhook {:?} is subscribed to events; rules notify webhooks subscribed to conditional_ticket_events",
                                notify.webhook_id.as_str()
                            ),
                        )
                        .into());
                    }
                    Some(_) => {}
                    None => {
                        return Err(Invalid::new(
                            at,
                            format!("no webhook has the id {:?}", notify.webhook_id.as_str()),
                        )
                        .into());
                    }
                }
            }
            parsed.push(action);
        }
        Ok(parsed)
    }
}
