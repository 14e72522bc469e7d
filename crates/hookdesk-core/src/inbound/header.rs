//! The HTTP header names an inbound webhook reads (its signature and idempotency headers) or
//! sets (its response's headers): one rule for all of them, checked when it is saved.

use crate::Invalid;

/// A header name an inbound webhook reads, checked when it is saved.
pub fn check_header_name(field: &str, name: &str) -> Result<(), Invalid> {
    if is_token(name) { Ok(()) } else { Err(Invalid::new(field, "must be an HTTP header name")) }
}

/// RFC 9110's `token`: the characters of a header name.
pub(super) fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
