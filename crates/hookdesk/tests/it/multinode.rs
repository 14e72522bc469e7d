//! Several `hookdesk serve` processes on one PostgreSQL database, as a team runs them behind
//! a load balancer: nothing accepted is lost when one of them is killed.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::support::{Db, Node, Receiver, TestDatabase, api, postgres_available, shared_key, start_node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_lose_nothing_when_one_is_killed() {
    if !postgres_available().await {
        return;
    }
    const UPDATES: usize = 5000;
    const TICKETS: usize = 100;
    const CLIENTS: usize = 24;

    let postgres = TestDatabase::new(Db::Postgres).await;
    let database = postgres.url.clone();
    let (_dir, key_file) = shared_key();
    let receiver = Receiver::start().await;

    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(start_node(&database, &key_file, &[]).await);
    }
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let client = reqwest::Client::new();
    let post = reqwest::Method::POST;
    let webhook = api(
        &client,
        post.clone(),
        format!("{}/api/v1/webhooks", urls[0]),
        json!({"name": "sink", "endpoint": receiver.url("/sink"), "max_retries": 10}),
    )
    .await
    .expect("webhook");
    api(&client, post.clone(), format!("{}/api/v1/triggers", urls[1]), json!({
        "title": "Every change",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "change"}]},
        "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook["id"], "payload": "{\"ticket\": {{ ticket.id }}, \"subject\": {{ ticket.subject | json }}}"}}]
    }))
    .await
    .expect("trigger");
    let mut tickets = Vec::new();
    for i in 0..TICKETS {
        let ticket = api(
            &client,
            post.clone(),
            format!("{}/api/v1/tickets", urls[i % 3]),
            json!({"subject": format!("ticket {i}")}),
        )
        .await
        .expect("ticket");
        tickets.push(ticket["id"].as_i64().expect("id"));
    }

    // 5,000 updates spread over the three nodes; the third is killed half-way. Like a load
    // balancer, a client whose node is gone sends to another one.
    let next = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (client, urls, tickets, next, accepted, killed) =
            (client.clone(), urls.clone(), tickets.clone(), next.clone(), accepted.clone(), killed.clone());
        clients.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= UPDATES {
                    return;
                }
                let mut node = n % 3;
                if node == 2 && killed.load(Ordering::Relaxed) {
                    node = n % 2;
                }
                let url = format!("{}/api/v1/tickets/{}", urls[node], tickets[n % tickets.len()]);
                match api(&client, reqwest::Method::PATCH, url, json!({"subject": format!("update {n}")})).await {
                    Ok(_) => {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    // The killed node's in-flight requests fail; their updates were not accepted.
                    Err(e) => assert!(node == 2, "a live node refused an update: {e}"),
                }
            }
        });
    }
    while next.load(Ordering::Relaxed) < UPDATES / 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nodes[2].child.start_kill().expect("SIGKILL");
    killed.store(true, Ordering::Relaxed);
    nodes[2].child.wait().await.expect("the killed node exits");
    while let Some(done) = clients.join_next().await {
        done.expect("client task");
    }
    let accepted = accepted.load(Ordering::Relaxed);

    // Every invocation in the database must reach the receiver; the killed node's claims
    // come back when their leases end.
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(&database).await.expect("connect");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invocations WHERE status <> 'succeeded'")
            .fetch_one(&mut db)
            .await
            .expect("count");
        if open == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{open} invocations were never delivered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let queued: Vec<String> = sqlx::query_scalar("SELECT id FROM invocations").fetch_all(&mut db).await.expect("ids");
    db.close().await.ok();
    let received = receiver.received();
    let delivered: HashSet<&str> = received.iter().filter_map(|r| r.header("webhook-id")).collect();
    let lost = queued.iter().filter(|id| !delivered.contains(id.as_str())).count();
    let duplicates = received.len() - delivered.len();
    println!(
        "updates accepted: {accepted} of {UPDATES}; invocations queued: {}; delivered: {}; duplicates: {duplicates}; lost: {lost}",
        queued.len(),
        delivered.len()
    );
    assert!(queued.len() >= accepted, "every accepted update queued its invocation");
    assert!(accepted >= UPDATES / 2, "the live nodes accepted the rest");
    assert_eq!(lost, 0, "no invocation may be lost");
    assert_eq!(delivered.len(), queued.len(), "nothing delivered that was not queued");

    for mut node in nodes {
        let _ = node.child.start_kill();
        let _ = node.child.wait().await;
    }
}

/// The nodes whose `/healthz` says they run the retention purge: (index, node id).
async fn purge_holders(nodes: &[Node]) -> Vec<(usize, String)> {
    let client = reqwest::Client::new();
    let mut holders = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let Ok(response) = client.get(format!("{}/healthz", node.url)).send().await else { continue };
        let health: serde_json::Value = response.json().await.expect("JSON health");
        if health["singletons"].as_array().is_some_and(|jobs| jobs.iter().any(|j| j == "retention_purge")) {
            holders.push((i, health["node"].as_str().expect("a node id").to_owned()));
        }
    }
    holders
}

/// The purge's lease as the database holds it: (holder, expires at, in ms).
async fn purge_lease(db: &mut sqlx::PgConnection) -> (String, i64) {
    sqlx::query_as("SELECT holder, expires_at FROM leases WHERE name = 'retention_purge'")
        .fetch_one(db)
        .await
        .expect("the purge's lease")
}

/// The nodes' `--background-interval`; a lease lasts three of them.
const BACKGROUND_INTERVAL_MS: i64 = 300;

/// Waits until exactly one node runs the purge, then until it has renewed its lease at or
/// after the moment the lease it held when first seen expires: by then, had it stopped
/// renewing, or had another node taken the job too, another holder would have shown.
async fn single_holder(nodes: &[Node], database: &str) -> usize {
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(database).await.expect("connect");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut first_seen = None;
    loop {
        let holders = purge_holders(nodes).await;
        assert!(holders.len() <= 1, "two nodes ran the purge at once: {holders:?}");
        if let [(holder, ref id)] = holders[..] {
            let (leased_to, expires_at) = purge_lease(&mut db).await;
            assert_eq!(&leased_to, id, "the node that says it runs the purge holds its lease");
            match first_seen {
                None => first_seen = Some((holder, expires_at)),
                Some((first, _)) => assert_eq!(holder, first, "the purge moved while its node lived"),
            }
            if first_seen.is_some_and(|(_, first)| expires_at >= first + 3 * BACKGROUND_INTERVAL_MS) {
                db.close().await.ok();
                return holder;
            }
        } else {
            assert!(first_seen.is_none(), "the purge stopped while its node lived: {holders:?}");
        }
        assert!(tokio::time::Instant::now() < deadline, "no node took the purge and kept it: {holders:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Inserts a finished invocation completed two hours ago and waits until the purge removes it.
async fn old_invocation_is_purged(database: &str, id: &str) {
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(database).await.expect("connect");
    let two_hours_ago = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis()
        as i64
        - 7_200_000;
    sqlx::query(
        "INSERT INTO invocations (id, webhook_id, status, request, max_retries, attempts, created_at, completed_at)
         VALUES ($1, 'wh_old', 'succeeded', 'null', 3, 1, $2, $2)",
    )
    .bind(id)
    .bind(two_hours_ago)
    .execute(&mut db)
    .await
    .expect("insert");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invocations WHERE id = $1")
            .bind(id)
            .fetch_one(&mut db)
            .await
            .expect("count");
        if left == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the purge did not run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_runs_the_retention_purge_and_another_takes_it_over_when_it_dies() {
    if !postgres_available().await {
        return;
    }
    let postgres = TestDatabase::new(Db::Postgres).await;
    let database = postgres.url.clone();
    let (_dir, key_file) = shared_key();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let interval = format!("{BACKGROUND_INTERVAL_MS}ms");
        nodes.push(start_node(&database, &key_file, &["--background-interval", &interval, "--retention", "1h"]).await);
    }

    let holder = single_holder(&nodes, &database).await;
    old_invocation_is_purged(&database, "inv_old_1").await;

    nodes[holder].child.start_kill().expect("SIGKILL");
    nodes[holder].child.wait().await.expect("exits");
    let dead = nodes.remove(holder);
    let successor = single_holder(&nodes, &database).await;
    println!("the purge moved from {} to {} after a SIGKILL", dead.url, nodes[successor].url);
    old_invocation_is_purged(&database, "inv_old_2").await;

    for mut node in nodes {
        let _ = node.child.start_kill();
        let _ = node.child.wait().await;
    }
}
