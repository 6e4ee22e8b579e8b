//! The hypervisor interface. The core asks a host's driver to carry out one
//! [`Operation`] on one VM at a time and learns the outcome; it polls the driver for a
//! [`HostReport`] (capacity, usage and the VMs it knows). Implementations: `driver-sim`
//! (simulated, for scale tests and guest-less logic) and, later, `driver-kvm` behind
//! `nubo-hostd`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

mod spec;

pub use spec::{
    Change, ContextSpec, DiskKind, DiskSource, DiskSpec, ExecSpec, FirewallRule, GraphicsSpec,
    NicSpec, OsSpec, VmSpec,
};

/// A boxed future, so that the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a driver does to a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operation {
    /// Bring the VM's disks to the host.
    Prolog,
    /// Start the VM (the reply carries its deploy id).
    Deploy,
    /// ACPI shutdown.
    Shutdown,
    /// Hard power off.
    Cancel,
    /// Save the memory to a file.
    Save,
    /// Restore the memory from the saved file.
    Restore,
    /// Live-migrate to the request's target host (whose agent was first asked to
    /// [`Operation::MigrateIn`]; the request's `migrate_uri` says where to send the guest).
    Migrate,
    /// On the destination of a live migration: get ready to receive the guest; answers the
    /// URI the source sends it to.
    MigrateIn,
    /// Move the VM's files to this host from the request's target host (the VM's
    /// previous host). Between host agents the request's `migrate_uri` carries the offer
    /// the previous host made with [`Operation::PrologMigrateOut`].
    PrologMigrate,
    /// On the host a VM leaves by cold migration: offer its files (answers the offer the
    /// destination fetches them with).
    PrologMigrateOut,
    /// Take the disks back and clean the host.
    Epilog,
    /// ACPI reboot.
    Reboot,
    /// Hard reset.
    Reset,
    /// Remove whatever the VM left on the host. With the VM's spec the VM ends here
    /// (copies of persistent images go back first); without, the host only drops its copy
    /// of a VM that lives on elsewhere.
    Cleanup,
    /// Hot-attach a disk.
    AttachDisk,
    /// Hot-detach a disk.
    DetachDisk,
    /// Hot-attach a NIC.
    AttachNic,
    /// Hot-detach a NIC.
    DetachNic,
    /// Change a NIC's settings.
    UpdateNic,
    /// Apply the VM's security groups again.
    UpdateSecurityGroups,
    /// Take a VM snapshot.
    SnapshotCreate,
    /// Revert to a VM snapshot.
    SnapshotRevert,
    /// Delete a VM snapshot.
    SnapshotDelete,
    /// Snapshot a disk.
    DiskSnapshotCreate,
    /// Revert a disk to a snapshot.
    DiskSnapshotRevert,
    /// Delete a disk snapshot.
    DiskSnapshotDelete,
    /// Grow a disk.
    DiskResize,
    /// Copy a disk to a new image.
    DiskSaveas,
    /// Change CPU and memory of a running VM.
    Resize,
    /// Start the spec's command in the guest (`vm.exec`); its result comes with the
    /// reports ([`VmReport::exec`]).
    Exec,
    /// Stop the command started in the guest.
    ExecCancel,
}

impl Operation {
    /// The operation's upper-case name, as OpenNebula's drivers spell their actions.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Prolog => "PROLOG",
            Operation::Deploy => "DEPLOY",
            Operation::Shutdown => "SHUTDOWN",
            Operation::Cancel => "CANCEL",
            Operation::Save => "SAVE",
            Operation::Restore => "RESTORE",
            Operation::Migrate => "MIGRATE",
            Operation::MigrateIn => "MIGRATE_IN",
            Operation::PrologMigrate => "PROLOG_MIGRATE",
            Operation::PrologMigrateOut => "PROLOG_MIGRATE_OUT",
            Operation::Epilog => "EPILOG",
            Operation::Reboot => "REBOOT",
            Operation::Reset => "RESET",
            Operation::Cleanup => "CLEANUP",
            Operation::AttachDisk => "ATTACHDISK",
            Operation::DetachDisk => "DETACHDISK",
            Operation::AttachNic => "ATTACHNIC",
            Operation::DetachNic => "DETACHNIC",
            Operation::UpdateNic => "UPDATENIC",
            Operation::UpdateSecurityGroups => "UPDATESG",
            Operation::SnapshotCreate => "SNAPSHOTCREATE",
            Operation::SnapshotRevert => "SNAPSHOTREVERT",
            Operation::SnapshotDelete => "SNAPSHOTDELETE",
            Operation::DiskSnapshotCreate => "DISKSNAPSHOTCREATE",
            Operation::DiskSnapshotRevert => "DISKSNAPSHOTREVERT",
            Operation::DiskSnapshotDelete => "DISKSNAPSHOTDELETE",
            Operation::DiskResize => "RESIZEDISK",
            Operation::DiskSaveas => "DISKSAVEAS",
            Operation::Resize => "RESIZE",
            Operation::Exec => "EXEC",
            Operation::ExecCancel => "EXEC_CANCEL",
        }
    }
}

/// One operation on one VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The VM's id.
    pub vm_id: i32,
    /// What to do.
    pub operation: Operation,
    /// The hypervisor's name of the VM (empty before the first deploy).
    pub deploy_id: String,
    /// The host the VM is on (or is going to).
    pub host: String,
    /// For migrations: the destination host.
    pub target_host: Option<String>,
    /// Virtual CPUs.
    pub vcpu: u32,
    /// Memory (MB).
    pub memory_mb: u64,
    /// The VM's full description, for drivers that run real guests
    /// ([`Hypervisor::wants_spec`]).
    #[serde(default)]
    pub spec: Option<Box<VmSpec>>,
    /// For a live migration between agents: where the destination waits for the guest.
    #[serde(default)]
    pub migrate_uri: Option<String>,
    /// The VM's operation number in the core (0: none). A host that counts them reports
    /// the last one it carried out ([`HostReport::seqs`]), so a report made before an
    /// operation ended is told from one made after.
    #[serde(default)]
    pub seq: u64,
}

/// A driver's answer: `Ok(info)` (for DEPLOY, the deploy id) or `Err(message)`.
pub type Outcome = Result<String, String>;

/// What the hypervisor says of one VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GuestState {
    /// Running.
    Running,
    /// Paused (suspended).
    Paused,
    /// Off, but known to the hypervisor.
    Poweroff,
}

/// Monitoring of one VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmReport {
    /// The VM's id.
    pub vm_id: i32,
    /// Its deploy id.
    pub deploy_id: String,
    /// Its state.
    pub state: GuestState,
    /// CPU used (percent of one core).
    pub cpu: f64,
    /// Memory used (KB).
    pub memory_kb: u64,
    /// Bytes received.
    pub netrx: u64,
    /// Bytes sent.
    pub nettx: u64,
    /// The guest's disk traffic so far.
    #[serde(default)]
    pub disk_io: DiskIo,
    /// Space each disk file of the VM takes on the host: (DISK_ID, MB).
    #[serde(default)]
    pub disk_sizes: Vec<(i32, u64)>,
    /// The last command run in the guest with [`Operation::Exec`], once it ended.
    #[serde(default)]
    pub exec: Option<ExecReport>,
}

/// How a command run in a guest ended, as OpenNebula's QEMU_GA_EXEC records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecReport {
    /// The number ([`Request::seq`]) of the EXEC operation that started it.
    pub seq: u64,
    /// Its process id (in the guest, or on the host for a container).
    pub pid: i64,
    /// `DONE`, or `CANCELLED` when it was stopped.
    pub status: String,
    /// Its exit code (-1 when killed).
    pub return_code: i32,
    /// Its standard output, base64 (bounded by the driver).
    pub stdout_b64: String,
    /// Its standard error, base64 (bounded by the driver).
    pub stderr_b64: String,
}

/// A guest's disk traffic so far, over all its disks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DiskIo {
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Read operations.
    pub read_ops: u64,
    /// Write operations.
    pub write_ops: u64,
}

/// A host's capacity, usage and VMs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostReport {
    /// Hypervisor name (HYPERVISOR).
    pub hypervisor: String,
    /// CPU capacity (percent: 100 per core).
    pub total_cpu: i64,
    /// Memory capacity (KB).
    pub total_memory_kb: i64,
    /// CPU in use (percent).
    pub used_cpu: i64,
    /// Memory in use (KB).
    pub used_memory_kb: i64,
    /// Extra attributes for the host template (e.g. ACCELERATION, CPU model).
    pub attributes: BTreeMap<String, String>,
    /// The VMs the hypervisor knows.
    pub vms: Vec<VmReport>,
    /// For each VM, the number ([`Request::seq`]) of the last operation this host carried
    /// out on it; empty from hosts that keep no count.
    #[serde(default)]
    pub seqs: BTreeMap<i32, u64>,
}

/// The console offset that asks for the last piece of the output (as much as one read
/// returns), wherever it starts.
pub const CONSOLE_TAIL: u64 = u64::MAX;

/// A piece of a guest's serial console output.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsoleChunk {
    /// The bytes from the requested offset on (at most a bounded amount).
    pub data: Vec<u8>,
    /// The offset to ask for next.
    pub next: u64,
}

/// How a check command run in a guest ended ([`Hypervisor::run_check`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckOutcome {
    /// Its exit code (-1: killed, or it did not end in time).
    pub code: i32,
    /// Whether it ran out of time (and was killed).
    pub timed_out: bool,
    /// The end of what it printed, standard output then standard error (at most
    /// [`CHECK_OUTPUT_MAX`] bytes).
    pub output: String,
}

impl CheckOutcome {
    /// The outcome of a command that printed `stdout` and `stderr`: their end is kept.
    pub fn new(code: i32, timed_out: bool, stdout: &[u8], stderr: &[u8]) -> CheckOutcome {
        let text = String::from_utf8_lossy(&[stdout, stderr].concat()).into_owned();
        let mut start = text.len().saturating_sub(CHECK_OUTPUT_MAX);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        CheckOutcome {
            code,
            timed_out,
            output: text[start..].to_owned(),
        }
    }
}

/// The most of a check command's output an outcome carries.
pub const CHECK_OUTPUT_MAX: usize = 1024;

/// The longest a check command may run.
pub const CHECK_TIMEOUT_MAX: std::time::Duration = std::time::Duration::from_secs(60);

/// A hypervisor on one host.
pub trait Hypervisor: Send + Sync + std::fmt::Debug {
    /// Carries out one operation.
    fn execute(&self, request: Request) -> BoxFuture<'static, Outcome>;
    /// Reports capacity, usage and VMs; `Err` when the host cannot be reached.
    fn monitor(&self) -> BoxFuture<'static, Result<HostReport, String>>;
    /// Takes settings from the host's template (driver-specific keys; unknown ones ignored).
    fn configure(&self, settings: &BTreeMap<String, String>);
    /// After the front-end restarted: the VMs it knows to be running on this host (each as
    /// the request that would deploy it). A real hypervisor keeps its guests across a
    /// front-end restart and ignores this; a simulated one lives in the front-end's memory
    /// and takes them back.
    fn restore(&self, _running: Vec<Request>) {}
    /// Whether requests should carry the VM's [`VmSpec`] (real guests need it; simulated
    /// ones don't, and skipping it keeps scale runs light).
    fn wants_spec(&self) -> bool {
        false
    }
    /// Whether a NIC attached to or detached from a powered-off VM must go through this
    /// driver (OpenNebula's `COLD_NIC_ATTACH`, a VM_MAD attribute: the VM passes through
    /// HOTPLUG_NIC_POWEROFF); otherwise the front-end changes the VM at once and it stays
    /// POWEROFF.
    fn cold_nic_attach(&self) -> bool {
        false
    }
    /// What VM `vm_id`'s serial console printed from byte `offset` on ([`CONSOLE_TAIL`]:
    /// its last bounded piece).
    fn console(
        &self,
        _vm_id: i32,
        _offset: u64,
    ) -> BoxFuture<'static, Result<ConsoleChunk, String>> {
        Box::pin(async { Err("this host keeps no console output".to_string()) })
    }
    /// Runs `command` (a program and its arguments) in VM `vm_id`'s running guest and
    /// waits for it to end, killing it after `timeout` (at most [`CHECK_TIMEOUT_MAX`]): a
    /// health check's probe. Nothing of the VM changes and nothing is recorded.
    fn run_check(
        &self,
        _vm_id: i32,
        _command: Vec<String>,
        _timeout: std::time::Duration,
    ) -> BoxFuture<'static, Result<CheckOutcome, String>> {
        Box::pin(async { Err("this host cannot run commands in its guests".to_string()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_outcome_keeps_the_end_of_the_output_on_a_character_boundary() {
        let small = CheckOutcome::new(1, false, b"out\n", b"err\n");
        assert_eq!(small.output, "out\nerr\n");
        let long = "é".repeat(CHECK_OUTPUT_MAX);
        let cut = CheckOutcome::new(0, true, long.as_bytes(), b"!");
        assert!(cut.output.len() <= CHECK_OUTPUT_MAX && cut.output.ends_with("é!"));
        assert!(cut.timed_out);
        let bad = CheckOutcome::new(2, false, &[0xff, b'x'], b"");
        assert_eq!(bad.output, "\u{fffd}x");
    }
}
