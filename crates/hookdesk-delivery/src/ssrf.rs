//! The SSRF guard: outbound requests go only to globally routable addresses, unless an
//! administrator allows a range (`--allow-destination`).
//!
//! Host names are checked in the resolver, on the addresses the connection will use: the
//! client connects only to what the resolver returned, so DNS rebinding cannot slip a private
//! address past the check. IP literals never reach a resolver and are checked before sending.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

/// Which destination addresses are allowed.
#[derive(Debug, Clone, Default)]
pub struct DestinationPolicy {
    allowed: Arc<Vec<IpNet>>,
}

impl DestinationPolicy {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed: Arc::new(allowed) }
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allowed.iter().any(|net| net.contains(&ip)) || is_global(ip)
    }
}

/// An IPv4-mapped IPv6 address is its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Globally routable: not loopback, private, link-local, CGNAT, documentation, multicast,
/// reserved, or a v6 form that embeds one of those.
pub fn is_global(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network"
        || a == 10                             // private
        || (a == 100 && (64..128).contains(&b)) // CGNAT (also Alibaba's metadata address)
        || a == 127                            // loopback
        || (a == 169 && b == 254)              // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // documentation
        || (a == 192 && b == 88 && c == 99)    // 6to4 relay
        || (a == 192 && b == 168)              // private
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100)   // documentation
        || (a == 203 && b == 0 && c == 113)    // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        return false;
    }
    match s[0] {
        0x0064 if s[1] == 0xff9b => is_global_v4(embedded_v4(s[6], s[7])), // NAT64
        0x0100 if s[1..4] == [0, 0, 0] => false,                           // discard-only
        0x2001 if s[1] < 0x0200 => false,                                  // IETF assignments
        0x2001 if s[1] == 0x0db8 => false,                                 // documentation
        0x2002 => is_global_v4(embedded_v4(s[1], s[2])),                   // 6to4
        x if x & 0xfe00 == 0xfc00 => false,                                // unique local
        x if x & 0xffc0 == 0xfe80 => false,                                // link-local
        x if x & 0xffc0 == 0xfec0 => false,                                // site-local
        0 => false,                                                        // other ::/16 forms
        _ => true,
    }
}

/// Why a destination was refused, in words a user understands.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {addresses}, which is not a public address; allow it with --allow-destination")]
pub struct Refused {
    pub host: String,
    pub addresses: String,
}

#[derive(Debug, thiserror::Error)]
#[error("DNS lookup for {host} failed: {message}")]
pub struct LookupFailed {
    pub host: String,
    pub message: String,
}

/// The addresses of `host` by the system's resolver (getaddrinfo), or why there are none.
pub(crate) async fn lookup(host: &str) -> Result<Vec<SocketAddr>, LookupFailed> {
    match tokio::net::lookup_host((host, 0)).await {
        Ok(addresses) => Ok(addresses.collect()),
        Err(e) => Err(LookupFailed { host: host.to_owned(), message: e.to_string() }),
    }
}

/// The resolver the HTTP client uses: system DNS (getaddrinfo), then the policy. The
/// explicitly configured proxy's host (`exempt`) resolves unguarded.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub policy: DestinationPolicy,
    pub exempt: Option<String>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        let exempt = self.exempt.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&host));
        Box::pin(async move {
            let resolved = match lookup(&host).await {
                Ok(addrs) => addrs,
                Err(failed) => return Err(Box::new(failed) as Box<dyn std::error::Error + Send + Sync>),
            };
            let allowed: Vec<SocketAddr> =
                resolved.iter().copied().filter(|a| exempt || policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                let addresses = resolved.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>().join(", ");
                return Err(Box::new(Refused { host, addresses }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an IP address")
    }

    #[test]
    fn refuses_every_internal_range() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:db8::1",
        ] {
            assert!(!is_global(ip(internal)), "{internal} must be refused");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert!(is_global(ip(public)), "{public} is public");
        }
    }

    #[test]
    fn an_allowed_range_opens_only_itself() {
        let policy = DestinationPolicy::new(vec!["127.0.0.0/8".parse().expect("cidr")]);
        assert!(policy.allows(ip("127.0.0.1")));
        assert!(policy.allows(ip("::ffff:127.0.0.1")));
        assert!(!policy.allows(ip("10.0.0.1")));
    }
}
