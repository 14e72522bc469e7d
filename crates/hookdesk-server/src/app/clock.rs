//! The clock tickets and automations read: the system's, or one a test moves forward, so
//! automations that wait hours can be tested in milliseconds. The delivery queue always runs
//! on the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use hookdesk_core::Timestamp;
use hookdesk_delivery::dispatcher::now;

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Milliseconds added to the system time; `None` for the plain system clock.
    skew: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that [`Clock::advance`] moves forward.
    pub fn adjustable() -> Self {
        Self { skew: Some(Arc::default()) }
    }

    /// Moves an adjustable clock (and every clone of it) forward; no effect on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(skew) = &self.skew {
            skew.fetch_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX), Ordering::Relaxed);
        }
    }

    pub fn now(&self) -> Timestamp {
        let skew = self.skew.as_ref().map_or(0, |s| s.load(Ordering::Relaxed));
        now().plus_millis(skew)
    }
}
