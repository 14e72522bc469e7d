//! `/api/v1/automations`: triggers' shape, run on a schedule.

use axum::extract::State;
use axum::http::StatusCode;
use hookdesk_core::Page;
use hookdesk_core::id::RuleId;
use hookdesk_core::rules::{Automation, RuleSet};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::triggers::{TriggerView, create_in};
use crate::app::Editable;
use crate::app::{Admin, Agent, App, AutomationRun, OrderBody, PatchTriggerBody, Saved, TriggerBody};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, IfMatch, tagged};
use axum::response::Response;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_automations, create_automation))
        .routes(routes!(order_automations))
        .routes(routes!(run_automations))
        .routes(routes!(get_automation, patch_automation, delete_automation))
}

/// Automations in the order they run.
#[utoipa::path(get, path = "/api/v1/automations", tag = "automations",
    responses((status = 200, body = Page<TriggerView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_automations(caller: Agent, state: State<App>) -> Result<axum::Json<Page<Automation>>, ApiError> {
    Ok(axum::Json(Page::whole(state.rules(&caller, RuleSet::Automations).await?)))
}

/// Create an automation: it needs an `hours_since_*` condition in `all`, and an `all`
/// condition its own actions make false (so it fires once per ticket), else 422.
///
/// Its templates are rendered against a sample ticket: what fails whatever a ticket holds is a
/// 422; the answer's `warnings` (`[{field, message}]`, only when there are any) say what
/// could not be settled.
#[utoipa::path(post, path = "/api/v1/automations", tag = "automations", request_body = TriggerBody,
    responses((status = 201, body = TriggerView), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_automation(
    caller: Admin,
    state: State<App>,
    ApiJson(body): ApiJson<TriggerBody>,
) -> Result<(StatusCode, axum::Json<Saved<Automation>>), ApiError> {
    create_in(RuleSet::Automations, &caller, &state, body).await
}

/// Get an automation.
#[utoipa::path(get, path = "/api/v1/automations/{id}", tag = "automations", params(("id" = i64, Path)),
    responses((status = 200, body = TriggerView, headers(("ETag" = String, description = "The version: send it as If-Match to change or delete this version only"))), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_automation(caller: Agent, state: State<App>, ApiPath(id): ApiPath<RuleId>) -> Result<Response, ApiError> {
    Ok(tagged(&state.rule(&caller, RuleSet::Automations, id).await?))
}

/// Change an automation; absent fields keep their value.
///
/// Its templates are rendered against a sample ticket: what fails whatever a ticket holds is a
/// 422; the answer's `warnings` (`[{field, message}]`, only when there are any) say what
/// could not be settled.
#[utoipa::path(patch, path = "/api/v1/automations/{id}", tag = "automations", params(("id" = i64, Path), ("If-Match" = Option<String>, Header, description = "The ETag a GET answered: refused (412) when the object changed since")), request_body = PatchTriggerBody,
    responses((status = 200, body = TriggerView), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_automation(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<RuleId>,
    IfMatch(expected): IfMatch,
    ApiJson(body): ApiJson<PatchTriggerBody>,
) -> Result<Response, ApiError> {
    state.expect_version(&caller.as_agent(), Editable::Rule(RuleSet::Automations, id), expected.as_deref()).await?;
    Ok(tagged(&state.update_rule(&caller, RuleSet::Automations, id, body).await?))
}

/// Delete an automation.
#[utoipa::path(delete, path = "/api/v1/automations/{id}", tag = "automations", params(("id" = i64, Path), ("If-Match" = Option<String>, Header, description = "The ETag a GET answered: refused (412) when the object changed since")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_automation(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<RuleId>,
    IfMatch(expected): IfMatch,
) -> Result<StatusCode, ApiError> {
    state.expect_version(&caller.as_agent(), Editable::Rule(RuleSet::Automations, id), expected.as_deref()).await?;
    state.delete_rule(&caller, RuleSet::Automations, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set the order automations run in: `ids` lists every automation once.
#[utoipa::path(put, path = "/api/v1/automations/order", tag = "automations", request_body = OrderBody,
    responses((status = 200, body = Page<TriggerView>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn order_automations(
    caller: Admin,
    state: State<App>,
    ApiJson(body): ApiJson<OrderBody>,
) -> Result<axum::Json<Page<Automation>>, ApiError> {
    Ok(axum::Json(Page::whole(state.order_rules(&caller, RuleSet::Automations, body).await?)))
}

/// Run the automations now, on this node, rather than at the next scheduled run.
#[utoipa::path(post, path = "/api/v1/automations/run", tag = "automations",
    responses((status = 200, body = AutomationRun), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn run_automations(caller: Admin, state: State<App>) -> Result<axum::Json<AutomationRun>, ApiError> {
    Ok(axum::Json(state.run_automations(&caller).await?))
}
