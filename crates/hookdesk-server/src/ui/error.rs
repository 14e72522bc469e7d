//! What a page answers when it cannot show what was asked: the sign-in page, or an error page
//! (403, 404, 405, 422, 500...) in the UI's frame, menu included, with the status and the
//! sentence the API would give.

use askama::Template;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::app::AppError;
use crate::http::error::ApiError;

#[derive(Debug)]
pub enum UiError {
    /// No open session: sign in first.
    SignIn,
    /// A state-changing request without this session's CSRF token, or from another origin.
    Forged,
    App(AppError),
    /// Refused as the API would refuse it, in its words.
    Refused(ApiError),
    Internal(String),
}

impl From<AppError> for UiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Unauthenticated => UiError::SignIn,
            other => UiError::App(other),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
    assets: &'static super::assets::Urls,
    /// The menu every signed-in role has (who is asking is not known here).
    menu: Vec<&'static super::MenuEntry>,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let error = match self {
            UiError::SignIn => {
                // htmx follows HX-Redirect; a plain browser the 303.
                let mut response = Redirect::to("/ui/login").into_response();
                response.headers_mut().insert("hx-redirect", HeaderValue::from_static("/ui/login"));
                return response;
            }
            UiError::Forged => ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "this form is stale or came from another site: reload the page and try again",
            ),
            UiError::App(error) => ApiError::from(error),
            UiError::Refused(error) => error,
            UiError::Internal(cause) => ApiError::from(AppError::Internal(cause)),
        };
        let page = ErrorPage {
            status: error.status.as_u16(),
            reason: error.status.canonical_reason().unwrap_or("Error"),
            message: &error.message,
            assets: &super::assets::URLS,
            menu: super::MENU.iter().filter(|entry| !entry.admin_only).collect(),
        };
        let html = page.render().unwrap_or_else(|_| error.message.clone());
        (error.status, Html(html)).into_response()
    }
}
