//! Finishing an in-place change when its driver operation succeeded, or undoing it
//! when it failed (the life cycle's CommitReconfig and RollbackReconfig effects).

use super::*;

/// Finishes the pending change of `vm` after its driver operation succeeded.
pub(crate) fn commit(tx: &mut Tx, vm: &mut Vm) -> Result<()> {
    let Some(change) = vm.pending.take() else {
        return Ok(());
    };
    match change {
        PendingChange::AttachDisk { disk_id } => clear_attach(vm, "DISK", "DISK_ID", disk_id),
        PendingChange::AttachNic { nic_id } => clear_nic_attach(vm, nic_id),
        PendingChange::DetachDisk { disk_id } => {
            if let Some(at) = find(&vm.template, "DISK", "DISK_ID", disk_id) {
                let before = resources::system_disk_mb(&vm.template);
                let attr = vm.template.attrs.remove(at);
                resources::release_disk(tx, vm, attr.value.as_vector().unwrap_or_default())?;
                vm.disk_snapshots.retain(|s| s.disk_id != disk_id);
                recharge_system_disk(tx, vm, before)?;
            }
        }
        PendingChange::DetachNic { nic_id } => {
            if let Some(at) = find_nic(&vm.template, nic_id) {
                let pairs = vm.template.attrs[at]
                    .value
                    .as_vector()
                    .unwrap_or_default()
                    .to_vec();
                resources::release_nic(tx, vm, &pairs)?;
                vm.template.attrs.remove(at);
            }
        }
        PendingChange::UpdateNic { .. }
        | PendingChange::DiskResize { .. }
        | PendingChange::Resize { .. } => {}
        // LifeCycleManager::trigger_exec_success / trigger_exec_cancel_success.
        PendingChange::Exec => super::exec::set_status(vm, "EXECUTING"),
        PendingChange::ExecCancel => super::exec::set_status(vm, "CANCELLED"),
        PendingChange::SnapshotCreate { snap_id, name } => {
            for snap in vm
                .template
                .attrs
                .iter_mut()
                .filter(|a| a.name == "SNAPSHOT")
            {
                if let Value::Vector(p) = &mut snap.value {
                    p.retain(|(k, _)| k != "ACTIVE");
                }
            }
            let pairs = [
                ("ACTIVE", "YES".to_string()),
                ("HYPERVISOR_ID", format!("snap-{snap_id}")),
                ("NAME", name),
                ("SNAPSHOT_ID", snap_id.to_string()),
                ("SYSTEM_DISK_SIZE", "0".to_string()),
                ("TIME", now().to_string()),
            ];
            push_system(vm, Attribute::vector("SNAPSHOT", pairs));
        }
        PendingChange::SnapshotRevert { snap_id } => {
            let want = snap_id.to_string();
            for snap in vm
                .template
                .attrs
                .iter_mut()
                .filter(|a| a.name == "SNAPSHOT")
            {
                if let Value::Vector(p) = &mut snap.value {
                    p.retain(|(k, _)| k != "ACTIVE");
                    if get(p, "SNAPSHOT_ID") == Some(&want) {
                        p.insert(0, ("ACTIVE".into(), "YES".into()));
                    }
                }
            }
        }
        PendingChange::SnapshotDelete { snap_id } => {
            if let Some(at) = find(&vm.template, "SNAPSHOT", "SNAPSHOT_ID", snap_id) {
                vm.template.attrs.remove(at);
            }
        }
        PendingChange::DiskSnapshotCreate {
            disk_id,
            snap_id,
            name,
        } => {
            let size = find(&vm.template, "DISK", "DISK_ID", disk_id)
                .and_then(|at| vm.template.attrs[at].value.as_vector())
                .and_then(|p| get(p, "SIZE").and_then(|s| s.parse().ok()))
                .unwrap_or(0);
            let snaps = disk_snapshots_mut(vm, disk_id);
            let parent = snaps.current_base();
            for s in &mut snaps.snapshots {
                s.active = false;
            }
            snaps.snapshots.push(ImageSnapshot {
                id: snap_id,
                name,
                date: now(),
                parent,
                size,
                active: true,
            });
        }
        PendingChange::DiskSnapshotRevert { disk_id, snap_id } => {
            let snaps = disk_snapshots_mut(vm, disk_id);
            for s in &mut snaps.snapshots {
                s.active = s.id == snap_id;
            }
        }
        PendingChange::DiskSnapshotDelete { disk_id, snap_id } => {
            snapshots::delete_snapshot(disk_snapshots_mut(vm, disk_id), snap_id);
            vm.disk_snapshots.retain(|s| !s.snapshots.is_empty());
        }
        PendingChange::DiskSaveas { image_id, .. } => {
            if let Ok(mut image) = tx.get_mut::<Image>(image_id) {
                image.state = ImageState::Ready;
                tx.put(image)?;
            }
        }
    }
    Ok(())
}

/// Undoes the pending change of `vm` after its driver operation failed.
pub(crate) fn rollback(tx: &mut Tx, vm: &mut Vm) -> Result<()> {
    let Some(change) = vm.pending.take() else {
        return Ok(());
    };
    match change {
        // LifeCycleManager::trigger_exec_failure; a failed cancel leaves the command
        // running.
        PendingChange::Exec => super::exec::set_status(vm, "ERROR"),
        PendingChange::ExecCancel => {}
        PendingChange::AttachDisk { disk_id } => {
            if let Some(at) = find(&vm.template, "DISK", "DISK_ID", disk_id) {
                let before = resources::system_disk_mb(&vm.template);
                let attr = vm.template.attrs.remove(at);
                resources::release_disk(tx, vm, attr.value.as_vector().unwrap_or_default())?;
                recharge_system_disk(tx, vm, before)?;
            }
        }
        PendingChange::AttachNic { nic_id } => {
            if let Some(at) = find_nic(&vm.template, nic_id) {
                let pairs = vm.template.attrs[at]
                    .value
                    .as_vector()
                    .unwrap_or_default()
                    .to_vec();
                resources::release_nic(tx, vm, &pairs)?;
                vm.template.attrs.remove(at);
            }
        }
        PendingChange::DetachDisk { disk_id } => clear_attach(vm, "DISK", "DISK_ID", disk_id),
        PendingChange::DetachNic { nic_id } => clear_nic_attach(vm, nic_id),
        PendingChange::UpdateNic { nic_id, before } => {
            if let Some(at) = find(&vm.template, "NIC", "NIC_ID", nic_id) {
                let now_groups = vm.template.attrs[at]
                    .value
                    .as_vector()
                    .map(resources::security_groups)
                    .unwrap_or_default();
                let old_groups = resources::security_groups(&before);
                for sg in now_groups.iter().filter(|g| !old_groups.contains(g)) {
                    resources::leave_group(tx, vm.meta.id, *sg)?;
                }
                for sg in old_groups {
                    resources::join_group(tx, vm.meta.id, sg)?;
                }
                vm.template.attrs[at].value = Value::Vector(before);
            }
        }
        PendingChange::DiskResize { disk_id, before } => {
            if let Some(at) = find(&vm.template, "DISK", "DISK_ID", disk_id) {
                let total = resources::system_disk_mb(&vm.template);
                if let Some(p) = vector_mut(&mut vm.template, at) {
                    set(p, "SIZE", before.to_string());
                }
                recharge_system_disk(tx, vm, total)?;
            }
        }
        PendingChange::Resize {
            cpu,
            vcpu,
            memory_mb,
        } => super::sizing::set_capacity(tx, vm, cpu, vcpu, memory_mb, false)?,
        PendingChange::DiskSaveas { image_id, .. } => {
            if let Ok(mut image) = tx.get_mut::<Image>(image_id) {
                image.state = ImageState::Error;
                tx.put(image)?;
            }
        }
        PendingChange::SnapshotCreate { .. }
        | PendingChange::SnapshotRevert { .. }
        | PendingChange::SnapshotDelete { .. }
        | PendingChange::DiskSnapshotCreate { .. }
        | PendingChange::DiskSnapshotRevert { .. }
        | PendingChange::DiskSnapshotDelete { .. } => {}
    }
    Ok(())
}

/// A NIC or NIC alias by NIC_ID.
fn find_nic(t: &Template, nic_id: i32) -> Option<usize> {
    find(t, "NIC", "NIC_ID", nic_id).or_else(|| find(t, "NIC_ALIAS", "NIC_ID", nic_id))
}

fn clear_nic_attach(vm: &mut Vm, nic_id: i32) {
    clear_attach(vm, "NIC", "NIC_ID", nic_id);
    clear_attach(vm, "NIC_ALIAS", "NIC_ID", nic_id);
}
