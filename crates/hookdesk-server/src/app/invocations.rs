//! The execution log of webhook calls: reading it, and queueing its requests again.

use std::collections::{BTreeSet, HashMap};

use hookdesk_core::id::{InvocationId, RuleId, TicketId, WebhookId};
use hookdesk_core::invocation::{Invocation, InvocationFilter, InvocationStatus};
use hookdesk_core::rules::RuleSet;
use hookdesk_core::{Invalid, Page, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::OrNotFound;
use super::pages::{limit, search_text, time};
use super::{Admin, App, AppError, ids};

/// `GET /invocations`: which invocations.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InvocationQuery {
    #[param(value_type = Option<String>)]
    pub status: Option<InvocationStatus>,
    #[param(value_type = Option<i64>)]
    pub ticket_id: Option<TicketId>,
    #[param(value_type = Option<String>)]
    pub webhook_id: Option<WebhookId>,
    /// RFC 3339.
    pub since: Option<String>,
    /// RFC 3339.
    pub until: Option<String>,
    /// Text in error messages or codes (`timeout`, `connection_refused`), any case; attempts' too.
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl InvocationQuery {
    fn into_filter(self) -> Result<InvocationFilter, Invalid> {
        Ok(InvocationFilter {
            status: self.status,
            ticket_id: self.ticket_id,
            webhook_id: self.webhook_id,
            since: time("since", self.since)?,
            until: time("until", self.until)?,
            q: search_text(self.q.as_deref())?.map(str::to_owned),
            before_id: self.cursor.map(InvocationId),
            limit: limit(self.limit)?,
        })
    }
}

/// `POST /webhooks/{id}/replay`: which failed invocations to queue again.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    /// Failed invocations created at or after this time (RFC 3339); default: any.
    pub since: Option<String>,
    /// ...and at or before this time (RFC 3339); default: now.
    pub until: Option<String>,
    /// At most this many, oldest first: 1 to 10,000, default 10,000.
    pub limit: Option<u32>,
}

/// What a replay of failed invocations queued.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplayReport {
    /// New invocations queued, one per failed invocation.
    pub queued: u32,
    /// More failed invocations matched than `limit`: call again to queue the rest.
    pub more: bool,
}

const MAX_REPLAY: u32 = 10_000;

/// What the ids in some invocations stand for: their webhooks' names and their rules' titles.
/// An id missing here was deleted since.
#[derive(Debug, Default)]
pub struct LogNames {
    pub webhooks: HashMap<WebhookId, String>,
    pub triggers: HashMap<RuleId, String>,
    pub automations: HashMap<RuleId, String>,
}

impl App {
    /// The execution log, newest first.
    pub async fn invocations(&self, _caller: &Admin, query: InvocationQuery) -> Result<Page<Invocation>, AppError> {
        let filter = query.into_filter()?;
        let _turn = self.search_turn(filter.q.as_deref()).await?;
        Ok(self.store.list_invocations(&filter).await?)
    }

    /// The execution log of one webhook.
    pub async fn webhook_invocations(
        &self,
        _caller: &Admin,
        webhook_id: &WebhookId,
        query: InvocationQuery,
    ) -> Result<Page<Invocation>, AppError> {
        self.find_webhook(webhook_id).await?;
        let mut filter = query.into_filter()?;
        filter.webhook_id = Some(webhook_id.clone());
        let _turn = self.search_turn(filter.q.as_deref()).await?;
        Ok(self.store.list_invocations(&filter).await?)
    }

    /// The names a reader of `invocations` wants instead of their ids.
    pub async fn log_names(&self, caller: &Admin, invocations: &[Invocation]) -> Result<LogNames, AppError> {
        let webhook_ids: BTreeSet<&WebhookId> = invocations.iter().map(|i| &i.webhook_id).collect();
        let webhook_ids: Vec<&WebhookId> = webhook_ids.into_iter().collect();
        let rule_ids = |rule: fn(&Invocation) -> Option<RuleId>| -> Vec<RuleId> {
            invocations.iter().filter_map(rule).collect::<BTreeSet<_>>().into_iter().collect()
        };
        Ok(LogNames {
            webhooks: self.webhook_names(caller, &webhook_ids).await?,
            triggers: self.store.rule_titles(RuleSet::Triggers, &rule_ids(|i| i.trigger_id)).await?,
            automations: self.store.rule_titles(RuleSet::Automations, &rule_ids(|i| i.automation_id)).await?,
        })
    }

    /// One invocation with its attempts.
    pub async fn invocation(&self, _caller: &Admin, id: &InvocationId) -> Result<Invocation, AppError> {
        self.store.invocation(id).await.or_not_found("invocation")
    }

    /// Queues the same request again, as a new invocation.
    pub async fn replay_invocation(&self, _caller: &Admin, id: &InvocationId) -> Result<Invocation, AppError> {
        let replay = self
            .store
            .replay_invocation(id, &InvocationId(ids::new_id("inv")), Timestamp::now())
            .await
            .or_not_found("invocation")?;
        self.delivery.wake();
        Ok(replay)
    }

    /// How many failed invocations [`App::replay_failed`] would queue again (all of them,
    /// whatever the limit), and the end of the range counted (now, when open): what a user
    /// confirms, and then replays with that same end.
    pub async fn count_replayable(
        &self,
        _caller: &Admin,
        id: &WebhookId,
        body: &ReplayBody,
    ) -> Result<(u64, Timestamp), AppError> {
        let since = time("since", body.since.clone())?;
        let until = time("until", body.until.clone())?.unwrap_or_else(|| self.clock.now());
        self.find_webhook(id).await?;
        Ok((self.store.count_replayable(id, since, Some(until)).await?, until))
    }

    /// Queues a replay of each failed invocation of webhook `id` created in the range, each
    /// once (failed invocations already replayed are skipped).
    pub async fn replay_failed(
        &self,
        _caller: &Admin,
        id: &WebhookId,
        body: ReplayBody,
    ) -> Result<ReplayReport, AppError> {
        let since = time("since", body.since)?;
        let until = time("until", body.until)?;
        let limit = match body.limit {
            None => MAX_REPLAY,
            Some(n @ 1..=MAX_REPLAY) => n,
            Some(_) => return Err(Invalid::new("limit", format!("must be 1 to {MAX_REPLAY}")).into()),
        };
        self.find_webhook(id).await?;
        let at = Timestamp::now();
        let (queued, more) = self
            .store
            .replay_failed(id, since, until.or(Some(at)), limit, at, || InvocationId(ids::new_id("inv")))
            .await?;
        if queued > 0 {
            self.delivery.wake();
        }
        Ok(ReplayReport { queued, more })
    }
}
