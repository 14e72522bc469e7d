//! What the commands are given and what they make of it: the database and its key
//! (`DatabaseArgs`, `open_store`), and `serve`'s options checked into a `ServeConfig`. The
//! commands (`cli`), the server's wiring (`serve`), the bench and `admin-token` read it here.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use hookdesk_delivery::RetryPolicy;
use hookdesk_delivery::gates::{BreakerConfig, GateConfig};
use hookdesk_server::app::Clock;
use hookdesk_store::{Backend, Store, sqlite_path};
use ipnet::IpNet;

use crate::transport::HttpLimits;

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Where data lives: `sqlite://PATH`, `sqlite:PATH` or a plain path, or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB` (or `postgresql://`; several nodes may share one
    /// PostgreSQL database).
    #[arg(
        long,
        env = "HOOKDESK_DATABASE_URL",
        hide_env_values = true,
        default_value = "sqlite://hookdesk-data/hookdesk.db",
        value_parser = database_url
    )]
    pub database: String,

    /// File holding the key that encrypts secrets at rest (created on first start, mode
    /// 0600). Default with SQLite: `secret.key` beside the database. PostgreSQL nodes must
    /// share one key: give this file, or HOOKDESK_SECRET_KEY, to every node.
    #[arg(long, env = "HOOKDESK_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HOOKDESK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Allow outbound requests to this range, which the SSRF guard refuses by default
    /// (loopback, private, link-local, CGNAT, metadata). Repeatable, or comma-separated; a
    /// bare address is one host; empty: none.
    #[arg(long = "allow-destination", env = "HOOKDESK_ALLOW_DESTINATIONS", value_parser = parse_ranges, value_name = "CIDR")]
    pub allow_destinations: Vec<Ranges>,

    /// Peers in this range are reverse proxies: an inbound webhook call's `client.ip` is then
    /// read from X-Forwarded-For (the nearest address outside these ranges). Repeatable, or
    /// comma-separated; a bare address is one host; empty: none.
    #[arg(long = "trusted-proxy", env = "HOOKDESK_TRUSTED_PROXIES", value_parser = parse_ranges, value_name = "CIDR")]
    pub trusted_proxies: Vec<Ranges>,

    /// Send every webhook request through this HTTP proxy (`http://HOST:PORT`). Without it,
    /// proxy environment variables (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) are ignored. Through
    /// the proxy, each destination is still checked by the SSRF guard, by name and by every
    /// address it resolves to, before the request goes.
    #[arg(long, env = "HOOKDESK_OUTBOUND_PROXY", value_name = "URL", value_parser = parse_proxy)]
    pub outbound_proxy: Option<url::Url>,

    /// Base of absolute URLs: `ticket.url` in templates, inbound webhooks' `url`. Default:
    /// http:// + the listen address.
    #[arg(long, env = "HOOKDESK_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Delays before each retry of a failed webhook call; the last repeats.
    #[arg(long, env = "HOOKDESK_RETRY_SCHEDULE", default_value = "10s,1m,5m,30m", value_parser = RetryPolicy::parse)]
    pub retry_schedule: RetryPolicy,

    /// How long one webhook request may take.
    #[arg(long, env = "HOOKDESK_REQUEST_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Webhook requests in flight at once.
    #[arg(long, env = "HOOKDESK_CONCURRENCY", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub concurrency: u16,

    /// At most this many requests in flight to one webhook, so that slow or hanging endpoints
    /// cannot take the slots of the others. Default: an eighth of --concurrency (8 of 64),
    /// so five hanging endpoints still leave more than a third of the slots to the rest.
    #[arg(long, env = "HOOKDESK_MAX_IN_FLIGHT_PER_WEBHOOK", value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub max_in_flight_per_webhook: Option<u16>,

    /// A ceiling on requests per second to all webhooks together (default: none).
    #[arg(long, env = "HOOKDESK_MAX_REQUESTS_PER_SECOND", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_requests_per_second: Option<u32>,

    /// The window of a webhook's `rate_limit_per_minute`. A minute; shorter only for tests.
    #[arg(long, env = "HOOKDESK_RATE_LIMIT_WINDOW", default_value = "1m", value_parser = positive_duration)]
    pub rate_limit_window: Duration,

    /// Circuit breaker: the window over which a webhook's failures are counted.
    #[arg(long, env = "HOOKDESK_BREAKER_WINDOW", default_value = "5m", value_parser = positive_duration)]
    pub breaker_window: Duration,

    /// Circuit breaker: it opens only after at least this many requests in the window...
    #[arg(long, env = "HOOKDESK_BREAKER_MIN_REQUESTS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub breaker_min_requests: u32,

    /// Circuit breaker: ...when at least this percentage of them failed (connection errors,
    /// timeouts, 408, 409, 425, 429, 5xx; a 400 means the endpoint is up).
    #[arg(long, env = "HOOKDESK_BREAKER_FAILURE_PERCENT", default_value_t = 70, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub breaker_failure_percent: u32,

    /// Circuit breaker: how long it holds the webhook's invocations once open, before one
    /// probe request; each failed probe doubles the pause, up to --breaker-max-pause.
    #[arg(long, env = "HOOKDESK_BREAKER_PAUSE", default_value = "30s", value_parser = positive_duration)]
    pub breaker_pause: Duration,

    /// Circuit breaker: the longest pause.
    #[arg(long, env = "HOOKDESK_BREAKER_MAX_PAUSE", default_value = "10m", value_parser = positive_duration)]
    pub breaker_max_pause: Duration,

    /// A webhook none of whose requests has succeeded for this long is marked failing.
    #[arg(long, env = "HOOKDESK_FAILING_AFTER", default_value = "24h", value_parser = positive_duration)]
    pub failing_after: Duration,

    /// On SIGTERM or SIGINT, how long requests in flight (API calls and webhook requests) may
    /// take to finish; then open connections are closed, and webhook requests not done are
    /// put back in the queue.
    #[arg(long, env = "HOOKDESK_SHUTDOWN_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// How long a client may take to send a request's headers (from its first byte, or from
    /// connecting); then the connection is closed.
    #[arg(long, env = "HOOKDESK_HEADER_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub header_timeout: Duration,

    /// How long a keep-alive connection may wait for its next request.
    #[arg(long, env = "HOOKDESK_IDLE_TIMEOUT", default_value = "60s", value_parser = positive_duration)]
    pub idle_timeout: Duration,

    /// How long a client may take to send a request's body, all of it (then 408), and to take
    /// a response the server still holds (then the connection closes).
    #[arg(long, env = "HOOKDESK_BODY_TIMEOUT", default_value = "30s", value_parser = positive_duration)]
    pub body_timeout: Duration,

    /// Open HTTP connections at most. When full, the connection that has waited longest
    /// without a request in progress is closed to make room. Default: the open files limit
    /// (raised to its hard limit at start) less 128 and two per delivery worker, between 16
    /// and 16384.
    #[arg(long, env = "HOOKDESK_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,

    /// How long finished invocations and inbound calls stay in their logs.
    #[arg(long = "log-retention", alias = "retention", env = "HOOKDESK_LOG_RETENTION", default_value = "30days", value_parser = positive_duration)]
    pub retention: Duration,

    /// The most each inbound webhook's call log may hold (`64MiB`, `512KiB`, `1GiB`, or
    /// bytes); beyond, its oldest calls are deleted.
    #[arg(long, env = "HOOKDESK_INBOUND_LOG_BUDGET", value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub inbound_log_budget: u64,

    /// The request bodies an inbound webhook with actions accepts a minute, per process
    /// (`1MiB`, `512KiB`, bytes; at least 64 KiB): what strangers holding its URL can make it
    /// write; beyond, calls get 429.
    #[arg(long, env = "HOOKDESK_INBOUND_BYTES_PER_MINUTE", value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
    pub inbound_bytes_per_minute: u64,

    /// The time zone templates show dates in (`{{ ticket.created_at | date: "%H:%M" }}`): an
    /// IANA name (Europe/Paris), UTC, or an offset (+02:00).
    #[arg(long, env = "HOOKDESK_TIMEZONE", default_value = "UTC", value_parser = parse_time_zone, allow_hyphen_values = true)]
    pub timezone: String,

    /// How long a ticket's audit entries (its changes, the rules that fired, the events) are
    /// kept, or `off` to keep them for ever; the ticket and its comments stay.
    #[arg(long, env = "HOOKDESK_AUDIT_RETENTION", value_name = "DUR|off", default_value = "90days", value_parser = retention_or_off)]
    pub audit_retention: RetentionOrOff,

    /// Where `/metrics` is served: beside the API by default; an address of its own (which
    /// then also serves /healthz and /readyz, and the main listener no longer serves
    /// /metrics); or `off`.
    #[arg(long, env = "HOOKDESK_METRICS_LISTEN", value_name = "ADDR|off", value_parser = parse_metrics_listen)]
    pub metrics_listen: Option<MetricsListen>,

    /// A bearer token that /metrics then asks for (`Authorization: Bearer TOKEN`, at least
    /// 16 characters); without it /metrics answers anyone who reaches it.
    #[arg(long, env = "HOOKDESK_METRICS_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Serve inbound webhooks (/hooks/...) on an address of their own, and no longer on
    /// --listen: their answers then come from another origin than the admin UI's, and the
    /// API and UI need not be exposed to the systems that call them.
    #[arg(long, env = "HOOKDESK_HOOKS_LISTEN", value_name = "ADDR")]
    pub hooks_listen: Option<SocketAddr>,

    /// Base of inbound webhooks' URLs (`url`). Default: --public-url, or http:// + the
    /// --hooks-listen address when it is given.
    #[arg(long, env = "HOOKDESK_HOOKS_PUBLIC_URL", value_name = "URL")]
    pub hooks_public_url: Option<String>,

    /// How often automations run over the tickets that are not closed (on one node at a time).
    #[arg(long, env = "HOOKDESK_AUTOMATION_INTERVAL", default_value = "5m", value_parser = positive_duration)]
    pub automation_interval: Duration,

    /// How often singleton background jobs (the retention purge) run; the node that runs
    /// them holds a lease of three intervals, so another takes over that soon after it dies.
    #[arg(long, env = "HOOKDESK_BACKGROUND_INTERVAL", default_value = "1m", value_parser = humantime::parse_duration)]
    pub background_interval: Duration,

    /// How often workers look for due work when nothing wakes them (work queued by other
    /// processes, retries).
    #[arg(long, env = "HOOKDESK_POLL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,
}

fn parse_time_zone(text: &str) -> Result<String, String> {
    hookdesk_core::template::time_zone(text).map(|_| text.trim().to_owned())
}

/// A retention, or `off`: kept for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionOrOff(pub Option<Duration>);

fn retention_or_off(text: &str) -> Result<RetentionOrOff, String> {
    match text.trim() {
        "off" => Ok(RetentionOrOff(None)),
        duration => positive_duration(duration).map(|d| RetentionOrOff(Some(d))),
    }
}

/// A size: bytes, or a number with KiB, MiB or GiB; at least 64 KiB (less would keep no call).
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => return Err(format!("{other:?} is not a unit: give bytes, or KiB, MiB or GiB (64MiB)")),
    };
    let size = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("{text:?} is not a size (64MiB)"))?;
    if size < 64 << 10 {
        return Err(format!("{text:?} is less than 64KiB, which would keep hardly a call"));
    }
    Ok(size)
}

fn parse_metrics_listen(text: &str) -> Result<MetricsListen, String> {
    match text.trim() {
        "off" => Ok(MetricsListen::Off),
        address => address
            .parse()
            .map(MetricsListen::At)
            .map_err(|_| format!("{text:?} is neither an address (127.0.0.1:9090) nor `off`")),
    }
}

/// IP ranges, from one option value or environment variable: comma-separated, spaces
/// around them ignored, empty meaning none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranges(pub Vec<IpNet>);

/// An `http://` or `https://` proxy URL with a host.
fn parse_proxy(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{text:?} must be an http:// or https:// proxy URL, e.g. http://proxy.internal:3128"));
    }
    Ok(url)
}

/// An eighth of the workers per webhook, at least one.
pub fn default_share(concurrency: u16) -> u16 {
    concurrency.div_ceil(8).max(1)
}

/// Parses `10.0.0.0/8, 127.0.0.1, ::1`: a bare address is that one host (/32, /128).
pub fn parse_ranges(text: &str) -> Result<Ranges, String> {
    let mut ranges = Vec::new();
    for item in text.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        let range = match item.parse::<IpNet>() {
            Ok(range) => range,
            Err(_) => match item.parse::<std::net::IpAddr>() {
                Ok(address) => IpNet::from(address),
                Err(_) => return Err(format!("`{item}` is neither an address nor a range (CIDR, like 10.0.0.0/8)")),
            },
        };
        ranges.push(range);
    }
    Ok(Ranges(ranges))
}

/// Every range of a repeated option, in order.
pub fn flatten(ranges: Vec<Ranges>) -> Vec<IpNet> {
    ranges.into_iter().flat_map(|r| r.0).collect()
}

/// A database URL hookdesk can open, checked before anything touches the disk.
pub fn database_url(text: &str) -> Result<String, String> {
    const ACCEPTED: &str =
        "sqlite://PATH, sqlite:PATH, a plain path, postgres://USER:PASSWORD@HOST:PORT/DB or postgresql://...";
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("the database is empty; accepted: {ACCEPTED}"));
    }
    let known = ["sqlite://", "sqlite:", "postgres://", "postgresql://"];
    if known.iter().any(|prefix| text.starts_with(prefix)) {
        return Ok(text.to_owned());
    }
    // A scheme is letters then `:` (two at least, so that `C:\...` stays a path).
    let scheme = text.split_once(':').map(|(scheme, _)| scheme).filter(|scheme| {
        scheme.len() >= 2
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    match scheme {
        Some(scheme) => Err(format!("unsupported database `{scheme}:`; accepted: {ACCEPTED}")),
        None => Ok(text.to_owned()),
    }
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be longer than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

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
    /// The bytes of bodies an inbound webhook with actions accepts a minute.
    pub inbound_bytes_per_minute: u64,
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
            allow_destinations: flatten(args.allow_destinations),
            trusted_proxies: flatten(args.trusted_proxies),
            outbound_proxy: args.outbound_proxy,
            public_url: args.public_url,
            retry: args.retry_schedule,
            request_timeout: args.request_timeout,
            concurrency: usize::from(args.concurrency),
            poll_interval: args.poll_interval,
            retention: args.retention,
            inbound_log_budget: args.inbound_log_budget,
            inbound_bytes_per_minute: args.inbound_bytes_per_minute,
            audit_retention: args.audit_retention.0,
            background_interval: args.background_interval,
            gates: GateConfig {
                max_in_flight_per_webhook: usize::from(
                    args.max_in_flight_per_webhook.unwrap_or_else(|| default_share(args.concurrency)),
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
pub(crate) fn folder_of(path: &Path) -> &Path {
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
