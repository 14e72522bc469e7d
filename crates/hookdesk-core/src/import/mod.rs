//! Other helpdesks' exports as hookdesk's objects: what maps, what does not, and why.

pub mod zendesk;
