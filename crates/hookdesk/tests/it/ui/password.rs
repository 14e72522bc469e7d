//! Signing in as a person: email and password, invitation and reset links, the lockout after
//! failed sign-ins and `hookdesk user set-password` lifting it, over plain HTTP (both
//! backends), in a real Chromium, and in the real binary's logs.

use std::process::Stdio;
use std::time::Duration;

use reqwest::{StatusCode, header};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::browser::Browser;
use super::{UiClient, csrf_of};
use crate::on_both_backends;
use crate::serve_process::{hookdesk, serve};
use crate::support::{Db, TestApp, user_with_token};

pub(super) const PASSWORD: &str = "a long enough password";
const LOCKED: &str =
    "Too many failed sign-ins for this account: try again in 5 minutes, or ask an admin for a reset link.";
const WRONG: &str = "That email and password do not match an agent";

fn location(response: &reqwest::Response) -> &str {
    response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// An agent without a password or a token; answers their id.
async fn agent(app: &TestApp, email: &str) -> i64 {
    let (status, user) = app.post("/api/v1/users", json!({"name": "Ann Agent", "email": email, "role": "agent"})).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    user["id"].as_i64().expect("id")
}

/// A new link of `kind` for user `id`, through the API; answers its path (`/ui/password/...`).
pub(super) async fn link(app: &TestApp, id: i64, kind: &str) -> String {
    let (status, link) = app.post(&format!("/api/v1/users/{id}/password_links"), json!({"kind": kind})).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    assert_eq!(link["kind"], kind);
    assert!(link["expires_at"].is_string(), "{link}");
    let url = link["url"].as_str().expect("a url");
    let path = url.strip_prefix(&app.url("")).unwrap_or_else(|| panic!("{url} is on the public URL"));
    assert!(path.starts_with("/ui/password/") && path.len() > 50, "a random token in {path}");
    path.to_owned()
}

/// Posts the set-password form of `path` with `password` twice.
pub(super) async fn set_password(ui: &UiClient, path: &str, password: &str) -> reqwest::Response {
    ui.post(path, &[("password", password), ("confirmation", password)]).await
}

/// Signs `ui` in with an email and a password; keeps the session as `UiClient::sign_in` does.
pub(super) async fn sign_in_with_password(ui: &mut UiClient, email: &str, password: &str) -> reqwest::Response {
    let response = ui.post("/ui/login", &[("email", email), ("password", password)]).await;
    keep_session(ui, &response).await;
    response
}

async fn keep_session(ui: &mut UiClient, response: &reqwest::Response) {
    // The session's among the cookies set (a message for the next page may come first).
    let session = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|cookie| cookie.to_str().ok()?.split(';').next())
        .find(|pair| pair.starts_with("hookdesk_session="))
        .map(str::to_owned);
    if let Some(pair) = session {
        ui.cookie = Some(pair);
        let page = ui.get("/ui/").await.text().await.expect("a page");
        ui.csrf = csrf_of(&page);
    }
}

fn sets_session(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|c| c.to_str().is_ok_and(|c| c.starts_with("hookdesk_session=")))
}

/// `hookdesk user set-password EMAIL` on `app`'s database, `password` on stdin.
async fn cli_set_password(app: &TestApp, email: &str, password: &str) -> std::process::Output {
    let database = &app.config.database;
    let mut child = hookdesk()
        .args(["user", "set-password", email, "--database", &database.database, "--secret-key-file"])
        .arg(database.secret_key_file.as_ref().expect("tests give a key file"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(format!("{password}\n").as_bytes()).await.expect("written");
    drop(stdin);
    child.wait_with_output().await.expect("it ends")
}

async fn an_invitation_sets_a_password_that_then_signs_in(db: Db) {
    let app = TestApp::spawn(db).await;
    let id = agent(&app, "ann@example.com").await;
    let path = link(&app, id, "invitation").await;
    let mut ui = UiClient::new(&app);

    let page = ui.get(&path).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("page");
    assert!(page.contains("choose your password") && page.contains("ann@example.com"), "{page}");
    for (fields, says) in [
        ([("password", "too short"), ("confirmation", "too short")], "at least 10 characters"),
        ([("password", PASSWORD), ("confirmation", "another long password")], "same as the password"),
    ] {
        let refused = ui.post(&path, &fields).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!sets_session(&refused));
        assert!(refused.text().await.expect("page").contains(says), "{says}");
    }

    let done = set_password(&ui, &path, PASSWORD).await;
    assert_eq!((done.status(), location(&done)), (StatusCode::SEE_OTHER, "/ui/"));
    assert!(sets_session(&done), "setting the password signs in");
    keep_session(&mut ui, &done).await;
    let overview = ui.get("/ui/").await.text().await.expect("page");
    assert!(overview.contains("Ann Agent") && overview.contains("Sign out"), "signed in as the agent");

    // The link worked once.
    let again = UiClient::new(&app);
    for used in [again.get(&path).await, set_password(&again, &path, "yet another password").await] {
        assert_eq!(used.status(), StatusCode::NOT_FOUND);
        assert!(used.text().await.expect("page").contains("This link does not work"));
    }

    // Signed out, the password signs in; a wrong one, or an unknown email, does not.
    ui.post("/ui/logout", &[]).await;
    let mut fresh = UiClient::new(&app);
    let wrong = sign_in_with_password(&mut fresh, "ann@example.com", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(!sets_session(&wrong));
    assert!(wrong.text().await.expect("page").contains(WRONG));
    let unknown = sign_in_with_password(&mut fresh, "nobody@example.com", PASSWORD).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(unknown.text().await.expect("page").contains(WRONG), "the same words for an unknown email");
    let right = sign_in_with_password(&mut fresh, "ANN@example.com ", PASSWORD).await;
    assert_eq!((right.status(), location(&right)), (StatusCode::SEE_OTHER, "/ui/"));
    assert!(fresh.get("/ui/").await.text().await.expect("page").contains("Ann Agent"));
    // An agent's password session is an agent's: admin pages refuse it.
    assert_eq!(fresh.get("/ui/users").await.status(), StatusCode::FORBIDDEN);

    // The token sign-in stays.
    let mut admin = UiClient::new(&app);
    assert_eq!(admin.sign_in(&app.token).await.status(), StatusCode::SEE_OTHER);
}

async fn an_expired_replaced_or_orphaned_link_is_refused(db: Db) {
    let app = TestApp::spawn(db).await;
    let id = agent(&app, "bo@example.com").await;
    let ui = UiClient::new(&app);

    let first = link(&app, id, "reset").await;
    let second = link(&app, id, "reset").await;
    assert_eq!(ui.get(&first).await.status(), StatusCode::NOT_FOUND, "a new link replaces the earlier one");
    assert_eq!(ui.get(&second).await.status(), StatusCode::OK);
    app.config.clock.advance(Duration::from_secs(61 * 60));
    assert_eq!(ui.get(&second).await.status(), StatusCode::NOT_FOUND, "a reset link works an hour");
    assert_eq!(set_password(&ui, &second, PASSWORD).await.status(), StatusCode::NOT_FOUND);

    let invitation = link(&app, id, "invitation").await;
    app.config.clock.advance(Duration::from_secs(6 * 24 * 3600));
    assert_eq!(ui.get(&invitation).await.status(), StatusCode::OK, "an invitation works a week");
    let (status, _) = app.patch(&format!("/api/v1/users/{id}"), json!({"role": "end_user"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ui.get(&invitation).await.status(), StatusCode::NOT_FOUND, "an end user's link stops working");
    assert_eq!(set_password(&ui, &invitation, PASSWORD).await.status(), StatusCode::NOT_FOUND);
    let (status, body) = app.post(&format!("/api/v1/users/{id}/password_links"), json!({"kind": "reset"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no link for an end user: {body}");
    // Made an agent again, nothing of before comes back: the old link stays dead.
    let (status, _) = app.patch(&format!("/api/v1/users/{id}"), json!({"role": "agent"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ui.get(&invitation).await.status(), StatusCode::NOT_FOUND, "a link does not come back with the role");
    let (status, _) = app.post(&format!("/api/v1/users/{id}/password_links"), json!({"kind": "forever"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.post("/api/v1/users/999999/password_links", json!({"kind": "reset"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(ui.get("/ui/password/not-a-link").await.status(), StatusCode::NOT_FOUND);
}

async fn failures_lock_an_account_until_set_password_unlocks_it(db: Db) {
    let app = TestApp::spawn(db).await;
    agent(&app, "cy@example.com").await;
    let short = cli_set_password(&app, "cy@example.com", "short").await;
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"), "{short:?}");
    let nobody = cli_set_password(&app, "nobody@example.com", PASSWORD).await;
    assert!(!nobody.status.success(), "{nobody:?}");
    let set = cli_set_password(&app, "cy@example.com", PASSWORD).await;
    assert!(set.status.success(), "{set:?}");
    let mut ui = UiClient::new(&app);
    assert_eq!(sign_in_with_password(&mut ui, "cy@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);

    // Five wrong passwords in a row lock the account; then even the right one is refused.
    // An email nobody has locks the same way, in the same words.
    for email in ["cy@example.com", "nobody@example.com"] {
        let mut browser = UiClient::new(&app);
        for _ in 0..4 {
            let wrong = sign_in_with_password(&mut browser, email, "a wrong password").await;
            assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        }
        let fifth = sign_in_with_password(&mut browser, email, "a wrong password").await;
        assert_eq!(fifth.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(fifth.headers().contains_key(header::RETRY_AFTER));
        assert!(fifth.text().await.expect("page").contains(LOCKED), "{email}");
        let right = sign_in_with_password(&mut browser, email, PASSWORD).await;
        assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS, "{email}: locked, the password is not checked");
        assert!(!sets_session(&right));
        assert!(right.text().await.expect("page").contains("try again in"), "{email}");
    }

    // The operator sets a new password: the lockout ends, and it signs in.
    let reset = cli_set_password(&app, "cy@example.com", "the new long password").await;
    assert!(reset.status.success(), "{reset:?}");
    assert!(String::from_utf8_lossy(&reset.stdout).contains("cy@example.com"));
    let mut after = UiClient::new(&app);
    let old = sign_in_with_password(&mut after, "cy@example.com", PASSWORD).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED, "the old password is gone");
    let new = sign_in_with_password(&mut after, "cy@example.com", "the new long password").await;
    assert_eq!((new.status(), location(&new)), (StatusCode::SEE_OTHER, "/ui/"));
    // The session opened with the old password ended with it.
    assert_eq!(location(&ui.get("/ui/").await), "/ui/login");

    let metrics = reqwest::get(app.url("/metrics")).await.expect("metrics").text().await.expect("text");
    for reason in ["wrong_password", "locked"] {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(&format!("hookdesk_sign_in_refusals_total{{reason=\"{reason}\"}}")))
            .unwrap_or_else(|| panic!("{reason} in {metrics}"));
        assert!(!line.ends_with(" 0"), "{line}");
    }
}

async fn an_agent_cannot_create_links(db: Db) {
    let app = TestApp::spawn(db).await;
    let (agent_id, agent_token) = user_with_token(&app, "agent@example.com", "agent").await;
    let response = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/users/{agent_id}/password_links")))
        .bearer_auth(&agent_token)
        .json(&json!({"kind": "reset"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let mut ui = UiClient::new(&app);
    ui.sign_in(&agent_token).await;
    let refused = ui.post(&format!("/ui/users/{agent_id}/password-link"), &[("kind", "reset")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // An admin's page makes one, shown once.
    let mut admin = UiClient::new(&app);
    admin.sign_in(&app.token).await;
    let made = admin.post(&format!("/ui/users/{agent_id}/password-link"), &[("kind", "invitation")]).await;
    assert_eq!(made.status(), StatusCode::OK);
    let page = made.text().await.expect("page");
    let at = page.find("/ui/password/").expect("the link is on the page");
    let path: String = page[at..].chars().take_while(|c| *c != '<' && *c != '"').collect();
    assert_eq!(ui.get(&path).await.status(), StatusCode::OK);
    let later = admin.get(&format!("/ui/users/{agent_id}")).await.text().await.expect("page");
    assert!(!later.contains("/ui/password/"), "shown once");
}

on_both_backends!(
    an_invitation_sets_a_password_that_then_signs_in,
    an_expired_replaced_or_orphaned_link_is_refused,
    failures_lock_an_account_until_set_password_unlocks_it,
    an_agent_cannot_create_links,
    links_and_passwords_never_appear_in_logs,
);

#[tokio::test]
async fn a_person_sets_a_password_and_signs_in_in_a_browser() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let id = agent(&app, "dee@example.com").await;
    let path = link(&app, id, "invitation").await;
    let Some(browser) = Browser::open(&app).await else { return };
    browser.goto(&path).await;
    browser.wait_for_text("choose your password").await;
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "the set-password page: {violations:#?}");
    browser.screenshot("set-password").await;
    browser.fill("password", PASSWORD).await;
    browser.fill("confirmation", PASSWORD).await;
    browser.click_button("Set password").await;
    browser.wait_for_text("Your password is set").await;
    browser.click_button("Sign out").await;
    browser.wait_for_path(|p| p == "/ui/login").await;
    browser.fill("email", "dee@example.com").await;
    browser.fill("password", "not the password").await;
    browser.click_button("Sign in").await;
    browser.wait_for_text("do not match").await;
    browser.fill("password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser.wait_for_path(|p| p == "/ui/").await;
    browser.wait_for_text("Signed in as Ann Agent").await;
    browser.close().await;
}

/// The real binary's log, through a link, a password set, sign-ins right and wrong, and the
/// command line: no password, link or hash in it.
async fn links_and_passwords_never_appear_in_logs(db: Db) {
    const ADMIN_TOKEN: &str = "password-logs-admin-token-0123456789";
    const SECRET: &str = "a password nobody may log";
    const WRONG_SECRET: &str = "a wrong password nobody may log";
    let node = serve(db, ADMIN_TOKEN, &[]).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let user: serde_json::Value = client
        .post(format!("{}/api/v1/users", node.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "Eve", "email": "eve@example.com", "role": "admin"}))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let link: serde_json::Value = client
        .post(format!("{}/api/v1/users/{}/password_links", node.url, user["id"]))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"kind": "invitation"}))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let url = link["url"].as_str().expect("a url").to_owned();
    let token = url.rsplit('/').next().expect("a token").to_owned();
    let post = |path: String, form: Vec<(&'static str, &'static str)>| {
        let client = client.clone();
        let origin = node.url.clone();
        async move {
            client
                .post(path)
                .header(header::ORIGIN, origin)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish())
                .send()
                .await
                .expect("answers")
                .status()
        }
    };
    assert_eq!(client.get(&url).send().await.expect("answers").status(), StatusCode::OK);
    assert_eq!(post(url.clone(), vec![("password", SECRET), ("confirmation", SECRET)]).await, StatusCode::SEE_OTHER);
    let login = format!("{}/ui/login", node.url);
    let wrong = vec![("email", "eve@example.com"), ("password", WRONG_SECRET)];
    assert_eq!(post(login.clone(), wrong).await, StatusCode::UNAUTHORIZED);
    let right = vec![("email", "eve@example.com"), ("password", SECRET)];
    assert_eq!(post(login, right).await, StatusCode::SEE_OTHER);
    node.stderr_line(|l| l.contains("password set through a link")).await;
    node.stderr_line(|l| l.contains("route=/ui/login") && l.contains("status=303")).await;
    let lines = node.stderr();
    for line in &lines {
        for secret in [SECRET, WRONG_SECRET, token.as_str(), "$argon2"] {
            assert!(!line.contains(secret), "{secret:?} in the log: {line}");
        }
    }
    assert!(lines.iter().any(|l| l.contains("route=/ui/password/{token}")), "the route template, not the path");
    node.stop().await;
}
