//! The step function against a real database (SQLite, and PostgreSQL where the tests have one:
//! see `hookdesk_test_support::postgres`) and a real receiver on loopback. Delivery is driven
//! by `deliver_due` and `drain`, never by waiting for a time.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{StatusCode, Uri};
use hookdesk_core::Timestamp;
use hookdesk_core::id::{InvocationId, WebhookId};
use hookdesk_core::invocation::{InvocationStatus, NewInvocation};
use hookdesk_core::request::PreparedRequest;
use hookdesk_core::template::TemplateMode;
use hookdesk_core::webhook::{
    Authentication, CustomHeaders, Endpoint, HttpMethod, Ordering, RequestFormat, SigningSecret, Subscriptions,
    Webhook, WebhookStatus,
};
use hookdesk_store::{NewWebhook, SecretKey, Store};
use tokio::sync::Semaphore;

use super::{Step, Worker};
use crate::dispatcher::{Delivery, DeliveryConfig, DeliveryHandle, HealthEvent, start};
use crate::gates::GateConfig;
use crate::{DeliveryMetrics, DestinationPolicy, RetryPolicy, Sender};

/// Answers each path with its scripted statuses in turn (204 once they run out), after a
/// permit of `hold` when one is set; records every path it was called on.
#[derive(Clone, Default)]
struct Receiver {
    calls: Arc<Mutex<Vec<String>>>,
    script: Arc<Mutex<HashMap<String, VecDeque<u16>>>>,
    hold: Option<Arc<Semaphore>>,
}

impl Receiver {
    async fn serve(self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound");
        let answer = self.clone();
        let app = axum::Router::new().fallback(move |uri: Uri| {
            let answer = answer.clone();
            async move {
                if let Some(hold) = &answer.hold {
                    hold.acquire().await.expect("never closed").forget();
                }
                let path = uri.path().to_owned();
                let status = answer.script.lock().expect("script").get_mut(&path).and_then(VecDeque::pop_front);
                answer.calls.lock().expect("calls").push(path);
                StatusCode::from_u16(status.unwrap_or(204)).expect("a status")
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the receiver serves") });
        addr
    }

    fn script(&self, path: &str, statuses: &[u16]) {
        self.script.lock().expect("script").insert(path.to_owned(), statuses.iter().copied().collect());
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }
}

/// A new database: a SQLite file in a temporary directory, or a PostgreSQL database dropped
/// by `finish`.
struct TestDb {
    store: Store,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<String>,
}

impl TestDb {
    async fn finish(self) {
        self.store.close().await;
        if let Some(name) = self.postgres {
            hookdesk_test_support::postgres::drop_database(&name).await;
        }
    }
}

/// A new database of each backend the run has.
async fn databases() -> Vec<TestDb> {
    let key = SecretKey::generate().expect("a key");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sqlite = Store::open(&dir.path().join("hookdesk.db").to_string_lossy(), &key).await.expect("SQLite opens");
    let mut databases = vec![TestDb { store: sqlite, _dir: Some(dir), postgres: None }];
    if hookdesk_test_support::postgres::available("PostgreSQL runs of the worker's steps").await {
        let (url, name) = hookdesk_test_support::postgres::create_database("hookdesk_worker").await;
        let store = Store::open(&url, &key).await.expect("PostgreSQL opens");
        databases.push(TestDb { store, _dir: None, postgres: Some(name) });
    }
    databases
}

fn uuid_like() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random bytes");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn config(concurrency: usize) -> DeliveryConfig {
    DeliveryConfig {
        concurrency,
        claim_batch: 64,
        request_timeout: Duration::from_secs(10),
        // Retries due at once, so a drain sends them.
        retry: RetryPolicy::parse("0s").expect("a schedule"),
        poll_interval: Duration::from_secs(1),
        user_agent: "hookdesk-test".into(),
        gates: GateConfig::default(),
        shutdown_grace: Duration::from_secs(1),
    }
}

fn worker(store: &Store, concurrency: usize) -> Worker {
    let policy = DestinationPolicy::new(vec!["127.0.0.0/8".parse().expect("a network")]);
    let sender = Sender::new(policy, Duration::from_secs(10), None).expect("a client");
    let (health, _) = tokio::sync::mpsc::unbounded_channel::<HealthEvent>();
    let delivery = Delivery {
        store: store.clone(),
        sender,
        handle: DeliveryHandle::default(),
        health: Arc::new(health),
        metrics: DeliveryMetrics::default(),
    };
    start(delivery, config(concurrency)).0
}

async fn webhook(store: &Store, id: &str, status: WebhookStatus) -> WebhookId {
    let webhook = Webhook {
        id: WebhookId(id.into()),
        name: id.into(),
        description: String::new(),
        endpoint: Endpoint::parse("http://127.0.0.1/").expect("endpoint"),
        http_method: HttpMethod::Post,
        request_format: RequestFormat::Json,
        status,
        subscriptions: Subscriptions::Conditional,
        authentication: Authentication::None,
        custom_headers: CustomHeaders::default(),
        max_retries: 3,
        ordering: Ordering::None,
        rate_limit_per_minute: None,
        template_mode: TemplateMode::Lax,
        created_at: Timestamp::now(),
        updated_at: Timestamp::now(),
    };
    let secret = SigningSecret::from_bytes(vec![7; 32]);
    store.create_webhook(NewWebhook { webhook: &webhook, secret: &secret }).await.expect("the webhook is saved");
    webhook.id
}

/// Queues one invocation of `webhook` to `http://{addr}{path}`, committed as an update does.
async fn queue(store: &Store, webhook: &WebhookId, addr: SocketAddr, path: &str) -> InvocationId {
    let id = InvocationId(format!("inv_{}", uuid_like()));
    let invocation = NewInvocation {
        id: id.clone(),
        webhook_id: webhook.clone(),
        ticket_id: None,
        trigger_id: None,
        automation_id: None,
        event_type: Some("ticket.updated".into()),
        replay_of: None,
        request: Ok(PreparedRequest {
            method: HttpMethod::Post,
            url: format!("http://{addr}{path}"),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some("{}".into()),
        }),
        max_retries: 3,
        ordered: false,
        created_at: Timestamp::now(),
    };
    let mut update = store.begin_update().await.expect("a transaction");
    update.enqueue(&[invocation]).await.expect("queued");
    update.commit().await.expect("committed");
    id
}

#[tokio::test]
async fn a_step_sends_what_is_due_and_a_drain_records_every_attempt() {
    for db in databases().await {
        let store = &db.store;
        let receiver = Receiver::default();
        let addr = receiver.clone().serve().await;
        let hook = webhook(store, "wh_a", WebhookStatus::Active).await;
        let mut worker = worker(store, 8);
        assert_eq!(worker.deliver_due().await.expect("a step"), Step::Idle, "nothing is queued yet");
        let ids = [queue(store, &hook, addr, "/1").await, queue(store, &hook, addr, "/2").await];
        assert_eq!(worker.deliver_due().await.expect("a step"), Step::Claimed(2));
        worker.drain().await.expect("drained");
        let mut calls = receiver.calls();
        calls.sort();
        assert_eq!(calls, ["/1", "/2"]);
        for id in &ids {
            let invocation = store.invocation(id).await.expect("recorded");
            assert_eq!(invocation.status, InvocationStatus::Succeeded, "{id:?}");
            assert_eq!(invocation.attempts.len(), 1);
            assert_eq!(invocation.attempts[0].response.as_ref().map(|r| r.status), Some(204));
        }
        assert_eq!(worker.deliver_due().await.expect("a step"), Step::Idle, "each invocation is sent once");
        db.finish().await;
    }
}

#[tokio::test]
async fn a_retryable_answer_is_sent_again_and_a_final_one_is_not() {
    for db in databases().await {
        let store = &db.store;
        let receiver = Receiver::default();
        receiver.script("/flaky", &[503, 429]);
        receiver.script("/gone", &[404]);
        let addr = receiver.clone().serve().await;
        let hook = webhook(store, "wh_r", WebhookStatus::Active).await;
        let flaky = queue(store, &hook, addr, "/flaky").await;
        let gone = queue(store, &hook, addr, "/gone").await;
        let mut worker = worker(store, 8);
        worker.drain().await.expect("drained");

        let flaky = store.invocation(&flaky).await.expect("recorded");
        assert_eq!(flaky.status, InvocationStatus::Succeeded);
        let codes: Vec<_> = flaky.attempts.iter().map(|a| a.error.as_ref().map(|e| e.code.as_str())).collect();
        assert_eq!(codes, [Some("http_status"), Some("http_status"), None], "503, then 429, then 204");
        let gone = store.invocation(&gone).await.expect("recorded");
        assert_eq!(gone.status, InvocationStatus::Failed, "a 404 is final");
        assert_eq!(gone.attempts.len(), 1);
        assert_eq!(receiver.calls().iter().filter(|p| *p == "/gone").count(), 1);
        db.finish().await;
    }
}

#[tokio::test]
async fn a_full_worker_says_so_and_claims_nothing_until_a_slot_frees() {
    for db in databases().await {
        let store = &db.store;
        let hold = Arc::new(Semaphore::new(0));
        let receiver = Receiver { hold: Some(hold.clone()), ..Receiver::default() };
        let addr = receiver.clone().serve().await;
        let hook = webhook(store, "wh_f", WebhookStatus::Active).await;
        let first = queue(store, &hook, addr, "/first").await;
        let second = queue(store, &hook, addr, "/second").await;
        let mut worker = worker(store, 1);
        assert_eq!(worker.deliver_due().await.expect("a step"), Step::Claimed(1), "one slot, one claim");
        assert_eq!(worker.deliver_due().await.expect("a step"), Step::Full);
        let waiting = store.invocation(&second).await.expect("queued");
        assert!(waiting.attempts.is_empty(), "the second is not claimed while the slot is taken");
        hold.add_permits(2);
        worker.drain().await.expect("drained");
        for id in [&first, &second] {
            assert_eq!(store.invocation(id).await.expect("recorded").status, InvocationStatus::Succeeded);
        }
        db.finish().await;
    }
}

#[tokio::test]
async fn an_inactive_webhook_keeps_its_invocations_and_a_deleted_one_fails_them() {
    for db in databases().await {
        let store = &db.store;
        let receiver = Receiver::default();
        let addr = receiver.clone().serve().await;
        let paused = webhook(store, "wh_p", WebhookStatus::Inactive).await;
        let kept = queue(store, &paused, addr, "/kept").await;
        let orphan = queue(store, &WebhookId("wh_gone".into()), addr, "/orphan").await;
        let mut worker = worker(store, 8);
        assert_eq!(worker.deliver_due().await.expect("a step"), Step::Claimed(2));
        worker.drain().await.expect("drained");
        assert!(receiver.calls().is_empty(), "nothing is sent: {:?}", receiver.calls());

        let kept = store.invocation(&kept).await.expect("queued");
        assert_eq!(kept.status, InvocationStatus::Pending, "given back, not failed");
        assert!(kept.attempts.is_empty(), "giving back is no attempt");
        assert!(kept.next_attempt_at.is_some_and(|at| at > Timestamp::now()), "due again later");
        let orphan = store.invocation(&orphan).await.expect("recorded");
        assert_eq!(orphan.status, InvocationStatus::Failed);
        assert_eq!(orphan.error.map(|e| e.code), Some("webhook_deleted".to_owned()));
        db.finish().await;
    }
}
