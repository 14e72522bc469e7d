//! The delivery runner: claims due invocations, sends them with bounded concurrency, and
//! records outcomes in batches.
//!
//! It wakes at once when an update queues work ([`DeliveryHandle::wake`]), when a retry
//! comes due, and otherwise every `poll_interval` (work queued by another process).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookdesk_core::Timestamp;
use hookdesk_core::request::{OutgoingRequest, finalize};
use hookdesk_core::webhook::{Authentication, Webhook, WebhookStatus};
use hookdesk_store::{AttemptOutcome, AttemptRecord, Claimed, LoggedRequest, Store, StoreError, WebhookSecrets};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::retry::RetryPolicy;
use crate::sender::{LOG_BODY_BYTES, Sender};

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
}

impl DeliveryConfig {
    /// A claim outlives the request it covers (twice its timeout, plus time to record the
    /// outcome), so only a dead worker's claims expire; theirs come back this soon.
    fn lease(&self) -> Duration {
        self.request_timeout * 2 + Duration::from_secs(5)
    }
}

/// Wakes the dispatcher and waits for it to stop.
#[derive(Clone)]
pub struct DeliveryHandle {
    wake: Arc<Notify>,
}

impl DeliveryHandle {
    /// Work was queued: look now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

pub fn now() -> Timestamp {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    Timestamp::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))
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

/// Starts the dispatcher; it runs until `shutdown`, then finishes what is in flight.
pub fn spawn(
    store: Store,
    sender: Sender,
    config: DeliveryConfig,
    shutdown: CancellationToken,
) -> (DeliveryHandle, tokio::task::JoinHandle<()>) {
    let wake = Arc::new(Notify::new());
    let handle = DeliveryHandle { wake: wake.clone() };
    let (records, recorder_rx) = mpsc::channel::<AttemptRecord>(config.concurrency.max(1) * 4);
    let recorder = tokio::spawn(record_loop(store.clone(), recorder_rx, handle.clone()));
    let dispatcher = Dispatcher { store, sender, config: Arc::new(config), wake, records };
    let join = tokio::spawn(async move {
        dispatcher.run(shutdown).await;
        // The dispatcher dropped its record sender; the recorder flushes and ends.
        if let Err(e) = recorder.await {
            error!(error = %e, "the attempt recorder stopped abnormally");
        }
    });
    (handle, join)
}

struct Dispatcher {
    store: Store,
    sender: Sender,
    config: Arc<DeliveryConfig>,
    wake: Arc<Notify>,
    records: mpsc::Sender<AttemptRecord>,
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
            let limit = u32::try_from(free).unwrap_or(u32::MAX).min(self.config.claim_batch);
            let lease_ms = i64::try_from(self.config.lease().as_millis()).unwrap_or(i64::MAX);
            let claimed = match self.store.claim_due(now(), lease_ms, limit).await {
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
                self.idle(&shutdown).await;
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
            for claim in claimed {
                let Ok(permit) = permits.clone().acquire_owned().await else { break };
                let job = Job {
                    store: self.store.clone(),
                    sender: self.sender.clone(),
                    config: self.config.clone(),
                    records: self.records.clone(),
                    target: webhooks.get(&claim.webhook_id).cloned(),
                    claim,
                };
                in_flight.spawn(async move {
                    job.run().await;
                    drop(permit);
                });
            }
        }
        info!(in_flight = in_flight.len(), "delivery stopping; finishing requests in flight");
        while in_flight.join_next().await.is_some() {}
    }

    /// Sleeps until work is queued, a retry comes due, the poll interval passes, or shutdown.
    async fn idle(&self, shutdown: &CancellationToken) {
        let mut wait = self.config.poll_interval;
        if let Ok(Some(due)) = self.store.next_due_at().await {
            let until_due = u64::try_from((due.as_millis() - now().as_millis()).max(0)).unwrap_or(0);
            wait = wait.min(Duration::from_millis(until_due));
        }
        tokio::select! {
            () = self.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => {}
        }
    }

    async fn load_webhooks(&self, claimed: &[Claimed]) -> Result<HashMap<String, Target>, StoreError> {
        let mut ids: Vec<&str> = claimed.iter().map(|c| c.webhook_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut targets = HashMap::new();
        let at = now();
        for webhook in self.store.webhooks(&ids).await? {
            let secrets = self.store.signing_secrets(&webhook.id, at).await?;
            targets.insert(webhook.id.clone(), Target { webhook: Arc::new(webhook), secrets: Arc::new(secrets) });
        }
        Ok(targets)
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
    target: Option<Target>,
    claim: Claimed,
}

impl Job {
    async fn run(self) {
        let claim = &self.claim;
        let Some(target) = &self.target else {
            let error = AttemptOutcome {
                code: "webhook_deleted".into(),
                message: "the webhook was deleted before this invocation was delivered".into(),
            };
            if let Err(e) = self.store.fail_claim(&claim.id, claim.attempt, &error, now()).await {
                warn!(invocation.id = %claim.id, error = %e, "could not fail an invocation of a deleted webhook");
            }
            return;
        };
        if target.webhook.status == WebhookStatus::Inactive {
            // Kept, not dropped: it goes out when the webhook is active again.
            let until =
                now().plus_millis(i64::try_from(self.config.poll_interval.as_millis()).unwrap_or(1000).max(30_000));
            if let Err(e) = self.store.postpone_claim(&claim.id, claim.attempt, until).await {
                warn!(invocation.id = %claim.id, error = %e, "could not postpone an invocation of an inactive webhook");
            }
            return;
        }
        let started_at = now();
        let request = finalize(
            &claim.request,
            &target.webhook.authentication,
            &target.secrets.all(),
            &claim.id,
            started_at.as_secs(),
            &self.config.user_agent,
        );
        let outcome = self.sender.send(&request).await;
        let next = self.config.retry.next(&outcome, claim.attempt, claim.max_retries, now(), random_unit());
        debug!(invocation.id = %claim.id, attempt = claim.attempt, status = ?outcome.response.as_ref().map(|r| r.status), error = ?outcome.error.as_ref().map(|e| &e.code), "attempt finished");
        let logged = log_request(&request, &target.webhook.authentication);
        let record = AttemptRecord {
            invocation_id: claim.id.clone(),
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
    }
}

/// A request as the execution log keeps it: secrets redacted, body cut.
pub fn log_request(request: &OutgoingRequest, auth: &Authentication) -> LoggedRequest {
    LoggedRequest {
        method: request.method.as_str().to_owned(),
        url: request.url.clone(),
        headers: request.redacted_headers(auth).into_iter().map(|(n, v)| (n, v.into())).collect(),
        body: request.body.as_deref().map(|b| cut(b, LOG_BODY_BYTES)),
    }
}

/// Cuts text to at most `max` bytes on a character boundary.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
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
        // A retry may now be due sooner than the dispatcher's current sleep.
        if batch.iter().any(|r| matches!(r.next, hookdesk_store::Next::RetryAt(_))) {
            handle.wake();
        }
        batch.clear();
    }
}
