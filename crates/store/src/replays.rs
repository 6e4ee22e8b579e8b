//! Answers kept for replay: the REST API's answers to requests that carried an
//! `Idempotency-Key`, so that the same request again gets the same answer even after a
//! restart of nubod. A row is a scope (a digest the front end makes of who asked, where and
//! with which key), the digest of the request's body, the answer as the front end encodes
//! it, and when it was kept. The store knows nothing of what they mean.

use sqlx::{PgPool, SqlitePool};

use crate::{Backend, Store, StoreError};

/// The table (schema step 4; the same SQL on both backends).
pub(crate) const SCHEMA: &str = "CREATE TABLE replays (\
     scope TEXT PRIMARY KEY, \
     request TEXT NOT NULL, \
     answer TEXT NOT NULL, \
     kept BIGINT NOT NULL);\
     CREATE INDEX replays_kept ON replays (kept);";

/// One kept answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// Who asked, where, with which key (a digest; 1 to 128 characters).
    pub scope: String,
    /// The digest of the request's body.
    pub request: String,
    /// The answer, as the front end encodes it (no U+0000).
    pub answer: String,
    /// When it was kept (seconds since the epoch).
    pub kept: i64,
}

impl Store {
    /// The answer kept for `scope`, if any.
    pub async fn replay_get(&self, scope: &str) -> Result<Option<Replay>, StoreError> {
        const SQL_SQLITE: &str = "SELECT scope, request, answer, kept FROM replays WHERE scope = ?";
        const SQL_PG: &str = "SELECT scope, request, answer, kept FROM replays WHERE scope = $1";
        let row: Option<(String, String, String, i64)> = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query_as(SQL_SQLITE)
                .bind(scope)
                .fetch_optional(pool)
                .await
                .map_err(load(crate::sqlite::NAME))?,
            Backend::Postgres(pool) => sqlx::query_as(SQL_PG)
                .bind(scope)
                .fetch_optional(pool)
                .await
                .map_err(load(crate::postgres::NAME))?,
        };
        Ok(row.map(|(scope, request, answer, kept)| Replay {
            scope,
            request,
            answer,
            kept,
        }))
    }

    /// Keeps an answer (replacing the one of the same scope); durable when it returns.
    pub async fn replay_put(&self, replay: &Replay) -> Result<(), StoreError> {
        if replay.answer.contains('\0')
            || replay.request.contains('\0')
            || replay.scope.contains('\0')
        {
            return Err(StoreError::ReplayNul);
        }
        match &self.backend {
            Backend::Sqlite(pool) => put_sqlite(pool, replay).await,
            Backend::Postgres(pool) => put_postgres(pool, replay).await,
        }
    }

    /// Forgets the answers kept before `before`, and all but the newest `keep_max`;
    /// returns how many went.
    pub async fn replay_expire(&self, before: i64, keep_max: i64) -> Result<u64, StoreError> {
        let keep_max = keep_max.max(0);
        match &self.backend {
            Backend::Sqlite(pool) => {
                let gone = sqlx::query(
                    "DELETE FROM replays WHERE kept < ? OR scope IN \
                     (SELECT scope FROM replays ORDER BY kept DESC LIMIT -1 OFFSET ?)",
                )
                .bind(before)
                .bind(keep_max)
                .execute(pool)
                .await
                .map_err(commit(crate::sqlite::NAME))?;
                Ok(gone.rows_affected())
            }
            Backend::Postgres(pool) => {
                let gone = sqlx::query(
                    "DELETE FROM replays WHERE kept < $1 OR scope IN \
                     (SELECT scope FROM replays ORDER BY kept DESC OFFSET $2)",
                )
                .bind(before)
                .bind(keep_max)
                .execute(pool)
                .await
                .map_err(commit(crate::postgres::NAME))?;
                Ok(gone.rows_affected())
            }
        }
    }
}

async fn put_sqlite(pool: &SqlitePool, r: &Replay) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO replays (scope, request, answer, kept) VALUES (?, ?, ?, ?) \
         ON CONFLICT (scope) DO UPDATE SET request = excluded.request, \
         answer = excluded.answer, kept = excluded.kept",
    )
    .bind(&r.scope)
    .bind(&r.request)
    .bind(&r.answer)
    .bind(r.kept)
    .execute(pool)
    .await
    .map_err(commit(crate::sqlite::NAME))?;
    Ok(())
}

async fn put_postgres(pool: &PgPool, r: &Replay) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO replays (scope, request, answer, kept) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (scope) DO UPDATE SET request = excluded.request, \
         answer = excluded.answer, kept = excluded.kept",
    )
    .bind(&r.scope)
    .bind(&r.request)
    .bind(&r.answer)
    .bind(r.kept)
    .execute(pool)
    .await
    .map_err(commit(crate::postgres::NAME))?;
    Ok(())
}

fn load(backend: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Load { backend, source }
}

fn commit(backend: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Commit {
        backend,
        changes: 1,
        source,
    }
}
