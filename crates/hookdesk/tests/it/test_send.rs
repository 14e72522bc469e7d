//! `POST /webhooks/{id}/test`: one request now, and what came back, in words a user understands.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Db, Receiver, TestApp, closed_port, refusal};

async fn a_test_shows_the_request_as_sent_and_the_receivers_answer(db: Db) {
    let receiver = Receiver::scripted(&[500]).await;
    let app = TestApp::spawn(db).await;
    let webhook = app
        .webhook(
            &receiver.url("/hooks/{{ ticket.id }}"),
            json!({"authentication": {"type": "bearer", "token": "s3cret-token"},
                   "custom_headers": {"x-team": "support", "x-gone": "{{ ticket.nothing }}"}}),
        )
        .await;
    let ticket = app.ticket(json!({"subject": "Real ticket"})).await;
    let (status, result) = app
        .post(
            &format!("/api/v1/webhooks/{webhook}/test"),
            json!({"ticket_id": ticket["id"], "payload": "{\"subject\": {{ ticket.subject | json }}}",
                   "headers": {"x-team": "billing", "x-extra": "{{ ticket.id }}"}, "params": {"q": "a b"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["response"]["status"], 500, "{result:#}");
    assert_eq!(result["response"]["body"], "ok");
    assert!(result.get("error").is_none(), "{result:#}");
    let request = &result["request"];
    assert_eq!(request["url"], receiver.url(&format!("/hooks/{}?q=a+b", ticket["id"])));
    assert_eq!(request["body"], "{\"subject\": \"Real ticket\"}");
    assert_eq!(request["headers"]["authorization"], "[redacted]");
    assert_eq!(request["headers"]["x-team"], "billing", "the test's header replaces the webhook's");
    assert_eq!(request["headers"]["x-extra"], ticket["id"].to_string());
    assert!(request["headers"].get("x-gone").is_none(), "an empty header is not sent");

    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].header("authorization"), Some("Bearer s3cret-token"));
    assert!(received[0].header("webhook-signature").is_some_and(|s| s.starts_with("v1,")));
    // A test is not an invocation: nothing is queued or retried.
    assert_eq!(app.invocations("").await, Vec::<Value>::new());
}

async fn a_test_without_a_ticket_renders_a_sample_in_the_webhooks_format(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/form"), json!({"request_format": "form"})).await;
    let (status, result) = app.post(&format!("/api/v1/webhooks/{webhook}/test"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["response"]["status"], 200);
    let body = result["request"]["body"].as_str().expect("a body");
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(field("ticket[requester][email]"), Some("requester@example.com"), "{fields:?}");
    assert_eq!(field("ticket[tags][0]"), Some("sample"));
    assert_eq!(field("custom_data"), Some(""));
}

async fn a_test_reports_connection_failures_in_words(db: Db) {
    let port = closed_port().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&format!("http://{port}/down"), json!({})).await;
    let (status, result) = app.post(&format!("/api/v1/webhooks/{webhook}/test"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["error"]["code"], "connection_refused", "{result:#}");
    assert!(result["error"]["message"].as_str().is_some_and(|m| m.contains("refused")), "{result:#}");
    assert!(result.get("response").is_none());

    let guarded = TestApp::spawn_with(db, |c| c.allow_destinations.clear()).await;
    let inside = guarded.webhook(&format!("http://{port}/inside"), json!({})).await;
    let (_, result) = guarded.post(&format!("/api/v1/webhooks/{inside}/test"), json!({})).await;
    assert_eq!(result["error"]["code"], "ssrf_refused", "{result:#}");
}

async fn a_test_with_bad_input_is_refused_and_sends_nothing(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/x"), json!({})).await;
    let path = format!("/api/v1/webhooks/{webhook}/test");
    let big = app.ticket(json!({"subject": "Big", "description": "d".repeat(60_000)})).await;
    let five = "{{ ticket.description }}".repeat(5);
    let invalid = (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value");
    let cases = [
        (json!({"payload": "{{ ticket.id | no_such_filter }}"}), invalid, "line"),
        (
            json!({"ticket_id": big["id"], "payload": format!("\"{five}\"")}),
            (StatusCode::UNPROCESSABLE_ENTITY, "payload_too_large"),
            "payload_too_large",
        ),
        (json!({"payload": "{{ ticket.subject"}), invalid, "payload"),
        (
            json!({"payload": "not json {{ ticket.id }}"}),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_json"),
            "invalid_json",
        ),
        (json!({"headers": {"host": "evil"}}), invalid, "headers"),
        (json!({"params": {"q": 1}}), invalid, "params.q"),
        (json!({"ticket_id": 999_999}), (StatusCode::NOT_FOUND, "not_found"), "ticket"),
        (json!({"unknown": true}), invalid, "unknown"),
    ];
    for (body, (expected, code), mention) in cases {
        let (status, error) = app.post(&path, body.clone()).await;
        assert_eq!((status, error["error"]["code"].as_str()), (expected, Some(code)), "{body}: {error}");
        assert!(error.to_string().contains(mention), "{body}: {error} should mention {mention}");
    }
    let (status, error) = app.post("/api/v1/webhooks/wh_nope/test", json!({})).await;
    assert_eq!(refusal(status, &error), (404, "not_found".into()), "{error}");
    assert!(receiver.received().is_empty());
}

crate::on_both_backends!(
    a_test_shows_the_request_as_sent_and_the_receivers_answer,
    a_test_without_a_ticket_renders_a_sample_in_the_webhooks_format,
    a_test_reports_connection_failures_in_words,
    a_test_with_bad_input_is_refused_and_sends_nothing,
);
