//! Macros: the list, the editor (the same action rows as triggers), and a preview on a
//! ticket (the update runs and is rolled back) before applying it.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hookdesk_core::Invalid;
use hookdesk_core::id::{MacroId, TicketId};
use hookdesk_core::rules::{Macro, RuleKind};
use hookdesk_core::ticket::Ticket;
use serde_json::Value;

use super::delete::ConfirmDelete;
use super::forms::{Conflict, PageParams};
use super::pager::{NameFilter, Pager};
use super::path::UiPath;
use super::rule_editor::{Control, RuleForm};
use super::{Chrome, Flash, Submitted, UiError, Viewer, api_name, render};
use crate::app::{App, AppError, Editable, MacroBody, PatchMacroBody, from_json, version_of};

fn macro_json(m: &Macro) -> Value {
    serde_json::to_value(m).unwrap_or_default()
}

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
    total: usize,
    filter: NameFilter,
    pager: Pager,
}

/// `GET /ui/macros[?q=][&page=]`.
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    PageParams(filter): PageParams<NameFilter>,
) -> Result<Response, UiError> {
    let macros = app.macro_titles(&viewer.agent()).await?;
    let total = macros.len();
    let rows = macros
        .iter()
        .filter(|m| filter.matches(&m.title))
        .map(|m| Row { id: m.id.to_string(), title: m.title.clone(), active: m.active })
        .collect();
    let (rows, pager) = filter.page(rows, "/ui/macros");
    Ok(render(&ListPage { chrome: viewer.chrome("Macros"), rows, total, filter, pager }))
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
    conflict: Option<Conflict>,
    outcome: Option<Outcome>,
    outcome_error: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/rule_rows.html")]
struct RowsFragment {
    form: RuleForm,
}

impl EditorPage {
    fn new(viewer: &Viewer, id: Option<MacroId>, heading: String, form: RuleForm) -> Self {
        Self {
            chrome: viewer.chrome("Macros"),
            id: id.map(|id| id.to_string()),
            heading,
            form,
            conflict: None,
            outcome: None,
            outcome_error: None,
        }
    }
}

/// The saved title of macro `id`, or "New macro".
async fn heading(app: &App, viewer: &Viewer, id: Option<MacroId>) -> String {
    match id {
        Some(id) => app.macro_by_id(&viewer.agent(), id).await.map_or(format!("Macro {id}"), |m| m.title),
        None => "New macro".into(),
    }
}

/// The editor again with the form as posted and its error at its row.
async fn refused(app: &App, viewer: &Viewer, id: Option<MacroId>, mut form: RuleForm, error: Invalid) -> Response {
    form.drop_blank_rows();
    form.error = Some(error);
    let heading = heading(app, viewer, id).await;
    (StatusCode::UNPROCESSABLE_ENTITY, render(&EditorPage::new(viewer, id, heading, form))).into_response()
}

/// `GET /ui/macros/new`.
pub async fn new_form(State(app): State<App>, viewer: Viewer) -> Result<Response, UiError> {
    let choices = app.editor_choices(&viewer.agent(), RuleKind::Macro).await?;
    Ok(render(&EditorPage::new(&viewer, None, "New macro".into(), RuleForm::new_rule(RuleKind::Macro, choices))))
}

/// `GET /ui/macros/{id}`.
pub async fn show(State(app): State<App>, viewer: Viewer, UiPath(id): UiPath<MacroId>) -> Result<Response, UiError> {
    let agent = viewer.agent();
    let found = app.macro_by_id(&agent, id).await?;
    let choices = app.editor_choices(&agent, RuleKind::Macro).await?;
    let mut form = RuleForm::from_json(RuleKind::Macro, &macro_json(&found), choices);
    form.version = version_of(&found);
    form.warnings = app.warnings(&agent, Editable::Macro(id)).await?;
    Ok(render(&EditorPage::new(&viewer, Some(id), found.title.clone(), form)))
}

fn saved_message(verb: &str, title: &str, warnings: usize) -> Flash {
    match warnings {
        0 => Flash::done(format!("{verb} “{title}”.")),
        n => Flash::warning(format!("{verb} “{title}”, with {n} warning{}: see below.", if n == 1 { "" } else { "s" })),
    }
}

/// `POST /ui/macros/new`.
pub async fn create(State(app): State<App>, form: Submitted) -> Result<Response, UiError> {
    let agent = form.viewer.agent();
    let choices = app.editor_choices(&agent, RuleKind::Macro).await?;
    let editor = RuleForm::posted(RuleKind::Macro, &form.fields, choices);
    let saved = match from_json::<MacroBody>(Value::Object(editor.body())) {
        Ok(parsed) => app.create_macro(&agent, parsed).await,
        Err(invalid) => Err(invalid.into()),
    };
    match saved {
        Ok(saved) => Ok(saved_message("Created", &saved.item.title, saved.warnings.len())
            .redirect(&format!("/ui/macros/{}", saved.item.id))),
        Err(AppError::Invalid(invalid)) => Ok(refused(&app, &form.viewer, None, editor, invalid).await),
        Err(other) => Err(other.into()),
    }
}

/// `POST /ui/macros/{id}`.
pub async fn update(State(app): State<App>, UiPath(id): UiPath<MacroId>, form: Submitted) -> Result<Response, UiError> {
    let agent = form.viewer.agent();
    let choices = app.editor_choices(&agent, RuleKind::Macro).await?;
    let mut editor = RuleForm::posted(RuleKind::Macro, &form.fields, choices);
    let body = editor.body();
    let expected = Some(editor.version.as_str()).filter(|v| !v.is_empty());
    match app.expect_version(&agent, Editable::Macro(id), expected).await {
        Err(AppError::VersionConflict(now)) => {
            let saved = macro_json(&app.macro_by_id(&agent, id).await?);
            editor.version = now;
            let heading = heading(&app, &form.viewer, Some(id)).await;
            let mut page = EditorPage::new(&form.viewer, Some(id), heading, editor);
            page.conflict = Some(Conflict::between("macro", &saved, &body, format!("/ui/macros/{id}")));
            return Ok((StatusCode::PRECONDITION_FAILED, render(&page)).into_response());
        }
        other => other?,
    }
    let saved = match from_json::<PatchMacroBody>(Value::Object(body)) {
        Ok(parsed) => app.update_macro(&agent, id, parsed).await,
        Err(invalid) => Err(invalid.into()),
    };
    match saved {
        Ok(saved) => {
            Ok(saved_message("Saved", &saved.item.title, saved.warnings.len()).redirect(&format!("/ui/macros/{id}")))
        }
        Err(AppError::Invalid(invalid)) => Ok(refused(&app, &form.viewer, Some(id), editor, invalid).await),
        Err(other) => Err(other.into()),
    }
}

/// `POST /ui/macros/editor`: a row added or removed, or the choices brought up to date.
pub async fn edit(State(app): State<App>, headers: HeaderMap, form: Submitted) -> Result<Response, UiError> {
    let agent = form.viewer.agent();
    let choices = app.editor_choices(&agent, RuleKind::Macro).await?;
    let mut editor = RuleForm::posted(RuleKind::Macro, &form.fields, choices);
    editor.apply_edit(form.fields.get("edit").unwrap_or_default());
    if headers.contains_key("hx-request") {
        return Ok(render(&RowsFragment { form: editor }));
    }
    let id = form.fields.text("id").and_then(|id| id.parse().ok()).map(MacroId);
    let heading = heading(&app, &form.viewer, id).await;
    Ok(render(&EditorPage::new(&form.viewer, id, heading, editor)))
}

/// `GET /ui/macros/{id}/delete`.
pub async fn confirm_delete(
    State(app): State<App>,
    viewer: Viewer,
    UiPath(id): UiPath<MacroId>,
) -> Result<Response, UiError> {
    let found = app.macro_by_id(&viewer.agent(), id).await?;
    Ok(ConfirmDelete {
        chrome: viewer.chrome("Macros"),
        what: "macro",
        name: found.title.clone(),
        consequence: "Agents can no longer apply it. Tickets it changed keep their changes.".into(),
        action: format!("/ui/macros/{id}/delete"),
        back: format!("/ui/macros/{id}"),
        version: Some(version_of(&found)),
        blockers: vec![],
    }
    .page())
}

/// `POST /ui/macros/{id}/delete`.
pub async fn delete(State(app): State<App>, UiPath(id): UiPath<MacroId>, form: Submitted) -> Result<Response, UiError> {
    let agent = form.viewer.agent();
    let title = app.macro_by_id(&agent, id).await?.title;
    match app.expect_version(&agent, Editable::Macro(id), form.fields.text("version")).await {
        Err(AppError::VersionConflict(_)) => {
            let message = format!("Not deleted: “{title}” changed since you asked. Look at it again first.");
            return Ok(Flash::warning(message).redirect(&format!("/ui/macros/{id}")));
        }
        other => other?,
    }
    app.delete_macro(&agent, id).await?;
    Ok(Flash::done(format!("Deleted macro “{title}”.")).redirect("/ui/macros"))
}

#[derive(Template)]
#[template(path = "ui/macro_outcome.html")]
struct OutcomePanel {
    outcome: Option<Outcome>,
    outcome_error: Option<String>,
}

/// `POST /ui/macros/{id}/try`: `preview` (nothing saved) or `apply` (one update, then the
/// ticket's page with what was done), on the ticket the form names.
pub async fn try_on_ticket(
    State(app): State<App>,
    UiPath(id): UiPath<MacroId>,
    headers: HeaderMap,
    Submitted { viewer, fields }: Submitted,
) -> Result<Response, UiError> {
    let agent = viewer.agent();
    let apply = fields.get("mode") == Some("apply");
    let ticket_id = fields.text("ticket_id").and_then(|t| t.parse::<i64>().ok()).map(TicketId);
    let result = match ticket_id {
        None => Err(AppError::Invalid(Invalid::new("ticket_id", "must be a ticket's id"))),
        Some(ticket_id) if apply => app.apply_macro(&agent, ticket_id, id).await,
        Some(ticket_id) => app.preview_macro(&agent, ticket_id, id).await,
    };
    let (outcome, outcome_error) = match result {
        Ok(ticket) if apply => {
            let title = app.macro_by_id(&agent, id).await?.title;
            let message = format!("Applied “{title}” to ticket #{}.", ticket.id);
            return Ok(Flash::done(message).redirect(&format!("/ui/tickets/{}", ticket.id)));
        }
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
    let choices = app.editor_choices(&agent, RuleKind::Macro).await?;
    let mut form = RuleForm::from_json(RuleKind::Macro, &macro_json(&found), choices);
    form.version = version_of(&found);
    let mut page = EditorPage::new(&viewer, Some(id), found.title.clone(), form);
    page.outcome = outcome;
    page.outcome_error = outcome_error;
    Ok(render(&page))
}
