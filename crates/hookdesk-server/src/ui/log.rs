//! The log: invocations with the API's filters kept in the URL, cursor pages, one
//! invocation with every attempt, and replay.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use hookdesk_core::id::{InvocationId, WebhookId};
use hookdesk_core::invocation::Invocation;
use serde::Deserialize;

use super::exchange::Exchange;
use super::forms::{ListQuery, Listed};
use super::{Chrome, Submitted, UiError, Viewer, api_name, render};
use crate::app::{App, AppError, InvocationQuery, ReplayBody, ReplayReport};

/// The filters as typed, to show them again in the form (the API's names).
#[derive(Debug, Default, Deserialize)]
struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    webhook_id: String,
    #[serde(default)]
    ticket_id: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    q: String,
}

impl Filters {
    pub fn selected(&self, option: &str) -> bool {
        self.status == option
    }
}

/// A line of the log.
struct Row {
    id: String,
    status: String,
    webhook_id: String,
    ticket_id: Option<String>,
    source: String,
    created_at: String,
    attempts: usize,
    last_result: String,
}

impl Row {
    fn new(invocation: &Invocation) -> Self {
        let last_result = match (invocation.attempts.last(), &invocation.error) {
            (_, Some(error)) => error.code.clone(),
            (Some(attempt), None) => attempt.response.as_ref().map(|r| r.status.to_string()).unwrap_or_default(),
            (None, None) => String::new(),
        };
        Self {
            id: invocation.id.to_string(),
            status: api_name(&invocation.status),
            webhook_id: invocation.webhook_id.to_string(),
            ticket_id: invocation.ticket_id.map(|id| id.to_string()),
            source: source(invocation),
            created_at: invocation.created_at.to_string(),
            attempts: invocation.attempts.len(),
            last_result,
        }
    }
}

/// What queued an invocation, in words.
fn source(invocation: &Invocation) -> String {
    match (invocation.trigger_id, invocation.automation_id, &invocation.event_type, &invocation.replay_of) {
        (_, _, _, Some(original)) => format!("replay of {original}"),
        (Some(trigger), _, _, _) => format!("trigger {trigger}"),
        (_, Some(automation), _, _) => format!("automation {automation}"),
        (_, _, Some(event), _) => format!("event {event}"),
        _ => String::new(),
    }
}

#[derive(Template)]
#[template(path = "ui/log.html")]
struct LogPage {
    chrome: Chrome,
    filters: Filters,
    rows: Vec<Row>,
    next_page: Option<String>,
    error: Option<String>,
}

/// `GET /ui/log?status=&webhook_id=&ticket_id=&since=&until=&q=&cursor=`.
pub async fn list(State(app): State<App>, viewer: Viewer, RawQuery(query): RawQuery) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let query = ListQuery::new(query.as_deref());
    let filters: Filters = query.parse().unwrap_or_default();
    let Listed { rows, next_page, error } =
        query.list(async |q: InvocationQuery| app.invocations(&admin, q).await, Row::new).await?;
    Ok(render(&LogPage { chrome: viewer.chrome("Log"), filters, rows, next_page, error }))
}

#[derive(Template)]
#[template(path = "ui/invocation.html")]
struct InvocationPage {
    chrome: Chrome,
    row: Row,
    next_attempt_at: Option<String>,
    completed_at: Option<String>,
    /// Each attempt: its number, when it started, and the exchange.
    attempts: Vec<(u32, String, Exchange)>,
    /// Why it failed before any attempt was made.
    error: Option<(String, String)>,
}

/// `GET /ui/log/{id}`: an invocation with every attempt.
pub async fn show(State(app): State<App>, viewer: Viewer, Path(id): Path<InvocationId>) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let invocation = app.invocation(&admin, &id).await?;
    let attempts = invocation
        .attempts
        .iter()
        .map(|a| {
            let exchange = Exchange::new(&a.request, a.response.as_ref(), a.error.as_ref(), a.duration_ms);
            (a.number, a.started_at.to_string(), exchange)
        })
        .collect();
    let page = InvocationPage {
        chrome: viewer.chrome("Log"),
        row: Row::new(&invocation),
        next_attempt_at: invocation.next_attempt_at.map(|t| t.to_string()),
        completed_at: invocation.completed_at.map(|t| t.to_string()),
        error: invocation
            .error
            .as_ref()
            .filter(|_| invocation.attempts.is_empty())
            .map(|e| (e.code.clone(), e.message.clone())),
        attempts,
    };
    Ok(render(&page))
}

/// `POST /ui/log/{id}/replay`: the same request queued again; shows the new invocation.
pub async fn replay(
    State(app): State<App>,
    Path(id): Path<InvocationId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let replay = app.replay_invocation(&admin, &id).await?;
    Ok(Redirect::to(&format!("/ui/log/{}", replay.id)).into_response())
}

/// What "Replay failed" covers: a webhook's failed invocations in a time range (the API's
/// replay; the log's other filters do not narrow it).
#[derive(Debug, Default, Deserialize)]
struct ReplayScope {
    #[serde(default)]
    webhook_id: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

impl ReplayScope {
    fn body(&self) -> ReplayBody {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        ReplayBody { since: text(&self.since), until: text(&self.until), limit: None }
    }

    fn webhook(&self) -> WebhookId {
        WebhookId(self.webhook_id.trim().to_owned())
    }
}

#[derive(Template)]
#[template(path = "ui/replay_failed.html")]
struct ReplayPage {
    chrome: Chrome,
    webhook_id: String,
    since: String,
    until: String,
    /// How many would be queued again; none once done.
    count: Option<u64>,
    report: Option<ReplayReport>,
}

/// `GET /ui/log/replay-failed?webhook_id=&since=&until=`: how many failed invocations a
/// replay would queue, to confirm.
pub async fn confirm_replay_failed(
    State(app): State<App>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let scope: ReplayScope =
        ListQuery::new(query.as_deref()).parse().map_err(|e| UiError::App(AppError::BadRequest(e.to_string())))?;
    let (count, until) = app.count_replayable(&admin, &scope.webhook(), &scope.body()).await?;
    let page = ReplayPage {
        chrome: viewer.chrome("Log"),
        webhook_id: scope.webhook_id,
        since: scope.since,
        // The confirmed count is of this range: the replay uses the same end.
        until: until.to_string(),
        count: Some(count),
        report: None,
    };
    Ok(render(&page))
}

/// `POST /ui/log/replay-failed`: queues them again, each once.
pub async fn replay_failed(State(app): State<App>, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let text = |name: &str| form.fields.get(name).unwrap_or_default().to_owned();
    let scope = ReplayScope { webhook_id: text("webhook_id"), since: text("since"), until: text("until") };
    let report = app.replay_failed(&admin, &scope.webhook(), scope.body()).await?;
    let page = ReplayPage {
        chrome: form.viewer.chrome("Log"),
        webhook_id: scope.webhook_id,
        since: scope.since,
        until: scope.until,
        count: None,
        report: Some(report),
    };
    Ok(render(&page))
}
