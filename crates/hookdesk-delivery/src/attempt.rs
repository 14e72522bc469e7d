//! One attempt, one way through: build the request, send it, classify what came back (once,
//! into an [`AttemptCode`](crate::outcome::AttemptCode)), decide what follows, and hand the
//! record to the recorder.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use hookdesk_core::Timestamp;
use hookdesk_core::id::WebhookId;
use hookdesk_core::request::{OutgoingRequest, finalize};
use hookdesk_core::webhook::Webhook;
use hookdesk_store::{AttemptRecord, Claimed, Next, Store, WebhookSecrets};
use tokio::sync::mpsc;
use tracing::{debug, error, warn};

use crate::dispatcher::{DeliveryConfig, HealthEvent, HealthReports};
use crate::gates::{Gates, HealthChange};
use crate::metrics::DeliveryMetrics;
use crate::millis;
use crate::outcome::Outcome;
use crate::sender::Sender;
use crate::worker::lock;

/// A claimed invocation's webhook, with the secrets that sign its requests.
#[derive(Clone)]
pub(crate) struct Target {
    pub webhook: Arc<Webhook>,
    pub secrets: Arc<WebhookSecrets>,
}

/// What every attempt shares.
#[derive(Clone)]
pub(crate) struct Tools {
    pub store: Store,
    pub sender: Sender,
    pub config: Arc<DeliveryConfig>,
    pub records: mpsc::Sender<AttemptRecord>,
    pub gates: Arc<Mutex<Gates>>,
    pub health: Arc<dyn HealthReports>,
    pub metrics: DeliveryMetrics,
}

/// Sends one claimed invocation and hands its record to the recorder.
pub(crate) async fn attempt(tools: &Tools, target: &Target, claim: &Claimed) {
    let started_at = Timestamp::now();
    let request = build(tools, target, claim, started_at);
    let outcome = tools.sender.send(&request).await;
    let next = tools.config.retry.next(&outcome, claim.attempt, claim.max_retries, Timestamp::now(), random_unit());
    log_attempt(claim, &target.webhook.id, &outcome, next);
    let lag = (claim.attempt == 1).then(|| (started_at.as_millis() - claim.queued_at.as_millis()) as f64 / 1000.0);
    tools.metrics.attempted(&outcome, lag, next == Next::Failed);
    let change =
        lock(&tools.gates).finish(&target.webhook.id, &claim.id, outcome.code, Instant::now(), Timestamp::now());
    let record = AttemptRecord {
        invocation_id: claim.id.clone(),
        webhook_id: target.webhook.id.clone(),
        number: claim.attempt,
        started_at,
        duration_ms: millis(outcome.duration),
        request: request.logged(&target.webhook.authentication),
        error: outcome.error(),
        response: outcome.response,
        next,
    };
    if tools.records.send(record).await.is_err() {
        error!(invocation.id = %claim.id, "the recorder is gone; the attempt will be retried when its lease ends");
    }
    if let Some(change) = change {
        save_health(&tools.store, tools.health.as_ref(), change).await;
    }
}

/// The request as it goes out: the stored one, signed now with the webhook's secrets.
fn build(tools: &Tools, target: &Target, claim: &Claimed, at: Timestamp) -> OutgoingRequest {
    finalize(
        &claim.request,
        &target.webhook.authentication,
        &target.secrets.all(),
        claim.id.as_str(),
        at.as_secs(),
        &tools.config.user_agent,
    )
}

/// Saves a webhook's changed health and reports it once saved.
pub(crate) async fn save_health(store: &Store, health: &dyn HealthReports, change: HealthChange) {
    match store.save_webhook_health(&change.webhook_id, &change.health, Timestamp::now()).await {
        Ok(Some(_)) => health.report(HealthEvent { webhook_id: change.webhook_id, health: change.health }),
        Ok(None) => {}
        Err(e) => warn!(webhook.id = %change.webhook_id, error = %e, "could not save the webhook's health"),
    }
}

fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    // Jitter only: a failed read just means no spread.
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// One line per attempt: DEBUG when it succeeded, WARN when it failed (with what comes next),
/// and an ERROR when the invocation is given up. Never a URL (it may hold a secret) nor a body.
fn log_attempt(claim: &Claimed, webhook_id: &WebhookId, outcome: &Outcome, next: Next) {
    let status = outcome.response.as_ref().map(|r| r.status);
    let Some(code) = outcome.code.as_str() else {
        debug!(webhook.id = %webhook_id, invocation.id = %claim.id, attempt = claim.attempt, status = status, "webhook attempt succeeded");
        return;
    };
    let retry_at = match next {
        Next::RetryAt(at) => at.to_string(),
        Next::Succeeded | Next::Failed => "none".to_owned(),
    };
    warn!(
        webhook.id = %webhook_id, invocation.id = %claim.id, ticket.id = claim.ticket_id.map(|t| t.0), attempt = claim.attempt,
        code = code, status = status, error = %outcome.message, next_retry = %retry_at, "webhook attempt failed"
    );
    if next == Next::Failed {
        // A final error (most 4xx, a redirect, a refused destination) ends at any attempt:
        // "no more retries" would suggest that more retries could have helped.
        let why = if outcome.code.is_retryable() { "no more retries" } else { "this error is not retried" };
        error!(
            webhook.id = %webhook_id, invocation.id = %claim.id, ticket.id = claim.ticket_id.map(|t| t.0), attempts = claim.attempt,
            code = code, "webhook invocation failed: {why}; replay it once the receiver is fixed"
        );
    }
}
