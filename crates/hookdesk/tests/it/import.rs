//! Importing a Zendesk export (written by hand from Zendesk's documented shapes, in
//! `fixtures/zendesk/`): reported first, then imported; the case-tracker trigger fires on a
//! real update as Zendesk's would and delivers to a real receiver; what cannot map is said.

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Db, Receiver, TestApp, refusal};

/// The export's four files as one body, the receiver's address put in.
fn export(receiver: &Receiver) -> Value {
    let mut body = serde_json::Map::new();
    for file in ["webhooks", "triggers", "automations", "macros"] {
        let path = format!("{}/tests/it/fixtures/zendesk/{file}.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("the fixture").replace("RECEIVER", &receiver.url(""));
        let document: Value = serde_json::from_str(&text).expect("JSON");
        body.insert(file.into(), document[file].clone());
    }
    Value::Object(body)
}

async fn import(app: &TestApp, body: &Value, query: &str) -> (StatusCode, Value) {
    app.call(Method::POST, &format!("/api/v1/imports/zendesk{query}"), Some(body.clone()), Some(&app.token)).await
}

fn reasons(report: &Value) -> Vec<(String, String)> {
    report["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .map(|s| (s["title"].as_str().expect("title").to_owned(), s["reason"].as_str().expect("reason").to_owned()))
        .collect()
}

async fn a_zendesk_export_is_reported_then_imported_and_its_trigger_fires(db: Db) {
    let app = TestApp::spawn(db).await;
    let receiver = Receiver::start().await;
    let body = export(&receiver);

    // A dry run reports and writes nothing.
    let (status, report) = import(&app, &body, "?dry_run=true").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["created"]["webhooks"], json!(["Case tracker"]), "{report:#}");
    assert_eq!(report["created"]["triggers"], json!(["Send web action", "Escalate urgent to tier 2"]));
    assert_eq!(report["created"]["automations"], json!(["Close ticket 4 days after status is set to solved"]));
    assert_eq!(report["created"]["macros"], json!(["Close and redirect to topics"]));
    let (_, webhooks) = app.get("/api/v1/webhooks").await;
    assert_eq!(webhooks["data"], json!([]), "a dry run creates nothing");

    // What cannot map is named, condition by condition.
    let skipped = reasons(&report);
    let about = |title: &str| skipped.iter().find(|(t, _)| t == title).map(|(_, r)| r.clone()).unwrap_or_default();
    assert!(about("Notify requester of comment update").contains("via_id"), "{skipped:?}");
    assert!(about("Pending reminder in business hours").contains("business hours"), "{skipped:?}");
    assert!(about("Org sync").contains("subscriptions"), "{skipped:?}");
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("Case tracker") && warnings.contains("inactive"), "no secret exported: {warnings}");
    assert!(warnings.contains("group_id"), "the escalation's group action is left out, said: {warnings}");

    // Imported with the webhook's secret.
    let mut body = body;
    body["credentials"] = json!({"01GPYWEKT1TB2R4WKGR0S8WBCW": {"token": "zendesk-bearer-token"}});
    let (status, report) = import(&app, &body, "").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["dry_run"], false);
    let webhook_id = report["created"]["webhooks"][0].as_str().expect("a webhook id").to_owned();
    assert!(webhook_id.starts_with("wh_"), "{report}");
    let (_, webhook) = app.get(&format!("/api/v1/webhooks/{webhook_id}")).await;
    assert_eq!(
        (webhook["status"].as_str(), webhook["authentication"]["type"].as_str()),
        (Some("active"), Some("bearer"))
    );
    let (_, triggers) = app.get("/api/v1/triggers").await;
    let escalation = &triggers["data"][1];
    assert_eq!(escalation["active"], false, "imported inactive without its group action");

    // The case-tracker trigger, as Zendesk's: on a change that adds the tag, one POST with the
    // payload, placeholders in hookdesk's names, then the tag is gone.
    let ticket = app.ticket(json!({"subject": "Printer on fire", "requester": {"email": "ann@example.com"}})).await;
    let (status, updated) =
        app.patch(&format!("/api/v1/tickets/{}", ticket["id"]), json!({"add_tags": ["send_web_action"]})).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["tags"], json!([]), "the trigger removed its tag");
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/case-updated");
    let payload: Value = serde_json::from_str(&received[0].body).expect("a JSON payload");
    assert_eq!(payload["text"], format!("Case {} updated: Printer on fire", ticket["id"]));
    assert!(payload["link"].as_str().is_some_and(|l| l.ends_with(&format!("/tickets/{}", ticket["id"]))), "{payload}");
    assert_eq!(received[0].header("authorization"), Some("Bearer zendesk-bearer-token"));
    assert_eq!(received[0].header("x-source"), Some("zendesk"));

    // The macro, its comment public and its placeholders renamed.
    let macro_id = report["created"]["macros"][0].as_i64().expect("a macro id");
    let (status, applied) = app
        .call(Method::POST, &format!("/api/v1/tickets/{}/macros/{macro_id}", ticket["id"]), None, Some(&app.token))
        .await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["status"], "solved");
    let comment = applied["comments"].as_array().and_then(|c| c.last()).expect("a comment").clone();
    assert_eq!(comment["public"], true);
    assert!(comment["body"].as_str().is_some_and(|b| b.contains("Printer on fire is answered")), "{comment}");

    // The automation: solved for 96 hours, then closed.
    let (_, automations) = app.get("/api/v1/automations").await;
    let conditions = automations["data"][0]["conditions"]["all"].to_string();
    assert!(conditions.contains("hours_since_status_changed") && conditions.contains("96"), "{conditions}");

    // Imported again: the new objects take names of their own, nothing is replaced.
    let (status, again) = import(&app, &body, "").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let (_, webhooks) = app.get("/api/v1/webhooks").await;
    let names: Vec<&str> =
        webhooks["data"].as_array().expect("data").iter().filter_map(|w| w["name"].as_str()).collect();
    assert!(names.contains(&"Case tracker") && names.contains(&"Case tracker (2)"), "{names:?}");
}

async fn an_import_the_checks_refuse_changes_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let bad = json!({"macros": [{"id": 1, "title": "Broken", "actions": [{"field": "comment_value", "value": "{{ticket.title"}]}],
        "triggers": [{"id": 2, "title": "Fine", "conditions": {"all": [{"field": "status", "operator": "is", "value": "new"}]},
            "actions": [{"field": "current_tags", "value": "x"}]}]});
    let (status, error) = import(&app, &bad, "").await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("Broken")), "{error}");
    let (_, triggers) = app.get("/api/v1/triggers").await;
    assert_eq!(triggers["data"], json!([]), "the fine trigger was not created either");
    let (status, error) = import(&app, &json!({"tickets": []}), "").await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
}

/// The same import in the UI: Zendesk's answers pasted one after the other, previewed, then
/// imported.
async fn the_ui_previews_then_imports(db: Db) {
    let app = TestApp::spawn(db).await;
    let receiver = Receiver::start().await;
    let mut ui = crate::ui::UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let pasted: String = ["webhooks", "triggers", "automations", "macros"]
        .iter()
        .map(|file| {
            let path = format!("{}/tests/it/fixtures/zendesk/{file}.json", env!("CARGO_MANIFEST_DIR"));
            std::fs::read_to_string(path).expect("the fixture").replace("RECEIVER", &receiver.url(""))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let triggers = ui.get("/ui/triggers").await.text().await.expect("a page");
    assert!(triggers.contains("href=\"/ui/import\""), "the triggers page leads to the import");
    let preview = ui.post("/ui/import", &[("export", &pasted), ("credentials", ""), ("action", "preview")]).await;
    assert_eq!(preview.status(), StatusCode::OK);
    let page = preview.text().await.expect("a page");
    assert!(page.contains("Would be created") && page.contains("trigger Send web action"), "{page}");
    assert!(page.contains("via_id"), "what cannot map is said");
    let (_, webhooks) = app.get("/api/v1/webhooks").await;
    assert_eq!(webhooks["data"], json!([]), "a preview creates nothing");
    let credentials = r#"{"01GPYWEKT1TB2R4WKGR0S8WBCW": {"token": "zendesk-bearer-token"}}"#;
    let imported =
        ui.post("/ui/import", &[("export", &pasted), ("credentials", credentials), ("action", "import")]).await;
    assert_eq!(imported.status(), StatusCode::OK);
    assert!(imported.text().await.expect("a page").contains("Created"));
    let (_, webhooks) = app.get("/api/v1/webhooks").await;
    assert_eq!(webhooks["data"][0]["status"], "active");
    let broken = ui.post("/ui/import", &[("export", "{not json"), ("credentials", ""), ("action", "preview")]).await;
    assert_eq!(broken.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

crate::on_both_backends!(
    the_ui_previews_then_imports,
    a_zendesk_export_is_reported_then_imported_and_its_trigger_fires,
    an_import_the_checks_refuse_changes_nothing,
);
