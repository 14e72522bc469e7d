//! `/api/v1/triggers`, and the handlers automations share with them.

use axum::extract::State;
use axum::http::StatusCode;
use hookdesk_core::rules::Trigger;
use hookdesk_store::RuleSet;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::List;
use crate::app::PatchTicketBody;
use crate::app::{App, AppError, Checked, DryRun, DryRunResult, RuleInput, Saved};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Admin, Agent, ApiJson, ApiPath};

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
    /// On create and update only, when there are any: what saving could not settle, each
    /// `{field, message}` (a variable the sample ticket lacks, say).
    #[schema(value_type = Option<Vec<Object>>)]
    warnings: Value,
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
    pub(super) ids: Vec<i64>,
}

impl TriggerBody {
    fn input(&self) -> RuleInput<'_> {
        RuleInput {
            title: &self.title,
            description: &self.description,
            active: self.active.unwrap_or(true),
            position: self.position,
            conditions: &self.conditions,
            actions: &self.actions,
            actions_changed: true,
        }
    }
}

/// The handlers triggers and automations share; each route names its set.
pub(super) async fn create_in(set: RuleSet, state: &App, body: &TriggerBody) -> Result<Saved<Trigger>, ApiError> {
    let Checked { value, warnings } = state.check_rule(set, &body.input()).await?;
    Ok(Saved::new(state.create_rule(set, value).await?, warnings))
}

pub(super) async fn patch_in(
    set: RuleSet,
    state: &App,
    id: i64,
    body: PatchTriggerBody,
) -> Result<Saved<Trigger>, ApiError> {
    let current = state.rule(set, id).await?;
    let body_has_actions = body.actions.is_some();
    let conditions =
        body.conditions.unwrap_or_else(|| serde_json::to_value(&current.rule.conditions).unwrap_or(Value::Null));
    let actions = body.actions.unwrap_or_else(|| serde_json::to_value(&current.rule.actions).unwrap_or(Value::Null));
    let input = RuleInput {
        title: body.title.as_deref().unwrap_or(&current.rule.title),
        description: body.description.as_deref().unwrap_or(&current.description),
        active: body.active.unwrap_or(current.active),
        position: body.position,
        conditions: &conditions,
        actions: &actions,
        actions_changed: body_has_actions,
    };
    let Checked { value, warnings } = state.check_rule(set, &input).await?;
    Ok(Saved::new(state.update_rule(set, id, value).await?, warnings))
}

/// Triggers in the order they run.
#[utoipa::path(get, path = "/api/v1/triggers", tag = "triggers",
    responses((status = 200, body = List<TriggerView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_triggers(Agent(_caller): Agent, state: State<App>) -> Result<axum::Json<List<Trigger>>, ApiError> {
    Ok(axum::Json(List { data: state.rules_of(RuleSet::Triggers).await?, next_cursor: None }))
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
    Admin(_caller): Admin,
    state: State<App>,
    ApiJson(body): ApiJson<TriggerBody>,
) -> Result<(StatusCode, axum::Json<Saved<Trigger>>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(create_in(RuleSet::Triggers, &state, &body).await?)))
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
    Ok(axum::Json(state.rule(RuleSet::Triggers, id).await?))
}

/// Change a trigger; absent fields keep their value.
///
/// Its templates are rendered against a sample ticket: what fails whatever a ticket holds is a
/// 422; the answer's `warnings` (`[{field, message}]`, only when there are any) say what
/// could not be settled.
#[utoipa::path(patch, path = "/api/v1/triggers/{id}", tag = "triggers", params(("id" = i64, Path)), request_body = PatchTriggerBody,
    responses((status = 200, body = TriggerView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_trigger(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PatchTriggerBody>,
) -> Result<axum::Json<Saved<Trigger>>, ApiError> {
    Ok(axum::Json(patch_in(RuleSet::Triggers, &state, id, body).await?))
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
    state.delete_rule(RuleSet::Triggers, id).await?;
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
    Ok(axum::Json(List { data: state.order_rules(RuleSet::Triggers, &body.ids).await?, next_cursor: None }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunBody {
    ticket_id: i64,
    /// The proposed update, as a `PATCH /tickets/{id}` body; none to re-run the triggers on
    /// the ticket as it is.
    changes: Option<PatchTicketBody>,
    /// A draft trigger, tried with the active ones at its `position` (last without one).
    trigger: Option<TriggerBody>,
}

/// Which triggers an update would fire, in which order, with their changes and the webhook
/// requests they would queue. Nothing is saved or sent.
#[utoipa::path(post, path = "/api/v1/triggers/dry_run", tag = "triggers", request_body = DryRunBody,
    responses((status = 200, body = DryRunResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn dry_run(
    Admin(caller): Admin,
    state: State<App>,
    ApiJson(body): ApiJson<DryRunBody>,
) -> Result<axum::Json<DryRunResult>, ApiError> {
    let draft = match &body.trigger {
        Some(trigger) => {
            Some(state.check_rule(RuleSet::Triggers, &trigger.input()).await.map(|c| c.value).map_err(|e| match e {
                AppError::Invalid(invalid) => AppError::Invalid(invalid.within("trigger")),
                other => other,
            })?)
        }
        None => None,
    };
    let patch = body.changes.map(Into::into).unwrap_or_default();
    let run = DryRun { ticket_id: body.ticket_id, patch, draft };
    Ok(axum::Json(state.dry_run(&caller, run).await?))
}
