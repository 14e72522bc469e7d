//! Tickets, their tags and comments; and [`UpdateTx`], the transaction of one update.

use std::collections::HashMap;

use hookdesk_core::Timestamp;
use hookdesk_core::id::{CommentId, InvocationId, TicketId, UserId, WebhookId};
use hookdesk_core::ticket::{Comment, Priority, Requester, Status, Tag, Tags, Ticket, TicketFields, TicketType};
use hookdesk_core::user::Email;
use sqlx::{AssertSqlSafe, Row};

use crate::db::{Conn, Tx, placeholders};
use crate::{Page, Store, StoreError, TicketFilter, rows};
use hookdesk_core::invocation::NewInvocation;

const TICKET_SELECT: &str = "SELECT t.id, t.subject, t.description, t.status, t.priority, t.type, t.tags,
        t.assignee_id, t.group_name, t.custom_fields, t.created_at, t.updated_at,
        COALESCE(t.status_changed_at, t.updated_at) AS status_changed_at,
        u.id AS requester_id, u.name AS requester_name, u.email AS requester_email
     FROM tickets t JOIN users u ON u.id = t.requester_id";

/// A row of [`TICKET_SELECT`], as stored.
struct TicketRow {
    id: i64,
    subject: String,
    description: String,
    status: String,
    priority: String,
    ticket_type: Option<String>,
    tags: String,
    assignee_id: Option<i64>,
    group_name: Option<String>,
    custom_fields: String,
    requester_id: i64,
    requester_name: String,
    requester_email: String,
    created_at: i64,
    updated_at: i64,
    status_changed_at: i64,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for TicketRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            subject: row.try_get("subject")?,
            description: row.try_get("description")?,
            status: row.try_get("status")?,
            priority: row.try_get("priority")?,
            ticket_type: row.try_get("type")?,
            tags: row.try_get("tags")?,
            assignee_id: row.try_get("assignee_id")?,
            group_name: row.try_get("group_name")?,
            custom_fields: row.try_get("custom_fields")?,
            requester_id: row.try_get("requester_id")?,
            requester_name: row.try_get("requester_name")?,
            requester_email: row.try_get("requester_email")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            status_changed_at: row.try_get("status_changed_at")?,
        })
    }
}

impl TryFrom<TicketRow> for Ticket {
    type Error = StoreError;

    fn try_from(row: TicketRow) -> Result<Self, StoreError> {
        let tags: Vec<String> = rows::json("tickets.tags", &row.tags)?;
        let tags = tags.iter().map(|t| Tag::parse(t)).collect::<Result<Vec<_>, _>>();
        Ok(Ticket {
            id: TicketId(row.id),
            fields: TicketFields {
                subject: row.subject,
                description: row.description,
                status: rows::name("tickets.status", &row.status, Status::parse)?,
                priority: rows::name("tickets.priority", &row.priority, Priority::parse)?,
                ticket_type: row
                    .ticket_type
                    .as_deref()
                    .map(|t| rows::name("tickets.type", t, TicketType::parse))
                    .transpose()?,
                tags: Tags::new(tags.map_err(|e| StoreError::corrupt("tickets.tags", e))?),
                assignee_id: row.assignee_id.map(UserId),
                group: row.group_name,
                custom_fields: rows::json("tickets.custom_fields", &row.custom_fields)?,
            },
            requester: Requester { id: UserId(row.requester_id), name: row.requester_name, email: row.requester_email },
            comments: Vec::new(),
            created_at: Timestamp::from_millis(row.created_at),
            updated_at: Timestamp::from_millis(row.updated_at),
            status_changed_at: Timestamp::from_millis(row.status_changed_at),
        })
    }
}

/// A comment as stored, with the ticket it belongs to.
struct CommentRow {
    ticket_id: i64,
    id: i64,
    author_id: Option<i64>,
    body: String,
    public: i64,
    created_at: i64,
}

impl<'r> sqlx::FromRow<'r, crate::db::Row> for CommentRow {
    fn from_row(row: &'r crate::db::Row) -> Result<Self, sqlx::Error> {
        Ok(Self {
            ticket_id: row.try_get("ticket_id")?,
            id: row.try_get("id")?,
            author_id: row.try_get("author_id")?,
            body: row.try_get("body")?,
            public: row.try_get("public")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl From<CommentRow> for Comment {
    fn from(row: CommentRow) -> Self {
        Comment {
            id: CommentId(row.id),
            author_id: row.author_id.map(UserId),
            body: row.body,
            public: row.public != 0,
            created_at: Timestamp::from_millis(row.created_at),
        }
    }
}

/// Reads tickets from rows of [`TICKET_SELECT`] (without their comments).
fn tickets_from(rows: Vec<TicketRow>) -> Result<Vec<Ticket>, StoreError> {
    rows.into_iter().map(Ticket::try_from).collect()
}

/// Fills in the comments of `tickets` with one query.
async fn attach_comments(conn: &mut Conn, tickets: &mut [Ticket]) -> Result<(), StoreError> {
    if tickets.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT id, ticket_id, author_id, body, public, created_at FROM comments
         WHERE ticket_id IN ({}) ORDER BY id",
        placeholders(1, tickets.len())
    );
    let mut query = sqlx::query_as::<_, CommentRow>(AssertSqlSafe(sql));
    for ticket in tickets.iter() {
        query = query.bind(ticket.id.0);
    }
    let mut by_ticket: HashMap<TicketId, Vec<Comment>> = HashMap::new();
    for row in query.fetch_all(&mut *conn).await? {
        by_ticket.entry(TicketId(row.ticket_id)).or_default().push(row.into());
    }
    for ticket in tickets {
        ticket.comments = by_ticket.remove(&ticket.id).unwrap_or_default();
    }
    Ok(())
}

/// `lock` (PostgreSQL) holds the ticket's row until the transaction ends, so concurrent
/// updates of one ticket run one after the other instead of the later overwriting the
/// earlier (without it, 16 concurrent tag additions kept 3). SQLite's single writer already
/// serialises them.
async fn load_ticket(conn: &mut Conn, id: TicketId, lock: bool) -> Result<Ticket, StoreError> {
    let lock = if lock { " FOR UPDATE OF t" } else { "" };
    let row = sqlx::query_as::<_, TicketRow>(AssertSqlSafe(format!("{TICKET_SELECT} WHERE t.id = $1{lock}")))
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut ticket = [Ticket::try_from(row)?];
    attach_comments(conn, &mut ticket).await?;
    let [ticket] = ticket;
    Ok(ticket)
}

fn tags_json(tags: &Tags) -> String {
    serde_json::to_string(&tags.iter().map(Tag::as_str).collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

async fn write_tags(conn: &mut Conn, ticket_id: TicketId, old: Option<&Tags>, new: &Tags) -> Result<(), StoreError> {
    let empty = Tags::default();
    let old = old.unwrap_or(&empty);
    for tag in old.iter().filter(|t| !new.contains(t)) {
        sqlx::query("DELETE FROM ticket_tags WHERE ticket_id = $1 AND tag = $2")
            .bind(ticket_id.0)
            .bind(tag.as_str())
            .execute(&mut *conn)
            .await?;
    }
    for tag in new.iter().filter(|t| !old.contains(t)) {
        sqlx::query("INSERT INTO ticket_tags (ticket_id, tag) VALUES ($1, $2)")
            .bind(ticket_id.0)
            .bind(tag.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Binds a ticket's columns as `$1..$11`, in the order both the INSERT and the UPDATE use.
fn bind_ticket<'q>(
    query: crate::db::Query<'q>,
    fields: &'q TicketFields,
    requester_id: UserId,
    now: Timestamp,
) -> crate::db::Query<'q> {
    query
        .bind(&fields.subject)
        .bind(&fields.description)
        .bind(fields.status.as_str())
        .bind(fields.priority.as_str())
        .bind(fields.ticket_type.map(TicketType::as_str))
        .bind(tags_json(&fields.tags))
        .bind(requester_id.0)
        .bind(fields.assignee_id.map(|a| a.0))
        .bind(&fields.group)
        .bind(serde_json::Value::Object(fields.custom_fields.clone()).to_string())
        .bind(now.as_millis())
}

impl Store {
    pub async fn ticket(&self, id: TicketId) -> Result<Ticket, StoreError> {
        let mut tx = self.begin_read().await?;
        let ticket = load_ticket(&mut tx, id, false).await?;
        tx.commit().await?;
        Ok(ticket)
    }

    /// The latest `limit` tickets' ids and subjects, newest first: what an editor offers to
    /// try a rule on.
    pub async fn recent_ticket_subjects(&self, limit: u32) -> Result<Vec<(TicketId, String)>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, subject FROM tickets ORDER BY id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(id, subject)| (TicketId(id), subject)).collect())
    }

    /// The custom field keys the latest `tickets` tickets use, sorted: what an editor offers
    /// as placeholders and fields.
    pub async fn recent_custom_field_keys(&self, tickets: u32) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT custom_fields FROM tickets ORDER BY id DESC LIMIT $1")
            .bind(i64::from(tickets))
            .fetch_all(&self.pool)
            .await?;
        let mut keys = std::collections::BTreeSet::new();
        for (json,) in rows {
            let fields: serde_json::Map<String, serde_json::Value> = rows::json("tickets.custom_fields", &json)?;
            keys.extend(fields.into_iter().map(|(key, _)| key));
        }
        Ok(keys.into_iter().collect())
    }

    pub async fn list_tickets(&self, filter: &TicketFilter) -> Result<Page<Ticket>, StoreError> {
        // Optional filters as `CAST($n AS TEXT) IS NULL OR ...`: one statement for every
        // combination, and PostgreSQL can infer the parameter types.
        let sql = format!(
            "{TICKET_SELECT} WHERE t.id > $1
               AND (CAST($2 AS TEXT) IS NULL OR t.status = $2)
               AND (CAST($3 AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM ticket_tags g WHERE g.ticket_id = t.id AND g.tag = $3))
               AND (CAST($5 AS TEXT) IS NULL OR LOWER(t.subject) LIKE $5 ESCAPE '\\'
                    OR LOWER(u.name) LIKE $5 ESCAPE '\\' OR LOWER(u.email) LIKE $5 ESCAPE '\\')
             ORDER BY t.id LIMIT $4"
        );
        let pattern = filter.text.as_deref().map(crate::db::contains_pattern);
        let mut conn = self.begin_read().await?;
        let rows = sqlx::query_as(AssertSqlSafe(sql))
            .bind(filter.after_id.map_or(0, |a| a.0))
            .bind(filter.status.map(Status::as_str))
            .bind(filter.tag.as_ref().map(Tag::as_str))
            .bind(i64::from(filter.limit) + 1)
            .bind(pattern)
            .fetch_all(&mut *conn)
            .await?;
        let tickets = tickets_from(rows)?;
        let mut page = Page::of(tickets, filter.limit, |t| t.id.to_string());
        attach_comments(&mut conn, &mut page.data).await?;
        conn.commit().await?;
        Ok(page)
    }

    /// Tickets that are not closed, after `after_id` in id order: the automations' batches.
    pub async fn open_tickets_after(&self, after_id: TicketId, limit: u32) -> Result<Vec<Ticket>, StoreError> {
        let sql = format!("{TICKET_SELECT} WHERE t.id > $1 AND t.status <> 'closed' ORDER BY t.id LIMIT $2");
        let mut conn = self.begin_read().await?;
        let rows =
            sqlx::query_as(AssertSqlSafe(sql)).bind(after_id.0).bind(i64::from(limit)).fetch_all(&mut *conn).await?;
        let mut tickets = tickets_from(rows)?;
        attach_comments(&mut conn, &mut tickets).await?;
        conn.commit().await?;
        Ok(tickets)
    }

    pub async fn delete_ticket(&self, id: TicketId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM tickets WHERE id = $1").bind(id.0).execute(&self.writer).await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Starts the transaction of one update: everything it reads and writes, including the
    /// invocations it queues, commits or rolls back together.
    pub async fn begin_update(&self) -> Result<UpdateTx, StoreError> {
        Ok(UpdateTx {
            tx: self.begin_write().await?,
            store: self.clone(),
            failed: Vec::new(),
            tally: Tally::default(),
            queued: false,
        })
    }
}

/// One update's transaction. Dropping it without [`UpdateTx::commit`] rolls back.
pub struct UpdateTx {
    tx: Tx,
    store: Store,
    /// Invocations queued already failed (their request could not be made), answered by
    /// [`UpdateTx::commit`] for the caller to report.
    failed: Vec<FailedBeforeSending>,
    tally: Tally,
    /// Whether it queued an invocation to send, to announce once committed.
    queued: bool,
}

/// What a committed transaction did, as `/metrics` counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Ticket updates (one transaction may hold several: an inbound call's actions).
    pub updates: u64,
    /// Rules that fired on them.
    pub rules_fired: u64,
}

/// What [`UpdateTx::commit`] answers.
#[derive(Debug, Default)]
pub struct Committed {
    /// Invocations queued already failed (their request could not be made).
    pub failed: Vec<FailedBeforeSending>,
    pub tally: Tally,
}

/// An invocation stored failed: its request could not be made (`invalid_json`...).
#[derive(Debug, Clone)]
pub struct FailedBeforeSending {
    pub invocation_id: InvocationId,
    pub webhook_id: WebhookId,
    pub ticket_id: Option<TicketId>,
    pub code: &'static str,
}

impl UpdateTx {
    pub async fn find_or_create_requester(
        &mut self,
        name: &str,
        email: &Email,
        now: Timestamp,
    ) -> Result<(Requester, bool), StoreError> {
        crate::users::find_or_create_requester(&mut self.tx, name, email, now).await
    }

    pub async fn ticket(&mut self, id: TicketId) -> Result<Ticket, StoreError> {
        load_ticket(&mut self.tx, id, self.store.backend == crate::Backend::Postgres).await
    }

    pub async fn insert_ticket(
        &mut self,
        fields: &TicketFields,
        requester: &Requester,
        now: Timestamp,
    ) -> Result<TicketId, StoreError> {
        let insert = sqlx::query(
            "INSERT INTO tickets (subject, description, status, priority, type, tags, requester_id,
                 assignee_id, group_name, custom_fields, updated_at, created_at, status_changed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $11) RETURNING id",
        );
        let row = bind_ticket(insert, fields, requester.id, now).fetch_one(&mut *self.tx).await?;
        let id = TicketId(row.try_get("id")?);
        write_tags(&mut self.tx, id, None, &fields.tags).await?;
        Ok(id)
    }

    /// Writes `fields` over the ticket; `old_tags` are the tags it had.
    pub async fn save_ticket(
        &mut self,
        id: TicketId,
        requester_id: UserId,
        fields: &TicketFields,
        old_tags: &Tags,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let update = sqlx::query(
            "UPDATE tickets SET subject = $1, description = $2, status = $3, priority = $4, type = $5,
                 tags = $6, requester_id = $7, assignee_id = $8, group_name = $9, custom_fields = $10,
                 updated_at = $11,
                 status_changed_at = CASE WHEN status = $3 THEN status_changed_at ELSE $11 END
             WHERE id = $12",
        );
        bind_ticket(update, fields, requester_id, now).bind(id.0).execute(&mut *self.tx).await?;
        write_tags(&mut self.tx, id, Some(old_tags), &fields.tags).await
    }

    /// Reserves the ids of the next `n` comments, in order: an update decides its comments
    /// (which its templates see, ids included) before it writes them.
    pub async fn reserve_comment_ids(&mut self, n: usize) -> Result<Vec<CommentId>, StoreError> {
        let ids = crate::db::reserve_ids(&mut self.tx, self.store.backend, "comments", n).await?;
        Ok(ids.into_iter().map(CommentId).collect())
    }

    /// Writes comments with the ids reserved for them.
    pub async fn insert_comments(&mut self, ticket_id: TicketId, comments: &[Comment]) -> Result<(), StoreError> {
        for comment in comments {
            sqlx::query(
                "INSERT INTO comments (id, ticket_id, author_id, body, public, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(comment.id.0)
            .bind(ticket_id.0)
            .bind(comment.author_id.map(|a| a.0))
            .bind(&comment.body)
            .bind(i64::from(comment.public))
            .bind(comment.created_at.as_millis())
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    pub(crate) fn backend(&self) -> crate::Backend {
        self.store.backend
    }

    pub(crate) fn conn(&mut self) -> &mut Conn {
        &mut self.tx
    }

    pub async fn delete_ticket(&mut self, id: TicketId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM tickets WHERE id = $1").bind(id.0).execute(&mut *self.tx).await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    pub async fn enqueue(&mut self, invocations: &[NewInvocation]) -> Result<(), StoreError> {
        crate::queue::insert(&mut self.tx, invocations).await?;
        self.queued |= invocations.iter().any(|i| i.request.is_ok());
        self.failed.extend(invocations.iter().filter_map(|i| {
            Some(FailedBeforeSending {
                invocation_id: i.id.clone(),
                webhook_id: i.webhook_id.clone(),
                ticket_id: i.ticket_id,
                code: i.request.as_ref().err()?.code,
            })
        }));
        Ok(())
    }

    /// Counts an update written in this transaction, and the rules that fired on it.
    pub fn count_update(&mut self, rules_fired: usize) {
        self.tally.updates += 1;
        self.tally.rules_fired += rules_fired as u64;
    }

    /// Commits; answers the invocations it queued already failed, and what it counted.
    pub async fn commit(self) -> Result<Committed, StoreError> {
        self.tx.commit().await?;
        if self.queued {
            self.store.announce_queued();
        }
        Ok(Committed { failed: self.failed, tally: self.tally })
    }

    /// Undoes everything: previews and dry runs run the real update, then roll it back.
    pub async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.tx.rollback().await?)
    }
}
