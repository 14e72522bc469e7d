//! Webhooks: the list with health and last result, the form (create and edit with every
//! option), the signing secret, and the test panel.

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use hookdesk_core::Invalid;
use hookdesk_core::event::EventType;
use hookdesk_core::id::WebhookId;
use hookdesk_core::invocation::WebhookOutcomes;
use hookdesk_core::webhook::BreakerState;
use serde_json::{Map, Value, json};

use super::delete::ConfirmDelete;
use super::exchange::Exchange;
use super::forms::{
    Conflict, Fields, PageParams, error_at, error_elsewhere, header_lines, put_number, put_text, to_header_lines,
};
use super::path::UiPath;
use super::{Chrome, Flash, Moment, PER_PAGE, Submitted, TEMPLATE_MODES, UiError, Viewer, api_name, render};
use crate::app::{
    App, AppError, CreateWebhookBody, Editable, PatchWebhookBody, SearchQuery, TestBody, TestResult, WebhookView,
    from_json, version_of,
};

#[derive(Template)]
#[template(path = "ui/webhooks.html")]
struct ListPage {
    chrome: Chrome,
    webhooks: Vec<WebhookRow>,
    /// How many webhooks the page holds before the filter.
    q: String,
    /// The query string of the next page, past 500 webhooks.
    next_page: Option<String>,
    /// Each event type, and the webhooks that receive it.
    events: Vec<(&'static str, Vec<(String, String)>)>,
}

/// The event catalogue, with who subscribes to each type.
fn event_subscriptions(webhooks: &[WebhookView]) -> Vec<(&'static str, Vec<(String, String)>)> {
    EventType::ALL
        .iter()
        .map(|event| {
            let name = event.as_str();
            let subscribed = webhooks
                .iter()
                .filter(|w| w.subscriptions.iter().any(|s| s == name))
                .map(|w| (w.id.to_string(), w.name.clone()))
                .collect();
            (name, subscribed)
        })
        .collect()
}

/// A line of the list.
struct WebhookRow {
    id: String,
    name: String,
    endpoint: String,
    status: String,
    /// `healthy`, `probing`, `breaker open` or `failing`.
    health: &'static str,
    /// Whether the latest request was delivered, and when.
    last_result: Option<(bool, Moment)>,
    /// "97 % of 120" over 24 hours; None when nothing completed.
    success_rate: Option<String>,
    retrying: i64,
}

impl WebhookRow {
    fn new(w: &WebhookView, outcomes: WebhookOutcomes) -> Self {
        let health = &w.health;
        let state = if health.failing {
            "failing"
        } else {
            match health.breaker {
                BreakerState::Open => "breaker open",
                BreakerState::HalfOpen => "probing",
                BreakerState::Closed => "healthy",
            }
        };
        let last_result = match (health.last_success_at, health.last_failure_at) {
            (Some(ok), Some(failed)) if failed > ok => Some((false, Moment(failed))),
            (Some(ok), _) => Some((true, Moment(ok))),
            (None, Some(failed)) => Some((false, Moment(failed))),
            (None, None) => None,
        };
        Self {
            id: w.id.to_string(),
            name: w.name.clone(),
            endpoint: w.endpoint.clone(),
            status: api_name(&w.status),
            health: if state == "healthy" && outcomes.retrying > 0 { "retrying" } else { state },
            last_result,
            success_rate: super::overview::success_rate(&outcomes),
            retrying: outcomes.retrying,
        }
    }
}

/// `?cursor=`: the page of webhooks after the one it names; `?q=`: those whose name or
/// endpoint holds it (any case), on that page.
#[derive(Default, serde::Deserialize)]
pub struct WebhookFilter {
    cursor: Option<String>,
    #[serde(default)]
    q: String,
}

/// `GET /ui/webhooks[?q=][&cursor=]`: 100 webhooks a page, searched by name or endpoint.
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    PageParams(WebhookFilter { cursor, q }): PageParams<WebhookFilter>,
) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let query = SearchQuery { limit: Some(PER_PAGE), cursor, q: Some(q.clone()) };
    let page = app.webhooks(&admin, query).await?;
    let mut outcomes = app.webhook_outcomes(&admin).await?;
    let events = event_subscriptions(&page.data);
    let webhooks = page.data.iter().map(|w| WebhookRow::new(w, outcomes.remove(&w.id).unwrap_or_default())).collect();
    let next_page = page.next_cursor.map(|cursor| {
        form_urlencoded::Serializer::new(String::new()).append_pair("q", &q).append_pair("cursor", &cursor).finish()
    });
    Ok(render(&ListPage { chrome: viewer.chrome("Webhooks"), webhooks, q, next_page, events }))
}

/// The values of the webhook form's inputs, as typed.
pub struct WebhookForm {
    pub name: String,
    pub description: String,
    pub endpoint: String,
    pub http_method: String,
    pub request_format: String,
    pub status: String,
    pub subscriptions: String,
    pub auth_type: String,
    /// The saved authentication, as the form was first shown: what "left blank, the saved one
    /// stays" compares with, kept across a refused save.
    pub auth_was: String,
    pub auth_username: String,
    pub auth_username_was: String,
    pub auth_header: String,
    pub auth_header_was: String,
    pub custom_headers: String,
    pub max_retries: String,
    pub ordering: String,
    pub rate_limit_per_minute: String,
    pub template_mode: String,
    /// The API's 422, shown at the input it names.
    pub error: Option<Invalid>,
    /// What a save of it warns about, shown at the input it names.
    pub warnings: Vec<Invalid>,
    /// The version the form was opened at.
    pub version: String,
}

impl Default for WebhookForm {
    fn default() -> Self {
        Self {
            name: String::new(),
            description: String::new(),
            endpoint: String::new(),
            http_method: "POST".into(),
            request_format: "json".into(),
            status: "active".into(),
            subscriptions: "conditional_ticket_events".into(),
            auth_type: "none".into(),
            auth_was: "none".into(),
            auth_username: String::new(),
            auth_username_was: String::new(),
            auth_header: String::new(),
            auth_header_was: String::new(),
            custom_headers: String::new(),
            max_retries: "3".into(),
            ordering: "none".into(),
            rate_limit_per_minute: String::new(),
            template_mode: "lax".into(),
            error: None,
            warnings: Vec::new(),
            version: String::new(),
        }
    }
}

impl WebhookForm {
    fn from_view(w: &WebhookView) -> Self {
        let auth = serde_json::to_value(&w.authentication).unwrap_or_default();
        let text = |key: &str| auth.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        Self {
            name: w.name.clone(),
            description: w.description.clone(),
            endpoint: w.endpoint.clone(),
            http_method: api_name(&w.http_method),
            request_format: api_name(&w.request_format),
            status: api_name(&w.status),
            subscriptions: w.subscriptions.join("\n"),
            auth_type: text("type"),
            auth_was: text("type"),
            auth_username: text("username"),
            auth_username_was: text("username"),
            auth_header: text("header"),
            auth_header_was: text("header"),
            custom_headers: to_header_lines(&w.custom_headers),
            max_retries: w.max_retries.to_string(),
            ordering: api_name(&w.ordering),
            rate_limit_per_minute: w.rate_limit_per_minute.map(|n| n.to_string()).unwrap_or_default(),
            template_mode: w.template_mode.as_str().to_owned(),
            error: None,
            warnings: Vec::new(),
            version: version_of(w),
        }
    }

    /// The form as posted, to show again with its error.
    fn from_fields(fields: &Fields, error: Option<Invalid>) -> Self {
        let text = |name: &str| fields.get(name).unwrap_or_default().to_owned();
        Self {
            name: text("name"),
            description: text("description"),
            endpoint: text("endpoint"),
            http_method: text("http_method"),
            request_format: text("request_format"),
            status: text("status"),
            subscriptions: text("subscriptions"),
            auth_type: text("authentication.type"),
            auth_was: text("authentication.was"),
            auth_username: text("authentication.username"),
            auth_username_was: text("authentication.username_was"),
            auth_header: text("authentication.header"),
            auth_header_was: text("authentication.header_was"),
            custom_headers: text("custom_headers"),
            max_retries: text("max_retries"),
            ordering: text("ordering"),
            rate_limit_per_minute: text("rate_limit_per_minute"),
            template_mode: text("template_mode"),
            error,
            warnings: Vec::new(),
            version: text("version"),
        }
    }

    /// The error's message when it is about input `name` (or something inside it).
    pub fn error_for(&self, name: &str) -> Option<&str> {
        error_at(self.error.as_ref(), name)
    }

    /// The warnings about input `name` (or something inside it).
    pub fn warnings_at(&self, name: &str) -> Vec<&str> {
        self.warnings.iter().filter_map(|w| error_at(Some(w), name)).collect()
    }

    /// An error no input of the form shows (those `webhook_form.html` shows at an input).
    pub fn general_error(&self) -> Option<String> {
        const SHOWN_AT: [&str; 15] = [
            "name",
            "description",
            "endpoint",
            "http_method",
            "request_format",
            "subscriptions",
            "authentication.username",
            "authentication.password",
            "authentication.token",
            "authentication.header",
            "authentication.value",
            "custom_headers",
            "max_retries",
            "rate_limit_per_minute",
            "template_mode",
        ];
        error_elsewhere(self.error.as_ref(), &SHOWN_AT)
    }

    pub fn selected(&self, value: &str, option: &str) -> bool {
        value == option
    }

    /// The template modes to choose from, with what each means.
    pub fn template_modes(&self) -> &'static [(&'static str, &'static str)] {
        TEMPLATE_MODES
    }
}

/// The JSON body the API would get for this form. When editing, secrets left blank keep the
/// webhook's own.
fn webhook_body(fields: &Fields, editing: bool) -> Map<String, Value> {
    let mut body = Map::new();
    put_text(&mut body, "name", fields.get("name"));
    body.insert("description".into(), Value::String(fields.get("description").unwrap_or_default().trim().to_owned()));
    put_text(&mut body, "endpoint", fields.get("endpoint"));
    for key in ["http_method", "request_format", "status", "ordering", "template_mode"] {
        put_text(&mut body, key, fields.get(key));
    }
    let subscriptions: Vec<Value> = fields
        .get("subscriptions")
        .unwrap_or_default()
        .split(['\n', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_owned()))
        .collect();
    if !subscriptions.is_empty() {
        body.insert("subscriptions".into(), Value::Array(subscriptions));
    }
    if let Some(authentication) = authentication(fields, editing) {
        body.insert("authentication".into(), authentication);
    }
    body.insert("custom_headers".into(), Value::Object(header_lines(fields.get("custom_headers").unwrap_or_default())));
    put_number(&mut body, "max_retries", fields.get("max_retries"));
    match fields.text("rate_limit_per_minute") {
        Some(_) => put_number(&mut body, "rate_limit_per_minute", fields.get("rate_limit_per_minute")),
        None if editing => {
            body.insert("rate_limit_per_minute".into(), Value::Null);
        }
        None => {}
    }
    body
}

/// The form's authentication, or none to keep the webhook's (an edit that typed no secret and
/// kept the type).
fn authentication(fields: &Fields, editing: bool) -> Option<Value> {
    let kind = fields.text("authentication.type").unwrap_or("none");
    let field = |name: &str| fields.get(&format!("authentication.{name}")).unwrap_or_default().to_owned();
    let secret = match kind {
        "basic" => field("password"),
        "bearer" => field("token"),
        "api_key" => field("value"),
        _ => String::new(),
    };
    // Kept only when nothing of it changed: a new type, user name or header needs the secret
    // typed again (the API then names the empty secret).
    let unchanged = fields.get("authentication.was") == Some(kind)
        && field("username") == field("username_was")
        && field("header") == field("header_was");
    if editing && kind != "none" && secret.is_empty() && unchanged {
        return None;
    }
    Some(match kind {
        "basic" => json!({"type": "basic", "username": field("username"), "password": secret}),
        "bearer" => json!({"type": "bearer", "token": secret}),
        "api_key" => json!({"type": "api_key", "header": field("header"), "value": secret}),
        other => json!({"type": other}),
    })
}

#[derive(Template)]
#[template(path = "ui/webhook_form.html")]
struct FormPage {
    chrome: Chrome,
    /// The webhook being edited; none for a new one.
    webhook: Option<WebhookView>,
    form: WebhookForm,
    /// A signing secret just revealed or rotated.
    secret: Option<String>,
    test: Option<Tested>,
    test_error: Option<String>,
    test_unknown: Vec<String>,
    conflict: Option<Conflict>,
    /// The latest tickets, to send the test with (by subject, not by id).
    tickets: Vec<(hookdesk_core::id::TicketId, String)>,
}

impl FormPage {
    fn new(chrome: Chrome, webhook: Option<WebhookView>, form: WebhookForm) -> Self {
        Self {
            chrome,
            webhook,
            form,
            secret: None,
            test: None,
            test_error: None,
            test_unknown: vec![],
            conflict: None,
            tickets: vec![],
        }
    }
}

/// `GET /ui/webhooks/new`.
pub async fn new_form(viewer: Viewer) -> Result<Response, UiError> {
    viewer.admin()?;
    Ok(render(&FormPage::new(viewer.chrome("Webhooks"), None, WebhookForm::default())))
}

/// `POST /ui/webhooks/new`: created, or the form again with the error at its input.
pub async fn create(State(app): State<App>, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let saved = match from_json::<CreateWebhookBody>(Value::Object(webhook_body(&form.fields, false))) {
        Ok(body) => app.create_webhook(&admin, body).await,
        Err(invalid) => Err(AppError::Invalid(invalid)),
    };
    match saved {
        Ok(saved) => Ok(saved_message("Created", &saved.item.name, saved.warnings.len())
            .redirect(&format!("/ui/webhooks/{}", saved.item.id))),
        Err(AppError::Invalid(invalid)) => {
            let page = FormPage::new(
                form.viewer.chrome("Webhooks"),
                None,
                WebhookForm::from_fields(&form.fields, Some(invalid)),
            );
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// `GET /ui/webhooks/{id}`: the form, the secret and the test panel.
pub async fn show(State(app): State<App>, viewer: Viewer, UiPath(id): UiPath<WebhookId>) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let webhook = app.webhook(&admin, &id).await?;
    let mut form = WebhookForm::from_view(&webhook);
    form.warnings = app.warnings(&viewer.agent(), Editable::Webhook(&id)).await?;
    let mut page = FormPage::new(viewer.chrome("Webhooks"), Some(webhook), form);
    page.tickets = app.recent_tickets(&viewer.agent()).await?;
    Ok(render(&page))
}

/// `POST /ui/webhooks/{id}`: saved, or the form again with the error at its input, or with
/// what changed meanwhile when someone else saved first.
pub async fn update(
    State(app): State<App>,
    UiPath(id): UiPath<WebhookId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let body = webhook_body(&form.fields, true);
    match app.expect_version(&form.viewer.agent(), Editable::Webhook(&id), form.fields.text("version")).await {
        Err(AppError::VersionConflict(now)) => {
            let webhook = app.webhook(&admin, &id).await?;
            let saved = serde_json::to_value(&webhook).unwrap_or_default();
            let mut values = WebhookForm::from_fields(&form.fields, None);
            values.version = now;
            let mut page = FormPage::new(form.viewer.chrome("Webhooks"), Some(webhook), values);
            page.conflict = Some(Conflict::between("webhook", &saved, &body, format!("/ui/webhooks/{id}")));
            return Ok((axum::http::StatusCode::PRECONDITION_FAILED, render(&page)).into_response());
        }
        other => other?,
    }
    let saved = match from_json::<PatchWebhookBody>(Value::Object(body)) {
        Ok(body) => app.update_webhook(&admin, &id, body).await,
        Err(invalid) => Err(AppError::Invalid(invalid)),
    };
    match saved {
        Ok(saved) => {
            Ok(saved_message("Saved", &saved.item.name, saved.warnings.len()).redirect(&format!("/ui/webhooks/{id}")))
        }
        Err(AppError::Invalid(invalid)) => {
            let webhook = app.webhook(&admin, &id).await?;
            let chrome = form.viewer.chrome("Webhooks");
            let page = FormPage::new(chrome, Some(webhook), WebhookForm::from_fields(&form.fields, Some(invalid)));
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// "Saved", and how many warnings the form now shows beside their inputs.
fn saved_message(verb: &str, name: &str, warnings: usize) -> Flash {
    match warnings {
        0 => Flash::done(format!("{verb} “{name}”.")),
        n => Flash::warning(format!("{verb} “{name}”, with {n} warning{}: see below.", if n == 1 { "" } else { "s" })),
    }
}

/// `GET /ui/webhooks/{id}/delete`: what deleting it means, or the rules that still notify it.
pub async fn confirm_delete(
    State(app): State<App>,
    viewer: Viewer,
    UiPath(id): UiPath<WebhookId>,
) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let webhook = app.webhook(&admin, &id).await?;
    let blockers = app
        .rules_notifying(&admin, &id)
        .await?
        .into_iter()
        .map(|(set, rule_id, title)| (format!("{} “{title}”", set.one()), format!("/ui/{}/{rule_id}", set.name())))
        .collect();
    Ok(ConfirmDelete {
        chrome: viewer.chrome("Webhooks"),
        what: "webhook",
        name: webhook.name.clone(),
        consequence: "Its pending requests are cancelled and nothing more is sent to it. Its log stays, under its id."
            .into(),
        action: format!("/ui/webhooks/{id}/delete"),
        back: format!("/ui/webhooks/{id}"),
        version: Some(version_of(&webhook)),
        blockers,
    }
    .page())
}

/// `POST /ui/webhooks/{id}/delete`.
pub async fn delete(
    State(app): State<App>,
    UiPath(id): UiPath<WebhookId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let name = app.webhook(&admin, &id).await?.name;
    match app.expect_version(&form.viewer.agent(), Editable::Webhook(&id), form.fields.text("version")).await {
        Err(AppError::VersionConflict(_)) => {
            let message = format!("Not deleted: “{name}” changed since you asked. Look at it again first.");
            return Ok(Flash::warning(message).redirect(&format!("/ui/webhooks/{id}")));
        }
        other => other?,
    }
    match app.delete_webhook(&admin, &id).await {
        Ok(()) => Ok(Flash::done(format!("Deleted webhook “{name}”.")).redirect("/ui/webhooks")),
        // A rule started notifying it since the confirmation: the page names it now.
        Err(AppError::Conflict(_)) => Ok(Redirect::to(&format!("/ui/webhooks/{id}/delete")).into_response()),
        Err(other) => Err(other.into()),
    }
}

/// The test panel's request: each part blank keeps the webhook's own.
fn test_body(fields: &Fields) -> Result<TestBody, Invalid> {
    let mut body = Map::new();
    put_number(&mut body, "ticket_id", fields.get("ticket_id"));
    if let Some(payload) = fields.get("payload").filter(|p| !p.trim().is_empty()) {
        body.insert("payload".into(), Value::String(payload.to_owned()));
    }
    let headers = header_lines(fields.get("headers").unwrap_or_default());
    if !headers.is_empty() {
        body.insert("headers".into(), Value::Object(headers));
    }
    let params = header_lines(fields.get("params").unwrap_or_default());
    if !params.is_empty() {
        body.insert("params".into(), Value::Object(params));
    }
    from_json(Value::Object(body))
}

#[derive(Template)]
#[template(path = "ui/test_result.html")]
struct TestPanel {
    test: Option<Tested>,
    test_error: Option<String>,
    /// With `test_error`: the variables the templates asked for that do not exist.
    test_unknown: Vec<String>,
}

/// A test send as the panel shows it.
pub struct Tested {
    exchange: Exchange,
    unknown_variables: Vec<String>,
}

impl Tested {
    fn new(result: &TestResult) -> Self {
        let exchange =
            Exchange::new(&result.request, result.response.as_ref(), result.error.as_ref(), result.duration_ms);
        Self { exchange, unknown_variables: result.unknown_variables.clone() }
    }
}

/// `POST /ui/webhooks/{id}/test`: sends one request now. htmx swaps in the result; without
/// script, the webhook's page comes back with it.
pub async fn send_test(
    State(app): State<App>,
    UiPath(id): UiPath<WebhookId>,
    headers: HeaderMap,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let outcome = match test_body(&form.fields) {
        Ok(body) => app.test_webhook(&admin, &id, body).await,
        Err(invalid) => Err(AppError::Invalid(invalid)),
    };
    let (test, test_error, test_unknown) = match outcome {
        Ok(result) => (Some(Tested::new(&result)), None, vec![]),
        Err(AppError::Invalid(invalid)) => (None, Some(invalid.to_string()), vec![]),
        Err(AppError::Unprocessable { message, unknown_variables, .. }) => (None, Some(message), unknown_variables),
        Err(other) => return Err(other.into()),
    };
    if headers.contains_key("hx-request") {
        return Ok(render(&TestPanel { test, test_error, test_unknown }));
    }
    let webhook = app.webhook(&admin, &id).await?;
    let form_values = WebhookForm::from_view(&webhook);
    let mut page = FormPage::new(form.viewer.chrome("Webhooks"), Some(webhook), form_values);
    page.test = test;
    page.test_error = test_error;
    page.test_unknown = test_unknown;
    Ok(render(&page))
}

/// `POST /ui/webhooks/{id}/secret`: the page again, showing the signing secret.
pub async fn reveal_secret(
    State(app): State<App>,
    UiPath(id): UiPath<WebhookId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let secret = app.signing_secret(&admin, &id).await?;
    with_secret(&app, form, &id, secret.expose()).await
}

/// `POST /ui/webhooks/{id}/secret/rotate`: a new signing secret, shown once here.
pub async fn rotate_secret(
    State(app): State<App>,
    UiPath(id): UiPath<WebhookId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let secret = app.rotate_signing_secret(&admin, &id).await?;
    with_secret(&app, form, &id, secret.expose()).await
}

async fn with_secret(app: &App, form: Submitted, id: &WebhookId, secret: String) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let webhook = app.webhook(&admin, id).await?;
    let values = WebhookForm::from_view(&webhook);
    let mut page = FormPage::new(form.viewer.chrome("Webhooks"), Some(webhook), values);
    page.secret = Some(secret);
    Ok(render(&page))
}
