//! A trigger as admins manage it: a rule plus its place and state.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::Rule;
use crate::Timestamp;

#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub rule: Rule,
    pub description: String,
    pub active: bool,
    pub position: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl AsRef<Rule> for Trigger {
    fn as_ref(&self) -> &Rule {
        &self.rule
    }
}

/// The contract's Trigger JSON.
impl Serialize for Trigger {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Trigger", 9)?;
        s.serialize_field("id", &self.rule.id)?;
        s.serialize_field("title", &self.rule.title)?;
        s.serialize_field("description", &self.description)?;
        s.serialize_field("active", &self.active)?;
        s.serialize_field("position", &self.position)?;
        s.serialize_field("conditions", &self.rule.conditions)?;
        s.serialize_field("actions", &self.rule.actions)?;
        s.serialize_field("created_at", &self.created_at)?;
        s.serialize_field("updated_at", &self.updated_at)?;
        s.end()
    }
}
