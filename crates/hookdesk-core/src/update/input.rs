//! What a request asks of a ticket, checked: a new ticket, or a patch of one. Once built, an
//! input is valid; only who makes the update (the comment's author, the requester when none
//! is named) is settled when it runs.

use serde_json::{Map, Value};

use crate::Invalid;
use crate::id::UserId;
use crate::text::nul_path;
use crate::ticket::{
    MAX_SUBJECT, MAX_TEXT, NewComment, Priority, Status, Tag, Tags, TicketFields, TicketType, parse_text,
};
use crate::user::{Email, User};

/// A comment as a request gives it: its text, and whether the requester sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentInput {
    body: String,
    public: bool,
}

impl CommentInput {
    pub fn parse(body: &str, public: bool) -> Result<Self, Invalid> {
        if body.trim().is_empty() {
            return Err(Invalid::new("comment.body", "must not be empty"));
        }
        Ok(Self { body: parse_text("comment.body", body, MAX_TEXT)?, public })
    }

    /// The comment as `author` adds it (none for rules acting on their own).
    pub fn by(self, author: Option<&User>) -> NewComment {
        NewComment { author_id: author.map(|a| a.id), body: self.body, public: self.public }
    }
}

/// A requester named by email, found or created when the update runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequesterInput {
    pub name: String,
    pub email: Email,
}

impl RequesterInput {
    /// Without a name, the email's local part is the name.
    pub fn parse(name: Option<&str>, email: &str) -> Result<Self, Invalid> {
        let email = Email::parse(email).map_err(|e| e.within("requester"))?;
        let name = match name.map(str::trim) {
            Some(name) if !name.is_empty() => parse_text("requester.name", name, 255)?,
            _ => email.as_str().split('@').next().unwrap_or_default().to_owned(),
        };
        Ok(Self { name, email })
    }

    /// The requester named, or else the user making the update.
    pub fn or_actor(requester: Option<Self>, actor: Option<&User>) -> Result<Self, Invalid> {
        match (requester, actor) {
            (Some(requester), _) => Ok(requester),
            (None, Some(actor)) => Ok(Self { name: actor.name.clone(), email: Email::parse(&actor.email)? }),
            (None, None) => Err(Invalid::new("requester", "is required when no user makes the update")),
        }
    }
}

pub fn parse_subject(text: &str) -> Result<String, Invalid> {
    if text.trim().is_empty() {
        return Err(Invalid::new("subject", "must not be empty"));
    }
    parse_text("subject", text.trim(), MAX_SUBJECT)
}

pub fn parse_description(text: &str) -> Result<String, Invalid> {
    parse_text("description", text, MAX_TEXT)
}

/// Tags given as `field`; a bad one is named by its place (`tags[2]`).
pub fn parse_tags(field: &str, raw: &[String]) -> Result<Vec<Tag>, Invalid> {
    raw.iter().enumerate().map(|(i, t)| Tag::parse(t).map_err(|e| e.within(&format!("{field}[{i}]")))).collect()
}

/// A group; blank is none.
pub fn parse_group(raw: Option<String>) -> Result<Option<String>, Invalid> {
    raw.map(|g| parse_text("group", g.trim(), 255)).transpose().map(|g| g.filter(|g| !g.is_empty()))
}

pub fn parse_custom_fields(map: Map<String, Value>) -> Result<Map<String, Value>, Invalid> {
    if let Some(key) = map.keys().find(|k| k.is_empty() || k.len() > 128) {
        return Err(Invalid::new(format!("custom_fields.{key}"), "keys are 1 to 128 characters"));
    }
    // A NUL cannot be stored on PostgreSQL, nor rendered into a comment: refused on both.
    if let Some(path) = nul_path(&Value::Object(map.clone())) {
        return Err(Invalid::new(format!("custom_fields.{path}"), "must not contain NUL characters"));
    }
    Ok(map)
}

/// A new ticket, checked: its fields (status new and priority normal unless given), its
/// first comment, and its requester when one is named.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub fields: TicketFields,
    pub comment: Option<CommentInput>,
    pub requester: Option<RequesterInput>,
}

/// A change to a ticket, checked: `None` leaves a field as it is; for nullable fields
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct TicketPatch {
    pub subject: Option<String>,
    pub description: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub ticket_type: Option<Option<TicketType>>,
    pub tags: Option<Vec<Tag>>,
    pub add_tags: Vec<Tag>,
    pub remove_tags: Vec<Tag>,
    pub requester: Option<RequesterInput>,
    pub assignee_id: Option<Option<UserId>>,
    pub group: Option<Option<String>>,
    /// Merged into the ticket's: a null value removes a key.
    pub custom_fields: Option<Map<String, Value>>,
    pub comment: Option<CommentInput>,
}

impl TicketPatch {
    /// A patch that only adds a comment.
    pub fn comment(comment: CommentInput) -> Self {
        Self { comment: Some(comment), ..Self::default() }
    }

    /// The fields as the patch leaves them.
    pub fn apply(&self, fields: &mut TicketFields) {
        if let Some(subject) = &self.subject {
            fields.subject.clone_from(subject);
        }
        if let Some(description) = &self.description {
            fields.description.clone_from(description);
        }
        if let Some(status) = self.status {
            fields.status = status;
        }
        if let Some(priority) = self.priority {
            fields.priority = priority;
        }
        if let Some(ticket_type) = self.ticket_type {
            fields.ticket_type = ticket_type;
        }
        if let Some(assignee) = self.assignee_id {
            fields.assignee_id = assignee;
        }
        if let Some(group) = &self.group {
            fields.group.clone_from(group);
        }
        if let Some(custom) = &self.custom_fields {
            for (key, value) in custom {
                if value.is_null() {
                    fields.custom_fields.remove(key);
                } else {
                    fields.custom_fields.insert(key.clone(), value.clone());
                }
            }
        }
        if let Some(set) = &self.tags {
            fields.tags = Tags::new(set.iter().cloned());
        }
        fields.tags.add(self.add_tags.iter().cloned());
        fields.tags.remove(&self.remove_tags);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &str) -> Tag {
        Tag::parse(name).expect("tag")
    }

    #[test]
    fn a_patch_changes_what_it_names_and_merges_custom_fields() {
        let mut fields = TicketFields { tags: Tags::new([tag("a"), tag("b")]), ..TicketFields::default() };
        fields.custom_fields.insert("keep".into(), 1.into());
        fields.custom_fields.insert("drop".into(), 2.into());
        let patch = TicketPatch {
            status: Some(Status::Pending),
            group: Some(None),
            add_tags: vec![tag("c")],
            remove_tags: vec![tag("a")],
            custom_fields: Some(serde_json::json!({"drop": null, "new": "x"}).as_object().cloned().expect("object")),
            ..TicketPatch::default()
        };
        patch.apply(&mut fields);
        assert_eq!(fields.status, Status::Pending);
        assert_eq!(fields.priority, Priority::Normal);
        assert_eq!(fields.tags, Tags::new([tag("b"), tag("c")]));
        assert_eq!(Value::Object(fields.custom_fields), serde_json::json!({"keep": 1, "new": "x"}));
    }

    #[test]
    fn inputs_are_checked_as_they_are_built() {
        assert_eq!(parse_subject("  ").map_err(|e| e.field), Err("subject".to_owned()));
        assert_eq!(
            parse_tags("add_tags", &["ok".into(), "not ok".into()]).map_err(|e| e.field),
            Err("add_tags[1]".into())
        );
        assert_eq!(parse_group(Some("  ".into())), Ok(None));
        let empty = CommentInput::parse(" ", true).expect_err("an empty comment");
        assert_eq!((empty.field.as_str(), empty.message.as_str()), ("comment.body", "must not be empty"));
        let requester = RequesterInput::parse(None, "Ann@Example.com").expect("requester");
        assert_eq!(requester.name, "ann");
        assert_eq!(RequesterInput::or_actor(None, None).map_err(|e| e.field), Err("requester".to_owned()));
    }
}
