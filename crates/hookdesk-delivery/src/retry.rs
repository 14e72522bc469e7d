//! What comes after an attempt: success, a final failure, or a retry at a time.

use std::time::Duration;

use hookdesk_core::Timestamp;
use hookdesk_store::Next;

use crate::millis;
use crate::outcome::Outcome;

/// The longest a receiver's `Retry-After` may push a retry back.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// The delay before each retry; the last one repeats.
    pub schedule: Vec<Duration>,
    /// Each delay is spread by up to this fraction either way, so retries of many
    /// invocations that failed together do not arrive together.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::parse("10s,1m,5m,30m").expect("the default schedule parses")
    }
}

impl RetryPolicy {
    /// Parses `10s,1m,5m,30m` (humantime durations, comma-separated).
    pub fn parse(text: &str) -> Result<Self, String> {
        let schedule = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| humantime::parse_duration(s).map_err(|e| format!("{s:?} is not a duration: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if schedule.is_empty() {
            return Err("the retry schedule needs at least one delay, e.g. 10s,1m,5m,30m".into());
        }
        Ok(Self { schedule, jitter: 0.2 })
    }

    /// Decides what follows attempt `attempt` (1-based) of an invocation allowed
    /// `max_retries` retries. `random` is uniform in [0, 1).
    pub fn next(&self, outcome: &Outcome, attempt: u32, max_retries: u8, now: Timestamp, random: f64) -> Next {
        if outcome.succeeded() {
            return Next::Succeeded;
        }
        if !outcome.code.is_retryable() || attempt > u32::from(max_retries) {
            return Next::Failed;
        }
        let delay = match outcome.retry_after {
            Some(hint) => hint.min(MAX_RETRY_AFTER),
            None => {
                let index =
                    usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX).min(self.schedule.len() - 1);
                self.schedule[index].mul_f64(1.0 + self.jitter * (2.0 * random - 1.0))
            }
        };
        Next::RetryAt(now.plus_millis(millis(delay)))
    }
}

/// `Retry-After` as delay-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = Timestamp::parse_http_date(value)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?;
    let wait = at.as_millis() - i64::try_from(now.as_millis()).ok()?;
    Some(Duration::from_millis(u64::try_from(wait.max(0)).ok()?))
}

#[cfg(test)]
mod tests {
    use hookdesk_store::LoggedResponse;

    use super::*;
    use crate::outcome::AttemptCode;

    fn answered(status: u16) -> Outcome {
        let response = LoggedResponse { status, headers: Default::default(), body: String::new(), note: None };
        Outcome::answered(response, String::new(), Duration::ZERO)
    }

    fn refused() -> Outcome {
        Outcome::failed(AttemptCode::ConnectionRefused, String::new(), Duration::ZERO)
    }

    #[test]
    fn retries_the_contract_statuses_within_the_budget() {
        let policy = RetryPolicy { jitter: 0.0, ..RetryPolicy::default() };
        let now = Timestamp::from_millis(0);
        assert_eq!(policy.next(&answered(204), 1, 3, now, 0.5), Next::Succeeded);
        for status in [408, 409, 425, 429, 500, 503] {
            assert_eq!(policy.next(&answered(status), 1, 3, now, 0.5), Next::RetryAt(Timestamp::from_millis(10_000)));
        }
        for status in [400, 401, 404, 410, 422, 301] {
            assert_eq!(policy.next(&answered(status), 1, 3, now, 0.5), Next::Failed, "{status}");
        }
        assert_eq!(policy.next(&refused(), 2, 3, now, 0.5), Next::RetryAt(Timestamp::from_millis(60_000)));
        assert_eq!(policy.next(&refused(), 4, 3, now, 0.5), Next::Failed, "the fourth attempt was the last retry");
        assert_eq!(policy.next(&refused(), 1, 0, now, 0.5), Next::Failed, "max_retries 0 sends once");
        assert_eq!(
            policy.next(&refused(), 9, 10, now, 0.5),
            Next::RetryAt(Timestamp::from_millis(1_800_000)),
            "the last delay repeats"
        );
    }

    #[test]
    fn retry_after_wins_and_is_capped() {
        let policy = RetryPolicy::default();
        let now = Timestamp::from_millis(0);
        let mut outcome = answered(429);
        outcome.retry_after = Some(Duration::from_secs(3));
        assert_eq!(policy.next(&outcome, 1, 3, now, 0.9), Next::RetryAt(Timestamp::from_millis(3000)));
        outcome.retry_after = Some(Duration::from_secs(86_400));
        assert_eq!(policy.next(&outcome, 1, 3, now, 0.9), Next::RetryAt(Timestamp::from_millis(3_600_000)));
    }

    #[test]
    fn jitter_stays_within_its_spread() {
        let policy = RetryPolicy::parse("10s").expect("parses");
        let now = Timestamp::from_millis(0);
        let low = policy.next(&refused(), 1, 3, now, 0.0);
        let high = policy.next(&refused(), 1, 3, now, 0.999_999);
        assert_eq!(low, Next::RetryAt(Timestamp::from_millis(8000)));
        assert!(matches!(high, Next::RetryAt(t) if (11_990..=12_000).contains(&t.as_millis())));
    }

    #[test]
    fn parses_schedules_and_retry_after() {
        assert_eq!(
            RetryPolicy::parse("100ms, 2s").expect("parses").schedule,
            [Duration::from_millis(100), Duration::from_secs(2)]
        );
        assert_eq!(
            RetryPolicy::parse("soon").map_err(|e| e.to_string()).err().as_deref(),
            Some("\"soon\" is not a duration: expected number at 0")
        );
        assert_eq!(
            RetryPolicy::parse("").map_err(|e| e.to_string()).err().as_deref(),
            Some("the retry schedule needs at least one delay, e.g. 10s,1m,5m,30m")
        );
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("later"), None);
    }
}
