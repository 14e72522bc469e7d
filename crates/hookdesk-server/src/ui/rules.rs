//! Triggers and automations: the list in running order (move up or down, switch on or off),
//! the editor ([`RuleForm`]: rows of choices, the API's 422 at its row, a stale version
//! refused with the differences shown), a dry run of the draft on a chosen ticket, running
//! the automations now, and deleting after a confirmation.

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use hookdesk_core::Invalid;
use hookdesk_core::id::RuleId;
use hookdesk_core::rules::RuleSet;
use serde_json::{Map, Value};

use super::delete::ConfirmDelete;
use super::forms::{Conflict, put_number};
use super::pager::{Pager, link, page_of};
use super::path::UiPath;
use super::rule_editor::{Control, RuleForm};
use super::{Chrome, Flash, Moment, Submitted, UiError, Viewer, render};
use crate::app::{
    App, AppError, DryRunBody, DryRunResult, Editable, NotificationPreview, OrderBody, PatchTriggerBody, TriggerBody,
    from_json, version_of,
};

/// Which rules a page is about, from its path (`/ui/triggers...` or `/ui/automations...`).
#[derive(Debug, Clone, Copy)]
pub struct Set(RuleSet);

impl<S: Send + Sync> FromRequestParts<S> for Set {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let automations = parts.uri.path().starts_with("/ui/automations");
        Ok(Set(if automations { RuleSet::Automations } else { RuleSet::Triggers }))
    }
}

impl Set {
    fn path(self) -> &'static str {
        match self.0 {
            RuleSet::Triggers => "/ui/triggers",
            RuleSet::Automations => "/ui/automations",
        }
    }

    fn menu(self) -> &'static str {
        match self.0 {
            RuleSet::Triggers => "Triggers",
            RuleSet::Automations => "Automations",
        }
    }
}

/// A line of the list.
struct Row {
    id: String,
    title: String,
    active: bool,
    position: i64,
    fired_7d: i64,
    last_fired: Option<Moment>,
}

/// `?q=`: the rules whose title holds it (any case); `?state=active|inactive`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RuleFilter {
    #[serde(default)]
    q: String,
    #[serde(default)]
    state: String,
    page: Option<usize>,
}

#[derive(Template)]
#[template(path = "ui/rules.html")]
struct ListPage {
    chrome: Chrome,
    heading: &'static str,
    base: &'static str,
    automations: bool,
    rows: Vec<Row>,
    /// How many there are in all, before the filter.
    total: usize,
    filter: RuleFilter,
    pager: Pager,
    notice: Option<String>,
}

async fn list_page(
    app: &App,
    viewer: &Viewer,
    set: Set,
    filter: RuleFilter,
    notice: Option<String>,
) -> Result<Response, UiError> {
    let agent = viewer.agent();
    let rules = app.rules(&agent, set.0).await?;
    let total = rules.len();
    let needle = filter.q.trim().to_lowercase();
    let state = match filter.state.as_str() {
        "" => None,
        "active" => Some(true),
        "inactive" => Some(false),
        _ => {
            return Err(UiError::Refused(crate::http::error::ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_filter",
                "The state filter is active or inactive: change it and try again.",
            )));
        }
    };
    let shown: Vec<_> = rules
        .iter()
        .filter(|t| needle.is_empty() || t.rule.title.to_lowercase().contains(&needle))
        .filter(|t| state.is_none_or(|active| t.active == active))
        .collect();
    let filters = [("q", filter.q.as_str()), ("state", filter.state.as_str())];
    let (shown, pager) = page_of(shown, filter.page, |n| link(set.path(), &filters, n));
    let ids: Vec<RuleId> = shown.iter().map(|t| t.rule.id).collect();
    let mut firings = app.rule_firings(&agent, set.0, &ids).await?;
    let rows = shown
        .iter()
        .map(|t| {
            let f = firings.remove(&t.rule.id).unwrap_or_default();
            Row {
                id: t.rule.id.to_string(),
                title: t.rule.title.clone(),
                active: t.active,
                position: t.position,
                fired_7d: f.fired_7d,
                last_fired: f.last_fired_at.map(Moment),
            }
        })
        .collect();
    let page = ListPage {
        chrome: viewer.chrome(set.menu()),
        heading: set.menu(),
        base: set.path(),
        automations: matches!(set.0, RuleSet::Automations),
        rows,
        total,
        filter,
        pager,
        notice,
    };
    Ok(render(&page))
}

/// `POST /ui/triggers/bulk`: activates or deactivates (`active` = `true` or `false`) every
/// rule checked (`ids`), then back to the list with what was done.
pub async fn bulk_active(State(app): State<App>, set: Set, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let active = form.fields.get("active") == Some("true");
    let ids = form
        .fields
        .all("ids")
        .into_iter()
        .map(|id| id.parse::<i64>().map(RuleId))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            UiError::Refused(crate::http::error::ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_id",
                "One of the rules chosen is not a rule's id: go back to the list and choose again.",
            ))
        })?;
    if ids.is_empty() {
        return Ok(Flash::warning(format!("Nothing changed: check the {} to change first.", set.0.name()))
            .redirect(set.path()));
    }
    for id in &ids {
        let body = PatchTriggerBody { active: Some(active), ..Default::default() };
        app.update_rule(&admin, set.0, *id, body).await?;
    }
    let (verb, count) = (if active { "Activated" } else { "Deactivated" }, ids.len());
    let noun = if count == 1 { set.0.one() } else { set.0.name() };
    Ok(Flash::done(format!("{verb} {count} {noun}.")).redirect(set.path()))
}

/// `GET /ui/triggers` and `GET /ui/automations`: agents read them, admins change them.
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    set: Set,
    filter: super::forms::PageParams<RuleFilter>,
) -> Result<Response, UiError> {
    list_page(&app, &viewer, set, filter.0, None).await
}

/// `POST /ui/triggers/{id}/move`: one place up or down (`direction`).
pub async fn move_rule(
    State(app): State<App>,
    set: Set,
    UiPath(id): UiPath<RuleId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let mut ids: Vec<RuleId> = app.rules(&form.viewer.agent(), set.0).await?.iter().map(|t| t.rule.id).collect();
    let at = ids.iter().position(|i| *i == id).ok_or(AppError::NotFound(set.0.one()))?;
    let to = match form.fields.get("direction") {
        Some("up") => at.checked_sub(1),
        _ => Some(at + 1).filter(|to| *to < ids.len()),
    };
    if let Some(to) = to {
        ids.swap(at, to);
        app.order_rules(&admin, set.0, OrderBody { ids }).await?;
    }
    Ok(Redirect::to(set.path()).into_response())
}

/// `POST /ui/triggers/{id}/active`: switch on or off (`active` = `true` or `false`).
pub async fn set_active(
    State(app): State<App>,
    set: Set,
    UiPath(id): UiPath<RuleId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let body = PatchTriggerBody { active: Some(form.fields.get("active") == Some("true")), ..Default::default() };
    app.update_rule(&admin, set.0, id, body).await?;
    Ok(Redirect::to(set.path()).into_response())
}

/// `POST /ui/automations/run`: runs the automations now, over every open ticket.
pub async fn run_automations(State(app): State<App>, set: Set, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let run = app.run_automations(&admin).await?;
    let notice = format!(
        "Checked {} tickets: {} updated, {} automations fired, {} skipped (changed meanwhile).",
        run.tickets_checked, run.tickets_updated, run.fired, run.skipped
    );
    list_page(&app, &form.viewer, set, RuleFilter::default(), Some(notice)).await
}

/// Where an editor of `set` offers and posts.
impl Set {
    fn one(self) -> &'static str {
        self.0.one()
    }
}

#[derive(Template)]
#[template(path = "ui/rule_form.html")]
struct EditorPage {
    chrome: Chrome,
    base: &'static str,
    heading: String,
    /// The rule's id; none for a new one.
    id: Option<String>,
    kind_name: &'static str,
    form: RuleForm,
    conflict: Option<Conflict>,
    dry_run: Option<DryRun>,
    dry_run_error: Option<String>,
    ticket_id: String,
}

impl EditorPage {
    fn new(viewer: &Viewer, set: Set, id: Option<RuleId>, heading: String, form: RuleForm) -> Self {
        Self {
            chrome: viewer.chrome(set.menu()),
            base: set.path(),
            heading,
            id: id.map(|id| id.to_string()),
            kind_name: set.one(),
            form,
            conflict: None,
            dry_run: None,
            dry_run_error: None,
            ticket_id: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/rule_rows.html")]
struct RowsFragment {
    form: RuleForm,
}

#[derive(Template)]
#[template(path = "ui/notification_preview.html")]
struct PreviewFragment {
    preview: NotificationPreview,
}

/// The heading of an editor: the saved title (a draft's is not saved yet), or "New trigger".
async fn heading(app: &App, viewer: &Viewer, set: Set, id: Option<RuleId>) -> String {
    match id {
        Some(id) => match app.rule(&viewer.agent(), set.0, id).await {
            Ok(rule) => rule.rule.title,
            Err(_) => format!("{} {id}", set.one()),
        },
        None => format!("New {}", set.one()),
    }
}

/// `GET /ui/triggers/new`.
pub async fn new_form(State(app): State<App>, viewer: Viewer, set: Set) -> Result<Response, UiError> {
    viewer.admin()?;
    let choices = app.editor_choices(&viewer.agent(), set.0.kind()).await?;
    let heading = format!("New {}", set.one());
    Ok(render(&EditorPage::new(&viewer, set, None, heading, RuleForm::new_rule(set.0.kind(), choices))))
}

/// `GET /ui/triggers/{id}`: the editor for admins; what it says, in words, for agents.
pub async fn show(
    State(app): State<App>,
    viewer: Viewer,
    set: Set,
    UiPath(id): UiPath<RuleId>,
) -> Result<Response, UiError> {
    let agent = viewer.agent();
    let rule = app.rule(&agent, set.0, id).await?;
    let choices = app.editor_choices(&agent, set.0.kind()).await?;
    let mut form = RuleForm::from_json(set.0.kind(), &serde_json::to_value(&rule).unwrap_or_default(), choices);
    form.version = version_of(&rule);
    form.editable = viewer.session.is_admin();
    form.warnings = app.warnings(&agent, Editable::Rule(set.0, id)).await?;
    Ok(render(&EditorPage::new(&viewer, set, Some(id), rule.rule.title.clone(), form)))
}

/// The editor again, with the form as posted and the error at its row.
async fn refused(
    app: &App,
    viewer: &Viewer,
    set: Set,
    id: Option<RuleId>,
    mut form: RuleForm,
    error: Invalid,
) -> Response {
    form.drop_blank_rows();
    form.error = Some(error);
    let heading = heading(app, viewer, set, id).await;
    (StatusCode::UNPROCESSABLE_ENTITY, render(&EditorPage::new(viewer, set, id, heading, form))).into_response()
}

/// "Saved", and how many warnings the editor now shows beside their fields.
fn saved_message(verb: &str, title: &str, warnings: usize) -> Flash {
    match warnings {
        0 => Flash::done(format!("{verb} “{title}”.")),
        n => Flash::warning(format!("{verb} “{title}”, with {n} warning{}: see below.", if n == 1 { "" } else { "s" })),
    }
}

/// `POST /ui/triggers/new`.
pub async fn create(State(app): State<App>, set: Set, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let choices = app.editor_choices(&form.viewer.agent(), set.0.kind()).await?;
    let editor = RuleForm::posted(set.0.kind(), &form.fields, choices);
    let saved = match from_json::<TriggerBody>(Value::Object(editor.body())) {
        Ok(parsed) => app.create_rule(&admin, set.0, parsed).await,
        Err(invalid) => Err(invalid.into()),
    };
    match saved {
        Ok(saved) => {
            let message = saved_message("Created", &saved.item.rule.title, saved.warnings.len());
            Ok(message.redirect(&format!("{}/{}", set.path(), saved.item.rule.id)))
        }
        Err(AppError::Invalid(invalid)) => Ok(refused(&app, &form.viewer, set, None, editor, invalid).await),
        Err(other) => Err(other.into()),
    }
}

/// `POST /ui/triggers/{id}`: saved, or the editor again with the error at its row, or with
/// what changed meanwhile when someone else saved first.
pub async fn update(
    State(app): State<App>,
    set: Set,
    UiPath(id): UiPath<RuleId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let agent = form.viewer.agent();
    let choices = app.editor_choices(&agent, set.0.kind()).await?;
    let mut editor = RuleForm::posted(set.0.kind(), &form.fields, choices);
    let body = editor.body();
    let expected = Some(editor.version.as_str()).filter(|v| !v.is_empty());
    match app.expect_version(&agent, Editable::Rule(set.0, id), expected).await {
        Err(AppError::VersionConflict(now)) => {
            let saved = serde_json::to_value(app.rule(&agent, set.0, id).await?).unwrap_or_default();
            let reload = format!("{}/{id}", set.path());
            editor.version = now;
            let heading = heading(&app, &form.viewer, set, Some(id)).await;
            let mut page = EditorPage::new(&form.viewer, set, Some(id), heading, editor);
            page.conflict = Some(Conflict::between(set.one(), &saved, &body, reload));
            return Ok((StatusCode::PRECONDITION_FAILED, render(&page)).into_response());
        }
        other => other?,
    }
    let saved = match from_json::<PatchTriggerBody>(Value::Object(body)) {
        Ok(parsed) => app.update_rule(&admin, set.0, id, parsed).await,
        Err(invalid) => Err(invalid.into()),
    };
    match saved {
        Ok(saved) => {
            let message = saved_message("Saved", &saved.item.rule.title, saved.warnings.len());
            Ok(message.redirect(&format!("{}/{id}", set.path())))
        }
        Err(AppError::Invalid(invalid)) => Ok(refused(&app, &form.viewer, set, Some(id), editor, invalid).await),
        Err(other) => Err(other.into()),
    }
}

/// `POST /ui/triggers/editor`: the editor with a row added or removed, or its choices
/// brought up to date with what was chosen; htmx gets the rows, a browser without script the
/// page. Nothing is saved.
pub async fn edit(State(app): State<App>, set: Set, headers: HeaderMap, form: Submitted) -> Result<Response, UiError> {
    form.viewer.admin()?;
    let choices = app.editor_choices(&form.viewer.agent(), set.0.kind()).await?;
    let mut editor = RuleForm::posted(set.0.kind(), &form.fields, choices);
    match form.fields.get("edit").unwrap_or_default() {
        "starter" => editor.start_from(form.fields.get("starter").unwrap_or_default()),
        edit => editor.apply_edit(edit),
    };
    editor.choose_the_only_webhook();
    // The rows come back whole: their notifications' previews with them, not blank.
    for index in 0..editor.actions.len() {
        let chosen =
            editor.notification(index).is_some_and(|n| n["webhook_id"].as_str().is_some_and(|id| !id.is_empty()));
        if chosen {
            let preview = preview_row(&app, &form.viewer.agent(), &editor, index).await?;
            editor.previews.push((index, preview));
        }
    }
    if headers.contains_key("hx-request") {
        return Ok(render(&RowsFragment { form: editor }));
    }
    let id = form.fields.text("id").and_then(|id| id.parse().ok()).map(RuleId);
    let heading = heading(&app, &form.viewer, set, id).await;
    Ok(render(&EditorPage::new(&form.viewer, set, id, heading, editor)))
}

/// `POST /ui/triggers/preview`: the request notification row `preview` would send, rendered
/// against the chosen ticket or the sample; nothing is saved or sent.
pub async fn preview(
    State(app): State<App>,
    set: Set,
    headers: HeaderMap,
    form: Submitted,
) -> Result<Response, UiError> {
    form.viewer.admin()?;
    let agent = form.viewer.agent();
    let choices = app.editor_choices(&agent, set.0.kind()).await?;
    let mut editor = RuleForm::posted(set.0.kind(), &form.fields, choices);
    let index = form.fields.text("preview").and_then(|i| i.parse::<usize>().ok()).unwrap_or_default();
    let preview = preview_row(&app, &agent, &editor, index).await?;
    if headers.contains_key("hx-request") {
        return Ok(render(&PreviewFragment { preview }));
    }
    editor.previews.push((index, preview));
    let id = form.fields.text("id").and_then(|id| id.parse().ok()).map(RuleId);
    let heading = heading(&app, &form.viewer, set, id).await;
    Ok(render(&EditorPage::new(&form.viewer, set, id, heading, editor)))
}

/// The preview of notification row `index` of `editor`, its refusal said in the preview.
pub(super) async fn preview_row(
    app: &App,
    agent: &crate::app::Agent,
    editor: &RuleForm,
    index: usize,
) -> Result<NotificationPreview, UiError> {
    let refusal =
        |message: String| NotificationPreview { request: None, error: Some(message), unknown_variables: vec![] };
    let Some(notify) = editor.notification(index) else {
        return Ok(refusal("this row notifies no webhook".into()));
    };
    if notify["webhook_id"].as_str().unwrap_or_default().is_empty() {
        return Ok(refusal("choose a webhook first".into()));
    }
    let ticket = editor.preview_ticket.parse::<i64>().ok().map(hookdesk_core::id::TicketId);
    match app.preview_notification(agent, editor.kind, &editor.title, &notify, ticket).await {
        Ok(preview) => Ok(preview),
        Err(AppError::Invalid(invalid)) => Ok(refusal(invalid.to_string())),
        Err(AppError::NotFound(what)) => Ok(refusal(format!("the {what} does not exist"))),
        Err(AppError::Unprocessable { message, .. }) => Ok(refusal(message)),
        Err(other) => Err(other.into()),
    }
}

/// `GET /ui/triggers/{id}/delete`: what deleting it means, before it is done.
pub async fn confirm_delete(
    State(app): State<App>,
    viewer: Viewer,
    set: Set,
    UiPath(id): UiPath<RuleId>,
) -> Result<Response, UiError> {
    viewer.admin()?;
    let rule = app.rule(&viewer.agent(), set.0, id).await?;
    let consequence = match set.0 {
        RuleSet::Triggers => {
            "It stops firing on ticket updates. What it already did (changes, queued requests, audits) stays."
        }
        RuleSet::Automations => "It stops running on schedule. What it already did stays.",
    };
    Ok(ConfirmDelete {
        chrome: viewer.chrome(set.menu()),
        what: set.one(),
        name: rule.rule.title.clone(),
        consequence: consequence.into(),
        action: format!("{}/{id}/delete", set.path()),
        back: format!("{}/{id}", set.path()),
        version: Some(version_of(&rule)),
        blockers: vec![],
    }
    .page())
}

/// `POST /ui/triggers/{id}/delete`.
pub async fn delete(
    State(app): State<App>,
    set: Set,
    UiPath(id): UiPath<RuleId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let agent = form.viewer.agent();
    let title = app.rule(&agent, set.0, id).await?.rule.title;
    let expected = form.fields.text("version");
    match app.expect_version(&agent, Editable::Rule(set.0, id), expected).await {
        Err(AppError::VersionConflict(_)) => {
            let message = format!("Not deleted: “{title}” changed since you asked. Look at it again first.");
            return Ok(Flash::warning(message).redirect(&format!("{}/{id}", set.path())));
        }
        other => other?,
    }
    app.delete_rule(&admin, set.0, id).await?;
    Ok(Flash::done(format!("Deleted {} “{title}”.", set.one())).redirect(set.path()))
}

/// A dry run as the panel shows it.
pub struct DryRun {
    fired: Vec<String>,
    requests: Vec<String>,
    events: Vec<String>,
    status: String,
    unknown_variables: Vec<String>,
    bound_hit: bool,
}

impl DryRun {
    fn new(result: &DryRunResult) -> Self {
        Self {
            fired: result
                .fired
                .iter()
                .map(|s| format!("{} {}: {} {}", s.rule.kind, s.rule.id, s.rule.title, s.changes))
                .collect(),
            requests: result.requests.iter().map(|r| serde_json::to_string_pretty(r).unwrap_or_default()).collect(),
            events: result.events.clone(),
            status: format!(
                "{} / {}",
                super::api_name(&result.ticket.fields.status),
                super::api_name(&result.ticket.fields.priority)
            ),
            unknown_variables: result.unknown_variables.clone(),
            bound_hit: result.bound_hit,
        }
    }
}

#[derive(Template)]
#[template(path = "ui/dry_run.html")]
struct DryRunPanel {
    dry_run: Option<DryRun>,
    dry_run_error: Option<String>,
}

/// `POST /ui/triggers/dry-run`: the draft in the editor tried with the active triggers on a
/// ticket; nothing is saved or sent.
pub async fn dry_run(
    State(app): State<App>,
    set: Set,
    headers: HeaderMap,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let choices = app.editor_choices(&form.viewer.agent(), set.0.kind()).await?;
    let editor = RuleForm::posted(set.0.kind(), &form.fields, choices);
    let mut request = Map::new();
    put_number(&mut request, "ticket_id", form.fields.get("ticket_id"));
    request.insert("trigger".into(), Value::Object(editor.body()));
    let outcome = match from_json::<DryRunBody>(Value::Object(request)) {
        Ok(parsed) => app.dry_run(&admin, parsed).await,
        Err(invalid) => Err(invalid.into()),
    };
    let (dry_run, dry_run_error) = match outcome {
        Ok(result) => (Some(DryRun::new(&result)), None),
        Err(AppError::Invalid(invalid)) => (None, Some(invalid.to_string())),
        Err(AppError::NotFound(what)) => (None, Some(format!("the {what} does not exist"))),
        Err(AppError::Unprocessable { message, .. }) => (None, Some(message)),
        Err(other) => return Err(other.into()),
    };
    if headers.contains_key("hx-request") {
        return Ok(render(&DryRunPanel { dry_run, dry_run_error }));
    }
    // Without script the editor comes back whole, still editing the rule it was editing.
    let id = form.fields.text("id").and_then(|id| id.parse().ok()).map(RuleId);
    let heading = heading(&app, &form.viewer, set, id).await;
    let mut page = EditorPage::new(&form.viewer, set, id, heading, editor);
    page.dry_run = dry_run;
    page.dry_run_error = dry_run_error;
    page.ticket_id = form.fields.get("ticket_id").unwrap_or_default().to_owned();
    Ok(render(&page))
}
