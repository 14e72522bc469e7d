//! The backends: embedded SQLite (WAL) and PostgreSQL, both through sqlx's `Any` driver so
//! every other module runs the same SQL on [`Conn`]. The few statements that differ between
//! the two are here, chosen by [`Backend`].

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, ConnectOptions, Executor, SqlSafeStr};

use crate::{Cipher, SecretKey, StoreError};

pub(crate) type Db = sqlx::Any;
pub(crate) type Conn = sqlx::AnyConnection;
pub(crate) type Tx = sqlx::Transaction<'static, Db>;
pub(crate) type Row = sqlx::any::AnyRow;
pub(crate) type Query<'q> = sqlx::query::Query<'q, Db, sqlx::any::AnyArguments>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The file a SQLite URL names: `sqlite://PATH`, `sqlite:PATH` or a plain path.
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url)
}

/// Connections of the delivery workers' own pool on PostgreSQL: a claim, the recorder's
/// batch, a webhook read and a health write can each have one at once.
const DELIVERY_CONNECTIONS: u32 = 4;

/// The PostgreSQL channel on which a process announces queued invocations to the others.
pub const QUEUE_CHANNEL: &str = "hookdesk_queue";

/// Active triggers, parsed, with the rules_version they were read at.
pub(crate) type RulesCache = std::sync::Arc<std::sync::Mutex<Option<(i64, crate::RulesSnapshot)>>>;

/// The storage of one hookdesk: cheap to clone, shared by the API and the workers.
#[derive(Clone)]
pub struct Store {
    /// Reads (and, on PostgreSQL, writes too).
    pub(crate) pool: sqlx::Pool<Db>,
    /// Writes. On SQLite one connection: SQLite has one writer anyway, and queueing here, in
    /// order, beats its busy handler, which sleeps in growing steps while writers contend.
    pub(crate) writer: sqlx::Pool<Db>,
    /// On PostgreSQL, the delivery workers' own connections (see [`Store::for_delivery`]).
    pub(crate) delivery: Option<sqlx::Pool<Db>>,
    pub(crate) rules: RulesCache,
    pub(crate) cipher: Cipher,
    pub(crate) backend: Backend,
    pub(crate) url: String,
    /// On PostgreSQL, announces committed work to every node (see [`Store::announce_queued`]).
    pub(crate) announcer: Option<crate::listen::Announcer>,
}

/// The schema version a database is at: its latest migration applied.
pub(crate) const SCHEMA_VERSION: &str = "SELECT MAX(version) FROM _sqlx_migrations WHERE success";

/// Migrations per backend, embedded in the binary: (version, description, SQL).
fn migrations(backend: Backend) -> [(i64, &'static str, &'static str); 14] {
    match backend {
        Backend::Sqlite => [
            (1, "initial", include_str!("../migrations/sqlite/0001_initial.sql")),
            (2, "leases", include_str!("../migrations/sqlite/0002_leases.sql")),
            (3, "due index", include_str!("../migrations/sqlite/0003_due_index.sql")),
            (4, "rules version", include_str!("../migrations/sqlite/0004_rules_version.sql")),
            (5, "delivery gates", include_str!("../migrations/sqlite/0005_delivery_gates.sql")),
            (6, "rules", include_str!("../migrations/sqlite/0006_rules.sql")),
            (7, "inbound webhooks", include_str!("../migrations/sqlite/0007_inbound.sql")),
            (8, "ui sessions", include_str!("../migrations/sqlite/0008_ui_sessions.sql")),
            (9, "completed status index", include_str!("../migrations/sqlite/0009_completed_status.sql")),
            (10, "inbound log budget", include_str!("../migrations/sqlite/0010_inbound_budget.sql")),
            (11, "passwords", include_str!("../migrations/sqlite/0011_passwords.sql")),
            (12, "overview", include_str!("../migrations/sqlite/0012_overview.sql")),
            (13, "template mode", include_str!("../migrations/sqlite/0013_template_mode.sql")),
            (14, "rule firings shards", include_str!("../migrations/sqlite/0014_firings_shards.sql")),
        ],
        Backend::Postgres => [
            (1, "initial", include_str!("../migrations/postgres/0001_initial.sql")),
            (2, "leases", include_str!("../migrations/postgres/0002_leases.sql")),
            (3, "due index", include_str!("../migrations/postgres/0003_due_index.sql")),
            (4, "rules version", include_str!("../migrations/postgres/0004_rules_version.sql")),
            (5, "delivery gates", include_str!("../migrations/postgres/0005_delivery_gates.sql")),
            (6, "rules", include_str!("../migrations/postgres/0006_rules.sql")),
            (7, "inbound webhooks", include_str!("../migrations/postgres/0007_inbound.sql")),
            (8, "ui sessions", include_str!("../migrations/postgres/0008_ui_sessions.sql")),
            (9, "completed status index", include_str!("../migrations/postgres/0009_completed_status.sql")),
            (10, "inbound log budget", include_str!("../migrations/postgres/0010_inbound_budget.sql")),
            (11, "passwords", include_str!("../migrations/postgres/0011_passwords.sql")),
            (12, "overview", include_str!("../migrations/postgres/0012_overview.sql")),
            (13, "template mode", include_str!("../migrations/postgres/0013_template_mode.sql")),
            (14, "rule firings shards", include_str!("../migrations/postgres/0014_firings_shards.sql")),
        ],
    }
}

fn migrator(backend: Backend) -> Migrator {
    Migrator::with_migrations(
        migrations(backend)
            .into_iter()
            .map(|(version, description, sql)| {
                Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect(),
    )
}

impl Store {
    /// Opens (creating if needed) the database at `url` (`sqlite://PATH`, a plain path, or
    /// `postgres://...`) and brings its schema up to date.
    pub async fn open(url: &str, key: &SecretKey) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url);
        let (url, pool, writer, delivery) = match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}?mode=rwc", sqlite_path(url));
                let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
                let pool = sqlite_pool(8).connect_with(options.clone()).await?;
                let writer = sqlite_pool(1).connect_with(options).await?;
                (url, pool, writer, None)
            }
            Backend::Postgres => {
                let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
                // One connection first: its error says what is wrong (nothing listens, no such
                // role), where a pool only says that it timed out.
                let probe = tokio::time::timeout(
                    Duration::from_secs(5),
                    <sqlx::AnyConnection as sqlx::Connection>::connect_with(&options),
                );
                match probe.await {
                    Ok(Ok(connection)) => {
                        let _ = sqlx::Connection::close(connection).await;
                    }
                    Ok(Err(e)) => return Err(StoreError::Connect(connect_error(url, &e))),
                    Err(_) => {
                        return Err(StoreError::Connect(format!(
                            "cannot connect to PostgreSQL at {}: no answer within 5 s",
                            host_port(url)
                        )));
                    }
                }
                let pool = postgres_pool(16).connect_with(options.clone()).await?;
                let delivery = postgres_pool(DELIVERY_CONNECTIONS).connect_with(options).await?;
                (url.to_owned(), pool.clone(), pool, Some(delivery))
            }
        };
        migrator(backend).run(&writer).await?;
        let announcer = (backend == Backend::Postgres).then(|| crate::listen::Announcer::spawn(&pool));
        Ok(Self {
            pool,
            writer,
            delivery,
            rules: Default::default(),
            cipher: Cipher::new(key),
            backend,
            url,
            announcer,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A cheap query, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The schema version the database is at (its latest migration applied) and the one this
    /// binary brings: equal once `open` has migrated, unless another node moved it since.
    pub async fn schema_versions(&self) -> Result<(i64, i64), StoreError> {
        let applied: Option<i64> = sqlx::query_scalar(SCHEMA_VERSION).fetch_one(&self.pool).await?;
        let embedded = migrations(self.backend).iter().map(|(version, _, _)| *version).max().unwrap_or(0);
        Ok((applied.unwrap_or(0), embedded))
    }

    /// The bytes the database's data takes: SQLite's pages in use (free pages left out,
    /// the write-ahead log's included), or PostgreSQL's `pg_database_size`.
    pub async fn database_bytes(&self) -> Result<i64, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()"
            }
            Backend::Postgres => "SELECT pg_database_size(current_database())",
        };
        Ok(sqlx::query_scalar(sql).fetch_one(&self.pool).await?)
    }

    /// Deletes up to `limit` rows of `table` whose time `column` is before `before`, oldest
    /// first (an index on `column` finds them: the invocations' and the calls' have one);
    /// answers how many. One short statement: the
    /// retention purge calls it until it answers 0, and between two calls the writer serves
    /// whoever waits for it.
    pub(crate) async fn delete_oldest(
        &self,
        table: &'static str,
        column: &'static str,
        before: hookdesk_core::Timestamp,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {column} < $1 ORDER BY {column} LIMIT $2)"
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(before.as_millis())
            .bind(i64::from(limit))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    /// Starts a write transaction. SQLite takes the write lock at once (`IMMEDIATE`), so two
    /// writers queue on the busy timeout instead of failing when a read upgrades to a write.
    pub(crate) async fn begin_write(&self) -> Result<Tx, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        })
    }

    /// A read-only transaction, so that a read of several statements (an invocation and its
    /// attempts, a ticket and its comments) sees one snapshot, not a commit landing between them.
    pub(crate) async fn begin_read(&self) -> Result<Tx, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?,
        })
    }

    /// This store as the delivery workers use it: on PostgreSQL on connections of their own,
    /// so that a claim, an outcome or a webhook read never waits for a connection behind API
    /// requests (with 32 API clients on the shared 16, claims waited ~100 ms for one at half
    /// load); on SQLite as it is, since its one writer serves everyone anyway.
    pub fn for_delivery(&self) -> Store {
        match &self.delivery {
            Some(delivery) => Store { pool: delivery.clone(), writer: delivery.clone(), ..self.clone() },
            None => self.clone(),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
        if let Some(delivery) = &self.delivery {
            delivery.close().await;
        }
    }
}

/// `HOST:PORT` of a PostgreSQL URL, for messages (never its password).
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:5432")
    }
}

/// Why a first connection to PostgreSQL failed, in words.
fn connect_error(url: &str, error: &sqlx::Error) -> String {
    let at = host_port(url);
    match error {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("cannot connect to PostgreSQL at {at}: connection refused (is it running, and listening there?)")
        }
        sqlx::Error::Io(io) => format!("cannot connect to PostgreSQL at {at}: {io}"),
        sqlx::Error::Database(db) => format!("PostgreSQL at {at} refused the connection: {}", db.message()),
        sqlx::Error::Tls(tls) => format!("cannot connect to PostgreSQL at {at}: TLS failed: {tls}"),
        other => format!("cannot connect to PostgreSQL at {at}: {other}"),
    }
}

/// A PostgreSQL pool of `size` connections. No ping before each acquire: it is a round trip
/// on every acquire (under sqlx 0.9.0, without `TCP_NODELAY`, one that stalled ~90 ms at
/// times: p99 of update->receipt 122 -> 11 ms at half load without it), and a connection the
/// server dropped fails its next query, which sqlx then discards (a request answers 503 and is
/// retried; the workers back off and claim again).
fn postgres_pool(size: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(size)
        .min_connections(1)
        // Short, so that requests fail with 503 quickly while the database is away, rather
        // than pile up.
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(300))
        .test_before_acquire(false)
}

/// A SQLite pool of `size` connections, each set up for WAL and a shared writer.
fn sqlite_pool(size: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(size)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _| {
            Box::pin(async move {
                // WAL: readers never block the writer. NORMAL loses no committed transaction
                // when the process crashes (only an OS crash can lose the last few);
                // busy_timeout covers writers of other processes (`hookdesk migrate`).
                // One statement each: a multi-statement string may stop after its first
                // through the Any driver.
                for pragma in [
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = NORMAL",
                    "PRAGMA foreign_keys = ON",
                    "PRAGMA busy_timeout = 10000",
                    "PRAGMA cache_size = -16384",
                ] {
                    conn.execute(pragma).await?;
                }
                Ok(())
            })
        })
}

/// `$1, $2, ...` for an `IN (...)` list, starting after `first - 1` earlier parameters.
/// Reserves the next `n` ids of `table` (an autoincrement `id`), in order, for rows written
/// later with explicit ids: the ids `n` inserts would have had. On SQLite the transaction
/// holds the writer; on PostgreSQL the sequence hands them out.
pub(crate) async fn reserve_ids(
    conn: &mut Conn,
    backend: Backend,
    table: &'static str,
    n: usize,
) -> Result<Vec<i64>, StoreError> {
    if n == 0 {
        return Ok(vec![]);
    }
    let count = i64::try_from(n).unwrap_or(i64::MAX);
    match backend {
        Backend::Sqlite => {
            // The next AUTOINCREMENT id follows the larger of `sqlite_sequence` and the
            // largest id; moving the sequence past both reserves the ids between.
            sqlx::query(
                "INSERT INTO sqlite_sequence (name, seq) SELECT $1, 0
                 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = $1)",
            )
            .bind(table)
            .execute(&mut *conn)
            .await?;
            let sql = format!(
                "UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT COALESCE(MAX(id), 0) FROM {table})) + $2
                 WHERE name = $1 RETURNING seq"
            );
            let last: i64 =
                sqlx::query_scalar(AssertSqlSafe(sql)).bind(table).bind(count).fetch_one(&mut *conn).await?;
            Ok((last - count + 1..=last).collect())
        }
        Backend::Postgres => {
            let mut ids: Vec<i64> = sqlx::query_scalar(
                "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2::BIGINT)",
            )
            .bind(table)
            .bind(count)
            .fetch_all(&mut *conn)
            .await?;
            ids.sort_unstable();
            Ok(ids)
        }
    }
}

/// `%text%` for `LOWER(column) LIKE $n ESCAPE '\\'`: the user's text matched literally
/// (wildcards escaped) and in any case (`LIKE` is case-sensitive on PostgreSQL and not on
/// SQLite, so both sides are lowered).
pub(crate) fn contains_pattern(text: &str) -> String {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
