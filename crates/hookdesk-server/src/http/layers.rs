//! Middleware around every route, `/hooks` included: the access log and the requests'
//! metrics, and the answers to bodies that are too large or too slow.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::MAX_BODY_BYTES;
use super::error::ApiError;
use crate::app::App;

/// Put in a request's extensions by the server that times its body: expired once the body
/// did not arrive in time, and the request is then answered 408.
#[derive(Debug, Clone, Default)]
pub struct BodyDeadline(Arc<AtomicBool>);

impl BodyDeadline {
    pub fn expire(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn expired(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Whether the request declares a body over the limit.
pub fn declared_too_large(headers: &HeaderMap) -> bool {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    declared.is_some_and(|length| length > MAX_BODY_BYTES as u64)
}

/// No answer is read as another type than it says: a JSON error echoing a request is not a
/// page (`/ui` and `/hooks` set their own policies besides). No answer of the API is kept by
/// a cache: some carry secrets (a signing secret, a new token).
pub async fn no_sniffing(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Refuses a request to the API whose path or query parameters no route can read (see
/// `extract::unreadable_param`), before any handler sees them.
pub async fn readable_params(
    path_params: Result<axum::extract::RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    request: Request,
    next: Next,
) -> Response {
    match super::extract::unreadable_param(path_params.as_ref(), request.uri().query()) {
        Some(problem) => problem.api_error().into_response(),
        None => next.run(request).await,
    }
}

/// Refuses a declared body over the limit before reading any of it, and answers 408 when the
/// body ran out of time (whatever the handler made of the failed read).
pub async fn limit_bodies(request: Request, next: Next) -> Response {
    // `/hooks` refuses such a body itself, without reading it either, so that the call to a
    // known webhook is logged (and counted by its rate limit).
    let hooks = request.extensions().get::<MatchedPath>().is_some_and(|p| is_inbound_call(p.as_str()));
    let too_large = declared_too_large(request.headers());
    if too_large && !hooks {
        return closing(ApiError::payload_too_large());
    }
    let deadline = request.extensions().get::<BodyDeadline>().cloned();
    let mut response = next.run(request).await;
    if too_large && response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if deadline.is_some_and(|d| d.expired()) {
        return closing(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time",
        ));
    }
    response
}

/// The rest of the body is never read: the connection closes after this answer.
fn closing(error: ApiError) -> Response {
    let mut response = error.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    // Answered before the layers that set these: the same as every other answer.
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    response
}

/// One INFO line per request: method, route template, status, duration; and the request
/// counted in `/metrics` (an inbound webhook's call also as such). The template, not the
/// path, so that `/hooks/{token}` never shows a token; and never a header.
pub async fn observe(State(app): State<App>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    // HTTP lets a method be any token, however long: one of 400 KB would go whole into every
    // log line and an inbound call's log. No method is that long (WebDAV's longest is 17).
    let too_long = method.as_str().len() > MAX_METHOD_BYTES;
    let response = if too_long {
        let message = format!("the method is longer than {MAX_METHOD_BYTES} characters");
        closing(ApiError::new(StatusCode::NOT_IMPLEMENTED, "method_not_implemented", message))
    } else {
        next.run(request).await
    };
    let method = hookdesk_core::text::cut(method.as_str(), MAX_METHOD_BYTES);
    let duration_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    let status = response.status().as_u16();
    // A request no route matched is counted as `unmatched`: a scan of random paths must not
    // grow a label per path.
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    tracing::info!(target: "hookdesk::access", method = %method, route = %route, status, duration_ms, "request");
    app.metrics().http_answered(route, status);
    if is_inbound_call(route) {
        app.metrics().inbound_answered(status);
    }
    response
}

/// The longest method any route answers.
pub const MAX_METHOD_BYTES: usize = 32;

/// Whether a route template is an inbound webhook's URL.
fn is_inbound_call(route: &str) -> bool {
    route.starts_with("/hooks/")
}
