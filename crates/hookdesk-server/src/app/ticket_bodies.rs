//! The bodies of `POST /tickets` and `PATCH /tickets/{id}` as JSON, and their typed form. An
//! inbound webhook's ticket actions render to the same bodies.

use hookdesk_core::Invalid;
use hookdesk_core::ticket::{Priority, Status, TicketType};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{NewTicket, RequesterInput, TicketPatch};

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
        let message = error.into_inner().to_string();
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
    #[serde(default)]
    tags: Vec<String>,
    /// Found or created by email; the caller when absent.
    requester: Option<RequesterBody>,
    assignee_id: Option<i64>,
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
    /// Replaces every tag.
    tags: Option<Vec<String>>,
    #[serde(default)]
    add_tags: Vec<String>,
    #[serde(default)]
    remove_tags: Vec<String>,
    requester: Option<RequesterBody>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    assignee_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    group: Option<Option<String>>,
    /// Merged into the ticket's custom fields; a null value removes a key.
    #[schema(value_type = Option<Object>)]
    custom_fields: Option<Map<String, Value>>,
    comment: Option<CommentBody>,
}

impl From<PatchTicketBody> for TicketPatch {
    fn from(body: PatchTicketBody) -> Self {
        TicketPatch {
            subject: body.subject,
            description: body.description,
            status: body.status,
            priority: body.priority,
            ticket_type: body.ticket_type,
            tags: body.tags,
            add_tags: body.add_tags,
            remove_tags: body.remove_tags,
            requester: requester(body.requester),
            assignee_id: body.assignee_id,
            group: body.group,
            custom_fields: body.custom_fields,
            comment: comment(body.comment),
        }
    }
}

fn requester(body: Option<RequesterBody>) -> Option<RequesterInput> {
    body.map(|r| RequesterInput { name: r.name, email: r.email })
}

fn comment(body: Option<CommentBody>) -> Option<(String, bool)> {
    body.map(|c| (c.body, c.public.unwrap_or(true)))
}

impl From<CreateTicketBody> for NewTicket {
    fn from(body: CreateTicketBody) -> Self {
        NewTicket {
            subject: body.subject,
            description: body.description,
            status: body.status,
            priority: body.priority,
            ticket_type: body.ticket_type,
            tags: body.tags,
            requester: requester(body.requester),
            assignee_id: body.assignee_id,
            group: body.group,
            custom_fields: body.custom_fields,
            comment: comment(body.comment),
        }
    }
}
