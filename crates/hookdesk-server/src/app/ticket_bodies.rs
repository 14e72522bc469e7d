//! The bodies of `POST /tickets` and `PATCH /tickets/{id}` as JSON, and their checked form
//! (`core::update`'s `NewTicket` and `TicketPatch`). An inbound webhook's ticket actions
//! render to the same bodies.

use hookdesk_core::Invalid;
use hookdesk_core::id::UserId;
use hookdesk_core::ticket::{Priority, Status, Tags, TicketFields, TicketType};
use hookdesk_core::update::{
    CommentInput, NewTicket, RequesterInput, TicketPatch, parse_custom_fields, parse_description, parse_group,
    parse_subject, parse_tags,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// For PATCH bodies: an absent field is `None`, an explicit `null` is `Some(None)`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A JSON document read as `T`; a value of the wrong shape is an error naming its field.
pub fn from_json<T: DeserializeOwned>(document: Value) -> Result<T, Invalid> {
    serde_path_to_error::deserialize(document).map_err(|error| {
        let path = error.path().to_string();
        let message = plain_words(&error.into_inner().to_string());
        // serde names a missing field only in its message; put it in the path.
        let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
        let field = match (path.as_str(), missing) {
            (".", Some(name)) => name.to_owned(),
            (".", None) => String::new(),
            (_, Some(name)) => format!("{path}.{name}"),
            (_, None) => path,
        };
        Invalid::new(field, message)
    })
}

/// A serde message without the names of our Rust types (`expected struct CommentBody`).
pub fn plain_words(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut words = message.split(' ').peekable();
    while let Some(word) = words.next() {
        let kind = match word {
            "struct" => Some("an object"),
            "enum" => Some("one of its listed values"),
            _ => None,
        };
        match (kind, words.peek()) {
            (Some(kind), Some(name)) if name.starts_with(|c: char| c.is_ascii_uppercase()) => {
                let name = words.next().unwrap_or_default();
                out.push_str(kind);
                // Keep what followed the type's name (a comma, a period).
                out.push_str(name.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_'));
            }
            _ => out.push_str(word),
        }
        out.push(' ');
    }
    out.pop();
    out
}

/// Tags as an array of texts, or as one space-separated text.
#[derive(Deserialize)]
#[serde(untagged)]
enum TagList {
    One(String),
    Many(Vec<String>),
}

impl TagList {
    fn into_tags(self) -> Vec<String> {
        match self {
            TagList::One(text) => text.split_whitespace().map(str::to_owned).collect(),
            TagList::Many(tags) => tags,
        }
    }
}

const TAG_LIST: &str = "must be an array of tags or one space-separated text of them";

fn tag_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    TagList::deserialize(deserializer).map(TagList::into_tags).map_err(|_| serde::de::Error::custom(TAG_LIST))
}

/// `null` (or absent) keeps the tags as they are.
fn some_tag_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    Option::<TagList>::deserialize(deserializer)
        .map(|tags| tags.map(TagList::into_tags))
        .map_err(|_| serde::de::Error::custom(TAG_LIST))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequesterBody {
    name: Option<String>,
    email: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    body: String,
    /// Public by default.
    public: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketBody {
    subject: String,
    #[serde(default)]
    description: String,
    status: Option<Status>,
    priority: Option<Priority>,
    #[serde(rename = "type")]
    ticket_type: Option<TicketType>,
    /// An array, or one space-separated text (`"vip urgent"`).
    #[serde(default, deserialize_with = "tag_list")]
    tags: Vec<String>,
    /// Found or created by email; the caller when absent.
    requester: Option<RequesterBody>,
    #[schema(value_type = Option<i64>)]
    assignee_id: Option<UserId>,
    group: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    custom_fields: Map<String, Value>,
    comment: Option<CommentBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTicketBody {
    subject: Option<String>,
    description: Option<String>,
    status: Option<Status>,
    priority: Option<Priority>,
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    #[schema(value_type = Option<TicketType>)]
    ticket_type: Option<Option<TicketType>>,
    /// Replaces every tag. Tags here and below: an array, or one space-separated text.
    #[serde(default, deserialize_with = "some_tag_list")]
    tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "tag_list")]
    add_tags: Vec<String>,
    #[serde(default, deserialize_with = "tag_list")]
    remove_tags: Vec<String>,
    requester: Option<RequesterBody>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    assignee_id: Option<Option<UserId>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    group: Option<Option<String>>,
    /// Merged into the ticket's custom fields; a null value removes a key.
    #[schema(value_type = Option<Object>)]
    custom_fields: Option<Map<String, Value>>,
    comment: Option<CommentBody>,
}

impl TryFrom<PatchTicketBody> for TicketPatch {
    type Error = Invalid;

    fn try_from(body: PatchTicketBody) -> Result<Self, Invalid> {
        Ok(TicketPatch {
            requester: requester(body.requester)?,
            comment: comment(body.comment)?,
            tags: body.tags.as_deref().map(|t| parse_tags("tags", t)).transpose()?,
            add_tags: parse_tags("add_tags", &body.add_tags)?,
            remove_tags: parse_tags("remove_tags", &body.remove_tags)?,
            subject: body.subject.as_deref().map(parse_subject).transpose()?,
            description: body.description.as_deref().map(parse_description).transpose()?,
            group: body.group.map(parse_group).transpose()?,
            custom_fields: body.custom_fields.map(parse_custom_fields).transpose()?,
            status: body.status,
            priority: body.priority,
            ticket_type: body.ticket_type,
            assignee_id: body.assignee_id,
        })
    }
}

fn requester(body: Option<RequesterBody>) -> Result<Option<RequesterInput>, Invalid> {
    body.map(|r| RequesterInput::parse(r.name.as_deref(), &r.email)).transpose()
}

fn comment(body: Option<CommentBody>) -> Result<Option<CommentInput>, Invalid> {
    body.map(|c| CommentInput::parse(&c.body, c.public.unwrap_or(true))).transpose()
}

impl TryFrom<CreateTicketBody> for NewTicket {
    type Error = Invalid;

    /// Status new and priority normal unless given.
    fn try_from(body: CreateTicketBody) -> Result<Self, Invalid> {
        let fields = TicketFields {
            subject: parse_subject(&body.subject)?,
            description: parse_description(&body.description)?,
            status: body.status.unwrap_or(Status::New),
            priority: body.priority.unwrap_or(Priority::Normal),
            ticket_type: body.ticket_type,
            tags: Tags::new(parse_tags("tags", &body.tags)?),
            assignee_id: body.assignee_id,
            group: parse_group(body.group)?,
            custom_fields: parse_custom_fields(body.custom_fields)?,
        };
        Ok(NewTicket { fields, comment: comment(body.comment)?, requester: requester(body.requester)? })
    }
}
