//! The life-cycle verbs of `nubo vm`: every `vm.action` name (terminate, poweroff, resume…,
//! `--hard` for the hard variants), `deploy`, `migrate` and `recover`.

use clap::{ArgGroup, Args, Subcommand};
use nubo_client::nouns::{Datastore, Host, MigrateMode, RecoverOp, Vm, VmAction};

use crate::common;
use crate::context::Ctx;

/// One or more VMs.
#[derive(Debug, Args)]
pub struct Ids {
    /// The VMs' ids, or names.
    #[arg(value_name = "ID", required = true)]
    ids: Vec<String>,
}

/// One or more VMs, and whether to skip the clean shutdown.
#[derive(Debug, Args)]
pub struct HardIds {
    /// The VMs' ids, or names.
    #[arg(value_name = "ID", required = true)]
    ids: Vec<String>,
    /// Do it at once instead of asking the guest to shut down (or reboot) cleanly.
    #[arg(long)]
    hard: bool,
}

/// Where to migrate a VM.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The VM's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// The host to move it to, by id or name.
    host: String,
    /// Move it while it runs.
    #[arg(long, conflicts_with_all = ["poweroff", "poweroff_hard"])]
    live: bool,
    /// Refuse a host without the capacity for the VM.
    #[arg(long)]
    enforce: bool,
    /// System datastore on the new host, by id or name (default: the current one).
    #[arg(long, short)]
    datastore: Option<String>,
    /// Power the VM off cleanly and boot it on the new host, instead of saving it.
    #[arg(long, conflicts_with = "poweroff_hard")]
    poweroff: bool,
    /// Power the VM off hard and boot it on the new host.
    #[arg(long)]
    poweroff_hard: bool,
}

/// How to recover a VM.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("op").required(true).args(
    ["success", "failure", "retry", "delete", "delete_recreate", "delete_db"]
)))]
pub struct RecoverArgs {
    /// The VM's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// Take the pending operation as done.
    #[arg(long)]
    success: bool,
    /// Take the pending operation as failed.
    #[arg(long)]
    failure: bool,
    /// Run the failed operation again.
    #[arg(long)]
    retry: bool,
    /// End the VM (DONE).
    #[arg(long)]
    delete: bool,
    /// End the VM and create it again, PENDING, with the same id.
    #[arg(long)]
    delete_recreate: bool,
    /// Drop the VM from the database without cleaning up its host.
    #[arg(long)]
    delete_db: bool,
}

impl RecoverArgs {
    /// The operation the flags name.
    fn op(&self) -> RecoverOp {
        [
            (self.success, RecoverOp::Success),
            (self.failure, RecoverOp::Failure),
            (self.retry, RecoverOp::Retry),
            (self.delete, RecoverOp::Delete),
            (self.delete_recreate, RecoverOp::DeleteRecreate),
            (self.delete_db, RecoverOp::DeleteDb),
        ]
        .into_iter()
        .find_map(|(on, op)| on.then_some(op))
        .unwrap_or(RecoverOp::Retry)
    }
}

/// The `vm.action` verbs.
#[derive(Debug, Subcommand)]
pub enum Actions {
    /// End VMs: shut them down, clean up, DONE.
    Terminate(HardIds),
    /// Shut VMs down and move their disks back to the datastores (UNDEPLOYED).
    Undeploy(HardIds),
    /// Shut VMs down, keeping them on their hosts (POWEROFF).
    Poweroff(HardIds),
    /// Reboot running VMs (--hard: reset them).
    Reboot(HardIds),
    /// Keep pending VMs from being scheduled (HOLD).
    Hold(Ids),
    /// Let held VMs be scheduled (PENDING).
    Release(Ids),
    /// Save VMs to disk and free their hosts (STOPPED).
    Stop(Ids),
    /// Pause VMs on their hosts (SUSPENDED).
    Suspend(Ids),
    /// Run stopped, suspended, powered-off, undeployed or unknown VMs again.
    Resume(Ids),
    /// Ask the scheduler to move VMs to a better host.
    Resched(Ids),
    /// Cancel a resched.
    Unresched(Ids),
}

/// Placing VMs on hosts, and getting them out of trouble.
#[derive(Debug, Subcommand)]
pub enum Placement {
    /// Place a pending or held VM on a host, optionally on a system datastore.
    Deploy {
        /// The VM's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The host, by id or name.
        host: String,
        /// The system datastore, by id or name (default: the scheduler's choice).
        #[arg(value_name = "DS")]
        datastore: Option<String>,
        /// Refuse a host without the capacity for the VM.
        #[arg(long)]
        enforce: bool,
    },
    /// Move a VM to another host: saved and restored by default, running with --live.
    Migrate(MigrateArgs),
    /// Get a VM out of a failure or a stuck operation.
    Recover(RecoverArgs),
}

impl Actions {
    /// Runs the action on each VM in turn, stopping at the first refusal.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let hard = |h: HardIds, soft, forced| (h.ids, if h.hard { forced } else { soft });
        let (ids, action) = match self {
            Actions::Terminate(h) => hard(h, VmAction::Terminate, VmAction::TerminateHard),
            Actions::Undeploy(h) => hard(h, VmAction::Undeploy, VmAction::UndeployHard),
            Actions::Poweroff(h) => hard(h, VmAction::Poweroff, VmAction::PoweroffHard),
            Actions::Reboot(h) => hard(h, VmAction::Reboot, VmAction::RebootHard),
            Actions::Hold(i) => (i.ids, VmAction::Hold),
            Actions::Release(i) => (i.ids, VmAction::Release),
            Actions::Stop(i) => (i.ids, VmAction::Stop),
            Actions::Suspend(i) => (i.ids, VmAction::Suspend),
            Actions::Resume(i) => (i.ids, VmAction::Resume),
            Actions::Resched(i) => (i.ids, VmAction::Resched),
            Actions::Unresched(i) => (i.ids, VmAction::Unresched),
        };
        let vms = ctx.client.resource::<Vm>();
        for id in ids {
            vms.action(vms.id_of(&id)?, action)?;
        }
        Ok(())
    }
}

impl Placement {
    /// Runs deploy, migrate or recover.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let vms = ctx.client.resource::<Vm>();
        let ds = |d: Option<String>| d.map_or(Ok(-1), |d| common::id::<Datastore>(ctx, &d));
        match self {
            Placement::Deploy {
                id,
                host,
                datastore,
                enforce,
            } => {
                let hid = common::id::<Host>(ctx, &host)?;
                Ok(vms.deploy(vms.id_of(&id)?, hid, enforce, ds(datastore)?)?)
            }
            Placement::Migrate(m) => {
                let mode = match (m.poweroff, m.poweroff_hard) {
                    (_, true) => MigrateMode::PoweroffHard,
                    (true, false) => MigrateMode::Poweroff,
                    (false, false) => MigrateMode::Save,
                };
                let hid = common::id::<Host>(ctx, &m.host)?;
                let target = ds(m.datastore)?;
                Ok(vms.migrate(vms.id_of(&m.id)?, hid, m.live, m.enforce, target, mode)?)
            }
            Placement::Recover(r) => Ok(vms.recover(vms.id_of(&r.id)?, r.op())?),
        }
    }
}
