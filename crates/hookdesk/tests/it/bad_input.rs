//! Bad input of every kind gets a clear 4xx in the contract's error shape and changes nothing.

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Db, Receiver, TestApp, refusal};

/// The error's code, and the field its first detail names.
fn error_of(body: &Value) -> (&str, &str) {
    (
        body["error"]["code"].as_str().unwrap_or_else(|| panic!("an error body: {body}")),
        body["error"]["details"][0]["field"].as_str().unwrap_or(""),
    )
}

async fn a_missing_or_wrong_token_is_401(db: Db) {
    let app = TestApp::spawn(db).await;
    for token in [None, Some("wrong-token"), Some("")] {
        let (status, body) = app.call(Method::GET, "/api/v1/tickets", None, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(error_of(&body).0, "unauthorized");
    }
    let (status, body) = app.call(Method::POST, "/api/v1/tickets", Some(json!({"subject": "x"})), Some("nope")).await;
    assert_eq!((status, error_of(&body).0), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (status, _) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK, "health needs no token");
}

async fn ticket_values_of_the_wrong_kind_are_422_naming_the_field(db: Db) {
    let app = TestApp::spawn(db).await;
    let cases = [
        (json!({"subject": "x", "status": "bogus"}), "status"),
        (json!({"subject": "x", "priority": 3}), "priority"),
        (json!({"subject": 5}), "subject"),
        (json!({"subject": ""}), "subject"),
        (json!({"subject": "x", "tags": ["ok", "not ok"]}), "tags[1]"),
        (json!({"subject": "x", "requester": {"email": "not-an-email"}}), "requester.email"),
        (json!({"subject": "x", "colour": "red"}), "colour"),
        (json!({"description": "no subject"}), "subject"),
    ];
    for (body, field) in cases {
        let (status, error) = app.post("/api/v1/tickets", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {error}");
        let (code, named) = error_of(&error);
        assert_eq!(code, "invalid_value");
        assert_eq!(named, field, "{body} -> {error}");
        assert!(!error["error"]["message"].as_str().unwrap_or_default().is_empty());
    }
    let (_, list) = app.get("/api/v1/tickets").await;
    assert_eq!(list["data"], json!([]), "nothing was created");
}

async fn malformed_bodies_queries_and_paths_are_4xx(db: Db) {
    let app = TestApp::spawn(db).await;
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{\"subject\": ")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "malformed_json");

    let response = reqwest::Client::new()
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(&app.token)
        .body("subject=x")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 415);
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(error_of(&body).0, "unsupported_media_type", "{body}");

    for (path, expected, code) in [
        ("/api/v1/tickets/999", StatusCode::NOT_FOUND, "not_found"),
        ("/api/v1/tickets/abc", StatusCode::NOT_FOUND, "not_found"),
        ("/api/v1/tickets?limit=1000", StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
        ("/api/v1/tickets?status=bogus", StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
        ("/api/v1/tickets?cursor=zzz", StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
        ("/api/v1/invocations?since=yesterday", StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
        ("/api/v1/invocations/inv_missing", StatusCode::NOT_FOUND, "not_found"),
        ("/api/v1/webhooks/wh_missing", StatusCode::NOT_FOUND, "not_found"),
        ("/api/v1/nothing-here", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!((status, error_of(&body).0), (expected, code), "{path}: {body}");
    }
    let (status, body) = app.patch("/api/v1/tickets/999", json!({"status": "open"})).await;
    assert_eq!((status, error_of(&body).0), (StatusCode::NOT_FOUND, "not_found"), "{body}");
    let (status, body) = app.call(Method::PUT, "/api/v1/tickets", Some(json!({})), Some(&app.token)).await;
    assert_eq!((status, error_of(&body).0), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"), "{body}");
}

async fn a_liquid_syntax_error_is_422_with_line_and_column_and_saves_nothing(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/x"), json!({})).await;
    let (status, error) = app
        .post(
            "/api/v1/triggers",
            json!({
                "title": "Broken",
                "conditions": {"all": [{"field": "status", "operator": "is", "value": "new"}]},
                "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook, "payload": "{\n  \"id\": {{ ticket.id \n}"}}]
            }),
        )
        .await;
    assert_eq!((status, error_of(&error).0), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"), "{error}");
    let detail = &error["error"]["details"][0];
    assert_eq!(detail["field"], "actions[0].value.payload");
    assert_eq!(detail["line"], 2);
    assert!(detail["column"].as_u64().is_some_and(|c| c > 0), "{error}");
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("line 2")), "{error}");

    let (status, error) = app
        .post(
            "/api/v1/triggers",
            json!({
                "title": "Unknown filter",
                "conditions": {"all": [{"field": "status", "operator": "is", "value": "new"}]},
                "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook, "payload": "{{ ticket.id | shout }}"}}]
            }),
        )
        .await;
    assert_eq!((status, error_of(&error).0), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"), "{error}");
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("shout")), "{error}");

    let (_, triggers) = app.get("/api/v1/triggers").await;
    assert_eq!(triggers["data"], json!([]), "nothing was saved");
}

async fn trigger_parts_that_do_not_fit_are_422_naming_the_part(db: Db) {
    let app = TestApp::spawn(db).await;
    let condition = json!({"field": "status", "operator": "is", "value": "new"});
    let cases = [
        (
            json!({"all": [condition]}),
            json!([{"field": "notify_webhook", "value": {"webhook_id": "wh_unknown"}}]),
            "actions[0].value.webhook_id",
        ),
        (
            json!({"all": [{"field": "colour", "operator": "is", "value": "red"}]}),
            json!([{"field": "status", "value": "open"}]),
            "conditions.all[0].field",
        ),
        (
            json!({"all": [{"field": "status", "operator": "includes", "value": "new"}]}),
            json!([{"field": "status", "value": "open"}]),
            "conditions.all[0].operator",
        ),
        (
            json!({"any": [condition, {"field": "priority", "operator": "is", "value": "highest"}]}),
            json!([{"field": "status", "value": "open"}]),
            "conditions.any[1].value",
        ),
        (json!({"all": [condition]}), json!([{"field": "status", "value": "reopened"}]), "actions[0].value"),
        (json!({"all": [condition]}), json!([{"field": "launch", "value": true}]), "actions[0].field"),
        (json!({"all": [condition]}), json!([]), "actions"),
        (json!({}), json!([{"field": "status", "value": "open"}]), "conditions"),
    ];
    for (conditions, actions, field) in cases {
        let (status, error) =
            app.post("/api/v1/triggers", json!({"title": "t", "conditions": conditions, "actions": actions})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error_of(&error), ("invalid_value", field), "{error}");
    }
    let (_, triggers) = app.get("/api/v1/triggers").await;
    assert_eq!(triggers["data"], json!([]));
}

async fn webhook_settings_are_checked_when_saved(db: Db) {
    let app = TestApp::spawn(db).await;
    let cases = [
        (json!({"name": "w", "endpoint": "ftp://example.com"}), "endpoint"),
        (json!({"name": "w", "endpoint": "https://example.com/{{ ticket.id "}), "endpoint"),
        (json!({"name": "w", "endpoint": "https://example.com", "http_method": "TRACE"}), "http_method"),
        (json!({"name": "w", "endpoint": "https://example.com", "max_retries": 11}), "max_retries"),
        (
            json!({"name": "w", "endpoint": "https://example.com", "custom_headers": {"Content-Type": "text/plain"}}),
            "custom_headers.Content-Type",
        ),
        (
            json!({"name": "w", "endpoint": "https://example.com", "authentication": {"type": "basic", "username": "u"}}),
            "authentication.password",
        ),
        (json!({"name": "", "endpoint": "https://example.com"}), "name"),
    ];
    for (body, field) in cases {
        let (status, error) = app.post("/api/v1/webhooks", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {error}");
        assert_eq!(error_of(&error), ("invalid_value", field), "{body} -> {error}");
    }
    let (_, list) = app.get("/api/v1/webhooks").await;
    assert_eq!(list["data"], json!([]));

    // A webhook a trigger uses cannot be deleted; the connection method cannot change.
    let (_, webhook) = app.post("/api/v1/webhooks", json!({"name": "w", "endpoint": "https://example.com/h"})).await;
    let id = webhook["id"].as_str().expect("id");
    assert_eq!(webhook["subscriptions"], json!(["conditional_ticket_events"]));
    app.trigger(json!({"title": "t", "conditions": {"all": [{"field": "status", "operator": "is", "value": "new"}]},
                       "actions": [{"field": "notify_webhook", "value": {"webhook_id": id}}]}))
        .await;
    let (status, error) = app.call(Method::DELETE, &format!("/api/v1/webhooks/{id}"), None, Some(&app.token)).await;
    assert_eq!((status, error_of(&error).0), (StatusCode::CONFLICT, "conflict"), "{error}");
    let (status, error) =
        app.patch(&format!("/api/v1/webhooks/{id}"), json!({"subscriptions": ["ticket.created"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error_of(&error), ("invalid_value", "subscriptions"), "{error}");
}

/// The document's API paths come from the handlers' annotations, which also mount them
/// (`routes!`); the routes mounted by hand beside them are documented by hand. Every path and
/// method the document lists is asked of the server: each must reach a route (not the
/// fallback's 404 nor a 405), by the very template the document names (the route label the
/// server counts in `/metrics` is its router's matched template), and every API route must
/// refuse a request without a token (401 `unauthorized`).
async fn the_openapi_document_lists_every_route(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, document) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = document["paths"].as_object().expect("paths");
    for by_hand in ["/healthz", "/readyz", "/metrics", "/openapi.json", "/hooks/{token}"] {
        assert!(paths.contains_key(by_hand), "{by_hand} is missing from {:?}", paths.keys().collect::<Vec<_>>());
    }
    let fallback = app.call(Method::GET, "/no/such/route", None, None).await;
    assert_eq!(refusal(fallback.0, &fallback.1), (404, "not_found".into()));
    for (path, item) in paths {
        // Every `{parameter}` as 1: enough to reach the route (the handlers check the rest).
        let concrete: String = path
            .split('/')
            .map(|segment| if segment.starts_with('{') { "1" } else { segment })
            .collect::<Vec<_>>()
            .join("/");
        let methods = item.as_object().expect("a path item").keys().filter_map(|key| match key.as_str() {
            "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace" => {
                Some(Method::from_bytes(key.to_uppercase().as_bytes()).expect("a method"))
            }
            _ => None,
        });
        for method in methods {
            let answer = app.call(method.clone(), &concrete, None, None).await;
            assert!(answer.0 != StatusCode::METHOD_NOT_ALLOWED && answer != fallback, "{method} {path}: {answer:?}");
            if path.starts_with("/api/") {
                assert_eq!(refusal(answer.0, &answer.1), (401, "unauthorized".into()), "{method} {path}");
            }
        }
    }
    let (_, metrics) = app.call(Method::GET, "/metrics", None, None).await;
    let served: std::collections::BTreeSet<&str> = metrics
        .as_str()
        .expect("the metrics' text")
        .split("route=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    for path in paths.keys() {
        assert!(served.contains(path.as_str()), "no route of the server's is {path}: {served:#?}");
    }
}

crate::on_both_backends!(
    a_missing_or_wrong_token_is_401,
    ticket_values_of_the_wrong_kind_are_422_naming_the_field,
    malformed_bodies_queries_and_paths_are_4xx,
    a_liquid_syntax_error_is_422_with_line_and_column_and_saves_nothing,
    trigger_parts_that_do_not_fit_are_422_naming_the_part,
    webhook_settings_are_checked_when_saved,
    the_openapi_document_lists_every_route,
);
