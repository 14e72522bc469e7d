//! `/hooks/TOKEN[/ANY/PATH]`: other systems call an inbound webhook's secret URL with any
//! method, and hookdesk verifies the call, runs its ticket actions and answers as configured.
//! Every call to a known webhook is logged, except those refused by its rate limit.
//!
//! Their path carries the token: the access log names them by their route template only.

mod request;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use hookdesk_core::inbound::{ActionRun, CallError, InboundCall, InboundResponse, InboundWebhook, RenderedResponse};
use hookdesk_core::template::{RenderError, Rendering};
use hookdesk_core::text::{LOGGED_BODY_BYTES, cut};
use hookdesk_store::UpdateTx;
use tracing::{info, warn};

use crate::app::{App, Calls, KeyClaim};
use crate::http::MAX_BODY_BYTES;
use crate::http::error::ApiError;
use request::{CallRequest, ReadError};

pub fn router() -> axum::Router<App> {
    axum::Router::new()
        .route("/hooks/{token}", any(receive))
        .route("/hooks/{token}/", any(receive))
        .route("/hooks/{token}/{*path}", any(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// What a call got: the response, and what the log keeps of it.
struct Answer {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: String,
    actions: Vec<ActionRun>,
    error: Option<CallError>,
    replay_of: Option<String>,
}

impl Answer {
    /// The answer of an earlier call with the same idempotency key, sent again.
    fn replay(earlier: InboundCall) -> Self {
        let rendered = RenderedResponse { status: earlier.status, headers: vec![], body: earlier.response_body };
        Self {
            status: StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::ACCEPTED),
            headers: vec![
                ("content-type".into(), rendered.default_content_type().into()),
                ("idempotent-replayed".into(), "true".into()),
            ],
            body: rendered.body,
            actions: vec![],
            error: None,
            replay_of: Some(earlier.id),
        }
    }

    fn error(error: ApiError) -> Self {
        Self {
            status: error.status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_string(&error.body()).unwrap_or_default(),
            actions: vec![],
            error: Some(CallError { code: error.code.to_owned(), message: error.message }),
            replay_of: None,
        }
    }
}

async fn receive(State(app): State<App>, request: Request) -> Response {
    let started = Instant::now();
    let call_id = crate::app::ids::new_id("call");
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let forwarded = request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let client_ip = peer.map(|peer| request::client_ip(peer, forwarded, &app.config.trusted_proxies).to_string());
    let (token, path) = request::token_and_path(request.uri().path());
    let webhook = match app.inbound_webhook_for_token(&token).await {
        Ok(Some(webhook)) => webhook,
        // The body's size is checked first, as on every route; it is not read.
        Ok(None) if crate::http::layers::declared_too_large(request.headers()) => {
            return ApiError::payload_too_large().into_response();
        }
        Ok(None) => return ApiError::not_found("inbound webhook").into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    // Without a signature to check, a call counts before its body is read; with one, after,
    // against the limit its signature says it belongs to.
    if webhook.verify.is_none()
        && let Err(wait) = app.admit_inbound_call(&webhook, Calls::Verified)
    {
        return too_many_requests(wait);
    }
    let (call, answer, pending) = match CallRequest::read(request, path, client_ip).await {
        Ok(call) => {
            let verified = match &webhook.verify {
                Some(verify) => verify.check(|name| call.header(name), &call.body, app.clock.now()),
                None => Ok(()),
            };
            if webhook.verify.is_some() {
                let calls = if verified.is_ok() { Calls::Verified } else { Calls::Unverified };
                if let Err(wait) = app.admit_inbound_call(&webhook, calls) {
                    return too_many_requests(wait);
                }
            }
            let (answer, pending) = match verified {
                Ok(()) => answer(&app, &webhook, &call, &call_id).await,
                Err(reason) => {
                    (Answer::error(ApiError::new(StatusCode::UNAUTHORIZED, "signature_mismatch", reason)), None)
                }
            };
            (call, answer, pending)
        }
        Err(ReadError { call, error }) => {
            // Unread, it is unverified: it counts against that limit before it is logged.
            if webhook.verify.is_some()
                && let Err(wait) = app.admit_inbound_call(&webhook, Calls::Unverified)
            {
                return too_many_requests(wait);
            }
            (call, Answer::error(error), None)
        }
    };
    let entry = log_entry(&app, &webhook, &call_id, &call, &answer, started.elapsed());
    let answer = match app.commit_inbound_call(pending, &entry).await {
        Ok(()) => answer,
        Err(e) if entry.status >= 400 => {
            warn!(inbound_webhook.id = %webhook.id, error = %e, "the inbound call could not be logged");
            answer
        }
        // The actions and the log entry are one transaction: neither happened.
        Err(e) => {
            let answer = Answer::error(e.into());
            let entry = log_entry(&app, &webhook, &call_id, &call, &answer, started.elapsed());
            if let Err(e) = app.commit_inbound_call(None, &entry).await {
                warn!(inbound_webhook.id = %webhook.id, error = %e, "the inbound call could not be logged");
            }
            answer
        }
    };
    info!(inbound_webhook.id = %webhook.id, method = %call.method, status = answer.status.as_u16(), "inbound call");
    respond(answer)
}

/// Runs the actions of a verified call and renders the response. The actions' transaction
/// comes back open, for the call's log entry.
async fn answer(app: &App, webhook: &InboundWebhook, call: &CallRequest, call_id: &str) -> (Answer, Option<UpdateTx>) {
    if let Some(message) = &call.malformed {
        return (Answer::error(ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", message.clone())), None);
    }
    let key = call.idempotency_key(webhook);
    if let Some(key) = key {
        match app.store.inbound_call_by_key(&webhook.id, key).await {
            Ok(Some(earlier)) => return (Answer::replay(earlier), None),
            Ok(None) => {}
            Err(e) => return (Answer::error(e.into()), None),
        }
    }
    let context = call.template_context();
    let claim = key.map(|key| KeyClaim { key, call_id });
    // One budget for the whole call: its actions, the updates they make and the response.
    let mut rendering = Rendering::new();
    // The response renders once more inside the actions' transaction (it sees their ticket),
    // holding the database's writer: a caller whose request makes it too expensive is refused
    // first, before anything takes the writer.
    if !webhook.actions.is_empty()
        && let Err(invalid) = webhook.response.render(&context, &mut rendering)
        && invalid.code == RenderError::TOO_EXPENSIVE
    {
        return (Answer::error(invalid.into()), None);
    }
    let outcome = app.run_inbound_actions(webhook, &context, &mut rendering, claim).await;
    if let Some(error) = outcome.error {
        return (Answer { actions: outcome.runs, ..Answer::error(error.into()) }, None);
    }
    let context = match &outcome.ticket {
        Some(ticket) => context.with("ticket", &app.ticket_document(ticket)),
        None => context,
    };
    let (rendered, error) = match webhook.response.render(&context, &mut rendering) {
        Ok(rendered) => (rendered, None),
        // Over the budget whatever the actions did: answered as such, and (the actions'
        // transaction dropped with `outcome`) nothing is kept.
        Err(invalid) if invalid.code == RenderError::TOO_EXPENSIVE => {
            let mut runs = outcome.runs;
            for run in &mut runs {
                run.ticket_id = None;
                run.error = Some("rolled back: the response went over its render budget".into());
            }
            return (Answer { actions: runs, ..Answer::error(invalid.into()) }, None);
        }
        // The actions are done: answer that they were, and say in the log why the response
        // is the default one.
        Err(invalid) => {
            let rendered = InboundResponse::default().render(&context, &mut Rendering::new()).unwrap_or_default();
            (rendered, Some(CallError { code: "response_failed".into(), message: invalid.to_string() }))
        }
    };
    let mut headers = rendered.headers.clone();
    if !rendered.body.is_empty() && !headers.iter().any(|(name, _)| name == "content-type") {
        headers.push(("content-type".into(), rendered.default_content_type().into()));
    }
    let answer = Answer {
        status: StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::ACCEPTED),
        headers,
        body: rendered.body,
        actions: outcome.runs,
        error,
        replay_of: None,
    };
    (answer, outcome.pending)
}

fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("this inbound webhook is over its rate limit; retry in {seconds} s"),
    )
    .into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

fn respond(answer: Answer) -> Response {
    let no_body =
        matches!(answer.status, StatusCode::NO_CONTENT | StatusCode::RESET_CONTENT | StatusCode::NOT_MODIFIED);
    let mut response = Response::new(if no_body { Body::empty() } else { Body::from(answer.body) });
    *response.status_mut() = answer.status;
    for (name, value) in answer.headers {
        // The response template's header values were checked for control characters; a
        // value HTTP still cannot carry (non-ASCII) is left out.
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn log_entry(
    app: &App,
    webhook: &InboundWebhook,
    call_id: &str,
    call: &CallRequest,
    answer: &Answer,
    took: Duration,
) -> InboundCall {
    InboundCall {
        id: call_id.to_owned(),
        inbound_webhook_id: webhook.id.clone(),
        created_at: app.clock.now(),
        method: call.method.clone(),
        path: call.path.clone(),
        query: call.query.clone(),
        headers: call.logged_headers(),
        body: cut(&String::from_utf8_lossy(&call.body), LOGGED_BODY_BYTES).to_owned(),
        body_bytes: i64::try_from(call.body_bytes).unwrap_or(i64::MAX),
        client_ip: call.client_ip.clone(),
        status: answer.status.as_u16(),
        response_body: cut(&answer.body, LOGGED_BODY_BYTES).to_owned(),
        actions: answer.actions.clone(),
        error: answer.error.clone(),
        idempotency_key: call.idempotency_key(webhook).map(str::to_owned),
        replay_of: answer.replay_of.clone(),
        duration_ms: i64::try_from(took.as_millis()).unwrap_or(i64::MAX),
    }
}
