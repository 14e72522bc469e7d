//! `/readyz` says whether a node should take traffic, and why not; `/healthz` only whether it
//! lives. (Readiness while PostgreSQL is down: `outage.rs`.)

use axum::http::StatusCode;

use crate::support::{Db, TestApp};

/// Runs `sql` on the test app's database, beside the server; `$1` is a 48-byte blob.
async fn execute(app: &TestApp, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.config.database.database).await.expect("connects");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    if sql.contains("$1") {
        query = query.bind(vec![0u8; 48]);
    }
    query.execute(&mut conn).await.expect("the statement runs");
    conn.close().await.expect("closes");
}

async fn readyz_follows_the_schema_a_newer_one_with_a_note_an_older_one_not_ready(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, ready) = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "ready");
    assert!(ready["node"].as_str().is_some_and(|n| n.starts_with("node_")), "{ready}");
    assert!(ready.get("note").is_none(), "{ready}");

    // A newer hookdesk on another node migrated the database further: this node still works
    // on it (migrations only add), and says it should be upgraded.
    execute(
        &app,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (999, 'from a newer hookdesk', TRUE, $1, 0)",
    )
    .await;
    let (status, ready) = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    let note = ready["note"].as_str().expect("a note");
    assert!(note.contains("version 999") && note.contains("upgrade this node"), "{note}");

    // A schema behind this binary (a database swapped under a running node): not ready.
    execute(&app, "DELETE FROM _sqlx_migrations WHERE version >= 10").await;
    let (status, body) = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "not_ready", "{body}");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(message.contains("version 9") && message.contains("needs 14"), "{message}");
    let (status, _) = app.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK, "it still lives");
}

crate::on_both_backends!(readyz_follows_the_schema_a_newer_one_with_a_note_an_older_one_not_ready);
