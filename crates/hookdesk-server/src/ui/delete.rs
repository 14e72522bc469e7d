//! Deleting, after a confirmation: a page that says what goes and what it means, or, when
//! other objects still use it, which ones (each a link), and no Delete button.

use askama::Template;
use axum::response::Response;

use super::{Chrome, render};

#[derive(Template)]
#[template(path = "ui/confirm_delete.html")]
pub struct ConfirmDelete {
    pub chrome: Chrome,
    /// What is deleted (`trigger`, `webhook`) and its name.
    pub what: &'static str,
    pub name: String,
    /// What deleting it means, in a sentence.
    pub consequence: String,
    /// Where the form posts.
    pub action: String,
    /// Where Cancel leads.
    pub back: String,
    /// The version the page was shown at: a change meanwhile refuses the delete.
    pub version: Option<String>,
    /// What still uses it, `(label, link)`: while any does, it cannot be deleted.
    pub blockers: Vec<(String, String)>,
}

impl ConfirmDelete {
    pub fn page(self) -> Response {
        render(&self)
    }
}
