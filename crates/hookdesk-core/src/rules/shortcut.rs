//! Macros: a named list of actions an agent applies to one ticket on demand.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::Action;
use crate::Timestamp;
use crate::id::MacroId;

/// A macro; `A` is how its actions are held: parsed (to apply them), or as their stored
/// JSON (a list shows them: nothing in it is parsed).
#[derive(Debug, Clone, PartialEq)]
pub struct Macro<A = Vec<Action>> {
    pub id: MacroId,
    pub title: String,
    pub description: String,
    pub active: bool,
    pub actions: A,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The contract's Macro JSON (`id`, `title`, `actions`) and its extras.
impl<A: Serialize> Serialize for Macro<A> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Macro", 7)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("title", &self.title)?;
        s.serialize_field("description", &self.description)?;
        s.serialize_field("active", &self.active)?;
        s.serialize_field("actions", &self.actions)?;
        s.serialize_field("created_at", &self.created_at)?;
        s.serialize_field("updated_at", &self.updated_at)?;
        s.end()
    }
}

/// What a list of macros to pick from shows of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroTitle {
    pub id: MacroId,
    pub title: String,
    pub active: bool,
}
