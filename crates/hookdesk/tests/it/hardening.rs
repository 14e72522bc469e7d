//! What an attacker with an agent token, and a new user making mistakes, could do to hookdesk
//! before it was hardened (issue 14): each test reproduces one finding through the real
//! server and checks it no longer holds.

use std::time::Duration;

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Db, PATIENCE, Receiver, TestApp, refusal, rss_mib, status_and_code, user_with_token};

/// A macro as `token`'s user; answers the status and body.
async fn save_macro(app: &TestApp, token: &str, actions: Value) -> (StatusCode, Value) {
    app.call(Method::POST, "/api/v1/macros", Some(json!({"title": "m", "actions": actions})), Some(token)).await
}

fn comment(body: &str) -> Value {
    json!([{"field": "add_comment", "value": {"body": body, "public": false}}])
}

/// A comment whose cost the ticket decides: the sample ticket cannot tell it apart from a
/// cheap one, so it is saved, and only its render on a real ticket goes over the budget.
const DATA_DRIVEN_LOOP: &str =
    "{% for i in (1..ticket.custom_fields.n) %}{% for j in (1..ticket.custom_fields.n) %}{% endfor %}{% endfor %}";

async fn an_agent_cannot_abort_the_process_with_a_template(db: Db) {
    let app = TestApp::spawn(db).await;
    let (_, agent) = user_with_token(&app, "agent@example.com", "agent").await;

    // 1,200 nested ifs overflowed the stack while parsing: now refused, naming field and limit.
    let nested = "{% if true %}".repeat(1200) + &"{% endif %}".repeat(1200);
    let (status, error) = save_macro(&app, &agent, comment(&nested)).await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "actions[0].value.body", "{error}");
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("32")), "{error}");

    // A billion-item range was collected into memory (a 56 GB allocation): refused when saved.
    let before = rss_mib();
    let (status, error) = save_macro(&app, &agent, comment("{% for i in (1..1000000000) %}{% endfor %}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["code"], "template_too_expensive", "{error}");

    // One whose cost only a real ticket reveals is saved, and stopped when previewed.
    let (status, saved) = save_macro(&app, &agent, comment(DATA_DRIVEN_LOOP)).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let id = saved["id"].as_i64().expect("id");
    let ticket = app.ticket(json!({"subject": "Big", "custom_fields": {"n": 1_000_000_000}})).await;
    let path = format!("/api/v1/tickets/{}/macros/{id}", ticket["id"]);
    for method in [Method::GET, Method::POST] {
        let (status, error) = app.call(method, &path, None, Some(&agent)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["error"]["code"], "template_too_expensive", "{error}");
        assert_eq!(error["error"]["details"][0]["field"], "actions[0].value.body", "{error}");
    }
    // The budget is the update's: twenty comments each within it alone are over it together.
    let loop_of_n = "{% for i in (1..ticket.custom_fields.n) %}{% endfor %}";
    let many: Vec<Value> =
        (0..20).map(|_| json!({"field": "add_comment", "value": {"body": loop_of_n, "public": false}})).collect();
    let (status, saved) = save_macro(&app, &agent, Value::Array(many)).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let nine_thousand = app.ticket(json!({"subject": "9,000", "custom_fields": {"n": 9_000}})).await;
    let (status, error) = app
        .call(
            Method::GET,
            &format!("/api/v1/tickets/{}/macros/{}", nine_thousand["id"], saved["id"]),
            None,
            Some(&agent),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["code"], "template_too_expensive", "{error}");
    eprintln!("RSS around the budget breaches: {before:.1} MiB before, {:.1} MiB after", rss_mib());
    let (_, ticket) = app.get(&format!("/api/v1/tickets/{}", ticket["id"])).await;
    assert_eq!(ticket["comments"], json!([]), "a refused macro changes nothing");

    // A trigger's payload over the budget fails its invocation, not the update.
    let receiver = Receiver::start().await;
    let webhook = app.webhook(&receiver.url("/hook"), json!({})).await;
    app.notify_on_create(&webhook, json!({"payload": format!("{{\"a\": \"{DATA_DRIVEN_LOOP}\"}}")})).await;
    app.ticket(json!({"subject": "Also big", "custom_fields": {"n": 1_000_000}})).await;
    let invocation = app.invocations("").await.remove(0);
    let invocation = app.settled(invocation["id"].as_str().expect("id")).await;
    assert_eq!(invocation["error"]["code"], "template_too_expensive", "{invocation}");
    assert!(receiver.received().is_empty());

    // An inbound call's response over the budget is a 422, and its actions are not kept.
    let (status, hook) = app
        .post(
            "/api/v1/inbound_webhooks",
            json!({"name": "pricey", "actions": [{"type": "create_ticket",
            "fields": {"subject": "From a call", "requester": {"email": "caller@example.com"}}}],
            "response": {"body": "{% for i in (1..request.params.n) %}{% endfor %}"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let url = format!("{}?n=1000000000", hook["url"].as_str().expect("url"));
    let response = reqwest::Client::new().post(&url).send().await.expect("an answer");
    assert_eq!(status_and_code(response).await, (422, "template_too_expensive".into()));
    let (_, tickets) = app.get("/api/v1/tickets?limit=500").await;
    assert!(
        tickets["data"].as_array().expect("data").iter().all(|t| t["subject"] != "From a call"),
        "the call's actions were rolled back: {tickets}"
    );

    let (status, _) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK, "the process is alive");
}

/// Runs `meanwhile` while a connection of the test's own holds what every write of the
/// server needs: SQLite's write lock, or on PostgreSQL the tickets table against writes
/// (reads go on in both).
async fn while_the_writer_is_held<T>(app: &TestApp, db: Db, meanwhile: impl Future<Output = T>) -> T {
    use sqlx::Connection;
    let url = &app.config.database.database;
    match db {
        Db::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.expect("the test's own connection");
            let tx = conn.begin_with("BEGIN IMMEDIATE").await.expect("the write lock");
            let out = meanwhile.await;
            tx.rollback().await.expect("released");
            out
        }
        Db::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("the test's own connection");
            let mut tx = conn.begin().await.expect("a transaction");
            sqlx::query("LOCK TABLE tickets IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await.expect("the lock");
            let out = meanwhile.await;
            tx.rollback().await.expect("released");
            out
        }
    }
}

async fn rendering_stays_off_the_writer_and_comments_keep_their_limit(db: Db) {
    let app = TestApp::spawn(db).await;
    let (_, agent) = user_with_token(&app, "agent@example.com", "agent").await;
    let (_, saved) = save_macro(&app, &agent, comment(DATA_DRIVEN_LOOP)).await;
    let big = app.ticket(json!({"subject": "10,000 x 10,000", "custom_fields": {"n": 10_000}})).await;
    let other = app.ticket(json!({"subject": "Another"})).await;

    // The preview of a 10,000 x 10,000 loop took 10.7 s, and held SQLite's writer meanwhile:
    // every write waited behind it. Now it renders to its budget before any write begins, so
    // it answers while the test holds the writer; a PATCH sent first waits for the test alone.
    let preview = format!("/api/v1/tickets/{}/macros/{}", big["id"], saved["id"]);
    let request = reqwest::Client::new()
        .patch(app.url(&format!("/api/v1/tickets/{}", other["id"])))
        .bearer_auth(&app.token)
        .json(&json!({"priority": "high"}));
    let mut patch = None;
    while_the_writer_is_held(&app, db, async {
        let sent = patch.insert(tokio::spawn(request.send()));
        let preview = tokio::time::timeout(PATIENCE, app.call(Method::GET, &preview, None, Some(&agent)))
            .await
            .expect("the preview answers while the test holds the writer");
        assert_eq!(preview.0, StatusCode::UNPROCESSABLE_ENTITY, "refused without taking the writer: {}", preview.1);
        assert_eq!(preview.1["error"]["code"], "template_too_expensive", "{}", preview.1);
        assert!(!sent.is_finished(), "the PATCH waits for the writer the test holds");
    })
    .await;
    let patched = patch.expect("sent").await.expect("the PATCH's task").expect("an answer");
    assert_eq!(patched.status().as_u16(), 200, "the PATCH goes through once the writer is free");

    // Rendered comments are held to a typed comment's 64 KiB: a macro is refused...
    let long = "{% for i in (1..ticket.custom_fields.n) %}0123456789{% endfor %}";
    let (_, saved) = save_macro(&app, &agent, comment(long)).await;
    let (status, error) = app
        .call(Method::POST, &format!("/api/v1/tickets/{}/macros/{}", big["id"], saved["id"]), None, Some(&agent))
        .await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    // ...and a trigger's comment says why it is not there.
    app.trigger(json!({"title": "Long note",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
        "actions": comment(long)}))
        .await;
    let ticket = app.ticket(json!({"subject": "Long", "custom_fields": {"n": 10_000}})).await;
    let body = ticket["comments"][0]["body"].as_str().expect("a comment");
    assert!(body.len() < 1000 && body.contains("template failed"), "{body}");
}

async fn mistakes_that_would_fail_every_time_are_refused_when_saved(db: Db) {
    let app = TestApp::spawn(db).await;
    let receiver = Receiver::start().await;
    let webhook = app.webhook(&receiver.url("/hook"), json!({})).await;
    let trigger = |payload: &str| {
        json!({"title": "t", "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
            "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook, "payload": payload}}]})
    };

    // Whatever the subject, this is not JSON.
    let (status, error) = app.post("/api/v1/triggers", trigger(r#"{"text": {{ ticket.subject }}}"#)).await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "actions[0].value.payload", "{error}");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("not valid JSON") && message.contains("Sample ticket"), "shows what rendered: {error}");
    // A variable the sample lacks may be the user's own: saved, with a warning.
    let (status, saved) = app.post("/api/v1/triggers", trigger(r#"{"text": {{ ticket.subjct | json }}}"#)).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["warnings"][0]["field"], "actions[0].value.payload", "{saved}");
    assert!(saved["warnings"][0]["message"].as_str().is_some_and(|m| m.contains("ticket.subjct")), "{saved}");
    let (_, clean) = app.post("/api/v1/triggers", trigger(r#"{"text": {{ ticket.subject | json }}}"#)).await;
    assert!(clean.get("warnings").is_none(), "no warnings, no field: {clean}");
    // Ticket text inside a JSON string, unescaped: a subject `a", "role": "admin` would add a
    // key. Saved (it is valid for most subjects), with a warning that says how to escape it.
    let (status, saved) =
        app.post("/api/v1/triggers", trigger(r#"{"text": "Case {{ ticket.id }}: {{ ticket.subject }}"}"#)).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["warnings"].as_array().map(Vec::len), Some(1), "ticket.id needs no escaping: {saved}");
    assert!(
        saved["warnings"][0]["message"].as_str().is_some_and(|m| m.contains("{{ ticket.subject | json }}")),
        "{saved}"
    );

    // An inbound create_ticket without a requester 422'd on every call.
    let (status, error) = app
        .post(
            "/api/v1/inbound_webhooks",
            json!({"name": "form", "actions": [{"type": "create_ticket",
            "fields": {"subject": "{{ request.params.subject }}"}}]}),
        )
        .await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "actions[0].fields.requester.email", "{error}");

    // A webhook the SSRF guard will refuse is saved (an admin may allow it later), with a warning.
    let (status, saved) =
        app.post("/api/v1/webhooks", json!({"name": "internal", "endpoint": "http://10.1.2.3/hook"})).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["warnings"][0]["field"], "endpoint", "{saved}");
    assert!(saved["warnings"][0]["message"].as_str().is_some_and(|m| m.contains("10.1.2.3")), "{saved}");
    let (_, allowed) = app.post("/api/v1/webhooks", json!({"name": "loopback", "endpoint": receiver.url("/x")})).await;
    assert!(allowed.get("warnings").is_none(), "{allowed}");
}

async fn dry_runs_and_test_sends_name_unknown_variables(db: Db) {
    let app = TestApp::spawn(db).await;
    let receiver = Receiver::start().await;
    let webhook = app.webhook(&receiver.url("/hook"), json!({})).await;
    let ticket = app.ticket(json!({"subject": "Typo"})).await;
    app.trigger(json!({"title": "On change",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "change"}]},
        "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook,
            "payload": r#"{"s": {{ ticket.subjct | json }}}"#}}]}))
        .await;
    let (status, run) = app.post("/api/v1/triggers/dry_run", json!({"ticket_id": ticket["id"]})).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["unknown_variables"], json!(["ticket.subjct"]), "{run}");
    let (status, test) = app
        .post(&format!("/api/v1/webhooks/{webhook}/test"), json!({"payload": "{\"a\": {{ tikcet.id | json }}}"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["unknown_variables"], json!(["tikcet"]), "{test}");
    assert_eq!(test["request"]["body"], "{\"a\": null}");
}

async fn nul_characters_are_refused_or_stored_alike_on_both_backends(db: Db) {
    let app = TestApp::spawn(db).await;
    // A NUL in any JSON the API takes: refused, naming where (PostgreSQL's text holds none).
    let (status, error) = app.post("/api/v1/tickets", json!({"subject": "x", "custom_fields": {"a": "a\0b"}})).await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "custom_fields.a", "{error}");
    let (status, error) = app.post("/api/v1/tickets", json!({"subject": "a\0b"})).await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");

    // What an unauthenticated caller sends to an inbound URL is logged, its NUL replaced.
    let (_, hook) = app.post("/api/v1/inbound_webhooks", json!({"name": "bin"})).await;
    let url = hook["url"].as_str().expect("url").to_owned();
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "text/plain")
        .body(b"abc\0def".to_vec())
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 202);
    let (_, calls) = app.get(&format!("/api/v1/inbound_webhooks/{}/calls", hook["id"].as_str().expect("id"))).await;
    assert_eq!(calls["data"][0]["body"], "abc\u{fffd}def", "{calls}");
    // Rendered into a ticket, it is refused like a typed one.
    let (_, creating) = app
        .post(
            "/api/v1/inbound_webhooks",
            json!({"name": "form", "actions": [{"type": "create_ticket", "fields": {
            "subject": "From a form", "requester": {"email": "a@example.com"},
            "custom_fields": {"note": "{{ request.params.note }}"}}}]}),
        )
        .await;
    let url = format!("{}?note=a%00b", creating["url"].as_str().expect("url"));
    let response = reqwest::Client::new().post(&url).send().await.expect("an answer");
    assert_eq!(status_and_code(response).await, (422, "invalid_value".into()));

    // A NUL a filter makes (`url_decode`) reaches the invocation's error, quoted: stored alike.
    let strict = app.webhook(&Receiver::start().await.url("/strict"), json!({})).await;
    app.notify_on_create(&strict, json!({"payload": "{\"s\": \"{{ ticket.subject | url_decode }}\"}"})).await;
    app.ticket(json!({"subject": "a%00b"})).await;
    let failed = app.invocations("status=failed").await;
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["error"]["code"], "invalid_json");
    let (status, _) = app.call(Method::DELETE, "/api/v1/triggers/1", None, Some(&app.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // A receiver's answer with a NUL in it is recorded, not stuck in the recorder.
    let receiver = Receiver::responding(|_| crate::support::Reply::status(200).body(b"ok\0ok".to_vec())).await;
    let webhook = app.webhook(&receiver.url("/nul"), json!({})).await;
    app.notify_on_create(&webhook, json!({})).await;
    app.ticket(json!({"subject": "Answer with a NUL"})).await;
    let invocation = app.invocations("").await.remove(0);
    let invocation = app.settled(invocation["id"].as_str().expect("id")).await;
    assert_eq!(invocation["status"], "succeeded", "{invocation}");
    let body = invocation["attempts"][0]["response"]["body"].as_str().expect("a body");
    assert!(body.starts_with("ok") && body.ends_with("ok"), "{body:?}");

    // A receiver answering 50 headers of 8,000 bytes (400 KB an attempt, the seventh attack's)
    // leaves at most 16 KiB of their values in the log, every name kept.
    let receiver = Receiver::responding(|_| {
        let names = (0..50).map(|i| &*Box::leak(format!("x-flood-{i}").into_boxed_str()));
        names.fold(crate::support::Reply::status(200), |reply, name| reply.header(name, "v".repeat(8000)))
    })
    .await;
    app.call(Method::DELETE, "/api/v1/triggers/2", None, Some(&app.token)).await;
    let webhook = app.webhook(&receiver.url("/flood"), json!({})).await;
    app.notify_on_create(&webhook, json!({})).await;
    app.ticket(json!({"subject": "Answer with a header flood"})).await;
    let invocation = app.invocations(&format!("webhook_id={webhook}")).await.remove(0);
    let invocation = app.settled(invocation["id"].as_str().expect("id")).await;
    let headers = invocation["attempts"][0]["response"]["headers"].as_object().expect("headers").clone();
    assert!(headers.contains_key("x-flood-49"), "every name kept");
    let bytes: usize = headers.iter().map(|(n, v)| n.len() + v.as_str().map_or(0, str::len)).sum();
    assert!(bytes < 16 * 1024 + 50 * 100, "{bytes} bytes of response headers logged");
}

async fn logs_keep_no_credentials_and_bearer_is_any_case(db: Db) {
    let app = TestApp::spawn(db).await;
    let receiver = Receiver::start().await;
    let webhook = app
        .webhook(
            &receiver.url("/creds"),
            json!({"custom_headers": {"X-Api-Token": "abc123secret", "X-Source": "hookdesk"}}),
        )
        .await;
    app.notify_on_create(&webhook, json!({})).await;
    app.ticket(json!({"subject": "Credentials"})).await;
    let invocation = app.invocations("").await.remove(0);
    let invocation = app.settled(invocation["id"].as_str().expect("id")).await;
    let headers = &invocation["attempts"][0]["request"]["headers"];
    assert_eq!(headers["webhook-signature"], "[redacted]", "{headers}");
    assert_eq!(headers["X-Api-Token"], "[redacted]", "{headers}");
    assert_eq!(headers["X-Source"], "hookdesk", "{headers}");
    assert!(!invocation.to_string().contains("abc123secret"));
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].header("x-api-token"), Some("abc123secret"), "the receiver gets it");

    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = reqwest::Client::new()
            .get(app.url("/api/v1/tickets"))
            .header("authorization", format!("{scheme} {}", app.token))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 200, "{scheme}");
    }
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/tickets"))
        .header("authorization", format!("Basic {}", app.token))
        .send()
        .await
        .expect("an answer");
    assert_eq!(status_and_code(response).await, (401, "unauthorized".into()));
}

/// The database and its WAL are readable by their owner only, like the key file.
#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_files_are_created_for_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn(Db::Sqlite).await;
    app.ticket(json!({"subject": "Write something"})).await;
    let database = app.config.database.database.strip_prefix("sqlite://").expect("a sqlite URL").to_owned();
    let mut checked = 0;
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{database}{suffix}");
        if let Ok(meta) = std::fs::metadata(&path) {
            assert_eq!(meta.permissions().mode() & 0o077, 0, "{path} is {:o}", meta.permissions().mode());
            checked += 1;
        }
    }
    assert!(checked >= 2, "the database and its WAL exist");
}

/// Two bad endpoints took 32 slots each of 64, and a healthy webhook's deliveries waited
/// behind them. With the default share (an eighth of the workers), five hanging endpoints
/// hold 8 slots each and leave the healthy one room: all its deliveries arrive before any
/// hanging request ends.
async fn five_hanging_endpoints_do_not_starve_a_healthy_one(db: Db) {
    let mut hanging = Vec::new();
    for _ in 0..5 {
        hanging
            .push(Receiver::responding(|_| crate::support::Reply::status(200).after(Duration::from_secs(300))).await);
    }
    let healthy = Receiver::start().await;
    let app = TestApp::spawn_with(db, |c| {
        // The defaults of `serve`: 64 workers, a webhook's share computed as it computes it.
        c.concurrency = 64;
        c.gates = hookdesk_delivery::gates::GateConfig {
            max_in_flight_per_webhook: usize::from(hookdesk::config::default_share(64)),
            ..Default::default()
        };
        // Far longer than the healthy deliveries take, even on a loaded machine.
        c.request_timeout = Duration::from_secs(120);
    })
    .await;
    let mut actions = Vec::new();
    for receiver in &hanging {
        let id = app.webhook(&receiver.url("/hang"), json!({"max_retries": 0})).await;
        actions.push(json!({"field": "notify_webhook", "value": {"webhook_id": id}}));
    }
    let healthy_id = app.webhook(&healthy.url("/ok"), json!({})).await;
    actions.push(json!({"field": "notify_webhook", "value": {"webhook_id": healthy_id}}));
    app.trigger(json!({"title": "All six",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]}, "actions": actions}))
        .await;
    for n in 0..40 {
        app.ticket(json!({"subject": format!("T{n}")})).await;
    }
    healthy.wait_for(40).await;
    // 40 invocations wait for each hanging endpoint: each fills its share.
    for receiver in &hanging {
        receiver.wait_for(8).await;
    }
    let held: Vec<usize> = hanging.iter().map(|r| r.received().len()).collect();
    // Read after `held`: no hanging request had ended, so none freed a slot for a ninth.
    let finished = app.invocations("status=failed").await.len() + app.invocations("status=retrying").await.len();
    assert_eq!(finished, 0, "all 40 arrived before any hanging request ended");
    assert_eq!(held, [8; 5], "each hanging endpoint holds exactly its share, 8 of 64");
}

/// After three 500s `last_failure_at` stayed null, and after a success `failing_since` stayed
/// set: the times were saved at most every 30 s, by the node that sent. They are written with
/// the attempts now, so the API (of any node) shows them once the attempt is recorded.
async fn webhook_health_is_true_as_soon_as_attempts_are_recorded(db: Db) {
    let receiver = Receiver::scripted(&[500, 500, 500]).await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/health"), json!({"max_retries": 2})).await;
    app.notify_on_create(&webhook, json!({})).await;
    app.ticket(json!({"subject": "Three 500s"})).await;
    let invocation = app.invocations("").await.remove(0);
    let failed = app.settled(invocation["id"].as_str().expect("id")).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let (_, hook) = app.get(&format!("/api/v1/webhooks/{webhook}")).await;
    let health = &hook["health"];
    assert!(health["last_failure_at"].is_string(), "{health}");
    assert!(health["failing_since"].is_string(), "{health}");
    assert!(health["last_success_at"].is_null(), "{health}");
    assert!(health["failing_since"].as_str() <= health["last_failure_at"].as_str(), "{health}");

    app.ticket(json!({"subject": "Then a 200"})).await;
    let invocation =
        app.invocations("status=pending").await.into_iter().chain(app.invocations("status=retrying").await);
    for invocation in invocation {
        app.settled(invocation["id"].as_str().expect("id")).await;
    }
    let settled = app.invocations("status=succeeded").await;
    assert_eq!(settled.len(), 1);
    let (_, hook) = app.get(&format!("/api/v1/webhooks/{webhook}")).await;
    let health = &hook["health"];
    assert!(health["failing_since"].is_null(), "a success clears it: {health}");
    assert!(health["last_success_at"].as_str() > health["last_failure_at"].as_str(), "{health}");
}

/// A subject of `../../admin/users/1?action=delete#` in an endpoint's path sent
/// `PUT /admin/users/1?action=delete` with the webhook's bearer token.
async fn placeholders_in_an_endpoint_cannot_reshape_it(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let endpoint = format!("http://{}/api/customers/{{{{ ticket.subject }}}}/notes", receiver.addr);
    let webhook = app
        .webhook(&endpoint, json!({"http_method": "PUT", "authentication": {"type": "bearer", "token": "t0ken"}}))
        .await;
    app.notify_on_create(&webhook, json!({})).await;
    app.ticket(json!({"subject": "../../admin/users/1?action=delete#"})).await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/api/customers/..%2F..%2Fadmin%2Fusers%2F1%3Faction%3Ddelete%23/notes");
    let (_, shown) = app.get(&format!("/api/v1/webhooks/{webhook}")).await;
    assert_eq!(shown["endpoint"], endpoint, "shown as written");
    // A whole `..` segment is refused rather than resolved.
    app.ticket(json!({"subject": ".."})).await;
    let failed = app.invocations("status=failed").await;
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["error"]["code"], "invalid_url");
    // Raw output is asked for, and refused in the host.
    let (status, error) = app
        .post(
            "/api/v1/webhooks",
            json!({"name": "raw host",
        "endpoint": "http://{{ ticket.subject | raw }}.example.com/x"}),
        )
        .await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
}

/// Calls with a bad signature used up the real sender's rate limit: a stranger with the URL
/// and no secret could lock the sender out. They count against a limit of their own.
async fn bad_signatures_do_not_use_up_the_senders_rate_limit(db: Db) {
    let app = TestApp::spawn(db).await;
    let secret = "sender-secret";
    let (_, hook) = app
        .post(
            "/api/v1/inbound_webhooks",
            json!({"name": "signed", "rate_limit_per_minute": 2,
            "verify": {"type": "hmac_sha256", "header": "X-Signature", "secret": secret}}),
        )
        .await;
    let url = hook["url"].as_str().expect("url").to_owned();
    let client = reqwest::Client::new();
    let call = |signature: String| client.post(&url).header("X-Signature", signature).body("{}").send();
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(status_and_code(call("sha256=00".into()).await.expect("an answer")).await);
    }
    let (forged, limited) = ((401, "signature_mismatch".to_owned()), (429, "rate_limited".to_owned()));
    assert_eq!(answers, [forged.clone(), forged, limited.clone(), limited.clone()], "forgeries meet their own limit");
    let good = format!("sha256={}", hookdesk_core::inbound::hmac_sha256_hex(secret.as_bytes(), b"{}"));
    assert_eq!(call(good.clone()).await.expect("an answer").status().as_u16(), 202, "the sender still gets through");
    assert_eq!(call(good.clone()).await.expect("an answer").status().as_u16(), 202);
    assert_eq!(status_and_code(call(good).await.expect("an answer")).await, limited, "its own limit holds");
    let (_, calls) = app.get(&format!("/api/v1/inbound_webhooks/{}/calls", hook["id"].as_str().expect("id"))).await;
    assert_eq!(calls["data"].as_array().map(Vec::len), Some(4), "calls over a limit are not logged: {calls}");

    // A call whose body is never read (declared over 1 MiB) is unverified too.
    let (_, hook) = app
        .post(
            "/api/v1/inbound_webhooks",
            json!({"name": "signed too", "rate_limit_per_minute": 1,
            "verify": {"type": "hmac_sha256", "header": "X-Signature", "secret": secret}}),
        )
        .await;
    let url = hook["url"].as_str().expect("url").to_owned();
    let oversized = || client.post(&url).header("content-length", "5000000000").body("").send();
    let first = oversized().await.map(|r| r.status().as_u16());
    let second = oversized().await.map(|r| r.status().as_u16());
    assert!(matches!((&first, &second), (Ok(413), Ok(429)) | (Ok(413), Err(_))), "{first:?} {second:?}");
    let (_, calls) = app.get(&format!("/api/v1/inbound_webhooks/{}/calls", hook["id"].as_str().expect("id"))).await;
    assert_eq!(calls["data"].as_array().map(Vec::len), Some(1), "only the one within the limit is logged: {calls}");
}

async fn errors_say_what_went_wrong_in_words(db: Db) {
    let app = TestApp::spawn(db).await;
    let receiver = Receiver::start().await;
    let webhook = app.webhook(&receiver.url("/x"), json!({})).await;
    // A missing `}}` was "expected Literal".
    let (status, error) = app
        .post("/api/v1/triggers", json!({"title": "t",
            "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
            "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook, "payload": "{\"a\": {{ ticket.id }"}}]}))
        .await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    assert!(
        error["error"]["message"].as_str().is_some_and(|m| m.contains("`{{` is not closed: `}}` is missing")),
        "{error}"
    );

    // A comment given as text was "expected struct CommentBody": no Rust type names.
    let ticket = app.ticket(json!({"subject": "Words", "tags": "one two"})).await;
    assert_eq!(ticket["tags"], json!(["one", "two"]), "tags may be one space-separated text");
    let path = format!("/api/v1/tickets/{}", ticket["id"]);
    let (status, error) = app.patch(&path, json!({"comment": "just text"})).await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    let message = error["error"]["message"].as_str().expect("a message");
    assert!(!message.contains("CommentBody") && message.contains("an object"), "{message}");
    // add_tags was a string in trigger actions and an array in PATCH: both take both.
    let (status, patched) = app.patch(&path, json!({"add_tags": "three four", "remove_tags": ["one"]})).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["tags"], json!(["two", "three", "four"]));

    // `q` matched only messages; the codes users see in the log match too.
    let closed = crate::support::closed_port().await;
    let down = app.webhook(&format!("http://{closed}/down"), json!({"max_retries": 0})).await;
    app.notify_on_create(&down, json!({})).await;
    app.ticket(json!({"subject": "Refused"})).await;
    let refused = app.invocations(&format!("webhook_id={down}")).await.remove(0);
    app.settled(refused["id"].as_str().expect("id")).await;
    let found = app.invocations("q=CONNECTION_REFUSED").await;
    assert_eq!(found.len(), 1, "{found:#?}");
}

/// An unreachable PostgreSQL said "pool timed out while waiting for an open connection",
/// twice; it names the host and port, and what refused.
#[tokio::test]
async fn an_unreachable_postgres_is_named_with_its_host_and_port() {
    let closed = crate::support::closed_port().await;
    let output = crate::serve_process::hookdesk()
        .args(["migrate", "--database", &format!("postgres://postgres@127.0.0.1:{}/hookdesk", closed.port())])
        .env("HOOKDESK_SECRET_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .output()
        .await
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{}", closed.port())) && stderr.contains("connection refused"),
        "{stderr}"
    );
    assert!(!stderr.contains("pool timed out"), "{stderr}");
    assert_eq!(stderr.matches("connection refused").count(), 1, "said once: {stderr}");
}

crate::on_both_backends!(
    errors_say_what_went_wrong_in_words,
    bad_signatures_do_not_use_up_the_senders_rate_limit,
    placeholders_in_an_endpoint_cannot_reshape_it,
    a_200_whose_body_never_finishes_counts_as_delivered,
    webhook_health_is_true_as_soon_as_attempts_are_recorded,
    five_hanging_endpoints_do_not_starve_a_healthy_one,
    nul_characters_are_refused_or_stored_alike_on_both_backends,
    logs_keep_no_credentials_and_bearer_is_any_case,
    an_agent_cannot_abort_the_process_with_a_template,
    rendering_stays_off_the_writer_and_comments_keep_their_limit,
    mistakes_that_would_fail_every_time_are_refused_when_saved,
    dry_runs_and_test_sends_name_unknown_variables,
    proxy_variables_are_ignored_and_an_explicit_proxy_is_still_guarded,
    failed_attempts_and_given_up_invocations_are_logged_at_the_default_level,
);

/// A test send through the API of a `hookdesk serve` process; answers its result.
async fn test_send_via(node: &crate::serve_process::Serve, token: &str, endpoint: &str) -> Value {
    let client = reqwest::Client::builder().no_proxy().build().expect("client");
    let api = |path: &str| format!("{}{path}", node.url);
    let created: Value = client
        .post(api("/api/v1/webhooks"))
        .bearer_auth(token)
        .json(&json!({"name": "proxy test", "endpoint": endpoint}))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_str().unwrap_or_else(|| panic!("a webhook: {created}"));
    client
        .post(api(&format!("/api/v1/webhooks/{id}/test")))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("json")
}

/// HTTP_PROXY and friends sent test requests (with the webhook's credentials) to the proxy,
/// past the SSRF guard. They are ignored now; a proxy is used only when given explicitly, and
/// then each destination is still checked first.
async fn proxy_variables_are_ignored_and_an_explicit_proxy_is_still_guarded(db: Db) {
    let proxy = Receiver::start().await;
    let receiver = Receiver::start().await;
    let token = "proxy-test-admin-token-0123";
    let proxy_url = proxy.url("");
    let env = [
        ("HTTP_PROXY", proxy_url.as_str()),
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("ALL_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
    ];
    let allow = ["--allow-destination", "127.0.0.0/8"];
    let node = crate::serve_process::serve_with_env(db, token, &allow, &env).await;
    let direct = test_send_via(&node, token, &receiver.url("/direct")).await;
    assert_eq!(direct["response"]["status"], 200, "{direct}");
    assert_eq!(receiver.received().len(), 1, "it went straight to the receiver");
    let unresolvable = test_send_via(&node, token, "http://unresolvable.invalid/admin").await;
    assert_eq!(unresolvable["error"]["code"], "dns", "{unresolvable}");
    let closed = crate::support::closed_port().await;
    let refused = test_send_via(&node, token, &format!("http://localhost:{}/admin", closed.port())).await;
    assert_eq!(refused["error"]["code"], "connection_refused", "{refused}");
    assert!(proxy.received().is_empty(), "the proxy variables were ignored: {:#?}", proxy.received());
    node.stop().await;

    let explicit = ["--allow-destination", "127.0.0.0/8", "--outbound-proxy", proxy_url.as_str()];
    let node = crate::serve_process::serve(db, token, &explicit).await;
    let private = test_send_via(&node, token, "http://10.1.2.3/admin").await;
    assert_eq!(private["error"]["code"], "ssrf_refused", "{private}");
    assert!(proxy.received().is_empty(), "refused before reaching the proxy");
    let allowed = test_send_via(&node, token, &format!("http://localhost:{}/via", receiver.addr.port())).await;
    assert_eq!(allowed["response"]["status"], 200, "{allowed}");
    let through = proxy.wait_for(1).await;
    assert_eq!(through[0].path, "/via", "{through:#?}");
    assert_eq!(receiver.received().len(), 1, "it went through the proxy");
    node.stop().await;
}

/// A 200 whose body trickled in slower than the timeout was recorded `failed`, without a
/// retry, though the receiver had the request. It is delivered now, with a note.
async fn a_200_whose_body_never_finishes_counts_as_delivered(db: Db) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 65536];
                let _ = socket.read(&mut buffer).await;
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial").await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    let app = TestApp::spawn_with(db, |c| c.request_timeout = Duration::from_secs(1)).await;
    let webhook = app.webhook(&format!("http://{addr}/slow-body"), json!({})).await;
    app.notify_on_create(&webhook, json!({})).await;
    app.ticket(json!({"subject": "Slow body"})).await;
    let invocation = app.invocations("").await.remove(0);
    let invocation = app.settled(invocation["id"].as_str().expect("id")).await;
    assert_eq!(invocation["status"], "succeeded", "{invocation:#}");
    let attempts = invocation["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "no retry: {invocation:#}");
    assert_eq!(attempts[0]["response"]["status"], 200);
    assert_eq!(attempts[0]["response"]["body"], "partial");
    let note = attempts[0]["response"]["note"].as_str().expect("a note");
    assert!(note.starts_with("delivered") && note.contains("timeout"), "{note}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1, "sent once");
}

/// Connection refused, 5xx, timeouts, ssrf_refused and invalid_json left no line at the
/// default level. Each failed attempt now logs a WARN, an invocation given up an ERROR.
async fn failed_attempts_and_given_up_invocations_are_logged_at_the_default_level(db: Db) {
    let token = "failure-log-admin-token-0123";
    let args = ["--allow-destination", "127.0.0.0/8", "--retry-schedule", "100ms", "--log-format", "json"];
    let node = crate::serve_process::serve(db, token, &args).await;
    let client = reqwest::Client::builder().no_proxy().build().expect("client");
    let post = |path: &str, body: Value| {
        let request = client.post(format!("{}{path}", node.url)).bearer_auth(token).json(&body);
        async move { request.send().await.expect("an answer").json::<Value>().await.expect("json") }
    };
    let closed = crate::support::closed_port().await;
    let refused =
        post("/api/v1/webhooks", json!({"name": "down", "endpoint": format!("http://{closed}/x"), "max_retries": 1}))
            .await;
    let strict = post("/api/v1/webhooks", json!({"name": "strict", "endpoint": format!("http://{closed}/y")})).await;
    let metadata = post("/api/v1/webhooks", json!({"name": "metadata", "endpoint": "http://169.254.169.254/z"})).await;
    post("/api/v1/triggers", json!({"title": "all three",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
        "actions": [{"field": "notify_webhook", "value": {"webhook_id": refused["id"]}},
            {"field": "notify_webhook", "value": {"webhook_id": metadata["id"]}},
            {"field": "notify_webhook", "value": {"webhook_id": strict["id"], "payload": "{\"a\": {{ ticket.custom_fields.raw }}}"}}]}))
    .await;
    post("/api/v1/tickets", json!({"subject": "Logged", "custom_fields": {"raw": "not json"}})).await;

    let json_line = |line: &str| serde_json::from_str::<Value>(line).expect("a JSON line");
    let field = |line: &Value, name: &str| {
        line["fields"][name].as_str().map(str::to_owned).or_else(|| line[name].as_str().map(str::to_owned))
    };
    let warn = node.stderr_line(|l| l.contains("webhook attempt failed") && l.contains("connection_refused")).await;
    let warn = json_line(&warn);
    assert_eq!(warn["level"], "WARN", "{warn}");
    let text = warn.to_string();
    for expected in [refused["id"].as_str().expect("id"), "attempt", "next_retry", "ticket.id"] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let given_up = json_line(&node.stderr_line(|l| l.contains("webhook invocation failed: no more retries")).await);
    assert_eq!(given_up["level"], "ERROR", "{given_up}");
    assert_eq!(field(&given_up, "code").as_deref(), Some("connection_refused"), "{given_up}");
    // A refused destination is final at the first attempt: not "no more retries".
    let final_error = json_line(&node.stderr_line(|l| l.contains("this error is not retried")).await);
    assert_eq!(final_error["level"], "ERROR", "{final_error}");
    assert_eq!(field(&final_error, "code").as_deref(), Some("ssrf_refused"), "{final_error}");
    let before = json_line(&node.stderr_line(|l| l.contains("failed before sending")).await);
    assert_eq!(before["level"], "ERROR", "{before}");
    assert_eq!(field(&before, "code").as_deref(), Some("invalid_json"), "{before}");
    assert!(node.stderr().iter().all(|l| !l.contains(token)), "no token in the logs");
    node.stop().await;
}
