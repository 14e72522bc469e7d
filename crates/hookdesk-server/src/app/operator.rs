//! What commands run beside the database do (`serve` at its start, `admin-token`, the
//! bench's setup). They hold the database and its key already, so they act as its admin:
//! the bootstrap admin user, or else the first admin. Every change still goes through the
//! same use cases and checks as the API's.

use hookdesk_core::Timestamp;
use hookdesk_core::id::{InvocationId, WebhookId};
use hookdesk_core::invocation::NewInvocation;
use hookdesk_core::request::PreparedRequest;
use hookdesk_core::user::{Role, User};
use hookdesk_core::webhook::HttpMethod;
use hookdesk_store::Store;

use super::error::OrNotFound;
use super::{Admin, App, AppError, TokenBody, ids};

/// A new API token, in the form every token of hookdesk has.
pub fn new_api_token() -> Result<String, AppError> {
    Ok(format!("hd_{}", ids::random_token(32)?))
}

impl App {
    /// The admin that commands run beside the database act as: the bootstrap admin user, or
    /// else the first admin (the bootstrap one may have changed its email, or its role).
    /// `None` on a database no server has started on yet.
    pub async fn local_admin(&self) -> Result<Option<Admin>, AppError> {
        let mut first_admin = None;
        let mut after = None;
        loop {
            let page = self.store.list_users(after, 500, None).await?;
            for user in page.data.into_iter().filter(|u| u.role == Role::Admin) {
                if user.email == Store::BOOTSTRAP_ADMIN_EMAIL {
                    return Ok(Some(Admin::checked(user)));
                }
                first_admin.get_or_insert(user);
            }
            match page.next_cursor.and_then(|c| c.parse().ok()) {
                Some(id) => after = Some(id),
                None => return Ok(first_admin.map(Admin::checked)),
            }
        }
    }

    /// At a server's start: makes `given` the bootstrap admin token (the earlier one stops
    /// working, and the log says so), or on a first start generates one and answers it.
    pub async fn provision_bootstrap_token(&self, given: Option<&str>) -> Result<Option<String>, AppError> {
        let now = Timestamp::now();
        match given {
            Some(token) => {
                let hash = ids::token_hash(token);
                if self.store.has_bootstrap_token().await? && self.store.user_for_token(&hash).await?.is_none() {
                    tracing::warn!(
                        "HOOKDESK_ADMIN_TOKEN replaces the earlier bootstrap admin token, which stops working; other API tokens still work"
                    );
                }
                self.store.set_bootstrap_token(&hash, now).await?;
                Ok(None)
            }
            None if !self.store.has_bootstrap_token().await? => {
                let token = new_api_token()?;
                self.store.set_bootstrap_token(&ids::token_hash(&token), now).await?;
                Ok(Some(token))
            }
            None => Ok(None),
        }
    }

    /// `hookdesk admin-token`: a new API token for the local admin (on a database no server
    /// has started on, its bootstrap token). Other tokens keep working.
    pub async fn recover_admin_token(&self) -> Result<(String, User), AppError> {
        match self.local_admin().await? {
            Some(admin) => {
                let user = admin.user().clone();
                let issued =
                    self.create_token(&admin, user.id, TokenBody { label: Some("admin-token".into()) }).await?;
                Ok((issued.token, user))
            }
            None if !self.store.has_bootstrap_token().await? => {
                let token = new_api_token()?;
                let admin = self.store.set_bootstrap_token(&ids::token_hash(&token), Timestamp::now()).await?;
                Ok((token, admin))
            }
            None => Err(AppError::Conflict("the database has no admin user left to issue a token for".into())),
        }
    }

    /// Queues `n` copies of one POST of `body` to webhook `id`, 1,000 per transaction: a
    /// backlog to measure delivery with (the bench's drain).
    pub async fn queue_copies(&self, _caller: &Admin, id: &WebhookId, body: &str, n: u64) -> Result<(), AppError> {
        let webhook = self.store.webhook(id).await.or_not_found("webhook")?;
        let request = PreparedRequest {
            method: HttpMethod::Post,
            url: webhook.endpoint.template().source().to_owned(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(body.to_owned()),
        };
        let mut done = 0;
        while done < n {
            let batch = (n - done).min(1000);
            let at = Timestamp::now();
            let invocations: Vec<_> = (0..batch)
                .map(|_| NewInvocation {
                    ordered: false,
                    id: InvocationId(ids::new_id("inv")),
                    webhook_id: webhook.id.clone(),
                    ticket_id: None,
                    trigger_id: None,
                    automation_id: None,
                    event_type: None,
                    replay_of: None,
                    request: Ok(request.clone()),
                    max_retries: webhook.max_retries,
                    created_at: at,
                })
                .collect();
            let mut tx = self.store.begin_update().await?;
            tx.enqueue(&invocations).await?;
            self.commit(tx).await?;
            done += batch;
        }
        Ok(())
    }

    /// Closes the store: a command that opened an app for its work is done with it.
    pub async fn close(&self) {
        self.store.close().await;
    }
}
