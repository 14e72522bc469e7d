//! `/api/v1/tickets`

use axum::http::StatusCode;
use hookdesk_core::audit::Audit;
use hookdesk_core::ticket::{Status, Tag, Ticket};
use hookdesk_store::TicketFilter;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{List, PageQuery, id_cursor, limit};
use crate::app::{App, CreateTicketBody, PatchTicketBody};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Agent, ApiJson, ApiPath, ApiQuery};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets, create_ticket))
        .routes(routes!(get_ticket, patch_ticket, delete_ticket))
        .routes(routes!(ticket_audits))
        .routes(routes!(apply_macro, preview_macro))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TicketQuery {
    status: Option<Status>,
    tag: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// List tickets, oldest first.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(TicketQuery),
    responses((status = 200, body = List<Ticket>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_tickets(
    Agent(_caller): Agent,
    state: axum::extract::State<App>,
    ApiQuery(query): ApiQuery<TicketQuery>,
) -> Result<axum::Json<List<Ticket>>, ApiError> {
    let after_id = id_cursor(query.cursor.as_deref())?;
    let tag = query.tag.map(|t| Tag::parse(&t).map_err(|e| e.within("tag"))).transpose()?;
    let filter = TicketFilter { status: query.status, tag, after_id, limit: limit(query.limit)? };
    let page = state.store.list_tickets(&filter).await?;
    Ok(axum::Json(List { data: page.data, next_cursor: page.next_cursor }))
}

/// Create a ticket. Triggers run on it before the response.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = CreateTicketBody,
    responses((status = 201, body = Ticket), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_ticket(
    Agent(actor): Agent,
    state: axum::extract::State<App>,
    ApiJson(body): ApiJson<CreateTicketBody>,
) -> Result<(StatusCode, axum::Json<Ticket>), ApiError> {
    let ticket = state.create_ticket(&actor, body.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(ticket)))
}

/// Get a ticket.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_ticket(
    Agent(_caller): Agent,
    state: axum::extract::State<App>,
    ApiPath(id): ApiPath<i64>,
) -> Result<axum::Json<Ticket>, ApiError> {
    Ok(axum::Json(state.ticket(id).await?))
}

/// Update a ticket: one update, triggers run on it before the response.
#[utoipa::path(patch, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = i64, Path)), request_body = PatchTicketBody,
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_ticket(
    Agent(actor): Agent,
    state: axum::extract::State<App>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PatchTicketBody>,
) -> Result<axum::Json<Ticket>, ApiError> {
    Ok(axum::Json(state.update_ticket(&actor, id, body.into()).await?))
}

/// Delete a ticket.
#[utoipa::path(delete, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_ticket(
    Agent(_caller): Agent,
    state: axum::extract::State<App>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.delete_ticket(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A ticket's audit trail, oldest first: each update with its changes, the rules that fired
/// and the invocations they queued.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/audits", tag = "tickets", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = List<Audit>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn ticket_audits(
    Agent(_caller): Agent,
    state: axum::extract::State<App>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<axum::Json<List<Audit>>, ApiError> {
    let after_id = id_cursor(query.cursor.as_deref())?;
    state.ticket(id).await?;
    let page = state.store.ticket_audits(id, after_id.unwrap_or(0), limit(query.limit)?).await?;
    Ok(axum::Json(List { data: page.data, next_cursor: page.next_cursor }))
}

/// Apply a macro to a ticket: one update (triggers run on it).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/macros/{macro_id}", tag = "macros",
    params(("id" = i64, Path), ("macro_id" = i64, Path)),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn apply_macro(
    Agent(actor): Agent,
    state: axum::extract::State<App>,
    ApiPath((id, macro_id)): ApiPath<(i64, i64)>,
) -> Result<axum::Json<Ticket>, ApiError> {
    Ok(axum::Json(state.apply_macro(&actor, id, macro_id, false).await?))
}

/// Preview a macro: the ticket as applying it would leave it (triggers included); nothing is
/// saved or sent.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/macros/{macro_id}", tag = "macros",
    params(("id" = i64, Path), ("macro_id" = i64, Path)),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn preview_macro(
    Agent(actor): Agent,
    state: axum::extract::State<App>,
    ApiPath((id, macro_id)): ApiPath<(i64, i64)>,
) -> Result<axum::Json<Ticket>, ApiError> {
    Ok(axum::Json(state.apply_macro(&actor, id, macro_id, true).await?))
}
