//! What hookdesk's test binaries share: a test that cannot run here says so and is counted
//! (each binary ends with a line of what it skipped, and why), and the PostgreSQL that the
//! PostgreSQL variants run on, an existing server or a private cluster of the binary's own.

pub mod postgres;
mod skip;

pub use skip::{skip, summary_at_exit};
