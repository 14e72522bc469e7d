//! Users: requesters (`end_user`), agents and admins.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::id::{TokenId, UserId};
use crate::{Invalid, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    EndUser,
    Agent,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::EndUser, Role::Agent, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::EndUser => "end_user",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    #[schema(value_type = i64)]
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub created_at: Timestamp,
}

/// An API token as admins see it: never the token itself (only its hash is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: TokenId,
    pub label: String,
    pub created_at: Timestamp,
    /// When it last authenticated a request, to within about a minute; None if never.
    pub last_used_at: Option<Timestamp>,
}

/// An email address, trimmed and lower-cased so that "found or created by email" finds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let text = text.trim().to_lowercase();
        let valid = text.len() <= 254
            && text.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            })
            && !text.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Self(text))
        } else {
            Err(Invalid::new("email", "must be an email address like name@example.com"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse(" Ann@Example.COM ").map(|e| e.0), Ok("ann@example.com".into()));
        for bad in ["", "ann", "@x.com", "ann@", "ann@com", "a b@x.com", "a@.com"] {
            assert_eq!(Email::parse(bad).expect_err("refused").field, "email", "{bad} should be refused");
        }
    }
}
