//! The README's tour, from the first seed: a trigger fires on an update carrying the tag
//! `send_web_action`, notifies a webhook with `{{ ticket.subject | uri_encode }}`, and removes
//! the tag so it fires only once.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Db, Receiver, TestApp};

async fn the_seed_tour_sends_exactly_once_and_removes_its_tag(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/hook"), json!({})).await;
    app.trigger(json!({
        "title": "Send web action",
        "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "change"},
            {"field": "tags", "operator": "includes", "value": "send_web_action"}
        ]},
        "actions": [
            {"field": "notify_webhook", "value": {
                "webhook_id": webhook,
                "payload": "{\"text\": \"Ticket {{ ticket.id }} updated: {{ ticket.subject | uri_encode }}\", \"link\": \"{{ ticket.url }}\", \"by\": {{ current_user.name | json }}}"
            }},
            {"field": "remove_tags", "value": "send_web_action"}
        ]
    }))
    .await;

    let ticket = app
        .ticket(json!({"subject": "Printer on fire & smoke", "requester": {"name": "Ann", "email": "ann@example.com"}}))
        .await;
    let id = ticket["id"].as_i64().expect("id");
    assert!(app.invocations(&format!("ticket_id={id}")).await.is_empty(), "creating is not a change");

    let (status, updated) = app
        .patch(
            &format!("/api/v1/tickets/{id}"),
            json!({"add_tags": ["send_web_action", "printer"], "comment": {"body": "Send it over"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["tags"], json!(["printer"]), "the response shows the ticket after the triggers");
    assert_eq!(updated["comments"][0]["body"], "Send it over");

    let received = receiver.wait_for(1).await;
    let request = &received[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hook");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(request.header("user-agent").is_some_and(|ua| ua.starts_with("hookdesk/")));
    let body: Value = serde_json::from_str(&request.body).expect("the payload is JSON");
    assert_eq!(
        body,
        json!({
            "text": format!("Ticket {id} updated: Printer%20on%20fire%20%26%20smoke"),
            "link": app.url(&format!("/ui/tickets/{id}")),
            "by": "Admin"
        })
    );

    let invocations = app.invocations(&format!("ticket_id={id}")).await;
    assert_eq!(invocations.len(), 1);
    let settled = app.settled(invocations[0]["id"].as_str().expect("id")).await;
    assert_eq!(settled["status"], "succeeded");
    assert_eq!(settled["webhook_id"], webhook.as_str());
    assert_eq!(settled["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(settled["attempts"][0]["response"]["status"], 200);
    assert_eq!(request.header("webhook-id"), settled["id"].as_str());

    // An unrelated update: the tag is gone, so the trigger does not fire again. Invocations
    // are written in the update's own transaction, so "none queued" is exact, not a timing.
    let (status, again) = app.patch(&format!("/api/v1/tickets/{id}"), json!({"priority": "high"})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["priority"], "high");
    assert_eq!(app.invocations(&format!("ticket_id={id}")).await.len(), 1);
    let (_, stored) = app.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(stored["tags"], json!(["printer"]));
    assert_eq!(receiver.received().len(), 1);
}

async fn triggers_restart_after_a_change_and_fire_once_each(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook(&receiver.url("/escalated"), json!({})).await;
    // The first trigger reacts to what the second does: it only sees it because checking
    // starts again from the top after a trigger changes the ticket.
    app.trigger(json!({
        "title": "Notify on urgent",
        "conditions": {"all": [{"field": "priority", "operator": "changed_to", "value": "urgent"}]},
        "actions": [{"field": "notify_webhook", "value": {"webhook_id": webhook, "payload": "{\"priority\": \"{{ ticket.priority }}\", \"trigger\": {{ trigger.title | json }}}"}}]
    }))
    .await;
    app.trigger(json!({
        "title": "VIP is urgent",
        "conditions": {"all": [{"field": "tags", "operator": "includes", "value": "vip"}],
                       "any": [{"field": "status", "operator": "is", "value": "new"}, {"field": "status", "operator": "is", "value": "open"}]},
        "actions": [{"field": "priority", "value": "urgent"}, {"field": "add_tags", "value": "escalated"}]
    }))
    .await;

    let ticket = app.ticket(json!({"subject": "VIP down", "tags": ["vip"]})).await;
    assert_eq!(ticket["priority"], "urgent");
    assert_eq!(ticket["tags"], json!(["vip", "escalated"]));
    let received = receiver.wait_for(1).await;
    let body: Value = serde_json::from_str(&received[0].body).expect("JSON");
    assert_eq!(body, json!({"priority": "urgent", "trigger": "Notify on urgent"}));
    assert_eq!(app.invocations("").await.len(), 1, "each trigger fires at most once per update");
}

async fn a_changed_or_deactivated_trigger_applies_to_the_next_update(db: Db) {
    let app = TestApp::spawn(db).await;
    let trigger = app
        .trigger(json!({
            "title": "Tag new tickets",
            "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
            "actions": [{"field": "add_tags", "value": "first"}]
        }))
        .await;
    assert_eq!(app.ticket(json!({"subject": "one"})).await["tags"], json!(["first"]));

    let (status, _) = app
        .patch(&format!("/api/v1/triggers/{trigger}"), json!({"actions": [{"field": "add_tags", "value": "second"}]}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.ticket(json!({"subject": "two"})).await["tags"], json!(["second"]), "the changed trigger runs");

    let (status, _) = app.patch(&format!("/api/v1/triggers/{trigger}"), json!({"active": false})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.ticket(json!({"subject": "three"})).await["tags"], json!([]), "an inactive trigger does not run");

    let (status, _) = app.patch(&format!("/api/v1/triggers/{trigger}"), json!({"active": true})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) =
        app.call(reqwest::Method::DELETE, &format!("/api/v1/triggers/{trigger}"), None, Some(&app.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.ticket(json!({"subject": "four"})).await["tags"], json!([]), "a deleted trigger does not run");
}

crate::on_both_backends!(
    a_changed_or_deactivated_trigger_applies_to_the_next_update,
    the_seed_tour_sends_exactly_once_and_removes_its_tag,
    triggers_restart_after_a_change_and_fire_once_each,
);
