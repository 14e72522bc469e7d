//! Text as logs keep it.

use std::borrow::Cow;

/// Logged bodies (attempts' requests and responses, inbound calls) are cut at this size.
pub const LOGGED_BODY_BYTES: usize = 16 * 1024;

/// What a caught panic said (its message, when it has one).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// `text` cut to at most `max` bytes, on a character boundary.
pub fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` as a database column can hold it: PostgreSQL's text refuses NUL, so a NUL a caller
/// sent (an inbound body, a receiver's answer) is kept as U+FFFD on both backends alike.
pub fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') { Cow::Owned(text.replace('\0', "\u{fffd}")) } else { Cow::Borrowed(text) }
}

/// The path of the first string (or key) in `value` holding a NUL (`custom_fields.a`,
/// `tags[2]`), if any: PostgreSQL's text holds none, so such input is refused alike on both.
pub fn nul_path(value: &serde_json::Value) -> Option<String> {
    fn walk(value: &serde_json::Value, path: &str) -> Option<String> {
        use serde_json::Value;
        let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
        match value {
            Value::String(text) => text.contains('\0').then(|| path.to_owned()),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| walk(item, &format!("{path}[{i}]"))),
            Value::Object(map) => map.iter().find_map(|(key, item)| {
                if key.contains('\0') { Some(join(&key.replace('\0', "\\u0000"))) } else { walk(item, &join(key)) }
            }),
            _ => None,
        }
    }
    walk(value, "")
}

/// Whether a header's value is a credential the logs must not keep: `Authorization`, cookies,
/// signatures, and any name that says key, token, secret, password or session.
pub fn is_secret_header(name: &str) -> bool {
    const MARKERS: &[&str] =
        &["auth", "cookie", "signature", "key", "token", "secret", "password", "passwd", "session", "credential"];
    let name = name.to_ascii_lowercase();
    MARKERS.iter().any(|marker| name.contains(marker))
}

/// The media type of a `Content-Type` value, lowercase, without parameters (`charset`).
pub fn media_type(content_type: &str) -> String {
    content_type.split(';').next().map(|v| v.trim().to_ascii_lowercase()).unwrap_or_default()
}

/// `application/json` or a `+json` type.
pub fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.ends_with("+json")
}

/// What a log keeps of headers (an inbound call's, a receiver's answer): each name at most
/// this long...
pub const LOGGED_NAME_BYTES: usize = 128;
/// ...each value at most this long...
pub const LOGGED_VALUE_BYTES: usize = 2048;
/// ...and the values of all of them together at most this long.
pub const LOGGED_HEADERS_BYTES: usize = 16 * 1024;

/// Headers (each name once) as a log keeps them: credentials redacted, and bounded whatever
/// the other side sent (a flood of large headers must not fill the disk). Every name is kept,
/// cut at [`LOGGED_NAME_BYTES`]; each value is cut at [`LOGGED_VALUE_BYTES`]; once the headers
/// hold [`LOGGED_HEADERS_BYTES`], the values that follow are left out. What is cut or left
/// out says so, with its size.
pub fn logged_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, String)>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut logged = serde_json::Map::new();
    let mut kept = 0;
    for (name, value) in headers {
        let name = cut(name, LOGGED_NAME_BYTES).to_owned();
        if logged.contains_key(&name) {
            continue;
        }
        let shown = if is_secret_header(&name) {
            "[redacted]".to_owned()
        } else if kept + name.len() + value.len().min(LOGGED_VALUE_BYTES) > LOGGED_HEADERS_BYTES {
            format!("[not kept: {} bytes, past the {LOGGED_HEADERS_BYTES} bytes of headers a log keeps]", value.len())
        } else if value.len() > LOGGED_VALUE_BYTES {
            format!("{} [cut: {} bytes]", cut(&value, LOGGED_VALUE_BYTES), value.len())
        } else {
            value
        };
        kept += name.len() + shown.len();
        logged.insert(name, serde_json::Value::String(shown));
    }
    logged
}

#[cfg(test)]
mod tests {
    #[test]
    fn cuts_on_a_character_boundary() {
        assert_eq!(super::cut("héllo", 2), "h");
        assert_eq!(super::cut("héllo", 3), "hé");
        assert_eq!(super::cut("hi", 10), "hi");
    }

    #[test]
    fn nul_is_replaced_and_credentials_are_recognised() {
        assert_eq!(super::storable("abc\0def"), "abc\u{fffd}def");
        assert!(matches!(super::storable("clean"), super::Cow::Borrowed("clean")));
        for secret in
            ["Authorization", "X-Api-Key", "webhook-signature", "X-Hub-Signature-256", "Cookie", "X-Auth-Token"]
        {
            assert!(super::is_secret_header(secret), "{secret}");
        }
        for plain in ["Content-Type", "X-Ticket", "X-Source", "Accept"] {
            assert!(!super::is_secret_header(plain), "{plain}");
        }
    }
}
