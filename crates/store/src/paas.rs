//! The PaaS's durable records: apps, builds, releases and the rest, each a JSON body the
//! `paas` crate serialises, kept in `paas_records` under a kind (`app`, `build`, …), an id
//! unique within the kind and the id of the app it belongs to (so an app's records go in one
//! statement); `paas_counters` keeps the last id handed out per kind. The store knows
//! nothing of what the bodies mean.

/// One stored PaaS record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaasRecord {
    /// What the record is (`app`, `build`, `release`, …): 1 to 32 of `[a-z0-9_]`.
    pub kind: String,
    /// Its id, unique within the kind.
    pub id: i64,
    /// The app it belongs to (an app's own record names itself; 0 for none).
    pub app: i64,
    /// The record as the PaaS serialises it (JSON). Must not contain U+0000.
    pub body: String,
}

/// One write of a PaaS commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaasChange {
    /// Insert the record, or replace the one with the same kind and id.
    Put(PaasRecord),
    /// Delete a record; deleting a missing one is not an error.
    Delete {
        /// Its kind.
        kind: String,
        /// Its id.
        id: i64,
    },
    /// Delete every record that belongs to an app (the app's own record included).
    DeleteApp {
        /// The app's id.
        app: i64,
    },
    /// Record the last id handed out for a kind (insert or replace).
    LastId {
        /// The kind.
        kind: String,
        /// The last id handed out.
        last: i64,
    },
}

/// Everything [`crate::Store::paas_load`] reads back.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PaasSnapshot {
    /// Every record, ordered by kind, then id.
    pub records: Vec<PaasRecord>,
    /// The last id handed out per kind.
    pub last_ids: std::collections::BTreeMap<String, i64>,
}

/// Refuses what the tables cannot hold, before any transaction starts: kinds that are not
/// short lowercase words, and U+0000 in a body.
pub(crate) fn check(changes: &[PaasChange]) -> Result<(), crate::StoreError> {
    for change in changes {
        let kind = match change {
            PaasChange::Put(record) => {
                if record.body.contains('\0') {
                    return Err(crate::StoreError::PaasNul {
                        kind: record.kind.clone(),
                        id: record.id,
                    });
                }
                Some(&record.kind)
            }
            PaasChange::Delete { kind, .. } | PaasChange::LastId { kind, .. } => Some(kind),
            PaasChange::DeleteApp { .. } => None,
        };
        if let Some(kind) = kind
            && !valid_kind(kind)
        {
            return Err(crate::StoreError::PaasKind {
                kind: kind.chars().take(40).collect(),
            });
        }
    }
    Ok(())
}

fn valid_kind(kind: &str) -> bool {
    (1..=32).contains(&kind.len())
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The snapshot of loaded rows `kind, id, app, body` and counters `kind, last`.
pub(crate) fn snapshot(
    rows: Vec<(String, i64, i64, String)>,
    counters: Vec<(String, i64)>,
) -> PaasSnapshot {
    PaasSnapshot {
        records: rows
            .into_iter()
            .map(|(kind, id, app, body)| PaasRecord {
                kind,
                id,
                app,
                body,
            })
            .collect(),
        last_ids: counters.into_iter().collect(),
    }
}

/// The statements of the schema step that adds the PaaS tables (the same on both backends).
pub(crate) const SCHEMA: &str = "\
CREATE TABLE paas_records (kind TEXT NOT NULL, id BIGINT NOT NULL, app BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id));
CREATE INDEX paas_records_app ON paas_records (app);
CREATE TABLE paas_counters (kind TEXT PRIMARY KEY, last BIGINT NOT NULL);
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_short_lowercase_words() {
        assert!(valid_kind("app"));
        assert!(valid_kind("build_log2"));
        for bad in ["", "App", "a-b", "a b", &"x".repeat(33), "é"] {
            assert!(!valid_kind(bad), "{bad:?}");
        }
    }

    #[test]
    fn nul_bodies_and_bad_kinds_are_refused() {
        let put = |kind: &str, body: &str| {
            PaasChange::Put(PaasRecord {
                kind: kind.into(),
                id: 1,
                app: 1,
                body: body.into(),
            })
        };
        assert!(check(&[put("app", "{}")]).is_ok());
        assert!(check(&[put("app", "a\0b")]).is_err());
        assert!(check(&[put("Bad", "{}")]).is_err());
        assert!(
            check(&[PaasChange::LastId {
                kind: "".into(),
                last: 1
            }])
            .is_err()
        );
        assert!(check(&[PaasChange::DeleteApp { app: 3 }]).is_ok());
    }
}
