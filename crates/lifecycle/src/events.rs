//! What can happen to a VM ([`Event`]) and what a transition asks the core to do
//! ([`Effect`]).

use nubo_types::states::HistoryAction;

use crate::Phase;

/// A `vm.action` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserAction {
    /// `terminate`.
    Terminate,
    /// `terminate-hard`.
    TerminateHard,
    /// `undeploy`.
    Undeploy,
    /// `undeploy-hard`.
    UndeployHard,
    /// `poweroff`.
    Poweroff,
    /// `poweroff-hard`.
    PoweroffHard,
    /// `reboot`.
    Reboot,
    /// `reboot-hard`.
    RebootHard,
    /// `hold`.
    Hold,
    /// `release`.
    Release,
    /// `stop`.
    Stop,
    /// `suspend`.
    Suspend,
    /// `resume`.
    Resume,
    /// `resched`.
    Resched,
    /// `unresched`.
    Unresched,
}

impl UserAction {
    /// Every action, in `vm.action` order.
    pub const ALL: [UserAction; 15] = [
        UserAction::Terminate,
        UserAction::TerminateHard,
        UserAction::Undeploy,
        UserAction::UndeployHard,
        UserAction::Poweroff,
        UserAction::PoweroffHard,
        UserAction::Reboot,
        UserAction::RebootHard,
        UserAction::Hold,
        UserAction::Release,
        UserAction::Stop,
        UserAction::Suspend,
        UserAction::Resume,
        UserAction::Resched,
        UserAction::Unresched,
    ];

    /// The `vm.action` name.
    pub fn name(self) -> &'static str {
        self.history().name()
    }

    /// The action called `name` in `vm.action`.
    pub fn from_name(name: &str) -> Option<UserAction> {
        UserAction::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The HISTORY ACTION code of this action.
    pub fn history(self) -> HistoryAction {
        match self {
            UserAction::Terminate => HistoryAction::Terminate,
            UserAction::TerminateHard => HistoryAction::TerminateHard,
            UserAction::Undeploy => HistoryAction::Undeploy,
            UserAction::UndeployHard => HistoryAction::UndeployHard,
            UserAction::Poweroff => HistoryAction::Poweroff,
            UserAction::PoweroffHard => HistoryAction::PoweroffHard,
            UserAction::Reboot => HistoryAction::Reboot,
            UserAction::RebootHard => HistoryAction::RebootHard,
            UserAction::Hold => HistoryAction::Hold,
            UserAction::Release => HistoryAction::Release,
            UserAction::Stop => HistoryAction::Stop,
            UserAction::Suspend => HistoryAction::Suspend,
            UserAction::Resume => HistoryAction::Resume,
            UserAction::Resched => HistoryAction::Resched,
            UserAction::Unresched => HistoryAction::Unresched,
        }
    }
}

/// A `vm.recover` operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecoverOp {
    /// 0: treat the pending operation as failed.
    Failure,
    /// 1: treat the pending operation as succeeded.
    Success,
    /// 2: run the failed operation again.
    Retry,
    /// 3: end the VM, cleaning up its host.
    Delete,
    /// 4: end the VM's placement and put it back to PENDING.
    DeleteRecreate,
    /// 5: remove the VM without touching its host.
    DeleteDb,
}

impl RecoverOp {
    /// Every op, by code.
    pub const ALL: [RecoverOp; 6] = [
        RecoverOp::Failure,
        RecoverOp::Success,
        RecoverOp::Retry,
        RecoverOp::Delete,
        RecoverOp::DeleteRecreate,
        RecoverOp::DeleteDb,
    ];

    /// The op with `vm.recover` code `code`.
    pub fn from_code(code: i32) -> Option<RecoverOp> {
        usize::try_from(code)
            .ok()
            .and_then(|i| RecoverOp::ALL.get(i).copied())
    }

    /// A short name, for tables and messages.
    pub fn name(self) -> &'static str {
        match self {
            RecoverOp::Failure => "failure",
            RecoverOp::Success => "success",
            RecoverOp::Retry => "retry",
            RecoverOp::Delete => "delete",
            RecoverOp::DeleteRecreate => "delete-recreate",
            RecoverOp::DeleteDb => "delete-db",
        }
    }
}

/// How `vm.migrate` moves a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MigrateKind {
    /// Save, move the disks, restore (type 0, not live).
    Cold,
    /// Live migration.
    Live,
    /// Power off, move, boot (type 1).
    Poweroff,
    /// Power off hard, move, boot (type 2).
    PoweroffHard,
}

/// Where a PENDING VM resumes from when it is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Origin {
    /// A new VM (or one resubmitted): full prolog and boot.
    #[default]
    Fresh,
    /// Resumed from STOPPED: restore the saved state.
    Stopped,
    /// Resumed from UNDEPLOYED: boot from its disks.
    Undeployed,
}

/// A change to a VM's configuration made with the VM in place (hotplug and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reconfig {
    /// `vm.attach`.
    AttachDisk,
    /// `vm.detach`.
    DetachDisk,
    /// `vm.attachnic`.
    AttachNic,
    /// `vm.detachnic`.
    DetachNic,
    /// `vm.updatenic`.
    UpdateNic,
    /// `vm.attachsg` / `vm.detachsg`.
    SecurityGroup,
    /// `vm.snapshotcreate`.
    SnapshotCreate,
    /// `vm.snapshotrevert`.
    SnapshotRevert,
    /// `vm.snapshotdelete`.
    SnapshotDelete,
    /// `vm.disksnapshotcreate`.
    DiskSnapshotCreate,
    /// `vm.disksnapshotrevert`.
    DiskSnapshotRevert,
    /// `vm.disksnapshotdelete`.
    DiskSnapshotDelete,
    /// `vm.diskresize`.
    DiskResize,
    /// `vm.disksaveas`.
    DiskSaveas,
    /// `vm.resize` of a running VM.
    Resize,
    /// `vm.exec` / `vm.retryexec`: start a command in the guest.
    Exec,
    /// `vm.cancelexec`: stop the command running in the guest.
    ExecCancel,
}

impl Reconfig {
    /// Every reconfiguration.
    pub const ALL: [Reconfig; 17] = [
        Reconfig::AttachDisk,
        Reconfig::DetachDisk,
        Reconfig::AttachNic,
        Reconfig::DetachNic,
        Reconfig::UpdateNic,
        Reconfig::SecurityGroup,
        Reconfig::SnapshotCreate,
        Reconfig::SnapshotRevert,
        Reconfig::SnapshotDelete,
        Reconfig::DiskSnapshotCreate,
        Reconfig::DiskSnapshotRevert,
        Reconfig::DiskSnapshotDelete,
        Reconfig::DiskResize,
        Reconfig::DiskSaveas,
        Reconfig::Resize,
        Reconfig::Exec,
        Reconfig::ExecCancel,
    ];

    /// The HISTORY ACTION code.
    pub fn history(self) -> HistoryAction {
        match self {
            Reconfig::AttachDisk => HistoryAction::DiskAttach,
            Reconfig::DetachDisk => HistoryAction::DiskDetach,
            Reconfig::AttachNic => HistoryAction::NicAttach,
            Reconfig::DetachNic => HistoryAction::NicDetach,
            Reconfig::UpdateNic => HistoryAction::NicUpdate,
            Reconfig::SecurityGroup => HistoryAction::SgAttach,
            Reconfig::SnapshotCreate => HistoryAction::SnapshotCreate,
            Reconfig::SnapshotRevert => HistoryAction::SnapshotRevert,
            Reconfig::SnapshotDelete => HistoryAction::SnapshotDelete,
            Reconfig::DiskSnapshotCreate => HistoryAction::DiskSnapshotCreate,
            Reconfig::DiskSnapshotRevert => HistoryAction::DiskSnapshotRevert,
            Reconfig::DiskSnapshotDelete => HistoryAction::DiskSnapshotDelete,
            Reconfig::DiskResize => HistoryAction::DiskResize,
            Reconfig::DiskSaveas => HistoryAction::DiskSaveas,
            Reconfig::Resize => HistoryAction::Resize,
            Reconfig::Exec => HistoryAction::Exec,
            Reconfig::ExecCancel => HistoryAction::ExecCancel,
        }
    }
}

/// Something that happens to a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A `vm.action`.
    Action(UserAction),
    /// The scheduler or `vm.deploy` placed the VM on a host.
    Deploy(Origin),
    /// `vm.migrate`.
    Migrate(MigrateKind),
    /// The driver operation of the current transient phase succeeded.
    DriverSuccess,
    /// The driver operation of the current transient phase failed.
    DriverFailure,
    /// `vm.recover`.
    Recover(RecoverOp),
    /// A hotplug-style change of the VM in place.
    Reconfig(Reconfig),
    /// Monitoring: the hypervisor no longer knows the VM.
    MonitorMissing,
    /// Monitoring: the guest powered itself off.
    MonitorPoweroff,
    /// Monitoring: the VM is running.
    MonitorRunning,
}

/// A hypervisor-side operation the core starts after a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DriverOp {
    /// Copy or link the disks to the host.
    Prolog,
    /// Start the VM.
    Deploy,
    /// ACPI shutdown.
    Shutdown,
    /// Hard power off.
    Cancel,
    /// Save the memory to a file (suspend, stop, cold migrate).
    Save,
    /// Restore the memory from the saved file.
    Restore,
    /// Live-migrate to another host.
    Migrate,
    /// Move the disks to another host (cold migration).
    PrologMigrate,
    /// Move the disks back and clean the host.
    Epilog,
    /// ACPI reboot.
    Reboot,
    /// Hard reset.
    Reset,
    /// Remove whatever the VM left on the host.
    Cleanup,
    /// A change in place (the core knows the details).
    Reconfig(Reconfig),
}

/// What the core does after committing a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Start this driver operation on the VM's host.
    Run(DriverOp),
    /// Open a HISTORY record on the chosen host and take its capacity.
    OpenHistory,
    /// Close the current HISTORY record and give the host's capacity back.
    LeaveHost,
    /// Switch to the migration target host (the old host's capacity is freed).
    CommitMigration,
    /// Migration failed: stay on the source host (the target's capacity is freed).
    RollbackMigration,
    /// Free every resource (leases, images, quotas): the VM is DONE.
    Release,
    /// The VM waits for the scheduler.
    Schedule,
    /// Set the RESCHED flag.
    SetResched,
    /// Clear the RESCHED flag.
    ClearResched,
    /// Apply the pending in-place change to the VM's record.
    CommitReconfig,
    /// Undo the pending in-place change.
    RollbackReconfig,
    /// Remember the origin of the next deploy.
    SetOrigin(Origin),
}

/// The result of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The new phase.
    pub to: Phase,
    /// HISTORY ACTION to record (None leaves the current one).
    pub action: Option<HistoryAction>,
    /// What to do after the commit, in order.
    pub effects: Vec<Effect>,
}
