//! The database goes away while the server runs: the API answers 503 meanwhile, the workers
//! back off, and both recover without a restart; work queued before is delivered.

use std::time::Duration;

use axum::http::StatusCode;
use hookdesk_test_support::postgres::{PrivatePostgres, REQUIRE_VARIABLE, server_programs};
use serde_json::json;

use hookdesk_core::Timestamp;

use crate::support::{Receiver, TestApp, default_config, wait_until};

#[tokio::test]
async fn the_api_answers_503_while_postgres_is_down_then_recovers_and_delivers() {
    // A cluster of its own, which it stops and starts: not the one the other tests share.
    let Some(bin) = server_programs() else {
        hookdesk_test_support::skip(
            REQUIRE_VARIABLE,
            "the PostgreSQL outage test",
            "no PostgreSQL server programs found",
        );
        return;
    };
    let cluster = tokio::task::spawn_blocking(move || PrivatePostgres::start(&bin))
        .await
        .expect("the start ends")
        .unwrap_or_else(|why| panic!("the private PostgreSQL cluster did not start: {why}"));
    // The receiver fails at first, so the invocation is waiting for a retry when the
    // database goes away.
    let receiver = Receiver::scripted(&[503, 503]).await;
    let app = TestApp::spawn_config({
        let mut config = default_config(&std::env::temp_dir());
        config.database.database = cluster.url();
        config.retry = hookdesk_delivery::RetryPolicy::parse("1s").expect("schedule");
        config
    })
    .await;
    let webhook = app.webhook(&receiver.url("/outage"), json!({"max_retries": 10})).await;
    app.trigger(json!({
        "title": "On create",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
        "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook, "payload": "{\"queued\": \"before\"}"}}]
    }))
    .await;
    app.ticket(json!({"subject": "Before the outage"})).await;
    receiver.wait_for(1).await;
    // Its first attempt failed and is logged: the retry is due at `next_attempt_at`.
    let id = app.invocations("").await[0]["id"].as_str().expect("id").to_owned();
    let mut retry_due = None;
    wait_until("the failed attempt is logged", async || {
        let (_, invocation) = app.get(&format!("/api/v1/invocations/{id}")).await;
        retry_due = invocation["next_attempt_at"].as_str().and_then(Timestamp::parse_rfc3339);
        invocation["status"] == "retrying" && retry_due.is_some()
    })
    .await;
    let retry_due = retry_due.expect("a retry is due");
    let (status, body) = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "ready before the outage: {body}");

    cluster.down();
    let down_at = tokio::time::Instant::now();
    let (status, body) = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "not_ready", "{body}");
    assert_eq!(body["error"]["message"], "the database does not answer", "{body}");
    // The metrics still answer, with the counters, and say the database does not.
    let metrics = reqwest::get(app.url("/metrics")).await.expect("answers");
    assert_eq!(metrics.status(), StatusCode::OK);
    let metrics = metrics.text().await.expect("text");
    assert!(metrics.contains("hookdesk_database_up 0\n"), "{metrics}");
    assert!(metrics.contains("hookdesk_invocations{status=\"pending\"} NaN\n"), "{metrics}");
    for path in ["/api/v1/tickets", "/healthz"] {
        let (status, body) = app.call(reqwest::Method::GET, path, None, Some(&app.token)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_eq!(body["error"]["code"], "unavailable", "{body}");
    }
    let (status, body) = app.post("/api/v1/tickets", json!({"subject": "During the outage"})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // The outage lasts until the retry has fallen due, and at least one poll interval, so that
    // the workers look for it while the database is away. (This is the length of the fault,
    // not a wait for a result: the checks below wait for theirs.)
    let until_due = u64::try_from(retry_due.as_millis() - Timestamp::now().as_millis()).unwrap_or(0);
    let outage_ends =
        (tokio::time::Instant::now() + Duration::from_millis(until_due)).max(down_at + app.config.poll_interval);
    tokio::time::sleep_until(outage_ends).await;

    cluster.up();
    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    loop {
        let (status, _) = app.call(reqwest::Method::GET, "/readyz", None, None).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the server did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.ticket(json!({"subject": "After the outage"})).await;
    let invocations = app.invocations("").await;
    assert_eq!(invocations.len(), 2, "the update refused during the outage queued nothing");
    for invocation in &invocations {
        let settled = app.settled(invocation["id"].as_str().expect("id")).await;
        assert_eq!(settled["status"], "succeeded", "{settled:#}");
    }
    let delivered: std::collections::HashSet<_> = receiver
        .received()
        .iter()
        .filter(|r| r.body == "{\"queued\": \"before\"}")
        .filter_map(|r| r.header("webhook-id").map(str::to_owned))
        .collect();
    assert_eq!(delivered.len(), 2, "both invocations arrived");
}
