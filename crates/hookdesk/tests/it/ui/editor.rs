//! The rule editor and what every editor promises: a rule built by choosing (no JSON, no
//! id typed), two editors never overwriting each other, deleting after a confirmation that
//! names what still uses an object, agents reading rules without forms, and the editor
//! driven by the keyboard alone.

use fantoccini::Locator;
use fantoccini::key::Key;
use reqwest::StatusCode;
use serde_json::json;

use super::browser::Browser;
use super::pages::signed_in;
use super::{UiClient, csrf_of};
use crate::on_both_backends;
use crate::support::{Db, Receiver, TestApp, refusal, user_with_token};

async fn text(response: reqwest::Response) -> String {
    response.text().await.expect("a page")
}

/// The `value` of the hidden input `name` in `page`.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page.find(&marker).unwrap_or_else(|| panic!("an input {name}")) + marker.len();
    page[at..].split('"').next().expect("a value").to_owned()
}

/// The message a change left for the next page (its cookie, from a redirect).
fn flash_cookie(response: &reqwest::Response) -> String {
    let set = response.headers().get(reqwest::header::SET_COOKIE).expect("a message").to_str().expect("ascii");
    set.split(';').next().expect("a pair").to_owned()
}

#[tokio::test]
async fn the_case_tracker_trigger_is_built_by_choosing_and_fires() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let receiver = Receiver::start().await;
    let (status, webhook) =
        app.post("/api/v1/webhooks", json!({"name": "Case tracker", "endpoint": receiver.url("/cases")})).await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    let ticket =
        app.ticket(json!({"subject": "Printer on fire", "requester": {"name": "R", "email": "r@example.com"}})).await;
    let Some(browser) = signed_in(&app).await else { return };

    browser.click_link("Triggers").await;
    browser.click_link("New trigger").await;
    browser.wait_for_path(|path| path == "/ui/triggers/new").await;
    // The README's custom action is a starter: its conditions and actions filled in (a change
    // that carries the tag; notify, then remove the tag), left to finish.
    browser.choose("starter", "tag_notify").await;
    browser.click_button("Use it").await;
    browser.wait_for_path(|path| path == "/ui/triggers/editor").await;
    let title = browser.client.execute("return document.getElementById('title').value;", vec![]).await;
    assert_eq!(title.expect("runs"), json!("Send web action"), "the starter's title, none typed yet");
    browser.fill("title", "Case tracker").await;
    let chosen =
        "return [...document.querySelectorAll('#rule-rows select, #rule-rows input[type=text]')].map(e => e.value);";
    let rows = browser.client.execute(chosen, vec![]).await.expect("runs");
    let rows: Vec<String> = serde_json::from_value(rows).expect("values");
    for expected in
        ["update_type", "is", "change", "tags", "includes", "send_web_action", "notify_webhook", "remove_tags"]
    {
        assert!(rows.iter().any(|value| value == expected), "the starter filled {expected}: {rows:?}");
    }
    // Actions: the webhook by its name, the JSON body as fields (no JSON typed), placeholders
    // from the list.
    // The only webhook that may be notified is chosen already.
    let chosen = browser.client.execute("return document.getElementById('a-0-webhook').value;", vec![]).await;
    assert_eq!(chosen.expect("runs"), webhook["id"]);
    let insert = async |placeholder: &str, filter: &str| {
        browser.choose("a-0-placeholder", placeholder).await;
        browser.choose("a-0-placeholder-filter", filter).await;
        let button = browser.client.find(Locator::Css("button[data-insert=\"a-0-placeholder\"]")).await;
        button.expect("an Insert button").click().await.expect("clicked");
    };
    // The starter's body is the case tracker's message; written again here from the list.
    let lines = "text: Case {{ ticket.id }} updated: {{ ticket.subject | uri_encode }}\nlink: {{ ticket.url }}";
    let prefilled = browser.client.execute("return document.getElementById('a-0-fields').value;", vec![]).await;
    assert_eq!(prefilled.expect("runs"), json!(lines));
    browser.fill("actions[0].fields", "").await;
    browser.type_into("a-0-fields", "text: Case ").await;
    insert("{{ ticket.id }}", "").await;
    browser.type_into("a-0-fields", " updated: ").await;
    insert("{{ ticket.subject }}", "uri_encode").await;
    browser.type_into("a-0-fields", "\nlink: ").await;
    insert("{{ ticket.url }}", "").await;
    // The live preview renders the request on the sample ticket, nothing sent.
    let preview =
        browser.wait_for_text_in("a-0-preview", "Sample%20ticket%3A%20my%20order%20has%20not%20arrived").await;
    assert!(
        preview.contains("POST ") && preview.contains("/cases") && preview.contains("webhook-signature"),
        "{preview}"
    );
    assert!(receiver.received().is_empty(), "a preview sends nothing");
    browser.screenshot("editor-case-tracker").await;
    browser.click_id("add-actions").await;
    // The rows came back whole, the first one's preview with them.
    browser.wait_for_text_in("a-0-preview", "Sample%20ticket%3A%20my%20order%20has%20not%20arrived").await;
    let remove = browser.client.find(Locator::Css("button[aria-label='Remove action 3']")).await;
    remove.expect("the new row's Remove").click().await.expect("clicked");
    browser.settle().await;
    browser.click_id("save").await;
    let page = browser.wait_for_path(|path| path.starts_with("/ui/triggers/") && path != "/ui/triggers/new").await;
    // Saved without a warning: each field's text is escaped into the JSON.
    let shown = browser.wait_for_text("Created “Case tracker”").await;
    assert!(!shown.contains("warning"), "{shown}");
    browser.screenshot("editor-saved").await;
    // The saved trigger reads back as the fields it was made of.
    let fields = browser.client.execute("return document.getElementById('a-0-fields').value;", vec![]).await;
    assert_eq!(fields.expect("runs"), json!(lines));

    let id = page.trim_start_matches("/ui/triggers/");
    let (_, saved) = app.get(&format!("/api/v1/triggers/{id}")).await;
    assert_eq!(
        saved["conditions"]["all"],
        json!([
            {"field": "update_type", "operator": "is", "value": "change"},
            {"field": "tags", "operator": "includes", "value": "send_web_action"},
        ])
    );
    assert_eq!(saved["actions"][0]["value"]["webhook_id"], webhook["id"]);
    assert_eq!(saved["actions"][1], json!({"field": "remove_tags", "value": "send_web_action"}));

    // A tag added on the ticket's page: the trigger fires, delivers, and takes the tag away.
    browser.goto(&format!("/ui/tickets/{}", ticket["id"])).await;
    browser.fill("add_tags", "send_web_action").await;
    browser.click_button("Update").await;
    browser.wait_for_text("Fired: “Case tracker”; 1 webhook call queued (see the Log).").await;
    let delivered = receiver.wait_for(1).await;
    let body: serde_json::Value = serde_json::from_str(&delivered[0].body).expect("a JSON body");
    let url = app.url(&format!("/ui/tickets/{}", ticket["id"]));
    assert_eq!(body, json!({"text": format!("Case {} updated: Printer%20on%20fire", ticket["id"]), "link": url}));
    let (_, now) = app.get(&format!("/api/v1/tickets/{}", ticket["id"])).await;
    assert!(!now["tags"].as_array().expect("tags").contains(&json!("send_web_action")), "{now}");
    browser.click_link("Log").await;
    let log = browser.wait_for_text("succeeded").await;
    assert!(log.contains("Case tracker"), "{log}");
    browser.close().await;
}

/// The editor's fields for a trigger titled `title` that sets priority to urgent when a
/// ticket is created.
fn trigger_form<'a>(csrf: &'a str, version: &'a str, title: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("version", version),
        ("title", title),
        ("active", "on"),
        ("conditions.all[0].field", "update_type"),
        ("conditions.all[0].operator", "is"),
        ("conditions.all[0].value", "create"),
        ("actions[0].field", "priority"),
        ("actions[0].value", "urgent"),
    ]
}

async fn two_editors_of_one_rule_lose_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let id = app
        .trigger(json!({"title": "Urgent on create", "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
            "actions": [{"field": "priority", "value": "urgent"}]}))
        .await;
    let page = format!("/ui/triggers/{id}");
    let (mut first, mut second) = (UiClient::new(&app), UiClient::new(&app));
    first.sign_in(&app.token).await;
    second.sign_in(&app.token).await;
    let first_page = text(first.get(&page).await).await;
    let second_page = text(second.get(&page).await).await;
    let (first_version, second_version) = (hidden(&first_page, "version"), hidden(&second_page, "version"));
    assert_eq!(first_version, second_version);

    let csrf = second.csrf.clone().expect("a token");
    let saved = second.post(&page, &trigger_form(&csrf, &second_version, "Second editor's title")).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let shown = text(second.get_with_cookie(&page, &flash_cookie(&saved)).await).await;
    assert!(
        shown.contains("Saved “Second editor’s title”.") || shown.contains("Saved “Second editor&#39;s title”."),
        "{shown}"
    );

    // The first editor, still on the version it opened, is refused: its draft is kept, and
    // what the second saved is shown beside it.
    let csrf = first.csrf.clone().expect("a token");
    let refused = first.post(&page, &trigger_form(&csrf, &first_version, "First editor's title")).await;
    assert_eq!(refused.status(), StatusCode::PRECONDITION_FAILED);
    let conflict = text(refused).await;
    assert!(conflict.contains("Not saved: someone else saved this trigger after you opened it"), "{conflict}");
    assert!(
        conflict.contains("Second editor&#39;s title") && conflict.contains("First editor&#39;s title"),
        "{conflict}"
    );
    assert_eq!(app.get(&format!("/api/v1/triggers/{id}")).await.1["title"], "Second editor's title", "nothing lost");

    // Saving again from that page (its version is now the latest) replaces it, knowingly.
    let now = hidden(&conflict, "version");
    assert_ne!(now, first_version);
    let replaced = first.post(&page, &trigger_form(&csrf, &now, "First editor's title")).await;
    assert_eq!(replaced.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/triggers/{id}")).await.1["title"], "First editor's title");
}

async fn deleting_asks_first_and_names_what_still_uses_a_webhook(db: Db) {
    let app = TestApp::spawn(db).await;
    let receiver = Receiver::start().await;
    let webhook = app.webhook(&receiver.url("/"), json!({})).await;
    let trigger = app.notify_on_create(&webhook, json!({})).await;
    let (_, macro_) = app
        .post("/api/v1/macros", json!({"title": "Escalate", "actions": [{"field": "priority", "value": "high"}]}))
        .await;
    let (_, inbound) = app.post("/api/v1/inbound_webhooks", json!({"name": "Orders"})).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;

    // A webhook a trigger notifies: the page names the trigger, and offers no Delete.
    let confirm = text(ui.get(&format!("/ui/webhooks/{webhook}/delete")).await).await;
    assert!(confirm.contains(&format!("<a href=\"/ui/triggers/{trigger}\">trigger “On create”</a>")), "{confirm}");
    assert!(!confirm.contains(">Delete</button>"), "{confirm}");
    let forced = ui.post(&format!("/ui/webhooks/{webhook}/delete"), &[]).await;
    assert_eq!(forced.status(), StatusCode::SEE_OTHER, "back to the page that names the trigger");
    assert_eq!(app.get(&format!("/api/v1/webhooks/{webhook}")).await.0, StatusCode::OK);

    // The trigger goes first, after its confirmation; a stale confirmation deletes nothing.
    let confirm = text(ui.get(&format!("/ui/triggers/{trigger}/delete")).await).await;
    assert!(confirm.contains("Delete trigger “On create”?") && confirm.contains(">Delete</button>"), "{confirm}");
    let version = hidden(&confirm, "version");
    let (status, _) =
        app.patch(&format!("/api/v1/triggers/{trigger}"), json!({"description": "changed meanwhile"})).await;
    assert_eq!(status, StatusCode::OK);
    let stale = ui.post(&format!("/ui/triggers/{trigger}/delete"), &[("version", &version)]).await;
    assert_eq!(stale.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/triggers/{trigger}")).await.0, StatusCode::OK, "not deleted");
    let version = hidden(&text(ui.get(&format!("/ui/triggers/{trigger}/delete")).await).await, "version");
    let deleted = ui.post(&format!("/ui/triggers/{trigger}/delete"), &[("version", &version)]).await;
    assert_eq!(deleted.headers()[reqwest::header::LOCATION], "/ui/triggers");
    let list = text(ui.get_with_cookie("/ui/triggers", &flash_cookie(&deleted)).await).await;
    assert!(list.contains("Deleted trigger “On create”."), "{list}");
    let (status, gone) = app.get(&format!("/api/v1/triggers/{trigger}")).await;
    assert_eq!(refusal(status, &gone), (404, "not_found".into()), "{gone}");

    // Nothing notifies the webhook now: it goes too, and so do a macro and an inbound webhook.
    for (page, api, list) in [
        (format!("/ui/webhooks/{webhook}"), format!("/api/v1/webhooks/{webhook}"), "/ui/webhooks"),
        (format!("/ui/macros/{}", macro_["id"]), format!("/api/v1/macros/{}", macro_["id"]), "/ui/macros"),
        (
            format!("/ui/inbound/{}", inbound["id"].as_str().expect("id")),
            format!("/api/v1/inbound_webhooks/{}", inbound["id"].as_str().expect("id")),
            "/ui/inbound",
        ),
    ] {
        let confirm = text(ui.get(&format!("{page}/delete")).await).await;
        assert!(confirm.contains(">Delete</button>"), "{page}: {confirm}");
        let deleted = ui.post(&format!("{page}/delete"), &[("version", &hidden(&confirm, "version"))]).await;
        assert_eq!(deleted.headers()[reqwest::header::LOCATION], list, "{page}");
        let (status, gone) = app.get(&api).await;
        assert_eq!(refusal(status, &gone), (404, "not_found".into()), "{page}: {gone}");
    }
}

async fn an_agent_reads_rules_without_forms(db: Db) {
    let app = TestApp::spawn(db).await;
    let receiver = Receiver::start().await;
    let webhook = app.webhook(&receiver.url("/"), json!({})).await;
    let trigger = app.notify_on_create(&webhook, json!({"payload": "{\"id\": {{ ticket.id }}}"})).await;
    let (_, agent_token) = user_with_token(&app, "agent@example.com", "agent").await;
    let mut agent = UiClient::new(&app);
    agent.sign_in(&agent_token).await;
    for path in [format!("/ui/triggers/{trigger}"), "/ui/triggers".to_owned(), "/ui/automations".to_owned()] {
        let page = text(agent.get(&path).await).await;
        let main = &page[page.find("<main").expect("a main")..];
        // A search form (GET, changes nothing) is theirs too; nothing else that edits.
        let main = match main.split_once("<form method=\"get\"") {
            Some((before, after)) => format!("{before}{}", after.split_once("</form>").expect("closed").1),
            None => main.to_owned(),
        };
        assert!(!main.contains("<form") && !main.contains("<input") && !main.contains("<select"), "{path}: {main}");
        assert!(!main.contains("<textarea") && !main.contains("/delete"), "{path}: {main}");
    }
    let page = text(agent.get(&format!("/ui/triggers/{trigger}")).await).await;
    assert!(page.contains("notify test hook") && page.contains("update type is create"), "in words: {page}");
    assert!(page.contains("Only admins change triggers."));
    // What an agent may do works: macros are theirs to write and apply.
    let made = agent
        .post("/ui/macros/new", &[("title", "Mine"), ("actions[0].field", "status"), ("actions[0].value", "open")])
        .await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    // A macro notifies no webhook: its editor lists none, even asked for a notification row
    // (the eighth attack read every webhook's name and id there).
    let editor =
        text(agent.post("/ui/macros/editor", &[("title", "x"), ("actions[0].field", "notify_webhook")]).await).await;
    assert!(!editor.contains(webhook.as_str()), "{editor}");
    // What they may not is an error page in words, in the UI's layout.
    let refused = agent.get("/ui/triggers/new").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = text(refused).await;
    assert!(refused.contains("<nav") || refused.contains("Back to the overview"), "{refused}");
}

async fn dead_ends_lead_back_to_pages(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let webhook = app.webhook("http://127.0.0.1:9/", json!({})).await;
    // Reloading an action's URL (a GET of a POST) leads to the page it acted on.
    for (action, page) in [
        (format!("/ui/webhooks/{webhook}/test"), format!("/ui/webhooks/{webhook}")),
        (format!("/ui/webhooks/{webhook}/secret/rotate"), format!("/ui/webhooks/{webhook}")),
        ("/ui/macros/1/try".to_owned(), "/ui/macros/1".to_owned()),
        ("/ui/automations/run".to_owned(), "/ui/automations".to_owned()),
        ("/ui/users/1/tokens".to_owned(), "/ui/users/1".to_owned()),
        ("/ui/triggers/editor".to_owned(), "/ui/triggers".to_owned()),
    ] {
        let answer = ui.get(&action).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{action}");
        assert_eq!(answer.headers()[reqwest::header::LOCATION], page.as_str(), "{action}");
    }
    // Pages that do not exist, and ids that cannot be, are error pages in words.
    for path in ["/ui/nonexistent", "/ui/tickets/abc", "/ui/triggers/99999", "/ui/webhooks/wh_nope"] {
        let answer = ui.get(path).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        let page = text(answer).await;
        assert!(page.starts_with("<!doctype html>") && !page.contains("Cannot parse"), "{path}: {page}");
    }
    let answer = reqwest::Client::new().put(app.url("/ui/triggers")).send().await.expect("answers");
    assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(text(answer).await.contains("not a page to open that way"));
    assert!(csrf_of(&text(ui.get("/ui/").await).await).is_some());
}

on_both_backends!(
    two_editors_of_one_rule_lose_nothing,
    deleting_asks_first_and_names_what_still_uses_a_webhook,
    an_agent_reads_rules_without_forms,
    dead_ends_lead_back_to_pages,
);

/// Presses `key` on whatever has the focus.
async fn press(browser: &Browser, key: Key) {
    let focused = browser.client.active_element().await.expect("something has the focus");
    focused.send_keys(&char::from(key).to_string()).await.expect("pressed");
    browser.settle().await;
}

/// The id of what has the focus.
async fn focused_id(browser: &Browser) -> String {
    let focused = browser.client.active_element().await.expect("something has the focus");
    focused.attr("id").await.expect("an attribute").unwrap_or_default()
}

/// Presses Tab until the element `id` has the focus.
async fn tab_to(browser: &Browser, id: &str) {
    for _ in 0..80 {
        if focused_id(browser).await == id {
            return;
        }
        press(browser, Key::Tab).await;
    }
    panic!("Tab never reached #{id}");
}

/// Presses Down on the focused select until it holds `value` (each choice may swap the
/// rows in; the focus stays on the select).
async fn arrow_to(browser: &Browser, id: &str, value: &str) {
    for _ in 0..40 {
        let select = browser.client.find(Locator::Id(id)).await.expect("the select");
        if select.prop("value").await.expect("a value").as_deref() == Some(value) {
            return;
        }
        assert_eq!(focused_id(browser).await, id, "the focus stayed on the select");
        press(browser, Key::Down).await;
    }
    panic!("#{id} never held {value:?}");
}

/// Types into what has the focus.
async fn type_here(browser: &Browser, text: &str) {
    let focused = browser.client.active_element().await.expect("something has the focus");
    focused.send_keys(text).await.expect("typed");
}

#[tokio::test]
async fn a_keyboard_alone_builds_a_trigger() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let receiver = Receiver::start().await;
    let (_, webhook) =
        app.post("/api/v1/webhooks", json!({"name": "Case tracker", "endpoint": receiver.url("/")})).await;
    let Some(browser) = signed_in(&app).await else { return };
    browser.goto("/ui/triggers/new").await;

    tab_to(&browser, "title").await;
    type_here(&browser, "Keyboard made").await;
    tab_to(&browser, "c-all-0-field").await;
    arrow_to(&browser, "c-all-0-field", "tags").await;
    tab_to(&browser, "c-all-0-operator").await;
    arrow_to(&browser, "c-all-0-operator", "includes").await;
    tab_to(&browser, "c-all-0-value").await;
    type_here(&browser, "case").await;
    tab_to(&browser, "a-0-field").await;
    arrow_to(&browser, "a-0-field", "notify_webhook").await;
    tab_to(&browser, "a-0-webhook").await;
    arrow_to(&browser, "a-0-webhook", webhook["id"].as_str().expect("id")).await;
    tab_to(&browser, "a-0-payload").await;
    type_here(&browser, "{\"subject\": \"{{ ticket.subject }}\"}").await;
    // Enter on "Add an action" adds a row and puts the focus on its field.
    tab_to(&browser, "add-actions").await;
    press(&browser, Key::Enter).await;
    assert_eq!(focused_id(&browser).await, "a-1-field");
    arrow_to(&browser, "a-1-field", "remove_tags").await;
    tab_to(&browser, "a-1-value").await;
    type_here(&browser, "case").await;
    tab_to(&browser, "save").await;
    press(&browser, Key::Enter).await;
    browser.wait_for_text("Created “Keyboard made”").await;

    let (_, triggers) = app.get("/api/v1/triggers").await;
    let made = triggers["data"].as_array().expect("triggers").iter().find(|t| t["title"] == "Keyboard made").cloned();
    let made = made.expect("saved");
    assert_eq!(made["conditions"]["all"][0], json!({"field": "tags", "operator": "includes", "value": "case"}));
    assert_eq!(made["actions"][1], json!({"field": "remove_tags", "value": "case"}));
    browser.close().await;
}
