//! `TestApp` runs hookdesk as `serve` does; `Receiver` is a webhook receiver that records what
//! arrives and answers with scripted statuses.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use hookdesk::config::{DatabaseArgs, ServeConfig};
use hookdesk::serve::{Running, start};
use hookdesk_delivery::RetryPolicy;
use hookdesk_delivery::gates::GateConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Long enough for a loaded 2-core CI machine; waits return as soon as the condition holds.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Waits until `done` holds, checking every 20 ms, for at most [`PATIENCE`].
pub async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The backend a test runs on. Every storage-touching test runs on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Generates, for each named `async fn(Db)`, a module with a `sqlite` and a `postgres` test.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    hookdesk_test_support::summary_at_exit();
                    super::$name($crate::support::Db::Sqlite).await;
                }

                #[tokio::test]
                async fn postgres() {
                    if $crate::support::postgres_available().await {
                        super::$name($crate::support::Db::Postgres).await;
                    }
                }
            }
        )*
    };
}

/// Whether PostgreSQL tests can run here: on the server `HOOKDESK_TEST_POSTGRES_URL` names,
/// else on a private cluster of this binary's own where PostgreSQL's server programs are
/// installed (`hookdesk_test_support::postgres`). Where neither, the test is skipped, said
/// and counted (a failure with `HOOKDESK_REQUIRE_POSTGRES`, as `.ci/run` sets it).
pub async fn postgres_available() -> bool {
    hookdesk_test_support::postgres::available("PostgreSQL variants").await
}

/// A new, empty database on the test server; dropped by [`TestDatabase`]'s drop.
async fn create_postgres_database() -> (String, String) {
    hookdesk_test_support::postgres::create_database("hookdesk_test").await
}

fn drop_postgres_database(name: &str) {
    let name = name.to_owned();
    // Drop runs outside any async context we may block; use a runtime of our own.
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(hookdesk_test_support::postgres::drop_database(&name));
    });
    let _ = dropped.join();
}

/// A database of `db`'s backend for one test and the key file beside it: a SQLite file in a
/// temporary folder, or a new PostgreSQL database, dropped with this.
pub struct TestDatabase {
    pub url: String,
    pub key_file: std::path::PathBuf,
    postgres: Option<String>,
    dir: tempfile::TempDir,
}

impl TestDatabase {
    pub async fn new(db: Db) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (url, postgres) = match db {
            Db::Sqlite => (format!("sqlite://{}/hookdesk.db", dir.path().display()), None),
            Db::Postgres => {
                let (url, name) = create_postgres_database().await;
                (url, Some(name))
            }
        };
        Self { url, key_file: dir.path().join("secret.key"), postgres, dir }
    }

    /// The folder of its key file (and of its SQLite file).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(name) = self.postgres.take() {
            drop_postgres_database(&name);
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub token: String,
    pub config: ServeConfig,
    running: Option<Running>,
    client: reqwest::Client,
    /// The database it runs on (removed when the app is dropped) and the folder of its key.
    _database: TestDatabase,
}

pub fn default_config(dir: &std::path::Path) -> ServeConfig {
    ServeConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        database: DatabaseArgs {
            database: format!("sqlite://{}/hookdesk.db", dir.display()),
            secret_key_file: Some(dir.join("secret.key")),
        },
        allow_destinations: vec!["127.0.0.0/8".parse().expect("cidr")],
        trusted_proxies: vec![],
        outbound_proxy: None,
        public_url: None,
        retry: RetryPolicy::parse("50ms").expect("schedule"),
        request_timeout: Duration::from_secs(5),
        concurrency: 16,
        poll_interval: Duration::from_millis(200),
        retention: Duration::from_secs(30 * 86_400),
        inbound_log_budget: 64 << 20,
        inbound_bytes_per_minute: 1 << 20,
        audit_retention: Some(Duration::from_secs(90 * 86_400)),
        background_interval: Duration::from_secs(60),
        gates: GateConfig::default(),
        shutdown_grace: Duration::from_secs(5),
        automation_interval: Duration::from_secs(300),
        http: hookdesk::transport::HttpLimits::default(),
        clock: hookdesk_server::app::Clock::adjustable(),
        admin_token: Some(format!("test-admin-token-{}", std::process::id())),
        metrics: hookdesk::config::MetricsListen::Main,
        metrics_token: None,
        hooks_listen: None,
        hooks_public_url: None,
        timezone: "UTC".into(),
    }
}

impl TestApp {
    pub async fn spawn(db: Db) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    /// Runs with exactly `config`: its database is the caller's to create and remove, and
    /// only the key file of a SQLite test database of its own is used.
    pub async fn spawn_config(mut config: ServeConfig) -> Self {
        let database = TestDatabase::new(Db::Sqlite).await;
        config.database.secret_key_file = Some(database.key_file.clone());
        Self::launch(config, database).await
    }

    pub async fn spawn_with(db: Db, configure: impl FnOnce(&mut ServeConfig)) -> Self {
        let database = TestDatabase::new(db).await;
        let mut config = default_config(database.dir());
        config.database.database = database.url.clone();
        configure(&mut config);
        Self::launch(config, database).await
    }

    async fn launch(config: ServeConfig, database: TestDatabase) -> Self {
        hookdesk_test_support::summary_at_exit();
        let running = start(config.clone()).await.expect("the server starts");
        Self {
            addr: running.addr,
            token: config.admin_token.clone().expect("tests set a token"),
            config,
            running: Some(running),
            client: reqwest::Client::new(),
            _database: database,
        }
    }

    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }

    pub async fn start_again(&mut self) {
        let running = start(self.config.clone()).await.expect("the server restarts");
        self.addr = running.addr;
        self.running = Some(running);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
        let text = response.text().await.expect("a body");
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None, Some(&self.token)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body), Some(&self.token)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PATCH, path, Some(body), Some(&self.token)).await
    }

    /// Creates a webhook to `endpoint`; returns its id.
    pub async fn webhook(&self, endpoint: &str, extra: Value) -> String {
        let mut body = json!({"name": "test hook", "endpoint": endpoint});
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        let (status, webhook) = self.post("/api/v1/webhooks", body).await;
        assert_eq!(status, StatusCode::CREATED, "{webhook}");
        webhook["id"].as_str().expect("id").to_owned()
    }

    /// A trigger on ticket creation that notifies `webhook`; `notify` adds `payload` or `params`.
    pub async fn notify_on_create(&self, webhook: &str, mut notify: Value) -> i64 {
        notify["webhook_id"] = webhook.into();
        self.trigger(json!({
            "title": "On create",
            "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
            "actions": [{"field": "notify_webhook", "value": notify}]
        }))
        .await
    }

    /// Creates a trigger; returns its id.
    pub async fn trigger(&self, body: Value) -> i64 {
        let (status, trigger) = self.post("/api/v1/triggers", body).await;
        assert_eq!(status, StatusCode::CREATED, "{trigger}");
        trigger["id"].as_i64().expect("id")
    }

    pub async fn ticket(&self, body: Value) -> Value {
        let (status, ticket) = self.post("/api/v1/tickets", body).await;
        assert_eq!(status, StatusCode::CREATED, "{ticket}");
        ticket
    }

    pub async fn invocations(&self, query: &str) -> Vec<Value> {
        let (status, list) = self.get(&format!("/api/v1/invocations?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["data"].as_array().expect("data").clone()
    }

    /// Waits until the log shows nothing waiting (every invocation succeeded or failed);
    /// returns the whole log. Each invocation is queued in the transaction of the update
    /// that caused it, so once an update has answered, this covers all it will ever send.
    pub async fn all_settled(&self) -> Vec<Value> {
        let mut log = Vec::new();
        wait_until("every invocation has settled", async || {
            log = self.invocations("limit=500").await;
            log.iter().all(|i| matches!(i["status"].as_str(), Some("succeeded" | "failed")))
        })
        .await;
        log
    }

    /// Waits until the invocation reaches a final status; returns it.
    pub async fn settled(&self, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (status, invocation) = self.get(&format!("/api/v1/invocations/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{invocation}");
            if matches!(invocation["status"].as_str(), Some("succeeded" | "failed")) {
                return invocation;
            }
            assert!(tokio::time::Instant::now() < deadline, "invocation {id} did not settle: {invocation:#}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Creates a user with `role` and a token for them; returns (user id, token).
pub async fn user_with_token(app: &TestApp, email: &str, role: &str) -> (i64, String) {
    let (status, user) = app.post("/api/v1/users", json!({"name": role, "email": email, "role": role})).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_i64().expect("id");
    let (status, token) = app.post(&format!("/api/v1/users/{id}/tokens"), json!({"label": "test"})).await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    (id, token["token"].as_str().expect("token").to_owned())
}

/// This process's resident memory in MiB (the test runs the server in process).
pub fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: std::time::Instant,
}

/// What a receiver answers: a status, headers, after a delay (or once the test opens a gate).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Duration,
    pub body: Vec<u8>,
    pub gate: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self { status, headers: Vec::new(), delay: Duration::ZERO, body: b"ok".to_vec(), gate: None }
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Answers only once `gate` holds true (`watch::Sender::send(true)`): a request the test
    /// keeps in flight for as long as it needs.
    pub fn when_open(mut self, gate: &tokio::sync::watch::Receiver<bool>) -> Self {
        self.gate = Some(gate.clone());
        self
    }
}

type Responder = dyn Fn(&Received) -> Reply + Send + Sync;

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

struct ReceiverState {
    requests: Mutex<Vec<Received>>,
    respond: Box<Responder>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<ReceiverState>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("address"), &[]).await
    }

    pub async fn scripted(statuses: &[u16]) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("address"), statuses).await
    }

    pub async fn start_on(addr: SocketAddr, statuses: &[u16]) -> Self {
        // Statuses in order; 200 once the script is over.
        let script = Mutex::new(statuses.iter().copied().collect::<VecDeque<u16>>());
        Self::serve_on(addr, move |_| Reply::status(script.lock().expect("lock").pop_front().unwrap_or(200))).await
    }

    /// A receiver that answers each request as `respond` says.
    pub async fn responding(respond: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Self {
        Self::serve_on("127.0.0.1:0".parse().expect("address"), respond).await
    }

    pub async fn serve_on(addr: SocketAddr, respond: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Self {
        let state = Arc::new(ReceiverState { requests: Mutex::default(), respond: Box::new(respond) });
        let listener = tokio::net::TcpListener::bind(addr).await.expect("the receiver binds");
        let addr = listener.local_addr().expect("address");
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = shared.clone();
            async move {
                let received = Received {
                    method: method.to_string(),
                    path: uri.path_and_query().map(ToString::to_string).unwrap_or_default(),
                    headers: headers
                        .iter()
                        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                        .collect(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                    at: std::time::Instant::now(),
                };
                let reply = (state.respond)(&received);
                state.requests.lock().expect("lock").push(received);
                tokio::time::sleep(reply.delay).await;
                if let Some(mut gate) = reply.gate {
                    let _ = gate.wait_for(|open| *open).await;
                }
                let mut response = axum::response::Response::new(axum::body::Body::from(reply.body));
                *response.status_mut() = StatusCode::from_u16(reply.status).expect("status");
                for (name, value) in reply.headers {
                    response.headers_mut().insert(name, value.parse().expect("header value"));
                }
                response
            }
        });
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the receiver serves");
        });
        Self { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.requests.lock().expect("lock").clone()
    }

    /// Waits until at least `n` requests arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} requests, got {}: {received:#?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A loopback port with nothing listening on it (connections are refused).
pub async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    listener.local_addr().expect("address")
}

/// A refusal as tests check it: its status and the error code of the contract's body.
pub fn refusal(status: StatusCode, body: &Value) -> (u16, String) {
    (status.as_u16(), body["error"]["code"].as_str().unwrap_or("(no error code)").to_owned())
}

/// [`refusal`] of a response still to be read.
pub async fn status_and_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status();
    refusal(status, &response.json().await.unwrap_or(Value::Null))
}

pub const NODE_TOKEN: &str = "multi-node-admin-token";

/// A `hookdesk serve` process of the real binary, as operators run it.
pub struct Node {
    pub child: Child,
    pub url: String,
}

pub async fn start_node(database: &str, key_file: &std::path::Path, extra: &[&str]) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookdesk"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", database, "--allow-destination", "127.0.0.0/8"])
        .args(["--request-timeout", "2s", "--poll-interval", "500ms", "--retry-schedule", "200ms"])
        .args(extra)
        .arg("--secret-key-file")
        .arg(key_file)
        .env("HOOKDESK_ADMIN_TOKEN", NODE_TOKEN)
        .env("HOOKDESK_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the hookdesk binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(url) = line.strip_prefix("hookdesk listening on ") {
                return url.to_owned();
            }
        }
        panic!("the node exited before listening");
    })
    .await
    .expect("the node starts listening");
    // Keep draining stdout so the node never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Node { child, url }
}

pub async fn api(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let response =
        client.request(method, url).bearer_auth(NODE_TOKEN).json(&body).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let value: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    if status.is_success() { Ok(value) } else { Err(format!("{status}: {value}")) }
}

/// The key file every node shares (they must all decrypt the same secrets).
pub fn shared_key() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let key_file = dir.path().join("secret.key");
    std::fs::write(&key_file, hookdesk_store::SecretKey::generate().expect("random").to_base64()).expect("key file");
    (dir, key_file)
}
