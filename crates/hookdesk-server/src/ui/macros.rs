//! Macros: the list, the editor (the same action rows as triggers), and a preview on a
//! ticket (the update runs and is rolled back) before applying it.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hookdesk_core::Invalid;
use hookdesk_core::id::{MacroId, TicketId};
use hookdesk_core::rules::{Macro, RuleKind};
use hookdesk_core::ticket::Ticket;
use serde_json::{Map, Value, json};

use super::rules::{RuleForm, posted_actions};
use super::{Chrome, Submitted, UiError, Viewer, api_name, render};
use crate::app::{App, AppError, MacroBody, PatchMacroBody, from_json};

struct Row {
    id: String,
    title: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "ui/macros.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
}

/// `GET /ui/macros`.
pub async fn list(State(app): State<App>, viewer: Viewer) -> Result<Response, UiError> {
    let macros = app.macro_titles(&viewer.agent()).await?;
    let rows = macros.iter().map(|m| Row { id: m.id.to_string(), title: m.title.clone(), active: m.active }).collect();
    Ok(render(&ListPage { chrome: viewer.chrome("Macros"), rows }))
}

/// The result of a preview or an application, as the panel shows it.
pub struct Outcome {
    applied: bool,
    ticket_id: String,
    status: String,
    priority: String,
    tags: String,
    comments: Vec<String>,
}

impl Outcome {
    fn new(ticket: &Ticket, applied: bool) -> Self {
        Self {
            applied,
            ticket_id: ticket.id.to_string(),
            status: api_name(&ticket.fields.status),
            priority: api_name(&ticket.fields.priority),
            tags: api_name(&ticket.fields.tags),
            comments: ticket.comments.iter().rev().take(3).map(|c| c.body.clone()).collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/macro_form.html")]
struct EditorPage {
    chrome: Chrome,
    id: Option<String>,
    heading: String,
    form: RuleForm,
    outcome: Option<Outcome>,
    outcome_error: Option<String>,
}

fn macro_json(m: &Macro) -> Value {
    serde_json::to_value(m).unwrap_or_default()
}

fn macro_body(form: &Submitted) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("title".into(), Value::String(form.fields.get("title").unwrap_or_default().trim().to_owned()));
    body.insert("description".into(), Value::String(form.fields.get("description").unwrap_or_default().to_owned()));
    body.insert("active".into(), Value::Bool(form.fields.checked("active")));
    body.insert("actions".into(), Value::Array(posted_actions(&form.fields)));
    body
}

impl EditorPage {
    fn new(viewer: &Viewer, id: Option<String>, heading: String, form: RuleForm) -> Self {
        Self { chrome: viewer.chrome("Macros"), id, heading, form, outcome: None, outcome_error: None }
    }

    /// The editor again with the form as posted and its error at its row.
    fn refused(viewer: &Viewer, id: Option<MacroId>, body: Map<String, Value>, error: Invalid) -> Response {
        let mut form = RuleForm::from_json(RuleKind::Macro, &Value::Object(body));
        form.error = Some(error);
        let heading = if form.title.is_empty() { "New macro".to_owned() } else { form.title.clone() };
        let page = Self::new(viewer, id.map(|id| id.to_string()), heading, form);
        (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response()
    }
}

/// `GET /ui/macros/new`.
pub async fn new_form(viewer: Viewer) -> Result<Response, UiError> {
    let form = RuleForm::from_json(RuleKind::Macro, &json!({"title": "", "active": true, "actions": []}));
    Ok(render(&EditorPage::new(&viewer, None, "New macro".into(), form)))
}

/// `GET /ui/macros/{id}`.
pub async fn show(State(app): State<App>, viewer: Viewer, Path(id): Path<MacroId>) -> Result<Response, UiError> {
    let found = app.macro_by_id(&viewer.agent(), id).await?;
    let form = RuleForm::from_json(RuleKind::Macro, &macro_json(&found));
    Ok(render(&EditorPage::new(&viewer, Some(id.to_string()), found.title.clone(), form)))
}

/// `POST /ui/macros/new`.
pub async fn create(State(app): State<App>, form: Submitted) -> Result<Response, UiError> {
    let body = macro_body(&form);
    let saved = match from_json::<MacroBody>(Value::Object(body.clone())) {
        Ok(parsed) => app.create_macro(&form.viewer.agent(), parsed).await,
        Err(invalid) => Err(invalid.into()),
    };
    match saved {
        Ok(saved) => Ok(Redirect::to(&format!("/ui/macros/{}", saved.item.id)).into_response()),
        Err(AppError::Invalid(invalid)) => Ok(EditorPage::refused(&form.viewer, None, body, invalid)),
        Err(other) => Err(other.into()),
    }
}

/// `POST /ui/macros/{id}`.
pub async fn update(State(app): State<App>, Path(id): Path<MacroId>, form: Submitted) -> Result<Response, UiError> {
    let body = macro_body(&form);
    let saved = match from_json::<PatchMacroBody>(Value::Object(body.clone())) {
        Ok(parsed) => app.update_macro(&form.viewer.agent(), id, parsed).await,
        Err(invalid) => Err(invalid.into()),
    };
    match saved {
        Ok(_) => Ok(Redirect::to(&format!("/ui/macros/{id}")).into_response()),
        Err(AppError::Invalid(invalid)) => Ok(EditorPage::refused(&form.viewer, Some(id), body, invalid)),
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "ui/macro_outcome.html")]
struct OutcomePanel {
    outcome: Option<Outcome>,
    outcome_error: Option<String>,
}

/// `POST /ui/macros/{id}/try`: `preview` (nothing saved) or `apply` (one update), on the
/// ticket the form names.
pub async fn try_on_ticket(
    State(app): State<App>,
    Path(id): Path<MacroId>,
    headers: HeaderMap,
    form: Submitted,
) -> Result<Response, UiError> {
    let agent = form.viewer.agent();
    let apply = form.fields.get("mode") == Some("apply");
    let ticket_id = form.fields.text("ticket_id").and_then(|t| t.parse::<i64>().ok()).map(TicketId);
    let result = match ticket_id {
        None => Err(AppError::Invalid(Invalid::new("ticket_id", "must be a ticket's id"))),
        Some(ticket_id) if apply => app.apply_macro(&agent, ticket_id, id).await,
        Some(ticket_id) => app.preview_macro(&agent, ticket_id, id).await,
    };
    let (outcome, outcome_error) = match result {
        Ok(ticket) => (Some(Outcome::new(&ticket, apply)), None),
        Err(AppError::Invalid(invalid)) => (None, Some(invalid.to_string())),
        Err(AppError::NotFound(what)) => (None, Some(format!("the {what} does not exist"))),
        Err(AppError::Unprocessable { message, .. }) => (None, Some(message)),
        Err(other) => return Err(other.into()),
    };
    if headers.contains_key("hx-request") {
        return Ok(render(&OutcomePanel { outcome, outcome_error }));
    }
    let found = app.macro_by_id(&agent, id).await?;
    let mut page = EditorPage::new(
        &form.viewer,
        Some(id.to_string()),
        found.title.clone(),
        RuleForm::from_json(RuleKind::Macro, &macro_json(&found)),
    );
    page.outcome = outcome;
    page.outcome_error = outcome_error;
    Ok(render(&page))
}
