//! `/readyz` says whether a node should take traffic, and why not; `/healthz` only whether it
//! lives. (Readiness while PostgreSQL is down: `outage.rs`.)

use axum::http::StatusCode;

use crate::support::{Db, TestApp};

async fn readyz_is_ready_and_then_not_when_the_schema_is_newer_than_the_binary(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, ready) = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "ready");
    assert!(ready["node"].as_str().is_some_and(|n| n.starts_with("node_")), "{ready}");

    // A newer hookdesk on another node migrated the database past what this one knows.
    {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&app.config.database.database).await.expect("connects");
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (999, 'from a newer hookdesk', TRUE, $1, 0)",
        )
        .bind(vec![0u8; 48])
        .execute(&mut conn)
        .await
        .expect("a migration row");
        conn.close().await.expect("closes");
    }
    let (status, body) = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "not_ready", "{body}");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(message.contains("version 999") && message.contains("upgrade this node"), "{message}");
    let (status, _) = app.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK, "it still lives");
}

crate::on_both_backends!(readyz_is_ready_and_then_not_when_the_schema_is_newer_than_the_binary);
