//! Who may do what, and what the database reveals: roles on every route, tokens, and secrets
//! at rest.

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Db, TestApp, user_with_token};

async fn status_as(app: &TestApp, token: Option<&str>, method: Method, path: &str, body: Option<Value>) -> StatusCode {
    app.call(method, path, body, token).await.0
}

/// The status and error code a request is answered with.
async fn refusal_as(app: &TestApp, token: Option<&str>, method: Method, path: &str) -> (StatusCode, Value) {
    let (status, body) = app.call(method, path, None, token).await;
    (status, body["error"]["code"].clone())
}

async fn agents_work_tickets_and_read_rules_but_get_403_on_webhooks_rules_and_users(db: Db) {
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook("https://example.com/hook", json!({})).await;
    let trigger = app.notify_on_create(&webhook, json!({})).await;
    let (agent_id, agent) = user_with_token(&app, "agent@example.com", "agent").await;
    let agent = Some(agent.as_str());

    // Tickets are agents' work; rules they may read.
    let ticket = json!({"subject": "Agent work"});
    assert_eq!(status_as(&app, agent, Method::POST, "/api/v1/tickets", Some(ticket)).await, StatusCode::CREATED);
    assert_eq!(status_as(&app, agent, Method::GET, "/api/v1/tickets", None).await, StatusCode::OK);
    assert_eq!(status_as(&app, agent, Method::GET, "/api/v1/triggers", None).await, StatusCode::OK);
    assert_eq!(status_as(&app, agent, Method::GET, &format!("/api/v1/triggers/{trigger}"), None).await, StatusCode::OK);

    let trigger_body = json!({"title": "t", "conditions": {"all": []}, "actions": []});
    let forbidden = [
        (Method::GET, "/api/v1/webhooks".to_owned(), None),
        (Method::POST, "/api/v1/webhooks".to_owned(), Some(json!({"name": "x", "endpoint": "https://example.com"}))),
        (Method::GET, format!("/api/v1/webhooks/{webhook}"), None),
        (Method::PATCH, format!("/api/v1/webhooks/{webhook}"), Some(json!({"name": "y"}))),
        (Method::DELETE, format!("/api/v1/webhooks/{webhook}"), None),
        (Method::GET, format!("/api/v1/webhooks/{webhook}/signing_secret"), None),
        (Method::POST, format!("/api/v1/webhooks/{webhook}/signing_secret/rotate"), None),
        (Method::POST, format!("/api/v1/webhooks/{webhook}/test"), Some(json!({}))),
        (Method::POST, format!("/api/v1/webhooks/{webhook}/replay"), Some(json!({}))),
        (Method::GET, format!("/api/v1/webhooks/{webhook}/invocations"), None),
        (Method::GET, "/api/v1/invocations".to_owned(), None),
        (Method::POST, "/api/v1/triggers".to_owned(), Some(trigger_body.clone())),
        (Method::PATCH, format!("/api/v1/triggers/{trigger}"), Some(json!({"title": "z"}))),
        (Method::DELETE, format!("/api/v1/triggers/{trigger}"), None),
        (Method::PUT, "/api/v1/triggers/order".to_owned(), Some(json!({"ids": [trigger]}))),
        (Method::GET, "/api/v1/users".to_owned(), None),
        (Method::POST, "/api/v1/users".to_owned(), Some(json!({"name": "n", "email": "n@example.com"}))),
        (Method::PATCH, format!("/api/v1/users/{agent_id}"), Some(json!({"role": "admin"}))),
        (Method::POST, format!("/api/v1/users/{agent_id}/tokens"), Some(json!({}))),
        (Method::GET, "/api/v1/inbound_webhooks".to_owned(), None),
        (Method::POST, "/api/v1/inbound_webhooks".to_owned(), Some(json!({"name": "in"}))),
        (Method::GET, "/api/v1/inbound_webhooks/hook_x".to_owned(), None),
        (Method::PATCH, "/api/v1/inbound_webhooks/hook_x".to_owned(), Some(json!({"name": "y"}))),
        (Method::DELETE, "/api/v1/inbound_webhooks/hook_x".to_owned(), None),
        (Method::POST, "/api/v1/inbound_webhooks/hook_x/rotate".to_owned(), None),
        (Method::GET, "/api/v1/inbound_webhooks/hook_x/calls".to_owned(), None),
    ];
    for (method, path, body) in &forbidden {
        let (status, error) = app.call(method.clone(), path, body.clone(), agent).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {error}");
        assert_eq!(error["error"]["code"], "forbidden", "{error}");
    }
    // Nothing those refused requests asked for happened.
    let (_, webhooks) = app.get("/api/v1/webhooks").await;
    assert_eq!(webhooks["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.get(&format!("/api/v1/users/{agent_id}")).await.1["role"], "agent");

    // No token or a wrong one: 401 everywhere, the agent's routes included.
    for token in [None, Some("wrong-token"), Some("")] {
        for (method, path) in [(Method::GET, "/api/v1/tickets"), (Method::GET, "/api/v1/webhooks")] {
            let (status, error) = app.call(method, path, None, token).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?} {path}");
            assert_eq!(error["error"]["code"], "unauthorized", "{error}");
        }
    }
}

async fn tokens_are_shown_once_revocable_and_die_with_their_role(db: Db) {
    let unauthorized = (StatusCode::UNAUTHORIZED, json!("unauthorized"));
    let app = TestApp::spawn(db).await;
    let (id, token) = user_with_token(&app, "temp@example.com", "agent").await;
    assert!(token.len() >= 40, "a token carries 256 random bits: {token}");
    assert_eq!(status_as(&app, Some(&token), Method::GET, "/api/v1/tickets", None).await, StatusCode::OK);

    // Made an end user: the token acts as no one.
    let (status, _) = app.patch(&format!("/api/v1/users/{id}"), json!({"role": "end_user"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(refusal_as(&app, Some(&token), Method::GET, "/api/v1/tickets").await, unauthorized);
    let (status, error) = app.post(&format!("/api/v1/users/{id}/tokens"), json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "end users hold no tokens: {error}");
    assert_eq!(error["error"]["code"], "invalid_value", "{error}");

    // Back to agent: the old token stays dead (demotion deleted it); a new one works until
    // it is revoked.
    app.patch(&format!("/api/v1/users/{id}"), json!({"role": "agent"})).await;
    assert_eq!(refusal_as(&app, Some(&token), Method::GET, "/api/v1/tickets").await, unauthorized);
    let (_, revived) = app.post(&format!("/api/v1/users/{id}/tokens"), json!({})).await;
    let token = revived["token"].as_str().expect("token").to_owned();
    assert_eq!(status_as(&app, Some(&token), Method::GET, "/api/v1/tickets", None).await, StatusCode::OK);
    let (_, second) = app.post(&format!("/api/v1/users/{id}/tokens"), json!({})).await;
    let first_id = second["id"].as_i64().expect("id") - 1;
    let path = format!("/api/v1/users/{id}/tokens/{first_id}");
    assert_eq!(status_as(&app, Some(&app.token), Method::DELETE, &path, None).await, StatusCode::NO_CONTENT);
    assert_eq!(refusal_as(&app, Some(&token), Method::GET, "/api/v1/tickets").await, unauthorized);
    assert_eq!(
        refusal_as(&app, Some(&app.token), Method::DELETE, &path).await,
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
    let second = second["token"].as_str().expect("token");
    assert_eq!(status_as(&app, Some(second), Method::GET, "/api/v1/tickets", None).await, StatusCode::OK);

    // Bad input changes nothing.
    let (status, error) = app.post("/api/v1/users", json!({"name": "Dup", "email": "TEMP@example.com"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "emails are unique, case aside");
    assert_eq!(error["error"]["code"], "conflict", "{error}");
    for (body, field) in [
        (json!({"name": "", "email": "a@example.com"}), "name"),
        (json!({"name": "A", "email": "not-an-email"}), "email"),
        (json!({"name": "A", "email": "a@example.com", "role": "root"}), "role"),
    ] {
        let (status, error) = app.post("/api/v1/users", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["error"]["code"], "invalid_value", "{error}");
        assert_eq!(error["error"]["details"][0]["field"], field, "{error}");
    }
    let (_, users) = app.get("/api/v1/users").await;
    assert_eq!(users["data"].as_array().map(Vec::len), Some(2), "the admin and the agent: {users}");

    // The last admin cannot stop being one.
    let admin_id = users["data"][0]["id"].as_i64().expect("id");
    let (status, error) = app.patch(&format!("/api/v1/users/{admin_id}"), json!({"role": "agent"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert_eq!(error["error"]["code"], "conflict", "{error}");
}

/// Every webhook secret, searched for byte by byte in every file of the SQLite database
/// (WAL included): none is stored in clear, and neither is an API token.
#[tokio::test]
async fn the_sqlite_files_hold_no_secret_in_clear() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let secrets = ["basic-password-8f3a91", "bearer-token-c1d2e3f4", "api-key-value-77aa55"];
    let (status, basic) = app
        .post(
            "/api/v1/webhooks",
            json!({"name": "b", "endpoint": "https://example.com/b",
            "authentication": {"type": "basic", "username": "user", "password": secrets[0]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{basic}");
    app.webhook("https://example.com/t", json!({"authentication": {"type": "bearer", "token": secrets[1]}})).await;
    app.webhook(
        "https://example.com/k",
        json!({"authentication": {"type": "api_key", "header": "X-Api-Key", "value": secrets[2]}}),
    )
    .await;
    let id = basic["id"].as_str().expect("id");
    let signing = app.get(&format!("/api/v1/webhooks/{id}/signing_secret")).await.1["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let rotated = app.post(&format!("/api/v1/webhooks/{id}/signing_secret/rotate"), json!({})).await.1["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let (_, token) = user_with_token(&app, "agent@example.com", "agent").await;
    let hmac_secret = "inbound-hmac-secret-9f8e7d6c5b4a";
    let (status, inbound) = app
        .post(
            "/api/v1/inbound_webhooks",
            json!({"name": "in", "verify": {"type": "hmac_sha256", "header": "X-Sig", "secret": hmac_secret}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{inbound}");
    let url_token = inbound["url"].as_str().expect("url").rsplit('/').next().expect("token").to_owned();
    assert!(url_token.len() >= 32, "at least 128 random bits in base64: {url_token}");

    let signing_raw = signing.trim_start_matches("whsec_").to_owned();
    let rotated_raw = rotated.trim_start_matches("whsec_").to_owned();
    let needles: Vec<&str> = secrets
        .iter()
        .copied()
        .chain([signing.as_str(), signing_raw.as_str(), rotated.as_str(), rotated_raw.as_str(), token.as_str()])
        .chain([hmac_secret, url_token.as_str()])
        .chain([app.token.as_str()])
        .collect();
    let folder = std::path::PathBuf::from(
        app.config.database.database.trim_start_matches("sqlite://").trim_end_matches("hookdesk.db"),
    );
    let mut searched = 0;
    for entry in std::fs::read_dir(&folder).expect("the database folder") {
        let path = entry.expect("entry").path();
        if !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("hookdesk.db")) {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        searched += bytes.len();
        for needle in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{} holds a secret in clear",
                path.display()
            );
        }
        // The signing secret's raw bytes, too.
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.decode(&signing_raw).expect("base64");
        assert!(!bytes.windows(raw.len()).any(|w| w == raw), "{} holds the signing key's bytes", path.display());
    }
    assert!(searched > 0, "the database files were found in {}", folder.display());
    // The key file is the one thing that opens them, and only its owner may read it.
    use std::os::unix::fs::PermissionsExt as _;
    let key = app.config.database.secret_key_file.clone().expect("key file");
    assert_eq!(std::fs::metadata(key).expect("key file").permissions().mode() & 0o777, 0o600);
}

crate::on_both_backends!(
    agents_work_tickets_and_read_rules_but_get_403_on_webhooks_rules_and_users,
    tokens_are_shown_once_revocable_and_die_with_their_role,
);
