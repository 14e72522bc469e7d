//! What saving a template can tell before it ever runs: each is rendered once against a
//! sample ticket. What fails there whatever a ticket holds (over the render budget, a filter
//! that always fails, a payload that cannot be JSON) is refused with a 422 naming the field;
//! what may be the sample's fault (a variable it lacks) comes back as a warning, as does an
//! endpoint the SSRF guard will refuse.

use hookdesk_core::Invalid;
use hookdesk_core::Timestamp;
use hookdesk_core::id::{CommentId, TicketId, UserId};
use hookdesk_core::inbound::{InboundAction, InboundResponse};
use hookdesk_core::request::prepare;
use hookdesk_core::rules::Action;
use hookdesk_core::template::{Context, MAX_OUTPUT_BYTES, RenderError, Rendering, Template};
use hookdesk_core::ticket::{Comment, Priority, Requester, Status, Tag, Tags, Ticket, TicketFields, TicketType};
use hookdesk_core::webhook::Webhook;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::App;

/// Where the webhooks a rule notifies are looked up: in the store, or among the webhooks a
/// configuration is about to write (which the store does not hold yet).
#[derive(Clone, Copy)]
pub(crate) enum Webhooks<'a> {
    Stored,
    Planned(&'a std::collections::HashMap<hookdesk_core::id::WebhookId, Webhook>),
}

impl App {
    /// The webhook `id` among `webhooks`, if there is one.
    pub(crate) async fn webhook_in(
        &self,
        webhooks: Webhooks<'_>,
        id: &hookdesk_core::id::WebhookId,
    ) -> Result<Option<Webhook>, super::AppError> {
        match webhooks {
            Webhooks::Planned(planned) => Ok(planned.get(id).cloned()),
            Webhooks::Stored => match self.store.webhook(id).await {
                Ok(webhook) => Ok(Some(webhook)),
                Err(hookdesk_store::StoreError::NotFound) => Ok(None),
                Err(e) => Err(e.into()),
            },
        }
    }
}

/// A value that passed its checks, and what the checks could not settle.
#[derive(Debug, Clone)]
pub struct Checked<T> {
    pub value: T,
    pub warnings: Vec<Invalid>,
}

/// What a save answers: the saved document, plus `warnings` when there are any.
#[derive(Debug, Clone, Serialize)]
pub struct Saved<T> {
    #[serde(flatten)]
    pub item: T,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Invalid>,
}

impl<T> Saved<T> {
    pub fn new(item: T, warnings: Vec<Invalid>) -> Self {
        Self { item, warnings }
    }
}

/// A ticket to render against when there is no real one: every field set, so that templates
/// show what they will produce (test sends without a ticket use it too).
pub(crate) fn sample_ticket(assignee_id: UserId, now: Timestamp) -> Ticket {
    Ticket {
        id: TicketId(0),
        fields: TicketFields {
            subject: "Sample ticket: my order has not arrived".into(),
            description: "This is a sample ticket hookdesk renders webhook tests with.".into(),
            status: Status::Open,
            priority: Priority::High,
            ticket_type: Some(TicketType::Problem),
            tags: Tags::new(["sample", "shipping"].iter().filter_map(|t| Tag::parse(t).ok()).collect::<Vec<_>>()),
            assignee_id: Some(assignee_id),
            group: Some("Support".into()),
            // None: what a ticket's custom fields hold is the admin's own (a number or a text),
            // so a template that reads one is warned about, never refused.
            custom_fields: Map::new(),
        },
        requester: Requester { id: UserId(0), name: "Sample Requester".into(), email: "requester@example.com".into() },
        comments: vec![Comment {
            id: CommentId(0),
            author_id: None,
            body: "Where is my order?".into(),
            public: true,
            created_at: now,
        }],
        created_at: now,
        updated_at: now,
        status_changed_at: now,
    }
}

/// Renders `template` once against `context`: a refusal for what fails whatever the data,
/// a warning for what the sample may be to blame for.
fn check_render(
    field: &str,
    template: &Template,
    context: &Context,
    warnings: &mut Vec<Invalid>,
) -> Result<(), Invalid> {
    let (result, unknown) = template.render_report(context, MAX_OUTPUT_BYTES);
    match result {
        Err(e @ RenderError::TooExpensive(_)) => return Err(e.invalid(field)),
        Err(e) if unknown.is_empty() => return Err(e.invalid(field)),
        Err(e) => warnings.push(Invalid::new(field, format!("{} (rendering the sample ticket)", e.message()))),
        Ok(_) => {}
    }
    if !unknown.is_empty() {
        warnings.push(unknown_warning(field, &unknown));
    }
    Ok(())
}

fn unknown_warning(field: &str, unknown: &[String]) -> Invalid {
    Invalid::new(
        field,
        format!(
            "the sample ticket has no {}: check the spelling (a variable that does not exist renders empty)",
            unknown.join(", ")
        ),
    )
}

/// The request errors a payload is to blame for (the endpoint and headers were checked when
/// the webhook was saved).
const PAYLOAD_ERRORS: &[&str] = &["invalid_json", "invalid_xml", "invalid_form", "payload_too_large"];

impl App {
    /// The context rules render in, on the sample ticket: `ticket`, `current_user` (a sample
    /// agent; none for automations), and the rule as `trigger` and as `kind`.
    fn sample_rule_context(&self, kind: &str, title: &str) -> Context {
        let now = self.clock.now();
        let agent = json!({"id": 1, "name": "Sample Agent", "email": "agent@example.com", "role": "agent"});
        let user = if kind == "automation" { Value::Null } else { agent };
        let rule = json!({"id": 0, "title": title});
        Context::new()
            .with("ticket", &self.ticket_document(&sample_ticket(UserId(1), now)))
            .with("current_user", &user)
            .with("trigger", &rule)
            .with(kind, &rule)
    }

    /// Renders a rule's comments and payloads against the sample ticket. `kind` is
    /// `trigger`, `automation` or `macro`.
    pub(crate) async fn check_rule_templates(
        &self,
        kind: &str,
        title: &str,
        actions: &[Action],
        webhooks: Webhooks<'_>,
    ) -> Result<Vec<Invalid>, super::AppError> {
        let context = self.sample_rule_context(kind, title);
        let mut warnings = Vec::new();
        for (i, action) in actions.iter().enumerate() {
            match action {
                Action::AddComment { body, .. } => {
                    check_render(&format!("actions[{i}].value.body"), body, &context, &mut warnings)?;
                }
                Action::NotifyWebhook(notify) => {
                    let webhook = self
                        .webhook_in(webhooks, &notify.webhook_id)
                        .await?
                        .ok_or(super::AppError::NotFound("webhook"))?;
                    let context = context.clone().with("webhook", &json!({"id": webhook.id, "name": webhook.name}));
                    let field = format!("actions[{i}].value.payload");
                    if let Some(payload) = &notify.payload {
                        check_render(&field, payload, &context, &mut warnings)?;
                    }
                    for (name, template) in &notify.params {
                        check_render(&format!("actions[{i}].value.params.{name}"), template, &context, &mut warnings)?;
                    }
                    self.check_payload(&field, &webhook, notify, &context, &mut warnings)?;
                }
                // No template: what they hold was checked when they were parsed. Each action
                // is named, so that a new one must say here whether it renders anything.
                Action::Status(_)
                | Action::Priority(_)
                | Action::Type(_)
                | Action::AssigneeId(_)
                | Action::Group(_)
                | Action::CustomField(..)
                | Action::SetTags(_)
                | Action::AddTags(_)
                | Action::RemoveTags(_) => {}
            }
        }
        Ok(warnings)
    }

    /// Renders the whole request of a notification: a payload that cannot be valid in the
    /// webhook's format for the sample is refused, unless a variable it uses is missing.
    fn check_payload(
        &self,
        field: &str,
        webhook: &Webhook,
        notify: &hookdesk_core::rules::action::NotifyWebhook,
        context: &Context,
        warnings: &mut Vec<Invalid>,
    ) -> Result<(), Invalid> {
        if webhook.request_format == hookdesk_core::webhook::RequestFormat::Json
            && let Some(payload) = &notify.payload
        {
            for markup in hookdesk_core::template::unescaped_in_json_strings(payload.source()) {
                warnings.push(Invalid::new(
                    field,
                    format!("{{{{ {markup} }}}} is inside a JSON string without escaping: a quote in it would change the payload's structure (ticket text may come from anyone who writes tickets); write {{{{ {markup} | json }}}} in place of the whole quoted string, or escape it (uri_encode)"),
                ));
            }
        }
        let mut rendering = Rendering::noting_unknown();
        let document = Value::Null;
        match prepare(webhook, notify.payload.as_ref(), &notify.params, context, &mut rendering, &document) {
            Err(e) if PAYLOAD_ERRORS.contains(&e.code) && rendering.unknown().is_empty() => {
                Err(Invalid::new(field, format!("{} (rendering the sample ticket)", e.message)))
            }
            Err(e) if PAYLOAD_ERRORS.contains(&e.code) => {
                warnings.push(Invalid::new(field, format!("{} (rendering the sample ticket)", e.message)));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Renders a webhook's endpoint and headers against the sample ticket, and asks the SSRF
    /// guard about where the endpoint goes.
    pub(crate) async fn check_webhook_templates(&self, webhook: &Webhook) -> Result<Vec<Invalid>, Invalid> {
        let now = self.clock.now();
        let mut context = Context::new()
            .with("ticket", &self.ticket_document(&sample_ticket(UserId(1), now)))
            .with("webhook", &json!({"id": webhook.id, "name": webhook.name}));
        if !webhook.subscriptions.is_conditional() {
            let event = json!({"specversion": "1.0", "id": "evt_sample", "source": self.config.public_url,
                "type": "ticket.created", "subject": "tickets/0", "time": now, "datacontenttype": "application/json",
                "data": {"current": self.ticket_document(&sample_ticket(UserId(1), now)), "previous": null}});
            context = context.with("event", &event);
        }
        let mut warnings = Vec::new();
        check_render("endpoint", webhook.endpoint.template(), &context, &mut warnings)?;
        for (name, template) in webhook.custom_headers.iter() {
            let field = format!("custom_headers.{}", name.as_str());
            check_render(&field, template, &context, &mut warnings)?;
            if hookdesk_core::text::is_secret_header(name.as_str()) {
                warnings.push(Invalid::new(
                    field,
                    "looks like a credential: custom headers are stored and shown as written; put it in authentication ({\"type\": \"api_key\", \"header\", \"value\"}), which is encrypted at rest and never shown again",
                ));
            }
        }
        let mut rendering = Rendering::noting_unknown();
        let url = rendering.render(webhook.endpoint.template(), &context).unwrap_or_default();
        match webhook.endpoint.check_rendered(&url) {
            Err(message) if rendering.unknown().is_empty() => {
                return Err(Invalid::new("endpoint", format!("{message} (rendering the sample ticket)")));
            }
            Err(message) => warnings.push(Invalid::new("endpoint", format!("{message} (rendering the sample ticket)"))),
            Ok(url) => {
                if let Err(refused) = self.sender.check_destination(url.as_str()).await {
                    warnings.push(Invalid::new("endpoint", format!("requests will fail: {refused}")));
                }
            }
        }
        Ok(warnings)
    }

    /// Renders an inbound webhook's templates against a sample call: what goes over the
    /// render budget is refused (whatever a call sends cannot make it cheaper).
    pub(crate) fn check_inbound_templates(
        &self,
        actions: &[InboundAction],
        response: &InboundResponse,
    ) -> Result<(), Invalid> {
        let request = json!({"method": "POST", "path": "/", "query": "", "headers": {}, "params": {}, "body": "",
            "json": null});
        let context = Context::new()
            .with("request", &request)
            .with("client", &json!({"ip": "203.0.113.7"}))
            .with("ticket", &self.ticket_document(&sample_ticket(UserId(1), self.clock.now())));
        let templates = actions
            .iter()
            .enumerate()
            .flat_map(|(i, action)| action.templates(&format!("actions[{i}]")))
            .chain(response.templates());
        for (field, template) in templates {
            if let Err(e @ RenderError::TooExpensive(_)) = template.render(&context) {
                return Err(e.invalid(&field));
            }
        }
        Ok(())
    }
}
