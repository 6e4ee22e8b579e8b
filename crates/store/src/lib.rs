//! Nubo's durable object store: every SQL statement of the platform, on SQLite or PostgreSQL.
//!
//! The core keeps every object in memory and writes through to this store. Each
//! [`ObjectKind`] has its own table (named by [`ObjectKind::table`]) holding rows of
//! `oid, name, uid, gid, body`, where `body` is a JSON document the core serialises;
//! `pool_control` keeps the last id handed out per pool, as in OpenNebula. [`Store::commit`]
//! applies a batch of [`Change`]s in one transaction and returns only once it is durable;
//! [`Store::load_all`] reads everything back at start-up.

mod error;
mod migrations;
mod paas;
mod postgres;
mod replays;
mod sqlite;

use std::collections::HashMap;

use nubo_types::ObjectKind;

pub use error::StoreError;
pub use migrations::SCHEMA_VERSION;
pub use paas::{PaasChange, PaasRecord, PaasSnapshot};
pub use replays::Replay;

/// One stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The pool (table) the row lives in.
    pub kind: ObjectKind,
    /// The object id, unique within its pool.
    pub oid: i32,
    /// The object name.
    pub name: String,
    /// The owner's user id.
    pub uid: i32,
    /// The owner's group id.
    pub gid: i32,
    /// The object as the core serialises it (JSON). Must not contain U+0000.
    pub body: String,
}

/// One write of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Insert the row, or replace the row with the same kind and oid.
    Put(Row),
    /// Delete a row; deleting a missing row is not an error.
    Delete {
        /// The pool of the row.
        kind: ObjectKind,
        /// The row's id.
        oid: i32,
    },
    /// Record the last id handed out in a pool (insert or replace).
    LastOid {
        /// The pool.
        kind: ObjectKind,
        /// The last id handed out.
        last_oid: i32,
    },
    /// Set a system attribute (insert or replace): a named JSON document kept outside the
    /// pools, such as the default quotas.
    Attribute {
        /// The attribute's name.
        name: String,
        /// Its value (JSON). Must not contain U+0000.
        body: String,
    },
}

/// Everything the store holds, as read by [`Store::load_all`].
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Every row of every pool, ordered by kind (in [`ObjectKind::ALL`] order), then by oid.
    pub rows: Vec<Row>,
    /// The last id handed out per pool, for the pools that have one recorded.
    pub last_oids: HashMap<ObjectKind, i32>,
    /// System attributes by name.
    pub attributes: HashMap<String, String>,
}

/// A handle on the store; cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Store {
    /// Opens (and migrates) the store at `url`: `sqlite://PATH` (the file is created if
    /// missing), `sqlite::memory:` (for tests), or `postgres://...` / `postgresql://...`.
    ///
    /// Fails with [`StoreError::SchemaTooNew`] when a newer build migrated the database.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite(sqlite::open(url).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(postgres::open(url).await?)
        } else {
            let scheme = url.split(':').next().unwrap_or_default().to_owned();
            return Err(StoreError::UnsupportedUrl { scheme });
        };
        let store = Store { backend };
        tracing::debug!(backend = store.backend_name(), "store opened");
        Ok(store)
    }

    /// `sqlite` or `postgresql`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => sqlite::NAME,
            Backend::Postgres(_) => postgres::NAME,
        }
    }

    /// The schema version recorded in the database (equal to [`SCHEMA_VERSION`] once opened).
    pub async fn schema_version(&self) -> Result<i32, StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::schema_version(pool).await,
            Backend::Postgres(pool) => postgres::schema_version(pool).await,
        }
    }

    /// Reads every row of every pool and every pool's last id, from one consistent snapshot.
    pub async fn load_all(&self) -> Result<Snapshot, StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::load_all(pool).await,
            Backend::Postgres(pool) => postgres::load_all(pool).await,
        }
    }

    /// Applies every change in one transaction, in order, and returns only once the
    /// transaction is durable. On error nothing of the batch is applied. An empty batch
    /// returns at once without touching the database.
    pub async fn commit(&self, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        check_no_nul(changes)?;
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::commit(pool, changes).await,
            Backend::Postgres(pool) => postgres::commit(pool, changes).await,
        }
    }

    /// Reads every PaaS record and counter, from one consistent snapshot.
    pub async fn paas_load(&self) -> Result<PaasSnapshot, StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::paas_load(pool).await,
            Backend::Postgres(pool) => postgres::paas_load(pool).await,
        }
    }

    /// Applies every PaaS change in one transaction, in order, and returns only once it is
    /// durable; on error nothing of the batch is applied. An empty batch returns at once.
    pub async fn paas_commit(&self, changes: &[PaasChange]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        paas::check(changes)?;
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::paas_commit(pool, changes).await,
            Backend::Postgres(pool) => postgres::paas_commit(pool, changes).await,
        }
    }

    /// Closes every connection, waiting for those in use to come back.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// The kind whose table is `table`, if any.
fn kind_of_table(table: &str) -> Option<ObjectKind> {
    ObjectKind::ALL.into_iter().find(|k| k.table() == table)
}

/// A loaded row, from the columns `oid, name, uid, gid, body`.
fn row_from_parts(
    kind: ObjectKind,
    (oid, name, uid, gid, body): (i32, String, i32, i32, String),
) -> Row {
    Row {
        kind,
        oid,
        name,
        uid,
        gid,
        body,
    }
}

/// The last ids per pool, from `pool_control` rows; rows of unknown tables are skipped.
fn last_oids_from_parts(rows: Vec<(String, i32)>) -> HashMap<ObjectKind, i32> {
    rows.into_iter()
        .filter_map(|(table, last_oid)| match kind_of_table(&table) {
            Some(kind) => Some((kind, last_oid)),
            None => {
                tracing::warn!(
                    table,
                    last_oid,
                    "pool_control names an unknown table; ignored"
                );
                None
            }
        })
        .collect()
}

/// Refuses text PostgreSQL cannot store, before any transaction starts.
fn check_no_nul(changes: &[Change]) -> Result<(), StoreError> {
    for change in changes {
        if let Change::Put(row) = change {
            for (field, text) in [("name", &row.name), ("body", &row.body)] {
                if text.contains('\0') {
                    return Err(StoreError::NulCharacter {
                        kind: row.kind,
                        oid: row.oid,
                        field,
                    });
                }
            }
        }
        if let Change::Attribute { name, body } = change
            && (name.contains('\0') || body.contains('\0'))
        {
            return Err(StoreError::NulAttribute {
                name: name.replace('\0', ""),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(body: &str) -> Row {
        Row {
            kind: ObjectKind::Vm,
            oid: 3,
            name: "vm".into(),
            uid: 0,
            gid: 0,
            body: body.into(),
        }
    }

    #[test]
    fn nul_characters_are_refused_with_their_place() {
        let changes = [Change::Put(row("{}")), Change::Put(row("a\0b"))];
        let err = check_no_nul(&changes).err();
        assert!(matches!(
            err,
            Some(StoreError::NulCharacter {
                kind: ObjectKind::Vm,
                oid: 3,
                field: "body"
            })
        ));
        assert_eq!(
            err.map(|e| e.to_string()).unwrap_or_default(),
            "the body of vm_pool row 3 contains a NUL character, which the store cannot hold"
        );
        assert!(check_no_nul(&[Change::Put(row("\u{1}é"))]).is_ok());
    }

    /// The core spawns tasks that await the store: every future must be `Send`.
    #[allow(dead_code)]
    fn futures_are_send(store: &Store) {
        fn send<T: Send>(_: &T) {}
        send(&Store::open(""));
        send(&store.load_all());
        send(&store.commit(&[]));
        send(&store.schema_version());
        send(&store.close());
    }

    #[test]
    fn tables_map_back_to_kinds() {
        for kind in ObjectKind::ALL {
            assert_eq!(kind_of_table(kind.table()), Some(kind));
        }
        assert_eq!(kind_of_table("nope"), None);
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused_without_echoing_the_url() {
        let err = Store::open("mysql://user:secret@host/db").await.err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("\"mysql\""), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[tokio::test]
    async fn in_memory_sqlite_works() -> Result<(), StoreError> {
        let store = Store::open("sqlite::memory:").await?;
        assert_eq!(store.backend_name(), "sqlite");
        store.commit(&[Change::Put(row("{}"))]).await?;
        store.commit(&[]).await?;
        let snap = store.load_all().await?;
        assert_eq!(snap.rows, vec![row("{}")]);
        store.close().await;
        Ok(())
    }
}
