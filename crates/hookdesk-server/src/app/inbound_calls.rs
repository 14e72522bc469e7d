//! A call to an inbound webhook, from its URL token to its answer: the rate limits, the
//! signature, the idempotency key, the ticket actions (each an update the triggers see, all
//! in one transaction), the response template, and the call's log entry, written in the
//! actions' transaction so that a call's effects and its log entry are one.
//!
//! The adapter (`hooks`) reads the HTTP request and writes the answer; everything between is
//! here.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hookdesk_core::Invalid;
use hookdesk_core::audit::Via;
use hookdesk_core::id::{CallId, InboundWebhookId};
use hookdesk_core::inbound::{
    ActionRun, CallError, InboundAction, InboundCall, InboundResponse, InboundWebhook, RenderedResponse,
    render_ticket_id,
};
use hookdesk_core::inbound::{InboundRequest, Malformed};
use hookdesk_core::template::{Context, RenderError, Rendering, TemplateMode};
use hookdesk_core::text::{LOGGED_BODY_BYTES, cut};
use hookdesk_core::ticket::Ticket;
use hookdesk_store::UpdateTx;
use tracing::{info, warn};

use super::updates::{Rules, UpdateOutcome};
use super::{App, AppError, CreateTicketBody, PatchTicketBody, from_json, ids};
use hookdesk_core::update::{CommentInput, NewTicket, Source, TicketPatch};

/// Per-webhook rate limiters of this process, made when a webhook is first called and
/// remade when its limit changes.
#[derive(Default)]
pub struct InboundLimits(Mutex<HashMap<String, (u32, Arc<DefaultDirectRateLimiter>)>>);

impl InboundLimits {
    /// Counts a call against the limit `id` of `per_minute` calls; `Err(wait)` when the
    /// webhook is over it: the caller may retry after `wait`. A tenth of a minute's calls may
    /// come at once (at least 10, at most the minute's): a whole minute's (600 by default) in
    /// one burst would let a caller write that many tickets or log entries at once.
    fn admit(&self, id: &str, per_minute: u32) -> Result<(), Duration> {
        let burst = per_minute.min(per_minute.div_ceil(10).max(10));
        self.admit_n(id, per_minute, burst, 1)
    }

    /// Counts `n` against the limit `id` of `per_minute`, `burst` at once.
    fn admit_n(&self, id: &str, per_minute: u32, burst: u32, n: u32) -> Result<(), Duration> {
        let (Some(rate), Some(n)) = (NonZeroU32::new(per_minute), NonZeroU32::new(n)) else { return Ok(()) };
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let limiter = {
            let mut limiters = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let fresh = || (per_minute, Arc::new(RateLimiter::direct(Quota::per_minute(rate).allow_burst(burst))));
            let entry = limiters.entry(id.to_owned()).or_insert_with(fresh);
            if entry.0 != per_minute {
                *entry = fresh();
            }
            entry.1.clone()
        };
        let now = || governor::clock::Clock::now(&governor::clock::DefaultClock::default());
        match limiter.check_n(n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(now())),
            // More than the burst at once: never admitted; wait a whole minute to say so.
            Err(_) => Err(Duration::from_secs(60)),
        }
    }
}

/// Which rate limit a call counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Calls {
    /// Verified calls, and all calls of a webhook that verifies nothing.
    Verified,
    /// Calls whose signature did not verify.
    Unverified,
}

/// A call's idempotency key, and the id its log entry will have.
#[derive(Debug, Clone, Copy)]
struct KeyClaim<'a> {
    key: &'a str,
    call_id: &'a CallId,
}

/// What a call's actions did: one entry per action run, the last ticket they touched, and
/// the error that stopped them (every action of the call is then rolled back). When they
/// succeeded, `pending` is their transaction, still open, for the call's log entry.
struct ActionsOutcome {
    runs: Vec<ActionRun>,
    ticket: Option<Ticket>,
    error: Option<AppError>,
    pending: Option<UpdateTx>,
}

/// What a URL token opens.
pub enum Opened {
    /// A call to a known, enabled webhook, admitted so far: read its body, then handle it.
    Call(Box<OpenedCall>),
    /// No enabled webhook has this token.
    Unknown,
    /// The webhook is over its rate limit: retry after this long. Not logged (it would let
    /// anyone fill the log).
    RateLimited(Duration),
}

pub struct OpenedCall {
    webhook: InboundWebhook,
    id: CallId,
    started: Instant,
}

/// An error as the adapter answers it (the API's error document), so that a call is
/// answered, and logged, as the API would answer.
#[derive(Debug, Clone)]
pub struct ErrorReply {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// The whole body, as sent.
    pub body: String,
}

/// What a call is answered with.
#[derive(Debug, Clone)]
pub struct CallAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// How a call ended.
pub enum Handled {
    Answered(CallAnswer),
    /// Over the webhook's rate limit (the one its signature says it belongs to): not logged.
    RateLimited(Duration),
}

/// What a call got: the answer, and what the log keeps of it.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    actions: Vec<ActionRun>,
    error: Option<CallError>,
    replay_of: Option<CallId>,
}

impl Answer {
    /// The answer of an earlier call with the same idempotency key, sent again.
    fn replay(earlier: InboundCall) -> Self {
        let rendered = RenderedResponse { status: earlier.status, headers: vec![], body: earlier.response_body };
        Self {
            status: rendered.status,
            headers: vec![
                ("content-type".into(), rendered.default_content_type().into()),
                ("idempotent-replayed".into(), "true".into()),
            ],
            body: rendered.body,
            actions: vec![],
            error: None,
            replay_of: Some(earlier.id),
        }
    }

    fn error(reply: ErrorReply) -> Self {
        Self {
            status: reply.status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: reply.body,
            actions: vec![],
            error: Some(CallError { code: reply.code, message: reply.message }),
            replay_of: None,
        }
    }

    /// The response a template rendered.
    fn rendered(rendered: RenderedResponse, actions: Vec<ActionRun>, error: Option<CallError>) -> Self {
        let mut headers = rendered.headers.clone();
        if !rendered.body.is_empty() && !headers.iter().any(|(name, _)| name == "content-type") {
            headers.push(("content-type".into(), rendered.default_content_type().into()));
        }
        Self { status: rendered.status, headers, body: rendered.body, actions, error, replay_of: None }
    }
}

/// The answer of a call whose actions ran, by how its response rendered.
fn answer_rendered(
    response: Result<RenderedResponse, Invalid>,
    outcome: ActionsOutcome,
    context: &Context,
    replies: fn(AppError) -> ErrorReply,
) -> (Answer, Option<UpdateTx>) {
    match response {
        Ok(rendered) => (Answer::rendered(rendered, outcome.runs, None), outcome.pending),
        // Over the budget whatever the actions did: answered as such, and (the actions'
        // transaction dropped) nothing is kept.
        Err(invalid) if invalid.code == RenderError::TOO_EXPENSIVE => {
            let mut runs = outcome.runs;
            for run in &mut runs {
                run.ticket_id = None;
                run.error = Some("rolled back: the response went over its render budget".into());
            }
            (Answer { actions: runs, ..Answer::error(replies(invalid.into())) }, None)
        }
        // The actions are done: answer that they were, and say in the log why the response
        // is the default one.
        Err(invalid) => {
            let rendered = InboundResponse::default().render(context, &mut Rendering::new()).unwrap_or_default();
            let error = CallError { code: "response_failed".into(), message: invalid.to_string() };
            (Answer::rendered(rendered, outcome.runs, Some(error)), outcome.pending)
        }
    }
}

/// A webhook's log is trimmed each time a process logged an eighth of the budget for it: a
/// log holds at most the budget and an eighth per process (and the background job trims
/// what any node left over).
const TRIM_EVERY: u64 = 8;

/// Bytes each inbound webhook logged since this process last trimmed its call log.
#[derive(Debug, Default)]
pub(crate) struct LoggedSinceTrim(Mutex<HashMap<InboundWebhookId, u64>>);

impl LoggedSinceTrim {
    /// Counts `bytes` logged for `webhook_id`; true (and counting again from 0) once they
    /// reach `every`.
    fn add(&self, webhook_id: &InboundWebhookId, bytes: u64, every: u64) -> bool {
        let mut logged = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let since = logged.entry(webhook_id.clone()).or_default();
        *since += bytes;
        if *since < every {
            return false;
        }
        logged.remove(webhook_id);
        true
    }
}

/// Deletes the oldest calls of `webhook_id` that do not fit in `budget` bytes.
pub(crate) async fn trim_call_log(store: &hookdesk_store::Store, webhook_id: &InboundWebhookId, budget: u64) {
    match store.trim_inbound_calls(webhook_id, budget).await {
        Ok(0) => {}
        Ok(deleted) => {
            info!(inbound_webhook.id = %webhook_id, deleted, budget, "oldest inbound calls deleted to keep the log within its budget")
        }
        Err(e) => {
            warn!(inbound_webhook.id = %webhook_id, error = %e, "the inbound call log could not be trimmed; it will be")
        }
    }
}

/// From this size on, a call's body is large (see [`App::large_call_turn`]).
const LARGE_CALL_BYTES: u64 = 64 * 1024;
/// Large calls handled at once, per process.
pub(crate) const LARGE_CALLS_AT_ONCE: usize = 4;

impl App {
    /// The call a URL token opens. The enabled webhook is looked up by the token's SHA-256:
    /// the database compares hashes the caller cannot steer, so timing says nothing about the
    /// token. Without a signature to check, a call counts against the rate limit now, before
    /// its body is read; with one, after, against the limit its signature says it belongs to.
    pub async fn open_inbound_call(&self, token: &str) -> Result<Opened, AppError> {
        let started = Instant::now();
        let found = self.store.inbound_webhook_by_token(&ids::token_hash(token)).await?;
        let Some(webhook) = found.filter(|w| w.enabled) else { return Ok(Opened::Unknown) };
        if webhook.verify.is_none()
            && let Err(wait) = self.admit_inbound_call(&webhook, Calls::Verified)
        {
            return Ok(Opened::RateLimited(wait));
        }
        Ok(Opened::Call(Box::new(OpenedCall { webhook, id: CallId(ids::new_id("call")), started })))
    }

    /// A turn to read and handle a call whose body may be large (declared 64 KiB or more, or
    /// of no declared length): parsed, a 1 MiB JSON body takes ~20 MB until the call is
    /// answered, so only a few such calls are handled at once; the others wait here, their
    /// bodies unread. `None` for a small body.
    pub async fn large_call_turn(&self, headers: &axum::http::HeaderMap) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let declared = headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|bytes| bytes < LARGE_CALL_BYTES) {
            return None;
        }
        self.large_calls.acquire().await.ok()
    }

    /// Handles a call whose body was read (or could not be: `read` then carries the error to
    /// answer with): verifies it, runs its actions unless its idempotency key was seen,
    /// renders the response and logs the call. `replies` is how the adapter answers errors.
    pub async fn handle_inbound_call(
        &self,
        call: Box<OpenedCall>,
        read: Result<InboundRequest, (InboundRequest, AppError)>,
        peer: Option<IpAddr>,
        replies: fn(AppError) -> ErrorReply,
    ) -> Handled {
        let (mut request, unread) = match read {
            Ok(request) => (request, None),
            Err((request, error)) => (request, Some(error)),
        };
        let forwarded = request.header("x-forwarded-for").map(str::to_owned);
        request.client_ip = self.client(peer, forwarded.as_deref()).0.map(|ip| ip.to_string());
        let webhook = &call.webhook;
        let verified = match (&unread, &webhook.verify) {
            (Some(_), _) => Err(String::new()),
            (None, Some(verify)) => verify.check(|name| request.header(name), &request.body, self.clock.now()),
            (None, None) => Ok(()),
        };
        // A call not read is unverified: it counts against that limit before it is logged.
        if webhook.verify.is_some() {
            let calls = if verified.is_ok() { Calls::Verified } else { Calls::Unverified };
            if let Err(wait) = self.admit_inbound_call(webhook, calls) {
                return Handled::RateLimited(wait);
            }
        }
        // What a caller's calls write (tickets, comments) is bounded by what they send.
        if unread.is_none()
            && verified.is_ok()
            && !webhook.actions.is_empty()
            // The query, path and headers count too: templates may write them into tickets.
            && let Err(wait) = self.admit_inbound_bytes(webhook, request.bytes_sent())
        {
            return Handled::RateLimited(wait);
        }
        let (answer, pending) = match (unread, verified) {
            (Some(error), _) => (Answer::error(replies(error)), None),
            (None, Err(reason)) => (Answer::error(replies(AppError::SignatureMismatch(reason))), None),
            (None, Ok(())) => self.answer_verified(webhook, &request, &call.id, replies).await,
        };
        let answer = self.log_inbound_call(&call, &request, answer, pending, replies).await;
        info!(inbound_webhook.id = %webhook.id, method = %request.method, status = answer.status, "inbound call");
        Handled::Answered(CallAnswer { status: answer.status, headers: answer.headers, body: answer.body })
    }

    /// Counts a call against its webhook's rate limit; `Err(wait)` when it is over. Calls
    /// that fail verification count against a limit of their own, so that a stranger with
    /// the URL and no secret cannot use up the real sender's.
    fn admit_inbound_call(&self, webhook: &InboundWebhook, calls: Calls) -> Result<(), Duration> {
        let Some(per_minute) = webhook.rate_limit_per_minute else { return Ok(()) };
        let admitted = match calls {
            Calls::Verified => self.inbound_limits.admit(webhook.id.as_str(), per_minute),
            Calls::Unverified => self.inbound_limits.admit(&format!("{}/unverified", webhook.id), per_minute),
        };
        if admitted.is_err() {
            self.metrics.inbound_rate_limited();
        }
        admitted
    }

    /// Counts a call's body against its webhook's bytes a minute (a webhook with actions:
    /// what its calls write is bounded by what they send); `Err(wait)` when it is over.
    fn admit_inbound_bytes(&self, webhook: &InboundWebhook, bytes: usize) -> Result<(), Duration> {
        let per_minute = u32::try_from(self.config.inbound_bytes_per_minute.div_ceil(1024)).unwrap_or(u32::MAX);
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        let admitted = self.inbound_limits.admit_n(&format!("{}/bytes", webhook.id), per_minute, per_minute, kib);
        if admitted.is_err() {
            self.metrics.inbound_rate_limited();
        }
        admitted
    }

    /// Runs the actions of a verified call and renders the response. The actions'
    /// transaction comes back open, for the call's log entry.
    async fn answer_verified(
        &self,
        webhook: &InboundWebhook,
        request: &InboundRequest,
        call_id: &CallId,
        replies: fn(AppError) -> ErrorReply,
    ) -> (Answer, Option<UpdateTx>) {
        match &request.malformed {
            Some(Malformed::Json(message)) => {
                return (Answer::error(replies(AppError::MalformedBody(message.clone()))), None);
            }
            Some(Malformed::TooManyFields(message)) => {
                return (Answer::error(replies(AppError::BadRequest(message.clone()))), None);
            }
            None => {}
        }
        let key = request.idempotency_key(webhook.idempotency_header.as_deref());
        if let Some(key) = key {
            match self.store.inbound_call_by_key(&webhook.id, key).await {
                Ok(Some(earlier)) => return (Answer::replay(earlier), None),
                Ok(None) => {}
                Err(e) => return (Answer::error(replies(e.into())), None),
            }
        }
        let context = request.template_context();
        let claim = key.map(|key| KeyClaim { key, call_id });
        // One budget for the whole call: its actions, the updates they make and the response.
        let mut rendering = Rendering::new();
        // The response renders once more inside the actions' transaction (it sees their
        // ticket), holding the database's writer: a caller whose request makes it too
        // expensive is refused first, before anything takes the writer.
        let mode = webhook.template_mode;
        if !webhook.actions.is_empty()
            && let Err(invalid) = rendering.in_mode(mode, |r| webhook.response.render(&context, r))
            && invalid.code == RenderError::TOO_EXPENSIVE
        {
            return (Answer::error(replies(invalid.into())), None);
        }
        let outcome = self.run_inbound_actions(webhook, &context, &mut rendering, claim).await;
        if let Some(error) = outcome.error {
            return (Answer { actions: outcome.runs, ..Answer::error(replies(error)) }, None);
        }
        let context = match &outcome.ticket {
            Some(ticket) => context.with("ticket", &self.ticket_document(ticket)),
            None => context,
        };
        // The response renders in the webhook's mode, as its actions did.
        let response = rendering.in_mode(mode, |r| webhook.response.render(&context, r));
        answer_rendered(response, outcome, &context, replies)
    }

    /// Writes the call's log entry: in `pending` (its actions' transaction, then committed)
    /// or on its own. When the actions' commit fails, neither happened: the call is answered
    /// with that error, and logged so.
    async fn log_inbound_call(
        &self,
        call: &OpenedCall,
        request: &InboundRequest,
        answer: Answer,
        pending: Option<UpdateTx>,
        replies: fn(AppError) -> ErrorReply,
    ) -> Answer {
        let entry = self.log_entry(call, request, &answer);
        match self.commit_inbound_call(pending, &entry).await {
            Ok(()) => answer,
            Err(e) if entry.status >= 400 => {
                warn!(inbound_webhook.id = %call.webhook.id, error = %e, "the inbound call could not be logged");
                answer
            }
            Err(e) => {
                let answer = Answer::error(replies(e));
                let entry = self.log_entry(call, request, &answer);
                if let Err(e) = self.commit_inbound_call(None, &entry).await {
                    warn!(inbound_webhook.id = %call.webhook.id, error = %e, "the inbound call could not be logged");
                }
                answer
            }
        }
    }

    fn log_entry(&self, call: &OpenedCall, request: &InboundRequest, answer: &Answer) -> InboundCall {
        let webhook = &call.webhook;
        InboundCall {
            id: call.id.clone(),
            inbound_webhook_id: webhook.id.clone(),
            created_at: self.clock.now(),
            method: request.method.clone(),
            path: cut(&request.path, LOGGED_BODY_BYTES).to_owned(),
            query: cut(&request.query, LOGGED_BODY_BYTES).to_owned(),
            headers: request.logged_headers(),
            body: cut(&String::from_utf8_lossy(&request.body), LOGGED_BODY_BYTES).to_owned(),
            body_bytes: i64::try_from(request.body_bytes).unwrap_or(i64::MAX),
            client_ip: request.client_ip.clone(),
            status: answer.status,
            response_body: cut(&answer.body, LOGGED_BODY_BYTES).to_owned(),
            actions: answer.actions.clone(),
            error: answer.error.clone(),
            idempotency_key: request.idempotency_key(webhook.idempotency_header.as_deref()).map(str::to_owned),
            replay_of: answer.replay_of.clone(),
            duration_ms: i64::try_from(call.started.elapsed().as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// Logs a call: in `pending` (its actions' transaction, then committed) or on its own;
    /// then keeps its webhook's log within the budget.
    async fn commit_inbound_call(&self, pending: Option<UpdateTx>, entry: &InboundCall) -> Result<(), AppError> {
        let stored = match pending {
            Some(mut tx) => {
                let stored = tx.record_inbound_call(entry).await?;
                self.commit(tx).await?;
                stored
            }
            None => self.store.record_inbound_call(entry).await?,
        };
        let budget = self.config.inbound_log_budget;
        if self.logged_since_trim.add(&entry.inbound_webhook_id, stored, budget / TRIM_EVERY) {
            let (store, webhook_id) = (self.store.clone(), entry.inbound_webhook_id.clone());
            tokio::spawn(async move { trim_call_log(&store, &webhook_id, budget).await });
        }
        Ok(())
    }

    /// Runs `webhook`'s actions for a call whose template variables are `context` (`request`
    /// and `client`). Each action sees `ticket` as the one before it left it. One
    /// transaction: an action that fails undoes the ones before it. With `key`, the call
    /// claims its idempotency key in that transaction, so no other call with it runs them.
    /// Everything renders under `rendering`'s budget, the call's (its response's too).
    async fn run_inbound_actions(
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
        let rules = self.rules_for_update(&[]).await?;
        let tx = outcome.pending.insert(self.store.begin_update().await?);
        if let Some(KeyClaim { key, call_id }) = key {
            tx.claim_inbound_key(&webhook.id, key, call_id, self.clock.now()).await?;
        }
        for (i, action) in webhook.actions.iter().enumerate() {
            outcome.runs.push(ActionRun { kind: action.kind().to_owned(), ticket_id: None, error: None });
            let context = match &outcome.ticket {
                Some(ticket) => context.clone().with("ticket", &self.ticket_document(ticket)),
                None => context.clone(),
            };
            let at = format!("actions[{i}]");
            let done =
                self.run_inbound_action(tx, &rules, rendering, webhook.template_mode, action, &at, &context).await?;
            if let Some(run) = outcome.runs.last_mut() {
                run.ticket_id = Some(done.ticket.id);
            }
            outcome.ticket = Some(done.ticket);
        }
        Ok(())
    }

    /// One action of a call, at `at` (`actions[2]`): an update the triggers see. Its errors
    /// name the action. Its templates render in `mode`, the webhook's; what the update then
    /// renders (the triggers' webhooks and comments) renders in its own.
    #[expect(clippy::too_many_arguments, reason = "one action's parts, and the mode its templates render in")]
    async fn run_inbound_action(
        &self,
        tx: &mut UpdateTx,
        rules: &Rules,
        rendering: &mut Rendering,
        mode: TemplateMode,
        action: &InboundAction,
        at: &str,
        context: &Context,
    ) -> Result<UpdateOutcome, AppError> {
        let source = Source { via: Via::Inbound, actor: None };
        let render_error = |field: &str, e: RenderError| AppError::from(e.invalid(&format!("{at}.{field}")));
        let done = match action {
            InboundAction::CreateTicket { fields } => {
                let body =
                    rendering.in_mode(mode, |r| fields.render(context, r)).map_err(|e| render_error("fields", e))?;
                let body: CreateTicketBody = from_json(body).map_err(|e| e.within(&format!("{at}.fields")))?;
                match NewTicket::try_from(body) {
                    Ok(input) => self.create_in(tx, rules, rendering, source, input).await,
                    Err(invalid) => Err(invalid.into()),
                }
            }
            InboundAction::UpdateTicket { ticket_id, fields } => {
                let (id, body) = rendering.in_mode(mode, |r| {
                    let id = render_ticket_id(&format!("{at}.ticket_id"), ticket_id, context, r)?;
                    let body = fields.render(context, r).map_err(|e| render_error("fields", e))?;
                    Ok::<_, AppError>((id, body))
                })?;
                let body: PatchTicketBody = from_json(body).map_err(|e| e.within(&format!("{at}.fields")))?;
                match TicketPatch::try_from(body) {
                    Ok(patch) => self.patch_in(tx, rules, rendering, source, id, patch, &[]).await,
                    Err(invalid) => Err(invalid.into()),
                }
            }
            InboundAction::AddComment { ticket_id, body, public } => {
                let (id, text) = rendering.in_mode(mode, |r| {
                    let id = render_ticket_id(&format!("{at}.ticket_id"), ticket_id, context, r)?;
                    let text = r.render(body, context).map_err(|e| render_error("body", e))?;
                    Ok::<_, AppError>((id, text))
                })?;
                match CommentInput::parse(&text, *public) {
                    Ok(comment) => {
                        self.patch_in(tx, rules, rendering, source, id, TicketPatch::comment(comment), &[]).await
                    }
                    Err(invalid) => Err(invalid.into()),
                }
            }
        };
        // The update names the body's field (`comment.body`); say which action's.
        let place =
            if matches!(action, InboundAction::AddComment { .. }) { at.to_owned() } else { format!("{at}.fields") };
        done.map_err(|e| match e {
            AppError::Invalid(invalid) => AppError::Invalid(invalid.within(&place)),
            other => other,
        })
    }
}
