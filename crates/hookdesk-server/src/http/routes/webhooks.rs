//! `/api/v1/webhooks`

use axum::extract::State;
use axum::http::StatusCode;
use hookdesk_core::Page;
use hookdesk_core::id::WebhookId;
use hookdesk_core::invocation::Invocation;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::Editable;
use crate::app::{
    Admin, App, CreateWebhookBody, InvocationQuery, PatchWebhookBody, ReplayBody, ReplayReport, Saved, SearchQuery,
    TestBody, TestResult, WebhookView,
};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, IfMatch, tagged};
use axum::response::Response;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, patch_webhook, delete_webhook))
        .routes(routes!(get_signing_secret))
        .routes(routes!(rotate_signing_secret))
        .routes(routes!(test_webhook))
        .routes(routes!(webhook_invocations))
        .routes(routes!(replay_failed))
}

#[derive(Serialize, ToSchema)]
pub struct SecretView {
    secret: String,
}

/// List webhooks.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", params(SearchQuery),
    responses((status = 200, body = Page<WebhookView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_webhooks(
    caller: Admin,
    state: State<App>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<axum::Json<Page<WebhookView>>, ApiError> {
    Ok(axum::Json(state.webhooks(&caller, query).await?))
}

/// Create a webhook. Its signing secret is generated: read it once with `signing_secret`.
///
/// Its templates are rendered against a sample ticket: what fails whatever a ticket holds is a
/// 422; the answer's `warnings` (`[{field, message}]`, only when there are any) say what
/// could not be settled.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = CreateWebhookBody,
    responses((status = 201, body = WebhookView), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_webhook(
    caller: Admin,
    state: State<App>,
    ApiJson(body): ApiJson<CreateWebhookBody>,
) -> Result<(StatusCode, axum::Json<Saved<WebhookView>>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(state.create_webhook(&caller, body).await?)))
}

/// Get a webhook.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = WebhookView, headers(("ETag" = String, description = "The version: send it as If-Match to change or delete this version only"))), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_webhook(caller: Admin, state: State<App>, ApiPath(id): ApiPath<WebhookId>) -> Result<Response, ApiError> {
    Ok(tagged(&state.webhook(&caller, &id).await?))
}

/// Change a webhook. The connection method (`subscriptions`) cannot change.
///
/// Its templates are rendered against a sample ticket: what fails whatever a ticket holds is a
/// 422; the answer's `warnings` (`[{field, message}]`, only when there are any) say what
/// could not be settled.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag a GET answered: refused (412) when the object changed since")), request_body = PatchWebhookBody,
    responses((status = 200, body = WebhookView), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_webhook(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<WebhookId>,
    IfMatch(expected): IfMatch,
    ApiJson(body): ApiJson<PatchWebhookBody>,
) -> Result<Response, ApiError> {
    state.expect_version(&caller.as_agent(), Editable::Webhook(&id), expected.as_deref()).await?;
    Ok(tagged(&state.update_webhook(&caller, &id, body).await?))
}

/// Delete a webhook (refused while a trigger notifies it).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag a GET answered: refused (412) when the object changed since")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_webhook(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<WebhookId>,
    IfMatch(expected): IfMatch,
) -> Result<StatusCode, ApiError> {
    state.expect_version(&caller.as_agent(), Editable::Webhook(&id), expected.as_deref()).await?;
    state.delete_webhook(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The current signing secret (`whsec_...`).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/signing_secret", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = SecretView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_signing_secret(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<WebhookId>,
) -> Result<axum::Json<SecretView>, ApiError> {
    let secret = state.signing_secret(&caller, &id).await?;
    Ok(axum::Json(SecretView { secret: secret.expose() }))
}

/// Replace the signing secret. The old one keeps signing (a second signature) for 24 hours.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/signing_secret/rotate", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = SecretView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn rotate_signing_secret(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<WebhookId>,
) -> Result<axum::Json<SecretView>, ApiError> {
    let secret = state.rotate_signing_secret(&caller, &id).await?;
    Ok(axum::Json(SecretView { secret: secret.expose() }))
}

/// Send one request now, synchronously, rendered against a ticket or a sample one.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", params(("id" = String, Path)),
    request_body = TestBody,
    responses((status = 200, body = TestResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn test_webhook(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<WebhookId>,
    ApiJson(body): ApiJson<TestBody>,
) -> Result<axum::Json<TestResult>, ApiError> {
    Ok(axum::Json(state.test_webhook(&caller, &id, body).await?))
}

/// The execution log of one webhook.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/invocations", tag = "invocations", params(("id" = String, Path), InvocationQuery),
    responses((status = 200, body = Page<Invocation>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn webhook_invocations(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<WebhookId>,
    ApiQuery(query): ApiQuery<InvocationQuery>,
) -> Result<axum::Json<Page<Invocation>>, ApiError> {
    Ok(axum::Json(state.webhook_invocations(&caller, &id, query).await?))
}

/// Queue a replay of every failed invocation of this webhook in a time range, each once
/// (failed invocations already replayed are skipped), for instance after an outage.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/replay", tag = "invocations", params(("id" = String, Path)),
    request_body = ReplayBody,
    responses((status = 202, body = ReplayReport), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn replay_failed(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<WebhookId>,
    ApiJson(body): ApiJson<ReplayBody>,
) -> Result<(StatusCode, axum::Json<ReplayReport>), ApiError> {
    Ok((StatusCode::ACCEPTED, axum::Json(state.replay_failed(&caller, &id, body).await?)))
}
