//! Wiring: open the store, provision the admin token, start delivery and the HTTP server.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use hookdesk_delivery::gates::{BreakerConfig, GateConfig};
use hookdesk_delivery::{DeliveryConfig, DestinationPolicy, RetryPolicy, Sender};
use hookdesk_server::app::{AppParts, Clock, Schedule, ids};
use hookdesk_server::{App, AppConfig};
use hookdesk_store::{Backend, Store, sqlite_path};
use ipnet::IpNet;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cli::{DatabaseArgs, ServeArgs};
use crate::transport::{self, HttpLimits};

pub const USER_AGENT: &str = concat!("hookdesk/", env!("CARGO_PKG_VERSION"));

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsListen {
    /// On the main listener, beside the API.
    #[default]
    Main,
    /// On an address of its own (with the probes), and not on the main listener.
    At(SocketAddr),
    /// Nowhere.
    Off,
}

/// Everything `serve` needs, validated.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub database: DatabaseArgs,
    pub allow_destinations: Vec<IpNet>,
    pub trusted_proxies: Vec<IpNet>,
    /// Where webhook requests go through, when anywhere.
    pub outbound_proxy: Option<url::Url>,
    pub public_url: Option<String>,
    pub retry: RetryPolicy,
    pub request_timeout: Duration,
    pub concurrency: usize,
    pub poll_interval: Duration,
    pub retention: Duration,
    /// The bytes each inbound webhook's call log may hold.
    pub inbound_log_budget: u64,
    /// How long ticket audits are kept; `None`: for ever.
    pub audit_retention: Option<Duration>,
    pub background_interval: Duration,
    pub gates: GateConfig,
    pub shutdown_grace: Duration,
    pub automation_interval: Duration,
    /// Client timeouts and the connection limit of the HTTP server.
    pub http: HttpLimits,
    /// The clock tickets and automations read; tests move an adjustable one forward.
    pub clock: Clock,
    pub admin_token: Option<String>,
    pub metrics: MetricsListen,
    /// What `/metrics` asks for, when anything.
    pub metrics_token: Option<String>,
    /// Where `/hooks` is served on its own (and then not on `listen`).
    pub hooks_listen: Option<SocketAddr>,
    /// Base of inbound webhooks' URLs, when not the public URL's.
    pub hooks_public_url: Option<String>,
    /// The time zone templates show dates in.
    pub timezone: String,
}

impl ServeConfig {
    pub fn from_args(args: ServeArgs, admin_token: Option<String>) -> anyhow::Result<Self> {
        if let Some(token) = &admin_token
            && token.trim().len() < 16
        {
            bail!("HOOKDESK_ADMIN_TOKEN must be at least 16 characters");
        }
        if let Some(url) = &args.public_url {
            hookdesk_core::webhook::check_url(url).map_err(|e| anyhow::anyhow!("--public-url: {e}"))?;
        }
        if let Some(url) = &args.hooks_public_url {
            hookdesk_core::webhook::check_url(url).map_err(|e| anyhow::anyhow!("--hooks-public-url: {e}"))?;
        }
        if let Some(token) = &args.metrics_token
            && token.trim().len() < 16
        {
            bail!("--metrics-token must be at least 16 characters");
        }
        Ok(Self {
            listen: args.listen,
            database: args.database,
            allow_destinations: crate::cli::flatten(args.allow_destinations),
            trusted_proxies: crate::cli::flatten(args.trusted_proxies),
            outbound_proxy: args.outbound_proxy,
            public_url: args.public_url,
            retry: args.retry_schedule,
            request_timeout: args.request_timeout,
            concurrency: usize::from(args.concurrency),
            poll_interval: args.poll_interval,
            retention: args.retention,
            inbound_log_budget: args.inbound_log_budget,
            audit_retention: args.audit_retention.0,
            background_interval: args.background_interval,
            gates: GateConfig {
                max_in_flight_per_webhook: usize::from(
                    args.max_in_flight_per_webhook.unwrap_or_else(|| crate::cli::default_share(args.concurrency)),
                ),
                rate_window: args.rate_limit_window,
                global_per_second: args.max_requests_per_second.and_then(NonZeroU32::new),
                breaker: BreakerConfig {
                    window: args.breaker_window,
                    min_requests: args.breaker_min_requests,
                    failure_percent: args.breaker_failure_percent,
                    pause: args.breaker_pause,
                    max_pause: args.breaker_max_pause.max(args.breaker_pause),
                },
                failing_after: args.failing_after,
            },
            shutdown_grace: args.shutdown_grace,
            automation_interval: args.automation_interval,
            http: HttpLimits {
                header_timeout: args.header_timeout,
                idle_timeout: args.idle_timeout,
                body_timeout: args.body_timeout,
                max_connections: args.max_connections.map(|n| n as usize),
            },
            clock: Clock::system(),
            admin_token: admin_token.map(|t| t.trim().to_owned()),
            metrics: args.metrics_listen.unwrap_or_default(),
            metrics_token: args.metrics_token.map(|t| t.trim().to_owned()),
            hooks_listen: args.hooks_listen,
            hooks_public_url: args.hooks_public_url,
            timezone: args.timezone,
        })
    }
}

/// Opens the database named by `args`, with the secret key. For SQLite the database's
/// folder is created and the key file defaults to `secret.key` beside it; PostgreSQL nodes
/// must all use the same key, so it must be given.
pub async fn open_store(args: &DatabaseArgs) -> anyhow::Result<Store> {
    if Backend::of_url(&args.database) == Backend::Sqlite {
        let path = PathBuf::from(sqlite_path(&args.database));
        let folder = folder_of(&path);
        crate::keys::create_private_dir(folder).with_context(|| format!("cannot create {}", folder.display()))?;
        // Only the owner reads the database (SQLite gives its -wal and -shm files the
        // same mode).
        match crate::keys::create_private(&path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    let key_file = key_file(args).unwrap_or_default();
    let key = if key_file.as_os_str().is_empty() {
        crate::keys::from_env()?.context(
            "with PostgreSQL every node needs the same secret key: set HOOKDESK_SECRET_KEY (base64 of 32 random bytes, e.g. `openssl rand -base64 32`) or --secret-key-file",
        )?
    } else {
        crate::keys::load_or_create(&key_file)?
    };
    Store::open(&args.database, &key)
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(&args.database)))
}

/// The folder a SQLite database's file is in.
fn folder_of(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// The key file of the database `args` names: as given, or with SQLite `secret.key` beside
/// the database. (`HOOKDESK_SECRET_KEY`, when set, is used instead of any file.)
fn key_file(args: &DatabaseArgs) -> Option<PathBuf> {
    args.secret_key_file.clone().or_else(|| match Backend::of_url(&args.database) {
        Backend::Sqlite => Some(folder_of(Path::new(sqlite_path(&args.database))).join("secret.key")),
        Backend::Postgres => None,
    })
}

/// Where the secret key of the database `args` names is read from, in words.
pub fn key_location(args: &DatabaseArgs) -> String {
    if std::env::var_os("HOOKDESK_SECRET_KEY").is_some() {
        return "the HOOKDESK_SECRET_KEY environment variable".into();
    }
    match key_file(args) {
        Some(file) => format!("the file {}", file.display()),
        None => "HOOKDESK_SECRET_KEY or --secret-key-file".into(),
    }
}

/// `hookdesk backup`: a consistent copy of the SQLite database `args` names, in a new file
/// that only its owner can read, taken while a server may be writing to the database.
pub async fn backup(args: &DatabaseArgs, target: &Path) -> anyhow::Result<hookdesk_store::BackedUp> {
    if Backend::of_url(&args.database) == Backend::Postgres {
        bail!(
            "`hookdesk backup` copies SQLite databases; back up PostgreSQL with pg_dump (see the README's Operating section)"
        );
    }
    let source = PathBuf::from(sqlite_path(&args.database));
    if !source.is_file() {
        bail!("there is no database at {}", source.display());
    }
    if target.is_dir() {
        bail!("{} is a folder: give the path of the file to write", target.display());
    }
    if target.exists() {
        bail!("{} exists: a backup never overwrites a file; give a new path", target.display());
    }
    if !folder_of(target).is_dir() {
        bail!("the folder {} does not exist: create it first", folder_of(target).display());
    }
    // Written beside the target under another name, then put in place once whole and
    // checked: an interrupted backup never leaves a file that looks like one.
    let name = target.file_name().with_context(|| format!("{} names no file", target.display()))?;
    let partial = target.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    // What an interrupted run left: ours, by its name.
    let _ = std::fs::remove_file(&partial);
    crate::keys::create_private(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let written = async {
        let done = hookdesk_store::backup_sqlite(&source, &partial).await?;
        std::fs::File::open(&partial)?.sync_all()?;
        put_in_place(&partial, target)?;
        anyhow::Ok(done)
    }
    .await;
    let _ = std::fs::remove_file(&partial);
    let done = written.with_context(|| format!("cannot back up {}", source.display()))?;
    // The new name is durable once its folder is.
    if let Ok(folder) = std::fs::File::open(folder_of(target)) {
        let _ = folder.sync_all();
    }
    Ok(done)
}

/// Gives `partial` the name `target`, unless a file took that name meanwhile: a hard link
/// never replaces one (a rename, where links are not supported, is checked first).
fn put_in_place(partial: &Path, target: &Path) -> anyhow::Result<()> {
    match std::fs::hard_link(partial, target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} exists: a backup never overwrites a file; give a new path", target.display())
        }
        Err(_) if !target.exists() => Ok(std::fs::rename(partial, target)?),
        Err(e) => Err(e.into()),
    }
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?))) {
        Some((scheme, (credentials, host))) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

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

/// Makes the given token the bootstrap admin token, or generates one on a first start;
/// answers the generated one.
async fn provision_admin_token(store: &Store, given: Option<&str>) -> anyhow::Result<Option<String>> {
    let now = hookdesk_core::Timestamp::now();
    match given {
        Some(token) => {
            let hash = ids::token_hash(token);
            if store.has_bootstrap_token().await? && store.user_for_token(&hash).await?.is_none() {
                tracing::warn!(
                    "HOOKDESK_ADMIN_TOKEN replaces the earlier bootstrap admin token, which stops working; other API tokens still work"
                );
            }
            store.set_bootstrap_token(&hash, now).await?;
            Ok(None)
        }
        None if !store.has_bootstrap_token().await? => {
            let token = new_admin_token()?;
            store.set_bootstrap_token(&ids::token_hash(&token), now).await?;
            Ok(Some(token))
        }
        None => Ok(None),
    }
}

/// A new random API token, in the form the API's tokens have.
pub fn new_admin_token() -> anyhow::Result<String> {
    Ok(format!("hd_{}", ids::random_token(32).map_err(|e| anyhow::anyhow!("no randomness for the admin token: {e}"))?))
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
    // The last step that can fail: a token generated here is always printed.
    let generated_admin_token = provision_admin_token(&store, config.admin_token.as_deref()).await?;
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
        config: AppConfig {
            public_url: public_url.trim_end_matches('/').to_owned(),
            hooks_public_url: hooks_public_url.trim_end_matches('/').to_owned(),
            metrics_token: config.metrics_token.clone(),
            inbound_log_budget: config.inbound_log_budget,
            trusted_proxies: config.trusted_proxies.clone(),
            user_agent: USER_AGENT.to_owned(),
            secret_grace_ms: 24 * 3600 * 1000,
            automation_batch: 200,
        },
        clock: config.clock.clone(),
    });
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
