//! A lenient view of Liquid values: an unknown key or index is nil instead of an error.
//!
//! liquid-rust is strict: `{{ ticket.missing }}` fails the whole render, even behind
//! `| default`. Helpdesk templates are written against tickets whose fields come and go, so
//! a missing value must render empty. Nil also acts as an empty object, so `a.b.c` chains.
//!
//! What is missing is remembered (`ticket.subjct`), so that dry runs and test sends can name
//! the variables a template asked for in vain.

use std::fmt;

use liquid::model::{ArrayView, DisplayCow, KStringCow, ObjectView, ScalarCow, State, Value, ValueView};
use ref_cast::RefCast;

use super::budget::{self, Key};

#[derive(Debug, RefCast)]
#[repr(transparent)]
pub(super) struct Lax(Value);

static NIL: Lax = Lax(Value::Nil);

/// The globals: every top-level name exists (unknown ones are nil), so that liquid's scope
/// lookup, which asks `contains_key` before `get`, never fails.
#[derive(Debug, RefCast)]
#[repr(transparent)]
pub(super) struct Root(Lax);

impl Root {
    pub(super) fn new(globals: &Value) -> &Self {
        Self::ref_cast(Lax::ref_cast(globals))
    }
}

impl ValueView for Root {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self.0.as_debug()
    }
    fn render(&self) -> DisplayCow<'_> {
        self.0.render()
    }
    fn source(&self) -> DisplayCow<'_> {
        self.0.source()
    }
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }
    fn query_state(&self, state: State) -> bool {
        self.0.query_state(state)
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        self.0.to_kstr()
    }
    fn to_value(&self) -> Value {
        self.0.to_value()
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for Root {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        ObjectView::size(&self.0)
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        self.0.keys()
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        ObjectView::values(&self.0)
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        self.0.iter()
    }
    fn contains_key(&self, _index: &str) -> bool {
        true
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        let found = match &self.0.0 {
            Value::Object(o) => o.get(index).map(Lax::ref_cast),
            _ => None,
        };
        budget::note_lookup(None, Key::Name(index), found.map(Lax::address));
        Some(found.unwrap_or(&NIL))
    }
}

impl ValueView for Lax {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self.0.as_debug()
    }
    fn render(&self) -> DisplayCow<'_> {
        self.0.render()
    }
    fn source(&self) -> DisplayCow<'_> {
        self.0.source()
    }
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }
    fn query_state(&self, state: State) -> bool {
        self.0.query_state(state)
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        self.0.to_kstr()
    }
    fn to_value(&self) -> Value {
        self.0.to_value()
    }
    fn as_scalar(&self) -> Option<ScalarCow<'_>> {
        self.0.as_scalar()
    }
    fn as_array(&self) -> Option<&dyn ArrayView> {
        matches!(self.0, Value::Array(_)).then_some(self as &dyn ArrayView)
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        matches!(self.0, Value::Object(_) | Value::Nil).then_some(self as &dyn ObjectView)
    }
    fn as_state(&self) -> Option<State> {
        self.0.as_state()
    }
    fn is_nil(&self) -> bool {
        self.0.is_nil()
    }
}

impl ObjectView for Lax {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        match &self.0 {
            Value::Object(o) => o.size(),
            _ => 0,
        }
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        match &self.0 {
            Value::Object(o) => Box::new(o.keys().map(|k| KStringCow::from_ref(k.as_str()))),
            _ => Box::new(std::iter::empty()),
        }
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        match &self.0 {
            Value::Object(o) => Box::new(o.values().map(|v| Lax::ref_cast(v) as &dyn ValueView)),
            _ => Box::new(std::iter::empty()),
        }
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        match &self.0 {
            Value::Object(o) => {
                Box::new(o.iter().map(|(k, v)| (KStringCow::from_ref(k.as_str()), Lax::ref_cast(v) as &dyn ValueView)))
            }
            _ => Box::new(std::iter::empty()),
        }
    }
    fn contains_key(&self, index: &str) -> bool {
        matches!(&self.0, Value::Object(o) if o.contains_key(index))
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        let found = match &self.0 {
            Value::Object(o) => o.get(index).map(Lax::ref_cast),
            _ => None,
        };
        match found {
            Some(value) => {
                budget::note_lookup(Some(self.address()), Key::Name(index), Some(value.address()));
                Some(value)
            }
            // Let liquid answer `.size` and a hash's `.first` itself; everything else missing
            // is nil.
            None if index == "size" || (index == "first" && matches!(&self.0, Value::Object(_))) => None,
            None => {
                // Below a missing value, the missing value was already named.
                if !std::ptr::eq(self, &NIL) {
                    budget::note_lookup(Some(self.address()), Key::Name(index), None);
                }
                Some(&NIL)
            }
        }
    }
}

impl ArrayView for Lax {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        match &self.0 {
            Value::Array(a) => i64::try_from(a.len()).unwrap_or(i64::MAX),
            _ => 0,
        }
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        match &self.0 {
            Value::Array(a) => Box::new(a.iter().map(|v| Lax::ref_cast(v) as &dyn ValueView)),
            _ => Box::new(std::iter::empty()),
        }
    }
    fn contains_key(&self, index: i64) -> bool {
        self.get_item(index).is_some()
    }
    fn get(&self, index: i64) -> Option<&dyn ValueView> {
        let found = self.get_item(index);
        budget::note_lookup(Some(self.address()), Key::Index(index), found.map(Lax::address));
        Some(found.unwrap_or(&NIL))
    }
}

impl Lax {
    /// Identifies a value for following a lookup chain (`ticket` then `.subject`).
    fn address(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// Liquid's indexing: negative counts from the end.
    fn get_item(&self, index: i64) -> Option<&Lax> {
        let Value::Array(items) = &self.0 else { return None };
        let len = i64::try_from(items.len()).ok()?;
        let index = if index < 0 { index + len } else { index };
        usize::try_from(index).ok().and_then(|i| items.as_slice().get(i)).map(Lax::ref_cast)
    }
}
