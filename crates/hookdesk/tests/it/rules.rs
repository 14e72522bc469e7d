//! The rules engine through the API: the trigger cycle and its bound, automations on a fake
//! clock, macros, event subscriptions (CloudEvents), dry runs and the audit trail.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Db, Receiver, TestApp, refusal};

fn cond(field: &str, operator: &str, value: Value) -> Value {
    json!({"field": field, "operator": operator, "value": value})
}

fn act(field: &str, value: Value) -> Value {
    json!({"field": field, "value": value})
}

async fn audits(app: &TestApp, ticket: &Value) -> Vec<Value> {
    let (status, list) = app.get(&format!("/api/v1/tickets/{}/audits", ticket["id"])).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().expect("data").clone()
}

/// A trigger whose action makes an earlier trigger true fires it (checking restarts); two
/// triggers that flip a field back and forth each fire once; the audit trail shows it all,
/// with the invocation the last trigger queued.
async fn the_cycle_restarts_on_changes_and_the_audit_trail_explains_it(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/audit"), json!({})).await;
    let first = app
        .trigger(json!({"title": "Opened: tag it", "conditions": {"all": [cond("status", "changed_to", json!("open"))]},
                         "actions": [act("add_tags", json!("opened")),
                                     act("notify_webhook", json!({"webhook_id": webhook, "payload": "{\"tags\": {{ ticket.tags | json }}}"}))]}))
        .await;
    let second = app
        .trigger(json!({"title": "Go: open it", "conditions": {"all": [cond("tags", "includes", json!("go"))]},
                         "actions": [act("status", json!("open")),
                                     act("add_comment", json!({"body": "Opened by {{ trigger.title }}", "public": false}))]}))
        .await;
    let flip = app
        .trigger(json!({"title": "Flip", "conditions": {"all": [cond("priority", "is", json!("normal")), cond("tags", "includes", json!("flip"))]},
                         "actions": [act("priority", json!("high"))]}))
        .await;
    let flop = app
        .trigger(json!({"title": "Flop", "conditions": {"all": [cond("priority", "is", json!("high")), cond("tags", "includes", json!("flip"))]},
                         "actions": [act("priority", json!("normal"))]}))
        .await;

    let ticket = app.ticket(json!({"subject": "Cycle"})).await;
    let (status, updated) =
        app.patch(&format!("/api/v1/tickets/{}", ticket["id"]), json!({"add_tags": ["go", "flip"]})).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["status"], "open");
    assert_eq!(updated["tags"], json!(["go", "flip", "opened"]));
    assert_eq!(updated["priority"], "normal", "flip then flop, each once");
    assert_eq!(updated["comments"][0]["body"], "Opened by Go: open it");
    assert_eq!(updated["comments"][0]["public"], false);

    let trail = audits(&app, &ticket).await;
    assert_eq!(trail.len(), 2, "create and patch: {trail:#?}");
    let update = &trail[1];
    let fired: Vec<i64> =
        update["rules"].as_array().expect("rules").iter().map(|r| r["id"].as_i64().expect("id")).collect();
    assert_eq!(fired, [second, first, flip, flop], "{update:#}");
    assert!(update["rules"].as_array().expect("rules").iter().all(|r| r["kind"] == "trigger"));
    assert_eq!(update["changes"]["status"], json!({"from": "new", "to": "open"}));
    assert_eq!(update["changes"]["comments_added"], 1);
    assert!(update["changes"].get("priority").is_none(), "it ended where it began: {update:#}");
    assert_eq!(update["via"], "api");
    assert_eq!(update["bound_hit"], false);
    let events = update["events"].as_array().expect("events");
    assert!(events.contains(&json!("ticket.status_changed")) && events.contains(&json!("ticket.tags_changed")));
    let queued = update["invocations"].as_array().expect("invocations");
    assert_eq!(queued.len(), 1, "{update:#}");
    let invocation = app.settled(queued[0].as_str().expect("id")).await;
    assert_eq!(invocation["trigger_id"], first);
    assert_eq!(receiver.wait_for(1).await[0].body, r#"{"tags": ["go","flip","opened"]}"#);
}

/// A chain longer than the cycle bound stops at it, and the update records that it did.
async fn an_update_that_hits_the_cycle_bound_is_recorded(db: Db) {
    let app = TestApp::spawn(db).await;
    // Trigger k adds tag tk when tk-1 is present; listed last-first, so each pass fires one
    // and restarts: 60 passes would be needed, the bound is 50.
    for k in (1..=60).rev() {
        app.trigger(json!({"title": format!("step {k}"),
                           "conditions": {"all": [cond("tags", "includes", json!(format!("t{}", k - 1)))]},
                           "actions": [act("add_tags", json!(format!("t{k}")))]}))
            .await;
    }
    let ticket = app.ticket(json!({"subject": "Chain", "tags": ["t0"]})).await;
    // One trigger fires in each pass: the 50 passes of the bound (docs/rules.md) add t1..t50.
    let bound: Vec<String> = (0..=50).map(|k| format!("t{k}")).collect();
    assert_eq!(ticket["tags"], json!(bound), "stopped at the bound of 50 passes");
    let trail = audits(&app, &ticket).await;
    assert_eq!(trail[0]["bound_hit"], true, "{:#}", trail[0]);
}

/// An automation waits for its hours on a fake clock, fires once, notifies, and not again.
async fn an_automation_fires_once_after_its_hours(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/auto"), json!({})).await;
    let (status, bad) = app
        .post("/api/v1/automations", json!({"title": "Nags forever",
            "conditions": {"all": [cond("hours_since_updated", "greater_than", json!(48)), cond("status", "is", json!("pending"))]},
            "actions": [act("add_tags", json!("nagged"))]}))
        .await;
    assert_eq!(refusal(status, &bad), (422, "invalid_value".into()), "no condition its actions make false: {bad}");
    let (status, bad) = app
        .post("/api/v1/triggers", json!({"title": "Timed trigger",
            "conditions": {"all": [cond("status", "is", json!("pending")), cond("hours_since_created", "greater_than", json!(1))]},
            "actions": [act("add_tags", json!("x"))]}))
        .await;
    assert_eq!(refusal(status, &bad), (422, "invalid_value".into()), "{bad}");
    assert_eq!(bad["error"]["details"][0]["field"], "conditions.all[1].field", "{bad}");

    let (status, automation) = app
        .post("/api/v1/automations", json!({"title": "Close stale pending",
            "conditions": {"all": [cond("hours_since_updated", "greater_than", json!(48)), cond("status", "is", json!("pending"))]},
            "actions": [act("status", json!("solved")),
                        act("add_comment", json!({"body": "Closed by {{ automation.title }} after 48 hours", "public": true})),
                        act("notify_webhook", json!({"webhook_id": webhook, "payload": "{\"solved\": {{ ticket.id }}}"}))]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{automation}");
    let stale = app.ticket(json!({"subject": "Waiting on customer", "status": "pending"})).await;
    let fresh = app.ticket(json!({"subject": "Open one", "status": "open"})).await;

    let (status, run) = app.post("/api/v1/automations/run", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["fired"], 0, "not yet 48 hours: {run}");

    app.config.clock.advance(Duration::from_secs(49 * 3600));
    let (_, run) = app.post("/api/v1/automations/run", json!({})).await;
    assert_eq!((run["fired"].as_u64(), run["tickets_updated"].as_u64()), (Some(1), Some(1)), "{run}");
    let (_, solved) = app.get(&format!("/api/v1/tickets/{}", stale["id"])).await;
    assert_eq!(solved["status"], "solved");
    assert_eq!(solved["comments"][0]["body"], "Closed by Close stale pending after 48 hours");
    let (_, untouched) = app.get(&format!("/api/v1/tickets/{}", fresh["id"])).await;
    assert_eq!(untouched["status"], "open");
    assert_eq!(receiver.wait_for(1).await[0].body, format!("{{\"solved\": {}}}", stale["id"]));
    let invocations = app.invocations(&format!("ticket_id={}", stale["id"])).await;
    assert_eq!(invocations[0]["automation_id"], automation["id"]);
    let trail = audits(&app, &stale).await;
    assert_eq!(trail[1]["via"], "automation");
    assert_eq!(trail[1]["actor_id"], Value::Null);
    assert_eq!(trail[1]["rules"][0]["kind"], "automation");

    // Again, much later: its own action made it false. Had it fired, the run would have queued
    // an invocation before answering; once the log shows nothing waiting, everything the
    // invocations there will send has arrived.
    app.config.clock.advance(Duration::from_secs(100 * 3600));
    let (_, run) = app.post("/api/v1/automations/run", json!({})).await;
    assert_eq!(run["fired"], 0, "{run}");
    let log = app.all_settled().await;
    assert_eq!(log.len(), 1, "the second run queued nothing: {log:#?}");
    assert_eq!(receiver.received().len(), 1);
}

/// A macro applied to a ticket is an update: a trigger sees its change and notifies. Its
/// preview shows the result and changes nothing.
async fn a_macro_is_an_update_that_fires_triggers(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/escalations"), json!({})).await;
    app.trigger(json!({"title": "Escalations go to the on-call",
                       "conditions": {"all": [cond("tags", "includes", json!("escalated")), cond("update_type", "is", json!("change"))]},
                       "actions": [act("notify_webhook", json!({"webhook_id": webhook, "payload": "{\"escalated\": {{ ticket.id }}, \"by\": {{ current_user.name | json }}}"}))]}))
        .await;
    let (status, refused) = app
        .post(
            "/api/v1/macros",
            json!({"title": "Sends", "actions": [act("notify_webhook", json!({"webhook_id": webhook}))]}),
        )
        .await;
    assert_eq!(refusal(status, &refused), (422, "invalid_value".into()), "{refused}");
    let (status, escalate) = app
        .post("/api/v1/macros", json!({"title": "Escalate", "actions": [act("add_tags", json!("escalated")), act("priority", json!("urgent")),
            act("add_comment", json!({"body": "Escalated by {{ current_user.name }}", "public": false}))]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{escalate}");
    let ticket = app.ticket(json!({"subject": "Angry customer"})).await;
    let path = format!("/api/v1/tickets/{}/macros/{}", ticket["id"], escalate["id"]);

    let (status, preview) = app.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["priority"], "urgent");
    assert_eq!(preview["tags"], json!(["escalated"]));
    let (_, unchanged) = app.get(&format!("/api/v1/tickets/{}", ticket["id"])).await;
    assert_eq!(unchanged["priority"], "normal", "a preview saves nothing");
    assert_eq!(audits(&app, &ticket).await.len(), 1);
    assert!(app.invocations("").await.is_empty(), "a preview sends nothing");

    let (status, applied) = app.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["priority"], "urgent");
    assert_eq!(applied["comments"][0]["body"], "Escalated by Admin");
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].body, format!("{{\"escalated\": {}, \"by\": \"Admin\"}}", ticket["id"]));
    let trail = audits(&app, &ticket).await;
    assert_eq!(trail[1]["via"], "macro");
    let kinds: Vec<&str> =
        trail[1]["rules"].as_array().expect("rules").iter().map(|r| r["kind"].as_str().expect("kind")).collect();
    assert_eq!(kinds, ["macro", "trigger"]);
}

/// A webhook subscribed to every event type receives each as a CloudEvents 1.0 structured
/// JSON document, signed, with `current` and `previous`.
async fn each_event_type_reaches_a_subscribed_webhook_as_a_cloudevent(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let all = [
        "ticket.created",
        "ticket.status_changed",
        "ticket.priority_changed",
        "ticket.tags_changed",
        "ticket.assignee_changed",
        "ticket.comment_added",
        "ticket.deleted",
        "user.created",
        "user.updated",
    ];
    let webhook = app
        .webhook(
            &receiver.url("/events"),
            json!({"subscriptions": all, "http_method": "PUT", "request_format": "form"}),
        )
        .await;
    let (status, refused) = app
        .post(
            "/api/v1/triggers",
            json!({"title": "x", "conditions": {"all": [cond("update_type", "is", json!("create"))]},
            "actions": [act("notify_webhook", json!({"webhook_id": webhook}))]}),
        )
        .await;
    assert_eq!(
        refusal(status, &refused),
        (422, "invalid_value".into()),
        "event webhooks are not for triggers: {refused}"
    );
    let (status, refused) = app
        .patch(&format!("/api/v1/webhooks/{webhook}"), json!({"subscriptions": ["conditional_ticket_events"]}))
        .await;
    assert_eq!(refusal(status, &refused), (422, "invalid_value".into()), "{refused}");
    let (status, refused) = app
        .post(
            "/api/v1/webhooks",
            json!({"name": "x", "endpoint": receiver.url("/x"), "subscriptions": ["ticket.exploded"]}),
        )
        .await;
    assert_eq!(refusal(status, &refused), (422, "invalid_value".into()), "{refused}");

    let (status, user) =
        app.post("/api/v1/users", json!({"name": "Ada", "email": "ada@example.com", "role": "agent"})).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let (status, _) = app.patch(&format!("/api/v1/users/{}", user["id"]), json!({"name": "Ada L."})).await;
    assert_eq!(status, StatusCode::OK);
    // A new requester is a new user too.
    let ticket = app.ticket(json!({"subject": "Events", "requester": {"name": "Cy", "email": "cy@example.com"}})).await;
    let (status, _) = app
        .patch(
            &format!("/api/v1/tickets/{}", ticket["id"]),
            json!({"status": "open", "priority": "high", "add_tags": ["vip"],
            "assignee_id": user["id"], "comment": {"body": "On it"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        app.call(reqwest::Method::DELETE, &format!("/api/v1/tickets/{}", ticket["id"]), None, Some(&app.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let received = receiver.wait_for(all.len() + 1).await;
    let mut seen = Vec::new();
    for request in &received {
        assert_eq!(request.method, "POST", "events are always POSTed");
        assert_eq!(request.header("content-type"), Some("application/cloudevents+json"));
        assert!(request.header("webhook-signature").is_some_and(|s| s.starts_with("v1,")));
        let event: Value = serde_json::from_str(&request.body).expect("JSON");
        assert_eq!(event["specversion"], "1.0");
        for attribute in ["id", "source", "type", "subject", "time", "datacontenttype"] {
            assert!(event[attribute].as_str().is_some_and(|v| !v.is_empty()), "{attribute} in {event:#}");
        }
        assert!(hookdesk_core::Timestamp::parse_rfc3339(event["time"].as_str().expect("time")).is_some());
        assert!(url::Url::parse(event["source"].as_str().expect("source")).is_ok(), "source is a URI");
        let kind = event["type"].as_str().expect("type").to_owned();
        let data = &event["data"];
        match kind.as_str() {
            "ticket.created" => {
                assert_eq!((data["current"]["subject"].as_str(), data["previous"].is_null()), (Some("Events"), true))
            }
            "ticket.status_changed" => {
                assert_eq!(
                    (data["previous"]["status"].as_str(), data["current"]["status"].as_str()),
                    (Some("new"), Some("open"))
                );
            }
            "ticket.priority_changed" => assert_eq!(data["current"]["priority"], "high"),
            "ticket.tags_changed" => assert_eq!(data["current"]["tags"], json!(["vip"])),
            "ticket.assignee_changed" => assert_eq!(data["current"]["assignee_id"], user["id"]),
            "ticket.comment_added" => assert_eq!(data["current"]["comments"][0]["body"], "On it"),
            "ticket.deleted" => {
                assert_eq!((data["current"].is_null(), data["previous"]["id"].clone()), (true, ticket["id"].clone()))
            }
            "user.created" => {
                let email = data["current"]["email"].as_str().expect("email");
                assert!(["ada@example.com", "cy@example.com"].contains(&email), "{data}");
            }
            "user.updated" => assert_eq!(
                (data["previous"]["name"].as_str(), data["current"]["name"].as_str()),
                (Some("Ada"), Some("Ada L."))
            ),
            other => panic!("unexpected event type {other}"),
        }
        let subject = event["subject"].as_str().expect("subject");
        assert!(subject.starts_with(if kind.starts_with("user.") { "users/" } else { "tickets/" }), "{subject}");
        seen.push(kind);
    }
    seen.sort();
    let mut expected: Vec<String> = all.iter().chain(&["user.created"]).map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(seen, expected, "each event once");
    let invocations = app.invocations(&format!("webhook_id={webhook}")).await;
    assert!(invocations.iter().all(|i| i["event_type"].is_string()), "{invocations:#?}");
}

/// A dry run answers which triggers would fire, with their changes and rendered requests,
/// for a proposed change and a draft trigger, and saves and sends nothing.
async fn a_dry_run_shows_what_would_fire_without_saving_or_sending(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/dry"), json!({"custom_headers": {"x-ticket": "{{ ticket.id }}"}})).await;
    let urgent = app
        .trigger(json!({"title": "Urgent to pager", "conditions": {"all": [cond("priority", "changed_to", json!("urgent"))]},
                         "actions": [act("add_tags", json!("paged")), act("notify_webhook", json!({"webhook_id": webhook, "payload": "{\"page\": {{ ticket.id }}}"}))]}))
        .await;
    let ticket = app.ticket(json!({"subject": "Dry"})).await;
    let (status, result) = app
        .post("/api/v1/triggers/dry_run", json!({
            "ticket_id": ticket["id"],
            "changes": {"priority": "urgent"},
            "trigger": {"title": "Draft: paged ones are VIP", "conditions": {"all": [cond("tags", "includes", json!("paged"))]},
                        "actions": [act("add_tags", json!("vip"))]}
        }))
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    let fired: Vec<(i64, &str)> = result["fired"]
        .as_array()
        .expect("fired")
        .iter()
        .map(|f| (f["id"].as_i64().expect("id"), f["title"].as_str().expect("title")))
        .collect();
    assert_eq!(fired, [(urgent, "Urgent to pager"), (0, "Draft: paged ones are VIP")]);
    assert_eq!(result["fired"][1]["changes"]["tags"], json!({"from": ["paged"], "to": ["paged", "vip"]}));
    assert_eq!(result["ticket"]["tags"], json!(["paged", "vip"]));
    let request = &result["requests"][0];
    assert_eq!(request["trigger_id"], urgent);
    assert_eq!(request["request"]["body"], format!("{{\"page\": {}}}", ticket["id"]));
    assert_eq!(request["request"]["headers"]["x-ticket"], ticket["id"].to_string());
    assert_eq!(result["events"], json!(["ticket.priority_changed", "ticket.tags_changed"]));

    let (_, after) = app.get(&format!("/api/v1/tickets/{}", ticket["id"])).await;
    assert_eq!((after["priority"].as_str(), after["tags"].clone()), (Some("normal"), json!([])));
    assert_eq!(audits(&app, &ticket).await.len(), 1);
    assert!(app.invocations("").await.is_empty());
    let (status, bad) = app.post("/api/v1/triggers/dry_run", json!({"ticket_id": ticket["id"],
        "trigger": {"title": "x", "conditions": {"all": [cond("status", "is", json!("opened"))]}, "actions": [act("add_tags", json!("x"))]}})).await;
    assert_eq!(refusal(status, &bad), (422, "invalid_value".into()), "{bad}");
    assert_eq!(bad["error"]["details"][0]["field"], "trigger.conditions.all[0].value", "{bad}");
    let (status, missing) = app.post("/api/v1/triggers/dry_run", json!({"ticket_id": 999_999})).await;
    assert_eq!(refusal(status, &missing), (404, "not_found".into()), "{missing}");

    // The change itself, after the dry runs: its request is the only one the receiver gets.
    // Once it has arrived and the log shows nothing waiting, anything the dry runs had sent
    // or queued would be there too.
    let (status, _) = app.patch(&format!("/api/v1/tickets/{}", ticket["id"]), json!({"priority": "urgent"})).await;
    assert_eq!(status, StatusCode::OK);
    let log = app.all_settled().await;
    assert_eq!(log.len(), 1, "only the change queued an invocation: {log:#?}");
    let received = receiver.wait_for(1).await;
    assert_eq!(received.len(), 1, "the dry runs sent nothing: {received:#?}");
    assert_eq!(received[0].header("webhook-id"), log[0]["id"].as_str());
    assert_eq!(received[0].body, format!("{{\"page\": {}}}", ticket["id"]));
}

/// Updates of one ticket at the same moment each see the one before: none overwrites another
/// (each adds its own tag; all are there at the end, and a trigger counting them saw each).
async fn concurrent_updates_of_one_ticket_lose_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let ticket = app.ticket(json!({"subject": "Busy", "custom_fields": {"n": 0}})).await;
    let path = format!("/api/v1/tickets/{}", ticket["id"]);
    let client = reqwest::Client::new();
    let mut updates = tokio::task::JoinSet::new();
    for i in 0..16 {
        let request =
            client.patch(app.url(&path)).bearer_auth(&app.token).json(&json!({"add_tags": [format!("t{i}")]}));
        updates.spawn(async move { request.send().await.expect("answers").status() });
    }
    while let Some(status) = updates.join_next().await {
        assert_eq!(status.expect("joined").as_u16(), 200);
    }
    let (_, after) = app.get(&path).await;
    assert_eq!(after["tags"].as_array().expect("tags").len(), 16, "{after:#}");
    assert_eq!(audits(&app, &ticket).await.len(), 17);
}

crate::on_both_backends!(
    concurrent_updates_of_one_ticket_lose_nothing,
    the_cycle_restarts_on_changes_and_the_audit_trail_explains_it,
    an_update_that_hits_the_cycle_bound_is_recorded,
    an_automation_fires_once_after_its_hours,
    a_macro_is_an_update_that_fires_triggers,
    each_event_type_reaches_a_subscribed_webhook_as_a_cloudevent,
    a_dry_run_shows_what_would_fire_without_saving_or_sending,
);
