//! hookdesk's server: the use cases (`app`) and the HTTP API over them (`http`).
//!
//! A request travels: `http::routes::tickets` -> `app::updates` (load, run the triggers,
//! render their notifications, write the change and the outbox in one transaction) -> the
//! store's queue -> the delivery dispatcher.

pub mod app;
pub mod hooks;
pub mod http;

pub use app::{App, AppConfig, AppError};
