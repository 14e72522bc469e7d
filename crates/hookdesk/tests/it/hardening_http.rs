//! The HTTP server against clients that take their time or ask too much, over real loopback
//! sockets: slow headers, idle keep-alive connections, more half-open connections than the
//! limit, a declared body over the limit, a stalled body, and a shutdown with all of them.
//! Timeouts are measured and compared with their configured values; other timings are
//! printed (run with `--nocapture`).

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Db, PATIENCE, TestApp};

/// Short timeouts, so that the tests wait little; a small connection limit, so that a few
/// dozen sockets fill it.
async fn spawn(configure: impl FnOnce(&mut hookdesk::transport::HttpLimits)) -> TestApp {
    TestApp::spawn_with(Db::Sqlite, |config| {
        config.http.header_timeout = Duration::from_secs(1);
        config.http.idle_timeout = Duration::from_secs(1);
        config.http.body_timeout = Duration::from_secs(1);
        config.http.max_connections = Some(32);
        config.shutdown_grace = Duration::from_secs(2);
        configure(&mut config.http);
    })
    .await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.addr).await.expect("the server accepts")
}

async fn send(stream: &mut TcpStream, text: &str) {
    stream.write_all(text.as_bytes()).await.expect("the server reads");
}

/// The start of a request that never ends: its headers are never finished.
const HALF_OPEN: &str = "GET /healthz HTTP/1.1\r\nHost: hookdesk\r\nX-Slow: ";

/// Waits until the server closes `stream` (end of file, or a reset); answers how long that
/// took. Fails after [`PATIENCE`].
async fn closed(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the server kept the connection open for {PATIENCE:?}"),
        }
    }
}

/// Whether the server has closed `stream` by now, without waiting.
fn is_closed(stream: &TcpStream) -> bool {
    let mut buffer = [0u8; 1];
    !matches!(stream.try_read(&mut buffer), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Reads one response: status, headers (lowercase names), body (by its content-length).
async fn response(stream: &mut TcpStream) -> (u16, Vec<(String, String)>, String) {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let status =
                    lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let length: usize =
                    headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
                while data.len() < end + 4 + length {
                    let n = stream.read(&mut buffer).await.expect("the body");
                    assert!(n > 0, "the connection closed in the middle of the body");
                    data.extend_from_slice(&buffer[..n]);
                }
                let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).into_owned();
                return (status, headers, body);
            }
            let n = stream.read(&mut buffer).await.expect("a response");
            assert!(n > 0, "the connection closed before a response: {}", String::from_utf8_lossy(&data));
            data.extend_from_slice(&buffer[..n]);
        }
    };
    tokio::time::timeout(PATIENCE, read).await.expect("a response in time")
}

fn error_code(body: &str) -> String {
    let body: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("an error body, not {body:?}: {e}"));
    assert_eq!(body["error"]["details"], serde_json::json!([]), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    body["error"]["code"].as_str().expect("a code").to_owned()
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: hookdesk\r\n\r\n")
}

/// A ticket creation whose body declares 100 bytes and sends `sent` of them.
fn partial_ticket(app: &TestApp, sent: &str) -> String {
    format!(
        "POST /api/v1/tickets HTTP/1.1\r\nHost: hookdesk\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{sent}",
        app.token
    )
}

/// Starts a ticket creation and returns once the server is reading its body: the request is
/// in progress. The caller sends the 100 bytes of the body (or not).
async fn ticket_in_progress(app: &TestApp) -> TcpStream {
    let mut stream = connect(app).await;
    let head = partial_ticket(app, "").replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n");
    send(&mut stream, &head).await;
    // hyper says 100 Continue when the handler first asks for the body.
    let expected = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut interim = vec![0u8; expected.len()];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut interim)).await.expect("in time").expect("100 Continue");
    assert_eq!(interim, expected);
    stream
}

/// 100 bytes of a ticket.
const TICKET: &str =
    r#"{"subject": "Slow but fine", "requester": {"name": "Ann", "email": "ann@example.com"}}              "#;
const _: () = assert!(TICKET.len() == 100);

/// Asserts that a connection closed by `timeout` took it: `waited` is measured from before
/// the server's clock started, and a timer never fires early, so it cannot be much shorter
/// (0.8: the clocks' granularity); at most 3x leaves a loaded machine two timeouts of late
/// wake-up. The tests set their other timeouts 5x apart, so closing by the wrong one fails.
#[track_caller]
fn assert_closed_by(what: &str, waited: Duration, timeout: Duration) {
    let ratio = waited.as_secs_f64() / timeout.as_secs_f64();
    println!("{what} closed after {waited:?} ({ratio:.2} x {timeout:?})");
    assert!((0.8..=3.0).contains(&ratio), "{what} closed after {waited:?}: {ratio:.2} x its timeout of {timeout:?}");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_closed_after_the_header_timeout() {
    let app = spawn(|http| {
        http.idle_timeout = Duration::from_secs(5);
        http.body_timeout = Duration::from_secs(5);
    })
    .await;
    let timeout = app.config.http.header_timeout;
    let started = Instant::now();
    let mut stream = connect(&app).await;
    send(&mut stream, HALF_OPEN).await;
    closed(&mut stream).await;
    assert_closed_by("a half-open connection", started.elapsed(), timeout);

    // A connection that sends nothing at all is no better.
    let started = Instant::now();
    let mut silent = connect(&app).await;
    closed(&mut silent).await;
    assert_closed_by("a silent connection", started.elapsed(), timeout);
}

/// A request's line and headers fit in 64 KiB: past that the server answers 431 and closes,
/// where hyper's default buffer let a half-open connection hold ~400 KB (the eighth attack:
/// 2,000 such connections took +808 MB).
#[tokio::test]
async fn headers_past_64_kib_are_refused_before_the_server_holds_them() {
    let app = spawn(|_| {}).await;
    let mut stream = connect(&app).await;
    let big = format!("{HALF_OPEN}{}", "v".repeat(hookdesk::transport::MAX_HEAD_BYTES + 1024));
    // The server may stop reading (and answer) before the whole header is written.
    let _ = stream.write_all(big.as_bytes()).await;
    let (status, _, _) = response(&mut stream).await;
    assert_eq!(status, 431);
    // Just under the bound, a request is answered.
    let mut stream = connect(&app).await;
    let fits = format!("GET /healthz HTTP/1.1\r\nHost: hookdesk\r\nX-Big: {}\r\n\r\n", "v".repeat(60 * 1024));
    send(&mut stream, &fits).await;
    let (status, _, _) = response(&mut stream).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn keep_alive_connections_wait_the_idle_timeout_for_their_next_request_then_close() {
    // Idle waits are longer than the header timeout: only the idle timeout ends them.
    let app = spawn(|http| {
        http.header_timeout = Duration::from_millis(600);
        http.idle_timeout = Duration::from_secs(3);
        http.body_timeout = Duration::from_millis(600);
    })
    .await;
    let mut stream = connect(&app).await;
    send(&mut stream, &get("/healthz")).await;
    assert_eq!(response(&mut stream).await.0, 200);
    // The client idles past the header timeout before its next request.
    tokio::time::sleep(Duration::from_secs(1)).await;
    send(&mut stream, &get("/healthz")).await;
    assert_eq!(response(&mut stream).await.0, 200, "the same connection serves the next request");
    let started = Instant::now();
    closed(&mut stream).await;
    assert_closed_by("an idle keep-alive connection", started.elapsed(), app.config.http.idle_timeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_connection_limit_the_longest_waiting_are_closed_so_healthz_answers() {
    let app = spawn(|http| {
        // Only the limit closes connections in this test.
        http.header_timeout = Duration::from_secs(60);
        http.body_timeout = Duration::from_secs(60);
    })
    .await;
    // A request in progress, older than every half-open connection: never the one closed.
    let mut busy = ticket_in_progress(&app).await;
    send(&mut busy, &TICKET[..10]).await;

    let attackers = 64;
    let mut half_open = Vec::new();
    for _ in 0..attackers {
        let mut stream = connect(&app).await;
        send(&mut stream, HALF_OPEN).await;
        half_open.push(stream);
    }
    let started = Instant::now();
    let client = reqwest::Client::new();
    let health = tokio::time::timeout(PATIENCE, client.get(app.url("/healthz")).send())
        .await
        .expect("/healthz answers while the limit is full")
        .expect("/healthz answers");
    let took = started.elapsed();
    assert_eq!(health.status(), 200);

    // 32 slots: the busy request and 31 half-open filled them; each later connection (33
    // half-open, then /healthz's) closed the one that had waited longest.
    let evicted = attackers + 2 - 32;
    for (i, stream) in half_open.iter_mut().take(evicted).enumerate() {
        let waited = closed(stream).await;
        assert!(waited < PATIENCE, "half-open connection {i} was closed");
    }
    let held = half_open.iter().filter(|s| !is_closed(s)).count();
    println!(
        "{attackers} half-open connections, limit 32: /healthz answered in {took:?} while {held} of them were held open (and the busy request)"
    );

    send(&mut busy, &TICKET[10..]).await;
    let (status, _, body) = response(&mut busy).await;
    assert_eq!(status, 201, "the request in progress was not the one closed: {body}");
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_sent() {
    let app = spawn(|_| {}).await;
    let (status, webhook) = app.post("/api/v1/inbound_webhooks", serde_json::json!({"name": "Big"})).await;
    assert_eq!(status, 201, "{webhook}");
    let url = webhook["url"].as_str().expect("url");
    let known = &url[url.find("/hooks/").expect("a /hooks/ URL")..];
    let head = |path: &str, auth: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: hookdesk\r\n{auth}Content-Type: application/json\r\nContent-Length: 5000000000\r\n\r\n"
        )
    };
    for request in [
        head("/hooks/x", ""),
        head(known, ""),
        head("/api/v1/tickets", &format!("Authorization: Bearer {}\r\n", app.token)),
    ] {
        let mut stream = connect(&app).await;
        // Headers only: the answer comes without a byte of the body.
        send(&mut stream, &request).await;
        let (status, headers, body) = response(&mut stream).await;
        assert_eq!(status, 413, "{request}: {body}");
        assert_eq!(error_code(&body), "payload_too_large");
        assert!(headers.contains(&("connection".into(), "close".into())), "{headers:?}");
        closed(&mut stream).await;
    }
    // The call to a known webhook is logged, with the size it declared.
    let (status, calls) =
        app.get(&format!("/api/v1/inbound_webhooks/{}/calls", webhook["id"].as_str().expect("id"))).await;
    assert_eq!(status, 200, "{calls}");
    assert_eq!(calls["data"][0]["status"], 413, "{calls}");
    assert_eq!(calls["data"][0]["body_bytes"], 5_000_000_000_u64, "{calls}");
}

/// A client that never reads its responses does not hold its connection: once a handler has
/// answered, the response must be taken within the body timeout (while the server still
/// holds it) or the idle timeout (once it is all in the socket's buffers).
#[tokio::test]
async fn a_client_that_never_reads_its_responses_is_closed_within_a_timeout() {
    let app = spawn(|_| {}).await;
    // Responses larger together than the sockets' buffers (4 MiB at most here): eight
    // pipelined calls of an inbound webhook answering with 1,000,000 bytes each.
    let (_, big) = app
        .post(
            "/api/v1/inbound_webhooks",
            serde_json::json!({"name": "big", "response": {"status": 200,
            "body": "{% for i in (1..20000) %}0123456789012345678901234567890123456789012345678{% endfor %}x"}}),
        )
        .await;
    let path =
        big["url"].as_str().expect("url").split_once("/hooks/").map(|(_, t)| format!("/hooks/{t}")).expect("path");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("a small window");
    let mut stream = socket.connect(app.addr).await.expect("connects");
    send(&mut stream, &get(&path).repeat(8)).await;
    // Never read: the server cannot send, and closes after the timeout. Read afterwards, the
    // connection holds what was buffered when it closed, not the 8,000,000 bytes a server
    // waiting on the client would have sent as they were read.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut received = 0;
    let mut buffer = vec![0u8; 65536];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buffer)).await.expect("the end in time") {
            Ok(0) | Err(_) => break,
            Ok(n) => received += n,
        }
    }
    println!(
        "a client that did not read for 2.5 s (body timeout 1 s) got {received} of 8,000,000 bytes before the close"
    );
    assert!(received < 8_000_000, "the connection was closed with responses unsent");
}

#[tokio::test]
async fn a_body_that_stalls_gets_408() {
    let app = spawn(|http| {
        http.header_timeout = Duration::from_secs(5);
        http.idle_timeout = Duration::from_secs(5);
    })
    .await;
    let mut stream = connect(&app).await;
    let started = Instant::now();
    send(&mut stream, &partial_ticket(&app, &TICKET[..10])).await;
    let (status, _, body) = response(&mut stream).await;
    assert_eq!(status, 408, "{body}");
    assert_eq!(error_code(&body), "request_timeout");
    closed(&mut stream).await;
    assert_closed_by("a stalled body", started.elapsed(), app.config.http.body_timeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_finishes_requests_in_progress_and_closes_slow_connections_within_the_grace() {
    let mut app = spawn(|http| {
        // Only the shutdown closes connections in this test.
        http.header_timeout = Duration::from_secs(60);
        http.idle_timeout = Duration::from_secs(60);
        http.body_timeout = Duration::from_secs(60);
    })
    .await;
    let grace = app.config.shutdown_grace;
    let mut slow = Vec::new();
    for _ in 0..10 {
        let mut stream = connect(&app).await;
        send(&mut stream, HALF_OPEN).await;
        slow.push(stream);
    }
    for _ in 0..5 {
        let mut stream = connect(&app).await;
        send(&mut stream, &get("/healthz")).await;
        assert_eq!(response(&mut stream).await.0, 200);
        slow.push(stream);
    }
    // A body that never ends: only the end of the grace closes it.
    let mut stalled = ticket_in_progress(&app).await;
    send(&mut stalled, &TICKET[..10]).await;
    slow.push(stalled);
    // A request in progress that finishes during the grace.
    let mut finishing = ticket_in_progress(&app).await;

    let started = Instant::now();
    let (stopped, (status, headers)) = tokio::join!(tokio::time::timeout(grace + PATIENCE, app.stop()), async {
        // After the shutdown began (or not: either way the request must finish).
        tokio::time::sleep(Duration::from_millis(300)).await;
        send(&mut finishing, TICKET).await;
        let (status, headers, _) = response(&mut finishing).await;
        (status, headers)
    });
    let took = started.elapsed();
    assert!(stopped.is_ok(), "stop() returned within the grace and a margin");
    println!("stop() with {} slow connections held returned after {took:?} (grace {grace:?})", slow.len());
    assert_eq!(status, 201, "the request in progress finished");
    assert!(headers.contains(&("connection".into(), "close".into())), "and its connection closes: {headers:?}");
    for stream in &mut slow {
        closed(stream).await;
    }
}
