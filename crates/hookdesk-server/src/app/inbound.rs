//! Inbound webhooks: the admin's use cases, and what a call runs: its ticket actions, each an
//! update the triggers see, all in one transaction.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hookdesk_core::Invalid;
use hookdesk_core::audit::Via;
use hookdesk_core::inbound::{
    ActionRun, InboundAction, InboundCall, InboundResponse, InboundWebhook, UrlToken, Verify, check_header_name,
    render_ticket_id,
};
use hookdesk_core::template::{Context, Rendering};
use hookdesk_core::ticket::{Ticket, parse_text};
use hookdesk_store::UpdateTx;
use serde_json::Value;

use super::error::OrNotFound;
use super::updates::{Source, TicketPatch};
use super::{App, AppError, CreateTicketBody, PatchTicketBody, from_json, ids};

/// Calls a minute an inbound webhook accepts when its creator names no limit.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 600;
const MAX_RATE_LIMIT_PER_MINUTE: u32 = 1_000_000;

/// `POST /inbound_webhooks`, before it is checked.
#[derive(Debug, Clone)]
pub struct InboundInput {
    pub name: String,
    pub enabled: bool,
    pub verify: Option<Verify>,
    pub idempotency_header: Option<String>,
    pub actions: Value,
    pub response: Value,
    pub rate_limit_per_minute: Option<u32>,
}

/// `PATCH /inbound_webhooks/{id}`: `None` keeps a field; for nullable ones `Some(None)`
/// clears it.
#[derive(Debug, Clone, Default)]
pub struct InboundPatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub verify: Option<Option<Verify>>,
    pub idempotency_header: Option<Option<String>>,
    pub actions: Option<Value>,
    pub response: Option<Value>,
    pub rate_limit_per_minute: Option<Option<u32>>,
}

/// Per-webhook rate limiters of this process, made when a webhook is first called and
/// remade when its limit changes.
#[derive(Default)]
pub struct InboundLimits(Mutex<HashMap<String, (u32, Arc<DefaultDirectRateLimiter>)>>);

impl InboundLimits {
    /// `Err(wait)` when the webhook is over its limit: the caller may retry after `wait`.
    fn admit(&self, id: &str, per_minute: u32) -> Result<(), Duration> {
        let Some(rate) = NonZeroU32::new(per_minute) else { return Ok(()) };
        let limiter = {
            let mut limiters = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let fresh = || (per_minute, Arc::new(RateLimiter::direct(Quota::per_minute(rate))));
            let entry = limiters.entry(id.to_owned()).or_insert_with(fresh);
            if entry.0 != per_minute {
                *entry = fresh();
            }
            entry.1.clone()
        };
        limiter.check().map_err(|not_until| {
            not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()))
        })
    }
}

/// Which rate limit a call counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calls {
    /// Verified calls, and all calls of a webhook that verifies nothing.
    Verified,
    /// Calls whose signature did not verify.
    Unverified,
}

/// A call's idempotency key, and the id its log entry will have.
#[derive(Debug, Clone, Copy)]
pub struct KeyClaim<'a> {
    pub key: &'a str,
    pub call_id: &'a str,
}

/// What a call's actions did: one entry per action run, the last ticket they touched, and
/// the error that stopped them (every action of the call is then rolled back). When they
/// succeeded, `pending` is their transaction, still open: [`App::commit_inbound_call`]
/// writes the call's log entry in it and commits, so a call's effects and its log entry are
/// one.
pub struct ActionsOutcome {
    pub runs: Vec<ActionRun>,
    pub ticket: Option<Ticket>,
    pub error: Option<AppError>,
    pub pending: Option<UpdateTx>,
}

fn check_name(name: &str) -> Result<String, Invalid> {
    if name.trim().is_empty() {
        return Err(Invalid::new("name", "must not be empty"));
    }
    parse_text("name", name.trim(), 255)
}

fn check_rate(limit: Option<u32>) -> Result<Option<u32>, Invalid> {
    match limit {
        Some(n) if !(1..=MAX_RATE_LIMIT_PER_MINUTE).contains(&n) => Err(Invalid::new(
            "rate_limit_per_minute",
            format!("must be null (no limit) or 1 to {MAX_RATE_LIMIT_PER_MINUTE}"),
        )),
        other => Ok(other),
    }
}

fn check_idempotency_header(name: Option<String>) -> Result<Option<String>, Invalid> {
    name.map(|n| check_header_name("idempotency_header", &n).map(|()| n)).transpose()
}

fn new_token() -> Result<(UrlToken, String), AppError> {
    // 192 random bits: far beyond guessing, and the URL stays short.
    let token = ids::random_token(24)?;
    let hash = ids::token_hash(&token);
    Ok((UrlToken::new(token), hash))
}

impl App {
    /// The full URL to call.
    pub fn inbound_url(&self, webhook: &InboundWebhook) -> String {
        format!("{}/hooks/{}", self.config.public_url, webhook.token.expose())
    }

    pub async fn create_inbound_webhook(&self, input: InboundInput) -> Result<InboundWebhook, AppError> {
        if let Some(verify) = &input.verify {
            verify.validate()?;
        }
        let (token, hash) = new_token()?;
        let now = self.clock.now();
        let webhook = InboundWebhook {
            id: ids::new_id("hook"),
            name: check_name(&input.name)?,
            enabled: input.enabled,
            token,
            verify: input.verify,
            idempotency_header: check_idempotency_header(input.idempotency_header)?,
            actions: InboundAction::parse_all(&input.actions)?,
            response: InboundResponse::parse(&input.response)?,
            rate_limit_per_minute: check_rate(input.rate_limit_per_minute)?,
            created_at: now,
            updated_at: now,
        };
        InboundAction::check_before_saving(&webhook.actions)?;
        self.check_inbound_templates(&webhook.actions, &webhook.response)?;
        Ok(self.store.save_inbound_webhook(&webhook, &hash, true).await?)
    }

    pub async fn update_inbound_webhook(&self, id: &str, patch: InboundPatch) -> Result<InboundWebhook, AppError> {
        let mut webhook = self.inbound_webhook(id).await?;
        if let Some(name) = &patch.name {
            webhook.name = check_name(name)?;
        }
        if let Some(enabled) = patch.enabled {
            webhook.enabled = enabled;
        }
        if let Some(verify) = patch.verify {
            if let Some(verify) = &verify {
                verify.validate()?;
            }
            webhook.verify = verify;
        }
        if let Some(header) = patch.idempotency_header {
            webhook.idempotency_header = check_idempotency_header(header)?;
        }
        if let Some(actions) = &patch.actions {
            webhook.actions = InboundAction::parse_all(actions)?;
            InboundAction::check_before_saving(&webhook.actions)?;
        }
        if let Some(response) = &patch.response {
            webhook.response = InboundResponse::parse(response)?;
        }
        if let Some(rate) = patch.rate_limit_per_minute {
            webhook.rate_limit_per_minute = check_rate(rate)?;
        }
        if patch.actions.is_some() || patch.response.is_some() {
            self.check_inbound_templates(&webhook.actions, &webhook.response)?;
        }
        webhook.updated_at = self.clock.now();
        let hash = ids::token_hash(webhook.token.expose());
        self.store.save_inbound_webhook(&webhook, &hash, false).await.or_not_found("inbound webhook")
    }

    /// A new URL; the old one stops working at once.
    pub async fn rotate_inbound_webhook(&self, id: &str) -> Result<InboundWebhook, AppError> {
        let mut webhook = self.inbound_webhook(id).await?;
        let (token, hash) = new_token()?;
        webhook.token = token;
        webhook.updated_at = self.clock.now();
        self.store.save_inbound_webhook(&webhook, &hash, false).await.or_not_found("inbound webhook")
    }

    pub async fn inbound_webhooks(&self) -> Result<Vec<InboundWebhook>, AppError> {
        Ok(self.store.inbound_webhooks().await?)
    }

    pub async fn inbound_webhook(&self, id: &str) -> Result<InboundWebhook, AppError> {
        self.store.inbound_webhook(id).await.or_not_found("inbound webhook")
    }

    pub async fn delete_inbound_webhook(&self, id: &str) -> Result<(), AppError> {
        self.store.delete_inbound_webhook(id).await.or_not_found("inbound webhook")
    }

    pub async fn inbound_call(&self, webhook_id: &str, call_id: &str) -> Result<InboundCall, AppError> {
        self.store.inbound_call(webhook_id, call_id).await.or_not_found("call")
    }

    /// The enabled webhook a URL token names. Looked up by the token's SHA-256: the database
    /// compares hashes the caller cannot steer, so timing says nothing about the token.
    pub async fn inbound_webhook_for_token(&self, token: &str) -> Result<Option<InboundWebhook>, AppError> {
        let found = self.store.inbound_webhook_by_token(&ids::token_hash(token)).await?;
        Ok(found.filter(|w| w.enabled))
    }

    /// Counts a call against its webhook's rate limit; `Err(wait)` when it is over. Calls
    /// that fail verification count against a limit of their own, so that a stranger with
    /// the URL and no secret cannot use up the real sender's.
    pub fn admit_inbound_call(&self, webhook: &InboundWebhook, calls: Calls) -> Result<(), Duration> {
        let Some(per_minute) = webhook.rate_limit_per_minute else { return Ok(()) };
        match calls {
            Calls::Verified => self.inbound_limits.admit(&webhook.id, per_minute),
            Calls::Unverified => self.inbound_limits.admit(&format!("{}/unverified", webhook.id), per_minute),
        }
    }

    /// Runs `webhook`'s actions for a call whose template variables are `context` (`request`
    /// and `client`). Each action sees `ticket` as the one before it left it. One
    /// transaction: an action that fails undoes the ones before it. With `key`, the call
    /// claims its idempotency key in that transaction, so no other call with it runs them.
    /// Everything renders under `rendering`'s budget, the call's (its response's too).
    pub async fn run_inbound_actions(
        &self,
        webhook: &InboundWebhook,
        context: &Context,
        rendering: &mut Rendering,
        key: Option<KeyClaim<'_>>,
    ) -> ActionsOutcome {
        let mut outcome = ActionsOutcome { runs: vec![], ticket: None, error: None, pending: None };
        if webhook.actions.is_empty() {
            return outcome;
        }
        if let Err(error) = self.run_actions_in_one_update(webhook, context, rendering, key, &mut outcome).await {
            // Dropping the transaction rolls it back.
            outcome.pending = None;
            let failed = outcome.runs.len().saturating_sub(1);
            for (i, run) in outcome.runs.iter_mut().enumerate() {
                run.error =
                    Some(if i == failed { error.to_string() } else { "rolled back: a later action failed".into() });
                // A ticket created and rolled back does not exist.
                run.ticket_id = None;
            }
            outcome.ticket = None;
            outcome.error = Some(error);
        }
        outcome
    }

    async fn run_actions_in_one_update(
        &self,
        webhook: &InboundWebhook,
        context: &Context,
        rendering: &mut Rendering,
        key: Option<KeyClaim<'_>>,
        outcome: &mut ActionsOutcome,
    ) -> Result<(), AppError> {
        // Read before the write transaction begins: it holds SQLite's one writer.
        let rules = self.rules(&[]).await?;
        let tx = outcome.pending.insert(self.store.begin_update().await?);
        if let Some(KeyClaim { key, call_id }) = key {
            tx.claim_inbound_key(&webhook.id, key, call_id, self.clock.now()).await?;
        }
        let source = Source { via: Via::Inbound, actor: None };
        for (i, action) in webhook.actions.iter().enumerate() {
            outcome.runs.push(ActionRun { kind: action.kind().to_owned(), ticket_id: None, error: None });
            let context = match &outcome.ticket {
                Some(ticket) => context.clone().with("ticket", &self.ticket_document(ticket)),
                None => context.clone(),
            };
            let at = format!("actions[{i}]");
            let render_error = |field: &str, e: hookdesk_core::template::RenderError| {
                AppError::from(e.invalid(&format!("{at}.{field}")))
            };
            let done = match action {
                InboundAction::CreateTicket { fields } => {
                    let body = fields.render(&context, rendering).map_err(|e| render_error("fields", e))?;
                    let body: CreateTicketBody = from_json(body).map_err(|e| e.within(&format!("{at}.fields")))?;
                    self.create_in(tx, &rules, rendering, source, body.into()).await
                }
                InboundAction::UpdateTicket { ticket_id, fields } => {
                    let id = render_ticket_id(&format!("{at}.ticket_id"), ticket_id, &context, rendering)?;
                    let body = fields.render(&context, rendering).map_err(|e| render_error("fields", e))?;
                    let body: PatchTicketBody = from_json(body).map_err(|e| e.within(&format!("{at}.fields")))?;
                    self.patch_in(tx, &rules, rendering, source, id, body.into(), &[]).await
                }
                InboundAction::AddComment { ticket_id, body, public } => {
                    let id = render_ticket_id(&format!("{at}.ticket_id"), ticket_id, &context, rendering)?;
                    let text = rendering.render(body, &context).map_err(|e| render_error("body", e))?;
                    let patch = TicketPatch { comment: Some((text, *public)), ..TicketPatch::default() };
                    self.patch_in(tx, &rules, rendering, source, id, patch, &[]).await
                }
            };
            // The update names the body's field (`comment.body`); say which action's.
            let place =
                if matches!(action, InboundAction::AddComment { .. }) { at.clone() } else { format!("{at}.fields") };
            let done = done.map_err(|e| match e {
                AppError::Invalid(invalid) => AppError::Invalid(invalid.within(&place)),
                other => other,
            })?;
            if let Some(run) = outcome.runs.last_mut() {
                run.ticket_id = Some(done.ticket.id);
            }
            outcome.ticket = Some(done.ticket);
        }
        Ok(())
    }

    /// Logs a call: in `pending` (its actions' transaction, then committed) or on its own.
    pub async fn commit_inbound_call(&self, pending: Option<UpdateTx>, entry: &InboundCall) -> Result<(), AppError> {
        match pending {
            Some(mut tx) => {
                tx.record_inbound_call(entry).await?;
                self.commit(tx).await?;
            }
            None => self.store.record_inbound_call(entry).await?,
        }
        Ok(())
    }
}
