//! Wiring: open the store, provision the admin token, start delivery and the HTTP server.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use hookdesk_delivery::{DeliveryConfig, DestinationPolicy, Sender};
use hookdesk_server::app::{AppParts, Schedule, ids};
use hookdesk_server::{App, AppConfig};
use hookdesk_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{DatabaseArgs, MetricsListen, ServeConfig, open_store, redact_url};
use crate::transport;

pub const USER_AGENT: &str = concat!("hookdesk/", env!("CARGO_PKG_VERSION"));

/// The connection limit: as given (with a warning when the descriptor limit leaves no room
/// for it), or derived from the descriptor limit.
fn max_connections(config: &ServeConfig) -> usize {
    match config.http.max_connections {
        Some(n) => {
            if !transport::descriptors::fits(n, config.concurrency) {
                tracing::warn!(
                    max_connections = n,
                    "--max-connections leaves too few file descriptors for the database and the delivery workers: raise the open files limit (ulimit -n)"
                );
            }
            n
        }
        None => {
            transport::descriptors::default_max_connections(transport::descriptors::current_limit(), config.concurrency)
        }
    }
}

/// An app over the database `database` names, for a command that works beside a server
/// (`admin-token`, the bench's setup): it sends nothing and serves nothing, and acts through
/// the same use cases as the API. Close it with [`App::close`].
pub async fn open_app(database: &DatabaseArgs) -> anyhow::Result<App> {
    let store = open_store(database).await?;
    let sender = Sender::new(DestinationPolicy::new(vec![]), Duration::from_secs(10), None)
        .context("cannot build the HTTP client")?;
    Ok(App::new(AppParts {
        store,
        sender,
        node_id: ids::random_id("node").map_err(|e| anyhow::anyhow!("no randomness for the node's id: {e}"))?,
        config: app_config("http://127.0.0.1:8080".into(), None, Vec::new(), None, (64 << 20, 1 << 20)),
        clock: hookdesk_server::app::Clock::system(),
    }))
}

/// What the app is configured with; URLs without a trailing slash.
fn app_config(
    public_url: String,
    hooks_public_url: Option<String>,
    trusted_proxies: Vec<ipnet::IpNet>,
    metrics_token: Option<String>,
    (inbound_log_budget, inbound_bytes_per_minute): (u64, u64),
) -> AppConfig {
    let public_url = public_url.trim_end_matches('/').to_owned();
    AppConfig {
        hooks_public_url: hooks_public_url.map_or_else(|| public_url.clone(), |u| u.trim_end_matches('/').to_owned()),
        public_url,
        metrics_token,
        inbound_log_budget,
        inbound_bytes_per_minute,
        trusted_proxies,
        user_agent: USER_AGENT.to_owned(),
        secret_grace_ms: 24 * 3600 * 1000,
        automation_batch: 200,
    }
}

/// A running server. Stop it with [`Running::stop`].
pub struct Running {
    pub addr: SocketAddr,
    /// Where `/metrics` and the probes are served on their own, with `--metrics-listen ADDR`.
    pub metrics_addr: Option<SocketAddr>,
    /// Where `/hooks` is served on its own, with `--hooks-listen ADDR`.
    pub hooks_addr: Option<SocketAddr>,
    /// The admin token generated on this start, when none existed and none was given.
    pub generated_admin_token: Option<String>,
    /// The bootstrap admin token in force, when it was given or generated on this start.
    pub admin_token: String,
    shutdown: CancellationToken,
    http: JoinHandle<()>,
    operations: Option<JoinHandle<()>>,
    hooks: Option<JoinHandle<()>>,
    delivery: JoinHandle<()>,
    queue_listener: Option<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
    store: Store,
}

impl Running {
    /// The server's store (the bench reads the database's size through it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops accepting requests, finishes requests and deliveries in flight within the
    /// shutdown grace (both at once), closes every connection, then the store.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.http.await;
        for listener in [self.operations, self.hooks].into_iter().flatten() {
            let _ = listener.await;
        }
        let _ = self.delivery.await;
        for job in self.background {
            let _ = job.await;
        }
        if let Some(listener) = self.queue_listener {
            listener.abort();
        }
        self.store.close().await;
    }
}

pub async fn start(config: ServeConfig) -> anyhow::Result<Running> {
    hookdesk_core::template::set_time_zone(&config.timezone).map_err(|e| anyhow::anyhow!("--timezone: {e}"))?;
    // Listening first: a start that cannot listen leaves no database (nor admin token) behind.
    let listener = transport::bind(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let operations_listener = match config.metrics {
        MetricsListen::At(at) => {
            Some(transport::bind(at).with_context(|| format!("cannot listen on {at} (--metrics-listen)"))?)
        }
        MetricsListen::Main | MetricsListen::Off => None,
    };
    let metrics_addr = operations_listener.as_ref().map(tokio::net::TcpListener::local_addr).transpose()?;
    let hooks_listener = match config.hooks_listen {
        Some(at) => Some(transport::bind(at).with_context(|| format!("cannot listen on {at} (--hooks-listen)"))?),
        None => None,
    };
    let hooks_addr = hooks_listener.as_ref().map(tokio::net::TcpListener::local_addr).transpose()?;
    let sender = Sender::new(
        DestinationPolicy::new(config.allow_destinations.clone()),
        config.request_timeout,
        config.outbound_proxy.as_ref(),
    )
    .context("cannot build the HTTP client")?;
    let max_connections = max_connections(&config);
    let store = open_store(&config.database).await?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let hooks_public_url = match (&config.hooks_public_url, hooks_addr) {
        (Some(url), _) => url.clone(),
        (None, Some(hooks_addr)) if config.public_url.is_none() => format!("http://{hooks_addr}"),
        (None, _) => public_url.clone(),
    };

    let shutdown = CancellationToken::new();
    let app = App::new(AppParts {
        store: store.clone(),
        sender,
        node_id: ids::random_id("node").map_err(|e| anyhow::anyhow!("no randomness for the node's id: {e}"))?,
        config: app_config(
            public_url,
            Some(hooks_public_url),
            config.trusted_proxies.clone(),
            config.metrics_token.clone(),
            (config.inbound_log_budget, config.inbound_bytes_per_minute),
        ),
        clock: config.clock.clone(),
    });
    // The last step that can fail: a token generated here is always printed.
    let generated_admin_token = app.provision_bootstrap_token(config.admin_token.as_deref()).await?;
    let delivery = app.spawn_delivery(
        DeliveryConfig {
            concurrency: config.concurrency,
            claim_batch: 128,
            request_timeout: config.request_timeout,
            retry: config.retry.clone(),
            poll_interval: config.poll_interval,
            user_agent: USER_AGENT.to_owned(),
            gates: config.gates.clone(),
            shutdown_grace: config.shutdown_grace,
        },
        shutdown.clone(),
    );
    let queue_listener = {
        let app = app.clone();
        store.spawn_queue_listener(move || app.wake_delivery())
    };
    let schedule = Schedule {
        automation_interval: config.automation_interval,
        background_interval: config.background_interval,
        retention: config.retention,
        audit_retention: config.audit_retention,
    };
    let background = app.spawn_background(schedule, &shutdown);
    // A scraper or a probe or two: a few connections are plenty.
    const OPERATIONS_CONNECTIONS: usize = 64;
    let operations = operations_listener.map(|listener| {
        tokio::spawn(transport::serve(
            listener,
            hookdesk_server::operations_router(app.clone()),
            config.http.clone(),
            OPERATIONS_CONNECTIONS,
            shutdown.clone(),
            config.shutdown_grace,
        ))
    });
    // Inbound webhooks' callers are other systems: a few hundred connections serve them.
    const HOOKS_CONNECTIONS: usize = 1024;
    let hooks = hooks_listener.map(|listener| {
        tokio::spawn(transport::serve(
            listener,
            hookdesk_server::hooks_router(app.clone()),
            config.http.clone(),
            HOOKS_CONNECTIONS.min(max_connections),
            shutdown.clone(),
            config.shutdown_grace,
        ))
    });
    let served = hookdesk_server::Served { metrics: config.metrics == MetricsListen::Main, hooks: hooks.is_none() };
    let router = hookdesk_server::router(app, served);
    let http = tokio::spawn(transport::serve(
        listener,
        router,
        config.http.clone(),
        max_connections,
        shutdown.clone(),
        config.shutdown_grace,
    ));
    tracing::info!(%addr, max_connections, database = %redact_url(&config.database.database), "hookdesk started");
    let admin_token = config.admin_token.clone().or_else(|| generated_admin_token.clone()).unwrap_or_default();
    Ok(Running {
        addr,
        metrics_addr,
        hooks_addr,
        generated_admin_token,
        admin_token,
        shutdown,
        http,
        operations,
        hooks,
        delivery,
        queue_listener,
        background,
        store,
    })
}
