//! Who calls a use case. An [`Agent`] or [`Admin`] exists only once its API token checked
//! out and its role allows it: a use case that takes one cannot run for anyone else.

use hookdesk_core::user::{Role, User};

use super::{App, AppError, ids};

/// A user with an agent's rights: an agent or an admin.
#[derive(Debug, Clone)]
pub struct Agent(User);

/// An admin.
#[derive(Debug, Clone)]
pub struct Admin(User);

impl Agent {
    /// For a user whose role was checked by the caller.
    pub(super) fn checked(user: User) -> Self {
        Self(user)
    }

    pub fn user(&self) -> &User {
        &self.0
    }
}

impl Admin {
    /// For a user whose role was checked by the caller.
    pub(super) fn checked(user: User) -> Self {
        Self(user)
    }

    pub fn user(&self) -> &User {
        &self.0
    }
}

impl App {
    /// The agent (or admin) an API token acts as.
    pub async fn agent(&self, token: &str) -> Result<Agent, AppError> {
        let user = self.user_for_token(token).await?;
        if user.role < Role::Agent {
            return Err(AppError::Forbidden("agent"));
        }
        Ok(Agent(user))
    }

    /// The admin an API token acts as.
    pub async fn admin(&self, token: &str) -> Result<Admin, AppError> {
        let user = self.user_for_token(token).await?;
        if user.role != Role::Admin {
            return Err(AppError::Forbidden("admin"));
        }
        Ok(Admin(user))
    }

    async fn user_for_token(&self, token: &str) -> Result<User, AppError> {
        // Looked up by its SHA-256: the comparison happens on a hash the caller cannot steer,
        // so response time says nothing about how close a guess was.
        self.store.user_for_token(&ids::token_hash(token)).await?.ok_or(AppError::Unauthenticated)
    }
}
