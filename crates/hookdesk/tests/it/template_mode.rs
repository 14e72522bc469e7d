//! `template_mode` per webhook and per inbound webhook: strict fails a render on an undefined
//! variable (the invocation, the test send, the inbound call) where lax renders it empty; the
//! field round-trips through the API and configuration as code.

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Db, Receiver, TestApp};

/// A payload with a typo: `subjct` is no field of a ticket.
const TYPO: &str = "{\"subject\": {{ ticket.subjct | json }}}";

async fn ticket_count(app: &TestApp) -> usize {
    let (status, list) = app.get("/api/v1/tickets?limit=500").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().expect("data").len()
}

/// The error's code, and the field its first detail names.
fn error_of(body: &Value) -> (&str, &str) {
    (
        body["error"]["code"].as_str().unwrap_or_else(|| panic!("an error body: {body}")),
        body["error"]["details"][0]["field"].as_str().unwrap_or(""),
    )
}

async fn a_strict_webhook_fails_on_an_undefined_variable_and_sends_nothing_where_lax_delivers(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/strict"), json!({"template_mode": "strict"})).await;
    // Saving checks lax: the sample ticket lacking a variable is a warning, never a refusal.
    app.notify_on_create(&webhook, json!({"payload": TYPO})).await;

    // A dry run lists the undefined variable and shows the request that would fail.
    let ticket = app.ticket(json!({"subject": "Printer on fire"})).await;
    let (status, dry) = app
        .post("/api/v1/triggers/dry_run", json!({"ticket_id": ticket["id"], "changes": {"priority": "high"},
            "trigger": {"title": "Draft", "conditions": {"all": [{"field": "priority", "operator": "changed_to", "value": "high"}]},
                "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook, "payload": TYPO}}]}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["unknown_variables"], json!(["ticket.subjct"]), "{dry:#}");
    assert_eq!(dry["requests"][0]["error"]["code"], "template_error", "{dry:#}");

    let invocations = app.invocations("").await;
    assert_eq!(invocations.len(), 1, "{invocations:#?}");
    let failed = app.settled(invocations[0]["id"].as_str().expect("id")).await;
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert_eq!(failed["error"]["code"], "template_error", "{failed:#}");
    let message = failed["error"]["message"].as_str().expect("a message");
    assert!(message.contains("undefined variable `ticket.subjct`"), "{message}");
    assert_eq!(failed["attempts"], json!([]), "nothing was sent");

    // The same webhook in lax mode delivers, the typo rendering as null.
    let (status, lax) = app.patch(&format!("/api/v1/webhooks/{webhook}"), json!({"template_mode": "lax"})).await;
    assert_eq!(status, StatusCode::OK, "{lax}");
    assert_eq!(lax["template_mode"], "lax");
    app.ticket(json!({"subject": "Printer still on fire"})).await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].body, "{\"subject\": null}");
    let invocations = app.invocations("").await;
    assert_eq!(invocations.len(), 2, "{invocations:#?}");
    let second = invocations.iter().find(|i| i["id"] != failed["id"]).expect("the lax one");
    let delivered = app.settled(second["id"].as_str().expect("id")).await;
    assert_eq!(delivered["status"], "succeeded", "{delivered:#}");
    assert_eq!(receiver.received().len(), 1, "only the lax invocation reached the receiver");
}

async fn a_strict_event_subscription_fails_on_an_undefined_variable(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let strict = app
        .webhook(
            &receiver.url("/events/strict"),
            json!({"name": "strict events", "subscriptions": ["ticket.created"], "template_mode": "strict",
                   "custom_headers": {"x-ticket": "{{ ticket.nmber }}"}}),
        )
        .await;
    let lax = app
        .webhook(
            &receiver.url("/events/lax"),
            json!({"name": "lax events", "subscriptions": ["ticket.created"], "custom_headers": {"x-ticket": "{{ ticket.nmber }}"}}),
        )
        .await;
    app.ticket(json!({"subject": "An event"})).await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/events/lax");
    assert_eq!(received[0].header("x-ticket"), None, "an empty header is not sent");
    let failed = app.invocations(&format!("webhook_id={strict}")).await;
    let failed = app.settled(failed[0]["id"].as_str().expect("id")).await;
    assert_eq!(failed["error"]["code"], "template_error", "{failed:#}");
    assert!(failed["error"]["message"].as_str().is_some_and(|m| m.contains("ticket.nmber")), "{failed:#}");
    let delivered = app.invocations(&format!("webhook_id={lax}")).await;
    assert_eq!(app.settled(delivered[0]["id"].as_str().expect("id")).await["status"], "succeeded");
    assert_eq!(receiver.received().len(), 1, "only the lax subscription reached the receiver");
}

async fn the_template_mode_round_trips_through_the_api_and_is_lax_by_default(db: Db) {
    let app = TestApp::spawn(db).await;
    // Webhooks: created with and without it, read, listed, changed.
    let (status, plain) =
        app.post("/api/v1/webhooks", json!({"name": "plain", "endpoint": "https://example.com/a"})).await;
    assert_eq!(status, StatusCode::CREATED, "{plain}");
    assert_eq!(plain["template_mode"], "lax", "lax by default");
    let (status, strict) = app
        .post(
            "/api/v1/webhooks",
            json!({"name": "strict", "endpoint": "https://example.com/b", "template_mode": "strict"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{strict}");
    assert_eq!(strict["template_mode"], "strict");
    let strict_path = format!("/api/v1/webhooks/{}", strict["id"].as_str().expect("id"));
    assert_eq!(app.get(&strict_path).await.1["template_mode"], "strict");
    let (_, list) = app.get("/api/v1/webhooks").await;
    let modes: Vec<(&str, &str)> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|w| (w["name"].as_str().expect("name"), w["template_mode"].as_str().expect("mode")))
        .collect();
    assert_eq!(modes.len(), 2);
    assert!(modes.contains(&("plain", "lax")) && modes.contains(&("strict", "strict")), "{modes:?}");
    let (status, changed) = app.patch(&strict_path, json!({"max_retries": 1})).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["template_mode"], "strict", "a change that leaves it out keeps it");
    let (_, changed) = app.patch(&strict_path, json!({"template_mode": "lax"})).await;
    assert_eq!(changed["template_mode"], "lax");
    assert_eq!(app.get(&strict_path).await.1["template_mode"], "lax");

    // Inbound webhooks, the same way.
    let (status, inbound) = app.post("/api/v1/inbound_webhooks", json!({"name": "bin"})).await;
    assert_eq!(status, StatusCode::CREATED, "{inbound}");
    assert_eq!(inbound["template_mode"], "lax", "lax by default");
    let (status, inbound) =
        app.post("/api/v1/inbound_webhooks", json!({"name": "strict bin", "template_mode": "strict"})).await;
    assert_eq!(status, StatusCode::CREATED, "{inbound}");
    assert_eq!(inbound["template_mode"], "strict");
    let inbound_path = format!("/api/v1/inbound_webhooks/{}", inbound["id"].as_str().expect("id"));
    assert_eq!(app.get(&inbound_path).await.1["template_mode"], "strict");
    let (_, list) = app.get("/api/v1/inbound_webhooks").await;
    let modes: Vec<&str> =
        list["data"].as_array().expect("data").iter().map(|w| w["template_mode"].as_str().expect("mode")).collect();
    assert_eq!(modes, ["lax", "strict"], "by name: bin, strict bin");
    let (_, changed) = app.patch(&inbound_path, json!({"enabled": false})).await;
    assert_eq!(changed["template_mode"], "strict", "a change that leaves it out keeps it");
    let (_, changed) = app.patch(&inbound_path, json!({"template_mode": "lax"})).await;
    assert_eq!(changed["template_mode"], "lax");

    // Any other value is a 422 naming the field, and changes nothing.
    let webhook_path = format!("/api/v1/webhooks/{}", plain["id"].as_str().expect("id"));
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/webhooks",
            json!({"name": "w", "endpoint": "https://example.com/c", "template_mode": "loose"}),
        ),
        (Method::PATCH, webhook_path.as_str(), json!({"template_mode": "loose"})),
        (Method::POST, "/api/v1/inbound_webhooks", json!({"name": "loose", "template_mode": "loose"})),
        (Method::PATCH, inbound_path.as_str(), json!({"template_mode": "Strict"})),
    ] {
        let (status, error) = app.call(method.clone(), path, Some(body.clone()), Some(&app.token)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path} {body}: {error}");
        assert_eq!(error_of(&error).1, "template_mode", "{error}");
    }
    assert_eq!(app.get(&webhook_path).await.1["template_mode"], "lax");
    assert_eq!(app.get(&inbound_path).await.1["template_mode"], "lax");
    let (_, list) = app.get("/api/v1/webhooks").await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2), "nothing was created");

    // The OpenAPI document says what it takes, and its default.
    let (_, document) = app.call(Method::GET, "/openapi.json", None, None).await;
    let schemas = &document["components"]["schemas"];
    assert_eq!(schemas["TemplateMode"]["enum"], json!(["lax", "strict"]), "{:#}", schemas["TemplateMode"]);
    for body in ["CreateWebhookBody", "InboundBody"] {
        let field = &schemas[body]["properties"]["template_mode"];
        assert_eq!(field["default"], "lax", "{body}: {field:#}");
    }
    for view in ["WebhookView", "InboundWebhookView"] {
        assert!(schemas[view]["properties"].get("template_mode").is_some(), "{view}");
        let required = schemas[view]["required"].as_array().expect("required");
        assert!(required.contains(&json!("template_mode")), "{view} always has it");
    }
}

async fn the_template_mode_goes_through_configuration_as_code(db: Db) {
    let first = TestApp::spawn(db).await;
    first.webhook("https://example.com/strict", json!({"name": "Strict", "template_mode": "strict"})).await;
    first.webhook("https://example.com/lax", json!({"name": "Lax"})).await;
    let (status, _) =
        first.post("/api/v1/inbound_webhooks", json!({"name": "Orders", "template_mode": "strict"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, exported) = first.get("/api/v1/config").await;
    assert_eq!(status, StatusCode::OK, "{exported}");
    let mode_of = |doc: &Value, section: &str, name: &str| {
        doc[section]
            .as_array()
            .expect("a section")
            .iter()
            .find(|o| o["name"] == name)
            .map(|o| o["template_mode"].clone())
            .unwrap_or_else(|| panic!("{name} in {section}: {doc:#}"))
    };
    assert_eq!(mode_of(&exported, "webhooks", "Strict"), "strict");
    assert_eq!(mode_of(&exported, "webhooks", "Lax"), "lax");
    assert_eq!(mode_of(&exported, "inbound_webhooks", "Orders"), "strict");

    // Imported by another server: the same modes.
    let second = TestApp::spawn(db).await;
    let (status, answer) = put(&second, &exported).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, copied) = second.get("/api/v1/config").await;
    assert_eq!(copied, exported, "the second server exports what the first did");
    let (_, webhooks) = second.get("/api/v1/webhooks").await;
    let strict = webhooks["data"].as_array().expect("data").iter().find(|w| w["name"] == "Strict").expect("Strict");
    assert_eq!(strict["template_mode"], "strict");
    let (_, inbound) = second.get("/api/v1/inbound_webhooks").await;
    assert_eq!(inbound["data"][0]["template_mode"], "strict");

    // A document that leaves it out means lax: the plan says so.
    let mut lax = exported.clone();
    for section in ["webhooks", "inbound_webhooks"] {
        for object in lax[section].as_array_mut().expect("a section") {
            object.as_object_mut().expect("an object").remove("template_mode");
        }
    }
    let (status, answer) = put(&second, &lax).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let changes: Vec<(&str, &Value)> = answer["plan"]
        .as_array()
        .expect("plan")
        .iter()
        .map(|step| (step["name"].as_str().expect("name"), &step["changes"]["template_mode"]))
        .collect();
    assert_eq!(changes.len(), 2, "{answer:#}");
    for (name, change) in changes {
        assert_eq!(change, &json!({"from": "strict", "to": "lax"}), "{name}: {answer:#}");
    }

    // Any other value is refused whole, naming the object and the field.
    let mut loose = exported.clone();
    loose["webhooks"][0]["template_mode"] = json!("loose");
    let (status, error) = put(&second, &loose).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(error_of(&error).1.ends_with("template_mode"), "{error}");
    let (_, after) = second.get("/api/v1/config").await;
    assert_eq!(mode_of(&after, "webhooks", "Strict"), "lax", "the refused document changed nothing");
}

async fn put(app: &TestApp, document: &Value) -> (StatusCode, Value) {
    app.call(Method::PUT, "/api/v1/config", Some(document.clone()), Some(&app.token)).await
}

async fn a_test_send_of_a_strict_webhook_names_the_undefined_variable_and_sends_nothing(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/test"), json!({"template_mode": "strict"})).await;
    let path = format!("/api/v1/webhooks/{webhook}/test");
    let (status, error) = app.post(&path, json!({"payload": TYPO})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["code"], "template_error", "{error}");
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("undefined variable `ticket.subjct`")));
    assert_eq!(error["error"]["details"][0]["unknown_variables"], json!(["ticket.subjct"]), "{error}");
    // Without the typo the strict webhook sends.
    let (status, sent) = app.post(&path, json!({"payload": "{\"subject\": {{ ticket.subject | json }}}"})).await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert!(sent.get("unknown_variables").is_none(), "{sent}");
    assert_eq!(receiver.received().len(), 1, "the failed test sent nothing; the good one was answered");

    // In lax mode the same test sends, listing the variable it rendered empty.
    app.patch(&format!("/api/v1/webhooks/{webhook}"), json!({"template_mode": "lax"})).await;
    let (status, sent) = app.post(&path, json!({"payload": TYPO})).await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["unknown_variables"], json!(["ticket.subjct"]), "{sent}");
    assert_eq!(sent["request"]["body"], "{\"subject\": null}");
    assert_eq!(receiver.received().len(), 2);
}

async fn a_strict_inbound_webhook_refuses_a_call_missing_a_field_and_changes_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, webhook) = app
        .post(
            "/api/v1/inbound_webhooks",
            json!({"name": "Orders", "template_mode": "strict",
                   "actions": [{"type": "create_ticket", "fields": {"subject": "Order {{ request.json.ordr }}",
                       "requester": {"email": "buyer@example.com"}}}],
                   "response": {"status": 201, "body": "{\"ticket\": {{ ticket.id }}}"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    let full = webhook["url"].as_str().expect("url");
    let url = app.url(&full[full.find("/hooks/").expect("a /hooks/ URL")..]);
    let client = reqwest::Client::new();
    let before = ticket_count(&app).await;

    let response = client.post(&url).json(&json!({"order": 7})).send().await.expect("answers");
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.expect("JSON");
    assert_eq!(error["error"]["code"], "invalid_value", "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "actions[0].fields", "{error}");
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("request.json.ordr")), "{error}");
    assert_eq!(ticket_count(&app).await, before, "the refused call created nothing");
    let (_, calls) = app.get(&format!("/api/v1/inbound_webhooks/{}/calls", webhook["id"].as_str().expect("id"))).await;
    assert_eq!(calls["data"][0]["status"], 422, "{calls:#}");

    // What the call does hold renders, and the response sees the new ticket.
    let response = client.post(&url).json(&json!({"ordr": 7})).send().await.expect("answers");
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.expect("JSON");
    let (_, ticket) = app.get(&format!("/api/v1/tickets/{}", answer["ticket"])).await;
    assert_eq!(ticket["subject"], "Order 7");

    // In lax mode the call missing the field succeeds, the field empty.
    let path = format!("/api/v1/inbound_webhooks/{}", webhook["id"].as_str().expect("id"));
    let (status, _) = app.patch(&path, json!({"template_mode": "lax"})).await;
    assert_eq!(status, StatusCode::OK);
    let response = client.post(&url).json(&json!({"order": 7})).send().await.expect("answers");
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.expect("JSON");
    let (_, ticket) = app.get(&format!("/api/v1/tickets/{}", answer["ticket"])).await;
    assert_eq!(ticket["subject"].as_str().map(str::trim), Some("Order"), "{ticket}");
    assert_eq!(ticket_count(&app).await, before + 2);
}

crate::on_both_backends!(
    a_strict_webhook_fails_on_an_undefined_variable_and_sends_nothing_where_lax_delivers,
    a_strict_event_subscription_fails_on_an_undefined_variable,
    the_template_mode_round_trips_through_the_api_and_is_lax_by_default,
    the_template_mode_goes_through_configuration_as_code,
    a_test_send_of_a_strict_webhook_names_the_undefined_variable_and_sends_nothing,
    a_strict_inbound_webhook_refuses_a_call_missing_a_field_and_changes_nothing,
);
