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
    let browser = prefers_html(request.headers());
    let mut response = next.run(request).await;
    if browser && response.status().as_u16() >= 400 {
        response = in_words(response).await;
    }
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

/// Whether the caller's `Accept` prefers `text/html` to JSON (a browser opening the URL).
fn prefers_html(headers: &axum::http::HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else { return false };
    let quality = |wanted: &str| {
        accept
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';').map(str::trim);
                let kind = parts.next()?.to_ascii_lowercase();
                let q = parts.find_map(|p| p.strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
                (kind == wanted).then_some(q)
            })
            .fold(0.0_f32, f32::max)
    };
    let html = quality("text/html");
    html > 0.0 && html > quality("application/json")
}

/// The most bytes of an error answer read to put it in words.
const ERROR_BYTES: usize = 64 * 1024;

/// An error hookdesk itself answered (the API's `{"error": {code, message}}`) as a small
/// HTML page in words, for a person who opened the URL in a browser; any other answer (an
/// admin's response template) as it is. The sandbox policy still applies.
async fn in_words(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, ERROR_BYTES).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the answer could not be read").into_response();
    };
    let error = serde_json::from_slice::<serde_json::Value>(&bytes).ok().and_then(|body| {
        let error = body.get("error")?;
        Some((error.get("code")?.as_str()?.to_owned(), error.get("message")?.as_str()?.to_owned()))
    });
    let Some((code, message)) = error else { return Response::from_parts(parts, Body::from(bytes)) };
    let status = parts.status;
    let reason = status.canonical_reason().unwrap_or("Error");
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{status} {reason}</title></head>\n<body><main>\n<h1>{status} {reason}</h1>\n<p>{message}</p>\n\
         <p>Code: <code>{code}</code></p>\n<p>This address is an inbound webhook of hookdesk: it is meant for \
         other systems to call, and answers them in JSON.</p>\n</main></body></html>\n",
        status = status.as_u16(),
        message = escape(&message),
        code = escape(&code),
    );
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(html))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
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
    let _turn = app.large_call_turn(request.headers()).await;
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
