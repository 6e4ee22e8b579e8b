//! A virtual machine: its phase in the life cycle, its two templates (the system part
//! OpenNebula's XSD fixes, and the user's part), its placement history and what the
//! core needs to drive it.

use nubo_template::Template;
use nubo_types::ObjectKind;
use nubo_types::states::{LcmState, VmState};
use serde::{Deserialize, Serialize};

use super::{Cpu, Meta, owned_object};

/// Where a PENDING VM resumes from (kept so the deploy picks the right path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum VmOrigin {
    /// New or resubmitted.
    #[default]
    Fresh,
    /// Resumed from STOPPED.
    Stopped,
    /// Resumed from UNDEPLOYED.
    Undeployed,
}

/// A virtual machine (`VM` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vm {
    /// Id, name, owner, permissions, lock.
    pub meta: Meta,
    /// STATE.
    pub state: VmState,
    /// LCM_STATE.
    pub lcm_state: LcmState,
    /// PREV_STATE.
    pub prev_state: VmState,
    /// PREV_LCM_STATE.
    pub prev_lcm_state: LcmState,
    /// RESCHED flag.
    pub resched: bool,
    /// Start time (epoch seconds).
    pub stime: i64,
    /// End time (0 until DONE).
    pub etime: i64,
    /// The hypervisor's name of the VM.
    pub deploy_id: String,
    /// Last monitoring time.
    pub last_poll: i64,
    /// The system template (CPU, MEMORY, DISK, NIC, CONTEXT, OS, …).
    pub template: Template,
    /// The user template (everything else; SCHED_* and messages live here).
    pub user_template: Template,
    /// Placement history, oldest first.
    pub history: Vec<History>,
    /// Requested CPU (the template's CPU), exact in hundredths.
    pub cpu: Cpu,
    /// Requested virtual CPUs.
    pub vcpu: u32,
    /// Requested memory (MB).
    pub memory_mb: i64,
    /// Where the next deploy resumes from.
    pub origin: VmOrigin,
    /// Sequence number of the driver operation in flight; a reply for an older one is
    /// ignored.
    pub op_seq: u64,
    /// A migration in flight: the host the VM is leaving.
    pub migrating_from: Option<History>,
    /// The in-place change waiting for its driver operation.
    #[serde(default)]
    pub pending: Option<PendingChange>,
    /// Disk snapshots, per disk (`SNAPSHOTS` elements).
    #[serde(default)]
    pub disk_snapshots: Vec<DiskSnapshots>,
}

fn no_snapshot() -> i32 {
    -1
}

/// An in-place change (hotplug, snapshot, resize, …) waiting for its driver operation:
/// what to finish when it succeeds and what to undo when it fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PendingChange {
    /// A DISK was added (marked ATTACH=YES until done).
    AttachDisk {
        /// Its DISK_ID.
        disk_id: i32,
    },
    /// A DISK is being removed.
    DetachDisk {
        /// Its DISK_ID.
        disk_id: i32,
    },
    /// A NIC was added (marked ATTACH=YES until done).
    AttachNic {
        /// Its NIC_ID.
        nic_id: i32,
    },
    /// A NIC is being removed.
    DetachNic {
        /// Its NIC_ID.
        nic_id: i32,
    },
    /// A NIC's attributes (or security groups) were changed; `before` is the old NIC.
    UpdateNic {
        /// Its NIC_ID.
        nic_id: i32,
        /// The NIC as it was.
        before: Vec<(String, String)>,
    },
    /// A VM snapshot is being taken.
    SnapshotCreate {
        /// The new SNAPSHOT_ID.
        snap_id: i32,
        /// Its name.
        name: String,
    },
    /// The VM is going back to a snapshot.
    SnapshotRevert {
        /// The SNAPSHOT_ID.
        snap_id: i32,
    },
    /// A VM snapshot is being deleted.
    SnapshotDelete {
        /// The SNAPSHOT_ID.
        snap_id: i32,
    },
    /// A disk snapshot is being taken.
    DiskSnapshotCreate {
        /// The DISK_ID.
        disk_id: i32,
        /// The new snapshot id.
        snap_id: i32,
        /// Its name.
        name: String,
    },
    /// A disk is going back to a snapshot.
    DiskSnapshotRevert {
        /// The DISK_ID.
        disk_id: i32,
        /// The snapshot id.
        snap_id: i32,
    },
    /// A disk snapshot is being deleted.
    DiskSnapshotDelete {
        /// The DISK_ID.
        disk_id: i32,
        /// The snapshot id.
        snap_id: i32,
    },
    /// A disk was grown (SIZE already set); `before` is the old size (MB).
    DiskResize {
        /// The DISK_ID.
        disk_id: i32,
        /// The old size.
        before: i64,
    },
    /// A disk is being saved into a new image.
    DiskSaveas {
        /// The DISK_ID.
        disk_id: i32,
        /// The new image.
        image_id: i32,
        /// The disk snapshot to save (-1: the disk as it is now).
        #[serde(default = "no_snapshot")]
        snap_id: i32,
    },
    /// CPU, VCPU and memory were changed; the old values.
    Resize {
        /// Old CPU.
        cpu: Cpu,
        /// Old VCPU.
        vcpu: u32,
        /// Old memory (MB).
        memory_mb: i64,
    },
    /// A command is being started in the guest (QEMU_GA_EXEC holds it).
    Exec,
    /// The command running in the guest is being stopped.
    ExecCancel,
}

impl PendingChange {
    /// The driver operation that carries the change out.
    pub fn reconfig(&self) -> nubo_lifecycle::Reconfig {
        use nubo_lifecycle::Reconfig as R;
        match self {
            PendingChange::AttachDisk { .. } => R::AttachDisk,
            PendingChange::DetachDisk { .. } => R::DetachDisk,
            PendingChange::AttachNic { .. } => R::AttachNic,
            PendingChange::DetachNic { .. } => R::DetachNic,
            PendingChange::UpdateNic { .. } => R::UpdateNic,
            PendingChange::SnapshotCreate { .. } => R::SnapshotCreate,
            PendingChange::SnapshotRevert { .. } => R::SnapshotRevert,
            PendingChange::SnapshotDelete { .. } => R::SnapshotDelete,
            PendingChange::DiskSnapshotCreate { .. } => R::DiskSnapshotCreate,
            PendingChange::DiskSnapshotRevert { .. } => R::DiskSnapshotRevert,
            PendingChange::DiskSnapshotDelete { .. } => R::DiskSnapshotDelete,
            PendingChange::DiskResize { .. } => R::DiskResize,
            PendingChange::DiskSaveas { .. } => R::DiskSaveas,
            PendingChange::Resize { .. } => R::Resize,
            PendingChange::Exec => R::Exec,
            PendingChange::ExecCancel => R::ExecCancel,
        }
    }
}

/// The snapshots of one disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskSnapshots {
    /// The DISK_ID.
    pub disk_id: i32,
    /// The id the next snapshot gets.
    pub next_snapshot: i32,
    /// The snapshots, oldest first.
    pub snapshots: Vec<super::ImageSnapshot>,
}

impl DiskSnapshots {
    /// The active snapshot's id, or -1.
    pub fn current_base(&self) -> i32 {
        self.snapshots
            .iter()
            .find(|s| s.active)
            .map_or(-1, |s| s.id)
    }
}

/// One placement of a VM on a host (`HISTORY` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Sequence number within the VM.
    pub seq: i32,
    /// Host name.
    pub hostname: String,
    /// Host id.
    pub hid: i32,
    /// Cluster id.
    pub cid: i32,
    /// Start and end of the placement.
    pub stime: i64,
    /// End (0 while open).
    pub etime: i64,
    /// Virtualization driver.
    pub vm_mad: String,
    /// Transfer driver of the system datastore.
    pub tm_mad: String,
    /// System datastore id.
    pub ds_id: i32,
    /// Prolog start and end.
    pub pstime: i64,
    /// Prolog end.
    pub petime: i64,
    /// Running start.
    pub rstime: i64,
    /// Running end.
    pub retime: i64,
    /// Epilog start.
    pub estime: i64,
    /// Epilog end.
    pub eetime: i64,
    /// HISTORY ACTION code of the action that closed (or is running in) this record.
    pub action: i32,
    /// Who asked for that action.
    pub uid: i32,
    /// Their group.
    pub gid: i32,
}

impl Vm {
    /// The current placement, if any.
    pub fn current(&self) -> Option<&History> {
        self.history.last()
    }

    /// The current placement, mutably.
    pub fn current_mut(&mut self) -> Option<&mut History> {
        self.history.last_mut()
    }

    /// The host the VM currently takes capacity on.
    pub fn host_id(&self) -> Option<i32> {
        self.current().filter(|h| h.etime == 0).map(|h| h.hid)
    }

    /// Requested memory in KB, as a host's MEM_USAGE counts it.
    pub fn memory_kb(&self) -> i64 {
        self.memory_mb.saturating_mul(1024)
    }
}

owned_object!(Vm, ObjectKind::Vm, vms);

#[cfg(test)]
mod tests {
    use super::*;
    use nubo_types::Permissions;

    fn vm() -> Vm {
        Vm {
            meta: Meta::of_oneadmin(7, "vm7", Permissions::default()),
            state: VmState::Pending,
            lcm_state: LcmState::LcmInit,
            prev_state: VmState::Pending,
            prev_lcm_state: LcmState::LcmInit,
            resched: false,
            stime: 0,
            etime: 0,
            deploy_id: String::new(),
            last_poll: 0,
            template: Template::new(),
            user_template: Template::new(),
            history: Vec::new(),
            cpu: Cpu::from_hundredths(10).expect("cpu"),
            vcpu: 1,
            memory_mb: 64,
            origin: VmOrigin::Fresh,
            op_seq: 0,
            migrating_from: None,
            pending: Some(PendingChange::Resize {
                cpu: Cpu::ONE,
                vcpu: 2,
                memory_mb: 128,
            }),
            disk_snapshots: Vec::new(),
        }
    }

    #[test]
    fn vms_stored_with_float_cpus_are_read_in_hundredths() {
        let json = serde_json::to_value(vm()).expect("json");
        // The stored form is the float older versions wrote, and read them back.
        assert_eq!(json["cpu"], serde_json::json!(0.1));
        assert_eq!(json["pending"]["Resize"]["cpu"], serde_json::json!(1.0));
        let mut old = json.clone();
        old["cpu"] = serde_json::json!(0.30000000000000004);
        old["pending"]["Resize"]["cpu"] = serde_json::json!(0.5);
        let back: Vm = serde_json::from_value(old).expect("old body");
        assert_eq!(back.cpu.hundredths(), 30);
        assert_eq!(
            back.pending,
            Some(PendingChange::Resize {
                cpu: Cpu::from_hundredths(50).expect("cpu"),
                vcpu: 2,
                memory_mb: 128,
            })
        );
        // What an older version let in unchecked still loads, within bounds.
        let mut corrupt = json;
        corrupt["cpu"] = serde_json::json!(1e308);
        let back: Vm = serde_json::from_value(corrupt.clone()).expect("corrupt body");
        assert_eq!(back.cpu, Cpu::MAX);
        corrupt["cpu"] = serde_json::json!(1e-320);
        let back: Vm = serde_json::from_value(corrupt).expect("corrupt body");
        assert_eq!(back.cpu, Cpu::MIN);
        assert_eq!(vm().memory_kb(), 64 * 1024);
    }
}
