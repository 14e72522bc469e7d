//! What the real binary logs on stderr when it is not a terminal: one access line per
//! request with the route template, no colour codes, no token; one JSON object per line with
//! `--log-format json`.

use serde_json::Value;

use crate::serve_process::serve;
use crate::support::Db;

/// A token-shaped path segment that must never appear in a log.
const HOOK_TOKEN: &str = "n0t-a-real-hook-token-but-secret-all-the-same";
const ADMIN_TOKEN: &str = "logs-test-admin-token-0123456789";

/// One API request (a ticket that does not exist) and one inbound webhook call.
async fn two_requests(url: &str) {
    let client = reqwest::Client::new();
    let response =
        client.get(format!("{url}/api/v1/tickets/42")).bearer_auth(ADMIN_TOKEN).send().await.expect("answers");
    assert_eq!(crate::support::status_and_code(response).await, (404, "not_found".into()));
    let response = client.post(format!("{url}/hooks/{HOOK_TOKEN}/some/path")).body("x").send().await.expect("answers");
    assert_eq!(crate::support::status_and_code(response).await, (404, "not_found".into()));
}

fn assert_clean(lines: &[String]) {
    for line in lines {
        assert!(!line.contains("\x1b["), "no ANSI codes when stderr is no terminal: {line:?}");
        assert!(!line.contains(ADMIN_TOKEN) && !line.contains(HOOK_TOKEN), "no token: {line}");
    }
}

crate::on_both_backends!(
    each_request_logs_one_access_line_with_its_route_template_and_no_token,
    with_log_format_json_every_line_is_a_json_object,
);

async fn each_request_logs_one_access_line_with_its_route_template_and_no_token(db: Db) {
    let node = serve(db, ADMIN_TOKEN, &[]).await;
    two_requests(&node.url).await;
    let api = node.stderr_line(|l| l.contains("hookdesk::access") && l.contains("/api/v1/")).await;
    for part in ["INFO", "method=GET", "route=/api/v1/tickets/{id}", "status=404", "duration_ms="] {
        assert!(api.contains(part), "{part} in {api}");
    }
    let hook = node.stderr_line(|l| l.contains("hookdesk::access") && l.contains("/hooks/")).await;
    for part in ["method=POST", "route=/hooks/{token}/{*path}", "status=404"] {
        assert!(hook.contains(part), "{part} in {hook}");
    }
    assert_clean(&node.stderr());
    node.stop().await;
}

async fn with_log_format_json_every_line_is_a_json_object(db: Db) {
    let node = serve(db, ADMIN_TOKEN, &["--log-format", "json"]).await;
    two_requests(&node.url).await;
    node.stderr_line(|l| l.contains("/hooks/{token}")).await;
    let lines = node.stderr();
    assert_clean(&lines);
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON object ({e}): {l}")))
        .collect();
    let access = events
        .iter()
        .find(|e| e["target"] == "hookdesk::access" && e["method"] == "GET")
        .unwrap_or_else(|| panic!("an access line: {lines:#?}"));
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["route"], "/api/v1/tickets/{id}");
    assert_eq!(access["status"], 404);
    assert!(access["duration_ms"].is_number(), "{access}");
    node.stop().await;
}
