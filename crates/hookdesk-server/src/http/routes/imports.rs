//! `/api/v1/imports/zendesk`: Zendesk's rules and webhooks, brought over.

use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{Admin, App, ImportReport};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(import_zendesk))
}

/// `POST /imports/zendesk`: whether to write.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Only report: create nothing.
    #[serde(default)]
    dry_run: bool,
}

/// Import from Zendesk: a body of any of `webhooks`, `triggers`, `automations`, `macros` as
/// Zendesk's list endpoints return them (several pages joined), and `credentials` by Zendesk
/// webhook id (`{"01H...": {"token": "..."}}`: Zendesk never exports a secret). What maps is
/// created in one transaction (rules after the server's own, names that are taken get ` (2)`);
/// what does not is skipped or imported inactive, and the report says exactly what and why.
/// A mapped object the checks refuse fails the whole import (422 naming it), changing nothing.
#[utoipa::path(post, path = "/api/v1/imports/zendesk", tag = "config", params(ImportQuery),
    request_body(content = Object, description = "Zendesk's lists, as its API returns them"),
    responses(
        (status = 200, body = ImportReport, description = "What was created, skipped and why"),
        (status = 401, body = ErrorBody, description = "No valid token"),
        (status = 403, body = ErrorBody, description = "Not an admin"),
        (status = 422, body = ErrorBody, description = "A list that is not Zendesk's, or an object the checks refuse"),
    ),
    security(("bearer" = [])))]
async fn import_zendesk(
    caller: Admin,
    state: State<App>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    ApiJson(export): ApiJson<Value>,
) -> Result<axum::Json<ImportReport>, ApiError> {
    Ok(axum::Json(state.import_zendesk(&caller, &export, query.dry_run).await?))
}
