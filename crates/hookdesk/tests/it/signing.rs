//! Standard Webhooks signatures, checked by an implementation written here from the
//! specification: HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the
//! base64-decoded part of the `whsec_` secret, sent as `v1,BASE64` (space-separated).

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde_json::json;

use crate::support::{Db, Received, Receiver, TestApp};

/// Whether `request` carries a signature made with `secret`.
pub fn verify(secret: &str, request: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 secret");
    let id = request.header("webhook-id").expect("webhook-id");
    let timestamp = request.header("webhook-timestamp").expect("webhook-timestamp");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{id}.{timestamp}.{}", request.body).as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    request
        .header("webhook-signature")
        .expect("webhook-signature")
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|signature| signature == expected)
}

async fn signing_secret(app: &TestApp, webhook: &str) -> String {
    let (_, secret) = app.get(&format!("/api/v1/webhooks/{webhook}/signing_secret")).await;
    secret["secret"].as_str().expect("secret").to_owned()
}

async fn every_request_carries_a_standard_webhooks_signature_that_verifies(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/signed"), json!({})).await;
    let secret = signing_secret(&app, &webhook).await;
    assert!(secret.starts_with("whsec_"));
    let key_len = base64::engine::general_purpose::STANDARD.decode(&secret[6..]).expect("base64").len();
    assert!(key_len >= 24, "{key_len} random bytes");

    app.trigger(json!({
        "title": "Sign",
        "conditions": {"all": [{"field": "status", "operator": "is", "value": "new"}]},
        "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook, "payload": "{\"subject\": {{ ticket.subject | json }}}"}}]
    }))
    .await;
    app.ticket(json!({"subject": "Ünïcode \"quotes\" & more"})).await;
    let received = receiver.wait_for(1).await;
    let request = &received[0];
    assert!(verify(&secret, request), "signature must verify: {request:#?}");

    let timestamp: i64 = request.header("webhook-timestamp").expect("timestamp").parse().expect("unix seconds");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    assert!((now - timestamp).abs() < 300, "within the specification's tolerance");

    let mut tampered = request.clone();
    tampered.body.push(' ');
    assert!(!verify(&secret, &tampered), "a changed body must not verify");
    let other = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([9u8; 24]));
    assert!(!verify(&other, request), "another secret must not verify");
}

/// A delivery before the rotation fills the workers' cache of webhooks and secrets: the one
/// after it must still carry the new signature beside the old.
async fn after_a_rotation_requests_carry_signatures_by_the_old_and_the_new_secret(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/rotated"), json!({})).await;
    app.trigger(json!({
        "title": "Sign",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
        "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook}}]
    }))
    .await;
    let old = signing_secret(&app, &webhook).await;
    app.ticket(json!({"subject": "Before"})).await;
    let before = receiver.wait_for(1).await;
    assert_eq!(before[0].header("webhook-signature").map(|s| s.split(' ').count()), Some(1), "one secret yet");
    assert!(verify(&old, &before[0]));

    let (status, rotated) = app.post(&format!("/api/v1/webhooks/{webhook}/signing_secret/rotate"), json!({})).await;
    assert_eq!(status, axum::http::StatusCode::OK, "{rotated}");
    let new = rotated["secret"].as_str().expect("secret").to_owned();
    assert_ne!(old, new);
    assert_eq!(signing_secret(&app, &webhook).await, new, "the new secret is the current one");

    app.ticket(json!({"subject": "Rotated"})).await;
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].header("webhook-signature").map(|s| s.split(' ').count()), Some(2));
    assert!(verify(&old, &received[1]));
    assert!(verify(&new, &received[1]));
}

crate::on_both_backends!(
    every_request_carries_a_standard_webhooks_signature_that_verifies,
    after_a_rotation_requests_carry_signatures_by_the_old_and_the_new_secret,
);
