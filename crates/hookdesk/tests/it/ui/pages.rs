//! The pages in a real browser: what a user clicks, and what an attacker plants.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use super::browser::Browser;
use crate::support::{Db, Receiver, Reply, TestApp};

/// Hostile markup: run, it would set `window.__pwned`.
const SCRIPT: &str = "<script>window.__pwned = true</script>";
const IMG: &str = "<img src=x onerror=\"window.__pwned = true\">";

pub(super) async fn signed_in(app: &TestApp) -> Option<Browser> {
    let browser = Browser::open(app).await?;
    browser.goto("/ui/").await;
    assert_eq!(browser.path().await, "/ui/login", "signed out, a page sends to the sign-in");
    browser.fill("token", &app.token).await;
    browser.click_button("Sign in").await;
    browser.wait_for_path(|path| path == "/ui/").await;
    Some(browser)
}

#[tokio::test]
async fn signing_in_and_out() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let Some(browser) = Browser::open(&app).await else { return };
    browser.goto("/ui/login").await;
    browser.screenshot("login").await;
    browser.fill("token", "a-wrong-token").await;
    browser.click_button("Sign in").await;
    browser.wait_for_text("That token is not an agent").await;
    browser.fill("token", &app.token).await;
    browser.click_button("Sign in").await;
    let overview = browser.wait_for_text("Last 24 hours").await;
    assert!(overview.contains("delivered") && overview.contains("oldest waiting"), "{overview}");
    browser.screenshot("overview").await;
    let cookie_seen_by_scripts = browser.client.execute("return document.cookie;", vec![]).await.expect("runs");
    assert_eq!(cookie_seen_by_scripts, json!(""), "the session cookie is HttpOnly");
    browser.click_button("Sign out").await;
    browser.wait_for_path(|path| path == "/ui/login").await;
    browser.goto("/ui/webhooks").await;
    assert_eq!(browser.path().await, "/ui/login");
    browser.close().await;
}

#[tokio::test]
async fn a_webhook_made_in_the_form_sends_its_test_to_a_request_bin() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let Some(browser) = signed_in(&app).await else { return };

    browser.click_link("Inbound").await;
    browser.click_button("New request bin").await;
    let bin_page = browser.wait_for_path(|path| path.starts_with("/ui/inbound/hook_")).await;
    let bin_url = browser.client.find(Locator::Id("inbound-url")).await.expect("the URL").text().await.expect("text");

    browser.click_link("Webhooks").await;
    browser.client.find(Locator::LinkText("New webhook")).await.expect("a link").click().await.expect("clicked");
    browser.fill("name", "Into the bin").await;
    browser.fill("endpoint", "ftp://nowhere").await;
    browser.click_button("Save").await;
    let error = browser
        .client
        .wait()
        .for_element(Locator::Id("endpoint-error"))
        .await
        .expect("the error at the endpoint's row");
    assert!(error.text().await.expect("text").contains("http"), "the API's message");
    let input = browser.client.find(Locator::Id("endpoint")).await.expect("input");
    assert_eq!(input.attr("aria-invalid").await.expect("attr").as_deref(), Some("true"));
    browser.screenshot("webhook-form-error").await;

    browser.fill("endpoint", &bin_url).await;
    browser.fill("custom_headers", "X-From: the form").await;
    browser.click_button("Save").await;
    let webhook_page = browser.wait_for_path(|path| path.starts_with("/ui/webhooks/wh_")).await;
    browser.click_button("Send test").await;
    let result = browser.wait_for_text("Response: 202").await;
    assert!(result.contains("webhook-signature"), "the request as sent: {result}");
    browser.screenshot("webhook-test").await;

    browser.goto(&bin_page).await;
    let calls = browser.wait_for_text("x-from: the form").await;
    assert!(calls.contains("POST /") && calls.contains("webhook-signature"), "{calls}");
    assert!(calls.contains("Sample ticket"), "the body: {calls}");
    browser.screenshot("request-bin").await;

    // A real ticket is chosen by its subject, not typed by id.
    let ticket = app.ticket(json!({"subject": "Printer on fire", "requester": {"email": "r@example.com"}})).await;
    browser.goto(&webhook_page).await;
    browser.choose_label("ticket_id", &format!("#{} Printer on fire", ticket["id"])).await;
    browser.click_button("Send test").await;
    browser.wait_for_text("Response: 202").await;
    browser.goto(&bin_page).await;
    browser.wait_for_text("Printer on fire").await;
    browser.close().await;
}

#[tokio::test]
async fn a_trigger_saved_in_the_editor_fires_and_its_invocation_replays_with_one_click() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let receiver = Receiver::start().await;
    let webhook = app.webhook(&receiver.url("/tickets"), json!({})).await;
    let ticket =
        app.ticket(json!({"subject": "Printer on fire", "requester": {"name": "R", "email": "r@example.com"}})).await;
    let Some(browser) = signed_in(&app).await else { return };

    browser.click_link("Triggers").await;
    browser.click_link("New trigger").await;
    browser.fill("title", "Urgent tickets to the printer team").await;
    browser.choose("c-all-0-field", "priority").await;
    browser.choose("c-all-0-operator", "is").await;
    browser.choose("c-all-0-value", "urgent").await;
    browser.choose("a-0-field", "notify_webhook").await;
    browser.type_into("a-0-payload", "{\"subject\": \"{{ticket.subject}}\"}").await;
    // The only webhook is chosen as the row is made; chosen away, the API's 422 at the
    // action's row, the draft kept.
    let chosen = browser.client.execute("return document.getElementById('a-0-webhook').value;", vec![]).await;
    assert_eq!(chosen.expect("runs"), json!(webhook));
    browser.choose("a-0-webhook", "").await;
    browser.click_id("save").await;
    let error =
        browser.client.wait().for_element(Locator::Id("a-0-error")).await.expect("the error at the action's row");
    assert!(error.text().await.expect("text").contains("webhook"), "the API's message: {:?}", error.text().await);
    browser.screenshot("trigger-form-error").await;
    browser.choose_label("a-0-webhook", "test hook").await;
    browser.click_id("save").await;
    browser.wait_for_path(|path| path.starts_with("/ui/triggers/") && path != "/ui/triggers/new").await;
    browser.screenshot("trigger-editor").await;

    browser.goto(&format!("/ui/tickets/{}", ticket["id"])).await;
    browser
        .client
        .find(Locator::Id("priority"))
        .await
        .expect("a priority")
        .select_by_value("urgent")
        .await
        .expect("chosen");
    browser.click_button("Update").await;
    let trail = browser.wait_for_text("Urgent tickets to the printer team").await;
    assert!(trail.contains("Queued: inv_"), "the audit trail links the invocation: {trail}");
    assert_eq!(receiver.wait_for(1).await[0].body, r#"{"subject": "Printer on fire"}"#);
    browser.screenshot("ticket").await;

    browser.click_link("Log").await;
    browser.wait_for_text("succeeded").await;
    let row = browser.client.find(Locator::Css("tbody tr")).await.expect("a row").text().await.expect("its text");
    assert!(row.contains("test hook") && row.contains("trigger Urgent tickets to the printer team"), "names: {row}");
    browser.screenshot("log").await;
    browser
        .client
        .find(Locator::Css("tbody a[href^=\"/ui/log/inv_\"]"))
        .await
        .expect("a row")
        .click()
        .await
        .expect("clicked");
    let first = browser.wait_for_path(|path| path.starts_with("/ui/log/inv_")).await;
    let detail = browser.wait_for_text("Attempt 1").await;
    assert!(detail.contains("Printer on fire") && detail.contains("trigger"), "{detail}");
    browser.screenshot("invocation").await;
    browser.click_button("Replay").await;
    browser.wait_for_path(|path| path.starts_with("/ui/log/inv_") && path != first).await;
    assert_eq!(receiver.wait_for(2).await[1].body, receiver.received()[0].body, "the same request again");
    browser.close().await;
}

#[tokio::test]
async fn a_request_bin_shows_a_new_call_by_itself() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, bin) = app.post("/api/v1/inbound_webhooks", json!({"name": "bin"})).await;
    let Some(browser) = signed_in(&app).await else { return };
    browser.goto(&format!("/ui/inbound/{}", bin["id"].as_str().expect("id"))).await;
    browser.wait_for_text("No call yet").await;
    let url = bin["url"].as_str().expect("url");
    let sent =
        reqwest::Client::new().put(format!("{url}/orders?n=1")).body("first call").send().await.expect("answers");
    assert!(sent.status().is_success());
    let calls = browser.wait_for_text("first call").await;
    assert!(calls.contains("PUT /orders?n=1"), "{calls}");
    let sent = reqwest::Client::new().post(url).body("second call").send().await.expect("answers");
    assert!(sent.status().is_success());
    browser.wait_for_text("second call").await;
    browser.close().await;
}

/// Waits until what loading the page set in motion has played out, so that a planted script
/// or image handler that was going to run has run: the document is complete (its scripts ran,
/// its images loaded or failed and fired their handlers), no htmx request is under way, and
/// then an image of our own from the planted markup's URL (`x`) has failed too.
async fn played_out(browser: &Browser) {
    let script = "const done = arguments[arguments.length - 1];
        const busy = () => document.readyState !== 'complete'
            || document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping') !== null;
        const probe = () => {
            if (busy()) { setTimeout(probe, 20); return; }
            const image = new Image();
            image.onload = image.onerror = () => setTimeout(() => done(true), 0);
            image.src = 'x';
        };
        probe();";
    let finished = browser.client.execute_async(script, vec![]).await.expect("the page's loading plays out");
    assert_eq!(finished, json!(true));
}

#[tokio::test]
async fn hostile_content_is_shown_as_text_and_never_runs() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let receiver = Receiver::responding(|_| Reply::status(200).body(format!("{SCRIPT}{IMG}"))).await;
    let webhook = app.webhook(&receiver.url("/"), json!({})).await;
    app.notify_on_create(&webhook, json!({})).await;
    let ticket = app
        .ticket(json!({"subject": format!("{SCRIPT}{IMG}"), "requester": {"name": IMG, "email": "r@example.com"}}))
        .await;
    let ticket_page = format!("/ui/tickets/{}", ticket["id"]);
    receiver.wait_for(1).await;
    let (_, bin) = app.post("/api/v1/inbound_webhooks", json!({"name": "bin"})).await;
    let bin_url = bin["url"].as_str().expect("url").to_owned();
    let sent = reqwest::Client::new()
        .post(&bin_url)
        .header("x-evil", IMG)
        .body(format!("{SCRIPT}{IMG}"))
        .send()
        .await
        .expect("the bin answers");
    assert!(sent.status().is_success());
    let invocation = app.invocations("").await[0]["id"].as_str().expect("id").to_owned();
    let Some(browser) = signed_in(&app).await else { return };

    let bin_page = format!("/ui/inbound/{}", bin["id"].as_str().expect("id"));
    for page in [bin_page.as_str(), &format!("/ui/log/{invocation}"), "/ui/log", "/ui/tickets", &ticket_page] {
        browser.goto(page).await;
        played_out(&browser).await;
        assert!(!browser.pwned().await, "{page}: a planted script ran");
        let images = browser.client.find_all(Locator::Css("main img")).await.expect("a query");
        assert!(images.is_empty(), "{page}: planted markup became an element");
    }
    browser.goto(&bin_page).await;
    let text = browser.wait_for_text(SCRIPT).await;
    assert!(text.contains(&format!("x-evil: {IMG}")), "shown as text: {text}");
    browser.goto(&format!("/ui/log/{invocation}")).await;
    browser.wait_for_text(SCRIPT).await;
    browser.goto(&ticket_page).await;
    browser.wait_for_text(&format!("{SCRIPT}{IMG}")).await;
    browser.close().await;
}

#[tokio::test]
async fn the_main_pages_have_no_serious_accessibility_violation() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let receiver = Receiver::start().await;
    let webhook = app.webhook(&receiver.url("/"), json!({})).await;
    app.notify_on_create(&webhook, json!({})).await;
    let ticket = app.ticket(json!({"subject": "Hello", "requester": {"name": "R", "email": "r@example.com"}})).await;
    receiver.wait_for(1).await;
    let invocation = app.invocations("").await[0]["id"].as_str().expect("id").to_owned();
    let (_, bin) = app.post("/api/v1/inbound_webhooks", json!({"name": "bin"})).await;
    let Some(browser) = Browser::open(&app).await else { return };
    browser.goto("/ui/login").await;
    let mut pages = vec![("/ui/login".to_owned(), browser.accessibility_violations().await)];
    browser.fill("token", &app.token).await;
    browser.click_button("Sign in").await;
    for page in [
        "/ui/".to_owned(),
        "/ui/webhooks".to_owned(),
        "/ui/webhooks/new".to_owned(),
        format!("/ui/webhooks/{webhook}"),
        "/ui/log".to_owned(),
        format!("/ui/log/{invocation}"),
        "/ui/inbound".to_owned(),
        format!("/ui/inbound/{}", bin["id"].as_str().expect("id")),
        "/ui/tickets".to_owned(),
        format!("/ui/tickets/{}", ticket["id"]),
        "/ui/triggers".to_owned(),
        "/ui/triggers/new".to_owned(),
        "/ui/automations".to_owned(),
        "/ui/macros".to_owned(),
        "/ui/macros/new".to_owned(),
        "/ui/users".to_owned(),
        "/ui/inbound/new".to_owned(),
    ] {
        browser.goto(&page).await;
        pages.push((page, browser.accessibility_violations().await));
    }
    // The same pages on a phone's screen, for reviewers to look at.
    browser.client.set_window_size(390, 844).await.expect("a phone's window");
    for (page, name) in [
        ("/ui/", "phone-overview"),
        ("/ui/log", "phone-log"),
        (format!("/ui/tickets/{}", ticket["id"]).as_str(), "phone-ticket"),
    ] {
        browser.goto(page).await;
        browser.screenshot(name).await;
    }
    let failing: Vec<_> = pages.iter().filter(|(_, violations)| !violations.is_empty()).collect();
    assert!(failing.is_empty(), "serious or critical violations: {failing:#?}");
    browser.close().await;
}

/// The API reference renders the document this server serves, under its own policy: Redoc's
/// scripts and styles load, its search worker runs, and the only thing the policy stops is
/// Redoc's logo from its CDN (nothing leaves for another origin).
#[tokio::test]
async fn the_api_reference_renders_the_served_document_and_searches_it() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, document) = app.get("/openapi.json").await;
    let summary_of = |path: &str, method: &str| {
        document["paths"][path][method]["summary"].as_str().expect("every operation has a summary").to_owned()
    };
    let (first, replay) = (summary_of("/api/v1/tickets", "get"), summary_of("/api/v1/invocations/{id}/replay", "post"));
    let Some(browser) = signed_in(&app).await else { return };
    // Counts what the policy refuses, from before the page's first script.
    let watch = "window.__refused = [];
        document.addEventListener('securitypolicyviolation', e => window.__refused.push(e.effectiveDirective + ' ' + e.blockedURI));";
    browser.cdp("Page.addScriptToEvaluateOnNewDocument", json!({"source": watch})).await;
    browser.click_link("API").await;
    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    let shown = |text: String| text.contains(&first) && text.contains("AUTHORIZATIONS");
    loop {
        let text = browser.client.execute("return document.body.innerText;", vec![]).await.expect("a script runs");
        let text = text.as_str().unwrap_or_default().to_owned();
        if shown(text.clone()) {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let refused = browser.client.execute("return window.__refused;", vec![]).await.expect("a script runs");
            panic!("the reference never showed {first:?}; refused {refused}; the page:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(browser.path().await, "/ui/api-reference");
    let search = browser.client.find(Locator::Css("input[placeholder^='Search']")).await.expect("a search box");
    search.send_keys("replay").await.expect("typed");
    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    loop {
        let found = browser
            .client
            .execute("return document.querySelector('[role=search]').innerText;", vec![])
            .await
            .expect("a script runs");
        if found.as_str().is_some_and(|text| text.contains(&replay)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "searching for replay found {found}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.screenshot("api-reference").await;
    let refused = browser.client.execute("return window.__refused;", vec![]).await.expect("a script runs");
    let refused: Vec<String> = serde_json::from_value(refused).expect("a list");
    assert!(
        refused.iter().all(|r| r.starts_with("img-src https://cdn.redoc.ly/")),
        "the page's policy refused what Redoc needs: {refused:?}"
    );
    browser.close().await;
}
