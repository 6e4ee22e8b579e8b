//! Verbs that change a VM in place: resize, updateconf, disks (attach, detach, resize,
//! save, snapshots), NICs, VM snapshots and scheduled actions.

use nubo_xmlrpc::Value;

use super::Vm;
use crate::ClientError;
use crate::resource::Resource;

impl Resource<'_, Vm> {
    /// `vm.resize(id, "CPU=… VCPU=… MEMORY=…", enforce)`.
    pub fn resize(&self, id: i32, template: &str, enforce: bool) -> Result<(), ClientError> {
        self.act(
            "resize",
            id,
            vec![Value::from(template), Value::Bool(enforce)],
        )
    }

    /// `vm.updateconf(id, tmpl, append)`: changes OS, FEATURES, CONTEXT, GRAPHICS….
    pub fn updateconf(&self, id: i32, template: &str, append: bool) -> Result<(), ClientError> {
        self.act(
            "updateconf",
            id,
            vec![Value::from(template), Value::Int(i32::from(append))],
        )
    }

    /// `vm.attach(id, "DISK=[…]")`.
    pub fn disk_attach(&self, id: i32, template: &str) -> Result<(), ClientError> {
        self.act("attach", id, vec![Value::from(template)])
    }

    /// `vm.detach(id, disk)`.
    pub fn disk_detach(&self, id: i32, disk: i32) -> Result<(), ClientError> {
        self.act("detach", id, vec![Value::Int(disk)])
    }

    /// `vm.diskresize(id, disk, size)`: the new size in MB.
    pub fn disk_resize(&self, id: i32, disk: i32, size_mb: u64) -> Result<(), ClientError> {
        self.act(
            "diskresize",
            id,
            vec![Value::Int(disk), Value::from(size_mb.to_string().as_str())],
        )
    }

    /// `vm.disksaveas(id, disk, name, type, snap)`: copies a disk (or one of its snapshots,
    /// snap -1 for none) into a new image. Returns the image's id.
    pub fn disk_saveas(
        &self,
        id: i32,
        disk: i32,
        name: &str,
        image_type: &str,
        snap: i32,
    ) -> Result<i32, ClientError> {
        self.call_id(
            "disksaveas",
            vec![
                Value::Int(id),
                Value::Int(disk),
                Value::from(name),
                Value::from(image_type),
                Value::Int(snap),
            ],
        )
    }

    /// `vm.disksnapshotcreate(id, disk, name)`. Returns the snapshot's id.
    pub fn disk_snapshot_create(&self, id: i32, disk: i32, name: &str) -> Result<i32, ClientError> {
        self.call_id(
            "disksnapshotcreate",
            vec![Value::Int(id), Value::Int(disk), Value::from(name)],
        )
    }

    /// `vm.disksnapshotrevert(id, disk, snap)`.
    pub fn disk_snapshot_revert(&self, id: i32, disk: i32, snap: i32) -> Result<(), ClientError> {
        self.act(
            "disksnapshotrevert",
            id,
            vec![Value::Int(disk), Value::Int(snap)],
        )
    }

    /// `vm.disksnapshotdelete(id, disk, snap)`.
    pub fn disk_snapshot_delete(&self, id: i32, disk: i32, snap: i32) -> Result<(), ClientError> {
        self.act(
            "disksnapshotdelete",
            id,
            vec![Value::Int(disk), Value::Int(snap)],
        )
    }

    /// `vm.disksnapshotrename(id, disk, snap, name)`.
    pub fn disk_snapshot_rename(
        &self,
        id: i32,
        disk: i32,
        snap: i32,
        name: &str,
    ) -> Result<(), ClientError> {
        self.act(
            "disksnapshotrename",
            id,
            vec![Value::Int(disk), Value::Int(snap), Value::from(name)],
        )
    }

    /// `vm.attachnic(id, "NIC=[…]")`.
    pub fn nic_attach(&self, id: i32, template: &str) -> Result<(), ClientError> {
        self.act("attachnic", id, vec![Value::from(template)])
    }

    /// `vm.detachnic(id, nic)`.
    pub fn nic_detach(&self, id: i32, nic: i32) -> Result<(), ClientError> {
        self.act("detachnic", id, vec![Value::Int(nic)])
    }

    /// `vm.updatenic(id, nic, tmpl, append)`.
    pub fn nic_update(
        &self,
        id: i32,
        nic: i32,
        template: &str,
        append: bool,
    ) -> Result<(), ClientError> {
        self.act(
            "updatenic",
            id,
            vec![
                Value::Int(nic),
                Value::from(template),
                Value::Int(i32::from(append)),
            ],
        )
    }

    /// `vm.snapshotcreate(id, name)`. Returns the snapshot's id.
    pub fn snapshot_create(&self, id: i32, name: &str) -> Result<i32, ClientError> {
        self.call_id("snapshotcreate", vec![Value::Int(id), Value::from(name)])
    }

    /// `vm.snapshotrevert(id, snap)`.
    pub fn snapshot_revert(&self, id: i32, snap: i32) -> Result<(), ClientError> {
        self.act("snapshotrevert", id, vec![Value::Int(snap)])
    }

    /// `vm.snapshotdelete(id, snap)`.
    pub fn snapshot_delete(&self, id: i32, snap: i32) -> Result<(), ClientError> {
        self.act("snapshotdelete", id, vec![Value::Int(snap)])
    }

    /// `vm.schedadd(id, "SCHED_ACTION=[…]")`. Returns the scheduled action's id.
    pub fn sched_add(&self, id: i32, template: &str) -> Result<i32, ClientError> {
        self.call_id("schedadd", vec![Value::Int(id), Value::from(template)])
    }

    /// `vm.schedupdate(id, sa, "SCHED_ACTION=[…]")`.
    pub fn sched_update(&self, id: i32, sa: i32, template: &str) -> Result<(), ClientError> {
        self.act(
            "schedupdate",
            id,
            vec![Value::Int(sa), Value::from(template)],
        )
    }

    /// `vm.scheddelete(id, sa)`.
    pub fn sched_delete(&self, id: i32, sa: i32) -> Result<(), ClientError> {
        self.act("scheddelete", id, vec![Value::Int(sa)])
    }
}
