//! A call to an inbound webhook as hookdesk reads it: what was sent, how templates see it
//! (`request.method`, `.path`, `.query`, `.headers`, `.params`, `.body`, `.json`, and
//! `client.ip`) and what the call log keeps of it.

use serde_json::{Map, Value};

use crate::template::Context;
use crate::text::{cut, is_json, media_type};

/// Why a call cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// Sent as JSON, and not JSON.
    Json(String),
    /// More query and form fields than [`MAX_PARAMS`].
    TooManyFields(String),
}

#[derive(Debug, Clone)]
pub struct InboundRequest {
    pub method: String,
    /// The path after the token (`/` when none).
    pub path: String,
    pub query: String,
    /// Names lowercase, in the order they came.
    headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// The body's size as sent (more than `body` holds when it was not read).
    pub body_bytes: u64,
    pub client_ip: Option<String>,
    /// Why the call cannot be read: a body that is not what its content type says, or too
    /// many fields.
    pub malformed: Option<Malformed>,
    json: Value,
    params: Map<String, Value>,
    /// The fields `params` holds.
    fields: usize,
}

/// The most query and form fields a call may send together: a form of 140,000 fields cost
/// 124 ms to read into its template's variables.
pub const MAX_PARAMS: usize = 1000;

/// A body from this size is read (parsed, made into templates' variables) off the threads
/// that answer requests.
const LARGE_BODY: usize = 64 * 1024;

/// Query or form fields: a name given once is a string, a repeated one an array. Refused
/// beyond [`MAX_PARAMS`] fields in all.
fn add_params(params: &mut Map<String, Value>, encoded: &[u8], count: &mut usize) -> Result<(), String> {
    for (name, value) in url::form_urlencoded::parse(encoded) {
        *count += 1;
        if *count > MAX_PARAMS {
            return Err(format!("the query and form hold more than {MAX_PARAMS} fields"));
        }
        let value = Value::String(value.into_owned());
        match params.get_mut(name.as_ref()) {
            None => {
                params.insert(name.into_owned(), value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
        }
    }
    Ok(())
}

/// What `HeaderValue::to_str` accepts: visible ASCII and tabs.
fn visible_ascii(value: &[u8]) -> Option<&str> {
    value.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)).then(|| std::str::from_utf8(value).ok()).flatten()
}

impl InboundRequest {
    /// A call before its body is read: its params are the query's; `body_bytes` is the
    /// declared `Content-Length`.
    pub fn new(method: &str, path: String, query: String, headers: Vec<(String, Vec<u8>)>) -> Self {
        let mut request = Self {
            method: method.to_owned(),
            path,
            query,
            headers: headers.into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect(),
            body: vec![],
            body_bytes: 0,
            client_ip: None,
            malformed: None,
            json: Value::Null,
            params: Map::new(),
            fields: 0,
        };
        request.body_bytes = request.header("content-length").and_then(|v| v.parse().ok()).unwrap_or_default();
        let query = std::mem::take(&mut request.query);
        if let Err(too_many) = add_params(&mut request.params, query.as_bytes(), &mut request.fields) {
            request.malformed = Some(Malformed::TooManyFields(too_many));
        }
        request.query = query;
        request
    }

    /// The call with its body: a JSON body is parsed (`malformed` says why it could not
    /// be), a form's fields join the query's params.
    pub fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body_bytes = body.len() as u64;
        self.body = body;
        if self.body.len() >= LARGE_BODY {
            return crate::template::offloaded(|| self.read_body());
        }
        self.read_body()
    }

    fn read_body(mut self) -> Self {
        let media = self.media_type();
        if is_json(&media) {
            if !self.body.is_empty() {
                match serde_json::from_slice(&self.body) {
                    Ok(json) => self.json = json,
                    Err(e) => self.malformed = Some(Malformed::Json(format!("the body is not valid JSON: {e}"))),
                }
            }
        } else if media == "application/x-www-form-urlencoded"
            && let Err(too_many) = add_params(&mut self.params, &self.body, &mut self.fields)
        {
            self.malformed = Some(Malformed::TooManyFields(too_many));
        }
        self
    }

    /// The media type of the body, lowercase, without parameters.
    pub fn media_type(&self) -> String {
        self.header("content-type").map(media_type).unwrap_or_default()
    }

    /// The value of header `name` (an idempotency header), when sent (cut at 255 bytes).
    pub fn idempotency_key(&self, name: Option<&str>) -> Option<&str> {
        let name = name?.to_ascii_lowercase();
        self.header(&name).map(str::trim).filter(|k| !k.is_empty()).map(|k| cut(k, 255))
    }

    /// The first value of header `name` (given lowercase), when it is visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).and_then(|(_, value)| visible_ascii(value))
    }

    /// Each header once, its repeated values joined.
    fn headers_joined(&self) -> Vec<(&str, String)> {
        let mut joined: Vec<(&str, String)> = Vec::new();
        for (name, value) in &self.headers {
            let value = String::from_utf8_lossy(value);
            match joined.iter_mut().find(|(n, _)| n == name) {
                Some((_, values)) => {
                    values.push_str(", ");
                    values.push_str(&value);
                }
                None => joined.push((name, value.into_owned())),
            }
        }
        joined
    }

    /// What the caller sent that templates may read: body, query, path and headers.
    pub fn bytes_sent(&self) -> usize {
        let headers: usize = self.headers.iter().map(|(name, value)| name.len() + value.len()).sum();
        self.body.len() + self.query.len() + self.path.len() + headers
    }

    /// Headers as the call log keeps them: see [`crate::text::logged_headers`].
    pub fn logged_headers(&self) -> Map<String, Value> {
        crate::text::logged_headers(self.headers_joined())
    }

    /// `request` and `client`, for templates.
    pub fn template_context(&self) -> Context {
        let context = || {
            Context::new()
                .with("request", &self.request_json())
                .with("client", &serde_json::json!({"ip": self.client_ip}))
        };
        if self.body.len() >= LARGE_BODY { crate::template::offloaded(context) } else { context() }
    }

    /// `request` as templates see it: every header whole.
    fn request_json(&self) -> Value {
        let headers: Map<String, Value> =
            self.headers_joined().into_iter().map(|(n, v)| (n.to_owned(), Value::String(v))).collect();
        serde_json::json!({
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": headers,
            "params": self.params,
            "body": String::from_utf8_lossy(&self.body),
            "json": self.json,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{LOGGED_HEADERS_BYTES, LOGGED_NAME_BYTES};

    fn request(headers: &[(&str, &[u8])], body: &[u8]) -> InboundRequest {
        let headers = headers.iter().map(|(n, v)| ((*n).to_owned(), v.to_vec())).collect();
        InboundRequest::new("POST", "/".into(), "a=1".into(), headers).with_body(body.to_vec())
    }

    #[test]
    fn repeated_params_become_arrays() {
        let mut params = Map::new();
        add_params(&mut params, b"name=Joe+Customer&age=37&tag=a&tag=b&tag=c", &mut 0).expect("within the limit");
        assert_eq!(
            Value::Object(params),
            serde_json::json!({"name": "Joe Customer", "age": "37", "tag": ["a", "b", "c"]})
        );
    }

    #[test]
    fn more_fields_than_the_limit_make_a_call_malformed() {
        // The query holds one field already.
        let form = "a=1&".repeat(MAX_PARAMS - 1);
        let within = request(&[("content-type", b"application/x-www-form-urlencoded")], form.as_bytes());
        assert_eq!(within.malformed, None);
        let over = format!("{form}b=2");
        let over = request(&[("content-type", b"application/x-www-form-urlencoded")], over.as_bytes());
        assert!(
            matches!(&over.malformed, Some(Malformed::TooManyFields(m)) if m.contains("1000 fields")),
            "{:?}",
            over.malformed
        );
    }

    #[test]
    fn a_form_body_joins_the_query_and_json_is_parsed_or_named_malformed() {
        let form = request(&[("Content-Type", b"application/x-www-form-urlencoded")], b"b=2");
        assert_eq!(form.params, serde_json::json!({"a": "1", "b": "2"}).as_object().cloned().expect("object"));
        let json = request(&[("content-type", b"application/json; charset=utf-8")], br#"{"x": 1}"#);
        assert_eq!(json.json, serde_json::json!({"x": 1}));
        let broken = request(&[("content-type", b"application/vnd.api+json")], b"{");
        assert!(broken.malformed.is_some());
    }

    #[test]
    fn a_flood_of_headers_is_logged_within_its_bounds_names_kept_and_cuts_said() {
        let big = vec![b'v'; 4000];
        let names: Vec<String> = (0..90).map(|i| format!("x-flood-{i}")).collect();
        let mut headers: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), big.as_slice())).collect();
        let long_name = "x-".repeat(200);
        headers.push((&long_name, b"1"));
        let call = request(&headers, b"");
        let logged = call.logged_headers();
        assert_eq!(logged.len(), 91, "every name is kept");
        let bytes: usize = logged.iter().map(|(n, v)| n.len() + v.as_str().map_or(0, str::len)).sum();
        assert!(bytes <= LOGGED_HEADERS_BYTES + 91 * (LOGGED_NAME_BYTES + 80), "{bytes}");
        assert_eq!(
            logged["x-flood-0"].as_str().map(|v| v.ends_with("[cut: 4000 bytes]") && v.len() < 2100),
            Some(true),
            "{}",
            logged["x-flood-0"]
        );
        assert_eq!(logged["x-flood-89"], "[not kept: 4000 bytes, past the 16384 bytes of headers a log keeps]");
        assert!(logged.contains_key(cut(&long_name, LOGGED_NAME_BYTES)));
        // Templates still see every header whole.
        let context = call.request_json();
        assert_eq!(context["headers"]["x-flood-89"].as_str().map(str::len), Some(4000));
    }

    #[test]
    fn headers_repeat_joined_and_credentials_are_redacted_in_the_log() {
        let call = request(&[("X-Tag", b"a"), ("Authorization", b"Bearer s"), ("x-tag", b"b")], b"");
        let logged = call.logged_headers();
        assert_eq!(logged["x-tag"], "a, b");
        assert_eq!(logged["authorization"], "[redacted]");
        assert_eq!(call.header("x-tag"), Some("a"));
        assert_eq!(call.idempotency_key(Some("X-Tag")), Some("a"));
        assert_eq!(call.idempotency_key(None), None);
    }
}
