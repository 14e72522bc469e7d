//! What delivery counts for `/metrics`: attempts by outcome class, their durations, the lag
//! from queueing to the first attempt, invocations given up. Labels are closed sets (an enum),
//! never a webhook's or an invocation's id.

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::outcome::{Outcome, OutcomeClass};

impl EncodeLabelValue for OutcomeClass {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: OutcomeClass,
}

/// Delivery's counters and histograms. Cheap to clone: clones count into the same metrics.
#[derive(Clone)]
pub struct DeliveryMetrics {
    attempts: Family<OutcomeLabel, Counter>,
    attempt_duration: Histogram,
    lag: Histogram,
    given_up: Counter,
}

/// Upper bounds of the duration buckets: 5 ms to about 41 s, doubling.
fn duration_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.005, 2.0, 14)
}

/// Upper bounds of the lag buckets: 10 ms to about 2.9 hours, quadrupling (retries aside, a
/// queue backs up for minutes or hours, not milliseconds).
fn lag_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.01, 4.0, 11)
}

impl Default for DeliveryMetrics {
    fn default() -> Self {
        Self {
            attempts: Family::default(),
            attempt_duration: Histogram::new(duration_buckets()),
            lag: Histogram::new(lag_buckets()),
            given_up: Counter::default(),
        }
    }
}

impl DeliveryMetrics {
    /// New metrics, registered in `registry` (whose prefix names them: `hookdesk_`).
    pub fn registered(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register("delivery_attempts", "Webhook requests sent, by outcome class", metrics.attempts.clone());
        // Every class is shown from the start, at 0, so that a rate over it is defined.
        for outcome in OutcomeClass::ALL {
            let _ = metrics.attempts.get_or_create(&OutcomeLabel { outcome });
        }
        registry.register_with_unit(
            "delivery_attempt_duration",
            "How long a webhook request took, from sending to the end of the answer or the error",
            Unit::Seconds,
            metrics.attempt_duration.clone(),
        );
        registry.register_with_unit(
            "delivery_lag",
            "From queueing an invocation to its first attempt",
            Unit::Seconds,
            metrics.lag.clone(),
        );
        registry.register(
            "invocations_given_up",
            "Invocations failed for good: retries exhausted, an answer that rules retrying out, or no request could be made",
            metrics.given_up.clone(),
        );
        metrics
    }

    /// `invocations` failed for good without an attempt (their request could not be made,
    /// their webhook was deleted).
    pub fn given_up(&self, invocations: usize) {
        self.given_up.inc_by(invocations as u64);
    }

    /// One attempt: its outcome and duration; its lag when it is the first.
    pub(crate) fn attempted(&self, outcome: &Outcome, lag_seconds: Option<f64>, given_up: bool) {
        self.attempts.get_or_create(&OutcomeLabel { outcome: outcome.code.class() }).inc();
        self.attempt_duration.observe(outcome.duration.as_secs_f64());
        if let Some(lag) = lag_seconds {
            self.lag.observe(lag.max(0.0));
        }
        if given_up {
            self.given_up.inc();
        }
    }
}
