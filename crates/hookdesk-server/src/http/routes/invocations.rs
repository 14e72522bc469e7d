//! `/api/v1/invocations`: the execution log.

use axum::extract::State;
use axum::http::StatusCode;
use hookdesk_core::{Invalid, Timestamp};
use hookdesk_store::{Invocation, InvocationFilter, InvocationStatus};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{List, limit};
use crate::app::App;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Admin, ApiPath, ApiQuery};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_invocations))
        .routes(routes!(get_invocation))
        .routes(routes!(replay_invocation))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InvocationQuery {
    #[param(value_type = Option<String>)]
    status: Option<InvocationStatus>,
    ticket_id: Option<i64>,
    webhook_id: Option<String>,
    /// RFC 3339.
    since: Option<String>,
    /// RFC 3339.
    until: Option<String>,
    /// Text in error messages or codes (`timeout`, `connection_refused`), any case; attempts' too.
    q: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub fn time(field: &str, text: Option<String>) -> Result<Option<Timestamp>, Invalid> {
    text.map(|t| {
        Timestamp::parse_rfc3339(&t)
            .ok_or_else(|| Invalid::new(field, "must be an RFC 3339 time like 2026-01-31T12:00:00Z"))
    })
    .transpose()
}

impl InvocationQuery {
    pub fn into_filter(self) -> Result<InvocationFilter, ApiError> {
        Ok(InvocationFilter {
            status: self.status,
            ticket_id: self.ticket_id,
            webhook_id: self.webhook_id,
            since: time("since", self.since)?,
            until: time("until", self.until)?,
            q: self.q.filter(|q| !q.trim().is_empty()),
            before_id: self.cursor,
            limit: limit(self.limit)?,
        })
    }
}

pub async fn list(app: &App, filter: &InvocationFilter) -> Result<axum::Json<List<Invocation>>, ApiError> {
    let page = app.store.list_invocations(filter).await?;
    Ok(axum::Json(List { data: page.data, next_cursor: page.next_cursor }))
}

/// The execution log, newest first.
#[utoipa::path(get, path = "/api/v1/invocations", tag = "invocations", params(InvocationQuery),
    responses((status = 200, body = List<Invocation>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_invocations(
    Admin(_caller): Admin,
    state: State<App>,
    ApiQuery(query): ApiQuery<InvocationQuery>,
) -> Result<axum::Json<List<Invocation>>, ApiError> {
    list(&state, &query.into_filter()?).await
}

/// One invocation with its attempts.
#[utoipa::path(get, path = "/api/v1/invocations/{id}", tag = "invocations", params(("id" = String, Path)),
    responses((status = 200, body = Invocation), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_invocation(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<Invocation>, ApiError> {
    Ok(axum::Json(state.invocation(&id).await?))
}

/// Queue the same request again, as a new invocation.
#[utoipa::path(post, path = "/api/v1/invocations/{id}/replay", tag = "invocations", params(("id" = String, Path)),
    responses((status = 201, body = Invocation), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn replay_invocation(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, axum::Json<Invocation>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(state.replay_invocation(&id).await?)))
}
