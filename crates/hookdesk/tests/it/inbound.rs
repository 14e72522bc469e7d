//! Inbound webhooks through real HTTP: Cerb's echo, GitHub-style signatures, ticket actions
//! that fire triggers which notify a real receiver, the call log, and the abuse limits.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Db, Receiver, TestApp, refusal, status_and_code};

/// Cerb's example: the request's method, path, headers, params and client ip as pretty JSON,
/// in one body template.
const CERB_ECHO: &str = r#"{% capture echo %}{"http": {"method": {{ request.method | json }}, "path": {{ request.path | json }}, "headers": {{ request.headers | json }}, "params": {{ request.params | json }}}, "client": {"ip": {{ client.ip | json }}}}{% endcapture %}{{ echo | parse_json | json_pretty }}"#;

async fn inbound(app: &TestApp, body: Value) -> Value {
    let (status, webhook) = app.post("/api/v1/inbound_webhooks", body).await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    webhook
}

async fn calls(app: &TestApp, webhook: &Value, query: &str) -> Vec<Value> {
    let (status, list) =
        app.get(&format!("/api/v1/inbound_webhooks/{}/calls?{query}", webhook["id"].as_str().expect("id"))).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().expect("data").clone()
}

async fn ticket_count(app: &TestApp) -> usize {
    let (status, list) = app.get("/api/v1/tickets?limit=500").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().expect("data").len()
}

/// The URL as the API gives it, on the test server's address.
fn url(app: &TestApp, webhook: &Value, rest: &str) -> String {
    let full = webhook["url"].as_str().expect("url");
    let path = &full[full.find("/hooks/").expect("a /hooks/ URL")..];
    app.url(&format!("{path}{rest}"))
}

async fn the_cerb_echo_answers_with_the_request(db: Db) {
    let app = TestApp::spawn(db).await;
    let webhook = inbound(
        &app,
        json!({"name": "Webhook Example", "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": CERB_ECHO}}),
    )
    .await;
    assert!(webhook["url"].as_str().expect("url").contains("/hooks/"));
    let client = reqwest::Client::new();

    // In a browser: a GET with query parameters.
    // X-Forwarded-For from a peer that is no trusted proxy is the caller's to forge: ignored.
    let response = client
        .get(url(&app, &webhook, "?name=Joe+Customer&age=37"))
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.expect("body");
    assert!(text.contains("\n  \"client\""), "pretty JSON: {text}");
    let echo: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(echo["http"]["method"], "GET");
    assert_eq!(echo["http"]["path"], "/");
    assert_eq!(echo["http"]["params"], json!({"name": "Joe Customer", "age": "37"}));
    assert_eq!(echo["client"]["ip"], "127.0.0.1");

    // curl -i -X POST -H "X-CustomHeader: true" ".../hooks/TOKEN?key=value"
    let response = client
        .post(url(&app, &webhook, "/deep/path?key=value"))
        .header("X-CustomHeader", "true")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let echo: Value = response.json().await.expect("JSON");
    assert_eq!(echo["http"]["method"], "POST");
    assert_eq!(echo["http"]["path"], "/deep/path");
    assert_eq!(echo["http"]["headers"]["x-customheader"], "true");
    assert_eq!(echo["http"]["params"], json!({"key": "value"}));

    // With a trailing slash, the path is still `/`.
    let response = client.delete(url(&app, &webhook, "/")).send().await.expect("answers");
    assert_eq!(response.status(), 200);
    let echo: Value = response.json().await.expect("JSON");
    assert_eq!((echo["http"]["method"].as_str(), echo["http"]["path"].as_str()), (Some("DELETE"), Some("/")));

    let logged = calls(&app, &webhook, "").await;
    assert_eq!(logged.len(), 3);
    assert_eq!((logged[1]["method"].as_str(), logged[1]["status"].as_u64()), (Some("POST"), Some(200)));
    assert_eq!(logged[1]["query"], "key=value");
    assert_eq!(logged[2]["method"], "GET");
}

/// Behind a reverse proxy (`--trusted-proxy`), `client.ip` is the caller the proxy names.
async fn behind_a_trusted_proxy_the_client_comes_from_x_forwarded_for(db: Db) {
    let app =
        TestApp::spawn_with(db, |config| config.trusted_proxies = vec!["127.0.0.0/8".parse().expect("cidr")]).await;
    let webhook =
        inbound(&app, json!({"name": "Proxied", "response": {"status": 200, "body": "{{ client.ip }}"}})).await;
    let response = reqwest::Client::new()
        .get(url(&app, &webhook, ""))
        .header("X-Forwarded-For", "198.51.100.4, 203.0.113.9, 127.0.0.1")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.text().await.expect("text"), "203.0.113.9");
    assert_eq!(calls(&app, &webhook, "").await[0]["client_ip"], "203.0.113.9");
}

async fn github_signatures_are_verified_and_a_tampered_body_runs_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let secret = "It's a Secret to Everybody";
    let webhook = inbound(
        &app,
        json!({"name": "GitHub", "verify": {"type": "hmac_sha256", "header": "X-Hub-Signature-256", "secret": secret},
               "actions": [{"type": "create_ticket", "fields": {
                   "subject": "{{ request.json.issue.title }}", "requester": {"email": "{{ request.json.sender.email }}"},
                   "tags": "github {{ request.headers['x-github-event'] }}"}}]}),
    )
    .await;
    assert_eq!(webhook["verify"], json!({"type": "hmac_sha256", "header": "X-Hub-Signature-256"}), "no secret shown");
    let body = r#"{"issue": {"title": "Crash on save"}, "sender": {"email": "dev@example.com"}}"#;
    let signature = format!("sha256={}", hookdesk_core::inbound::hmac_sha256_hex(secret.as_bytes(), body.as_bytes()));
    let client = reqwest::Client::new();
    let send = |body: &'static str, signature: Option<String>| {
        let mut request = client
            .post(url(&app, &webhook, ""))
            .header("Content-Type", "application/json")
            .header("X-GitHub-Event", "issues")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("X-Hub-Signature-256", signature);
        }
        request.send()
    };

    let tampered = r#"{"issue": {"title": "Crash on save!"}, "sender": {"email": "dev@example.com"}}"#;
    for (body, signature) in [(tampered, Some(signature.clone())), (body, None), (body, Some("sha256=00".into()))] {
        let response = send(body, signature).await.expect("answers");
        assert_eq!(response.status(), 401);
        let error: Value = response.json().await.expect("JSON");
        assert_eq!(error["error"]["code"], "signature_mismatch");
    }
    assert_eq!(ticket_count(&app).await, 0, "a refused call runs nothing");

    let response = send(body, Some(signature)).await.expect("answers");
    assert_eq!(response.status(), 202);
    assert_eq!(response.json::<Value>().await.expect("JSON"), json!({"ok": true}));
    let (_, tickets) = app.get("/api/v1/tickets").await;
    let ticket = &tickets["data"][0];
    assert_eq!(ticket["subject"], "Crash on save");
    assert_eq!(ticket["tags"], json!(["github", "issues"]));
    assert_eq!(ticket["requester"]["email"], "dev@example.com");

    assert_eq!(calls(&app, &webhook, "status=401").await.len(), 3);
    assert_eq!(calls(&app, &webhook, "failed=true").await.len(), 3);
    let accepted = calls(&app, &webhook, "failed=false").await;
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0]["actions"], json!([{"type": "create_ticket", "ticket_id": ticket["id"], "error": null}]));
    let (_, everything) =
        app.get(&format!("/api/v1/inbound_webhooks/{}/calls", webhook["id"].as_str().expect("id"))).await;
    assert!(!everything.to_string().contains(secret), "the secret is never shown");
}

/// hookdesk calling hookdesk: an outbound webhook's signed request (Standard Webhooks) is
/// verified by an inbound webhook with the same secret, whose action comments on the ticket.
/// Unsigned, tampered and stale requests are refused.
async fn standard_webhooks_signatures_from_hookdesk_itself_are_verified(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, created) =
        app.post("/api/v1/webhooks", json!({"name": "partner", "endpoint": "http://127.0.0.1:9/x"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let outbound = created["id"].as_str().expect("id").to_owned();
    let (_, secret) = app.get(&format!("/api/v1/webhooks/{outbound}/signing_secret")).await;
    let secret = secret["secret"].as_str().expect("secret").to_owned();
    let webhook = inbound(
        &app,
        json!({"name": "From the other desk", "verify": {"type": "standard_webhooks", "secret": secret},
               "actions": [{"type": "add_comment", "ticket_id": "{{ request.json.ticket }}",
                            "body": "The partner desk received it (message {{ request.headers['webhook-id'] }})", "public": false}]}),
    )
    .await;
    assert_eq!(webhook["verify"], json!({"type": "standard_webhooks"}), "no secret shown");
    let (status, _) = app
        .patch(&format!("/api/v1/webhooks/{outbound}"), json!({"endpoint": url(&app, &webhook, "/escalations")}))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.trigger(json!({
        "title": "Escalate to the partner desk",
        "conditions": {"all": [{"field": "tags", "operator": "includes", "value": "escalate"}]},
        "actions": [{"field": "remove_tags", "value": "escalate"},
                    {"field": "notify_webhook", "value": {"webhook_id": outbound, "payload": "{\"ticket\": {{ ticket.id }}}"}}]
    }))
    .await;
    let ticket = app.ticket(json!({"subject": "Needs the partner", "tags": ["escalate"]})).await;
    let id = ticket["id"].as_i64().expect("id");
    let invocation = app.invocations(&format!("ticket_id={id}")).await[0]["id"].as_str().expect("id").to_owned();
    let settled = app.settled(&invocation).await;
    assert_eq!(settled["status"], "succeeded", "{settled:#}");
    let (_, ticket) = app.get(&format!("/api/v1/tickets/{id}")).await;
    let comment = ticket["comments"][0]["body"].as_str().expect("a comment");
    let message = comment.strip_prefix("The partner desk received it (message ").and_then(|m| m.strip_suffix(')'));
    assert!(message.is_some_and(|m| !m.is_empty()), "the webhook-id header reached the template: {comment}");

    let client = reqwest::Client::new();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    let key = hookdesk_core::webhook::SigningSecret::parse(&secret).expect("secret");
    let body = format!("{{\"ticket\": {id}}}");
    let signed = |timestamp: i64, body: &str| {
        format!("v1,{}", hookdesk_core::request::sign(&key, "msg_manual", timestamp, body.as_bytes()))
    };
    for (timestamp, signature, sent) in [
        (now, signed(now, &body), format!("{{\"ticket\": {}}}", id + 1)),
        (now - 600, signed(now - 600, &body), body.clone()),
        (now, "v1,bm9wZQ==".to_owned(), body.clone()),
    ] {
        let response = client
            .post(url(&app, &webhook, ""))
            .header("Content-Type", "application/json")
            .header("webhook-id", "msg_manual")
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(sent)
            .send()
            .await
            .expect("answers");
        assert_eq!(status_and_code(response).await, (401, "signature_mismatch".into()));
    }
    let response = client.post(url(&app, &webhook, "")).json(&json!({"ticket": id})).send().await.expect("answers");
    assert_eq!(status_and_code(response).await, (401, "signature_mismatch".into()), "unsigned");
    let (_, after) = app.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(after["comments"].as_array().map(Vec::len), Some(1), "refused calls add nothing");
}

/// Both directions: a JSON call creates a ticket, a trigger on it notifies an outbound
/// webhook, and the response template sees the ticket.
async fn a_created_ticket_fires_a_trigger_that_notifies_a_receiver(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let outbound = app.webhook(&receiver.url("/billing"), json!({})).await;
    app.trigger(json!({
        "title": "Payments to billing",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"},
                               {"field": "tags", "operator": "includes", "value": "payment"}]},
        "actions": [{"field": "notify_webhook", "value": {"webhook_id": outbound,
            "payload": "{\"ticket\": {{ ticket.id }}, \"subject\": {{ ticket.subject | json }}, \"amount\": {{ ticket.custom_fields.amount | json }}}"}}]
    }))
    .await;
    let webhook = inbound(
        &app,
        json!({"name": "Invoices", "actions": [{"type": "create_ticket", "fields": {
                  "subject": "Payment for invoice {{ request.json.invoice }}",
                  "requester": {"name": "{{ request.json.customer.name }}", "email": "{{ request.json.customer.email }}"},
                  "tags": ["payment", "{{ request.json.currency | downcase }}"],
                  "custom_fields": {"amount": "{{ request.json.amount }}"}}}],
               "response": {"status": 201, "headers": {"Location": "{{ ticket.api_url }}"}, "body": "{\"ticket_id\": {{ ticket.id }}}"}}),
    )
    .await;
    let response = reqwest::Client::new()
        .post(url(&app, &webhook, "/freshbooks"))
        .json(&json!({"invoice": "INV-7", "amount": 125.5, "currency": "EUR", "customer": {"name": "Ada", "email": "ada@example.com"}}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().expect("text").to_owned();
    let answer: Value = response.json().await.expect("JSON");
    let id = answer["ticket_id"].as_i64().expect("the ticket's id");
    assert!(location.ends_with(&format!("/api/v1/tickets/{id}")), "{location}");

    let received = receiver.wait_for(1).await;
    let sent: Value = serde_json::from_str(&received[0].body).expect("JSON");
    assert_eq!(sent, json!({"ticket": id, "subject": "Payment for invoice INV-7", "amount": "125.5"}));
    let (_, audits) = app.get(&format!("/api/v1/tickets/{id}/audits")).await;
    assert_eq!(audits["data"][0]["via"], "inbound");
    assert_eq!(audits["data"][0]["rules"][0]["title"], "Payments to billing");
}

/// A form post (a web form's action URL) creates a ticket; a second webhook updates it and
/// comments by the id in its body; a failing action undoes the ones before it.
async fn form_posts_create_and_later_actions_update_by_id(db: Db) {
    let app = TestApp::spawn(db).await;
    let form = inbound(
        &app,
        json!({"name": "Contact form", "actions": [{"type": "create_ticket", "fields": {
                  "subject": "{{ request.params.subject }}", "description": "{{ request.params.message }}",
                  "requester": {"name": "{{ request.params.name }}", "email": "{{ request.params.email }}"},
                  "priority": "{{ request.params.priority }}", "tags": "web-form"}}],
               "response": {"status": 303, "headers": {"Location": "https://example.com/thanks?ticket={{ ticket.id }}"}, "body": ""}}),
    )
    .await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = client
        .post(url(&app, &form, ""))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("subject=Printer+on+fire&message=Smoke%20everywhere&name=Joe&email=joe%40example.com&priority=")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().expect("text").to_owned();
    let id: i64 = location.rsplit('=').next().expect("id").parse().expect("a ticket id");
    let (_, ticket) = app.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!((ticket["subject"].as_str(), ticket["priority"].as_str()), (Some("Printer on fire"), Some("normal")));
    assert_eq!(ticket["requester"]["name"], "Joe");

    let updates = inbound(
        &app,
        json!({"name": "Status", "actions": [
            {"type": "update_ticket", "ticket_id": "{{ request.json.ticket }}", "fields": {"status": "{{ request.json.status }}", "add_tags": "{{ request.json.tag }}"}},
            {"type": "add_comment", "ticket_id": "{{ ticket.id }}", "body": "Status from the code host: {{ request.json.status }}", "public": false}]}),
    )
    .await;
    let send = |body: Value| client.post(url(&app, &updates, "")).json(&body).send();
    let response = send(json!({"ticket": id, "status": "pending", "tag": "upstream"})).await.expect("answers");
    assert_eq!(response.status(), 202);
    let (_, ticket) = app.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(ticket["status"], "pending");
    assert_eq!(ticket["tags"], json!(["web-form", "upstream"]));
    assert_eq!(ticket["comments"][0]["body"], "Status from the code host: pending");
    assert_eq!(ticket["comments"][0]["public"], false);

    // An unknown ticket: 404 naming it; a bad status: 422 naming the action's field. Either
    // way the call changes nothing.
    let response = send(json!({"ticket": 999_999, "status": "open"})).await.expect("answers");
    assert_eq!(status_and_code(response).await, (404, "not_found".into()));
    let response = send(json!({"ticket": id, "status": "sideways"})).await.expect("answers");
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.expect("JSON");
    assert_eq!(error["error"]["code"], "invalid_value", "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "actions[0].fields.status", "{error}");
    let response = send(json!({"ticket": "abc"})).await.expect("answers");
    assert_eq!(status_and_code(response).await, (422, "invalid_value".into()));
    let (_, after) = app.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(after, ticket, "failed calls change nothing");

    // Two actions where the second fails: the first is rolled back too.
    let both = inbound(
        &app,
        json!({"name": "Both", "actions": [
            {"type": "create_ticket", "fields": {"subject": "Half done", "requester": {"email": "x@example.com"}}},
            {"type": "update_ticket", "ticket_id": "{{ request.json.missing }}", "fields": {"status": "open"}}]}),
    )
    .await;
    let before = ticket_count(&app).await;
    let response = client.post(url(&app, &both, "")).json(&json!({})).send().await.expect("answers");
    assert_eq!(status_and_code(response).await, (422, "invalid_value".into()));
    assert_eq!(ticket_count(&app).await, before);
    let logged = calls(&app, &both, "").await;
    assert_eq!(logged[0]["actions"][0]["error"], "rolled back: a later action failed");
    assert_eq!(logged[0]["actions"][0]["ticket_id"], Value::Null, "the rolled-back ticket does not exist");
    assert!(logged[0]["actions"][1]["error"].as_str().expect("error").contains("actions[1].ticket_id"));
}

/// A sender's retries (same delivery id) get the first answer again and create nothing;
/// concurrent duplicates run the actions once; a failed call does not use its key up.
async fn repeated_deliveries_are_answered_once_by_their_idempotency_key(db: Db) {
    let app = TestApp::spawn(db).await;
    let webhook = inbound(
        &app,
        json!({"name": "Deliveries", "idempotency_header": "X-GitHub-Delivery",
               "actions": [{"type": "create_ticket", "fields": {"subject": "{{ request.json.subject }}", "requester": {"email": "gh@example.com"}}}],
               "response": {"status": 201, "body": "{\"ticket\": {{ ticket.id }}}"}}),
    )
    .await;
    assert_eq!(webhook["idempotency_header"], "X-GitHub-Delivery");
    let client = reqwest::Client::new();
    let send = |key: &str, body: Value| {
        client.post(url(&app, &webhook, "")).header("X-GitHub-Delivery", key.to_owned()).json(&body).send()
    };

    let first = send("d-1", json!({"subject": "One"})).await.expect("answers");
    assert_eq!(first.status(), 201);
    let answer: Value = first.json().await.expect("JSON");
    let again = send("d-1", json!({"subject": "One"})).await.expect("answers");
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.expect("JSON"), answer, "the same answer");
    assert_eq!(ticket_count(&app).await, 1);
    assert_eq!(send("d-2", json!({"subject": "Two"})).await.expect("answers").status(), 201);
    assert_eq!(ticket_count(&app).await, 2);

    // A call that fails keeps nothing, its key included: the corrected retry runs.
    assert_eq!(
        status_and_code(send("d-3", json!({"subject": ""})).await.expect("answers")).await,
        (422, "invalid_value".into())
    );
    assert_eq!(send("d-3", json!({"subject": "Three"})).await.expect("answers").status(), 201);
    assert_eq!(ticket_count(&app).await, 3);

    // Eight at once with one key: the actions run once; the others are told to retry (409)
    // or get the first answer.
    let calls_at_once: Vec<_> = (0..8).map(|_| send("d-4", json!({"subject": "Four"}))).collect();
    let mut statuses: Vec<u16> = futures_statuses(calls_at_once).await.into_iter().collect();
    statuses.sort_unstable();
    assert_eq!(ticket_count(&app).await, 4, "{statuses:?}");
    assert!(statuses.iter().all(|s| [201, 409].contains(s)), "{statuses:?}");
    let retried = send("d-4", json!({"subject": "Four"})).await.expect("answers");
    assert_eq!(
        (retried.status().as_u16(), retried.headers()["idempotent-replayed"].to_str().ok()),
        (201, Some("true"))
    );

    let logged = calls(&app, &webhook, "").await;
    let replays = logged.iter().filter(|c| c["replay_of"].is_string()).count();
    assert!(replays >= 2, "{logged:#?}");
    assert!(logged.iter().all(|c| c["idempotency_key"].is_string()));
}

async fn futures_statuses(
    calls: Vec<impl std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static>,
) -> Vec<u16> {
    let handles: Vec<_> = calls.into_iter().map(tokio::spawn).collect();
    let mut statuses = Vec::new();
    for handle in handles {
        statuses.push(handle.await.expect("joins").expect("answers").status().as_u16());
    }
    statuses
}

async fn limits_unknown_tokens_and_bad_bodies_are_refused_clearly(db: Db) {
    let app = TestApp::spawn(db).await;
    let webhook = inbound(&app, json!({"name": "Limited", "rate_limit_per_minute": 3})).await;
    let client = reqwest::Client::new();

    // Over 1 MiB: 413, logged with its size.
    let big = "x".repeat(1024 * 1024 + 1);
    let response = client.post(url(&app, &webhook, "")).body(big).send().await.expect("answers");
    assert_eq!(status_and_code(response).await, (413, "payload_too_large".into()));
    // Invalid JSON sent as JSON: 400, logged with the body as sent.
    let response = client
        .post(url(&app, &webhook, ""))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.expect("JSON")["error"]["code"], "malformed_json");
    let response = client.get(url(&app, &webhook, "")).send().await.expect("answers");
    assert_eq!(response.status(), 202);
    // The fourth call in a minute is over the limit of 3.
    let response = client.get(url(&app, &webhook, "")).send().await.expect("answers");
    let retry_after: u64 = response.headers()["retry-after"].to_str().expect("text").parse().expect("seconds");
    assert_eq!(status_and_code(response).await, (429, "rate_limited".into()));
    assert!((1..=60).contains(&retry_after), "{retry_after}");

    let logged = calls(&app, &webhook, "").await;
    let statuses: Vec<u64> = logged.iter().map(|c| c["status"].as_u64().expect("status")).collect();
    assert_eq!(statuses, [202, 400, 413], "calls over the limit are not logged");
    assert_eq!(logged[1]["body"], "{not json");
    assert_eq!(logged[2]["body_bytes"], 1024 * 1024 + 1);

    // Unknown, disabled and rotated-out tokens: 404.
    let response = client.get(app.url("/hooks/not-a-token")).send().await.expect("answers");
    assert_eq!(status_and_code(response).await, (404, "not_found".into()));
    let id = webhook["id"].as_str().expect("id");
    let (status, rotated) = app.post(&format!("/api/v1/inbound_webhooks/{id}/rotate"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(rotated["url"], webhook["url"]);
    let response = client.get(url(&app, &webhook, "")).send().await.expect("answers");
    assert_eq!(status_and_code(response).await, (404, "not_found".into()), "the old URL stops working");
    let (status, _) = app
        .patch(&format!("/api/v1/inbound_webhooks/{id}"), json!({"enabled": false, "rate_limit_per_minute": null}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = client.get(url(&app, &rotated, "")).send().await.expect("answers");
    assert_eq!(status_and_code(response).await, (404, "not_found".into()), "disabled");
    let (status, _) = app.patch(&format!("/api/v1/inbound_webhooks/{id}"), json!({"enabled": true})).await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..5 {
        let response = client.get(url(&app, &rotated, "")).send().await.expect("answers");
        assert_eq!(response.status(), 202, "no limit any more");
    }
}

async fn invalid_configurations_are_refused_naming_the_field(db: Db) {
    let app = TestApp::spawn(db).await;
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (
            json!({"name": "x", "actions": [{"type": "create_ticket", "fields": {"subject": "{{ x"}}]}),
            "actions[0].fields.subject",
        ),
        (
            json!({"name": "x", "actions": [{"type": "create_ticket", "fields": {"subjekt": "x"}}]}),
            "actions[0].fields.subjekt",
        ),
        (json!({"name": "x", "actions": [{"type": "update_ticket", "fields": {}}]}), "actions[0].ticket_id"),
        (
            json!({"name": "x", "verify": {"type": "hmac_sha256", "header": "bad header", "secret": "s"}}),
            "verify.header",
        ),
        (json!({"name": "x", "verify": {"type": "hmac_sha256", "header": "X-Sig", "secret": ""}}), "verify.secret"),
        (json!({"name": "x", "response": {"status": 700}}), "response.status"),
        (
            json!({"name": "x", "response": {"headers": {"Transfer-Encoding": "chunked"}}}),
            "response.headers.Transfer-Encoding",
        ),
        (json!({"name": "x", "response": {"body": "{% if %}"}}), "response.body"),
        (json!({"name": "x", "rate_limit_per_minute": 0}), "rate_limit_per_minute"),
    ] {
        let (status, error) = app.post("/api/v1/inbound_webhooks", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!(error["error"]["code"], "invalid_value", "{body}: {error}");
        assert_eq!(error["error"]["details"][0]["field"], field, "{body}: {error}");
    }
    let (status, list) = app.get("/api/v1/inbound_webhooks").await;
    assert_eq!((status, list["data"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "nothing saved");
    let (status, error) = app.post("/api/v1/inbound_webhooks", json!({"name": "x", "verify": {"type": "basic"}})).await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
}

crate::on_both_backends!(
    the_cerb_echo_answers_with_the_request,
    behind_a_trusted_proxy_the_client_comes_from_x_forwarded_for,
    github_signatures_are_verified_and_a_tampered_body_runs_nothing,
    standard_webhooks_signatures_from_hookdesk_itself_are_verified,
    a_created_ticket_fires_a_trigger_that_notifies_a_receiver,
    form_posts_create_and_later_actions_update_by_id,
    repeated_deliveries_are_answered_once_by_their_idempotency_key,
    limits_unknown_tokens_and_bad_bodies_are_refused_clearly,
    invalid_configurations_are_refused_naming_the_field,
);
