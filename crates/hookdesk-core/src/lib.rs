//! The pure domain of hookdesk: no I/O, no async; the clock is read only where callers ask
//! (`Timestamp::now`, `Clock`).
//!
//! `ticket` and `webhook` are the values; `rules` decides what an update does (conditions,
//! actions, the trigger cycle); `template` renders Liquid; `request` turns a fired
//! notification into the bytes of an HTTP request and signs it.

pub mod audit;
pub mod endpoint;
pub mod event;
pub mod id;
pub mod import;
pub mod inbound;
pub mod invalid;
pub mod invocation;
pub mod page;
pub mod request;
pub mod rules;
pub mod template;
pub mod text;
pub mod ticket;
pub mod time;
pub mod update;
pub mod user;
pub mod webhook;

pub use invalid::Invalid;
pub use page::Page;
pub use time::{Clock, Timestamp};
