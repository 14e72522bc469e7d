//! Documented promises that had no test of their own: `--max-requests-per-second` caps all
//! webhooks together, a final failure releases the next invocation of a per-ticket ordered
//! webhook, and automations run by themselves every `--automation-interval`.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use clap::Parser;
use hookdesk_core::Timestamp;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Db, Receiver, Reply, TestApp};

/// `hookdesk serve FLAGS` as the binary reads its command line, into the server's config.
fn serve_config(flags: &[&str]) -> hookdesk::config::ServeConfig {
    let cli = hookdesk::cli::Cli::try_parse_from(["hookdesk", "serve"].iter().chain(flags)).expect("the flags parse");
    let hookdesk::cli::Command::Serve(args) = cli.command else { panic!("not serve") };
    hookdesk::config::ServeConfig::from_args(*args, None).expect("a valid configuration")
}

/// A trigger notifying `webhook` of every update of type `update_type`, with the ticket's
/// subject as the payload.
async fn notify_on(app: &TestApp, update_type: &str, webhook: &str) {
    app.trigger(json!({
        "title": format!("On {update_type}"),
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": update_type}]},
        "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook, "payload": "{{ ticket.subject | json }}"}}]
    }))
    .await;
}

fn millis(at: &Value) -> i64 {
    Timestamp::parse_rfc3339(at.as_str().expect("a time")).expect("RFC 3339").as_millis()
}

async fn the_request_ceiling_holds_for_all_webhooks_together_and_everything_arrives(db: Db) {
    const CEILING: u32 = 5;
    const EACH: u32 = 8;
    let ceiling = serve_config(&["--max-requests-per-second", &CEILING.to_string()]).gates.global_per_second;
    assert_eq!(ceiling, NonZeroU32::new(CEILING));
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(db, |c| c.gates.global_per_second = ceiling).await;
    let first = app.webhook(&receiver.url("/first"), json!({})).await;
    let second = app.webhook(&receiver.url("/second"), json!({})).await;
    // One update queues them all at once, so that without the ceiling they would all be
    // due together, however slowly this machine creates tickets.
    let actions: Vec<Value> = (0..EACH)
        .flat_map(|n| [&first, &second].map(|webhook| (n, webhook)))
        .map(|(n, webhook)| json!({"field": "notify_webhook", "value": {"webhook_id": webhook, "payload": format!("{{\"n\": {n}}}")}}))
        .collect();
    app.trigger(json!({
        "title": "Many at once",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
        "actions": actions
    }))
    .await;
    let queued_from = Instant::now();
    app.ticket(json!({"subject": "Sixteen requests"})).await;
    let count = 2 * EACH;
    let mut received = receiver.wait_for(count as usize).await;
    received.sort_by_key(|r| r.at);

    // The ceiling is a token bucket of CEILING a second that starts full (governor's
    // `Quota::per_second`: the burst is the ceiling): CEILING requests may go at once, then
    // one every 1/CEILING s, whichever webhook they are for. So the request numbered k (from
    // 0) cannot arrive sooner than (k + 1 - CEILING) spacings after the update that queued
    // them was sent. A late request only arrives later; a missing ceiling, one per webhook or
    // a higher one lets requests arrive before their time.
    let spacing = Duration::from_secs(1) / CEILING;
    for (k, request) in (0u32..).zip(&received) {
        let earliest = spacing * (k + 1).saturating_sub(CEILING);
        let after = request.at - queued_from;
        assert!(
            after >= earliest,
            "request {k} arrived {after:?} after the update, sooner than {earliest:?}: over {CEILING} a second to \
             both webhooks together"
        );
    }
    // And the ceiling is not lower than set: the last one arrives within 2.5 times its
    // earliest time (a loaded machine only adds a little to each spacing).
    let earliest_last = spacing * (count - CEILING);
    let last = received.last().expect("received").at - queued_from;
    let ratio = last.as_secs_f64() / earliest_last.as_secs_f64();
    assert!(ratio < 2.5, "the last request arrived {last:?} after the update, {ratio:.2} times {earliest_last:?}");

    // Every invocation arrived, once; none was dropped for being over the ceiling.
    let ids: HashSet<&str> = received.iter().filter_map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), count as usize, "each invocation once");
    for path in ["/first", "/second"] {
        assert_eq!(received.iter().filter(|r| r.path == path).count(), EACH as usize, "{path}");
    }
    let log = app.all_settled().await;
    assert_eq!(log.len(), count as usize);
    assert!(log.iter().all(|i| i["status"] == "succeeded"), "{log:#?}");
}

async fn a_final_failure_releases_the_next_invocation_of_its_ticket(db: Db) {
    // The first invocation's answer is a final 400 (retries are allowed, but not for a 400),
    // given after a while: were the second not held back until the first settled, it would
    // arrive while the first is in flight.
    let answer_after = Duration::from_millis(300);
    let receiver = Receiver::responding(move |request| match request.body.as_str() {
        "\"first\"" => Reply::status(400).after(answer_after),
        _ => Reply::status(200),
    })
    .await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/ordered"), json!({"ordering": "per_ticket", "max_retries": 3})).await;
    notify_on(&app, "create", &webhook).await;
    notify_on(&app, "change", &webhook).await;
    let ticket = app.ticket(json!({"subject": "first"})).await;
    let (status, body) = app.patch(&format!("/api/v1/tickets/{}", ticket["id"]), json!({"subject": "second"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Released: the second settles (held back for good, it would never be sent). The log
    // lists the newest first.
    let queued = app.invocations(&format!("ticket_id={}", ticket["id"])).await;
    let id = |n: usize| queued[n]["id"].as_str().expect("id").to_owned();
    let first = app.settled(&id(1)).await;
    let second = app.settled(&id(0)).await;
    assert_eq!(first["attempts"][0]["request"]["body"], "\"first\"", "{first:#}");
    assert_eq!(first["status"], "failed", "{first:#}");
    let attempts = first["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "a 400 is final: {first:#}");
    assert_eq!(
        (attempts[0]["error"]["code"].as_str(), attempts[0]["response"]["status"].as_u64()),
        (Some("http_status"), Some(400))
    );
    assert_eq!(second["status"], "succeeded", "{second:#}");

    // Not before the first settled: its one attempt started after the first was completed,
    // and reached the receiver after the first's answer left it.
    let (completed, sent) = (millis(&first["completed_at"]), millis(&second["attempts"][0]["started_at"]));
    assert!(sent >= completed, "the second was sent {} ms before the first failed", completed - sent);
    let received = receiver.received();
    let bodies: Vec<&str> = received.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies, ["\"first\"", "\"second\""]);
    let gap = received[1].at - received[0].at;
    assert!(gap >= answer_after, "the second arrived {gap:?} after the first, whose answer took {answer_after:?}");
}

async fn automations_run_by_themselves_every_interval(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(db, |c| c.automation_interval = Duration::from_millis(200)).await;
    let webhook = app.webhook(&receiver.url("/stale"), json!({})).await;
    let (status, automation) = app
        .post("/api/v1/automations", json!({"title": "Solve stale pending",
            "conditions": {"all": [
                {"field": "hours_since_created", "operator": "greater_than", "value": 48},
                {"field": "status", "operator": "is", "value": "pending"}]},
            "actions": [
                {"field": "status", "value": "solved"},
                {"field": "notify_webhook", "value": {"webhook_id": webhook, "payload": "{\"solved\": {{ ticket.id }}}"}}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{automation}");

    // No one asks for a run (`POST /automations/run`): each ticket's 49th hour on the
    // adjustable clock is enough, run after run.
    for (n, subject) in ["First", "Second"].into_iter().enumerate() {
        let ticket = app.ticket(json!({"subject": subject, "status": "pending"})).await;
        app.config.clock.advance(Duration::from_secs(49 * 3600));
        let received = receiver.wait_for(n + 1).await;
        assert_eq!(received[n].body, format!("{{\"solved\": {}}}", ticket["id"]), "{subject}");
        let (_, solved) = app.get(&format!("/api/v1/tickets/{}", ticket["id"])).await;
        assert_eq!(solved["status"], "solved", "{solved:#}");
        let invocations = app.invocations(&format!("ticket_id={}", ticket["id"])).await;
        assert_eq!(invocations.len(), 1, "{invocations:#?}");
        assert_eq!(invocations[0]["automation_id"], automation["id"]);
    }
    // Each ticket was notified once: the run that solved the second saw the first solved.
    let log = app.all_settled().await;
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(receiver.received().len(), 2);
}

on_both_backends!(
    the_request_ceiling_holds_for_all_webhooks_together_and_everything_arrives,
    a_final_failure_releases_the_next_invocation_of_its_ticket,
    automations_run_by_themselves_every_interval,
);
