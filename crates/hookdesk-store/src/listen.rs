//! Wake-ups across processes: on PostgreSQL, a commit that queued work is announced on
//! [`QUEUE_CHANNEL`] and every process listening wakes its dispatcher, so work queued by one
//! node is picked up at once by any. SQLite has one process, which wakes itself.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Store;
use crate::db::{Backend, Db, QUEUE_CHANNEL};

/// Sends the queue's notification after the commit, in a statement of its own, coalescing
/// requests made while one is on its way. Not inside the update's transaction: PostgreSQL
/// serialises the commits of transactions that NOTIFY on one lock held through their WAL
/// flush, which made every update wait for the one before it.
#[derive(Clone)]
pub(crate) struct Announcer(mpsc::Sender<()>);

impl Announcer {
    /// Its task ends when the last store holding it is gone.
    pub(crate) fn spawn(pool: &sqlx::Pool<Db>) -> Self {
        let (tx, mut rx) = mpsc::channel(1);
        let pool = pool.clone();
        tokio::spawn(async move {
            while rx.recv().await.is_some() {
                if let Err(e) = sqlx::query("SELECT pg_notify($1, '')").bind(QUEUE_CHANNEL).execute(&pool).await {
                    // The other nodes find the work by polling meanwhile.
                    tracing::warn!(error = %e, "cannot announce queued work to the other nodes");
                }
            }
        });
        Self(tx)
    }
}

impl Store {
    /// Tells every node (this one's listener too) that invocations were committed to the
    /// queue; a no-op on SQLite. A request made while one is pending joins it.
    pub(crate) fn announce_queued(&self) {
        if let Some(announcer) = &self.announcer {
            let _ = announcer.0.try_send(());
        }
    }

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
