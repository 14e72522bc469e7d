//! `/api/v1/inbound_webhooks`: secret URLs other systems call (`/hooks/TOKEN`), and the log
//! of their calls. Admins only.

use axum::extract::State;
use axum::http::StatusCode;
use hookdesk_core::inbound::{InboundAction, InboundCall, InboundWebhook, Verify, VerifyView};
use hookdesk_store::CallFilter;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::invocations::time;
use super::{List, limit, nullable};
use crate::app::{App, DEFAULT_RATE_LIMIT_PER_MINUTE, InboundInput, InboundPatch};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Admin, ApiJson, ApiPath, ApiQuery};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_inbound_webhooks, create_inbound_webhook))
        .routes(routes!(get_inbound_webhook, patch_inbound_webhook, delete_inbound_webhook))
        .routes(routes!(rotate_inbound_webhook))
        .routes(routes!(list_calls))
        .routes(routes!(get_call))
}

/// The contract's InboundWebhook.
#[derive(Serialize, ToSchema)]
pub struct InboundWebhookView {
    id: String,
    name: String,
    enabled: bool,
    /// The full URL to call: `PUBLIC_URL/hooks/TOKEN`. Anyone with it can call the webhook:
    /// rotate it if it leaks.
    url: String,
    /// `{"type": "hmac_sha256", "header"}`; the secret is never shown.
    verify: Option<VerifyView>,
    /// A request header identifying a delivery (`X-GitHub-Delivery`, `webhook-id`,
    /// `Idempotency-Key`): a call repeating an accepted one's value gets the same answer and
    /// runs nothing.
    idempotency_header: Option<String>,
    /// `[{"type": "create_ticket"|"update_ticket"|"add_comment", ...}]`.
    #[schema(value_type = Vec<Object>)]
    actions: Value,
    /// `{"status", "headers", "body"}`, templates.
    #[schema(value_type = Object)]
    response: Value,
    /// Calls a minute this webhook accepts, per server process; null is no limit.
    rate_limit_per_minute: Option<u32>,
    created_at: hookdesk_core::Timestamp,
    updated_at: hookdesk_core::Timestamp,
}

impl InboundWebhookView {
    fn new(app: &App, webhook: InboundWebhook) -> Self {
        Self {
            url: app.inbound_url(&webhook),
            verify: webhook.verify.as_ref().map(Verify::public_view),
            idempotency_header: webhook.idempotency_header.clone(),
            actions: Value::Array(webhook.actions.iter().map(InboundAction::to_json).collect()),
            response: webhook.response.to_json(),
            id: webhook.id,
            name: webhook.name,
            enabled: webhook.enabled,
            rate_limit_per_minute: webhook.rate_limit_per_minute,
            created_at: webhook.created_at,
            updated_at: webhook.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundBody {
    name: String,
    /// Default true.
    enabled: Option<bool>,
    /// `{"type": "hmac_sha256", "header": "X-Hub-Signature-256", "secret": "..."}` or null.
    #[schema(value_type = Option<Object>)]
    verify: Option<Verify>,
    /// Default null (no deduplication).
    idempotency_header: Option<String>,
    /// Default `[]`: a call then only answers.
    #[serde(default = "no_actions")]
    #[schema(value_type = Vec<Object>)]
    actions: Value,
    /// Default `{"status": 202, "body": "{\"ok\": true}"}`.
    #[schema(value_type = Option<Object>)]
    response: Option<Value>,
    /// Default 600; null for no limit.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>)]
    rate_limit_per_minute: Option<Option<u32>>,
}

fn no_actions() -> Value {
    Value::Array(vec![])
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchInboundBody {
    name: Option<String>,
    enabled: Option<bool>,
    /// Replaces the verification (secret included); null removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    verify: Option<Option<Verify>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    idempotency_header: Option<Option<String>>,
    #[schema(value_type = Option<Vec<Object>>)]
    actions: Option<Value>,
    #[schema(value_type = Option<Object>)]
    response: Option<Value>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>)]
    rate_limit_per_minute: Option<Option<u32>>,
}

/// Every inbound webhook, by name.
#[utoipa::path(get, path = "/api/v1/inbound_webhooks", tag = "inbound_webhooks",
    responses((status = 200, body = List<InboundWebhookView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_inbound_webhooks(
    Admin(_caller): Admin,
    state: State<App>,
) -> Result<axum::Json<List<InboundWebhookView>>, ApiError> {
    let data = state.inbound_webhooks().await?.into_iter().map(|w| InboundWebhookView::new(&state, w)).collect();
    Ok(axum::Json(List { data, next_cursor: None }))
}

/// Create an inbound webhook: its URL carries 192 random bits.
#[utoipa::path(post, path = "/api/v1/inbound_webhooks", tag = "inbound_webhooks", request_body = InboundBody,
    responses((status = 201, body = InboundWebhookView), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_inbound_webhook(
    Admin(_caller): Admin,
    state: State<App>,
    ApiJson(body): ApiJson<InboundBody>,
) -> Result<(StatusCode, axum::Json<InboundWebhookView>), ApiError> {
    let input = InboundInput {
        name: body.name,
        enabled: body.enabled.unwrap_or(true),
        verify: body.verify,
        idempotency_header: body.idempotency_header,
        actions: body.actions,
        response: body.response.unwrap_or(Value::Null),
        rate_limit_per_minute: body.rate_limit_per_minute.unwrap_or(Some(DEFAULT_RATE_LIMIT_PER_MINUTE)),
    };
    let webhook = state.create_inbound_webhook(input).await?;
    Ok((StatusCode::CREATED, axum::Json(InboundWebhookView::new(&state, webhook))))
}

/// Get an inbound webhook.
#[utoipa::path(get, path = "/api/v1/inbound_webhooks/{id}", tag = "inbound_webhooks", params(("id" = String, Path)),
    responses((status = 200, body = InboundWebhookView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_inbound_webhook(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<InboundWebhookView>, ApiError> {
    let webhook = state.inbound_webhook(&id).await?;
    Ok(axum::Json(InboundWebhookView::new(&state, webhook)))
}

/// Change an inbound webhook; absent fields keep their value. The URL stays.
#[utoipa::path(patch, path = "/api/v1/inbound_webhooks/{id}", tag = "inbound_webhooks", params(("id" = String, Path)),
    request_body = PatchInboundBody,
    responses((status = 200, body = InboundWebhookView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_inbound_webhook(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PatchInboundBody>,
) -> Result<axum::Json<InboundWebhookView>, ApiError> {
    let patch = InboundPatch {
        name: body.name,
        enabled: body.enabled,
        verify: body.verify,
        idempotency_header: body.idempotency_header,
        actions: body.actions,
        response: body.response,
        rate_limit_per_minute: body.rate_limit_per_minute,
    };
    let webhook = state.update_inbound_webhook(&id, patch).await?;
    Ok(axum::Json(InboundWebhookView::new(&state, webhook)))
}

/// Delete an inbound webhook and its call log.
#[utoipa::path(delete, path = "/api/v1/inbound_webhooks/{id}", tag = "inbound_webhooks", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_inbound_webhook(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.delete_inbound_webhook(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new URL; the old one answers 404 from now on.
#[utoipa::path(post, path = "/api/v1/inbound_webhooks/{id}/rotate", tag = "inbound_webhooks", params(("id" = String, Path)),
    responses((status = 200, body = InboundWebhookView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn rotate_inbound_webhook(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<InboundWebhookView>, ApiError> {
    let webhook = state.rotate_inbound_webhook(&id).await?;
    Ok(axum::Json(InboundWebhookView::new(&state, webhook)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CallQuery {
    /// The status hookdesk answered, e.g. 401.
    status: Option<u16>,
    /// true: calls answered with 400 or more; false: the others.
    failed: Option<bool>,
    /// RFC 3339.
    since: Option<String>,
    /// RFC 3339.
    until: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The calls of an inbound webhook, newest first. Unknown tokens and calls over the rate
/// limit are not logged (they would let anyone fill the log).
#[utoipa::path(get, path = "/api/v1/inbound_webhooks/{id}/calls", tag = "inbound_webhooks",
    params(("id" = String, Path), CallQuery),
    responses((status = 200, body = List<InboundCall>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_calls(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<CallQuery>,
) -> Result<axum::Json<List<InboundCall>>, ApiError> {
    state.inbound_webhook(&id).await?;
    let filter = CallFilter {
        status: query.status,
        failed: query.failed,
        since: time("since", query.since)?,
        until: time("until", query.until)?,
        before_id: query.cursor,
        limit: limit(query.limit)?,
    };
    let page = state.store.inbound_calls(&id, &filter).await?;
    Ok(axum::Json(List { data: page.data, next_cursor: page.next_cursor }))
}

/// One call.
#[utoipa::path(get, path = "/api/v1/inbound_webhooks/{id}/calls/{call_id}", tag = "inbound_webhooks",
    params(("id" = String, Path), ("call_id" = String, Path)),
    responses((status = 200, body = InboundCall), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_call(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath((id, call_id)): ApiPath<(String, String)>,
) -> Result<axum::Json<InboundCall>, ApiError> {
    Ok(axum::Json(state.inbound_call(&id, &call_id).await?))
}
