//! The message a page shows once after a change ("Saved", "Queued 3 replays"): a change
//! answers a redirect (POST, redirect, GET: reload and Back never post again) and leaves its
//! message in a short-lived cookie that the next page shows and clears.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

const COOKIE: &str = "hookdesk_flash";

/// The longest message kept: a cookie holds about 4 KiB.
const MAX_CHARS: usize = 600;

/// How a message reads: done as asked, or done with something to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Done,
    Warning,
}

/// A message for the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub tone: Tone,
    pub message: String,
}

impl Flash {
    pub fn done(message: impl Into<String>) -> Self {
        Self { tone: Tone::Done, message: message.into() }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Self { tone: Tone::Warning, message: message.into() }
    }

    /// The class its notice takes.
    pub fn class(&self) -> &'static str {
        match self.tone {
            Tone::Done => "ok",
            Tone::Warning => "warn",
        }
    }

    /// A redirect to `to` (303: the browser GETs it) carrying this message.
    pub fn redirect(self, to: &str) -> Response {
        let message: String = self.message.chars().take(MAX_CHARS).collect();
        let tone = match self.tone {
            Tone::Done => "d",
            Tone::Warning => "w",
        };
        let value = format!(
            "{COOKIE}={tone}{}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=120",
            utf8_percent_encode(&message, NON_ALPHANUMERIC)
        );
        let mut response = Redirect::to(to).into_response();
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }

    /// The message a request's cookie carries, if any.
    pub fn of(headers: &HeaderMap) -> Option<Flash> {
        let raw = super::session::cookie(headers, COOKIE)?;
        let tone = match raw.get(..1)? {
            "w" => Tone::Warning,
            _ => Tone::Done,
        };
        let message = percent_decode_str(raw.get(1..)?).decode_utf8().ok()?;
        let message: String = message.chars().filter(|c| !c.is_control()).take(MAX_CHARS).collect();
        (!message.is_empty()).then_some(Flash { tone, message })
    }
}

/// Forgets the message once a whole page has shown it (not after a redirect, nor after a
/// fragment htmx swapped into a page).
pub fn clear_when_shown(request_headers: &HeaderMap, response: &mut Response) {
    let had_message = super::session::cookie(request_headers, COOKIE).is_some();
    let partial = request_headers.contains_key("hx-request");
    let page = response.status().is_success() || response.status().is_client_error();
    if had_message && !partial && page {
        response.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_static("hookdesk_flash=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_survives_its_cookie() {
        let redirect = Flash::warning("Saved « Ünïcode »; with 2 warnings").redirect("/ui/triggers/1");
        let set = redirect.headers().get(header::SET_COOKIE).expect("a cookie").to_str().expect("ascii");
        let pair = set.split(';').next().expect("a pair");
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&format!("a=b; {pair}")).expect("a header"));
        assert_eq!(Flash::of(&headers), Some(Flash::warning("Saved « Ünïcode »; with 2 warnings")));
    }
}
