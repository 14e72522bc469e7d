//! The delivery runner: steps the worker ([`Worker::deliver_due`]) and decides from each
//! [`Step`] when to step again, backs off when storage fails, and stops on cancellation.
//!
//! It steps at once when an update queues work ([`DeliveryHandle::wake`]), when an attempt
//! finishes, when a retry comes due, and otherwise every `poll_interval` (work queued by
//! another process).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookdesk_core::id::WebhookId;
use hookdesk_core::webhook::WebhookHealth;
use hookdesk_store::{AttemptRecord, Store};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::attempt::Tools;
use crate::gates::{GateConfig, Gates};
use crate::metrics::DeliveryMetrics;
use crate::recorder::record_loop;
use crate::retry::RetryPolicy;
use crate::sender::Sender;
use crate::worker::{Step, Worker};

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Invocations claimed per query.
    pub claim_batch: u32,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// How often to look for due work when nothing wakes the dispatcher.
    pub poll_interval: Duration,
    pub user_agent: String,
    /// Per-webhook caps, rate limits and the circuit breaker.
    pub gates: GateConfig,
    /// On shutdown, how long requests in flight may take to finish; the rest are given back
    /// to the queue (and sent again by the next process to claim them).
    pub shutdown_grace: Duration,
}

/// A webhook's failing mark changed.
#[derive(Debug, Clone)]
pub struct HealthEvent {
    pub webhook_id: WebhookId,
    pub health: WebhookHealth,
}

/// Where the dispatcher reports a webhook becoming failing or recovering (the server turns
/// these into `webhook.failing` / `webhook.recovered` events). Called on the dispatcher's
/// tasks: hand the event off and return.
pub trait HealthReports: Send + Sync {
    fn report(&self, event: HealthEvent);
}

/// Reports go down a channel, in order.
impl HealthReports for mpsc::UnboundedSender<HealthEvent> {
    fn report(&self, event: HealthEvent) {
        // Closed only when its receiver is gone, at shutdown: nothing left to tell.
        let _ = self.send(event);
    }
}

impl DeliveryConfig {
    /// A claim outlives the request it covers (twice its timeout, plus time to record the
    /// outcome), so only a dead worker's claims expire; theirs come back this soon.
    pub(crate) fn lease(&self) -> Duration {
        self.request_timeout * 2 + Duration::from_secs(5)
    }
}

/// Wakes the dispatcher, and tells whether it runs.
#[derive(Clone)]
pub struct DeliveryHandle {
    wake: Arc<Notify>,
    running: Arc<AtomicBool>,
}

impl Default for DeliveryHandle {
    fn default() -> Self {
        Self { wake: Arc::new(Notify::new()), running: Arc::default() }
    }
}

impl DeliveryHandle {
    /// Work was queued: look now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Whether the dispatcher runs: from its start until it stops, or its task ends anyhow.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }
}

/// Marks the dispatcher running while it lives, and stopped when it is dropped: after the run
/// returns, and also when its task panics or is aborted.
struct Running(Arc<AtomicBool>);

impl Running {
    fn mark(flag: &Arc<AtomicBool>) -> Self {
        flag.store(true, Ordering::Release);
        Self(flag.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// How long to wait after `failures` storage errors in a row: 200 ms doubling to 6.4 s.
pub(crate) fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100 * 2u64.pow(failures.min(6)))
}

/// The parts a dispatcher works with.
pub struct Delivery {
    pub store: Store,
    pub sender: Sender,
    /// What wakes it: the handle whose `wake` the code queueing work calls.
    pub handle: DeliveryHandle,
    pub health: Arc<dyn HealthReports>,
    /// Where attempts are counted.
    pub metrics: DeliveryMetrics,
}

/// Starts the dispatcher; it runs until `shutdown`, then finishes what is in flight.
pub fn spawn(delivery: Delivery, config: DeliveryConfig, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    let handle = delivery.handle.clone();
    let (worker, recorder) = start(delivery, config);
    // Running from now: `/readyz` is true as soon as `spawn` returns.
    let marked = Running::mark(&handle.running);
    tokio::spawn(async move {
        run(worker, &handle.wake, shutdown).await;
        drop(marked);
        // The worker dropped its record sender; the recorder flushes and ends.
        if let Err(e) = recorder.await {
            error!(error = %e, "the attempt recorder stopped abnormally");
        }
    })
}

/// A worker and its recorder, started.
pub(crate) fn start(
    Delivery { store, sender, handle, health, metrics }: Delivery,
    config: DeliveryConfig,
) -> (Worker, tokio::task::JoinHandle<()>) {
    let gates = Arc::new(Mutex::new(Gates::new(config.gates.clone())));
    let (records, recorder_rx) = mpsc::channel::<AttemptRecord>(config.concurrency.max(1) * 4);
    let (recorded, recorded_rx) = watch::channel(0);
    let recorder = tokio::spawn(record_loop(store.clone(), recorder_rx, handle, recorded));
    let tools = Tools { store, sender, config: Arc::new(config), records, gates, health, metrics };
    (Worker::new(tools, recorded_rx), recorder)
}

/// Steps the worker until `shutdown`, then lets what is in flight finish.
async fn run(mut worker: Worker, wake: &Notify, shutdown: CancellationToken) {
    info!(concurrency = worker.tools.config.concurrency, "delivery started");
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        let step = match worker.deliver_due().await {
            Ok(step) => {
                failures = 0;
                step
            }
            Err(e) => {
                failures += 1;
                let pause = backoff(failures);
                warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "delivering due invocations failed");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = shutdown.cancelled() => break,
                }
                continue;
            }
        };
        match step {
            Step::Claimed(_) => {}
            Step::Full => tokio::select! {
                _ = worker.in_flight.join_next() => {}
                () = shutdown.cancelled() => break,
            },
            Step::Paused(until) => tokio::select! {
                () = tokio::time::sleep_until(until.into()) => {}
                () = shutdown.cancelled() => break,
            },
            Step::Idle => {
                let wait = worker.idle_wait().await;
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(wait) => {}
                    // A finished request may free a webhook the claim skipped.
                    Some(_) = worker.in_flight.join_next(), if !worker.in_flight.is_empty() => {}
                    () = shutdown.cancelled() => {}
                }
            }
        }
    }
    worker.finish_in_flight().await;
}
