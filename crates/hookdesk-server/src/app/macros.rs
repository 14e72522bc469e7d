//! Macros: actions an agent applies to one ticket, as an update the triggers then see.

use hookdesk_core::audit::Via;
use hookdesk_core::id::{MacroId, TicketId};
use hookdesk_core::rules::{Conditions, Macro, MacroTitle, Rule};
use hookdesk_core::template::Rendering;
use hookdesk_core::ticket::Ticket;
use hookdesk_core::{Invalid, Page, ticket::parse_text};
use hookdesk_store::NewMacro;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::checks::Webhooks;
use super::error::OrNotFound;
use super::{Agent, App, AppError, Checked, PageQuery, Saved};
use hookdesk_core::update::{Applied, RuleKind, Source, TicketPatch};

/// The actions a page of macros holds at most (a page holds one macro whatever its size): an
/// agent's thousand large macros must not make each list a hundred megabytes.
pub const MACRO_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// `POST /macros`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MacroBody {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Default true.
    pub active: Option<bool>,
    #[schema(value_type = Vec<super::rule_schemas::MacroAction>)]
    pub actions: Value,
}

/// `PATCH /macros/{id}`: absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchMacroBody {
    pub title: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
    #[schema(value_type = Option<Vec<super::rule_schemas::MacroAction>>)]
    pub actions: Option<Value>,
}

impl App {
    /// A page of macros by title, their actions as stored (a list parses none of them): at
    /// most `limit`, and about [`MACRO_PAGE_BYTES`] of actions at most.
    pub async fn macros(&self, _caller: &Agent, query: PageQuery) -> Result<Page<Macro<Value>>, AppError> {
        let after = match &query.cursor {
            None => None,
            Some(cursor) => Some(hookdesk_store::parse_macro_cursor(cursor).ok_or_else(|| {
                Invalid::new("cursor", "is not a cursor of this list: give the next_cursor it answered")
            })?),
        };
        let after = after.as_ref().map(|(title, id)| (title.as_str(), *id));
        Ok(self.store.macros(after, query.limit()?, MACRO_PAGE_BYTES).await?)
    }

    /// Every macro's title: what a list to pick from needs.
    pub async fn macro_titles(&self, _caller: &Agent) -> Result<Vec<MacroTitle>, AppError> {
        Ok(self.store.macro_titles().await?)
    }

    pub async fn macro_by_id(&self, _caller: &Agent, id: MacroId) -> Result<Macro, AppError> {
        self.store.macro_by_id(id).await.or_not_found("macro")
    }

    pub async fn create_macro(&self, _caller: &Agent, body: MacroBody) -> Result<Saved<Macro>, AppError> {
        let active = body.active.unwrap_or(true);
        let Checked { value, warnings } =
            self.check_macro(&body.title, &body.description, active, &body.actions, true).await?;
        Ok(Saved::new(self.store.create_macro(&value, self.clock.now()).await?, warnings))
    }

    pub async fn update_macro(
        &self,
        caller: &Agent,
        id: MacroId,
        body: PatchMacroBody,
    ) -> Result<Saved<Macro>, AppError> {
        let current = self.macro_by_id(caller, id).await?;
        let actions_changed = body.actions.is_some();
        let actions = body.actions.unwrap_or_else(|| serde_json::to_value(&current.actions).unwrap_or(Value::Null));
        let title = body.title.unwrap_or(current.title);
        let description = body.description.unwrap_or(current.description);
        let active = body.active.unwrap_or(current.active);
        let Checked { value, warnings } =
            self.check_macro(&title, &description, active, &actions, actions_changed).await?;
        let saved = self.store.update_macro(id, &value, self.clock.now()).await.or_not_found("macro")?;
        Ok(Saved::new(saved, warnings))
    }

    pub async fn delete_macro(&self, _caller: &Agent, id: MacroId) -> Result<(), AppError> {
        self.store.delete_macro(id).await.or_not_found("macro")
    }

    /// Macros change tickets; notifying webhooks is the triggers' job (they run right after
    /// the macro, and see its changes), so a macro cannot send anything by itself. Templates
    /// are rendered against the sample ticket only when the actions are new or changed (see
    /// `RuleInput`).
    pub(crate) async fn check_macro(
        &self,
        title: &str,
        description: &str,
        active: bool,
        actions: &Value,
        actions_changed: bool,
    ) -> Result<Checked<NewMacro>, AppError> {
        if title.trim().is_empty() {
            return Err(Invalid::new("title", "must not be empty").into());
        }
        let actions = self.check_actions(actions, Webhooks::Stored).await?;
        if let Some(i) = actions.iter().position(|a| !a.name().serves(RuleKind::Macro)) {
            return Err(Invalid::new(
                format!("actions[{i}].field"),
                "macros cannot notify webhooks: add a tag in the macro and notify from a trigger that looks for it",
            )
            .into());
        }
        let title = parse_text("title", title.trim(), 255)?;
        let warnings = if actions_changed {
            self.check_rule_templates("macro", &title, &actions, Webhooks::Stored).await?
        } else {
            Vec::new()
        };
        let value = NewMacro { title, description: parse_text("description", description, 4096)?, active, actions };
        Ok(Checked { value, warnings })
    }

    /// Applies macro `macro_id` to ticket `ticket_id`: one update, triggers included.
    pub async fn apply_macro(
        &self,
        caller: &Agent,
        ticket_id: TicketId,
        macro_id: MacroId,
    ) -> Result<Ticket, AppError> {
        let (source, applied) = self.macro_to_apply(caller, ticket_id, macro_id).await?;
        Ok(self.update_ticket_from(source, ticket_id, TicketPatch::default(), &applied).await?.ticket)
    }

    /// The ticket as applying the macro would leave it (triggers included): the update runs
    /// and is rolled back, so nothing is saved or sent.
    pub async fn preview_macro(
        &self,
        caller: &Agent,
        ticket_id: TicketId,
        macro_id: MacroId,
    ) -> Result<Ticket, AppError> {
        let (source, applied) = self.macro_to_apply(caller, ticket_id, macro_id).await?;
        let rules = self.rules_for_update(&applied).await?;
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

    /// An active macro, as applied by `caller` to a ticket. Its comments are rendered first,
    /// before any write transaction begins: a macro over its render budget is refused without
    /// ever taking the database's writer (an agent could otherwise hold it with each preview).
    async fn macro_to_apply<'a>(
        &self,
        caller: &'a Agent,
        ticket_id: TicketId,
        macro_id: MacroId,
    ) -> Result<(Source<'a>, [Applied; 1]), AppError> {
        let found = self.macro_by_id(caller, macro_id).await?;
        if !found.active {
            return Err(AppError::Conflict(format!("macro {macro_id} is inactive")));
        }
        let mut applied = [Applied {
            kind: RuleKind::Macro,
            rule: Rule {
                id: found.id.into(),
                title: found.title,
                conditions: Conditions::default(),
                actions: found.actions,
            },
            rendered: vec![],
        }];
        let source = Source { via: Via::Macro, actor: Some(caller.user()) };
        let ticket = self.ticket(caller, ticket_id).await?;
        self.render_applied_first(&ticket, source, &mut applied)?;
        Ok((source, applied))
    }
}
