//! `/api/v1/inbound_webhooks`: secret URLs other systems call (`/hooks/TOKEN`), and the log
//! of their calls. Admins only.

use axum::extract::State;
use axum::http::StatusCode;
use hookdesk_core::Page;
use hookdesk_core::id::{CallId, InboundWebhookId};
use hookdesk_core::inbound::InboundCall;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::Editable;
use crate::app::{Admin, App, CallQuery, InboundBody, InboundWebhookView, PatchInboundBody};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, IfMatch, tagged};
use axum::response::Response;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_inbound_webhooks, create_inbound_webhook))
        .routes(routes!(get_inbound_webhook, patch_inbound_webhook, delete_inbound_webhook))
        .routes(routes!(rotate_inbound_webhook))
        .routes(routes!(list_calls))
        .routes(routes!(get_call))
}

/// Every inbound webhook, by name.
#[utoipa::path(get, path = "/api/v1/inbound_webhooks", tag = "inbound_webhooks",
    responses((status = 200, body = Page<InboundWebhookView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_inbound_webhooks(
    caller: Admin,
    state: State<App>,
) -> Result<axum::Json<Page<InboundWebhookView>>, ApiError> {
    Ok(axum::Json(Page::whole(state.inbound_webhooks(&caller).await?)))
}

/// Create an inbound webhook: its URL carries 192 random bits.
#[utoipa::path(post, path = "/api/v1/inbound_webhooks", tag = "inbound_webhooks", request_body = InboundBody,
    responses((status = 201, body = InboundWebhookView), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_inbound_webhook(
    caller: Admin,
    state: State<App>,
    ApiJson(body): ApiJson<InboundBody>,
) -> Result<(StatusCode, axum::Json<InboundWebhookView>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(state.create_inbound_webhook(&caller, body).await?)))
}

/// Get an inbound webhook.
#[utoipa::path(get, path = "/api/v1/inbound_webhooks/{id}", tag = "inbound_webhooks", params(("id" = String, Path)),
    responses((status = 200, body = InboundWebhookView, headers(("ETag" = String, description = "The version: send it as If-Match to change or delete this version only"))), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_inbound_webhook(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<InboundWebhookId>,
) -> Result<Response, ApiError> {
    Ok(tagged(&state.inbound_webhook(&caller, &id).await?))
}

/// Change an inbound webhook; absent fields keep their value. The URL stays.
#[utoipa::path(patch, path = "/api/v1/inbound_webhooks/{id}", tag = "inbound_webhooks", params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag a GET answered: refused (412) when the object changed since")),
    request_body = PatchInboundBody,
    responses((status = 200, body = InboundWebhookView), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_inbound_webhook(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<InboundWebhookId>,
    IfMatch(expected): IfMatch,
    ApiJson(body): ApiJson<PatchInboundBody>,
) -> Result<Response, ApiError> {
    state.expect_version(&caller.as_agent(), Editable::InboundWebhook(&id), expected.as_deref()).await?;
    Ok(tagged(&state.update_inbound_webhook(&caller, &id, body).await?))
}

/// Delete an inbound webhook and its call log.
#[utoipa::path(delete, path = "/api/v1/inbound_webhooks/{id}", tag = "inbound_webhooks", params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag a GET answered: refused (412) when the object changed since")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_inbound_webhook(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<InboundWebhookId>,
    IfMatch(expected): IfMatch,
) -> Result<StatusCode, ApiError> {
    state.expect_version(&caller.as_agent(), Editable::InboundWebhook(&id), expected.as_deref()).await?;
    state.delete_inbound_webhook(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new URL; the old one answers 404 from now on.
#[utoipa::path(post, path = "/api/v1/inbound_webhooks/{id}/rotate", tag = "inbound_webhooks", params(("id" = String, Path)),
    responses((status = 200, body = InboundWebhookView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn rotate_inbound_webhook(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<InboundWebhookId>,
) -> Result<axum::Json<InboundWebhookView>, ApiError> {
    Ok(axum::Json(state.rotate_inbound_webhook(&caller, &id).await?))
}

/// The calls of an inbound webhook, newest first. Unknown tokens and calls over the rate
/// limit are not logged (they would let anyone fill the log).
#[utoipa::path(get, path = "/api/v1/inbound_webhooks/{id}/calls", tag = "inbound_webhooks",
    params(("id" = String, Path), CallQuery),
    responses((status = 200, body = Page<InboundCall>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_calls(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<InboundWebhookId>,
    ApiQuery(query): ApiQuery<CallQuery>,
) -> Result<axum::Json<Page<InboundCall>>, ApiError> {
    Ok(axum::Json(state.inbound_calls(&caller, &id, query).await?))
}

/// One call.
#[utoipa::path(get, path = "/api/v1/inbound_webhooks/{id}/calls/{call_id}", tag = "inbound_webhooks",
    params(("id" = String, Path), ("call_id" = String, Path)),
    responses((status = 200, body = InboundCall), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_call(
    caller: Admin,
    state: State<App>,
    ApiPath((id, call_id)): ApiPath<(InboundWebhookId, CallId)>,
) -> Result<axum::Json<InboundCall>, ApiError> {
    Ok(axum::Json(state.inbound_call(&caller, &id, &call_id).await?))
}
