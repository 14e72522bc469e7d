//! `/metrics`: this process's counters (kept in memory since it started) and the queue's
//! gauges (read from the database at each scrape, so every node shows the same true values).
//! Label values come from closed sets (outcome and status classes, route templates); an id
//! never becomes one.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use hookdesk_core::Timestamp;
use hookdesk_delivery::DeliveryMetrics;
use hookdesk_store::Tally;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::{App, AppError};

/// A status code's class, as a label: `2xx` .. `5xx`.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum StatusClass {
    Informational,
    Success,
    Redirection,
    ClientError,
    ServerError,
}

impl StatusClass {
    pub const ALL: [Self; 5] =
        [Self::Informational, Self::Success, Self::Redirection, Self::ClientError, Self::ServerError];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Informational => "1xx",
            Self::Success => "2xx",
            Self::Redirection => "3xx",
            Self::ClientError => "4xx",
            Self::ServerError => "5xx",
        }
    }

    pub fn of(status: u16) -> Self {
        match status {
            ..200 => Self::Informational,
            200..300 => Self::Success,
            300..400 => Self::Redirection,
            400..500 => Self::ClientError,
            _ => Self::ServerError,
        }
    }
}

impl EncodeLabelValue for StatusClass {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
enum WaitingStatus {
    Pending,
    Retrying,
}

impl EncodeLabelValue for WaitingStatus {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(match self {
            Self::Pending => "pending",
            Self::Retrying => "retrying",
        })
    }
}

/// Why an API token (or a sign-in) was refused.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No user holds it.
    Unknown,
    /// Its client presented too many wrong ones: it was not even looked at.
    Throttled,
}

impl EncodeLabelValue for TokenRefusal {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(match self {
            Self::Unknown => "unknown_token",
            Self::Throttled => "throttled",
        })
    }
}

/// Why a password sign-in, or a password link, was refused.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum SignInRefusal {
    /// A wrong password, or an email no agent or admin has (not told apart: the label is public).
    WrongPassword,
    /// The account is locked after failures in a row: the password was not even checked.
    Locked,
    /// Its client failed too often (the address throttle wrong tokens share).
    Throttled,
    /// An invitation or reset link that does not work (expired, used, replaced, unknown).
    InvalidLink,
}

impl SignInRefusal {
    const ALL: [Self; 4] = [Self::WrongPassword, Self::Locked, Self::Throttled, Self::InvalidLink];
}

impl EncodeLabelValue for SignInRefusal {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(match self {
            Self::WrongPassword => "wrong_password",
            Self::Locked => "locked",
            Self::Throttled => "throttled",
            Self::InvalidLink => "invalid_link",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInRefusalLabel {
    reason: SignInRefusal,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabel {
    reason: TokenRefusal,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: WaitingStatus,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusClassLabel {
    status_class: StatusClass,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    status_class: StatusClass,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// How long the gauges read from the database serve scrapes before they are read again: the
/// route needs no token, so however often anyone scrapes, the database answers once a second.
pub const GAUGES_FRESH_FOR: Duration = Duration::from_secs(1);

/// Every metric of one server. Cheap to clone; clones count into the same metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub(crate) delivery: DeliveryMetrics,
    updates: Counter,
    rules_fired: Counter,
    inbound_calls: Family<StatusClassLabel, Counter>,
    inbound_rate_limited: Counter,
    token_refusals: Family<RefusalLabel, Counter>,
    sign_in_refusals: Family<SignInRefusalLabel, Counter>,
    http_requests: Family<RouteLabels, Counter>,
    // Set at each scrape.
    invocations: Family<StatusLabel, FloatGauge>,
    oldest_pending_age: FloatGauge,
    breakers_open: FloatGauge,
    failing: FloatGauge,
    database_up: Gauge,
    delivery_running: Gauge,
    /// When the database's gauges were last read; held while a scrape sets and encodes them,
    /// so that two scrapes at once do not mix their values.
    gauges_read_at: Arc<tokio::sync::Mutex<Option<Instant>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("hookdesk");
        registry.register(
            "build",
            "The version of hookdesk this process runs",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let delivery = DeliveryMetrics::registered(&mut registry);
        let inbound_calls = Family::<StatusClassLabel, Counter>::default();
        // Every class from the start, at 0, so that a rate over it is defined.
        for status_class in StatusClass::ALL {
            let _ = inbound_calls.get_or_create(&StatusClassLabel { status_class });
        }
        let token_refusals = Family::<RefusalLabel, Counter>::default();
        for reason in [TokenRefusal::Unknown, TokenRefusal::Throttled] {
            let _ = token_refusals.get_or_create(&RefusalLabel { reason });
        }
        let sign_in_refusals = Family::<SignInRefusalLabel, Counter>::default();
        for reason in SignInRefusal::ALL {
            let _ = sign_in_refusals.get_or_create(&SignInRefusalLabel { reason });
        }
        let metrics = Self {
            registry: Arc::default(),
            delivery,
            updates: Counter::default(),
            rules_fired: Counter::default(),
            inbound_calls,
            inbound_rate_limited: Counter::default(),
            token_refusals,
            sign_in_refusals,
            http_requests: Family::default(),
            invocations: Family::default(),
            oldest_pending_age: FloatGauge::default(),
            breakers_open: FloatGauge::default(),
            failing: FloatGauge::default(),
            database_up: Gauge::default(),
            delivery_running: Gauge::default(),
            gauges_read_at: Arc::default(),
        };
        metrics.register(&mut registry);
        Self { registry: Arc::new(registry), ..metrics }
    }
}

impl Metrics {
    /// Names and describes each metric in `registry` (whose prefix, `hookdesk_`, they get).
    fn register(&self, registry: &mut Registry) {
        let counters: [(&str, &str, &Counter); 3] = [
            ("updates", "Ticket updates committed (API, UI, macros, inbound calls, automations)", &self.updates),
            ("rules_fired", "Triggers and automations that fired on an update", &self.rules_fired),
            (
                "inbound_rate_limited",
                "Calls to inbound webhooks refused with 429 by their rate limit",
                &self.inbound_rate_limited,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "inbound_calls",
            "Calls to inbound webhooks' URLs, by the class of the answer",
            self.inbound_calls.clone(),
        );
        registry.register(
            "token_refusals",
            "API tokens refused, in the API and at sign-in, by reason: unknown_token, or throttled (the client's address presented too many wrong ones)",
            self.token_refusals.clone(),
        );
        registry.register(
            "sign_in_refusals",
            "Password sign-ins and password links refused, by reason: wrong_password (or an unknown email), locked (the account, after failures in a row), throttled (the client's address), invalid_link",
            self.sign_in_refusals.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template and status class",
            self.http_requests.clone(),
        );
        registry.register(
            "invocations",
            "Invocations waiting to be delivered, by status (read from the database: the same on every node)",
            self.invocations.clone(),
        );
        let gauges: [(&str, &str, &FloatGauge); 3] = [
            (
                "invocations_oldest_pending_age_seconds",
                "Age of the oldest invocation never attempted yet; 0 when none waits",
                &self.oldest_pending_age,
            ),
            ("webhook_breakers_open", "Webhooks whose circuit breaker is open or probing", &self.breakers_open),
            ("webhooks_failing", "Webhooks marked failing", &self.failing),
        ];
        for (name, help, gauge) in gauges {
            registry.register(name, help, gauge.clone());
        }
        registry.register(
            "database_up",
            "1 when the database answered this scrape; the gauges read from it are NaN otherwise",
            self.database_up.clone(),
        );
        registry.register(
            "delivery_running",
            "1 while this node's delivery workers run",
            self.delivery_running.clone(),
        );
    }

    /// Invocations failed for good without a request: their request could not be made, or
    /// their webhook was deleted.
    pub(crate) fn given_up(&self, invocations: usize) {
        self.delivery.given_up(invocations);
    }

    pub(crate) fn updated(&self, tally: Tally) {
        self.updates.inc_by(tally.updates);
        self.rules_fired.inc_by(tally.rules_fired);
    }

    /// A call to an inbound webhook's URL answered with `status`, whatever answered it (the
    /// webhook's response, a refusal, or the server: 404, 408, 413, 429).
    pub fn inbound_answered(&self, status: u16) {
        self.inbound_calls.get_or_create(&StatusClassLabel { status_class: StatusClass::of(status) }).inc();
    }

    /// An API token refused, and why.
    pub(crate) fn token_refused(&self, reason: TokenRefusal) {
        self.token_refusals.get_or_create(&RefusalLabel { reason }).inc();
    }

    /// A password sign-in or link refused, and why.
    pub(crate) fn sign_in_refused(&self, reason: SignInRefusal) {
        self.sign_in_refusals.get_or_create(&SignInRefusalLabel { reason }).inc();
    }

    /// A call refused by its inbound webhook's rate limit.
    pub(crate) fn inbound_rate_limited(&self) {
        self.inbound_rate_limited.inc();
    }

    /// An HTTP request answered; `route` is its template (`/api/tickets/{id}`), never a path.
    pub fn http_answered(&self, route: &str, status: u16) {
        let labels = RouteLabels { route: route.to_owned(), status_class: StatusClass::of(status) };
        self.http_requests.get_or_create(&labels).inc();
    }
}

/// The two text formats `/metrics` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposition {
    /// OpenMetrics 1.0, which Prometheus asks for.
    OpenMetrics,
    /// Prometheus's text format 0.0.4, for every other client.
    Prometheus,
}

impl Exposition {
    /// The format an `Accept` header asks for.
    pub fn accepted(accept: Option<&str>) -> Self {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Self::OpenMetrics,
            _ => Self::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

impl App {
    /// The metrics, in `format`, with the database's gauges at most [`GAUGES_FRESH_FOR`] old.
    pub async fn render_metrics(&self, format: Exposition) -> Result<String, AppError> {
        let m = &self.metrics;
        let mut read_at = m.gauges_read_at.lock().await;
        if read_at.is_none_or(|at| at.elapsed() >= GAUGES_FRESH_FOR) {
            self.read_gauges().await;
            *read_at = Some(Instant::now());
        }
        m.delivery_running.set(i64::from(self.delivery.is_running()));
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut text, &m.registry)
            .map_err(|e| AppError::Internal(format!("encoding the metrics failed: {e}")))?;
        drop(read_at);
        Ok(match format {
            Exposition::OpenMetrics => text,
            Exposition::Prometheus => prometheus_text(&text),
        })
    }

    /// Sets the gauges read from the database; `NaN` when it does not answer.
    async fn read_gauges(&self) {
        let m = &self.metrics;
        let read = async {
            Ok::<_, hookdesk_store::StoreError>((self.store.waiting().await?, self.store.health_counts().await?))
        };
        match read.await {
            Ok((waiting, health)) => {
                m.database_up.set(1);
                m.invocations
                    .get_or_create(&StatusLabel { status: WaitingStatus::Pending })
                    .set(waiting.pending as f64);
                m.invocations
                    .get_or_create(&StatusLabel { status: WaitingStatus::Retrying })
                    .set(waiting.retrying as f64);
                let age = waiting
                    .oldest_pending_since
                    .map_or(0.0, |since| (Timestamp::now().as_millis() - since.as_millis()).max(0) as f64 / 1000.0);
                m.oldest_pending_age.set(age);
                m.breakers_open.set(health.breakers_open as f64);
                m.failing.set(health.failing as f64);
            }
            Err(e) => {
                tracing::warn!(error = %e, "/metrics could not read the queue's gauges from the database");
                m.database_up.set(0);
                for status in [WaitingStatus::Pending, WaitingStatus::Retrying] {
                    m.invocations.get_or_create(&StatusLabel { status }).set(f64::NAN);
                }
                for gauge in [&m.oldest_pending_age, &m.breakers_open, &m.failing] {
                    gauge.set(f64::NAN);
                }
            }
        }
    }
}

/// OpenMetrics text as Prometheus's 0.0.4 format: for the metric types used here the two
/// differ only in that 0.0.4 names a counter's family with its `_total` suffix and an info
/// metric as a gauge with `_info`, and has no `# UNIT` nor `# EOF` lines.
fn prometheus_text(openmetrics: &str) -> String {
    let renamed: Vec<(&str, &str, &str)> = openmetrics
        .lines()
        .filter_map(|line| {
            let (name, kind) = line.strip_prefix("# TYPE ")?.split_once(' ')?;
            match kind {
                "counter" => Some((name, "_total", "counter")),
                "info" => Some((name, "_info", "gauge")),
                _ => None,
            }
        })
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let header = ["# HELP ", "# TYPE "].into_iter().find_map(|prefix| {
            let (name, rest) = line.strip_prefix(prefix)?.split_once(' ')?;
            let (_, suffix, kind) = renamed.iter().find(|(family, _, _)| *family == name)?;
            let rest = if prefix == "# TYPE " { *kind } else { rest };
            Some(format!("{prefix}{name}{suffix} {rest}"))
        });
        match header {
            Some(header) => text.push_str(&header),
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prometheus_format_names_counters_with_their_suffix_and_drops_openmetrics_lines() {
        let openmetrics = "# HELP hookdesk_updates Updates.\n# TYPE hookdesk_updates counter\nhookdesk_updates_total 3\n\
            # HELP hookdesk_build Version.\n# TYPE hookdesk_build info\nhookdesk_build_info{version=\"1\"} 1\n\
            # HELP hookdesk_lag_seconds Lag.\n# TYPE hookdesk_lag_seconds histogram\n# UNIT hookdesk_lag_seconds seconds\n\
            hookdesk_lag_seconds_count 0\n# EOF\n";
        assert_eq!(
            prometheus_text(openmetrics),
            "# HELP hookdesk_updates_total Updates.\n# TYPE hookdesk_updates_total counter\nhookdesk_updates_total 3\n\
             # HELP hookdesk_build_info Version.\n# TYPE hookdesk_build_info gauge\nhookdesk_build_info{version=\"1\"} 1\n\
             # HELP hookdesk_lag_seconds Lag.\n# TYPE hookdesk_lag_seconds histogram\nhookdesk_lag_seconds_count 0\n"
        );
    }

    #[test]
    fn status_classes() {
        assert_eq!(StatusClass::of(204), StatusClass::Success);
        assert_eq!(StatusClass::of(429), StatusClass::ClientError);
        assert_eq!(StatusClass::of(503), StatusClass::ServerError);
    }
}
