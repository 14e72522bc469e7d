//! What one attempt came to, classified once, by the sender, into an [`AttemptCode`]: the code
//! alone decides the retry, the circuit breaker, the metrics class and the error code stored.

use std::time::Duration;

use hookdesk_store::{AttemptOutcome, LoggedResponse};

/// How an attempt ended. The stored error codes (`as_str`) are part of the API: an attempt's
/// `error.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptCode {
    /// The receiver answered 2xx.
    Delivered,
    /// The receiver answered a status worth another try: 408, 409, 425, 429 or 5xx.
    RetryableStatus,
    /// The receiver answered any other status: final.
    RejectedStatus,
    /// The receiver answered 3xx; redirects are not followed.
    Redirect,
    Timeout,
    /// Connecting failed for a reason not named below.
    Connection,
    ConnectionRefused,
    ConnectionReset,
    Dns,
    Tls,
    /// The SSRF guard refused the destination.
    SsrfRefused,
    InvalidUrl,
    /// The webhook was deleted before its invocation was sent: nothing was attempted.
    WebhookDeleted,
}

/// An attempt's outcome, in the classes an operator alerts on (the `outcome` label of
/// `hookdesk_delivery_attempts_total`).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum OutcomeClass {
    Success,
    /// The receiver answered, with a status that is not 2xx (a redirect included).
    HttpError,
    Timeout,
    /// DNS, connect, TLS, or the connection closed before an answer.
    ConnectionError,
    /// The SSRF guard refused the destination.
    Refused,
    Other,
}

impl OutcomeClass {
    pub const ALL: [Self; 6] =
        [Self::Success, Self::HttpError, Self::Timeout, Self::ConnectionError, Self::Refused, Self::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::HttpError => "http_error",
            Self::Timeout => "timeout",
            Self::ConnectionError => "connection_error",
            Self::Refused => "refused",
            Self::Other => "other",
        }
    }
}

impl AttemptCode {
    /// The code of an answer with this status.
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Delivered,
            300..=399 => Self::Redirect,
            408 | 409 | 425 | 429 | 500..=599 => Self::RetryableStatus,
            _ => Self::RejectedStatus,
        }
    }

    /// The error code an attempt stores; `None` when it delivered.
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            Self::Delivered => return None,
            Self::RetryableStatus | Self::RejectedStatus => "http_status",
            Self::Redirect => "redirect",
            Self::Timeout => "timeout",
            Self::Connection => "connection",
            Self::ConnectionRefused => "connection_refused",
            Self::ConnectionReset => "connection_reset",
            Self::Dns => "dns",
            Self::Tls => "tls",
            Self::SsrfRefused => "ssrf_refused",
            Self::InvalidUrl => "invalid_url",
            Self::WebhookDeleted => "webhook_deleted",
        })
    }

    pub fn delivered(self) -> bool {
        self == Self::Delivered
    }

    /// Whether another attempt may help: connection errors, timeouts and the retryable
    /// statuses. A refused destination, a bad URL, a redirect or another status is final.
    pub fn is_retryable(self) -> bool {
        match self {
            Self::RetryableStatus
            | Self::Timeout
            | Self::Connection
            | Self::ConnectionRefused
            | Self::ConnectionReset
            | Self::Dns
            | Self::Tls => true,
            Self::Delivered
            | Self::RejectedStatus
            | Self::Redirect
            | Self::SsrfRefused
            | Self::InvalidUrl
            | Self::WebhookDeleted => false,
        }
    }

    /// What the circuit breaker makes of it: `None` when the request never reached the network
    /// (refused by the guard, no URL), else whether the endpoint looked sick. An answer such as
    /// 400 means the endpoint is up.
    pub fn breaker_verdict(self) -> Option<bool> {
        match self {
            Self::SsrfRefused | Self::InvalidUrl | Self::WebhookDeleted => None,
            code => Some(code.is_retryable()),
        }
    }

    pub fn class(self) -> OutcomeClass {
        match self {
            Self::Delivered => OutcomeClass::Success,
            Self::RetryableStatus | Self::RejectedStatus | Self::Redirect => OutcomeClass::HttpError,
            Self::Timeout => OutcomeClass::Timeout,
            Self::Connection | Self::ConnectionRefused | Self::ConnectionReset | Self::Dns | Self::Tls => {
                OutcomeClass::ConnectionError
            }
            Self::SsrfRefused => OutcomeClass::Refused,
            Self::InvalidUrl | Self::WebhookDeleted => OutcomeClass::Other,
        }
    }
}

/// What one attempt gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub code: AttemptCode,
    /// What happened, in a sentence (empty when delivered).
    pub message: String,
    pub response: Option<LoggedResponse>,
    pub duration: Duration,
    /// The receiver's `Retry-After`, parsed.
    pub retry_after: Option<Duration>,
}

impl Outcome {
    /// An attempt that got no answer.
    pub fn failed(code: AttemptCode, message: String, duration: Duration) -> Self {
        Self { code, message, response: None, duration, retry_after: None }
    }

    /// An answer, classified by its status (the sender builds its own, with the message and
    /// `Retry-After` it read).
    #[cfg(test)]
    pub(crate) fn answered(response: LoggedResponse, message: String, duration: Duration) -> Self {
        Self {
            code: AttemptCode::of_status(response.status),
            message,
            response: Some(response),
            duration,
            retry_after: None,
        }
    }

    pub fn succeeded(&self) -> bool {
        self.code.delivered()
    }

    /// The error the attempt stores; `None` when it delivered.
    pub fn error(&self) -> Option<AttemptOutcome> {
        self.code.as_str().map(|code| AttemptOutcome { code: code.to_owned(), message: self.message.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_contract_says() {
        for status in [200, 201, 204, 299] {
            assert_eq!(AttemptCode::of_status(status), AttemptCode::Delivered, "{status}");
        }
        for status in [408, 409, 425, 429, 500, 503, 599] {
            assert_eq!(AttemptCode::of_status(status), AttemptCode::RetryableStatus, "{status}");
        }
        for status in [400, 401, 404, 410, 422, 100, 600] {
            assert_eq!(AttemptCode::of_status(status), AttemptCode::RejectedStatus, "{status}");
        }
        for status in [301, 302, 307, 308] {
            assert_eq!(AttemptCode::of_status(status), AttemptCode::Redirect, "{status}");
        }
    }

    #[test]
    fn each_code_decides_retry_breaker_metrics_and_the_stored_code() {
        use AttemptCode::*;
        // (code, stored, retried, breaker, class)
        let table = [
            (Delivered, None, false, Some(false), "success"),
            (RetryableStatus, Some("http_status"), true, Some(true), "http_error"),
            (RejectedStatus, Some("http_status"), false, Some(false), "http_error"),
            (Redirect, Some("redirect"), false, Some(false), "http_error"),
            (Timeout, Some("timeout"), true, Some(true), "timeout"),
            (Connection, Some("connection"), true, Some(true), "connection_error"),
            (ConnectionRefused, Some("connection_refused"), true, Some(true), "connection_error"),
            (ConnectionReset, Some("connection_reset"), true, Some(true), "connection_error"),
            (Dns, Some("dns"), true, Some(true), "connection_error"),
            (Tls, Some("tls"), true, Some(true), "connection_error"),
            (SsrfRefused, Some("ssrf_refused"), false, None, "refused"),
            (InvalidUrl, Some("invalid_url"), false, None, "other"),
            (WebhookDeleted, Some("webhook_deleted"), false, None, "other"),
        ];
        for (code, stored, retried, breaker, class) in table {
            assert_eq!(code.as_str(), stored, "{code:?}");
            assert_eq!(code.is_retryable(), retried, "{code:?}");
            assert_eq!(code.breaker_verdict(), breaker, "{code:?}");
            assert_eq!(code.class().as_str(), class, "{code:?}");
        }
    }

    #[test]
    fn an_outcome_stores_its_error_only_when_it_failed() {
        let response = |status| LoggedResponse { status, headers: Default::default(), body: String::new(), note: None };
        assert_eq!(Outcome::answered(response(204), String::new(), Duration::ZERO).error(), None);
        let refused = Outcome::answered(response(503), "the receiver answered 503".into(), Duration::ZERO);
        assert_eq!(
            refused.error(),
            Some(AttemptOutcome { code: "http_status".into(), message: "the receiver answered 503".into() })
        );
        assert!(!refused.succeeded());
    }
}
