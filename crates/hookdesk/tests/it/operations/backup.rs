//! `hookdesk backup` copies a running SQLite database while updates pour in; a server starts
//! on the copy, and the copy holds exactly the tickets and invocations committed at one
//! moment between the command's start and end.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{Db, Receiver, TestApp};

async fn hookdesk(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hookdesk"))
        .args(args)
        .env_remove("HOOKDESK_SECRET_KEY")
        .output()
        .await
        .expect("the hookdesk binary runs")
}

#[tokio::test]
async fn a_backup_taken_under_load_restores_to_a_server_with_the_moments_tickets_and_invocations() {
    let receiver = Receiver::start().await;
    let app = Arc::new(TestApp::spawn(Db::Sqlite).await);
    let webhook = app.webhook(&receiver.url("/backup"), json!({})).await;
    app.notify_on_create(&webhook, json!({})).await;

    let (stop, created) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (app, stop, created) = (app.clone(), stop.clone(), created.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) && created.load(Ordering::Relaxed) < 400 {
                app.ticket(json!({"subject": "Under load"})).await;
                created.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while created.load(Ordering::Relaxed) < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let copy = dir.path().join("copy.db");
    let database = app.config.database.database.clone();
    let key_file = app.config.database.secret_key_file.clone().expect("tests give a key file");
    let key_arg = key_file.to_str().expect("a UTF-8 path");
    let at_least = created.load(Ordering::Relaxed);
    let backup =
        hookdesk(&["backup", copy.to_str().expect("path"), "--database", &database, "--secret-key-file", key_arg])
            .await;
    let at_most = created.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    load.await.expect("the load ends");
    let (stdout, stderr) = (String::from_utf8_lossy(&backup.stdout), String::from_utf8_lossy(&backup.stderr));
    assert!(backup.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("Backed up "), "{stdout}");
    assert!(stderr.contains("IMPORTANT") && stderr.contains(key_arg), "the key is named, loudly: {stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).expect("the copy").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner reads a backup");
    }

    // A backup never overwrites; PostgreSQL has its own tools.
    let again = hookdesk(&["backup", copy.to_str().expect("path"), "--database", &database]).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"), "{again:?}");
    let postgres = hookdesk(&["backup", "/tmp/never.db", "--database", "postgres://localhost/hookdesk"]).await;
    assert!(!postgres.status.success());
    assert!(String::from_utf8_lossy(&postgres.stderr).contains("pg_dump"), "{postgres:?}");

    // Restored: a server starts on the copy with the same key.
    let restored = TestApp::spawn_with(Db::Sqlite, |c| {
        c.database.database = format!("sqlite://{}", copy.display());
        c.database.secret_key_file = Some(key_file.clone());
    })
    .await;
    // The running node's leases stayed behind: the restored server takes the jobs as soon as
    // its background task starts, not after three automation intervals (15 minutes here).
    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    loop {
        let (_, health) = restored.call(reqwest::Method::GET, "/healthz", None, None).await;
        if health["singletons"] == json!(["automations", "retention_purge"]) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the restored server did not take the jobs: {health}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, tickets) = restored.get("/api/v1/tickets?limit=500").await;
    assert_eq!(status, StatusCode::OK, "{tickets}");
    let ids: Vec<i64> =
        tickets["data"].as_array().expect("data").iter().map(|t| t["id"].as_i64().expect("id")).collect();
    let n = ids.len();
    // The load counts a ticket once its answer is read: one more may be committed by then.
    assert!((at_least..=at_most + 1).contains(&n), "{n} tickets: not between {at_least} and {at_most} (+1)");
    assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), (1..=n as i64).collect(), "a prefix of the commits");
    // Each ticket with its invocation, and no invocation without its ticket: one moment.
    let invocations = restored.invocations("limit=500").await;
    let of_tickets: BTreeSet<i64> = invocations.iter().map(|i| i["ticket_id"].as_i64().expect("ticket_id")).collect();
    assert_eq!(invocations.len(), n);
    assert_eq!(of_tickets, ids.iter().copied().collect());
    // And the secrets open with the key: the signing secret is the original's, and a new
    // update is delivered signed with it.
    let path = format!("/api/v1/webhooks/{webhook}/signing_secret");
    let (status, original) = app.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{original}");
    assert_eq!(restored.get(&path).await, (StatusCode::OK, original.clone()));
    let before = receiver.received().len();
    let ticket = restored.ticket(json!({"subject": "After the restore"})).await;
    let invocation = restored.invocations(&format!("ticket_id={}", ticket["id"])).await;
    let settled = restored.settled(invocation[0]["id"].as_str().expect("id")).await;
    assert_eq!(settled["status"], "succeeded", "{settled:#}");
    let sent = receiver.wait_for(before + 1).await;
    let secret = original["secret"].as_str().expect("secret");
    let id = settled["id"].as_str().expect("id");
    let delivered = sent.iter().find(|r| r.header("webhook-id") == Some(id)).expect("the new update arrived");
    assert!(crate::signing::verify(secret, delivered), "signed with the restored secret: {delivered:?}");
}
