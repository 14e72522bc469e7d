//! A consistent copy of a live SQLite database: `VACUUM INTO` reads it in one transaction
//! (a snapshot, while the server goes on writing) and writes a compact new file.

use std::path::Path;
use std::str::FromStr;

use sqlx::{ConnectOptions, Connection};

use crate::StoreError;
use crate::db::{Backend, sqlite_path};

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackedUp {
    pub bytes: u64,
    /// The schema version of the copy (its latest migration).
    pub schema_version: i64,
}

/// Copies the SQLite database at `url` into `target`, which must not exist or be empty (the
/// caller creates it, with the permissions it wants). Opens the database without migrating
/// it: the running server owns its schema. PostgreSQL is backed up with its own tools.
pub async fn backup_sqlite(url: &str, target: &Path) -> Result<BackedUp, StoreError> {
    if Backend::of_url(url) == Backend::Postgres {
        return Err(StoreError::Unsupported(
            "`hookdesk backup` copies SQLite databases; back up PostgreSQL with pg_dump (see the README's Operating section)"
                .into(),
        ));
    }
    let source = sqlite_path(url);
    if !Path::new(source).is_file() {
        return Err(StoreError::Unsupported(format!("there is no database at {source}")));
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{source}"))?
        .busy_timeout(std::time::Duration::from_secs(10))
        .disable_statement_logging();
    let mut conn = options.connect().await?;
    let target_text =
        target.to_str().ok_or_else(|| StoreError::Unsupported("the backup's path is not UTF-8".into()))?;
    sqlx::query("VACUUM INTO $1").bind(target_text).execute(&mut conn).await?;
    conn.close().await?;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{target_text}"))?
        .read_only(true)
        .disable_statement_logging();
    let mut copy = options.connect().await?;
    let schema_version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success").fetch_one(&mut copy).await?;
    copy.close().await?;
    let bytes = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    Ok(BackedUp { bytes, schema_version: schema_version.unwrap_or(0) })
}
