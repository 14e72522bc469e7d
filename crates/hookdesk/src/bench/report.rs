//! The bench report: a table for people, JSON for machines.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Raw {
    pub requests: u64,
    pub seconds: f64,
    pub per_second: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Drain {
    pub deliveries: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub ratio_to_raw: f64,
    pub distinct_webhook_ids: u64,
    pub duplicates: u64,
    pub missing: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(millis: &mut [f64]) -> Self {
        millis.sort_by(f64::total_cmp);
        let at = |q: f64| millis.get(((millis.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0.0);
        Self { p50_ms: at(0.5), p99_ms: at(0.99), max_ms: at(1.0) }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EndToEnd {
    pub updates: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub latency_full_load: Latency,
    pub half_rate: f64,
    pub latency_half_rate: Latency,
    /// How much the database grew per update (the ticket's new state, its audit entry, the
    /// invocation and its attempt), before any retention purge.
    pub bytes_per_update: f64,
    pub distinct_webhook_ids: u64,
    pub duplicates: u64,
    pub missing: u64,
}

/// Calls to an inbound webhook, each updating a ticket whose trigger notifies the receiver.
#[derive(Debug, Clone, Serialize)]
pub struct Inbound {
    pub calls: u64,
    pub seconds: f64,
    pub per_second: f64,
    /// Against the end-to-end phase's API updates per second, in the same run.
    pub ratio_to_api: f64,
    /// From the call's answer to the notification's receipt.
    pub latency: Latency,
    pub duplicates: u64,
    pub missing: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// Peak resident memory of the bench process (server, workers, clients and receiver).
    pub peak_rss_mib: f64,
    /// Resident memory with `queued` invocations waiting for a receiver that is down.
    pub rss_with_queue_mib: f64,
    pub queued: u64,
    /// A scrape of `/metrics` with those invocations queued.
    pub metrics_scrape: Latency,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub backend: String,
    pub cores: usize,
    pub concurrency: u16,
    pub clients: u16,
    pub raw: Raw,
    /// The same requests from a bare hyper-util client (no guard, no timeouts, no logging):
    /// beside `raw`, it shows whether the workers' own client flatters the ratios.
    pub bare: Raw,
    pub drain: Drain,
    pub end_to_end: EndToEnd,
    pub inbound: Inbound,
    pub memory: Memory,
}

impl Report {
    /// Every invocation of a clean run arrived exactly once.
    pub fn exactly_once(&self) -> bool {
        self.drain.duplicates == 0
            && self.drain.missing == 0
            && self.end_to_end.duplicates == 0
            && self.end_to_end.missing == 0
            && self.inbound.duplicates == 0
            && self.inbound.missing == 0
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (r, d, e, m) = (&self.raw, &self.drain, &self.end_to_end, &self.memory);
        writeln!(
            f,
            "hookdesk bench: {} backend, {} cores, concurrency {}, {} API clients",
            self.backend, self.cores, self.concurrency, self.clients
        )?;
        writeln!(f)?;
        writeln!(f, "{:<40} {:>14} {:>10}", "measure", "value", "vs raw")?;
        writeln!(
            f,
            "{:<40} {:>14.0} {:>10}",
            format!("raw HTTP ceiling ({} POSTs), req/s", r.requests),
            r.per_second,
            "1.00"
        )?;
        writeln!(
            f,
            "{:<40} {:>14.0} {:>10.2}",
            "  bare hyper-util client, req/s",
            self.bare.per_second,
            self.bare.per_second / r.per_second
        )?;
        writeln!(
            f,
            "{:<40} {:>14.0} {:>10.2}",
            format!("drain ({} queued), deliveries/s", d.deliveries),
            d.per_second,
            d.ratio_to_raw
        )?;
        writeln!(
            f,
            "{:<40} {:>14.0} {:>10.2}",
            format!("end to end ({} updates), updates/s", e.updates),
            e.per_second,
            e.per_second / r.per_second
        )?;
        for (label, l) in
            [("full load", &e.latency_full_load), (&*format!("{:.0} updates/s", e.half_rate), &e.latency_half_rate)]
        {
            writeln!(
                f,
                "{:<40} {:>14}",
                format!("  update->receipt at {label}, ms"),
                format!("{:.1} / {:.1} / {:.1}", l.p50_ms, l.p99_ms, l.max_ms)
            )?;
        }
        writeln!(f, "{:<40} {:>14}", "    (p50 / p99 / max)", "")?;
        writeln!(f, "{:<40} {:>14.0}", "  storage per update, bytes", e.bytes_per_update)?;
        let i = &self.inbound;
        writeln!(
            f,
            "{:<40} {:>14.0} {:>10.2}",
            format!("inbound calls ({}), calls/s", i.calls),
            i.per_second,
            i.per_second / r.per_second
        )?;
        writeln!(f, "{:<40} {:>14.2}", "  vs API updates/s", i.ratio_to_api)?;
        writeln!(
            f,
            "{:<40} {:>14}",
            "  call->receipt at full load, ms",
            format!("{:.1} / {:.1} / {:.1}", i.latency.p50_ms, i.latency.p99_ms, i.latency.max_ms)
        )?;
        writeln!(f, "{:<40} {:>14.1}", "peak RSS of the run, MiB", m.peak_rss_mib)?;
        writeln!(
            f,
            "{:<40} {:>14.1}",
            format!("RSS, {} queued for a down receiver, MiB", m.queued),
            m.rss_with_queue_mib
        )?;
        writeln!(
            f,
            "{:<40} {:>14}",
            format!("/metrics scrape, {} queued, ms", m.queued),
            format!("{:.1} / {:.1} / {:.1}", m.metrics_scrape.p50_ms, m.metrics_scrape.p99_ms, m.metrics_scrape.max_ms)
        )?;
        writeln!(f)?;
        if self.exactly_once() {
            writeln!(f, "every invocation arrived exactly once (checked by webhook-id)")
        } else {
            writeln!(
                f,
                "NOT exactly once: drain {} duplicates, {} missing; end to end {} duplicates, {} missing; inbound {} duplicates, {} missing",
                d.duplicates, d.missing, e.duplicates, e.missing, i.duplicates, i.missing
            )
        }
    }
}
