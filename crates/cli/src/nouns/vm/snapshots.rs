//! VM snapshots, disk snapshots and scheduled actions: `snapshot-*`, `disk-snapshot-*` and
//! `sched-*`.

use clap::{Args, Subcommand};
use nubo_client::nouns::Vm;

use crate::context::Ctx;
use crate::exit::usage_error;
use crate::input::{self, quote};

/// A VM and one of its snapshots.
#[derive(Debug, Args)]
pub struct Snap {
    /// The VM's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// The snapshot's id.
    #[arg(value_name = "SNAPSHOT_ID")]
    snap: i32,
}

/// A VM and one of its scheduled actions.
#[derive(Debug, Args)]
pub struct Sched {
    /// The VM's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// The scheduled action's id.
    #[arg(value_name = "SCHED_ID")]
    sched: i32,
}

/// A VM, one of its disks and one of the disk's snapshots.
#[derive(Debug, Args)]
pub struct DiskSnap {
    /// The VM's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// The disk's DISK_ID.
    #[arg(value_name = "DISK_ID")]
    disk: i32,
    /// The disk snapshot's id.
    #[arg(value_name = "SNAPSHOT_ID")]
    snap: i32,
}

/// A scheduled action, from a file or flags.
#[derive(Debug, Args)]
pub struct SchedArgs {
    /// The VM's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// File holding SCHED_ACTION=[…] (- reads standard input), instead of the flags.
    #[arg(value_name = "FILE", conflicts_with_all = ["action", "time", "args"])]
    file: Option<String>,
    /// The action, e.g. poweroff, resume, terminate-hard, snapshot-create.
    #[arg(long, requires = "time")]
    action: Option<String>,
    /// When: seconds since the epoch, or +SECONDS after the VM started.
    #[arg(long, requires = "action", allow_hyphen_values = true)]
    time: Option<String>,
    /// The action's arguments, comma-separated (e.g. a snapshot name).
    #[arg(long, requires = "action")]
    args: Option<String>,
}

impl SchedArgs {
    /// `SCHED_ACTION=[…]` from the file or the flags.
    fn template(&self) -> anyhow::Result<String> {
        if let Some(file) = &self.file {
            return input::template(file);
        }
        let (Some(action), Some(time)) = (&self.action, &self.time) else {
            return Err(usage_error(
                "give a SCHED_ACTION file, or --action and --time",
            ));
        };
        let mut parts = vec![
            format!("ACTION={}", quote(action)),
            format!("TIME={}", quote(time)),
        ];
        if let Some(args) = &self.args {
            parts.push(format!("ARGS={}", quote(args)));
        }
        Ok(format!("SCHED_ACTION=[{}]", parts.join(", ")))
    }
}

/// Snapshots and scheduled actions.
#[derive(Debug, Subcommand)]
pub enum Snapshots {
    /// Take a snapshot of a running VM; prints the snapshot's id.
    SnapshotCreate {
        /// The VM's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The snapshot's name (default: chosen by the server).
        #[arg(default_value = "", hide_default_value = true)]
        name: String,
    },
    /// Bring a VM back to a snapshot.
    SnapshotRevert(Snap),
    /// Delete a VM snapshot.
    SnapshotDelete(Snap),
    /// Take a snapshot of one disk; prints the snapshot's id.
    DiskSnapshotCreate {
        /// The VM's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The disk's DISK_ID.
        #[arg(value_name = "DISK_ID")]
        disk: i32,
        /// The snapshot's name.
        name: String,
    },
    /// Bring a disk back to one of its snapshots.
    DiskSnapshotRevert(DiskSnap),
    /// Delete a disk snapshot.
    DiskSnapshotDelete(DiskSnap),
    /// Rename a disk snapshot.
    DiskSnapshotRename {
        /// The VM, disk and snapshot.
        #[command(flatten)]
        snap: DiskSnap,
        /// The new name.
        name: String,
    },
    /// Schedule an action on a VM; prints the scheduled action's id.
    ///
    /// Example: nubo vm sched-add 5 --action poweroff --time +3600
    SchedAdd(SchedArgs),
    /// Change a scheduled action from a file holding SCHED_ACTION=[…].
    SchedUpdate {
        /// The VM and the scheduled action's id.
        #[command(flatten)]
        sched: Sched,
        /// Template file, or - for standard input.
        #[arg(value_name = "FILE")]
        file: String,
    },
    /// Delete a scheduled action.
    SchedDelete(Sched),
}

impl Snapshots {
    /// Runs the verb.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let vms = ctx.client.resource::<Vm>();
        match self {
            Snapshots::SnapshotCreate { id, name } => {
                ctx.created(vms.snapshot_create(vms.id_of(&id)?, &name)?)
            }
            Snapshots::SnapshotRevert(s) => Ok(vms.snapshot_revert(vms.id_of(&s.id)?, s.snap)?),
            Snapshots::SnapshotDelete(s) => Ok(vms.snapshot_delete(vms.id_of(&s.id)?, s.snap)?),
            Snapshots::DiskSnapshotCreate { id, disk, name } => {
                ctx.created(vms.disk_snapshot_create(vms.id_of(&id)?, disk, &name)?)
            }
            Snapshots::DiskSnapshotRevert(s) => {
                Ok(vms.disk_snapshot_revert(vms.id_of(&s.id)?, s.disk, s.snap)?)
            }
            Snapshots::DiskSnapshotDelete(s) => {
                Ok(vms.disk_snapshot_delete(vms.id_of(&s.id)?, s.disk, s.snap)?)
            }
            Snapshots::DiskSnapshotRename { snap, name } => {
                let vid = vms.id_of(&snap.id)?;
                Ok(vms.disk_snapshot_rename(vid, snap.disk, snap.snap, &name)?)
            }
            Snapshots::SchedAdd(a) => {
                let template = a.template()?;
                ctx.created(vms.sched_add(vms.id_of(&a.id)?, &template)?)
            }
            Snapshots::SchedUpdate { sched, file } => {
                let template = input::template(&file)?;
                Ok(vms.sched_update(vms.id_of(&sched.id)?, sched.sched, &template)?)
            }
            Snapshots::SchedDelete(s) => Ok(vms.sched_delete(vms.id_of(&s.id)?, s.sched)?),
        }
    }
}
