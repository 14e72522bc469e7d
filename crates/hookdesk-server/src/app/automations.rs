//! The automation scheduler: every `--automation-interval`, each active automation is
//! checked, in position order, against every ticket that is not closed; the ones that hold
//! are applied as one update per ticket (triggers run on it), each at most once per run.

use hookdesk_core::audit::Via;
use hookdesk_core::id::TicketId;
use hookdesk_core::rules::RuleSet;
use hookdesk_core::template::Rendering;
use hookdesk_core::ticket::Ticket;
use serde::Serialize;
use tracing::{info, warn};
use utoipa::ToSchema;

use hookdesk_core::update::{Applied, Change, RuleKind, Source, automations_holding};

use super::updates::Rules;
use super::{Admin, App, AppError};

/// What one run did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct AutomationRun {
    pub tickets_checked: u64,
    pub tickets_updated: u64,
    /// Automations fired, summed over tickets.
    pub fired: u64,
    /// Tickets that changed between the check and the update: checked again next run.
    pub skipped: u64,
}

impl App {
    /// Runs the automations now, on this node, rather than at the next scheduled run.
    pub async fn run_automations(&self, _caller: &Admin) -> Result<AutomationRun, AppError> {
        self.run_automations_once().await
    }

    /// One run, as the scheduler makes it.
    pub(crate) async fn run_automations_once(&self) -> Result<AutomationRun, AppError> {
        let automations = self.store.active_rules(RuleSet::Automations).await?;
        let mut run = AutomationRun::default();
        if automations.is_empty() {
            return Ok(run);
        }
        let all: Vec<Applied> = automations
            .iter()
            .map(|a| Applied { kind: RuleKind::Automation, rule: a.rule.clone(), rendered: vec![] })
            .collect();
        let rules = self.rules_for_update(&all).await?;
        let at = self.clock.now();
        let mut after = TicketId(0);
        loop {
            let batch = self.store.open_tickets_after(after, self.config.automation_batch).await?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            for ticket in batch {
                run.tickets_checked += 1;
                let applied = automations_holding(&ticket, &all, at);
                if !applied.is_empty() {
                    self.apply_automations(&rules, &ticket, &applied, &mut run).await?;
                }
            }
        }
        if run.tickets_updated > 0 {
            info!(checked = run.tickets_checked, updated = run.tickets_updated, fired = run.fired, "automations ran");
        }
        Ok(run)
    }

    /// Applies the automations that hold for `ticket` as one update, unless the ticket
    /// changed since it was read.
    async fn apply_automations(
        &self,
        rules: &Rules,
        ticket: &Ticket,
        applied: &[Applied],
        run: &mut AutomationRun,
    ) -> Result<(), AppError> {
        let mut tx = self.store.begin_update().await?;
        let current = match tx.ticket(ticket.id).await {
            Ok(current) if current.updated_at == ticket.updated_at => current,
            // Changed or deleted since the batch was read: its next run decides.
            _ => {
                run.skipped += 1;
                tx.rollback().await?;
                return Ok(());
            }
        };
        run.fired += applied.len() as u64;
        let change =
            Change { previous: Some(current.fields.clone()), fields: current.fields.clone(), comment: None, applied };
        let source = Source { via: Via::Automation, actor: None };
        let mut rendering = Rendering::new();
        match self.run_update(&mut tx, rules, &mut rendering, source, current, change, self.clock.now()).await {
            Ok(_) => {
                self.commit(tx).await?;
                run.tickets_updated += 1;
            }
            Err(e) => {
                warn!(ticket.id = ticket.id.0, error = %e, "an automation update failed; it is retried next run");
                tx.rollback().await?;
            }
        }
        Ok(())
    }
}
