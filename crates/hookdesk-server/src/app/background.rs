//! Background work that must run on one node at a time, however many share the database:
//! each job holds a lease row, renews it while it runs, and gives it up on shutdown; when its
//! node dies, the lease expires and another node takes the job over.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookdesk_core::{Clock, Timestamp};
use hookdesk_store::{Store, StoreError};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// This node, as other nodes and operators see it.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    /// The singleton jobs this node runs now.
    pub holding: Arc<Mutex<BTreeSet<&'static str>>>,
}

impl Node {
    pub fn new(id: String) -> Self {
        Self { id, holding: Arc::default() }
    }

    pub fn holding(&self) -> Vec<&'static str> {
        self.holding.lock().map(|h| h.iter().copied().collect()).unwrap_or_default()
    }

    fn set_holding(&self, job: &'static str, holds: bool) {
        if let Ok(mut holding) = self.holding.lock() {
            if holds {
                holding.insert(job);
            } else {
                holding.remove(job);
            }
        }
    }
}

/// Runs `job` every `interval` while this node holds the lease `name`. The lease lasts three
/// intervals, so a dead holder's job moves on within about that long.
pub async fn run_singleton<F, Fut>(
    store: Store,
    node: Node,
    name: &'static str,
    interval: Duration,
    shutdown: CancellationToken,
    mut job: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let lease_ms = i64::try_from(interval.as_millis() * 3).unwrap_or(i64::MAX);
    let mut held = false;
    loop {
        let at = Timestamp::now();
        match store.hold_lease(name, &node.id, at, at.plus_millis(lease_ms)).await {
            Ok(holds) => {
                if holds != held {
                    info!(job = name, node = %node.id, holds, "singleton job {}", if holds { "taken" } else { "lost" });
                }
                held = holds;
                node.set_holding(name, holds);
                if holds {
                    job().await;
                }
            }
            Err(e) => {
                warn!(job = name, error = %e, "cannot renew the singleton lease");
                held = false;
                node.set_holding(name, false);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = shutdown.cancelled() => break,
        }
    }
    if held {
        node.set_holding(name, false);
        if let Err(e) = store.release_lease(name, &node.id).await {
            warn!(job = name, error = %e, "cannot release the singleton lease; it will expire");
        }
    }
}

/// Rows one purge statement deletes at most.
const BATCH: u32 = 1000;
/// Statements per table per run: a run ends within seconds, well inside its lease and a
/// shutdown's grace; a larger backlog (the first run after an upgrade, say) goes over the
/// next runs.
const BATCHES_PER_RUN: u32 = 100;

/// The retention purge: invocations completed, and inbound calls logged, longer than
/// `schedule.retention` ago, and ticket audits older than `schedule.audit_retention` (unless it
/// is off), are deleted a batch at a time, so that the tables do not grow without bound. Each
/// batch is one short statement: between two, the writer serves whoever waits for it (on
/// SQLite, writers queue for the one writer in order, so a purge holds them for a batch at most).
pub async fn purge_expired(store: &Store, clock: &Clock, schedule: &super::Schedule, inbound_log_budget: u64) {
    let ago = |now: Timestamp, retention: Duration| {
        now.plus_millis(-i64::try_from(retention.as_millis()).unwrap_or(i64::MAX))
    };
    // Each table by the clock that stamped it: the workers complete invocations at the
    // system's time; calls and audits are stamped with the app's clock.
    let invocations_before = ago(Timestamp::now(), schedule.retention);
    let invocations = in_batches("invocations", || store.purge_invocations(invocations_before, BATCH)).await;
    let calls_before = ago(clock.now(), schedule.retention);
    let calls = in_batches("inbound calls", || store.purge_inbound_calls(calls_before, BATCH)).await;
    let audits = match schedule.audit_retention {
        Some(retention) => {
            let before = ago(clock.now(), retention);
            in_batches("ticket audits", || store.purge_audits(before, BATCH)).await
        }
        None => 0,
    };
    if invocations + calls + audits > 0 {
        info!(invocations, inbound_calls = calls, ticket_audits = audits, "expired entries purged");
    }
    // What every node logged since it last trimmed (each trims its own calls as it goes).
    match store.inbound_webhooks_over_budget(inbound_log_budget).await {
        Ok(over) => {
            for webhook_id in over {
                super::inbound_calls::trim_call_log(store, &webhook_id, inbound_log_budget).await;
            }
        }
        Err(e) => warn!(error = %e, "the inbound call logs' budget could not be checked; it will be next run"),
    }
}

/// Runs `batch` until it deletes nothing, fails (the next run tries again) or has run
/// [`BATCHES_PER_RUN`] times; answers how many rows it deleted.
async fn in_batches<F, Fut>(table: &str, mut batch: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let mut deleted = 0;
    for _ in 0..BATCHES_PER_RUN {
        match batch().await {
            Ok(0) => break,
            Ok(n) => deleted += n,
            Err(e) => {
                warn!(table, error = %e, "the retention purge failed; it will try again");
                break;
            }
        }
        tokio::task::yield_now().await;
    }
    deleted
}
