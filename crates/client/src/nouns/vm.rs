//! Verbs of virtual machines and VM templates beyond the generic ones: creation, the life
//! cycle (`vm.action`, deploy, migrate, recover), disks, NICs, snapshots, resizing,
//! scheduled actions, state-filtered pools and template instantiation.

use nubo_types::states::VmState;
use nubo_xmlrpc::Value;

use super::{Vm, VmTemplate};
use crate::ClientError;
use crate::resource::{Filter, Resource};

/// The names `vm.action` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmAction {
    /// `terminate`: shut down and end the VM (DONE).
    Terminate,
    /// `terminate-hard`: end it without a clean shutdown.
    TerminateHard,
    /// `undeploy`: shut down and move the disks back to the datastores.
    Undeploy,
    /// `undeploy-hard`.
    UndeployHard,
    /// `poweroff`: shut down, keeping the VM on its host.
    Poweroff,
    /// `poweroff-hard`.
    PoweroffHard,
    /// `reboot`.
    Reboot,
    /// `reboot-hard`: reset.
    RebootHard,
    /// `hold`: keep a pending VM from being scheduled.
    Hold,
    /// `release`: let a held VM be scheduled.
    Release,
    /// `stop`: save the VM to disk and free the host.
    Stop,
    /// `suspend`: pause the VM, memory saved on the host.
    Suspend,
    /// `resume`: run a stopped, suspended, powered-off or undeployed VM again.
    Resume,
    /// `resched`: ask the scheduler to move the VM.
    Resched,
    /// `unresched`: cancel a `resched`.
    Unresched,
}

impl VmAction {
    /// Every action, in the order of the catalogue.
    pub const ALL: [VmAction; 15] = [
        VmAction::Terminate,
        VmAction::TerminateHard,
        VmAction::Undeploy,
        VmAction::UndeployHard,
        VmAction::Poweroff,
        VmAction::PoweroffHard,
        VmAction::Reboot,
        VmAction::RebootHard,
        VmAction::Hold,
        VmAction::Release,
        VmAction::Stop,
        VmAction::Suspend,
        VmAction::Resume,
        VmAction::Resched,
        VmAction::Unresched,
    ];

    /// The name on the wire, e.g. `poweroff-hard`.
    pub fn name(self) -> &'static str {
        match self {
            VmAction::Terminate => "terminate",
            VmAction::TerminateHard => "terminate-hard",
            VmAction::Undeploy => "undeploy",
            VmAction::UndeployHard => "undeploy-hard",
            VmAction::Poweroff => "poweroff",
            VmAction::PoweroffHard => "poweroff-hard",
            VmAction::Reboot => "reboot",
            VmAction::RebootHard => "reboot-hard",
            VmAction::Hold => "hold",
            VmAction::Release => "release",
            VmAction::Stop => "stop",
            VmAction::Suspend => "suspend",
            VmAction::Resume => "resume",
            VmAction::Resched => "resched",
            VmAction::Unresched => "unresched",
        }
    }

    /// The action with this wire name.
    pub fn from_name(name: &str) -> Option<VmAction> {
        VmAction::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// What `vm.recover` does with a VM stuck in a transition or a failure state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoverOp {
    /// Take the pending operation as failed (0).
    Failure,
    /// Take the pending operation as done (1).
    Success,
    /// Retry the pending operation (2).
    Retry,
    /// End the VM (3).
    Delete,
    /// End the VM and create it again, PENDING (4).
    DeleteRecreate,
    /// Drop the VM from the database without driver cleanup (5).
    DeleteDb,
}

impl RecoverOp {
    /// The number `vm.recover` takes.
    pub fn code(self) -> i32 {
        match self {
            RecoverOp::Failure => 0,
            RecoverOp::Success => 1,
            RecoverOp::Retry => 2,
            RecoverOp::Delete => 3,
            RecoverOp::DeleteRecreate => 4,
            RecoverOp::DeleteDb => 5,
        }
    }
}

/// How a cold `vm.migrate` takes the VM off its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MigrateMode {
    /// Save its memory and restore it on the new host (0).
    #[default]
    Save,
    /// Power it off cleanly, boot it on the new host (1).
    Poweroff,
    /// Power it off hard, boot it on the new host (2).
    PoweroffHard,
}

impl MigrateMode {
    /// The number `vm.migrate` takes.
    pub fn code(self) -> i32 {
        match self {
            MigrateMode::Save => 0,
            MigrateMode::Poweroff => 1,
            MigrateMode::PoweroffHard => 2,
        }
    }
}

/// Which VMs a `vmpool.info` listing returns, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    /// Every VM, DONE ones included (-2).
    Any,
    /// Every VM but the DONE ones (-1).
    #[default]
    NotDone,
    /// Only VMs in this STATE.
    Only(VmState),
}

impl StateFilter {
    /// The number `vmpool.info` takes.
    pub fn code(self) -> i32 {
        match self {
            StateFilter::Any => -2,
            StateFilter::NotDone => -1,
            StateFilter::Only(state) => state.code(),
        }
    }
}

impl Resource<'_, Vm> {
    /// `vm.allocate(tmpl, hold)`: creates a VM, PENDING (HOLD with `hold`). Returns its id.
    pub fn allocate(&self, template: &str, hold: bool) -> Result<i32, ClientError> {
        self.call_id("allocate", vec![Value::from(template), Value::Bool(hold)])
    }

    /// `vm.action(name, id)`; the name comes first on the wire.
    pub fn action(&self, id: i32, action: VmAction) -> Result<(), ClientError> {
        self.call("action", vec![Value::from(action.name()), Value::Int(id)])
            .map(drop)
    }

    /// `vm.deploy(id, host, enforce, ds)`: places the VM on a host (ds -1: the scheduler's
    /// choice of system datastore); `enforce` checks the host's capacity.
    pub fn deploy(&self, id: i32, host: i32, enforce: bool, ds: i32) -> Result<(), ClientError> {
        self.act(
            "deploy",
            id,
            vec![Value::Int(host), Value::Bool(enforce), Value::Int(ds)],
        )
    }

    /// `vm.migrate(id, host, live, enforce, ds, type)`.
    pub fn migrate(
        &self,
        id: i32,
        host: i32,
        live: bool,
        enforce: bool,
        ds: i32,
        mode: MigrateMode,
    ) -> Result<(), ClientError> {
        self.act(
            "migrate",
            id,
            vec![
                Value::Int(host),
                Value::Bool(live),
                Value::Bool(enforce),
                Value::Int(ds),
                Value::Int(mode.code()),
            ],
        )
    }

    /// `vm.recover(id, op)`.
    pub fn recover(&self, id: i32, op: RecoverOp) -> Result<(), ClientError> {
        self.act("recover", id, vec![Value::Int(op.code())])
    }

    /// `vmpool.info(filter, -1, -1, state)`: the short form of each VM, as XML.
    pub fn pool_info_state(
        &self,
        filter: Filter,
        state: StateFilter,
    ) -> Result<String, ClientError> {
        self.pool_call(stated(filter, state))
    }

    /// `vmpool.infoextended(filter, -1, -1, state)`: the full form of each VM, as XML.
    pub fn pool_info_extended(
        &self,
        filter: Filter,
        state: StateFilter,
    ) -> Result<String, ClientError> {
        self.client()
            .call_string("one.vmpool.infoextended", stated(filter, state))
    }

    /// `vmpool.infoset("1,2", extended)`: these VMs, as XML.
    pub fn info_set(&self, ids: &[i32], extended: bool) -> Result<String, ClientError> {
        let list: Vec<String> = ids.iter().map(i32::to_string).collect();
        self.client().call_string(
            "one.vmpool.infoset",
            vec![Value::from(list.join(",").as_str()), Value::Bool(extended)],
        )
    }

    /// `vm.monitoring(id)`: the VM's monitoring records, as XML.
    pub fn monitoring(&self, id: i32) -> Result<String, ClientError> {
        self.client()
            .call_string(&Self::method("monitoring"), vec![Value::Int(id)])
    }

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

/// The parameters of `vmpool.info` / `infoextended`.
fn stated(filter: Filter, state: StateFilter) -> Vec<Value> {
    vec![
        Value::Int(filter.code()),
        Value::Int(-1),
        Value::Int(-1),
        Value::Int(state.code()),
    ]
}

impl Resource<'_, VmTemplate> {
    /// `template.instantiate(id, name, hold, extra, persistent)`: creates a VM (an empty name
    /// lets the server choose; `persistent` gives it private copies of the images). Returns
    /// the VM's id.
    pub fn instantiate(
        &self,
        id: i32,
        name: &str,
        hold: bool,
        extra: &str,
        persistent: bool,
    ) -> Result<i32, ClientError> {
        self.call_id(
            "instantiate",
            vec![
                Value::Int(id),
                Value::from(name),
                Value::Bool(hold),
                Value::from(extra),
                Value::Bool(persistent),
            ],
        )
    }

    /// `template.info(id, extended)`: with `extended`, the disks and NICs are filled in from
    /// their images and networks.
    pub fn info_extended(&self, id: i32, extended: bool) -> Result<String, ClientError> {
        self.client().call_string(
            &Self::method("info"),
            vec![Value::Int(id), Value::Bool(extended)],
        )
    }

    /// `template.delete(id, recursive)`: with `recursive`, the template's images go too.
    pub fn delete_recursive(&self, id: i32, recursive: bool) -> Result<(), ClientError> {
        self.act("delete", id, vec![Value::Bool(recursive)])
    }

    /// `template.clone(id, name, recursive)`: with `recursive`, the images are cloned too.
    /// Returns the copy's id.
    pub fn clone_recursive(
        &self,
        id: i32,
        name: &str,
        recursive: bool,
    ) -> Result<i32, ClientError> {
        self.call_id(
            "clone",
            vec![Value::Int(id), Value::from(name), Value::Bool(recursive)],
        )
    }

    /// `template.chmod(id, …9 bits, recursive)`: with `recursive`, the images too.
    pub fn chmod_recursive(
        &self,
        id: i32,
        bits: [i32; 9],
        recursive: bool,
    ) -> Result<(), ClientError> {
        let mut params: Vec<Value> = bits.into_iter().map(Value::Int).collect();
        params.push(Value::Bool(recursive));
        self.act("chmod", id, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for action in VmAction::ALL {
            assert_eq!(VmAction::from_name(action.name()), Some(action));
        }
        assert_eq!(VmAction::PoweroffHard.name(), "poweroff-hard");
        assert_eq!(VmAction::from_name("explode"), None);
    }

    #[test]
    fn codes_follow_the_catalogue() {
        assert_eq!(RecoverOp::DeleteRecreate.code(), 4);
        assert_eq!(MigrateMode::PoweroffHard.code(), 2);
        assert_eq!(StateFilter::Any.code(), -2);
        assert_eq!(StateFilter::default().code(), -1);
        assert_eq!(StateFilter::Only(VmState::Poweroff).code(), 8);
    }
}
