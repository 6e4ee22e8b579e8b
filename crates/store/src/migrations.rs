//! The schema, as an ordered list of embedded SQL steps per backend, and the rule deciding
//! which steps a database still needs. The backends run the steps; this module only knows them.

use crate::StoreError;

/// One schema step: applied once, in a transaction, and recorded with its version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// Strictly increasing, starting at 1.
    pub(crate) version: i32,
    /// What the step does, recorded beside the version.
    pub(crate) description: &'static str,
    /// The step for SQLite (may hold several statements).
    pub(crate) sqlite: &'static str,
    /// The step for PostgreSQL (may hold several statements).
    pub(crate) postgres: &'static str,
}

/// Every migration, oldest first. Never edit a released step: append a new one.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "object pools and pool_control",
        sqlite: V1_POOLS,
        postgres: V1_POOLS,
    },
    Migration {
        version: 2,
        description: "system attributes",
        sqlite: V2_ATTRIBUTES,
        postgres: V2_ATTRIBUTES,
    },
    Migration {
        version: 3,
        description: "PaaS records and their counters",
        sqlite: crate::paas::SCHEMA,
        postgres: crate::paas::SCHEMA,
    },
    Migration {
        version: 4,
        description: "answers kept for Idempotency-Key replays",
        sqlite: crate::replays::SCHEMA,
        postgres: crate::replays::SCHEMA,
    },
];

/// Version 2: named JSON documents kept outside the pools (default quotas, ...).
const V2_ATTRIBUTES: &str =
    "CREATE TABLE system_attributes (name TEXT PRIMARY KEY, body TEXT NOT NULL);";

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// The migrations a database at version `current` still needs, or an error when the database
/// is newer than this build.
pub(crate) fn pending(current: i32) -> Result<&'static [Migration], StoreError> {
    if current > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    let first = MIGRATIONS
        .iter()
        .position(|m| m.version > current)
        .unwrap_or(MIGRATIONS.len());
    Ok(&MIGRATIONS[first..])
}

/// Version 1: one table per object kind (OpenNebula's table names) and `pool_control`.
/// The SQL is the same for both backends.
const V1_POOLS: &str = "
CREATE TABLE vm_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE host_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE network_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE image_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE user_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE template_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE group_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE datastore_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE cluster_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE document_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE zone_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE secgroup_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE vdc_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE vrouter_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE marketplace_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE marketplaceapp_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE vmgroup_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE vn_template_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE hook_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE backupjob_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE acl_pool (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE pool_control (tablename TEXT PRIMARY KEY, last_oid INTEGER NOT NULL);
";

#[cfg(test)]
mod tests {
    use super::*;
    use nubo_types::ObjectKind;

    #[test]
    fn versions_start_at_one_and_increase_by_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "{}", m.description);
        }
    }

    #[test]
    fn version_one_creates_every_kind_table_on_both_backends() {
        for sql in [MIGRATIONS[0].sqlite, MIGRATIONS[0].postgres] {
            for kind in ObjectKind::ALL {
                let ddl = format!("CREATE TABLE {} (", kind.table());
                assert!(sql.contains(&ddl), "{kind:?} table missing");
            }
            assert!(sql.contains("CREATE TABLE pool_control ("));
        }
    }

    #[test]
    fn pending_depends_on_current_version() {
        assert_eq!(pending(0).map(<[_]>::len).ok(), Some(MIGRATIONS.len()));
        assert_eq!(pending(SCHEMA_VERSION).map(<[_]>::len).ok(), Some(0));
        assert!(matches!(
            pending(SCHEMA_VERSION + 1),
            Err(StoreError::SchemaTooNew { found, supported })
                if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION
        ));
    }
}
