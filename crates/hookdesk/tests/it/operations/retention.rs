//! The retention purge: ticket audits older than `--audit-retention` and inbound calls older
//! than `--log-retention` go; recent ones, and the tickets themselves, stay.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Db, PATIENCE, TestApp};

const DAY: Duration = Duration::from_secs(86_400);

async fn audits(app: &TestApp, ticket: &Value) -> usize {
    let (status, list) = app.get(&format!("/api/v1/tickets/{}/audits", ticket["id"])).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().expect("data").len()
}

async fn calls(app: &TestApp, webhook: &Value) -> Vec<String> {
    let (status, list) =
        app.get(&format!("/api/v1/inbound_webhooks/{}/calls", webhook["id"].as_str().expect("id"))).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().expect("data").iter().map(|c| c["query"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn retention_purges_old_audits_and_calls_and_keeps_recent_ones(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.retention = 30 * DAY;
        c.audit_retention = Some(90 * DAY);
        c.background_interval = Duration::from_millis(200);
    })
    .await;
    let (status, bin) = app.post("/api/v1/inbound_webhooks", json!({"name": "Bin"})).await;
    assert_eq!(status, StatusCode::CREATED, "{bin}");
    let full = bin["url"].as_str().expect("url");
    let hook = app.url(&full[full.find("/hooks/").expect("a /hooks/ URL")..]);
    let call = |at: &'static str| {
        let hook = hook.clone();
        async move {
            let response =
                reqwest::Client::new().post(format!("{hook}?at={at}")).body("{}").send().await.expect("answers");
            assert_eq!(response.status(), StatusCode::ACCEPTED);
        }
    };

    let first = app.ticket(json!({"subject": "Day 0"})).await;
    call("day0").await;
    app.config.clock.advance(60 * DAY);
    let second = app.ticket(json!({"subject": "Day 60"})).await;
    call("day60").await;
    app.config.clock.advance(31 * DAY);
    let third = app.ticket(json!({"subject": "Day 91"})).await;
    call("day91").await;

    // On day 91: the day-0 audit is past 90 days; the day-0 and day-60 calls past 30.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while audits(&app, &first).await > 0 || calls(&app, &bin).await.len() > 1 {
        assert!(tokio::time::Instant::now() < deadline, "the purge did not run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(audits(&app, &second).await, 1, "60 days old: kept");
    assert_eq!(audits(&app, &third).await, 1);
    assert_eq!(calls(&app, &bin).await, ["at=day91"]);
    let (status, ticket) = app.get(&format!("/api/v1/tickets/{}", first["id"])).await;
    assert_eq!(status, StatusCode::OK, "the ticket stays, without its old audit: {ticket}");
}

crate::on_both_backends!(retention_purges_old_audits_and_calls_and_keeps_recent_ones);
