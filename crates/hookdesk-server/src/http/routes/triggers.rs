//! `/api/v1/triggers`, and the handlers automations share with them.

use axum::extract::State;
use axum::http::StatusCode;
use hookdesk_core::Page;
use hookdesk_core::id::RuleId;
use hookdesk_core::rules::{RuleSet, Trigger};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::Editable;
use crate::app::{Admin, Agent, App, DryRunBody, DryRunResult, OrderBody, PatchTriggerBody, Saved, TriggerBody};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, IfMatch, tagged};
use axum::response::Response;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_triggers, create_trigger))
        .routes(routes!(order_triggers))
        .routes(routes!(dry_run))
        .routes(routes!(get_trigger, patch_trigger, delete_trigger))
}

/// The contract's Trigger and Automation (the schema of their documents).
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON of core's Trigger for the OpenAPI document")]
pub struct TriggerView {
    #[schema(value_type = i64)]
    id: RuleId,
    title: String,
    description: String,
    active: bool,
    position: i64,
    #[schema(value_type = crate::app::rule_schemas::RuleConditions)]
    conditions: Value,
    #[schema(value_type = Vec<crate::app::rule_schemas::RuleAction>)]
    actions: Value,
    created_at: hookdesk_core::Timestamp,
    updated_at: hookdesk_core::Timestamp,
    /// On create and update only, when there are any: what saving could not settle, each
    /// `{field, message}` (a variable the sample ticket lacks, say).
    #[schema(value_type = Option<Vec<Object>>)]
    warnings: Value,
}

/// The handlers triggers and automations share; each route names its set.
pub(super) async fn create_in(
    set: RuleSet,
    caller: &Admin,
    state: &App,
    body: TriggerBody,
) -> Result<(StatusCode, axum::Json<Saved<Trigger>>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(state.create_rule(caller, set, body).await?)))
}

/// Triggers in the order they run.
#[utoipa::path(get, path = "/api/v1/triggers", tag = "triggers",
    responses((status = 200, body = Page<TriggerView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_triggers(caller: Agent, state: State<App>) -> Result<axum::Json<Page<Trigger>>, ApiError> {
    Ok(axum::Json(Page::whole(state.rules(&caller, RuleSet::Triggers).await?)))
}

/// Create a trigger. Conditions, actions and templates are checked now (422 naming the part).
///
/// Its templates are rendered against a sample ticket: what fails whatever a ticket holds is a
/// 422; the answer's `warnings` (`[{field, message}]`, only when there are any) say what
/// could not be settled.
#[utoipa::path(post, path = "/api/v1/triggers", tag = "triggers", request_body = TriggerBody,
    responses((status = 201, body = TriggerView), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_trigger(
    caller: Admin,
    state: State<App>,
    ApiJson(body): ApiJson<TriggerBody>,
) -> Result<(StatusCode, axum::Json<Saved<Trigger>>), ApiError> {
    create_in(RuleSet::Triggers, &caller, &state, body).await
}

/// Get a trigger.
#[utoipa::path(get, path = "/api/v1/triggers/{id}", tag = "triggers", params(("id" = i64, Path)),
    responses((status = 200, body = TriggerView, headers(("ETag" = String, description = "The version: send it as If-Match to change or delete this version only"))), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_trigger(caller: Agent, state: State<App>, ApiPath(id): ApiPath<RuleId>) -> Result<Response, ApiError> {
    Ok(tagged(&state.rule(&caller, RuleSet::Triggers, id).await?))
}

/// Change a trigger; absent fields keep their value.
///
/// Its templates are rendered against a sample ticket: what fails whatever a ticket holds is a
/// 422; the answer's `warnings` (`[{field, message}]`, only when there are any) say what
/// could not be settled.
#[utoipa::path(patch, path = "/api/v1/triggers/{id}", tag = "triggers", params(("id" = i64, Path), ("If-Match" = Option<String>, Header, description = "The ETag a GET answered: refused (412) when the object changed since")), request_body = PatchTriggerBody,
    responses((status = 200, body = TriggerView), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_trigger(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<RuleId>,
    IfMatch(expected): IfMatch,
    ApiJson(body): ApiJson<PatchTriggerBody>,
) -> Result<Response, ApiError> {
    state.expect_version(&caller.as_agent(), Editable::Rule(RuleSet::Triggers, id), expected.as_deref()).await?;
    Ok(tagged(&state.update_rule(&caller, RuleSet::Triggers, id, body).await?))
}

/// Delete a trigger.
#[utoipa::path(delete, path = "/api/v1/triggers/{id}", tag = "triggers", params(("id" = i64, Path), ("If-Match" = Option<String>, Header, description = "The ETag a GET answered: refused (412) when the object changed since")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_trigger(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<RuleId>,
    IfMatch(expected): IfMatch,
) -> Result<StatusCode, ApiError> {
    state.expect_version(&caller.as_agent(), Editable::Rule(RuleSet::Triggers, id), expected.as_deref()).await?;
    state.delete_rule(&caller, RuleSet::Triggers, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set the order triggers run in: `ids` lists every trigger once.
#[utoipa::path(put, path = "/api/v1/triggers/order", tag = "triggers", request_body = OrderBody,
    responses((status = 200, body = Page<TriggerView>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn order_triggers(
    caller: Admin,
    state: State<App>,
    ApiJson(body): ApiJson<OrderBody>,
) -> Result<axum::Json<Page<Trigger>>, ApiError> {
    Ok(axum::Json(Page::whole(state.order_rules(&caller, RuleSet::Triggers, body).await?)))
}

/// Which triggers an update would fire, in which order, with their changes and the webhook
/// requests they would queue. Nothing is saved or sent.
#[utoipa::path(post, path = "/api/v1/triggers/dry_run", tag = "triggers", request_body = DryRunBody,
    responses((status = 200, body = DryRunResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn dry_run(
    caller: Admin,
    state: State<App>,
    ApiJson(body): ApiJson<DryRunBody>,
) -> Result<axum::Json<DryRunResult>, ApiError> {
    Ok(axum::Json(state.dry_run(&caller, body).await?))
}
