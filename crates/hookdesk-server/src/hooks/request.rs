//! A call as templates see it: `request.method`, `.path`, `.headers`, `.params`, `.body`,
//! `.json`, and `client.ip`.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use hookdesk_core::inbound::InboundWebhook;
use hookdesk_core::template::Context;
use hookdesk_core::text::cut;
use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::http::error::ApiError;
use crate::http::extract::{is_json, media_type};

/// The token and the rest of the path (`/` when none) of `/hooks/TOKEN[/REST]`.
pub fn token_and_path(path: &str) -> (String, String) {
    let after = path.strip_prefix("/hooks/").unwrap_or_default();
    match after.split_once('/') {
        Some((token, rest)) => (token.to_owned(), format!("/{rest}")),
        None => (after.to_owned(), "/".to_owned()),
    }
}

/// The caller's address: the peer, unless the peer is a trusted proxy; then the nearest
/// address in X-Forwarded-For that is not one (proxies append, so the right end is nearest).
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let chain: Vec<IpAddr> =
        forwarded_for.unwrap_or_default().split(',').filter_map(|a| a.trim().parse().ok()).collect();
    chain.iter().rev().find(|ip| !is_trusted(ip)).or(chain.first()).copied().unwrap_or(peer)
}

#[derive(Debug)]
pub struct CallRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    headers: HeaderMap,
    pub body: Vec<u8>,
    /// The body's size as sent (more than `body` holds when it was over the limit).
    pub body_bytes: u64,
    pub client_ip: Option<String>,
    /// Why the body cannot be read as its content type says (invalid JSON, say).
    pub malformed: Option<String>,
    json: Value,
    params: Map<String, Value>,
}

/// A call whose body could not be read, and the error to answer with.
pub struct ReadError {
    pub call: CallRequest,
    pub error: ApiError,
}

/// Query or form fields: a name given once is a string, a repeated one an array.
fn add_params(params: &mut Map<String, Value>, encoded: &[u8]) {
    for (name, value) in form_urlencoded::parse(encoded) {
        let value = Value::String(value.into_owned());
        match params.get_mut(name.as_ref()) {
            None => {
                params.insert(name.into_owned(), value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
        }
    }
}

impl CallRequest {
    /// Reads the call. A body over 1 MiB is refused (413) without reading the rest.
    pub async fn read(request: Request, path: String, client_ip: Option<String>) -> Result<Self, ReadError> {
        let headers = request.headers().clone();
        let mut call = CallRequest {
            method: request.method().as_str().to_owned(),
            path,
            query: request.uri().query().unwrap_or_default().to_owned(),
            body_bytes: headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or_default(),
            headers,
            body: vec![],
            client_ip,
            malformed: None,
            json: Value::Null,
            params: Map::new(),
        };
        add_params(&mut call.params, call.query.as_bytes());
        // A declared body over the limit is refused before any of it is read.
        if call.body_bytes > crate::http::MAX_BODY_BYTES as u64 {
            return Err(ReadError { call, error: ApiError::payload_too_large() });
        }
        // The router's body limit (1 MiB) applies here.
        match Bytes::from_request(request, &()).await {
            Ok(bytes) => call.body = bytes.to_vec(),
            Err(rejection) => {
                let error = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::payload_too_large()
                } else {
                    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", rejection.body_text())
                };
                return Err(ReadError { call, error });
            }
        }
        call.body_bytes = call.body.len() as u64;
        let media = media_type(&call.headers);
        if is_json(&media) {
            if !call.body.is_empty() {
                match serde_json::from_slice(&call.body) {
                    Ok(json) => call.json = json,
                    Err(e) => call.malformed = Some(format!("the body is not valid JSON: {e}")),
                }
            }
        } else if media == "application/x-www-form-urlencoded" {
            add_params(&mut call.params, &call.body);
        }
        Ok(call)
    }

    /// The value of the webhook's idempotency header, when sent (cut at 255 bytes).
    pub fn idempotency_key(&self, webhook: &InboundWebhook) -> Option<&str> {
        let name = webhook.idempotency_header.as_deref()?.to_ascii_lowercase();
        self.header(&name).map(str::trim).filter(|k| !k.is_empty()).map(|k| cut(k, 255))
    }

    /// The first value of header `name` (given lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn headers_json(&self, redact: bool) -> Map<String, Value> {
        let mut headers = Map::new();
        for name in self.headers.keys() {
            // The call log keeps no credential a caller may send.
            let value = if redact && hookdesk_core::text::is_secret_header(name.as_str()) {
                "[redacted]".to_owned()
            } else {
                let values: Vec<String> = self
                    .headers
                    .get_all(name)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect();
                values.join(", ")
            };
            headers.insert(name.as_str().to_owned(), Value::String(value));
        }
        headers
    }

    /// Headers as the call log keeps them: credentials redacted.
    pub fn logged_headers(&self) -> Map<String, Value> {
        self.headers_json(true)
    }

    /// `request` and `client`, for templates.
    pub fn template_context(&self) -> Context {
        let request = serde_json::json!({
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers_json(false),
            "params": self.params,
            "body": String::from_utf8_lossy(&self.body),
            "json": self.json,
        });
        Context::new().with("request", &request).with("client", &serde_json::json!({"ip": self.client_ip}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_the_first_segment_and_the_rest_is_the_path() {
        assert_eq!(token_and_path("/hooks/abc"), ("abc".into(), "/".into()));
        assert_eq!(token_and_path("/hooks/abc/github/push"), ("abc".into(), "/github/push".into()));
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_address() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        // Not from a trusted proxy: the header is the caller's to forge, so it is ignored.
        assert_eq!(client_ip(ip("203.0.113.5"), Some("198.51.100.1"), &trusted), ip("203.0.113.5"));
        assert_eq!(client_ip(ip("10.0.0.2"), Some("198.51.100.1, 203.0.113.7, 10.0.0.9"), &trusted), ip("203.0.113.7"));
        assert_eq!(client_ip(ip("10.0.0.2"), Some("10.1.1.1"), &trusted), ip("10.1.1.1"));
        assert_eq!(client_ip(ip("10.0.0.2"), Some("garbage"), &trusted), ip("10.0.0.2"));
        assert_eq!(client_ip(ip("10.0.0.2"), None, &[]), ip("10.0.0.2"));
    }

    #[test]
    fn repeated_params_become_arrays() {
        let mut params = Map::new();
        add_params(&mut params, b"name=Joe+Customer&age=37&tag=a&tag=b&tag=c");
        assert_eq!(
            Value::Object(params),
            serde_json::json!({"name": "Joe Customer", "age": "37", "tag": ["a", "b", "c"]})
        );
    }
}
