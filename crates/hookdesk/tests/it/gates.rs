//! What may be sent when: per-ticket ordering, the circuit breaker, rate limits, Retry-After,
//! timeouts, isolation between endpoints, graceful shutdown and bulk replay.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use hookdesk_delivery::RetryPolicy;
use serde_json::{Value, json};

use crate::support::{Db, Receiver, Reply, TestApp, refusal, wait_until};

/// The `subject` a payload `{"subject": ...}` carried.
fn subject(body: &str) -> String {
    serde_json::from_str::<Value>(body).ok().and_then(|v| v["subject"].as_str().map(str::to_owned)).unwrap_or_default()
}

const SUBJECT_PAYLOAD: &str = r#"{"subject": {{ ticket.subject | json }}}"#;

/// Triggers that notify `webhook` on every create and every change.
async fn notify_on_every_update(app: &TestApp, webhook: &str) {
    for update_type in ["create", "change"] {
        app.trigger(json!({
            "title": format!("On {update_type}"),
            "conditions": {"all": [{"field": "update_type", "operator": "is", "value": update_type}]},
            "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook, "payload": SUBJECT_PAYLOAD}}]
        }))
        .await;
    }
}

async fn all_succeeded(app: &TestApp, expected: usize) -> bool {
    let invocations = app.invocations("limit=500").await;
    invocations.len() == expected && invocations.iter().all(|i| i["status"] == "succeeded")
}

async fn per_ticket_ordering_holds_back_only_the_later_invocations_of_the_retrying_ticket(db: Db) {
    // The first request for "A1" fails twice; everything else succeeds at once.
    let a1_failures = AtomicUsize::new(0);
    let receiver = Receiver::responding(move |request| {
        if subject(&request.body) == "A1" && a1_failures.fetch_add(1, Ordering::SeqCst) < 2 {
            return Reply::status(503);
        }
        Reply::status(200)
    })
    .await;
    let app = TestApp::spawn_with(db, |c| c.retry = RetryPolicy::parse("1s").expect("schedule")).await;
    let webhook = app.webhook(&receiver.url("/ordered"), json!({"ordering": "per_ticket"})).await;
    notify_on_every_update(&app, &webhook).await;

    let a = app.ticket(json!({"subject": "A1"})).await["id"].as_i64().expect("id");
    let b = app.ticket(json!({"subject": "B1"})).await["id"].as_i64().expect("id");
    for n in 2..=3 {
        for (id, name) in [(a, "A"), (b, "B")] {
            let (status, body) =
                app.patch(&format!("/api/v1/tickets/{id}"), json!({"subject": format!("{name}{n}")})).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    let received = receiver.wait_for(8).await;
    let subjects: Vec<String> = received.iter().map(|r| subject(&r.body)).collect();
    let of = |prefix: &str| subjects.iter().filter(|s| s.starts_with(prefix)).cloned().collect::<Vec<_>>();
    assert_eq!(
        of("A"),
        ["A1", "A1", "A1", "A2", "A3"],
        "A's invocations arrive in queue order, A1 retried: {subjects:?}"
    );
    assert_eq!(of("B"), ["B1", "B2", "B3"], "{subjects:?}");
    let position = |s: &str| subjects.iter().rposition(|x| x == s).expect("received");
    assert!(
        position("B3") < position("A1"),
        "B is not held back by A's retries: all of B arrived before A1 finally succeeded: {subjects:?}"
    );
    wait_until("all six are recorded as succeeded", async || all_succeeded(&app, 6).await).await;
}

async fn the_breaker_opens_on_a_failing_receiver_holds_its_queue_and_closes_when_it_recovers(db: Db) {
    let up = Arc::new(AtomicBool::new(false));
    let receiver = {
        let up = up.clone();
        Receiver::responding(move |_| Reply::status(if up.load(Ordering::SeqCst) { 200 } else { 503 })).await
    };
    let pause = Duration::from_millis(1500);
    let app = TestApp::spawn_with(db, |c| {
        c.retry = RetryPolicy::parse("100ms").expect("schedule");
        // One request at a time: the fifth failure opens the breaker, and the sixth request
        // is its probe.
        c.gates.max_in_flight_per_webhook = 1;
        c.gates.breaker.min_requests = 5;
        c.gates.breaker.window = Duration::from_secs(30);
        c.gates.breaker.pause = pause;
        c.gates.breaker.max_pause = pause;
    })
    .await;
    let webhook = app.webhook(&receiver.url("/sick"), json!({"max_retries": 10})).await;
    app.notify_on_create(&webhook, json!({"payload": SUBJECT_PAYLOAD})).await;
    for n in 0..20 {
        app.ticket(json!({"subject": format!("T{n}")})).await;
    }

    let mut health = Value::Null;
    wait_until("the breaker opens", async || {
        health = app.get(&format!("/api/v1/webhooks/{webhook}")).await.1["health"].clone();
        health["breaker"] == "open"
    })
    .await;
    assert!(health["breaker_until"].is_string(), "{health}");
    assert!(health["last_failure_at"].is_string(), "{health}");
    // Nothing goes out until the pause is over: the fifth request arrived before its failure
    // opened the breaker, and the sixth, the probe, may only leave a whole pause after that.
    // A late probe only widens the gap; anything sent while the breaker was open narrows it.
    let received = receiver.wait_for(6).await;
    let gap = received[5].at - received[4].at;
    assert!(gap >= pause, "a request went {gap:?} after the failure that opened the breaker for {pause:?}");
    let invocations = app.invocations("limit=500").await;
    assert!(
        invocations.iter().all(|i| i["status"] == "pending" || i["status"] == "retrying"),
        "none failed or dropped"
    );

    up.store(true, Ordering::SeqCst);
    wait_until("every queued invocation arrives", async || all_succeeded(&app, 20).await).await;
    let health = app.get(&format!("/api/v1/webhooks/{webhook}")).await.1["health"].clone();
    assert_eq!(health["breaker"], "closed", "{health}");
    assert_eq!(health["failing"], false, "{health}");
}

async fn retry_after_is_honoured_in_both_forms_and_a_timeout_is_retried(db: Db) {
    // Each path's first request misbehaves; the retry succeeds.
    let seen = std::sync::Mutex::new(std::collections::HashSet::new());
    let receiver = Receiver::responding(move |request| {
        let first = seen.lock().expect("lock").insert(request.path.clone());
        match request.path.as_str() {
            "/seconds" if first => Reply::status(429).header("retry-after", "2"),
            "/date" if first => {
                let at = std::time::SystemTime::now() + Duration::from_secs(3);
                Reply::status(503).header("retry-after", httpdate(at))
            }
            "/slow" if first => Reply::status(200).after(Duration::from_secs(5)),
            _ => Reply::status(200),
        }
    })
    .await;
    let timeout = Duration::from_secs(1);
    for (path, at_least) in [("/seconds", 1900), ("/date", 1900), ("/slow", 0)] {
        let app = TestApp::spawn_with(db, |c| {
            c.retry = RetryPolicy::parse("50ms").expect("schedule");
            // Only /slow needs a timeout shorter than its 5 s answer; the others keep the
            // default, so that a loaded machine cannot turn their retry into a timeout.
            if path == "/slow" {
                c.request_timeout = timeout;
            }
        })
        .await;
        let webhook = app.webhook(&receiver.url(path), json!({})).await;
        app.notify_on_create(&webhook, json!({})).await;
        app.ticket(json!({"subject": path})).await;
        let id = app.invocations("").await[0]["id"].as_str().expect("id").to_owned();
        let invocation = app.settled(&id).await;
        assert_eq!(invocation["status"], "succeeded", "{invocation:#}");
        let attempts = invocation["attempts"].as_array().expect("attempts");
        let started = |n: usize| {
            hookdesk_core::Timestamp::parse_rfc3339(attempts[n]["started_at"].as_str().expect("time"))
                .expect("RFC 3339")
                .as_millis()
        };
        let gap = started(1) - started(0);
        assert!(gap >= at_least, "{path}: the retry waited {gap} ms, Retry-After asked for more");
        if path == "/slow" {
            // The first attempt timed out and was retried until one answered in time (on a
            // loaded machine, even an immediate answer may miss 1 s: then it is retried too).
            let (last, before) = attempts.split_last().expect("attempts");
            assert!(!before.is_empty(), "{invocation:#}");
            assert!(before.iter().all(|a| a["error"]["code"] == "timeout"), "{invocation:#}");
            assert_eq!(last["error"], Value::Null, "{invocation:#}");
            // It took the timeout: never less (a timer does not fire early), at most 3x of
            // late wake-up on a loaded machine, and nowhere near the 5 s answer.
            let took = attempts[0]["duration_ms"].as_f64().expect("a duration") / 1000.0;
            let ratio = took / timeout.as_secs_f64();
            assert!((0.8..=3.0).contains(&ratio), "the timed-out attempt took {took} s, {ratio:.2} x {timeout:?}");
        } else {
            assert_eq!(attempts.len(), 2, "{invocation:#}");
        }
    }
}

/// An HTTP-date (RFC 9110 IMF-fixdate).
fn httpdate(at: std::time::SystemTime) -> String {
    let secs = at.duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs();
    let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).expect("fits")).expect("valid");
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    at.format(&format).expect("formats")
}

async fn a_rate_limited_webhook_gets_no_more_than_its_limit_per_window_and_still_everything(db: Db) {
    let receiver = Receiver::start().await;
    let window = Duration::from_millis(1000);
    let limit = 5;
    let app = TestApp::spawn_with(db, |c| c.gates.rate_window = window).await;
    let webhook = app.webhook(&receiver.url("/limited"), json!({"rate_limit_per_minute": limit})).await;
    app.notify_on_create(&webhook, json!({})).await;
    let queued_from = Instant::now();
    for n in 0..12 {
        app.ticket(json!({"subject": format!("R{n}")})).await;
    }
    let received = receiver.wait_for(12).await;
    assert_eq!(received.len(), 12);
    // The limit spaces requests evenly, one every window/limit, so that no window holds more
    // than five: the request numbered k (from 0) cannot arrive sooner than k spacings after
    // the first could be sent. A late request only arrives later; too many too soon (no limit,
    // a burst, a higher limit) arrive before their time.
    let spacing = window / limit;
    for (k, request) in (0u32..).zip(&received) {
        let after = request.at - queued_from;
        assert!(
            after >= spacing * k,
            "request {k} arrived {after:?} after the first was queued: over {limit} per {window:?}"
        );
    }
    wait_until("all are recorded as succeeded", async || all_succeeded(&app, 12).await).await;
}

async fn one_hanging_endpoint_does_not_slow_the_others(db: Db) {
    let hanging = Receiver::responding(|_| Reply::status(200).after(Duration::from_secs(60))).await;
    let fast = Receiver::start().await;
    let app = TestApp::spawn_with(db, |c| {
        c.concurrency = 8;
        c.gates.max_in_flight_per_webhook = 4;
        // Longer than the test's patience: only isolation lets the fast endpoint through.
        c.request_timeout = Duration::from_secs(30);
    })
    .await;
    let slow_hook = app.webhook(&hanging.url("/hang"), json!({"max_retries": 0})).await;
    let fast_hook = app.webhook(&fast.url("/fast"), json!({})).await;
    app.trigger(json!({
        "title": "Both",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
        "actions": [
            {"field": "notify_webhook", "value": {"webhook_id": slow_hook}},
            {"field": "notify_webhook", "value": {"webhook_id": fast_hook}}
        ]
    }))
    .await;
    for n in 0..40 {
        app.ticket(json!({"subject": format!("I{n}")})).await;
    }
    fast.wait_for(40).await;
    // 40 invocations wait for the hanging endpoint: it fills its cap.
    hanging.wait_for(4).await;
    let hung = hanging.received().len();
    // Read after `hung`: no hanging request had ended (failing its invocation), so none
    // freed a slot for a fifth.
    let ended = app.invocations(&format!("webhook_id={slow_hook}&status=failed")).await;
    assert!(ended.is_empty(), "the fast endpoint got all 40 before any hanging request ended: {ended:#?}");
    assert_eq!(hung, 4, "exactly the per-webhook cap hangs at once");
}

async fn shutdown_gives_back_what_is_still_in_flight_and_a_restart_sends_it(db: Db) {
    let slow = Arc::new(AtomicBool::new(true));
    let receiver = {
        let slow = slow.clone();
        Receiver::responding(move |_| {
            Reply::status(200).after(if slow.load(Ordering::SeqCst) { Duration::from_secs(20) } else { Duration::ZERO })
        })
        .await
    };
    let mut app = TestApp::spawn_with(db, |c| {
        c.shutdown_grace = Duration::from_millis(300);
        c.request_timeout = Duration::from_secs(30);
    })
    .await;
    let webhook = app.webhook(&receiver.url("/slow"), json!({})).await;
    app.notify_on_create(&webhook, json!({"payload": SUBJECT_PAYLOAD})).await;
    for n in 0..3 {
        app.ticket(json!({"subject": format!("S{n}")})).await;
    }
    receiver.wait_for(3).await;
    let stopping = Instant::now();
    app.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(5), "stopped within the grace period, not the request's 20 s");

    slow.store(false, Ordering::SeqCst);
    app.start_again().await;
    wait_until("the given-back invocations are sent again", async || all_succeeded(&app, 3).await).await;
    for invocation in app.invocations("").await {
        assert_eq!(invocation["attempts"].as_array().expect("attempts").len(), 1, "the cut attempt does not count");
    }
    let subjects: Vec<String> = receiver.received().iter().map(|r| subject(&r.body)).collect();
    assert_eq!(subjects.len(), 6, "each sent twice: at least once, duplicates allowed: {subjects:?}");
}

async fn bulk_replay_queues_each_failed_invocation_of_a_range_once(db: Db) {
    let fail = Arc::new(AtomicBool::new(true));
    let receiver = {
        let fail = fail.clone();
        Receiver::responding(move |_| Reply::status(if fail.load(Ordering::SeqCst) { 400 } else { 200 })).await
    };
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/replay"), json!({})).await;
    app.notify_on_create(&webhook, json!({})).await;
    for n in 0..3 {
        app.ticket(json!({"subject": format!("F{n}")})).await;
    }
    wait_until("all failed", async || {
        let invocations = app.invocations("").await;
        invocations.len() == 3 && invocations.iter().all(|i| i["status"] == "failed")
    })
    .await;
    fail.store(false, Ordering::SeqCst);

    let path = format!("/api/v1/webhooks/{webhook}/replay");
    let (status, body) = app.post(&path, json!({"since": "2030-01-01T00:00:00Z"})).await;
    assert_eq!((status, body), (StatusCode::ACCEPTED, json!({"queued": 0, "more": false})), "none in a future range");
    let (status, body) = app.post(&path, json!({"limit": 2})).await;
    assert_eq!((status, body), (StatusCode::ACCEPTED, json!({"queued": 2, "more": true})));
    let (status, body) = app.post(&path, json!({})).await;
    assert_eq!((status, body), (StatusCode::ACCEPTED, json!({"queued": 1, "more": false})), "each failed one once");
    wait_until("the replays succeed", async || {
        let invocations = app.invocations("status=succeeded").await;
        invocations.len() == 3 && invocations.iter().all(|i| i["replay_of"].is_string())
    })
    .await;

    for (body, field) in
        [(json!({"since": "yesterday"}), "since"), (json!({"limit": 0}), "limit"), (json!({"limit": 10_001}), "limit")]
    {
        let (status, error) = app.post(&path, body).await;
        assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
        assert_eq!(error["error"]["details"][0]["field"], field, "{error}");
    }
    let (status, error) = app.post(&path, json!({"unknown": 1})).await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    let (status, error) = app.post("/api/v1/webhooks/wh_missing/replay", json!({})).await;
    assert_eq!(refusal(status, &error), (404, "not_found".into()), "{error}");
}

/// A webhook none of whose requests succeeds for `--failing-after` is marked failing, and the
/// webhooks subscribed to `webhook.failing` / `webhook.recovered` hear of it both ways.
async fn failing_and_recovery_are_sent_to_subscribed_webhooks(db: Db) {
    let fail = Arc::new(AtomicBool::new(true));
    let target = {
        let fail = fail.clone();
        Receiver::responding(move |_| Reply::status(if fail.load(Ordering::SeqCst) { 400 } else { 200 })).await
    };
    let watcher = Receiver::start().await;
    let failing_after = Duration::from_millis(300);
    let app = TestApp::spawn_with(db, |c| c.gates.failing_after = failing_after).await;
    let webhook = app.webhook(&target.url("/flaky"), json!({"max_retries": 0})).await;
    app.notify_on_create(&webhook, json!({})).await;
    app.webhook(&watcher.url("/ops"), json!({"subscriptions": ["webhook.failing", "webhook.recovered"]})).await;

    // One failed request after another until the webhook is marked failing (when they have
    // failed for --failing-after), then one that succeeds.
    let mut sent = 0;
    let mut send = async || {
        app.ticket(json!({"subject": format!("attempt {sent}")})).await;
        sent += 1;
        let id = app.invocations(&format!("webhook_id={webhook}")).await[0]["id"].as_str().expect("id").to_owned();
        app.settled(&id).await
    };
    wait_until("the webhook is marked failing", async || {
        assert_eq!(send().await["status"], "failed");
        app.get(&format!("/api/v1/webhooks/{webhook}")).await.1["health"]["failing"] == true
    })
    .await;
    fail.store(false, Ordering::SeqCst);
    assert_eq!(send().await["status"], "succeeded");
    let events = watcher.wait_for(2).await;
    let parsed: Vec<Value> = events.iter().map(|e| serde_json::from_str(&e.body).expect("a CloudEvent")).collect();
    assert_eq!(parsed[0]["type"], "webhook.failing", "{parsed:#?}");
    assert_eq!(parsed[0]["subject"], format!("webhooks/{webhook}"));
    let health = &parsed[0]["data"]["current"]["health"];
    assert_eq!(health["failing"], true);
    // Marked by a failure --failing-after or more since the first one, not sooner.
    let at = |field: &str| {
        hookdesk_core::Timestamp::parse_rfc3339(health[field].as_str().expect("a time")).expect("RFC 3339").as_millis()
    };
    let failing_for = at("last_failure_at") - at("failing_since");
    assert!(
        u128::try_from(failing_for).is_ok_and(|ms| ms >= failing_after.as_millis()),
        "marked failing after {failing_for} ms of failures: {health}"
    );
    assert_eq!(parsed[1]["type"], "webhook.recovered");
    assert_eq!(parsed[1]["data"]["current"]["health"]["failing"], false);
    let (_, view) = app.get(&format!("/api/v1/webhooks/{webhook}")).await;
    assert_eq!(view["health"]["failing"], false, "{view:#}");
}

crate::on_both_backends!(
    failing_and_recovery_are_sent_to_subscribed_webhooks,
    per_ticket_ordering_holds_back_only_the_later_invocations_of_the_retrying_ticket,
    the_breaker_opens_on_a_failing_receiver_holds_its_queue_and_closes_when_it_recovers,
    retry_after_is_honoured_in_both_forms_and_a_timeout_is_retried,
    a_rate_limited_webhook_gets_no_more_than_its_limit_per_window_and_still_everything,
    one_hanging_endpoint_does_not_slow_the_others,
    shutdown_gives_back_what_is_still_in_flight_and_a_restart_sends_it,
    bulk_replay_queues_each_failed_invocation_of_a_range_once,
);
