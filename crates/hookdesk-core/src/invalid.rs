//! The one validation error of the domain: which field, why, and where in a template.

use serde::Serialize;

/// A value that the domain refuses. The HTTP layer turns it into a 422 naming `field`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// Path of the offending input, e.g. `actions[1].value.payload`.
    pub field: String,
    pub message: String,
    /// Line and column of a template error, 1-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The API's error code: `invalid_value`, or a more precise one
    /// (`template_too_expensive`).
    #[serde(skip)]
    pub code: &'static str,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), line: None, column: None, code: Self::CODE }
    }

    pub const CODE: &'static str = "invalid_value";

    #[must_use]
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// The same error, one level deeper: `at("conditions.all[0]")` turns `value` into
    /// `conditions.all[0].value`.
    #[must_use]
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}
