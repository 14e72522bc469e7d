//! The delivery step: [`Worker::deliver_due`] claims what is due, lets each claim through its
//! webhook's gate or gives it back, and starts an attempt for each one let through. It says
//! what it did as a [`Step`]; the runner (`dispatcher`) decides from it when to step again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hookdesk_core::Timestamp;
use hookdesk_core::id::{InvocationId, WebhookId};
use hookdesk_store::{AttemptOutcome, Claimed, StoreError};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::attempt::{Target, Tools, attempt, save_health};
use crate::gates::{Admission, Gates};
use crate::millis;
use crate::outcome::AttemptCode;

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Claimed this many due invocations (each sent, given back or failed): step again now.
    Claimed(usize),
    /// Every worker slot is busy: step again when an attempt finishes.
    Full,
    /// The global rate ceiling lets nothing go before then.
    Paused(Instant),
    /// Nothing due may be sent now.
    Idle,
}

/// The gates are held for microseconds at a time and never across an await.
pub(crate) fn lock(gates: &Mutex<Gates>) -> MutexGuard<'_, Gates> {
    gates.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The claims' webhooks, kept while the store's rules version stays (every change to a webhook
/// or its secrets moves it) and for at most [`TARGETS_FOR`], so that rotated-out secrets stop
/// signing soon after their grace ends.
#[derive(Default)]
struct Targets {
    version: i64,
    loaded_at: Option<Instant>,
    by_id: HashMap<WebhookId, Target>,
}

const TARGETS_FOR: Duration = Duration::from_secs(5);

pub(crate) struct Worker {
    pub tools: Tools,
    targets: Targets,
    permits: Arc<Semaphore>,
    pub in_flight: JoinSet<()>,
    /// Attempts started, and records committed by the recorder: equal once all are written.
    started: u64,
    #[cfg_attr(not(test), expect(dead_code, reason = "read by drain, which the tests step delivery with"))]
    recorded: watch::Receiver<u64>,
}

impl Worker {
    pub fn new(tools: Tools, recorded: watch::Receiver<u64>) -> Self {
        let permits = Arc::new(Semaphore::new(tools.config.concurrency.max(1)));
        Self { tools, permits, targets: Targets::default(), in_flight: JoinSet::new(), started: 0, recorded }
    }

    /// One step: claim what is due and may be sent, start its attempts.
    pub async fn deliver_due(&mut self) -> Result<Step, StoreError> {
        while self.in_flight.try_join_next().is_some() {}
        let free = self.permits.available_permits();
        if free == 0 {
            return Ok(Step::Full);
        }
        let (skip, paused_until) = lock(&self.tools.gates).skipped(Instant::now());
        if let Some(until) = paused_until {
            return Ok(Step::Paused(until));
        }
        let config = &self.tools.config;
        let limit = u32::try_from(free).unwrap_or(u32::MAX).min(config.claim_batch);
        let skip: Vec<&WebhookId> = skip.iter().collect();
        let claimed = self.tools.store.claim_due(Timestamp::now(), millis(config.lease()), limit, &skip).await?;
        if claimed.is_empty() {
            return Ok(Step::Idle);
        }
        let count = claimed.len();
        // On an error the claims' leases bring them back; nothing is lost.
        let targets = self.load_targets(&claimed).await?;
        let mut given_back = Vec::new();
        for claim in claimed {
            let Some(target) = targets.get(&claim.webhook_id).cloned() else {
                self.fail_orphan(&claim).await;
                continue;
            };
            let (admission, change) = lock(&self.tools.gates).admit(
                &target.webhook,
                &claim.id,
                claim.attempt,
                Instant::now(),
                Timestamp::now(),
            );
            if let Some(change) = change {
                save_health(&self.tools.store, self.tools.health.as_ref(), change).await;
            }
            if let Admission::GiveBack(wait) = admission {
                given_back.push((claim.id, claim.attempt, Timestamp::now().plus_millis(millis(wait))));
                continue;
            }
            // Claims were limited to the free permits, and only this task takes them.
            let Ok(permit) = self.permits.clone().acquire_owned().await else { break };
            let tools = self.tools.clone();
            self.started += 1;
            self.in_flight.spawn(async move {
                attempt(&tools, &target, &claim).await;
                drop(permit);
            });
        }
        self.give_back(&given_back).await;
        Ok(Step::Claimed(count))
    }

    /// How long the runner may sleep when idle: until a retry comes due, a paused webhook's
    /// gate opens, or the poll interval passes (whatever comes first), unless woken.
    pub async fn idle_wait(&self) -> Duration {
        let mut wait = self.tools.config.poll_interval;
        let at = Timestamp::now();
        if let Ok(Some(due)) = self.tools.store.next_due_after(at).await {
            let until_due = u64::try_from(due.as_millis() - at.as_millis()).unwrap_or(0);
            wait = wait.min(Duration::from_millis(until_due));
        }
        if let Some(opening) = lock(&self.tools.gates).next_opening(Instant::now()) {
            wait = wait.min(opening.saturating_duration_since(Instant::now()));
        }
        wait
    }

    /// Steps until nothing is due, in flight or waiting to be recorded. Tests drive delivery
    /// with it instead of waiting for a time.
    #[cfg(test)]
    pub async fn drain(&mut self) -> Result<(), StoreError> {
        loop {
            match self.deliver_due().await? {
                Step::Claimed(_) => {}
                Step::Full => {
                    self.in_flight.join_next().await;
                }
                Step::Paused(until) => tokio::time::sleep_until(until.into()).await,
                Step::Idle if self.in_flight.is_empty() && *self.recorded.borrow() == self.started => return Ok(()),
                Step::Idle => {
                    while self.in_flight.join_next().await.is_some() {}
                    let started = self.started;
                    // The recorder ends only when the worker is dropped: it is there.
                    let _ = self.recorded.wait_for(|recorded| *recorded >= started).await;
                }
            }
        }
    }

    /// Lets requests in flight finish within the grace period; gives back the rest so the
    /// next claim sends them again (their receivers may see them twice: at least once).
    pub async fn finish_in_flight(mut self) {
        info!(in_flight = self.in_flight.len(), "delivery stopping; finishing requests in flight");
        let grace = self.tools.config.shutdown_grace;
        let in_flight = &mut self.in_flight;
        let drained = tokio::time::timeout(grace, async { while in_flight.join_next().await.is_some() {} }).await;
        if drained.is_ok() {
            return;
        }
        self.in_flight.abort_all();
        while self.in_flight.join_next().await.is_some() {}
        let unfinished = lock(&self.tools.gates).unfinished();
        warn!(unfinished = unfinished.len(), "requests still in flight at the end of the grace period are given back");
        let at = Timestamp::now();
        let claims: Vec<_> = unfinished.into_iter().map(|(id, attempt)| (id, attempt, at)).collect();
        self.give_back(&claims).await;
    }

    async fn give_back(&self, claims: &[(InvocationId, u32, Timestamp)]) {
        if claims.is_empty() {
            return;
        }
        let claims: Vec<_> = claims.iter().map(|(id, attempt, at)| (id, *attempt, *at)).collect();
        if let Err(e) = self.tools.store.give_back_claims(&claims).await {
            // Their leases bring them back a little later; nothing is lost.
            warn!(error = %e, claims = claims.len(), "could not give claims back");
        }
    }

    /// Fails a claimed invocation whose webhook was deleted.
    async fn fail_orphan(&self, claim: &Claimed) {
        let error = AttemptOutcome {
            code: AttemptCode::WebhookDeleted.as_str().unwrap_or_default().to_owned(),
            message: "the webhook was deleted before this invocation was delivered".into(),
        };
        match self.tools.store.fail_claim(&claim.id, claim.attempt, &error, Timestamp::now()).await {
            Ok(()) => self.tools.metrics.given_up(1),
            Err(e) => warn!(invocation.id = %claim.id, error = %e, "could not fail an invocation of a deleted webhook"),
        }
    }

    /// The claims' webhooks and secrets (from the cache while it holds); a webhook seen for
    /// the first time gets its gate, resumed from its saved health.
    async fn load_targets(&mut self, claimed: &[Claimed]) -> Result<HashMap<WebhookId, Target>, StoreError> {
        let store = &self.tools.store;
        let version = store.rules_version().await?;
        let cache = &mut self.targets;
        if cache.version != version || cache.loaded_at.is_none_or(|at| at.elapsed() > TARGETS_FOR) {
            *cache = Targets { version, loaded_at: Some(Instant::now()), by_id: HashMap::new() };
        }
        let mut ids: Vec<&WebhookId> = claimed.iter().map(|c| &c.webhook_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let missing: Vec<&WebhookId> = ids.iter().copied().filter(|id| !cache.by_id.contains_key(*id)).collect();
        if !missing.is_empty() {
            let at = Timestamp::now();
            for webhook in store.webhooks(&missing).await? {
                let secrets = store.signing_secrets(&webhook.id, at).await?;
                let target = Target { webhook: Arc::new(webhook), secrets: Arc::new(secrets) };
                cache.by_id.insert(target.webhook.id.clone(), target);
            }
        }
        let targets = ids.iter().filter_map(|id| Some(((*id).clone(), cache.by_id.get(*id)?.clone()))).collect();
        let unknown: Vec<&WebhookId> = {
            let gates = lock(&self.tools.gates);
            ids.into_iter().filter(|id| !gates.knows(id)).collect()
        };
        if !unknown.is_empty() {
            let mut saved = store.webhook_health(&unknown).await?;
            let mut gates = lock(&self.tools.gates);
            for id in unknown {
                if !gates.knows(id) {
                    gates.resume(id, saved.remove(id), Instant::now(), Timestamp::now());
                }
            }
        }
        Ok(targets)
    }
}

#[cfg(test)]
mod tests;
