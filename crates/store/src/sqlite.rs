//! The SQLite backend: connection settings that make a commit durable before it returns
//! (WAL, `synchronous=FULL`), migrations, and the SQL of loading and committing.
//!
//! A file database is switched to WAL once, by one connection, before the pool opens
//! ([`switch_to_wal`]): the switch needs a write lock taken from inside a read, which SQLite
//! refuses at once with `SQLITE_BUSY` (no busy wait) while another connection holds it, so
//! several stores opening one file at the same moment take turns by retrying until
//! [`BUSY_TIMEOUT`]. WAL is then a property of the file; pooled connections do not set it again.

use std::str::FromStr;
use std::time::{Duration, Instant};

use nubo_types::ObjectKind;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Executor, SqliteConnection, SqlitePool};

use crate::migrations;
use crate::{Change, Row, Snapshot, StoreError};

/// The backend's name, as [`crate::Store::backend_name`] reports it.
pub(crate) const NAME: &str = "sqlite";

/// Connections in a file-backed pool; writes are serialised by the core anyway.
const MAX_CONNECTIONS: u32 = 4;

/// How long a connection waits for another one's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The first and the longest pause between two attempts to switch a file to WAL.
const WAL_RETRY_FIRST: Duration = Duration::from_millis(1);
const WAL_RETRY_MAX: Duration = Duration::from_millis(50);

const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (\
     version INTEGER PRIMARY KEY, \
     description TEXT NOT NULL, \
     applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)";

/// Opens the pool at `url` (a file database switched to WAL first) and brings the schema up
/// to date.
pub(crate) async fn open(url: &str) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|source| StoreError::InvalidUrl {
            backend: NAME,
            source,
        })?
        .create_if_missing(true)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let in_memory = is_in_memory(url);
    if !in_memory {
        switch_to_wal(&options).await?;
    }
    let pool_options = if in_memory {
        // An in-memory database lives as long as one connection to it: keep exactly one.
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new().max_connections(MAX_CONNECTIONS)
    };
    let pool = pool_options
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Connect {
            backend: NAME,
            source,
        })?;
    if let Err(err) = migrate(&pool).await {
        pool.close().await;
        return Err(err);
    }
    Ok(pool)
}

/// Whether `url` names a database that never touches disk (and so cannot use WAL).
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Puts the file database of `options` in WAL mode, on a connection of its own, retrying
/// while another connection holds the lock the switch needs (SQLite answers `SQLITE_BUSY`
/// at once there instead of waiting) until [`BUSY_TIMEOUT`] has passed. Fails with
/// [`StoreError::JournalMode`] when SQLite keeps another mode (a file system without shared
/// memory, say).
async fn switch_to_wal(options: &SqliteConnectOptions) -> Result<(), StoreError> {
    let connect_err = |source| StoreError::Connect {
        backend: NAME,
        source,
    };
    let mut conn = options.connect().await.map_err(connect_err)?;
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut pause = WAL_RETRY_FIRST;
    let switched = loop {
        let attempt: Result<String, sqlx::Error> = sqlx::query_scalar("PRAGMA journal_mode = WAL")
            .fetch_one(&mut conn)
            .await;
        match attempt {
            Err(err) if is_busy(&err) && Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(WAL_RETRY_MAX);
            }
            other => break other,
        }
    };
    // The connection only served the switch; failing to close it cleanly changes nothing.
    let _ = conn.close().await;
    let mode = switched.map_err(connect_err)?;
    if mode.eq_ignore_ascii_case("wal") {
        Ok(())
    } else {
        Err(StoreError::JournalMode { mode })
    }
}

/// Whether SQLite refused because another connection holds a lock (`SQLITE_BUSY` or
/// `SQLITE_LOCKED`, with any extended code).
fn is_busy(err: &sqlx::Error) -> bool {
    const SQLITE_BUSY: i32 = 5;
    const SQLITE_LOCKED: i32 = 6;
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    db.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED))
}

/// Applies the pending migrations in one transaction that holds the write lock throughout.
async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    let failed = |version| {
        move |source| StoreError::Migrate {
            backend: NAME,
            version,
            source,
        }
    };
    let version_err = |source| StoreError::SchemaVersion {
        backend: NAME,
        source,
    };
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(failed(0))?;
    tx.execute(SCHEMA_VERSION_TABLE)
        .await
        .map_err(version_err)?;
    let current = current_version(&mut tx).await.map_err(version_err)?;
    let pending = migrations::pending(current)?;
    for step in pending {
        tx.execute(step.sqlite)
            .await
            .map_err(failed(step.version))?;
        sqlx::query("INSERT INTO schema_version (version, description) VALUES (?, ?)")
            .bind(step.version)
            .bind(step.description)
            .execute(&mut *tx)
            .await
            .map_err(failed(step.version))?;
    }
    tx.commit()
        .await
        .map_err(failed(migrations::SCHEMA_VERSION))?;
    for step in pending {
        tracing::info!(
            backend = NAME,
            version = step.version,
            description = step.description,
            "store migrated"
        );
    }
    Ok(())
}

async fn current_version(conn: &mut SqliteConnection) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(conn)
        .await
}

/// The schema version recorded in the database.
pub(crate) async fn schema_version(pool: &SqlitePool) -> Result<i32, StoreError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|source| StoreError::SchemaVersion {
            backend: NAME,
            source,
        })?;
    current_version(&mut conn)
        .await
        .map_err(|source| StoreError::SchemaVersion {
            backend: NAME,
            source,
        })
}

/// Reads every pool inside one read transaction, so the snapshot is consistent.
pub(crate) async fn load_all(pool: &SqlitePool) -> Result<Snapshot, StoreError> {
    let failed = |source| StoreError::Load {
        backend: NAME,
        source,
    };
    let mut tx = pool.begin().await.map_err(failed)?;
    let mut snapshot = Snapshot::default();
    for kind in ObjectKind::ALL {
        let sql = format!(
            "SELECT oid, name, uid, gid, body FROM {} ORDER BY oid",
            kind.table()
        );
        let rows: Vec<(i32, String, i32, i32, String)> = sqlx::query_as(&sql)
            .fetch_all(&mut *tx)
            .await
            .map_err(failed)?;
        snapshot
            .rows
            .extend(rows.into_iter().map(|r| crate::row_from_parts(kind, r)));
    }
    let controls: Vec<(String, i32)> =
        sqlx::query_as("SELECT tablename, last_oid FROM pool_control")
            .fetch_all(&mut *tx)
            .await
            .map_err(failed)?;
    snapshot.last_oids = crate::last_oids_from_parts(controls);
    let attributes: Vec<(String, String)> =
        sqlx::query_as("SELECT name, body FROM system_attributes")
            .fetch_all(&mut *tx)
            .await
            .map_err(failed)?;
    snapshot.attributes = attributes.into_iter().collect();
    tx.commit().await.map_err(failed)?;
    Ok(snapshot)
}

/// Applies `changes` in one write transaction; with `synchronous=FULL` the commit is on disk
/// when this returns.
pub(crate) async fn commit(pool: &SqlitePool, changes: &[Change]) -> Result<(), StoreError> {
    let failed = |source| StoreError::Commit {
        backend: NAME,
        changes: changes.len(),
        source,
    };
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(failed)?;
    for change in changes {
        apply(&mut tx, change).await.map_err(failed)?;
    }
    tx.commit().await.map_err(failed)
}

async fn apply(conn: &mut SqliteConnection, change: &Change) -> Result<(), sqlx::Error> {
    match change {
        Change::Put(Row {
            kind,
            oid,
            name,
            uid,
            gid,
            body,
        }) => {
            let sql = format!(
                "INSERT INTO {} (oid, name, uid, gid, body) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (oid) DO UPDATE SET name = excluded.name, uid = excluded.uid, \
                 gid = excluded.gid, body = excluded.body",
                kind.table()
            );
            sqlx::query(&sql)
                .bind(oid)
                .bind(name.as_str())
                .bind(uid)
                .bind(gid)
                .bind(body.as_str())
                .execute(conn)
                .await?;
        }
        Change::Delete { kind, oid } => {
            let sql = format!("DELETE FROM {} WHERE oid = ?", kind.table());
            sqlx::query(&sql).bind(oid).execute(conn).await?;
        }
        Change::LastOid { kind, last_oid } => {
            sqlx::query(
                "INSERT INTO pool_control (tablename, last_oid) VALUES (?, ?) \
                 ON CONFLICT (tablename) DO UPDATE SET last_oid = excluded.last_oid",
            )
            .bind(kind.table())
            .bind(last_oid)
            .execute(conn)
            .await?;
        }
        Change::Attribute { name, body } => {
            sqlx::query(
                "INSERT INTO system_attributes (name, body) VALUES (?, ?) \
                 ON CONFLICT (name) DO UPDATE SET body = excluded.body",
            )
            .bind(name.as_str())
            .bind(body.as_str())
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// Reads every PaaS record and counter inside one read transaction.
pub(crate) async fn paas_load(pool: &SqlitePool) -> Result<crate::PaasSnapshot, StoreError> {
    let failed = |source| StoreError::Load {
        backend: NAME,
        source,
    };
    let mut tx = pool.begin().await.map_err(failed)?;
    let rows: Vec<(String, i64, i64, String)> =
        sqlx::query_as("SELECT kind, id, app, body FROM paas_records ORDER BY kind, id")
            .fetch_all(&mut *tx)
            .await
            .map_err(failed)?;
    let counters: Vec<(String, i64)> = sqlx::query_as("SELECT kind, last FROM paas_counters")
        .fetch_all(&mut *tx)
        .await
        .map_err(failed)?;
    tx.commit().await.map_err(failed)?;
    Ok(crate::paas::snapshot(rows, counters))
}

/// Applies PaaS `changes` in one write transaction, durable when this returns.
pub(crate) async fn paas_commit(
    pool: &SqlitePool,
    changes: &[crate::PaasChange],
) -> Result<(), StoreError> {
    let failed = |source| StoreError::Commit {
        backend: NAME,
        changes: changes.len(),
        source,
    };
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(failed)?;
    for change in changes {
        paas_apply(&mut tx, change).await.map_err(failed)?;
    }
    tx.commit().await.map_err(failed)
}

async fn paas_apply(
    conn: &mut SqliteConnection,
    change: &crate::PaasChange,
) -> Result<(), sqlx::Error> {
    use crate::PaasChange;
    match change {
        PaasChange::Put(record) => {
            sqlx::query(
                "INSERT INTO paas_records (kind, id, app, body) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (kind, id) DO UPDATE SET app = excluded.app, body = excluded.body",
            )
            .bind(record.kind.as_str())
            .bind(record.id)
            .bind(record.app)
            .bind(record.body.as_str())
            .execute(conn)
            .await?;
        }
        PaasChange::Delete { kind, id } => {
            sqlx::query("DELETE FROM paas_records WHERE kind = ? AND id = ?")
                .bind(kind.as_str())
                .bind(id)
                .execute(conn)
                .await?;
        }
        PaasChange::DeleteApp { app } => {
            sqlx::query("DELETE FROM paas_records WHERE app = ?")
                .bind(app)
                .execute(conn)
                .await?;
        }
        PaasChange::LastId { kind, last } => {
            sqlx::query(
                "INSERT INTO paas_counters (kind, last) VALUES (?, ?) \
                 ON CONFLICT (kind) DO UPDATE SET last = excluded.last",
            )
            .bind(kind.as_str())
            .bind(last)
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://:memory:"));
        assert!(is_in_memory("sqlite://x?mode=memory"));
        assert!(!is_in_memory("sqlite:///var/lib/nubo/nubo.db"));
    }

    /// Every pooled connection runs with the settings that make commits durable.
    #[tokio::test]
    async fn connections_are_durable_and_migrated() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("nubo.db").display());
        let pool = open(&url).await?;
        let mut conns = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            conns.push(pool.acquire().await?);
        }
        for conn in &mut conns {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut **conn)
                .await?;
            let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut **conn)
                .await?;
            let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut **conn)
                .await?;
            let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
                .fetch_one(&mut **conn)
                .await?;
            assert_eq!(
                (mode.as_str(), synchronous, foreign_keys, busy),
                ("wal", 2, 1, 5000)
            );
        }
        drop(conns);
        assert_eq!(schema_version(&pool).await?, migrations::SCHEMA_VERSION);
        pool.close().await;
        Ok(())
    }
}
