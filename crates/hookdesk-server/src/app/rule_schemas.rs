//! The OpenAPI schemas of conditions and actions, read from the rule vocabulary: a field or
//! action added there is typed here without a word of its own.

use std::borrow::Cow;

use hookdesk_core::rules::RuleKind;
use hookdesk_core::rules::vocabulary::{action_schema, condition_schema};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

/// A JSON Schema of ours as utoipa's model (which reads every keyword we write).
fn schema(value: Value) -> RefOr<Schema> {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("a vocabulary schema utoipa cannot read: {e}"))
}

/// The schema `name`, and each of its alternatives (a field's condition, an action) as a
/// component of its own that it refers to: client generators make one model of each, named
/// after it (`RuleActionNotifyWebhook`), where inline alternatives made them invent colliding
/// names.
fn with_alternatives(name: &str, mut value: Value) -> Vec<(String, RefOr<Schema>)> {
    untyped_any_value(&mut value);
    let mut components = Vec::new();
    if let Some(alternatives) = value.get_mut("anyOf").and_then(Value::as_array_mut) {
        for alternative in alternatives {
            let field =
                alternative.pointer("/properties/field/enum/0").and_then(Value::as_str).unwrap_or("custom_field");
            let title = format!("{name}{}", camel_case(field));
            title_inline_objects(alternative, &title);
            let reference = json!({"$ref": format!("#/components/schemas/{title}")});
            components.push((title, schema(std::mem::replace(alternative, reference))));
        }
    }
    components.insert(0, (name.to_owned(), schema(value)));
    components
}

/// Gives `value`, and each object within it, a title made from `title` and where it is:
/// client generators name a model after its title, and invent colliding names without one.
fn title_inline_objects(value: &mut Value, title: &str) {
    let Value::Object(object) = value else { return };
    let composite = ["anyOf", "oneOf"].iter().any(|k| object.contains_key(*k));
    if object.get("type").and_then(Value::as_str) == Some("object") || composite {
        object.entry("title").or_insert_with(|| title.into());
    }
    if let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) {
        for (property, schema) in properties {
            title_inline_objects(schema, &format!("{title}{}", camel_case(property)));
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alternatives) = object.get_mut(key).and_then(Value::as_array_mut) {
            for (i, alternative) in alternatives.iter_mut().enumerate() {
                title_inline_objects(alternative, &format!("{title}{}", i + 1));
            }
        }
    }
    if let Some(items) = object.get_mut("items") {
        title_inline_objects(items, &format!("{title}Item"));
    }
}

/// `notify_webhook` → `NotifyWebhook`.
fn camel_case(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
        .collect()
}

/// "Any JSON value" written with no `type` (utoipa reads a `null` type so, and writes none):
/// the list of every type means the same, but client generators refuse it.
fn untyped_any_value(value: &mut Value) {
    const EVERY_TYPE: [&str; 6] = ["string", "number", "boolean", "object", "array", "null"];
    match value {
        Value::Object(object) => {
            let every_type = object.get("type").and_then(Value::as_array).is_some_and(|types| {
                types.len() == EVERY_TYPE.len() && EVERY_TYPE.iter().all(|t| types.iter().any(|v| v == t))
            });
            if every_type {
                object.insert("type".into(), Value::Null);
            }
            object.values_mut().for_each(untyped_any_value);
        }
        Value::Array(items) => items.iter_mut().for_each(untyped_any_value),
        _ => {}
    }
}

macro_rules! vocabulary_schema {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                with_alternatives(stringify!($name), $schema).swap_remove(0).1
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }

        impl $name {
            fn components() -> Vec<(String, RefOr<Schema>)> {
                with_alternatives(stringify!($name), $schema)
            }
        }
    };
}

vocabulary_schema!(
    /// A condition of a trigger or an automation (`hours_since_*`: automations only).
    RuleCondition => condition_schema(RuleKind::Automation)
);
vocabulary_schema!(
    /// `{"all": [...], "any": [...]}`.
    RuleConditions => json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "all": {"type": "array", "items": {"$ref": "#/components/schemas/RuleCondition"},
                "description": "Every one must hold"},
            "any": {"type": "array", "items": {"$ref": "#/components/schemas/RuleCondition"},
                "description": "When not empty, one must hold"},
        },
    })
);
vocabulary_schema!(
    /// An action of a trigger or an automation.
    RuleAction => action_schema(RuleKind::Trigger, false)
);
vocabulary_schema!(
    /// An action of a macro (all but `notify_webhook`).
    MacroAction => action_schema(RuleKind::Macro, false)
);

/// The schemas above and their alternatives, for the document's components (a body that
/// names one refers to it).
pub fn components() -> Vec<(String, RefOr<Schema>)> {
    [RuleCondition::components(), RuleConditions::components(), RuleAction::components(), MacroAction::components()]
        .concat()
}
