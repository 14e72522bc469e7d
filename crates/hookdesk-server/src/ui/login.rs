//! Signing in with an API token, and out.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::assets::{URLS, Urls};
use super::forms::Fields;
use super::session::{cleared_cookie, same_origin, session_cookie};
use super::{Submitted, UiError, render};
use crate::app::{App, AppError};

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage<'a> {
    error: Option<&'a str>,
    assets: &'static Urls,
}

/// `GET /ui/login`.
pub async fn form() -> Response {
    render(&LoginPage { error: None, assets: &URLS })
}

/// `POST /ui/login`: a valid agent's or admin's token opens a session.
pub async fn sign_in(State(app): State<App>, request: Request) -> Result<Response, UiError> {
    if !same_origin(request.headers()) {
        return Err(UiError::Forged);
    }
    let (parts, body) = request.into_parts();
    let client = crate::http::extract::client(&parts, &app);
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.map_err(|_| UiError::App(AppError::PayloadTooLarge))?;
    let fields = Fields::parse(&bytes).map_err(|e| UiError::App(e.into()))?;
    let token = fields.text("token").unwrap_or_default();
    match app.sign_in(token, client).await {
        Ok(signed_in) => {
            let cookie = session_cookie(&signed_in.session_id, app.serves_https());
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/ui/")).into_response())
        }
        Err(AppError::Unauthenticated | AppError::Forbidden(_)) => {
            let page =
                LoginPage { error: Some("That token is not an agent's or an admin's API token."), assets: &URLS };
            Ok((StatusCode::UNAUTHORIZED, render(&page)).into_response())
        }
        Err(throttled @ AppError::Throttled(wait)) => {
            let message = format!("{throttled}.");
            let page = LoginPage { error: Some(&message), assets: &URLS };
            let seconds = wait.as_secs().max(1);
            Ok((StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, seconds.to_string())], render(&page))
                .into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /ui/logout`.
pub async fn sign_out(State(app): State<App>, form: Submitted) -> Result<Response, UiError> {
    app.sign_out(form.viewer.session_id()).await?;
    Ok(([(header::SET_COOKIE, cleared_cookie())], Redirect::to("/ui/login")).into_response())
}
