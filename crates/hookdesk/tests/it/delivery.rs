//! Delivery: retries, final failures, restarts, the SSRF guard, replay, secrets in logs.

use axum::http::StatusCode;
use serde_json::{Value, json};

use hookdesk_delivery::RetryPolicy;

use crate::support::{Db, Receiver, Reply, TestApp, closed_port, refusal, wait_until};

/// A trigger that notifies `webhook` whenever a ticket is created, with `payload`.
async fn notify_on_create(app: &TestApp, webhook: &str, payload: Option<&str>) {
    app.notify_on_create(webhook, payload.map_or(json!({}), |p| json!({"payload": p}))).await;
}

async fn only_invocation(app: &TestApp) -> String {
    let invocations = app.invocations("").await;
    assert_eq!(invocations.len(), 1, "{invocations:#?}");
    invocations[0]["id"].as_str().expect("id").to_owned()
}

fn attempt_statuses(invocation: &Value) -> Vec<Value> {
    invocation["attempts"].as_array().expect("attempts").iter().map(|a| a["response"]["status"].clone()).collect()
}

async fn a_receiver_answering_503_twice_then_200_gets_three_attempts_with_one_webhook_id(db: Db) {
    let receiver = Receiver::scripted(&[503, 503]).await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/flaky"), json!({})).await;
    notify_on_create(&app, &webhook, Some("{\"id\": {{ ticket.id }}}")).await;
    app.ticket(json!({"subject": "Retry me"})).await;

    let id = only_invocation(&app).await;
    let invocation = app.settled(&id).await;
    assert_eq!(invocation["status"], "succeeded", "{invocation:#}");
    assert_eq!(attempt_statuses(&invocation), [json!(503), json!(503), json!(200)]);
    assert_eq!(invocation["attempts"][0]["error"]["code"], "http_status");
    assert_eq!(invocation["attempts"][2]["error"], Value::Null);
    let numbers: Vec<_> =
        invocation["attempts"].as_array().expect("attempts").iter().map(|a| a["number"].clone()).collect();
    assert_eq!(numbers, [json!(1), json!(2), json!(3)]);

    let received = receiver.wait_for(3).await;
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.header("webhook-id") == Some(id.as_str())), "the same webhook-id on every retry");
}

async fn a_final_status_fails_at_once_and_exhausted_retries_fail(db: Db) {
    let receiver = Receiver::scripted(&[404]).await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/gone"), json!({})).await;
    notify_on_create(&app, &webhook, None).await;
    app.ticket(json!({"subject": "Not found"})).await;
    let invocation = app.settled(&only_invocation(&app).await).await;
    assert_eq!(invocation["status"], "failed");
    assert_eq!(attempt_statuses(&invocation), [json!(404)]);

    let failing = Receiver::scripted(&[500, 500, 500, 500]).await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&failing.url("/down"), json!({"max_retries": 1})).await;
    notify_on_create(&app, &webhook, None).await;
    let ticket = app.ticket(json!({"subject": "Exhaust"})).await;
    let invocation = app.settled(&only_invocation(&app).await).await;
    assert_eq!(invocation["status"], "failed");
    assert_eq!(attempt_statuses(&invocation), [json!(500), json!(500)], "max_retries 1: two attempts");
    // Without a payload the webhook sends the standard ticket document.
    let received = failing.wait_for(1).await;
    let document: Value = serde_json::from_str(&received[0].body).expect("JSON");
    assert_eq!(document["id"], ticket["id"]);
    assert_eq!(document["subject"], "Exhaust");
    assert_eq!(document["requester"], ticket["requester"]);
}

async fn invocations_queued_while_the_receiver_is_down_are_delivered_after_a_restart(db: Db) {
    let port = closed_port().await;
    let mut app =
        TestApp::spawn_with(db, |c| c.retry = hookdesk_delivery::RetryPolicy::parse("300ms").expect("schedule")).await;
    let webhook = app.webhook(&format!("http://{port}/later"), json!({"max_retries": 10})).await;
    notify_on_create(&app, &webhook, Some("{\"n\": 1}")).await;
    app.ticket(json!({"subject": "While down"})).await;
    let id = only_invocation(&app).await;

    // Wait for a refused attempt, so the invocation is queued for a retry.
    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    loop {
        let (_, invocation) = app.get(&format!("/api/v1/invocations/{id}")).await;
        if invocation["attempts"].as_array().is_some_and(|a| !a.is_empty()) {
            assert_eq!(invocation["status"], "retrying", "{invocation:#}");
            assert_eq!(invocation["attempts"][0]["error"]["code"], "connection_refused", "{invocation:#}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no attempt was made: {invocation:#}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    app.stop().await;
    let receiver = Receiver::start_on(port, &[]).await;
    app.start_again().await;

    let invocation = app.settled(&id).await;
    assert_eq!(invocation["status"], "succeeded", "{invocation:#}");
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].header("webhook-id"), Some(id.as_str()));
    assert_eq!(received[0].body, "{\"n\": 1}");
}

async fn the_ssrf_guard_refuses_loopback_unless_allowed_and_checks_at_send_time(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(db, |c| c.allow_destinations.clear()).await;
    // Saving is fine: the check happens on the resolved address when sending.
    let by_name = app.webhook(&format!("http://localhost:{}/internal", receiver.addr.port()), json!({})).await;
    let by_ip = app.webhook(&receiver.url("/internal"), json!({})).await;
    notify_on_create(&app, &by_name, None).await;
    notify_on_create(&app, &by_ip, None).await;
    app.ticket(json!({"subject": "Try to reach inside"})).await;

    for invocation in app.invocations("").await {
        let invocation = app.settled(invocation["id"].as_str().expect("id")).await;
        assert_eq!(invocation["status"], "failed", "{invocation:#}");
        let attempts = invocation["attempts"].as_array().expect("attempts");
        assert_eq!(attempts.len(), 1, "a refused destination is not retried");
        assert_eq!(attempts[0]["error"]["code"], "ssrf_refused", "{invocation:#}");
        assert!(attempts[0]["error"]["message"].as_str().is_some_and(|m| m.contains("--allow-destination")));
    }
    assert!(receiver.received().is_empty());
    let failed = app.invocations("status=failed&q=allow-destination").await;
    assert_eq!(failed.len(), 2, "q searches error messages");
}

async fn a_payload_that_renders_to_invalid_json_fails_before_sending(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/strict"), json!({})).await;
    // The value is not quoted: valid Liquid, invalid JSON once rendered. (Saving it is only
    // warned about: the sample ticket has no such custom field to prove it wrong.)
    notify_on_create(&app, &webhook, Some("{\"subject\": {{ ticket.custom_fields.raw }}}")).await;
    let (status, _) =
        app.post("/api/v1/tickets", json!({"subject": "Unquoted", "custom_fields": {"raw": "Unquoted"}})).await;
    assert_eq!(status, StatusCode::CREATED, "the update itself succeeds");
    let invocation = app.settled(&only_invocation(&app).await).await;
    assert_eq!(invocation["status"], "failed");
    assert_eq!(invocation["error"]["code"], "invalid_json");
    assert_eq!(invocation["attempts"], json!([]));
    let (status, error) =
        app.post(&format!("/api/v1/invocations/{}/replay", invocation["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(refusal(status, &error), (409, "conflict".into()), "nothing to replay: {error}");
    assert!(receiver.received().is_empty());
}

async fn replay_sends_the_same_request_again_as_a_new_invocation(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/replay"), json!({})).await;
    notify_on_create(&app, &webhook, Some("{\"hello\": \"world\"}")).await;
    app.ticket(json!({"subject": "Replay me"})).await;
    let first = app.settled(&only_invocation(&app).await).await;

    let (status, replay) =
        app.post(&format!("/api/v1/invocations/{}/replay", first["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{replay}");
    assert_ne!(replay["id"], first["id"]);
    assert_eq!(replay["replay_of"], first["id"]);
    let replayed = app.settled(replay["id"].as_str().expect("id")).await;
    assert_eq!(replayed["status"], "succeeded");
    let received = receiver.wait_for(2).await;
    assert_eq!(received[0].body, received[1].body);
    assert_ne!(received[0].header("webhook-id"), received[1].header("webhook-id"));
    let (status, error) = app.post("/api/v1/invocations/inv_nope/replay", json!({})).await;
    assert_eq!(refusal(status, &error), (404, "not_found".into()), "{error}");
}

async fn authentication_reaches_the_receiver_but_never_the_api_or_the_log(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app
        .webhook(
            &receiver.url("/secure"),
            json!({"authentication": {"type": "bearer", "token": "s3cret-token"}, "custom_headers": {"X-Ticket": "{{ ticket.id }}", "X-Empty": "{{ ticket.nothing }}"}}),
        )
        .await;
    notify_on_create(&app, &webhook, Some("{}")).await;
    let ticket = app.ticket(json!({"subject": "Auth"})).await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].header("authorization"), Some("Bearer s3cret-token"));
    assert_eq!(received[0].header("x-ticket"), Some(ticket["id"].to_string().as_str()));
    assert_eq!(received[0].header("x-empty"), None, "a header that renders empty is not sent");

    let invocation = app.settled(&only_invocation(&app).await).await;
    let logged = invocation["attempts"][0]["request"]["headers"].clone();
    assert_eq!(logged["authorization"], "[redacted]");
    let (_, shown) = app.get(&format!("/api/v1/webhooks/{webhook}")).await;
    assert_eq!(shown["authentication"], json!({"type": "bearer"}));
    let everything = format!("{invocation}{shown}");
    assert!(!everything.contains("s3cret-token"), "the secret leaked: {everything}");
}

async fn finished_invocations_are_purged_after_the_retention_period(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(db, |c| {
        c.retention = std::time::Duration::from_secs(1);
        c.background_interval = std::time::Duration::from_millis(200);
    })
    .await;
    let (_, health) = app.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert!(health["node"].as_str().is_some_and(|n| n.starts_with("node_")), "{health}");
    let webhook = app.webhook(&receiver.url("/purge"), json!({})).await;
    notify_on_create(&app, &webhook, None).await;
    app.ticket(json!({"subject": "Short-lived log"})).await;
    let id = only_invocation(&app).await;
    assert_eq!(app.settled(&id).await["status"], "succeeded");

    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    loop {
        let (status, _) = app.get(&format!("/api/v1/invocations/{id}")).await;
        if status == StatusCode::NOT_FOUND {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the invocation was not purged");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, health) = app.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(
        health["singletons"],
        json!(["automations", "retention_purge"]),
        "one node runs the singletons: {health}"
    );
}

/// An invocation and its attempts are read as one snapshot: a list read while attempts are
/// being recorded never shows an attempt beside a status that predates it.
async fn reads_while_attempts_are_recorded_see_status_and_attempts_agree(db: Db) {
    let receiver = Receiver::scripted(&[500; 60]).await;
    let app = TestApp::spawn_with(db, |c| {
        c.retry = hookdesk_delivery::RetryPolicy::parse("20ms").expect("schedule");
        // Sixty 500s in a row would open the circuit breaker; this test is about reads.
        c.gates.breaker.min_requests = 1000;
    })
    .await;
    let webhook = app.webhook(&receiver.url("/busy"), json!({"max_retries": 2})).await;
    notify_on_create(&app, &webhook, None).await;
    for n in 0..20 {
        app.ticket(json!({"subject": format!("Busy {n}")})).await;
    }
    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    loop {
        let invocations = app.invocations("limit=100").await;
        for invocation in &invocations {
            let attempts = invocation["attempts"].as_array().expect("attempts").len();
            match invocation["status"].as_str() {
                Some("pending") => assert_eq!(attempts, 0, "{invocation:#}"),
                Some("retrying") => assert!(attempts >= 1, "{invocation:#}"),
                Some("failed") => assert_eq!(attempts, 3, "{invocation:#}"),
                other => panic!("unexpected status {other:?}: {invocation:#}"),
            }
        }
        if invocations.iter().all(|i| i["status"] == "failed") {
            assert_eq!(invocations.len(), 20);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "deliveries did not settle");
    }
}

/// Two outcomes for one invocation in one batch, a stale lease's and its successor's, in
/// either order: both attempts are logged, only the newer one moves the invocation.
async fn a_stale_lease_outcome_is_logged_but_does_not_move_the_invocation(db: Db) {
    use hookdesk_core::id::{InvocationId, WebhookId};
    use hookdesk_store::{AttemptRecord, LoggedRequest, Next};

    let port = closed_port().await;
    let mut app =
        TestApp::spawn_with(db, |c| c.retry = hookdesk_delivery::RetryPolicy::parse("1h").expect("schedule")).await;
    let webhook = app.webhook(&format!("http://{port}/gone"), json!({"max_retries": 10})).await;
    notify_on_create(&app, &webhook, None).await;
    app.ticket(json!({"subject": "First"})).await;
    app.ticket(json!({"subject": "Second"})).await;
    let ids: Vec<InvocationId> =
        app.invocations("").await.iter().map(|i| InvocationId(i["id"].as_str().expect("id").to_owned())).collect();
    for id in &ids {
        let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
        while app.get(&format!("/api/v1/invocations/{id}")).await.1["status"] != "retrying" {
            assert!(tokio::time::Instant::now() < deadline, "no first attempt");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    app.stop().await;

    // Claim both twice: the first leases (attempt 2) expire and attempt 3 takes over.
    let store = hookdesk::config::open_store(&app.config.database).await.expect("store");
    let later = hookdesk_core::Timestamp::now().plus_millis(2 * 3_600_000);
    assert_eq!(store.claim_due(later, 1_000, 10, &[]).await.expect("claim").len(), 2);
    let reclaimed = store.claim_due(later.plus_millis(2_000), 1_000, 10, &[]).await.expect("claim");
    assert!(reclaimed.iter().all(|c| c.attempt == 3), "{reclaimed:?}");

    let record = |id: &InvocationId, number: u32, next: Next| AttemptRecord {
        invocation_id: id.clone(),
        webhook_id: WebhookId(String::new()),
        number,
        started_at: later,
        duration_ms: 1,
        request: LoggedRequest {
            method: "POST".into(),
            url: "http://x/".into(),
            headers: Default::default(),
            body: None,
        },
        response: None,
        error: None,
        next,
    };
    let retry_at = later.plus_millis(60_000);
    store
        .record_attempts(&[
            record(&ids[0], 2, Next::Succeeded),
            record(&ids[0], 3, Next::RetryAt(retry_at)),
            record(&ids[1], 3, Next::Failed),
            record(&ids[1], 2, Next::Succeeded),
        ])
        .await
        .expect("record");
    let first = store.invocation(&ids[0]).await.expect("first");
    assert_eq!(first.status.as_str(), "retrying");
    assert_eq!(first.next_attempt_at, Some(retry_at));
    assert_eq!(first.attempts.iter().map(|a| a.number).collect::<Vec<_>>(), [1, 2, 3]);
    let second = store.invocation(&ids[1]).await.expect("second");
    assert_eq!(second.status.as_str(), "failed");
    assert_eq!(second.attempts.iter().map(|a| a.number).collect::<Vec<_>>(), [1, 2, 3]);
    store.close().await;
}

/// Deleting a webhook fails what still waits for it (`webhook_deleted`), but a request already
/// on its way keeps the receiver's answer. The delete marked those failed too ("deleted before
/// this invocation was delivered" of requests the receiver had), and on PostgreSQL it could
/// deadlock with their record (a 500).
async fn a_webhook_deleted_while_its_request_is_on_the_way_keeps_the_answer(db: Db) {
    let (open, gate) = tokio::sync::watch::channel(false);
    let receiver = Receiver::responding(move |request| match request.path.as_str() {
        "/retry" => Reply::status(503),
        _ => Reply::status(200).when_open(&gate),
    })
    .await;
    // A retry an hour off: the 503's invocation waits in the queue when the webhook goes.
    let app = TestApp::spawn_with(db, |c| c.retry = RetryPolicy::parse("1h").expect("schedule")).await;
    let webhook = app.webhook(&receiver.url("/{{ ticket.subject }}"), json!({})).await;
    let trigger = app.notify_on_create(&webhook, json!({})).await;
    let of = async |ticket: &Value| {
        let invocations = app.invocations(&format!("ticket_id={}", ticket["id"])).await;
        invocations[0]["id"].as_str().expect("id").to_owned()
    };
    let waiting = of(&app.ticket(json!({"subject": "retry"})).await).await;
    let status = async |id: &str| app.get(&format!("/api/v1/invocations/{id}")).await.1;
    wait_until("the 503 is recorded and its retry waits", async || status(&waiting).await["status"] == "retrying")
        .await;
    let held = of(&app.ticket(json!({"subject": "held"})).await).await;
    receiver.wait_for(2).await;

    let delete = async |path: String| app.call(reqwest::Method::DELETE, &path, None, Some(&app.token)).await;
    assert_eq!(delete(format!("/api/v1/triggers/{trigger}")).await.0, StatusCode::NO_CONTENT);
    let (deleted, body) = delete(format!("/api/v1/webhooks/{webhook}")).await;
    assert_eq!(deleted, StatusCode::NO_CONTENT, "{body}");
    let failed = status(&waiting).await;
    assert_eq!(
        (&failed["status"], &failed["error"]["code"]),
        (&json!("failed"), &json!("webhook_deleted")),
        "{failed:#}"
    );
    let on_its_way = status(&held).await;
    assert_eq!(on_its_way["status"], "pending", "the request the receiver holds is left to its answer: {on_its_way:#}");

    open.send(true).expect("the receiver waits on the gate");
    let answered = app.settled(&held).await;
    assert_eq!(answered["status"], "succeeded", "{answered:#}");
    assert_eq!(attempt_statuses(&answered), [json!(200)], "{answered:#}");
    assert_eq!(receiver.received().len(), 2, "the waiting one was not sent again");
}

crate::on_both_backends!(
    finished_invocations_are_purged_after_the_retention_period,
    a_receiver_answering_503_twice_then_200_gets_three_attempts_with_one_webhook_id,
    a_final_status_fails_at_once_and_exhausted_retries_fail,
    invocations_queued_while_the_receiver_is_down_are_delivered_after_a_restart,
    the_ssrf_guard_refuses_loopback_unless_allowed_and_checks_at_send_time,
    a_payload_that_renders_to_invalid_json_fails_before_sending,
    replay_sends_the_same_request_again_as_a_new_invocation,
    authentication_reaches_the_receiver_but_never_the_api_or_the_log,
    reads_while_attempts_are_recorded_see_status_and_attempts_agree,
    a_stale_lease_outcome_is_logged_but_does_not_move_the_invocation,
    a_webhook_deleted_while_its_request_is_on_the_way_keeps_the_answer,
);
