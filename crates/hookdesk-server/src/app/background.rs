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

/// The retention purge: invocations completed, and inbound calls logged, longer than
/// `schedule.retention` ago, and ticket audits older than `schedule.audit_retention`, are
/// deleted a batch at a time, so that the tables do not grow without bound. Each batch is one
/// short statement: between two, the writer serves whoever waits for it (on SQLite, updates
/// queue for the one writer in order, so a long purge never holds them for more than a batch).
pub async fn purge_old_logs(store: &Store, clock: &Clock, schedule: &super::Schedule) {
    const BATCH: u32 = 1000;
    let now = clock.now();
    let ago = |retention: Duration| now.plus_millis(-i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
    let (logs_before, audits_before) = (ago(schedule.retention), ago(schedule.audit_retention));
    let (mut invocations, mut calls, mut audits) = (0, 0, 0);
    while let Some(n) = purged("invocations", store.purge_invocations(logs_before, BATCH).await) {
        invocations += n;
        tokio::task::yield_now().await;
    }
    while let Some(n) = purged("inbound calls", store.purge_inbound_calls(logs_before, BATCH).await) {
        calls += n;
        tokio::task::yield_now().await;
    }
    while let Some(n) = purged("ticket audits", store.purge_audits(audits_before, BATCH).await) {
        audits += n;
        tokio::task::yield_now().await;
    }
    if invocations + calls + audits > 0 {
        info!(invocations, inbound_calls = calls, ticket_audits = audits, "old entries purged");
    }
}

/// A batch's count, or `None` when the purge of `log` is done or failed (it runs again later).
fn purged(log: &str, batch: Result<u64, StoreError>) -> Option<u64> {
    match batch {
        Ok(0) => None,
        Ok(n) => Some(n),
        Err(e) => {
            warn!(log, error = %e, "the retention purge failed; it will try again");
            None
        }
    }
}
