//! The open connections and what each is doing, so that a full server can close the one that
//! has waited longest without a request in progress, and each connection knows its deadline.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Receiving a request's headers (a new connection starts here).
    Headers,
    /// A request is in progress: its body or its handler.
    Busy,
    /// The handler is done; its response is being sent (as fast as the client reads it).
    Responding,
    /// Between keep-alive requests.
    Idle,
}

/// One connection's state, shared by its task, its socket wrapper and its requests.
pub struct Connection {
    id: u64,
    epoch: Instant,
    phase: AtomicU8,
    /// When the phase last began, in microseconds since `epoch`.
    since_us: AtomicU64,
    in_flight: AtomicUsize,
    /// Wakes the connection's task to re-read its deadline.
    changed: Notify,
    /// Cancelled to close the connection now.
    pub evict: CancellationToken,
    /// Cancelled once the socket is closed.
    pub closed: CancellationToken,
}

impl Connection {
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Headers,
            1 => Phase::Busy,
            2 => Phase::Responding,
            _ => Phase::Idle,
        }
    }

    fn since(&self) -> Instant {
        self.epoch + Duration::from_micros(self.since_us.load(Ordering::Acquire))
    }

    fn enter(&self, phase: Phase) {
        let us = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.since_us.store(us, Ordering::Release);
        self.phase.store(phase as u8, Ordering::Release);
        self.changed.notify_one();
    }

    /// Bytes arrived: an idle connection is now receiving a request's headers.
    pub fn on_read(&self) {
        if self.phase() == Phase::Idle {
            self.enter(Phase::Headers);
        }
    }

    /// A request began; the connection is busy until the guard (kept by the response body)
    /// is dropped.
    pub fn busy(self: &Arc<Self>) -> BusyGuard {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            self.enter(Phase::Busy);
        }
        BusyGuard(self.clone())
    }

    /// The handler answered: its response is on its way, at the client's pace.
    pub fn responding(&self) {
        if self.phase() == Phase::Busy {
            self.enter(Phase::Responding);
        }
    }

    /// When the connection must close if its phase does not change: none while a handler
    /// works; a response must be taken within `response_timeout`.
    pub fn deadline(
        &self,
        header_timeout: Duration,
        idle_timeout: Duration,
        response_timeout: Duration,
    ) -> Option<Instant> {
        match self.phase() {
            Phase::Headers => Some(self.since() + header_timeout),
            Phase::Idle => Some(self.since() + idle_timeout),
            Phase::Responding => Some(self.since() + response_timeout),
            Phase::Busy => None,
        }
    }

    /// Resolves when the phase changes.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// Keeps its connection busy while it lives.
pub struct BusyGuard(Arc<Connection>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.enter(Phase::Idle);
        }
    }
}

/// Every open connection.
pub struct Registry {
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self { epoch: Instant::now(), next_id: AtomicU64::new(0), open: Mutex::default() }
    }
}

impl Registry {
    /// Registers a new connection, receiving its first request's headers from now.
    pub fn open(&self) -> Arc<Connection> {
        let connection = Arc::new(Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            epoch: self.epoch,
            phase: AtomicU8::new(Phase::Headers as u8),
            since_us: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            changed: Notify::new(),
            evict: CancellationToken::new(),
            closed: CancellationToken::new(),
        });
        connection.enter(Phase::Headers);
        self.lock().insert(connection.id, connection.clone());
        connection
    }

    pub fn remove(&self, connection: &Connection) {
        self.lock().remove(&connection.id);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Takes out the connection that has waited longest without a handler at work (receiving
    /// headers, idle between requests, or a client slow to read its response): the one to
    /// close to make room.
    pub fn take_longest_waiting(&self) -> Option<Arc<Connection>> {
        let mut open = self.lock();
        // Ties go to the older connection.
        let id = open.values().filter(|c| c.phase() != Phase::Busy).min_by_key(|c| (c.since(), c.id)).map(|c| c.id)?;
        open.remove(&id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        // The map stays consistent whatever panicked while holding it.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enough for the clock to move.
    fn tick() {
        std::thread::sleep(Duration::from_millis(5));
    }

    #[test]
    fn the_longest_waiting_connection_not_busy_is_taken() {
        let registry = Registry::default();
        let oldest = registry.open();
        tick();
        let waiting = registry.open();
        tick();
        let idle = registry.open();
        let _busy = oldest.busy();
        tick();
        // `idle` went idle after `waiting` began its headers: `waiting` has waited longest.
        drop(idle.busy());
        assert_eq!(registry.take_longest_waiting().expect("one to take").id, waiting.id);
        assert_eq!(registry.take_longest_waiting().expect("one to take").id, idle.id);
        assert!(registry.take_longest_waiting().is_none(), "the busy one is never taken");
        assert_eq!(registry.len(), 1);
    }

    #[test]
    fn deadlines_follow_the_phase() {
        let registry = Registry::default();
        let connection = registry.open();
        let (headers, idle) = (Duration::from_secs(10), Duration::from_secs(600));
        let response = Duration::from_secs(30);
        let first = connection.deadline(headers, idle, response).expect("receiving headers");
        assert!(first <= Instant::now() + headers);
        let guard = connection.busy();
        assert_eq!(connection.phase(), Phase::Busy);
        assert_eq!(connection.deadline(headers, idle, response), None, "a handler at work has no deadline here");
        connection.responding();
        assert!(connection.deadline(headers, idle, response).is_some(), "a client must take its response in time");
        drop(guard);
        assert_eq!(connection.phase(), Phase::Idle);
        let idle_until = connection.deadline(headers, idle, response).expect("idle");
        assert!(idle_until > first + Duration::from_secs(60), "idle waits use the idle timeout");
        connection.on_read();
        assert_eq!(connection.phase(), Phase::Headers);
        assert!(connection.deadline(headers, idle, response).expect("headers") < idle_until);
    }
}
