//! `/api/v1/tickets`

use axum::http::StatusCode;
use hookdesk_core::audit::Audit;
use hookdesk_core::ticket::Ticket;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{Agent, App, CreateTicketBody, PageQuery, PatchTicketBody, TicketQuery};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use hookdesk_core::Page;
use hookdesk_core::id::{MacroId, TicketId};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets, create_ticket))
        .routes(routes!(get_ticket, patch_ticket, delete_ticket))
        .routes(routes!(ticket_audits))
        .routes(routes!(apply_macro, preview_macro))
}

/// List tickets, oldest first.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(TicketQuery),
    responses((status = 200, body = Page<Ticket>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_tickets(
    caller: Agent,
    state: axum::extract::State<App>,
    ApiQuery(query): ApiQuery<TicketQuery>,
) -> Result<axum::Json<Page<Ticket>>, ApiError> {
    Ok(axum::Json(state.tickets(&caller, query).await?))
}

/// Create a ticket. Triggers run on it before the response.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = CreateTicketBody,
    responses((status = 201, body = Ticket), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_ticket(
    caller: Agent,
    state: axum::extract::State<App>,
    ApiJson(body): ApiJson<CreateTicketBody>,
) -> Result<(StatusCode, axum::Json<Ticket>), ApiError> {
    let ticket = state.create_ticket(&caller, body).await?;
    Ok((StatusCode::CREATED, axum::Json(ticket)))
}

/// Get a ticket.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_ticket(
    caller: Agent,
    state: axum::extract::State<App>,
    ApiPath(id): ApiPath<TicketId>,
) -> Result<axum::Json<Ticket>, ApiError> {
    Ok(axum::Json(state.ticket(&caller, id).await?))
}

/// Update a ticket: one update, triggers run on it before the response.
#[utoipa::path(patch, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = i64, Path)), request_body = PatchTicketBody,
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_ticket(
    caller: Agent,
    state: axum::extract::State<App>,
    ApiPath(id): ApiPath<TicketId>,
    ApiJson(body): ApiJson<PatchTicketBody>,
) -> Result<axum::Json<Ticket>, ApiError> {
    Ok(axum::Json(state.update_ticket(&caller, id, body).await?))
}

/// Delete a ticket.
#[utoipa::path(delete, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_ticket(
    caller: Agent,
    state: axum::extract::State<App>,
    ApiPath(id): ApiPath<TicketId>,
) -> Result<StatusCode, ApiError> {
    state.delete_ticket(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A ticket's audit trail, oldest first: each update with its changes, the rules that fired
/// and the invocations they queued.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/audits", tag = "tickets", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = Page<Audit>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn ticket_audits(
    caller: Agent,
    state: axum::extract::State<App>,
    ApiPath(id): ApiPath<TicketId>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<axum::Json<Page<Audit>>, ApiError> {
    Ok(axum::Json(state.ticket_audits(&caller, id, query).await?))
}

/// Apply a macro to a ticket: one update (triggers run on it).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/macros/{macro_id}", tag = "macros",
    params(("id" = i64, Path), ("macro_id" = i64, Path)),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn apply_macro(
    caller: Agent,
    state: axum::extract::State<App>,
    ApiPath((id, macro_id)): ApiPath<(TicketId, MacroId)>,
) -> Result<axum::Json<Ticket>, ApiError> {
    Ok(axum::Json(state.apply_macro(&caller, id, macro_id).await?))
}

/// Preview a macro: the ticket as applying it would leave it (triggers included); nothing is
/// saved or sent.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/macros/{macro_id}", tag = "macros",
    params(("id" = i64, Path), ("macro_id" = i64, Path)),
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn preview_macro(
    caller: Agent,
    state: axum::extract::State<App>,
    ApiPath((id, macro_id)): ApiPath<(TicketId, MacroId)>,
) -> Result<axum::Json<Ticket>, ApiError> {
    Ok(axum::Json(state.preview_macro(&caller, id, macro_id).await?))
}
