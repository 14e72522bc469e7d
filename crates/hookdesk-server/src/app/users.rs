//! Users and their API tokens: the admins' use cases.

use hookdesk_core::event::EventType;
use hookdesk_core::id::{TokenId, UserId};
use hookdesk_core::ticket::parse_text;
use hookdesk_core::user::{Email, Role, TokenInfo, User};
use hookdesk_core::{Invalid, Page, Timestamp};
use hookdesk_store::UserPatch;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::OrNotFound;
use super::pages::SearchQuery;
use super::{Admin, App, AppError, ids};

/// `POST /users`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    pub name: String,
    pub email: String,
    /// Default `agent`.
    pub role: Option<Role>,
}

/// `PATCH /users/{id}`: absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUserBody {
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: Option<Role>,
}

/// `POST /users/{id}/tokens`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// What the token is for, to recognise it later. Default `api`.
    pub label: Option<String>,
}

/// A token as created: its id and, this once, its value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewToken {
    #[schema(value_type = i64)]
    pub id: TokenId,
    /// Shown this once; only its hash is stored.
    pub token: String,
}

fn check_name(name: &str) -> Result<String, Invalid> {
    if name.trim().is_empty() {
        return Err(Invalid::new("name", "must not be empty"));
    }
    parse_text("name", name.trim(), 255)
}

impl App {
    /// Users (requesters, agents and admins), by id.
    pub async fn users(&self, _caller: &Admin, query: SearchQuery) -> Result<Page<User>, AppError> {
        let (page, text) = (query.page(), query.text()?);
        let _turn = self.search_turn(text).await?;
        Ok(self.store.list_users(page.id_cursor()?, page.limit()?, text).await?)
    }

    /// Creates a user; an email already in use is a conflict.
    pub async fn create_user(&self, _caller: &Admin, body: UserBody) -> Result<User, AppError> {
        let name = check_name(&body.name)?;
        let email = Email::parse(&body.email)?;
        let role = body.role.unwrap_or(Role::Agent);
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

    pub async fn user(&self, _caller: &Admin, id: UserId) -> Result<User, AppError> {
        self.store.user(id).await.or_not_found("user")
    }

    /// Changes a user's name, email or role. The last admin stays admin (a conflict).
    pub async fn update_user(&self, caller: &Admin, id: UserId, body: PatchUserBody) -> Result<User, AppError> {
        let patch = UserPatch {
            name: body.name.as_deref().map(check_name).transpose()?,
            email: body.email.as_deref().map(Email::parse).transpose()?,
            role: body.role,
        };
        let before = self.user(caller, id).await?;
        let user = self.store.update_user(id, &patch, self.clock.now()).await.or_not_found("user")?;
        if user != before {
            self.user_event(EventType::UserUpdated, &user, serde_json::to_value(&before).unwrap_or(Value::Null))
                .await?;
        }
        Ok(user)
    }

    /// A new API token acting as user `id`, an agent or admin.
    pub async fn create_token(&self, caller: &Admin, id: UserId, body: TokenBody) -> Result<NewToken, AppError> {
        let user = self.user(caller, id).await?;
        if user.role < Role::Agent {
            return Err(Invalid::new(
                "role",
                "only agents and admins may hold API tokens; make the user an agent first",
            )
            .into());
        }
        let label = parse_text("label", body.label.as_deref().unwrap_or("api").trim(), 255)?;
        let token = super::new_api_token()?;
        let token_id = self.store.create_token(id, &ids::token_hash(&token), &label, Timestamp::now()).await?;
        Ok(NewToken { id: token_id, token })
    }

    /// A user's API tokens (their labels and ids; the tokens themselves are never kept).
    pub async fn tokens(&self, _caller: &Admin, id: UserId) -> Result<Vec<TokenInfo>, AppError> {
        self.store.user(id).await.or_not_found("user")?;
        Ok(self.store.tokens_of(id).await?)
    }

    /// Revokes a token.
    pub async fn delete_token(&self, _caller: &Admin, id: UserId, token_id: TokenId) -> Result<(), AppError> {
        self.store.delete_token(id, token_id).await.or_not_found("token")
    }
}
