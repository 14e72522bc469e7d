//! `/api/v1/users` and their API tokens (admins only).

use axum::extract::State;
use axum::http::StatusCode;
use hookdesk_core::Page;
use hookdesk_core::id::{TokenId, UserId};
use hookdesk_core::user::User;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{Admin, App, LinkBody, NewLink, NewToken, PatchUserBody, SearchQuery, TokenBody, UserBody};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, patch_user))
        .routes(routes!(create_token))
        .routes(routes!(delete_token))
        .routes(routes!(create_password_link))
}

/// List users (requesters, agents and admins).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(SearchQuery),
    responses((status = 200, body = Page<User>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_users(
    caller: Admin,
    state: State<App>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<axum::Json<Page<User>>, ApiError> {
    Ok(axum::Json(state.users(&caller, query).await?))
}

/// Create a user. An email already in use is a 409.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserBody,
    responses((status = 201, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_user(
    caller: Admin,
    state: State<App>,
    ApiJson(body): ApiJson<UserBody>,
) -> Result<(StatusCode, axum::Json<User>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(state.create_user(&caller, body).await?)))
}

/// Get a user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_user(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<UserId>,
) -> Result<axum::Json<User>, ApiError> {
    Ok(axum::Json(state.user(&caller, id).await?))
}

/// Change a user's name, email or role. The last admin stays admin (409).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = PatchUserBody,
    responses((status = 200, body = User), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_user(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<PatchUserBody>,
) -> Result<axum::Json<User>, ApiError> {
    Ok(axum::Json(state.update_user(&caller, id, body).await?))
}

/// Create an API token acting as this user (an agent or admin). The token is shown once.
#[utoipa::path(post, path = "/api/v1/users/{id}/tokens", tag = "users", params(("id" = i64, Path)), request_body = TokenBody,
    responses((status = 201, body = NewToken), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_token(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<(StatusCode, axum::Json<NewToken>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(state.create_token(&caller, id, body).await?)))
}

/// Revoke a token.
#[utoipa::path(delete, path = "/api/v1/users/{id}/tokens/{token_id}", tag = "users",
    params(("id" = i64, Path), ("token_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_token(
    caller: Admin,
    state: State<App>,
    ApiPath((id, token_id)): ApiPath<(UserId, TokenId)>,
) -> Result<StatusCode, ApiError> {
    state.delete_token(&caller, id, token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create an invitation or reset link for this user (an agent or admin). Opening it shows a
/// page that sets their password (at least 10 characters), then signs them in. The link is
/// shown this once (only its hash is stored), works once, expires (an invitation after 7
/// days, a reset after 1 hour), replaces the user's earlier link, and stops working if the
/// user is made an end user. An end user is a 422.
#[utoipa::path(post, path = "/api/v1/users/{id}/password_links", tag = "users", params(("id" = i64, Path)), request_body = LinkBody,
    responses((status = 201, body = NewLink), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_password_link(
    caller: Admin,
    state: State<App>,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<LinkBody>,
) -> Result<(StatusCode, axum::Json<NewLink>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(state.create_password_link(&caller, id, body).await?)))
}
