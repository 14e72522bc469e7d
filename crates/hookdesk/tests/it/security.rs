//! The second security round (issue 23), each finding reproduced through the real server:
//! inbound pages that would act on the UI's origin, a macro that froze the server, calls that
//! filled the disk, unthrottled sign-ins, NUL in ids and filters, costly forms, and what
//! `/metrics`, `/healthz` and every answer gave away.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use reqwest::Method;
use reqwest::header;
use serde_json::{Value, json};

use crate::support::{Db, PATIENCE, TestApp, refusal, status_and_code, user_with_token};
use crate::ui::UiClient;
use crate::ui::browser::Browser;

async fn inbound(app: &TestApp, body: Value) -> Value {
    let (status, webhook) = app.post("/api/v1/inbound_webhooks", body).await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    webhook
}

/// A thank-you page that greets the caller by the name it sent.
fn thank_you_page() -> Value {
    json!({"name": "Thanks", "response": {"status": 200, "headers": {"Content-Type": "text/html; charset=utf-8"},
        "body": "<h1>Thanks, {{ request.params.name }}!</h1>"}})
}

/// A TwiML-style answer that says what the caller sent.
fn xml_answer() -> Value {
    json!({"name": "Voice", "response": {"status": 200, "headers": {"Content-Type": "application/xml"},
        "body": "<?xml version=\"1.0\"?><Response><Say>{{ request.params.name }}</Say></Response>"}})
}

async fn every_inbound_answer_is_sandboxed_and_may_not_set_origin_headers(db: Db) {
    let app = TestApp::spawn(db).await;
    let page = inbound(&app, thank_you_page()).await;
    let client = reqwest::Client::new();
    let url = page["url"].as_str().expect("url");
    let answers = [
        client.get(format!("{url}?name=%3Cscript%3E")).send().await.expect("answers"),
        client.get(app.url("/hooks/not-a-token")).send().await.expect("answers"),
        client.post(url).header(header::CONTENT_LENGTH, "2000000").send().await.expect("answers"),
    ];
    for (answer, status) in answers.iter().zip([200, 404, 413]) {
        assert_eq!(answer.status().as_u16(), status);
        let headers = answer.headers();
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        assert!(policy.starts_with("sandbox;") && policy.contains("default-src 'none'"), "{status}: {policy}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{status}");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{status}");
    }

    // Headers that would act on the origin are refused when saved, naming the header.
    for name in
        ["Set-Cookie", "Content-Security-Policy", "Access-Control-Allow-Origin", "X-Frame-Options", "Clear-Site-Data"]
    {
        let body = json!({"name": "x", "response": {"headers": {name: "x"}}});
        let (status, error) = app.post("/api/v1/inbound_webhooks", body).await;
        assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{name}: {error}");
        assert_eq!(error["error"]["details"][0]["field"], format!("response.headers.{name}"), "{error}");
        let patch = json!({"response": {"headers": {name: "x"}}});
        let (status, error) =
            app.patch(&format!("/api/v1/inbound_webhooks/{}", page["id"].as_str().expect("id")), patch).await;
        assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{name}: {error}");
    }

    // An answer a UI page could load as its own script or style (`<script src="/hooks/...">`,
    // out of the sandbox's reach) is refused when saved, and never sent when a call renders it.
    for value in ["text/javascript", "application/javascript; charset=utf-8", "TEXT/CSS", "text/plain, text/javascript"]
    {
        let body = json!({"name": "x", "response": {"headers": {"Content-Type": value}}});
        let (status, error) = app.post("/api/v1/inbound_webhooks", body).await;
        assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{value}: {error}");
        assert_eq!(error["error"]["details"][0]["field"], "response.headers.Content-Type", "{error}");
    }
    let chosen = inbound(
        &app,
        json!({"name": "typed by the caller", "response": {"status": 200, "headers": {"Content-Type": "{{ request.params.type }}"}, "body": "window.__pwned = true"}}),
    )
    .await;
    let url = chosen["url"].as_str().expect("url");
    let answer = client.get(format!("{url}?type=text/javascript")).send().await.expect("answers");
    let content_type = answer.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or_default().to_owned());
    assert!(!content_type.as_deref().unwrap_or_default().contains("javascript"), "{content_type:?}");
    assert!(!answer.text().await.expect("a body").contains("__pwned"), "the script is not sent");
    let listed = client.get(format!("{url}?type=text/css,text/javascript")).send().await.expect("answers");
    let content_type = listed.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or_default().to_owned());
    assert!(!content_type.as_deref().unwrap_or_default().contains("javascript"), "a list: {content_type:?}");
    let plain = client.get(format!("{url}?type=text/plain")).send().await.expect("answers");
    assert_eq!(plain.headers()[header::CONTENT_TYPE], "text/plain");

    // Every other answer is never sniffed into another type either.
    for path in ["/api/v1/tickets", "/healthz", "/no/such/route", "/ui/login"] {
        let answer = client.get(app.url(path)).send().await.expect("answers");
        assert_eq!(answer.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
    }
}

/// Fetches `path` from the current page's own context: what a script planted there could
/// read with the admin's cookie. Answers `read <status>` or `refused`.
async fn fetch_from_page(browser: &Browser, path: &str) -> String {
    let script = "const done = arguments[arguments.length - 1];
        fetch(arguments[0], {credentials: 'include'})
            .then(r => r.text().then(t => done('read ' + r.status + ' ' + t.length)))
            .catch(() => done('refused'));";
    let answer = browser.client.execute_async(script, vec![json!(path)]).await.expect("the script runs");
    answer.as_str().unwrap_or_default().to_owned()
}

async fn page_state(browser: &Browser) -> Value {
    browser
        .client
        .execute(
            "return {pwned: window.__pwned === true, origin: String(window.origin), text: document.documentElement.textContent};",
            vec![],
        )
        .await
        .expect("the page answers")
}

/// The high finding: a signed-in admin sent to a thank-you page (a link, or an auto-posted
/// form) whose name echoes a script. The script must not run, and even a script that did
/// could not read a UI page with the admin's cookie: the page's origin is opaque.
#[tokio::test]
async fn an_echoing_inbound_page_cannot_run_a_script_or_read_the_ui() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let html = inbound(&app, thank_you_page()).await;
    let xml = inbound(&app, xml_answer()).await;
    let Some(browser) = Browser::open(&app).await else { return };
    browser.goto("/ui/login").await;
    browser.fill("token", &app.token).await;
    browser.click_button("Sign in").await;
    browser.wait_for_path(|path| path == "/ui/").await;
    // The control: from a page of the UI, a script reads another with the admin's cookie.
    let control = fetch_from_page(&browser, "/ui/users/1").await;
    assert!(control.starts_with("read 200"), "{control}");

    let steal = "fetch('/ui/users/1').then(r => r.text()).then(t => { window.__stolen = t; }); window.__pwned = true;";
    let attacks = [
        (&html, format!("<script>{steal}</script>")),
        (&xml, format!("<h:script xmlns:h=\"http://www.w3.org/1999/xhtml\">{steal}</h:script>")),
    ];
    for (webhook, name) in attacks {
        let url = webhook["url"].as_str().expect("url");
        let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("name", &name).finish();
        browser.client.goto(&format!("{url}?{query}")).await.expect("the page loads");
        // A script of the page runs before its load completes, which `goto` waits for.
        let state = page_state(&browser).await;
        assert!(state["text"].as_str().is_some_and(|t| t.contains("fetch('/ui/users/1')")), "answered: {state}");
        assert_eq!(state["pwned"], false, "{}: the echoed script ran", webhook["name"]);
        assert_eq!(state["origin"], "null", "{}: the page is not sandboxed", webhook["name"]);
        let attempt = fetch_from_page(&browser, "/ui/users/1").await;
        assert_eq!(attempt, "refused", "{}: a script there read a UI page", webhook["name"]);
    }
    browser.close().await;
}

/// The first medium finding: one large macro, parsed on every read on the threads that serve
/// `/healthz`, kept it waiting for as long as the read took. A macro over the limit is now
/// refused when saved; one saved before the limit (written to the store here) still loads,
/// and while it does `/healthz` answers within a fraction of the read's time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_huge_macro_leaves_healthz_answering() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let huge = "{{ ticket.subject }} ".repeat(900 * 1024 / 21);
    let actions = json!([{"field": "add_comment", "value": {"body": huge, "public": false}}]);
    let (status, error) = app.post("/api/v1/macros", json!({"title": "huge", "actions": actions})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["code"], "templates_too_large", "{error}");
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("131072")), "names the limit: {error}");

    // As an older hookdesk saved it, written straight to its table: nothing in this process
    // (the server's) has parsed it yet.
    let mut saved = Vec::new();
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&app.config.database.database).await.expect("connects");
        for i in 0..2 {
            let actions = json!([{"field": "add_comment", "value": {"body": format!("{i}{huge}"), "public": false}}]);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO macros (title, description, active, actions, created_at, updated_at)
                 VALUES ($1, '', 1, $2, 0, 0) RETURNING id",
            )
            .bind(format!("huge {i}"))
            .bind(actions.to_string())
            .fetch_one(&mut conn)
            .await
            .expect("saved");
            saved.push(id);
        }
        conn.close().await.ok();
    }

    let client = reqwest::Client::new();
    let health = |client: reqwest::Client, url: String| async move {
        let started = Instant::now();
        let answer = client.get(url).send().await.expect("healthz answers");
        assert_eq!(answer.status(), 200);
        started.elapsed()
    };
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(health(client.clone(), app.url("/healthz")).await);
    }
    // The list reads titles only; reading one macro parses it.
    let (status, list) = app.get("/api/v1/macros").await;
    assert_eq!((status, list["data"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)));
    // Two reads at once: as many as the runtime has threads to answer requests.
    let reads: Vec<_> = saved
        .iter()
        .map(|id| {
            let (client, url, token) = (client.clone(), app.url(&format!("/api/v1/macros/{id}")), app.token.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let answer = client.get(url).bearer_auth(token).send().await.expect("the macro is read");
                assert_eq!(answer.status(), 200);
                answer.bytes().await.expect("the macro");
                started.elapsed()
            })
        })
        .collect();
    let mut during = Vec::new();
    while !reads.iter().all(tokio::task::JoinHandle::is_finished) {
        during.push(health(client.clone(), app.url("/healthz")).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut read = Duration::ZERO;
    for each in reads {
        read = read.max(each.await.expect("the read ends"));
    }
    idle.sort();
    during.sort();
    let worst = during.last().copied().unwrap_or_default();
    eprintln!(
        "reading two 900 KB macros at once took {read:?}; /healthz meanwhile: {} answers, median {:?}, worst {worst:?} (idle median {:?})",
        during.len(),
        during.get(during.len() / 2).copied().unwrap_or_default(),
        idle[idle.len() / 2]
    );
    assert!(during.len() >= 3, "the read was over before /healthz was asked: {read:?}");
    assert!(worst * 5 < read, "/healthz waited {worst:?} while a read took {read:?}");

    // Small templates, each new, that take long to render: tried on a request thread, each
    // gives up there within a few milliseconds and renders off it.
    let costly = |i: usize| {
        format!(
            "{{% assign a = 'xxxxxxxxxxxxxxxx' %}}{}{}{{{{ c | size }}}}{i}",
            "{% assign a = a | append: a %}".repeat(14),
            "{% assign c = a | replace: 'x', 'y' %}".repeat(8)
        )
    };
    let saves: Vec<_> = (0..2)
        .map(|worker| {
            let (client, url, token) = (client.clone(), app.url("/api/v1/macros"), app.token.clone());
            let bodies: Vec<Value> = (0..6)
                .map(|i| json!({"title": "costly", "actions": [{"field": "add_comment", "value": {"body": costly(worker * 100 + i)}}]}))
                .collect();
            tokio::spawn(async move {
                let started = Instant::now();
                for body in bodies {
                    let answer = client.post(&url).bearer_auth(&token).json(&body).send().await.expect("saved");
                    assert!(answer.status().is_client_error() || answer.status().is_success(), "{}", answer.status());
                }
                started.elapsed() / 6
            })
        })
        .collect();
    let mut during = Vec::new();
    while !saves.iter().all(tokio::task::JoinHandle::is_finished) {
        during.push(health(client.clone(), app.url("/healthz")).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut save = Duration::ZERO;
    for each in saves {
        save = save.max(each.await.expect("the saves end"));
    }
    during.sort();
    let worst = during.last().copied().unwrap_or_default();
    eprintln!("saving costly macros took {save:?} each; /healthz meanwhile: {} answers, worst {worst:?}", during.len());
    assert!(worst * 3 < save, "/healthz waited {worst:?} while a save took {save:?}");
}

async fn a_header_flood_is_logged_within_its_bounds_and_logs_within_their_budget(db: Db) {
    let app = TestApp::spawn_with(db, |config| config.inbound_log_budget = 256 * 1024).await;
    let bin = inbound(&app, json!({"name": "bin"})).await;
    let id = bin["id"].as_str().expect("id");
    let url = bin["url"].as_str().expect("url");
    let client = reqwest::Client::new();
    let value = "v".repeat(4000);
    // 90 headers of 4 KB are past the 64 KiB a request's head may take: refused at once.
    let mut flood = client.post(url).body("x".repeat(16 * 1024));
    for i in 0..90 {
        flood = flood.header(format!("x-flood-{i}"), &value);
    }
    assert_eq!(flood.send().await.expect("answers").status().as_u16(), 431);
    // 14 of them fit, and are logged within the call log's bounds.
    let mut flood = client.post(url).body("x".repeat(16 * 1024));
    for i in 0..14 {
        flood = flood.header(format!("x-flood-{i}"), &value);
    }
    assert!(flood.send().await.expect("answers").status().is_success());
    let (_, calls) = app.get(&format!("/api/v1/inbound_webhooks/{id}/calls")).await;
    let headers = calls["data"][0]["headers"].as_object().expect("headers").clone();
    assert!(headers.contains_key("x-flood-13"), "every name is kept");
    let kept: usize = headers.iter().map(|(name, value)| name.len() + value.as_str().map_or(0, str::len)).sum();
    assert!(kept < 20 * 1024, "14 headers of 4 KB are kept in {kept} bytes");
    assert!(headers["x-flood-0"].as_str().is_some_and(|v| v.ends_with("[cut: 4000 bytes]")), "the cut is said");
    assert!(
        headers["x-flood-13"].as_str().is_some_and(|v| v.starts_with("[not kept: 4000 bytes")),
        "so is what is left out"
    );

    // 40 more calls of ~16 KiB each: over the 256 KiB budget, the oldest go.
    for _ in 0..40 {
        let sent = client.post(url).body("y".repeat(16 * 1024)).send().await.expect("answers");
        assert!(sent.status().is_success());
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let kept = loop {
        let (_, calls) = app.get(&format!("/api/v1/inbound_webhooks/{id}/calls?limit=500")).await;
        let kept = calls["data"].as_array().map_or(0, Vec::len);
        if kept <= 256 * 1024 * 9 / 8 / (16 * 1024) {
            break kept;
        }
        assert!(tokio::time::Instant::now() < deadline, "{kept} calls of 16 KiB are still kept within 256 KiB");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(kept >= 10, "the newest calls stay: {kept}");

    // The bin's page shows one page of calls, each cut, however large they are.
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let page = ui.get(&format!("/ui/inbound/{id}")).await.text().await.expect("the page");
    assert_eq!(page.matches("class=\"card call\"").count(), kept.min(20), "one page of calls");
    assert!(page.len() < 200 * 1024, "the page is {} bytes", page.len());
    assert!(page.contains("more bytes]") && page.contains("The whole call"), "cuts are said and lead to the call");
}

async fn wrong_tokens_are_throttled_per_address_and_sessions_capped(db: Db) {
    let app =
        TestApp::spawn_with(db, |config| config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")]).await;
    let from = |address: &str, token: &str| {
        reqwest::Client::new().get(app.url("/api/v1/tickets")).bearer_auth(token).header("x-forwarded-for", address)
    };
    for i in 0..20 {
        let answer = from("203.0.113.7", &format!("wrong-{i}")).send().await.expect("answers");
        assert_eq!(status_and_code(answer).await, (401, "unauthorized".into()), "failure {i}");
    }
    let answer = from("203.0.113.7", "wrong-21").send().await.expect("answers");
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = answer.headers()[header::RETRY_AFTER].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=3).contains(&wait), "{wait}");
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body["error"]["code"], "throttled");
    // Even the right token is not looked at from there now; another address is not held.
    let answer = from("203.0.113.7", &app.token).send().await.expect("answers");
    assert_eq!(status_and_code(answer).await, (429, "throttled".into()));
    assert_eq!(from("198.51.100.1", &app.token).send().await.expect("answers").status(), StatusCode::OK);
    // The sign-in form counts the same failures.
    let sign_in = reqwest::Client::new()
        .post(app.url("/ui/login"))
        .header(header::ORIGIN, app.url(""))
        .header("x-forwarded-for", "203.0.113.7")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(url::form_urlencoded::Serializer::new(String::new()).append_pair("token", &app.token).finish())
        .send()
        .await
        .expect("answers");
    assert_eq!(sign_in.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(sign_in.headers().contains_key(header::RETRY_AFTER));
    assert!(sign_in.text().await.expect("page").contains("too many wrong tokens"), "the page says why");
    let (_, metrics) = app.call(Method::GET, "/metrics", None, None).await;
    let metrics = metrics.as_str().expect("text").to_owned();
    assert!(metrics.contains("hookdesk_token_refusals_total{reason=\"unknown_token\"} 20"), "{metrics}");
    assert!(metrics.contains("hookdesk_token_refusals_total{reason=\"throttled\"} 3"), "{metrics}");

    // Signing in again and again leaves at most 16 sessions: the oldest end.
    let (_, agent) = user_with_token(&app, "agent@example.com", "agent").await;
    let mut first = UiClient::new(&app);
    first.sign_in(&agent).await;
    assert_eq!(first.get("/ui/tickets").await.status(), StatusCode::OK);
    let mut last = UiClient::new(&app);
    for _ in 0..16 {
        last = UiClient::new(&app);
        last.sign_in(&agent).await;
    }
    assert_eq!(last.get("/ui/tickets").await.status(), StatusCode::OK);
    let ended = first.get("/ui/tickets").await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER, "the oldest session ended");
}

/// Every path and query parameter the API and the UI read, sent a NUL, bytes that are not
/// UTF-8 and an overlong value: a 4xx naming it, never a 5xx (PostgreSQL answered 500).
async fn unreadable_parameters_are_refused_naming_them(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let (_, document) = app.get("/openapi.json").await;
    let long = "x".repeat(3000);
    let bad = ["%00", "a%00b", "%FF%FE", long.as_str()];
    let mut checked = 0;
    let check = |status: u16, body: &str, name: &str, what: &str| {
        assert!((400..500).contains(&status), "{what}: {status} {body}");
        assert!(
            body.contains(&format!("`{name}`")) || body.contains(&format!("\"{name}\"")),
            "{what} names {name}: {body}"
        );
    };
    let client = reqwest::Client::new();
    for (template, item) in document["paths"].as_object().expect("paths") {
        if template.starts_with("/hooks") {
            continue;
        }
        let item = item.as_object().expect("an item");
        for (method, operation) in item {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            let parameters: Vec<String> = operation["parameters"]
                .as_array()
                .map(|p| p.iter().filter_map(|p| p["name"].as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            for name in &parameters {
                let placeholder = format!("{{{name}}}");
                for value in bad {
                    let path = if template.contains(&placeholder) {
                        template.replace(&placeholder, value).replace(['{', '}'], "")
                    } else {
                        format!("{}?{name}={value}", template.replace(['{', '}'], ""))
                    };
                    let answer = client
                        .request(method.clone(), app.url(&path))
                        .bearer_auth(&app.token)
                        .json(&json!({}))
                        .send()
                        .await
                        .expect("answers");
                    let status = answer.status().as_u16();
                    let body = answer.text().await.expect("a body");
                    check(status, &body, name, &format!("{method} {path}"));
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 100, "{checked} requests");
    // The UI's pages read ids and filters too.
    for path in [
        "/ui/log?q=%00",
        "/ui/log?webhook_id=%00",
        "/ui/log?cursor=%FF",
        "/ui/webhooks/%00",
        "/ui/inbound/%00",
        "/ui/log/%00",
        "/ui/tickets?tag=%00",
    ] {
        let answer = ui.get(path).await;
        let status = answer.status().as_u16();
        let body = answer.text().await.expect("a page");
        let name = path.split(['?', '=']).nth(1).filter(|_| path.contains('?')).unwrap_or("id");
        check(status, &body, name, path);
    }
}

/// A 1 MiB form read each name by scanning every field: a form of many fields cost far more
/// than the same bytes in a few. Now both cost about the same, and a form of more fields than
/// any page sends is refused.
async fn a_large_form_costs_about_what_its_bytes_do(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let ticket = app.ticket(json!({"subject": "form"})).await;
    let rule = [
        ("title", "dry".to_owned()),
        ("ticket_id", ticket["id"].to_string()),
        ("conditions.all[0].field", "status".into()),
        ("conditions.all[0].operator", "is".into()),
        ("conditions.all[0].value", "new".into()),
        ("actions[0].field", "add_tags".into()),
        ("actions[0].value", "x".into()),
    ];
    let filler = "f".repeat(200);
    let names: Vec<String> = (0..4900).map(|i| format!("unused{i}")).collect();
    let many: Vec<(&str, &str)> =
        names.iter().map(|n| (n.as_str(), filler.as_str())).chain(rule.iter().map(|(n, v)| (*n, v.as_str()))).collect();
    let one_field = filler.repeat(4900);
    let few: Vec<(&str, &str)> =
        std::iter::once(("unused", one_field.as_str())).chain(rule.iter().map(|(n, v)| (*n, v.as_str()))).collect();
    let (mut many_best, mut few_best) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        for (form, best) in [(&many, &mut many_best), (&few, &mut few_best)] {
            let started = Instant::now();
            let answer = ui.post("/ui/triggers/dry-run", form).await;
            assert_eq!(answer.status(), StatusCode::OK);
            assert!(answer.text().await.expect("a page").contains("Dry run"), "the dry run ran");
            *best = (*best).min(started.elapsed());
        }
    }
    eprintln!("1 MiB as a form of 4,907 fields: {many_best:?}; as 8 fields: {few_best:?}");
    assert!(many_best < few_best * 5, "many fields {many_best:?}, few {few_best:?}");

    let too_many: Vec<(String, String)> = (0..5001).map(|i| (format!("f{i}"), String::new())).collect();
    let too_many: Vec<(&str, &str)> = too_many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let answer = ui.post("/ui/triggers/dry-run", &too_many).await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.text().await.expect("page").contains("more than 5000 fields"));
}

/// The second attack: a 400 KB method went whole into every log line and an inbound call's
/// log; a form of 140,000 fields cost 124 ms; a NUL in a UI form field answered 500 on
/// PostgreSQL; the macro list had no pages.
async fn methods_fields_and_lists_are_bounded(db: Db) {
    let app = TestApp::spawn(db).await;
    let bin = inbound(&app, json!({"name": "bin"})).await;
    let (id, url) = (bin["id"].as_str().expect("id"), bin["url"].as_str().expect("url"));
    let client = reqwest::Client::new();
    let long = Method::from_bytes("M".repeat(1000).as_bytes()).expect("a token");
    for target in [url.to_owned(), app.url("/api/v1/tickets")] {
        let answer = client.request(long.clone(), &target).send().await.expect("answers");
        assert_eq!(answer.status(), StatusCode::NOT_IMPLEMENTED, "{target}");
        assert_eq!(answer.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{target}");
        let policy = answer.headers()[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        assert!(policy.starts_with("sandbox;"), "{target}: {policy}");
    }
    let webdav = Method::from_bytes(b"PROPFIND").expect("a token");
    assert_eq!(client.request(webdav, url).send().await.expect("answers").status(), StatusCode::ACCEPTED);
    let (_, calls) = app.get(&format!("/api/v1/inbound_webhooks/{id}/calls")).await;
    assert_eq!(calls["data"].as_array().map(Vec::len), Some(1), "only the call of a real method is logged");

    let fields = "f=1&".repeat(1001);
    let answer = client
        .post(url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(fields)
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("1000 fields")), "{body}");

    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let answer = ui.post("/ui/log/replay-failed", &[("webhook_id", "\0")]).await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);

    for title in ["b", "a", "c"] {
        let actions = json!([{"field": "add_tags", "value": title}]);
        let (status, _) = app.post("/api/v1/macros", json!({"title": title, "actions": actions})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, first) = app.get("/api/v1/macros?limit=2").await;
    let titles = |page: &Value| -> Vec<String> {
        page["data"].as_array().expect("data").iter().map(|m| m["title"].as_str().expect("title").to_owned()).collect()
    };
    assert_eq!(titles(&first), ["a", "b"]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let (_, rest) = app.get(&format!("/api/v1/macros?limit=2&cursor={cursor}")).await;
    assert_eq!((titles(&rest), rest["next_cursor"].clone()), (vec!["c".to_owned()], Value::Null));
    let (status, error) = app.get("/api/v1/macros?cursor=nonsense").await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
}

/// The third attack: an agent's previews of a macro that spends its whole render budget on a
/// tagged ticket, sixty-four at once, took both cores from the requests (/healthz 260 times
/// slower). Long renders now take turns on all cores but one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_costly_previews_at_once_leave_healthz_answering() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, agent) = user_with_token(&app, "agent@example.com", "agent").await;
    let costly = "{% if ticket.tags contains 'boom' %}{% assign a = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' %}{% for i in (1..99000) %}{% assign b = a | append: i %}{% endfor %}{% endif %}done";
    let actions = json!([{"field": "add_comment", "value": {"body": costly, "public": false}}]);
    let (status, saved) = app
        .call(Method::POST, "/api/v1/macros", Some(json!({"title": "costly", "actions": actions})), Some(&agent))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let ticket = app.ticket(json!({"subject": "boom", "tags": ["boom"]})).await;
    let preview = format!("/api/v1/tickets/{}/macros/{}", ticket["id"], saved["id"]);
    // An update whose trigger renders a loop: its render holds SQLite's writer, so it must
    // not wait behind the previews for a turn (every other write would wait with it).
    let (status, trigger) = app
        .post("/api/v1/triggers", json!({"title": "List the tags",
            "conditions": {"all": [{"field": "tags", "operator": "includes", "value": "listed"}]},
            "actions": [{"field": "add_comment", "value": {"body": "{% for t in ticket.tags %}{{ t }} {% endfor %}", "public": false}}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{trigger}");
    let other = app.ticket(json!({"subject": "written meanwhile"})).await;
    let write = |app: &TestApp, tag: String| {
        let path = format!("/api/v1/tickets/{}", other["id"]);
        let (client, url, token) = (reqwest::Client::new(), app.url(&path), app.token.clone());
        async move {
            let started = Instant::now();
            let answer = client
                .patch(url)
                .bearer_auth(token)
                .json(&json!({"add_tags": ["listed", tag]}))
                .send()
                .await
                .expect("answers");
            assert_eq!(answer.status(), 200);
            started.elapsed()
        }
    };
    let mut idle_writes = Vec::new();
    for i in 0..5 {
        idle_writes.push(write(&app, format!("idle{i}")).await);
    }
    let client = reqwest::Client::new();
    let health = |client: reqwest::Client, url: String| async move {
        let started = Instant::now();
        assert_eq!(client.get(url).send().await.expect("healthz answers").status(), 200);
        started.elapsed()
    };
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(health(client.clone(), app.url("/healthz")).await);
    }
    let previews: Vec<_> = (0..12)
        .map(|_| {
            let (client, url, token) = (client.clone(), app.url(&preview), agent.clone());
            tokio::spawn(
                async move { client.get(url).bearer_auth(token).send().await.expect("answers").status().as_u16() },
            )
        })
        .collect();
    let started = Instant::now();
    let mut during = Vec::new();
    let mut writes = Vec::new();
    while !previews.iter().all(tokio::task::JoinHandle::is_finished) {
        during.push(health(client.clone(), app.url("/healthz")).await);
        if writes.len() < 5 {
            writes.push(write(&app, format!("busy{}", writes.len())).await);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    for preview in previews {
        assert!(preview.await.expect("a preview") < 500);
    }
    idle.sort();
    during.sort();
    let (idle, median) = (idle[idle.len() / 2], during[during.len() / 2]);
    eprintln!(
        "12 costly previews took {took:?}; /healthz meanwhile: {} answers, median {median:?} (idle {idle:?})",
        during.len()
    );
    idle_writes.sort();
    writes.sort();
    let (idle_write, busy_write) = (idle_writes[idle_writes.len() / 2], writes[writes.len() / 2]);
    eprintln!("an update rendering a loop: {busy_write:?} (median of {}) meanwhile, {idle_write:?} idle", writes.len());
    assert!(during.len() >= 5, "the previews were over before /healthz was asked");
    assert!(median < idle * 10 + Duration::from_millis(2), "/healthz took {median:?} (median), {idle:?} idle");
    assert!(writes.len() >= 3, "the previews were over before the updates were sent");
    assert!(
        busy_write < idle_write * 10 + Duration::from_millis(20),
        "an update took {busy_write:?} (median) during previews, {idle_write:?} idle"
    );
}

/// The seventh attack: searches of 199 `a`s and a `b` over long subjects (`LIKE` reads every
/// row) took 0.33 s each; sixteen at once stalled `/healthz` and writes. A search is at most
/// 200 characters on every list, and searches take turns (two at once) without holding a
/// database connection while they wait.
async fn searches_are_bounded_on_every_list(db: Db) {
    let app = TestApp::spawn(db).await;
    let long = "a".repeat(201);
    for list in ["/api/v1/tickets", "/api/v1/users", "/api/v1/webhooks", "/api/v1/invocations"] {
        let (status, error) = app.get(&format!("{list}?q={long}")).await;
        assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{list}: {error}");
        assert_eq!(error["error"]["details"][0]["field"], "q", "{list}: {error}");
        let (status, _) = app.get(&format!("{list}?q={}", &long[1..])).await;
        assert_eq!(status, StatusCode::OK, "{list}: 200 characters are searched");
    }
    // More searches than may run at once all answer.
    let searches: Vec<_> = (0..12)
        .map(|n| {
            let request =
                reqwest::Client::new().get(app.url(&format!("/api/v1/tickets?q=x{n}"))).bearer_auth(&app.token);
            tokio::spawn(async move { request.send().await.expect("answers").status().as_u16() })
        })
        .collect();
    for search in searches {
        assert_eq!(search.await.expect("a search"), 200);
    }
}

/// The third attack: a form of 120,000 tags took 22 s (tags were deduplicated in a list) and
/// left a ticket every later update of which took as long; a public form's calls wrote 174
/// MB a minute of tickets.
async fn tags_and_what_a_form_writes_are_bounded(db: Db) {
    let app = TestApp::spawn(db).await;
    let form = inbound(
        &app,
        json!({"name": "Contact form", "actions": [{"type": "create_ticket", "fields": {
            "subject": "{{ request.params.subject }}", "description": "{{ request.params.message }}",
            "requester": {"email": "form@example.com"}, "tags": "web_form {{ request.params.topic }}"}}]}),
    )
    .await;
    let client = reqwest::Client::new();
    let url = form["url"].as_str().expect("url");
    let tags: Vec<String> = (0..30_000).map(|i| format!("t{i}")).collect();
    let started = Instant::now();
    let answer = client
        .post(url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("subject", "x")
                .append_pair("topic", &tags.join(" "))
                .finish(),
        )
        .send()
        .await
        .expect("answers");
    let took = started.elapsed();
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.text().await.expect("body").contains("at most 100 tags"));
    let (_, tickets) = app.get("/api/v1/tickets").await;
    assert_eq!(tickets["data"], json!([]), "nothing was created");
    eprintln!("a call of 30,000 tags was refused in {took:?}");
    let ticket = app.ticket(json!({"subject": "tags"})).await;
    let hundred_and_one: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    let (status, error) =
        app.patch(&format!("/api/v1/tickets/{}", ticket["id"]), json!({"add_tags": hundred_and_one})).await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "tags");

    // A minute's bodies: 1 MiB by default; beyond, 429, and nothing written.
    let fresh = inbound(
        &app,
        json!({"name": "Another form", "actions": [{"type": "create_ticket", "fields": {
        "subject": "{{ request.params.subject }}", "description": "{{ request.params.message }}",
        "requester": {"email": "form@example.com"}}}]}),
    )
    .await;
    let url = fresh["url"].as_str().expect("url");
    let message = "m".repeat(300 * 1024);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("subject", "big")
            .append_pair("message", &message)
            .finish();
        let answer = client
            .post(url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("answers");
        statuses.push(status_and_code(answer).await);
    }
    let (fit, over) = ((422, "invalid_value".to_owned()), (429, "rate_limited".to_owned()));
    assert_eq!(
        statuses,
        [fit.clone(), fit.clone(), fit, over],
        "three bodies of 300 KiB fit in a minute's 1 MiB, the fourth does not"
    );
}

async fn queries_count_toward_a_minute_of_bytes_and_are_logged_cut(db: Db) {
    let app = TestApp::spawn_with(db, |config| config.inbound_bytes_per_minute = 64 * 1024).await;
    // A form that writes what it is sent (a bin's calls are bounded by its log's budget).
    let form = inbound(
        &app,
        json!({"name": "Query form", "actions": [{"type": "create_ticket", "fields": {
            "subject": "from a query", "requester": {"email": "form@example.com"}}}]}),
    )
    .await;
    let id = form["id"].as_str().expect("id");
    let url = form["url"].as_str().expect("url");
    let client = reqwest::Client::new();
    let query = format!("q={}", "a".repeat(20 * 1024));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let answer = client.get(format!("{url}?{query}")).send().await.expect("answers");
        statuses.push(answer.status().as_u16());
    }
    assert!(statuses[..3].iter().all(|s| *s < 300), "three queries of 20 KiB fit in a minute's 64 KiB: {statuses:?}");
    assert_eq!(statuses[3], 429, "the fourth does not");
    let (_, calls) = app.get(&format!("/api/v1/inbound_webhooks/{id}/calls")).await;
    let logged = calls["data"].as_array().expect("calls");
    assert_eq!(logged.len(), 3, "the refused call is not logged: {}", logged.len());
    let kept = logged[0]["query"].as_str().expect("query");
    assert_eq!(kept.len(), 16 * 1024, "a query is logged cut, as a body is");
}

async fn a_ticket_holds_a_bounded_amount_of_comments(db: Db) {
    let app = TestApp::spawn(db).await;
    let ticket = app.ticket(json!({"subject": "chatty"})).await;
    let path = format!("/api/v1/tickets/{}", ticket["id"]);
    // 64 comments of 65,000 characters (the most one may hold) fit in 4 MiB; a 65th does not.
    let body = "c".repeat(65_000);
    for _ in 0..64 {
        let (status, answer) = app.patch(&path, json!({"comment": {"body": body, "public": false}})).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (status, error) =
        app.patch(&path, json!({"comment": {"body": body, "public": false}, "add_tags": ["x"]})).await;
    assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
    assert_eq!(error["error"]["details"][0]["field"], "comment", "{error}");
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("follow-up ticket")), "{error}");
    let (_, after) = app.get(&path).await;
    assert_eq!(after["comments"].as_array().map(Vec::len), Some(64), "the 65th was not added");
    assert_eq!(after["tags"], json!([]), "nor anything else of its change");
    // A ticket that is full still takes every other change.
    let (status, answer) = app.patch(&path, json!({"add_tags": ["follow_up"]})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// The fourth attack: an agent grew one ticket's custom fields to 31.5 MB, 900 KB a PATCH,
/// until each write took 6.5 s and a list of tickets 31.5 MB.
async fn a_ticket_holds_a_bounded_amount_of_custom_fields(db: Db) {
    let app = TestApp::spawn(db).await;
    let ticket = app.ticket(json!({"subject": "fields"})).await;
    let path = format!("/api/v1/tickets/{}", ticket["id"]);
    let (status, answer) = app.patch(&path, json!({"custom_fields": {"notes": "n".repeat(60_000)}})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    for more in [
        json!({"custom_fields": {"more": "m".repeat(10_000)}}),
        json!({"custom_fields": (0..101).map(|i| (format!("k{i}"), json!(i))).collect::<serde_json::Map<_, _>>()}),
    ] {
        let (status, error) = app.patch(&path, more).await;
        assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{error}");
        assert_eq!(error["error"]["details"][0]["field"], "custom_fields", "{error}");
    }
    let (_, after) = app.get(&path).await;
    assert_eq!(after["custom_fields"].as_object().map(|f| f.len()), Some(1), "nothing was added");
    // Replacing the large field with a small one is a change like any other.
    let (status, answer) = app.patch(&path, json!({"custom_fields": {"notes": "short", "more": 1}})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// A macro's comment renders once, before the update takes the writer, and is kept as it
/// rendered: a template that reads what the transaction changes (`updated_at`) cannot render
/// cheaply outside and dearly inside (the sixth attack held SQLite's writer ~200 ms a call).
async fn a_macro_comment_renders_once_before_the_writer_is_taken(db: Db) {
    let app = TestApp::spawn(db).await;
    let ticket = app.ticket(json!({"subject": "stamp me"})).await;
    let body = "{% if ticket.updated_at == ticket.created_at %}as the agent saw it{% else %}re-rendered in the update{% endif %}";
    let (status, made) = app
        .post(
            "/api/v1/macros",
            json!({"title": "stamp", "actions": [{"field": "add_comment", "value": {"body": body}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    app.config.clock.advance(Duration::from_secs(3600));
    let path = format!("/api/v1/tickets/{}/macros/{}", ticket["id"], made["id"]);
    let (status, applied) = app.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_ne!(applied["updated_at"], applied["created_at"], "the update moved the ticket's time");
    let comments = applied["comments"].as_array().expect("comments");
    assert_eq!(comments.last().expect("the macro's comment")["body"], "as the agent saw it");
}

crate::on_both_backends!(
    a_macro_comment_renders_once_before_the_writer_is_taken,
    searches_are_bounded_on_every_list,
    a_ticket_holds_a_bounded_amount_of_custom_fields,
    queries_count_toward_a_minute_of_bytes_and_are_logged_cut,
    a_ticket_holds_a_bounded_amount_of_comments,
    tags_and_what_a_form_writes_are_bounded,
    methods_fields_and_lists_are_bounded,
    every_inbound_answer_is_sandboxed_and_may_not_set_origin_headers,
    a_header_flood_is_logged_within_its_bounds_and_logs_within_their_budget,
    wrong_tokens_are_throttled_per_address_and_sessions_capped,
    unreadable_parameters_are_refused_naming_them,
    a_large_form_costs_about_what_its_bytes_do,
);

/// `/metrics` asks for its token when one is set; `/hooks` moves to a listener of its own;
/// `/healthz` names this node by an id that tells nothing of when it started.
#[tokio::test]
async fn metrics_token_hooks_listener_and_node_ids() {
    let app = TestApp::spawn_with(Db::Sqlite, |config| {
        config.metrics_token = Some("metrics-token-0123456789".into());
        config.hooks_listen = Some("127.0.0.1:0".parse().expect("address"));
    })
    .await;
    let client = reqwest::Client::new();
    let metrics = client.get(app.url("/metrics")).send().await.expect("answers");
    assert_eq!(status_and_code(metrics).await, (401, "unauthorized".into()));
    let wrong = client.get(app.url("/metrics")).bearer_auth("metrics-token-wrong").send().await.expect("answers");
    assert_eq!(status_and_code(wrong).await, (401, "unauthorized".into()));
    let right = client.get(app.url("/metrics")).bearer_auth("metrics-token-0123456789").send().await.expect("answers");
    assert_eq!(right.status(), StatusCode::OK);

    let hook = inbound(&app, json!({"name": "elsewhere"})).await;
    let url = hook["url"].as_str().expect("url");
    assert!(!url.starts_with(&app.url("")), "the URL is on the hooks listener: {url}");
    assert_eq!(client.post(url).send().await.expect("answers").status(), StatusCode::ACCEPTED);
    let path = &url[url.find("/hooks/").expect("a hooks path")..];
    let answer = client.post(app.url(path)).send().await.expect("answers");
    assert_eq!(status_and_code(answer).await, (404, "not_found".into()), "{path} on the main listener");
    let hooks_base = &url[..url.find("/hooks/").expect("a hooks path")];
    for elsewhere in ["/api/v1/tickets", "/ui/login", "/metrics"] {
        let answer = client.get(format!("{hooks_base}{elsewhere}")).send().await.expect("answers");
        assert_eq!(status_and_code(answer).await, (404, "not_found".into()), "{elsewhere} on the hooks listener");
    }

    let (_, health) = app.get("/healthz").await;
    let node = health["node"].as_str().expect("a node id");
    let hex = node.strip_prefix("node_").expect("node_ and hex");
    assert!(hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "{node}");
    // A UUIDv7 begins with its creation time in milliseconds: this one is not now.
    let millis = u64::from_str_radix(&hex[..12], 16).expect("hex");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    assert!(millis.abs_diff(now) > 86_400_000, "{node} tells when it started");
}
