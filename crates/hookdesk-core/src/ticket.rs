//! Tickets and the values they are made of.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::id::{CommentId, TicketId, UserId};
use crate::{Invalid, Timestamp};

/// Defines a closed set of snake_case names with an order (the order of the variants), as
/// statuses and priorities are compared with `less_than` / `greater_than`.
macro_rules! ordered_names {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }

            /// The accepted names, for error messages.
            pub fn names() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }
    };
}

ordered_names!(
    /// Ticket status, in its conventional order.
    Status { New = "new", Open = "open", Pending = "pending", Hold = "hold", Solved = "solved", Closed = "closed" }
);
ordered_names!(
    Priority { Low = "low", Normal = "normal", High = "high", Urgent = "urgent" }
);
ordered_names!(
    TicketType { Question = "question", Incident = "incident", Problem = "problem", Task = "task" }
);

/// A tag: lower-case, without white space, at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[schema(value_type = String)]
pub struct Tag(String);

impl Tag {
    pub const MAX_LEN: usize = 100;

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let tag = text.trim().to_lowercase();
        if tag.is_empty() {
            return Err(Invalid::new("", "a tag cannot be empty"));
        }
        if tag.chars().count() > Self::MAX_LEN {
            return Err(Invalid::new("", format!("a tag has at most {} characters", Self::MAX_LEN)));
        }
        if tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Invalid::new("", format!("tag {text:?} contains white space")));
        }
        Ok(Self(tag))
    }

    /// Splits Zendesk-style space-separated tags ("vip  urgent").
    pub fn parse_list(text: &str) -> Result<Vec<Self>, Invalid> {
        text.split_whitespace().map(Self::parse).collect()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The set of tags on a ticket: unique, in the order they were added. Kept with a hash set
/// beside the order: tens of thousands of tags cost the square of their number in a list.
#[derive(Debug, Clone, Default)]
pub struct Tags {
    ordered: Vec<Tag>,
    set: std::collections::HashSet<Tag>,
}

/// A list of tags, in order.
impl Serialize for Tags {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.ordered.serialize(serializer)
    }
}

impl utoipa::PartialSchema for Tags {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <Vec<String> as utoipa::PartialSchema>::schema()
    }
}

impl ToSchema for Tags {}

impl PartialEq for Tags {
    fn eq(&self, other: &Self) -> bool {
        self.ordered == other.ordered
    }
}

impl Eq for Tags {}

impl Tags {
    /// The most tags a ticket holds: an update leaving more is refused.
    pub const MAX: usize = 100;

    pub fn new(tags: impl IntoIterator<Item = Tag>) -> Self {
        let mut set = Self::default();
        set.add(tags);
        set
    }

    pub fn add(&mut self, tags: impl IntoIterator<Item = Tag>) {
        for tag in tags {
            if self.set.insert(tag.clone()) {
                self.ordered.push(tag);
            }
        }
    }

    pub fn remove<'a>(&mut self, tags: impl IntoIterator<Item = &'a Tag>) {
        let mut removed = false;
        for tag in tags {
            removed |= self.set.remove(tag);
        }
        if removed {
            let set = &self.set;
            self.ordered.retain(|t| set.contains(t));
        }
    }

    pub fn contains(&self, tag: &Tag) -> bool {
        self.set.contains(tag)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.ordered.iter()
    }

    pub fn len(&self) -> usize {
        self.ordered.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ordered.is_empty()
    }

    /// Equal as sets: the order of tags is not a change.
    pub fn same_set(&self, other: &Tags) -> bool {
        self.set == other.set
    }

    /// Refuses more than [`Tags::MAX`] tags.
    pub fn check_count(&self) -> Result<(), Invalid> {
        if self.len() > Self::MAX {
            return Err(Invalid::new(
                "tags",
                format!("a ticket holds at most {} tags; this update leaves {}", Self::MAX, self.len()),
            ));
        }
        Ok(())
    }
}

impl Ticket {
    /// The most comments a ticket holds, and the most text they hold together: every read
    /// and every update of a ticket loads its comments.
    pub const MAX_COMMENTS: usize = 1000;
    pub const MAX_COMMENT_BYTES: usize = 4 * 1024 * 1024;

    /// Refuses a ticket left with more comments, or more comment text, than it may hold.
    pub fn check_comments(&self) -> Result<(), Invalid> {
        let bytes: usize = self.comments.iter().map(|c| c.body.len()).sum();
        if self.comments.len() > Self::MAX_COMMENTS || bytes > Self::MAX_COMMENT_BYTES {
            return Err(Invalid::new(
                "comment",
                format!(
                    "a ticket holds at most {} comments and {} MiB of comment text; this one is full: open a follow-up ticket",
                    Self::MAX_COMMENTS,
                    Self::MAX_COMMENT_BYTES / (1024 * 1024)
                ),
            ));
        }
        Ok(())
    }
}

/// The requester as shown on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Requester {
    #[schema(value_type = i64)]
    pub id: UserId,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Comment {
    #[schema(value_type = i64)]
    pub id: CommentId,
    #[schema(value_type = Option<i64>)]
    pub author_id: Option<UserId>,
    pub body: String,
    pub public: bool,
    pub created_at: Timestamp,
}

/// The fields rules can read and change. Kept apart from the ticket's identity and
/// history so the trigger cycle can compare "before" and "now" cheaply.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketFields {
    pub subject: String,
    pub description: String,
    pub status: Status,
    pub priority: Priority,
    #[serde(rename = "type")]
    pub ticket_type: Option<TicketType>,
    pub tags: Tags,
    #[schema(value_type = Option<i64>)]
    pub assignee_id: Option<UserId>,
    pub group: Option<String>,
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
}

impl Default for TicketFields {
    fn default() -> Self {
        Self {
            subject: String::new(),
            description: String::new(),
            status: Status::New,
            priority: Priority::Normal,
            ticket_type: None,
            tags: Tags::default(),
            assignee_id: None,
            group: None,
            custom_fields: Map::new(),
        }
    }
}

impl TicketFields {
    /// The most custom fields a ticket holds, and the most bytes they take as JSON together:
    /// every read, update and audit of a ticket carries them.
    pub const MAX_CUSTOM_FIELDS: usize = 100;
    pub const MAX_CUSTOM_FIELD_BYTES: usize = 64 * 1024;

    /// Refuses custom fields over the bounds, unless they shrink (a ticket saved before the
    /// bounds may still be changed and trimmed).
    pub fn check_custom_fields(&self, before: &Map<String, Value>) -> Result<(), Invalid> {
        let bytes =
            |fields: &Map<String, Value>| fields.iter().map(|(k, v)| k.len() + v.to_string().len()).sum::<usize>();
        let (count, size) = (self.custom_fields.len(), bytes(&self.custom_fields));
        let over = count > Self::MAX_CUSTOM_FIELDS || size > Self::MAX_CUSTOM_FIELD_BYTES;
        if over && (count > before.len() || size > bytes(before)) {
            return Err(Invalid::new(
                "custom_fields",
                format!(
                    "a ticket holds at most {} custom fields and {} KiB of them as JSON; this update leaves {count} fields of {size} bytes",
                    Self::MAX_CUSTOM_FIELDS,
                    Self::MAX_CUSTOM_FIELD_BYTES / 1024
                ),
            ));
        }
        Ok(())
    }
}

/// The Ticket of the contract.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Ticket {
    #[schema(value_type = i64)]
    pub id: TicketId,
    #[serde(flatten)]
    pub fields: TicketFields,
    pub requester: Requester,
    pub comments: Vec<Comment>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the status last changed (automations' `hours_since_status_changed`); not part of
    /// the contract's document.
    #[serde(skip)]
    #[schema(ignore)]
    pub status_changed_at: Timestamp,
}

/// A comment added by an update, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComment {
    pub author_id: Option<UserId>,
    pub body: String,
    pub public: bool,
}

/// The longest subject, in characters.
pub const MAX_SUBJECT: usize = 1000;
/// The longest description or comment, in characters.
pub const MAX_TEXT: usize = 64 * 1024;

impl Ticket {
    /// The ticket as templates see it: the Ticket JSON plus `url` (its page in the UI, under
    /// `public_url`: the link a person follows), `api_url` (the API's, for programs) and
    /// `latest_comment`.
    pub fn document(&self, public_url: &str) -> Value {
        let mut document = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut document {
            map.insert("url".into(), format!("{public_url}/ui/tickets/{}", self.id).into());
            map.insert("api_url".into(), format!("{public_url}/api/v1/tickets/{}", self.id).into());
            let latest = self.comments.last().map(|c| serde_json::to_value(c).unwrap_or(Value::Null));
            map.insert("latest_comment".into(), latest.unwrap_or(Value::Null));
        }
        document
    }
}

/// Checks free text fields: subject, description, group.
pub fn parse_text(field: &str, text: &str, max_chars: usize) -> Result<String, Invalid> {
    if text.chars().count() > max_chars {
        return Err(Invalid::new(field, format!("must be at most {max_chars} characters")));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_lowercase_unique_and_ordered() {
        let mut tags = Tags::new(Tag::parse_list("VIP urgent vip").expect("valid"));
        assert_eq!(tags.iter().map(Tag::as_str).collect::<Vec<_>>(), ["vip", "urgent"]);
        tags.remove(&Tag::parse_list("vip").expect("valid"));
        assert_eq!(tags.iter().map(Tag::as_str).collect::<Vec<_>>(), ["urgent"]);
        assert!(Tag::parse("a\tb").expect_err("refused").message.ends_with("contains white space"));
        assert_eq!(Tag::parse(" ").expect_err("refused").message, "a tag cannot be empty");
    }

    #[test]
    fn statuses_are_ordered_as_listed() {
        assert!(Status::New < Status::Open && Status::Solved < Status::Closed);
        assert!(Priority::Low < Priority::Urgent);
        assert_eq!(Status::parse("hold"), Some(Status::Hold));
        assert_eq!(Status::parse("Hold"), None);
    }
}

/// Filters of a ticket list.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Option<Status>,
    pub tag: Option<Tag>,
    /// Text in the subject, or the requester's name or email (any case).
    pub text: Option<String>,
    pub after_id: Option<TicketId>,
    pub limit: u32,
}
