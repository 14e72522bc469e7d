//! The delivery runner: claims due invocations, sends them with bounded concurrency, and
//! records outcomes in batches.
//!
//! It wakes at once when an update queues work ([`DeliveryHandle::wake`]), when a retry
//! comes due, and otherwise every `poll_interval` (work queued by another process).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hookdesk_core::Timestamp;
use hookdesk_core::id::{InvocationId, WebhookId};
use hookdesk_core::request::finalize;
use hookdesk_core::webhook::{Webhook, WebhookHealth};
use hookdesk_store::{AttemptOutcome, AttemptRecord, Claimed, Next, Store, StoreError, WebhookSecrets};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::gates::{Admission, GateConfig, Gates, HealthChange};
use crate::metrics::DeliveryMetrics;
use crate::retry::RetryPolicy;
use crate::sender::Sender;

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
    fn lease(&self) -> Duration {
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

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// How long to wait after `failures` storage errors in a row: 200 ms doubling to 6.4 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100 * 2u64.pow(failures.min(6)))
}

fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    // Jitter only: a failed read just means no spread.
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
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
pub fn spawn(
    Delivery { store, sender, handle, health, metrics }: Delivery,
    config: DeliveryConfig,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let gates = Arc::new(Mutex::new(Gates::new(config.gates.clone())));
    let (records, recorder_rx) = mpsc::channel::<AttemptRecord>(config.concurrency.max(1) * 4);
    let recorder = tokio::spawn(record_loop(store.clone(), recorder_rx, handle.clone()));
    let wake = handle.wake.clone();
    // Running from now: `/readyz` is true as soon as `spawn` returns.
    let marked = Running::mark(&handle.running);
    let dispatcher = Dispatcher { store, sender, config: Arc::new(config), wake, records, gates, health, metrics };
    tokio::spawn(async move {
        dispatcher.run(shutdown).await;
        drop(marked);
        // The dispatcher dropped its record sender; the recorder flushes and ends.
        if let Err(e) = recorder.await {
            error!(error = %e, "the attempt recorder stopped abnormally");
        }
    })
}

struct Dispatcher {
    store: Store,
    sender: Sender,
    config: Arc<DeliveryConfig>,
    wake: Arc<Notify>,
    records: mpsc::Sender<AttemptRecord>,
    gates: Arc<Mutex<Gates>>,
    health: Arc<dyn HealthReports>,
    metrics: DeliveryMetrics,
}

/// The gates are held for microseconds at a time and never across an await.
fn lock(gates: &Mutex<Gates>) -> MutexGuard<'_, Gates> {
    gates.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Dispatcher {
    async fn run(self, shutdown: CancellationToken) {
        let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut in_flight = JoinSet::new();
        let mut failures = 0u32;
        info!(concurrency = self.config.concurrency, "delivery started");
        while !shutdown.is_cancelled() {
            while in_flight.try_join_next().is_some() {}
            let free = permits.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = in_flight.join_next() => {}
                    () = shutdown.cancelled() => break,
                }
                continue;
            }
            let (skip, paused_until) = lock(&self.gates).skipped(Instant::now());
            if let Some(until) = paused_until {
                tokio::select! {
                    () = tokio::time::sleep_until(until.into()) => {}
                    () = shutdown.cancelled() => break,
                }
                continue;
            }
            let limit = u32::try_from(free).unwrap_or(u32::MAX).min(self.config.claim_batch);
            let skip: Vec<&WebhookId> = skip.iter().collect();
            let claimed = match self.store.claim_due(Timestamp::now(), millis(self.config.lease()), limit, &skip).await
            {
                Ok(claimed) => {
                    failures = 0;
                    claimed
                }
                Err(e) => {
                    failures += 1;
                    let pause = backoff(failures);
                    warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "claiming due invocations failed");
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = shutdown.cancelled() => break,
                    }
                    continue;
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    () = self.idle() => {}
                    // A finished request may free a webhook the claim skipped.
                    Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                    () = shutdown.cancelled() => {}
                }
                continue;
            }
            let webhooks = match self.load_webhooks(&claimed).await {
                Ok(webhooks) => webhooks,
                Err(e) => {
                    // The claims' leases bring them back; nothing is lost.
                    warn!(error = %e, "loading webhooks for claimed invocations failed");
                    continue;
                }
            };
            let mut given_back = Vec::new();
            for claim in claimed {
                let Some(target) = webhooks.get(&claim.webhook_id).cloned() else {
                    self.fail_orphan(&claim).await;
                    continue;
                };
                let (admission, change) = lock(&self.gates).admit(
                    &target.webhook,
                    &claim.id,
                    claim.attempt,
                    Instant::now(),
                    Timestamp::now(),
                );
                if let Some(change) = change {
                    save_health(&self.store, self.health.as_ref(), change).await;
                }
                if let Admission::GiveBack(wait) = admission {
                    given_back.push((claim.id, claim.attempt, Timestamp::now().plus_millis(millis(wait))));
                    continue;
                }
                let Ok(permit) = permits.clone().acquire_owned().await else { break };
                let job = Job {
                    store: self.store.clone(),
                    sender: self.sender.clone(),
                    config: self.config.clone(),
                    records: self.records.clone(),
                    gates: self.gates.clone(),
                    health: self.health.clone(),
                    metrics: self.metrics.clone(),
                    target,
                    claim,
                };
                in_flight.spawn(async move {
                    job.run().await;
                    drop(permit);
                });
            }
            self.give_back(&given_back).await;
        }
        self.finish_in_flight(in_flight).await;
    }

    /// Lets requests in flight finish within the grace period; gives back the rest so the
    /// next claim sends them again (their receivers may see them twice: at least once).
    async fn finish_in_flight(&self, mut in_flight: JoinSet<()>) {
        info!(in_flight = in_flight.len(), "delivery stopping; finishing requests in flight");
        let drained =
            tokio::time::timeout(self.config.shutdown_grace, async { while in_flight.join_next().await.is_some() {} })
                .await;
        if drained.is_ok() {
            return;
        }
        in_flight.abort_all();
        while in_flight.join_next().await.is_some() {}
        let unfinished = lock(&self.gates).unfinished();
        warn!(unfinished = unfinished.len(), "requests still in flight at the end of the grace period are given back");
        let at = Timestamp::now();
        let claims: Vec<_> = unfinished.into_iter().map(|(id, attempt)| (id, attempt, at)).collect();
        self.give_back(&claims).await;
    }

    async fn give_back(&self, claims: &[(InvocationId, u32, Timestamp)]) {
        let claims: Vec<_> = claims.iter().map(|(id, attempt, at)| (id, *attempt, *at)).collect();
        if let Err(e) = self.store.give_back_claims(&claims).await {
            // Their leases bring them back a little later; nothing is lost.
            warn!(error = %e, claims = claims.len(), "could not give claims back");
        }
    }

    /// Fails a claimed invocation whose webhook was deleted.
    async fn fail_orphan(&self, claim: &Claimed) {
        let error = AttemptOutcome {
            code: "webhook_deleted".into(),
            message: "the webhook was deleted before this invocation was delivered".into(),
        };
        match self.store.fail_claim(&claim.id, claim.attempt, &error, Timestamp::now()).await {
            Ok(()) => self.metrics.given_up(1),
            Err(e) => warn!(invocation.id = %claim.id, error = %e, "could not fail an invocation of a deleted webhook"),
        }
    }

    /// Sleeps until work is queued, a retry comes due, a paused webhook opens, the poll
    /// interval passes.
    async fn idle(&self) {
        let mut wait = self.config.poll_interval;
        let at = Timestamp::now();
        if let Ok(Some(due)) = self.store.next_due_after(at).await {
            let until_due = u64::try_from(due.as_millis() - at.as_millis()).unwrap_or(0);
            wait = wait.min(Duration::from_millis(until_due));
        }
        let opening = lock(&self.gates).next_opening(Instant::now());
        if let Some(opening) = opening {
            wait = wait.min(opening.saturating_duration_since(Instant::now()));
        }
        tokio::select! {
            () = self.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }

    async fn load_webhooks(&self, claimed: &[Claimed]) -> Result<HashMap<WebhookId, Target>, StoreError> {
        let mut ids: Vec<&WebhookId> = claimed.iter().map(|c| &c.webhook_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut targets = HashMap::new();
        let at = Timestamp::now();
        for webhook in self.store.webhooks(&ids).await? {
            let secrets = self.store.signing_secrets(&webhook.id, at).await?;
            targets.insert(webhook.id.clone(), Target { webhook: Arc::new(webhook), secrets: Arc::new(secrets) });
        }
        let unknown: Vec<&WebhookId> = {
            let gates = lock(&self.gates);
            ids.into_iter().filter(|id| !gates.knows(id)).collect()
        };
        if !unknown.is_empty() {
            let mut saved = self.store.webhook_health(&unknown).await?;
            let mut gates = lock(&self.gates);
            for id in unknown {
                if !gates.knows(id) {
                    gates.resume(id, saved.remove(id), Instant::now(), Timestamp::now());
                }
            }
        }
        Ok(targets)
    }
}

async fn save_health(store: &Store, health: &dyn HealthReports, change: HealthChange) {
    match store.save_webhook_health(&change.webhook_id, &change.health, Timestamp::now()).await {
        Ok(Some(_)) => health.report(HealthEvent { webhook_id: change.webhook_id, health: change.health }),
        Ok(None) => {}
        Err(e) => warn!(webhook.id = %change.webhook_id, error = %e, "could not save the webhook's health"),
    }
}

#[derive(Clone)]
struct Target {
    webhook: Arc<Webhook>,
    secrets: Arc<WebhookSecrets>,
}

/// One attempt: send, decide, hand the record to the recorder.
struct Job {
    store: Store,
    sender: Sender,
    config: Arc<DeliveryConfig>,
    records: mpsc::Sender<AttemptRecord>,
    gates: Arc<Mutex<Gates>>,
    health: Arc<dyn HealthReports>,
    metrics: DeliveryMetrics,
    target: Target,
    claim: Claimed,
}

impl Job {
    async fn run(self) {
        let claim = &self.claim;
        let target = &self.target;
        let started_at = Timestamp::now();
        let request = finalize(
            &claim.request,
            &target.webhook.authentication,
            &target.secrets.all(),
            claim.id.as_str(),
            started_at.as_secs(),
            &self.config.user_agent,
        );
        let outcome = self.sender.send(&request).await;
        let next = self.config.retry.next(&outcome, claim.attempt, claim.max_retries, Timestamp::now(), random_unit());
        log_attempt(claim, &target.webhook.id, &outcome, next);
        let lag = (claim.attempt == 1).then(|| (started_at.as_millis() - claim.queued_at.as_millis()) as f64 / 1000.0);
        self.metrics.attempted(&outcome, lag, next == Next::Failed);
        let change =
            lock(&self.gates).finish(&target.webhook.id, &claim.id, &outcome, Instant::now(), Timestamp::now());
        let logged = request.logged(&target.webhook.authentication);
        let record = AttemptRecord {
            invocation_id: claim.id.clone(),
            webhook_id: target.webhook.id.clone(),
            number: claim.attempt,
            started_at,
            duration_ms: i64::try_from(outcome.duration.as_millis()).unwrap_or(i64::MAX),
            request: logged,
            response: outcome.response,
            error: outcome.error,
            next,
        };
        if self.records.send(record).await.is_err() {
            error!(invocation.id = %claim.id, "the recorder is gone; the attempt will be retried when its lease ends");
        }
        if let Some(change) = change {
            save_health(&self.store, self.health.as_ref(), change).await;
        }
    }
}

/// One line per attempt: DEBUG when it succeeded, WARN when it failed (with what comes next),
/// and an ERROR when the invocation is given up. Never a URL (it may hold a secret) nor a body.
fn log_attempt(claim: &Claimed, webhook_id: &WebhookId, outcome: &crate::Outcome, next: Next) {
    let status = outcome.response.as_ref().map(|r| r.status);
    let Some(error) = &outcome.error else {
        debug!(webhook.id = %webhook_id, invocation.id = %claim.id, attempt = claim.attempt, status = status, "webhook attempt succeeded");
        return;
    };
    let retry_at = match next {
        Next::RetryAt(at) => at.to_string(),
        Next::Succeeded | Next::Failed => "none".to_owned(),
    };
    warn!(
        webhook.id = %webhook_id, invocation.id = %claim.id, ticket.id = claim.ticket_id.map(|t| t.0), attempt = claim.attempt,
        code = %error.code, status = status, error = %error.message, next_retry = %retry_at, "webhook attempt failed"
    );
    if next == Next::Failed {
        // A final error (most 4xx, a redirect, a refused destination: `is_retryable`) ends
        // at any attempt: "no more retries" would suggest that more retries could have helped.
        let why = if crate::retry::is_retryable(outcome) { "no more retries" } else { "this error is not retried" };
        error!(
            webhook.id = %webhook_id, invocation.id = %claim.id, ticket.id = claim.ticket_id.map(|t| t.0), attempts = claim.attempt,
            code = %error.code, "webhook invocation failed: {why}; replay it once the receiver is fixed"
        );
    }
}

/// Writes attempt records in batches: whatever has arrived since the last commit goes in
/// the next transaction. A failed write is retried; the records are never dropped.
async fn record_loop(store: Store, mut rx: mpsc::Receiver<AttemptRecord>, handle: DeliveryHandle) {
    const MAX_BATCH: usize = 512;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(record) => batch.push(record),
                Err(_) => break,
            }
        }
        let mut failures = 0u32;
        while let Err(e) = store.record_attempts(&batch).await {
            failures += 1;
            let pause = backoff(failures);
            error!(error = %e, records = batch.len(), retry_in_ms = pause.as_millis() as u64, "recording attempts failed");
            tokio::time::sleep(pause).await;
        }
        // A retry may now be due sooner than the dispatcher's current sleep, and a settled
        // invocation may release the next one of its ticket.
        handle.wake();
        batch.clear();
    }
}
