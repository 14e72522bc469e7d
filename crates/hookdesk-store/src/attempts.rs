//! Attempts recorded: many outcomes in one transaction (a group commit), each moving its
//! invocation on (succeeded, failed, or due again) and its webhook's health with it.

use hookdesk_core::invocation::{AttemptRecord, InvocationStatus, Next};
use hookdesk_core::text::storable;
use sqlx::AssertSqlSafe;

use crate::db::{Conn, placeholders};
use crate::{Store, StoreError};

/// Records per statement: two statements per chunk instead of two per attempt (every
/// statement is a round trip to the database, or to SQLite's worker thread).
pub(crate) const RECORD_CHUNK: usize = 100;

/// Splits records into chunks of distinct invocations, so that one statement never holds two
/// outcomes for the same invocation (a stale lease's and its successor's).
fn record_chunks(records: &[AttemptRecord]) -> Vec<Vec<&AttemptRecord>> {
    let mut chunks: Vec<Vec<&AttemptRecord>> = Vec::new();
    for record in records {
        let open = chunks
            .iter_mut()
            .find(|c| c.len() < RECORD_CHUNK && c.iter().all(|r| r.invocation_id != record.invocation_id));
        match open {
            Some(chunk) => chunk.push(record),
            None => chunks.push(vec![record]),
        }
    }
    chunks
}

/// One multi-row INSERT of the attempts; a record already written (a retried batch) is skipped.
async fn insert_attempts(conn: &mut Conn, records: &[&AttemptRecord]) -> Result<(), StoreError> {
    const COLUMNS: usize = 8;
    let rows = (0..records.len())
        .map(|i| format!("({})", placeholders(i * COLUMNS + 1, COLUMNS)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO attempts (invocation_id, number, started_at, duration_ms, request, response, error_code, error_message)
         VALUES {rows} ON CONFLICT (invocation_id, number) DO NOTHING"
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for record in records {
        let request = serde_json::to_string(&record.request).map_err(|e| StoreError::corrupt("request", e))?;
        let response = record
            .response
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::corrupt("response", e))?;
        query = query
            .bind(record.invocation_id.as_str())
            .bind(i64::from(record.number))
            .bind(record.started_at.as_millis())
            .bind(record.duration_ms)
            .bind(request)
            .bind(response)
            .bind(record.error.as_ref().map(|e| e.code.as_str()))
            .bind(record.error.as_ref().map(|e| storable(&e.message).into_owned()));
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// One UPDATE moving every invocation of `records` on, each to its own outcome (a `CASE id`
/// per column); an invocation whose attempt count moved past its record is left alone.
async fn settle_invocations(conn: &mut Conn, records: &[&AttemptRecord]) -> Result<(), StoreError> {
    const PARAMS: usize = 7;
    let case = |offset: usize| {
        let arms: String =
            (0..records.len()).map(|i| format!(" WHEN ${} THEN ${}", i * PARAMS + 1, i * PARAMS + offset)).collect();
        format!("CASE id{arms} END")
    };
    let ids = (0..records.len()).map(|i| format!("${}", i * PARAMS + 1)).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "UPDATE invocations SET status = {}, next_attempt_at = {}, completed_at = {}, error_code = {}, error_message = {}
         WHERE id IN ({ids}) AND status IN ('pending', 'retrying') AND attempts = {}",
        case(3),
        case(4),
        case(5),
        case(6),
        case(7),
        case(2),
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for record in records {
        let finished_at = record.started_at.plus_millis(record.duration_ms).as_millis();
        let (status, next, completed) = match record.next {
            Next::Succeeded => (InvocationStatus::Succeeded, None, Some(finished_at)),
            Next::Failed => (InvocationStatus::Failed, None, Some(finished_at)),
            Next::RetryAt(at) => (InvocationStatus::Retrying, Some(at.as_millis()), None),
        };
        query = query
            .bind(record.invocation_id.as_str())
            .bind(i64::from(record.number))
            .bind(status.as_str())
            .bind(next)
            .bind(completed)
            .bind(record.error.as_ref().map(|e| e.code.as_str()))
            .bind(record.error.as_ref().map(|e| storable(&e.message).into_owned()));
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

impl Store {
    /// Records attempts and moves their invocations on, all in one transaction. An outcome
    /// whose lease was taken over by another claim (its attempt number is stale) is kept in
    /// the log but does not change the invocation.
    pub async fn record_attempts(&self, records: &[AttemptRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in record_chunks(records) {
            insert_attempts(&mut tx, &chunk).await?;
            settle_invocations(&mut tx, &chunk).await?;
        }
        // Each webhook's last success and failure are true as soon as its attempts are, on
        // every node: they are written with them.
        crate::health::note_attempts(&mut tx, self.backend, &crate::health::seen_in(records)).await?;
        tx.commit().await?;
        Ok(())
    }
}
