//! Users and their API tokens: the list, a new user, a user's role, and tokens issued (shown
//! once) and revoked.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hookdesk_core::id::{TokenId, UserId};
use hookdesk_core::user::User;
use serde_json::{Map, Value};

use super::forms::put_text;
use super::path::UiPath;
use super::{Chrome, Moment, Submitted, UiError, Viewer, api_name, render};
use crate::app::{
    App, AppError, LinkBody, LinkKind, NewLink, PatchUserBody, SearchQuery, TokenBody, UserBody, from_json,
};

struct Row {
    id: String,
    name: String,
    email: String,
    role: String,
    created_at: Moment,
}

impl Row {
    fn new(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            name: user.name.clone(),
            email: user.email.clone(),
            role: api_name(&user.role),
            created_at: Moment(user.created_at),
        }
    }

    pub fn role_is(&self, option: &str) -> bool {
        self.role == option
    }
}

#[derive(Template)]
#[template(path = "ui/users.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    q: String,
    next_page: Option<String>,
    error: Option<String>,
}

async fn list_page(app: &App, viewer: &Viewer, filter: UserFilter, error: Option<String>) -> Result<Response, UiError> {
    let admin = viewer.admin()?;
    let UserFilter { cursor, q } = filter;
    let page = app.users(&admin, SearchQuery { limit: Some(super::PER_PAGE), cursor, q: Some(q.clone()) }).await?;
    let rows = page.data.iter().map(Row::new).collect();
    let next_page = page.next_cursor.map(|cursor| {
        form_urlencoded::Serializer::new(String::new()).append_pair("q", &q).append_pair("cursor", &cursor).finish()
    });
    Ok(render(&ListPage { chrome: viewer.chrome("Users"), rows, q, next_page, error }))
}

/// `?q=`: the users whose name or email holds it (any case); `?cursor=`: the page after.
#[derive(Debug, Default, serde::Deserialize)]
pub struct UserFilter {
    cursor: Option<String>,
    #[serde(default)]
    q: String,
}

/// `GET /ui/users[?q=][&cursor=]`.
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    super::forms::PageParams(filter): super::forms::PageParams<UserFilter>,
) -> Result<Response, UiError> {
    list_page(&app, &viewer, filter, None).await
}

/// `POST /ui/users`: a new user.
pub async fn create(State(app): State<App>, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let mut body = Map::new();
    for key in ["name", "email", "role"] {
        body.insert(key.into(), Value::String(form.fields.get(key).unwrap_or_default().trim().to_owned()));
    }
    let created = match from_json::<UserBody>(Value::Object(body)) {
        Ok(body) => app.create_user(&admin, body).await,
        Err(invalid) => Err(invalid.into()),
    };
    match created {
        Ok(user) => Ok(Redirect::to(&format!("/ui/users/{}", user.id)).into_response()),
        Err(AppError::Invalid(invalid)) => {
            let page = list_page(&app, &form.viewer, UserFilter::default(), Some(invalid.to_string())).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(AppError::Conflict(message)) => {
            let page = list_page(&app, &form.viewer, UserFilter::default(), Some(message)).await?;
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

struct TokenRow {
    id: String,
    label: String,
    created_at: Moment,
    last_used: Option<Moment>,
}

#[derive(Template)]
#[template(path = "ui/user.html")]
struct UserPage {
    chrome: Chrome,
    row: Row,
    tokens: Vec<TokenRow>,
    /// A token just issued: shown this once.
    new_token: Option<String>,
    /// Whether the user has a password to sign in with.
    has_password: bool,
    /// A sign-in link just created: shown this once.
    new_link: Option<NewLink>,
    error: Option<String>,
}

async fn user_page(
    app: &App,
    viewer: &Viewer,
    id: UserId,
    new_token: Option<String>,
    error: Option<String>,
) -> Result<UserPage, UiError> {
    let admin = viewer.admin()?;
    let user = app.user(&admin, id).await?;
    let tokens = app
        .tokens(&admin, id)
        .await?
        .iter()
        .map(|t| TokenRow {
            id: t.id.to_string(),
            label: t.label.clone(),
            created_at: Moment(t.created_at),
            last_used: t.last_used_at.map(Moment),
        })
        .collect();
    let has_password = app.has_password(&admin, id).await?;
    Ok(UserPage {
        chrome: viewer.chrome("Users"),
        row: Row::new(&user),
        tokens,
        new_token,
        has_password,
        new_link: None,
        error,
    })
}

/// `GET /ui/users/{id}`.
pub async fn show(State(app): State<App>, viewer: Viewer, UiPath(id): UiPath<UserId>) -> Result<Response, UiError> {
    Ok(render(&user_page(&app, &viewer, id, None, None).await?))
}

/// `POST /ui/users/{id}`: name, email and role.
pub async fn update(State(app): State<App>, UiPath(id): UiPath<UserId>, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let mut body = Map::new();
    for key in ["name", "email", "role"] {
        put_text(&mut body, key, form.fields.get(key));
    }
    let updated = match from_json::<PatchUserBody>(Value::Object(body)) {
        Ok(body) => app.update_user(&admin, id, body).await,
        Err(invalid) => Err(invalid.into()),
    };
    match updated {
        Ok(_) => Ok(Redirect::to(&format!("/ui/users/{id}")).into_response()),
        Err(AppError::Invalid(invalid)) => {
            let page = user_page(&app, &form.viewer, id, None, Some(invalid.to_string())).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /ui/users/{id}/tokens`: a new token, shown on the page this once.
pub async fn issue_token(
    State(app): State<App>,
    UiPath(id): UiPath<UserId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let label = form.fields.text("label").map(str::to_owned);
    let token = app.create_token(&admin, id, TokenBody { label }).await?;
    Ok(render(&user_page(&app, &form.viewer, id, Some(token.token), None).await?))
}

/// `POST /ui/users/{id}/tokens/{token_id}/revoke`.
pub async fn revoke_token(
    State(app): State<App>,
    UiPath((id, token_id)): UiPath<(UserId, TokenId)>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    app.delete_token(&admin, id, token_id).await?;
    Ok(Redirect::to(&format!("/ui/users/{id}")).into_response())
}

/// `POST /ui/users/{id}/password-link`: an invitation or reset link, shown on the page this
/// once (it replaces the user's earlier link).
pub async fn create_link(
    State(app): State<App>,
    UiPath(id): UiPath<UserId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let kind = match form.fields.get("kind") {
        Some("reset") => LinkKind::Reset,
        _ => LinkKind::Invitation,
    };
    match app.create_password_link(&admin, id, LinkBody { kind }).await {
        Ok(link) => {
            let mut page = user_page(&app, &form.viewer, id, None, None).await?;
            page.new_link = Some(link);
            Ok(render(&page))
        }
        Err(AppError::Invalid(invalid)) => {
            let page = user_page(&app, &form.viewer, id, None, Some(invalid.to_string())).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
