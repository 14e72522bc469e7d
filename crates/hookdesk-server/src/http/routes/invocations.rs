//! `/api/v1/invocations`: the execution log.

use axum::extract::State;
use axum::http::StatusCode;
use hookdesk_core::Page;
use hookdesk_core::id::InvocationId;
use hookdesk_core::invocation::Invocation;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{Admin, App, InvocationQuery};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiPath, ApiQuery};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_invocations))
        .routes(routes!(get_invocation))
        .routes(routes!(replay_invocation))
}

/// The execution log, newest first.
#[utoipa::path(get, path = "/api/v1/invocations", tag = "invocations", params(InvocationQuery),
    responses((status = 200, body = Page<Invocation>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_invocations(
    caller: Admin,
    state: State<App>,
    ApiQuery(query): ApiQuery<InvocationQuery>,
) -> Result<axum::Json<Page<Invocation>>, ApiError> {
    Ok(axum::Json(state.invocations(&caller, query).await?))
}

/// One invocation with its attempts.
#[utoipa::path(get, path = "/api/v1/invocations/{id}", tag = "invocations", params(("id" = String, Path)),
    responses((status = 200, body = Invocation), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_invocation(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<InvocationId>,
) -> Result<axum::Json<Invocation>, ApiError> {
    Ok(axum::Json(state.invocation(&caller, &id).await?))
}

/// Queue the same request again, as a new invocation.
#[utoipa::path(post, path = "/api/v1/invocations/{id}/replay", tag = "invocations", params(("id" = String, Path)),
    responses((status = 201, body = Invocation), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn replay_invocation(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<InvocationId>,
) -> Result<(StatusCode, axum::Json<Invocation>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(state.replay_invocation(&caller, &id).await?)))
}
