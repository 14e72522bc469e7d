//! Configuration as code: the webhooks, the triggers (in their order), automations, macros and
//! inbound webhooks as one document, each object keyed by its name (rules and macros by their
//! title) and referring to the others by name, without a secret (each is `{"env": "NAME"}`,
//! read from the server's environment when a document is applied). A document is made the
//! configuration by a plan (what is created, changed, deleted, with the fields that change),
//! applied in one transaction after every object passed the checks the API makes.
//!
//! A section the document leaves out is not managed; objects a section leaves out are
//! deleted only when pruning.

use std::collections::{HashMap, HashSet};

use hookdesk_core::Invalid;
use hookdesk_core::id::{InboundWebhookId, MacroId, RuleId, WebhookId};
use hookdesk_core::inbound::{InboundAction, InboundWebhook, Verify};
use hookdesk_core::rules::{Action, Conditions, Macro, RuleSet, Trigger};
use hookdesk_core::webhook::{Authentication, SigningSecret, Webhook};
use hookdesk_store::{NewMacro, NewTrigger, NewWebhook};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::checks::Webhooks;
use super::inbound::new_token;
use super::rules::RuleInput;
use super::webhooks::new_webhook;
use super::{Admin, App, AppError, Checked, CreateWebhookBody, InboundBody, from_json, ids};

/// The sections of a document, in the order they are applied.
const SECTIONS: [&str; 5] = ["webhooks", "triggers", "automations", "macros", "inbound_webhooks"];

/// How a document is applied.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Only plan: change nothing.
    pub dry_run: bool,
    /// Delete what a section of the document leaves out.
    pub prune: bool,
    /// The document's new rules go after the server's (an import adds them at the end),
    /// not before those it leaves out.
    pub append: bool,
}

/// What applying a document does (or did).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfigPlan {
    /// Each object created, changed or deleted, in the order they are applied.
    pub plan: Vec<PlanStep>,
    /// Whether the plan was applied (not with `dry_run`).
    pub applied: bool,
    /// What the checks could not settle (`[{field, message}]`), when anything.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<Invalid>,
}

/// One object's part of a plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanStep {
    /// `create`, `update` or `delete`.
    pub action: &'static str,
    /// `webhook`, `trigger`, `automation`, `macro` or `inbound_webhook`.
    pub kind: &'static str,
    /// Its name (a rule's or macro's title).
    pub name: String,
    /// For an update, each field that changes: `{"from", "to"}` (a secret as `"[secret]"`).
    #[schema(value_type = Object)]
    pub changes: Map<String, Value>,
}

impl PlanStep {
    fn new(action: &'static str, kind: &'static str, name: &str) -> Self {
        Self { action, kind, name: name.to_owned(), changes: Map::new() }
    }
}

/// The configuration as the store holds it now.
pub(crate) struct Current {
    pub webhooks: Vec<Webhook>,
    pub triggers: Vec<Trigger>,
    pub automations: Vec<Trigger>,
    pub macros: Vec<Macro<Value>>,
    pub inbound: Vec<InboundWebhook>,
}

impl Current {
    fn rules(&self, set: RuleSet) -> &[Trigger] {
        match set {
            RuleSet::Triggers => &self.triggers,
            RuleSet::Automations => &self.automations,
        }
    }

    /// Names must be unique for a document to say which object it means.
    fn check_unique(&self) -> Result<(), AppError> {
        let lists: [(&str, Vec<&str>); 5] = [
            ("webhooks", self.webhooks.iter().map(|w| w.name.as_str()).collect()),
            ("triggers", self.triggers.iter().map(|t| t.rule.title.as_str()).collect()),
            ("automations", self.automations.iter().map(|t| t.rule.title.as_str()).collect()),
            ("macros", self.macros.iter().map(|m| m.title.as_str()).collect()),
            ("inbound webhooks", self.inbound.iter().map(|w| w.name.as_str()).collect()),
        ];
        for (kind, names) in lists {
            let mut seen = HashSet::new();
            if let Some(twice) = names.iter().find(|name| !seen.insert(**name)) {
                return Err(AppError::Conflict(format!(
                    "two {kind} are named {twice:?}: a configuration document names each object once; rename one first"
                )));
            }
        }
        Ok(())
    }
}

/// The writes a plan makes, in the order they are made.
#[derive(Default)]
struct Writes {
    webhooks_created: Vec<Webhook>,
    webhooks_updated: Vec<Webhook>,
    webhooks_deleted: Vec<WebhookId>,
    rules: Vec<(RuleSet, RuleWrite)>,
    macros: Vec<MacroWrite>,
    inbound_saved: Vec<(InboundWebhook, String, bool)>,
    inbound_deleted: Vec<InboundWebhookId>,
}

enum RuleWrite {
    Create(NewTrigger),
    Update(RuleId, NewTrigger),
    Delete(RuleId),
}

enum MacroWrite {
    Create(NewMacro),
    Update(MacroId, NewMacro),
    Delete(MacroId),
}

/// An error of the object at `at` (`triggers[2]`), named `name`: its field inside it, its
/// name in the message.
fn within(at: &str, name: &str, error: AppError) -> AppError {
    match error {
        AppError::Invalid(invalid) => {
            let message = format!("{name:?}: {}", invalid.message);
            AppError::Invalid(Invalid { message, ..invalid.within(at) })
        }
        AppError::NotFound(what) => AppError::Invalid(Invalid::new(at, format!("{name:?}: the {what} does not exist"))),
        other => other,
    }
}

impl App {
    /// The whole configuration, as a document.
    pub async fn export_config(&self, _caller: &Admin) -> Result<Value, AppError> {
        let current = self.current_config().await?;
        current.check_unique()?;
        let names: HashMap<WebhookId, String> =
            current.webhooks.iter().map(|w| (w.id.clone(), w.name.clone())).collect();
        Ok(json!({
            "webhooks": current.webhooks.iter().map(webhook_doc).collect::<Vec<_>>(),
            "triggers": current.triggers.iter().map(|t| trigger_doc(t, &names)).collect::<Vec<_>>(),
            "automations": current.automations.iter().map(|t| trigger_doc(t, &names)).collect::<Vec<_>>(),
            "macros": current.macros.iter().map(macro_doc).collect::<Vec<_>>(),
            "inbound_webhooks": current.inbound.iter().map(inbound_doc).collect::<Vec<_>>(),
        }))
    }

    /// Makes the configuration what `document` says: plans it, then (unless a dry run)
    /// applies the plan in one transaction. Secrets given as `{"env": "NAME"}` are read with
    /// `env`. A document that does not hold together (a reference to no webhook, an invalid
    /// template) is refused naming the object and field, and changes nothing.
    pub async fn apply_config(
        &self,
        _caller: &Admin,
        document: &Value,
        options: ApplyOptions,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<ConfigPlan, AppError> {
        let sections = sections(document)?;
        let current = self.current_config().await?;
        current.check_unique()?;
        let now = self.clock.now();
        let mut plan = Vec::new();
        let mut warnings = Vec::new();
        let mut writes = Writes::default();

        // Webhooks first: the rules refer to them.
        let mut planned: HashMap<WebhookId, Webhook> =
            current.webhooks.iter().map(|w| (w.id.clone(), w.clone())).collect();
        let mut by_name: HashMap<String, WebhookId> =
            current.webhooks.iter().map(|w| (w.name.clone(), w.id.clone())).collect();
        if let Some(docs) = sections.get("webhooks") {
            let names = unique_names(docs, "webhooks", "name")?;
            for (i, (doc, name)) in docs.iter().zip(&names).enumerate() {
                let at = format!("webhooks[{i}]");
                let existing = current.webhooks.iter().find(|w| &w.name == name);
                let (id, created_at) =
                    existing.map_or_else(|| (WebhookId(ids::new_id("wh")), now), |w| (w.id.clone(), w.created_at));
                let body = with_secrets(
                    doc,
                    &["authentication.password", "authentication.token", "authentication.value"],
                    env,
                )
                .map_err(|e| within(&at, name, e.into()))?;
                let body: CreateWebhookBody = from_json(body).map_err(|e| within(&at, name, e.into()))?;
                let mut webhook = new_webhook(body, id, created_at).map_err(|e| within(&at, name, e))?;
                let checked = self.check_webhook_templates(&webhook).await.map_err(|e| within(&at, name, e.into()))?;
                warnings.extend(checked.into_iter().map(|w| w.within(&at)));
                match existing {
                    None => {
                        plan.push(PlanStep::new("create", "webhook", name));
                        writes.webhooks_created.push(webhook.clone());
                    }
                    Some(old) => {
                        if old.subscriptions.is_conditional() != webhook.subscriptions.is_conditional() {
                            let message = "the connection method of a webhook (conditional_ticket_events or event types) cannot change: delete it and create it anew";
                            return Err(within(&at, name, Invalid::new("subscriptions", message).into()));
                        }
                        let mut changes = changed(&webhook_doc(old), &webhook_doc(&webhook));
                        if old.authentication != webhook.authentication && !changes.contains_key("authentication") {
                            changes.insert("authentication".into(), json!({"from": "[secret]", "to": "[secret]"}));
                        }
                        if changes.is_empty() {
                            webhook = old.clone();
                        } else {
                            webhook.updated_at = now;
                            plan.push(PlanStep { changes, ..PlanStep::new("update", "webhook", name) });
                            writes.webhooks_updated.push(webhook.clone());
                        }
                    }
                }
                by_name.insert(name.clone(), webhook.id.clone());
                planned.insert(webhook.id.clone(), webhook);
            }
            if options.prune {
                for old in current.webhooks.iter().filter(|w| !names.contains(&w.name)) {
                    plan.push(PlanStep::new("delete", "webhook", &old.name));
                    writes.webhooks_deleted.push(old.id.clone());
                    planned.remove(&old.id);
                    by_name.remove(&old.name);
                }
            }
        }

        for set in [RuleSet::Triggers, RuleSet::Automations] {
            let (section, kind) = (set.name(), set.one());
            let olds = current.rules(set);
            let Some(docs) = sections.get(section) else {
                // Not managed here; its rules must still find the webhooks they notify.
                for old in olds {
                    still_notifies(&old.rule.actions, &planned, section, &old.rule.title)?;
                }
                continue;
            };
            let titles = unique_names(docs, section, "title")?;
            // The rules in the order they will run: the document's, then (not pruning) the
            // ones it leaves out, in their order; appending, those first.
            let mut order: Vec<(Option<&Trigger>, NewTrigger, String)> = Vec::new();
            if options.append {
                for old in olds.iter().filter(|t| !titles.contains(&t.rule.title)) {
                    still_notifies(&old.rule.actions, &planned, section, &old.rule.title)?;
                    order.push((Some(old), new_trigger(old), old.rule.title.clone()));
                }
            }
            for (i, (doc, title)) in docs.iter().zip(&titles).enumerate() {
                let at = format!("{section}[{i}]");
                let doc = by_id(doc, &by_name).map_err(|e| within(&at, title, e.into()))?;
                let rule = RuleFields::read(&doc).map_err(|e| within(&at, title, e.into()))?;
                let input = RuleInput {
                    title: &rule.title,
                    description: &rule.description,
                    active: rule.active,
                    position: None,
                    conditions: &rule.conditions,
                    actions: &rule.actions,
                    actions_changed: true,
                };
                let Checked { value, warnings: found } = self
                    .check_rule(set, &input, Webhooks::Planned(&planned))
                    .await
                    .map_err(|e| within(&at, title, e))?;
                warnings.extend(found.into_iter().map(|w| w.within(&at)));
                order.push((olds.iter().find(|t| &t.rule.title == title), value, title.clone()));
            }
            for old in olds.iter().filter(|t| !options.append && !titles.contains(&t.rule.title)) {
                if options.prune {
                    plan.push(PlanStep::new("delete", kind, &old.rule.title));
                    writes.rules.push((set, RuleWrite::Delete(old.rule.id)));
                } else {
                    still_notifies(&old.rule.actions, &planned, section, &old.rule.title)?;
                    order.push((Some(old), new_trigger(old), old.rule.title.clone()));
                }
            }
            // Positions change only when the order does: the kept rules in another order, or a
            // new one before a kept one.
            let kept: Vec<RuleId> = order.iter().filter_map(|(old, ..)| old.map(|t| t.rule.id)).collect();
            let kept_now: Vec<RuleId> = olds.iter().map(|t| t.rule.id).filter(|id| kept.contains(id)).collect();
            let first_new = order.iter().position(|(old, ..)| old.is_none()).unwrap_or(order.len());
            let reorder = kept != kept_now || order[first_new..].iter().any(|(old, ..)| old.is_some());
            let names: HashMap<WebhookId, String> = planned.values().map(|w| (w.id.clone(), w.name.clone())).collect();
            for (rank, (old, mut value, title)) in order.into_iter().enumerate() {
                let position = i64::try_from(rank).unwrap_or(i64::MAX) + 1;
                if reorder {
                    value.position = Some(position);
                }
                match old {
                    None => {
                        plan.push(PlanStep::new("create", kind, &title));
                        writes.rules.push((set, RuleWrite::Create(value)));
                    }
                    Some(old) => {
                        let mut changes = changed(&trigger_doc(old, &names), &rule_doc(&value, &names));
                        let old_rank = olds.iter().position(|t| t.rule.id == old.rule.id).map_or(0, |r| r + 1);
                        if reorder && old_rank != rank + 1 {
                            changes.insert("position".into(), json!({"from": old_rank, "to": rank + 1}));
                        }
                        if !changes.is_empty() {
                            plan.push(PlanStep { changes, ..PlanStep::new("update", kind, &title) });
                            writes.rules.push((set, RuleWrite::Update(old.rule.id, value)));
                        } else if reorder {
                            writes.rules.push((set, RuleWrite::Update(old.rule.id, value)));
                        }
                    }
                }
            }
        }

        if let Some(docs) = sections.get("macros") {
            let titles = unique_names(docs, "macros", "title")?;
            for (i, (doc, title)) in docs.iter().zip(&titles).enumerate() {
                let at = format!("macros[{i}]");
                let fields = MacroFields::read(doc).map_err(|e| within(&at, title, e.into()))?;
                let Checked { value, warnings: found } = self
                    .check_macro(&fields.title, &fields.description, fields.active, &fields.actions, true)
                    .await
                    .map_err(|e| within(&at, title, e))?;
                warnings.extend(found.into_iter().map(|w| w.within(&at)));
                match current.macros.iter().find(|m| &m.title == title) {
                    None => {
                        plan.push(PlanStep::new("create", "macro", title));
                        writes.macros.push(MacroWrite::Create(value));
                    }
                    Some(old) => {
                        let changes = changed(&macro_doc(old), &new_macro_doc(&value));
                        if !changes.is_empty() {
                            plan.push(PlanStep { changes, ..PlanStep::new("update", "macro", title) });
                            writes.macros.push(MacroWrite::Update(old.id, value));
                        }
                    }
                }
            }
            if options.prune {
                for old in current.macros.iter().filter(|m| !titles.contains(&m.title)) {
                    plan.push(PlanStep::new("delete", "macro", &old.title));
                    writes.macros.push(MacroWrite::Delete(old.id));
                }
            }
        }

        if let Some(docs) = sections.get("inbound_webhooks") {
            let names = unique_names(docs, "inbound_webhooks", "name")?;
            for (i, (doc, name)) in docs.iter().zip(&names).enumerate() {
                let at = format!("inbound_webhooks[{i}]");
                let body = with_secrets(doc, &["verify.secret"], env).map_err(|e| within(&at, name, e.into()))?;
                let body: InboundBody = from_json(body).map_err(|e| within(&at, name, e.into()))?;
                let existing = current.inbound.iter().find(|w| &w.name == name);
                match existing {
                    None => {
                        let (token, hash) = new_token()?;
                        let id = InboundWebhookId(ids::new_id("hook"));
                        let webhook = self.build_inbound(body, id, token, now).map_err(|e| within(&at, name, e))?;
                        plan.push(PlanStep::new("create", "inbound_webhook", name));
                        writes.inbound_saved.push((webhook, hash, true));
                    }
                    Some(old) => {
                        let mut webhook = self
                            .build_inbound(body, old.id.clone(), old.token.clone(), old.created_at)
                            .map_err(|e| within(&at, name, e))?;
                        let mut changes = changed(&inbound_doc(old), &inbound_doc(&webhook));
                        if old.verify != webhook.verify && !changes.contains_key("verify") {
                            changes.insert("verify".into(), json!({"from": "[secret]", "to": "[secret]"}));
                        }
                        if !changes.is_empty() {
                            webhook.updated_at = now;
                            plan.push(PlanStep { changes, ..PlanStep::new("update", "inbound_webhook", name) });
                            let hash = ids::token_hash(webhook.token.expose());
                            writes.inbound_saved.push((webhook, hash, false));
                        }
                    }
                }
            }
            if options.prune {
                for old in current.inbound.iter().filter(|w| !names.contains(&w.name)) {
                    plan.push(PlanStep::new("delete", "inbound_webhook", &old.name));
                    writes.inbound_deleted.push(old.id.clone());
                }
            }
        }

        if !options.dry_run && !plan.is_empty() {
            self.write_config(writes).await?;
        }
        Ok(ConfigPlan { plan, applied: !options.dry_run, warnings })
    }

    /// Every object a document may hold, as the store holds it now.
    pub(crate) async fn current_config(&self) -> Result<Current, AppError> {
        let mut webhooks = Vec::new();
        let mut after: Option<WebhookId> = None;
        loop {
            let page = self.store.list_webhooks(after.as_ref(), 500, None).await?;
            webhooks.extend(page.data);
            match page.next_cursor {
                Some(cursor) => after = Some(WebhookId(cursor)),
                None => break,
            }
        }
        let mut macros = Vec::new();
        let mut after: Option<(String, MacroId)> = None;
        loop {
            let page = self.store.macros(after.as_ref().map(|(t, id)| (t.as_str(), *id)), 500, usize::MAX).await?;
            after = page.data.last().map(|m| (m.title.clone(), m.id));
            macros.extend(page.data);
            if page.next_cursor.is_none() {
                break;
            }
        }
        Ok(Current {
            webhooks,
            triggers: self.store.rules(RuleSet::Triggers).await?,
            automations: self.store.rules(RuleSet::Automations).await?,
            macros,
            inbound: self.store.inbound_webhooks().await?,
        })
    }

    /// Makes every write of a plan, in one transaction: webhooks first (rules refer to
    /// them), deleted ones last (once no rule refers to them).
    async fn write_config(&self, writes: Writes) -> Result<(), AppError> {
        let now = self.clock.now();
        let mut tx = self.store.begin_config().await?;
        for webhook in &writes.webhooks_created {
            let secret = SigningSecret::from_bytes(ids::random_bytes(24)?);
            tx.create_webhook(NewWebhook { webhook, secret: &secret }).await?;
        }
        for webhook in &writes.webhooks_updated {
            tx.update_webhook(webhook).await?;
        }
        for (set, write) in &writes.rules {
            match write {
                RuleWrite::Create(new) => {
                    tx.create_rule(*set, new, now).await?;
                }
                RuleWrite::Update(id, new) => tx.update_rule(*set, *id, new, now).await?,
                RuleWrite::Delete(id) => tx.delete_rule(*set, *id).await?,
            }
        }
        for write in &writes.macros {
            match write {
                MacroWrite::Create(new) => {
                    tx.create_macro(new, now).await?;
                }
                MacroWrite::Update(id, new) => tx.update_macro(*id, new, now).await?,
                MacroWrite::Delete(id) => tx.delete_macro(*id).await?,
            }
        }
        for (webhook, hash, create) in &writes.inbound_saved {
            tx.save_inbound_webhook(webhook, hash, *create).await?;
        }
        for id in &writes.inbound_deleted {
            tx.delete_inbound_webhook(id).await?;
        }
        for id in &writes.webhooks_deleted {
            tx.delete_webhook(id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The JSON Schema (2020-12) of a configuration document, for editors to check one with
/// (`hookdesk config schema`): conditions and actions typed from the rule vocabulary.
pub fn document_schema() -> Value {
    use hookdesk_core::rules::RuleKind;
    use hookdesk_core::rules::vocabulary::{action_schema, condition_schema};
    let list = |def: &str| json!({"type": "array", "items": {"$ref": format!("#/$defs/{def}")}});
    let text = json!({"type": "string"});
    let conditions = |kind| {
        json!({"type": "object", "additionalProperties": false, "properties": {
            "all": {"type": "array", "items": condition_schema(kind), "description": "Every one must hold"},
            "any": {"type": "array", "items": condition_schema(kind), "description": "When not empty, one must hold"}}})
    };
    let rule = |kind| {
        json!({"type": "object", "required": ["title", "conditions", "actions"], "additionalProperties": false,
            "properties": {"title": text, "description": text, "active": {"type": "boolean", "default": true},
                "conditions": conditions(kind), "actions": {"type": "array", "minItems": 1, "items": action_schema(kind, true)}}})
    };
    let auth = |kind: &str, fields: Value, required: &[&str]| {
        let mut properties = fields;
        properties["type"] = json!({"type": "string", "enum": [kind]});
        let mut required: Vec<&str> = required.to_vec();
        required.push("type");
        json!({"type": "object", "additionalProperties": false, "required": required, "properties": properties})
    };
    let secret = json!({"$ref": "#/$defs/secret"});
    let template_mode = json!({"enum": ["lax", "strict"], "default": "lax",
        "description": "lax: an undefined variable renders empty; strict: an undefined variable or a filter on the wrong type fails the render"});
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "hookdesk configuration",
        "description": "What GET /api/v1/config answers and PUT /api/v1/config takes. Objects are keyed by name (rules and macros by title); a list left out is not managed.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "webhooks": list("webhook"),
            "triggers": list("trigger"),
            "automations": list("automation"),
            "macros": list("macro"),
            "inbound_webhooks": list("inbound_webhook"),
        },
        "$defs": {
            "secret": {"description": "A secret: {\"env\": \"NAME\"} reads it from the server's environment when applied",
                "anyOf": [{"type": "string"}, {"type": "object", "required": ["env"], "additionalProperties": false,
                    "properties": {"env": {"type": "string"}}}]},
            "webhook": {"type": "object", "required": ["name", "endpoint"], "additionalProperties": false, "properties": {
                "name": text, "description": text,
                "endpoint": {"type": "string", "description": "An absolute http(s) URL; may hold Liquid placeholders"},
                "http_method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
                "request_format": {"enum": ["json", "xml", "form"]},
                "status": {"enum": ["active", "inactive"]},
                "subscriptions": {"type": "array", "items": text,
                    "description": "[\"conditional_ticket_events\"] (notified by rules) or event types"},
                "authentication": {"anyOf": [
                    auth("none", json!({}), &[]),
                    auth("basic", json!({"username": text, "password": secret}), &["username", "password"]),
                    auth("bearer", json!({"token": secret}), &["token"]),
                    auth("api_key", json!({"header": text, "value": secret}), &["header", "value"])]},
                "custom_headers": {"type": "object", "additionalProperties": text, "maxProperties": 5},
                "max_retries": {"type": "integer", "minimum": 0, "maximum": 10},
                "ordering": {"enum": ["none", "per_ticket"]},
                "rate_limit_per_minute": {"type": ["integer", "null"], "minimum": 1},
                "template_mode": template_mode}},
            "trigger": rule(RuleKind::Trigger),
            "automation": rule(RuleKind::Automation),
            "macro": {"type": "object", "required": ["title", "actions"], "additionalProperties": false, "properties": {
                "title": text, "description": text, "active": {"type": "boolean", "default": true},
                "actions": {"type": "array", "minItems": 1, "items": action_schema(RuleKind::Macro, true)}}},
            "inbound_webhook": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                "name": text, "enabled": {"type": "boolean", "default": true},
                "verify": {"anyOf": [{"type": "null"},
                    auth("hmac_sha256", json!({"header": text, "secret": secret}), &["header", "secret"]),
                    auth("standard_webhooks", json!({"secret": secret}), &["secret"])]},
                "idempotency_header": {"type": ["string", "null"]},
                "actions": {"type": "array", "items": {"type": "object", "required": ["type"], "properties": {
                    "type": {"enum": ["create_ticket", "update_ticket", "add_comment"]}}}},
                "response": {"type": "object", "additionalProperties": false, "properties": {
                    "status": {"type": ["integer", "string"]}, "headers": {"type": "object", "additionalProperties": text},
                    "body": text}},
                "rate_limit_per_minute": {"type": ["integer", "null"], "minimum": 1},
                "template_mode": template_mode}},
        },
    })
}

/// The document's sections by name; anything else is refused.
fn sections(document: &Value) -> Result<HashMap<&'static str, &Vec<Value>>, Invalid> {
    let object = document.as_object().ok_or_else(|| {
        Invalid::new("", "a configuration document is an object: {\"webhooks\": [...], \"triggers\": [...], ...}")
    })?;
    if let Some(unknown) = object.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
        return Err(Invalid::new(unknown.as_str(), format!("is not a section; expected {}", SECTIONS.join(", "))));
    }
    let mut sections = HashMap::new();
    for section in SECTIONS {
        match object.get(section) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                sections.insert(section, items);
            }
            Some(_) => return Err(Invalid::new(section, "must be a list")),
        }
    }
    Ok(sections)
}

/// Each object's `key` (`name` or `title`), which must be there and be unique in its section.
fn unique_names(docs: &[Value], section: &str, key: &str) -> Result<Vec<String>, Invalid> {
    let mut names = Vec::with_capacity(docs.len());
    for (i, doc) in docs.iter().enumerate() {
        let name = doc.get(key).and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty()).ok_or_else(|| {
            Invalid::new(format!("{section}[{i}].{key}"), format!("each object of {section} needs a {key}"))
        })?;
        if names.iter().any(|n: &String| n == name) {
            return Err(Invalid::new(
                format!("{section}[{i}].{key}"),
                format!("{name:?} is named twice in {section}: a document names each object once"),
            ));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// `doc` with each secret at `paths` (`authentication.token`) read: `{"env": "NAME"}` from
/// the environment (a missing variable is refused naming it), a text as it is.
fn with_secrets(doc: &Value, paths: &[&str], env: &(dyn Fn(&str) -> Option<String> + Sync)) -> Result<Value, Invalid> {
    let mut doc = doc.clone();
    for path in paths {
        let (parent, key) = path.split_once('.').unwrap_or(("", path));
        let Some(slot) = doc.get_mut(parent).and_then(|p| p.get_mut(key)) else { continue };
        if let Some(reference) = slot.as_object() {
            let name =
                reference.get("env").and_then(Value::as_str).filter(|_| reference.len() == 1).ok_or_else(|| {
                    Invalid::new(*path, "a secret is a text or {\"env\": \"NAME\"}, read from the server's environment")
                })?;
            // Only the variables documents are meant to name: the server's own settings
            // (HOOKDESK_SECRET_KEY, the database URL) and anything else in its environment
            // must not reach a webhook, where a test send would show them to an admin.
            if !is_secret_variable(name) {
                return Err(Invalid::new(
                    *path,
                    format!(
                        "{name:?} is not a secret's variable: secrets are read only from variables named WEBHOOK_... or INBOUND_... (capitals, digits, _)"
                    ),
                ));
            }
            let value = env(name).ok_or_else(|| {
                Invalid::new(*path, format!("the environment variable {name} is not set where the server runs"))
            })?;
            *slot = Value::String(value);
        }
    }
    Ok(doc)
}

/// `doc`'s actions with each notified webhook named (`"webhook": "Intranet"`) given by id,
/// as the API takes them.
fn by_id(doc: &Value, by_name: &HashMap<String, WebhookId>) -> Result<Value, Invalid> {
    let mut doc = doc.clone();
    let Some(actions) = doc.get_mut("actions").and_then(Value::as_array_mut) else { return Ok(doc) };
    for (i, action) in actions.iter_mut().enumerate() {
        if action.get("field").and_then(Value::as_str) != Some("notify_webhook") {
            continue;
        }
        let Some(value) = action.get_mut("value").and_then(Value::as_object_mut) else { continue };
        let at = format!("actions[{i}].value");
        if value.contains_key("webhook_id") {
            return Err(Invalid::new(
                format!("{at}.webhook_id"),
                "a document names webhooks: use \"webhook\": \"NAME\"",
            ));
        }
        let name = value.remove("webhook").and_then(|n| n.as_str().map(str::to_owned)).ok_or_else(|| {
            Invalid::new(format!("{at}.webhook"), "must name a webhook of the document or of the server")
        })?;
        let id = by_name.get(&name).ok_or_else(|| {
            Invalid::new(
                format!("{at}.webhook"),
                format!("no webhook is named {name:?}, in the document or on the server"),
            )
        })?;
        value.insert("webhook_id".into(), Value::String(id.to_string()));
    }
    Ok(doc)
}

/// A rule that is kept must still find the webhooks it notifies.
fn still_notifies(
    actions: &[Action],
    planned: &HashMap<WebhookId, Webhook>,
    section: &str,
    title: &str,
) -> Result<(), Invalid> {
    for action in actions {
        if let Action::NotifyWebhook(notify) = action
            && !planned.contains_key(&notify.webhook_id)
        {
            return Err(Invalid::new(
                "webhooks",
                format!(
                    "webhook {} would be deleted, and {section} {title:?}, which the document keeps, notifies it",
                    notify.webhook_id
                ),
            ));
        }
    }
    Ok(())
}

/// A rule of a document, its fields as the API takes them.
struct RuleFields {
    title: String,
    description: String,
    active: bool,
    conditions: Value,
    actions: Value,
}

impl RuleFields {
    fn read(doc: &Value) -> Result<Self, Invalid> {
        let object = doc.as_object().ok_or_else(|| Invalid::new("", "must be an object"))?;
        let allowed = ["title", "description", "active", "conditions", "actions"];
        if let Some(unknown) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Invalid::new(unknown.as_str(), format!("is not a field; expected {}", allowed.join(", "))));
        }
        Ok(Self {
            title: text(object, "title")?,
            description: text(object, "description")?,
            active: flag(object, "active")?,
            conditions: object.get("conditions").cloned().unwrap_or(json!({"all": [], "any": []})),
            actions: object.get("actions").cloned().unwrap_or(Value::Null),
        })
    }
}

/// A macro of a document, its fields as the API takes them.
struct MacroFields {
    title: String,
    description: String,
    active: bool,
    actions: Value,
}

impl MacroFields {
    fn read(doc: &Value) -> Result<Self, Invalid> {
        let object = doc.as_object().ok_or_else(|| Invalid::new("", "must be an object"))?;
        let allowed = ["title", "description", "active", "actions"];
        if let Some(unknown) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Invalid::new(unknown.as_str(), format!("is not a field; expected {}", allowed.join(", "))));
        }
        Ok(Self {
            title: text(object, "title")?,
            description: text(object, "description")?,
            active: flag(object, "active")?,
            actions: object.get("actions").cloned().unwrap_or(Value::Null),
        })
    }
}

fn text(object: &Map<String, Value>, key: &str) -> Result<String, Invalid> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(Invalid::new(key, "must be a text")),
    }
}

/// A yes or no, true when left out.
fn flag(object: &Map<String, Value>, key: &str) -> Result<bool, Invalid> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(_) => Err(Invalid::new(key, "must be true or false")),
    }
}

/// The fields that differ between `old` and `new` (two documents of one object), each
/// `{"from", "to"}`.
fn changed(old: &Value, new: &Value) -> Map<String, Value> {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else { return Map::new() };
    new.iter()
        .filter(|(key, value)| old.get(*key) != Some(value))
        .map(|(key, value)| (key.clone(), json!({"from": old.get(key).cloned().unwrap_or(Value::Null), "to": value})))
        .collect()
}

/// Whether a document may read the variable `name`: `WEBHOOK_...` or `INBOUND_...`, as
/// export writes them.
fn is_secret_variable(name: &str) -> bool {
    let rest = name.strip_prefix("WEBHOOK_").or_else(|| name.strip_prefix("INBOUND_"));
    rest.is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    })
}

/// The environment variable an exported secret refers to: `WEBHOOK_INTRANET_TOKEN`.
fn secret_env(kind: &str, name: &str, field: &str) -> Value {
    let mut slug = String::new();
    for c in name.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => slug.push(c.to_ascii_uppercase()),
            _ if !slug.ends_with('_') && !slug.is_empty() => slug.push('_'),
            _ => {}
        }
    }
    let slug: String = slug.trim_end_matches('_').chars().take(40).collect();
    json!({"env": format!("{kind}_{slug}_{field}")})
}

/// A webhook as a document holds it: its secrets as references.
fn webhook_doc(webhook: &Webhook) -> Value {
    let secret = |field| secret_env("WEBHOOK", &webhook.name, field);
    let authentication = match &webhook.authentication {
        Authentication::None => json!({"type": "none"}),
        Authentication::Basic { username, .. } => {
            json!({"type": "basic", "username": username, "password": secret("PASSWORD")})
        }
        Authentication::Bearer { .. } => json!({"type": "bearer", "token": secret("TOKEN")}),
        Authentication::ApiKey { header, .. } => {
            json!({"type": "api_key", "header": header, "value": secret("API_KEY")})
        }
    };
    json!({
        "name": webhook.name,
        "description": webhook.description,
        "endpoint": webhook.endpoint.template().source(),
        "http_method": webhook.http_method,
        "request_format": webhook.request_format,
        "status": webhook.status,
        "subscriptions": webhook.subscriptions.names(),
        "authentication": authentication,
        "custom_headers": webhook.custom_headers.to_json(),
        "max_retries": webhook.max_retries,
        "ordering": webhook.ordering,
        "rate_limit_per_minute": webhook.rate_limit_per_minute,
        "template_mode": webhook.template_mode,
    })
}

/// Actions as a document holds them: notified webhooks by name.
fn actions_doc(actions: &[Action], names: &HashMap<WebhookId, String>) -> Value {
    actions
        .iter()
        .map(|action| {
            let mut json = action.to_json();
            if let Action::NotifyWebhook(notify) = action
                && let Some(name) = names.get(&notify.webhook_id)
                && let Some(value) = json.get_mut("value").and_then(Value::as_object_mut)
            {
                value.remove("webhook_id");
                value.insert("webhook".into(), Value::String(name.clone()));
            }
            json
        })
        .collect()
}

fn rule_doc_of(
    title: &str,
    description: &str,
    active: bool,
    conditions: &Conditions,
    actions: &[Action],
    names: &HashMap<WebhookId, String>,
) -> Value {
    json!({
        "title": title,
        "description": description,
        "active": active,
        "conditions": conditions,
        "actions": actions_doc(actions, names),
    })
}

fn trigger_doc(trigger: &Trigger, names: &HashMap<WebhookId, String>) -> Value {
    let rule = &trigger.rule;
    rule_doc_of(&rule.title, &trigger.description, trigger.active, &rule.conditions, &rule.actions, names)
}

fn rule_doc(rule: &NewTrigger, names: &HashMap<WebhookId, String>) -> Value {
    rule_doc_of(&rule.title, &rule.description, rule.active, &rule.conditions, &rule.actions, names)
}

/// A stored rule as a write that keeps it as it is (its place may change).
fn new_trigger(trigger: &Trigger) -> NewTrigger {
    NewTrigger {
        title: trigger.rule.title.clone(),
        description: trigger.description.clone(),
        active: trigger.active,
        position: None,
        conditions: trigger.rule.conditions.clone(),
        actions: trigger.rule.actions.clone(),
    }
}

fn macro_doc(m: &Macro<Value>) -> Value {
    json!({"title": m.title, "description": m.description, "active": m.active, "actions": m.actions})
}

fn new_macro_doc(m: &NewMacro) -> Value {
    let actions: Vec<Value> = m.actions.iter().map(Action::to_json).collect();
    json!({"title": m.title, "description": m.description, "active": m.active, "actions": actions})
}

/// An inbound webhook as a document holds it: its verification secret as a reference, and
/// without its URL (its token is a secret, and another server makes its own).
fn inbound_doc(webhook: &InboundWebhook) -> Value {
    let verify = match &webhook.verify {
        None => Value::Null,
        Some(Verify::HmacSha256 { header, .. }) => json!({"type": "hmac_sha256", "header": header,
            "secret": secret_env("INBOUND", &webhook.name, "SECRET")}),
        Some(Verify::StandardWebhooks { .. }) => {
            json!({"type": "standard_webhooks", "secret": secret_env("INBOUND", &webhook.name, "SECRET")})
        }
    };
    json!({
        "name": webhook.name,
        "enabled": webhook.enabled,
        "verify": verify,
        "idempotency_header": webhook.idempotency_header,
        "actions": webhook.actions.iter().map(InboundAction::to_json).collect::<Vec<_>>(),
        "response": webhook.response.to_json(),
        "rate_limit_per_minute": webhook.rate_limit_per_minute,
        "template_mode": webhook.template_mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_read_from_the_environment_and_named_when_missing() {
        let doc = json!({"authentication": {"type": "bearer", "token": {"env": "WEBHOOK_CRM_TOKEN"}}});
        let env = |name: &str| (name == "WEBHOOK_CRM_TOKEN").then(|| "s3cret".to_owned());
        let read = with_secrets(&doc, &["authentication.token"], &env).expect("read");
        assert_eq!(read["authentication"]["token"], "s3cret");
        let none = |_: &str| None;
        let missing = with_secrets(&doc, &["authentication.token"], &none).expect_err("missing");
        assert_eq!(missing.field, "authentication.token");
        assert!(missing.message.contains("WEBHOOK_CRM_TOKEN"), "{missing}");
        // The server's own settings, and any other variable, are never read.
        let everything = |_: &str| Some("the server's key".to_owned());
        for name in ["HOOKDESK_SECRET_KEY", "HOME", "DATABASE_URL", "WEBHOOK_", "webhook_x", "INBOUND_A-B"] {
            let doc = json!({"authentication": {"type": "bearer", "token": {"env": name}}});
            let refused = with_secrets(&doc, &["authentication.token"], &everything).expect_err(name);
            assert!(refused.message.contains("WEBHOOK_... or INBOUND_..."), "{refused}");
        }
        assert_eq!(secret_env("WEBHOOK", "CRM (prod) hook!", "TOKEN"), json!({"env": "WEBHOOK_CRM_PROD_HOOK_TOKEN"}));
    }

    #[test]
    fn names_are_required_and_unique_and_sections_known() {
        let docs = vec![json!({"name": "a"}), json!({"name": "a"})];
        assert_eq!(unique_names(&docs, "webhooks", "name").expect_err("twice").field, "webhooks[1].name");
        assert_eq!(unique_names(&[json!({})], "macros", "title").expect_err("none").field, "macros[0].title");
        assert_eq!(sections(&json!({"webhook": []})).expect_err("unknown").field, "webhook");
        assert_eq!(sections(&json!({"macros": {}})).expect_err("not a list").field, "macros");
    }

    #[test]
    fn changes_name_each_field_with_from_and_to() {
        let changes = changed(&json!({"a": 1, "b": 2}), &json!({"a": 1, "b": 3}));
        assert_eq!(Value::Object(changes), json!({"b": {"from": 2, "to": 3}}));
    }
}
