//! Tickets as an agent works them: the list with the API's filters and a search, a new
//! ticket's form, and a ticket with its comments (authors by name), an update form for every
//! field (an update like any other: triggers run), tags removed one by one, a macro applied,
//! and its audit trail, linked to the log.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hookdesk_core::audit::Audit;
use std::collections::HashMap;

use hookdesk_core::id::{MacroId, TicketId, UserId};
use hookdesk_core::ticket::Ticket;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::forms::{ListQuery, Listed, put_text};
use super::path::UiPath;
use super::{Chrome, Flash, Moment, Submitted, UiError, Viewer, api_name, render};
use crate::app::{App, AppError, CreateTicketBody, PageQuery, PatchTicketBody, TicketQuery, from_json};

#[derive(Debug, Default, Deserialize)]
struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    q: String,
}

impl Filters {
    pub fn selected(&self, option: &str) -> bool {
        self.status == option
    }
}

/// A line of the list.
struct Row {
    id: String,
    subject: String,
    status: String,
    priority: String,
    requester: String,
    tags: String,
    updated_at: Moment,
}

/// A ticket's fields as its page shows and its form offers them.
struct Details {
    subject: String,
    tag_list: Vec<String>,
    ticket_type: String,
    assignee_id: String,
    assignee: String,
    /// `key: value` lines, as the form's textarea holds them.
    custom_fields: String,
}

impl Details {
    pub fn type_is(&self, option: &str) -> bool {
        self.ticket_type == option
    }

    pub fn assignee_is(&self, id: &str) -> bool {
        self.assignee_id == id
    }

    fn new(ticket: &Ticket, names: &HashMap<UserId, String>) -> Self {
        let assignee = ticket.fields.assignee_id;
        Self {
            subject: ticket.fields.subject.clone(),
            tag_list: ticket.fields.tags.iter().map(|t| t.as_str().to_owned()).collect(),
            ticket_type: ticket.fields.ticket_type.as_ref().map(api_name).unwrap_or_default(),
            assignee_id: assignee.map(|id| id.to_string()).unwrap_or_default(),
            assignee: match assignee {
                None => "nobody".to_owned(),
                Some(id) => names.get(&id).cloned().unwrap_or_else(|| format!("user {id}")),
            },
            custom_fields: custom_field_lines(&ticket.fields.custom_fields),
        }
    }
}

/// Custom fields as `key: value` lines (a text as it is, anything else as JSON).
fn custom_field_lines(fields: &Map<String, Value>) -> String {
    fields
        .iter()
        .map(|(key, value)| match value {
            Value::String(text) => format!("{key}: {text}"),
            other => format!("{key}: {other}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `key: value` lines as custom fields: a value that reads as JSON other than a text (`3`,
/// `true`, `[1, 2]`) is that value, anything else a text.
fn parse_custom_fields(text: &str) -> Map<String, Value> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (key, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.trim();
            let value = match serde_json::from_str::<Value>(value) {
                Ok(Value::String(_)) | Err(_) => Value::String(value.to_owned()),
                Ok(other) => other,
            };
            (key.trim().to_owned(), value)
        })
        .collect()
}

impl Row {
    pub fn status_is(&self, option: &str) -> bool {
        self.status == option
    }

    pub fn priority_is(&self, option: &str) -> bool {
        self.priority == option
    }

    fn new(ticket: &Ticket) -> Self {
        Self {
            id: ticket.id.to_string(),
            subject: ticket.fields.subject.clone(),
            status: api_name(&ticket.fields.status),
            priority: api_name(&ticket.fields.priority),
            requester: format!("{} <{}>", ticket.requester.name, ticket.requester.email),
            tags: api_name(&ticket.fields.tags).trim_matches(['[', ']']).replace(['"', ','], " "),
            updated_at: Moment(ticket.updated_at),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/tickets.html")]
struct ListPage {
    chrome: Chrome,
    filters: Filters,
    searched: bool,
    rows: Vec<Row>,
    next_page: Option<String>,
    error: Option<String>,
}

/// `GET /ui/tickets?status=&tag=&q=&cursor=`.
pub async fn list(State(app): State<App>, viewer: Viewer, RawQuery(query): RawQuery) -> Result<Response, UiError> {
    let agent = viewer.agent();
    let query = ListQuery::new(query.as_deref());
    let filters: Filters = query.parse().unwrap_or_default();
    let Listed { rows, next_page, error } =
        query.list(async |q: TicketQuery| Ok(app.tickets(&agent, q).await?.map(|t| Row::new(&t)))).await?;
    let searched = !(filters.status.is_empty() && filters.tag.is_empty() && filters.q.is_empty());
    Ok(render(&ListPage { chrome: viewer.chrome("Tickets"), filters, searched, rows, next_page, error }))
}

/// A comment as shown.
struct CommentView {
    author: String,
    body: String,
    public: bool,
    at: Moment,
}

/// An audit record as shown: who, how, what changed, which rules fired, what it queued.
struct AuditView {
    at: Moment,
    via: String,
    actor: String,
    changes: Vec<(String, String, String)>,
    rules: Vec<String>,
    events: Vec<String>,
    invocations: Vec<String>,
    bound_hit: bool,
}

impl AuditView {
    fn new(audit: &Audit, names: &HashMap<UserId, String>) -> Self {
        let text = |v: Option<&Value>| match v {
            None | Some(Value::Null) => "–".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let changes = audit
            .changes
            .as_object()
            .map(|fields| {
                fields
                    .iter()
                    .map(|(field, change)| (field.clone(), text(change.get("from")), text(change.get("to"))))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            at: Moment(audit.created_at),
            via: audit.via.as_str().to_owned(),
            actor: person(audit.actor_id, names),
            changes,
            rules: audit.rules.iter().map(|r| format!("{} {}: {}", r.kind, r.id, r.title)).collect(),
            events: audit.events.clone(),
            invocations: audit.invocations.iter().map(ToString::to_string).collect(),
            bound_hit: audit.bound_hit,
        }
    }
}

/// Who `id` is, by name: hookdesk itself when nobody.
fn person(id: Option<UserId>, names: &HashMap<UserId, String>) -> String {
    match id {
        None => "hookdesk".to_owned(),
        Some(id) => names.get(&id).cloned().unwrap_or_else(|| format!("user {id}")),
    }
}

#[derive(Template)]
#[template(path = "ui/ticket.html")]
struct TicketPage {
    chrome: Chrome,
    row: Row,
    details: Details,
    /// Who the ticket may be assigned to: `(id, name)`.
    staff: Vec<(String, String)>,
    /// The active macros: `(id, title)`.
    macros: Vec<(String, String)>,
    description: String,
    comments: Vec<CommentView>,
    /// Comments older than those shown.
    older_comments: usize,
    audits: Vec<AuditView>,
    error: Option<String>,
}

async fn ticket_page(app: &App, viewer: &Viewer, id: TicketId, error: Option<String>) -> Result<TicketPage, UiError> {
    let agent = viewer.agent();
    let ticket = app.ticket(&agent, id).await?;
    let audits = app.ticket_audits(&agent, id, PageQuery { limit: Some(100), cursor: None }).await?;
    let shown = ticket.comments.iter().skip(ticket.comments.len().saturating_sub(SHOWN_COMMENTS));
    let mut people: Vec<UserId> = shown.clone().filter_map(|c| c.author_id).collect();
    people.extend(audits.data.iter().filter_map(|a| a.actor_id));
    people.extend(ticket.fields.assignee_id);
    people.sort_unstable_by_key(|id| id.0);
    people.dedup();
    let names = app.user_names(&agent, &people).await?;
    let staff = app.staff_names(&agent).await?.into_iter().map(|(id, name)| (id.to_string(), name)).collect();
    let macros =
        app.macro_titles(&agent).await?.into_iter().filter(|m| m.active).map(|m| (m.id.to_string(), m.title)).collect();
    Ok(TicketPage {
        chrome: viewer.chrome("Tickets"),
        row: Row::new(&ticket),
        details: Details::new(&ticket, &names),
        staff,
        macros,
        description: ticket.fields.description.clone(),
        older_comments: ticket.comments.len().saturating_sub(SHOWN_COMMENTS),
        comments: shown
            .map(|c| CommentView {
                author: person(c.author_id, &names),
                body: c.body.clone(),
                public: c.public,
                at: Moment(c.created_at),
            })
            .collect(),
        audits: audits.data.iter().map(|a| AuditView::new(a, &names)).collect(),
        error,
    })
}

/// The latest comments a ticket's page shows (the API has them all): a ticket of thousands
/// of comments must not make a page of hundreds of megabytes.
const SHOWN_COMMENTS: usize = 100;

/// `GET /ui/tickets/{id}`.
pub async fn show(State(app): State<App>, viewer: Viewer, UiPath(id): UiPath<TicketId>) -> Result<Response, UiError> {
    Ok(render(&ticket_page(&app, &viewer, id, None).await?))
}

/// The update form's body, as the API would get it: only the fields the form sent (the
/// remove-tag buttons send only `remove_tags`). Custom fields are the whole set as typed:
/// a key no longer there is removed (`null`), against the ticket as it is now.
fn patch_body(form: &Submitted, current: &Ticket) -> Map<String, Value> {
    let fields = &form.fields;
    let mut body = Map::new();
    if let Some(subject) = fields.get("subject") {
        body.insert("subject".into(), Value::String(subject.trim().to_owned()));
    }
    put_text(&mut body, "status", fields.get("status"));
    put_text(&mut body, "priority", fields.get("priority"));
    if let Some(kind) = fields.get("type") {
        let kind = kind.trim();
        body.insert("type".into(), if kind.is_empty() { Value::Null } else { Value::String(kind.to_owned()) });
    }
    if let Some(assignee) = fields.get("assignee_id") {
        let assignee = assignee.trim();
        let value = match assignee.parse::<i64>() {
            _ if assignee.is_empty() => Value::Null,
            Ok(id) => Value::from(id),
            Err(_) => Value::String(assignee.to_owned()),
        };
        body.insert("assignee_id".into(), value);
    }
    put_text(&mut body, "add_tags", fields.get("add_tags"));
    put_text(&mut body, "remove_tags", fields.get("remove_tags"));
    if let Some(text) = fields.get("custom_fields") {
        // Only the lines the agent changed are read: a line as the page showed it is not read
        // back (a text `"3"` stays a text, a value with a newline is not split into fields).
        let shown = custom_field_lines(&current.fields.custom_fields);
        let shown: std::collections::HashSet<&str> = shown.lines().map(str::trim).collect();
        let posted: Vec<&str> = text.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
        let changed: Vec<&str> = posted.iter().copied().filter(|line| !shown.contains(line)).collect();
        let mut wanted = parse_custom_fields(&changed.join("\n"));
        let named: std::collections::HashSet<&str> =
            posted.iter().map(|line| line.split_once(':').map_or(*line, |(key, _)| key).trim()).collect();
        for key in current.fields.custom_fields.keys() {
            if !named.contains(key.as_str()) && !wanted.contains_key(key) {
                wanted.insert(key.clone(), Value::Null);
            }
        }
        wanted.retain(|key, value| current.fields.custom_fields.get(key) != Some(value));
        if !wanted.is_empty() {
            body.insert("custom_fields".into(), Value::Object(wanted));
        }
    }
    if let Some(comment) = fields.text("comment") {
        let public = fields.checked("public");
        body.insert("comment".into(), serde_json::json!({"body": comment, "public": public}));
    }
    body
}

/// `POST /ui/tickets/{id}`: one update (the triggers run), then the ticket again.
pub async fn update(
    State(app): State<App>,
    UiPath(id): UiPath<TicketId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let agent = form.viewer.agent();
    let current = app.ticket(&agent, id).await?;
    let removed = form.fields.text("remove_tags").map(str::to_owned);
    let outcome = match from_json::<PatchTicketBody>(Value::Object(patch_body(&form, &current))) {
        Ok(body) => app.update_ticket_reporting(&agent, id, body).await,
        Err(invalid) => Err(AppError::Invalid(invalid)),
    };
    match outcome {
        Ok(outcome) => {
            let mut message = match removed {
                Some(tag) if form.fields.get("subject").is_none() => format!("Removed the tag “{tag}”."),
                _ => format!("Updated ticket #{id}."),
            };
            // What the rules did is not on the page's fields (a trigger may have taken its
            // own tag away again): say it.
            let fired: Vec<String> = outcome.steps.iter().map(|s| format!("“{}”", s.rule.title)).collect();
            if !fired.is_empty() {
                message.push_str(&format!(" Fired: {}", fired.join(", ")));
                match outcome.invocations.len() {
                    0 => message.push('.'),
                    1 => message.push_str("; 1 webhook call queued (see the Log)."),
                    n => message.push_str(&format!("; {n} webhook calls queued (see the Log).")),
                }
            }
            Ok(Flash::done(message).redirect(&format!("/ui/tickets/{id}")))
        }
        Err(AppError::Invalid(invalid)) => refused(&app, &form.viewer, id, invalid.to_string()).await,
        Err(other) => Err(other.into()),
    }
}

/// The ticket's page again with why a change was refused (422).
async fn refused(app: &App, viewer: &Viewer, id: TicketId, message: String) -> Result<Response, UiError> {
    let page = ticket_page(app, viewer, id, Some(message)).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
}

/// `POST /ui/tickets/{id}/macro`: applies the macro chosen (one update, the triggers run),
/// then the ticket with what was done.
pub async fn apply_macro(
    State(app): State<App>,
    UiPath(id): UiPath<TicketId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let agent = form.viewer.agent();
    let Some(macro_id) = form.fields.text("macro_id").and_then(|m| m.parse::<MacroId>().ok()) else {
        app.ticket(&agent, id).await?;
        return refused(&app, &form.viewer, id, "macro: choose a macro to apply".into()).await;
    };
    match app.apply_macro(&agent, id, macro_id).await {
        Ok(_) => {
            let title = app.macro_by_id(&agent, macro_id).await?.title;
            Ok(Flash::done(format!("Applied “{title}” to ticket #{id}.")).redirect(&format!("/ui/tickets/{id}")))
        }
        Err(AppError::Invalid(invalid)) => refused(&app, &form.viewer, id, invalid.to_string()).await,
        Err(AppError::NotFound("macro")) => refused(&app, &form.viewer, id, "that macro no longer exists".into()).await,
        Err(AppError::Unprocessable { message, .. }) => refused(&app, &form.viewer, id, message).await,
        Err(other) => Err(other.into()),
    }
}

/// A new ticket's form, with what was typed when it was refused.
#[derive(Template)]
#[template(path = "ui/ticket_form.html")]
struct NewTicketPage {
    chrome: Chrome,
    staff: Vec<(String, String)>,
    details: NewTicket,
    error: Option<String>,
}

/// What the new ticket's form holds (blank, or as sent).
#[derive(Default)]
struct NewTicket {
    subject: String,
    description: String,
    requester_name: String,
    requester_email: String,
    status: String,
    priority: String,
    ticket_type: String,
    assignee_id: String,
    tags: String,
    custom_fields: String,
}

impl NewTicket {
    pub fn status_is(&self, option: &str) -> bool {
        self.status == option || (self.status.is_empty() && option == "new")
    }

    pub fn priority_is(&self, option: &str) -> bool {
        self.priority == option || (self.priority.is_empty() && option == "normal")
    }

    pub fn type_is(&self, option: &str) -> bool {
        self.ticket_type == option
    }

    pub fn assignee_is(&self, id: &str) -> bool {
        self.assignee_id == id
    }

    fn from_form(form: &super::forms::Fields) -> Self {
        let get = |name: &str| form.get(name).unwrap_or_default().to_owned();
        Self {
            subject: get("subject"),
            description: get("description"),
            requester_name: get("requester_name"),
            requester_email: get("requester_email"),
            status: get("status"),
            priority: get("priority"),
            ticket_type: get("type"),
            assignee_id: get("assignee_id"),
            tags: get("tags"),
            custom_fields: get("custom_fields"),
        }
    }

    /// The body of `POST /api/v1/tickets` these fields make.
    fn body(&self) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("subject".into(), Value::String(self.subject.trim().to_owned()));
        body.insert("description".into(), Value::String(self.description.clone()));
        put_text(&mut body, "status", Some(&self.status));
        put_text(&mut body, "priority", Some(&self.priority));
        put_text(&mut body, "type", Some(&self.ticket_type));
        put_text(&mut body, "tags", Some(&self.tags));
        let assignee = self.assignee_id.trim();
        if !assignee.is_empty() {
            let value = assignee.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(assignee.into()));
            body.insert("assignee_id".into(), value);
        }
        if !self.requester_email.trim().is_empty() || !self.requester_name.trim().is_empty() {
            let mut requester = Map::new();
            requester.insert("email".into(), Value::String(self.requester_email.trim().to_owned()));
            put_text(&mut requester, "name", Some(&self.requester_name));
            body.insert("requester".into(), Value::Object(requester));
        }
        let custom = parse_custom_fields(&self.custom_fields);
        if !custom.is_empty() {
            body.insert("custom_fields".into(), Value::Object(custom));
        }
        body
    }
}

async fn staff(app: &App, viewer: &Viewer) -> Result<Vec<(String, String)>, UiError> {
    Ok(app.staff_names(&viewer.agent()).await?.into_iter().map(|(id, name)| (id.to_string(), name)).collect())
}

/// `GET /ui/tickets/new`.
pub async fn new_form(State(app): State<App>, viewer: Viewer) -> Result<Response, UiError> {
    let staff = staff(&app, &viewer).await?;
    Ok(render(&NewTicketPage { chrome: viewer.chrome("Tickets"), staff, details: NewTicket::default(), error: None }))
}

/// `POST /ui/tickets/new`: one create (the triggers run), then the new ticket's page.
pub async fn create(State(app): State<App>, form: Submitted) -> Result<Response, UiError> {
    let agent = form.viewer.agent();
    let fields = NewTicket::from_form(&form.fields);
    let outcome = match from_json::<CreateTicketBody>(Value::Object(fields.body())) {
        Ok(body) => app.create_ticket(&agent, body).await,
        Err(invalid) => Err(AppError::Invalid(invalid)),
    };
    let message = match outcome {
        Ok(ticket) => {
            let message = format!("Created ticket #{}.", ticket.id);
            return Ok(Flash::done(message).redirect(&format!("/ui/tickets/{}", ticket.id)));
        }
        Err(AppError::Invalid(invalid)) => invalid.to_string(),
        Err(AppError::Unprocessable { message, .. }) => message,
        Err(AppError::Conflict(message)) => message,
        Err(other) => return Err(other.into()),
    };
    let staff = staff(&app, &form.viewer).await?;
    let page = NewTicketPage { chrome: form.viewer.chrome("Tickets"), staff, details: fields, error: Some(message) };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_fields_read_as_json_when_they_are_not_text() {
        let fields = parse_custom_fields("order: 42\nvip: true\nnote: hello: there\n\nempty:\nquoted: \"7\"");
        assert_eq!(fields["order"], serde_json::json!(42));
        assert_eq!(fields["vip"], serde_json::json!(true));
        assert_eq!(fields["note"], serde_json::json!("hello: there"));
        assert_eq!(fields["empty"], serde_json::json!(""));
        assert_eq!(fields["quoted"], serde_json::json!("\"7\""));
        assert_eq!(parse_custom_fields(&custom_field_lines(&fields))["order"], serde_json::json!(42));
    }
}
