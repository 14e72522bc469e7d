//! `hookdesk bench`: where hookdesk stands against this machine's own limit, measured in one
//! run. It starts its own loopback receiver and servers on fresh temporary databases, and
//! reports every figure next to the ceiling measured in the same run.

mod report;
mod sink;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hookdesk_core::id::TicketId;
use hookdesk_core::request::OutgoingRequest;
use hookdesk_core::webhook::HttpMethod;
use hookdesk_delivery::gates::GateConfig;
use hookdesk_delivery::{DestinationPolicy, RetryPolicy, Sender};
use hookdesk_server::app::ids;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio::task::JoinSet;

use crate::config::{DatabaseArgs, ServeConfig};
use crate::serve::{Running, start};
pub use report::Report;
use report::{Drain, EndToEnd, Inbound, Latency, Memory, Raw};

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// `sqlite` for a fresh temporary SQLite file, or the URL of a PostgreSQL server where
    /// the bench may create (and afterwards drop) databases of its own.
    #[arg(long, default_value = "sqlite")]
    pub database: String,

    /// Invocations queued for the drain and memory phases.
    #[arg(long, default_value_t = 100_000)]
    pub invocations: u64,

    /// Ticket updates through the API at full load, and as many inbound webhook calls.
    #[arg(long, default_value_t = 20_000)]
    pub updates: u64,

    /// Requests in flight: the workers' concurrency, and the raw client's.
    #[arg(long, default_value_t = 64)]
    pub concurrency: u16,

    /// Concurrent API clients in the end-to-end and inbound phases.
    #[arg(long, default_value_t = 32)]
    pub clients: u16,

    /// A run of seconds (2,000 invocations, 1,000 updates), to check that the bench works.
    #[arg(long)]
    pub quick: bool,

    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The 1 KiB JSON body every phase sends.
fn kib_body() -> String {
    let mut body = String::from("{\"padding\": \"");
    body.push_str(&"x".repeat(1024 - body.len() - 2));
    body.push_str("\"}");
    body
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A field of /proc/self/status in KiB (VmRSS, VmHWM); 0 where there is no /proc.
fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn progress(len: u64, what: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:40}] {pos}/{len} {per_sec} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_owned());
    bar
}

/// A fresh database for one phase; removed when dropped (PostgreSQL) or with its folder.
struct Scratch {
    dir: tempfile::TempDir,
    database: String,
    postgres: Option<(String, String)>,
    /// The bootstrap admin token of its servers (and of its setup).
    admin_token: String,
}

impl Scratch {
    async fn new(base: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        if base == "sqlite" {
            let database = format!("sqlite://{}/bench.db", dir.path().display());
            return Ok(Self { dir, database, postgres: None, admin_token: format!("bench-{}", uuid_suffix()) });
        }
        use sqlx::Connection;
        let name = format!("hookdesk_bench_{}", uuid_suffix());
        // Before creating it: a URL it cannot name would leave the database behind.
        let database = url_with_database(base, &name)?;
        let mut admin = sqlx::PgConnection::connect(base).await.context("connecting to the PostgreSQL server")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await?;
        admin.close().await.ok();
        Ok(Self {
            dir,
            database,
            postgres: Some((base.to_owned(), name)),
            admin_token: format!("bench-{}", uuid_suffix()),
        })
    }

    fn args(&self) -> DatabaseArgs {
        DatabaseArgs { database: self.database.clone(), secret_key_file: Some(self.dir.path().join("secret.key")) }
    }

    async fn remove(self) {
        if let Some((base, name)) = &self.postgres {
            use sqlx::Connection;
            if let Ok(mut admin) = sqlx::PgConnection::connect(base).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut admin)
                    .await;
            }
        }
    }
}

/// Runs `phase` on a fresh scratch database and removes the database whatever the phase's
/// outcome, so that a failed run leaves nothing behind on the server.
async fn on_scratch<T>(base: &str, phase: impl AsyncFnOnce(&Scratch) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let scratch = Scratch::new(base).await?;
    let outcome = phase(&scratch).await;
    scratch.remove().await;
    outcome
}

fn uuid_suffix() -> String {
    ids::new_id("b").trim_start_matches("b_").to_owned()
}

/// `base` naming database `name` instead, its query (`?host=/run/postgresql`, `?sslmode=`)
/// kept.
fn url_with_database(base: &str, name: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(base).with_context(|| format!("not a postgres:// URL: {base}"))?;
    if !url.has_host() || url.host_str().is_some_and(str::is_empty) {
        bail!("a postgres:// URL needs a host: {base}");
    }
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

fn serve_config(scratch: &Scratch, concurrency: u16) -> ServeConfig {
    ServeConfig {
        listen: "127.0.0.1:0".parse().expect("a literal address"),
        database: scratch.args(),
        allow_destinations: vec!["127.0.0.0/8".parse().expect("a literal range")],
        trusted_proxies: vec![],
        outbound_proxy: None,
        public_url: None,
        retry: RetryPolicy::default(),
        request_timeout: Duration::from_secs(10),
        concurrency: usize::from(concurrency),
        poll_interval: Duration::from_secs(1),
        retention: Duration::from_secs(30 * 86_400),
        inbound_log_budget: 64 << 20,
        // The bench measures throughput, not this limit.
        inbound_bytes_per_minute: 1 << 40,
        audit_retention: Some(Duration::from_secs(90 * 86_400)),
        background_interval: Duration::from_secs(60),
        gates: GateConfig { max_in_flight_per_webhook: usize::from(concurrency), ..GateConfig::default() },
        shutdown_grace: Duration::from_secs(10),
        automation_interval: Duration::from_secs(300),
        http: crate::transport::HttpLimits::default(),
        clock: hookdesk_server::app::Clock::system(),
        admin_token: Some(scratch.admin_token.clone()),
        metrics: crate::config::MetricsListen::Main,
        metrics_token: None,
        hooks_listen: None,
        hooks_public_url: None,
        timezone: "UTC".into(),
    }
}

/// A webhook to `endpoint` with `n` invocations of a 1 KiB POST queued for it, made through
/// the app as the database's admin (as a server's would be, with its checks).
async fn queue_for(scratch: &Scratch, endpoint: &str, n: u64, bar: &ProgressBar) -> anyhow::Result<()> {
    let app = crate::serve::open_app(&scratch.args()).await?;
    let queued = async {
        app.provision_bootstrap_token(Some(&scratch.admin_token)).await?;
        let admin = app.local_admin().await?.context("the bench's database has no admin")?;
        let body = serde_json::from_value(json!({"name": "bench", "endpoint": endpoint}))?;
        let webhook = app.create_webhook(&admin, body).await?.item;
        let mut done = 0;
        while done < n {
            let batch = (n - done).min(10_000);
            app.queue_copies(&admin, &webhook.id, &kib_body(), batch).await?;
            done += batch;
            bar.set_position(done);
        }
        anyhow::Ok(())
    }
    .await;
    app.close().await;
    queued
}

/// Phase 0: memory, and the cost of a `/metrics` scrape, with `n` invocations queued for a
/// receiver that is down.
async fn memory_with_queue(args: &BenchArgs, scratch: &Scratch) -> anyhow::Result<(u64, Latency)> {
    let down = tokio::net::TcpListener::bind("127.0.0.1:0").await?.local_addr()?;
    let bar = progress(args.invocations, "queue", args.json);
    queue_for(scratch, &format!("http://{down}/down"), args.invocations, &bar).await?;
    bar.finish_and_clear();
    let running = start(serve_config(scratch, args.concurrency)).await?;
    // Long enough for the workers to try every invocation once and queue its retry, or
    // until the circuit breaker stops them trying (the rest then wait in the queue).
    let check = crate::config::open_store(&scratch.args()).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut left, mut since) = (i64::MAX, Instant::now());
    while Instant::now() < deadline {
        let now_left = check.count_never_attempted().await?;
        if now_left == 0 || (now_left == left && since.elapsed() > Duration::from_secs(3)) {
            break;
        }
        if now_left != left {
            (left, since) = (now_left, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss = proc_status_kib("VmRSS:");
    let scrape = scrape_metrics(&format!("http://{}/metrics", running.addr)).await?;
    check.close().await;
    running.stop().await;
    Ok((rss, scrape))
}

/// Times 5 scrapes of `/metrics`, each once the last one's gauges are stale, so that each
/// reads the queue's gauges from the database.
async fn scrape_metrics(url: &str) -> anyhow::Result<Latency> {
    let client = reqwest::Client::new();
    let mut millis = Vec::new();
    for _ in 0..5 {
        tokio::time::sleep(hookdesk_server::app::metrics::GAUGES_FRESH_FOR).await;
        let started = Instant::now();
        let response = client.get(url).send().await?.error_for_status()?;
        response.bytes().await?;
        millis.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Latency::of(&mut millis))
}

/// Phase 1: the HTTP client alone, as the workers use it, against the sink.
async fn raw(args: &BenchArgs, url: &str) -> anyhow::Result<Raw> {
    let sender = Sender::new(DestinationPolicy::new(vec!["127.0.0.0/8".parse()?]), Duration::from_secs(10), None)?;
    let request = Arc::new(OutgoingRequest {
        method: HttpMethod::Post,
        url: url.to_owned(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: Some(kib_body()),
    });
    let bar = progress(args.invocations, "raw", args.json);
    let post = {
        let bar = bar.clone();
        move || {
            let (sender, request, bar) = (sender.clone(), request.clone(), bar.clone());
            async move {
                let sent = sender.send(&request).await.succeeded();
                bar.inc(1);
                sent
            }
        }
    };
    let raw = posts(args, "raw", post).await;
    bar.finish_and_clear();
    raw
}

/// Phase 1, beside the workers' client: the same requests from a bare hyper-util client, so
/// that a slow client of ours cannot flatter the ratios to raw.
async fn bare(args: &BenchArgs, url: &str) -> anyhow::Result<Raw> {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let client: Client<_, Full<hyper::body::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let body = hyper::body::Bytes::from(kib_body());
    let uri: hyper::Uri = url.parse()?;
    posts(args, "bare client", move || {
        let (client, body, uri) = (client.clone(), body.clone(), uri.clone());
        async move {
            let request = hyper::Request::post(uri).header("content-type", "application/json").body(Full::new(body));
            let Ok(request) = request else { return false };
            match client.request(request).await {
                Ok(response) if response.status().is_success() => response.into_body().collect().await.is_ok(),
                _ => false,
            }
        }
    })
    .await
}

/// `args.invocations` POSTs made by `post`, `args.concurrency` at a time: their rate, or an
/// error naming `what` when any failed.
async fn posts<F, Fut>(args: &BenchArgs, what: &str, post: F) -> anyhow::Result<Raw>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let n = args.invocations;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..args.concurrency {
        let (next, post) = (next.clone(), post.clone());
        tasks.spawn(async move {
            let mut failed = 0u64;
            while next.fetch_add(1, Ordering::Relaxed) < n {
                if !post().await {
                    failed += 1;
                }
            }
            failed
        });
    }
    let mut failed = 0;
    while let Some(result) = tasks.join_next().await {
        failed += result?;
    }
    let seconds = started.elapsed().as_secs_f64();
    if failed > 0 {
        bail!("{failed} {what} requests failed");
    }
    Ok(Raw { requests: n, seconds, per_second: n as f64 / seconds })
}

/// Phase 2: `n` invocations already queued, drained by a real server's workers.
async fn drain(
    args: &BenchArgs,
    scratch: &Scratch,
    sink_url: &str,
    sink: &sink::Sink,
    raw: &Raw,
) -> anyhow::Result<(Drain, Running)> {
    let bar = progress(args.invocations, "queue", args.json);
    queue_for(scratch, &format!("{sink_url}/drain"), args.invocations, &bar).await?;
    bar.finish_and_clear();
    let store = crate::config::open_store(&scratch.args()).await?;
    sink.reset();
    let bar = progress(args.invocations, "drain", args.json);
    let started = Instant::now();
    let running = start(serve_config(scratch, args.concurrency)).await?;
    let deadline = started + Duration::from_secs(600);
    loop {
        bar.set_position(sink.count());
        // Counting in the database competes with the workers: only once all has arrived.
        if sink.count() >= args.invocations && store.count_open().await? == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("the drain did not finish in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(if sink.count() >= args.invocations { 2 } else { 20 })).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    store.close().await;
    let (distinct, duplicates) = sink.distinct_and_duplicates();
    let per_second = args.invocations as f64 / seconds;
    Ok((
        Drain {
            deliveries: args.invocations,
            seconds,
            per_second,
            ratio_to_raw: per_second / raw.per_second,
            distinct_webhook_ids: distinct,
            duplicates,
            missing: args.invocations.saturating_sub(distinct),
        },
        running,
    ))
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// An admin client of `running`, with a connection per concurrent client kept alive.
    fn new(running: &Running) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder().pool_max_idle_per_host(1024).build()?,
            base: format!("http://{}", running.addr),
            token: running.admin_token.clone(),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let value: serde_json::Value = response.json().await?;
        if !status.is_success() {
            bail!("{path}: {status} {value}");
        }
        Ok(value)
    }
}

/// Phase 3: updates through the API, each firing a trigger that notifies the sink.
async fn end_to_end(
    args: &BenchArgs,
    running: &Running,
    sink_url: &str,
    sink: &Arc<sink::Sink>,
) -> anyhow::Result<EndToEnd> {
    let api = Arc::new(Api::new(running)?);
    let post = reqwest::Method::POST;
    let webhook = api
        .call(post.clone(), "/api/v1/webhooks", json!({"name": "e2e", "endpoint": format!("{sink_url}/e2e")}))
        .await?;
    api.call(post.clone(), "/api/v1/triggers", json!({
        "title": "Notify every change",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "change"}]},
        "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook["id"],
            "payload": "{\"n\": {{ ticket.subject | json }}, \"ticket\": {{ ticket.id }}, \"status\": \"{{ ticket.status }}\", \"priority\": \"{{ ticket.priority }}\", \"requester\": {{ ticket.requester.email | json }}, \"by\": {{ current_user.name | json }}, \"link\": \"{{ ticket.url }}\"}"}}]
    })).await?;
    let tickets = u64::from(args.clients) * 4;
    let mut ids = Vec::new();
    for i in 0..tickets {
        let ticket = api
            .call(
                post.clone(),
                "/api/v1/tickets",
                json!({"subject": format!("{i}"), "requester": {"email": format!("bench{i}@example.com")}}),
            )
            .await?;
        ids.push(TicketId(ticket["id"].as_i64().context("ticket id")?));
    }
    let ids = Arc::new(ids);
    sink.reset();
    let bytes_before = running.store().database_bytes().await?;

    // Full load: every client sends its next update as soon as the last one is answered.
    let bar = progress(args.updates, "updates", args.json);
    let send = {
        let (api, ids) = (api.clone(), ids.clone());
        move |n| {
            let (api, ids) = (api.clone(), ids.clone());
            async move { update(&api, &ids, n).await }
        }
    };
    let (seconds, responses) = full_load(args.clients, 0, args.updates, &bar, send).await?;
    let per_second = args.updates as f64 / seconds;
    let full = latencies(sink, &responses, args.updates).await?;

    // Half that rate, paced, for latency when the server is not saturated.
    let half_rate = per_second / 2.0;
    let paced = (args.updates / 2).max(1);
    let responses = Arc::new(std::sync::Mutex::new(Vec::new()));
    let bar = progress(paced, "half rate", args.json);
    let started = tokio::time::Instant::now();
    let mut tasks = JoinSet::new();
    for i in 0..paced {
        tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / half_rate)).await;
        let (api, ids, responses, bar) = (api.clone(), ids.clone(), responses.clone(), bar.clone());
        let n = args.updates + i;
        tasks.spawn(async move {
            update(&api, &ids, n).await?;
            let answered = Instant::now();
            if let Ok(mut responses) = responses.lock() {
                responses.push((n, answered));
            }
            bar.inc(1);
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    bar.finish_and_clear();
    let responses = responses.lock().map(|r| r.clone()).unwrap_or_default();
    let half = latencies(sink, &responses, paced).await?;
    let grown = running.store().database_bytes().await? - bytes_before;
    let (distinct, duplicates) = sink.distinct_and_duplicates();
    Ok(EndToEnd {
        updates: args.updates,
        seconds,
        per_second,
        latency_full_load: full,
        half_rate,
        latency_half_rate: half,
        bytes_per_update: grown as f64 / (args.updates + paced) as f64,
        distinct_webhook_ids: distinct,
        duplicates,
        missing: (args.updates + paced).saturating_sub(distinct),
    })
}

async fn update(api: &Api, ids: &[TicketId], n: u64) -> anyhow::Result<()> {
    let ticket = ids[usize::try_from(n % ids.len() as u64)?];
    api.call(reqwest::Method::PATCH, &format!("/api/v1/tickets/{ticket}"), json!({"subject": format!("{n}")})).await?;
    Ok(())
}

/// Sends requests `first..first + total` with `clients` clients, each sending its next as
/// soon as its last is answered. Returns the seconds it took and when each was answered.
async fn full_load<F, Fut>(
    clients: u16,
    first: u64,
    total: u64,
    bar: &ProgressBar,
    send: F,
) -> anyhow::Result<(f64, Vec<(u64, Instant)>)>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let responses = Arc::new(std::sync::Mutex::new(Vec::<(u64, Instant)>::new()));
    let next = Arc::new(AtomicU64::new(first));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..clients {
        let (send, next, responses, bar) = (send.clone(), next.clone(), responses.clone(), bar.clone());
        tasks.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= first + total {
                    return Ok::<_, anyhow::Error>(());
                }
                send(n).await?;
                let answered = Instant::now();
                if let Ok(mut responses) = responses.lock() {
                    responses.push((n, answered));
                }
                bar.inc(1);
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    bar.finish_and_clear();
    let responses = responses.lock().map(|r| r.clone()).unwrap_or_default();
    Ok((started.elapsed().as_secs_f64(), responses))
}

/// Phase 4: outside systems' calls to an inbound webhook, each updating a ticket by the id in
/// its JSON body (one update, like the API's), whose trigger notifies the sink: the loop
/// across both directions.
async fn inbound(
    args: &BenchArgs,
    running: &Running,
    sink: &Arc<sink::Sink>,
    api_per_second: f64,
) -> anyhow::Result<Inbound> {
    let api = Api::new(running)?;
    let webhook = api
        .call(
            reqwest::Method::POST,
            "/api/v1/inbound_webhooks",
            json!({
                "name": "bench", "rate_limit_per_minute": null,
                "actions": [{"type": "update_ticket", "ticket_id": "{{ request.json.ticket }}",
                             "fields": {"subject": "{{ request.json.n }}"}}]
            }),
        )
        .await?;
    // The end-to-end phase's tickets.
    let tickets: serde_json::Value = api
        .client
        .get(format!("{}/api/v1/tickets?limit=500", api.base))
        .bearer_auth(&api.token)
        .send()
        .await?
        .json()
        .await?;
    let ids: Arc<Vec<TicketId>> = Arc::new(
        tickets["data"].as_array().context("tickets")?.iter().filter_map(|t| t["id"].as_i64().map(TicketId)).collect(),
    );
    let path = webhook["url"].as_str().context("url")?.split("/hooks/").nth(1).context("a /hooks/ URL")?;
    let url = Arc::new(format!("{}/hooks/{path}", api.base));
    sink.reset();
    // Numbers after those of the end-to-end phase, so arrivals cannot be confused.
    let first = args.updates * 2 + 1;
    let bar = progress(args.updates, "inbound calls", args.json);
    let send = {
        let client = api.client.clone();
        move |n: u64| {
            let (client, url, ids) = (client.clone(), url.clone(), ids.clone());
            async move {
                let ticket = ids[usize::try_from(n % ids.len() as u64)?];
                let response = client.post(url.as_str()).json(&json!({"ticket": ticket, "n": n})).send().await?;
                if response.status() != reqwest::StatusCode::ACCEPTED {
                    bail!("inbound call {n}: {}", response.status());
                }
                Ok(())
            }
        }
    };
    let (seconds, responses) = full_load(args.clients, first, args.updates, &bar, send).await?;
    let per_second = args.updates as f64 / seconds;
    let latency = latencies(sink, &responses, args.updates).await?;
    let (distinct, duplicates) = sink.distinct_and_duplicates();
    Ok(Inbound {
        calls: args.updates,
        seconds,
        per_second,
        ratio_to_api: per_second / api_per_second,
        latency,
        duplicates,
        missing: args.updates.saturating_sub(distinct),
    })
}

/// Waits for every update's notification and returns the API-response-to-receipt latencies.
async fn latencies(sink: &sink::Sink, responses: &[(u64, Instant)], expected: u64) -> anyhow::Result<Latency> {
    if responses.len() as u64 != expected {
        bail!("{} of {expected} updates were answered", responses.len());
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut millis = Vec::with_capacity(responses.len());
    for &(n, answered) in responses {
        let arrived = loop {
            if let Some(at) = sink.arrival(n) {
                break at;
            }
            if Instant::now() > deadline {
                bail!("update {n} was never delivered");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        // Delivery starts at commit, before the response is written: it may arrive first.
        millis.push(arrived.saturating_duration_since(answered).as_secs_f64() * 1000.0);
    }
    Ok(Latency::of(&mut millis))
}

pub async fn run(mut args: BenchArgs) -> anyhow::Result<Report> {
    if args.quick {
        args.invocations = args.invocations.min(2_000);
        args.updates = args.updates.min(1_000);
    }
    let (sink_addr, sink) = sink::start().await?;
    let sink_url = format!("http://{sink_addr}");
    let (queued_rss, scrape) =
        on_scratch(&args.database, async |scratch| memory_with_queue(&args, scratch).await).await?;
    let raw = raw(&args, &format!("{sink_url}/raw")).await?;
    let bare = bare(&args, &format!("{sink_url}/raw")).await?;
    let (drain, e2e, inbound) = on_scratch(&args.database, async |scratch| {
        let (drain, running) = drain(&args, scratch, &sink_url, &sink, &raw).await?;
        let e2e = end_to_end(&args, &running, &sink_url, &sink).await;
        let inbound = match &e2e {
            Ok(e2e) => inbound(&args, &running, &sink, e2e.per_second).await,
            Err(_) => Err(anyhow::anyhow!("skipped: the end-to-end phase failed")),
        };
        running.stop().await;
        Ok((drain, e2e?, inbound?))
    })
    .await?;
    Ok(Report {
        backend: if args.database == "sqlite" { "sqlite".into() } else { "postgres".into() },
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        concurrency: args.concurrency,
        clients: args.clients,
        raw,
        bare,
        drain,
        end_to_end: e2e,
        inbound,
        memory: Memory {
            peak_rss_mib: mib(proc_status_kib("VmHWM:")),
            rss_with_queue_mib: mib(queued_rss),
            queued: args.invocations,
            metrics_scrape: scrape,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::url_with_database;

    #[test]
    fn a_scratch_database_url_keeps_the_servers_query() {
        let named = |base| url_with_database(base, "hookdesk_bench_x").expect("a URL");
        assert_eq!(
            named("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/hookdesk_bench_x"
        );
        assert_eq!(
            named("postgres://postgres@localhost/postgres?host=/var/run/postgresql"),
            "postgres://postgres@localhost/hookdesk_bench_x?host=/var/run/postgresql"
        );
        assert_eq!(
            named("postgres://u:p@db:5432?sslmode=require"),
            "postgres://u:p@db:5432/hookdesk_bench_x?sslmode=require"
        );
        assert_eq!(
            url_with_database("postgres:///postgres", "x").map_err(|e| e.to_string()).err().as_deref(),
            Some("a postgres:// URL needs a host: postgres:///postgres")
        );
    }
}
