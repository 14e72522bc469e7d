//! Throttling wrong API tokens and wrong passwords, per client address. Tokens carry 256
//! random bits, so guessing one is hopeless; what a flood of guesses costs is database lookups
//! and log lines. A token has no account to count failures against, so they are counted per
//! address (an IPv6 client per /64, which one holder usually has whole); wrong passwords are
//! counted here too, besides per account (`passwords`: the lockout). Each address may fail [`BURST`] times at once, then once every
//! [`REFILL`]; while over, every token it presents, right or wrong, is refused unread (a guess
//! that is right must not answer differently from one that is wrong).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures an address may make in a row before it waits.
pub const BURST: u32 = 20;
/// Then one more failure is allowed per this long.
pub const REFILL: Duration = Duration::from_secs(3);
/// Addresses remembered at most; beyond, those whose failures have all been forgiven go,
/// and if that is not enough a new address is not counted (rather than all forgiven, which
/// an attacker of many addresses could make happen at will).
const MAX_ADDRESSES: usize = 100_000;

/// What an address is counted as: itself, or an IPv6 address's /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    V4(u32),
    /// The first 64 bits.
    V6(u64),
}

impl Client {
    fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self::V4(v4.to_bits()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.to_bits()),
                None => Self::V6((v6.to_bits() >> 64) as u64),
            },
        }
    }
}

/// Per client, when its failures will all have been forgiven (a GCRA's theoretical arrival
/// time: each failure pushes it [`REFILL`] further).
#[derive(Debug, Default)]
pub struct FailureThrottle {
    forgiven_at: Mutex<HashMap<Client, Instant>>,
}

impl FailureThrottle {
    /// How long `address` must wait before presenting a token again, if it must: until one
    /// more failure would fit in its allowance.
    pub fn wait(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let forgiven_at = self.forgiven_at.lock().unwrap_or_else(|p| p.into_inner());
        let until = *forgiven_at.get(&Client::of(address))?;
        let allowance = REFILL * BURST;
        let ahead = until.checked_duration_since(now)?;
        (ahead + REFILL).checked_sub(allowance).filter(|w| !w.is_zero())
    }

    /// Counts a wrong token presented by `address`.
    pub fn failed(&self, address: IpAddr, now: Instant) {
        let mut forgiven_at = self.forgiven_at.lock().unwrap_or_else(|p| p.into_inner());
        let client = Client::of(address);
        if forgiven_at.len() >= MAX_ADDRESSES && !forgiven_at.contains_key(&client) {
            forgiven_at.retain(|_, until| *until > now);
            if forgiven_at.len() >= MAX_ADDRESSES {
                return;
            }
        }
        let until = forgiven_at.entry(client).or_insert(now);
        *until = (*until).max(now) + REFILL;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_fails_a_burst_then_once_per_refill_and_others_are_not_held() {
        let throttle = FailureThrottle::default();
        let (a, b): (IpAddr, IpAddr) = ("203.0.113.7".parse().expect("ip"), "203.0.113.8".parse().expect("ip"));
        let start = Instant::now();
        for _ in 0..BURST {
            assert_eq!(throttle.wait(a, start), None, "the burst is allowed");
            throttle.failed(a, start);
        }
        assert_eq!(throttle.wait(a, start), Some(REFILL));
        assert_eq!(throttle.wait(a, start + REFILL / 2), Some(REFILL / 2));
        assert_eq!(throttle.wait(b, start), None);
        assert_eq!(throttle.wait(a, start + REFILL), None, "one refill later, one more try");
        throttle.failed(a, start + REFILL);
        assert_eq!(throttle.wait(a, start + REFILL), Some(REFILL));
        assert_eq!(throttle.wait(a, start + REFILL * (BURST + 1)), None);
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let throttle = FailureThrottle::default();
        let now = Instant::now();
        for i in 0..BURST {
            throttle.failed(format!("2001:db8:1:2::{i:x}").parse().expect("ip"), now);
        }
        assert!(throttle.wait("2001:db8:1:2:ffff::1".parse().expect("ip"), now).is_some());
        assert_eq!(throttle.wait("2001:db8:1:3::1".parse().expect("ip"), now), None);
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().expect("ip");
        for _ in 0..BURST {
            throttle.failed(mapped, now);
        }
        assert!(throttle.wait("203.0.113.9".parse().expect("ip"), now).is_some());
    }
}
