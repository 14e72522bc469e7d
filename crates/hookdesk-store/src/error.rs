//! Storage errors. Domain-level outcomes (not found, conflicts) are values the server maps to
//! 4xx; `Database` is the rest, a 503 when the database is unreachable and a 500 otherwise.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    // The cause is in the message, not also a `source`: error chains print each once.
    #[error("the database is unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// Opening the database failed, said in words (host and port, what refused).
    #[error("{0}")]
    Connect(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// A request the store cannot carry out, said in words (a path it cannot use).
    #[error("{0}")]
    Unsupported(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error),
            sqlx::Error::Database(db) if is_busy(db.message()) || is_connection_state(db.code().as_deref()) => {
                StoreError::Unavailable(error)
            }
            _ => StoreError::Database(error),
        }
    }
}

/// PostgreSQL's SQLSTATE classes for a lost or refused connection (08), a server shutting
/// down (57: "terminating connection due to administrator command") and exhausted resources
/// (53): the database is away, not the request wrong.
fn is_connection_state(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("08") || c.starts_with("57") || c.starts_with("53"))
}

fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

impl StoreError {
    pub(crate) fn corrupt(what: &str, error: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(format!("{what}: {error}"))
    }
}
