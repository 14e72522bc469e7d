//! The `hookdesk` binary's library: the command line (`cli`), configuration and the wiring
//! of store, delivery and HTTP server (`serve`), the HTTP server itself (`transport`) and
//! logging (`telemetry`). Only this crate picks concrete backends.

pub mod admin_token;
pub mod backup;
pub mod bench;
pub mod cli;
pub mod config;
pub mod keys;
pub mod output;
pub mod remote;
pub mod serve;
pub mod telemetry;
pub mod transport;
pub mod user;
