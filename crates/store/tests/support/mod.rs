//! What the store's test binaries share: every test function runs against SQLite (a file in
//! a temporary directory) and against PostgreSQL (a throwaway database per test) when
//! `NUBO_TEST_POSTGRES` holds a server url such as `postgres://root@127.0.0.1:5432/test`.

#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use nubo_store::Store;
use sqlx::{Connection, Executor};

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What a test gets: the backend and the url of a fresh, empty database.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub backend: Backend,
    pub url: String,
}

impl Ctx {
    pub async fn open(&self) -> Store {
        Store::open(&self.url).await.expect("open the store")
    }

    /// Runs SQL on the database behind the store's back: only to set up what the store's API
    /// cannot (a failing trigger, a schema from the future).
    pub async fn raw(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("raw sqlite connection");
                conn.execute(sql).await.expect("raw sql");
                conn.close().await.expect("close raw connection");
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("raw postgresql connection");
                conn.execute(sql).await.expect("raw sql");
                conn.close().await.expect("close raw connection");
            }
        }
    }

    /// One integer (as i64) read behind the store's back.
    pub async fn raw_i64(&self, sql: &str) -> i64 {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("raw sqlite connection");
                let v: i64 = sqlx::query_scalar(sql)
                    .fetch_one(&mut conn)
                    .await
                    .expect("raw query");
                conn.close().await.expect("close raw connection");
                v
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("raw postgresql connection");
                let v: i64 = sqlx::query_scalar(sql)
                    .fetch_one(&mut conn)
                    .await
                    .expect("raw query");
                conn.close().await.expect("close raw connection");
                v
            }
        }
    }
}

/// Runs `test` on a fresh database of `backend`, then removes the database (even when the
/// test panics; the panic is passed on).
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!("sqlite://{}", dir.path().join("nubo.db").display());
            let outcome = tokio::spawn(test(Ctx { backend, url })).await;
            drop(dir);
            pass_on_panic(outcome);
        }
        Backend::Postgres => {
            let Ok(server) = std::env::var("NUBO_TEST_POSTGRES") else {
                println!("skipped: NUBO_TEST_POSTGRES not set");
                return;
            };
            let db = unique_database_name();
            let mut admin = sqlx::PgConnection::connect(&server)
                .await
                .expect("connect to NUBO_TEST_POSTGRES");
            sqlx::raw_sql(&format!("CREATE DATABASE {db}"))
                .execute(&mut admin)
                .await
                .expect("create the test database");
            let url = with_database(&server, &db);
            let outcome = tokio::spawn(test(Ctx { backend, url })).await;
            if let Err(err) = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .execute(&mut admin)
                .await
            {
                eprintln!("could not drop test database {db}: {err}");
            }
            let _ = admin.close().await;
            pass_on_panic(outcome);
        }
    }
}

fn pass_on_panic(outcome: Result<(), tokio::task::JoinError>) {
    if let Err(err) = outcome {
        match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => panic!("test task failed: {err}"),
        }
    }
}

/// A database name no other test (or test run) uses; only `[a-z0-9_]`.
fn unique_database_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "nubo_test_{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with its database path replaced by `db` (the query string is kept).
fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("url with a scheme");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{authority}/{db}{query}")
}

#[test]
fn database_urls_are_rewritten() {
    assert_eq!(
        with_database("postgres://root@127.0.0.1:5432/test", "x"),
        "postgres://root@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgresql://u:p@h?sslmode=disable", "x"),
        "postgresql://u:p@h/x?sslmode=disable"
    );
}

/// Declares each test function twice: `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::support::run(crate::support::Backend::Sqlite, super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::support::run(crate::support::Backend::Postgres, super::$name).await;
            }
        }
    )*};
}
