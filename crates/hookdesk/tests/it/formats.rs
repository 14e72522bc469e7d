//! Request shapes as receivers see them: every method with every body format, query params for
//! GET and DELETE, bracket-encoded forms, XML, and payloads refused before anything is sent.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::support::{Db, Receiver, TestApp, refusal};

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
            app.notify_on_create(&webhook, json!({"payload": payload})).await;
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
        app.notify_on_create(&webhook, json!({"params": {"subject": "{{ ticket.subject }}", "n": "a&b=c d"}})).await;
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
        app.notify_on_create(&webhook, json!({})).await;
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
        ("json", "{\"subject\": {{ ticket.custom_fields.raw }}}", "invalid_json"),
        ("xml", "<ticket><subject>{{ ticket.subject }}</subject></ticket>", "invalid_xml"),
        ("form", "subject={{ ticket.custom_fields.raw }}", "invalid_form"),
    ];
    let mut webhooks = Vec::new();
    for (format, payload, code) in cases {
        let webhook = app.webhook(&receiver.url(&format!("/{format}")), json!({"request_format": format})).await;
        app.notify_on_create(&webhook, json!({"payload": payload})).await;
        webhooks.push((webhook, format, code));
    }
    app.ticket(json!({"subject": "a <b> & c", "custom_fields": {"raw": "a <b> & c"}})).await;
    assert_eq!(app.invocations("").await.len(), 3);
    for (webhook, format, code) in webhooks {
        let queued = app.invocations(&format!("webhook_id={webhook}")).await;
        let invocation = app.settled(queued[0]["id"].as_str().expect("id")).await;
        assert_eq!(invocation["status"], "failed", "{format}: {invocation:#}");
        assert_eq!(invocation["attempts"], json!([]), "{format}: nothing was sent: {invocation:#}");
        assert_eq!(invocation["error"]["code"], code, "{format}: {invocation:#}");
    }
    // Each failed without an attempt: none could have sent anything.
    assert!(receiver.received().is_empty());
}

/// The contract's refused header names and prefixes, each tried in mixed case.
const REFUSED: &[&str] = &[
    "Accept-Charset",
    "Accept-Encoding",
    "Connection",
    "Content-Encoding",
    "Content-Length",
    "Content-MD5",
    "Content-Type",
    "Date",
    "Expect",
    "Forwarded",
    "Host",
    "Keep-Alive",
    "Max-Forwards",
    "Origin",
    "Proxy-Authenticate",
    "Referer",
    "Server",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
    "User-Agent",
    "Via",
    "WWW-Authenticate",
    "Access-Control-Allow-Origin",
    "X-Forwarded-For",
    "Webhook-Id",
];

async fn custom_headers_break_no_rule_of_the_contract_and_each_refusal_names_it(db: Db) {
    let app = TestApp::spawn(db).await;
    let create = |headers: Value| json!({"name": "h", "endpoint": "https://example.com/h", "custom_headers": headers});
    let long_name = "x".repeat(129);
    let mut cases: Vec<(Value, String, &str)> = REFUSED
        .iter()
        .map(|name| (json!({*name: "v"}), format!("custom_headers.{name}"), "cannot be customised"))
        .collect();
    cases.extend([
        (json!({long_name.clone(): "v"}), format!("custom_headers.{long_name}"), "1 to 128 characters"),
        (json!({"X Space": "v"}), "custom_headers.X Space".to_owned(), "1 to 128 characters"),
        (json!({"X-Café": "v"}), "custom_headers.X-Café".to_owned(), "1 to 128 characters"),
        (json!({"X-Long": "v".repeat(1001)}), "custom_headers.X-Long".to_owned(), "at most 1000 ASCII"),
        (json!({"X-Accent": "café"}), "custom_headers.X-Accent".to_owned(), "at most 1000 ASCII"),
        (json!({"X-Tab": "a\tb"}), "custom_headers.X-Tab".to_owned(), "at most 1000 ASCII"),
        (json!({"X-Num": 5}), "custom_headers.X-Num".to_owned(), "must be a string"),
        (json!({"X-Dup": "a", "x-dup": "b"}), "custom_headers.x-dup".to_owned(), "unique"),
        (json!({"X-Bad": "{{ ticket.id"}), "custom_headers.X-Bad".to_owned(), ""),
        (json!({"A": "1", "B": "2", "C": "3", "D": "4", "E": "5", "F": "6"}), "custom_headers".to_owned(), "at most 5"),
    ]);
    for (headers, field, rule) in cases {
        let (status, error) = app.post("/api/v1/webhooks", create(headers.clone())).await;
        assert_eq!(refusal(status, &error), (422, "invalid_value".into()), "{headers}: {error}");
        let detail = &error["error"]["details"][0];
        assert_eq!(detail["field"], field, "{headers}: {error}");
        assert!(detail["message"].as_str().is_some_and(|m| m.contains(rule)), "{headers}: {error}");
    }
    assert_eq!(app.get("/api/v1/webhooks").await.1["data"], json!([]), "nothing was saved");

    // At the limits, accepted: five headers, a 128-character name, a 1000-character value.
    let fine =
        json!({"x".repeat(128): "v".repeat(1000), "Authorization": "Token t", "X-B": "~ !", "X-C": "", "X-D": "d"});
    let (status, webhook) = app.post("/api/v1/webhooks", create(fine)).await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
}

async fn each_authentication_type_reaches_the_receiver_as_it_expects(db: Db) {
    use base64::Engine as _;
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(db).await;
    let auths = [
        ("none", json!({"type": "none"})),
        ("basic", json!({"type": "basic", "username": "ann", "password": "p:ss w0rd"})),
        ("bearer", json!({"type": "bearer", "token": "tok-123"})),
        ("api_key", json!({"type": "api_key", "header": "X-Api-Key", "value": "key-456"})),
    ];
    for (name, auth) in &auths {
        let webhook = app.webhook(&receiver.url(&format!("/{name}")), json!({"authentication": auth})).await;
        app.notify_on_create(&webhook, json!({})).await;
    }
    app.ticket(json!({"subject": "Who goes there"})).await;
    let received = receiver.wait_for(4).await;
    let at = |path: &str| received.iter().find(|r| r.path == path).expect("request");
    assert_eq!(at("/none").header("authorization"), None);
    let basic = at("/basic").header("authorization").expect("basic").strip_prefix("Basic ").expect("scheme");
    let decoded = base64::engine::general_purpose::STANDARD.decode(basic).expect("base64");
    assert_eq!(String::from_utf8(decoded).expect("utf-8"), "ann:p:ss w0rd");
    assert_eq!(at("/bearer").header("authorization"), Some("Bearer tok-123"));
    assert_eq!(at("/api_key").header("x-api-key"), Some("key-456"));
    assert_eq!(at("/api_key").header("authorization"), None);

    let log = app.invocations("").await.iter().map(|i| i.to_string()).collect::<String>();
    let (_, webhooks) = app.get("/api/v1/webhooks").await;
    for secret in ["p:ss", "tok-123", "key-456"] {
        assert!(!log.contains(secret) && !webhooks.to_string().contains(secret), "{secret} leaked");
    }
}

crate::on_both_backends!(
    every_method_carries_every_format_as_its_content_type_says,
    get_and_delete_send_params_in_the_query_and_no_body,
    without_a_payload_each_format_sends_the_standard_ticket_document,
    payloads_that_do_not_render_to_their_format_fail_before_sending,
    custom_headers_break_no_rule_of_the_contract_and_each_refusal_names_it,
    each_authentication_type_reaches_the_receiver_as_it_expects,
);
