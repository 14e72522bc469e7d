//! One HTTP exchange as pages show it (a test send, an attempt of an invocation): what was
//! sent and what came back, each as text ready for a `<pre>`.

use hookdesk_core::invocation::{AttemptOutcome, LoggedRequest, LoggedResponse};
use serde_json::{Map, Value};

pub struct Exchange {
    /// What the ids of its parts start with, unique on the page (`attempt-2`).
    pub anchor: String,
    pub request_line: String,
    /// The request as a `curl` command (what the page shows of it, secrets redacted as shown).
    pub curl: String,
    pub request_headers: String,
    pub request_body: Option<String>,
    pub response: Option<Answer>,
    /// Why there was no (good) answer: the error's code and sentence.
    pub error: Option<(String, String)>,
    pub duration_ms: i64,
}

pub struct Answer {
    pub status: u16,
    pub headers: String,
    pub body: String,
    pub note: Option<String>,
}

impl Exchange {
    pub fn new(
        request: &LoggedRequest,
        response: Option<&LoggedResponse>,
        error: Option<&AttemptOutcome>,
        duration_ms: i64,
    ) -> Self {
        Self {
            anchor: "test".to_owned(),
            request_line: format!("{} {}", request.method, request.url),
            curl: curl(&request.method, &request.url, &request.headers, request.body.as_deref()),
            request_headers: header_block(&request.headers),
            request_body: request.body.as_deref().map(pretty),
            response: response.map(|r| Answer {
                status: r.status,
                headers: header_block(&r.headers),
                body: pretty(&r.body),
                note: r.note.clone(),
            }),
            error: error.map(|e| (e.code.clone(), e.message.clone())),
            duration_ms,
        }
    }
}

/// Headers as `Name: value` lines.
pub fn header_block(headers: &Map<String, Value>) -> String {
    let line = |(name, value): (&String, &Value)| match value {
        Value::String(text) => format!("{name}: {text}"),
        Value::Array(values) => values
            .iter()
            .map(|v| format!("{name}: {}", v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
            .collect::<Vec<_>>()
            .join("\n"),
        other => format!("{name}: {other}"),
    };
    headers.iter().map(line).collect::<Vec<_>>().join("\n")
}

/// `body` indented when it is JSON (an object or an array), else as it is.
pub fn pretty(body: &str) -> String {
    let trimmed = body.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return body.to_owned();
    }
    match serde_json::from_str::<Value>(body) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_else(|_| body.to_owned()),
        Err(_) => body.to_owned(),
    }
}

/// `text` as one word for a POSIX shell, safe to paste into a terminal: in single quotes, a
/// quote inside closed, escaped and reopened; with a control character (an escape ending a
/// bracketed paste, a ^U erasing the line: a sender's bytes acting on the admin's terminal),
/// made by `printf` from octal escapes, so that the command holds none.
pub fn shell_quote(text: &str) -> String {
    if has_control(text) {
        format!("\"$(printf '%b' {})\"", single_quoted(&printf_escaped(text)))
    } else {
        single_quoted(text)
    }
}

fn single_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Control characters other than a newline (which single quotes keep inert).
fn has_control(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

/// `text` for printf's `%b`: backslashes doubled, control characters (other than newlines)
/// as the octal escapes of their bytes.
fn printf_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() && c != '\n' => {
                let mut bytes = [0; 4];
                for byte in c.encode_utf8(&mut bytes).bytes() {
                    out.push_str(&format!("\\0{byte:03o}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Headers curl sets itself from what it sends: copying them would contradict it.
const CURL_SETS: &[&str] = &["content-length", "host", "connection", "transfer-encoding", "expect"];

/// A request as a `curl` command that sends it again: method, URL, every header (as
/// logged), and the body byte for byte (`--data-raw`: a body starting with `@` is not a file
/// to read; one with control characters comes from `printf` through stdin, newlines at its
/// end kept) and the URL as it is (`-g`: a caller's `[1-100000]` is not a range to send).
pub fn curl(method: &str, url: &str, headers: &Map<String, Value>, body: Option<&str>) -> String {
    let mut parts = vec!["curl".to_owned(), "-gsS".to_owned(), "-X".to_owned(), shell_quote(method), shell_quote(url)];
    for (name, value) in headers {
        if CURL_SETS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        let values = match value {
            Value::Array(values) => values.clone(),
            other => vec![other.clone()],
        };
        for value in values {
            let value = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            // `Name;` is how curl sends a header with an empty value.
            let header = if value.is_empty() { format!("{name};") } else { format!("{name}: {value}") };
            parts.push("-H".to_owned());
            parts.push(shell_quote(&header));
        }
    }
    match body.filter(|b| !b.is_empty()) {
        Some(body) if has_control(body) => {
            parts.push("--data-binary".to_owned());
            parts.push("@-".to_owned());
            return format!("printf '%b' {} | {}", single_quoted(&printf_escaped(body)), parts.join(" "));
        }
        Some(body) => {
            parts.push("--data-raw".to_owned());
            parts.push(single_quoted(body));
        }
        None => {}
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_indented_and_anything_else_kept() {
        assert_eq!(pretty(r#"{"a":[1,2]}"#), "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
        assert_eq!(pretty("{not json"), "{not json");
        assert_eq!(pretty("hello"), "hello");
        assert_eq!(pretty("42"), "42");
    }

    #[test]
    fn curl_quotes_every_word() {
        let headers: Map<String, Value> =
            serde_json::from_str(r#"{"x-a": "it's", "content-length": "3", "x-e": ""}"#).expect("json");
        assert_eq!(
            curl("POST", "http://h/p?a=1&b", &headers, Some("a'b")),
            r#"curl -gsS -X 'POST' 'http://h/p?a=1&b' -H 'x-a: it'\''s' -H 'x-e;' --data-raw 'a'\''b'"#
        );
    }

    #[test]
    fn curl_holds_no_control_character_to_paste() {
        let attack = "{\"a\":\"\u{1b}[201~\u{15}touch /tmp/x\n\"}";
        let command = curl("POST", "http://h/p", &Map::new(), Some(attack));
        assert!(!command.chars().any(|c| c.is_control() && c != '\n'), "{command:?}");
        assert_eq!(
            command,
            "printf '%b' '{\"a\":\"\\0033[201~\\0025touch /tmp/x\n\"}' | curl -gsS -X 'POST' 'http://h/p' --data-binary @-"
        );
        assert!(curl("POST", "http://h/p", &Map::new(), Some("@/etc/passwd")).ends_with("--data-raw '@/etc/passwd'"));
    }
}
