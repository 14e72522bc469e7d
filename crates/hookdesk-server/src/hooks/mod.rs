//! `/hooks/TOKEN[/ANY/PATH]`: other systems call an inbound webhook's secret URL with any
//! method. This adapter reads the call and writes the answer; the app verifies it, runs its
//! ticket actions, renders the response and logs the call (`App::handle_inbound_call`).
//!
//! Their path carries the token: the access log names them by their route template only.
//!
//! An answer is the admin's template over what the caller sent, served from hookdesk's own
//! origin: whatever it holds (an echoed `<script>`, an XHTML page), it must not run there. Every
//! answer is sandboxed by its Content-Security-Policy (an opaque origin, no script, nothing
//! loaded), is never sniffed into another type, and refers no one to the secret URL; a
//! response cannot set the headers that would act on the origin (`is_reserved_header`).

mod request;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use hookdesk_core::inbound::is_reserved_header;

use crate::app::{App, AppError, CallAnswer, ErrorReply, Handled, Opened};
use crate::http::MAX_BODY_BYTES;
use crate::http::error::ApiError;

pub fn router() -> axum::Router<App> {
    axum::Router::new()
        .route("/hooks/{token}", any(receive))
        .route("/hooks/{token}/", any(receive))
        .route("/hooks/{token}/{*path}", any(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(sandboxed))
}

/// What every answer of `/hooks` carries, errors included, whatever its response set.
const SANDBOX_POLICY: &str = "sandbox; default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

async fn sandboxed(request: axum::extract::Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(SANDBOX_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The URL is the secret: a link the answer holds must not carry it away.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn receive(State(app): State<App>, request: Request) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let (token, path) = request::token_and_path(request.uri().path());
    let call = match app.open_inbound_call(&token).await {
        Ok(Opened::Call(call)) => call,
        // The body's size is checked first, as on every route; it is not read.
        Ok(Opened::Unknown) if crate::http::layers::declared_too_large(request.headers()) => {
            return ApiError::payload_too_large().into_response();
        }
        Ok(Opened::Unknown) => return ApiError::not_found("inbound webhook").into_response(),
        Ok(Opened::RateLimited(wait)) => return too_many_requests(wait),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let read = request::read(request, path).await;
    match app.handle_inbound_call(call, read, peer, reply).await {
        Handled::Answered(answer) => respond(answer),
        Handled::RateLimited(wait) => too_many_requests(wait),
    }
}

/// An error as the API answers it.
fn reply(error: AppError) -> ErrorReply {
    let error = ApiError::from(error);
    ErrorReply {
        status: error.status.as_u16(),
        code: error.code.to_owned(),
        body: serde_json::to_string(&error.body()).unwrap_or_default(),
        message: error.message,
    }
}

fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError {
        retry_after: Some(seconds.max(1)),
        ..ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("this inbound webhook is over its rate limit; retry in {seconds} s"),
        )
    }
    .into_response()
}

fn respond(answer: CallAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::ACCEPTED);
    let no_body = matches!(status, StatusCode::NO_CONTENT | StatusCode::RESET_CONTENT | StatusCode::NOT_MODIFIED);
    let mut response = Response::new(if no_body { Body::empty() } else { Body::from(answer.body) });
    *response.status_mut() = status;
    for (name, value) in answer.headers {
        if is_reserved_header(&name) {
            continue;
        }
        // The response template's header values were checked for control characters; a
        // value HTTP still cannot carry (non-ASCII) is left out.
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
