//! `/metrics` as Prometheus reads it: counters that move as deliveries succeed and fail,
//! gauges that match the API's counts, and no label value that is an id.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Format, PROMETHEUS_ACCEPT, Scrape, get_text, parse};
use crate::support::{Db, PATIENCE, Receiver, Reply, TestApp, closed_port, wait_until};

/// A trigger notifying `webhook` of each ticket created with the subject `subject`.
async fn notify_on_subject(app: &TestApp, webhook: &str, subject: &str) {
    app.trigger(json!({
        "title": format!("On {subject}"),
        "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "create"},
            {"field": "subject", "operator": "is", "value": subject}
        ]},
        "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook}}]
    }))
    .await;
}

/// Scrapes in both formats, checks that both parsers read the same samples, and answers
/// the OpenMetrics one; `None` where the parser is not installed.
async fn scrape(app: &TestApp) -> Option<Scrape> {
    let (status, content_type, openmetrics) = get_text(&app.url("/metrics"), Some(PROMETHEUS_ACCEPT)).await;
    assert_eq!(status, StatusCode::OK, "{openmetrics}");
    assert_eq!(content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    let (status, content_type, text) = get_text(&app.url("/metrics"), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let strict = parse(&openmetrics, Format::OpenMetrics)?;
    let plain = parse(&text, Format::Prometheus)?;
    // The same counters, under the same types, whichever the format (the scrapes are a
    // moment apart: compare what does not move between them).
    for name in ["hookdesk_delivery_attempts_total", "hookdesk_updates_total", "hookdesk_invocations_given_up_total"] {
        let typed =
            |scrape: &Scrape| scrape.0.iter().filter(|s| s.name == name).map(|s| s.kind.clone()).collect::<Vec<_>>();
        assert!(typed(&plain).iter().all(|k| k == "counter"), "{name} is a counter in text 0.0.4: {:?}", typed(&plain));
        assert!(!typed(&plain).is_empty() && typed(&plain) == typed(&strict), "{name}");
        assert_eq!(plain.sum(name, &[]), strict.sum(name, &[]), "{name}");
    }
    Some(strict)
}

/// Waits until the API lists `n` invocations with `status`.
async fn wait_for_status(app: &TestApp, status: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let listed = app.invocations(&format!("status={status}&limit=500")).await.len();
        if listed == n {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{listed} invocations are {status}, not {n}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn metrics_count_deliveries_and_their_gauges_match_the_api(db: Db) {
    let ok = Receiver::start().await;
    let failing = Receiver::responding(|_| Reply::status(500)).await;
    let closed = closed_port().await;
    // Failed attempts wait an hour for their retry, and a rate limit's window is an hour:
    // what waits stays waiting while we look.
    let app = TestApp::spawn_with(db, |c| {
        c.retry = hookdesk_delivery::RetryPolicy::parse("1h").expect("schedule");
        c.gates.rate_window = Duration::from_secs(3600);
    })
    .await;
    let before = scrape(&app).await;

    let delivered = app.webhook(&ok.url("/ok"), json!({})).await;
    let retried = app.webhook(&failing.url("/retry"), json!({})).await;
    let given_up = app.webhook(&failing.url("/final"), json!({"max_retries": 0})).await;
    let unreachable = app.webhook(&format!("http://{closed}/down"), json!({})).await;
    // One request a minute: the first of its invocations goes, the others wait, pending.
    let limited = app.webhook(&ok.url("/limited"), json!({"rate_limit_per_minute": 1})).await;
    for (webhook, subject) in
        [(&delivered, "ok"), (&retried, "retry"), (&given_up, "final"), (&unreachable, "down"), (&limited, "limited")]
    {
        notify_on_subject(&app, webhook, subject).await;
    }
    let mut ticket_ids = vec![];
    for subject in ["ok", "ok", "retry", "final", "down", "limited", "limited", "limited"] {
        ticket_ids.push(app.ticket(json!({"subject": subject})).await["id"].clone());
    }
    wait_for_status(&app, "succeeded", 3).await;
    wait_for_status(&app, "failed", 1).await;
    wait_for_status(&app, "retrying", 2).await;
    wait_for_status(&app, "pending", 2).await;

    // The gauges read from the database serve scrapes for a while (`GAUGES_FRESH_FOR`):
    // wait until a scrape shows the counts the API lists now.
    wait_until("the gauges show two pending and two retrying", async || {
        let (_, _, text) = get_text(&app.url("/metrics"), None).await;
        ["pending", "retrying"].iter().all(|status| {
            let sample = format!("hookdesk_invocations{{status=\"{status}\"}} ");
            text.lines().filter_map(|l| l.strip_prefix(&sample)).any(|v| v.parse::<f64>() == Ok(2.0))
        })
    })
    .await;
    let Some(after) = scrape(&app).await else { return };
    let before = before.expect("parsed before, as after");
    let moved = |name: &str, labels: &[(&str, &str)]| after.value(name, labels) - before.value(name, labels);
    let attempts = "hookdesk_delivery_attempts_total";
    assert_eq!(moved(attempts, &[("outcome", "success")]), 3.0);
    assert_eq!(moved(attempts, &[("outcome", "http_error")]), 2.0);
    assert_eq!(moved(attempts, &[("outcome", "connection_error")]), 1.0);
    for outcome in ["timeout", "refused", "other"] {
        assert_eq!(moved(attempts, &[("outcome", outcome)]), 0.0, "{outcome}");
    }
    assert_eq!(moved("hookdesk_invocations_given_up_total", &[]), 1.0);
    assert_eq!(moved("hookdesk_delivery_attempt_duration_seconds_count", &[]), 6.0);
    assert_eq!(moved("hookdesk_delivery_lag_seconds_count", &[]), 6.0, "six first attempts");
    assert_eq!(moved("hookdesk_updates_total", &[]), 8.0);
    assert_eq!(moved("hookdesk_rules_fired_total", &[]), 8.0);
    assert!(
        after.value("hookdesk_http_requests_total", &[("route", "/api/v1/tickets"), ("status_class", "2xx")]) >= 8.0
    );

    // The gauges are the API's counts.
    for status in ["pending", "retrying"] {
        let listed = app.invocations(&format!("status={status}&limit=500")).await.len();
        assert_eq!(after.value("hookdesk_invocations", &[("status", status)]), listed as f64, "{status}");
    }
    let age = after.value("hookdesk_invocations_oldest_pending_age_seconds", &[]);
    assert!(age > 0.0 && age < 600.0, "the oldest pending invocation is {age} s old");
    assert_eq!(after.value("hookdesk_database_up", &[]), 1.0);
    assert_eq!(after.value("hookdesk_delivery_running", &[]), 1.0);
    assert_eq!(after.value("hookdesk_webhook_breakers_open", &[]), 0.0);

    // No label value is an id: not a webhook's, an invocation's or a ticket's, nor a path.
    let invocation_ids: Vec<String> =
        app.invocations("limit=500").await.iter().map(|i| i["id"].as_str().expect("id").to_owned()).collect();
    let ids: Vec<String> =
        [delivered, retried, given_up, unreachable, limited].into_iter().chain(invocation_ids).collect();
    let ticket_ids: Vec<String> = ticket_ids.iter().map(Value::to_string).collect();
    for sample in &after.0 {
        for (name, value) in &sample.labels {
            let holds_id = ids.iter().any(|id| value.contains(id.as_str())) || ticket_ids.contains(value);
            assert!(!holds_id, "{}{{{name}={value:?}}} holds an id", sample.name);
            let numeric_segment =
                value.split('/').any(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
            assert!(!numeric_segment || name == "le", "{}{{{name}={value:?}}} holds a path", sample.name);
        }
    }
}

async fn inbound_calls_are_counted_by_class_and_rate_limited_ones_apart(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, webhook) =
        app.post("/api/v1/inbound_webhooks", json!({"name": "Counted", "rate_limit_per_minute": 1})).await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    let full = webhook["url"].as_str().expect("url");
    let url = app.url(&full[full.find("/hooks/").expect("a /hooks/ URL")..]);
    let before = scrape(&app).await;
    let client = reqwest::Client::new();
    let mut statuses = vec![];
    for target in [url.as_str(), url.as_str(), &app.url("/hooks/no-such-token")] {
        statuses.push(client.post(target).body("{}").send().await.expect("answers").status().as_u16());
    }
    assert_eq!(statuses, [202, 429, 404]);
    let Some(after) = scrape(&app).await else { return };
    let before = before.expect("parsed before, as after");
    let moved = |name: &str, labels: &[(&str, &str)]| after.value(name, labels) - before.value(name, labels);
    assert_eq!(moved("hookdesk_inbound_calls_total", &[("status_class", "2xx")]), 1.0);
    assert_eq!(moved("hookdesk_inbound_calls_total", &[("status_class", "4xx")]), 2.0);
    assert_eq!(moved("hookdesk_inbound_rate_limited_total", &[]), 1.0);
    // The route template, never the token.
    let token = full.rsplit('/').next().expect("a token");
    assert!(after.0.iter().all(|s| s.labels.values().all(|v| !v.contains(token))));
    assert!(
        after.find("hookdesk_http_requests_total", &[("route", "/hooks/{token}"), ("status_class", "4xx")]).is_some()
    );
}

/// The outcomes and gauges a healthy run leaves at 0, moved: a timeout (a receiver that
/// hangs past the request timeout), a refusal (the SSRF guard: `refused` is the guard's
/// class; a closed port is a `connection_error`, counted above), an open breaker and
/// failing webhooks, each at its exact count, read by Prometheus' parsers and matching the
/// API.
async fn metrics_count_timeouts_refusals_open_breakers_and_failing_webhooks(db: Db) {
    let sick = Receiver::responding(|_| Reply::status(503)).await;
    let hanging = Receiver::responding(|_| Reply::status(200).after(Duration::from_secs(60))).await;
    let timeout = Duration::from_secs(2);
    let app = TestApp::spawn_with(db, |c| {
        c.request_timeout = timeout;
        // Retries come 320-480 ms after a failure (the schedule's jitter is 20%), so a
        // webhook failing twice has failed for longer than `failing_after`; one failure alone
        // is never "failing".
        c.retry = hookdesk_delivery::RetryPolicy::parse("400ms").expect("schedule");
        c.gates.failing_after = Duration::from_millis(200);
        // Three failed requests open a breaker, which then stays open while we look.
        c.gates.breaker.min_requests = 3;
        c.gates.breaker.pause = Duration::from_secs(3600);
        c.gates.breaker.max_pause = Duration::from_secs(3600);
    })
    .await;
    let before = scrape(&app).await;

    // Three failures: failing, and its breaker opens.
    let broken = app.webhook(&sick.url("/broken"), json!({"max_retries": 2})).await;
    // Two failures: failing, its breaker still closed (two requests are under the minimum).
    let flaky = app.webhook(&sick.url("/flaky"), json!({"max_retries": 1})).await;
    // One timeout, one refusal: neither is failing after a single failure.
    let slow = app.webhook(&hanging.url("/hang"), json!({"max_retries": 0})).await;
    let guarded = app.webhook("http://169.254.169.254/latest/meta-data", json!({})).await;
    for (webhook, subject) in [(&broken, "broken"), (&flaky, "flaky"), (&slow, "slow"), (&guarded, "guarded")] {
        notify_on_subject(&app, webhook, subject).await;
        app.ticket(json!({"subject": subject})).await;
    }
    let log = app.all_settled().await;
    assert_eq!(log.len(), 4, "{log:#?}");
    assert!(log.iter().all(|i| i["status"] == "failed"), "{log:#?}");
    let code = |webhook: &str| {
        let invocation = log.iter().find(|i| i["webhook_id"] == webhook).expect("its invocation");
        let attempts = invocation["attempts"].as_array().expect("attempts");
        (attempts.len(), attempts.last().expect("an attempt")["error"]["code"].clone())
    };
    assert_eq!(code(&broken), (3, json!("http_status")));
    assert_eq!(code(&flaky), (2, json!("http_status")));
    assert_eq!(code(&slow), (1, json!("timeout")));
    assert_eq!(code(&guarded), (1, json!("ssrf_refused")));

    // The API shows each webhook's health as soon as it is saved; the gauges, read from the
    // database, serve scrapes for a while (`GAUGES_FRESH_FOR`): wait for both.
    wait_until("the API shows one breaker open and two webhooks failing", async || {
        let mut health = Vec::new();
        for webhook in [&broken, &flaky, &slow, &guarded] {
            let (status, body) = app.get(&format!("/api/v1/webhooks/{webhook}")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            health.push((body["health"]["breaker"].clone(), body["health"]["failing"].clone()));
        }
        let expected = [("open", true), ("closed", true), ("closed", false), ("closed", false)];
        health.iter().zip(expected).all(|((breaker, failing), (b, f))| *breaker == b && *failing == f)
    })
    .await;
    wait_until("a scrape shows the API's health: one breaker open, two webhooks failing", async || {
        let (_, _, text) = get_text(&app.url("/metrics"), None).await;
        let gauge =
            |name: &str| text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok());
        gauge("hookdesk_webhook_breakers_open") == Some(1.0) && gauge("hookdesk_webhooks_failing") == Some(2.0)
    })
    .await;
    let Some(after) = scrape(&app).await else { return };
    let before = before.expect("parsed before, as after");
    assert_eq!(after.value("hookdesk_webhook_breakers_open", &[]), 1.0);
    assert_eq!(after.value("hookdesk_webhooks_failing", &[]), 2.0);
    let moved = |name: &str, labels: &[(&str, &str)]| after.value(name, labels) - before.value(name, labels);
    let attempts = "hookdesk_delivery_attempts_total";
    for (outcome, count) in [
        ("http_error", 5.0),
        ("timeout", 1.0),
        ("refused", 1.0),
        ("success", 0.0),
        ("connection_error", 0.0),
        ("other", 0.0),
    ] {
        assert_eq!(moved(attempts, &[("outcome", outcome)]), count, "{outcome}");
    }
    assert_eq!(moved("hookdesk_invocations_given_up_total", &[]), 4.0);
    // The timed-out attempt lasted about the request timeout: between the histogram's bounds
    // around it, 1.28 s and 2.56 s (0.64 and 1.28 times it), where no other attempt is.
    let bucket = |scrape: &Scrape, bound: f64| {
        let le = |s: &super::Sample| s.labels.get("le").and_then(|le| le.parse::<f64>().ok());
        (scrape.0.iter())
            .filter(|s| s.name == "hookdesk_delivery_attempt_duration_seconds_bucket")
            .find(|s| le(s).is_some_and(|le| (le - bound).abs() < 1e-9))
            .and_then(|s| s.value)
            .unwrap_or_else(|| panic!("no bucket of {bound} s"))
    };
    let between = |low: f64, high: f64| {
        (bucket(&after, high) - bucket(&after, low)) - (bucket(&before, high) - bucket(&before, low))
    };
    assert_eq!(between(1.28, 2.56), 1.0, "one attempt took about the {timeout:?} timeout");
}

crate::on_both_backends!(
    metrics_count_deliveries_and_their_gauges_match_the_api,
    inbound_calls_are_counted_by_class_and_rate_limited_ones_apart,
    metrics_count_timeouts_refusals_open_breakers_and_failing_webhooks,
);

/// With `--metrics-listen ADDR`, `/metrics` and the probes are there and not on the main
/// listener; with `off`, nowhere.
#[tokio::test]
async fn metrics_listen_moves_the_metrics_to_their_own_address_or_turns_them_off() {
    let at = closed_port().await;
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.metrics = hookdesk::config::MetricsListen::At(at)).await;
    let (status, _, _) = get_text(&app.url("/metrics"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not on the main listener");
    let (status, _, text) = get_text(&format!("http://{at}/metrics"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("hookdesk_updates_total"), "{text}");
    for probe in ["/readyz", "/healthz"] {
        let (status, _, body) = get_text(&format!("http://{at}{probe}"), None).await;
        assert_eq!(status, StatusCode::OK, "{probe}: {body}");
    }
    let (status, _, _) = get_text(&format!("http://{at}/api/v1/tickets"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the operations address serves no API");

    let off = TestApp::spawn_with(Db::Sqlite, |c| c.metrics = hookdesk::config::MetricsListen::Off).await;
    let (status, _, _) = get_text(&off.url("/metrics"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The Grafana dashboard in `docs/grafana/` queries only metrics that `/metrics` has.
#[tokio::test]
async fn every_metric_the_grafana_dashboard_queries_exists() {
    let app = TestApp::spawn(Db::Sqlite).await;
    app.ticket(json!({"subject": "Counted"})).await;
    let (_, _, text) = get_text(&app.url("/metrics"), None).await;
    let exposed: std::collections::BTreeSet<&str> =
        text.lines().filter(|line| !line.starts_with('#')).filter_map(|line| line.split(['{', ' ']).next()).collect();
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/grafana/hookdesk.json"))
            .expect("the dashboard"),
    )
    .expect("the dashboard is JSON");
    let mut queried = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("an expression");
            let mut rest = expr;
            while let Some(at) = rest.find("hookdesk_") {
                let name: String = rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                rest = &rest[at + name.len()..];
                queried.insert(name);
            }
        }
    }
    assert!(queried.len() >= 12, "the dashboard queries {queried:?}");
    let missing: Vec<_> = queried.iter().filter(|name| !exposed.contains(name.as_str())).collect();
    assert!(missing.is_empty(), "the dashboard queries metrics /metrics does not have: {missing:?}\n{text}");
}
