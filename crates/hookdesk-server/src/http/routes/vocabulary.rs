//! `/api/v1/rules/vocabulary`: what conditions and actions rules may say, for clients and
//! editors (Zendesk serves the same to its own editor as `triggers/definitions`).

use axum::extract::State;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{Agent, App};
use crate::http::error::ErrorBody;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(get_vocabulary))
}

/// The rule vocabulary: for `trigger`, `automation` and `macro`, the condition fields (`field`,
/// the JSON Schema of their `value`, their `operators`, a `description`) and the actions
/// (`field`, the JSON Schema of their `value`, a `description`); and the `operators`, each
/// with whether it takes a value. `custom_fields.KEY` stands for any custom field.
#[utoipa::path(get, path = "/api/v1/rules/vocabulary", tag = "triggers",
    responses((status = 200, body = Object, description = "The vocabulary"), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_vocabulary(caller: Agent, state: State<App>) -> axum::Json<Value> {
    axum::Json(state.rule_vocabulary(&caller))
}
