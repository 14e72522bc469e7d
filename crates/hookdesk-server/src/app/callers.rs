//! Who calls a use case. An [`Agent`] or [`Admin`] exists only once its API token checked
//! out and its role allows it: a use case that takes one cannot run for anyone else.

use std::net::IpAddr;
use std::time::Instant;

use hookdesk_core::user::{Role, User};
use ipnet::IpNet;

use super::metrics::TokenRefusal;
use super::{App, AppError, ids};

/// A user with an agent's rights: an agent or an admin.
#[derive(Debug, Clone)]
pub struct Agent(User);

/// An admin.
#[derive(Debug, Clone)]
pub struct Admin(User);

impl Agent {
    /// For a user whose role was checked by the caller.
    pub(super) fn checked(user: User) -> Self {
        Self(user)
    }

    /// The same user as an admin, if they are one.
    pub fn as_admin(&self) -> Result<Admin, AppError> {
        if self.0.role != Role::Admin {
            return Err(AppError::Forbidden("admin"));
        }
        Ok(Admin(self.0.clone()))
    }

    pub fn user(&self) -> &User {
        &self.0
    }
}

impl Admin {
    /// For a user whose role was checked by the caller.
    pub(super) fn checked(user: User) -> Self {
        Self(user)
    }

    /// The same user, with the rights every admin has as an agent.
    pub fn as_agent(&self) -> Agent {
        Agent(self.0.clone())
    }

    pub fn user(&self) -> &User {
        &self.0
    }
}

/// Who presents a token: where from, when known (wrong tokens are throttled per address).
#[derive(Debug, Clone, Copy, Default)]
pub struct Client(pub Option<IpAddr>);

/// The caller's address: the peer, unless the peer is a trusted proxy; then the nearest
/// address in X-Forwarded-For that is not one (proxies append, so the right end is nearest).
pub(crate) fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let chain: Vec<IpAddr> =
        forwarded_for.unwrap_or_default().split(',').filter_map(|a| a.trim().parse().ok()).collect();
    chain.iter().rev().find(|ip| !is_trusted(ip)).or(chain.first()).copied().unwrap_or(peer)
}

/// How stale a token's "last used" may get before a request writes it again.
const TOKEN_USE_RESOLUTION_MS: i64 = 60_000;

impl App {
    /// The client of a request from `peer` carrying `forwarded_for` (X-Forwarded-For), which
    /// counts only from a trusted proxy (`--trusted-proxy`).
    pub fn client(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Client {
        Client(peer.map(|peer| client_ip(peer, forwarded_for, &self.config.trusted_proxies)))
    }

    /// The agent (or admin) an API token presented by `client` acts as.
    pub async fn agent(&self, token: &str, client: Client) -> Result<Agent, AppError> {
        let user = self.user_for_token(token, client).await?;
        if user.role < Role::Agent {
            return Err(AppError::Forbidden("agent"));
        }
        Ok(Agent(user))
    }

    /// The admin an API token acts as.
    pub async fn admin(&self, token: &str, client: Client) -> Result<Admin, AppError> {
        let user = self.user_for_token(token, client).await?;
        if user.role != Role::Admin {
            return Err(AppError::Forbidden("admin"));
        }
        Ok(Admin(user))
    }

    /// The user of `token`, unless `client` presented too many wrong ones (see `throttle`).
    async fn user_for_token(&self, token: &str, client: Client) -> Result<User, AppError> {
        let now = Instant::now();
        if let Some(wait) = client.0.and_then(|address| self.token_failures.wait(address, now)) {
            self.metrics.token_refused(TokenRefusal::Throttled);
            return Err(AppError::Throttled(wait));
        }
        // Looked up by its SHA-256: the comparison happens on a hash the caller cannot steer,
        // so response time says nothing about how close a guess was.
        match self.store.token_holder(&ids::token_hash(token)).await? {
            Some((user, token_id, last_used)) => {
                // "Last used" to within a minute: one write a minute a token at most, so that
                // authenticating stays a read.
                let now = self.clock.now();
                let not_before = now.plus_millis(-TOKEN_USE_RESOLUTION_MS);
                if last_used.is_none_or(|at| at < not_before) {
                    self.store.note_token_use(token_id, now, not_before).await?;
                }
                Ok(user)
            }
            None => {
                if let Some(address) = client.0 {
                    self.token_failures.failed(address, now);
                }
                self.metrics.token_refused(TokenRefusal::Unknown);
                Err(AppError::Unauthenticated)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_nearest_untrusted_address() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        // Not from a trusted proxy: the header is the caller's to forge, so it is ignored.
        assert_eq!(client_ip(ip("203.0.113.5"), Some("198.51.100.1"), &trusted), ip("203.0.113.5"));
        assert_eq!(client_ip(ip("10.0.0.2"), Some("198.51.100.1, 203.0.113.7, 10.0.0.9"), &trusted), ip("203.0.113.7"));
        assert_eq!(client_ip(ip("10.0.0.2"), Some("10.1.1.1"), &trusted), ip("10.1.1.1"));
        assert_eq!(client_ip(ip("10.0.0.2"), Some("garbage"), &trusted), ip("10.0.0.2"));
        assert_eq!(client_ip(ip("10.0.0.2"), None, &[]), ip("10.0.0.2"));
    }
}
