//! Tickets as agents work on them: list, read, create, change, delete, and their audit
//! trail. Every create and change is one update (`updates`).

use hookdesk_core::Page;
use hookdesk_core::audit::Audit;
use hookdesk_core::event::{EventType, Raised, event_invocations};
use std::collections::HashMap;

use hookdesk_core::id::{TicketId, UserId};
use hookdesk_core::template::Rendering;
use hookdesk_core::ticket::{Status, Tag, Ticket, TicketFilter};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::UpdateOutcome;
use super::error::OrNotFound;
use super::pages::{PageQuery, id_cursor, limit, search_text};
use super::{Agent, App, AppError, CreateTicketBody, PatchTicketBody};
use hookdesk_core::update::Source;

/// The JSON a page of tickets or audits holds at most (a page holds one item whatever its
/// size): fifty tickets of a thousand comments each must not make a response of a gigabyte.
pub const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// The most people a ticket's assignee is chosen from.
const MAX_STAFF: u32 = 500;

/// `GET /tickets`: which tickets.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TicketQuery {
    pub status: Option<Status>,
    pub tag: Option<String>,
    /// Text in the subject, or the requester's name or email (any case).
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl TicketQuery {
    fn into_filter(self) -> Result<TicketFilter, AppError> {
        let after_id = id_cursor(self.cursor.as_deref())?;
        let tag = self.tag.map(|t| Tag::parse(&t).map_err(|e| e.within("tag"))).transpose()?;
        let text = search_text(self.q.as_deref())?.map(str::to_owned);
        Ok(TicketFilter { status: self.status, tag, text, after_id, limit: limit(self.limit)? })
    }
}

impl App {
    /// Tickets, oldest first; a page ends early once it holds [`PAGE_BYTES`].
    pub async fn tickets(&self, _caller: &Agent, query: TicketQuery) -> Result<Page<Ticket>, AppError> {
        let filter = query.into_filter()?;
        let _turn = self.search_turn(filter.text.as_deref()).await?;
        let page = self.store.list_tickets(&filter).await?;
        Ok(page.within_bytes(PAGE_BYTES, |t| t.id.to_string()))
    }

    /// The names of users, by id (comments' authors, assignees); an unknown id is left out.
    pub async fn user_names(&self, _caller: &Agent, ids: &[UserId]) -> Result<HashMap<UserId, String>, AppError> {
        Ok(self.store.user_names(ids).await?)
    }

    /// Agents and admins by name: who a ticket may be assigned to.
    pub async fn staff_names(&self, _caller: &Agent) -> Result<Vec<(UserId, String)>, AppError> {
        Ok(self.store.staff(MAX_STAFF).await?.into_iter().map(|user| (user.id, user.name)).collect())
    }

    pub async fn ticket(&self, _caller: &Agent, id: TicketId) -> Result<Ticket, AppError> {
        self.store.ticket(id).await.or_not_found("ticket")
    }

    /// Creates a ticket: one update, the triggers run on it.
    pub async fn create_ticket(&self, caller: &Agent, body: CreateTicketBody) -> Result<Ticket, AppError> {
        Ok(self.create_ticket_from(Source::api(caller.user()), body.try_into()?).await?.ticket)
    }

    /// Changes a ticket: one update, the triggers run on it.
    pub async fn update_ticket(&self, caller: &Agent, id: TicketId, body: PatchTicketBody) -> Result<Ticket, AppError> {
        Ok(self.update_ticket_reporting(caller, id, body).await?.ticket)
    }

    /// [`App::update_ticket`], answering what the update did too (the rules that fired).
    pub async fn update_ticket_reporting(
        &self,
        caller: &Agent,
        id: TicketId,
        body: PatchTicketBody,
    ) -> Result<UpdateOutcome, AppError> {
        self.update_ticket_from(Source::api(caller.user()), id, body.try_into()?, &[]).await
    }

    /// Deletes a ticket; subscribers of `ticket.deleted` get it, in the same transaction.
    pub async fn delete_ticket(&self, _caller: &Agent, id: TicketId) -> Result<(), AppError> {
        let webhooks = self.store.rules_snapshot().await?.event_webhooks;
        let now = self.clock.now();
        let mut tx = self.store.begin_update().await?;
        let ticket = tx.ticket(id).await.or_not_found("ticket")?;
        tx.delete_ticket(id).await.or_not_found("ticket")?;
        let previous = serde_json::to_value(&ticket).unwrap_or(Value::Null);
        let events = vec![EventType::TicketDeleted];
        let subject = format!("tickets/{id}");
        let raised = Raised {
            events: &events,
            ticket_id: Some(id),
            subject: &subject,
            current: Value::Null,
            previous: &previous,
        };
        let invocations = event_invocations(&webhooks, &raised, &self.origin(now), &mut Rendering::new());
        tx.enqueue(&invocations).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// A ticket's audit trail, oldest first.
    pub async fn ticket_audits(&self, caller: &Agent, id: TicketId, query: PageQuery) -> Result<Page<Audit>, AppError> {
        let after_id = query.id_cursor()?;
        let limit = query.limit()?;
        self.ticket(caller, id).await?;
        Ok(self.store.ticket_audits(id, after_id, limit).await?.within_bytes(PAGE_BYTES, |a| a.id.to_string()))
    }
}
