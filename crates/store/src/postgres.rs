//! The PostgreSQL backend: connection settings, migrations (serialised between concurrent
//! openers by an advisory lock), and the SQL of loading and committing.

use std::str::FromStr;

use nubo_types::ObjectKind;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgConnection, PgPool};

use crate::migrations;
use crate::{Change, Row, Snapshot, StoreError};

/// The backend's name, as [`crate::Store::backend_name`] reports it.
pub(crate) const NAME: &str = "postgresql";

/// Connections in the pool; writes are serialised by the core anyway.
const MAX_CONNECTIONS: u32 = 4;

/// The advisory lock key taken while migrating ("nubo" in ASCII).
const MIGRATION_LOCK: i64 = 0x6e75_626f;

const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (\
     version INTEGER PRIMARY KEY, \
     description TEXT NOT NULL, \
     applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";

/// Opens the pool at `url` and brings the schema up to date.
pub(crate) async fn open(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|source| StoreError::InvalidUrl {
            backend: NAME,
            source,
        })?
        .application_name("nubo")
        // A commit returns only once its WAL is flushed, whatever the server default is.
        .options([("synchronous_commit", "on")]);
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
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

/// Applies the pending migrations in one transaction, holding an advisory lock so that two
/// processes opening the same database migrate one after the other.
async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
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
    let mut tx = pool.begin().await.map_err(failed(0))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(failed(0))?;
    // Keep "already exists, skipping" notices out of the log.
    tx.execute("SET LOCAL client_min_messages = warning")
        .await
        .map_err(failed(0))?;
    tx.execute(SCHEMA_VERSION_TABLE)
        .await
        .map_err(version_err)?;
    let current = current_version(&mut tx).await.map_err(version_err)?;
    let pending = migrations::pending(current)?;
    for step in pending {
        tx.execute(step.postgres)
            .await
            .map_err(failed(step.version))?;
        sqlx::query("INSERT INTO schema_version (version, description) VALUES ($1, $2)")
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

async fn current_version(conn: &mut PgConnection) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(conn)
        .await
}

/// The schema version recorded in the database.
pub(crate) async fn schema_version(pool: &PgPool) -> Result<i32, StoreError> {
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

/// Reads every pool inside one repeatable-read transaction, so the snapshot is consistent.
pub(crate) async fn load_all(pool: &PgPool) -> Result<Snapshot, StoreError> {
    let failed = |source| StoreError::Load {
        backend: NAME,
        source,
    };
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(failed)?;
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

/// Applies `changes` in one transaction; with `synchronous_commit=on` the commit is durable
/// when this returns.
pub(crate) async fn commit(pool: &PgPool, changes: &[Change]) -> Result<(), StoreError> {
    let failed = |source| StoreError::Commit {
        backend: NAME,
        changes: changes.len(),
        source,
    };
    let mut tx = pool.begin().await.map_err(failed)?;
    for change in changes {
        apply(&mut tx, change).await.map_err(failed)?;
    }
    tx.commit().await.map_err(failed)
}

async fn apply(conn: &mut PgConnection, change: &Change) -> Result<(), sqlx::Error> {
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
                "INSERT INTO {} (oid, name, uid, gid, body) VALUES ($1, $2, $3, $4, $5) \
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
            let sql = format!("DELETE FROM {} WHERE oid = $1", kind.table());
            sqlx::query(&sql).bind(oid).execute(conn).await?;
        }
        Change::LastOid { kind, last_oid } => {
            sqlx::query(
                "INSERT INTO pool_control (tablename, last_oid) VALUES ($1, $2) \
                 ON CONFLICT (tablename) DO UPDATE SET last_oid = excluded.last_oid",
            )
            .bind(kind.table())
            .bind(last_oid)
            .execute(conn)
            .await?;
        }
        Change::Attribute { name, body } => {
            sqlx::query(
                "INSERT INTO system_attributes (name, body) VALUES ($1, $2) \
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
pub(crate) async fn paas_load(pool: &PgPool) -> Result<crate::PaasSnapshot, StoreError> {
    let failed = |source| StoreError::Load {
        backend: NAME,
        source,
    };
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(failed)?;
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
    pool: &PgPool,
    changes: &[crate::PaasChange],
) -> Result<(), StoreError> {
    let failed = |source| StoreError::Commit {
        backend: NAME,
        changes: changes.len(),
        source,
    };
    let mut tx = pool.begin().await.map_err(failed)?;
    for change in changes {
        paas_apply(&mut tx, change).await.map_err(failed)?;
    }
    tx.commit().await.map_err(failed)
}

async fn paas_apply(
    conn: &mut PgConnection,
    change: &crate::PaasChange,
) -> Result<(), sqlx::Error> {
    use crate::PaasChange;
    match change {
        PaasChange::Put(record) => {
            sqlx::query(
                "INSERT INTO paas_records (kind, id, app, body) VALUES ($1, $2, $3, $4) \
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
            sqlx::query("DELETE FROM paas_records WHERE kind = $1 AND id = $2")
                .bind(kind.as_str())
                .bind(id)
                .execute(conn)
                .await?;
        }
        PaasChange::DeleteApp { app } => {
            sqlx::query("DELETE FROM paas_records WHERE app = $1")
                .bind(app)
                .execute(conn)
                .await?;
        }
        PaasChange::LastId { kind, last } => {
            sqlx::query(
                "INSERT INTO paas_counters (kind, last) VALUES ($1, $2) \
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
