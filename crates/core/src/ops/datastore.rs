//! Datastore operations: allocate from a template, delete, enable/disable; and the
//! monitoring of their capacity (the front-end filesystem each one's directory is on).

use std::collections::BTreeSet;
use std::path::Path;

use nubo_types::states::{DatastoreState, DatastoreType, DiskType};
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::generic::{check_name, fetch_for, parse_template};
use super::owner::new_meta;
use crate::Core;
use crate::auth::{Caller, authorize_create};
use crate::model::{Cluster, Datastore};

impl Core {
    /// Creates a datastore from a template (NAME, TYPE, DS_MAD, TM_MAD, ...) in `cluster`
    /// (-1: the default cluster).
    pub async fn datastore_allocate(
        &self,
        caller: &Caller,
        text: &str,
        cluster: Oid,
    ) -> Result<Oid> {
        let alloc = |m: String| Error::allocate(ObjectKind::Datastore, m);
        let template = parse_template(text).map_err(|e| alloc(e.to_string()))?;
        let name = template
            .get("NAME")
            .map(str::to_string)
            .ok_or_else(|| alloc("No NAME in template".into()))?;
        let ds_type = match template.get("TYPE") {
            None => DatastoreType::Image,
            Some(t) => DatastoreType::from_name(t).ok_or_else(|| {
                alloc(format!(
                    "Invalid TYPE \"{t}\", must be IMAGE_DS, SYSTEM_DS, FILE_DS or BACKUP_DS"
                ))
            })?,
        };
        let ds_mad = template.get("DS_MAD").unwrap_or_default().to_string();
        if ds_mad.is_empty() && ds_type != DatastoreType::System {
            return Err(alloc("No DS_MAD in template.".into()));
        }
        let tm_mad = template
            .get("TM_MAD")
            .map(str::to_string)
            .ok_or_else(|| alloc("No TM_MAD in template.".into()))?;
        let disk_type = match template.get("DISK_TYPE") {
            None => DiskType::File,
            Some(t) => {
                DiskType::from_name(t).ok_or_else(|| alloc(format!("Invalid DISK_TYPE \"{t}\"")))?
            }
        };
        let cluster_id = if cluster == -1 { 0 } else { cluster };
        let base = self.config().datastore_base.clone();
        self.write(move |tx| {
            authorize_create(tx.state, caller, ObjectKind::Datastore)?;
            check_name::<Datastore>(tx.state, &name, -1, None).map_err(|e| alloc(e.to_string()))?;
            let mut cluster = (**tx.state.get::<Cluster>(cluster_id)?).clone();
            let id = tx.next_oid(ObjectKind::Datastore);
            cluster.datastores.insert(id);
            tx.put(cluster)?;
            let mut template = template;
            template.remove("NAME");
            template.set("TYPE", ds_type.name());
            tx.put(Datastore {
                meta: new_meta(caller, id, name),
                ds_mad: if ds_mad.is_empty() {
                    "-".into()
                } else {
                    ds_mad
                },
                tm_mad,
                base_path: base.join(id.to_string()).to_string_lossy().into_owned(),
                ds_type,
                disk_type,
                state: DatastoreState::Ready,
                clusters: BTreeSet::from([cluster_id]),
                total_mb: 0,
                free_mb: 0,
                used_mb: 0,
                images: BTreeSet::new(),
                template,
            })?;
            Ok(id)
        })
        .await
    }

    /// Deletes a datastore that holds no images.
    pub async fn datastore_delete(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(|tx| {
            let ds = fetch_for::<Datastore>(tx.state, caller, id, AuthOp::Admin)?;
            if !ds.images.is_empty() {
                return Err(Error::action(format!(
                    "Datastore {id} is not empty: it holds {} images",
                    ds.images.len()
                )));
            }
            for cid in &ds.clusters {
                if let Some(cluster) = tx.state.clusters.get(cid) {
                    let mut cluster = (**cluster).clone();
                    cluster.datastores.remove(&id);
                    tx.put(cluster)?;
                }
            }
            tx.delete::<Datastore>(id);
            Ok(id)
        })
        .await
    }

    /// Enables or disables a datastore.
    pub async fn datastore_enable(&self, caller: &Caller, id: Oid, enable: bool) -> Result<Oid> {
        self.write(|tx| {
            let mut ds = (*fetch_for::<Datastore>(tx.state, caller, id, AuthOp::Manage)?).clone();
            if ds.ds_type != DatastoreType::System {
                return Err(Error::action(format!(
                    "Only SYSTEM_DS datastores can be enabled or disabled; datastore {id} is {}",
                    ds.ds_type.name()
                )));
            }
            ds.state = if enable {
                DatastoreState::Ready
            } else {
                DatastoreState::Disabled
            };
            tx.put(ds)?;
            Ok(id)
        })
        .await
    }

    /// Measures the filesystem that holds each datastore's directory on the front-end (as
    /// OpenNebula's datastore monitor runs `df` there) and records TOTAL_MB, FREE_MB and
    /// USED_MB where they changed. Run by every monitoring round.
    pub(crate) async fn monitor_datastores(&self) -> Result<()> {
        let dirs: Vec<(Oid, String)> = self.read(|state| {
            Ok(state
                .datastores
                .values()
                .map(|d| (d.meta.id, d.base_path.clone()))
                .collect())
        })?;
        let measured = tokio::task::spawn_blocking(move || {
            dirs.into_iter()
                .filter_map(|(id, dir)| fs_capacity(Path::new(&dir)).map(|c| (id, c)))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| Error::internal(format!("datastore monitoring stopped: {e}")))?;
        self.write(move |tx| {
            for (id, (total_mb, free_mb, used_mb)) in measured {
                let Ok(ds) = tx.get::<Datastore>(id) else {
                    continue;
                };
                if (ds.total_mb, ds.free_mb, ds.used_mb) != (total_mb, free_mb, used_mb) {
                    let mut ds = (*ds).clone();
                    ds.total_mb = total_mb;
                    ds.free_mb = free_mb;
                    ds.used_mb = used_mb;
                    tx.put(ds)?;
                }
            }
            Ok(())
        })
        .await
    }
}

/// (TOTAL_MB, FREE_MB, USED_MB) of the filesystem holding `dir`, or its nearest existing
/// ancestor while the datastore has no directory yet, as `df -B1M` counts them: free is
/// what unprivileged users may still use, used is what is taken.
pub(crate) fn fs_capacity(dir: &Path) -> Option<(i64, i64, i64)> {
    let at = dir.ancestors().find(|p| p.exists())?;
    let st = rustix::fs::statvfs(at).ok()?;
    let frsize = if st.f_frsize > 0 {
        st.f_frsize
    } else {
        st.f_bsize
    };
    let mb = |blocks: u64| i64::try_from((u128::from(blocks) * u128::from(frsize)) >> 20).ok();
    let total = mb(st.f_blocks)?;
    let free = mb(st.f_bavail)?;
    let used = mb(st.f_blocks.saturating_sub(st.f_bfree))?;
    Some((total, free, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_that_of_the_filesystem_holding_the_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (total, free, used) = fs_capacity(dir.path()).expect("a filesystem");
        assert!(total > 0 && free >= 0 && used >= 0 && free <= total && used <= total);
        // a datastore without its directory yet: the filesystem it would be made on
        let missing = dir.path().join("datastores/7");
        let again = fs_capacity(&missing).expect("an ancestor exists");
        assert_eq!(again.0, total);
    }
}
