//! Triggers and automations: the list in running order (move up or down, switch on or off),
//! the editor (a row per condition and per action, the API's 422 shown at its row), a dry
//! run of the draft on a chosen ticket, and running the automations now.

use askama::Template;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use hookdesk_core::Invalid;
use hookdesk_core::id::RuleId;
use hookdesk_core::rules::{RuleKind, RuleSet, Trigger, vocabulary};
use serde_json::{Map, Value, json};

use super::forms::{Fields, error_at, put_number};
use super::{Chrome, Submitted, UiError, Viewer, render};
use crate::app::{App, AppError, DryRunBody, DryRunResult, OrderBody, PatchTriggerBody, TriggerBody, from_json};

/// Which rules a page is about, from its path (`/ui/triggers...` or `/ui/automations...`).
#[derive(Debug, Clone, Copy)]
pub struct Set(RuleSet);

impl<S: Send + Sync> FromRequestParts<S> for Set {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let automations = parts.uri.path().starts_with("/ui/automations");
        Ok(Set(if automations { RuleSet::Automations } else { RuleSet::Triggers }))
    }
}

impl Set {
    fn path(self) -> &'static str {
        match self.0 {
            RuleSet::Triggers => "/ui/triggers",
            RuleSet::Automations => "/ui/automations",
        }
    }

    fn menu(self) -> &'static str {
        match self.0 {
            RuleSet::Triggers => "Triggers",
            RuleSet::Automations => "Automations",
        }
    }
}

/// A line of the list.
struct Row {
    id: String,
    title: String,
    active: bool,
    position: i64,
}

#[derive(Template)]
#[template(path = "ui/rules.html")]
struct ListPage {
    chrome: Chrome,
    heading: &'static str,
    base: &'static str,
    automations: bool,
    rows: Vec<Row>,
    notice: Option<String>,
}

async fn list_page(app: &App, viewer: &Viewer, set: Set, notice: Option<String>) -> Result<Response, UiError> {
    let rules = app.rules(&viewer.agent(), set.0).await?;
    let rows = rules
        .iter()
        .map(|t| Row { id: t.rule.id.to_string(), title: t.rule.title.clone(), active: t.active, position: t.position })
        .collect();
    let page = ListPage {
        chrome: viewer.chrome(set.menu()),
        heading: set.menu(),
        base: set.path(),
        automations: matches!(set.0, RuleSet::Automations),
        rows,
        notice,
    };
    Ok(render(&page))
}

/// `GET /ui/triggers` and `GET /ui/automations`: agents read them, admins change them.
pub async fn list(State(app): State<App>, viewer: Viewer, set: Set) -> Result<Response, UiError> {
    list_page(&app, &viewer, set, None).await
}

/// `POST /ui/triggers/{id}/move`: one place up or down (`direction`).
pub async fn move_rule(
    State(app): State<App>,
    set: Set,
    Path(id): Path<RuleId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let mut ids: Vec<RuleId> = app.rules(&form.viewer.agent(), set.0).await?.iter().map(|t| t.rule.id).collect();
    let at = ids.iter().position(|i| *i == id).ok_or(AppError::NotFound(set.0.one()))?;
    let to = match form.fields.get("direction") {
        Some("up") => at.checked_sub(1),
        _ => Some(at + 1).filter(|to| *to < ids.len()),
    };
    if let Some(to) = to {
        ids.swap(at, to);
        app.order_rules(&admin, set.0, OrderBody { ids }).await?;
    }
    Ok(Redirect::to(set.path()).into_response())
}

/// `POST /ui/triggers/{id}/active`: switch on or off (`active` = `true` or `false`).
pub async fn set_active(
    State(app): State<App>,
    set: Set,
    Path(id): Path<RuleId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let body = PatchTriggerBody { active: Some(form.fields.get("active") == Some("true")), ..Default::default() };
    app.update_rule(&admin, set.0, id, body).await?;
    Ok(Redirect::to(set.path()).into_response())
}

/// `POST /ui/automations/run`: runs the automations now, over every open ticket.
pub async fn run_automations(State(app): State<App>, set: Set, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let run = app.run_automations(&admin).await?;
    let notice = format!(
        "Checked {} tickets: {} updated, {} automations fired, {} skipped (changed meanwhile).",
        run.tickets_checked, run.tickets_updated, run.fired, run.skipped
    );
    list_page(&app, &form.viewer, set, Some(notice)).await
}

/// A condition row of the editor, as typed.
pub struct ConditionRow {
    pub field: String,
    pub operator: String,
    pub value: String,
}

/// An action row of the editor, as typed.
pub struct ActionRow {
    pub field: String,
    pub value: String,
}

/// Blank rows the editor offers below the filled ones.
const BLANK_ROWS: usize = 2;
/// Rows read from a posted editor, per list.
const MAX_ROWS: usize = 100;

/// The editor's values, as typed, and the API's 422 to show at its row.
pub struct RuleForm {
    /// What kind of rule: which fields and actions the editor offers.
    pub kind: RuleKind,
    pub title: String,
    pub description: String,
    pub active: bool,
    pub all: Vec<ConditionRow>,
    pub any: Vec<ConditionRow>,
    pub actions: Vec<ActionRow>,
    pub error: Option<Invalid>,
}

/// A value as the editor shows it: text as is, anything else as JSON.
fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

fn condition_rows(conditions: &Value) -> Vec<ConditionRow> {
    let rows = conditions.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut rows: Vec<ConditionRow> = rows
        .iter()
        .map(|c| ConditionRow {
            field: shown(c.get("field")),
            operator: shown(c.get("operator")),
            value: shown(c.get("value")),
        })
        .collect();
    rows.extend((0..BLANK_ROWS).map(|_| ConditionRow {
        field: String::new(),
        operator: "is".into(),
        value: String::new(),
    }));
    rows
}

fn action_rows(actions: &Value) -> Vec<ActionRow> {
    let rows = actions.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut rows: Vec<ActionRow> =
        rows.iter().map(|a| ActionRow { field: shown(a.get("field")), value: shown(a.get("value")) }).collect();
    rows.extend((0..BLANK_ROWS).map(|_| ActionRow { field: String::new(), value: String::new() }));
    rows
}

impl RuleForm {
    fn new_rule(kind: RuleKind) -> Self {
        Self::from_json(
            kind,
            &json!({"title": "", "active": true, "conditions": {"all": [], "any": []}, "actions": []}),
        )
    }

    /// The editor of a saved rule (or of the body a form posted, read back as JSON).
    pub(super) fn from_json(kind: RuleKind, rule: &Value) -> Self {
        Self {
            kind,
            title: shown(rule.get("title")),
            description: shown(rule.get("description")),
            active: rule.get("active").and_then(Value::as_bool).unwrap_or(true),
            all: condition_rows(&rule["conditions"]["all"]),
            any: condition_rows(&rule["conditions"]["any"]),
            actions: action_rows(&rule["actions"]),
            error: None,
        }
    }

    fn from_trigger(kind: RuleKind, trigger: &Trigger) -> Self {
        Self::from_json(kind, &serde_json::to_value(trigger).unwrap_or_default())
    }

    /// The condition fields this kind of rule may test, as the vocabulary lists them.
    pub fn condition_fields(&self) -> Vec<&'static str> {
        vocabulary::condition_fields(self.kind).iter().map(|f| f.spec().name).collect()
    }

    /// The actions this kind of rule may take, as the vocabulary lists them.
    pub fn action_fields(&self) -> Vec<&'static str> {
        vocabulary::actions(self.kind).iter().map(|a| a.spec().name).collect()
    }

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

    /// An error no row or input shows.
    pub fn general_error(&self) -> Option<String> {
        let error = self.error.as_ref()?;
        let shown = ["title", "description", "conditions.all[", "conditions.any[", "actions["]
            .iter()
            .any(|prefix| error.field.starts_with(prefix));
        (!shown).then(|| error.to_string())
    }
}

/// What a condition's value box holds, as the API wants it: JSON for an object, a list, a
/// number where the field counts, a boolean where it asks yes or no; text otherwise.
fn condition_value(field: &str, text: &str) -> Option<Value> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.starts_with(['{', '[']) {
        return serde_json::from_str(text).ok().or_else(|| Some(Value::String(text.to_owned())));
    }
    let numeric = field == "assignee_id" || field.starts_with("hours_since_") || field.starts_with("custom_fields.");
    if numeric && let Ok(number) = serde_json::from_str::<serde_json::Number>(text) {
        return Some(Value::Number(number));
    }
    if matches!(text, "true" | "false") && (field == "comment_is_public" || field.starts_with("custom_fields.")) {
        return Some(Value::Bool(text == "true"));
    }
    Some(Value::String(text.to_owned()))
}

/// What an action's value box holds, as the API wants it (a blank assignee clears it).
fn action_value(field: &str, text: &str) -> Value {
    let text = text.trim();
    if text.starts_with(['{', '[']) {
        return serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    }
    if field == "assignee_id" {
        return text.parse::<i64>().map(Value::from).unwrap_or(if text.is_empty() {
            Value::Null
        } else {
            Value::String(text.to_owned())
        });
    }
    if field.starts_with("custom_fields.")
        && let Ok(value) = serde_json::from_str::<Value>(text)
    {
        return value;
    }
    Value::String(text.to_owned())
}

fn posted_conditions(fields: &Fields, list: &str) -> Vec<Value> {
    (0..MAX_ROWS)
        .filter_map(|i| {
            let part = |name: &str| fields.get(&format!("conditions.{list}[{i}].{name}")).unwrap_or_default().trim();
            let field = part("field");
            if field.is_empty() {
                return None;
            }
            let mut condition = json!({"field": field, "operator": part("operator")});
            if let Some(value) = condition_value(field, part("value")) {
                condition["value"] = value;
            }
            Some(condition)
        })
        .collect()
}

pub(super) fn posted_actions(fields: &Fields) -> Vec<Value> {
    (0..MAX_ROWS)
        .filter_map(|i| {
            let field = fields.get(&format!("actions[{i}].field")).unwrap_or_default().trim();
            let value = fields.get(&format!("actions[{i}].value")).unwrap_or_default();
            (!field.is_empty()).then(|| json!({"field": field, "value": action_value(field, value)}))
        })
        .collect()
}

/// The rule the editor describes, as the API's JSON body. Blank rows are left out, so the
/// indices of a 422 are those of the rows shown again.
fn rule_body(fields: &Fields) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("title".into(), Value::String(fields.get("title").unwrap_or_default().trim().to_owned()));
    body.insert("description".into(), Value::String(fields.get("description").unwrap_or_default().to_owned()));
    body.insert("active".into(), Value::Bool(fields.checked("active")));
    let conditions = json!({"all": posted_conditions(fields, "all"), "any": posted_conditions(fields, "any")});
    body.insert("conditions".into(), conditions);
    body.insert("actions".into(), Value::Array(posted_actions(fields)));
    body
}

#[derive(Template)]
#[template(path = "ui/rule_form.html")]
struct EditorPage {
    chrome: Chrome,
    base: &'static str,
    heading: String,
    /// The rule's id; none for a new one.
    id: Option<String>,
    triggers: bool,
    form: RuleForm,
    dry_run: Option<DryRun>,
    dry_run_error: Option<String>,
    ticket_id: String,
}

impl EditorPage {
    fn new(viewer: &Viewer, set: Set, id: Option<String>, heading: String, form: RuleForm) -> Self {
        Self {
            chrome: viewer.chrome(set.menu()),
            base: set.path(),
            heading,
            id,
            triggers: matches!(set.0, RuleSet::Triggers),
            form,
            dry_run: None,
            dry_run_error: None,
            ticket_id: String::new(),
        }
    }
}

/// `GET /ui/triggers/new`.
pub async fn new_form(viewer: Viewer, set: Set) -> Result<Response, UiError> {
    viewer.admin()?;
    let heading = format!("New {}", set.0.one());
    Ok(render(&EditorPage::new(&viewer, set, None, heading, RuleForm::new_rule(set.0.kind()))))
}

/// `GET /ui/triggers/{id}`.
pub async fn show(
    State(app): State<App>,
    viewer: Viewer,
    set: Set,
    Path(id): Path<RuleId>,
) -> Result<Response, UiError> {
    let rule = app.rule(&viewer.agent(), set.0, id).await?;
    let page = EditorPage::new(
        &viewer,
        set,
        Some(id.to_string()),
        rule.rule.title.clone(),
        RuleForm::from_trigger(set.0.kind(), &rule),
    );
    Ok(render(&page))
}

/// The editor again, with the form as posted and its error at its row.
fn refused(viewer: &Viewer, set: Set, id: Option<RuleId>, body: Map<String, Value>, error: Invalid) -> Response {
    let mut form = RuleForm::from_json(set.0.kind(), &Value::Object(body));
    form.error = Some(error);
    let heading = if form.title.is_empty() { format!("New {}", set.0.one()) } else { form.title.clone() };
    let page = EditorPage::new(viewer, set, id.map(|id| id.to_string()), heading, form);
    (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response()
}

/// `POST /ui/triggers/new`.
pub async fn create(State(app): State<App>, set: Set, form: Submitted) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let body = rule_body(&form.fields);
    let saved = match from_json::<TriggerBody>(Value::Object(body.clone())) {
        Ok(parsed) => app.create_rule(&admin, set.0, parsed).await,
        Err(invalid) => Err(invalid.into()),
    };
    match saved {
        Ok(saved) => Ok(Redirect::to(&format!("{}/{}", set.path(), saved.item.rule.id)).into_response()),
        Err(AppError::Invalid(invalid)) => Ok(refused(&form.viewer, set, None, body, invalid)),
        Err(other) => Err(other.into()),
    }
}

/// `POST /ui/triggers/{id}`: saved, or the editor again with the error at its row.
pub async fn update(
    State(app): State<App>,
    set: Set,
    Path(id): Path<RuleId>,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let body = rule_body(&form.fields);
    let saved = match from_json::<PatchTriggerBody>(Value::Object(body.clone())) {
        Ok(parsed) => app.update_rule(&admin, set.0, id, parsed).await,
        Err(invalid) => Err(invalid.into()),
    };
    match saved {
        Ok(_) => Ok(Redirect::to(&format!("{}/{id}", set.path())).into_response()),
        Err(AppError::Invalid(invalid)) => Ok(refused(&form.viewer, set, Some(id), body, invalid)),
        Err(other) => Err(other.into()),
    }
}

/// A dry run as the panel shows it.
pub struct DryRun {
    fired: Vec<String>,
    requests: Vec<String>,
    events: Vec<String>,
    status: String,
    unknown_variables: Vec<String>,
    bound_hit: bool,
}

impl DryRun {
    fn new(result: &DryRunResult) -> Self {
        Self {
            fired: result
                .fired
                .iter()
                .map(|s| format!("{} {}: {} {}", s.rule.kind, s.rule.id, s.rule.title, s.changes))
                .collect(),
            requests: result.requests.iter().map(|r| serde_json::to_string_pretty(r).unwrap_or_default()).collect(),
            events: result.events.clone(),
            status: format!(
                "{} / {}",
                super::api_name(&result.ticket.fields.status),
                super::api_name(&result.ticket.fields.priority)
            ),
            unknown_variables: result.unknown_variables.clone(),
            bound_hit: result.bound_hit,
        }
    }
}

#[derive(Template)]
#[template(path = "ui/dry_run.html")]
struct DryRunPanel {
    dry_run: Option<DryRun>,
    dry_run_error: Option<String>,
}

/// `POST /ui/triggers/dry-run`: the draft in the editor tried with the active triggers on a
/// ticket; nothing is saved or sent.
pub async fn dry_run(
    State(app): State<App>,
    set: Set,
    headers: HeaderMap,
    form: Submitted,
) -> Result<Response, UiError> {
    let admin = form.viewer.admin()?;
    let body = rule_body(&form.fields);
    let mut request = Map::new();
    put_number(&mut request, "ticket_id", form.fields.get("ticket_id"));
    request.insert("trigger".into(), Value::Object(body.clone()));
    let outcome = match from_json::<DryRunBody>(Value::Object(request)) {
        Ok(parsed) => app.dry_run(&admin, parsed).await,
        Err(invalid) => Err(invalid.into()),
    };
    let (dry_run, dry_run_error) = match outcome {
        Ok(result) => (Some(DryRun::new(&result)), None),
        Err(AppError::Invalid(invalid)) => (None, Some(invalid.to_string())),
        Err(AppError::NotFound(what)) => (None, Some(format!("the {what} does not exist"))),
        Err(AppError::Unprocessable { message, .. }) => (None, Some(message)),
        Err(other) => return Err(other.into()),
    };
    if headers.contains_key("hx-request") {
        return Ok(render(&DryRunPanel { dry_run, dry_run_error }));
    }
    // Without script the editor comes back whole, still editing the rule it was editing.
    let id = form.fields.text("id").map(str::to_owned);
    let values = RuleForm::from_json(set.0.kind(), &Value::Object(body));
    let heading = if values.title.is_empty() { format!("New {}", set.0.one()) } else { values.title.clone() };
    let mut page = EditorPage::new(&form.viewer, set, id, heading, values);
    page.dry_run = dry_run;
    page.dry_run_error = dry_run_error;
    page.ticket_id = form.fields.get("ticket_id").unwrap_or_default().to_owned();
    Ok(render(&page))
}
