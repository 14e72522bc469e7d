//! Writes attempt records in batches: whatever has arrived since the last commit goes in the
//! next transaction. A failed write is retried; the records are never dropped.

use hookdesk_store::{AttemptRecord, Store};
use tokio::sync::{mpsc, watch};
use tracing::error;

use crate::dispatcher::{DeliveryHandle, backoff};

const MAX_BATCH: usize = 512;

/// Records until every sender is gone. `recorded` counts the records committed so far (a
/// drain waits on it).
pub(crate) async fn record_loop(
    store: Store,
    mut rx: mpsc::Receiver<AttemptRecord>,
    handle: DeliveryHandle,
    recorded: watch::Sender<u64>,
) {
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
        recorded.send_modify(|n| *n += batch.len() as u64);
        // A retry may now be due sooner than the dispatcher's current sleep, and a settled
        // invocation may release the next one of its ticket.
        handle.wake();
        batch.clear();
    }
}
