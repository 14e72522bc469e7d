//! Rule firings counted per rule and UTC day, written in the transaction of the update they
//! fired on, so that "fired in the last 7 days" and "last fired" cost a few rows a rule. On
//! PostgreSQL each update counts into one of [`SHARDS`] rows of the day, so that concurrent
//! updates firing the same rule do not queue on one row's lock until each commits.

use std::collections::HashMap;

use hookdesk_core::Timestamp;
use hookdesk_core::audit::{FiredRule, RuleFirings};
use hookdesk_core::id::RuleId;
use sqlx::{AssertSqlSafe, Row};

use crate::tickets::UpdateTx;
use crate::{Backend, Store, StoreError};

const DAY_MS: i64 = 86_400_000;

/// Rows a rule's day is counted in on PostgreSQL (SQLite has one writer: one row).
const SHARDS: u8 = 32;

fn shard(backend: Backend) -> i64 {
    let mut byte = [0u8; 1];
    // Spreading only: a failed read counts into shard 0.
    if backend == Backend::Sqlite || getrandom::fill(&mut byte).is_err() {
        return 0;
    }
    i64::from(byte[0] % SHARDS)
}

/// The UTC day `at` falls on, as days since the epoch.
fn day_of(at: Timestamp) -> i64 {
    at.as_millis().div_euclid(DAY_MS)
}

impl UpdateTx {
    /// Counts the triggers and automations of `rules` as fired at `now` (macros are an
    /// agent's doing and are not counted). A rule that fired twice in one transaction (two
    /// tickets of an inbound call) counts twice.
    pub async fn count_firings(&mut self, rules: &[FiredRule], now: Timestamp) -> Result<(), StoreError> {
        let shard = shard(self.backend());
        for rule in rules.iter().filter(|r| r.kind == "trigger" || r.kind == "automation") {
            sqlx::query(
                "INSERT INTO rule_firings (kind, rule_id, day, shard, fired, last_fired_at) VALUES ($1, $2, $3, $5, 1, $4)
                 ON CONFLICT (kind, rule_id, day, shard) DO UPDATE SET fired = rule_firings.fired + 1,
                     last_fired_at = CASE WHEN excluded.last_fired_at > rule_firings.last_fired_at
                         THEN excluded.last_fired_at ELSE rule_firings.last_fired_at END",
            )
            .bind(&rule.kind)
            .bind(rule.id.0)
            .bind(day_of(now))
            .bind(now.as_millis())
            .bind(shard)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }
}

impl Store {
    /// How often each of `ids` (triggers or automations, as `kind` says) fired in the 7 UTC
    /// days up to `now`, and when last. Rules that never fired are absent.
    pub async fn rule_firings(
        &self,
        kind: &str,
        ids: &[RuleId],
        now: Timestamp,
    ) -> Result<HashMap<RuleId, RuleFirings>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT rule_id, CAST(SUM(CASE WHEN day >= $2 THEN fired ELSE 0 END) AS BIGINT) AS fired_7d, MAX(last_fired_at) AS last_fired_at
             FROM rule_firings WHERE kind = $1 AND rule_id IN ({}) GROUP BY rule_id",
            crate::db::placeholders(3, ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(kind).bind(day_of(now) - 6);
        for id in ids {
            query = query.bind(id.0);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                let firings = RuleFirings {
                    fired_7d: row.try_get::<Option<i64>, _>("fired_7d")?.unwrap_or(0),
                    last_fired_at: row.try_get::<Option<i64>, _>("last_fired_at")?.map(Timestamp::from_millis),
                };
                Ok((RuleId(row.try_get("rule_id")?), firings))
            })
            .collect()
    }
}
