//! Reading a call: its token and path, its headers, and its body up to the size limit.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use hookdesk_core::inbound::InboundRequest;

use crate::app::AppError;

/// The token and the rest of the path (`/` when none) of `/hooks/TOKEN[/REST]`.
pub fn token_and_path(path: &str) -> (String, String) {
    let after = path.strip_prefix("/hooks/").unwrap_or_default();
    match after.split_once('/') {
        Some((token, rest)) => (token.to_owned(), format!("/{rest}")),
        None => (after.to_owned(), "/".to_owned()),
    }
}

/// Reads the call. A body over 1 MiB is refused without reading the rest; the call comes
/// back with the error, to be answered and logged.
pub async fn read(request: Request, path: String) -> Result<InboundRequest, (InboundRequest, AppError)> {
    let headers = request.headers().iter().map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()));
    let call = InboundRequest::new(
        request.method().as_str(),
        path,
        request.uri().query().unwrap_or_default().to_owned(),
        headers.collect(),
    );
    // A declared body over the limit is refused before any of it is read.
    if call.body_bytes > crate::http::MAX_BODY_BYTES as u64 {
        return Err((call, AppError::PayloadTooLarge));
    }
    // The router's body limit (1 MiB) applies here.
    match Bytes::from_request(request, &()).await {
        Ok(bytes) => Ok(call.with_body(bytes.to_vec())),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err((call, AppError::PayloadTooLarge)),
        Err(rejection) => Err((call, AppError::BadRequest(rejection.body_text()))),
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
}
