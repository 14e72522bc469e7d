//! The overview: how delivery went over the last day, what waits, and what is failing.

use std::time::Duration;

use hookdesk_core::Timestamp;
use hookdesk_core::invocation::{DeliveryStats, Invocation, InvocationStatus};
use hookdesk_core::webhook::BreakerState;

use super::pages::MAX_LIMIT;
use super::{Admin, App, AppError, InvocationQuery, PageQuery, WebhookView};

/// The window the overview counts over.
pub const OVERVIEW_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

pub struct Overview {
    pub now: Timestamp,
    pub stats: DeliveryStats,
    /// Webhooks whose breaker is not closed or that are marked failing.
    pub troubled: Vec<WebhookView>,
    /// The latest failed invocations, newest first.
    pub latest_failures: Vec<Invocation>,
}

impl App {
    pub async fn overview(&self, caller: &Admin) -> Result<Overview, AppError> {
        let now = self.clock.now();
        let since = now.plus_millis(-(OVERVIEW_WINDOW.as_millis() as i64));
        let stats = self.store.delivery_stats(since, now).await?;
        let webhooks = self.webhooks(caller, PageQuery { limit: Some(MAX_LIMIT), cursor: None }).await?.data;
        let troubled =
            webhooks.into_iter().filter(|w| w.health.failing || w.health.breaker != BreakerState::Closed).collect();
        let failures =
            InvocationQuery { status: Some(InvocationStatus::Failed), limit: Some(10), ..Default::default() };
        let latest_failures = self.invocations(caller, failures).await?.data;
        Ok(Overview { now, stats, troubled, latest_failures })
    }
}
