//! The two migration trees (`migrations/sqlite` and `migrations/postgres`) must define one
//! schema: the same SQL runs on both, so a column added to one tree only breaks the other
//! backend at run time. Each is migrated by the store itself, then read back.

use std::collections::BTreeMap;

use hookdesk_store::{SecretKey, Store};
use sqlx::Connection;

use crate::support::{Db, TestDatabase, postgres_available};

/// Table name to column name to whether the column is NOT NULL.
type Schema = BTreeMap<String, BTreeMap<String, bool>>;

fn schema_of(columns: Vec<(String, String, bool)>) -> Schema {
    let mut schema = Schema::new();
    for (table, column, not_null) in columns {
        schema.entry(table).or_default().insert(column, not_null);
    }
    schema
}

/// Runs the store's migrations on a new database at `url`.
async fn migrate(url: &str) {
    let store = Store::open(url, &SecretKey::generate().expect("random")).await.expect("the store migrates");
    store.close().await;
}

/// SQLite's tables (not its own, nor sqlx's bookkeeping). A primary key column counts as NOT
/// NULL, as PostgreSQL makes it.
async fn sqlite_schema(url: &str) -> Schema {
    let mut conn = sqlx::SqliteConnection::connect(url).await.expect("open the SQLite file");
    let columns: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT m.name, p.name, p.\"notnull\" OR p.pk > 0 FROM sqlite_master m JOIN pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("SQLite's columns");
    conn.close().await.ok();
    schema_of(columns.into_iter().map(|(table, column, not_null)| (table, column, not_null != 0)).collect())
}

/// PostgreSQL's tables in the database's schema, but sqlx's bookkeeping.
async fn postgres_schema(url: &str) -> Schema {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect to the test database");
    let columns: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.is_nullable = 'NO'
         FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
           AND c.table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("PostgreSQL's columns");
    conn.close().await.ok();
    schema_of(columns)
}

/// Each difference in words, one a line; none when the schemas agree.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let nullability = |not_null: bool| if not_null { "NOT NULL" } else { "nullable" };
    let mut found = Vec::new();
    for table in sqlite.keys().chain(postgres.keys().filter(|t| !sqlite.contains_key(*t))) {
        let (Some(on_sqlite), Some(on_postgres)) = (sqlite.get(table), postgres.get(table)) else {
            let only = if sqlite.contains_key(table) { "SQLite" } else { "PostgreSQL" };
            found.push(format!("table {table}: only in the {only} migrations"));
            continue;
        };
        for column in on_sqlite.keys().chain(on_postgres.keys().filter(|c| !on_sqlite.contains_key(*c))) {
            match (on_sqlite.get(column), on_postgres.get(column)) {
                (Some(s), Some(p)) if s != p => found.push(format!(
                    "{table}.{column}: {} on SQLite, {} on PostgreSQL",
                    nullability(*s),
                    nullability(*p)
                )),
                (Some(_), None) => found.push(format!("{table}.{column}: only in the SQLite migrations")),
                (None, Some(_)) => found.push(format!("{table}.{column}: only in the PostgreSQL migrations")),
                _ => {}
            }
        }
    }
    found
}

#[tokio::test]
async fn both_migration_trees_define_the_same_tables_and_columns() {
    if !postgres_available().await {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let sqlite_url = format!("sqlite://{}/schema.db", dir.path().display());
    migrate(&sqlite_url).await;
    let sqlite = sqlite_schema(&sqlite_url).await;

    let database = TestDatabase::new(Db::Postgres).await;
    migrate(&database.url).await;
    let postgres = postgres_schema(&database.url).await;

    assert!(sqlite.contains_key("tickets") && postgres.contains_key("tickets"), "{sqlite:?}\n{postgres:?}");
    let found = differences(&sqlite, &postgres);
    assert!(found.is_empty(), "the SQLite and PostgreSQL migrations define different schemas:\n{}", found.join("\n"));
}
