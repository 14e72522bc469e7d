//! Sends one request and says what happened, as data: a response, or an error with a stable
//! code (`timeout`, `connection_refused`, `dns`, `tls`, `ssrf_refused`, ...).

use std::error::Error as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookdesk_core::request::OutgoingRequest;
use hookdesk_core::webhook::HttpMethod;
use hookdesk_store::LoggedResponse;

use crate::outcome::{AttemptCode, Outcome};

use crate::ssrf::{DestinationPolicy, GuardedResolver, LookupFailed, Refused, lookup};

/// Response and request bodies kept in the log.
pub const LOG_BODY_BYTES: usize = hookdesk_core::text::LOGGED_BODY_BYTES;

/// The HTTP client every worker shares: pooled keep-alive connections, no redirects, the
/// SSRF guard in its resolver. The proxy environment variables (`HTTP_PROXY`...) are never
/// used: they would send requests, credentials included, past the guard. A proxy is used only
/// when given explicitly, and then each destination is checked before the request goes.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: DestinationPolicy,
    proxied: bool,
}

/// Why a destination may not be called: the error code and message an attempt records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub code: AttemptCode,
    pub message: String,
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Sender {
    /// A sender under `policy`; with `proxy` (an `http://` or `https://` URL), every request
    /// goes through it.
    pub fn new(policy: DestinationPolicy, timeout: Duration, proxy: Option<&url::Url>) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(512)
            .tcp_nodelay(true);
        // The administrator chose the proxy: its own address is not a destination to guard.
        let exempt = proxy.and_then(|p| p.host_str()).map(str::to_owned);
        if let Some(proxy) = proxy {
            builder = builder.proxy(reqwest::Proxy::all(proxy.as_str())?);
        }
        let client = builder.dns_resolver(Arc::new(GuardedResolver { policy: policy.clone(), exempt })).build()?;
        Ok(Self { client, policy, proxied: proxy.is_some() })
    }

    /// Whether the SSRF guard lets requests go to `url`, decided as sending decides it (an IP
    /// literal as it is, a name by the addresses it resolves to): saving a webhook warns with
    /// it, and through a proxy (which resolves names itself) each request is checked with it.
    pub async fn check_destination(&self, url: &str) -> Result<(), Blocked> {
        let blocked = |code, message: String| Blocked { code, message };
        let url = reqwest::Url::parse(url)
            .map_err(|e| blocked(AttemptCode::InvalidUrl, format!("the URL is not valid: {e}")))?;
        if let Some(ip) = literal_ip(&url) {
            return if self.policy.allows(ip) {
                Ok(())
            } else {
                Err(blocked(
                    AttemptCode::SsrfRefused,
                    Refused { host: ip.to_string(), addresses: ip.to_string() }.to_string(),
                ))
            };
        }
        let host = url.host_str().unwrap_or_default().to_owned();
        let addresses: Vec<IpAddr> = match tokio::time::timeout(Duration::from_secs(3), lookup(&host)).await {
            Ok(Ok(addresses)) => addresses.iter().map(SocketAddr::ip).collect(),
            Ok(Err(failed)) => return Err(blocked(AttemptCode::Dns, failed.to_string())),
            Err(_) => {
                return Err(blocked(
                    AttemptCode::Dns,
                    LookupFailed { host, message: "no answer within 3 s".into() }.to_string(),
                ));
            }
        };
        // Sent directly, the connection uses an allowed address if there is one (the
        // resolver drops the others); through a proxy, which resolves the name itself and may
        // use any of them, every one must be allowed.
        let allowed = |ip: &IpAddr| self.policy.allows(*ip);
        let passes = if self.proxied { addresses.iter().all(allowed) } else { addresses.iter().any(allowed) };
        if passes && !addresses.is_empty() {
            return Ok(());
        }
        let addresses = addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        Err(blocked(AttemptCode::SsrfRefused, Refused { host, addresses }.to_string()))
    }

    pub async fn send(&self, request: &OutgoingRequest) -> Outcome {
        let started = Instant::now();
        let url = match reqwest::Url::parse(&request.url) {
            Ok(url) => url,
            Err(e) => {
                return Outcome::failed(
                    AttemptCode::InvalidUrl,
                    format!("the URL is not valid: {e}"),
                    started.elapsed(),
                );
            }
        };
        // IP literals never reach the resolver, and through a proxy no destination does:
        // check them here.
        if self.proxied {
            if let Err(blocked) = self.check_destination(url.as_str()).await {
                return Outcome::failed(blocked.code, blocked.message, started.elapsed());
            }
        } else if let Some(ip) = literal_ip(&url)
            && !self.policy.allows(ip)
        {
            let message = Refused { host: ip.to_string(), addresses: ip.to_string() }.to_string();
            return Outcome::failed(AttemptCode::SsrfRefused, message, started.elapsed());
        }
        let method = match request.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self.client.request(method, url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(e) => {
                let (code, message) = classify(e);
                return Outcome::failed(code, message, started.elapsed());
            }
        };
        let status = response.status().as_u16();
        // Bounded as an inbound call's are: a receiver may answer with any headers.
        let headers = hookdesk_core::text::logged_headers(
            response.headers().iter().map(|(n, v)| (n.as_str(), String::from_utf8_lossy(v.as_bytes()).into_owned())),
        );
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::retry::parse_retry_after);
        let location =
            response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(shown_location);
        let mut body = Vec::new();
        let mut body_error = None;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = LOG_BODY_BYTES.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= LOG_BODY_BYTES {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    body_error = Some(classify(e));
                    break;
                }
            }
        }
        let code = AttemptCode::of_status(status);
        let message = match code {
            AttemptCode::Delivered => String::new(),
            AttemptCode::Redirect => format!(
                "the receiver answered {status} (redirect to {}); redirects are not followed",
                location.as_deref().unwrap_or("nowhere")
            ),
            _ => format!("the receiver answered {status}"),
        };
        // A 2xx is the receiver saying it got the request: a body that trickles in past the
        // timeout does not undo that (a retry would deliver it twice). It is noted instead.
        let note = body_error.filter(|_| code.delivered()).map(|(failed, message)| {
            let failed = failed.as_str().unwrap_or_default();
            format!("delivered: the receiver answered {status}, then its body failed to arrive ({failed}: {message})")
        });
        let response = LoggedResponse { status, headers, body: String::from_utf8_lossy(&body).into_owned(), note };
        Outcome { code, message, response: Some(response), duration: started.elapsed(), retry_after }
    }
}

fn literal_ip(url: &reqwest::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// Turns a client error into a stable code and a sentence, by what caused it. The URL is
/// left out: it may hold a secret (a Slack webhook's URL is one), and messages reach the log.
fn classify(error: reqwest::Error) -> (AttemptCode, String) {
    let error = error.without_url();
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return (AttemptCode::SsrfRefused, refused.to_string());
        }
        if let Some(lookup) = cause.downcast_ref::<LookupFailed>() {
            return (AttemptCode::Dns, lookup.to_string());
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return (
                        AttemptCode::ConnectionRefused,
                        "the receiver refused the connection (nothing listens on that port)".into(),
                    );
                }
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    return (
                        AttemptCode::ConnectionReset,
                        "the receiver closed the connection before answering".into(),
                    );
                }
                _ => {}
            }
        }
        let text = cause.to_string().to_lowercase();
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            return (AttemptCode::Tls, format!("TLS failed: {cause}"));
        }
        source = cause.source();
    }
    if error.is_timeout() {
        return (AttemptCode::Timeout, "the receiver did not answer in time".into());
    }
    if error.is_connect() {
        return (AttemptCode::Connection, format!("could not connect: {error}"));
    }
    (AttemptCode::Connection, format!("the request failed: {error}"))
}

/// Where a redirect pointed, as errors and logs show it: without its query, fragment or
/// credentials (they may hold a token) and cut to 200 characters (the receiver chose it).
fn shown_location(location: &str) -> String {
    let shown = match reqwest::Url::parse(location) {
        Ok(mut url) => {
            url.set_query(None);
            url.set_fragment(None);
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        Err(_) => location.split(['?', '#']).next().unwrap_or_default().to_owned(),
    };
    match shown.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &shown[..cut]),
        None => shown,
    }
}

#[cfg(test)]
mod tests {
    use super::shown_location;

    #[test]
    fn a_redirect_is_shown_without_what_may_hold_a_secret_and_cut() {
        assert_eq!(shown_location("https://user:pw@x.example/cb?access_token=SECRET#frag"), "https://x.example/cb");
        assert_eq!(shown_location("/relative/path?token=SECRET"), "/relative/path");
        let long = shown_location(&format!("https://x.example/{}", "A".repeat(60_000)));
        assert_eq!(long.chars().count(), 201, "200 characters and an ellipsis");
    }
}
