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

/// The whole HTTP application: the API, the inbound webhooks' URLs and the admin UI.
pub fn router(app: App) -> axum::Router {
    http::with_layers(http::router().merge(hooks::router()).merge(ui::router())).with_state(app)
}
