//! The one place errors become HTTP: `{"error": {"code", "message", "details"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hookdesk_core::Invalid;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::app::AppError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<Value>,
    /// Seconds to send as `Retry-After` (429s).
    pub retry_after: Option<u64>,
}

/// The error body of every failed request.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code.
    code: &'static str,
    /// A sentence for people.
    message: String,
    /// For invalid values: `{field, message, line?, column?}`; for a render that failed,
    /// `{unknown_variables}` when its templates asked for variables that do not exist.
    details: Vec<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: vec![], retry_after: None }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API token is required: Authorization: Bearer TOKEN",
        )
    }

    pub fn forbidden(role: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", format!("this needs the {role} role"))
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("the {what} does not exist"))
    }

    /// The contract's error body of this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail { code: self.code, message: self.message.clone(), details: self.details.clone() },
        }
    }

    pub fn payload_too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is over 1 MiB")
    }

    pub fn invalid(invalid: Invalid) -> Self {
        let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, invalid.code, invalid.to_string());
        error.details.push(serde_json::to_value(&invalid).unwrap_or(Value::Null));
        error
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        Self::invalid(invalid)
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Unauthenticated => Self::unauthorized(),
            AppError::Forbidden(role) => Self::forbidden(role),
            AppError::Throttled(wait) => {
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let message = AppError::Throttled(wait).to_string();
                Self {
                    retry_after: Some(seconds.max(1)),
                    ..Self::new(StatusCode::TOO_MANY_REQUESTS, "throttled", message)
                }
            }
            AppError::Invalid(invalid) => Self::invalid(invalid),
            AppError::NotFound(what) => Self::not_found(what),
            AppError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            conflict @ AppError::VersionConflict(_) => {
                Self::new(StatusCode::PRECONDITION_FAILED, "version_conflict", conflict.to_string())
            }
            AppError::Unprocessable { code, message, unknown_variables } => {
                let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
                if !unknown_variables.is_empty() {
                    error.details.push(serde_json::json!({"unknown_variables": unknown_variables}));
                }
                error
            }
            AppError::SignatureMismatch(reason) => Self::new(StatusCode::UNAUTHORIZED, "signature_mismatch", reason),
            AppError::MalformedBody(message) => Self::new(StatusCode::BAD_REQUEST, "malformed_json", message),
            AppError::PayloadTooLarge => Self::payload_too_large(),
            AppError::BadRequest(message) => Self::new(StatusCode::BAD_REQUEST, "bad_request", message),
            AppError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; try again shortly",
                )
            }
            AppError::NotReady(reason) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", reason),
            AppError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred; it has been logged",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert("www-authenticate", axum::http::HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
