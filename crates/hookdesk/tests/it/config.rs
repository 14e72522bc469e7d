//! Configuration as code through the real server: a configuration exported from one server
//! and applied to another, changes planned then undone by applying the document again,
//! pruning, documents refused whole, and secrets that never leave.

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Db, TestApp, refusal};

/// A configuration with one of everything: a webhook with a secret, the case-tracker trigger
/// notifying it, an automation, a macro and an inbound webhook with a verification secret.
async fn configure(app: &TestApp) {
    let webhook = app
        .webhook(
            "https://intranet.example/case-updated",
            json!({"name": "Intranet", "authentication": {"type": "bearer", "token": "intranet-secret-token"}}),
        )
        .await;
    app.trigger(json!({
        "title": "Send web action",
        "conditions": {"all": [{"field": "tags", "operator": "includes", "value": "send_web_action"}]},
        "actions": [
            {"field": "notify_webhook", "value": {"webhook_id": webhook, "payload": "{\"text\": \"{{ ticket.subject }}\"}"}},
            {"field": "remove_tags", "value": "send_web_action"}]
    }))
    .await;
    app.trigger(json!({"title": "Tag VIPs", "conditions": {"all": [{"field": "requester_email", "operator": "contains", "value": "vip"}]},
        "actions": [{"field": "add_tags", "value": "vip"}]}))
    .await;
    let (status, _) = app
        .post(
            "/api/v1/automations",
            json!({"title": "Close solved", "conditions": {"all": [
                {"field": "hours_since_status_changed", "operator": "greater_than", "value": 96},
                {"field": "status", "operator": "is", "value": "solved"}]},
                "actions": [{"field": "status", "value": "closed"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .post("/api/v1/macros", json!({"title": "Escalate", "actions": [{"field": "priority", "value": "urgent"}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, error) = app
        .post(
            "/api/v1/inbound_webhooks",
            json!({"name": "GitHub", "verify": {"type": "hmac_sha256", "header": "X-Hub-Signature-256", "secret": "github-inbound-secret"},
                "actions": [{"type": "create_ticket", "fields": {"subject": "{{ request.json.title }}",
                    "requester": {"email": "{{ request.json.sender.email }}"}}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{error}");
}

async fn apply(app: &TestApp, document: &Value, query: &str) -> (StatusCode, Value) {
    app.call(Method::PUT, &format!("/api/v1/config{query}"), Some(document.clone()), Some(&app.token)).await
}

fn plan_of(answer: &Value) -> Vec<(String, String, String)> {
    answer["plan"]
        .as_array()
        .expect("a plan")
        .iter()
        .map(|step| {
            let text = |key: &str| step[key].as_str().expect("text").to_owned();
            (text("action"), text("kind"), text("name"))
        })
        .collect()
}

/// The secrets of the exported document, as a variable the test process has (cargo sets it:
/// `.cargo/config.toml`), read by the server as any.
fn with_secrets_from_env(mut document: Value) -> Value {
    document["webhooks"][0]["authentication"]["token"] = json!({"env": "WEBHOOK_CONFIG_TEST_SECRET"});
    document["inbound_webhooks"][0]["verify"]["secret"] = json!({"env": "WEBHOOK_CONFIG_TEST_SECRET"});
    document
}

async fn a_configuration_moves_to_another_server_and_comes_back_after_changes(db: Db) {
    let first = TestApp::spawn(db).await;
    configure(&first).await;
    let (status, exported) = first.get("/api/v1/config").await;
    assert_eq!(status, StatusCode::OK, "{exported}");
    let text = exported.to_string();
    for secret in ["intranet-secret-token", "github-inbound-secret", "/hooks/"] {
        assert!(!text.contains(secret), "the export holds {secret}: {text}");
    }
    assert_eq!(exported["webhooks"][0]["authentication"]["token"], json!({"env": "WEBHOOK_INTRANET_TOKEN"}));
    assert_eq!(exported["triggers"][0]["actions"][0]["value"]["webhook"], "Intranet", "by name, not id");
    let titles: Vec<&str> =
        exported["triggers"].as_array().expect("triggers").iter().filter_map(|t| t["title"].as_str()).collect();
    assert_eq!(titles, ["Send web action", "Tag VIPs"], "in the order they run");

    // Applied to a second server: the same configuration, ids of its own.
    let second = TestApp::spawn(db).await;
    let document = with_secrets_from_env(exported.clone());
    let (status, answer) = apply(&second, &document, "?dry_run=true").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["applied"], false);
    assert_eq!(plan_of(&answer).len(), 6, "{answer}");
    let (_, webhooks) = second.get("/api/v1/webhooks").await;
    assert_eq!(webhooks["data"], json!([]), "a dry run writes nothing");
    let (status, answer) = apply(&second, &document, "").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["applied"], true);
    let created: Vec<String> = plan_of(&answer).iter().map(|(action, kind, _)| format!("{action} {kind}")).collect();
    assert_eq!(
        created,
        [
            "create webhook",
            "create trigger",
            "create trigger",
            "create automation",
            "create macro",
            "create inbound_webhook"
        ]
    );
    let (_, copied) = second.get("/api/v1/config").await;
    assert_eq!(copied, exported, "the second server exports what the first did");
    let (_, answer) = apply(&second, &document, "").await;
    assert_eq!(answer["plan"], json!([]), "applied twice, the second plans nothing: {answer}");
    // The copy works: the trigger notifies the copied webhook with the secret from the environment.
    let (_, webhook) = second.get(&format!("/api/v1/webhooks/{}", copied_id(&second, "Intranet").await)).await;
    assert_eq!(webhook["authentication"], json!({"type": "bearer"}));

    // Changed on the server, then the document applied: back to it, the plan naming each change.
    let id = copied_id(&second, "Intranet").await;
    second
        .patch(&format!("/api/v1/webhooks/{id}"), json!({"endpoint": "https://elsewhere.example/x", "max_retries": 5}))
        .await;
    let (_, triggers) = second.get("/api/v1/triggers").await;
    let ids: Vec<i64> = triggers["data"].as_array().expect("data").iter().filter_map(|t| t["id"].as_i64()).collect();
    second
        .call(Method::PUT, "/api/v1/triggers/order", Some(json!({"ids": [ids[1], ids[0]]})), Some(&second.token))
        .await;
    let (status, _) = second
        .post("/api/v1/macros", json!({"title": "Extra", "actions": [{"field": "status", "value": "open"}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, answer) = apply(&second, &document, "").await;
    let steps = answer["plan"].as_array().expect("plan").clone();
    let webhook_step = steps.iter().find(|s| s["kind"] == "webhook").expect("the webhook changes back");
    assert_eq!(webhook_step["changes"]["max_retries"], json!({"from": 5, "to": 3}), "{answer}");
    assert_eq!(webhook_step["changes"]["endpoint"]["to"], "https://intranet.example/case-updated");
    assert!(steps.iter().any(|s| s["kind"] == "trigger" && s["changes"]["position"].is_object()), "{answer}");
    assert!(!steps.iter().any(|s| s["action"] == "delete"), "nothing is deleted without prune: {answer}");
    let (_, after) = second.get("/api/v1/config").await;
    assert_eq!(after["triggers"], exported["triggers"], "the order is the document's again");
    assert_eq!(after["macros"].as_array().map(Vec::len), Some(2), "the extra macro stays");
    // With prune, what the document leaves out goes.
    let (_, answer) = apply(&second, &document, "?prune=true").await;
    assert_eq!(plan_of(&answer), [("delete".to_owned(), "macro".to_owned(), "Extra".to_owned())]);
    let (_, after) = second.get("/api/v1/config").await;
    assert_eq!(after, exported);
}

async fn copied_id(app: &TestApp, name: &str) -> String {
    let (_, webhooks) = app.get("/api/v1/webhooks").await;
    webhooks["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|w| w["name"] == name)
        .and_then(|w| w["id"].as_str())
        .expect("the webhook")
        .to_owned()
}

async fn a_document_that_does_not_hold_changes_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    configure(&app).await;
    let (_, before) = app.get("/api/v1/config").await;
    let document = with_secrets_from_env(before.clone());

    // A trigger notifying a webhook no one has, after a change that would otherwise apply.
    let mut dangling = document.clone();
    dangling["webhooks"][0]["max_retries"] = json!(7);
    dangling["triggers"][1]["actions"] =
        json!([{"field": "notify_webhook", "value": {"webhook": "Nowhere", "payload": "{}"}}]);
    let (status, error) = apply(&app, &dangling, "").await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "triggers[1].actions[0].value.webhook", "{error}");
    assert!(
        error["error"]["message"].as_str().is_some_and(|m| m.contains("Tag VIPs") && m.contains("Nowhere")),
        "{error}"
    );

    // A template that does not parse, in a macro.
    let mut broken = document.clone();
    broken["macros"][0]["actions"] = json!([{"field": "add_comment", "value": {"body": "{{ ticket.id "}}]);
    let (status, error) = apply(&app, &broken, "").await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "macros[0].actions[0].value.body", "{error}");

    // A secret whose variable the server does not have.
    let mut unset = document.clone();
    unset["webhooks"][0]["authentication"]["token"] = json!({"env": "WEBHOOK_NO_SUCH_VARIABLE"});
    let (status, error) = apply(&app, &unset, "").await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "webhooks[0].authentication.token");
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("WEBHOOK_NO_SUCH_VARIABLE")), "{error}");

    // The server's own settings are not a secret's to read: a test send would show them.
    let mut settings = document.clone();
    settings["webhooks"][0]["authentication"]["token"] = json!({"env": "HOOKDESK_SECRET_KEY"});
    let (status, error) = apply(&app, &settings, "").await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "webhooks[0].authentication.token");
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("WEBHOOK_...")), "{error}");

    // Pruning a webhook that a kept trigger notifies.
    let mut orphan = document.clone();
    orphan["webhooks"] = json!([]);
    orphan.as_object_mut().expect("object").remove("triggers");
    let (status, error) = apply(&app, &orphan, "?prune=true").await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");

    let (_, after) = app.get("/api/v1/config").await;
    assert_eq!(after, before, "nothing changed");
}

async fn yaml_goes_both_ways(db: Db) {
    let app = TestApp::spawn(db).await;
    configure(&app).await;
    let client = reqwest::Client::new();
    let yaml = client
        .get(app.url("/api/v1/config"))
        .bearer_auth(&app.token)
        .header("accept", "application/yaml")
        .send()
        .await
        .expect("answers");
    assert_eq!(yaml.headers()["content-type"], "application/yaml");
    let text = yaml.text().await.expect("yaml");
    assert!(text.contains("name: Intranet") && text.contains("env: WEBHOOK_INTRANET_TOKEN"), "{text}");
    let text = text
        .replace("env: WEBHOOK_INTRANET_TOKEN", "env: WEBHOOK_CONFIG_TEST_SECRET")
        .replace("env: INBOUND_GITHUB_SECRET", "env: WEBHOOK_CONFIG_TEST_SECRET");
    let applied = client
        .put(app.url("/api/v1/config"))
        .bearer_auth(&app.token)
        .header("content-type", "application/yaml")
        .body(text)
        .send()
        .await
        .expect("answers");
    assert_eq!(applied.status(), StatusCode::OK);
    let answer: Value = applied.json().await.expect("json");
    let kinds: Vec<&str> = answer["plan"].as_array().expect("plan").iter().filter_map(|s| s["kind"].as_str()).collect();
    assert_eq!(kinds, ["webhook", "inbound_webhook"], "only the secrets changed: {answer}");
    let broken = client
        .put(app.url("/api/v1/config"))
        .bearer_auth(&app.token)
        .header("content-type", "application/yaml")
        .body("webhooks: [unclosed")
        .send()
        .await
        .expect("answers");
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    let error: Value = broken.json().await.expect("json");
    assert_eq!(error["error"]["code"], "malformed_yaml", "{error}");
    // Nesting deeper than any configuration is refused before the YAML scanner, whose work
    // grows with its square, runs (100,000 levels took 45 s).
    for deep in [
        format!("webhooks: {}", "[".repeat(100_000)),
        "- ".repeat(100_000),
        "{a: ".repeat(100_000),
        "&a [".repeat(100_000),
    ] {
        let started = std::time::Instant::now();
        let refused = client
            .put(app.url("/api/v1/config"))
            .bearer_auth(&app.token)
            .header("content-type", "application/yaml")
            .body(deep)
            .send()
            .await
            .expect("answers");
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let error: Value = refused.json().await.expect("json");
        assert_eq!(error["error"]["code"], "malformed_yaml", "{error}");
        assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("deeper than 64")), "{error}");
        eprintln!("100,000 levels of YAML refused in {:?}", started.elapsed());
    }
    // Agents may not.
    let (_, agent) = crate::support::user_with_token(&app, "agent@example.com", "agent").await;
    let (status, error) = app.call(Method::GET, "/api/v1/config", None, Some(&agent)).await;
    assert_eq!(refusal(status, &error), (403, "forbidden".into()), "{error}");
}

crate::on_both_backends!(
    a_configuration_moves_to_another_server_and_comes_back_after_changes,
    a_document_that_does_not_hold_changes_nothing,
    yaml_goes_both_ways,
);

/// Every document a server exports holds to the published JSON Schema (`hookdesk config
/// schema`), and one that does not is caught by it.
#[tokio::test]
async fn exported_documents_hold_to_the_published_schema() {
    let app = TestApp::spawn(Db::Sqlite).await;
    configure(&app).await;
    let (_, exported) = app.get("/api/v1/config").await;
    let schema = hookdesk_server::app::document_schema();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("urn:hookdesk:config", schema).expect("the schema is a resource");
    let index = compiler.compile("urn:hookdesk:config", &mut schemas).expect("the schema compiles");
    if let Err(error) = schemas.validate(&exported, index) {
        panic!("the export does not hold to the schema: {error:#}\n{exported:#}");
    }
    let mut wrong = exported.clone();
    wrong["triggers"][0]["actions"][0]["value"]["webhook_id"] = json!("wh_1");
    assert!(schemas.validate(&wrong, index).is_err(), "a document naming a webhook by id is caught");
    wrong = exported;
    wrong["macros"][0]["actions"] = json!([{"field": "notify_webhook", "value": {"webhook": "Intranet"}}]);
    assert!(schemas.validate(&wrong, index).is_err(), "a macro notifying is caught");
}

/// The README's worked example: `hookdesk config export` from one server to a file, `config
/// apply` of it to another, as processes of the real binary.
#[tokio::test]
async fn the_command_line_exports_and_applies() {
    let first = TestApp::spawn(Db::Sqlite).await;
    configure(&first).await;
    let second = TestApp::spawn(Db::Sqlite).await;
    let dir = tempfile::tempdir().expect("a folder");
    let file = dir.path().join("hookdesk.yaml");
    let run = |app: &TestApp, args: &[&str]| {
        let mut command = crate::serve_process::hookdesk();
        command.args(args).env("HOOKDESK_SERVER", app.url("")).env("HOOKDESK_TOKEN", &app.token);
        command.output()
    };
    let exported = run(&first, &["config", "export"]).await.expect("runs");
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    let yaml = String::from_utf8(exported.stdout).expect("text");
    std::fs::write(
        &file,
        yaml.replace("env: WEBHOOK_INTRANET_TOKEN", "env: WEBHOOK_CONFIG_TEST_SECRET")
            .replace("env: INBOUND_GITHUB_SECRET", "env: WEBHOOK_CONFIG_TEST_SECRET"),
    )
    .expect("written");
    let path = file.to_str().expect("a path");
    let planned = run(&second, &["config", "apply", path, "--dry-run"]).await.expect("runs");
    let text = String::from_utf8_lossy(&planned.stdout);
    assert!(text.contains("+ create webhook \"Intranet\"") && text.contains("6 to create"), "{text}");
    assert!(text.contains("dry run: nothing applied"), "{text}");
    let applied = run(&second, &["config", "apply", path]).await.expect("runs");
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let again = run(&second, &["config", "apply", path]).await.expect("runs");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to change"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    // A wrong token is said in words.
    let mut command = crate::serve_process::hookdesk();
    let refused = command
        .args(["config", "export"])
        .env("HOOKDESK_SERVER", second.url(""))
        .env("HOOKDESK_TOKEN", "not-the-token")
        .output()
        .await
        .expect("runs");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"), "{}", String::from_utf8_lossy(&refused.stderr));
}
