//! Wake-ups across processes: on PostgreSQL, `enqueue` notifies [`QUEUE_CHANNEL`] and every
//! process listening wakes its dispatcher, so work queued by one node is picked up at once
//! by any. SQLite has one process, which wakes itself.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use crate::Store;
use crate::db::{Backend, QUEUE_CHANNEL};

impl Store {
    /// Calls `wake` for every notification on the queue channel, and once after every
    /// (re)connection, since notifications sent meanwhile are lost. `None` on SQLite.
    pub fn spawn_queue_listener(&self, wake: impl Fn() + Send + Sync + 'static) -> Option<JoinHandle<()>> {
        if self.backend != Backend::Postgres {
            return None;
        }
        let url = self.url.clone();
        Some(tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                let mut listener = match PgListener::connect(&url).await {
                    Ok(listener) => listener,
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(error = %e, "cannot listen for queued work; polling meanwhile");
                        tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(failures.min(5)))).await;
                        continue;
                    }
                };
                if let Err(e) = listener.listen(QUEUE_CHANNEL).await {
                    tracing::warn!(error = %e, "LISTEN failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                failures = 0;
                wake();
                // try_recv returns Ok(None) when the connection was lost and re-established.
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => wake(),
                        Ok(None) => wake(),
                        Err(e) => {
                            tracing::warn!(error = %e, "lost the queue notifications; reconnecting");
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            break;
                        }
                    }
                }
            }
        }))
    }
}
