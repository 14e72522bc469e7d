//! Signing in (with an email and a password, or with an API token), setting a password
//! through an invitation or reset link, and signing out.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::assets::{URLS, Urls};
use super::flash::Flash;
use super::forms::Fields;
use super::path::UiPath;
use super::session::{cleared_cookie, same_origin, session_cookie};
use super::{Submitted, UiError, render};
use crate::app::{App, AppError, LinkKind, LinkView, MIN_PASSWORD_CHARS, PasswordSignIn, Refused, SignedIn};
use crate::http::error::ApiError;

/// The largest sign-in or set-password form read.
const FORM_BYTES: usize = 64 * 1024;

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage<'a> {
    error: Option<&'a str>,
    /// The email typed, kept after a refusal.
    email: &'a str,
    assets: &'static Urls,
}

/// `GET /ui/login`.
pub async fn form() -> Response {
    render(&LoginPage { error: None, email: "", assets: &URLS })
}

/// Reads a form posted from one of our pages by a browser that is not signed in.
async fn anonymous_form(request: Request, app: &App) -> Result<(crate::app::Client, Fields), UiError> {
    if !same_origin(request.headers()) {
        return Err(UiError::Forged);
    }
    let (parts, body) = request.into_parts();
    let client = crate::http::extract::client(&parts, app);
    let bytes = axum::body::to_bytes(body, FORM_BYTES).await.map_err(|_| UiError::App(AppError::PayloadTooLarge))?;
    let fields = Fields::parse(&bytes).map_err(|e| UiError::App(e.into()))?;
    Ok((client, fields))
}

/// The answer that opens a session in the browser and goes to the overview.
fn signed_in(app: &App, signed_in: &SignedIn, flash: Option<Flash>) -> Response {
    let cookie = session_cookie(&signed_in.session_id, app.serves_https());
    let mut redirect = match flash {
        Some(flash) => flash.redirect("/ui/"),
        None => Redirect::to("/ui/").into_response(),
    };
    // Appended: the flash's cookie is a `Set-Cookie` too.
    redirect.headers_mut().append(header::SET_COOKIE, cookie);
    redirect
}

/// The sign-in page again, saying why not, with `status` (and `Retry-After` when waiting helps).
fn refused(status: StatusCode, message: &str, email: &str, retry_after: Option<std::time::Duration>) -> Response {
    let page = render(&LoginPage { error: Some(message), email, assets: &URLS });
    match retry_after {
        Some(wait) => (status, [(header::RETRY_AFTER, wait.as_secs().max(1).to_string())], page).into_response(),
        None => (status, page).into_response(),
    }
}

/// `POST /ui/login`: a valid agent's or admin's token, or their email and password, opens a
/// session. A token, when given, is what counts.
pub async fn sign_in(State(app): State<App>, request: Request) -> Result<Response, UiError> {
    let (client, fields) = anonymous_form(request, &app).await?;
    let token = fields.text("token").unwrap_or_default();
    if token.is_empty() {
        let email = fields.text("email").unwrap_or_default();
        let password = fields.get("password").unwrap_or_default();
        return password_sign_in(&app, email, password, client).await;
    }
    match app.sign_in(token, client).await {
        Ok(session) => Ok(signed_in(&app, &session, None)),
        Err(AppError::Unauthenticated | AppError::Forbidden(_)) => {
            Ok(refused(StatusCode::UNAUTHORIZED, "That token is not an agent's or an admin's API token.", "", None))
        }
        Err(throttled @ AppError::Throttled(wait)) => {
            Ok(refused(StatusCode::TOO_MANY_REQUESTS, &format!("{throttled}."), "", Some(wait)))
        }
        Err(other) => Err(other.into()),
    }
}

/// Whole minutes, rounded up: how a wait reads.
fn minutes(wait: std::time::Duration) -> u64 {
    wait.as_secs().div_ceil(60).max(1)
}

async fn password_sign_in(
    app: &App,
    email: &str,
    password: &str,
    client: crate::app::Client,
) -> Result<Response, UiError> {
    if email.is_empty() || password.is_empty() {
        let message = "Give your email and password, or an API token.";
        return Ok(refused(StatusCode::UNPROCESSABLE_ENTITY, message, email, None));
    }
    Ok(match app.sign_in_with_password(email, password, client).await? {
        PasswordSignIn::SignedIn(session) => signed_in(app, &session, None),
        PasswordSignIn::Refused(Refused::WrongCredentials) => refused(
            StatusCode::UNAUTHORIZED,
            "That email and password do not match an agent's or an admin's account.",
            email,
            None,
        ),
        PasswordSignIn::Refused(Refused::Locked(wait)) => {
            let n = minutes(wait);
            let unit = if n == 1 { "minute" } else { "minutes" };
            let message = format!(
                "Too many failed sign-ins for this account: try again in {n} {unit}, or ask an admin for a reset link."
            );
            refused(StatusCode::TOO_MANY_REQUESTS, &message, email, Some(wait))
        }
        PasswordSignIn::Refused(Refused::Throttled(wait)) => {
            let message =
                format!("Too many failed sign-ins from this address: try again in {} s.", wait.as_secs().max(1));
            refused(StatusCode::TOO_MANY_REQUESTS, &message, email, Some(wait))
        }
    })
}

/// `POST /ui/logout`.
pub async fn sign_out(State(app): State<App>, form: Submitted) -> Result<Response, UiError> {
    app.sign_out(form.viewer.session_id()).await?;
    Ok(([(header::SET_COOKIE, cleared_cookie())], Redirect::to("/ui/login")).into_response())
}

#[derive(Template)]
#[template(path = "ui/set_password.html")]
struct SetPasswordPage<'a> {
    title: &'static str,
    user_name: &'a str,
    email: &'a str,
    min_chars: usize,
    error: Option<String>,
    assets: &'static Urls,
}

fn set_password_page(link: &LinkView, error: Option<String>) -> Response {
    let title = match link.kind {
        LinkKind::Invitation => "Welcome: choose your password",
        LinkKind::Reset => "Choose a new password",
    };
    render(&SetPasswordPage {
        title,
        user_name: &link.user_name,
        email: &link.email,
        min_chars: MIN_PASSWORD_CHARS,
        error,
        assets: &URLS,
    })
}

/// What a link that does not work answers: the same for every reason, so the page tells a
/// stranger nothing of which links exist.
fn link_does_not_work() -> UiError {
    UiError::Refused(ApiError::new(
        StatusCode::NOT_FOUND,
        "link_not_found",
        "This link does not work: it expired, it was used already, or a newer one replaced it. Ask an admin for a new link.",
    ))
}

fn link_error(error: AppError) -> UiError {
    match error {
        AppError::NotFound(_) => link_does_not_work(),
        other => other.into(),
    }
}

/// `GET /ui/password/{token}`: the set-password page of an invitation or reset link.
pub async fn link_form(State(app): State<App>, UiPath(token): UiPath<String>) -> Result<Response, UiError> {
    let link = app.password_link(&token).await.map_err(link_error)?;
    Ok(set_password_page(&link, None))
}

/// `POST /ui/password/{token}`: sets the password, uses the link up, and signs in.
pub async fn set_password(
    State(app): State<App>,
    UiPath(token): UiPath<String>,
    request: Request,
) -> Result<Response, UiError> {
    let (_, fields) = anonymous_form(request, &app).await?;
    let password = fields.get("password").unwrap_or_default();
    let confirmation = fields.get("confirmation").unwrap_or_default();
    match app.use_password_link(&token, password, confirmation).await {
        Ok(session) => Ok(signed_in(&app, &session, Some(Flash::done("Your password is set: you are signed in.")))),
        Err(AppError::Invalid(invalid)) => {
            let link = app.password_link(&token).await.map_err(link_error)?;
            let page = set_password_page(&link, Some(format!("The {} {}.", invalid.field, invalid.message)));
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(link_error(other)),
    }
}
