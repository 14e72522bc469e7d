//! Sign-in, sign-out, CSRF and the page policy, over plain HTTP.

use std::time::Duration;

use reqwest::{StatusCode, header};

use super::UiClient;
use super::password::{PASSWORD, link, set_password, sign_in_with_password};
use crate::on_both_backends;
use crate::support::{Db, TestApp, user_with_token};

fn location(response: &reqwest::Response) -> &str {
    response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

async fn a_session_opens_with_a_token_and_ends_with_sign_out(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut ui = UiClient::new(&app);
    let root = ui.get("/").await;
    assert_eq!((root.status(), location(&root)), (StatusCode::SEE_OTHER, "/ui/"));
    let anonymous = ui.get("/ui/").await;
    assert_eq!((anonymous.status(), location(&anonymous)), (StatusCode::SEE_OTHER, "/ui/login"));

    let wrong = ui.sign_in("not-a-token").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(header::SET_COOKIE).is_none());
    assert!(wrong.text().await.expect("page").contains("That token is not an agent"), "the page says why");

    let signed_in = ui.sign_in(&app.token).await;
    assert_eq!((signed_in.status(), location(&signed_in)), (StatusCode::SEE_OTHER, "/ui/"));
    let cookie = signed_in.headers()[header::SET_COOKIE].to_str().expect("ascii").to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age="] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(!cookie.contains("Secure"), "http public URL: a Secure cookie would never come back");
    let session_id = cookie.split(';').next().and_then(|p| p.split_once('=')).map(|(_, v)| v.to_owned());
    let session_id = session_id.expect("a session id");
    assert!(session_id.len() >= 43, "256 random bits, base64: {session_id}");

    let overview = ui.get("/ui/").await;
    assert_eq!(overview.status(), StatusCode::OK);
    let page = overview.text().await.expect("page");
    assert!(page.contains("<h1>Overview</h1>") && page.contains("Sign out"));
    assert!(ui.csrf.is_some(), "pages carry the CSRF token");

    // Signing out ends the session on the server, not only in this browser.
    let stolen = ui.cookie.clone();
    let out = ui.post("/ui/logout", &[]).await;
    assert_eq!((out.status(), location(&out)), (StatusCode::SEE_OTHER, "/ui/login"));
    assert!(out.headers()[header::SET_COOKIE].to_str().expect("ascii").contains("Max-Age=0"));
    ui.cookie = stolen;
    assert_eq!(location(&ui.get("/ui/").await), "/ui/login");
}

async fn a_state_changing_request_needs_the_csrf_token_and_our_origin(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let bins = || async { app.get("/api/v1/inbound_webhooks").await.1["data"].as_array().map_or(0, Vec::len) };

    let forged = ui.post("/ui/inbound/bins", &[("csrf", "guessed")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let missing = {
        let token = ui.csrf.take();
        let response = ui.post("/ui/inbound/bins", &[]).await;
        ui.csrf = token;
        response
    };
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let elsewhere = ui.post_from("/ui/inbound/bins", &[], "https://evil.example").await;
    assert_eq!(elsewhere.status(), StatusCode::FORBIDDEN);
    assert_eq!(bins().await, 0, "a refused request changes nothing");

    let made = ui.post("/ui/inbound/bins", &[]).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    assert!(location(&made).starts_with("/ui/inbound/hook_"), "{}", location(&made));
    assert_eq!(bins().await, 1);
}

async fn an_agent_sees_only_what_the_role_allows(db: Db) {
    let app = TestApp::spawn(db).await;
    let (_, agent_token) = user_with_token(&app, "agent@example.com", "agent").await;
    let mut agent = UiClient::new(&app);
    agent.sign_in(&agent_token).await;
    let page = agent.get("/ui/").await.text().await.expect("page");
    assert!(page.contains(">Tickets</a>") && !page.contains(">Webhooks</a>") && !page.contains(">Log</a>"));
    for path in ["/ui/webhooks", "/ui/log", "/ui/inbound", "/ui/webhooks/new"] {
        assert_eq!(agent.get(path).await.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(agent.post("/ui/inbound/bins", &[]).await.status(), StatusCode::FORBIDDEN);

    let mut admin = UiClient::new(&app);
    admin.sign_in(&app.token).await;
    let page = admin.get("/ui/").await.text().await.expect("page");
    for entry in ["Overview", "Webhooks", "Log", "Inbound"] {
        assert!(page.contains(&format!(">{entry}</a>")), "{entry}");
    }

    // A revoked token ends the sessions it opened.
    let (status, user) = app.get("/api/v1/users?limit=10").await;
    assert_eq!(status, StatusCode::OK);
    let agent_id = user["data"].as_array().expect("users").iter().find(|u| u["role"] == "agent").expect("agent")["id"]
        .as_i64()
        .expect("id");
    let (status, _) = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{agent_id}"),
            Some(serde_json::json!({"role": "end_user"})),
            Some(&app.token),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(location(&agent.get("/ui/").await), "/ui/login");
}

async fn pages_carry_a_strict_content_security_policy() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    for path in ["/ui/login", "/ui/", "/ui/webhooks", "/ui/log", "/ui/inbound"] {
        let response = ui.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let policy = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let page = response.text().await.expect("page");
        assert!(!page.contains("<script>") && !page.contains(" onclick=") && !page.contains(" style="), "{path}");
        assert_eq!(page.matches("<h1").count(), 1, "{path}: one h1");
        assert!(page.contains("<html lang=\"en\">"), "{path}");
    }
    let page = ui.get("/ui/").await.text().await.expect("page");
    let css = page.split("href=\"").find_map(|s| s.split('"').next().filter(|u| u.starts_with("/ui/assets/app.css")));
    let asset = ui.get(css.expect("a stylesheet link")).await;
    assert_eq!(asset.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    let stale = ui.get("/ui/assets/app.css?v=old").await;
    assert_eq!(stale.headers()[header::CACHE_CONTROL], "no-cache");
}

/// A session lasts 12 hours however it was opened (an API token, or an email and a
/// password): on the adjustable clock it still works at 11 h 59 min, and a moment past 12 h
/// its pages and its forms send the browser to sign in (htmx by `HX-Redirect`) and change
/// nothing. The cookie tells the browser the same lifetime.
async fn a_session_lasts_twelve_hours_whichever_way_it_was_opened(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, admin) = app
        .post("/api/v1/users", serde_json::json!({"name": "Pat", "email": "pat@example.com", "role": "admin"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{admin}");
    let invitation = link(&app, admin["id"].as_i64().expect("id"), "invitation").await;
    assert_eq!(set_password(&UiClient::new(&app), &invitation, PASSWORD).await.status(), StatusCode::SEE_OTHER);

    let mut by_token = UiClient::new(&app);
    let token_sign_in = by_token.sign_in(&app.token).await;
    let mut by_password = UiClient::new(&app);
    let password_sign_in = sign_in_with_password(&mut by_password, "pat@example.com", PASSWORD).await;
    for (kind, response) in [("token", &token_sign_in), ("password", &password_sign_in)] {
        assert_eq!((response.status(), location(response)), (StatusCode::SEE_OTHER, "/ui/"), "{kind}");
        let cookie = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|c| c.to_str().ok())
            .find(|c| c.starts_with("hookdesk_session="))
            .unwrap_or_else(|| panic!("the {kind} sign-in sets the session cookie"));
        assert!(cookie.contains("; Max-Age=43200"), "{kind}: 12 hours in the browser too: {cookie}");
    }
    let sessions = [("token", &by_token), ("password", &by_password)];
    let bins = || async { app.get("/api/v1/inbound_webhooks").await.1["data"].as_array().map_or(0, Vec::len) };

    app.config.clock.advance(Duration::from_secs(11 * 3600 + 59 * 60));
    for (kind, ui) in sessions {
        assert_eq!(ui.get("/ui/").await.status(), StatusCode::OK, "a {kind} session at 11 h 59 min");
        let made = ui.post("/ui/inbound/bins", &[]).await;
        assert_eq!(made.status(), StatusCode::SEE_OTHER, "a {kind} session's form at 11 h 59 min");
        assert!(location(&made).starts_with("/ui/inbound/hook_"), "{kind}: {}", location(&made));
    }
    assert_eq!(bins().await, 2);

    app.config.clock.advance(Duration::from_secs(61));
    for (kind, ui) in sessions {
        let page = ui.get("/ui/").await;
        assert_eq!(
            (page.status(), location(&page)),
            (StatusCode::SEE_OTHER, "/ui/login"),
            "a {kind} session past 12 h"
        );
        assert_eq!(page.headers().get("hx-redirect").map(|v| v.as_bytes()), Some(&b"/ui/login"[..]), "{kind}");
        let refused = ui.post("/ui/inbound/bins", &[]).await;
        assert_eq!(
            (refused.status(), location(&refused)),
            (StatusCode::SEE_OTHER, "/ui/login"),
            "a {kind} session's form past 12 h"
        );
    }
    assert_eq!(bins().await, 2, "an expired session changes nothing");
}

#[tokio::test]
async fn the_cookie_is_secure_behind_an_https_public_url() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.public_url = Some("https://desk.example.com".into())).await;
    let mut ui = UiClient::new(&app);
    let signed_in = ui.sign_in(&app.token).await;
    let cookie = signed_in.headers()[header::SET_COOKIE].to_str().expect("ascii").to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn pages_carry_a_strict_policy() {
    pages_carry_a_strict_content_security_policy().await;
}

on_both_backends!(
    a_session_opens_with_a_token_and_ends_with_sign_out,
    a_state_changing_request_needs_the_csrf_token_and_our_origin,
    an_agent_sees_only_what_the_role_allows,
    a_session_lasts_twelve_hours_whichever_way_it_was_opened,
);
