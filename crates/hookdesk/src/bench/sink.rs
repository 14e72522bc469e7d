//! The bench's receiver: answers 200 with an empty body, as fast as it can, and notes which
//! `webhook-id`s arrived (to check exactly-once) and when each numbered update arrived (for
//! update-to-receipt latency).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};

#[derive(Default)]
pub struct Sink {
    pub requests: AtomicU64,
    ids: Mutex<HashMap<String, u32>>,
    arrivals: Mutex<HashMap<u64, Instant>>,
}

impl Sink {
    fn record(&self, headers: &HeaderMap, body: &[u8]) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok())
            && let Ok(mut ids) = self.ids.lock()
        {
            *ids.entry(id.to_owned()).or_default() += 1;
        }
        // End-to-end payloads start with {"n": "N", ...} (the subject, quoted).
        if let Some(n) = body.strip_prefix(b"{\"n\": \"").and_then(|rest| {
            let end = rest.iter().position(|b| !b.is_ascii_digit())?;
            std::str::from_utf8(&rest[..end]).ok()?.parse::<u64>().ok()
        }) && let Ok(mut arrivals) = self.arrivals.lock()
        {
            arrivals.entry(n).or_insert_with(Instant::now);
        }
    }

    pub fn count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// (distinct webhook-ids, requests that repeated an id) so far.
    pub fn distinct_and_duplicates(&self) -> (u64, u64) {
        let ids =
            self.ids.lock().map(|ids| ids.values().map(|&n| u64::from(n)).collect::<Vec<_>>()).unwrap_or_default();
        (ids.len() as u64, ids.iter().map(|n| n - 1).sum())
    }

    pub fn arrival(&self, n: u64) -> Option<Instant> {
        self.arrivals.lock().ok()?.get(&n).copied()
    }

    pub fn reset(&self) {
        self.requests.store(0, Ordering::Relaxed);
        if let Ok(mut ids) = self.ids.lock() {
            ids.clear();
        }
        if let Ok(mut arrivals) = self.arrivals.lock() {
            arrivals.clear();
        }
    }
}

/// Starts the sink on a loopback port.
pub async fn start() -> anyhow::Result<(SocketAddr, Arc<Sink>)> {
    let sink = Arc::new(Sink::default());
    let shared = sink.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let sink = shared.clone();
        async move {
            sink.record(&headers, &body);
            StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, sink))
}
