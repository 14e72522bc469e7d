//! `/api/v1/config`: the configuration as one document (JSON, or YAML with `Accept:
//! application/yaml`), and a document made the configuration.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{Admin, App, ApplyOptions, ConfigPlan};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiQuery, parse_json};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(export_config, apply_config))
}

/// Whether a media type is YAML's.
fn is_yaml(media: &str) -> bool {
    matches!(media, "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml")
}

fn media(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers.get(name).and_then(|v| v.to_str().ok()).map(hookdesk_core::text::media_type).unwrap_or_default()
}

/// The configuration: `webhooks`, `triggers` (in the order they run), `automations`,
/// `macros` and `inbound_webhooks`, each object keyed by its name (rules and macros by their
/// title), referring to webhooks by name; secrets as `{"env": "NAME"}`. YAML with `Accept:
/// application/yaml`. Names must be unique in each list (409 otherwise).
#[utoipa::path(get, path = "/api/v1/config", tag = "config",
    responses(
        (status = 200, description = "The configuration document (YAML with Accept: application/yaml)", content((Object = "application/json"), (Object = "application/yaml"))),
        (status = 401, body = ErrorBody, description = "No valid token"),
        (status = 403, body = ErrorBody, description = "Not an admin"),
        (status = 409, body = ErrorBody, description = "Two objects of one list share a name"),
    ),
    security(("bearer" = [])))]
async fn export_config(caller: Admin, state: State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    let document = state.export_config(&caller).await?;
    let accepted = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if accepted.split(',').any(|part| is_yaml(&hookdesk_core::text::media_type(part))) {
        let yaml = yaml_serde::to_string(&document)
            .map_err(|e| ApiError::from(crate::app::AppError::Internal(format!("the document as YAML: {e}"))))?;
        return Ok(([(header::CONTENT_TYPE, "application/yaml")], yaml).into_response());
    }
    Ok(axum::Json(document).into_response())
}

/// `PUT /config`: how to apply the document.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApplyQuery {
    /// Only answer the plan: change nothing.
    #[serde(default)]
    dry_run: bool,
    /// Delete what a list of the document leaves out (a list it does not hold is left alone).
    #[serde(default)]
    prune: bool,
}

/// Makes the configuration what the document (JSON, or YAML with `Content-Type:
/// application/yaml`) says: answers the plan (each object created, changed with the fields
/// that change, or deleted) and applies it in one transaction, unless `dry_run`. Secrets
/// `{"env": "NAME"}` are read from the server's environment. Applying the same document twice
/// plans nothing the second time. A document that does not hold together is a 422 naming the
/// object and field, and changes nothing.
#[utoipa::path(put, path = "/api/v1/config", tag = "config", params(ApplyQuery),
    request_body(description = "A configuration document", content((Object = "application/json"), (Object = "application/yaml"))),
    responses(
        (status = 200, body = ConfigPlan, description = "The plan, and whether it was applied"),
        (status = 400, body = ErrorBody, description = "The body is not JSON or YAML"),
        (status = 401, body = ErrorBody, description = "No valid token"),
        (status = 403, body = ErrorBody, description = "Not an admin"),
        (status = 409, body = ErrorBody, description = "Two objects of one list share a name on the server"),
        (status = 415, body = ErrorBody, description = "Neither JSON nor YAML"),
        (status = 422, body = ErrorBody, description = "An object or field that does not hold"),
    ),
    security(("bearer" = [])))]
async fn apply_config(
    caller: Admin,
    state: State<App>,
    ApiQuery(query): ApiQuery<ApplyQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<ConfigPlan>, ApiError> {
    let content_type = media(&headers, header::CONTENT_TYPE);
    let document: Value = if is_yaml(&content_type) {
        // YAML's parser takes a second a MiB: off the threads that answer requests.
        let parsed = tokio::task::spawn_blocking(move || crate::http::extract::parse_yaml(&body)).await;
        parsed.map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_yaml", "the body could not be read as YAML")
        })??
    } else if hookdesk_core::text::is_json(&content_type) {
        parse_json(&body)?
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the document as JSON (Content-Type: application/json) or YAML (application/yaml)",
        ));
    };
    if let Some(field) = hookdesk_core::text::nul_path(&document) {
        return Err(hookdesk_core::Invalid::new(field, "must not contain NUL (\\u0000) characters").into());
    }
    let options = ApplyOptions { dry_run: query.dry_run, prune: query.prune, append: false };
    let environment = |name: &str| std::env::var(name).ok();
    Ok(axum::Json(state.apply_config(&caller, &document, options, &environment).await?))
}
