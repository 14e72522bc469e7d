//! `/api/v1/users` and their API tokens (admins only).

use axum::extract::State;
use axum::http::StatusCode;
use hookdesk_core::user::{Role, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{List, PageQuery, id_cursor, limit};
use crate::app::App;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Admin, ApiJson, ApiPath, ApiQuery};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, patch_user))
        .routes(routes!(create_token))
        .routes(routes!(delete_token))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    name: String,
    email: String,
    /// Default `agent`.
    role: Option<Role>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUserBody {
    name: Option<String>,
    email: Option<String>,
    role: Option<Role>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// What the token is for, to recognise it later. Default `api`.
    label: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    id: i64,
    /// Shown this once; only its hash is stored.
    token: String,
}

/// List users (requesters, agents and admins).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(PageQuery),
    responses((status = 200, body = List<User>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_users(
    Admin(_caller): Admin,
    state: State<App>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<axum::Json<List<User>>, ApiError> {
    let after = id_cursor(query.cursor.as_deref())?;
    let page = state.store.list_users(after, limit(query.limit)?).await?;
    Ok(axum::Json(List { data: page.data, next_cursor: page.next_cursor }))
}

/// Create a user. An email already in use is a 409.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserBody,
    responses((status = 201, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_user(
    Admin(_caller): Admin,
    state: State<App>,
    ApiJson(body): ApiJson<UserBody>,
) -> Result<(StatusCode, axum::Json<User>), ApiError> {
    let user = state.create_user(&body.name, &body.email, body.role.unwrap_or(Role::Agent)).await?;
    Ok((StatusCode::CREATED, axum::Json(user)))
}

/// Get a user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_user(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<i64>,
) -> Result<axum::Json<User>, ApiError> {
    Ok(axum::Json(state.user(id).await?))
}

/// Change a user's name, email or role. The last admin stays admin (409).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = PatchUserBody,
    responses((status = 200, body = User), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_user(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PatchUserBody>,
) -> Result<axum::Json<User>, ApiError> {
    Ok(axum::Json(state.update_user(id, body.name.as_deref(), body.email.as_deref(), body.role).await?))
}

/// Create an API token acting as this user (an agent or admin). The token is shown once.
#[utoipa::path(post, path = "/api/v1/users/{id}/tokens", tag = "users", params(("id" = i64, Path)), request_body = TokenBody,
    responses((status = 201, body = TokenView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_token(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<(StatusCode, axum::Json<TokenView>), ApiError> {
    let token = state.create_token(id, body.label.as_deref()).await?;
    Ok((StatusCode::CREATED, axum::Json(TokenView { id: token.id, token: token.token })))
}

/// Revoke a token.
#[utoipa::path(delete, path = "/api/v1/users/{id}/tokens/{token_id}", tag = "users",
    params(("id" = i64, Path), ("token_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_token(
    Admin(_caller): Admin,
    state: State<App>,
    ApiPath((id, token_id)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    state.delete_token(id, token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
