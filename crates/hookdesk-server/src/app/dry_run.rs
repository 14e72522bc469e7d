//! Dry runs: which triggers an update would fire, in which order, with their changes and
//! the requests they would send. The update really runs, in a transaction that is rolled
//! back, so the answer is exactly what would happen; nothing is saved or sent.

use std::sync::Arc;

use hookdesk_core::Timestamp;
use hookdesk_core::id::{RuleId, TicketId};
use hookdesk_core::rules::{Rule, Trigger};
use hookdesk_core::template::Rendering;
use hookdesk_core::ticket::Ticket;
use hookdesk_store::{NewInvocation, NewTrigger};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::{Admin, App, AppError, PatchTicketBody, TriggerBody};
use hookdesk_core::update::{Source, Step, TicketPatch};

/// `POST /triggers/dry_run`: a proposed change to one ticket, and optionally a draft trigger
/// to try with the others.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunBody {
    #[schema(value_type = i64)]
    pub ticket_id: TicketId,
    /// The proposed update, as a `PATCH /tickets/{id}` body; none to re-run the triggers on
    /// the ticket as it is.
    pub changes: Option<PatchTicketBody>,
    /// A draft trigger, tried with the active ones at its `position` (last without one).
    pub trigger: Option<TriggerBody>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRunResult {
    /// The ticket as the update would leave it.
    pub ticket: Ticket,
    /// The rules that would fire, in firing order, each with its own changes. The draft
    /// trigger has id 0.
    pub fired: Vec<Step>,
    /// The webhook requests that would be queued: `{webhook_id, trigger_id, event_type,
    /// request: {method, url, headers, body}}`, or `error` for one that fails before sending.
    #[schema(value_type = Vec<Object>)]
    pub requests: Vec<Value>,
    /// The event types the update would raise.
    pub events: Vec<String>,
    pub bound_hit: bool,
    /// Variables the templates asked for that did not exist (`ticket.subjct`): each
    /// rendered empty.
    pub unknown_variables: Vec<String>,
}

impl App {
    pub async fn dry_run(&self, caller: &Admin, body: DryRunBody) -> Result<DryRunResult, AppError> {
        let draft = match &body.trigger {
            Some(trigger) => Some(self.check_draft_trigger(trigger).await.map_err(|e| match e {
                AppError::Invalid(invalid) => AppError::Invalid(invalid.within("trigger")),
                other => other,
            })?),
            None => None,
        };
        let patch = body.changes.map(TicketPatch::try_from).transpose()?.unwrap_or_default();
        let mut snapshot = self.store.rules_snapshot().await?;
        if let Some(draft) = draft {
            snapshot.triggers = Arc::new(with_draft(&snapshot.triggers, draft));
        }
        let rules = self.rules_with(snapshot, &[]).await?;
        let mut tx = self.store.begin_update().await?;
        let outcome = self
            .patch_in(
                &mut tx,
                &rules,
                &mut Rendering::noting_unknown(),
                Source::api(caller.user()),
                body.ticket_id,
                patch,
                &[],
            )
            .await;
        tx.rollback().await?;
        let outcome = outcome?;
        // A dry run renders on purpose: what cannot render is an error, not a note.
        if let Some(expensive) = outcome.too_expensive {
            return Err(expensive.into());
        }
        Ok(DryRunResult {
            ticket: outcome.ticket,
            fired: outcome.steps,
            requests: outcome.invocations.iter().map(request_view).collect(),
            events: outcome.events.iter().map(|e| e.as_str().to_owned()).collect(),
            bound_hit: outcome.bound_hit,
            unknown_variables: outcome.unknown_variables,
        })
    }
}

/// The active triggers with a draft among them, at its position (last without one), as id 0.
fn with_draft(triggers: &[Trigger], draft: NewTrigger) -> Vec<Trigger> {
    let mut list = triggers.to_vec();
    let position = draft.position.unwrap_or(i64::MAX);
    let at = list.iter().position(|t| t.position > position).unwrap_or(list.len());
    let rule = Rule { id: RuleId(0), title: draft.title, conditions: draft.conditions, actions: draft.actions };
    let created_at = Timestamp::default();
    let trigger =
        Trigger { rule, description: draft.description, active: true, position, created_at, updated_at: created_at };
    list.insert(at, trigger);
    list
}

fn request_view(invocation: &NewInvocation) -> Value {
    let mut view = json!({
        "webhook_id": invocation.webhook_id,
        "trigger_id": invocation.trigger_id,
        "event_type": invocation.event_type,
    });
    let (key, value) = match &invocation.request {
        Ok(request) => {
            let headers: Map<String, Value> =
                request.headers.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
            (
                "request",
                json!({"method": request.method.as_str(), "url": request.url, "headers": headers, "body": request.body}),
            )
        }
        Err(e) => ("error", json!({"code": e.code, "message": e.message})),
    };
    if let Value::Object(map) = &mut view {
        map.insert(key.into(), value);
    }
    view
}
