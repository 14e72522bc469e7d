//! The overview and the lists tell the truth: a webhook retrying shows as such with its last
//! error, one that delivers shows its success rate, rules their firings, tokens their last
//! use; lists filter and switch rules in bulk; times are rewritten to the reader's terms.

use std::time::Duration;

use hookdesk_delivery::RetryPolicy;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::UiClient;
use super::pages::signed_in;
use crate::on_both_backends;
use crate::support::{Db, PATIENCE, Receiver, TestApp, user_with_token};

async fn text(response: reqwest::Response) -> String {
    response.text().await.expect("a page")
}

/// Waits until the invocation reaches `status`; answers it.
async fn reaches(app: &TestApp, id: &str, status: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (code, invocation) = app.get(&format!("/api/v1/invocations/{id}")).await;
        assert_eq!(code, StatusCode::OK, "{invocation}");
        if invocation["status"] == status {
            return invocation;
        }
        assert!(tokio::time::Instant::now() < deadline, "invocation {id} never became {status}: {invocation:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn the_overview_shows_what_retries_delivers_fires_and_authenticates(db: Db) {
    // Retries an hour off: the failing invocation stays retrying while the test reads it (with
    // the tests' 50 ms its five retries could run out first on a loaded machine).
    let app = TestApp::spawn_with(db, |c| c.retry = RetryPolicy::parse("1h").expect("schedule")).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    // A receiver that fails every attempt: the invocation retries.
    let down = Receiver::scripted(&[503; 20]).await;
    let failing = app.webhook(&down.url("/down"), json!({"name": "down hook", "max_retries": 5})).await;
    let up = Receiver::start().await;
    let delivering = app.webhook(&up.url("/up"), json!({"name": "up hook"})).await;
    let trigger = app
        .trigger(json!({
            "title": "Notify both",
            "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
            "actions": [
                {"field": "notify_webhook", "value": {"webhook_id": failing}},
                {"field": "notify_webhook", "value": {"webhook_id": delivering}}
            ]
        }))
        .await;
    let quiet = text(ui.get("/ui/triggers").await).await;
    assert!(quiet.contains("<td class=\"fired\">0</td>") && quiet.contains("never"), "not fired yet: {quiet}");
    app.ticket(json!({"subject": "s", "requester": {"name": "R", "email": "r@example.com"}})).await;
    let retrying = app.invocations(&format!("webhook_id={failing}")).await;
    reaches(&app, retrying[0]["id"].as_str().expect("id"), "retrying").await;
    let delivered = app.invocations(&format!("webhook_id={delivering}")).await;
    app.settled(delivered[0]["id"].as_str().expect("id")).await;

    let overview = text(ui.get("/ui/").await).await;
    assert!(!overview.contains("no webhook is failing or retrying"), "{overview}");
    let row = overview.split("<tr class=\"troubled\">").nth(1).expect("a troubled webhook").split("</tr>").next();
    let row = row.expect("its row");
    assert!(row.contains("down hook") && row.contains(">retrying</span>"), "{row}");
    assert!(row.contains("<time datetime=\"") && row.contains(" UTC</time>"), "since when: {row}");
    assert!(row.contains("class=\"error\"") && row.contains("503"), "its last error: {row}");
    assert!(!overview.contains("<tr class=\"troubled\">\n    <td><a href=\"/ui/webhooks/{delivering}\""));
    assert!(
        overview.contains(&format!(
            "<a href=\"/ui/webhooks/{delivering}\">up hook</a></td><td class=\"rate\">100 % of 1</td>"
        )),
        "{overview}"
    );
    assert!(
        overview.contains(&format!(
            "<a href=\"/ui/triggers/{trigger}\">Notify both</a></td><td class=\"fired\">1</td><td><time datetime="
        )),
        "{overview}"
    );
    assert!(overview.contains("<svg class=\"chart\"") && overview.contains("<title id=\"chart-title\">"), "{overview}");
    // The lists show the same.
    let webhooks = text(ui.get("/ui/webhooks").await).await;
    assert!(webhooks.contains("<td class=\"rate\">100 % of 1</td>"), "{webhooks}");
    assert!(
        webhooks.contains(&format!("<a href=\"/ui/log?webhook_id={failing}&amp;status=retrying\">1 retrying</a>")),
        "{webhooks}"
    );
    let triggers = text(ui.get("/ui/triggers").await).await;
    assert!(triggers.contains("<td class=\"fired\">1</td>"), "{triggers}");

    // A token's last use appears once it is used.
    let (user, token) = user_with_token(&app, "agent@example.com", "agent").await;
    let before = text(ui.get(&format!("/ui/users/{user}")).await).await;
    assert!(before.contains("<span class=\"muted\">never</span>"), "{before}");
    let (status, _) = app.call(reqwest::Method::GET, "/api/v1/tickets", None, Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let after = text(ui.get(&format!("/ui/users/{user}")).await).await;
    assert!(
        !after.contains("<span class=\"muted\">never</span>") && after.matches("<time datetime=").count() >= 2,
        "{after}"
    );
}

async fn lists_filter_and_switch_rules_in_bulk(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let rule = |title: &str| {
        json!({
            "title": title,
            "conditions": {"all": [{"field": "status", "operator": "is", "value": "hold"}]},
            "actions": [{"field": "add_tags", "value": "x"}]
        })
    };
    let a1 = app.trigger(rule("Alpha one")).await;
    let a2 = app.trigger(rule("alpha two")).await;
    let b = app.trigger(rule("Beta")).await;
    let filtered = text(ui.get("/ui/triggers?q=ALPHA").await).await;
    assert!(
        filtered.contains("Alpha one") && filtered.contains("alpha two") && !filtered.contains(">Beta<"),
        "{filtered}"
    );
    let bad = ui.get("/ui/triggers?state=sideways").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "a malformed filter is a 4xx page");

    let (a1s, a2s) = (a1.to_string(), a2.to_string());
    let done = ui.post("/ui/triggers/bulk", &[("ids", &a1s), ("ids", &a2s), ("active", "false")]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()["location"], "/ui/triggers");
    let flash = done.headers()["set-cookie"].to_str().expect("ascii").split(';').next().expect("a pair").to_owned();
    let list = text(ui.get_with_cookie("/ui/triggers", &flash).await).await;
    assert!(list.contains("Deactivated 2 triggers."), "the flash message: {list}");
    for (id, active) in [(a1, false), (a2, false), (b, true)] {
        assert_eq!(app.get(&format!("/api/v1/triggers/{id}")).await.1["active"], active, "trigger {id}");
    }
    let inactive = text(ui.get("/ui/triggers?state=inactive").await).await;
    assert!(inactive.contains("Alpha one") && !inactive.contains(">Beta<"), "{inactive}");
    let done = ui.post("/ui/triggers/bulk", &[("ids", &a1s), ("active", "true")]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/triggers/{a1}")).await.1["active"], true);
    let refused = ui.post("/ui/triggers/bulk", &[("ids", "nope"), ("active", "true")]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);

    // Webhooks filter by name or endpoint.
    let receiver = Receiver::start().await;
    app.webhook(&receiver.url("/crm"), json!({"name": "CRM sync"})).await;
    app.webhook(&receiver.url("/chat"), json!({"name": "Chat"})).await;
    let found = text(ui.get("/ui/webhooks?q=crm").await).await;
    assert!(found.contains("CRM sync") && !found.contains(">Chat</a>"), "{found}");
    assert_eq!(ui.get("/ui/webhooks?cursor=%00").await.status().as_u16() / 100, 4);
    // The search is the store's, page by page (not a filter over one page), in the API too.
    app.webhook(&receiver.url("/crm-two"), json!({"name": "Second"})).await;
    let (_, first) = app.get("/api/v1/webhooks?q=CRM&limit=1").await;
    let cursor = first["next_cursor"].as_str().expect("a second page").to_owned();
    let (_, second) = app.get(&format!("/api/v1/webhooks?q=CRM&limit=1&cursor={cursor}")).await;
    let names = [&first["data"][0]["name"], &second["data"][0]["name"]];
    assert_eq!(names, [&json!("CRM sync"), &json!("Second")], "by name, then by endpoint");
    assert_eq!(second["next_cursor"], Value::Null);
    let (_, wildcard) = app.get("/api/v1/webhooks?q=%25").await;
    assert_eq!(wildcard["data"], json!([]), "a % is searched for, not a wildcard");

    // Users by name or email; macros and inbound webhooks by title or name, 100 a page.
    app.post("/api/v1/users", json!({"name": "Zoë Agent", "email": "zoe@example.com", "role": "agent"})).await;
    let (_, users) = app.get("/api/v1/users?q=ZOE@").await;
    assert_eq!(users["data"].as_array().map(Vec::len), Some(1), "{users}");
    let found = text(ui.get("/ui/users?q=zoë").await).await;
    assert!(found.contains("zoe@example.com") && !found.contains("Admin</a>"), "{found}");
    for n in 0..101 {
        app.post(
            "/api/v1/macros",
            json!({"title": format!("Reply {n:03}"), "actions": [{"field": "add_tags", "value": "x"}]}),
        )
        .await;
    }
    app.post("/api/v1/macros", json!({"title": "Escalate", "actions": [{"field": "priority", "value": "urgent"}]}))
        .await;
    let first = text(ui.get("/ui/macros?q=reply").await).await;
    assert!(first.contains("Reply 099") && !first.contains("Reply 100") && !first.contains("Escalate"), "{first}");
    assert!(first.contains("Page 1 of 2") && first.contains("page=2\">Next page</a>"), "{first}");
    let last = text(ui.get("/ui/macros?q=reply&page=2").await).await;
    assert!(last.contains("Reply 100") && !last.contains("Reply 099"), "{last}");
    app.post("/api/v1/inbound_webhooks", json!({"name": "Stripe events"})).await;
    app.post("/api/v1/inbound_webhooks", json!({"name": "Contact form"})).await;
    let found = text(ui.get("/ui/inbound?q=stripe").await).await;
    assert!(found.contains("Stripe events") && !found.contains("Contact form"), "{found}");
    assert_eq!(ui.get("/ui/inbound?page=x").await.status().as_u16() / 100, 4);
}

async fn selected_invocations_are_replayed_to_the_receiver(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let receiver = Receiver::start().await;
    let webhook = app.webhook(&receiver.url("/in"), json!({})).await;
    app.notify_on_create(&webhook, json!({})).await;
    for n in 0..3 {
        app.ticket(json!({"subject": format!("t{n}"), "requester": {"name": "R", "email": "r@example.com"}})).await;
    }
    let invocations = app.invocations(&format!("webhook_id={webhook}")).await;
    for invocation in &invocations {
        app.settled(invocation["id"].as_str().expect("id")).await;
    }
    assert_eq!(receiver.wait_for(3).await.len(), 3);
    // The log's range filter takes a date picker's value (no zone: UTC) and shows it back.
    let picked = ui.get(&format!("/ui/log?webhook_id={webhook}&since=2020-01-01T00:00&until=")).await;
    assert_eq!(picked.status(), StatusCode::OK);
    let page = text(picked).await;
    assert!(page.contains("type=\"datetime-local\" step=\"1\" data-utc value=\"2020-01-01T00:00:00\""), "{page}");
    assert_eq!(page.matches("name=\"ids\"").count(), 3, "a checkbox a row: {page}");
    let later = text(ui.get(&format!("/ui/log?webhook_id={webhook}&since=2999-01-01T00:00")).await).await;
    assert!(later.contains("No invocation matches."), "{later}");
    assert!(ui.get("/ui/log?since=yesterday").await.status().as_u16() < 500);

    let (first, second) = (invocations[0]["id"].as_str().expect("id"), invocations[1]["id"].as_str().expect("id"));
    let back = format!("webhook_id={webhook}");
    let done = ui.post("/ui/log/replay-selected", &[("ids", first), ("ids", second), ("back", &back)]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()["location"].to_str().expect("ascii"), format!("/ui/log?{back}"));
    let flash = done.headers()["set-cookie"].to_str().expect("ascii").split(';').next().expect("a pair").to_owned();
    let shown = text(ui.get_with_cookie(&format!("/ui/log?{back}"), &flash).await).await;
    assert!(shown.contains("Queued 2 invocations."), "{shown}");
    let received = receiver.wait_for(5).await;
    assert_eq!(received.len(), 5, "the two selected delivered again");
    let refused = ui.post("/ui/log/replay-selected", &[("ids", "not-an-id")]).await;
    assert_eq!(refused.status().as_u16() / 100, 4);
    let elsewhere = ui.post("/ui/log/replay-selected", &[("back", "//evil.example/")]).await;
    let location = elsewhere.headers()["location"].to_str().expect("ascii").to_owned();
    assert!(location.starts_with("/ui/log?"), "never a way off the site: {location}");
}

on_both_backends!(
    the_overview_shows_what_retries_delivers_fires_and_authenticates,
    lists_filter_and_switch_rules_in_bulk,
    selected_invocations_are_replayed_to_the_receiver,
);

/// In a real browser, times read "… ago" with the exact time on hover.
#[tokio::test]
async fn times_are_shown_relative_with_the_exact_time_on_hover() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let receiver = Receiver::start().await;
    let webhook = app.webhook(&receiver.url("/x"), json!({})).await;
    app.notify_on_create(&webhook, json!({})).await;
    app.ticket(json!({"subject": "s", "requester": {"name": "R", "email": "r@example.com"}})).await;
    let Some(browser) = signed_in(&app).await else { return };
    browser.goto("/ui/triggers").await;
    browser.wait_for_text("Last fired").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let (text, title) = loop {
        let found = browser
            .client
            .execute(
                "const t = document.querySelector('main time[datetime]'); return t ? [t.textContent, t.title] : null;",
                vec![],
            )
            .await
            .expect("runs");
        if let Some([text, title]) = found.as_array().map(Vec::as_slice)
            && !text.as_str().unwrap_or_default().ends_with("UTC")
        {
            break (text.as_str().unwrap_or_default().to_owned(), title.as_str().unwrap_or_default().to_owned());
        }
        assert!(tokio::time::Instant::now() < deadline, "the time was never rewritten: {found}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(text == "just now" || text.ends_with(" ago"), "relative: {text:?}");
    assert!(title.contains(':') && title.len() > 10, "the exact time on hover: {title:?}");
    browser.close().await;
}

/// The log's date pickers show and take the reader's own time (here Kolkata, UTC+05:30): the
/// server receives UTC, and the page shows the range back in local time.
#[tokio::test]
async fn the_log_range_is_picked_in_the_readers_time_zone() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let Some(browser) = signed_in(&app).await else { return };
    browser.cdp("Emulation.setTimezoneOverride", json!({"timezoneId": "Asia/Kolkata"})).await;
    browser.goto("/ui/log").await;
    // Chromium names the zone by its older name, Asia/Calcutta.
    browser.wait_for_text("Since (your time, Asia/").await;
    let pick = "const input = document.getElementById('f-since'); input.value = '2026-03-01T10:00:00';";
    browser.client.execute(pick, vec![]).await.expect("runs");
    browser.click_button("Filter").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let url = browser.client.current_url().await.expect("a URL");
        let since = url.query_pairs().find(|(key, _)| key == "since").map(|(_, value)| value.into_owned());
        if since.is_some() {
            assert_eq!(since.as_deref(), Some("2026-03-01T04:30:00.000Z"), "10:00 in Kolkata is 04:30 UTC");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the filter was never sent: {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser.wait_for_text("Since (your time, Asia/").await;
    let shown = browser.client.execute("return document.getElementById('f-since').value;", vec![]).await.expect("runs");
    // (Chromium writes a whole minute without its seconds.)
    let shown = shown.as_str().unwrap_or_default();
    assert!(["2026-03-01T10:00", "2026-03-01T10:00:00"].contains(&shown), "shown back in the reader's time: {shown}");
    browser.close().await;
}
