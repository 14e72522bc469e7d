//! A consistent copy of a live SQLite database: `VACUUM INTO` reads it in one transaction
//! (a snapshot, while the server goes on writing) and writes a compact new file.

use std::path::Path;

use sqlx::{ConnectOptions, Connection};

use crate::StoreError;
use crate::db::SCHEMA_VERSION;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackedUp {
    pub bytes: u64,
    /// The schema version of the copy (its latest migration).
    pub schema_version: i64,
}

/// Copies the SQLite database `source` into `target`, an empty file the caller made (with
/// the permissions it wants), then drops the copy's singleton leases (they belong to the
/// running node: a server restored from the copy takes its jobs at once) and checks it
/// (`PRAGMA quick_check`). Opens `source`
/// without migrating it: the running server owns its schema. It opens it for writing, as a
/// WAL database's readers need its shared-memory file, but writes nothing to it.
pub async fn backup_sqlite(source: &Path, target: &Path) -> Result<BackedUp, StoreError> {
    let target_text =
        target.to_str().ok_or_else(|| StoreError::Unsupported(format!("{} is not UTF-8", target.display())))?;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(source)
        .busy_timeout(std::time::Duration::from_secs(10))
        .disable_statement_logging()
        .connect()
        .await?;
    sqlx::query("VACUUM INTO $1").bind(target_text).execute(&mut conn).await?;
    conn.close().await?;
    let mut copy =
        sqlx::sqlite::SqliteConnectOptions::new().filename(target).disable_statement_logging().connect().await?;
    sqlx::query("DELETE FROM leases").execute(&mut copy).await?;
    let check: Vec<String> = sqlx::query_scalar("PRAGMA quick_check").fetch_all(&mut copy).await?;
    if check != ["ok"] {
        return Err(StoreError::Corrupt(format!("the copy fails its check: {}", check.join("; "))));
    }
    let schema_version: Option<i64> = sqlx::query_scalar(SCHEMA_VERSION).fetch_one(&mut copy).await?;
    copy.close().await?;
    let bytes = std::fs::metadata(target)
        .map_err(|e| StoreError::Unsupported(format!("cannot read {}: {e}", target.display())))?
        .len();
    Ok(BackedUp { bytes, schema_version: schema_version.unwrap_or(0) })
}
