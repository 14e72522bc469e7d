//! One module per resource. Each exposes `router()` with its documented routes.

pub mod automations;
pub mod inbound_webhooks;
pub mod invocations;
pub mod macros;
pub mod tickets;
pub mod triggers;
pub mod users;
pub mod webhooks;

use serde::{Deserialize, Serialize};

pub use crate::app::nullable;
use utoipa::ToSchema;

use super::error::ApiError;

/// The contract's list shape.
#[derive(Serialize, ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `?limit=&cursor=` of a plain list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// `?limit=`: default 50, at most 500.
pub fn limit(requested: Option<u32>) -> Result<u32, ApiError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(hookdesk_core::Invalid::new("limit", format!("must be 1 to {MAX_LIMIT}")).into()),
    }
}

/// `?cursor=` of a list paged by integer id: the last id of the page before.
pub fn id_cursor(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    cursor
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| hookdesk_core::Invalid::new("cursor", "is not a cursor this API returned").into())
        })
        .transpose()
}
