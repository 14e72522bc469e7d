//! Tickets as an agent works them (every field chosen, tags removed, a macro applied, found
//! by search), what developers get from the log (copy as curl, a page that refreshes while
//! waiting), and every page at a phone's width and in dark mode, in a real Chromium.

use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::UiClient;
use super::browser::Browser;
use crate::on_both_backends;
use crate::support::{Db, Receiver, Reply, TestApp};

/// A staff member with a name and a token: `(id, token)`.
async fn staff(app: &TestApp, name: &str, email: &str, role: &str) -> (i64, String) {
    let (status, user) = app.post("/api/v1/users", json!({"name": name, "email": email, "role": role})).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_i64().expect("id");
    let (status, token) = app.post(&format!("/api/v1/users/{id}/tokens"), json!({"label": "ui"})).await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    (id, token["token"].as_str().expect("token").to_owned())
}

async fn browser_as(app: &TestApp, token: &str) -> Option<Browser> {
    let browser = Browser::open(app).await?;
    browser.goto("/ui/login").await;
    browser.fill("token", token).await;
    browser.click_button("Sign in").await;
    browser.wait_for_path(|path| path == "/ui/").await;
    Some(browser)
}

#[tokio::test]
async fn an_agent_creates_changes_and_finds_a_ticket_by_choosing() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, token) = staff(&app, "Fox Mulder", "fox@example.com", "agent").await;
    let (dana, _) = staff(&app, "Dana Scully", "dana@example.com", "agent").await;
    let (status, _) = app
        .post("/api/v1/macros", json!({"title": "Escalate", "actions": [{"field": "priority", "value": "urgent"}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let Some(browser) = browser_as(&app, &token).await else { return };

    browser.click_link("Tickets").await;
    browser.click_link("New ticket").await;
    browser.wait_for_path(|path| path == "/ui/tickets/new").await;
    browser.fill("subject", "Printer on fire in room 12").await;
    browser.fill("description", "Smoke everywhere.").await;
    browser.fill("requester_email", "ann@example.com").await;
    browser.fill("requester_name", "Ann Smith").await;
    browser.choose("status", "open").await;
    browser.choose("priority", "high").await;
    browser.choose("type", "incident").await;
    browser.choose_label("assignee_id", "Dana Scully").await;
    browser.fill("tags", "printer vip").await;
    browser.fill("custom_fields", "order: 42\nfloor: third").await;
    browser.click_button("Create ticket").await;
    browser.wait_for_text("Created ticket #").await;
    let path = browser.path().await;
    let id = path.trim_start_matches("/ui/tickets/").to_owned();
    let (_, ticket) = app.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(ticket["assignee_id"], json!(dana), "{ticket}");
    assert_eq!(ticket["type"], json!("incident"));
    assert_eq!(ticket["status"], json!("open"));
    assert_eq!(ticket["priority"], json!("high"));
    assert_eq!(ticket["tags"], json!(["printer", "vip"]));
    assert_eq!(ticket["custom_fields"], json!({"order": 42, "floor": "third"}));
    assert_eq!(ticket["requester"]["email"], json!("ann@example.com"));
    assert_eq!(ticket["requester"]["name"], json!("Ann Smith"));
    assert_eq!(browser.text_of("assignee-name").await, "Dana Scully");

    browser
        .client
        .find(Locator::Css("button[aria-label=\"Remove the tag vip\"]"))
        .await
        .expect("a remove button per tag")
        .click()
        .await
        .expect("clicked");
    browser.wait_for_text("Removed the tag “vip”").await;
    assert_eq!(app.get(&format!("/api/v1/tickets/{id}")).await.1["tags"], json!(["printer"]));

    browser.fill("custom_fields", "order: 43\nsite: Paris").await;
    browser.fill("comment", "On my way with a fire extinguisher.").await;
    browser.choose("type", "problem").await;
    browser.click_button("Update").await;
    browser.wait_for_text("Updated ticket").await;
    let (_, ticket) = app.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(ticket["custom_fields"], json!({"order": 43, "site": "Paris"}), "changed, added, removed");
    assert_eq!(ticket["type"], json!("problem"));
    assert_eq!(ticket["assignee_id"], json!(dana), "kept");

    browser.choose_label("macro_id", "Escalate").await;
    browser.click_button("Apply").await;
    let page = browser.wait_for_text("Applied “Escalate”").await;
    assert_eq!(app.get(&format!("/api/v1/tickets/{id}")).await.1["priority"], json!("urgent"));
    assert!(page.contains("Fox Mulder, "), "the comment's author by name: {page}");
    assert!(page.contains("as Fox Mulder"), "the audit's actor by name: {page}");
    assert!(!page.contains("user "), "no bare ids: {page}");

    for (search, found) in [
        ("?q=ROOM+12", true),
        ("?q=ann%40example", true),
        ("?q=Ann+Smith", true),
        ("?tag=printer", true),
        ("?tag=vip", false),
        ("?q=nothing+like+it", false),
    ] {
        browser.goto(&format!("/ui/tickets{search}")).await;
        let list = browser.wait_for_text("Tickets").await;
        assert_eq!(list.contains("Printer on fire in room 12"), found, "{search}: {list}");
    }
    browser.goto("/ui/tickets").await;
    browser.fill("q", "printer on").await;
    browser.click_button("Search").await;
    browser.wait_for_path(|path| path == "/ui/tickets").await;
    browser.wait_for_text("Printer on fire in room 12").await;
    browser.close().await;
}

/// The search reads subject, requester name and email, in any case, `%` and `_` as themselves.
async fn tickets_are_found_by_subject_and_requester(db: Db) {
    let app = TestApp::spawn(db).await;
    for (subject, email) in [("50% off", "a@example.com"), ("500 off", "b@example.com"), ("a_b", "c@example.com")] {
        app.ticket(json!({"subject": subject, "requester": {"name": "Requester", "email": email}})).await;
    }
    let subjects = |page: Value| -> Vec<String> {
        page["data"].as_array().expect("data").iter().map(|t| t["subject"].as_str().expect("s").to_owned()).collect()
    };
    assert_eq!(subjects(app.get("/api/v1/tickets?q=50%25").await.1), ["50% off"]);
    assert_eq!(subjects(app.get("/api/v1/tickets?q=a_").await.1), ["a_b"]);
    assert_eq!(subjects(app.get("/api/v1/tickets?q=B%40EXAMPLE").await.1), ["500 off"]);
    assert_eq!(subjects(app.get("/api/v1/tickets?q=requester").await.1).len(), 3);
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let page = ui.get("/ui/tickets?q=OFF&status=").await.text().await.expect("a page");
    assert!(page.contains("50% off") && page.contains("500 off") && !page.contains("a_b"), "{page}");
    let refused = ui.get(&format!("/ui/tickets?q={}", "x".repeat(300))).await.text().await.expect("a page");
    assert!(refused.contains("at most 200 characters"), "{refused}");
}

on_both_backends!(tickets_are_found_by_subject_and_requester);

/// The text of `<pre id="ID">` in `page`, unescaped.
fn pre_text(page: &str, id: &str) -> String {
    let start = page.find(&format!("<pre id=\"{id}\"")).unwrap_or_else(|| panic!("#{id} in {page}"));
    let text = &page[start..];
    let text = &text[text.find('>').expect("the tag's end") + 1..];
    let text = &text[..text.find("</pre>").expect("its end")];
    text.replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

#[tokio::test]
async fn copy_as_curl_sends_the_same_request_again() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let receiver = Receiver::start().await;
    let webhook =
        app.webhook(&receiver.url("/in?a=1&b=2"), json!({"custom_headers": {"X-Quote": "it's \"quoted\""}})).await;
    app.notify_on_create(&webhook, json!({"payload": "{\"subject\": \"{{ ticket.subject }}\", \"n\": [1, 2]}"})).await;
    app.ticket(json!({"subject": "Tom's $HOME `date`", "requester": {"name": "R", "email": "r@example.com"}})).await;
    let first = receiver.wait_for(1).await[0].clone();
    let invocation = app.invocations("").await[0]["id"].as_str().expect("id").to_owned();
    app.settled(&invocation).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let page = ui.get(&format!("/ui/log/{invocation}")).await.text().await.expect("a page");
    assert!(page.contains("&#34;n&#34;: [\n    1,\n    2\n  ]"), "the JSON body pretty-printed: {page}");
    assert!(page.contains("data-copy=\"attempt-1-body\" hidden"), "copy buttons wait for the script");
    let command = pre_text(&page, "attempt-1-curl");
    let ran = tokio::process::Command::new("sh").arg("-c").arg(&command).output().await.expect("sh runs");
    assert!(ran.status.success(), "{command}: {}", String::from_utf8_lossy(&ran.stderr));
    let again = receiver.wait_for(2).await[1].clone();
    assert_eq!(again.method, first.method);
    assert_eq!(again.path, first.path);
    assert_eq!(again.body, first.body, "byte for byte");
    assert_eq!(again.body, "{\"subject\": \"Tom's $HOME `date`\", \"n\": [1, 2]}");
    for header in ["x-quote", "webhook-id", "webhook-timestamp", "content-type", "user-agent"] {
        assert_eq!(again.header(header), first.header(header), "{header}");
    }
    // The log redacts the signature: the command carries no secret the page does not show.
    assert_eq!(again.header("webhook-signature"), Some("[redacted]"));
}

#[tokio::test]
async fn an_invocation_page_refreshes_until_delivered_and_names_no_lease() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let receiver = Receiver::responding(|_| Reply::status(200).after(std::time::Duration::from_secs(2))).await;
    let webhook = app.webhook(&receiver.url("/slow"), json!({})).await;
    app.notify_on_create(&webhook, json!({})).await;
    app.ticket(json!({"subject": "Slow", "requester": {"name": "R", "email": "r@example.com"}})).await;
    receiver.wait_for(1).await;
    let invocation = app.invocations("").await[0]["id"].as_str().expect("id").to_owned();
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let in_flight = ui.get(&format!("/ui/log/{invocation}")).await.text().await.expect("a page");
    assert!(in_flight.contains("http-equiv=\"refresh\""), "refreshes while in flight: {in_flight}");
    assert!(!in_flight.contains("Next attempt"), "an attempt's lease is no next attempt: {in_flight}");
    app.settled(&invocation).await;
    let delivered = ui.get(&format!("/ui/log/{invocation}")).await.text().await.expect("a page");
    assert!(!delivered.contains("http-equiv=\"refresh\""), "stops once delivered");
}

/// What every page shows at its longest: a 1,000-character subject, a long URL, a big JSON
/// body. Answers the pages to check (signed in), in one list: add new pages here.
async fn every_page(app: &TestApp) -> Vec<String> {
    let word = "Supercalifragilisticexpialidocious".repeat(7);
    let subject: String = format!("{word} {}", "printer on fire ".repeat(60)).chars().take(1000).collect();
    let receiver = Receiver::start().await;
    let long_path = format!("/{}", "segment-".repeat(40));
    let webhook = app.webhook(&receiver.url(&long_path), json!({})).await;
    let big: Value = (0..60).map(|i| (format!("key_{i}_{}", "k".repeat(40)), json!("v".repeat(120)))).collect();
    let payload = format!("{{\"subject\": {{{{ ticket.subject | json }}}}, \"big\": {big}}}");
    let trigger = app.notify_on_create(&webhook, json!({"payload": payload})).await;
    let ticket = app
        .ticket(json!({"subject": subject, "description": word, "tags": ["a-very-long-tag-name-indeed"],
            "custom_fields": {"url": format!("https://example.com{long_path}")},
            "requester": {"name": word, "email": "r@example.com"},
            "comment": {"body": big.to_string()}}))
        .await;
    receiver.wait_for(1).await;
    let invocation = app.invocations("").await[0]["id"].as_str().expect("id").to_owned();
    let (_, bin) = app.post("/api/v1/inbound_webhooks", json!({"name": word})).await;
    let bin_id = bin["id"].as_str().expect("id").to_owned();
    let sent = reqwest::Client::new()
        .post(format!("{}{long_path}?{}", bin["url"].as_str().expect("url"), "q=1&".repeat(50)))
        .header("x-long", word.as_str())
        .header("content-type", "application/json")
        .body(big.to_string())
        .send()
        .await
        .expect("the bin answers");
    assert!(sent.status().is_success());
    let (_, calls) = app.get(&format!("/api/v1/inbound_webhooks/{bin_id}/calls")).await;
    let call = calls["data"][0]["id"].as_str().expect("a call").to_owned();
    let (_, made) =
        app.post("/api/v1/macros", json!({"title": word, "actions": [{"field": "priority", "value": "urgent"}]})).await;
    let (_, user) =
        app.post("/api/v1/users", json!({"name": word, "email": "long@example.com", "role": "agent"})).await;
    let ticket_id = &ticket["id"];
    vec![
        "/ui/".into(),
        "/ui/tickets".into(),
        "/ui/tickets/new".into(),
        format!("/ui/tickets/{ticket_id}"),
        "/ui/triggers".into(),
        "/ui/triggers/new".into(),
        format!("/ui/triggers/{trigger}"),
        format!("/ui/triggers/{trigger}/delete"),
        "/ui/automations".into(),
        "/ui/automations/new".into(),
        "/ui/macros".into(),
        "/ui/macros/new".into(),
        format!("/ui/macros/{}", made["id"]),
        "/ui/webhooks".into(),
        "/ui/webhooks/new".into(),
        format!("/ui/webhooks/{webhook}"),
        format!("/ui/webhooks/{webhook}/delete"),
        "/ui/log".into(),
        format!("/ui/log?webhook_id={webhook}"),
        format!("/ui/log/{invocation}"),
        "/ui/inbound".into(),
        "/ui/inbound/new".into(),
        format!("/ui/inbound/{bin_id}"),
        format!("/ui/inbound/{bin_id}/edit"),
        format!("/ui/inbound/{bin_id}/calls/{call}"),
        "/ui/users".into(),
        format!("/ui/users/{}", user["id"]),
        "/ui/import".into(),
        "/ui/no-such-page".into(),
    ]
}

#[tokio::test]
async fn every_page_fits_a_phone_and_is_accessible_in_light_and_dark() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let pages = every_page(&app).await;
    let Some(browser) = Browser::open(&app).await else { return };
    browser.phone_width().await;
    let mut problems = Vec::new();
    let mut checked = 0;
    for scheme in ["light", "dark"] {
        browser.color_scheme(scheme).await;
        if scheme == "dark" {
            browser.goto("/ui/").await;
            browser.click_button("Sign out").await;
            browser.wait_for_path(|path| path == "/ui/login").await;
        }
        browser.goto("/ui/login").await;
        let mut visited = vec!["/ui/login".to_owned()];
        let check = async |page: &str, problems: &mut Vec<String>| {
            if let Some((wide, window)) = browser.sideways().await {
                let culprits = browser.too_wide().await;
                problems.push(format!("{scheme} {page}: {wide} px wide in a {window} px window: {culprits:#}"));
            }
            let violations = browser.accessibility_violations().await;
            if !violations.is_empty() {
                problems.push(format!("{scheme} {page}: {violations:#?}"));
            }
        };
        check("/ui/login", &mut problems).await;
        browser.fill("token", &app.token).await;
        browser.click_button("Sign in").await;
        browser.wait_for_path(|path| path == "/ui/").await;
        for page in &pages {
            browser.goto(page).await;
            check(page, &mut problems).await;
            visited.push(page.clone());
        }
        if scheme == "dark" {
            browser.goto(&pages[3]).await;
            browser.screenshot("phone-dark-ticket").await;
        }
        checked += visited.len();
    }
    assert_eq!(checked, 2 * (pages.len() + 1));
    assert!(problems.is_empty(), "{} of {checked} page views fail:\n{}", problems.len(), problems.join("\n"));
    browser.close().await;
}

#[tokio::test]
async fn a_browser_gets_hookdesks_own_inbound_errors_in_words() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, bin) = app.post("/api/v1/inbound_webhooks", json!({"name": "bin"})).await;
    let url = bin["url"].as_str().expect("url");
    let unknown = format!("{}x", url.trim_end_matches('/'));
    let browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let http = reqwest::Client::new();
    let page = http.post(&unknown).header("accept", browser_accept).send().await.expect("answers");
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.headers()["content-type"].to_str().expect("text").starts_with("text/html"));
    assert!(page.headers()["content-security-policy"].to_str().expect("text").starts_with("sandbox"));
    let html = page.text().await.expect("a page");
    assert!(html.contains("<h1>404 Not Found</h1>") && html.contains("not_found"), "{html}");
    for accept in ["application/json", "*/*", "application/json, text/html;q=0.5"] {
        let json = http.post(&unknown).header("accept", accept).send().await.expect("answers");
        assert_eq!(json.status(), StatusCode::NOT_FOUND);
        let body: Value = json.json().await.expect("JSON");
        assert_eq!(body["error"]["code"], json!("not_found"), "{accept}");
    }
    // A bin's own answer is not hookdesk's error: untouched, even for a browser.
    let answer = http.get(url).header("accept", browser_accept).send().await.expect("answers");
    assert_eq!(answer.text().await.expect("text"), "{\"ok\": true}");

    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let list = ui.get("/ui/inbound").await.text().await.expect("a page");
    assert!(list.contains("request bin"), "{list}");
    let calls = ui.get(&format!("/ui/inbound/{}", bin["id"].as_str().expect("id"))).await.text().await.expect("a page");
    assert!(calls.contains(&format!("curl -gsS -X &#39;GET&#39; &#39;{url}&#39;")), "each call as curl: {calls}");
    let (status, _) = app
        .patch(
            &format!("/api/v1/inbound_webhooks/{}", bin["id"].as_str().expect("id")),
            json!({"response": {"status": 200, "body": "thanks"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let list = ui.get("/ui/inbound").await.text().await.expect("a page");
    assert!(!list.contains("request bin</td>"), "an answer of its own is no bin: {list}");
}

#[tokio::test]
async fn error_pages_keep_the_menu() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, token) = staff(&app, "Fox Mulder", "fox@example.com", "agent").await;
    let mut agent = UiClient::new(&app);
    agent.sign_in(&token).await;
    let forbidden = agent.get("/ui/webhooks").await;
    let not_found = agent.get("/ui/no-such-page").await;
    let bad_id = agent.get("/ui/tickets/not-a-number").await;
    let not_allowed = agent.post("/ui/tickets", &[]).await;
    let missing_macro = agent.post("/ui/tickets/1/macro", &[("macro_id", "nope")]).await;
    for (response, status) in [
        (forbidden, StatusCode::FORBIDDEN),
        (not_found, StatusCode::NOT_FOUND),
        (bad_id, StatusCode::NOT_FOUND),
        (not_allowed, StatusCode::METHOD_NOT_ALLOWED),
        (missing_macro, StatusCode::NOT_FOUND),
    ] {
        assert_eq!(response.status(), status);
        let page = response.text().await.expect("a page");
        assert!(page.contains("<nav aria-label=\"Main\">") && page.contains(">Tickets</a>"), "{status}: {page}");
        assert!(!page.contains(">Webhooks</a>"), "agents' menu: {page}");
    }
}
