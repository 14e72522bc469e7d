//! Tickets: the list with the API's filters, and a ticket with its comments, a small update
//! form (an update like any other: triggers run) and its audit trail, linked to the log.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hookdesk_core::audit::Audit;
use hookdesk_core::id::TicketId;
use hookdesk_core::ticket::Ticket;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::forms::{ListQuery, Listed, put_text};
use super::path::UiPath;
use super::{Chrome, Moment, Submitted, UiError, Viewer, api_name, render};
use crate::app::{App, AppError, PageQuery, PatchTicketBody, TicketQuery, from_json};

#[derive(Debug, Default, Deserialize)]
struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    tag: String,
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
    rows: Vec<Row>,
    next_page: Option<String>,
    error: Option<String>,
}

/// `GET /ui/tickets?status=&tag=&cursor=`.
pub async fn list(State(app): State<App>, viewer: Viewer, RawQuery(query): RawQuery) -> Result<Response, UiError> {
    let agent = viewer.agent();
    let query = ListQuery::new(query.as_deref());
    let filters: Filters = query.parse().unwrap_or_default();
    let Listed { rows, next_page, error } =
        query.list(async |q: TicketQuery| Ok(app.tickets(&agent, q).await?.map(|t| Row::new(&t)))).await?;
    Ok(render(&ListPage { chrome: viewer.chrome("Tickets"), filters, rows, next_page, error }))
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
    fn new(audit: &Audit) -> Self {
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
            actor: audit.actor_id.map(|id| format!("user {id}")).unwrap_or_else(|| "hookdesk".into()),
            changes,
            rules: audit.rules.iter().map(|r| format!("{} {}: {}", r.kind, r.id, r.title)).collect(),
            events: audit.events.clone(),
            invocations: audit.invocations.iter().map(ToString::to_string).collect(),
            bound_hit: audit.bound_hit,
        }
    }
}

#[derive(Template)]
#[template(path = "ui/ticket.html")]
struct TicketPage {
    chrome: Chrome,
    row: Row,
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
    Ok(TicketPage {
        chrome: viewer.chrome("Tickets"),
        row: Row::new(&ticket),
        description: ticket.fields.description.clone(),
        older_comments: ticket.comments.len().saturating_sub(SHOWN_COMMENTS),
        comments: ticket
            .comments
            .iter()
            .skip(ticket.comments.len().saturating_sub(SHOWN_COMMENTS))
            .map(|c| CommentView {
                author: c.author_id.map(|id| format!("user {id}")).unwrap_or_else(|| "hookdesk".into()),
                body: c.body.clone(),
                public: c.public,
                at: Moment(c.created_at),
            })
            .collect(),
        audits: audits.data.iter().map(AuditView::new).collect(),
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

/// The update form's body, as the API would get it.
fn patch_body(form: &Submitted) -> Map<String, Value> {
    let mut body = Map::new();
    put_text(&mut body, "status", form.fields.get("status"));
    put_text(&mut body, "priority", form.fields.get("priority"));
    put_text(&mut body, "add_tags", form.fields.get("add_tags"));
    if let Some(comment) = form.fields.text("comment") {
        let public = form.fields.checked("public");
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
    let outcome = match from_json::<PatchTicketBody>(Value::Object(patch_body(&form))) {
        Ok(body) => app.update_ticket(&agent, id, body).await,
        Err(invalid) => Err(AppError::Invalid(invalid)),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/ui/tickets/{id}")).into_response()),
        Err(AppError::Invalid(invalid)) => {
            let page = ticket_page(&app, &form.viewer, id, Some(invalid.to_string())).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
