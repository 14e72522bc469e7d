//! Use-case errors. They know nothing of HTTP; `http::error` maps them once.

use hookdesk_core::Invalid;
use hookdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input the domain refuses: a 422 naming the field.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// Well-formed input that cannot be acted on, with its own error code (a test payload
    /// that renders to invalid JSON, say).
    #[error("{code}: {message}")]
    Unprocessable { code: &'static str, message: String },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => AppError::Conflict(message),
            other => AppError::Store(other),
        }
    }
}

/// The operating system could not give random bytes (for an id, a token or a secret).
impl From<getrandom::Error> for AppError {
    fn from(error: getrandom::Error) -> Self {
        AppError::Store(StoreError::Corrupt(format!("no randomness: {error}")))
    }
}

/// `NotFound` from the store as "the {what} does not exist".
pub(crate) trait OrNotFound<T> {
    fn or_not_found(self, what: &'static str) -> Result<T, AppError>;
}

impl<T> OrNotFound<T> for Result<T, StoreError> {
    fn or_not_found(self, what: &'static str) -> Result<T, AppError> {
        self.map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound(what),
            other => other.into(),
        })
    }
}
