//! Posted forms: the fields as sent (a name may repeat), and the helpers that turn them into
//! the API's request bodies, so that a form is checked exactly as the same JSON would be.

use std::collections::HashMap;

use hookdesk_core::{Invalid, Page};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::UiError;
use crate::app::AppError;

/// The fields of an `application/x-www-form-urlencoded` body, by name (a name's values in
/// the order sent). Read once into a map: a page reads hundreds of names (rule rows), and
/// scanning every field for each made a 1 MiB form cost far more than a 1 MiB JSON body.
#[derive(Debug, Default, Clone)]
pub struct Fields(HashMap<String, Vec<String>>);

/// The most fields a form may send: the largest editor (a rule of 100 conditions and 100
/// actions) sends under 1,000.
pub const MAX_FIELDS: usize = 5000;

impl Fields {
    /// The fields of `body`; more than [`MAX_FIELDS`] is refused.
    pub fn parse(body: &[u8]) -> Result<Self, Invalid> {
        let mut fields: HashMap<String, Vec<String>> = HashMap::new();
        for (i, (name, value)) in form_urlencoded::parse(body).enumerate() {
            if i >= MAX_FIELDS {
                return Err(Invalid::new("form", format!("has more than {MAX_FIELDS} fields")));
            }
            // PostgreSQL's text holds none: refused here, alike on both backends.
            if name.contains('\0') || value.contains('\0') {
                let shown: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
                return Err(Invalid::new(shown, "must not contain NUL (\\u0000) characters"));
            }
            fields.entry(name.into_owned()).or_default().push(value.into_owned());
        }
        Ok(Self(fields))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|values| values.first()).map(String::as_str)
    }

    /// The first value of `name`, trimmed, if not blank.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.get(name).map(|values| values.iter().map(String::as_str).collect()).unwrap_or_default()
    }

    /// Whether a checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// The message of `error` when it is about the input `name` or something inside it
/// (`actions[1]` is inside `actions`; `endpoint` is not inside `end`).
pub fn error_at<'e>(error: Option<&'e Invalid>, name: &str) -> Option<&'e str> {
    let error = error?;
    let inside = error.field.strip_prefix(name).is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']));
    inside.then_some(error.message.as_str())
}

/// `error` in words when none of the inputs `shown_at` shows it (the form shows it on top).
/// `shown_at` must name exactly the inputs its template shows errors at, else one is lost.
pub fn error_elsewhere(error: Option<&Invalid>, shown_at: &[&str]) -> Option<String> {
    let error = error?;
    (!shown_at.iter().any(|input| error_at(Some(error), input).is_some())).then(|| error.to_string())
}

/// Sets `key` to the trimmed `value` when it is not blank.
pub fn put_text(body: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) {
        body.insert(key.to_owned(), Value::String(value.to_owned()));
    }
}

/// Sets `key` to a number typed into a field: a non-number goes through as text, for the
/// API's own check to name the field.
pub fn put_number(body: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) {
        let number = value.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::String(value.to_owned()));
        body.insert(key.to_owned(), number);
    }
}

/// `Name: value` lines as a JSON object (custom headers, say); a line without a colon is
/// kept whole as a name, for the API's check to refuse.
pub fn header_lines(text: &str) -> Map<String, Value> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once(':') {
            Some((name, value)) => (name.trim().to_owned(), Value::String(value.trim().to_owned())),
            None => (line.to_owned(), Value::String(String::new())),
        })
        .collect()
}

/// A `datetime-local` input's value (`2026-12-07T05:30` or with seconds) as RFC 3339 in UTC;
/// anything else as it was (the API then says what is wrong with it).
pub fn picked_as_utc(value: &str) -> String {
    let value = value.trim();
    let shape = |text: &str| {
        text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        })
    };
    match value.len() {
        16 if shape(value) => format!("{value}:00Z"),
        19 if shape(value) => format!("{value}Z"),
        _ => value.to_owned(),
    }
}

/// An RFC 3339 UTC time as a `datetime-local` input shows it (`2026-12-07T05:30:44`).
pub fn for_picker(value: &str) -> String {
    match value.trim().strip_suffix('Z') {
        Some(utc) if utc.len() >= 19 => utc[..19].to_owned(),
        _ => value.trim().to_owned(),
    }
}

/// A JSON object as `Name: value` lines, for a textarea.
pub fn to_header_lines(headers: &Map<String, Value>) -> String {
    headers
        .iter()
        .map(|(name, value)| {
            format!("{name}: {}", value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string()))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A list page's query string: the API's filters as the filter form sent them, blank ones
/// dropped.
pub struct ListQuery(String);

/// What a list page shows: its rows and the link to the next page, or why its filters were
/// refused (on the page, as the API's 422 would say it).
pub struct Listed<R> {
    pub rows: Vec<R>,
    pub next_page: Option<String>,
    pub error: Option<String>,
}

impl ListQuery {
    /// The query as sent, without its blank values: a filter form's empty inputs mean "any".
    /// A date picker's `since` or `until` (`2026-12-07T05:30`, no zone) is read as UTC.
    pub fn new(raw: Option<&str>) -> Self {
        let kept = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(key, value)| {
                let value = if key == "since" || key == "until" { picked_as_utc(&value) } else { value.into_owned() };
                (key, value)
            });
        Self(form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish())
    }

    /// The filters as `T` reads them (a form's values to show again, or the API's query).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_urlencoded::de::Error> {
        serde_urlencoded::from_str(&self.0)
    }

    /// The query string of the same filters at the page after `cursor`.
    fn next_page(&self, cursor: &str) -> String {
        let kept = form_urlencoded::parse(self.0.as_bytes()).filter(|(key, _)| key != "cursor");
        form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).append_pair("cursor", cursor).finish()
    }

    /// One page of the rows `fetch` reads with these filters.
    pub async fn list<Q: DeserializeOwned, R>(
        &self,
        fetch: impl AsyncFnOnce(Q) -> Result<Page<R>, AppError>,
    ) -> Result<Listed<R>, UiError> {
        let refused = |error: String| Ok(Listed { rows: vec![], next_page: None, error: Some(error) });
        let query = match self.parse::<Q>() {
            Ok(query) => query,
            Err(e) => return refused(format!("these filters cannot be read: {e}")),
        };
        match fetch(query).await {
            Ok(page) => Ok(Listed {
                next_page: page.next_cursor.as_deref().map(|cursor| self.next_page(cursor)),
                rows: page.data,
                error: None,
            }),
            Err(AppError::Invalid(invalid)) => refused(invalid.to_string()),
            Err(other) => Err(other.into()),
        }
    }
}

/// A save refused because the object changed since its editor was opened: what is saved now
/// against the draft, part by part, for the editor to show above the draft it kept.
pub struct Conflict {
    /// What was edited (`trigger`, `webhook`).
    pub what: &'static str,
    /// `(part, saved now, yours)` for each part that differs.
    pub differences: Vec<(String, String, String)>,
    /// The editor of what is saved, to start again from it.
    pub reload: String,
}

impl Conflict {
    /// The parts of `draft` (an API body) whose value differs from `saved` (the API's view).
    pub fn between(what: &'static str, saved: &Value, draft: &Map<String, Value>, reload: String) -> Self {
        let pretty = |value: &Value| match value {
            Value::String(text) => text.clone(),
            Value::Null => "(none)".to_owned(),
            other => serde_json::to_string_pretty(other).unwrap_or_default(),
        };
        let differences = draft
            .iter()
            .filter(|(key, yours)| saved.get(key.as_str()).unwrap_or(&Value::Null) != *yours)
            .map(|(key, yours)| {
                let theirs = saved.get(key.as_str()).unwrap_or(&Value::Null);
                // A draft's authentication may hold a secret just typed: never shown back.
                let (theirs, yours) = if key == "authentication" {
                    (pretty(&theirs["type"]), format!("{} (secrets not shown)", pretty(&yours["type"])))
                } else {
                    (pretty(theirs), pretty(yours))
                };
                (key.replace('_', " "), theirs, yours)
            })
            .collect();
        Self { what, differences, reload }
    }
}

/// A page's query string read as `T`: one that cannot be read is a 400 page saying why,
/// never a 500.
pub struct PageParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for PageParams<T> {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        ListQuery::new(parts.uri.query())
            .parse()
            .map(PageParams)
            .map_err(|e| UiError::App(AppError::BadRequest(format!("this page's filters cannot be read: {e}"))))
    }
}

#[cfg(test)]
mod picker_tests {
    use super::*;

    #[test]
    fn a_picked_time_is_read_as_utc() {
        assert_eq!(picked_as_utc("2026-12-07T05:30"), "2026-12-07T05:30:00Z");
        assert_eq!(picked_as_utc("2026-12-07T05:30:44"), "2026-12-07T05:30:44Z");
        assert_eq!(picked_as_utc("2026-12-07T05:30:44+01:00"), "2026-12-07T05:30:44+01:00");
        assert_eq!(picked_as_utc("yesterday"), "yesterday");
        assert_eq!(for_picker("2026-12-07T05:30:44.000Z"), "2026-12-07T05:30:44");
    }
}
