//! What the editors offer to pick from beyond the rule vocabulary: people and webhooks by
//! name, custom fields in use, and the placeholders a template may insert. Read from the
//! data and the sample ticket's document, so a placeholder offered is one that renders.

use hookdesk_core::Timestamp;
use hookdesk_core::id::{TicketId, UserId, WebhookId};
use hookdesk_core::rules::RuleKind;
use serde_json::{Map, Value, json};

use super::checks::sample_ticket;
use super::{Agent, App, AppError};

/// The most people and webhooks an editor lists.
const MAX_CHOICES: u32 = 500;
/// How many of the latest tickets tell which custom fields are in use.
const CUSTOM_FIELD_TICKETS: u32 = 200;
/// How many of the latest tickets an editor offers to try a rule on.
const RECENT_TICKETS: u32 = 25;

/// A webhook an editor may name.
#[derive(Debug, Clone)]
pub struct WebhookChoice {
    pub id: WebhookId,
    pub name: String,
    /// Whether `notify_webhook` may name it (it subscribes to `conditional_ticket_events`).
    pub notifiable: bool,
}

/// A variable a template may use, with what it holds on the sample ticket.
#[derive(Debug, Clone)]
pub struct Placeholder {
    /// What the template says: `{{ ticket.subject }}`.
    pub liquid: String,
    pub example: String,
}

#[derive(Debug, Clone, Default)]
pub struct EditorChoices {
    /// Agents and admins: who a ticket may be assigned to.
    pub people: Vec<(UserId, String)>,
    pub webhooks: Vec<WebhookChoice>,
    pub custom_fields: Vec<String>,
    pub placeholders: Vec<Placeholder>,
    /// The latest tickets, to try a rule on.
    pub tickets: Vec<(TicketId, String)>,
}

impl App {
    /// What an editor of rules of `kind` offers to pick from.
    pub async fn editor_choices(&self, caller: &Agent, kind: RuleKind) -> Result<EditorChoices, AppError> {
        let people = self
            .store
            .staff(MAX_CHOICES)
            .await?
            .into_iter()
            .map(|user| (user.id, format!("{} ({})", user.name, user.role.as_str())))
            .collect();
        // Macros notify no webhook (agents write them, and may not read webhooks).
        let webhooks = match kind {
            RuleKind::Macro => vec![],
            RuleKind::Trigger | RuleKind::Automation => self
                .store
                .webhook_choices(MAX_CHOICES)
                .await?
                .into_iter()
                .map(|(id, name, subscriptions)| WebhookChoice { id, name, notifiable: subscriptions.is_conditional() })
                .collect(),
        };
        let custom_fields = self.store.recent_custom_field_keys(CUSTOM_FIELD_TICKETS).await?;
        let placeholders = self.placeholders(kind, &custom_fields);
        let tickets = self.recent_tickets(caller).await?;
        Ok(EditorChoices { people, webhooks, custom_fields, placeholders, tickets })
    }

    /// The latest tickets by subject, to try something on (a rule, a webhook's test).
    pub async fn recent_tickets(&self, _caller: &Agent) -> Result<Vec<(TicketId, String)>, AppError> {
        Ok(self.store.recent_ticket_subjects(RECENT_TICKETS).await?)
    }

    /// Every variable of the context rules of `kind` render in, from the sample ticket's
    /// document (custom fields as the latest tickets use them).
    fn placeholders(&self, kind: RuleKind, custom_fields: &[String]) -> Vec<Placeholder> {
        let mut ticket = sample_ticket(UserId(1), Timestamp::now());
        for key in custom_fields {
            ticket.fields.custom_fields.insert(key.clone(), Value::Null);
        }
        let mut context = Map::new();
        context.insert("ticket".into(), self.ticket_document(&ticket));
        if kind != RuleKind::Automation {
            context.insert(
                "current_user".into(),
                json!({"id": 1, "name": "Sample Agent", "email": "agent@example.com", "role": "agent"}),
            );
        }
        if kind != RuleKind::Macro {
            context.insert(kind.as_str().into(), json!({"id": 0, "title": "This rule"}));
            context.insert("webhook".into(), json!({"id": "wh_...", "name": "The webhook notified"}));
        }
        let mut found = Vec::new();
        flatten("", &Value::Object(context), &mut found);
        found
    }
}

/// The scalar paths of `value`, with lists of scalars joined and lists of objects left out
/// (`latest_comment` stands for the comments).
fn flatten(path: &str, value: &Value, found: &mut Vec<Placeholder>) {
    let example = |value: &Value| {
        let text = match value {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        text.chars().take(40).collect()
    };
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let inner_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                flatten(&inner_path, inner, found);
            }
        }
        Value::Array(items) if items.iter().all(|item| !item.is_object()) => {
            let joined = items.iter().map(example).collect::<Vec<String>>().join(", ");
            found.push(Placeholder { liquid: format!("{{{{ {path} | join: \", \" }}}}"), example: joined });
        }
        Value::Array(_) => {}
        scalar => found.push(Placeholder { liquid: format!("{{{{ {path} }}}}"), example: example(scalar) }),
    }
}
