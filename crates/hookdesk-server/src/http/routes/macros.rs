//! `/api/v1/macros`. Applying one is a ticket route: `POST /tickets/{id}/macros/{macro_id}`.

use axum::extract::State;
use axum::http::StatusCode;
use hookdesk_core::Page;
use hookdesk_core::id::MacroId;
use hookdesk_core::rules::Macro;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::Editable;
use crate::app::{Agent, App, MacroBody, PageQuery, PatchMacroBody, Saved};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, IfMatch, tagged};
use axum::response::Response;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_macros, create_macro)).routes(routes!(
        get_macro,
        patch_macro,
        delete_macro
    ))
}

/// The contract's Macro (the schema of its documents).
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON of core's Macro for the OpenAPI document")]
pub struct MacroView {
    #[schema(value_type = i64)]
    id: MacroId,
    title: String,
    description: String,
    active: bool,
    /// `[{"field", "value"}]`, as in triggers; `notify_webhook` is not allowed.
    #[schema(value_type = Vec<crate::app::rule_schemas::MacroAction>)]
    actions: Value,
    created_at: hookdesk_core::Timestamp,
    updated_at: hookdesk_core::Timestamp,
}

/// Macros, by title, a page at a time (`limit`, default 50, at most 500; a page also ends
/// once it holds 4 MiB of actions; `next_cursor` continues).
#[utoipa::path(get, path = "/api/v1/macros", tag = "macros", params(PageQuery),
    responses((status = 200, body = Page<MacroView>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_macros(
    caller: Agent,
    state: State<App>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<axum::Json<Page<Macro<Value>>>, ApiError> {
    Ok(axum::Json(state.macros(&caller, query).await?))
}

/// Create a macro (agents and admins).
///
/// Its templates are rendered against a sample ticket: what fails whatever a ticket holds is a
/// 422; the answer's `warnings` (`[{field, message}]`, only when there are any) say what
/// could not be settled.
#[utoipa::path(post, path = "/api/v1/macros", tag = "macros", request_body = MacroBody,
    responses((status = 201, body = MacroView), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_macro(
    caller: Agent,
    state: State<App>,
    ApiJson(body): ApiJson<MacroBody>,
) -> Result<(StatusCode, axum::Json<Saved<Macro>>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(state.create_macro(&caller, body).await?)))
}

/// Get a macro.
#[utoipa::path(get, path = "/api/v1/macros/{id}", tag = "macros", params(("id" = i64, Path)),
    responses((status = 200, body = MacroView, headers(("ETag" = String, description = "The version: send it as If-Match to change or delete this version only"))), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_macro(caller: Agent, state: State<App>, ApiPath(id): ApiPath<MacroId>) -> Result<Response, ApiError> {
    Ok(tagged(&state.macro_by_id(&caller, id).await?))
}

/// Change a macro; absent fields keep their value.
///
/// Its templates are rendered against a sample ticket: what fails whatever a ticket holds is a
/// 422; the answer's `warnings` (`[{field, message}]`, only when there are any) say what
/// could not be settled.
#[utoipa::path(patch, path = "/api/v1/macros/{id}", tag = "macros", params(("id" = i64, Path), ("If-Match" = Option<String>, Header, description = "The ETag a GET answered: refused (412) when the object changed since")), request_body = PatchMacroBody,
    responses((status = 200, body = MacroView), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_macro(
    caller: Agent,
    state: State<App>,
    ApiPath(id): ApiPath<MacroId>,
    IfMatch(expected): IfMatch,
    ApiJson(body): ApiJson<PatchMacroBody>,
) -> Result<Response, ApiError> {
    state.expect_version(&caller, Editable::Macro(id), expected.as_deref()).await?;
    Ok(tagged(&state.update_macro(&caller, id, body).await?))
}

/// Delete a macro.
#[utoipa::path(delete, path = "/api/v1/macros/{id}", tag = "macros", params(("id" = i64, Path), ("If-Match" = Option<String>, Header, description = "The ETag a GET answered: refused (412) when the object changed since")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_macro(
    caller: Agent,
    state: State<App>,
    ApiPath(id): ApiPath<MacroId>,
    IfMatch(expected): IfMatch,
) -> Result<StatusCode, ApiError> {
    state.expect_version(&caller, Editable::Macro(id), expected.as_deref()).await?;
    state.delete_macro(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
