//! hookdesk's sender: from a claimed invocation to a recorded attempt.
//!
//! `ssrf` decides which addresses may be called and pins the resolved one; `sender` sends a
//! request and classifies what happened; `retry` decides what comes next; `dispatcher` runs
//! it all: claims due work, sends with bounded concurrency, records outcomes in batches;
//! `metrics` counts what happened for `/metrics`.

pub mod dispatcher;
pub mod gates;
pub mod metrics;
pub mod retry;
pub mod sender;
pub mod ssrf;

pub use dispatcher::{Delivery, DeliveryConfig, DeliveryHandle, HealthEvent, HealthReports, spawn};
pub use metrics::DeliveryMetrics;
pub use retry::RetryPolicy;
pub use sender::{Outcome, Sender};
pub use ssrf::DestinationPolicy;
