//! Use cases: what hookdesk does, independent of HTTP.

mod automations;
pub mod background;
mod callers;
mod checks;
mod choices;
mod config;
mod dry_run;
mod error;
mod import;
mod inbound;
mod inbound_calls;
mod invocations;
mod macros;
pub mod metrics;
mod operator;
mod overview;
mod pages;
mod passwords;
pub mod rule_schemas;
mod rules;
mod sessions;
mod test_send;
mod throttle;
mod ticket_bodies;
mod tickets;
mod updates;
mod users;
mod versions;
mod webhooks;

pub mod ids;

use std::sync::Arc;
use std::time::Duration;

use hookdesk_delivery::{Delivery, DeliveryConfig, DeliveryHandle, HealthEvent, Sender};
use hookdesk_store::Store;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use automations::AutomationRun;
pub use callers::{Admin, Agent, Client};
pub use checks::{Checked, Saved};
pub use choices::{EditorChoices, Placeholder, WebhookChoice};
pub use config::{ApplyOptions, ConfigPlan, PlanStep, document_schema};
pub use dry_run::{DryRunBody, DryRunResult};
pub use error::AppError;
pub use hookdesk_core::Clock;
pub use import::{ImportCreated, ImportReport};
pub use inbound::{CallQuery, DEFAULT_RATE_LIMIT_PER_MINUTE, InboundBody, InboundWebhookView, PatchInboundBody};
pub use inbound_calls::{CallAnswer, ErrorReply, Handled, Opened, OpenedCall};
pub use invocations::{InvocationQuery, LogNames, ReplayBody, ReplayReport};
pub use macros::{MacroBody, PatchMacroBody};
pub use operator::new_api_token;
pub use overview::{OVERVIEW_WINDOW, Overview, Troubled};
pub use pages::{MAX_LIMIT as MAX_PAGE, PageQuery, SearchQuery};
pub use passwords::{
    LinkBody, LinkKind, LinkView, MIN_PASSWORD_CHARS, NewLink, PasswordSignIn, Refused, check_new_password,
};
pub use rules::{OrderBody, PatchTriggerBody, TriggerBody};
pub use sessions::{SESSION_LIFETIME, Session, SignedIn};
pub use test_send::{NotificationPreview, TestBody, TestResult};
pub use ticket_bodies::{CreateTicketBody, PatchTicketBody, from_json, nullable, plain_words};
pub use tickets::TicketQuery;
pub use updates::UpdateOutcome;
pub use users::{NewToken, PatchUserBody, TokenBody, UserBody};
pub use versions::{Editable, version_of};
pub use webhooks::{CreateWebhookBody, PatchWebhookBody, WebhookView};

#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Base of absolute URLs in templates (`ticket.url`), without a trailing slash.
    pub public_url: String,
    pub user_agent: String,
    /// How long a rotated-out signing secret keeps signing.
    pub secret_grace_ms: i64,
    /// Tickets an automation run reads per batch.
    pub automation_batch: u32,
    /// Reverse proxies whose X-Forwarded-For names an inbound call's client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Base of inbound webhooks' URLs, without a trailing slash.
    pub hooks_public_url: String,
    /// The bearer token `/metrics` asks for, when it asks for one.
    pub metrics_token: Option<String>,
    /// The bytes each inbound webhook's call log may hold; the oldest calls go first.
    pub inbound_log_budget: u64,
    /// The bytes of bodies an inbound webhook with actions accepts a minute (per process).
    pub inbound_bytes_per_minute: u64,
}

/// Everything a use case needs. Cheap to clone. The adapters (`http`, `hooks`) reach the
/// store, the workers and the clock only through its methods.
#[derive(Clone)]
pub struct App {
    store: Store,
    node: background::Node,
    delivery: DeliveryHandle,
    sender: Sender,
    config: Arc<AppConfig>,
    clock: Clock,
    /// Inbound webhooks' rate limiters (per process).
    inbound_limits: Arc<inbound_calls::InboundLimits>,
    /// Bytes each inbound webhook logged since this process last trimmed its call log.
    logged_since_trim: Arc<inbound_calls::LoggedSinceTrim>,
    /// Wrong API tokens, per client address.
    token_failures: Arc<throttle::FailureThrottle>,
    /// Text searches under way (see [`App::search_turn`]).
    searches: Arc<tokio::sync::Semaphore>,
    /// Inbound calls with large bodies under way (see [`App::large_call_turn`]).
    large_calls: Arc<tokio::sync::Semaphore>,
    metrics: metrics::Metrics,
}

/// What an [`App`] is made of.
pub struct AppParts {
    pub store: Store,
    pub sender: Sender,
    /// This process, as the singleton jobs' leases name it.
    pub node_id: String,
    pub config: AppConfig,
    pub clock: Clock,
}

/// How often the background jobs run, and what they keep.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub automation_interval: Duration,
    /// How often the retention purge runs.
    pub background_interval: Duration,
    /// How long the invocation and inbound call logs keep an entry.
    pub retention: Duration,
    /// How long tickets' audit entries are kept; `None`: for ever.
    pub audit_retention: Option<Duration>,
}

/// `GET /healthz`: this node and the singleton jobs it runs.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub status: &'static str,
    pub node: String,
    pub singletons: Vec<&'static str>,
    /// Ready, but with something to do: a newer hookdesk migrated the database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Runs a long parse or render so that the runtime's other tasks go on meanwhile: on a
/// multi-threaded runtime its worker hands its queue to another thread for the duration
/// (`/healthz` answers while an agent's macro renders); elsewhere, in place. At most all
/// cores but one do such work at once (the others wait their turn): sixty-four previews at
/// once would take every core from the requests.
fn off_the_request_threads(work: &mut dyn FnMut()) {
    use tokio::runtime::{Handle, RuntimeFlavor};
    // An update's renders hold the database's writer (SQLite's only one): waiting for a
    // turn there would make every other write wait behind previews.
    let holds_the_writer = HOLDS_THE_WRITER.try_with(|_| ()).is_ok();
    let mut bounded = || {
        let _turn = (!holds_the_writer).then(|| HEAVY_WORK.take());
        work();
    };
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            // tokio refuses (by a panic, before running it) where blocking is not allowed:
            // then the work runs in place, as on any other runtime.
            let _ =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tokio::task::block_in_place(&mut bounded)));
        }
        _ => bounded(),
    }
}

tokio::task_local! {
    /// Set while an update runs in its write transaction.
    static HOLDS_THE_WRITER: ();
}

/// Runs `update`, whose renders take no turn at long work: they hold the writer, and are
/// bounded by their render budget anyway.
pub(crate) async fn holding_the_writer<T>(update: impl std::future::Future<Output = T>) -> T {
    HOLDS_THE_WRITER.scope((), update).await
}

/// Turns at long work: as many as the machine has cores but one (at least one).
static HEAVY_WORK: std::sync::LazyLock<Turns> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    Turns { free: std::sync::Mutex::new(cores.saturating_sub(1).max(1)), released: std::sync::Condvar::new() }
});

/// A counting semaphore for threads that may block (the work runs off the runtime's
/// workers, so waiting here holds none of them).
struct Turns {
    free: std::sync::Mutex<usize>,
    released: std::sync::Condvar,
}

/// A turn taken (`None` inside another the same thread holds: work within work waits for
/// nothing, else one turn held while asking for a second could wait for itself).
struct Turn<'a>(Option<&'a Turns>);

thread_local! {
    static HOLDS_A_TURN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Turns {
    fn take(&self) -> Turn<'_> {
        if HOLDS_A_TURN.get() {
            return Turn(None);
        }
        let mut free = self.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while *free == 0 {
            free = self.released.wait(free).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *free -= 1;
        HOLDS_A_TURN.set(true);
        Turn(Some(self))
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if let Some(turns) = self.0 {
            HOLDS_A_TURN.set(false);
            *turns.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
            turns.released.notify_one();
        }
    }
}

impl App {
    pub fn new(AppParts { store, sender, node_id, config, clock }: AppParts) -> Self {
        hookdesk_core::template::set_offload(off_the_request_threads);
        Self {
            store,
            node: background::Node::new(node_id),
            delivery: DeliveryHandle::default(),
            sender,
            config: Arc::new(config),
            clock,
            inbound_limits: Arc::default(),
            logged_since_trim: Arc::default(),
            token_failures: Arc::default(),
            searches: Arc::new(tokio::sync::Semaphore::new(pages::SEARCHES_AT_ONCE)),
            large_calls: Arc::new(tokio::sync::Semaphore::new(inbound_calls::LARGE_CALLS_AT_ONCE)),
            metrics: metrics::Metrics::default(),
        }
    }

    /// A turn to run a text search (`?q=`), when there is one: `LIKE '%...%'` has no index and
    /// may read every row, so only a few run at once, and the rest wait here without holding
    /// a database connection (the writes and `/healthz` need them).
    pub(crate) async fn search_turn(
        &self,
        text: Option<&str>,
    ) -> Result<Option<tokio::sync::SemaphorePermit<'_>>, AppError> {
        match text {
            None => Ok(None),
            Some(_) => self
                .searches
                .acquire()
                .await
                .map(Some)
                .map_err(|e| AppError::Internal(format!("no turn to search: {e}"))),
        }
    }

    /// Starts delivering what this app queues. A webhook turning failing or recovering comes
    /// back here, to be queued as a `webhook.failing` or `webhook.recovered` event. Ends
    /// after `shutdown`, when the deliveries in flight and the events they raised are done.
    pub fn spawn_delivery(&self, config: DeliveryConfig, shutdown: CancellationToken) -> JoinHandle<()> {
        let (events, mut changes) = tokio::sync::mpsc::unbounded_channel::<HealthEvent>();
        let app = self.clone();
        let health = tokio::spawn(async move {
            while let Some(event) = changes.recv().await {
                if let Err(e) = app.webhook_health_event(&event.webhook_id, &event.health).await {
                    tracing::warn!(webhook.id = %event.webhook_id, error = %e, "could not queue the webhook's health event");
                }
            }
        });
        let parts = Delivery {
            store: self.store.for_delivery(),
            sender: self.sender.clone(),
            handle: self.delivery.clone(),
            health: Arc::new(events),
            metrics: self.metrics.delivery.clone(),
        };
        let delivery = hookdesk_delivery::spawn(parts, config, shutdown);
        tokio::spawn(async move {
            let _ = delivery.await;
            // The dispatcher is gone, and with it the events' sender: the rest drain, then end.
            let _ = health.await;
        })
    }

    /// Starts the singleton jobs (the automations and the retention purge): each runs on
    /// one node at a time, however many share the database.
    pub fn spawn_background(&self, schedule: Schedule, shutdown: &CancellationToken) -> Vec<JoinHandle<()>> {
        let automations = {
            let app = self.clone();
            background::run_singleton(
                self.store.clone(),
                self.node.clone(),
                "automations",
                schedule.automation_interval,
                shutdown.clone(),
                move || {
                    let app = app.clone();
                    async move {
                        if let Err(e) = app.run_automations_once().await {
                            tracing::warn!(error = %e, "the automation run failed; it runs again next interval");
                        }
                    }
                },
            )
        };
        let purge = {
            let (store, clock) = (self.store.clone(), self.clock.clone());
            let budget = self.config.inbound_log_budget;
            background::run_singleton(
                self.store.clone(),
                self.node.clone(),
                "retention_purge",
                schedule.background_interval,
                shutdown.clone(),
                move || {
                    let (store, clock) = (store.clone(), clock.clone());
                    async move { background::purge_expired(&store, &clock, &schedule, budget).await }
                },
            )
        };
        vec![tokio::spawn(automations), tokio::spawn(purge)]
    }

    /// Work was queued by another process: deliver it now rather than at the next poll.
    pub fn wake_delivery(&self) {
        self.delivery.wake();
    }

    /// Whether this node lives: its database answers.
    pub async fn node_status(&self) -> Result<NodeStatus, AppError> {
        self.store.ping().await?;
        Ok(NodeStatus { status: "ok", node: self.node.id.clone(), singletons: self.node.holding(), note: None })
    }

    /// Whether this node should take traffic (`/readyz`): its database answers, its schema
    /// holds every migration this binary brings, and its delivery workers run. A schema a newer
    /// hookdesk migrated further is ready (migrations only add, so this node still works on it),
    /// with a note: during a rolling upgrade the old nodes keep serving until they are replaced.
    pub async fn readiness(&self) -> Result<NodeStatus, AppError> {
        let (applied, embedded) = self.store.schema_versions().await.map_err(|e| {
            // Probes come every few seconds: the outage itself is logged where it hurts.
            tracing::debug!(error = %e, "readiness: the database does not answer");
            AppError::NotReady("the database does not answer".into())
        })?;
        if applied < embedded {
            return Err(AppError::NotReady(format!(
                "the database schema is at version {applied}, and this binary needs {embedded}: run `hookdesk migrate`"
            )));
        }
        if !self.delivery.is_running() {
            return Err(AppError::NotReady("the delivery workers are not running".into()));
        }
        let note = (applied > embedded).then(|| {
            format!(
                "the database schema is at version {applied}, newer than this binary's {embedded}: upgrade this node"
            )
        });
        Ok(NodeStatus { status: "ready", node: self.node.id.clone(), singletons: self.node.holding(), note })
    }

    /// Whether `/metrics` may answer a request bearing `token`: any, unless a metrics token
    /// is set. Hashes are compared, so the time taken tells nothing of the token.
    pub fn may_read_metrics(&self, token: Option<&str>) -> bool {
        match &self.config.metrics_token {
            None => true,
            Some(expected) => token.is_some_and(|token| ids::token_hash(token) == ids::token_hash(expected)),
        }
    }

    /// This server's counters, to count what happens outside the app (HTTP requests).
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }
}
