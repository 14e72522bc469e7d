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

macro_rules! vocabulary_schema {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                schema($schema)
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
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

/// The schemas above, for the document's components (a body that names one refers to it).
pub fn components() -> Vec<(String, RefOr<Schema>)> {
    use utoipa::{PartialSchema, ToSchema};
    vec![
        (RuleCondition::name().into_owned(), RuleCondition::schema()),
        (RuleConditions::name().into_owned(), RuleConditions::schema()),
        (RuleAction::name().into_owned(), RuleAction::schema()),
        (MacroAction::name().into_owned(), MacroAction::schema()),
    ]
}
