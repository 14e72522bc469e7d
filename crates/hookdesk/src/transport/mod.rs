//! The HTTP server around the router: accepts connections, bounds how long a client may take
//! (headers, idle keep-alive, body) and how many connections are open, and shuts down within
//! a grace period. A full server closes the connection that has waited longest without a
//! request in progress, so clients get through while others hold half-open connections.

mod bodies;
mod connections;
pub mod descriptors;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hookdesk_server::http::layers::BodyDeadline;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use bodies::{GuardedBody, TimedBody};
use connections::{Connection, Phase, Registry};

/// How long clients may take, and how many connections may be open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// From a connection's first byte (or its opening) to the end of a request's headers.
    pub header_timeout: Duration,
    /// A keep-alive connection between requests.
    pub idle_timeout: Duration,
    /// From a request's headers to the end of its body (then 408), and from a handler's
    /// answer to the client having taken the whole response (then the connection closes).
    pub body_timeout: Duration,
    /// Open connections at most; `None`: derived from the descriptor limit.
    pub max_connections: Option<usize>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            max_connections: None,
        }
    }
}

/// Connections the kernel queues before they are accepted. std's default, 128, overflows
/// in a burst of connections (a client then waits a second for its SYN to be sent again).
const BACKLOG: u32 = 1024;

/// A listener on `addr`, as std binds one (SO_REUSEADDR on Unix) but with a longer queue.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// What every connection task shares.
struct Shared {
    router: axum::Router,
    http: hyper::server::conn::http1::Builder,
    limits: HttpLimits,
    registry: Registry,
    /// Shutting down: close connections without a request in progress, finish the others.
    stop: CancellationToken,
    /// The grace is over: close everything.
    force: CancellationToken,
}

/// The most a request's line and headers may take.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves `router` on `listener` until `stop` is cancelled; then stops accepting, lets
/// requests in progress finish for up to `grace`, and closes what is left.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: HttpLimits,
    max_connections: usize,
    stop: CancellationToken,
    grace: Duration,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper's own header timeout restarts as soon as a connection turns idle, so it would
    // also cut keep-alive waits short: the connection tasks keep both deadlines instead.
    http.timer(TokioTimer::new()).header_read_timeout(None);
    // A request's line and headers in at most 64 KiB (431 beyond): hyper's default buffer,
    // ~400 KB, let each half-open connection hold that much until its header timeout.
    http.max_buf_size(MAX_HEAD_BYTES);
    let shared = Arc::new(Shared {
        router,
        http,
        limits,
        registry: Registry::default(),
        stop: stop.clone(),
        force: CancellationToken::new(),
    });
    let mut tasks = JoinSet::new();
    let mut warnings = Throttle::default();
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of descriptors, most likely: wait for some to close.
                    if warnings.due() {
                        tracing::warn!(error = %e, "cannot accept connections");
                    }
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    }
                }
            },
        };
        if shared.registry.len() >= max_connections {
            let made_room = make_room(&shared.registry).await;
            if warnings.due() {
                if made_room {
                    tracing::warn!(
                        max_connections,
                        "the connection limit is reached: closing the connections that waited longest without a request"
                    );
                } else {
                    tracing::warn!(max_connections, "every connection has a request in progress: refusing new ones");
                }
            }
            if !made_room {
                continue;
            }
        }
        let connection = shared.registry.open();
        tasks.spawn(serve_connection(shared.clone(), connection, stream, peer));
    }
    drop(listener);
    let drained = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(connections = tasks.len(), "the shutdown grace is over: closing the connections still open");
        shared.force.cancel();
        while tasks.join_next().await.is_some() {}
    }
}

/// Closes the connection that has waited longest without a request in progress; false when
/// every connection has one.
async fn make_room(registry: &Registry) -> bool {
    let Some(victim) = registry.take_longest_waiting() else { return false };
    victim.evict.cancel();
    // Its descriptor is free once its task has dropped the socket; it does nothing else.
    let _ = tokio::time::timeout(Duration::from_secs(1), victim.closed.cancelled()).await;
    true
}

async fn serve_connection(shared: Arc<Shared>, connection: Arc<Connection>, stream: TcpStream, peer: SocketAddr) {
    let _closed = connection.closed.clone().drop_guard();
    drive(&shared, &connection, stream, peer).await;
    // The socket is closed by now: `drive` owned it.
    shared.registry.remove(&connection);
}

/// Runs the connection until the client or hyper ends it, a deadline passes, it is evicted,
/// or the shutdown closes it.
async fn drive(shared: &Arc<Shared>, connection: &Arc<Connection>, stream: TcpStream, peer: SocketAddr) {
    let io = TokioIo::new(Watched { stream, connection: connection.clone() });
    let service = {
        let (shared, connection) = (shared.clone(), connection.clone());
        hyper::service::service_fn(move |request| handle(shared.clone(), connection.clone(), peer, request))
    };
    let http = shared.http.serve_connection(io, service);
    tokio::pin!(http);
    let limits = &shared.limits;
    let mut stopping = false;
    loop {
        let deadline = connection.deadline(limits.header_timeout, limits.idle_timeout, limits.body_timeout);
        tokio::select! {
            result = http.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection closed");
                }
                return;
            }
            () = connection.changed() => {}
            () = sleep_until(deadline) => {
                // The phase may have changed since the deadline was read.
                if connection
                    .deadline(limits.header_timeout, limits.idle_timeout, limits.body_timeout)
                    .is_some_and(|d| d <= Instant::now())
                {
                    return;
                }
            }
            () = connection.evict.cancelled() => return,
            () = shared.force.cancelled() => return,
            () = shared.stop.cancelled(), if !stopping => {
                stopping = true;
                // A request not received yet is not waited for. Otherwise hyper closes once
                // the response in progress (or the last one) is written.
                if connection.phase() == Phase::Headers {
                    return;
                }
                http.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// One request: the peer address for `ConnectInfo`, the body's deadline, and the connection
/// busy until the response is sent.
async fn handle(
    shared: Arc<Shared>,
    connection: Arc<Connection>,
    peer: SocketAddr,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<GuardedBody>, Infallible> {
    let busy = connection.busy();
    let deadline = BodyDeadline::default();
    let expires = Instant::now() + shared.limits.body_timeout;
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    parts.extensions.insert(deadline.clone());
    let body = axum::body::Body::new(TimedBody::new(body, expires, deadline));
    let response = shared.router.clone().oneshot(axum::extract::Request::from_parts(parts, body)).await?;
    connection.responding();
    Ok(response.map(|body| GuardedBody::new(body, busy)))
}

/// The socket, telling its connection when bytes arrive (an idle connection then starts a
/// request).
struct Watched {
    stream: TcpStream,
    connection: Arc<Connection>,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.connection.on_read();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, data)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Errors of one connection that the listener survives (as axum's own loop treats them).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// At most one warning a minute, so that an attack does not flood the log.
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
}

impl Throttle {
    fn due(&mut self) -> bool {
        let now = Instant::now();
        let due = self.last.is_none_or(|last| now.duration_since(last) >= Duration::from_secs(60));
        if due {
            self.last = Some(now);
        }
        due
    }
}
