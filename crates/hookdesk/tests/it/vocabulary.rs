//! The rule vocabulary reaches every reader: each condition field and action the core
//! declares is served by `/api/v1/rules/vocabulary`, typed in the OpenAPI document and offered
//! by the UI's editors, for the kinds of rule it serves and no other.

use hookdesk_core::rules::RuleKind;
use hookdesk_core::rules::action::ActionName;
use hookdesk_core::rules::condition::Field;
use serde_json::Value;

use crate::support::{Db, TestApp};
use crate::ui::UiClient;

/// The names the alternatives of the component `name` give their `field` (a pattern stands as
/// `.KEY`); each alternative is a component of its own, referred to.
fn schema_fields(schemas: &Value, name: &str) -> Vec<String> {
    schemas[name]["anyOf"]
        .as_array()
        .expect("alternatives")
        .iter()
        .map(|alternative| {
            let reference = alternative["$ref"].as_str().expect("a reference to the alternative");
            let field = &schemas[reference.trim_start_matches("#/components/schemas/")]["properties"]["field"];
            match field["enum"][0].as_str() {
                Some(name) => name.to_owned(),
                None => field["pattern"].as_str().expect("a pattern").trim_start_matches('^').replace("\\..+$", ".KEY"),
            }
        })
        .collect()
}

fn served(document: &Value, kind: RuleKind, part: &str) -> Vec<String> {
    document[kind.as_str()][part]
        .as_array()
        .expect("a list")
        .iter()
        .map(|entry| entry["field"].as_str().expect("a field").to_owned())
        .collect()
}

/// The values a page's select `id` offers, each as the vocabulary names it (a custom
/// field's `custom_fields.` as `custom_fields.KEY`).
fn select_options(page: &str, id: &str) -> Vec<String> {
    let start = page.find(&format!("<select id=\"{id}\"")).unwrap_or_else(|| panic!("a select {id}"));
    let end = start + page[start..].find("</select>").expect("its end");
    page[start..end]
        .split("<option value=\"")
        .skip(1)
        .filter_map(|o| o.split('"').next())
        .map(|value| if value.ends_with('.') { format!("{value}KEY") } else { value.to_owned() })
        .collect()
}

#[tokio::test]
async fn every_field_and_action_reaches_the_api_the_openapi_document_and_the_editors() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (_, vocabulary) = app.get("/api/v1/rules/vocabulary").await;
    let (_, openapi) = app.get("/openapi.json").await;
    let schemas = &openapi["components"]["schemas"];
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.token).await;
    let page = |path: &'static str| {
        let ui = &ui;
        async move { ui.get(path).await.text().await.expect("a page") }
    };
    let (trigger_page, automation_page, macro_page) =
        (page("/ui/triggers/new").await, page("/ui/automations/new").await, page("/ui/macros/new").await);

    let condition_schema = schema_fields(schemas, "RuleCondition");
    for field in Field::all() {
        let spec = field.spec();
        let name = spec.name.to_owned();
        assert!(condition_schema.contains(&name), "{name} is not in the OpenAPI document");
        for (kind, page) in [(RuleKind::Trigger, &trigger_page), (RuleKind::Automation, &automation_page)] {
            let serves = field.serves(kind);
            assert_eq!(served(&vocabulary, kind, "conditions").contains(&name), serves, "{name} for {kind:?}");
            assert_eq!(select_options(page, "c-all-0-field").contains(&name), serves, "{name} in the {kind:?} editor");
        }
        assert!(!served(&vocabulary, RuleKind::Macro, "conditions").contains(&name), "macros have no conditions");
    }
    let (rule_actions, macro_actions) = (schema_fields(schemas, "RuleAction"), schema_fields(schemas, "MacroAction"));
    for action in ActionName::all() {
        let name = action.spec().name.to_owned();
        for (kind, page, schema) in [
            (RuleKind::Trigger, &trigger_page, &rule_actions),
            (RuleKind::Automation, &automation_page, &rule_actions),
            (RuleKind::Macro, &macro_page, &macro_actions),
        ] {
            let serves = action.serves(kind);
            assert_eq!(served(&vocabulary, kind, "actions").contains(&name), serves, "{name} for {kind:?}");
            assert_eq!(schema.contains(&name), serves, "{name} in the OpenAPI schema for {kind:?}");
            assert_eq!(select_options(page, "a-0-field").contains(&name), serves, "{name} in the {kind:?} editor");
        }
    }
    // Bodies refer to the typed schemas.
    assert_eq!(
        openapi["components"]["schemas"]["TriggerBody"]["properties"]["conditions"]["$ref"],
        "#/components/schemas/RuleConditions"
    );
    assert_eq!(
        openapi["components"]["schemas"]["MacroBody"]["properties"]["actions"]["items"]["$ref"],
        "#/components/schemas/MacroAction"
    );
}
