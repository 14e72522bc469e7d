//! Ticket updates: every create and every patch is one update. `core::update` decides what it
//! does; here the update is read for and written: the ticket, its comments, the invocations
//! its rules and events queue and its audit record, in one transaction.

use std::collections::HashMap;
use std::sync::Arc;

use hookdesk_core::event::{EventType, Raised, event_invocations};
use hookdesk_core::id::{TicketId, WebhookId};
use hookdesk_core::invocation::{NewInvocation, Origin};
use hookdesk_core::rules::{Action, Trigger};
use hookdesk_core::template::{Context, Rendering};
use hookdesk_core::ticket::{Requester, Ticket, TicketFields};
use hookdesk_core::update::{
    Applied, Change, NewTicket, PlanContext, RequesterInput, RuleKind, Source, Step, TicketPatch, UpdatePlan,
    decide_fields, render_comment, rule_context, template_context,
};
use hookdesk_core::user::{Role, User};
use hookdesk_core::webhook::Webhook;
use hookdesk_core::{Invalid, Timestamp};
use hookdesk_store::{RulesSnapshot, UpdateTx};
use serde_json::Value;
use tracing::{error, info, warn};

use super::error::OrNotFound;
use super::{App, AppError, ids};

/// Everything one update did.
#[derive(Debug, Clone)]
pub struct UpdateOutcome {
    pub ticket: Ticket,
    pub steps: Vec<Step>,
    pub invocations: Vec<NewInvocation>,
    pub events: Vec<EventType>,
    pub bound_hit: bool,
    /// Variables the rules' templates asked for that their context lacks (`ticket.subjct`).
    pub unknown_variables: Vec<String>,
    /// The first template of a rule that went over its render budget (a trigger's comment,
    /// a payload): previews and dry runs refuse to show an update that cannot render.
    pub too_expensive: Option<Invalid>,
}

/// What an update runs: the active triggers' rules, and the webhooks they notify by id.
pub(crate) struct Rules {
    pub triggers: Arc<Vec<Trigger>>,
    pub webhooks: HashMap<WebhookId, Webhook>,
    /// The active webhooks subscribed to events.
    pub event_webhooks: Arc<Vec<Webhook>>,
}

impl App {
    pub(crate) async fn create_ticket_from(
        &self,
        source: Source<'_>,
        input: NewTicket,
    ) -> Result<UpdateOutcome, AppError> {
        // Read before the write transaction begins: it holds SQLite's one writer.
        let rules = self.rules_for_update(&[]).await?;
        let mut tx = self.store.begin_update().await?;
        let outcome = self.create_in(&mut tx, &rules, &mut Rendering::new(), source, input).await?;
        self.commit(tx).await?;
        Ok(outcome)
    }

    /// The update of `create_ticket_from`, in the caller's transaction.
    pub(crate) async fn create_in(
        &self,
        tx: &mut UpdateTx,
        rules: &Rules,
        rendering: &mut Rendering,
        source: Source<'_>,
        input: NewTicket,
    ) -> Result<UpdateOutcome, AppError> {
        let comment = input.comment.map(|c| c.by(source.actor));
        let requester = RequesterInput::or_actor(input.requester, source.actor)?;
        let now = self.clock.now();
        let requester = self.requester_in(tx, &rules.event_webhooks, &requester, now).await?;
        let base = Ticket {
            id: TicketId(0),
            fields: TicketFields::default(),
            requester,
            comments: vec![],
            created_at: now,
            updated_at: now,
            status_changed_at: now,
        };
        let change = Change { previous: None, fields: input.fields, comment, applied: &[] };
        self.run_update(tx, rules, rendering, source, base, change, now).await
    }

    /// A patch, then `applied` (a macro's actions), then the triggers: one update.
    pub(crate) async fn update_ticket_from(
        &self,
        source: Source<'_>,
        id: TicketId,
        patch: TicketPatch,
        applied: &[Applied],
    ) -> Result<UpdateOutcome, AppError> {
        // Read before the write transaction begins: it holds SQLite's one writer.
        let rules = self.rules_for_update(applied).await?;
        let mut tx = self.store.begin_update().await?;
        let outcome = self.patch_in(&mut tx, &rules, &mut Rendering::new(), source, id, patch, applied).await?;
        self.commit(tx).await?;
        Ok(outcome)
    }

    /// The update of `update_ticket_from`, in the caller's transaction: a dry run rolls it back.
    #[expect(clippy::too_many_arguments, reason = "one update's parts, passed once")]
    pub(crate) async fn patch_in(
        &self,
        tx: &mut UpdateTx,
        rules: &Rules,
        rendering: &mut Rendering,
        source: Source<'_>,
        id: TicketId,
        patch: TicketPatch,
        applied: &[Applied],
    ) -> Result<UpdateOutcome, AppError> {
        let now = self.clock.now();
        let mut base = tx.ticket(id).await.or_not_found("ticket")?;
        if let Some(requester) = &patch.requester {
            base.requester = self.requester_in(tx, &rules.event_webhooks, requester, now).await?;
        }
        let previous = base.fields.clone();
        let mut fields = previous.clone();
        patch.apply(&mut fields);
        let comment = patch.comment.map(|c| c.by(source.actor));
        let change = Change { previous: Some(previous), fields, comment, applied };
        self.run_update(tx, rules, rendering, source, base, change, now).await
    }

    /// The active triggers and the webhooks they (and `applied`) notify, read before an
    /// update's write transaction begins, so that it holds the write lock for as little as
    /// possible.
    pub(crate) async fn rules_for_update(&self, applied: &[Applied]) -> Result<Rules, AppError> {
        let snapshot = self.store.rules_snapshot().await?;
        self.rules_with(snapshot, applied).await
    }

    pub(crate) async fn rules_with(&self, snapshot: RulesSnapshot, applied: &[Applied]) -> Result<Rules, AppError> {
        let RulesSnapshot { triggers, event_webhooks } = snapshot;
        let mut ids: Vec<&WebhookId> = triggers
            .iter()
            .map(|t| &t.rule)
            .chain(applied.iter().map(|a| &a.rule))
            .flat_map(|r| &r.actions)
            .filter_map(|a| match a {
                Action::NotifyWebhook(n) => Some(&n.webhook_id),
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let webhooks = self.store.webhooks(&ids).await?.into_iter().map(|w| (w.id.clone(), w)).collect();
        Ok(Rules { triggers, webhooks, event_webhooks })
    }

    /// Runs an update and writes everything it decided. `base` is the ticket before the
    /// update (id 0 when creating). Every template the rules render shares `rendering`'s
    /// budget: one update cannot hold the writer for long, whatever its rules.
    #[expect(clippy::too_many_arguments, reason = "one update's parts, passed once")]
    pub(crate) async fn run_update(
        &self,
        tx: &mut UpdateTx,
        rules: &Rules,
        rendering: &mut Rendering,
        source: Source<'_>,
        base: Ticket,
        change: Change<'_>,
        now: Timestamp,
    ) -> Result<UpdateOutcome, AppError> {
        // Its renders take no turn at long work: they hold the writer.
        super::holding_the_writer(async {
            let decided = decide_fields(change, &rules.triggers, source, &base.requester.email);
            decided.fields.tags.check_count()?;
            decided.fields.check_custom_fields(&base.fields.custom_fields)?;
            if decided.report.bound_hit {
                warn!(ticket.id = base.id.0, passes = decided.report.passes, "trigger cycle stopped at its bound");
            }
            let id = match decided.previous() {
                None => tx.insert_ticket(&decided.fields, &base.requester, now).await?,
                Some(old) => {
                    tx.save_ticket(base.id, base.requester.id, &decided.fields, &old.tags, now).await?;
                    base.id
                }
            };
            let comment_ids = tx.reserve_comment_ids(decided.comments_added()).await?;
            let origin = self.origin(now);
            let cx = PlanContext {
                id,
                source,
                webhooks: &rules.webhooks,
                event_webhooks: &rules.event_webhooks,
                origin: &origin,
            };
            let plan = decided.plan(base, comment_ids, &cx, rendering)?;
            if !plan.comments.is_empty() {
                plan.ticket.check_comments()?;
            }
            write_plan(tx, id, &plan).await?;
            // A macro applied is the agent's doing, not a rule firing.
            tx.count_update(plan.steps.iter().filter(|s| s.rule.kind != RuleKind::Macro.as_str()).count());
            if !plan.steps.is_empty() {
                info!(ticket.id = id.0, fired = plan.steps.len(), invocations = plan.invocations.len(), "rules fired");
            }
            let UpdatePlan { ticket, steps, invocations, events, bound_hit, too_expensive, .. } = plan;
            let unknown_variables = rendering.unknown().to_vec();
            Ok(UpdateOutcome { ticket, steps, invocations, events, bound_hit, unknown_variables, too_expensive })
        })
        .await
    }

    /// What new invocations and events are made with, for a change at `now`.
    pub(crate) fn origin(&self, now: Timestamp) -> Origin<'_> {
        Origin { public_url: &self.config.public_url, now, queued_at: Timestamp::now(), new_id: &ids::new_id }
    }

    /// Commits an update's transaction and wakes the workers; an invocation it queued that
    /// failed before any request (its payload not JSON, say) gets its ERROR line now.
    pub(crate) async fn commit(&self, tx: UpdateTx) -> Result<(), AppError> {
        let committed = tx.commit().await?;
        self.metrics.updated(committed.tally);
        self.metrics.given_up(committed.failed.len());
        for failed in committed.failed {
            // The code, not the message: it may quote the rendered payload or URL.
            error!(
                webhook.id = %failed.webhook_id, invocation.id = %failed.invocation_id, ticket.id = failed.ticket_id.map(|t| t.0),
                code = failed.code, "webhook invocation failed before sending: nothing was sent"
            );
        }
        self.delivery.wake();
        Ok(())
    }

    /// Renders the comments of `applied` (a macro) against `ticket` before its write
    /// transaction begins, and keeps them for the update to use as they are: a macro over its
    /// render budget is refused without ever taking the database's writer, and no render of an
    /// agent's template happens while it is held (one that rendered cheaply here could
    /// otherwise branch on what changes in the transaction, `updated_at` say, and render dearly
    /// there).
    pub(crate) fn render_applied_first(
        &self,
        ticket: &Ticket,
        source: Source<'_>,
        applied: &mut [Applied],
    ) -> Result<(), AppError> {
        let mut rendering = Rendering::new();
        let mut fields = ticket.fields.clone();
        for step in applied {
            for action in &step.rule.actions {
                action.apply(&mut fields);
            }
            let snapshot = Ticket { fields: fields.clone(), ..ticket.clone() };
            let context = rule_context(&snapshot, source.actor, &self.config.public_url, step.kind, &step.rule);
            let mut rendered = Vec::new();
            for (i, action) in step.rule.actions.iter().enumerate() {
                if let Action::AddComment { body, .. } = action {
                    let body = render_comment(body, &context, &mut rendering)
                        .map_err(|e| e.within(&format!("actions[{i}].value.body")))?;
                    rendered.push(body);
                }
            }
            step.rendered = rendered;
        }
        Ok(())
    }

    /// The requester with `email`; one created now raises `user.created` in the same transaction.
    async fn requester_in(
        &self,
        tx: &mut UpdateTx,
        event_webhooks: &[Webhook],
        requester: &RequesterInput,
        now: Timestamp,
    ) -> Result<Requester, AppError> {
        let (found, created) = tx.find_or_create_requester(&requester.name, &requester.email, now).await?;
        if created {
            let user = User {
                id: found.id,
                name: found.name.clone(),
                email: found.email.clone(),
                role: Role::EndUser,
                created_at: now,
            };
            let subject = format!("users/{}", user.id);
            let raised = Raised {
                events: &[EventType::UserCreated],
                ticket_id: None,
                subject: &subject,
                current: serde_json::to_value(&user).unwrap_or(Value::Null),
                previous: &Value::Null,
            };
            let invocations = event_invocations(event_webhooks, &raised, &self.origin(now), &mut Rendering::new());
            tx.enqueue(&invocations).await?;
        }
        Ok(found)
    }

    /// Queues `event` about `subject` (a user or a webhook, not a ticket) for its subscribers,
    /// in a transaction of its own; nothing is written when none subscribes.
    pub(crate) async fn queue_event(
        &self,
        event: EventType,
        subject: &str,
        current: Value,
        previous: &Value,
        now: Timestamp,
    ) -> Result<(), AppError> {
        let webhooks = self.store.rules_snapshot().await?.event_webhooks;
        let raised = Raised { events: &[event], ticket_id: None, subject, current, previous };
        let invocations = event_invocations(&webhooks, &raised, &self.origin(now), &mut Rendering::new());
        if invocations.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.begin_update().await?;
        tx.enqueue(&invocations).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// The variables templates see for `ticket`, acting as `actor`.
    pub(crate) fn template_context(&self, ticket: &Ticket, actor: Option<&User>) -> Context {
        template_context(ticket, actor, &self.config.public_url)
    }

    /// `ticket` as templates see it: the Ticket JSON plus `url` and `latest_comment`.
    pub(crate) fn ticket_document(&self, ticket: &Ticket) -> Value {
        ticket.document(&self.config.public_url)
    }
}

/// Writes what an update decided beyond the ticket's row: its comments, the invocations it
/// queues and its audit record.
async fn write_plan(tx: &mut UpdateTx, id: TicketId, plan: &UpdatePlan) -> Result<(), AppError> {
    tx.insert_comments(id, &plan.comments).await?;
    tx.enqueue(&plan.invocations).await?;
    tx.add_audit(id, &plan.audit, plan.ticket.updated_at).await?;
    tx.count_firings(&plan.audit.rules, plan.ticket.updated_at).await?;
    Ok(())
}
