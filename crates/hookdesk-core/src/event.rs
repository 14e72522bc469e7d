//! Event subscriptions: the fixed events an update raises, and the CloudEvents 1.0 document
//! (structured mode) a subscribed webhook receives for each.

use serde_json::{Value, json};

use crate::Timestamp;
use crate::id::{InvocationId, TicketId};
use crate::invocation::{NewInvocation, Origin};
use crate::request::prepare_event;
use crate::template::{Context, Rendering};
use crate::ticket::TicketFields;
use crate::webhook::{Ordering, Webhook};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    TicketCreated,
    TicketStatusChanged,
    TicketPriorityChanged,
    TicketTagsChanged,
    TicketAssigneeChanged,
    TicketCommentAdded,
    TicketDeleted,
    UserCreated,
    UserUpdated,
    /// A webhook none of whose requests has succeeded for `--failing-after`.
    WebhookFailing,
    /// A failing webhook's request succeeded again.
    WebhookRecovered,
}

impl EventType {
    pub const ALL: [EventType; 11] = [
        EventType::TicketCreated,
        EventType::TicketStatusChanged,
        EventType::TicketPriorityChanged,
        EventType::TicketTagsChanged,
        EventType::TicketAssigneeChanged,
        EventType::TicketCommentAdded,
        EventType::TicketDeleted,
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::WebhookFailing,
        EventType::WebhookRecovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::TicketCreated => "ticket.created",
            EventType::TicketStatusChanged => "ticket.status_changed",
            EventType::TicketPriorityChanged => "ticket.priority_changed",
            EventType::TicketTagsChanged => "ticket.tags_changed",
            EventType::TicketAssigneeChanged => "ticket.assignee_changed",
            EventType::TicketCommentAdded => "ticket.comment_added",
            EventType::TicketDeleted => "ticket.deleted",
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::WebhookFailing => "webhook.failing",
            EventType::WebhookRecovered => "webhook.recovered",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }

    pub fn names() -> String {
        Self::ALL.map(EventType::as_str).join(", ")
    }
}

/// The events one ticket update raises, in a stable order. `previous` is `None` when the
/// update creates the ticket (then only `ticket.created`, and `comment_added` for a first
/// comment, are raised: the rest are part of the creation).
pub fn ticket_events(previous: Option<&TicketFields>, current: &TicketFields, comment_added: bool) -> Vec<EventType> {
    let mut events = Vec::new();
    match previous {
        None => events.push(EventType::TicketCreated),
        Some(before) => {
            if before.status != current.status {
                events.push(EventType::TicketStatusChanged);
            }
            if before.priority != current.priority {
                events.push(EventType::TicketPriorityChanged);
            }
            if before.tags != current.tags {
                events.push(EventType::TicketTagsChanged);
            }
            if before.assignee_id != current.assignee_id {
                events.push(EventType::TicketAssigneeChanged);
            }
        }
    }
    if comment_added {
        events.push(EventType::TicketCommentAdded);
    }
    events
}

/// One event as a CloudEvents 1.0 JSON document, structured mode.
pub struct CloudEvent<'a> {
    pub id: &'a str,
    /// Where events come from: the server's public URL.
    pub source: &'a str,
    pub event: EventType,
    /// `tickets/ID`, `users/ID` or `webhooks/ID`.
    pub subject: String,
    pub time: Timestamp,
    pub current: Value,
    pub previous: Value,
}

impl CloudEvent<'_> {
    pub const CONTENT_TYPE: &'static str = "application/cloudevents+json";

    pub fn to_json(&self) -> Value {
        json!({
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.event.as_str(),
            "subject": self.subject,
            "time": self.time,
            "datacontenttype": "application/json",
            "data": {"current": self.current, "previous": self.previous},
        })
    }
}

/// Events raised about one subject.
pub struct Raised<'a> {
    pub events: &'a [EventType],
    /// The ticket they are about, if they are about a ticket.
    pub ticket_id: Option<TicketId>,
    /// `tickets/ID`, `users/ID` or `webhooks/ID`.
    pub subject: &'a str,
    pub current: Value,
    pub previous: &'a Value,
}

/// One invocation per subscribed webhook and event, each carrying the CloudEvents document.
pub fn event_invocations(
    webhooks: &[Webhook],
    raised: &Raised<'_>,
    origin: &Origin<'_>,
    rendering: &mut Rendering,
) -> Vec<NewInvocation> {
    let mut invocations = Vec::new();
    for &event in raised.events {
        let subscribed: Vec<&Webhook> = webhooks.iter().filter(|w| w.subscriptions.includes(event)).collect();
        if subscribed.is_empty() {
            continue;
        }
        let event_id = (origin.new_id)("evt");
        let document = CloudEvent {
            id: &event_id,
            source: origin.public_url,
            event,
            subject: raised.subject.to_owned(),
            time: origin.now,
            current: raised.current.clone(),
            previous: raised.previous.clone(),
        }
        .to_json();
        let mut context = Context::new().with("event", &document);
        if raised.ticket_id.is_some() {
            let ticket = if raised.current.is_null() { raised.previous } else { &raised.current };
            context = context.with("ticket", ticket);
        }
        for webhook in subscribed {
            let context = context.clone().with("webhook", &json!({"id": webhook.id, "name": webhook.name}));
            invocations.push(NewInvocation {
                id: InvocationId((origin.new_id)("inv")),
                webhook_id: webhook.id.clone(),
                ticket_id: raised.ticket_id,
                trigger_id: None,
                automation_id: None,
                event_type: Some(event.as_str().to_owned()),
                replay_of: None,
                request: rendering
                    .in_mode(webhook.template_mode, |rendering| prepare_event(webhook, &context, rendering, &document)),
                max_retries: webhook.max_retries,
                ordered: webhook.ordering == Ordering::PerTicket,
                created_at: origin.queued_at,
            });
        }
    }
    invocations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::{Status, Tag, Tags};

    #[test]
    fn one_update_may_raise_several_events() {
        let before = TicketFields::default();
        let mut after = before.clone();
        after.status = Status::Open;
        after.tags = Tags::new([Tag::parse("vip").expect("tag")]);
        assert_eq!(
            ticket_events(Some(&before), &after, true),
            [EventType::TicketStatusChanged, EventType::TicketTagsChanged, EventType::TicketCommentAdded]
        );
        assert_eq!(ticket_events(None, &after, false), [EventType::TicketCreated]);
        assert!(ticket_events(Some(&before), &before, false).is_empty());
    }

    #[test]
    fn names_round_trip() {
        for event in EventType::ALL {
            assert_eq!(EventType::parse(event.as_str()), Some(event));
        }
    }
}
