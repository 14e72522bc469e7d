//! The log: invocations with the API's filters kept in the URL, cursor pages, one
//! invocation with every attempt, and replay.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use hookdesk_core::id::{InvocationId, RuleId, WebhookId};
use hookdesk_core::invocation::Invocation;
use serde::Deserialize;

use super::exchange::Exchange;
use super::forms::{ListQuery, Listed};
use super::path::UiPath;
use super::{Chrome, Moment, Submitted, UiError, Viewer, api_name, render};
use crate::app::{App, AppError, InvocationQuery, LogNames, ReplayBody, ReplayReport};

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

    pub fn webhook_selected(&self, id: &str) -> bool {
        self.webhook_id.trim() == id
    }

    /// The range as the date pickers show it.
    pub fn since_picked(&self) -> String {
        super::forms::for_picker(&self.since)
    }

    pub fn until_picked(&self) -> String {
        super::forms::for_picker(&self.until)
    }
}

/// A line of the log.
struct Row {
    id: String,
    status: String,
    webhook_id: String,
    /// None when the webhook was deleted since.
    webhook_name: Option<String>,
    ticket_id: Option<String>,
    source: Source,
    created_at: Moment,
    attempts: usize,
    last_result: String,
}

impl Row {
    fn new(invocation: &Invocation, names: &LogNames) -> Self {
        let last_result = match (invocation.attempts.last(), &invocation.error) {
            (_, Some(error)) => error.code.clone(),
            (Some(attempt), None) => attempt.response.as_ref().map(|r| r.status.to_string()).unwrap_or_default(),
            (None, None) => String::new(),
        };
        Self {
            id: invocation.id.to_string(),
            status: api_name(&invocation.status),
            webhook_id: invocation.webhook_id.to_string(),
            webhook_name: names.webhooks.get(&invocation.webhook_id).cloned(),
            ticket_id: invocation.ticket_id.map(|id| id.to_string()),
            source: Source::of(invocation, names),
            created_at: Moment(invocation.created_at),
            attempts: invocation.attempts.len(),
            last_result,
        }
    }
}

/// What queued an invocation.
#[derive(Clone, Copy)]
enum SourceKind {
    Trigger,
    Automation,
    Event,
    Replay,
    Unknown,
}

impl SourceKind {
    /// The words before the source's name.
    fn words(self) -> &'static str {
        match self {
            SourceKind::Trigger => "trigger",
            SourceKind::Automation => "automation",
            SourceKind::Event => "event",
            SourceKind::Replay => "replay of",
            SourceKind::Unknown => "",
        }
    }
}

/// What queued an invocation: "trigger" and its title, linked while it exists.
struct Source {
    kind: SourceKind,
    name: String,
    href: Option<String>,
}

impl Source {
    fn of(invocation: &Invocation, names: &LogNames) -> Self {
        let rule = |kind, id: RuleId, titles: &HashMap<RuleId, String>, pages: &str| match titles.get(&id) {
            Some(title) => Source { kind, name: title.clone(), href: Some(format!("/ui/{pages}/{id}")) },
            None => Source { kind, name: format!("{id} (deleted)"), href: None },
        };
        match (invocation.trigger_id, invocation.automation_id, &invocation.event_type, &invocation.replay_of) {
            (_, _, _, Some(original)) => Source {
                kind: SourceKind::Replay,
                name: original.to_string(),
                href: Some(format!("/ui/log/{original}")),
            },
            (Some(trigger), _, _, _) => rule(SourceKind::Trigger, trigger, &names.triggers, "triggers"),
            (_, Some(automation), _, _) => rule(SourceKind::Automation, automation, &names.automations, "automations"),
            (_, _, Some(event), _) => Source { kind: SourceKind::Event, name: event.clone(), href: None },
            _ => Source { kind: SourceKind::Unknown, name: String::new(), href: None },
        }
    }
}

/// How the log's filter chooses a webhook: from a list of names, or, when there are more
/// webhooks than a list holds, by typing an id.
enum WebhookChooser {
    /// (id, name) in name order.
    List(Vec<(String, String)>),
    Typed,
}

/// At most this many webhooks are listed in the filter.
const LISTED_WEBHOOKS: u32 = 1000;

#[derive(Template)]
#[template(path = "ui/log.html")]
struct LogPage {
    chrome: Chrome,
    filters: Filters,
    webhooks: WebhookChooser,
    /// The filter names a webhook that exists: its failures can be replayed.
    replayable: bool,
    rows: Vec<Row>,
    next_page: Option<String>,
    error: Option<String>,
    /// This page's query string, for "Replay selected" to come back to.
    back: String,
}

/// `GET /ui/log?status=&webhook_id=&ticket_id=&since=&until=&q=&cursor=`.
pub async fn list(State(app): State<App>, viewer: Viewer, RawQuery(query): RawQuery) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let back = query.clone().unwrap_or_default();
    let query = ListQuery::new(query.as_deref());
    let filters: Filters = query.parse().unwrap_or_default();
    let Listed { rows, next_page, error } = query
        .list(async |q: InvocationQuery| {
            let page = app.invocations(&admin, q).await?;
            let names = app.log_names(&admin, &page.data).await?;
            Ok(page.map(|invocation| Row::new(&invocation, &names)))
        })
        .await?;
    let chosen = WebhookId(filters.webhook_id.trim().to_owned());
    let replayable = !chosen.0.is_empty() && !app.webhook_names(&admin, &[&chosen]).await?.is_empty();
    let (mut listed, more) = app.webhook_choices(&admin, LISTED_WEBHOOKS).await?;
    let webhooks = if more {
        WebhookChooser::Typed
    } else {
        // A deleted webhook's log can still be filtered on: its id stays a choice.
        if !chosen.0.is_empty() && !replayable {
            listed.push((chosen.clone(), format!("{chosen} (deleted)")));
        }
        listed.sort_by_key(|(_, name)| name.to_lowercase());
        WebhookChooser::List(listed.into_iter().map(|(id, name)| (id.to_string(), name)).collect())
    };
    Ok(render(&LogPage { chrome: viewer.chrome("Log"), filters, webhooks, replayable, rows, next_page, error, back }))
}

#[derive(Template)]
#[template(path = "ui/invocation.html")]
struct InvocationPage {
    chrome: Chrome,
    row: Row,
    next_attempt_at: Option<Moment>,
    /// Not delivered or failed yet: the page refreshes itself.
    waiting: bool,
    completed_at: Option<Moment>,
    /// Each attempt: its number, when it started, and the exchange.
    attempts: Vec<(u32, Moment, Exchange)>,
    /// Why it failed before any attempt was made.
    error: Option<(String, String)>,
}

/// `GET /ui/log/{id}`: an invocation with every attempt.
pub async fn show(
    State(app): State<App>,
    viewer: Viewer,
    UiPath(id): UiPath<InvocationId>,
) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let invocation = app.invocation(&admin, &id).await?;
    let attempts = invocation
        .attempts
        .iter()
        .map(|a| {
            let mut exchange = Exchange::new(&a.request, a.response.as_ref(), a.error.as_ref(), a.duration_ms);
            exchange.anchor = format!("attempt-{}", a.number);
            (a.number, Moment(a.started_at), exchange)
        })
        .collect();
    let page = InvocationPage {
        chrome: viewer.chrome("Log"),
        row: Row::new(&invocation, &app.log_names(&admin, std::slice::from_ref(&invocation)).await?),
        // While an attempt is in flight `next_attempt_at` is its claim's lease, not a retry.
        next_attempt_at: invocation.next_attempt_at.filter(|_| api_name(&invocation.status) == "retrying").map(Moment),
        waiting: matches!(api_name(&invocation.status).as_str(), "pending" | "retrying"),
        completed_at: invocation.completed_at.map(Moment),
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
    UiPath(id): UiPath<InvocationId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let replay = app.replay_invocation(&admin, &id).await?;
    Ok(Redirect::to(&format!("/ui/log/{}", replay.id)).into_response())
}

/// `POST /ui/log/replay-selected`: a replay of each invocation checked (`ids`), then back to
/// the log page it was sent from (`back`, its query string) with how many were queued.
pub async fn replay_selected(State(app): State<App>, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let back = form.fields.get("back").unwrap_or_default();
    // Only a query string of the log: after "/ui/log?" it cannot lead off the page.
    let back = if back.is_empty() || !back.bytes().all(|b| b.is_ascii_graphic() && b != b'#') {
        "/ui/log".to_owned()
    } else {
        format!("/ui/log?{back}")
    };
    let ids = form.fields.all("ids");
    if ids.is_empty() {
        return Ok(super::Flash::warning("Nothing queued: check the invocations to replay first.").redirect(&back));
    }
    for id in &ids {
        let id: InvocationId = id.parse().map_err(|_| {
            UiError::Refused(crate::http::error::ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_id",
                "One of the invocations chosen is not an invocation's id: go back to the log and choose again.",
            ))
        })?;
        app.replay_invocation(&admin, &id).await?;
    }
    let count = ids.len();
    let noun = if count == 1 { "invocation" } else { "invocations" };
    Ok(super::Flash::done(format!("Queued {count} {noun}.")).redirect(&back))
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
    webhook_name: String,
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
    let webhook_name = app.webhook(&admin, &scope.webhook()).await?.name;
    let (count, until) = app.count_replayable(&admin, &scope.webhook(), &scope.body()).await?;
    let page = ReplayPage {
        chrome: viewer.chrome("Log"),
        webhook_name,
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
    // Named before anything is queued: a webhook deleted meanwhile is a 404 with nothing done.
    let webhook_name = app.webhook(&admin, &scope.webhook()).await?.name;
    let report = app.replay_failed(&admin, &scope.webhook(), scope.body()).await?;
    let page = ReplayPage {
        chrome: form.viewer.chrome("Log"),
        webhook_name,
        webhook_id: scope.webhook_id,
        since: scope.since,
        until: scope.until,
        count: None,
        report: Some(report),
    };
    Ok(render(&page))
}
