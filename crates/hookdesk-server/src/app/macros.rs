//! Macros: actions an agent applies to one ticket, as an update the triggers then see.

use hookdesk_core::audit::Via;
use hookdesk_core::rules::{Action, Conditions, Macro, Rule};
use hookdesk_core::template::Rendering;
use hookdesk_core::ticket::Ticket;
use hookdesk_core::user::User;
use hookdesk_core::{Invalid, ticket::parse_text};
use hookdesk_store::NewMacro;
use serde_json::Value;

use super::error::OrNotFound;
use super::updates::{Applied, RuleKind, Source, TicketPatch};
use super::{App, AppError, Checked};

/// A macro as the API gives it, before it is checked.
#[derive(Debug, Clone)]
pub struct MacroInput<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub active: bool,
    pub actions: &'a Value,
    /// Whether the actions are new or changed (see `RuleInput`).
    pub actions_changed: bool,
}

impl App {
    /// Macros change tickets; notifying webhooks is the triggers' job (they run right after
    /// the macro, and see its changes), so a macro cannot send anything by itself.
    pub async fn check_macro(&self, input: &MacroInput<'_>) -> Result<Checked<NewMacro>, AppError> {
        if input.title.trim().is_empty() {
            return Err(Invalid::new("title", "must not be empty").into());
        }
        let actions = self.check_actions(input.actions).await?;
        if let Some(i) = actions.iter().position(|a| matches!(a, Action::NotifyWebhook(_))) {
            return Err(Invalid::new(
                format!("actions[{i}].field"),
                "macros cannot notify webhooks: add a tag in the macro and notify from a trigger that looks for it",
            )
            .into());
        }
        let title = parse_text("title", input.title.trim(), 255)?;
        let warnings = if input.actions_changed {
            self.check_rule_templates("macro", &title, &actions).await?
        } else {
            Vec::new()
        };
        let value = NewMacro {
            title,
            description: parse_text("description", input.description, 4096)?,
            active: input.active,
            actions,
        };
        Ok(Checked { value, warnings })
    }

    pub async fn macros(&self) -> Result<Vec<Macro>, AppError> {
        Ok(self.store.macros().await?)
    }

    pub async fn macro_by_id(&self, id: i64) -> Result<Macro, AppError> {
        self.store.macro_by_id(id).await.or_not_found("macro")
    }

    pub async fn create_macro(&self, new: NewMacro) -> Result<Macro, AppError> {
        Ok(self.store.create_macro(&new, self.clock.now()).await?)
    }

    pub async fn update_macro(&self, id: i64, new: NewMacro) -> Result<Macro, AppError> {
        self.store.update_macro(id, &new, self.clock.now()).await.or_not_found("macro")
    }

    pub async fn delete_macro(&self, id: i64) -> Result<(), AppError> {
        self.store.delete_macro(id).await.or_not_found("macro")
    }

    /// Applies macro `macro_id` to ticket `ticket_id` as `actor`: one update, triggers included.
    /// With `preview`, the update runs and is rolled back: the answer is the ticket it would
    /// leave, and nothing is saved or sent.
    pub async fn apply_macro(
        &self,
        actor: &User,
        ticket_id: i64,
        macro_id: i64,
        preview: bool,
    ) -> Result<Ticket, AppError> {
        let found = self.macro_by_id(macro_id).await?;
        if !found.active {
            return Err(AppError::Conflict(format!("macro {macro_id} is inactive")));
        }
        let applied = [Applied {
            kind: RuleKind::Macro,
            rule: Rule { id: found.id, title: found.title, conditions: Conditions::default(), actions: found.actions },
        }];
        let source = Source { via: Via::Macro, actor: Some(actor) };
        let ticket = self.ticket(ticket_id).await?;
        self.render_applied_first(&ticket, source, &applied)?;
        if !preview {
            return Ok(self.update_ticket_from(source, ticket_id, TicketPatch::default(), &applied).await?.ticket);
        }
        let rules = self.rules(&applied).await?;
        let mut tx = self.store.begin_update().await?;
        let outcome = self
            .patch_in(&mut tx, &rules, &mut Rendering::new(), source, ticket_id, TicketPatch::default(), &applied)
            .await;
        tx.rollback().await?;
        let outcome = outcome?;
        // A preview renders on purpose: what cannot render is an error, not a note.
        if let Some(expensive) = outcome.too_expensive {
            return Err(expensive.into());
        }
        Ok(outcome.ticket)
    }
}
