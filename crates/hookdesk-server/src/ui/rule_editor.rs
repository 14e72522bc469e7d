//! The rule editor of triggers, automations and macros: a row per condition and per action,
//! each a choice among what the rule vocabulary declares for that kind of rule (field, then
//! the operators that field takes, then a control for its kind of value), people and
//! webhooks picked by name, placeholders inserted from a list. Rows are added and removed
//! by posting the form to the editor (htmx swaps the rows in place; without script the whole
//! page comes back), so nothing typed is lost and every choice offered is one the server
//! accepts.

use hookdesk_core::Invalid;
use hookdesk_core::rules::action::{ActionName, ActionValue};
use hookdesk_core::rules::condition::{Field, Kind};
use hookdesk_core::rules::{RuleKind, vocabulary};
use serde_json::{Map, Value, json};

use super::forms::{Fields, error_at};
use crate::app::{EditorChoices, NotificationPreview};

/// Rows read from a posted editor, per list.
const MAX_ROWS: usize = 100;

/// What a custom field's row selects as its field; its key is typed beside it.
const CUSTOM: &str = "custom_fields.";

/// A condition row, as shown or as posted.
#[derive(Debug, Clone, Default)]
pub struct ConditionRow {
    /// The field's name (`status`, `custom_fields.plan`); empty on a new row.
    pub field: String,
    pub operator: String,
    pub value: String,
}

/// An action row, as shown or as posted: `value` for actions of one value, the parts of a
/// comment or a notification for those.
#[derive(Debug, Clone, Default)]
pub struct ActionRow {
    pub field: String,
    pub value: String,
    pub body: String,
    pub public: bool,
    pub webhook: String,
    pub payload: String,
    /// The JSON body as `name: template` lines (see [`super::body_fields`]), when the
    /// payload is not written out.
    pub fields: String,
    /// Query or form parameters as `name: template` lines.
    pub params: String,
}

/// One option of a select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// What a row's value is entered with.
pub enum Control {
    /// No value (the operator takes none, or no field is chosen yet).
    Nothing,
    Select(Vec<Choice>),
    Text {
        hint: &'static str,
    },
    Number,
    /// `add_comment`: a body and whether it is public.
    Comment,
    /// `notify_webhook`: a webhook by name, a payload, parameters.
    Notification(Vec<Choice>),
}

/// The editor: the rule as shown or as posted, what may be chosen, and what the server said.
pub struct RuleForm {
    pub kind: RuleKind,
    pub title: String,
    pub description: String,
    pub active: bool,
    /// The version the editor was opened at (`If-Match` of a form).
    pub version: String,
    pub all: Vec<ConditionRow>,
    pub any: Vec<ConditionRow>,
    pub actions: Vec<ActionRow>,
    pub error: Option<Invalid>,
    pub warnings: Vec<Invalid>,
    pub choices: EditorChoices,
    /// Whether the viewer may change it (an agent reads triggers and automations).
    pub editable: bool,
    /// The control that takes the focus after an edit (the new row's field).
    pub focus: Option<String>,
    /// The previews of notification rows, by row.
    pub previews: Vec<(usize, NotificationPreview)>,
    /// The ticket previews render with (none: the sample).
    pub preview_ticket: String,
}

/// A value as a control shows it: text as is, anything else as JSON.
fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// `snake_case` in words: `hours_since_created` reads "hours since created".
fn words(name: &str) -> String {
    name.replace(['_', '.'], " ")
}

fn condition_rows(conditions: &Value) -> Vec<ConditionRow> {
    conditions
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|c| ConditionRow {
            field: shown(c.get("field")),
            operator: shown(c.get("operator")),
            value: shown(c.get("value")),
        })
        .collect()
}

fn action_row(action: &Value) -> ActionRow {
    let field = shown(action.get("field"));
    let value = action.get("value").unwrap_or(&Value::Null);
    let mut row = ActionRow { field: field.clone(), public: true, ..Default::default() };
    match ActionName::parse(&field).map(|name| name.spec().value) {
        Some(ActionValue::Comment) if value.is_object() => {
            row.body = shown(value.get("body"));
            row.public = value.get("public").and_then(Value::as_bool).unwrap_or(true);
        }
        Some(ActionValue::Notification) if value.is_object() => {
            row.webhook = shown(value.get("webhook_id"));
            row.payload = shown(value.get("payload"));
            if let Some(lines) = super::body_fields::lines_of(&row.payload) {
                (row.fields, row.payload) = (lines, String::new());
            }
            row.params =
                value.get("params").and_then(Value::as_object).map(super::forms::to_header_lines).unwrap_or_default();
        }
        Some(ActionValue::Tags { .. }) if value.is_array() => {
            let tags: Vec<String> = value.as_array().into_iter().flatten().map(|t| shown(Some(t))).collect();
            row.value = tags.join(" ");
        }
        _ => row.value = shown(Some(value)),
    }
    row
}

/// A rule to start from: the editor's rows filled in for a common need, left to finish (the
/// tag, the webhook, the body) and save.
pub struct Starter {
    pub name: &'static str,
    pub label: &'static str,
    kind: RuleKind,
    rule: fn() -> Value,
}

/// What a new rule may start from, per kind.
pub const STARTERS: &[Starter] = &[
    Starter {
        name: "tag_notify",
        label: "When an update adds a tag: notify a webhook, then remove the tag (a custom action)",
        kind: RuleKind::Trigger,
        rule: || {
            // The message the case tracker's custom action sends, as body fields.
            let body = super::forms::header_lines(
                "text: Case {{ ticket.id }} updated: {{ ticket.subject | uri_encode }}\nlink: {{ ticket.url }}",
            );
            json!({"title": "Send web action", "conditions": {"all": [
                {"field": "update_type", "operator": "is", "value": "change"},
                {"field": "tags", "operator": "includes", "value": "send_web_action"}]},
                "actions": [{"field": "notify_webhook", "value": {"webhook_id": "", "payload": super::body_fields::compose(&body)}},
                    {"field": "remove_tags", "value": "send_web_action"}]})
        },
    },
    Starter {
        name: "created_notify",
        label: "When a ticket is created: notify a webhook",
        kind: RuleKind::Trigger,
        rule: || {
            json!({"title": "New ticket to a webhook", "conditions": {"all": [
                {"field": "update_type", "operator": "is", "value": "create"}]},
                "actions": [{"field": "notify_webhook", "value": {"webhook_id": ""}}]})
        },
    },
    Starter {
        name: "solved_notify",
        label: "When a ticket is solved: notify a webhook",
        kind: RuleKind::Trigger,
        rule: || {
            json!({"title": "Solved ticket to a webhook", "conditions": {"all": [
                {"field": "status", "operator": "changed_to", "value": "solved"}]},
                "actions": [{"field": "notify_webhook", "value": {"webhook_id": ""}}]})
        },
    },
    Starter {
        name: "close_solved",
        label: "Close a ticket solved for 4 days",
        kind: RuleKind::Automation,
        rule: || {
            json!({"title": "Close solved tickets after 4 days", "conditions": {"all": [
                {"field": "status", "operator": "is", "value": "solved"},
                {"field": "hours_since_status_changed", "operator": "greater_than", "value": 96}]},
                "actions": [{"field": "status", "value": "closed"}]})
        },
    },
];

impl RuleForm {
    /// The starters this kind of rule offers.
    pub fn starters(&self) -> Vec<&'static Starter> {
        STARTERS.iter().filter(|s| s.kind == self.kind).collect()
    }

    /// Fills the rows from the starter `name` (and the title, when none is typed yet);
    /// answers whether there is such a starter.
    pub fn start_from(&mut self, name: &str) -> bool {
        let Some(starter) = self.starters().into_iter().find(|s| s.name == name) else { return false };
        let rule = (starter.rule)();
        if self.title.is_empty() {
            self.title = shown(rule.get("title"));
        }
        self.all = condition_rows(&rule["conditions"]["all"]);
        self.any = condition_rows(&rule["conditions"]["any"]);
        self.actions = rule["actions"].as_array().into_iter().flatten().map(action_row).collect();
        self.choose_the_only_webhook();
        self.focus = None;
        true
    }

    /// The editor of a rule given as the API's JSON (saved, or a draft).
    pub fn from_json(kind: RuleKind, rule: &Value, choices: EditorChoices) -> Self {
        let actions = rule["actions"].as_array().map(Vec::as_slice).unwrap_or_default();
        Self {
            kind,
            title: shown(rule.get("title")),
            description: shown(rule.get("description")),
            active: rule.get("active").and_then(Value::as_bool).unwrap_or(true),
            version: String::new(),
            all: condition_rows(&rule["conditions"]["all"]),
            any: condition_rows(&rule["conditions"]["any"]),
            actions: actions.iter().map(action_row).collect(),
            error: None,
            warnings: Vec::new(),
            choices,
            editable: true,
            focus: None,
            previews: Vec::new(),
            preview_ticket: String::new(),
        }
    }

    /// A new rule: one empty condition (not for macros) and one empty action to start from.
    pub fn new_rule(kind: RuleKind, choices: EditorChoices) -> Self {
        let mut form = Self::from_json(kind, &json!({"title": "", "active": true}), choices);
        if kind != RuleKind::Macro {
            form.all.push(ConditionRow::default());
        }
        form.actions.push(ActionRow { public: true, ..Default::default() });
        form
    }

    /// The editor as a form posted it (rows in order, blank ones kept so that nothing the
    /// user is building disappears).
    pub fn posted(kind: RuleKind, fields: &Fields, choices: EditorChoices) -> Self {
        let mut form = Self::from_json(kind, &json!({}), choices);
        form.title = fields.get("title").unwrap_or_default().trim().to_owned();
        form.description = fields.get("description").unwrap_or_default().to_owned();
        form.active = fields.checked("active");
        form.version = fields.get("version").unwrap_or_default().to_owned();
        form.all = posted_conditions(fields, "all");
        form.any = posted_conditions(fields, "any");
        form.actions = posted_actions(fields);
        form.preview_ticket = fields.get("preview_ticket").unwrap_or_default().to_owned();
        form
    }

    /// A notification row without a webhook gets the only one that may be notified, when
    /// there is just one (there is nothing to choose): as rows are built, not when saved.
    pub fn choose_the_only_webhook(&mut self) {
        let mut notifiable = self.choices.webhooks.iter().filter(|w| w.notifiable);
        let (Some(only), None) = (notifiable.next(), notifiable.next()) else { return };
        let only = only.id.to_string();
        for row in &mut self.actions {
            if row.field == "notify_webhook" && row.webhook.is_empty() {
                row.webhook.clone_from(&only);
            }
        }
    }

    /// Applies the editor's `edit` button (`add:all`, `remove:actions:2`); answers whether
    /// there was one.
    pub fn apply_edit(&mut self, edit: &str) -> bool {
        let mut parts = edit.split(':');
        let (verb, list) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        let index = parts.next().and_then(|i| i.parse::<usize>().ok());
        match (verb, list, index) {
            ("add", "all" | "any", None) => {
                let rows = if list == "all" { &mut self.all } else { &mut self.any };
                if rows.len() < MAX_ROWS {
                    rows.push(ConditionRow::default());
                    self.focus = Some(format!("c-{list}-{}-field", rows.len() - 1));
                }
            }
            ("add", "actions", None) if self.actions.len() < MAX_ROWS => {
                self.actions.push(ActionRow { public: true, ..Default::default() });
                self.focus = Some(format!("a-{}-field", self.actions.len() - 1));
            }
            ("remove", "all" | "any", Some(i)) => {
                let rows = if list == "all" { &mut self.all } else { &mut self.any };
                if i < rows.len() {
                    rows.remove(i);
                }
                self.focus = Some(format!("add-{list}"));
            }
            ("remove", "actions", Some(i)) => {
                if i < self.actions.len() {
                    self.actions.remove(i);
                }
                self.focus = Some("add-actions".into());
            }
            _ => return false,
        }
        true
    }

    /// The rule as the API's JSON body; rows without a field are left out, so the indices of
    /// a 422 are counted among the rows that have one ([`RuleForm::drop_blank_rows`]).
    pub fn body(&self) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("title".into(), Value::String(self.title.clone()));
        body.insert("description".into(), Value::String(self.description.clone()));
        body.insert("active".into(), Value::Bool(self.active));
        if self.kind != RuleKind::Macro {
            let conditions = json!({
                "all": self.all.iter().filter_map(condition_json).collect::<Vec<_>>(),
                "any": self.any.iter().filter_map(condition_json).collect::<Vec<_>>(),
            });
            body.insert("conditions".into(), conditions);
        }
        body.insert("actions".into(), Value::Array(self.actions.iter().filter_map(action_json).collect()));
        body
    }

    /// Leaves out the rows without a field, as the body did, so that an error's index names
    /// the row it is shown at.
    pub fn drop_blank_rows(&mut self) {
        self.all.retain(|row| !row.field.is_empty());
        self.any.retain(|row| !row.field.is_empty());
        self.actions.retain(|row| !row.field.is_empty());
    }

    /// Action `index`'s value, as `notify_webhook` takes it, when it is one.
    pub fn notification(&self, index: usize) -> Option<Value> {
        let row = self.actions.get(index)?;
        (row.field == "notify_webhook").then(|| action_json(row).map(|a| a["value"].clone())).flatten()
    }

    /// Where the editor's pages are (`/ui/triggers`).
    pub fn base(&self) -> &'static str {
        match self.kind {
            RuleKind::Trigger => "/ui/triggers",
            RuleKind::Automation => "/ui/automations",
            RuleKind::Macro => "/ui/macros",
        }
    }

    pub fn is_trigger(&self) -> bool {
        self.kind == RuleKind::Trigger
    }

    pub fn is_macro(&self) -> bool {
        self.kind == RuleKind::Macro
    }

    // What the rows offer.

    /// The fields a condition row offers, its own chosen.
    pub fn condition_fields(&self, row: &ConditionRow) -> Vec<Choice> {
        let chosen = chosen_field(&row.field);
        let mut choices =
            vec![Choice { value: String::new(), label: "Choose a field".into(), selected: chosen.is_empty() }];
        choices.extend(vocabulary::condition_fields(self.kind).iter().map(|field| {
            let name = field.spec().name;
            let value = name.strip_suffix("KEY").unwrap_or(name).to_owned();
            let label = if value == CUSTOM { "custom field".to_owned() } else { words(name) };
            Choice { selected: value == chosen, value, label }
        }));
        unknown_kept(&mut choices, &row.field);
        choices
    }

    /// The operators a condition row's field takes (every operator before a field is chosen).
    pub fn operators(&self, row: &ConditionRow) -> Vec<Choice> {
        let operators = operators_of(&row.field);
        let chosen = chosen_operator(row);
        operators
            .iter()
            .map(|op| Choice { value: (*op).to_owned(), label: words(op), selected: *op == chosen })
            .collect()
    }

    /// How a condition row's value is entered.
    pub fn condition_control(&self, row: &ConditionRow) -> Control {
        let takes_value = vocabulary::operator_takes_value(chosen_operator(row)).unwrap_or(true);
        let Some(kind) = field_spec(&row.field) else { return Control::Nothing };
        if !takes_value {
            return Control::Nothing;
        }
        match kind {
            Kind::Names { names, .. } => Control::Select(name_choices(names, &row.value, None)),
            Kind::Tags => Control::Text { hint: "tags, separated by spaces" },
            Kind::Text { .. } => Control::Text { hint: "text" },
            Kind::Bool => Control::Select(name_choices(&["true", "false"], &row.value, None)),
            Kind::Id => Control::Select(self.people(&row.value, "nobody")),
            Kind::Json => Control::Text { hint: "a value (text, a number, true or false)" },
            Kind::Hours => Control::Number,
        }
    }

    /// The actions an action row offers, its own chosen.
    pub fn action_fields(&self, row: &ActionRow) -> Vec<Choice> {
        let chosen = chosen_field(&row.field);
        let mut choices =
            vec![Choice { value: String::new(), label: "Choose an action".into(), selected: chosen.is_empty() }];
        choices.extend(vocabulary::actions(self.kind).iter().map(|action| {
            let name = action.spec().name;
            let value = name.strip_suffix("KEY").unwrap_or(name).to_owned();
            let label = match value.as_str() {
                CUSTOM => "set custom field".to_owned(),
                "status" | "priority" | "type" | "group" => format!("set {name}"),
                "assignee_id" => "assign to".to_owned(),
                other => words(other),
            };
            Choice { selected: value == chosen, value, label }
        }));
        unknown_kept(&mut choices, &row.field);
        choices
    }

    /// How an action row's value is entered.
    pub fn action_control(&self, row: &ActionRow) -> Control {
        let Some(name) = ActionName::parse(&row.field) else {
            return if row.field == CUSTOM { Control::Text { hint: "a value" } } else { Control::Nothing };
        };
        match name.spec().value {
            ActionValue::Names { names, nullable } => {
                Control::Select(name_choices(names, &row.value, nullable.then_some("none")))
            }
            ActionValue::UserId => Control::Select(self.people(&row.value, "nobody (unassign)")),
            ActionValue::Text => Control::Text { hint: "text; empty clears it" },
            ActionValue::Any => Control::Text { hint: "a value (text, a number, true or false)" },
            ActionValue::Tags { .. } => Control::Text { hint: "tags, separated by spaces" },
            ActionValue::Comment => Control::Comment,
            ActionValue::Notification => Control::Notification(self.webhooks(&row.webhook)),
        }
    }

    /// Agents and admins by name, `value` (an id) chosen; blank is `none`.
    fn people(&self, value: &str, none: &str) -> Vec<Choice> {
        let mut choices = vec![Choice { value: String::new(), label: format!("({none})"), selected: value.is_empty() }];
        choices.extend(self.choices.people.iter().map(|(id, name)| Choice {
            value: id.to_string(),
            label: name.clone(),
            selected: id.to_string() == value,
        }));
        unknown_kept(&mut choices, value);
        choices
    }

    /// The webhooks a notification may name, by name.
    fn webhooks(&self, value: &str) -> Vec<Choice> {
        let mut choices =
            vec![Choice { value: String::new(), label: "Choose a webhook".into(), selected: value.is_empty() }];
        choices.extend(
            self.choices.webhooks.iter().filter(|w| w.notifiable || w.id.as_str() == value).map(|w| Choice {
                value: w.id.to_string(),
                label: w.name.clone(),
                selected: w.id.as_str() == value,
            }),
        );
        unknown_kept(&mut choices, value);
        choices
    }

    /// Whether some webhook could be notified (else the editor says how to make one).
    pub fn has_notifiable_webhooks(&self) -> bool {
        self.choices.webhooks.iter().any(|w| w.notifiable)
    }

    /// The key of a custom field row (`plan` of `custom_fields.plan`).
    pub fn custom_key<'a>(&self, field: &'a str) -> Option<&'a str> {
        field.strip_prefix(CUSTOM)
    }

    /// A row's value in words, for who may only read the rule.
    pub fn condition_text(&self, row: &ConditionRow) -> String {
        let value = match field_spec(&row.field) {
            Some(Kind::Id) => self.person(&row.value),
            _ => row.value.clone(),
        };
        format!("{} {} {}", words(&row.field), words(&row.operator), value).trim().to_owned()
    }

    pub fn action_text(&self, row: &ActionRow) -> String {
        match ActionName::parse(&row.field).map(|a| a.spec().value) {
            Some(ActionValue::UserId) => format!("assign to {}", self.person(&row.value)),
            Some(ActionValue::Comment) => {
                format!("add a {} comment", if row.public { "public" } else { "private" })
            }
            Some(ActionValue::Notification) => format!("notify {}", self.webhook_name(&row.webhook)),
            _ => format!("{}: {}", words(&row.field), row.value),
        }
    }

    fn person(&self, id: &str) -> String {
        if id.is_empty() {
            return "nobody".into();
        }
        self.choices.people.iter().find(|(p, _)| p.to_string() == id).map_or(format!("user {id}"), |(_, n)| n.clone())
    }

    fn webhook_name(&self, id: &str) -> String {
        self.choices.webhooks.iter().find(|w| w.id.as_str() == id).map_or(id.to_owned(), |w| w.name.clone())
    }

    /// The preview of notification row `index`, once asked for.
    pub fn preview(&self, index: impl std::fmt::Display) -> Option<&NotificationPreview> {
        let index = index.to_string();
        self.previews.iter().find(|(i, _)| i.to_string() == index).map(|(_, preview)| preview)
    }

    // What the server said.

    /// The error's message when it is about input `name`, or about the row `name` names.
    pub fn error_for(&self, name: &str) -> Option<&str> {
        error_at(self.error.as_ref(), name)
    }

    /// The error of condition row `index` of `list` (`all` or `any`).
    pub fn condition_error(&self, list: &str, index: impl std::fmt::Display) -> Option<&str> {
        self.error_for(&format!("conditions.{list}[{index}]"))
    }

    pub fn action_error(&self, index: impl std::fmt::Display) -> Option<&str> {
        self.error_for(&format!("actions[{index}]"))
    }

    /// The warnings about action `index`.
    pub fn action_warnings(&self, index: impl std::fmt::Display) -> Vec<&str> {
        let at = format!("actions[{index}]");
        self.warnings.iter().filter_map(|w| error_at(Some(w), &at)).collect()
    }

    /// Warnings no row shows.
    pub fn general_warnings(&self) -> Vec<String> {
        self.warnings.iter().filter(|w| !w.field.starts_with("actions[")).map(ToString::to_string).collect()
    }

    /// An error no row or input shows.
    pub fn general_error(&self) -> Option<String> {
        let error = self.error.as_ref()?;
        let shown = ["title", "description", "conditions.all[", "conditions.any[", "actions["]
            .iter()
            .any(|prefix| error.field.starts_with(prefix));
        (!shown).then(|| error.to_string())
    }
}

/// What a field select shows as chosen: a custom field's prefix, else the name.
fn chosen_field(field: &str) -> String {
    if field.starts_with(CUSTOM) { CUSTOM.to_owned() } else { field.to_owned() }
}

/// The operators the condition field `field` takes; every operator for no field (yet).
fn operators_of(field: &str) -> Vec<&'static str> {
    match field_spec(field) {
        Some(kind) => kind.operators().iter().map(|op| op.as_str()).collect(),
        None => vocabulary::operator_names(),
    }
}

/// The row's operator, or, when its field (just chosen) does not take it, the field's first
/// that compares with a value (`tags` offers `includes` before `changed`: a value box to fill
/// is what a newcomer expects next).
fn chosen_operator(row: &ConditionRow) -> &str {
    let operators = operators_of(&row.field);
    if operators.contains(&row.operator.as_str()) {
        return &row.operator;
    }
    let takes_value = |op: &&&str| vocabulary::operator_takes_value(op).unwrap_or(false);
    operators.iter().find(takes_value).or(operators.first()).copied().unwrap_or_default()
}

/// The kind of the condition field `name`, if the vocabulary has it.
fn field_spec(name: &str) -> Option<Kind> {
    let name = if name.starts_with(CUSTOM) { "custom_fields.KEY" } else { name };
    Field::all().iter().map(Field::spec).find(|spec| spec.name == name).map(|spec| spec.kind)
}

/// A select of `names`, `value` chosen; with `none`, a first blank option so labelled.
fn name_choices(names: &[&str], value: &str, none: Option<&str>) -> Vec<Choice> {
    let mut choices: Vec<Choice> = none
        .map(|none| Choice { value: String::new(), label: format!("({none})"), selected: value.is_empty() })
        .into_iter()
        .collect();
    choices.extend(names.iter().map(|name| Choice {
        value: (*name).to_owned(),
        label: words(name),
        selected: *name == value,
    }));
    // A saved rule's value is always one of the names; another comes from a field just
    // changed (status to priority): nothing is chosen yet.
    if !choices.iter().any(|c| c.selected) {
        choices.insert(0, Choice { value: String::new(), label: "Choose".into(), selected: true });
    }
    choices
}

/// A value the choices lack (saved before the vocabulary changed, or typed through the API)
/// stays chosen, marked, so that saving again does not change it silently.
fn unknown_kept(choices: &mut Vec<Choice>, value: &str) {
    let field_prefix = value.starts_with(CUSTOM) && choices.iter().any(|c| c.value == CUSTOM);
    if !value.is_empty() && !field_prefix && !choices.iter().any(|c| c.value == value) {
        for choice in choices.iter_mut() {
            choice.selected = false;
        }
        choices.push(Choice { value: value.to_owned(), label: format!("{value} (not offered)"), selected: true });
    }
}

fn posted_conditions(fields: &Fields, list: &str) -> Vec<ConditionRow> {
    (0..MAX_ROWS)
        .map_while(|i| {
            let part = |name: &str| fields.get(&format!("conditions.{list}[{i}].{name}")).map(str::trim);
            let field = part("field")?;
            let field = match (field, part("key")) {
                (CUSTOM, Some(key)) => format!("{CUSTOM}{key}"),
                (field, _) => field.to_owned(),
            };
            Some(ConditionRow {
                field,
                operator: part("operator").unwrap_or_default().to_owned(),
                value: part("value").unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

fn posted_actions(fields: &Fields) -> Vec<ActionRow> {
    (0..MAX_ROWS)
        .map_while(|i| {
            let part = |name: &str| fields.get(&format!("actions[{i}].{name}"));
            let field = part("field")?.trim();
            let field = match (field, part("key").map(str::trim)) {
                (CUSTOM, Some(key)) => format!("{CUSTOM}{key}"),
                (field, _) => field.to_owned(),
            };
            Some(ActionRow {
                field,
                value: part("value").unwrap_or_default().trim().to_owned(),
                body: part("body").unwrap_or_default().to_owned(),
                public: part("visibility") != Some("private"),
                webhook: part("webhook").unwrap_or_default().trim().to_owned(),
                payload: part("payload").unwrap_or_default().to_owned(),
                fields: part("fields").unwrap_or_default().to_owned(),
                params: part("params").unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

/// A condition row as the API's JSON, typed by its field's kind; none for a row without a
/// field.
fn condition_json(row: &ConditionRow) -> Option<Value> {
    if row.field.is_empty() {
        return None;
    }
    let mut condition = json!({"field": row.field, "operator": row.operator});
    let takes_value = vocabulary::operator_takes_value(&row.operator).unwrap_or(true);
    let text = row.value.trim();
    if takes_value {
        let value = match field_spec(&row.field) {
            Some(Kind::Bool) => match text {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => Value::String(other.to_owned()),
            },
            Some(Kind::Id) if text.is_empty() => Value::Null,
            Some(Kind::Id | Kind::Hours) => number_or_text(text),
            Some(Kind::Json) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())),
            _ => Value::String(text.to_owned()),
        };
        condition["value"] = value;
    }
    Some(condition)
}

/// An action row as the API's JSON, typed by its action's value; none for a row without a
/// field.
fn action_json(row: &ActionRow) -> Option<Value> {
    if row.field.is_empty() {
        return None;
    }
    let text = row.value.trim();
    let value = match ActionName::parse(&row.field).map(|a| a.spec().value) {
        Some(ActionValue::Names { nullable: true, .. } | ActionValue::Text | ActionValue::UserId)
            if text.is_empty() =>
        {
            Value::Null
        }
        Some(ActionValue::UserId) => number_or_text(text),
        Some(ActionValue::Any) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())),
        Some(ActionValue::Comment) => json!({"body": row.body, "public": row.public}),
        Some(ActionValue::Notification) => {
            let mut notify = Map::new();
            notify.insert("webhook_id".into(), Value::String(row.webhook.clone()));
            let fields = super::forms::header_lines(&row.fields);
            if !row.payload.trim().is_empty() {
                notify.insert("payload".into(), Value::String(row.payload.clone()));
            } else if !fields.is_empty() {
                notify.insert("payload".into(), Value::String(super::body_fields::compose(&fields)));
            }
            let params = super::forms::header_lines(&row.params);
            if !params.is_empty() {
                notify.insert("params".into(), Value::Object(params));
            }
            Value::Object(notify)
        }
        _ => Value::String(text.to_owned()),
    };
    Some(json!({"field": row.field, "value": value}))
}

/// A number typed into a field; anything else goes through as text for the API to name.
fn number_or_text(text: &str) -> Value {
    serde_json::from_str::<serde_json::Number>(text)
        .map(Value::Number)
        .unwrap_or_else(|_| Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        Fields::parse(body.as_bytes()).expect("a form")
    }

    #[test]
    fn a_posted_editor_is_the_api_body_with_typed_values() {
        let posted = fields(&[
            ("title", " Case tracker "),
            ("active", "on"),
            ("conditions.all[0].field", "tags"),
            ("conditions.all[0].operator", "includes"),
            ("conditions.all[0].value", "case"),
            ("conditions.all[1].field", "custom_fields."),
            ("conditions.all[1].key", "plan"),
            ("conditions.all[1].operator", "greater_than"),
            ("conditions.all[1].value", "3"),
            ("conditions.all[2].field", ""),
            ("conditions.all[2].operator", "is"),
            ("conditions.all[3].field", "comment_is_public"),
            ("conditions.all[3].operator", "is"),
            ("conditions.all[3].value", "false"),
            ("conditions.any[0].field", "status"),
            ("conditions.any[0].operator", "changed"),
            ("conditions.any[0].value", "open"),
            ("actions[0].field", "notify_webhook"),
            ("actions[0].webhook", "wh_1"),
            ("actions[0].payload", "{\"s\": \"{{ ticket.subject }}\"}"),
            ("actions[0].params", "source: hookdesk"),
            ("actions[1].field", "assignee_id"),
            ("actions[1].value", ""),
            ("actions[2].field", "add_comment"),
            ("actions[2].body", "Seen"),
            ("actions[2].visibility", "private"),
            ("actions[3].field", "remove_tags"),
            ("actions[3].value", "case"),
        ]);
        let form = RuleForm::posted(RuleKind::Trigger, &posted, EditorChoices::default());
        assert_eq!(
            Value::Object(form.body()),
            json!({
                "title": "Case tracker", "description": "", "active": true,
                "conditions": {
                    "all": [
                        {"field": "tags", "operator": "includes", "value": "case"},
                        {"field": "custom_fields.plan", "operator": "greater_than", "value": 3},
                        {"field": "comment_is_public", "operator": "is", "value": false},
                    ],
                    "any": [{"field": "status", "operator": "changed"}],
                },
                "actions": [
                    {"field": "notify_webhook", "value": {"webhook_id": "wh_1", "payload": "{\"s\": \"{{ ticket.subject }}\"}", "params": {"source": "hookdesk"}}},
                    {"field": "assignee_id", "value": null},
                    {"field": "add_comment", "value": {"body": "Seen", "public": false}},
                    {"field": "remove_tags", "value": "case"},
                ],
            })
        );
        assert_eq!(form.all.len(), 4, "a blank row stays while the user builds");
    }

    #[test]
    fn a_saved_rule_reads_back_as_the_rows_it_was_made_of() {
        let rule = json!({"title": "t", "conditions": {"all": [{"field": "custom_fields.plan", "operator": "is", "value": "gold"}], "any": []},
            "actions": [{"field": "notify_webhook", "value": {"webhook_id": "wh_1", "payload": "x", "params": {"a": "b"}}},
                {"field": "set_tags", "value": ["a", "b"]}, {"field": "add_comment", "value": {"body": "hi", "public": false}}]});
        let form = RuleForm::from_json(RuleKind::Trigger, &rule, EditorChoices::default());
        assert_eq!(form.custom_key(&form.all[0].field), Some("plan"));
        assert!(form.condition_fields(&form.all[0]).iter().any(|c| c.selected && c.value == "custom_fields."));
        assert_eq!((form.actions[0].webhook.as_str(), form.actions[0].params.as_str()), ("wh_1", "a: b"));
        assert_eq!(form.actions[1].value, "a b");
        assert!(!form.actions[2].public);
        assert_eq!(
            Value::Object(form.body())["actions"],
            rule["actions"]
                .clone()
                .as_array()
                .map(|a| {
                    let mut a = a.clone();
                    a[1]["value"] = json!("a b");
                    Value::Array(a)
                })
                .expect("actions")
        );
    }

    #[test]
    fn each_kind_offers_exactly_what_the_server_accepts() {
        let choices = EditorChoices::default();
        let trigger = RuleForm::new_rule(RuleKind::Trigger, choices.clone());
        let fields: Vec<String> =
            trigger.condition_fields(&ConditionRow::default()).into_iter().map(|c| c.value).collect();
        assert!(!fields.iter().any(|f| f.starts_with("hours_since")), "{fields:?}");
        let automation = RuleForm::new_rule(RuleKind::Automation, choices.clone());
        let fields: Vec<String> =
            automation.condition_fields(&ConditionRow::default()).into_iter().map(|c| c.value).collect();
        assert!(fields.contains(&"hours_since_created".to_owned()));
        let macro_ = RuleForm::new_rule(RuleKind::Macro, choices);
        let actions: Vec<String> = macro_.action_fields(&ActionRow::default()).into_iter().map(|c| c.value).collect();
        assert!(!actions.contains(&"notify_webhook".to_owned()) && actions.contains(&"add_comment".to_owned()));
        let status = ConditionRow { field: "status".into(), operator: "changed".into(), value: String::new() };
        let operators: Vec<String> = trigger.operators(&status).into_iter().map(|c| c.value).collect();
        assert!(operators.contains(&"less_than".to_owned()) && !operators.contains(&"includes".to_owned()));
        assert!(matches!(trigger.condition_control(&status), Control::Nothing), "changed takes no value");
    }

    #[test]
    fn rows_are_added_and_removed_by_the_edit_buttons() {
        let mut form = RuleForm::new_rule(RuleKind::Trigger, EditorChoices::default());
        assert!(form.apply_edit("add:any"));
        assert_eq!((form.all.len(), form.any.len()), (1, 1));
        assert_eq!(form.focus.as_deref(), Some("c-any-0-field"));
        assert!(form.apply_edit("add:actions") && form.apply_edit("remove:actions:0"));
        assert_eq!(form.actions.len(), 1);
        assert!(form.apply_edit("remove:all:7"), "a stale index removes nothing");
        assert!(!form.apply_edit("explode:all"));
    }
}
