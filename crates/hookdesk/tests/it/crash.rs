//! A crash loses nothing: `kill -9` while a thousand invocations are queued or in flight, a
//! restart, and every one of them arrives at least once.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::support::{Receiver, Reply, api, shared_key, start_node};

const INVOCATIONS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_a_thousand_invocations_queued_or_in_flight_loses_none() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = format!("sqlite://{}/hookdesk.db", dir.path().display());
    let (_key_dir, key_file) = shared_key();
    // A slow receiver: requests pile up in the queue and sixteen are always in flight.
    let receiver = Receiver::responding(|_| Reply::status(200).after(Duration::from_millis(150))).await;
    let options = ["--concurrency", "16"];
    let mut node = start_node(&database, &key_file, &options).await;

    let client = reqwest::Client::new();
    let post = reqwest::Method::POST;
    let webhook = api(
        &client,
        post.clone(),
        format!("{}/api/v1/webhooks", node.url),
        json!({
            "name": "slow", "endpoint": receiver.url("/slow"), "max_retries": 10
        }),
    )
    .await
    .expect("webhook");
    api(
        &client,
        post.clone(),
        format!("{}/api/v1/triggers", node.url),
        json!({
            "title": "On create",
            "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
            "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook["id"]}}]
        }),
    )
    .await
    .expect("trigger");
    let mut creates = tokio::task::JoinSet::new();
    for client_number in 0..8 {
        let (client, url) = (client.clone(), node.url.clone());
        creates.spawn(async move {
            for n in (client_number..INVOCATIONS).step_by(8) {
                let body = json!({"subject": format!("crash {n}")});
                api(&client, reqwest::Method::POST, format!("{url}/api/v1/tickets"), body).await.expect("ticket");
            }
        });
    }
    while let Some(done) = creates.join_next().await {
        done.expect("the clients finish");
    }

    let before_kill = receiver.received().len();
    assert!(before_kill < INVOCATIONS, "some are still queued when the process dies ({before_kill} arrived)");
    node.child.kill().await.expect("kill -9");

    let node = start_node(&database, &key_file, &options).await;
    // Wait until the log shows nothing open: the dead process's claims come back when their
    // leases end and are sent again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    for status in ["pending", "retrying"] {
        loop {
            let url = format!("{}/api/v1/invocations?status={status}&limit=1", node.url);
            let listed = api(&client, reqwest::Method::GET, url, json!(null)).await.expect("list");
            if listed["data"].as_array().is_some_and(Vec::is_empty) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "invocations still {status}: {listed}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let url = format!("{}/api/v1/invocations?status=failed&limit=1", node.url);
    let failed = api(&client, reqwest::Method::GET, url, json!(null)).await.expect("list");
    assert_eq!(failed["data"], json!([]), "none failed");

    let mut counts: HashMap<String, usize> = HashMap::new();
    for request in receiver.received() {
        *counts.entry(request.header("webhook-id").expect("webhook-id").to_owned()).or_default() += 1;
    }
    let delivered = counts.len();
    let duplicated: usize = counts.values().map(|n| n - 1).sum();
    let lost = INVOCATIONS - delivered;
    eprintln!(
        "kill -9 with {INVOCATIONS} queued or in flight ({before_kill} had arrived before the kill): \
         delivered {delivered}, duplicated {duplicated}, lost {lost}"
    );
    assert_eq!(lost, 0);
    // Only what was in flight at the kill, or answered but not yet recorded, can arrive twice.
    assert!(duplicated <= 32, "more duplicates than requests in flight and unrecorded: {duplicated}");
}
