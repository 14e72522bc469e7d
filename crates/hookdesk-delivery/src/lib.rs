//! hookdesk's sender: from a claimed invocation to a recorded attempt.
//!
//! One attempt flows one way: the `worker` claims due invocations and lets each through its
//! webhook's `gates`; an `attempt` builds the request, the `sender` sends it (`ssrf` decides
//! which addresses may be called) and classifies what happened once, as an `outcome`; `retry`
//! decides what comes next, `metrics` counts it, the `recorder` writes it in batches. The
//! `dispatcher` runs the worker: when to step again, back-off, shutdown.

mod attempt;
pub mod dispatcher;
pub mod gates;
pub mod metrics;
pub mod outcome;
mod recorder;
pub mod retry;
pub mod sender;
pub mod ssrf;
mod worker;

pub use dispatcher::{Delivery, DeliveryConfig, DeliveryHandle, HealthEvent, HealthReports, spawn};
pub use metrics::DeliveryMetrics;
pub use outcome::{AttemptCode, Outcome, OutcomeClass};
pub use retry::RetryPolicy;
pub use sender::Sender;
pub use ssrf::DestinationPolicy;

/// A duration in whole milliseconds, as timestamps and the store count them.
pub(crate) fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
