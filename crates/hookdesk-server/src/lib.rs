//! hookdesk's server: the use cases (`app`), and the adapters over them: the JSON API
//! (`http`), the inbound webhooks' URLs (`hooks`) and the admin web UI (`ui`).
//!
//! A ticket update travels: `http::routes::tickets` -> `app::tickets` -> `app::updates` (load,
//! decide with `core::update`, write the change, the audit and the outbox in one transaction)
//! -> the store's queue -> the delivery dispatcher.

pub mod app;
pub mod hooks;
pub mod http;
pub mod ui;

pub use app::{App, AppConfig, AppError};

/// What the main listener serves besides the API and the UI.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    /// `/metrics` (else on an address of its own, or nowhere).
    pub metrics: bool,
    /// `/hooks` (else on an address of its own: [`hooks_router`]).
    pub hooks: bool,
}

/// The whole HTTP application: the API and the admin UI; the inbound webhooks' URLs and
/// `/metrics` unless they are served elsewhere (or, for metrics, not at all).
pub fn router(app: App, served: Served) -> axum::Router {
    let mut router = http::router().merge(ui::router());
    if served.hooks {
        router = router.merge(hooks::router());
    }
    if served.metrics {
        router = router.merge(http::metrics());
    }
    http::with_layers(router, app.clone()).with_state(app)
}

/// What `--hooks-listen` serves on its own address: the inbound webhooks' URLs and the probes.
pub fn hooks_router(app: App) -> axum::Router {
    let router = hooks::router().merge(http::probes()).fallback(|| async {
        http::error::ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", "no such route")
    });
    http::with_layers(router, app.clone()).with_state(app)
}

/// What `--metrics-listen` serves on its own address: `/metrics` and the probes.
pub fn operations_router(app: App) -> axum::Router {
    let router = http::metrics().merge(http::probes()).fallback(|| async {
        http::error::ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", "no such route")
    });
    http::with_layers(router, app.clone()).with_state(app)
}
