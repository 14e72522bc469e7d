//! What may be sent now. Each webhook has a gate: a cap on requests in flight, an optional
//! rate limit and a circuit breaker; a global rate ceiling covers them all. A claimed
//! invocation its gate does not let through is given back to the queue, not failed, and the
//! next claims skip that webhook until its gate opens, so one slow, failing or rate-limited
//! endpoint never takes the slots of the others.
//!
//! Gates live in each process. The breaker and the failing mark are also saved (on changes
//! of state) so the API can show them and a restart resumes them.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hookdesk_core::Timestamp;
use hookdesk_core::id::{InvocationId, WebhookId};
use hookdesk_core::webhook::{BreakerState, Webhook, WebhookHealth, WebhookStatus};
use tracing::{info, warn};

use crate::outcome::AttemptCode;

#[derive(Debug, Clone)]
pub struct GateConfig {
    /// Requests in flight to one webhook at once.
    pub max_in_flight_per_webhook: usize,
    /// The window of `rate_limit_per_minute`: a minute, shorter in tests.
    pub rate_window: Duration,
    /// Requests per second to all webhooks together, if limited.
    pub global_per_second: Option<NonZeroU32>,
    pub breaker: BreakerConfig,
    /// A webhook whose requests have all failed for this long is marked failing.
    pub failing_after: Duration,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            // An eighth of the default 64 workers.
            max_in_flight_per_webhook: 8,
            rate_window: Duration::from_secs(60),
            global_per_second: None,
            breaker: BreakerConfig::default(),
            failing_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// When the breaker opens: at least `min_requests` in the last `window` and at least
/// `failure_percent` of them failed (connection errors, timeouts, 408, 409, 425, 429, 5xx).
/// It stays open for `pause`, then lets one probe through; a failed probe doubles the pause,
/// up to `max_pause`.
#[derive(Debug, Clone)]
pub struct BreakerConfig {
    pub window: Duration,
    pub min_requests: u32,
    pub failure_percent: u32,
    pub pause: Duration,
    pub max_pause: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(300),
            min_requests: 10,
            failure_percent: 70,
            pause: Duration::from_secs(30),
            max_pause: Duration::from_secs(600),
        }
    }
}

/// What to do with a claimed invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Send,
    /// Back to the queue, due again after this long; the claim does not count as an attempt.
    GiveBack(Duration),
}

/// Outcomes counted in buckets over a rolling window.
#[derive(Debug)]
struct Window {
    bucket: Duration,
    /// (bucket number since `origin`, failures, requests), oldest first.
    buckets: VecDeque<(u64, u32, u32)>,
    origin: Instant,
}

const WINDOW_BUCKETS: u64 = 10;

impl Window {
    fn new(length: Duration, origin: Instant) -> Self {
        Self {
            bucket: (length / WINDOW_BUCKETS as u32).max(Duration::from_millis(1)),
            buckets: VecDeque::new(),
            origin,
        }
    }

    fn index(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin).as_millis();
        u64::try_from(elapsed / self.bucket.as_millis().max(1)).unwrap_or(u64::MAX)
    }

    fn prune(&mut self, now: Instant) {
        let current = self.index(now);
        while self.buckets.front().is_some_and(|(i, _, _)| i + WINDOW_BUCKETS <= current) {
            self.buckets.pop_front();
        }
    }

    fn add(&mut self, now: Instant, failed: bool) {
        self.prune(now);
        let current = self.index(now);
        match self.buckets.back_mut() {
            Some((i, failures, total)) if *i == current => {
                *failures += u32::from(failed);
                *total += 1;
            }
            _ => self.buckets.push_back((current, u32::from(failed), 1)),
        }
    }

    /// (failures, requests) within the window.
    fn totals(&mut self, now: Instant) -> (u32, u32) {
        self.prune(now);
        self.buckets.iter().fold((0, 0), |(f, t), (_, failures, total)| (f + failures, t + total))
    }
}

#[derive(Debug)]
struct Breaker {
    state: BreakerState,
    /// While open: when a probe may go.
    until: Option<Instant>,
    /// The pause the next opening gets.
    pause: Duration,
    probing: bool,
    window: Window,
}

impl Breaker {
    fn new(config: &BreakerConfig, now: Instant) -> Self {
        Self {
            state: BreakerState::Closed,
            until: None,
            pause: config.pause,
            probing: false,
            window: Window::new(config.window, now),
        }
    }

    /// Whether a request may go now; the breaker turns half-open when its pause is over.
    fn admit(&mut self, now: Instant) -> Result<(), Option<Instant>> {
        match self.state {
            BreakerState::Closed => Ok(()),
            BreakerState::Open if self.until.is_some_and(|until| now < until) => Err(self.until),
            BreakerState::Open | BreakerState::HalfOpen if !self.probing => {
                self.state = BreakerState::HalfOpen;
                self.until = None;
                self.probing = true;
                Ok(())
            }
            BreakerState::Open | BreakerState::HalfOpen => Err(None),
        }
    }

    /// Why no request may go now: until when (None: until the probe returns).
    fn blocked(&self, now: Instant) -> Option<Option<Instant>> {
        match self.state {
            BreakerState::Closed => None,
            BreakerState::Open => self.until.filter(|until| now < *until).map(Some),
            BreakerState::HalfOpen => self.probing.then_some(None),
        }
    }

    fn record(&mut self, config: &BreakerConfig, now: Instant, failed: bool) {
        match self.state {
            BreakerState::HalfOpen if self.probing => {
                self.probing = false;
                if failed {
                    self.pause = (self.pause * 2).min(config.max_pause);
                    self.open(now);
                } else {
                    self.state = BreakerState::Closed;
                    self.pause = config.pause;
                    self.window = Window::new(config.window, now);
                }
            }
            BreakerState::Closed => {
                self.window.add(now, failed);
                let (failures, total) = self.window.totals(now);
                if total >= config.min_requests && failures * 100 >= config.failure_percent * total {
                    self.open(now);
                }
            }
            // Requests sent before it opened, coming back late.
            BreakerState::Open | BreakerState::HalfOpen => {}
        }
    }

    fn open(&mut self, now: Instant) {
        self.state = BreakerState::Open;
        self.until = Some(now + self.pause);
    }
}

struct Gate {
    in_flight: usize,
    /// The limit it was built for, and the limiter.
    limiter: Option<(u32, DefaultDirectRateLimiter)>,
    limited_until: Option<Instant>,
    breaker: Breaker,
    health: WebhookHealth,
    saved: WebhookHealth,
}

/// A change worth saving, and what to tell operators about it.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthChange {
    pub webhook_id: WebhookId,
    pub health: WebhookHealth,
}

pub struct Gates {
    config: GateConfig,
    gates: HashMap<WebhookId, Gate>,
    global: Option<DefaultDirectRateLimiter>,
    global_until: Option<Instant>,
    /// Invocations sent and not yet finished: id -> attempt, to give back on shutdown.
    claims: HashMap<InvocationId, u32>,
}

fn to_timestamp(at: Instant, now: Instant, now_ts: Timestamp) -> Timestamp {
    let ahead = at.saturating_duration_since(now).as_millis();
    now_ts.plus_millis(i64::try_from(ahead).unwrap_or(i64::MAX))
}

fn rate_limiter(per_window: u32, window: Duration) -> Option<DefaultDirectRateLimiter> {
    // One request every window/limit: never more than the limit in any window.
    let quota = Quota::with_period(window / per_window.max(1))?;
    Some(RateLimiter::direct(quota))
}

/// How long until the limiter lets one more through; zero when it took it now.
fn take(limiter: &DefaultDirectRateLimiter) -> Duration {
    match limiter.check() {
        Ok(()) => Duration::ZERO,
        Err(not_until) => {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            wait.max(Duration::from_millis(1))
        }
    }
}

impl Gates {
    pub fn new(config: GateConfig) -> Self {
        let global = config.global_per_second.map(|n| RateLimiter::direct(Quota::per_second(n)));
        Self { config, gates: HashMap::new(), global, global_until: None, claims: HashMap::new() }
    }

    /// Whether `webhook_id` has a gate yet (else its saved health should be loaded first).
    pub fn knows(&self, webhook_id: &WebhookId) -> bool {
        self.gates.contains_key(webhook_id)
    }

    /// Opens a gate for a webhook seen for the first time, resuming its saved health.
    pub fn resume(&mut self, webhook_id: &WebhookId, saved: Option<WebhookHealth>, now: Instant, now_ts: Timestamp) {
        let mut breaker = Breaker::new(&self.config.breaker, now);
        let health = saved.unwrap_or_default();
        if health.breaker != BreakerState::Closed {
            // A probe in flight did not survive the restart: open, probing when the pause is over.
            breaker.state = BreakerState::Open;
            let wait = health.breaker_until.map_or(0, |until| (until.as_millis() - now_ts.as_millis()).max(0));
            breaker.until = Some(now + Duration::from_millis(u64::try_from(wait).unwrap_or(0)));
        }
        let gate = Gate { in_flight: 0, limiter: None, limited_until: None, breaker, saved: health.clone(), health };
        self.gates.insert(webhook_id.clone(), gate);
    }

    /// The webhooks the next claim should skip, and until when no claim should be made at all
    /// (the global ceiling).
    pub fn skipped(&mut self, now: Instant) -> (Vec<WebhookId>, Option<Instant>) {
        let cap = self.config.max_in_flight_per_webhook;
        let skipped = self
            .gates
            .iter()
            .filter(|(_, g)| {
                g.in_flight >= cap
                    || g.limited_until.is_some_and(|until| now < until)
                    || g.breaker.blocked(now).is_some()
            })
            .map(|(id, _)| id.clone())
            .collect();
        (skipped, self.global_until.filter(|until| now < *until))
    }

    /// The next time a skipped webhook's gate opens by itself.
    pub fn next_opening(&self, now: Instant) -> Option<Instant> {
        let gates = self.gates.values().flat_map(|g| {
            [g.limited_until.filter(|u| now < *u), g.breaker.blocked(now).flatten()].into_iter().flatten()
        });
        gates.chain(self.global_until.filter(|u| now < *u)).min()
    }

    /// Lets a claimed invocation through, or says when to try it again.
    pub fn admit(
        &mut self,
        webhook: &Webhook,
        invocation_id: &InvocationId,
        attempt: u32,
        now: Instant,
        now_ts: Timestamp,
    ) -> (Admission, Option<HealthChange>) {
        if webhook.status == WebhookStatus::Inactive {
            // Kept, not dropped: it goes out when the webhook is active again.
            return (Admission::GiveBack(Duration::from_secs(30)), None);
        }
        if !self.gates.contains_key(&webhook.id) {
            self.resume(&webhook.id, None, now, now_ts);
        }
        let cap = self.config.max_in_flight_per_webhook;
        let window = self.config.rate_window;
        let Some(gate) = self.gates.get_mut(&webhook.id) else { return (Admission::GiveBack(Duration::ZERO), None) };
        if gate.in_flight >= cap {
            return (Admission::GiveBack(Duration::ZERO), None);
        }
        if let Some(until) = gate.breaker.blocked(now) {
            let wait = until.map_or(Duration::ZERO, |u| u.saturating_duration_since(now));
            return (Admission::GiveBack(wait), None);
        }
        match (webhook.rate_limit_per_minute, &gate.limiter) {
            (Some(limit), Some((built, _))) if *built == limit => {}
            (Some(limit), _) => gate.limiter = rate_limiter(limit, window).map(|l| (limit, l)),
            (None, _) => gate.limiter = None,
        }
        if let Some((_, limiter)) = &gate.limiter {
            let wait = take(limiter);
            if !wait.is_zero() {
                gate.limited_until = Some(now + wait);
                return (Admission::GiveBack(wait), None);
            }
        }
        if let Some(global) = &self.global {
            let wait = take(global);
            if !wait.is_zero() {
                self.global_until = Some(now + wait);
                return (Admission::GiveBack(wait), None);
            }
        }
        let before = gate.breaker.state;
        if gate.breaker.admit(now).is_err() {
            return (Admission::GiveBack(Duration::ZERO), None);
        }
        gate.in_flight += 1;
        self.claims.insert(invocation_id.clone(), attempt);
        let change = (gate.breaker.state != before).then(|| {
            info!(webhook.id = %webhook.id, "circuit breaker half-open: sending one probe request");
            gate.note_breaker(now, now_ts);
            gate.mark_saved(&webhook.id)
        });
        (Admission::Send, change)
    }

    /// Counts a finished attempt; answers the health to save when it changed.
    pub fn finish(
        &mut self,
        webhook_id: &WebhookId,
        invocation_id: &InvocationId,
        code: AttemptCode,
        now: Instant,
        now_ts: Timestamp,
    ) -> Option<HealthChange> {
        self.claims.remove(invocation_id);
        let failing_after = self.config.failing_after;
        let breaker_config = self.config.breaker.clone();
        let gate = self.gates.get_mut(webhook_id)?;
        gate.in_flight = gate.in_flight.saturating_sub(1);
        // Only a sick endpoint trips the breaker: an answer like 400 means it is up.
        if let Some(sick) = code.breaker_verdict() {
            let before = gate.breaker.state;
            gate.breaker.record(&breaker_config, now, sick);
            if gate.breaker.state != before {
                match gate.breaker.state {
                    BreakerState::Open => {
                        warn!(webhook.id = %webhook_id, pause_ms = gate.breaker.until.map_or(0, |u| u.saturating_duration_since(now).as_millis() as u64), "circuit breaker open: too many requests failed; queued invocations wait")
                    }
                    _ => info!(webhook.id = %webhook_id, "circuit breaker closed: the probe succeeded"),
                }
            }
        }
        gate.note_breaker(now, now_ts);
        let health = &mut gate.health;
        if code.delivered() {
            health.last_success_at = Some(now_ts);
            health.failing_since = None;
            if health.failing {
                health.failing = false;
                info!(webhook.id = %webhook_id, event = "webhook.recovered", "webhook recovered: a request succeeded");
            }
        } else {
            health.last_failure_at = Some(now_ts);
            let since = *health.failing_since.get_or_insert(now_ts);
            let failing_for = Duration::from_millis(u64::try_from(now_ts.as_millis() - since.as_millis()).unwrap_or(0));
            if !health.failing && failing_for >= failing_after {
                health.failing = true;
                warn!(webhook.id = %webhook_id, event = "webhook.failing", failing_for_s = failing_for.as_secs(), "webhook failing: no request has succeeded for a long time");
            }
        }
        // Last success and failure are saved with the attempt records; only the breaker and
        // the failing mark are saved from here, when they change.
        let state_changed = gate.health.breaker != gate.saved.breaker || gate.health.failing != gate.saved.failing;
        state_changed.then(|| gate.mark_saved(webhook_id))
    }

    /// Claims sent and not finished, to give back when shutting down.
    pub fn unfinished(&self) -> Vec<(InvocationId, u32)> {
        self.claims.iter().map(|(id, attempt)| (id.clone(), *attempt)).collect()
    }

    pub fn health(&self, webhook_id: &WebhookId) -> Option<&WebhookHealth> {
        self.gates.get(webhook_id).map(|g| &g.health)
    }
}

impl Gate {
    fn note_breaker(&mut self, now: Instant, now_ts: Timestamp) {
        self.health.breaker = self.breaker.state;
        self.health.breaker_until = match self.breaker.state {
            BreakerState::Open => self.breaker.until.map(|u| to_timestamp(u, now, now_ts)),
            _ => None,
        };
    }

    fn mark_saved(&mut self, webhook_id: &WebhookId) -> HealthChange {
        self.saved = self.health.clone();
        HealthChange { webhook_id: webhook_id.clone(), health: self.health.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BreakerConfig {
        BreakerConfig {
            window: Duration::from_secs(10),
            min_requests: 4,
            failure_percent: 70,
            pause: Duration::from_secs(1),
            max_pause: Duration::from_secs(3),
        }
    }

    #[test]
    fn opens_at_the_failure_ratio_probes_after_the_pause_and_closes_on_success() {
        let config = config();
        let t0 = Instant::now();
        let mut breaker = Breaker::new(&config, t0);
        for _ in 0..3 {
            breaker.record(&config, t0, true);
        }
        assert_eq!(breaker.state, BreakerState::Closed, "fewer than min_requests");
        let mut breaker = Breaker::new(&config, t0);
        for failed in [false, false, true, true, true] {
            breaker.record(&config, t0, failed);
        }
        assert_eq!(breaker.state, BreakerState::Closed, "3 failures of 5 is 60%");
        breaker.record(&config, t0, true);
        assert_eq!(breaker.state, BreakerState::Closed, "4 of 6 is 66%");
        breaker.record(&config, t0, true);
        assert_eq!(breaker.state, BreakerState::Open, "5 of 7 is 71%");
        assert_eq!(breaker.until, Some(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn a_failed_probe_doubles_the_pause_up_to_the_maximum() {
        let config = config();
        let t0 = Instant::now();
        let mut breaker = Breaker::new(&config, t0);
        for _ in 0..4 {
            breaker.record(&config, t0, true);
        }
        assert_eq!(breaker.state, BreakerState::Open);
        assert_eq!(breaker.admit(t0), Err(Some(t0 + Duration::from_secs(1))));
        let mut at = t0 + Duration::from_secs(1);
        for pause in [2, 3, 3] {
            assert_eq!(breaker.admit(at), Ok(()), "the probe goes");
            assert_eq!(breaker.state, BreakerState::HalfOpen);
            assert_eq!(breaker.admit(at), Err(None), "one probe at a time");
            breaker.record(&config, at, true);
            assert_eq!(breaker.state, BreakerState::Open);
            assert_eq!(breaker.until, Some(at + Duration::from_secs(pause)), "pause after a failed probe");
            at += Duration::from_secs(pause);
        }
        assert_eq!(breaker.admit(at), Ok(()));
        breaker.record(&config, at, false);
        assert_eq!(breaker.state, BreakerState::Closed);
        assert_eq!(breaker.pause, Duration::from_secs(1), "closing resets the pause");
    }

    #[test]
    fn old_outcomes_leave_the_window() {
        let config = config();
        let t0 = Instant::now();
        let mut breaker = Breaker::new(&config, t0);
        for _ in 0..3 {
            breaker.record(&config, t0, true);
        }
        breaker.record(&config, t0 + Duration::from_secs(11), true);
        assert_eq!(breaker.state, BreakerState::Closed, "the first three are out of the window");
        assert_eq!(breaker.window.totals(t0 + Duration::from_secs(11)), (1, 1));
    }

    fn inv(id: &str) -> InvocationId {
        InvocationId(id.into())
    }

    fn answered(status: u16) -> AttemptCode {
        AttemptCode::of_status(status)
    }

    fn webhook(limit: Option<u32>) -> Webhook {
        use hookdesk_core::webhook::{Authentication, CustomHeaders, Endpoint, HttpMethod, Ordering, RequestFormat};
        Webhook {
            id: WebhookId("wh_1".into()),
            name: "n".into(),
            description: String::new(),
            endpoint: Endpoint::parse("https://example.com/hook").expect("endpoint"),
            http_method: HttpMethod::Post,
            request_format: RequestFormat::Json,
            status: WebhookStatus::Active,
            subscriptions: hookdesk_core::webhook::Subscriptions::Conditional,
            authentication: Authentication::None,
            custom_headers: CustomHeaders::default(),
            max_retries: 3,
            ordering: Ordering::None,
            rate_limit_per_minute: limit,
            template_mode: hookdesk_core::template::TemplateMode::Lax,
            created_at: Timestamp::default(),
            updated_at: Timestamp::default(),
        }
    }

    #[test]
    fn caps_requests_in_flight_per_webhook_and_skips_full_ones() {
        let mut gates = Gates::new(GateConfig { max_in_flight_per_webhook: 2, ..GateConfig::default() });
        let (now, ts) = (Instant::now(), Timestamp::from_millis(0));
        let hook = webhook(None);
        assert_eq!(gates.admit(&hook, &inv("a"), 1, now, ts).0, Admission::Send);
        assert_eq!(gates.admit(&hook, &inv("b"), 1, now, ts).0, Admission::Send);
        assert_eq!(gates.admit(&hook, &inv("c"), 1, now, ts).0, Admission::GiveBack(Duration::ZERO));
        assert_eq!(gates.skipped(now).0, std::slice::from_ref(&hook.id));
        gates.finish(&hook.id, &inv("a"), answered(200), now, ts);
        assert!(gates.skipped(now).0.is_empty());
        assert_eq!(gates.unfinished(), [(inv("b"), 1)]);
    }

    #[test]
    fn a_400_does_not_trip_the_breaker_but_5xx_do_and_the_health_says_so() {
        let config = GateConfig { breaker: config(), ..GateConfig::default() };
        let mut gates = Gates::new(config);
        let (now, ts) = (Instant::now(), Timestamp::from_millis(1_000));
        let hook = webhook(None);
        for i in 0..10 {
            gates.admit(&hook, &inv(&format!("{i}")), 1, now, ts);
            assert_eq!(gates.finish(&hook.id, &inv(&format!("{i}")), answered(400), now, ts), None);
        }
        assert_eq!(gates.health(&hook.id).map(|h| h.breaker), Some(BreakerState::Closed));
        // Ten 400s later, past the window: only the 503s count.
        let now = now + Duration::from_secs(11);
        let mut changes = Vec::new();
        for i in 0..4 {
            gates.admit(&hook, &inv(&format!("f{i}")), 1, now, ts);
            changes.extend(gates.finish(&hook.id, &inv(&format!("f{i}")), answered(503), now, ts));
        }
        let opened = changes.last().expect("the breaker opening is saved");
        assert_eq!(opened.health.breaker, BreakerState::Open);
        assert_eq!(opened.health.breaker_until, Some(Timestamp::from_millis(2_000)));
        assert_eq!(gates.admit(&hook, &inv("g"), 1, now, ts).0, Admission::GiveBack(Duration::from_secs(1)));
    }

    #[test]
    fn marks_failing_after_a_long_run_of_failures_and_recovers_on_success() {
        let mut gates = Gates::new(GateConfig { failing_after: Duration::from_secs(60), ..GateConfig::default() });
        let now = Instant::now();
        let hook = webhook(None);
        gates.admit(&hook, &inv("a"), 1, now, Timestamp::from_millis(0));
        assert_eq!(gates.finish(&hook.id, &inv("a"), answered(400), now, Timestamp::from_millis(0)), None);
        gates.admit(&hook, &inv("b"), 1, now, Timestamp::from_millis(60_000));
        let failing = gates.finish(&hook.id, &inv("b"), answered(400), now, Timestamp::from_millis(60_000));
        assert!(failing.is_some_and(|c| c.health.failing && c.health.failing_since == Some(Timestamp::from_millis(0))));
        gates.admit(&hook, &inv("c"), 1, now, Timestamp::from_millis(61_000));
        let recovered = gates.finish(&hook.id, &inv("c"), answered(204), now, Timestamp::from_millis(61_000));
        assert!(recovered.is_some_and(|c| !c.health.failing && c.health.failing_since.is_none()));
    }

    #[test]
    fn a_rate_limited_webhook_is_spaced_and_skipped_until_its_next_slot() {
        let mut gates = Gates::new(GateConfig { rate_window: Duration::from_secs(60), ..GateConfig::default() });
        let (now, ts) = (Instant::now(), Timestamp::from_millis(0));
        let hook = webhook(Some(2));
        assert_eq!(gates.admit(&hook, &inv("a"), 1, now, ts).0, Admission::Send);
        let (admission, _) = gates.admit(&hook, &inv("b"), 1, now, ts);
        assert!(
            matches!(admission, Admission::GiveBack(wait) if wait > Duration::from_secs(29) && wait <= Duration::from_secs(30)),
            "{admission:?}"
        );
        assert_eq!(gates.skipped(now).0, std::slice::from_ref(&hook.id));
        assert!(gates.next_opening(now).is_some());
    }
}
