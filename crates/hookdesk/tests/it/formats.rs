//! Request shapes as receivers see them: every method with every body format, query params for
//! GET and DELETE, bracket-encoded forms, XML, and payloads refused before anything is sent.

use serde_json::{Map, Value, json};

use crate::support::{Db, Receiver, TestApp};

/// A trigger on ticket creation that notifies `webhook` with `notify`'s payload and params.
async fn notify_on_create(app: &TestApp, webhook: &str, mut notify: Value) {
    notify["webhook_id"] = webhook.into();
    app.trigger(json!({
        "title": "On create",
        "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "create"}]},
        "actions": [{"field": "notify_webhook", "value": notify}]
    }))
    .await;
}

/// Rebuilds nested JSON from bracket-encoded form fields, as PHP's or Rails' parsers do.
fn unflatten(body: &str) -> Value {
    let mut root = Value::Object(Map::new());
    for (key, value) in url::form_urlencoded::parse(body.as_bytes()) {
        let mut path: Vec<String> = Vec::new();
        let (head, rest) = key.split_once('[').map_or((key.as_ref(), ""), |(h, r)| (h, r));
        path.push(head.to_owned());
        path.extend(rest.split('[').filter(|p| !p.is_empty()).map(|p| p.trim_end_matches(']').to_owned()));
        let mut node = &mut root;
        for (i, segment) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            let map = node.as_object_mut().expect("an object on the path");
            node = map.entry(segment.clone()).or_insert_with(|| if last { Value::Null } else { json!({}) });
            if last {
                *node = Value::String(value.to_string());
            }
        }
    }
    root
}

async fn every_method_carries_every_format_as_its_content_type_says(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let payloads = [
        ("json", "application/json", r#"{"id": {{ ticket.id }}, "subject": {{ ticket.subject | json }}}"#),
        (
            "xml",
            "application/xml",
            "<ticket><id>{{ ticket.id }}</id><subject>{{ ticket.subject | escape }}</subject></ticket>",
        ),
        (
            "form",
            "application/x-www-form-urlencoded",
            r#"{"ticket": {"id": {{ ticket.id }}, "subject": {{ ticket.subject | json }}}}"#,
        ),
    ];
    for method in ["POST", "PUT", "PATCH"] {
        for (format, _, payload) in payloads {
            let path = format!("/{method}/{format}");
            let webhook =
                app.webhook(&receiver.url(&path), json!({"http_method": method, "request_format": format})).await;
            notify_on_create(&app, &webhook, json!({"payload": payload})).await;
        }
    }
    let ticket = app.ticket(json!({"subject": "Fish & <chips> \"today\""})).await;
    let received = receiver.wait_for(9).await;
    for method in ["POST", "PUT", "PATCH"] {
        for (format, content_type, _) in payloads {
            let path = format!("/{method}/{format}");
            let request = received.iter().find(|r| r.path == path).unwrap_or_else(|| panic!("nothing at {path}"));
            assert_eq!(request.method, method, "{path}");
            assert_eq!(request.header("content-type"), Some(content_type), "{path}");
            match format {
                "json" => {
                    let body: Value = serde_json::from_str(&request.body).expect("JSON");
                    assert_eq!(body, json!({"id": ticket["id"], "subject": "Fish & <chips> \"today\""}));
                }
                "xml" => assert_eq!(
                    request.body,
                    format!(
                        "<ticket><id>{}</id><subject>Fish &amp; &lt;chips&gt; &quot;today&quot;</subject></ticket>",
                        ticket["id"]
                    )
                ),
                _ => assert_eq!(
                    unflatten(&request.body),
                    json!({"ticket": {"id": ticket["id"].to_string(), "subject": "Fish & <chips> \"today\""},
                           "custom_data": ""})
                ),
            }
        }
    }
}

async fn get_and_delete_send_params_in_the_query_and_no_body(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    for method in ["GET", "DELETE"] {
        let endpoint = receiver.url(&format!("/{method}/tickets/{{{{ ticket.id }}}}?keep=1"));
        let webhook = app.webhook(&endpoint, json!({"http_method": method})).await;
        notify_on_create(&app, &webhook, json!({"params": {"subject": "{{ ticket.subject }}", "n": "a&b=c d"}})).await;
    }
    let ticket = app.ticket(json!({"subject": "Where? Here & now"})).await;
    let received = receiver.wait_for(2).await;
    for method in ["GET", "DELETE"] {
        let request = received.iter().find(|r| r.method == method).expect("request");
        let (path, query) = request.path.split_once('?').expect("a query");
        assert_eq!(path, format!("/{method}/tickets/{}", ticket["id"]));
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let expected = [("keep", "1"), ("subject", "Where? Here & now"), ("n", "a&b=c d")];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
        assert_eq!(request.body, "", "{method} sends no body");
        assert_eq!(request.header("content-type"), None);
    }
}

async fn without_a_payload_each_format_sends_the_standard_ticket_document(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    for format in ["json", "xml", "form"] {
        let webhook = app.webhook(&receiver.url(&format!("/{format}")), json!({"request_format": format})).await;
        notify_on_create(&app, &webhook, json!({})).await;
    }
    let ticket = app
        .ticket(json!({"subject": "Standard", "tags": ["vip", "eu"], "requester": {"email": "ann@example.com"}}))
        .await;
    let received = receiver.wait_for(3).await;
    let body = |path: &str| received.iter().find(|r| r.path == path).expect("request").body.clone();

    let document: Value = serde_json::from_str(&body("/json")).expect("JSON");
    assert_eq!(document["id"], ticket["id"]);
    assert_eq!(document["tags"], json!(["vip", "eu"]));

    let form = unflatten(&body("/form"));
    assert_eq!(form["ticket"]["id"], ticket["id"].to_string());
    assert_eq!(form["ticket"]["subject"], "Standard");
    assert_eq!(form["ticket"]["requester"]["email"], "ann@example.com");
    assert_eq!(form["ticket"]["tags"], json!({"0": "vip", "1": "eu"}));
    assert_eq!(form["custom_data"], "", "custom_data is always present");

    let xml = body("/xml");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ticket>"), "{xml}");
    assert!(xml.contains(&format!("<id>{}</id>", ticket["id"])), "{xml}");
    assert!(xml.contains("<tags><item>vip</item><item>eu</item></tags>"), "{xml}");
    assert!(xml.contains("<email>ann@example.com</email>"), "{xml}");
}

async fn payloads_that_do_not_render_to_their_format_fail_before_sending(db: Db) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let cases = [
        ("json", "{\"subject\": {{ ticket.subject }}}", "invalid_json"),
        ("xml", "<ticket><subject>{{ ticket.subject }}</subject></ticket>", "invalid_xml"),
        ("form", "subject={{ ticket.subject }}", "invalid_form"),
    ];
    for (format, payload, _) in cases {
        let webhook = app.webhook(&receiver.url(&format!("/{format}")), json!({"request_format": format})).await;
        notify_on_create(&app, &webhook, json!({"payload": payload})).await;
    }
    app.ticket(json!({"subject": "a <b> & c"})).await;
    let invocations = app.invocations("").await;
    assert_eq!(invocations.len(), 3);
    for invocation in invocations {
        let invocation = app.settled(invocation["id"].as_str().expect("id")).await;
        assert_eq!(invocation["status"], "failed", "{invocation:#}");
        assert_eq!(invocation["attempts"], json!([]), "nothing was sent: {invocation:#}");
        let code = invocation["error"]["code"].as_str().expect("an error code");
        assert!(cases.iter().any(|(_, _, c)| *c == code), "{invocation:#}");
    }
    assert!(receiver.received().is_empty());
}

crate::on_both_backends!(
    every_method_carries_every_format_as_its_content_type_says,
    get_and_delete_send_params_in_the_query_and_no_body,
    without_a_payload_each_format_sends_the_standard_ticket_document,
    payloads_that_do_not_render_to_their_format_fail_before_sending,
);
