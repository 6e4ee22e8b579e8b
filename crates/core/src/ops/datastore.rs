//! Datastore operations: allocate from a template, delete, enable/disable; and the
//! monitoring of their capacity (the front-end filesystem each one's directory is on).

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nubo_types::states::{DatastoreState, DatastoreType, DiskType};
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::generic::{check_name, fetch_for, parse_template};
use super::owner::new_meta;
use crate::Core;
use crate::auth::{Caller, authorize_create_in};
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
        let cluster_id = if cluster == -1 { 0 } else { cluster };
        // As in oned, the cluster and the rights are checked before the template's
        // contents (DatastorePool::allocate reads those); checked again in the write.
        self.read(|state| {
            let cluster = state.get::<Cluster>(cluster_id)?;
            authorize_create_in(state, caller, ObjectKind::Datastore, cluster)
        })?;
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
        let base = self.config().datastore_base.clone();
        self.write(move |tx| {
            // oned's SharedAPI::allocate: the cluster must exist, and the caller may
            // create datastores and administer it (-1 is the default cluster there too).
            let mut cluster = (**tx.state.get::<Cluster>(cluster_id)?).clone();
            authorize_create_in(tx.state, caller, ObjectKind::Datastore, &cluster)?;
            check_name::<Datastore>(tx.state, &name, -1, None).map_err(|e| alloc(e.to_string()))?;
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
                // DatastorePool::drop, in SharedAPI::delete_object's "Cannot delete datastore. "
                return Err(Error::action(format!(
                    "Cannot delete datastore. Datastore {id} is not empty."
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
                // Datastore::enable, answered INTERNAL by DatastoreAPI
                return Err(Error::internal("Only SYSTEM_DS can be disabled or enabled"));
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
    /// USED_MB where they changed. Run by the datastore monitoring task every interval.
    /// A datastore whose measurement does not answer within [`MEASURE_TIMEOUT`] (a hung
    /// NFS or Ceph mount) keeps its last figures, and is not measured again while that
    /// measurement is still stuck (`busy` holds the datastores being measured).
    pub(crate) async fn monitor_datastores(&self, busy: &Busy) -> Result<()> {
        let dirs: Vec<(Oid, String)> = self.read(|state| {
            Ok(state
                .datastores
                .values()
                .map(|d| (d.meta.id, d.base_path.clone()))
                .collect())
        })?;
        let measured = measure_all(dirs, busy, MEASURE_TIMEOUT, fs_capacity).await;
        if measured.is_empty() {
            return Ok(());
        }
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

/// How long one datastore's measurement may take before its figures are left as they are.
pub(crate) const MEASURE_TIMEOUT: Duration = Duration::from_secs(5);

/// The datastores whose measurement is under way (possibly stuck in the kernel).
pub(crate) type Busy = Arc<Mutex<HashSet<Oid>>>;

type Capacity = (i64, i64, i64);

/// Measures each of `dirs` with `measure` on the blocking pool, all at once, and returns
/// the figures of those that answered within `timeout`. A datastore still in `busy` (its
/// previous measurement has not returned) is skipped; one that times out stays in `busy`
/// until its measurement returns, and is warned about once.
pub(crate) async fn measure_all(
    dirs: Vec<(Oid, String)>,
    busy: &Busy,
    timeout: Duration,
    measure: fn(&Path) -> Option<Capacity>,
) -> Vec<(Oid, Capacity)> {
    let mut running = Vec::new();
    for (id, dir) in dirs {
        {
            let mut set = busy.lock().unwrap_or_else(|p| p.into_inner());
            if !set.insert(id) {
                continue;
            }
        }
        let done = busy.clone();
        let handle = tokio::task::spawn_blocking(move || {
            let figures = measure(Path::new(&dir));
            done.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            figures
        });
        running.push((id, handle));
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut measured = Vec::new();
    for (id, handle) in running {
        match tokio::time::timeout_at(deadline, handle).await {
            Ok(Ok(Some(figures))) => measured.push((id, figures)),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                busy.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                tracing::warn!(datastore = id, error = %e, "datastore measurement failed");
            }
            Err(_) => tracing::warn!(
                datastore = id,
                "datastore measurement did not answer within {timeout:?} (a hung mount?): \
                 keeping its last figures until it returns"
            ),
        }
    }
    measured
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

    fn hangs(_: &Path) -> Option<Capacity> {
        std::thread::sleep(Duration::from_millis(1500));
        Some((1, 1, 1))
    }

    fn answers(_: &Path) -> Option<Capacity> {
        Some((3, 2, 1))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hung_measurement_times_out_and_is_not_started_again() {
        let busy = Busy::default();
        let dirs = || vec![(7, "/hung".to_string())];
        let started = std::time::Instant::now();
        let got = measure_all(dirs(), &busy, Duration::from_millis(200), hangs).await;
        assert!(got.is_empty(), "{got:?}");
        assert!(
            started.elapsed() < Duration::from_millis(1000),
            "waited for the hung one"
        );
        assert!(busy.lock().expect("lock").contains(&7));
        // while it is stuck, the next round skips it at once (even with a measure that answers)
        let got = measure_all(dirs(), &busy, Duration::from_millis(200), answers).await;
        assert!(
            got.is_empty(),
            "measured a datastore still being measured: {got:?}"
        );
        // once it has returned, it is measured again
        tokio::time::sleep(Duration::from_millis(1600)).await;
        assert!(busy.lock().expect("lock").is_empty());
        let got = measure_all(dirs(), &busy, Duration::from_millis(200), answers).await;
        assert_eq!(got, vec![(7, (3, 2, 1))]);
        // the others are measured while one hangs
        let got = measure_all(
            vec![(1, "/a".into()), (2, "/b".into())],
            &busy,
            Duration::from_millis(200),
            answers,
        )
        .await;
        assert_eq!(got.len(), 2);
    }
}
