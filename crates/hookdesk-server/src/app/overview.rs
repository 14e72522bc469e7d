//! The overview: how delivery went over the last day, what waits, what is failing or
//! retrying and why, how often each rule fired, and when each API token was last used.

use std::collections::HashMap;
use std::time::Duration;

use hookdesk_core::Timestamp;
use hookdesk_core::audit::RuleFirings;
use hookdesk_core::id::{RuleId, UserId, WebhookId};
use hookdesk_core::invocation::{DeliveryStats, Invocation, InvocationStatus, LastError, WebhookOutcomes};
use hookdesk_core::rules::{RuleSet, Trigger};
use hookdesk_core::user::TokenInfo;
use hookdesk_core::webhook::BreakerState;

use super::pages::MAX_LIMIT;
use super::{Admin, App, AppError, InvocationQuery, SearchQuery, WebhookView};

/// The window the overview counts over.
pub const OVERVIEW_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// At most this many troubled webhooks get their last error looked up.
const TROUBLED_SHOWN: usize = 50;

/// At most this many API tokens are listed, the latest used first.
const TOKENS_SHOWN: u32 = 20;

pub struct Overview {
    pub now: Timestamp,
    pub stats: DeliveryStats,
    /// Every webhook (the first page) with its outcomes over the window.
    pub webhooks: Vec<(WebhookView, WebhookOutcomes)>,
    /// Webhooks that are not delivering: failing, breaker not closed, latest attempt failed,
    /// or an invocation retrying.
    pub troubled: Vec<Troubled>,
    /// The latest failed invocations, newest first.
    pub latest_failures: Vec<Invocation>,
    /// Triggers and automations in running order, with their firings.
    pub triggers: Vec<(Trigger, RuleFirings)>,
    pub automations: Vec<(Trigger, RuleFirings)>,
    /// API tokens, the latest used first: the holder's id and name, and the token.
    pub tokens: Vec<(UserId, String, TokenInfo)>,
}

/// A webhook that is not delivering, and why.
pub struct Troubled {
    pub webhook: WebhookView,
    pub outcomes: WebhookOutcomes,
    /// `failing`, `breaker open`, `probing`, `retrying` or `last attempt failed`.
    pub state: &'static str,
    /// Since when: the first failure after the last success, or the oldest retrying.
    pub since: Option<Timestamp>,
    pub last_error: Option<LastError>,
}

/// Why `webhook` is not delivering, or None when it is.
fn trouble(webhook: &WebhookView, outcomes: &WebhookOutcomes) -> Option<&'static str> {
    let health = &webhook.health;
    Some(match health.breaker {
        _ if health.failing => "failing",
        BreakerState::Open => "breaker open",
        BreakerState::HalfOpen => "probing",
        BreakerState::Closed if outcomes.retrying > 0 => "retrying",
        BreakerState::Closed if health.failing_since.is_some() => "last attempt failed",
        BreakerState::Closed => return None,
    })
}

impl App {
    pub async fn overview(&self, caller: &Admin) -> Result<Overview, AppError> {
        let now = self.clock.now();
        let since = now.plus_millis(-(OVERVIEW_WINDOW.as_millis() as i64));
        let stats = self.store.delivery_stats(since, now).await?;
        let views = self.webhooks(caller, SearchQuery { limit: Some(MAX_LIMIT), ..SearchQuery::default() }).await?.data;
        let mut outcomes = self.webhook_outcomes(caller).await?;
        let webhooks: Vec<(WebhookView, WebhookOutcomes)> = views
            .into_iter()
            .map(|w| {
                let o = outcomes.remove(&w.id).unwrap_or_default();
                (w, o)
            })
            .collect();
        let mut troubled = Vec::new();
        for (webhook, o) in &webhooks {
            let Some(state) = trouble(webhook, o) else { continue };
            let last_error =
                if troubled.len() < TROUBLED_SHOWN { self.store.last_error(&webhook.id).await? } else { None };
            let since = match (webhook.health.failing_since, o.oldest_retrying_since) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            troubled.push(Troubled { webhook: webhook.clone(), outcomes: *o, state, since, last_error });
        }
        let failures =
            InvocationQuery { status: Some(InvocationStatus::Failed), limit: Some(10), ..Default::default() };
        let latest_failures = self.invocations(caller, failures).await?.data;
        let triggers = self.rules_with_firings(caller, RuleSet::Triggers).await?;
        let automations = self.rules_with_firings(caller, RuleSet::Automations).await?;
        let tokens = self.store.tokens_by_use(TOKENS_SHOWN).await?;
        Ok(Overview { now, stats, webhooks, troubled, latest_failures, triggers, automations, tokens })
    }

    /// Each webhook's outcomes over the overview's window and what retries now; webhooks
    /// with none are absent.
    pub async fn webhook_outcomes(&self, _caller: &Admin) -> Result<HashMap<WebhookId, WebhookOutcomes>, AppError> {
        let since = self.clock.now().plus_millis(-(OVERVIEW_WINDOW.as_millis() as i64));
        Ok(self.store.webhook_outcomes(since).await?)
    }

    /// The rules of `set` in running order, each with its firings.
    pub async fn rules_with_firings(
        &self,
        caller: &Admin,
        set: RuleSet,
    ) -> Result<Vec<(Trigger, RuleFirings)>, AppError> {
        let agent = caller.as_agent();
        let rules = self.rules(&agent, set).await?;
        let ids: Vec<RuleId> = rules.iter().map(|r| r.rule.id).collect();
        let mut firings = self.rule_firings(&agent, set, &ids).await?;
        Ok(rules
            .into_iter()
            .map(|r| {
                let f = firings.remove(&r.rule.id).unwrap_or_default();
                (r, f)
            })
            .collect())
    }
}
