//! Logs: to stderr, as text (colours only on a terminal) or as one JSON object per line,
//! filtered by `HOOKDESK_LOG`.

use std::io::IsTerminal;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// A line of text per event: time, level, target, message, fields.
    #[default]
    Text,
    /// A JSON object per line, with the event's fields at the top level.
    Json,
}

/// Installs the global subscriber. `default_filter` applies when `HOOKDESK_LOG` is unset or
/// invalid.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOOKDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).with_ansi(false).init(),
    }
}
