//! The admin web UI: server-rendered pages over the app, the third adapter beside `http` (the
//! JSON API) and `hooks`. A page reads the session's caller, calls the app, and renders an
//! askama template; it holds no SQL and no store types.
//!
//! Outsiders' text (inbound calls, ticket subjects, receivers' responses) reaches these pages:
//! askama escapes every value, and the Content-Security-Policy allows scripts and styles only
//! from `/ui/assets`, so markup that slipped through could still not run.

mod assets;
mod body_fields;
mod delete;
mod error;
mod exchange;
mod flash;
mod forms;
mod import;
mod inbound;
mod log;
mod login;
mod macros;
pub(crate) mod overview;
mod pager;
mod path;
mod reference;
mod rule_editor;
mod rules;
mod session;
mod tickets;
mod time;
mod users;
mod webhooks;

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::app::App;
pub use error::UiError;
pub use flash::Flash;
pub use session::{Submitted, Viewer};
pub use time::Moment;

/// The UI's routes, and `/` sending browsers to them.
pub fn router() -> axum::Router<App> {
    let pages = axum::Router::new()
        .route("/ui/", get(overview::page))
        .route("/ui/login", get(login::form).post(login::sign_in))
        .route("/ui/logout", get(back_to_page).post(login::sign_out))
        .route("/ui/password/{token}", get(login::link_form).post(login::set_password))
        .route("/ui/tickets", get(tickets::list))
        .route("/ui/tickets/new", get(tickets::new_form).post(tickets::create))
        .route("/ui/tickets/{id}", get(tickets::show).post(tickets::update))
        .route("/ui/tickets/{id}/macro", get(back_to_page).post(tickets::apply_macro))
        .route("/ui/triggers", get(rules::list))
        .route("/ui/triggers/new", get(rules::new_form).post(rules::create))
        .route("/ui/triggers/bulk", get(back_to_page).post(rules::bulk_active))
        .route("/ui/triggers/dry-run", get(back_to_page).post(rules::dry_run))
        .route("/ui/triggers/editor", get(back_to_page).post(rules::edit))
        .route("/ui/triggers/preview", get(back_to_page).post(rules::preview))
        .route("/ui/triggers/{id}", get(rules::show).post(rules::update))
        .route("/ui/triggers/{id}/delete", get(rules::confirm_delete).post(rules::delete))
        .route("/ui/triggers/{id}/move", get(back_to_page).post(rules::move_rule))
        .route("/ui/triggers/{id}/active", get(back_to_page).post(rules::set_active))
        .route("/ui/automations", get(rules::list))
        .route("/ui/automations/new", get(rules::new_form).post(rules::create))
        .route("/ui/automations/bulk", get(back_to_page).post(rules::bulk_active))
        .route("/ui/automations/run", get(back_to_page).post(rules::run_automations))
        .route("/ui/automations/editor", get(back_to_page).post(rules::edit))
        .route("/ui/automations/preview", get(back_to_page).post(rules::preview))
        .route("/ui/automations/{id}", get(rules::show).post(rules::update))
        .route("/ui/automations/{id}/delete", get(rules::confirm_delete).post(rules::delete))
        .route("/ui/automations/{id}/move", get(back_to_page).post(rules::move_rule))
        .route("/ui/automations/{id}/active", get(back_to_page).post(rules::set_active))
        .route("/ui/macros", get(macros::list))
        .route("/ui/macros/new", get(macros::new_form).post(macros::create))
        .route("/ui/macros/editor", get(back_to_page).post(macros::edit))
        .route("/ui/macros/{id}", get(macros::show).post(macros::update))
        .route("/ui/macros/{id}/delete", get(macros::confirm_delete).post(macros::delete))
        .route("/ui/macros/{id}/try", get(back_to_page).post(macros::try_on_ticket))
        .route("/ui/import", get(import::form).post(import::run))
        .route("/ui/users", get(users::list).post(users::create))
        .route("/ui/users/{id}", get(users::show).post(users::update))
        .route("/ui/users/{id}/tokens", get(back_to_page).post(users::issue_token))
        .route("/ui/users/{id}/tokens/{token_id}/revoke", get(back_to_page).post(users::revoke_token))
        .route("/ui/users/{id}/password-link", get(back_to_page).post(users::create_link))
        .route("/ui/webhooks", get(webhooks::list))
        .route("/ui/webhooks/new", get(webhooks::new_form).post(webhooks::create))
        .route("/ui/webhooks/{id}", get(webhooks::show).post(webhooks::update))
        .route("/ui/webhooks/{id}/delete", get(webhooks::confirm_delete).post(webhooks::delete))
        .route("/ui/webhooks/{id}/test", get(back_to_page).post(webhooks::send_test))
        .route("/ui/webhooks/{id}/secret", get(back_to_page).post(webhooks::reveal_secret))
        .route("/ui/webhooks/{id}/secret/rotate", get(back_to_page).post(webhooks::rotate_secret))
        .route("/ui/log", get(log::list))
        .route("/ui/log/replay-selected", get(back_to_page).post(log::replay_selected))
        .route("/ui/log/replay-failed", get(log::confirm_replay_failed).post(log::replay_failed))
        .route("/ui/log/{id}", get(log::show))
        .route("/ui/log/{id}/replay", get(back_to_page).post(log::replay))
        .route("/ui/inbound", get(inbound::list))
        .route("/ui/inbound/bins", get(back_to_page).post(inbound::new_bin))
        .route("/ui/inbound/new", get(inbound::new_form).post(inbound::create))
        .route("/ui/inbound/{id}", get(inbound::show))
        .route("/ui/inbound/{id}/edit", get(inbound::edit_form).post(inbound::update))
        .route("/ui/inbound/{id}/calls", get(inbound::calls))
        .route("/ui/inbound/{id}/calls/{call_id}", get(inbound::call))
        .route("/ui/inbound/{id}/delete", get(inbound::confirm_delete).post(inbound::delete))
        .route("/ui/inbound/{id}/rotate", get(back_to_page).post(inbound::rotate))
        .route("/ui/{*unknown}", get(not_found))
        .route_layer(axum::middleware::from_fn(readable_params))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(page_headers));
    axum::Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/assets/{file}", get(assets::serve))
        .route("/ui/api-reference", get(reference::page))
        .merge(pages)
}

/// What the pages allow: scripts and styles from `/ui/assets` only (no inline script, style
/// or handler), forms posting to this origin, no framing; nothing cached, nothing referred.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn page_headers(request: Request, next: Next) -> Response {
    let request_headers = request.headers().clone();
    let mut response = next.run(request).await;
    flash::clear_when_shown(&request_headers, &mut response);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Inbound URLs are secrets and appear in pages: no Referer may carry them to another site
    // (`no-referrer` would also make browsers send `Origin: null` on our own forms).
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Refuses, with the API's words on an error page, a request whose path or query parameters
/// no page can read (a NUL, bytes that are not UTF-8, an overlong value).
async fn readable_params(
    path_params: Result<axum::extract::RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    request: Request,
    next: Next,
) -> Response {
    match crate::http::extract::unreadable_param(path_params.as_ref(), request.uri().query()) {
        Some(problem) => UiError::Refused(problem.api_error()).into_response(),
        None => next.run(request).await,
    }
}

/// The segments that name an action on a page (`/ui/webhooks/ID/test`) rather than a page.
const ACTIONS: &[&str] = &[
    "tokens",
    "test",
    "secret",
    "replay",
    "move",
    "active",
    "try",
    "rotate",
    "run",
    "dry-run",
    "editor",
    "preview",
    "bins",
    "logout",
    "password-link",
    "bulk",
    "replay-selected",
    "macro",
];

/// `GET` of an action's URL (a reload, Back or Forward after it ran): the page it acts on,
/// instead of a dead end.
async fn back_to_page(uri: axum::http::Uri) -> Redirect {
    let segments: Vec<&str> = uri.path().split('/').collect();
    let page = match segments.iter().position(|segment| ACTIONS.contains(segment)) {
        Some(at) => segments[..at].join("/"),
        None => "/ui".to_owned(),
    };
    Redirect::to(if page == "/ui" { "/ui/" } else { &page })
}

async fn not_found() -> UiError {
    UiError::Refused(crate::http::error::ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "There is no such page: check the address, or start again from the menu.",
    ))
}

async fn method_not_allowed() -> UiError {
    UiError::Refused(crate::http::error::ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This address is not a page to open that way: go back, or start again from the menu.",
    ))
}

/// A rendered page, or a 500 when a template cannot render (a bug: logged).
fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => UiError::Internal(format!("a page did not render: {e}")).into_response(),
    }
}

/// The frame of every signed-in page: who is signed in, what the menu offers them, and the
/// CSRF token forms and htmx carry.
pub struct Chrome {
    pub user_name: String,
    pub is_admin: bool,
    pub csrf_token: String,
    /// The menu entry of this page.
    pub current: &'static str,
    pub assets: &'static assets::Urls,
    /// The message the last change left, shown once.
    pub flash: Option<Flash>,
}

/// One entry of the menu.
pub struct MenuEntry {
    pub name: &'static str,
    pub href: &'static str,
    pub admin_only: bool,
}

/// Rows a page of a long list shows.
pub const PER_PAGE: u32 = 100;

/// The template modes a webhook's and an inbound webhook's form offer: the API's name, and
/// what it means.
pub const TEMPLATE_MODES: &[(&str, &str)] = &[
    ("lax", "Lax — missing variables render empty (default)"),
    ("strict", "Strict — missing variables and wrong types fail"),
];

/// The menu, in the contract's order; agents see the entries their role may use.
pub const MENU: [MenuEntry; 10] = [
    MenuEntry { name: "Overview", href: "/ui/", admin_only: false },
    MenuEntry { name: "Tickets", href: "/ui/tickets", admin_only: false },
    MenuEntry { name: "Triggers", href: "/ui/triggers", admin_only: false },
    MenuEntry { name: "Automations", href: "/ui/automations", admin_only: false },
    MenuEntry { name: "Macros", href: "/ui/macros", admin_only: false },
    MenuEntry { name: "Webhooks", href: "/ui/webhooks", admin_only: true },
    MenuEntry { name: "Log", href: "/ui/log", admin_only: true },
    MenuEntry { name: "Inbound", href: "/ui/inbound", admin_only: true },
    MenuEntry { name: "Users", href: "/ui/users", admin_only: true },
    MenuEntry { name: "API", href: "/ui/api-reference", admin_only: false },
];

impl Chrome {
    /// The menu entries this viewer sees.
    pub fn menu(&self) -> impl Iterator<Item = &'static MenuEntry> + '_ {
        MENU.iter().filter(|entry| self.is_admin || !entry.admin_only)
    }
}

/// A value's name in the API (`per_ticket`, `POST`): what forms send and pages show.
pub fn api_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}
