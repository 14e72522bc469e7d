//! The `hookdesk` binary's library: the command line (`cli`), configuration and the wiring
//! of store, delivery and HTTP server (`serve`). Only this crate picks concrete backends.

pub mod bench;
pub mod cli;
pub mod keys;
pub mod serve;
