//! `GET /ui/api-reference`: the API reference, rendered in the browser by Redoc (vendored,
//! MIT, its licence at `/ui/assets/redoc-LICENSE.txt`) from the `/openapi.json` this server
//! serves. Public, like the document itself: it holds no data, only the API's shape.
//!
//! Redoc styles itself with `<style>` elements it writes and searches in a worker made from a
//! blob, so this page alone allows inline styles and blob workers; scripts still come only
//! from `/ui/assets` (no inline script, no eval), and nothing leaves for another origin.

use askama::Template;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use super::assets;

#[derive(Template)]
#[template(path = "ui/api_reference.html")]
struct Reference {
    assets: &'static assets::Urls,
}

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; form-action 'none'; \
     frame-ancestors 'none'; base-uri 'none'";

pub async fn page() -> Response {
    let page = Reference { assets: &assets::URLS };
    let mut response = match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => return super::UiError::Internal(e.to_string()).into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
