//! The decision of an update, action by action: what each does to the fields and what it
//! does beyond them, without a database or a server.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::*;
use crate::event::EventType;
use crate::id::{CommentId, RuleId, TicketId, UserId, WebhookId};
use crate::invocation::Origin;
use crate::rules::{Action, Conditions};
use crate::ticket::{Priority, Requester, Status, Tag, Tags, TicketType};
use crate::user::Role;
use crate::webhook::{
    Authentication, CustomHeaders, Endpoint, HttpMethod, Ordering, RequestFormat, Subscriptions, Webhook, WebhookStatus,
};

const NOW: i64 = 1_800_000_000_000;

fn rule(id: i64, action: Value) -> Rule {
    Rule {
        id: RuleId(id),
        title: format!("rule {id}"),
        conditions: Conditions::parse(&json!({"all": [{"field": "update_type", "operator": "is", "value": "change"}]}))
            .expect("conditions"),
        actions: vec![Action::parse(&action).expect("action")],
    }
}

fn trigger(rule: Rule) -> Trigger {
    Trigger {
        rule,
        description: String::new(),
        active: true,
        position: 1,
        created_at: Timestamp::default(),
        updated_at: Timestamp::default(),
    }
}

fn webhook(id: &str, status: WebhookStatus, subscriptions: Subscriptions) -> Webhook {
    Webhook {
        id: WebhookId(id.into()),
        name: format!("hook {id}"),
        description: String::new(),
        endpoint: Endpoint::parse("https://example.com/{{ ticket.id }}").expect("endpoint"),
        http_method: HttpMethod::Post,
        request_format: RequestFormat::Json,
        status,
        subscriptions,
        authentication: Authentication::None,
        custom_headers: CustomHeaders::default(),
        max_retries: 5,
        ordering: Ordering::PerTicket,
        rate_limit_per_minute: None,
        template_mode: crate::template::TemplateMode::Lax,
        created_at: Timestamp::default(),
        updated_at: Timestamp::default(),
    }
}

fn agent() -> User {
    User {
        id: UserId(9),
        name: "Agent".into(),
        email: "agent@example.com".into(),
        role: Role::Agent,
        created_at: Timestamp::default(),
    }
}

/// Ticket 42 as stored: new, normal, tagged `old`.
fn ticket() -> Ticket {
    let fields = TicketFields {
        subject: "Printer on fire".into(),
        tags: Tags::new([Tag::parse("old").expect("tag")]),
        ..TicketFields::default()
    };
    Ticket {
        id: TicketId(42),
        fields,
        requester: Requester { id: UserId(3), name: "Ann".into(), email: "ann@example.com".into() },
        comments: vec![],
        created_at: Timestamp::from_millis(NOW - 1000),
        updated_at: Timestamp::from_millis(NOW - 1000),
        status_changed_at: Timestamp::from_millis(NOW - 1000),
    }
}

/// The webhooks around a plan: two rules may notify, one subscribed to events.
struct Fixture {
    webhooks: HashMap<WebhookId, Webhook>,
    event_webhooks: Vec<Webhook>,
}

impl Fixture {
    fn new() -> Self {
        let hooks = [
            webhook("wh_on", WebhookStatus::Active, Subscriptions::Conditional),
            webhook("wh_off", WebhookStatus::Inactive, Subscriptions::Conditional),
        ];
        let events = Subscriptions::parse(&["ticket.status_changed".into(), "ticket.comment_added".into()])
            .expect("subscriptions");
        Self {
            webhooks: hooks.into_iter().map(|w| (w.id.clone(), w)).collect(),
            event_webhooks: vec![webhook("wh_events", WebhookStatus::Active, events)],
        }
    }

    /// The plan of a change to [`ticket`] by an agent, with `triggers` active.
    fn plan(&self, triggers: &[Trigger], applied: &[Applied], patch: TicketPatch) -> Result<UpdatePlan, Invalid> {
        let actor = agent();
        let source = Source::api(&actor);
        let base = ticket();
        let mut fields = base.fields.clone();
        patch.apply(&mut fields);
        let comment = patch.comment.map(|c| c.by(Some(&actor)));
        let change = Change { previous: Some(base.fields.clone()), fields, comment, applied };
        let decided = decide_fields(change, triggers, source, &base.requester.email);
        let ids: Vec<CommentId> = (100..).map(CommentId).take(decided.comments_added()).collect();
        // Ids that count up (the closure must be `Sync`).
        let counter = std::sync::atomic::AtomicU32::new(0);
        let new_id = |prefix: &str| format!("{prefix}_{}", counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let origin = Origin {
            public_url: "https://desk.example.com",
            now: Timestamp::from_millis(NOW),
            queued_at: Timestamp::from_millis(NOW + 1),
            new_id: &new_id,
        };
        let cx = PlanContext {
            id: base.id,
            source,
            webhooks: &self.webhooks,
            event_webhooks: &self.event_webhooks,
            origin: &origin,
        };
        decided.plan(base, ids, &cx, &mut Rendering::new())
    }
}

/// The name of every action variant: a new one fails to compile here until the table below
/// covers it.
fn variant(action: &Action) -> &'static str {
    match action {
        Action::Status(_) => "status",
        Action::Priority(_) => "priority",
        Action::Type(_) => "type",
        Action::AssigneeId(_) => "assignee_id",
        Action::Group(_) => "group",
        Action::CustomField(..) => "custom_field",
        Action::SetTags(_) => "set_tags",
        Action::AddTags(_) => "add_tags",
        Action::RemoveTags(_) => "remove_tags",
        Action::AddComment { .. } => "add_comment",
        Action::NotifyWebhook(_) => "notify_webhook",
    }
}

const EVERY_VARIANT: [&str; 11] = [
    "status",
    "priority",
    "type",
    "assignee_id",
    "group",
    "custom_field",
    "set_tags",
    "add_tags",
    "remove_tags",
    "add_comment",
    "notify_webhook",
];

type Check = fn(&UpdatePlan);

/// One trigger with one action, on a change that fires it: what the plan holds.
fn table() -> Vec<(Value, Check)> {
    vec![
        (json!({"field": "status", "value": "open"}), |p| {
            assert_eq!(p.ticket.fields.status, Status::Open);
            assert_eq!(p.ticket.status_changed_at, Timestamp::from_millis(NOW));
            assert_eq!(p.steps[0].changes, json!({"status": {"from": "new", "to": "open"}}));
            assert_eq!(p.events, [EventType::TicketStatusChanged]);
            // Subscribed to status changes: one CloudEvent.
            assert_eq!(p.invocations.len(), 1);
            assert_eq!(p.invocations[0].event_type.as_deref(), Some("ticket.status_changed"));
        }),
        (json!({"field": "priority", "value": "urgent"}), |p| {
            assert_eq!(p.ticket.fields.priority, Priority::Urgent);
            assert_eq!(p.events, [EventType::TicketPriorityChanged]);
            assert!(p.invocations.is_empty(), "nobody subscribes to priority changes");
        }),
        (json!({"field": "type", "value": "incident"}), |p| {
            assert_eq!(p.ticket.fields.ticket_type, Some(TicketType::Incident));
        }),
        (json!({"field": "assignee_id", "value": 7}), |p| {
            assert_eq!(p.ticket.fields.assignee_id, Some(UserId(7)));
        }),
        (json!({"field": "group", "value": "Tier 2"}), |p| {
            assert_eq!(p.ticket.fields.group.as_deref(), Some("Tier 2"));
        }),
        (json!({"field": "custom_fields.plan", "value": "gold"}), |p| {
            assert_eq!(p.ticket.fields.custom_fields["plan"], "gold");
        }),
        (json!({"field": "set_tags", "value": "a b"}), |p| {
            assert_eq!(p.ticket.fields.tags, Tags::new(Tag::parse_list("a b").expect("tags")));
        }),
        (json!({"field": "add_tags", "value": "vip"}), |p| {
            assert_eq!(p.ticket.fields.tags, Tags::new(Tag::parse_list("old vip").expect("tags")));
        }),
        (json!({"field": "remove_tags", "value": "old"}), |p| {
            assert!(p.ticket.fields.tags.iter().next().is_none());
            assert_eq!(p.events, [EventType::TicketTagsChanged]);
        }),
        (json!({"field": "add_comment", "value": {"body": "About {{ ticket.subject }}", "public": false}}), |p| {
            assert_eq!(p.comments.len(), 1);
            let comment = &p.comments[0];
            assert_eq!((comment.id.0, comment.body.as_str(), comment.public), (100, "About Printer on fire", false));
            assert_eq!(comment.author_id, None, "a rule's comment has no author");
            assert_eq!(p.ticket.comments, p.comments);
            assert_eq!(p.events, [EventType::TicketCommentAdded]);
            assert_eq!(p.audit.changes["comments_added"], 1);
        }),
        (json!({"field": "notify_webhook", "value": {"webhook_id": "wh_on"}}), |p| {
            assert_eq!(p.invocations.len(), 1);
            let invocation = &p.invocations[0];
            assert_eq!((invocation.webhook_id.as_str(), invocation.ticket_id), ("wh_on", Some(TicketId(42))));
            assert_eq!((invocation.trigger_id, invocation.automation_id), (Some(RuleId(1)), None));
            assert_eq!((invocation.max_retries, invocation.ordered), (5, true));
            assert_eq!(invocation.created_at, Timestamp::from_millis(NOW + 1));
            let request = invocation.request.as_ref().expect("a request");
            assert_eq!(request.url, "https://example.com/42");
            // Without a payload, the body is the ticket's document.
            let body: Value = serde_json::from_str(request.body.as_deref().expect("body")).expect("json");
            assert_eq!(body["id"], 42);
            assert_eq!(p.audit.invocations, std::slice::from_ref(&invocation.id));
        }),
    ]
}

#[test]
fn every_action_is_planned() {
    let fixture = Fixture::new();
    let table = table();
    let mut covered: Vec<&str> = Vec::new();
    for (action, check) in &table {
        let triggers = [trigger(rule(1, action.clone()))];
        covered.push(variant(&triggers[0].rule.actions[0]));
        let plan = fixture.plan(&triggers, &[], TicketPatch::default()).expect("a plan");
        assert_eq!(plan.steps.len(), 1, "{action}: the trigger fired once");
        assert_eq!(plan.audit.rules, [FiredRule { kind: "trigger".into(), id: RuleId(1), title: "rule 1".into() }]);
        assert_eq!((plan.audit.via, plan.audit.actor_id), (Via::Api, Some(UserId(9))));
        check(&plan);
    }
    covered.sort_unstable();
    let mut every = EVERY_VARIANT.to_vec();
    every.sort_unstable();
    assert_eq!(covered, every, "the table covers every action");
}

#[test]
fn notifications_skip_inactive_webhooks_and_fail_for_deleted_ones() {
    let fixture = Fixture::new();
    let off = [trigger(rule(1, json!({"field": "notify_webhook", "value": {"webhook_id": "wh_off"}})))];
    assert!(fixture.plan(&off, &[], TicketPatch::default()).expect("plan").invocations.is_empty());
    let gone = [trigger(rule(1, json!({"field": "notify_webhook", "value": {"webhook_id": "wh_gone"}})))];
    let plan = fixture.plan(&gone, &[], TicketPatch::default()).expect("plan");
    assert_eq!(plan.invocations[0].request.as_ref().map_err(|e| e.code), Err("webhook_deleted"));
    assert_eq!(plan.invocations[0].max_retries, 0);
}

#[test]
fn a_strict_webhook_fails_its_invocation_on_an_undefined_variable_while_comments_stay_lax() {
    let mut fixture = Fixture::new();
    let mut strict = webhook("wh_strict", WebhookStatus::Active, Subscriptions::Conditional);
    strict.template_mode = crate::template::TemplateMode::Strict;
    fixture.webhooks.insert(strict.id.clone(), strict);
    let payload = "{\"subject\": {{ ticket.subjct | json }}}";
    let actions = [
        json!({"field": "add_comment", "value": {"body": "[{{ ticket.subjct }}]"}}),
        json!({"field": "notify_webhook", "value": {"webhook_id": "wh_strict", "payload": payload}}),
        json!({"field": "notify_webhook", "value": {"webhook_id": "wh_on", "payload": payload}}),
    ];
    let mut notify = rule(1, json!({"field": "add_tags", "value": "x"}));
    notify.actions = actions.iter().map(|a| Action::parse(a).expect("action")).collect();
    let plan = fixture.plan(&[trigger(notify)], &[], TicketPatch::default()).expect("plan");
    assert_eq!(plan.comments[0].body, "[]", "a rule's comment renders lax, beside a strict webhook");
    let failed = plan.invocations[0].request.as_ref().expect_err("the strict webhook's payload fails");
    assert_eq!(failed.code, "template_error");
    assert!(failed.message.contains("undefined variable `ticket.subjct`"), "{}", failed.message);
    let lax = plan.invocations[1].request.as_ref().expect("the lax webhook renders");
    assert_eq!(lax.body.as_deref(), Some("{\"subject\": null}"));
}

#[test]
fn each_rule_renders_from_the_ticket_as_it_left_it_and_sees_earlier_comments() {
    let fixture = Fixture::new();
    let triggers = [
        trigger(rule(1, json!({"field": "add_comment", "value": {"body": "first, {{ ticket.status }}"}}))),
        trigger(rule(2, json!({"field": "status", "value": "pending"}))),
        trigger(rule(
            3,
            json!({"field": "add_comment", "value": {"body": "{{ ticket.status }} after {{ ticket.latest_comment.id }}"}}),
        )),
    ];
    let patch = TicketPatch::comment(CommentInput::parse("from the agent", true).expect("comment"));
    let plan = fixture.plan(&triggers, &[], patch).expect("plan");
    let bodies: Vec<(i64, &str, Option<i64>)> =
        plan.comments.iter().map(|c| (c.id.0, c.body.as_str(), c.author_id.map(|a| a.0))).collect();
    assert_eq!(bodies, [(100, "from the agent", Some(9)), (101, "first, new", None), (102, "pending after 101", None)]);
    assert_eq!(plan.steps.iter().map(|s| s.rule.id.0).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(plan.audit.changes["comments_added"], 3);
}

#[test]
fn a_macro_comment_that_fails_refuses_the_update_and_a_trigger_comment_says_why() {
    let fixture = Fixture::new();
    let failing = json!({"field": "add_comment", "value": {"body": "{{ ticket.subject | divided_by: 0 }}"}});
    let applied = [Applied { kind: RuleKind::Macro, rule: rule(5, failing.clone()), rendered: vec![] }];
    let refused = fixture.plan(&[], &applied, TicketPatch::default()).expect_err("refused");
    assert_eq!(refused.field, "actions[0].value.body");
    let plan = fixture.plan(&[trigger(rule(1, failing))], &[], TicketPatch::default()).expect("plan");
    assert!(plan.comments[0].body.starts_with("(this comment's template failed: "), "{}", plan.comments[0].body);
}

#[test]
fn applied_rules_act_before_the_triggers_and_are_named_by_kind() {
    let fixture = Fixture::new();
    let applied = [Applied {
        kind: RuleKind::Automation,
        rule: rule(5, json!({"field": "add_tags", "value": "auto"})),
        rendered: vec![],
    }];
    let notify = rule(1, json!({"field": "notify_webhook", "value": {"webhook_id": "wh_on"}}));
    let plan = fixture.plan(&[trigger(notify)], &applied, TicketPatch::default()).expect("plan");
    let kinds: Vec<&str> = plan.steps.iter().map(|s| s.rule.kind.as_str()).collect();
    assert_eq!(kinds, ["automation", "trigger"]);
    assert_eq!(plan.steps[0].changes, json!({"tags": {"from": ["old"], "to": ["old", "auto"]}}));
    let body: Value =
        serde_json::from_str(plan.invocations[0].request.as_ref().expect("request").body.as_deref().expect("body"))
            .expect("json");
    assert_eq!(body["tags"], json!(["old", "auto"]), "the trigger saw the automation's tag");
}

#[test]
fn automations_hold_in_order_on_the_fields_the_ones_before_left() {
    let hours = |id: i64, tag: &str, action: Value| Applied {
        kind: RuleKind::Automation,
        rule: Rule {
            id: RuleId(id),
            title: format!("a{id}"),
            conditions: Conditions::parse(&json!({"all": [
                {"field": "hours_since_created", "operator": "greater_than", "value": 0},
                {"field": "tags", "operator": "not_includes", "value": tag}]}))
            .expect("conditions"),
            actions: vec![Action::parse(&action).expect("action")],
        },
        rendered: vec![],
    };
    let first = hours(1, "seen", json!({"field": "add_tags", "value": "seen"}));
    let second = hours(2, "seen", json!({"field": "status", "value": "open"}));
    let holding = automations_holding(&ticket(), &[first, second], Timestamp::from_millis(NOW));
    assert_eq!(holding.iter().map(|a| a.rule.id.0).collect::<Vec<_>>(), [1], "the first one's tag stops the second");
}
