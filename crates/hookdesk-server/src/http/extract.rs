//! Extractors whose failures speak the API's error format, and who is calling.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::app::{Admin, Agent, App, Client};

/// A JSON body. A malformed document is a 400; a value of the wrong shape a 422 naming
/// the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<App> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &App) -> Result<Self, ApiError> {
        if !hookdesk_core::text::is_json(&media_type(request.headers())) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The media type of a request's body, lowercase, without parameters (`charset`).
fn media_type(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(hookdesk_core::text::media_type)
        .unwrap_or_default()
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Two steps, because serde_json reports a value of the wrong kind for an enum (a number
    // for `status`) as a syntax error: only the first step can find real syntax errors.
    let document: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| malformed(&e))?;
    if let Some(field) = hookdesk_core::text::nul_path(&document) {
        // PostgreSQL's text holds no NUL; refused here, it is refused alike on both backends.
        return Err(hookdesk_core::Invalid::new(field, "must not contain NUL (\\u0000) characters").into());
    }
    Ok(crate::app::from_json(document)?)
}

/// A YAML document, refused (400 `malformed_yaml`) when it does not parse or nests deeper
/// than any configuration does: the YAML scanner's work grows with the square of the
/// nesting (100,000 `[` took 45 s of a core), so depth is measured before it runs.
pub fn parse_yaml(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    const MAX_NESTING: usize = 64;
    let malformed = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "malformed_yaml", message);
    if yaml_nesting(bytes) > MAX_NESTING {
        return Err(malformed(format!("the body nests deeper than {MAX_NESTING} levels")));
    }
    yaml_serde::from_slice(bytes).map_err(|e| malformed(format!("the body is not valid YAML: {e}")))
}

/// How deep `text` nests: flow collections (`[`, `{`) within each other, plus block
/// sequence entries opened on one line (`- - -`). Quoted scalars, comments and block
/// scalars (`|`, `>`) are passed over; a bracket inside a plain scalar may count, which
/// only errs towards refusing.
fn yaml_nesting(text: &[u8]) -> usize {
    let (mut deepest, mut flow, mut i) = (0, 0usize, 0);
    // Where a node may begin: a quote or a bracket there opens one.
    let mut node_start = true;
    let mut line_dashes = 0;
    // The indentation of the line that opened a block scalar, while passing over its lines.
    let mut block_scalar: Option<usize> = None;
    let mut line_indent = 0;
    let mut next_line = 0;
    let blank_or_end = |at: usize| text.get(at).is_none_or(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    while i < text.len() {
        if i == next_line {
            next_line = i + text[i..].iter().position(|&b| b == b'\n').map_or(text.len() - i, |n| n + 1);
            let indent = text[i..].iter().take_while(|&&b| b == b' ').count();
            let rest_blank = text[i + indent..].first().is_none_or(|b| matches!(b, b'\r' | b'\n'));
            if let Some(opener) = block_scalar {
                if rest_blank || indent > opener {
                    i = next_line;
                    continue;
                }
                block_scalar = None;
            }
            line_indent = indent;
            line_dashes = 0;
            if flow == 0 {
                node_start = true;
            }
            i += indent;
            continue;
        }
        let byte = text[i];
        match byte {
            b'\'' | b'"' if node_start => {
                i += 1;
                while i < text.len() {
                    match text[i] {
                        b'\\' if byte == b'"' => i += 1,
                        b'\'' if byte == b'\'' && text.get(i + 1) == Some(&b'\'') => i += 1,
                        b if b == byte => break,
                        _ => {}
                    }
                    i += 1;
                }
                node_start = false;
            }
            b'#' if i == 0 || matches!(text[i - 1], b' ' | b'\t') => {
                i += text[i..].iter().position(|&b| b == b'\n').unwrap_or(text.len() - i);
                continue;
            }
            b'|' | b'>' if node_start && flow == 0 => {
                block_scalar = Some(line_indent);
                i += text[i..].iter().position(|&b| b == b'\n').unwrap_or(text.len() - i);
                continue;
            }
            // An anchor or a tag comes before the node it names: a bracket after it still opens one.
            b'&' | b'!' if node_start => {
                while i + 1 < text.len() && !matches!(text[i + 1], b' ' | b'\t' | b'\r' | b'\n' | b'[' | b'{') {
                    i += 1;
                }
            }
            b'[' | b'{' if node_start || flow > 0 => {
                flow += 1;
                node_start = true;
            }
            b']' | b'}' if flow > 0 => {
                flow -= 1;
                node_start = false;
            }
            b',' if flow > 0 => node_start = true,
            b'-' | b'?' if node_start && flow == 0 && blank_or_end(i + 1) => line_dashes += 1,
            b':' if blank_or_end(i + 1) || flow > 0 => node_start = true,
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => node_start = false,
        }
        deepest = deepest.max(flow + line_dashes);
        i += 1;
    }
    deepest
}

fn malformed(error: &serde_json::Error) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("the body is not valid JSON: {error}"))
}

/// Query parameters, refused as a 422 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            hookdesk_core::Invalid::new(path, crate::app::plain_words(&e.into_inner().to_string())).into()
        })
    }
}

/// Path parameters, refused as a 404 when they cannot name anything (`/tickets/abc`).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| ApiError::not_found("resource"))
    }
}

/// `If-Match`: the version a write was made from, when the client names one (`"3f2a..."`, or
/// weak `W/"3f2a..."`; `*`, any version, names none).
pub struct IfMatch(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(axum::http::header::IF_MATCH) else { return Ok(IfMatch(None)) };
        let value = value.to_str().map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_request", "If-Match must be an ETag this API answered")
        })?;
        let tag = value.trim().trim_start_matches("W/").trim_matches('"');
        Ok(IfMatch((tag != "*" && !tag.is_empty()).then(|| tag.to_owned())))
    }
}

/// `item` as JSON with its version as the `ETag`.
pub fn tagged(item: &impl serde::Serialize) -> axum::response::Response {
    use axum::response::IntoResponse;
    let version = crate::app::version_of(item);
    let mut response = axum::Json(item).into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(axum::http::header::ETAG, value);
    }
    response
}

/// The longest a path or query parameter may be.
pub const MAX_PARAM_BYTES: usize = 2048;

/// A path or query parameter no route can read: a NUL (PostgreSQL's text holds none, so it is
/// refused alike on both backends), bytes that are not UTF-8, or more than
/// [`MAX_PARAM_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableParam {
    pub in_path: bool,
    pub name: String,
    pub reason: &'static str,
}

impl UnreadableParam {
    /// As the API answers it: a path parameter names nothing (404), a query parameter is a 422
    /// naming it.
    pub fn api_error(&self) -> ApiError {
        if self.in_path {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("the path parameter `{}` {}: it names nothing", self.name, self.reason),
            )
        } else {
            hookdesk_core::Invalid::new(
                self.name.clone(),
                format!("the query parameter `{}` {}", self.name, self.reason),
            )
            .into()
        }
    }
}

/// The first parameter of `path_params` (as the route read them) or `query` (raw) that no
/// route can read, if any.
pub fn unreadable_param(
    path_params: Result<&axum::extract::RawPathParams, &axum::extract::rejection::RawPathParamsRejection>,
    query: Option<&str>,
) -> Option<UnreadableParam> {
    let problem = |value: &str| {
        if value.contains('\0') {
            Some("holds a NUL character")
        } else if value.len() > MAX_PARAM_BYTES {
            Some("is longer than 2048 bytes")
        } else {
            None
        }
    };
    match path_params {
        Ok(params) => {
            for (name, value) in params.iter() {
                if let Some(reason) = problem(value) {
                    return Some(UnreadableParam { in_path: true, name: name.to_owned(), reason });
                }
            }
        }
        Err(axum::extract::rejection::RawPathParamsRejection::InvalidUtf8InPathParam(e)) => {
            let name = e.body_text().split('`').nth(1).unwrap_or("path").to_owned();
            return Some(UnreadableParam { in_path: true, name, reason: "is not valid UTF-8" });
        }
        // No parameters to read (a route without any).
        Err(_) => {}
    }
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |raw: &str| {
            let spaced = raw.replace('+', " ");
            percent_encoding::percent_decode_str(&spaced).decode_utf8().map(|text| text.into_owned())
        };
        let shown = String::from_utf8_lossy(&percent_encoding::percent_decode_str(name).collect::<Vec<u8>>())
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect::<String>();
        let reason = match (decode(name), decode(value)) {
            (Err(_), _) | (_, Err(_)) => Some("is not valid UTF-8"),
            (Ok(name), Ok(value)) => problem(&name).or_else(|| problem(&value)),
        };
        if let Some(reason) = reason {
            return Some(UnreadableParam { in_path: false, name: shown, reason });
        }
    }
    None
}

/// The bearer token of a request. The scheme is case-insensitive (RFC 7235): `Bearer`,
/// `bearer`, `BEARER`.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(ApiError::unauthorized)
}

/// Who sent a request: its peer, or the client a trusted proxy names.
pub fn client(parts: &Parts, app: &App) -> Client {
    let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    app.client(peer, forwarded)
}

/// An agent or admin: a route that takes one runs only for them.
impl FromRequestParts<App> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        Ok(app.agent(bearer_token(&parts.headers)?, client(parts, app)).await?)
    }
}

/// An admin: a route that takes one runs only for them.
impl FromRequestParts<App> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        Ok(app.admin(bearer_token(&parts.headers)?, client(parts, app)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::yaml_nesting;

    #[test]
    fn nesting_counts_collections_and_passes_over_text() {
        let config = "webhooks:\n  - name: Intranet\n    custom_headers: {X-Team: \"[[[[\"}\n    payload: |\n      {\"a\": [[[{\"b\": 1}]]]}\n      # not a comment: [[[[\ntriggers: [{title: 'it''s [ok', actions: [a, b]}]\n";
        assert_eq!(yaml_nesting(config.as_bytes()), 3);
        assert_eq!(yaml_nesting("- - - - x".as_bytes()), 4);
        assert_eq!(yaml_nesting("a: [b, {c: [d]}]  # [[[[".as_bytes()), 3);
        // Closing brackets in a quote do not hide the collections around them.
        assert_eq!(yaml_nesting("a: [ \"]\", [ \"]\", [ x ] ] ]".as_bytes()), 3);
        assert_eq!(yaml_nesting("[".repeat(100_000).as_bytes()), 100_000);
        assert_eq!(yaml_nesting("title: Tag [VIP] now".as_bytes()), 0);
        // Anchors and tags before a collection do not hide it.
        assert_eq!(yaml_nesting("&a [".repeat(1000).as_bytes()), 1000);
        assert_eq!(yaml_nesting("a: !!seq [!t [&x {b: c}]]".as_bytes()), 3);
    }
}
