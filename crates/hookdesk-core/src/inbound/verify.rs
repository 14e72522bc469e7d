//! How an inbound call proves it comes from who holds the shared secret: an HMAC-SHA256 of
//! the body, or a Standard Webhooks signature with a timestamp against replays.

use hmac::{KeyInit, Mac};
use serde::Serialize;
use utoipa::ToSchema;

use super::header::check_header_name;
use crate::request::verify_signature;
use crate::webhook::SigningSecret;
use crate::{Invalid, Timestamp};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How a call proves it comes from who holds the shared secret. The secret never leaves the
/// server: [`Verify::public_view`] is what the API shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Verify {
    /// HMAC-SHA256 of the raw body, hex, in `header` (a `sha256=` prefix, as GitHub sends
    /// it, is accepted).
    HmacSha256 { header: String, secret: String },
    /// Standard Webhooks (what hookdesk, Svix and others send): `webhook-id`,
    /// `webhook-timestamp` (within five minutes of now, against replays) and
    /// `webhook-signature`, signed with a `whsec_` secret.
    StandardWebhooks { secret: String },
}

/// How far a Standard Webhooks timestamp may be from now.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// The non-secret half of [`Verify`], as responses show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VerifyView {
    HmacSha256 { header: String },
    StandardWebhooks,
}

impl Verify {
    pub fn validate(&self) -> Result<(), Invalid> {
        match self {
            Verify::HmacSha256 { header, secret } => {
                check_header_name("verify.header", header)?;
                if secret.is_empty() || secret.len() > 1000 {
                    return Err(Invalid::new("verify.secret", "must be 1 to 1000 bytes"));
                }
                Ok(())
            }
            Verify::StandardWebhooks { secret } => match SigningSecret::parse(secret) {
                Some(_) => Ok(()),
                None => Err(Invalid::new("verify.secret", "must be a whsec_ secret of 24 to 64 bytes")),
            },
        }
    }

    pub fn public_view(&self) -> VerifyView {
        match self {
            Verify::HmacSha256 { header, .. } => VerifyView::HmacSha256 { header: header.clone() },
            Verify::StandardWebhooks { .. } => VerifyView::StandardWebhooks,
        }
    }

    /// Checks a call: `header` gives a request header's value by lowercase name. The error
    /// says what is wrong, for the caller and the call log. Digests are compared in constant
    /// time.
    pub fn check<'a>(
        &self,
        header: impl Fn(&str) -> Option<&'a str>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<(), String> {
        match self {
            Verify::HmacSha256 { header: name, secret } => {
                let name = name.to_ascii_lowercase();
                let signature = header(&name).map(str::trim).ok_or_else(|| format!("the {name} header is missing"))?;
                let hex = match signature.get(..7) {
                    Some(prefix) if prefix.eq_ignore_ascii_case("sha256=") => &signature[7..],
                    _ => signature,
                };
                let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
                mac.update(body);
                match decode_hex(hex) {
                    Some(digest) if mac.verify_slice(&digest).is_ok() => Ok(()),
                    _ => Err(format!("the {name} header does not carry the HMAC-SHA256 of the body")),
                }
            }
            Verify::StandardWebhooks { secret } => {
                let secret = SigningSecret::parse(secret).ok_or("the verification secret is not a whsec_ secret")?;
                let [id, timestamp, signature] = ["webhook-id", "webhook-timestamp", "webhook-signature"]
                    .map(|name| header(name).map(str::trim).ok_or_else(|| format!("the {name} header is missing")));
                let (id, timestamp, signature) = (id?, timestamp?, signature?);
                let seconds: i64 = timestamp.parse().map_err(|_| "webhook-timestamp is not a number of seconds")?;
                if (now.as_millis() / 1000).abs_diff(seconds) > TIMESTAMP_TOLERANCE_SECS.unsigned_abs() {
                    return Err("webhook-timestamp is more than five minutes from now".into());
                }
                if verify_signature(&secret, id, seconds, body, signature) {
                    Ok(())
                } else {
                    Err("webhook-signature does not match the body".into())
                }
            }
        }
    }
}

/// The hex digest `accepts` expects: what a sender computes.
pub fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes().chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::sign;

    #[test]
    fn signatures_verify_with_and_without_prefix_and_not_when_tampered() {
        let verify =
            Verify::HmacSha256 { header: "X-Hub-Signature-256".into(), secret: "It's a Secret to Everybody".into() };
        let body = b"Hello, World!";
        // GitHub's documented example.
        let expected = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(hmac_sha256_hex(b"It's a Secret to Everybody", body), expected);
        let now = Timestamp::from_millis(0);
        let accepts = |signature: Option<&str>, body: &[u8]| {
            verify.check(|name| (name == "x-hub-signature-256").then_some(signature).flatten(), body, now).is_ok()
        };
        assert!(accepts(Some(&format!("sha256={expected}")), body));
        assert!(accepts(Some(expected), body));
        assert!(accepts(Some(&expected.to_uppercase()), body));
        assert!(!accepts(Some(expected), b"Hello, World?"));
        assert!(!accepts(Some(&expected[..62]), body));
        assert!(!accepts(Some("sha256=zz"), body));
        assert!(!accepts(None, body));
    }

    #[test]
    fn standard_webhooks_signatures_verify_within_the_tolerance() {
        let secret = SigningSecret::from_bytes(vec![9; 24]);
        let verify = Verify::StandardWebhooks { secret: secret.expose() };
        assert_eq!(verify.validate(), Ok(()));
        let body = br#"{"id": 1}"#;
        // The headers of a message signed at `secs`.
        let at = |secs: i64| {
            let signature = format!("v1,{}", sign(&secret, "msg_1", secs, body));
            vec![
                ("webhook-id", "msg_1".to_owned()),
                ("webhook-timestamp", secs.to_string()),
                ("webhook-signature", signature),
            ]
        };
        let now = Timestamp::from_millis(1_700_000_000_000);
        let check = |headers: &[(&str, String)], body: &[u8]| {
            verify.check(|name| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()), body, now)
        };
        assert_eq!(check(&at(1_700_000_000), body), Ok(()));
        assert_eq!(check(&at(1_700_000_000 - 299), body), Ok(()));
        assert!(check(&at(1_700_000_000 - 301), body).expect_err("too old").contains("five minutes"));
        assert!(check(&at(1_700_000_000), b"{}").expect_err("tampered").contains("does not match"));
        assert!(check(&[], body).expect_err("unsigned").contains("webhook-id"));
        // The farthest timestamps are refused, not an overflow (the eighth attack's 500).
        for far in [i64::MIN, i64::MIN + 1, i64::MAX] {
            let headers = [
                ("webhook-id", "msg_1".to_owned()),
                ("webhook-timestamp", far.to_string()),
                ("webhook-signature", "v1,AAAA".to_owned()),
            ];
            assert!(check(&headers, body).expect_err("too far").contains("five minutes"), "{far}");
        }
        let short = Verify::StandardWebhooks { secret: "whsec_short".into() }.validate().expect_err("too short");
        assert_eq!(short.field, "verify.secret");
    }
}
