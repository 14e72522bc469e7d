//! Ticket updates: every create and every patch is one update. Triggers run on it, in the
//! same transaction as the change; the webhook calls they make are queued in it too.

use std::collections::HashMap;

use std::sync::Arc;

use hookdesk_core::audit::{FiredRule, Via, field_changes};
use hookdesk_core::event::{CloudEvent, EventType, ticket_events};
use hookdesk_core::request::{PrepareError, prepare, prepare_event};
use hookdesk_core::rules::{Action, Rule, Trigger, UpdateContext, UpdateType, run_cycle};
use hookdesk_core::template::{Context, RenderError, Rendering, Template};
use hookdesk_core::ticket::{
    NewComment, Priority, Requester, Status, Tag, Tags, Ticket, TicketFields, TicketType, parse_text,
};
use hookdesk_core::user::{Email, Role, User};
use hookdesk_core::webhook::{Ordering, Webhook, WebhookStatus};
use hookdesk_core::{Invalid, Timestamp};
use hookdesk_store::{NewAudit, NewInvocation, RulesSnapshot, UpdateTx};
use serde::Serialize;
use serde_json::{Map, Value};
use tracing::{debug, error, info, warn};
use utoipa::ToSchema;

use super::error::OrNotFound;
use super::{App, AppError, ids};

pub const MAX_SUBJECT: usize = 1000;
pub const MAX_TEXT: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct RequesterInput {
    pub name: Option<String>,
    pub email: String,
}

/// The body of `POST /tickets`, already typed.
#[derive(Debug, Clone, Default)]
pub struct NewTicket {
    pub subject: String,
    pub description: String,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub ticket_type: Option<TicketType>,
    pub tags: Vec<String>,
    pub requester: Option<RequesterInput>,
    pub assignee_id: Option<i64>,
    pub group: Option<String>,
    pub custom_fields: Map<String, Value>,
    pub comment: Option<(String, bool)>,
}

/// The body of `PATCH /tickets/{id}`: `None` leaves a field as it is; for nullable fields
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct TicketPatch {
    pub subject: Option<String>,
    pub description: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub ticket_type: Option<Option<TicketType>>,
    pub tags: Option<Vec<String>>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
    pub requester: Option<RequesterInput>,
    pub assignee_id: Option<Option<i64>>,
    pub group: Option<Option<String>>,
    pub custom_fields: Option<Map<String, Value>>,
    pub comment: Option<(String, bool)>,
}

fn subject(text: &str) -> Result<String, Invalid> {
    if text.trim().is_empty() {
        return Err(Invalid::new("subject", "must not be empty"));
    }
    parse_text("subject", text.trim(), MAX_SUBJECT)
}

fn tags(field: &str, raw: &[String]) -> Result<Vec<Tag>, Invalid> {
    raw.iter().enumerate().map(|(i, t)| Tag::parse(t).map_err(|e| e.within(&format!("{field}[{i}]")))).collect()
}

fn comment(raw: Option<(String, bool)>, author: Option<&User>) -> Result<Option<NewComment>, Invalid> {
    raw.map(|(body, public)| {
        if body.trim().is_empty() {
            return Err(Invalid::new("comment.body", "must not be empty"));
        }
        Ok(NewComment { author_id: author.map(|a| a.id), body: parse_text("comment.body", &body, MAX_TEXT)?, public })
    })
    .transpose()
}

fn custom_fields(map: Map<String, Value>) -> Result<Map<String, Value>, Invalid> {
    if let Some(key) = map.keys().find(|k| k.is_empty() || k.len() > 128) {
        return Err(Invalid::new(format!("custom_fields.{key}"), "keys are 1 to 128 characters"));
    }
    // A NUL cannot be stored on PostgreSQL, nor rendered into a comment: refused on both.
    if let Some(path) = hookdesk_core::text::nul_path(&Value::Object(map.clone())) {
        return Err(Invalid::new(format!("custom_fields.{path}"), "must not contain NUL characters"));
    }
    Ok(map)
}

fn group(raw: Option<String>) -> Result<Option<String>, Invalid> {
    raw.map(|g| parse_text("group", g.trim(), 255)).transpose().map(|g| g.filter(|g| !g.is_empty()))
}

/// Who or what makes an update: the audit's `via` and the acting user (none for automations).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub via: Via,
    pub actor: Option<&'a User>,
}

impl<'a> Source<'a> {
    pub fn api(actor: &'a User) -> Self {
        Self { via: Via::Api, actor: Some(actor) }
    }
}

/// A macro or an automation applied to the ticket before the triggers run.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    pub kind: RuleKind,
    pub rule: Rule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleKind {
    Trigger,
    Automation,
    Macro,
}

impl RuleKind {
    fn as_str(self) -> &'static str {
        match self {
            RuleKind::Trigger => "trigger",
            RuleKind::Automation => "automation",
            RuleKind::Macro => "macro",
        }
    }
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
        let fields = TicketFields {
            subject: subject(&input.subject)?,
            description: parse_text("description", &input.description, MAX_TEXT)?,
            status: input.status.unwrap_or(Status::New),
            priority: input.priority.unwrap_or(Priority::Normal),
            ticket_type: input.ticket_type,
            tags: Tags::new(tags("tags", &input.tags)?),
            assignee_id: input.assignee_id,
            group: group(input.group)?,
            custom_fields: custom_fields(input.custom_fields)?,
        };
        let comment = comment(input.comment, source.actor)?;
        let requester = parse_requester(input.requester.as_ref(), source.actor)?;

        let now = self.clock.now();
        let requester = self.requester_in(tx, &rules.event_webhooks, &requester.0, &requester.1, now).await?;
        let base = Ticket {
            id: 0,
            fields: TicketFields::default(),
            requester,
            comments: vec![],
            created_at: now,
            updated_at: now,
            status_changed_at: now,
        };
        let change = Change { previous: None, fields, comment, applied: vec![] };
        self.run_update(tx, rules, rendering, source, base, change, now).await
    }

    /// A patch, then `applied` (a macro's actions), then the triggers: one update.
    pub(crate) async fn update_ticket_from(
        &self,
        source: Source<'_>,
        id: i64,
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
        id: i64,
        patch: TicketPatch,
        applied: &[Applied],
    ) -> Result<UpdateOutcome, AppError> {
        let requester = patch.requester.as_ref().map(|r| parse_requester(Some(r), source.actor)).transpose()?;
        let comment = comment(patch.comment, source.actor)?;
        let set_tags = patch.tags.as_deref().map(|t| tags("tags", t)).transpose()?;
        let add = tags("add_tags", &patch.add_tags)?;
        let remove = tags("remove_tags", &patch.remove_tags)?;
        let subject = patch.subject.as_deref().map(subject).transpose()?;
        let description = patch.description.as_deref().map(|d| parse_text("description", d, MAX_TEXT)).transpose()?;
        let group = patch.group.map(group).transpose()?;
        let custom = patch.custom_fields.map(custom_fields).transpose()?;

        let now = self.clock.now();
        let mut base = tx.ticket(id).await.or_not_found("ticket")?;
        if let Some((name, email)) = requester {
            base.requester = self.requester_in(tx, &rules.event_webhooks, &name, &email, now).await?;
        }
        let previous = base.fields.clone();
        let mut fields = previous.clone();
        if let Some(subject) = subject {
            fields.subject = subject;
        }
        if let Some(description) = description {
            fields.description = description;
        }
        if let Some(status) = patch.status {
            fields.status = status;
        }
        if let Some(priority) = patch.priority {
            fields.priority = priority;
        }
        if let Some(ticket_type) = patch.ticket_type {
            fields.ticket_type = ticket_type;
        }
        if let Some(assignee) = patch.assignee_id {
            fields.assignee_id = assignee;
        }
        if let Some(group) = group {
            fields.group = group;
        }
        if let Some(custom) = custom {
            // A patch merges keys; a null value removes one.
            for (key, value) in custom {
                if value.is_null() {
                    fields.custom_fields.remove(&key);
                } else {
                    fields.custom_fields.insert(key, value);
                }
            }
        }
        if let Some(set) = set_tags {
            fields.tags = Tags::new(set);
        }
        fields.tags.add(add);
        fields.tags.remove(&remove);
        let change = Change { previous: Some(previous), fields, comment, applied: applied.to_vec() };
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
        let mut ids: Vec<&str> = triggers
            .iter()
            .map(|t| &t.rule)
            .chain(applied.iter().map(|a| &a.rule))
            .flat_map(|r| &r.actions)
            .filter_map(|a| match a {
                Action::NotifyWebhook(n) => Some(n.webhook_id.as_str()),
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let webhooks = self.store.webhooks(&ids).await?.into_iter().map(|w| (w.id.clone(), w)).collect();
        Ok(Rules { triggers, webhooks, event_webhooks })
    }

    /// Runs the triggers on an update and writes everything it produced. `base` is the
    /// ticket before the update (id 0 when creating). Every template the rules render shares
    /// `rendering`'s budget: one update cannot hold the writer for long, whatever its rules.
    #[expect(clippy::too_many_arguments, reason = "one update's parts, passed once")]
    pub(crate) async fn run_update(
        &self,
        tx: &mut UpdateTx,
        rules @ Rules { triggers, webhooks, .. }: &Rules,
        rendering: &mut Rendering,
        source: Source<'_>,
        base: Ticket,
        Change { previous, mut fields, comment, applied }: Change,
        now: Timestamp,
    ) -> Result<UpdateOutcome, AppError> {
        // Macros and automations act first; the triggers then see their changes.
        let requested = fields.clone();
        let mut fired: Vec<(RuleKind, &Rule, TicketFields)> = Vec::new();
        for step in &applied {
            for action in &step.rule.actions {
                action.apply(&mut fields);
            }
            fired.push((step.kind, &step.rule, fields.clone()));
        }
        let update = UpdateContext {
            update_type: if previous.is_some() { UpdateType::Change } else { UpdateType::Create },
            previous: previous.as_ref(),
            comment: comment.as_ref(),
            current_user_role: source.actor.map(|a| a.role),
            requester_email: &base.requester.email,
            times: None,
        };
        let report = run_cycle(&mut fields, &update, triggers);
        if report.bound_hit {
            warn!(ticket.id = base.id, passes = report.passes, "trigger cycle stopped at its bound");
        }
        fired.extend(report.fired.iter().map(|f| (RuleKind::Trigger, &triggers[f.rule].rule, f.fields.clone())));

        let id = match &previous {
            None => tx.insert_ticket(&fields, &base.requester, now).await?,
            Some(old) => {
                tx.save_ticket(base.id, base.requester.id, &fields, &old.tags, now).await?;
                base.id
            }
        };
        let before = previous.as_ref().map(|p| Ticket { fields: p.clone(), ..base.clone() });
        let status_changed_at = match &previous {
            Some(old) if old.status == fields.status => base.status_changed_at,
            _ => now,
        };
        let mut ticket = Ticket { id, fields: fields.clone(), updated_at: now, status_changed_at, ..base };
        let mut comments_added = 0;
        if let Some(comment) = &comment {
            let saved = tx.add_comment(id, comment, now).await?;
            ticket.comments.push(saved);
            comments_added += 1;
        }

        // Each fired rule's comments and notifications render from the ticket as it was
        // right after that rule's own changes.
        let mut invocations = Vec::new();
        let mut steps = Vec::new();
        let mut too_expensive = None;
        let mut rule_before = requested;
        for (kind, rule, after) in &fired {
            steps.push(Step {
                rule: FiredRule { kind: kind.as_str().into(), id: rule.id, title: rule.title.clone() },
                changes: field_changes(Some(&rule_before), after, 0),
            });
            rule_before = after.clone();
            let snapshot = Ticket { fields: after.clone(), ..ticket.clone() };
            let named = serde_json::json!({"id": rule.id, "title": rule.title});
            let context =
                self.template_context(&snapshot, source.actor).with("trigger", &named).with(kind.as_str(), &named);
            for (i, action) in rule.actions.iter().enumerate() {
                let field = format!("actions[{i}].value.body");
                match action {
                    Action::AddComment { body, public } => {
                        let body = match (render_comment(body, &context, rendering), kind) {
                            (Ok(body), _) => body,
                            // An agent applying a macro is told; a rule's failure is noted in
                            // the comment, so that the trigger's firing still shows.
                            (Err(e), RuleKind::Macro) => return Err(e.within(&field).into()),
                            (Err(e), _) => {
                                if e.code == RenderError::TOO_EXPENSIVE {
                                    too_expensive.get_or_insert_with(|| e.clone().within(&field));
                                }
                                format!("(this comment's template failed: {})", e.message)
                            }
                        };
                        let saved =
                            tx.add_comment(id, &NewComment { author_id: None, body, public: *public }, now).await?;
                        ticket.comments.push(saved);
                        comments_added += 1;
                    }
                    Action::NotifyWebhook(notify) => {
                        let webhook = webhooks.get(&notify.webhook_id);
                        if webhook.is_some_and(|w| w.status == WebhookStatus::Inactive) {
                            debug!(rule.id = rule.id, webhook.id = %notify.webhook_id, "webhook inactive; not notified");
                            continue;
                        }
                        let request = match webhook {
                            Some(webhook) => {
                                let context = context
                                    .clone()
                                    .with("webhook", &serde_json::json!({"id": webhook.id, "name": webhook.name}));
                                // The standard ticket document is only the body when there is no payload.
                                let document = match notify.payload {
                                    Some(_) => Value::Null,
                                    None => serde_json::to_value(&snapshot).unwrap_or(Value::Null),
                                };
                                prepare(
                                    webhook,
                                    notify.payload.as_ref(),
                                    &notify.params,
                                    &context,
                                    rendering,
                                    &document,
                                )
                            }
                            None => Err(PrepareError {
                                code: "webhook_deleted",
                                message: format!("webhook {} no longer exists", notify.webhook_id),
                            }),
                        };
                        if let Err(e) = &request
                            && e.code == RenderError::TOO_EXPENSIVE
                        {
                            too_expensive.get_or_insert_with(|| {
                                Invalid::new(format!("actions[{i}].value.payload"), &e.message).with_code(e.code)
                            });
                        }
                        invocations.push(NewInvocation {
                            id: ids::new_id("inv"),
                            webhook_id: notify.webhook_id.clone(),
                            ticket_id: Some(id),
                            trigger_id: (*kind == RuleKind::Trigger).then_some(rule.id),
                            automation_id: (*kind == RuleKind::Automation).then_some(rule.id),
                            event_type: None,
                            replay_of: None,
                            request,
                            max_retries: webhook.map_or(0, |w| w.max_retries),
                            ordered: webhook.is_some_and(|w| w.ordering == Ordering::PerTicket),
                            created_at: queued_at(),
                        });
                    }
                    _ => {}
                }
            }
        }

        let events = ticket_events(previous.as_ref(), &fields, comments_added > 0);
        // The documents are built only for a subscriber: most updates have none.
        let subscribed = rules.event_webhooks.iter().any(|w| events.iter().any(|e| w.subscriptions.includes(*e)));
        if subscribed {
            let current = serde_json::to_value(&ticket).unwrap_or(Value::Null);
            let previous = before.as_ref().map_or(Value::Null, |b| serde_json::to_value(b).unwrap_or(Value::Null));
            let subject = format!("tickets/{id}");
            invocations.extend(self.event_invocations(
                &rules.event_webhooks,
                &events,
                Some(id),
                &subject,
                current,
                &previous,
                now,
                rendering,
            ));
        }
        tx.enqueue(&invocations).await?;
        let audit = NewAudit {
            actor_id: source.actor.map(|a| a.id),
            via: source.via,
            changes: field_changes(previous.as_ref(), &fields, comments_added),
            rules: steps.iter().map(|s| s.rule.clone()).collect(),
            events: events.iter().map(|e| e.as_str().to_owned()).collect(),
            invocations: invocations.iter().map(|i| i.id.clone()).collect(),
            bound_hit: report.bound_hit,
        };
        tx.add_audit(id, &audit, now).await?;
        if !steps.is_empty() {
            info!(ticket.id = id, fired = steps.len(), invocations = invocations.len(), "rules fired");
        }
        Ok(UpdateOutcome {
            ticket,
            steps,
            invocations,
            events,
            bound_hit: report.bound_hit,
            unknown_variables: rendering.unknown().to_vec(),
            too_expensive,
        })
    }

    /// Commits an update's transaction and wakes the workers; an invocation it queued that
    /// failed before any request (its payload not JSON, say) gets its ERROR line now.
    pub(crate) async fn commit(&self, tx: UpdateTx) -> Result<(), AppError> {
        for failed in tx.commit().await? {
            // The code, not the message: it may quote the rendered payload or URL.
            error!(
                webhook.id = %failed.webhook_id, invocation.id = %failed.invocation_id, ticket.id = failed.ticket_id,
                code = failed.code, "webhook invocation failed before sending: nothing was sent"
            );
        }
        self.delivery.wake();
        Ok(())
    }

    /// Renders the comments of `applied` (a macro) against `ticket` as the update will, before
    /// its write transaction begins: a macro over its render budget is refused without ever
    /// taking the database's writer (an agent could otherwise hold it with each preview).
    pub(crate) fn render_applied_first(
        &self,
        ticket: &Ticket,
        source: Source<'_>,
        applied: &[Applied],
    ) -> Result<(), AppError> {
        let mut rendering = Rendering::new();
        let mut fields = ticket.fields.clone();
        for step in applied {
            for action in &step.rule.actions {
                action.apply(&mut fields);
            }
            let snapshot = Ticket { fields: fields.clone(), ..ticket.clone() };
            let named = serde_json::json!({"id": step.rule.id, "title": step.rule.title});
            let context =
                self.template_context(&snapshot, source.actor).with("trigger", &named).with(step.kind.as_str(), &named);
            for (i, action) in step.rule.actions.iter().enumerate() {
                if let Action::AddComment { body, .. } = action {
                    render_comment(body, &context, &mut rendering)
                        .map_err(|e| e.within(&format!("actions[{i}].value.body")))?;
                }
            }
        }
        Ok(())
    }

    /// The requester with `email`; one created now raises `user.created` in the same transaction.
    async fn requester_in(
        &self,
        tx: &mut UpdateTx,
        event_webhooks: &[Webhook],
        name: &str,
        email: &Email,
        now: Timestamp,
    ) -> Result<Requester, AppError> {
        let (requester, created) = tx.find_or_create_requester(name, email, now).await?;
        if created {
            let user = User {
                id: requester.id,
                name: requester.name.clone(),
                email: requester.email.clone(),
                role: Role::EndUser,
                created_at: now,
            };
            let current = serde_json::to_value(&user).unwrap_or(Value::Null);
            let subject = format!("users/{}", user.id);
            let created = [EventType::UserCreated];
            let invocations = self.event_invocations(
                event_webhooks,
                &created,
                None,
                &subject,
                current,
                &Value::Null,
                now,
                &mut Rendering::new(),
            );
            tx.enqueue(&invocations).await?;
        }
        Ok(requester)
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
        let invocations =
            self.event_invocations(&webhooks, &[event], None, subject, current, previous, now, &mut Rendering::new());
        if invocations.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.begin_update().await?;
        tx.enqueue(&invocations).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// One invocation per subscribed webhook and event, each carrying the CloudEvents document.
    #[expect(clippy::too_many_arguments, reason = "one event's parts, passed once")]
    pub(crate) fn event_invocations(
        &self,
        webhooks: &[Webhook],
        events: &[EventType],
        ticket_id: Option<i64>,
        subject: &str,
        current: Value,
        previous: &Value,
        now: Timestamp,
        rendering: &mut Rendering,
    ) -> Vec<NewInvocation> {
        let mut invocations = Vec::new();
        for &event in events {
            let subscribed: Vec<&Webhook> = webhooks.iter().filter(|w| w.subscriptions.includes(event)).collect();
            if subscribed.is_empty() {
                continue;
            }
            let event_id = ids::new_id("evt");
            let document = CloudEvent {
                id: &event_id,
                source: &self.config.public_url,
                event,
                subject: subject.to_owned(),
                time: now,
                current: current.clone(),
                previous: previous.clone(),
            }
            .to_json();
            let mut context = Context::new().with("event", &document);
            if ticket_id.is_some() {
                let ticket = if current.is_null() { previous } else { &current };
                context = context.with("ticket", ticket);
            }
            for webhook in subscribed {
                let context =
                    context.clone().with("webhook", &serde_json::json!({"id": webhook.id, "name": webhook.name}));
                invocations.push(NewInvocation {
                    id: ids::new_id("inv"),
                    webhook_id: webhook.id.clone(),
                    ticket_id,
                    trigger_id: None,
                    automation_id: None,
                    event_type: Some(event.as_str().to_owned()),
                    replay_of: None,
                    request: prepare_event(webhook, &context, rendering, &document),
                    max_retries: webhook.max_retries,
                    ordered: webhook.ordering == Ordering::PerTicket,
                    created_at: queued_at(),
                });
            }
        }
        invocations
    }

    /// The variables templates see for `ticket`, acting as `actor`.
    pub fn template_context(&self, ticket: &Ticket, actor: Option<&User>) -> Context {
        let user = actor
            .map_or(Value::Null, |a| serde_json::json!({"id": a.id, "name": a.name, "email": a.email, "role": a.role}));
        Context::new().with("ticket", &self.ticket_document(ticket)).with("current_user", &user)
    }

    /// `ticket` as templates see it: the Ticket JSON plus `url` and `latest_comment`.
    pub fn ticket_document(&self, ticket: &Ticket) -> Value {
        let mut document = serde_json::to_value(ticket).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut document {
            map.insert("url".into(), format!("{}/api/v1/tickets/{}", self.config.public_url, ticket.id).into());
            let latest = ticket.comments.last().map(|c| serde_json::to_value(c).unwrap_or(Value::Null));
            map.insert("latest_comment".into(), latest.unwrap_or(Value::Null));
        }
        document
    }
}

/// What an update changes: the fields the request asks for, its comment, and the macro or
/// automations applied before the triggers.
pub(crate) struct Change {
    pub previous: Option<TicketFields>,
    pub fields: TicketFields,
    pub comment: Option<NewComment>,
    pub applied: Vec<Applied>,
}

/// What an update runs: the active triggers' rules, and the webhooks they notify by id.
pub(crate) struct Rules {
    pub triggers: Arc<Vec<Trigger>>,
    pub webhooks: HashMap<String, Webhook>,
    /// The active webhooks subscribed to events.
    pub event_webhooks: Arc<Vec<Webhook>>,
}

/// When an invocation joins the queue: the queue runs on the system clock, whatever clock
/// tickets are on (a test's fake one must not schedule deliveries hours ahead).
fn queued_at() -> Timestamp {
    Timestamp::now()
}

/// A rendered comment, held to the limits of a typed one.
fn render_comment(template: &Template, context: &Context, rendering: &mut Rendering) -> Result<String, Invalid> {
    // Up to four bytes a character: the limit itself counts characters.
    let body = rendering.render_limited(template, context, MAX_TEXT * 4).map_err(|e| e.invalid(""))?;
    parse_text("", &body, MAX_TEXT)
}

fn parse_requester(input: Option<&RequesterInput>, actor: Option<&User>) -> Result<(String, Email), Invalid> {
    let Some(input) = input else {
        return match actor {
            Some(actor) => Ok((actor.name.clone(), Email::parse(&actor.email)?)),
            None => Err(Invalid::new("requester", "is required when no user makes the update")),
        };
    };
    let email = Email::parse(&input.email).map_err(|e| e.within("requester"))?;
    let name = match input.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => parse_text("requester.name", name, 255)?,
        _ => email.as_str().split('@').next().unwrap_or_default().to_owned(),
    };
    Ok((name, email))
}
