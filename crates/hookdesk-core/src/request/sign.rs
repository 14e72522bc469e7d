//! Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).

use base64::Engine as _;
use hmac::{KeyInit, Mac};

use crate::webhook::SigningSecret;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn mac(secret: &SigningSecret, message_id: &str, timestamp_secs: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.key()).expect("HMAC accepts keys of any length");
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// One signature, without the `v1,` prefix.
pub fn sign(secret: &SigningSecret, message_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(mac(secret, message_id, timestamp_secs, body).finalize().into_bytes())
}

/// Whether a `webhook-signature` header (`v1,SIG`, space-separated) holds a signature of the
/// message by `secret`. Each candidate is compared in constant time.
pub fn verify(secret: &SigningSecret, message_id: &str, timestamp_secs: i64, body: &[u8], header: &str) -> bool {
    header.split_whitespace().filter_map(|s| s.strip_prefix("v1,")).any(|candidate| {
        base64::engine::general_purpose::STANDARD
            .decode(candidate)
            .is_ok_and(|bytes| mac(secret, message_id, timestamp_secs, body).verify_slice(&bytes).is_ok())
    })
}

/// The `webhook-signature` header: one `v1,SIG` per secret, space-separated.
pub fn signature_header(secrets: &[&SigningSecret], message_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    secrets.iter().map(|s| format!("v1,{}", sign(s, message_id, timestamp_secs, body))).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn matches_the_specification_example() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body),
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let header = "v1,bm90IGl0 v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert!(verify(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body, header));
        assert!(!verify(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_331, body, header));
        assert!(!verify(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, b"{}", header));
    }
}
