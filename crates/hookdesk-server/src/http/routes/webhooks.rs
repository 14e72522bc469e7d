//! `/api/v1/webhooks`

use axum::extract::State;
use axum::http::StatusCode;
use hookdesk_core::webhook::{
    Authentication, AuthenticationView, HttpMethod, Ordering, RequestFormat, Webhook, WebhookHealth, WebhookStatus,
};
use hookdesk_core::{Invalid, Timestamp};
use hookdesk_store::{Invocation, InvocationFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::invocations::{InvocationQuery, list, time};
use super::{List, PageQuery, limit, nullable};
use crate::app::{App, Checked, Saved, TestResult, TestSend, WebhookInput, WebhookPatch};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Admin, ApiJson, ApiPath, ApiQuery};

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

/// A webhook as the API shows it: secrets are write-only.
#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    id: String,
    name: String,
    description: String,
    endpoint: String,
    http_method: HttpMethod,
    request_format: RequestFormat,
    status: WebhookStatus,
    subscriptions: Vec<String>,
    authentication: AuthenticationView,
    #[schema(value_type = Object)]
    custom_headers: Map<String, Value>,
    max_retries: u8,
    ordering: Ordering,
    rate_limit_per_minute: Option<u32>,
    /// How deliveries are going: the circuit breaker and the failing mark.
    health: WebhookHealth,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl WebhookView {
    fn new(w: &Webhook, health: WebhookHealth) -> Self {
        Self {
            id: w.id.clone(),
            name: w.name.clone(),
            description: w.description.clone(),
            endpoint: w.endpoint.template().source().to_owned(),
            http_method: w.http_method,
            request_format: w.request_format,
            status: w.status,
            subscriptions: w.subscriptions.names(),
            authentication: w.authentication.public_view(),
            custom_headers: w.custom_headers.to_json(),
            max_retries: w.max_retries,
            ordering: w.ordering,
            rate_limit_per_minute: w.rate_limit_per_minute,
            health,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// Views of `webhooks` with their health.
async fn views(state: &App, webhooks: &[Webhook]) -> Result<Vec<WebhookView>, ApiError> {
    let ids: Vec<&str> = webhooks.iter().map(|w| w.id.as_str()).collect();
    let mut health = state.store.webhook_health(&ids).await?;
    Ok(webhooks.iter().map(|w| WebhookView::new(w, health.remove(&w.id).unwrap_or_default())).collect())
}

async fn view(state: &App, webhook: Webhook) -> Result<axum::Json<WebhookView>, ApiError> {
    let mut views = views(state, std::slice::from_ref(&webhook)).await?;
    Ok(axum::Json(views.remove(0)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookBody {
    name: String,
    #[serde(default)]
    description: String,
    /// Absolute http(s) URL; may hold Liquid placeholders.
    endpoint: String,
    /// Default POST.
    http_method: Option<HttpMethod>,
    /// Default json.
    request_format: Option<RequestFormat>,
    /// Default active.
    status: Option<WebhookStatus>,
    /// Default `["conditional_ticket_events"]` (notified by triggers and automations); or a
    /// list of event types (`ticket.created`, `ticket.status_changed`, ...) to receive their
    /// CloudEvents. Never both.
    subscriptions: Option<Vec<String>>,
    /// Default `{"type": "none"}`.
    authentication: Option<Authentication>,
    #[serde(default)]
    #[schema(value_type = Object)]
    custom_headers: Map<String, Value>,
    /// 0 to 10, default 3.
    max_retries: Option<u8>,
    ordering: Option<Ordering>,
    rate_limit_per_minute: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchWebhookBody {
    name: Option<String>,
    description: Option<String>,
    endpoint: Option<String>,
    http_method: Option<HttpMethod>,
    request_format: Option<RequestFormat>,
    status: Option<WebhookStatus>,
    subscriptions: Option<Vec<String>>,
    authentication: Option<Authentication>,
    #[schema(value_type = Option<Object>)]
    custom_headers: Option<Map<String, Value>>,
    max_retries: Option<u8>,
    ordering: Option<Ordering>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>)]
    rate_limit_per_minute: Option<Option<u32>>,
}

#[derive(Serialize, ToSchema)]
pub struct SecretView {
    secret: String,
}

/// List webhooks.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", params(PageQuery),
    responses((status = 200, body = List<WebhookView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_webhooks(
    Admin(_caller): Admin,
    state: State<App>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<axum::Json<List<WebhookView>>, ApiError> {
    let page = state.store.list_webhooks(query.cursor.as_deref(), limit(query.limit)?).await?;
    Ok(axum::Json(List { data: views(&state, &page.data).await?, next_cursor: page.next_cursor }))
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
    Admin(_caller): Admin,
    state: State<App>,
    ApiJson(body): ApiJson<CreateWebhookBody>,
) -> Result<(StatusCode, axum::Json<Saved<WebhookView>>), ApiError> {
    let input = WebhookInput {
        name: body.name,
        description: body.description,
        endpoint: body.endpoint,
        http_method: body.http_method.unwrap_or(HttpMethod::Post),
        request_format: body.request_format.unwrap_or(RequestFormat::Json),
        status: body.status.unwrap_or(WebhookStatus::Active),
        subscriptions: body.subscriptions,
        authentication: body.authentication.unwrap_or(Authentication::None),
        custom_headers: body.custom_headers,
        max_retries: body.max_retries.unwrap_or(Webhook::DEFAULT_MAX_RETRIES),
        ordering: body.ordering.unwrap_or(Ordering::None),
        rate_limit_per_minute: body.rate_limit_per_minute,
    };
    let Checked { value: (webhook, _secret), warnings } = state.create_webhook(input).await?;
    let view = WebhookView::new(&webhook, WebhookHealth::default());
    Ok((StatusCode::CREATED, axum::Json(Saved::new(view, warnings))))
}

/// Get a webhook.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_webhook(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<WebhookView>, ApiError> {
    view(&state, state.webhook(&id).await?).await
}

/// Change a webhook. The connection method (`subscriptions`) cannot change.
///
/// Its templates are rendered against a sample ticket: what fails whatever a ticket holds is a
/// 422; the answer's `warnings` (`[{field, message}]`, only when there are any) say what
/// could not be settled.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)), request_body = PatchWebhookBody,
    responses((status = 200, body = WebhookView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_webhook(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PatchWebhookBody>,
) -> Result<axum::Json<Saved<WebhookView>>, ApiError> {
    let patch = WebhookPatch {
        name: body.name,
        description: body.description,
        endpoint: body.endpoint,
        http_method: body.http_method,
        request_format: body.request_format,
        status: body.status,
        subscriptions: body.subscriptions,
        authentication: body.authentication,
        custom_headers: body.custom_headers,
        max_retries: body.max_retries,
        ordering: body.ordering,
        rate_limit_per_minute: body.rate_limit_per_minute,
    };
    let Checked { value: webhook, warnings } = state.update_webhook(&id, patch).await?;
    let axum::Json(view) = view(&state, webhook).await?;
    Ok(axum::Json(Saved::new(view, warnings)))
}

/// Delete a webhook (refused while a trigger notifies it).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_webhook(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.delete_webhook(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The current signing secret (`whsec_...`).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/signing_secret", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = SecretView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_signing_secret(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<SecretView>, ApiError> {
    let secret = state.signing_secret(&id).await?;
    Ok(axum::Json(SecretView { secret: secret.expose() }))
}

/// Replace the signing secret. The old one keeps signing (a second signature) for 24 hours.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/signing_secret/rotate", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = SecretView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn rotate_signing_secret(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<SecretView>, ApiError> {
    let secret = state.rotate_signing_secret(&id).await?;
    Ok(axum::Json(SecretView { secret: secret.expose() }))
}

/// `POST /webhooks/{id}/test`: each part replaces the webhook's own for this one request.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    /// A Liquid payload instead of the standard ticket document.
    #[schema(value_type = Option<String>)]
    payload: Option<Value>,
    /// Headers (Liquid values) added to the webhook's custom headers, replacing same-named ones.
    #[schema(value_type = Option<Object>)]
    headers: Option<Map<String, Value>>,
    /// Query parameters (Liquid values).
    #[schema(value_type = Option<Object>)]
    params: Option<Value>,
    /// The ticket to render with; a sample ticket when absent.
    ticket_id: Option<i64>,
}

/// Send one request now, synchronously, rendered against a ticket or a sample one.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", params(("id" = String, Path)),
    request_body = TestBody,
    responses((status = 200, body = TestResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn test_webhook(
    Admin(caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TestBody>,
) -> Result<axum::Json<TestResult>, ApiError> {
    let input = TestSend {
        payload: body.payload,
        params: body.params,
        headers: body.headers.unwrap_or_default(),
        ticket_id: body.ticket_id,
    };
    Ok(axum::Json(state.test_webhook(&caller, &id, input).await?))
}

/// The execution log of one webhook.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/invocations", tag = "invocations", params(("id" = String, Path), InvocationQuery),
    responses((status = 200, body = List<Invocation>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn webhook_invocations(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<InvocationQuery>,
) -> Result<axum::Json<List<Invocation>>, ApiError> {
    state.webhook(&id).await?;
    let mut filter: InvocationFilter = query.into_filter()?;
    filter.webhook_id = Some(id);
    list(&state, &filter).await
}

/// `POST /webhooks/{id}/replay`: which failed invocations to queue again.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    /// Failed invocations created at or after this time (RFC 3339); default: any.
    since: Option<String>,
    /// ...and at or before this time (RFC 3339); default: now.
    until: Option<String>,
    /// At most this many, oldest first: 1 to 10,000, default 10,000.
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct ReplayReport {
    /// New invocations queued, one per failed invocation.
    queued: u32,
    /// More failed invocations matched than `limit`: call again to queue the rest.
    more: bool,
}

/// Queue a replay of every failed invocation of this webhook in a time range, each once
/// (failed invocations already replayed are skipped), for instance after an outage.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/replay", tag = "invocations", params(("id" = String, Path)),
    request_body = ReplayBody,
    responses((status = 202, body = ReplayReport), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn replay_failed(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ReplayBody>,
) -> Result<(StatusCode, axum::Json<ReplayReport>), ApiError> {
    let since = time("since", body.since)?;
    let until = time("until", body.until)?;
    let limit = match body.limit {
        None => MAX_REPLAY,
        Some(n @ 1..=MAX_REPLAY) => n,
        Some(_) => return Err(Invalid::new("limit", format!("must be 1 to {MAX_REPLAY}")).into()),
    };
    let (queued, more) = state.replay_failed(&id, since, until, limit).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(ReplayReport { queued, more })))
}

const MAX_REPLAY: u32 = 10_000;
