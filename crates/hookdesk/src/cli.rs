//! The command line: `hookdesk serve`, `migrate`, `admin-token`, `user`, `backup`, `openapi`,
//! `config`, `import`, `bench`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{DatabaseArgs, ServeArgs, ServeConfig};
use crate::output;
use crate::serve::start;
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
    /// People who sign in to the UI: `user set-password EMAIL` (the password on stdin) sets an
    /// agent's or admin's password and unlocks their account.
    #[command(subcommand)]
    User(crate::user::UserCommand),
    /// Copy a SQLite database, consistently, while the server runs (PostgreSQL: use pg_dump).
    /// The copy's secrets are sealed with the secret key, which is not in it: keep the key too.
    Backup(BackupArgs),
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
    /// The configuration as code: export a running server's, apply a document to one, or
    /// print the document's JSON Schema.
    #[command(subcommand)]
    Config(crate::remote::ConfigCommand),
    /// Bring another helpdesk's rules and webhooks over, through a running server.
    #[command(subcommand)]
    Import(crate::remote::ImportCommand),
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
pub struct BackupArgs {
    /// The file to write: a new one (it must not exist).
    pub path: PathBuf,

    #[command(flatten)]
    pub database: DatabaseArgs,
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
            crate::config::open_store(&args).await?.close().await;
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
        Command::User(command) => {
            let done = crate::user::run(command).await?;
            output::println(&done)?;
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
            let done = crate::backup::backup(&args.database, &args.path).await?;
            output::println(&format!(
                "Backed up {} to {} ({} bytes, schema version {}).",
                hookdesk_store::sqlite_path(&args.database.database),
                args.path.display(),
                done.bytes,
                done.schema_version
            ))?;
            eprintln!(
                "\nIMPORTANT: the webhook and inbound secrets in this backup are sealed with the secret key, which is NOT in it: {}.\nKeep a copy of that key with the backup (somewhere as safe): without it, a restored hookdesk cannot read or send with any of those secrets.",
                crate::config::key_location(&args.database)
            );
            Ok(())
        }
        Command::Config(command) => crate::remote::config(command).await,
        Command::Import(command) => crate::remote::import(command).await,
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
    use std::time::Duration;

    use clap::CommandFactory;
    use hookdesk_delivery::RetryPolicy;
    use ipnet::IpNet;

    use super::*;
    use crate::config::{Ranges, database_url, flatten, parse_ranges};

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

    /// Clap refuses `args`, naming the option and the value it could not take.
    fn assert_refused(args: &[&str], option: &str, value: &str) {
        let message = Cli::try_parse_from(args).expect_err("refused").to_string();
        assert!(message.starts_with(&format!("error: invalid value '{value}' for '{option}")), "{args:?}: {message}");
    }

    #[test]
    fn bad_options_are_refused() {
        for (option, value) in [
            ("--allow-destination", "nonsense"),
            ("--retry-schedule", "soon"),
            ("--concurrency", "0"),
            ("--header-timeout", "0s"),
            ("--max-connections", "0"),
            ("--log-format", "xml"),
        ] {
            assert_refused(&["hookdesk", "serve", option, value], option, value);
        }
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
        assert_eq!(
            parse_ranges("10.0.0.0/33").err().as_deref(),
            Some("`10.0.0.0/33` is neither an address nor a range (CIDR, like 10.0.0.0/8)")
        );
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
        assert_refused(&["hookdesk", "migrate", "--database", "mysql://x/y"], "--database", "mysql://x/y");
        assert_refused(&["hookdesk", "admin-token", "--database", "mysql://x/y"], "--database", "mysql://x/y");
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
