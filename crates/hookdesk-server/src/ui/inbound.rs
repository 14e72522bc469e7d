//! Inbound webhooks: the list, the URL (copy, rotate), the call log refreshing by itself, and
//! the one-click request bin (an inbound webhook with no actions only records its calls).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use hookdesk_core::id::InboundWebhookId;
use hookdesk_core::inbound::InboundCall;

use super::exchange::header_block;
use super::{Chrome, Submitted, UiError, Viewer, render};
use crate::app::{App, CallQuery, InboundWebhookView};

/// A line of the list.
struct Row {
    id: String,
    name: String,
    enabled: bool,
    /// Actions run per call; none makes a request bin.
    actions: usize,
    url: String,
}

impl Row {
    fn new(view: &InboundWebhookView) -> Self {
        Self {
            id: view.id.to_string(),
            name: view.name.clone(),
            enabled: view.enabled,
            actions: view.actions.as_array().map_or(0, Vec::len),
            url: view.url.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/inbound.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
}

/// `GET /ui/inbound`.
pub async fn list(State(app): State<App>, viewer: Viewer) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let rows = app.inbound_webhooks(&admin).await?.iter().map(Row::new).collect();
    Ok(render(&ListPage { chrome: viewer.chrome("Inbound"), rows }))
}

/// `POST /ui/inbound/bins`: a new request bin, named for when it was made.
pub async fn new_bin(State(app): State<App>, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let bin = app.create_request_bin(&admin).await?;
    Ok(Redirect::to(&format!("/ui/inbound/{}", bin.id)).into_response())
}

/// A call as the log shows it.
struct CallRow {
    id: String,
    at: String,
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
}

impl CallRow {
    fn new(call: &InboundCall) -> Self {
        let query = if call.query.is_empty() { String::new() } else { format!("?{}", call.query) };
        Self {
            id: call.id.to_string(),
            at: call.created_at.to_string(),
            request_line: format!("{} {}{query}", call.method, call.path),
            client_ip: call.client_ip.clone().unwrap_or_default(),
            status: call.status,
            headers: header_block(&call.headers),
            body: call.body.clone(),
            body_bytes: call.body_bytes,
            response_body: call.response_body.clone(),
            actions: serde_json::to_string_pretty(&call.actions).unwrap_or_default(),
            error: call.error.as_ref().map(|e| serde_json::to_string(e).unwrap_or_default()),
            replay_of: call.replay_of.as_ref().map(ToString::to_string),
            duration_ms: call.duration_ms,
        }
    }
}

#[derive(Template)]
#[template(path = "ui/inbound_webhook.html")]
struct ShowPage {
    chrome: Chrome,
    row: Row,
    details: String,
    calls: Vec<CallRow>,
}

#[derive(Template)]
#[template(path = "ui/inbound_calls.html")]
struct CallsPartial {
    row: Row,
    calls: Vec<CallRow>,
}

async fn recent_calls(app: &App, viewer: &Viewer, id: &InboundWebhookId) -> Result<Vec<CallRow>, UiError> {
    let admin = viewer.admin()?;
    let query = CallQuery::default();
    Ok(app.inbound_calls(&admin, id, query).await?.data.iter().map(CallRow::new).collect())
}

/// `GET /ui/inbound/{id}`: the URL, the configuration and the latest calls.
pub async fn show(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<InboundWebhookId>,
) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let view = app.inbound_webhook(&admin, &id).await?;
    let details = serde_json::to_string_pretty(&serde_json::json!({
        "verify": view.verify,
        "idempotency_header": view.idempotency_header,
        "actions": view.actions,
        "response": view.response,
        "rate_limit_per_minute": view.rate_limit_per_minute,
    }))
    .unwrap_or_default();
    let calls = recent_calls(&app, &viewer, &id).await?;
    Ok(render(&ShowPage { chrome: viewer.chrome("Inbound"), row: Row::new(&view), details, calls }))
}

/// `GET /ui/inbound/{id}/calls`: the latest calls, for the page to refresh itself with.
pub async fn calls(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<InboundWebhookId>,
) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let view = app.inbound_webhook(&admin, &id).await?;
    let calls = recent_calls(&app, &viewer, &id).await?;
    Ok(render(&CallsPartial { row: Row::new(&view), calls }))
}

/// `POST /ui/inbound/{id}/rotate`: a new URL; the old one stops answering.
pub async fn rotate(
    State(app): State<App>,
    Path(id): Path<InboundWebhookId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    app.rotate_inbound_webhook(&admin, &id).await?;
    Ok(Redirect::to(&format!("/ui/inbound/{id}")).into_response())
}
