//! Versions of what admins edit: every webhook, trigger, automation, macro and inbound webhook
//! answers an `ETag`; a change or delete naming a stale one is refused (412) and changes
//! nothing, so two editors never silently overwrite each other. On both backends.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Db, Receiver, TestApp};

/// A request with an optional `If-Match`: its status, `ETag` and body.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = reqwest::Client::new().request(method, app.url(path)).bearer_auth(&app.token);
    if let Some(tag) = if_match {
        request = request.header(reqwest::header::IF_MATCH, tag);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let tag = response.headers().get(reqwest::header::ETAG).map(|v| v.to_str().expect("ascii").to_owned());
    let text = response.text().await.expect("a body");
    (status, tag, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn a_stale_version_is_refused_and_changes_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let receiver = Receiver::start().await;
    let webhook = app.webhook(&receiver.url("/"), json!({})).await;
    let trigger = app.notify_on_create(&webhook, json!({})).await;
    let (status, automation) = app
        .post("/api/v1/automations", json!({"title": "Close stale", "conditions": {"all": [{"field": "hours_since_updated", "operator": "greater_than", "value": 48}, {"field": "status", "operator": "less_than", "value": "closed"}]}, "actions": [{"field": "status", "value": "closed"}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{automation}");
    let (_, macro_) = app
        .post("/api/v1/macros", json!({"title": "Escalate", "actions": [{"field": "priority", "value": "urgent"}]}))
        .await;
    let (_, inbound) = app.post("/api/v1/inbound_webhooks", json!({"name": "bin"})).await;
    let objects = [
        (format!("/api/v1/webhooks/{webhook}"), "name", json!("renamed")),
        (format!("/api/v1/triggers/{trigger}"), "title", json!("renamed")),
        (format!("/api/v1/automations/{}", automation["id"]), "title", json!("renamed")),
        (format!("/api/v1/macros/{}", macro_["id"]), "title", json!("renamed")),
        (format!("/api/v1/inbound_webhooks/{}", inbound["id"].as_str().expect("id")), "name", json!("renamed")),
    ];
    for (path, key, value) in objects {
        let (status, first, _) = send(&app, Method::GET, &path, None, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let first = first.unwrap_or_else(|| panic!("{path} answers an ETag"));
        let (_, again, _) = send(&app, Method::GET, &path, None, None).await;
        assert_eq!(again.as_deref(), Some(first.as_str()), "{path}: a version is stable while nothing changes");

        // One editor saves from the version it read: accepted, and a new version answered.
        let (status, second, saved) = send(&app, Method::PATCH, &path, Some(json!({key: value})), Some(&first)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {saved}");
        let second = second.expect("a save answers the new version");
        assert_ne!(second, first, "{path}: the version changed with the object");

        // The other editor, still on the first version, is refused and changes nothing.
        let (status, _, refused) =
            send(&app, Method::PATCH, &path, Some(json!({key: "lost edit"})), Some(&first)).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{path}: {refused}");
        assert_eq!(refused["error"]["code"], "version_conflict", "{refused}");
        let (status, _, refused) = send(&app, Method::DELETE, &path, None, Some(&first)).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{path}: a stale delete too: {refused}");
        assert_eq!(refused["error"]["code"], "version_conflict", "{refused}");
        let (_, now, after) = send(&app, Method::GET, &path, None, None).await;
        assert_eq!(now.as_deref(), Some(second.as_str()));
        assert_eq!(after[key], json!("renamed"), "{path}: nothing lost, nothing overwritten");

        // Weak tags and `*` are understood; without If-Match the last write wins, as before.
        let (status, _, _) =
            send(&app, Method::PATCH, &path, Some(json!({key: "weak"})), Some(&format!("W/{second}"))).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let (status, _, _) = send(&app, Method::PATCH, &path, Some(json!({key: "any"})), Some("*")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let (status, _, _) = send(&app, Method::PATCH, &path, Some(json!({key: "unconditional"})), None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    // A webhook's health changes on its own; its version does not.
    let path = format!("/api/v1/webhooks/{webhook}");
    let (_, before, _) = send(&app, Method::GET, &path, None, None).await;
    app.ticket(json!({"subject": "one", "requester": {"name": "R", "email": "r@example.com"}})).await;
    receiver.wait_for(1).await;
    for invocation in app.invocations("").await {
        app.settled(invocation["id"].as_str().expect("id")).await;
    }
    let (_, after, _) = send(&app, Method::GET, &path, None, None).await;
    assert_eq!(before, after, "deliveries do not change what an editor edits");
    let (status, _, _) = send(&app, Method::DELETE, &format!("/api/v1/triggers/{trigger}"), None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = send(&app, Method::DELETE, &path, None, before.as_deref()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "the current version deletes");
}

on_both_backends!(a_stale_version_is_refused_and_changes_nothing);
