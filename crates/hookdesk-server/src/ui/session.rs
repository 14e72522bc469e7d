//! Who is looking: the session a cookie names, and, for every state-changing request, proof
//! that the request came from one of our pages (the session's CSRF token, and an origin that
//! is this server's).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};

use super::UiError;
use super::assets::URLS;
use super::forms::Fields;
use crate::app::{Admin, Agent, App, SESSION_LIFETIME, Session, ids};
use crate::ui::Chrome;

/// The session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site sends it).
pub const COOKIE: &str = "hookdesk_session";

/// The header htmx requests carry the CSRF token in (forms carry a field `csrf`).
const CSRF_HEADER: &str = "x-csrf-token";

/// The `Set-Cookie` value that opens a session in the browser.
pub fn session_cookie(session_id: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE}={session_id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        SESSION_LIFETIME.as_secs()
    );
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that forgets it.
pub fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static("hookdesk_session=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0")
}

pub(super) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A signed-in browser.
pub struct Viewer {
    pub session: Session,
    session_id: String,
    /// The message the last change left for this page.
    flash: Option<super::flash::Flash>,
}

impl Viewer {
    pub fn agent(&self) -> Agent {
        self.session.agent()
    }

    pub fn admin(&self) -> Result<Admin, UiError> {
        Ok(self.session.admin()?)
    }

    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The frame of a page of the menu entry `current`.
    pub fn chrome(&self, current: &'static str) -> Chrome {
        Chrome {
            user_name: self.session.user().name.clone(),
            is_admin: self.session.is_admin(),
            csrf_token: self.session.csrf_token.clone(),
            current,
            assets: &URLS,
            flash: self.flash.clone(),
        }
    }
}

impl FromRequestParts<App> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let session_id = cookie(&parts.headers, COOKIE).ok_or(UiError::SignIn)?.to_owned();
        let session = app.session(&session_id).await?;
        Ok(Viewer { session, session_id, flash: super::flash::Flash::of(&parts.headers) })
    }
}

/// Whether a state-changing request came from a page of this server: browsers name the page's
/// origin (`Origin`) and whether it is ours (`Sec-Fetch-Site`); either, when sent, must agree.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site")
        && site.as_bytes() != b"same-origin"
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

/// A form posted by a signed-in browser from one of our pages, with its fields.
pub struct Submitted {
    pub viewer: Viewer,
    pub fields: Fields,
}

impl FromRequest<App> for Submitted {
    type Rejection = UiError;

    async fn from_request(request: Request, app: &App) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, app).await?;
        if !same_origin(&parts.headers) {
            return Err(UiError::Forged);
        }
        let bytes = axum::body::to_bytes(body, crate::http::MAX_BODY_BYTES)
            .await
            .map_err(|_| UiError::App(crate::app::AppError::PayloadTooLarge))?;
        let fields = Fields::parse(&bytes).map_err(|e| UiError::App(e.into()))?;
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .or_else(|| fields.get("csrf"))
            .unwrap_or_default();
        // Compared as hashes, so the time taken says nothing of how close a guess was.
        if ids::token_hash(sent) != ids::token_hash(&viewer.session.csrf_token) {
            return Err(UiError::Forged);
        }
        Ok(Submitted { viewer, fields })
    }
}
