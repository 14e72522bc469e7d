//! `--timezone`: templates show dates in the server's zone. A process of its own (the zone is
//! the process's setting; the other tests' servers share theirs, UTC).

use serde_json::json;

use crate::support::{api, shared_key, start_node};

#[tokio::test]
async fn dates_render_in_the_servers_time_zone() {
    let (dir, key_file) = shared_key();
    let database = format!("sqlite://{}/hookdesk.db", dir.path().display());
    let node = start_node(&database, &key_file, &["--timezone", "America/New_York"]).await;
    let client = reqwest::Client::new();
    let webhook = api(
        &client,
        reqwest::Method::POST,
        format!("{}/api/v1/inbound_webhooks", node.url),
        json!({"name": "Clock", "response": {"status": 200, "body": "{{ '2026-03-04T05:06:07Z' | date: '%b %-d, %H:%M %Z' }}"}}),
    )
    .await
    .expect("an inbound webhook");
    let url = webhook["url"].as_str().expect("url");
    let path = &url[url.find("/hooks/").expect("a /hooks/ URL")..];
    let answer = client.post(format!("{}{path}", node.url)).send().await.expect("answers");
    assert_eq!(answer.text().await.expect("a body"), "Mar 4, 00:06 EST");

    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookdesk"))
        .args(["serve", "--timezone", "Mars/Olympus"])
        .output()
        .await
        .expect("runs");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("IANA name"), "{refused:?}");
}
