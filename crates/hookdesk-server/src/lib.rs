//! hookdesk's server: the use cases (`app`), and the two adapters over them: the JSON API
//! (`http`) and the inbound webhooks' URLs (`hooks`).
//!
//! A ticket update travels: `http::routes::tickets` -> `app::tickets` -> `app::updates` (load,
//! decide with `core::update`, write the change, the audit and the outbox in one transaction)
//! -> the store's queue -> the delivery dispatcher.

pub mod app;
pub mod hooks;
pub mod http;
pub mod ui;

pub use app::{App, AppConfig, AppError};

/// The whole HTTP application: the API and the inbound webhooks' URLs.
pub fn router(app: App) -> axum::Router {
    http::with_layers(http::router().merge(hooks::router()).merge(ui::router())).with_state(app)
}
