//! The command line: `hookdesk serve`, `migrate`, `admin-token`, `openapi`, `bench`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hookdesk_delivery::RetryPolicy;
use ipnet::IpNet;

use crate::output;
use crate::serve::{MetricsListen, ServeConfig, start};
use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "hookdesk",
    version,
    about = "Self-hosted helpdesk automation: tickets, triggers, signed webhooks that arrive."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// How log lines (on stderr) are written: text, or one JSON object per line.
    #[arg(long, global = true, env = "HOOKDESK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: the HTTP API and the delivery workers.
    #[command(after_help = SERVE_ENVIRONMENT)]
    Serve(Box<ServeArgs>),
    /// Create or upgrade the database schema, then exit (`serve` also does this on start).
    Migrate(DatabaseArgs),
    /// Issue a new API token for the bootstrap admin user and print it, once: the way back
    /// in when the admin token is lost. Other tokens keep working; a server may be running.
    AdminToken(DatabaseArgs),
    /// Copy a SQLite database, consistently, while the server runs (PostgreSQL: use pg_dump).
    /// The copy's secrets are sealed with the secret key, which is not in it: keep the key too.
    Backup(BackupArgs),
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
    /// Measure delivery against this machine's own HTTP ceiling: raw, drain, end to end,
    /// memory. Starts its own receiver and servers on fresh temporary databases.
    Bench(crate::bench::BenchArgs),
}

/// What `serve --help` adds: the environment variables that have no flag.
const SERVE_ENVIRONMENT: &str = "\
Environment variables without a flag:
  HOOKDESK_ADMIN_TOKEN  The bootstrap admin API token (at least 16 characters). Without it, a
                        first start generates one and prints it once. Setting it replaces the
                        earlier bootstrap token (generated, or set before), which stops
                        working; tokens made through the API or `hookdesk admin-token` keep
                        working.
  HOOKDESK_SECRET_KEY   The key that encrypts secrets at rest (base64 of 32 bytes), instead of
                        --secret-key-file.
  HOOKDESK_LOG          The log filter, in tracing's syntax [default: info,sqlx=warn].

Lost the admin token? `hookdesk admin-token` prints a new one.";

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
pub struct BackupArgs {
    /// The file to write: a new one (it must not exist).
    pub path: PathBuf,

    #[command(flatten)]
    pub database: DatabaseArgs,
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

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The bench runs servers in its own process: their routine logs, and the attempts its
    // receiver-down phase fails on purpose, would bury the report.
    let default_filter = if matches!(cli.command, Command::Bench(_)) {
        "warn,hookdesk_delivery::dispatcher=error"
    } else {
        "info,sqlx=warn"
    };
    crate::telemetry::init(cli.log_format, default_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("hookdesk: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookdesk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => {
            let config = ServeConfig::from_args(*args, std::env::var("HOOKDESK_ADMIN_TOKEN").ok())?;
            crate::transport::descriptors::raise_limit();
            let server = start(config).await?;
            if let Some(token) = &server.generated_admin_token {
                output::println(&format!(
                    "Generated the admin API token (shown only this once; set HOOKDESK_ADMIN_TOKEN to choose your own, or run `hookdesk admin-token` for a new one):\n\n    {token}\n"
                ))?;
            }
            output::println(&format!("hookdesk listening on http://{}", server.addr))?;
            shutdown_signal().await;
            server.stop().await;
            Ok(())
        }
        Command::Migrate(args) => {
            crate::serve::open_store(&args).await?.close().await;
            output::println("the database schema is up to date")?;
            Ok(())
        }
        Command::AdminToken(args) => {
            let (token, admin) = crate::admin_token::issue(&args).await?;
            // The token alone on stdout, for `TOKEN=$(hookdesk admin-token)`.
            eprintln!(
                "A new API token for {} (user {}), shown only this once; other tokens keep working:",
                admin.email, admin.id
            );
            output::println(&token)?;
            Ok(())
        }
        Command::Bench(args) => {
            crate::transport::descriptors::raise_limit();
            let json = args.json;
            let report = crate::bench::run(args).await?;
            if json {
                output::println(&serde_json::to_string_pretty(&report)?)?;
            } else {
                output::print(&report.to_string())?;
            }
            if !report.exactly_once() {
                anyhow::bail!("some invocations did not arrive exactly once");
            }
            Ok(())
        }
        Command::Backup(args) => {
            let done = crate::serve::backup(&args.database, &args.path).await?;
            output::println(&format!(
                "Backed up {} to {} ({} bytes, schema version {}).",
                hookdesk_store::sqlite_path(&args.database.database),
                args.path.display(),
                done.bytes,
                done.schema_version
            ))?;
            eprintln!(
                "\nIMPORTANT: the webhook and inbound secrets in this backup are sealed with the secret key, which is NOT in it: {}.\nKeep a copy of that key with the backup (somewhere as safe): without it, a restored hookdesk cannot read or send with any of those secrets.",
                crate::serve::key_location(&args.database)
            );
            Ok(())
        }
        Command::Openapi => {
            output::println(&serde_json::to_string_pretty(&hookdesk_server::http::openapi())?)?;
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_defaults_follow_the_contract() {
        let cli = Cli::try_parse_from(["hookdesk", "serve"]).expect("parses");
        let Command::Serve(args) = cli.command else { panic!("serve") };
        assert_eq!(args.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(args.database.database, "sqlite://hookdesk-data/hookdesk.db");
        assert_eq!(args.retry_schedule, RetryPolicy::default());
        assert_eq!(args.request_timeout, Duration::from_secs(10));
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(Cli::try_parse_from(["hookdesk", "serve", "--allow-destination", "nonsense"]).is_err());
        assert!(Cli::try_parse_from(["hookdesk", "serve", "--retry-schedule", "soon"]).is_err());
        assert!(Cli::try_parse_from(["hookdesk", "serve", "--concurrency", "0"]).is_err());
        assert!(Cli::try_parse_from(["hookdesk", "serve", "--header-timeout", "0s"]).is_err());
        assert!(Cli::try_parse_from(["hookdesk", "serve", "--max-connections", "0"]).is_err());
        assert!(Cli::try_parse_from(["hookdesk", "serve", "--log-format", "xml"]).is_err());
    }

    fn serve_args(args: &[&str]) -> ServeArgs {
        let cli = Cli::try_parse_from(["hookdesk", "serve"].iter().chain(args)).expect("parses");
        let Command::Serve(args) = cli.command else { panic!("serve") };
        *args
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("a range")).collect()
    }

    #[test]
    fn ranges_may_be_empty_spaced_or_bare_addresses() {
        // What HOOKDESK_ALLOW_DESTINATIONS and HOOKDESK_TRUSTED_PROXIES hold goes through this.
        assert_eq!(parse_ranges("").expect("empty is none"), Ranges(vec![]));
        assert_eq!(parse_ranges(" , ").expect("blank is none"), Ranges(vec![]));
        assert_eq!(
            parse_ranges("127.0.0.1/32, 10.0.0.0/8").expect("spaces after commas"),
            Ranges(nets(&["127.0.0.1/32", "10.0.0.0/8"]))
        );
        assert_eq!(
            parse_ranges(" 127.0.0.1 ,::1, 2001:db8::/32 ").expect("bare addresses"),
            Ranges(nets(&["127.0.0.1/32", "::1/128", "2001:db8::/32"]))
        );
        assert!(parse_ranges("10.0.0.0/8, nonsense").expect_err("refused").contains("nonsense"));
        assert!(parse_ranges("10.0.0.0/33").is_err());
    }

    #[test]
    fn range_options_repeat_and_split() {
        let args = serve_args(&[
            "--allow-destination",
            "127.0.0.1",
            "--allow-destination",
            "10.0.0.0/8, ::1",
            "--trusted-proxy",
            "",
        ]);
        assert_eq!(flatten(args.allow_destinations), nets(&["127.0.0.1/32", "10.0.0.0/8", "::1/128"]));
        assert_eq!(flatten(args.trusted_proxies), vec![]);
        let args = serve_args(&[]);
        assert!(args.allow_destinations.is_empty() && args.trusted_proxies.is_empty());
    }

    #[test]
    fn database_urls_of_unknown_kinds_are_refused() {
        for accepted in [
            "sqlite://hookdesk-data/hookdesk.db",
            "sqlite:hookdesk.db",
            "hookdesk.db",
            "/var/lib/hookdesk/hookdesk.db",
            "./data/hookdesk.db",
            "postgres://u:p@localhost/db",
            "postgresql://u:p@localhost:5432/db",
        ] {
            assert_eq!(database_url(accepted).as_deref(), Ok(accepted));
        }
        for refused in ["mysql://x/y", "mariadb:x", "http://example.com/db", ""] {
            let message = database_url(refused).expect_err(refused);
            assert!(message.contains("sqlite://PATH") && message.contains("postgresql://"), "{message}");
        }
        assert!(Cli::try_parse_from(["hookdesk", "migrate", "--database", "mysql://x/y"]).is_err());
        assert!(Cli::try_parse_from(["hookdesk", "admin-token", "--database", "mysql://x/y"]).is_err());
    }

    #[test]
    fn http_limits_have_documented_defaults() {
        let args = serve_args(&[]);
        assert_eq!(args.header_timeout, Duration::from_secs(10));
        assert_eq!(args.idle_timeout, Duration::from_secs(60));
        assert_eq!(args.body_timeout, Duration::from_secs(30));
        assert_eq!(args.max_connections, None);
        let cli = Cli::try_parse_from(["hookdesk", "serve", "--log-format", "json"]).expect("parses");
        assert_eq!(cli.log_format, LogFormat::Json);
    }

    #[test]
    fn time_zones_are_checked_and_a_negative_offset_needs_no_equals_sign() {
        let serve = |zone: &str| match Cli::try_parse_from(["hookdesk", "serve", "--timezone", zone]) {
            Ok(Cli { command: Command::Serve(args), .. }) => Ok(args.timezone),
            Ok(_) => Err("not serve".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(serve("-05:30").as_deref(), Ok("-05:30"));
        assert_eq!(serve("Europe/Paris").as_deref(), Ok("Europe/Paris"));
        assert!(serve("Mars/Olympus").is_err_and(|e| e.contains("IANA name")));
    }
}
