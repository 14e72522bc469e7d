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

/// The whole HTTP application: the API, the inbound webhooks' URLs and the admin UI; and
/// `/metrics` too unless it is served elsewhere or not at all.
pub fn router(app: App, with_metrics: bool) -> axum::Router {
    let mut router = http::router().merge(hooks::router()).merge(ui::router());
    if with_metrics {
        router = router.merge(http::metrics());
    }
    http::with_layers(router, app.clone()).with_state(app)
}

/// What `--metrics-listen` serves on its own address: `/metrics` and the probes.
pub fn operations_router(app: App) -> axum::Router {
    let router = http::metrics().merge(http::probes()).fallback(|| async {
        http::error::ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", "no such route")
    });
    http::with_layers(router, app.clone()).with_state(app)
}
