//! `/api/v1/triggers`

use axum::extract::State;
use axum::http::StatusCode;
use hookdesk_core::rules::Trigger;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::List;
use crate::app::App;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Admin, Agent, ApiJson, ApiPath};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_triggers, create_trigger)).routes(routes!(order_triggers)).routes(routes!(
        get_trigger,
        patch_trigger,
        delete_trigger
    ))
}

/// The contract's Trigger (the schema of its documents).
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON of core's Trigger for the OpenAPI document")]
pub struct TriggerView {
    id: i64,
    title: String,
    description: String,
    active: bool,
    position: i64,
    /// `{"all": [Condition], "any": [Condition]}`; a Condition is `{"field", "operator", "value"}`.
    #[schema(value_type = Object)]
    conditions: Value,
    /// `[{"field", "value"}]`.
    #[schema(value_type = Vec<Object>)]
    actions: Value,
    created_at: hookdesk_core::Timestamp,
    updated_at: hookdesk_core::Timestamp,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerBody {
    title: String,
    #[serde(default)]
    description: String,
    /// Default true.
    active: Option<bool>,
    /// A new trigger goes last unless it gives one.
    position: Option<i64>,
    #[schema(value_type = Object)]
    conditions: Value,
    #[schema(value_type = Vec<Object>)]
    actions: Value,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTriggerBody {
    title: Option<String>,
    description: Option<String>,
    active: Option<bool>,
    position: Option<i64>,
    #[schema(value_type = Option<Object>)]
    conditions: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    actions: Option<Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    ids: Vec<i64>,
}

/// Triggers in the order they run.
#[utoipa::path(get, path = "/api/v1/triggers", tag = "triggers",
    responses((status = 200, body = List<TriggerView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_triggers(Agent(_caller): Agent, state: State<App>) -> Result<axum::Json<List<Trigger>>, ApiError> {
    Ok(axum::Json(List { data: state.store.triggers().await?, next_cursor: None }))
}

/// Create a trigger. Conditions, actions and templates are checked now (422 naming the part).
#[utoipa::path(post, path = "/api/v1/triggers", tag = "triggers", request_body = TriggerBody,
    responses((status = 201, body = TriggerView), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_trigger(
    Admin(_caller): Admin,
    state: State<App>,
    ApiJson(body): ApiJson<TriggerBody>,
) -> Result<(StatusCode, axum::Json<Trigger>), ApiError> {
    let new = state
        .check_trigger(
            &body.title,
            &body.description,
            body.active.unwrap_or(true),
            body.position,
            &body.conditions,
            &body.actions,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(state.create_trigger(new).await?)))
}

/// Get a trigger.
#[utoipa::path(get, path = "/api/v1/triggers/{id}", tag = "triggers", params(("id" = i64, Path)),
    responses((status = 200, body = TriggerView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_trigger(
    Agent(_caller): Agent,
    state: State<App>,
    ApiPath(id): ApiPath<i64>,
) -> Result<axum::Json<Trigger>, ApiError> {
    Ok(axum::Json(state.trigger(id).await?))
}

/// Change a trigger; absent fields keep their value.
#[utoipa::path(patch, path = "/api/v1/triggers/{id}", tag = "triggers", params(("id" = i64, Path)), request_body = PatchTriggerBody,
    responses((status = 200, body = TriggerView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_trigger(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PatchTriggerBody>,
) -> Result<axum::Json<Trigger>, ApiError> {
    let current = state.trigger(id).await?;
    let conditions =
        body.conditions.unwrap_or_else(|| serde_json::to_value(&current.rule.conditions).unwrap_or(Value::Null));
    let actions = body.actions.unwrap_or_else(|| serde_json::to_value(&current.rule.actions).unwrap_or(Value::Null));
    let new = state
        .check_trigger(
            body.title.as_deref().unwrap_or(&current.rule.title),
            body.description.as_deref().unwrap_or(&current.description),
            body.active.unwrap_or(current.active),
            body.position,
            &conditions,
            &actions,
        )
        .await?;
    Ok(axum::Json(state.update_trigger(id, new).await?))
}

/// Delete a trigger.
#[utoipa::path(delete, path = "/api/v1/triggers/{id}", tag = "triggers", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_trigger(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.delete_trigger(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set the order triggers run in: `ids` lists every trigger once.
#[utoipa::path(put, path = "/api/v1/triggers/order", tag = "triggers", request_body = OrderBody,
    responses((status = 200, body = List<TriggerView>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn order_triggers(
    Admin(_caller): Admin,
    state: State<App>,
    ApiJson(body): ApiJson<OrderBody>,
) -> Result<axum::Json<List<Trigger>>, ApiError> {
    Ok(axum::Json(List { data: state.order_triggers(&body.ids).await?, next_cursor: None }))
}
