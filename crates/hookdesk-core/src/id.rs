//! Typed ids: a ticket's id is not a user's, and a function taking both says which is which.
//!
//! In JSON (and path segments, which axum reads through serde) each id is its bare number or
//! string: `#[serde(transparent)]`. They deliberately implement no `ToSchema`: a field of an
//! API type names the schema it shows, `#[schema(value_type = i64)]` (or `String`), so the
//! OpenAPI document stays the contract's, and a field that forgets to does not compile.
//! The store binds `.0` and wraps the ids it reads; SQL never sees the types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Defines an id around an `i64` (a database sequence; `Copy`) or a `String` (a prefixed
/// UUIDv7, made by the app; `as_str`).
macro_rules! id {
    ($(#[$doc:meta])* $name:ident(i64)) => {
        id!(@define $(#[$doc])* $name(i64), [Copy, Deserialize]);

        impl FromStr for $name {
            type Err = <i64 as FromStr>::Err;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse().map(Self)
            }
        }
    };
    ($(#[$doc:meta])* $name:ident(String)) => {
        id!(@define $(#[$doc])* $name(String), []);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Only what hookdesk makes ids of: anything else names nothing, and never reaches a
        /// query (a NUL would make PostgreSQL fail where SQLite finds nothing).
        impl FromStr for $name {
            type Err = NotAnId;

            fn from_str(text: &str) -> Result<Self, NotAnId> {
                if is_id_text(text) { Ok(Self(text.to_owned())) } else { Err(NotAnId) }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
    (@define $(#[$doc:meta])* $name:ident($inner:ty), [$($derived:ident),*]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, $($derived,)* PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        /// Templates and changes see the bare number or string.
        impl From<$name> for serde_json::Value {
            fn from(id: $name) -> Self {
                id.0.into()
            }
        }
    };
}

/// The longest string id: hookdesk's are a prefix and 32 hex digits.
pub const MAX_ID_LEN: usize = 100;

/// Whether `text` can be a string id: 1 to [`MAX_ID_LEN`] ASCII letters, digits, `_` or `-`.
pub fn is_id_text(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_ID_LEN
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A text that cannot be a string id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not an id: ids are 1 to 100 letters, digits, _ and -")]
pub struct NotAnId;

id!(
    /// A ticket.
    TicketId(i64)
);
id!(
    /// A user: requester, agent or admin (a ticket's requester and assignee, a comment's
    /// author, an audit's actor).
    UserId(i64)
);
id!(
    /// A comment of a ticket.
    CommentId(i64)
);
id!(
    /// A trigger or an automation: two tables with a sequence each, so the id goes with the
    /// `RuleSet` that says which.
    RuleId(i64)
);
id!(
    /// A macro.
    MacroId(i64)
);

/// A macro applied as a rule (its comments, its audit entry) keeps its id's number.
impl From<MacroId> for RuleId {
    fn from(id: MacroId) -> Self {
        Self(id.0)
    }
}
id!(
    /// One audit record of a ticket.
    AuditId(i64)
);
id!(
    /// A user's API token.
    TokenId(i64)
);
id!(
    /// An outgoing webhook (`wh_...`).
    WebhookId(String)
);
id!(
    /// One invocation of an outgoing webhook (`inv_...`), also the `webhook-id` it is signed
    /// with.
    InvocationId(String)
);
id!(
    /// An inbound webhook (`hook_...`).
    InboundWebhookId(String)
);
id!(
    /// One call to an inbound webhook, as its log keeps it (`call_...`).
    CallId(String)
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bare_numbers_and_strings() {
        assert_eq!(serde_json::to_string(&TicketId(42)).ok().as_deref(), Some("42"));
        assert_eq!(serde_json::from_str::<TicketId>("42").ok(), Some(TicketId(42)));
        let quoted = serde_json::from_str::<TicketId>("\"42\"").map_err(|e| e.to_string());
        assert!(quoted.is_err_and(|e| e.starts_with("invalid type: string \"42\", expected i64")));
        assert_eq!(serde_json::to_string(&WebhookId("wh_1".into())).ok().as_deref(), Some("\"wh_1\""));
        assert_eq!("7".parse::<UserId>().ok(), Some(UserId(7)));
        assert_eq!("seven".parse::<UserId>().map_err(|e| e.to_string()), Err("invalid digit found in string".into()));
        assert_eq!(CallId("call_1".into()).to_string(), "call_1");
        for not_an_id in ["", "wh_\u{0}", "wh x", "wh/1", "é", &"x".repeat(MAX_ID_LEN + 1)] {
            assert_eq!(not_an_id.parse::<WebhookId>(), Err(NotAnId), "{not_an_id:?}");
            let refused =
                serde_json::from_value::<InvocationId>(serde_json::json!(not_an_id)).map_err(|e| e.to_string());
            assert_eq!(refused, Err(NotAnId.to_string()), "{not_an_id:?}");
        }
        assert_eq!("wh_0189abcdef-X".parse::<WebhookId>().map(|id| id.0), Ok("wh_0189abcdef-X".to_owned()));
    }
}
