//! The secret part of an inbound webhook's URL, kept out of logs.

/// The secret part of an inbound webhook's URL. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlToken(String);

impl UrlToken {
    pub fn new(token: String) -> Self {
        Self(token)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for UrlToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlToken(..)")
    }
}
