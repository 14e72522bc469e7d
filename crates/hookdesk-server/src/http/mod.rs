//! The HTTP API: routes per resource, our extractors and error mapping, and the OpenAPI
//! document generated from the handlers' annotations.

pub mod error;
pub mod extract;
pub mod layers;
mod openapi;
pub mod routes;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::app::App;
use crate::app::metrics::Exposition;
use error::ApiError;

/// Request bodies larger than this are refused with 413 (a declared length before reading).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "hookdesk", description = "Self-hosted helpdesk automation: tickets, triggers, signed webhooks."),
    modifiers(&BearerAuth),
    tags(
        (name = "tickets", description = "Tickets; every create and patch is one update that runs the triggers"),
        (name = "webhooks", description = "Outbound webhooks"),
        (name = "triggers", description = "Business rules run on every update"),
        (name = "automations", description = "Business rules run on a schedule, over tickets that are not closed"),
        (name = "macros", description = "Actions an agent applies to one ticket on demand"),
        (name = "invocations", description = "The execution log of webhook calls"),
        (name = "inbound_webhooks", description = "Secret URLs other systems call (/hooks/TOKEN) to act on tickets, and the log of their calls"),
        (name = "users", description = "Requesters, agents and admins, and the API tokens agents and admins act with"),
        (name = "config", description = "The configuration as one document, to keep in version control and apply to another server"),
        (name = "operations", description = "Probes, metrics and this document: no token"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // Conditions and actions, typed from the rule vocabulary.
        components.schemas.extend(crate::app::rule_schemas::components());
    }
}

fn api() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::tickets::router())
        .merge(routes::webhooks::router())
        .merge(routes::triggers::router())
        .merge(routes::automations::router())
        .merge(routes::macros::router())
        .merge(routes::invocations::router())
        .merge(routes::users::router())
        .merge(routes::inbound_webhooks::router())
        .merge(routes::vocabulary::router())
        .merge(routes::config::router())
        .merge(routes::imports::router())
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = api().into_openapi();
    let paths = &mut document.paths.paths;
    for (path, summary) in [
        (
            "/healthz",
            "Liveness: 200 {status, node, singletons (the jobs this node runs)} while the database answers; 503 while it is unavailable",
        ),
        (
            "/readyz",
            "Readiness: 200 {status: \"ready\", node, singletons, note?} when the database answers, its schema holds every migration this binary brings (a newer one: ready, with a note) and the delivery workers run; else 503 with the error body (code not_ready) saying which",
        ),
        (
            "/metrics",
            "Prometheus metrics, no token (aggregates only): OpenMetrics 1.0 when the Accept header asks for it, else the text format 0.0.4. Off here when --metrics-listen names another address, or off",
        ),
        ("/openapi.json", "This document"),
    ] {
        let operation = utoipa::openapi::path::OperationBuilder::new()
            .tag("operations")
            .summary(Some(summary))
            .response("200", utoipa::openapi::ResponseBuilder::new().description("OK"))
            .build();
        paths
            .insert(path.to_owned(), utoipa::openapi::path::PathItem::new(utoipa::openapi::HttpMethod::Get, operation));
    }
    paths.insert("/hooks/{token}".to_owned(), hooks_path_item());
    openapi::complete(&mut document);
    document
}

/// `/hooks/{token}` takes any method and body; the document names the common ones.
fn hooks_path_item() -> utoipa::openapi::path::PathItem {
    use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
    use utoipa::openapi::{HttpMethod, Required, ResponseBuilder};
    let operation = |method: &str| {
        OperationBuilder::new()
            .tag("inbound_webhooks")
            .summary(Some(format!(
                "{method}: call an inbound webhook (any method, and /hooks/TOKEN/ANY/PATH too). No bearer token: \
                 the URL is the secret. Answers as configured (default 202 {{\"ok\": true}}); 401 failed \
                 verification, 404 unknown or disabled token, 413 body over 1 MiB, 429 over the rate limit."
            )))
            .parameter(
                ParameterBuilder::new()
                    .name("token")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(utoipa::openapi::schema::Object::with_type(utoipa::openapi::schema::Type::String))),
            )
            .response("202", ResponseBuilder::new().description("The configured response"))
            .response("401", ResponseBuilder::new().description("The call failed the webhook's verification"))
            .response("404", ResponseBuilder::new().description("No enabled inbound webhook has this token"))
            .response("413", ResponseBuilder::new().description("The body is over 1 MiB"))
            .response(
                "429",
                ResponseBuilder::new().description("Over the webhook's rate limit: wait as Retry-After says"),
            )
            .build()
    };
    let mut item = PathItem::new(HttpMethod::Get, operation("GET"));
    item.post = Some(operation("POST"));
    item
}

/// The API's routes, the probes and `/openapi.json`.
pub fn router() -> axum::Router<App> {
    let document = Arc::new(openapi());
    let (api, _) = api().split_for_parts();
    api.route_layer(axum::middleware::from_fn(layers::readable_params))
        .merge(probes())
        .route("/openapi.json", get(move || async move { axum::Json(document.as_ref().clone()) }))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// `/healthz` (liveness) and `/readyz` (readiness).
pub fn probes() -> axum::Router<App> {
    axum::Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// `/metrics`.
pub fn metrics() -> axum::Router<App> {
    axum::Router::new().route("/metrics", get(render_metrics))
}

/// What every route gets: a panic answers 500, a declared body over the limit 413, and each
/// request one access log line and its count in the metrics.
pub fn with_layers(router: axum::Router<App>, app: App) -> axum::Router<App> {
    router
        .layer(catch_panics())
        .layer(axum::middleware::from_fn(layers::no_sniffing))
        .layer(axum::middleware::from_fn(layers::limit_bodies))
        // It logs the route template (`/hooks/{token}`), never the path, which holds the token.
        .layer(axum::middleware::from_fn_with_state(app, layers::observe))
}

/// A handler that panics answers 500 (the API's error body) and is logged; the process and
/// every other request go on.
fn catch_panics()
-> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> axum::response::Response> {
    fn respond(panic: Box<dyn std::any::Any + Send>) -> axum::response::Response {
        let what = hookdesk_core::text::panic_message(panic.as_ref());
        tracing::error!(panic = %what, "a request handler panicked");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an internal error occurred; it has been logged")
            .into_response()
    }
    tower_http::catch_panic::CatchPanicLayer::custom(respond)
}

async fn healthz(State(app): State<App>) -> impl IntoResponse {
    match app.node_status().await {
        Ok(status) => (StatusCode::OK, axum::Json(status)).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn readyz(State(app): State<App>) -> impl IntoResponse {
    match app.readiness().await {
        Ok(status) => (StatusCode::OK, axum::Json(status)).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn render_metrics(State(app): State<App>, headers: axum::http::HeaderMap) -> impl IntoResponse {
    if !app.may_read_metrics(extract::bearer_token(&headers).ok()) {
        let mut refused = ApiError::unauthorized().into_response();
        refused
            .headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        return refused;
    }
    let accept = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Exposition::accepted(accept);
    match app.render_metrics(format).await {
        Ok(text) => ([(axum::http::header::CONTENT_TYPE, format.content_type())], text).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("a bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_next_request_is_served() {
        let router = axum::Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "fine" }))
            .layer(catch_panics());
        let request = |path: &str| axum::http::Request::get(path).body(axum::body::Body::empty()).expect("request");
        let response = router.clone().oneshot(request("/boom")).await.expect("an answer");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.expect("body");
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).expect("json")["error"]["code"], "internal");
        let response = router.oneshot(request("/fine")).await.expect("an answer");
        assert_eq!(response.status(), StatusCode::OK);
    }
}
