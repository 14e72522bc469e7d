//! Users and their API tokens.

use hookdesk_core::Invalid;
use hookdesk_core::Timestamp;
use hookdesk_core::event::EventType;
use hookdesk_core::ticket::parse_text;
use hookdesk_core::user::{Email, Role, User};
use hookdesk_store::UserPatch;
use serde_json::Value;

use super::error::OrNotFound;
use super::{App, AppError, ids};

/// A token as created: its id and, this once, its value.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: i64,
    pub token: String,
}

fn check_name(name: &str) -> Result<String, Invalid> {
    if name.trim().is_empty() {
        return Err(Invalid::new("name", "must not be empty"));
    }
    parse_text("name", name.trim(), 255)
}

impl App {
    pub async fn create_user(&self, name: &str, email: &str, role: Role) -> Result<User, AppError> {
        let name = check_name(name)?;
        let email = Email::parse(email)?;
        let user = self.store.create_user(&name, &email, role, self.clock.now()).await?;
        self.user_event(EventType::UserCreated, &user, Value::Null).await?;
        Ok(user)
    }

    /// Queues a user event for its subscribers. The user is saved already: an event lost to
    /// a crash between the two is the one gap (ticket events share their update's transaction).
    async fn user_event(&self, event: EventType, user: &User, previous: Value) -> Result<(), AppError> {
        let current = serde_json::to_value(user).unwrap_or(Value::Null);
        self.queue_event(event, &format!("users/{}", user.id), current, &previous, self.clock.now()).await
    }

    pub async fn user(&self, id: i64) -> Result<User, AppError> {
        self.store.user(id).await.or_not_found("user")
    }

    pub async fn update_user(
        &self,
        id: i64,
        name: Option<&str>,
        email: Option<&str>,
        role: Option<Role>,
    ) -> Result<User, AppError> {
        let patch =
            UserPatch { name: name.map(check_name).transpose()?, email: email.map(Email::parse).transpose()?, role };
        let before = self.user(id).await?;
        let user = self.store.update_user(id, &patch, self.clock.now()).await.or_not_found("user")?;
        if user != before {
            self.user_event(EventType::UserUpdated, &user, serde_json::to_value(&before).unwrap_or(Value::Null))
                .await?;
        }
        Ok(user)
    }

    /// A new API token acting as user `id`, an agent or admin.
    pub async fn create_token(&self, id: i64, label: Option<&str>) -> Result<NewToken, AppError> {
        let user = self.user(id).await?;
        if user.role < Role::Agent {
            return Err(Invalid::new(
                "role",
                "only agents and admins may hold API tokens; make the user an agent first",
            )
            .into());
        }
        let label = parse_text("label", label.unwrap_or("api").trim(), 255)?;
        let token = format!("hd_{}", ids::random_token(32)?);
        let token_id = self.store.create_token(id, &ids::token_hash(&token), &label, Timestamp::now()).await?;
        Ok(NewToken { id: token_id, token })
    }

    pub async fn delete_token(&self, id: i64, token_id: i64) -> Result<(), AppError> {
        self.store.delete_token(id, token_id).await.or_not_found("token")
    }
}
