//! VM snapshots (`vm.snapshot{create,revert,delete}`) and disk snapshots
//! (`vm.disksnapshot{create,revert,delete,rename}`).

use super::*;

impl Core {
    /// `vm.snapshotcreate`: takes a snapshot of a RUNNING VM; returns its id.
    pub async fn vm_snapshot_create(&self, caller: &Caller, id: Oid, name: &str) -> Result<i32> {
        let name = name.to_string();
        self.reconfigure(
            caller,
            id,
            "snapshot-create",
            Reconfig::SnapshotCreate,
            move |_, vm| {
                let snap_id = next_id(&vm.template, "SNAPSHOT", "SNAPSHOT_ID");
                let name = if name.trim().is_empty() {
                    format!("snapshot-{snap_id}")
                } else {
                    name
                };
                Ok((
                    Some(PendingChange::SnapshotCreate { snap_id, name }),
                    snap_id,
                ))
            },
        )
        .await
    }

    /// `vm.snapshotrevert` and `vm.snapshotdelete`.
    pub async fn vm_snapshot_change(
        &self,
        caller: &Caller,
        id: Oid,
        snap_id: i32,
        delete: bool,
    ) -> Result<Oid> {
        let (what, r) = if delete {
            ("snapshot-delete", Reconfig::SnapshotDelete)
        } else {
            ("snapshot-revert", Reconfig::SnapshotRevert)
        };
        self.reconfigure(caller, id, what, r, move |_, vm| {
            if find(&vm.template, "SNAPSHOT", "SNAPSHOT_ID", snap_id).is_none() {
                return Err(Error::action(format!(
                    "VM {} has no snapshot with id {snap_id}",
                    vm.meta.id
                )));
            }
            let change = if delete {
                PendingChange::SnapshotDelete { snap_id }
            } else {
                PendingChange::SnapshotRevert { snap_id }
            };
            Ok((Some(change), id))
        })
        .await
    }

    /// `vm.disksnapshotcreate`: returns the snapshot id.
    pub async fn vm_disk_snapshot_create(
        &self,
        caller: &Caller,
        id: Oid,
        disk_id: i32,
        name: &str,
    ) -> Result<i32> {
        let name = name.to_string();
        self.reconfigure(
            caller,
            id,
            "disk-snapshot-create",
            Reconfig::DiskSnapshotCreate,
            move |_, vm| {
                let at = find(&vm.template, "DISK", "DISK_ID", disk_id)
                    .ok_or_else(|| no_disk(vm.meta.id, disk_id))?;
                let pairs = vm.template.attrs[at].value.as_vector().unwrap_or_default();
                if get(pairs, "IMAGE_ID").is_none() || get(pairs, "READONLY") == Some("YES") {
                    return Err(Error::action(format!(
                        "Disk {disk_id} cannot have snapshots: it is volatile or read-only"
                    )));
                }
                let snaps = disk_snapshots_mut(vm, disk_id);
                let snap_id = snaps.next_snapshot;
                snaps.next_snapshot += 1;
                let name = if name.trim().is_empty() {
                    format!("snapshot-{snap_id}")
                } else {
                    name
                };
                let change = PendingChange::DiskSnapshotCreate {
                    disk_id,
                    snap_id,
                    name,
                };
                Ok((Some(change), snap_id))
            },
        )
        .await
    }

    /// `vm.disksnapshotrevert` and `vm.disksnapshotdelete`.
    pub async fn vm_disk_snapshot_change(
        &self,
        caller: &Caller,
        id: Oid,
        disk_id: i32,
        snap_id: i32,
        delete: bool,
    ) -> Result<Oid> {
        let (what, r) = if delete {
            ("disk-snapshot-delete", Reconfig::DiskSnapshotDelete)
        } else {
            ("disk-snapshot-revert", Reconfig::DiskSnapshotRevert)
        };
        self.reconfigure(caller, id, what, r, move |_, vm| {
            let at = find(&vm.template, "DISK", "DISK_ID", disk_id)
                .ok_or_else(|| Error::action("VM disk does not exist"))?;
            let persistent = vm.template.attrs[at].value.as_vector().is_some_and(|p| {
                get(p, "PERSISTENT").is_some_and(|v| v.eq_ignore_ascii_case("YES"))
            });
            let snaps = vm
                .disk_snapshots
                .iter()
                .find(|s| s.disk_id == disk_id)
                .ok_or_else(|| Error::action("Snapshot does not exist"))?;
            if !snaps.snapshots.iter().any(|x| x.id == snap_id) {
                return Err(Error::action("Snapshot does not exist"));
            }
            if delete {
                test_delete(snaps, snap_id, persistent).map_err(Error::action)?;
                Ok((
                    Some(PendingChange::DiskSnapshotDelete { disk_id, snap_id }),
                    id,
                ))
            } else {
                Ok((
                    Some(PendingChange::DiskSnapshotRevert { disk_id, snap_id }),
                    id,
                ))
            }
        })
        .await
    }

    /// `vm.disksnapshotrename`: renames a disk snapshot (no driver operation).
    pub async fn vm_disk_snapshot_rename(
        &self,
        caller: &Caller,
        id: Oid,
        disk_id: i32,
        snap_id: i32,
        name: &str,
    ) -> Result<Oid> {
        let name = name.trim().to_string();
        if name.is_empty() {
            return Err(Error::action("The new snapshot name cannot be empty"));
        }
        self.change_now(caller, id, move |_, vm| {
            let snap = vm
                .disk_snapshots
                .iter_mut()
                .find(|s| s.disk_id == disk_id)
                .and_then(|s| s.snapshots.iter_mut().find(|x| x.id == snap_id))
                .ok_or_else(|| {
                    Error::action(format!("Disk {disk_id} has no snapshot with id {snap_id}"))
                })?;
            snap.name = name;
            Ok(id)
        })
        .await
    }
}

/// The children of snapshot `id`.
fn children(snaps: &DiskSnapshots, id: i32) -> Vec<i32> {
    snaps
        .snapshots
        .iter()
        .filter(|s| s.parent == id)
        .map(|s| s.id)
        .collect()
}

/// Whether snapshot `id` may be deleted, as OpenNebula's `Snapshots::test_delete` decides
/// for a disk whose ALLOW_ORPHANS is NO (snapshots form a chain): a snapshot without
/// children goes (the active one too: its parent becomes active), and so does one in the
/// middle of a straight chain; the refusals carry oned's words.
fn test_delete(
    snaps: &DiskSnapshots,
    id: i32,
    persistent: bool,
) -> std::result::Result<(), &'static str> {
    if persistent && id == 0 {
        return Err("Cannot delete snapshot 0 for persistent disk images");
    }
    let active = snaps.current_base();
    let mine = children(snaps, id);
    match mine.as_slice() {
        [] => return Ok(()),
        [_, _, ..] => return Err("Cannot delete snapshot with more than one children"),
        [_] if active == id => return Err("Cannot delete the active snapshot with children"),
        [child] => {
            let theirs = children(snaps, *child).len();
            if theirs > 1 || (theirs == 1 && active == *child) {
                return Err("Cannot delete snapshot if child has children");
            }
        }
    }
    let parent = snaps
        .snapshots
        .iter()
        .find(|s| s.id == id)
        .map_or(-1, |s| s.parent);
    if parent != -1 && children(snaps, parent).len() > 1 {
        return Err("Cannot delete snapshot if parent has more than one child");
    }
    Ok(())
}

/// Removes snapshot `id` as OpenNebula's `Snapshots::delete_snapshot` does in a chain: its
/// single child (if any) takes its parent, and if it was the active one its parent becomes
/// active.
pub(super) fn delete_snapshot(snaps: &mut DiskSnapshots, id: i32) {
    let Some(at) = snaps.snapshots.iter().position(|s| s.id == id) else {
        return;
    };
    let gone = snaps.snapshots.remove(at);
    if gone.parent == -1 {
        return;
    }
    let mine = children(snaps, id);
    if let [child] = mine.as_slice()
        && let Some(c) = snaps.snapshots.iter_mut().find(|s| s.id == *child)
    {
        c.parent = gone.parent;
    }
    if gone.active
        && let Some(p) = snaps.snapshots.iter_mut().find(|s| s.id == gone.parent)
    {
        p.active = true;
    }
}
