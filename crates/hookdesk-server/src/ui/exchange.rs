//! One HTTP exchange as pages show it (a test send, an attempt of an invocation): what was
//! sent and what came back, each as text ready for a `<pre>`.

use hookdesk_core::invocation::{AttemptOutcome, LoggedRequest, LoggedResponse};
use serde_json::{Map, Value};

pub struct Exchange {
    pub request_line: String,
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
            request_line: format!("{} {}", request.method, request.url),
            request_headers: header_block(&request.headers),
            request_body: request.body.clone(),
            response: response.map(|r| Answer {
                status: r.status,
                headers: header_block(&r.headers),
                body: r.body.clone(),
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
