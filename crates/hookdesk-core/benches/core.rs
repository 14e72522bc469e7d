//! Micro-benchmarks of the pure core: `cargo bench -p hookdesk-core`.
//!
//! - one update checked against 1,000 active triggers with mixed conditions;
//! - a 2 KiB payload with 30 placeholders and filters rendered;
//! - a prepared request finalised: authentication, Standard Webhooks headers, signature;
//! - templates of 64 KiB to 1 MiB parsed: the time grows with the size, not its square.

use divan::{Bencher, black_box};
use hookdesk_core::Timestamp;
use hookdesk_core::id::RuleId;
use hookdesk_core::request::{PreparedRequest, finalize};
use hookdesk_core::rules::{Action, Conditions, Rule, UpdateContext, UpdateType, run_cycle};
use hookdesk_core::template::{Context, Template};
use hookdesk_core::ticket::{Status, Tag, Tags, TicketFields};
use hookdesk_core::user::Role;
use hookdesk_core::webhook::{Authentication, HttpMethod, SigningSecret};
use serde_json::json;

fn main() {
    divan::main();
}

/// 1,000 triggers over status, priority, tags, text and custom fields, none of which fire
/// on the benchmark's update, so every one is checked (the common case: most triggers
/// don't match most updates).
fn thousand_triggers() -> Vec<Rule> {
    (0..1000)
        .map(|i| {
            let conditions = match i % 5 {
                0 => json!({"all": [{"field": "status", "operator": "changed_to", "value": "solved"}]}),
                1 => json!({"all": [{"field": "tags", "operator": "includes", "value": format!("tag{i} other{i}")}]}),
                2 => json!({"all": [{"field": "priority", "operator": "greater_than", "value": "high"},
                                    {"field": "update_type", "operator": "is", "value": "change"}]}),
                3 => json!({"any": [{"field": "subject", "operator": "contains", "value": format!("word{i}")},
                                    {"field": "custom_fields.plan", "operator": "is", "value": format!("plan{i}")}]}),
                _ => json!({"all": [{"field": "current_user.role", "operator": "is", "value": "end_user"},
                                    {"field": "comment_is_public", "operator": "is", "value": true}]}),
            };
            Rule {
                id: RuleId(i),
                title: format!("trigger {i}"),
                conditions: Conditions::parse(&conditions).expect("valid"),
                actions: vec![
                    Action::parse(&json!({"field": "add_tags", "value": format!("fired{i}")})).expect("valid"),
                ],
            }
        })
        .collect()
}

fn fields() -> TicketFields {
    let mut fields = TicketFields {
        subject: "The printer on the third floor is on fire again".into(),
        description: "Smoke everywhere".into(),
        status: Status::Open,
        tags: Tags::new(Tag::parse_list("printer hardware floor3").expect("tags")),
        ..TicketFields::default()
    };
    fields.custom_fields.insert("plan".into(), json!("enterprise"));
    fields
}

#[divan::bench]
fn evaluate_1000_triggers(bencher: Bencher) {
    let rules = thousand_triggers();
    let previous = fields();
    bencher.with_inputs(fields).bench_local_refs(|current| {
        let update = UpdateContext {
            update_type: UpdateType::Change,
            previous: Some(&previous),
            comment: None,
            current_user_role: Some(Role::Agent),
            requester_email: "ann@example.com",
            times: None,
        };
        black_box(run_cycle(current, &update, &rules))
    });
}

/// A 2 KiB payload with 30 placeholders, most with a filter.
fn payload() -> String {
    let mut template = String::from("{");
    for i in 0..30 {
        let placeholder = match i % 5 {
            0 => "{{ ticket.subject | json }}".to_owned(),
            1 => "\"{{ ticket.requester.email | url_encode }}\"".to_owned(),
            2 => "{{ ticket.tags | json }}".to_owned(),
            3 => "\"{{ ticket.status | upcase }}\"".to_owned(),
            _ => "\"{{ ticket.custom_fields.missing | default: 'none' }}\"".to_owned(),
        };
        template.push_str(&format!("\"field_{i:02}\": {placeholder}, \"pad_{i:02}\": \"{}\", ", "x".repeat(30)));
    }
    template.push_str("\"end\": true}");
    template
}

#[divan::bench]
fn render_2kib_payload(bencher: Bencher) {
    let source = payload();
    assert!(source.len() >= 2048, "{} bytes", source.len());
    let template = Template::parse("payload", &source).expect("parses");
    let context = Context::new().with(
        "ticket",
        &json!({"id": 42, "subject": "Printer \"on fire\"", "status": "open", "tags": ["printer", "hardware"],
                "requester": {"name": "Ann", "email": "ann+1@example.com"}, "custom_fields": {"plan": "enterprise"}}),
    );
    bencher.bench_local(|| black_box(template.render(&context).expect("renders")));
}

/// 30 float operations, which run on exact decimals as Ruby's (`plus`, `times`...), against
/// the same 30 filters on text (`append`): what exactness costs.
#[divan::bench(args = ["{{ price | times: 1.2 | plus: 0.05 }},", "{{ name | append: 'x' | append: 'y' }},"])]
fn render_30_filters(bencher: Bencher, placeholder: &str) {
    let template = Template::parse("payload", &placeholder.repeat(15)).expect("parses");
    let context = Context::new().with("price", &json!(12.5)).with("name", &json!("Ann"));
    bencher.bench_local(|| black_box(template.render(&context).expect("renders")));
}

/// Templates made of one element repeated to `kib` KiB: outputs, tags, `liquid` tags. A
/// parse that read the rest of the source at each element took 126 s for 900 KiB of outputs.
#[divan::bench(args = [64, 256, 1024], consts = [0, 1, 2], sample_count = 10)]
fn parse_repeated<const KIND: usize>(bencher: Bencher, kib: usize) {
    let unit = ["{{ x }} ", "{% if a %}b{% endif %}", "{% liquid\nassign a = 1\n%}"][KIND];
    let source = unit.repeat(kib * 1024 / unit.len());
    bencher.bench_local(|| black_box(Template::parse("payload", &source).expect("parses")));
}

/// A loop over 1,000 objects, each printing a property and its `forloop.index`.
#[divan::bench]
fn render_loop_of_1000(bencher: Bencher) {
    let template =
        Template::parse("payload", "{% for t in items %}{{ t.name }}{{ forloop.index }},{% endfor %}").expect("parses");
    let items: Vec<_> = (0..1000).map(|i| json!({"name": format!("item {i}")})).collect();
    let context = Context::new().with("items", &json!(items));
    bencher.bench_local(|| black_box(template.render(&context).expect("renders")));
}

#[divan::bench]
fn finalize_and_sign_1kib_request(bencher: Bencher) {
    let prepared = PreparedRequest {
        method: HttpMethod::Post,
        url: "https://receiver.example/hook".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: Some(format!("{{\"padding\": \"{}\"}}", "x".repeat(1000))),
    };
    let auth = Authentication::Bearer { token: "token".into() };
    let secret = SigningSecret::from_bytes(vec![7; 24]);
    bencher.bench_local(|| {
        black_box(finalize(
            &prepared,
            &auth,
            &[&secret],
            "inv_0123456789",
            Timestamp::from_millis(1_700_000_000_000).as_secs(),
            "hookdesk/bench",
        ))
    });
}
