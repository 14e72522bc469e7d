//! Ticket updates: every create and every patch is one update. Triggers run on it, in the
//! same transaction as the change; the webhook calls they make are queued in it too.

use std::collections::HashMap;

use std::sync::Arc;

use hookdesk_core::request::{PrepareError, prepare};
use hookdesk_core::rules::{Action, Trigger, UpdateContext, UpdateType, run_cycle};
use hookdesk_core::template::{Context, Template};
use hookdesk_core::ticket::{NewComment, Priority, Status, Tag, Tags, Ticket, TicketFields, TicketType, parse_text};
use hookdesk_core::user::{Email, User};
use hookdesk_core::webhook::{Ordering, Webhook, WebhookStatus};
use hookdesk_core::{Invalid, Timestamp};
use hookdesk_delivery::dispatcher::now;
use hookdesk_store::{NewInvocation, UpdateTx};
use serde_json::{Map, Value};
use tracing::{debug, info, warn};

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

fn comment(raw: Option<(String, bool)>, author: &User) -> Result<Option<NewComment>, Invalid> {
    raw.map(|(body, public)| {
        if body.trim().is_empty() {
            return Err(Invalid::new("comment.body", "must not be empty"));
        }
        Ok(NewComment { author_id: Some(author.id), body: parse_text("comment.body", &body, MAX_TEXT)?, public })
    })
    .transpose()
}

fn custom_fields(map: Map<String, Value>) -> Result<Map<String, Value>, Invalid> {
    if let Some(key) = map.keys().find(|k| k.is_empty() || k.len() > 128) {
        return Err(Invalid::new(format!("custom_fields.{key}"), "keys are 1 to 128 characters"));
    }
    Ok(map)
}

fn group(raw: Option<String>) -> Result<Option<String>, Invalid> {
    raw.map(|g| parse_text("group", g.trim(), 255)).transpose().map(|g| g.filter(|g| !g.is_empty()))
}

impl App {
    pub async fn create_ticket(&self, actor: &User, input: NewTicket) -> Result<Ticket, AppError> {
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
        let comment = comment(input.comment, actor)?;
        let requester = parse_requester(input.requester.as_ref(), actor)?;

        let rules = self.rules().await?;
        let now = now();
        let mut tx = self.store.begin_update().await?;
        let requester = tx.find_or_create_requester(&requester.0, &requester.1, now).await?;
        let base = Ticket {
            id: 0,
            fields: TicketFields::default(),
            requester,
            comments: vec![],
            created_at: now,
            updated_at: now,
        };
        let ticket = self.run_update(&mut tx, &rules, actor, base, None, fields, comment, now).await?;
        tx.commit().await?;
        self.delivery.wake();
        Ok(ticket)
    }

    pub async fn update_ticket(&self, actor: &User, id: i64, patch: TicketPatch) -> Result<Ticket, AppError> {
        let requester = patch.requester.as_ref().map(|r| parse_requester(Some(r), actor)).transpose()?;
        let comment = comment(patch.comment, actor)?;
        let set_tags = patch.tags.as_deref().map(|t| tags("tags", t)).transpose()?;
        let add = tags("add_tags", &patch.add_tags)?;
        let remove = tags("remove_tags", &patch.remove_tags)?;
        let subject = patch.subject.as_deref().map(subject).transpose()?;
        let description = patch.description.as_deref().map(|d| parse_text("description", d, MAX_TEXT)).transpose()?;
        let group = patch.group.map(group).transpose()?;
        let custom = patch.custom_fields.map(custom_fields).transpose()?;

        let rules = self.rules().await?;
        let now = now();
        let mut tx = self.store.begin_update().await?;
        let mut base = tx.ticket(id).await.or_not_found("ticket")?;
        if let Some((name, email)) = requester {
            base.requester = tx.find_or_create_requester(&name, &email, now).await?;
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
        let ticket = self.run_update(&mut tx, &rules, actor, base, Some(previous), fields, comment, now).await?;
        tx.commit().await?;
        self.delivery.wake();
        Ok(ticket)
    }

    pub async fn ticket(&self, id: i64) -> Result<Ticket, AppError> {
        self.store.ticket(id).await.or_not_found("ticket")
    }

    pub async fn delete_ticket(&self, id: i64) -> Result<(), AppError> {
        self.store.delete_ticket(id).await.or_not_found("ticket")
    }

    /// The active triggers and the webhooks they notify, read before an update's write
    /// transaction begins, so that it holds the write lock for as little as possible.
    async fn rules(&self) -> Result<Rules, AppError> {
        let triggers = self.store.active_triggers().await?;
        let mut ids: Vec<&str> = triggers
            .iter()
            .flat_map(|t| &t.rule.actions)
            .filter_map(|a| match a {
                Action::NotifyWebhook(n) => Some(n.webhook_id.as_str()),
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let webhooks = self.store.webhooks(&ids).await?.into_iter().map(|w| (w.id.clone(), w)).collect();
        Ok(Rules { triggers, webhooks })
    }

    /// Runs the triggers on an update and writes everything it produced. `base` is the
    /// ticket before the update (id 0 when creating), `fields` what the request asks for.
    #[expect(clippy::too_many_arguments, reason = "one update's parts, passed once")]
    async fn run_update(
        &self,
        tx: &mut UpdateTx,
        Rules { triggers, webhooks }: &Rules,
        actor: &User,
        base: Ticket,
        previous: Option<TicketFields>,
        mut fields: TicketFields,
        comment: Option<NewComment>,
        now: Timestamp,
    ) -> Result<Ticket, AppError> {
        let update = UpdateContext {
            update_type: if previous.is_some() { UpdateType::Change } else { UpdateType::Create },
            previous: previous.as_ref(),
            comment: comment.as_ref(),
            current_user_role: Some(actor.role),
            requester_email: &base.requester.email,
        };
        let report = run_cycle(&mut fields, &update, triggers);
        if report.bound_hit {
            warn!(ticket.id = base.id, passes = report.passes, "trigger cycle stopped at its bound");
        }

        let id = match &previous {
            None => tx.insert_ticket(&fields, &base.requester, now).await?,
            Some(old) => {
                tx.save_ticket(base.id, base.requester.id, &fields, &old.tags, now).await?;
                base.id
            }
        };
        let mut ticket = Ticket { id, fields: fields.clone(), updated_at: now, ..base };
        if let Some(comment) = &comment {
            let saved = tx.add_comment(id, comment, now).await?;
            ticket.comments.push(saved);
        }

        // Each fired trigger's comments and notifications render from the ticket as it was
        // right after that trigger's own changes.
        let mut invocations = Vec::new();
        for fired in &report.fired {
            let rule = &triggers[fired.rule].rule;
            let snapshot = Ticket { fields: fired.fields.clone(), ..ticket.clone() };
            let context = self
                .template_context(&snapshot, actor)
                .with("trigger", &serde_json::json!({"id": rule.id, "title": rule.title}));
            for action in &rule.actions {
                match action {
                    Action::AddComment { body, public } => {
                        let body = render_or_note(body, &context);
                        let saved =
                            tx.add_comment(id, &NewComment { author_id: None, body, public: *public }, now).await?;
                        ticket.comments.push(saved);
                    }
                    Action::NotifyWebhook(notify) => {
                        let webhook = webhooks.get(&notify.webhook_id);
                        if webhook.is_some_and(|w| w.status == WebhookStatus::Inactive) {
                            debug!(trigger.id = rule.id, webhook.id = %notify.webhook_id, "webhook inactive; not notified");
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
                                prepare(webhook, notify.payload.as_ref(), &notify.params, &context, &document)
                            }
                            None => Err(PrepareError {
                                code: "webhook_deleted",
                                message: format!("webhook {} no longer exists", notify.webhook_id),
                            }),
                        };
                        invocations.push(NewInvocation {
                            id: ids::new_id("inv"),
                            webhook_id: notify.webhook_id.clone(),
                            ticket_id: Some(id),
                            trigger_id: Some(rule.id),
                            automation_id: None,
                            event_type: None,
                            replay_of: None,
                            request,
                            max_retries: webhook.map_or(0, |w| w.max_retries),
                            ordered: webhook.is_some_and(|w| w.ordering == Ordering::PerTicket),
                            created_at: now,
                        });
                    }
                    _ => {}
                }
            }
        }
        tx.enqueue(&invocations).await?;
        if !report.fired.is_empty() {
            info!(ticket.id = id, fired = report.fired.len(), invocations = invocations.len(), "triggers fired");
        }
        Ok(ticket)
    }

    /// The variables templates see for `ticket`, acting as `actor`.
    pub fn template_context(&self, ticket: &Ticket, actor: &User) -> Context {
        let mut document = serde_json::to_value(ticket).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut document {
            map.insert("url".into(), format!("{}/api/v1/tickets/{}", self.config.public_url, ticket.id).into());
            let latest = ticket.comments.last().map(|c| serde_json::to_value(c).unwrap_or(Value::Null));
            map.insert("latest_comment".into(), latest.unwrap_or(Value::Null));
        }
        Context::new().with("ticket", &document).with(
            "current_user",
            &serde_json::json!({"id": actor.id, "name": actor.name, "email": actor.email, "role": actor.role}),
        )
    }
}

/// What an update runs: the active triggers' rules, and the webhooks they notify by id.
struct Rules {
    triggers: Arc<Vec<Trigger>>,
    webhooks: HashMap<String, Webhook>,
}

/// A comment body that fails to render still records that the trigger ran.
fn render_or_note(template: &Template, context: &Context) -> String {
    template.render(context).unwrap_or_else(|e| format!("(this comment's template failed: {})", e.0))
}

fn parse_requester(input: Option<&RequesterInput>, actor: &User) -> Result<(String, Email), Invalid> {
    let Some(input) = input else {
        return Ok((actor.name.clone(), Email::parse(&actor.email)?));
    };
    let email = Email::parse(&input.email).map_err(|e| e.within("requester"))?;
    let name = match input.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => parse_text("requester.name", name, 255)?,
        _ => email.as_str().split('@').next().unwrap_or_default().to_owned(),
    };
    Ok((name, email))
}
