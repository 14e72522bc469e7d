//! Use-case errors. They know nothing of HTTP; `http::error` maps them once.

use hookdesk_core::Invalid;
use hookdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No valid API token.
    #[error("a valid API token is required")]
    Unauthenticated,
    /// The caller's address presented too many wrong tokens: it may try again after this.
    #[error("too many wrong tokens from this address; try again in {} s", .0.as_secs().max(1))]
    Throttled(std::time::Duration),
    /// The caller's role is below the one named.
    #[error("this needs the {0} role")]
    Forbidden(&'static str),
    /// Input the domain refuses: a 422 naming the field.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// A write that named the version it read, of an object that changed since: the version
    /// it is at now.
    #[error("this changed since it was read (it is at version {0} now): read it again, then change it")]
    VersionConflict(String),
    /// Well-formed input that cannot be acted on, with its own error code (a test payload
    /// that renders to invalid JSON, say), and the variables its templates asked for that do
    /// not exist (the error's details list them).
    #[error("{code}: {message}")]
    Unprocessable { code: &'static str, message: String, unknown_variables: Vec<String> },
    /// An inbound call whose signature does not verify.
    #[error("{0}")]
    SignatureMismatch(String),
    /// A body that is not what its content type says (invalid JSON).
    #[error("{0}")]
    MalformedBody(String),
    /// A body over the size limit.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// A request that could not be read.
    #[error("{0}")]
    BadRequest(String),
    /// The database cannot be reached now: worth trying again shortly.
    #[error("{0}")]
    Unavailable(String),
    /// This node should not take traffic now (`/readyz`): the reason, in words.
    #[error("not ready: {0}")]
    NotReady(String),
    /// A fault of ours (a database error, unreadable stored data): to be logged, not shown.
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => AppError::NotFound("resource"),
            StoreError::Conflict(message) => AppError::Conflict(message),
            StoreError::Unavailable(_) => AppError::Unavailable(error.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

/// The operating system could not give random bytes (for an id, a token or a secret).
impl From<getrandom::Error> for AppError {
    fn from(error: getrandom::Error) -> Self {
        AppError::Internal(format!("no randomness: {error}"))
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
