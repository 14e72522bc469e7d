//! Inbound webhooks: the list, the URL (copy, rotate), the call log refreshing by itself, and
//! the one-click request bin (an inbound webhook with no actions only records its calls).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hookdesk_core::Invalid;
use hookdesk_core::id::{CallId, InboundWebhookId};
use hookdesk_core::inbound::InboundCall;
use serde_json::{Map, Value, json};

use super::delete::ConfirmDelete;
use super::exchange::{curl, header_block, pretty};
use super::forms::{Conflict, Fields, PageParams, error_at, error_elsewhere, put_number, put_text};
use super::pager::{NameFilter, Pager};
use super::path::UiPath;
use super::{Chrome, Flash, Moment, Submitted, TEMPLATE_MODES, UiError, Viewer, render};
use crate::app::{
    Admin, App, AppError, CallQuery, DEFAULT_RATE_LIMIT_PER_MINUTE, Editable, InboundBody, InboundWebhookView,
    PatchInboundBody, from_json, version_of,
};

/// A line of the list.
struct Row {
    id: String,
    name: String,
    enabled: bool,
    /// Actions run per call.
    actions: usize,
    /// No action and the default answer: it only records calls.
    bin: bool,
    url: String,
}

/// Whether `response` is the answer every inbound webhook gives unless told otherwise.
fn default_response(response: &serde_json::Value) -> bool {
    use serde_json::Value;
    let no_headers = match &response["headers"] {
        Value::Null => true,
        Value::Object(headers) => headers.is_empty(),
        Value::Array(headers) => headers.is_empty(),
        _ => false,
    };
    response.is_null()
        || (response["status"] == serde_json::json!(202) && no_headers && response["body"] == "{\"ok\": true}")
}

impl Row {
    fn new(view: &InboundWebhookView) -> Self {
        Self {
            id: view.id.to_string(),
            name: view.name.clone(),
            enabled: view.enabled,
            actions: view.actions.as_array().map_or(0, Vec::len),
            bin: view.actions.as_array().is_none_or(Vec::is_empty) && default_response(&view.response),
            url: view.url.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/inbound.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    total: usize,
    filter: NameFilter,
    pager: Pager,
}

/// `GET /ui/inbound`.
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    PageParams(filter): PageParams<NameFilter>,
) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let all = app.inbound_webhooks(&admin).await?;
    let total = all.len();
    let rows = all.iter().filter(|w| filter.matches(&w.name)).map(Row::new).collect();
    let (rows, pager) = filter.page(rows, "/ui/inbound");
    Ok(render(&ListPage { chrome: viewer.chrome("Inbound"), rows, total, filter, pager }))
}

/// `POST /ui/inbound/bins`: a new request bin, named for when it was made.
pub async fn new_bin(State(app): State<App>, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let bin = app.create_request_bin(&admin).await?;
    Ok(Redirect::to(&format!("/ui/inbound/{}", bin.id)).into_response())
}

/// Calls a page of the log shows: the page stays light (it refreshes every 2 s) whatever the
/// calls hold.
const CALLS_PER_PAGE: u32 = 20;

/// What a page of the log shows of each call's headers, body and answer; the call's own page
/// shows them whole (as logged: bodies cut at 16 KiB, headers bounded).
const SHOWN_BYTES: usize = 4096;

/// A call as the log shows it.
struct CallRow {
    id: String,
    at: Moment,
    request_line: String,
    client_ip: String,
    status: u16,
    headers: String,
    body: String,
    body_bytes: i64,
    response_body: String,
    actions: String,
    error: Option<String>,
    replay_of: Option<String>,
    duration_ms: i64,
    /// Whether any of it was cut for the list (the call's page shows it whole).
    cut: bool,
    /// The call as a `curl` command to the inbound URL (as logged: credentials redacted, the
    /// body as kept); none in a list where the call was cut.
    curl: Option<String>,
}

impl CallRow {
    /// `call`, its texts cut at `shown` bytes each.
    fn new(call: &InboundCall, shown: usize, url: &str) -> Self {
        let query = if call.query.is_empty() { String::new() } else { format!("?{}", call.query) };
        let mut cut = false;
        let mut show = |text: String| {
            if text.len() <= shown {
                return text;
            }
            cut = true;
            format!("{}\n… [{} more bytes]", hookdesk_core::text::cut(&text, shown), text.len() - shown)
        };
        let request_line = show(format!("{} {}{query}", call.method, call.path));
        let headers = show(header_block(&call.headers));
        let body = show(pretty(&call.body));
        let response_body = show(pretty(&call.response_body));
        let path = if call.path == "/" { "" } else { call.path.as_str() };

        let actions = show(serde_json::to_string_pretty(&call.actions).unwrap_or_default());
        // A list keeps its calls short: a call cut there has its command on its own page.
        let curl = (!cut).then(|| curl(&call.method, &format!("{url}{path}{query}"), &call.headers, Some(&call.body)));
        Self {
            id: call.id.to_string(),
            at: Moment(call.created_at),
            request_line,
            client_ip: call.client_ip.clone().unwrap_or_default(),
            status: call.status,
            headers,
            body,
            body_bytes: call.body_bytes,
            response_body,
            actions,
            error: call.error.as_ref().map(|e| serde_json::to_string(e).unwrap_or_default()),
            replay_of: call.replay_of.as_ref().map(ToString::to_string),
            duration_ms: call.duration_ms,
            cut,
            curl,
        }
    }
}

#[derive(Template)]
#[template(path = "ui/inbound_webhook.html")]
struct ShowPage {
    chrome: Chrome,
    row: Row,
    details: String,
    calls: CallsPartial,
}

/// A page of the call log: the latest one refreshes itself, an older one stays.
#[derive(Template)]
#[template(path = "ui/inbound_calls.html")]
struct CallsPartial {
    row: Row,
    calls: Vec<CallRow>,
    /// The newest call's id: the refresh asks only whether a newer one came.
    newest: String,
    /// Whether this is the latest page (it refreshes), not an older one.
    latest: bool,
    /// The query of the next (older) page.
    older: Option<String>,
}

/// `?after=`: the newest call the page shows; `?cursor=`: the page of older calls.
#[derive(serde::Deserialize)]
pub struct CallsAt {
    after: Option<String>,
    cursor: Option<String>,
}

/// A page of inbound webhook `id`'s calls, newest first.
async fn calls_page(
    app: &App,
    admin: &Admin,
    view: &InboundWebhookView,
    cursor: Option<String>,
) -> Result<CallsPartial, UiError> {
    let latest = cursor.is_none();
    let page = app.inbound_calls(admin, &view.id, CallQuery::page(CALLS_PER_PAGE, cursor)).await?;
    Ok(CallsPartial {
        newest: page.data.first().map(|c| c.id.to_string()).unwrap_or_default(),
        calls: page.data.iter().map(|call| CallRow::new(call, SHOWN_BYTES, &view.url)).collect(),
        older: page.next_cursor.map(|cursor| format!("cursor={cursor}")),
        row: Row::new(view),
        latest,
    })
}

/// `GET /ui/inbound/{id}[?cursor=]`: the URL, the configuration and a page of calls.
pub async fn show(
    State(app): State<App>,
    viewer: Viewer,
    UiPath(id): UiPath<InboundWebhookId>,
    axum::extract::Query(at): axum::extract::Query<CallsAt>,
) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let view = app.inbound_webhook(&admin, &id).await?;
    let details = serde_json::to_string_pretty(&serde_json::json!({
        "verify": view.verify,
        "idempotency_header": view.idempotency_header,
        "actions": view.actions,
        "response": view.response,
        "rate_limit_per_minute": view.rate_limit_per_minute,
        "template_mode": view.template_mode,
    }))
    .unwrap_or_default();
    let calls = calls_page(&app, &admin, &view, at.cursor).await?;
    Ok(render(&ShowPage { chrome: viewer.chrome("Inbound"), row: Row::new(&view), details, calls }))
}

/// `GET /ui/inbound/{id}/calls?after=`: the latest calls, for the page to refresh itself
/// with; 204 (htmx then leaves the page alone: open details stay open) when none is newer.
pub async fn calls(
    State(app): State<App>,
    viewer: Viewer,
    UiPath(id): UiPath<InboundWebhookId>,
    axum::extract::Query(seen): axum::extract::Query<CallsAt>,
) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    // Asked every 2 s by every open page: when nothing is newer, answer before building rows
    // or reading the webhook.
    let newest = app.inbound_calls(&admin, &id, CallQuery::page(1, None)).await?.data;
    let newest = newest.first().map(|c| c.id.to_string()).unwrap_or_default();
    if seen.after.unwrap_or_default() == newest {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let view = app.inbound_webhook(&admin, &id).await?;
    Ok(render(&calls_page(&app, &admin, &view, None).await?))
}

#[derive(Template)]
#[template(path = "ui/inbound_call.html")]
struct CallPage {
    chrome: Chrome,
    row: Row,
    call: CallRow,
}

/// `GET /ui/inbound/{id}/calls/{call_id}`: one call, whole.
pub async fn call(
    State(app): State<App>,
    viewer: Viewer,
    UiPath((id, call_id)): UiPath<(InboundWebhookId, CallId)>,
) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let view = app.inbound_webhook(&admin, &id).await?;
    let call = app.inbound_call(&admin, &id, &call_id).await?;
    Ok(render(&CallPage {
        chrome: viewer.chrome("Inbound"),
        row: Row::new(&view),
        call: CallRow::new(&call, usize::MAX, &view.url),
    }))
}

/// `POST /ui/inbound/{id}/rotate`: a new URL; the old one stops answering.
pub async fn rotate(
    State(app): State<App>,
    UiPath(id): UiPath<InboundWebhookId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    app.rotate_inbound_webhook(&admin, &id).await?;
    Ok(Redirect::to(&format!("/ui/inbound/{id}")).into_response())
}

/// The values of the inbound webhook form, as typed.
pub struct InboundForm {
    pub name: String,
    pub enabled: bool,
    pub verify_type: String,
    /// The saved verification, as the form was first shown (kept across a refused save).
    pub verify_was: String,
    pub verify_header: String,
    pub verify_header_was: String,
    pub idempotency_header: String,
    pub actions: String,
    pub response: String,
    pub rate_limit_per_minute: String,
    pub template_mode: String,
    pub error: Option<Invalid>,
}

impl InboundForm {
    fn new_webhook() -> Self {
        Self {
            name: String::new(),
            enabled: true,
            verify_type: "none".into(),
            verify_was: "none".into(),
            verify_header: String::new(),
            verify_header_was: String::new(),
            idempotency_header: String::new(),
            actions: "[]".into(),
            response: String::new(),
            rate_limit_per_minute: DEFAULT_RATE_LIMIT_PER_MINUTE.to_string(),
            template_mode: "lax".into(),
            error: None,
        }
    }

    fn from_view(view: &InboundWebhookView) -> Self {
        let verify = serde_json::to_value(&view.verify).unwrap_or_default();
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        Self {
            name: view.name.clone(),
            enabled: view.enabled,
            verify_type: if verify.is_null() { "none".into() } else { text(&verify, "type") },
            verify_was: if verify.is_null() { "none".into() } else { text(&verify, "type") },
            verify_header: text(&verify, "header"),
            verify_header_was: text(&verify, "header"),
            idempotency_header: view.idempotency_header.clone().unwrap_or_default(),
            actions: serde_json::to_string_pretty(&view.actions).unwrap_or_default(),
            response: serde_json::to_string_pretty(&view.response).unwrap_or_default(),
            rate_limit_per_minute: view.rate_limit_per_minute.map(|n| n.to_string()).unwrap_or_default(),
            template_mode: view.template_mode.as_str().to_owned(),
            error: None,
        }
    }

    fn from_fields(fields: &Fields, error: Invalid) -> Self {
        let text = |name: &str| fields.get(name).unwrap_or_default().to_owned();
        Self {
            name: text("name"),
            enabled: fields.checked("enabled"),
            verify_type: text("verify.type"),
            verify_was: text("verify.was"),
            verify_header: text("verify.header"),
            verify_header_was: text("verify.header_was"),
            idempotency_header: text("idempotency_header"),
            actions: text("actions"),
            response: text("response"),
            rate_limit_per_minute: text("rate_limit_per_minute"),
            template_mode: text("template_mode"),
            error: Some(error),
        }
    }

    /// The error's message when it is about input `name` (or something inside it).
    pub fn error_for(&self, name: &str) -> Option<&str> {
        error_at(self.error.as_ref(), name)
    }

    /// An error no input of the form shows (those `inbound_form.html` shows at an input).
    pub fn general_error(&self) -> Option<String> {
        let shown_at =
            ["name", "verify", "idempotency_header", "actions", "response", "rate_limit_per_minute", "template_mode"];
        error_elsewhere(self.error.as_ref(), &shown_at)
    }

    pub fn selected(&self, option: &str) -> bool {
        self.verify_type == option
    }

    /// The template modes to choose from, with what each means.
    pub fn template_modes(&self) -> &'static [(&'static str, &'static str)] {
        TEMPLATE_MODES
    }

    pub fn mode_selected(&self, option: &str) -> bool {
        self.template_mode == option
    }
}

/// A JSON text box's value: parsed, or the text itself for the API to refuse by name.
fn json_box(text: &str) -> Option<Value> {
    let text = text.trim();
    (!text.is_empty()).then(|| serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())))
}

/// The JSON body the API would get for this form. When editing, a secret left blank with the
/// same verification keeps the saved one.
fn inbound_body(fields: &Fields, editing: bool) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("name".into(), Value::String(fields.get("name").unwrap_or_default().trim().to_owned()));
    body.insert("enabled".into(), Value::Bool(fields.checked("enabled")));
    let kind = fields.text("verify.type").unwrap_or("none");
    let secret = fields.get("verify.secret").unwrap_or_default();
    // Kept only when nothing of it changed: a new type or header needs the secret typed again.
    let unchanged = fields.get("verify.was") == Some(kind)
        && fields.get("verify.header") == fields.get("verify.header_was")
        && secret.is_empty();
    match kind {
        "none" => {
            body.insert("verify".into(), Value::Null);
        }
        _ if editing && unchanged => {}
        "hmac_sha256" => {
            let header = fields.get("verify.header").unwrap_or_default().trim();
            body.insert("verify".into(), json!({"type": kind, "header": header, "secret": secret}));
        }
        _ => {
            body.insert("verify".into(), json!({"type": kind, "secret": secret}));
        }
    }
    let idempotency = fields.text("idempotency_header").map(|h| Value::String(h.to_owned()));
    if idempotency.is_some() || editing {
        body.insert("idempotency_header".into(), idempotency.unwrap_or(Value::Null));
    }
    body.insert("actions".into(), json_box(fields.get("actions").unwrap_or_default()).unwrap_or(json!([])));
    if let Some(response) = json_box(fields.get("response").unwrap_or_default()) {
        body.insert("response".into(), response);
    }
    match fields.text("rate_limit_per_minute") {
        Some(_) => put_number(&mut body, "rate_limit_per_minute", fields.get("rate_limit_per_minute")),
        None => {
            body.insert("rate_limit_per_minute".into(), Value::Null);
        }
    }
    put_text(&mut body, "template_mode", fields.get("template_mode"));
    body
}

#[derive(Template)]
#[template(path = "ui/inbound_form.html")]
struct FormPage {
    chrome: Chrome,
    id: Option<String>,
    heading: String,
    form: InboundForm,
    /// The version the form was opened at.
    version: String,
    conflict: Option<Conflict>,
}

/// `GET /ui/inbound/new`.
pub async fn new_form(viewer: Viewer) -> Result<Response, UiError> {
    viewer.admin()?;
    let page = FormPage {
        chrome: viewer.chrome("Inbound"),
        id: None,
        heading: "New inbound webhook".into(),
        form: InboundForm::new_webhook(),
        version: String::new(),
        conflict: None,
    };
    Ok(render(&page))
}

/// `GET /ui/inbound/{id}/edit`.
pub async fn edit_form(
    State(app): State<App>,
    viewer: Viewer,
    UiPath(id): UiPath<InboundWebhookId>,
) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let view = app.inbound_webhook(&admin, &id).await?;
    let page = FormPage {
        chrome: viewer.chrome("Inbound"),
        id: Some(id.to_string()),
        heading: view.name.clone(),
        form: InboundForm::from_view(&view),
        version: version_of(&view),
        conflict: None,
    };
    Ok(render(&page))
}

fn refused(viewer: &Viewer, id: Option<&InboundWebhookId>, fields: &Fields, error: Invalid) -> Response {
    let form = InboundForm::from_fields(fields, error);
    let heading = if form.name.is_empty() { "New inbound webhook".to_owned() } else { form.name.clone() };
    let version = fields.get("version").unwrap_or_default().to_owned();
    let page = FormPage {
        chrome: viewer.chrome("Inbound"),
        id: id.map(ToString::to_string),
        heading,
        form,
        version,
        conflict: None,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response()
}

/// `POST /ui/inbound/new`.
pub async fn create(State(app): State<App>, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let saved = match from_json::<InboundBody>(Value::Object(inbound_body(&form.fields, false))) {
        Ok(body) => app.create_inbound_webhook(&admin, body).await,
        Err(invalid) => Err(invalid.into()),
    };
    match saved {
        Ok(view) => Ok(Flash::done(format!("Created “{}”.", view.name)).redirect(&format!("/ui/inbound/{}", view.id))),
        Err(AppError::Invalid(invalid)) => Ok(refused(&form.viewer, None, &form.fields, invalid)),
        Err(other) => Err(other.into()),
    }
}

/// `POST /ui/inbound/{id}/edit`.
pub async fn update(
    State(app): State<App>,
    UiPath(id): UiPath<InboundWebhookId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let body = inbound_body(&form.fields, true);
    match app.expect_version(&form.viewer.agent(), Editable::InboundWebhook(&id), form.fields.text("version")).await {
        Err(AppError::VersionConflict(now)) => {
            let view = app.inbound_webhook(&admin, &id).await?;
            let saved = serde_json::to_value(&view).unwrap_or_default();
            let conflict = Conflict::between("inbound webhook", &saved, &body, format!("/ui/inbound/{id}/edit"));
            let mut form_values = InboundForm::from_fields(&form.fields, Invalid::new("version", "not saved"));
            form_values.error = None;
            let page = FormPage {
                chrome: form.viewer.chrome("Inbound"),
                id: Some(id.to_string()),
                heading: view.name.clone(),
                form: form_values,
                version: now,
                conflict: Some(conflict),
            };
            return Ok((StatusCode::PRECONDITION_FAILED, render(&page)).into_response());
        }
        other => other?,
    }
    let saved = match from_json::<PatchInboundBody>(Value::Object(body)) {
        Ok(body) => app.update_inbound_webhook(&admin, &id, body).await,
        Err(invalid) => Err(invalid.into()),
    };
    match saved {
        Ok(view) => Ok(Flash::done(format!("Saved “{}”.", view.name)).redirect(&format!("/ui/inbound/{id}"))),
        Err(AppError::Invalid(invalid)) => Ok(refused(&form.viewer, Some(&id), &form.fields, invalid)),
        Err(other) => Err(other.into()),
    }
}

/// `GET /ui/inbound/{id}/delete`.
pub async fn confirm_delete(
    State(app): State<App>,
    viewer: Viewer,
    UiPath(id): UiPath<InboundWebhookId>,
) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let view = app.inbound_webhook(&admin, &id).await?;
    Ok(ConfirmDelete {
        chrome: viewer.chrome("Inbound"),
        what: "inbound webhook",
        name: view.name.clone(),
        consequence: "Its URL stops answering (404) at once, and its call log goes with it.".into(),
        action: format!("/ui/inbound/{id}/delete"),
        back: format!("/ui/inbound/{id}"),
        version: Some(version_of(&view)),
        blockers: vec![],
    }
    .page())
}

/// `POST /ui/inbound/{id}/delete`.
pub async fn delete(
    State(app): State<App>,
    UiPath(id): UiPath<InboundWebhookId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let name = app.inbound_webhook(&admin, &id).await?.name;
    match app.expect_version(&form.viewer.agent(), Editable::InboundWebhook(&id), form.fields.text("version")).await {
        Err(AppError::VersionConflict(_)) => {
            let message = format!("Not deleted: “{name}” changed since you asked. Look at it again first.");
            return Ok(Flash::warning(message).redirect(&format!("/ui/inbound/{id}")));
        }
        other => other?,
    }
    app.delete_inbound_webhook(&admin, &id).await?;
    Ok(Flash::done(format!("Deleted inbound webhook “{name}”.")).redirect("/ui/inbound"))
}
