//! The ids in a page's path: one that cannot be an id is a page that does not exist (404 in
//! words), not a parser's message.

use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::UiError;
use crate::http::error::ApiError;

pub struct UiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for UiPath<T> {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, UiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(UiPath(value)),
            Err(_) => Err(UiError::Refused(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("There is no page at {}: check the address, or start again from the menu.", parts.uri.path()),
            ))),
        }
    }
}
