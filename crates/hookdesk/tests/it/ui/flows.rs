//! What the pages do beyond showing: the overview's figures, replaying every failure a filter
//! matches after confirming its count, tokens issued once and revoked, a macro previewed and
//! applied. Over plain HTTP, on both backends.

use reqwest::StatusCode;
use serde_json::json;

use super::UiClient;
use crate::on_both_backends;
use crate::support::{Db, Receiver, TestApp, refusal, wait_until};

async fn text(response: reqwest::Response) -> String {
    response.text().await.expect("a page")
}

async fn failures_are_counted_then_replayed_all_at_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let quiet = text(ui.get("/ui/").await).await;
    assert!(quiet.contains("Nothing was delivered") && !quiet.contains("class=\"chart\""), "no empty chart: {quiet}");
    let failing = Receiver::scripted(&[500, 500, 500, 200, 200, 200]).await;
    let webhook = app.webhook(&failing.url("/down"), json!({"max_retries": 0})).await;
    let trigger = app.notify_on_create(&webhook, json!({})).await;
    for n in 0..3 {
        app.ticket(json!({"subject": format!("t{n}"), "requester": {"name": "R", "email": "r@example.com"}})).await;
    }
    for invocation in app.invocations("").await {
        app.settled(invocation["id"].as_str().expect("id")).await;
    }

    let overview = text(ui.get("/ui/").await).await;
    assert!(overview.contains("<span class=\"n\">3</span> failed"), "the overview counts them");
    assert!(overview.contains("class=\"chart\""), "{overview}");
    let named = format!("<a href=\"/ui/webhooks/{webhook}\" title=\"{webhook}\">test hook</a>");
    assert_eq!(overview.matches(&named).count(), 3, "the latest failures name their webhook: {overview}");
    let log = text(ui.get(&format!("/ui/log?webhook_id={webhook}&status=failed")).await).await;
    assert_eq!(log.matches("<span class=\"pill failed\">failed</span>").count(), 3);
    // Names, not ids: the webhook's, and the title of the trigger that queued each.
    assert_eq!(log.matches(&named).count(), 3, "{log}");
    assert_eq!(log.matches(&format!("trigger <a href=\"/ui/triggers/{trigger}\">On create</a>")).count(), 3, "{log}");
    assert!(log.contains(&format!("<option value=\"{webhook}\" selected>test hook</option>")), "{log}");
    assert!(log.contains("Replay failed"));
    // Pages keep the filters: the next page's link carries them with its cursor.
    let first = text(ui.get(&format!("/ui/log?webhook_id={webhook}&status=failed&q=&limit=2")).await).await;
    let next = first.split("href=\"/ui/log?").nth(1).and_then(|s| s.split('"').next()).expect("a next page link");
    let next = next.replace("&#38;", "&");
    assert!(next.starts_with(&format!("webhook_id={webhook}&status=failed&limit=2&cursor=inv_")), "{next}");
    let second = text(ui.get(&format!("/ui/log?{next}")).await).await;
    assert_eq!(second.matches("<span class=\"pill failed\">failed</span>").count(), 1, "the third, and no link on");
    assert!(!second.contains("Older"));
    let confirm = text(ui.get(&format!("/ui/log/replay-failed?webhook_id={webhook}&since=&until=")).await).await;
    assert!(confirm.contains("will affect <strong>3</strong> failed invocations"), "{confirm}");
    let done = ui.post("/ui/log/replay-failed", &[("webhook_id", &webhook), ("since", ""), ("until", "")]).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(text(done).await.contains("Queued <strong>3</strong> replays"));
    assert_eq!(failing.wait_for(6).await.len(), 6, "each failure sent once more");
    // Recorded, not only received: the log read after the delete below is then final.
    let succeeded = format!("webhook_id={webhook}&status=succeeded");
    wait_until("the replays are recorded", async || app.invocations(&succeeded).await.len() == 3).await;
    let again = text(ui.get(&format!("/ui/log/replay-failed?webhook_id={webhook}")).await).await;
    assert!(again.contains("will affect <strong>0</strong>"), "a replayed failure is not replayed twice");

    // Deleted, the webhook and its trigger leave their ids in the log, which still filters on them.
    let (status, _) =
        app.call(reqwest::Method::DELETE, &format!("/api/v1/triggers/{trigger}"), None, Some(&app.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) =
        app.call(reqwest::Method::DELETE, &format!("/api/v1/webhooks/{webhook}"), None, Some(&app.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let log = text(ui.get(&format!("/ui/log?webhook_id={webhook}&status=failed")).await).await;
    assert_eq!(
        log.matches(&format!("<code>{webhook}</code> <span class=\"muted\">(deleted)</span>")).count(),
        3,
        "{log}"
    );
    assert_eq!(log.matches(&format!("trigger {trigger} (deleted)")).count(), 3, "{log}");
    assert!(log.contains(&format!("<option value=\"{webhook}\" selected>{webhook} (deleted)</option>")), "{log}");
    assert!(!log.contains("Replay failed"), "nothing to replay to: {log}");
}

async fn a_token_is_shown_once_and_revoked(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let made = ui.post("/ui/users", &[("name", "Ada"), ("email", "ada@example.com"), ("role", "agent")]).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let page = made.headers()[reqwest::header::LOCATION].to_str().expect("ascii").to_owned();
    let issued = text(ui.post(&format!("{page}/tokens"), &[("label", "zapier")]).await).await;
    let at = issued.find("id=\"new-token\">").expect("the token, shown once") + "id=\"new-token\">".len();
    let token = issued[at..].split('<').next().expect("token").to_owned();
    assert_eq!(app.call(reqwest::Method::GET, "/api/v1/tickets", None, Some(&token)).await.0, StatusCode::OK);
    let later = text(ui.get(&page).await).await;
    assert!(later.contains("zapier") && !later.contains(&token), "listed by label, never shown again");
    let revoke = later.split("action=\"").find_map(|s| s.split('"').next().filter(|a| a.ends_with("/revoke")));
    let revoked = ui.post(revoke.expect("a revoke form"), &[]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    let (status, error) = app.call(reqwest::Method::GET, "/api/v1/tickets", None, Some(&token)).await;
    assert_eq!(refusal(status, &error), (401, "unauthorized".into()), "{error}");
    let duplicate = ui.post("/ui/users", &[("name", "Ada"), ("email", "ada@example.com"), ("role", "agent")]).await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT, "shown on the page, not a 500");
}

async fn a_macro_is_previewed_then_applied(db: Db) {
    let app = TestApp::spawn(db).await;
    let ticket = app.ticket(json!({"subject": "Refund", "requester": {"name": "R", "email": "r@example.com"}})).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let refused = ui
        .post("/ui/macros/new", &[("title", "Solve"), ("actions[0].field", "status"), ("actions[0].value", "sloved")])
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(refused).await.contains("id=\"a-0-error\""), "the error at its row");
    let made = ui
        .post(
            "/ui/macros/new",
            &[("title", "Solve"), ("active", "on"), ("actions[0].field", "status"), ("actions[0].value", "solved")],
        )
        .await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let page = made.headers()[reqwest::header::LOCATION].to_str().expect("ascii").to_owned();
    let id = ticket["id"].to_string();
    let preview = text(ui.post(&format!("{page}/try"), &[("ticket_id", &id), ("mode", "preview")]).await).await;
    assert!(preview.contains("Applying it would leave") && preview.contains("<strong>solved</strong>"), "{preview}");
    assert_eq!(app.get(&format!("/api/v1/tickets/{id}")).await.1["status"], "new", "a preview saves nothing");
    // Applied, the ticket's page says so once (reloading it applies nothing again).
    let applied = ui.post(&format!("{page}/try"), &[("ticket_id", &id), ("mode", "apply")]).await;
    assert_eq!(applied.status(), StatusCode::SEE_OTHER);
    assert_eq!(applied.headers()[reqwest::header::LOCATION], format!("/ui/tickets/{id}").as_str());
    let flash =
        applied.headers()[reqwest::header::SET_COOKIE].to_str().expect("ascii").split(';').next().expect("a pair");
    let ticket_page = ui.get_with_cookie(&format!("/ui/tickets/{id}"), flash).await;
    assert!(text(ticket_page).await.contains(&format!("Applied “Solve” to ticket #{id}.")));
    assert_eq!(app.get(&format!("/api/v1/tickets/{id}")).await.1["status"], "solved");
}

async fn an_inbound_webhook_is_made_and_edited_in_its_form(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let base = [
        ("name", "GitHub"),
        ("enabled", "on"),
        ("verify.type", "hmac_sha256"),
        ("verify.header", "X-Hub-Signature-256"),
    ];
    let mut bad = base.to_vec();
    bad.extend([("verify.secret", "s3cret"), ("actions", "[{\"type\": \"explode\"}]")]);
    let refused = ui.post("/ui/inbound/new", &bad).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(refused).await.contains("id=\"actions-error\""), "the error at the actions box");
    let mut good = base.to_vec();
    good.extend([("verify.secret", "s3cret"), ("actions", "[]"), ("rate_limit_per_minute", "60")]);
    let made = ui.post("/ui/inbound/new", &good).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let page = made.headers()[reqwest::header::LOCATION].to_str().expect("ascii").to_owned();
    let id = page.rsplit('/').next().expect("id").to_owned();
    // Edited without typing the secret again: the verification stays.
    let mut edit = base.to_vec();
    edit.extend([
        ("verify.was", "hmac_sha256"),
        ("verify.header_was", "X-Hub-Signature-256"),
        ("verify.secret", ""),
        ("actions", "[]"),
    ]);
    let saved = ui.post(&format!("{page}/edit"), &edit).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let (_, view) = app.get(&format!("/api/v1/inbound_webhooks/{id}")).await;
    assert_eq!(view["verify"], json!({"type": "hmac_sha256", "header": "X-Hub-Signature-256"}));
    assert_eq!(view["rate_limit_per_minute"], json!(null), "a blank limit is no limit");
    let form = text(ui.get(&format!("{page}/edit")).await).await;
    assert!(!form.contains("s3cret"), "a secret is never shown");
}

async fn a_changed_authentication_needs_its_secret_again(db: Db) {
    let app = TestApp::spawn(db).await;
    let webhook = app.webhook("http://127.0.0.1:9/hook", json!({})).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let page = format!("/ui/webhooks/{webhook}");
    let mut form = vec![
        ("name", "test hook"),
        ("endpoint", "http://127.0.0.1:9/hook"),
        ("subscriptions", "conditional_ticket_events"),
        ("authentication.type", "bearer"),
        ("authentication.was", "none"),
        ("authentication.token", ""),
    ];
    let refused = ui.post(&page, &form).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = text(refused).await;
    assert!(again.contains("id=\"authentication.token-error\""), "the empty secret is named");
    assert!(again.contains("name=\"authentication.was\" value=\"none\""), "the saved type survives the refusal");
    // An error at an input the form has no place for is shown on top, never lost.
    let mut odd = form.clone();
    odd.extend([("authentication.token", "t0ken"), ("ordering", "sideways")]);
    odd.remove(5);
    let refused = ui.post(&page, &odd).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = text(refused).await;
    let notice = again.split("role=\"alert\">").nth(1).expect("a notice on top");
    assert!(notice.starts_with("ordering"), "{notice}");
    form[5] = ("authentication.token", "t0ken");
    assert_eq!(ui.post(&page, &form).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/webhooks/{webhook}")).await.1["authentication"], json!({"type": "bearer"}));
}

/// The webhook and inbound webhook editors' "Template mode" select: labelled, with a hint,
/// lax unless chosen, saved and shown again; a value the API refuses is named at the select.
async fn the_template_mode_select_saves_in_both_editors(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let blank = text(ui.get("/ui/webhooks/new").await).await;
    assert!(blank.contains("<label for=\"template_mode\">Template mode</label>"), "labelled");
    assert!(blank.contains("aria-describedby=\"template_mode-hint\""), "the hint describes the select");
    assert!(
        blank.contains("<option value=\"lax\" selected>Lax — missing variables render empty (default)</option>"),
        "lax unless chosen"
    );
    assert!(blank.contains("<option value=\"strict\">Strict — missing variables and wrong types fail</option>"));

    let form = [("name", "strict hook"), ("endpoint", "http://127.0.0.1:9/hook"), ("template_mode", "strict")];
    let made = ui.post("/ui/webhooks/new", &form).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let page = made.headers()[reqwest::header::LOCATION].to_str().expect("ascii").to_owned();
    let id = page.rsplit('/').next().expect("id").to_owned();
    assert_eq!(app.get(&format!("/api/v1/webhooks/{id}")).await.1["template_mode"], "strict");
    let shown = text(ui.get(&page).await).await;
    assert!(shown.contains("<option value=\"strict\" selected>"), "the saved mode is shown");
    let mut lax = form.to_vec();
    lax[2] = ("template_mode", "lax");
    assert_eq!(ui.post(&page, &lax).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/webhooks/{id}")).await.1["template_mode"], "lax");
    let mut loose = form.to_vec();
    loose[2] = ("template_mode", "loose");
    let refused = ui.post(&page, &loose).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = text(refused).await;
    assert!(again.contains("id=\"template_mode-error\""), "the refusal is shown at the select");
    assert!(
        again.contains("aria-describedby=\"template_mode-hint template_mode-error\" aria-invalid=\"true\""),
        "and marks the select, described by both"
    );

    let made = ui.post("/ui/inbound/new", &[("name", "Orders"), ("actions", "[]"), ("template_mode", "strict")]).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let page = made.headers()[reqwest::header::LOCATION].to_str().expect("ascii").to_owned();
    let id = page.rsplit('/').next().expect("id").to_owned();
    assert_eq!(app.get(&format!("/api/v1/inbound_webhooks/{id}")).await.1["template_mode"], "strict");
    assert!(text(ui.get(&page).await).await.contains("&#34;template_mode&#34;: &#34;strict&#34;"), "shown");
    let edit = text(ui.get(&format!("{page}/edit")).await).await;
    assert!(edit.contains("<label for=\"template_mode\">Template mode</label>"), "labelled");
    assert!(edit.contains("<option value=\"strict\" selected>"), "the saved mode is shown");
    let saved =
        ui.post(&format!("{page}/edit"), &[("name", "Orders"), ("actions", "[]"), ("template_mode", "lax")]).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/inbound_webhooks/{id}")).await.1["template_mode"], "lax");
}

on_both_backends!(
    the_template_mode_select_saves_in_both_editors,
    a_changed_authentication_needs_its_secret_again,
    an_inbound_webhook_is_made_and_edited_in_its_form,
    failures_are_counted_then_replayed_all_at_once,
    a_token_is_shown_once_and_revoked,
    a_macro_is_previewed_then_applied,
);
