//! The rule vocabulary as clients read it: for each kind of rule, the condition fields (their
//! values and operators) and the actions (the schema of their values). Everything here is read
//! from the one declaration of each field ([`Field::spec`]) and action ([`ActionName::spec`]):
//! `GET /api/v1/rules/vocabulary`, the OpenAPI schemas of conditions and actions, the UI
//! editor's choices and the configuration document's schema.

use serde_json::{Value, json};

use super::RuleKind;
use super::action::{ActionName, ActionValue};
use super::condition::{Field, Kind, OPERATORS};

/// The condition fields rules of `kind` may test, in the vocabulary's order.
pub fn condition_fields(kind: RuleKind) -> Vec<Field> {
    Field::all().into_iter().filter(|f| f.serves(kind)).collect()
}

/// The actions rules of `kind` may take, in the vocabulary's order.
pub fn actions(kind: RuleKind) -> Vec<ActionName> {
    ActionName::all().into_iter().filter(|a| a.serves(kind)).collect()
}

/// Every operator's name, in the contract's order.
pub fn operator_names() -> Vec<&'static str> {
    OPERATORS.iter().map(|(name, _)| *name).collect()
}

/// Whether the operator `name` compares with a value; none for a name that is no operator.
pub fn operator_takes_value(name: &str) -> Option<bool> {
    OPERATORS.iter().find(|(n, _)| *n == name).map(|(_, op)| op.takes_value())
}

/// What `GET /api/v1/rules/vocabulary` answers.
pub fn document() -> Value {
    let mut document = serde_json::Map::new();
    for kind in RuleKind::ALL {
        let conditions: Vec<Value> = condition_fields(kind)
            .iter()
            .map(|field| {
                let spec = field.spec();
                json!({
                    "field": spec.name,
                    "value": condition_value_schema(spec.kind),
                    "operators": spec.kind.operators().iter().map(|op| op.as_str()).collect::<Vec<_>>(),
                    "description": spec.description,
                })
            })
            .collect();
        let actions: Vec<Value> = actions(kind)
            .iter()
            .map(|action| {
                let spec = action.spec();
                json!({"field": spec.name, "value": action_value_schema(spec.value, false), "description": spec.description})
            })
            .collect();
        document.insert(kind.as_str().to_owned(), json!({"conditions": conditions, "actions": actions}));
    }
    let operators: Vec<Value> =
        OPERATORS.iter().map(|(name, op)| json!({"name": name, "takes_value": op.takes_value()})).collect();
    document.insert("operators".into(), Value::Array(operators));
    Value::Object(document)
}

/// The JSON Schema of one condition of a rule of `kind`: one alternative per field.
pub fn condition_schema(kind: RuleKind) -> Value {
    let alternatives: Vec<Value> = condition_fields(kind)
        .iter()
        .map(|field| {
            let spec = field.spec();
            json!({
                "type": "object",
                "description": spec.description,
                "required": ["field", "operator"],
                "additionalProperties": false,
                "properties": {
                    "field": field_name_schema(spec.name),
                    "operator": {"type": "string", "enum": spec.kind.operators().iter().map(|op| op.as_str()).collect::<Vec<_>>()},
                    "value": condition_value_schema(spec.kind),
                },
            })
        })
        .collect();
    json!({"anyOf": alternatives})
}

/// The JSON Schema of one action of a rule of `kind`. With `by_name`, a notification names
/// its webhook (`webhook`) instead of giving its id: the configuration document's form.
pub fn action_schema(kind: RuleKind, by_name: bool) -> Value {
    let alternatives: Vec<Value> = actions(kind)
        .iter()
        .map(|action| {
            let spec = action.spec();
            json!({
                "type": "object",
                "description": spec.description,
                "required": ["field", "value"],
                "additionalProperties": false,
                "properties": {"field": field_name_schema(spec.name), "value": action_value_schema(spec.value, by_name)},
            })
        })
        .collect();
    json!({"anyOf": alternatives})
}

/// `status` as a schema; `custom_fields.KEY` as the pattern of any custom field.
fn field_name_schema(name: &str) -> Value {
    match name.strip_suffix(".KEY") {
        Some(prefix) => json!({"type": "string", "pattern": format!("^{prefix}\\..+$")}),
        None => json!({"type": "string", "enum": [name]}),
    }
}

fn any_value() -> Value {
    json!({"description": "Any JSON value", "type": ["string", "number", "boolean", "object", "array", "null"]})
}

fn tags_schema() -> Value {
    json!({"description": "Tags, space-separated or as an array",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
}

/// What a condition on a field of `kind` compares with.
fn condition_value_schema(kind: Kind) -> Value {
    match kind {
        Kind::Names { names, .. } => json!({"type": "string", "enum": names}),
        Kind::Tags => tags_schema(),
        Kind::Text { .. } => json!({"type": "string"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Id => json!({"type": ["integer", "null"]}),
        Kind::Json => any_value(),
        Kind::Hours => json!({"type": "number", "minimum": 0}),
    }
}

/// What an action's value is.
fn action_value_schema(value: ActionValue, by_name: bool) -> Value {
    let template = |what: &str| json!({"type": "string", "description": format!("{what}: a Liquid template")});
    match value {
        ActionValue::Names { names, nullable: false } => json!({"type": "string", "enum": names}),
        ActionValue::Names { names, nullable: true } => {
            let mut values: Vec<Value> = names.iter().map(|n| json!(n)).collect();
            values.push(Value::Null);
            json!({"type": ["string", "null"], "enum": values})
        }
        ActionValue::UserId => json!({"type": ["integer", "null"]}),
        ActionValue::Text => json!({"type": ["string", "null"], "maxLength": 255}),
        ActionValue::Any => any_value(),
        ActionValue::Tags { .. } => tags_schema(),
        ActionValue::Comment => json!({
            "type": "object",
            "required": ["body"],
            "additionalProperties": false,
            "properties": {"body": template("The comment"), "public": {"type": "boolean", "default": true}},
        }),
        ActionValue::Notification => {
            let webhook = if by_name {
                ("webhook", json!({"type": "string", "description": "The name of a webhook of the document"}))
            } else {
                ("webhook_id", json!({"type": "string", "description": "The id of a webhook (wh_...)"}))
            };
            json!({
                "type": "object",
                "required": [webhook.0],
                "additionalProperties": false,
                "properties": {
                    webhook.0: webhook.1,
                    "payload": template("The request's body; without it, the ticket document"),
                    "params": {"type": "object", "description": "Query or form parameters: name to Liquid template",
                        "additionalProperties": {"type": "string"}},
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Action, Condition};

    /// Every field and action the vocabulary serves parses as it says, and nothing else does.
    #[test]
    fn the_vocabulary_is_what_parsing_accepts() {
        let document = document();
        for kind in RuleKind::ALL {
            for condition in document[kind.as_str()]["conditions"].as_array().expect("conditions") {
                let field = condition["field"].as_str().expect("a name").replace("KEY", "plan");
                for operator in condition["operators"].as_array().expect("operators") {
                    let value = match &condition["value"] {
                        v if v["enum"].is_array() => v["enum"][0].clone(),
                        v if v["type"] == "boolean" => json!(true),
                        v if v["type"] == "number" => json!(3),
                        v if v["type"] == json!(["integer", "null"]) => json!(7),
                        _ if operator == "less_than" || operator == "greater_than" => json!(3),
                        _ => json!("vip"),
                    };
                    let takes_value = document["operators"]
                        .as_array()
                        .and_then(|ops| ops.iter().find(|op| op["name"] == *operator))
                        .is_some_and(|op| op["takes_value"] == true);
                    let raw = if takes_value {
                        json!({"field": field, "operator": operator, "value": value})
                    } else {
                        json!({"field": field, "operator": operator})
                    };
                    Condition::parse(&raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
                }
            }
            let served: Vec<&str> = document[kind.as_str()]["actions"]
                .as_array()
                .expect("actions")
                .iter()
                .filter_map(|a| a["field"].as_str())
                .collect();
            assert_eq!(served.contains(&"notify_webhook"), kind != RuleKind::Macro, "{kind:?}");
            let fields: Vec<&str> = document[kind.as_str()]["conditions"]
                .as_array()
                .expect("conditions")
                .iter()
                .filter_map(|c| c["field"].as_str())
                .collect();
            assert_eq!(fields.contains(&"hours_since_created"), kind == RuleKind::Automation, "{kind:?}");
            assert_eq!(fields.is_empty(), kind == RuleKind::Macro, "{kind:?}");
        }
        // Every action, with a value of its schema, parses.
        let samples = [
            json!({"field": "status", "value": "open"}),
            json!({"field": "priority", "value": "high"}),
            json!({"field": "type", "value": null}),
            json!({"field": "assignee_id", "value": 7}),
            json!({"field": "group", "value": "Tier 2"}),
            json!({"field": "custom_fields.plan", "value": {"any": "json"}}),
            json!({"field": "set_tags", "value": "a b"}),
            json!({"field": "add_tags", "value": ["a"]}),
            json!({"field": "remove_tags", "value": "a"}),
            json!({"field": "add_comment", "value": {"body": "Hi {{ ticket.id }}"}}),
            json!({"field": "notify_webhook", "value": {"webhook_id": "wh_1", "payload": "{}", "params": {"q": "x"}}}),
        ];
        assert_eq!(samples.len(), ActionName::all().len(), "a sample per action");
        for (sample, name) in samples.iter().zip(ActionName::all()) {
            let action = Action::parse(sample).unwrap_or_else(|e| panic!("{sample}: {e}"));
            assert_eq!(action.name(), name);
            assert_eq!(action.to_json()["field"], sample["field"]);
        }
    }
}
