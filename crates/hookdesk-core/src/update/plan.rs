//! The second half of an update's decision: what the rules that fired do beyond the fields
//! (comments, webhook notifications), each rendered from the ticket as that rule left it;
//! then the events the change raises and the audit record.

use std::collections::HashMap;

use serde_json::Value;

use super::{Acted, Decided, RuleKind, Source, Step, render_comment, rule_context};
use crate::Invalid;
use crate::audit::{FiredRule, NewAudit, field_changes};
use crate::event::{EventType, Raised, event_invocations, ticket_events};
use crate::id::{CommentId, InvocationId, TicketId, WebhookId};
use crate::invocation::{NewInvocation, Origin};
use crate::request::{PrepareError, prepare};
use crate::rules::{NotifyWebhook, SideEffect};
use crate::template::{Context, RenderError, Rendering, Template};
use crate::ticket::{Comment, NewComment, Ticket};
use crate::webhook::{Ordering, Webhook, WebhookStatus};

/// What the plan is made against: the ticket's id, who acts, the webhooks rules may notify
/// and those subscribed to events, and how new records are made.
pub struct PlanContext<'a> {
    /// The ticket's id: a new one's, once inserted.
    pub id: TicketId,
    pub source: Source<'a>,
    /// The webhooks the rules notify, by id.
    pub webhooks: &'a HashMap<WebhookId, Webhook>,
    /// The active webhooks subscribed to events.
    pub event_webhooks: &'a [Webhook],
    pub origin: &'a Origin<'a>,
}

/// Everything one update writes, and what it reports.
#[derive(Debug, Clone)]
pub struct UpdatePlan {
    /// The ticket as the update leaves it, its new comments included.
    pub ticket: Ticket,
    /// The comments to add, with their reserved ids, in order.
    pub comments: Vec<Comment>,
    pub steps: Vec<Step>,
    pub invocations: Vec<NewInvocation>,
    pub events: Vec<EventType>,
    pub audit: NewAudit,
    pub bound_hit: bool,
    /// The first template of a rule that went over its render budget (a trigger's comment,
    /// a payload): previews and dry runs refuse to show an update that cannot render.
    pub too_expensive: Option<Invalid>,
}

/// The plan as it is built, rule by rule.
struct Planner<'a, 'r> {
    cx: &'r PlanContext<'a>,
    ticket: Ticket,
    comment_ids: std::vec::IntoIter<CommentId>,
    comments: Vec<Comment>,
    invocations: Vec<NewInvocation>,
    too_expensive: Option<Invalid>,
    rendering: &'r mut Rendering,
}

impl Decided<'_> {
    /// What the update does beyond the fields, to `base` (the ticket before it, its
    /// requester settled; id 0 when creating), with `comment_ids` reserved (as many as
    /// [`Decided::comments_added`], in order). A macro's comment that cannot render refuses
    /// the update (the agent applying it is told); a rule's failure is noted in the comment,
    /// so that its firing still shows.
    pub fn plan(
        self,
        base: Ticket,
        comment_ids: Vec<CommentId>,
        cx: &PlanContext<'_>,
        rendering: &mut Rendering,
    ) -> Result<UpdatePlan, Invalid> {
        let Decided { previous, requested, fields, comment, acted, report } = self;
        let now = cx.origin.now;
        let before = previous.as_ref().map(|p| Ticket { fields: p.clone(), ..base.clone() });
        let status_changed_at = match &previous {
            Some(old) if old.status == fields.status => base.status_changed_at,
            _ => now,
        };
        let ticket = Ticket { id: cx.id, fields: fields.clone(), updated_at: now, status_changed_at, ..base };
        let mut planner = Planner {
            cx,
            ticket,
            comment_ids: comment_ids.into_iter(),
            comments: vec![],
            invocations: vec![],
            too_expensive: None,
            rendering,
        };
        if let Some(comment) = comment {
            planner.add_comment(comment);
        }
        let mut steps = Vec::new();
        let mut rule_before = &requested;
        for step in &acted {
            steps.push(Step {
                rule: FiredRule { kind: step.kind.as_str().into(), id: step.rule.id, title: step.rule.title.clone() },
                changes: field_changes(Some(rule_before), &step.fields, 0),
            });
            rule_before = &step.fields;
            planner.rule_effects(step)?;
        }
        let comments_added = planner.comments.len();
        let events = ticket_events(previous.as_ref(), &fields, comments_added > 0);
        planner.event_invocations(&events, before.as_ref());
        let source = planner.cx.source;
        let audit = NewAudit {
            actor_id: source.actor.map(|a| a.id),
            via: source.via,
            changes: field_changes(previous.as_ref(), &fields, comments_added),
            rules: steps.iter().map(|s| s.rule.clone()).collect(),
            events: events.iter().map(|e| e.as_str().to_owned()).collect(),
            invocations: planner.invocations.iter().map(|i| i.id.clone()).collect(),
            bound_hit: report.bound_hit,
        };
        Ok(UpdatePlan {
            ticket: planner.ticket,
            comments: planner.comments,
            steps,
            invocations: planner.invocations,
            events,
            audit,
            bound_hit: report.bound_hit,
            too_expensive: planner.too_expensive,
        })
    }
}

impl Planner<'_, '_> {
    fn add_comment(&mut self, comment: NewComment) {
        let saved = Comment {
            id: self.comment_ids.next().unwrap_or(CommentId(0)),
            author_id: comment.author_id,
            body: comment.body,
            public: comment.public,
            created_at: self.cx.origin.now,
        };
        self.ticket.comments.push(saved.clone());
        self.comments.push(saved);
    }

    /// The comments and notifications of one rule, rendered from the ticket as it left it
    /// (and with the comments added before it).
    fn rule_effects(&mut self, acted: &Acted<'_>) -> Result<(), Invalid> {
        let snapshot = Ticket { fields: acted.fields.clone(), ..self.ticket.clone() };
        let context = rule_context(&snapshot, self.cx.source.actor, self.cx.origin.public_url, acted.kind, acted.rule);
        let mut rendered = acted.rendered.iter();
        for (i, action) in acted.rule.actions.iter().enumerate() {
            match action.side_effect() {
                None => {}
                Some(SideEffect::Comment { public, .. }) if !acted.rendered.is_empty() => {
                    let body = rendered.next().cloned().unwrap_or_default();
                    self.add_comment(NewComment { author_id: None, body, public });
                }
                Some(SideEffect::Comment { body, public }) => self.rule_comment(acted, i, body, public, &context)?,
                Some(SideEffect::Notify(notify)) => self.notify(acted, i, notify, &snapshot, &context),
            }
        }
        Ok(())
    }

    fn rule_comment(
        &mut self,
        acted: &Acted<'_>,
        i: usize,
        body: &Template,
        public: bool,
        context: &Context,
    ) -> Result<(), Invalid> {
        let field = format!("actions[{i}].value.body");
        let body = match render_comment(body, context, self.rendering) {
            Ok(body) => body,
            Err(e) if acted.kind == RuleKind::Macro => return Err(e.within(&field)),
            Err(e) => {
                if e.code == RenderError::TOO_EXPENSIVE {
                    self.too_expensive.get_or_insert_with(|| e.clone().within(&field));
                }
                format!("(this comment's template failed: {})", e.message)
            }
        };
        self.add_comment(NewComment { author_id: None, body, public });
        Ok(())
    }

    fn notify(&mut self, acted: &Acted<'_>, i: usize, notify: &NotifyWebhook, snapshot: &Ticket, context: &Context) {
        let webhook = self.cx.webhooks.get(&notify.webhook_id);
        if webhook.is_some_and(|w| w.status == WebhookStatus::Inactive) {
            return;
        }
        let request = match webhook {
            Some(webhook) => {
                let context =
                    context.clone().with("webhook", &serde_json::json!({"id": webhook.id, "name": webhook.name}));
                // The standard ticket document is only the body when there is no payload.
                let document = match notify.payload {
                    Some(_) => Value::Null,
                    None => serde_json::to_value(snapshot).unwrap_or(Value::Null),
                };
                // The webhook's templates render in its mode (the rules' own stay lax).
                self.rendering.in_mode(webhook.template_mode, |rendering| {
                    prepare(webhook, notify.payload.as_ref(), &notify.params, &context, rendering, &document)
                })
            }
            None => Err(PrepareError {
                code: "webhook_deleted",
                message: format!("webhook {} no longer exists", notify.webhook_id),
            }),
        };
        if let Err(e) = &request
            && e.code == RenderError::TOO_EXPENSIVE
        {
            self.too_expensive.get_or_insert_with(|| {
                Invalid::new(format!("actions[{i}].value.payload"), &e.message).with_code(e.code)
            });
        }
        self.invocations.push(NewInvocation {
            id: InvocationId((self.cx.origin.new_id)("inv")),
            webhook_id: notify.webhook_id.clone(),
            ticket_id: Some(self.cx.id),
            trigger_id: (acted.kind == RuleKind::Trigger).then_some(acted.rule.id),
            automation_id: (acted.kind == RuleKind::Automation).then_some(acted.rule.id),
            event_type: None,
            replay_of: None,
            request,
            max_retries: webhook.map_or(0, |w| w.max_retries),
            ordered: webhook.is_some_and(|w| w.ordering == Ordering::PerTicket),
            created_at: self.cx.origin.queued_at,
        });
    }

    /// The events' invocations. The documents are built only for a subscriber: most updates
    /// have none.
    fn event_invocations(&mut self, events: &[EventType], before: Option<&Ticket>) {
        let subscribed = self.cx.event_webhooks.iter().any(|w| events.iter().any(|e| w.subscriptions.includes(*e)));
        if !subscribed {
            return;
        }
        let current = serde_json::to_value(&self.ticket).unwrap_or(Value::Null);
        let previous = before.map_or(Value::Null, |b| serde_json::to_value(b).unwrap_or(Value::Null));
        let subject = format!("tickets/{}", self.cx.id);
        let raised = Raised { events, ticket_id: Some(self.cx.id), subject: &subject, current, previous: &previous };
        let queued = event_invocations(self.cx.event_webhooks, &raised, self.cx.origin, self.rendering);
        self.invocations.extend(queued);
    }
}
