//! `nubo vm`: virtual machines. Listing with onevm's short states, a readable `show`,
//! creation from a template file or from flags, every life-cycle action, changes in place,
//! snapshots, scheduled actions, consoles (serial and VNC), and `wait` for a state.

mod console;
mod devices;
mod exec;
mod lifecycle;
mod snapshots;
pub mod spec;
pub mod state;
mod view;
mod wait;

use clap::{Args, Subcommand};
use nubo_client::Filter;
use nubo_client::nouns::{StateFilter, Vm};

use crate::common::{Edit, Lock, Owner, Rename, Target};
use crate::context::Ctx;

/// Which VMs to list.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Whose VMs: all (every VM you may use), mine, group (your primary group's),
    /// mine-group (yours and your groups'), or a user id.
    #[arg(long, short, default_value = "all", value_name = "FILTER")]
    filter: Filter,
    /// Only VMs in this STATE: pending, hold, active, stopped, suspended, done, poweroff,
    /// undeployed, cloning, cloning_failure; or any (DONE ones too). Default: all but DONE.
    #[arg(long, short, value_parser = state::state_filter, value_name = "STATE")]
    state: Option<StateFilter>,
}

/// What a new VM is made from.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Template file (- reads standard input); the flags replace its NAME, CPU, VCPU and
    /// MEMORY and add disks and NICs.
    #[arg(value_name = "FILE")]
    file: Option<String>,
    /// Capacity, disks and networks.
    #[command(flatten)]
    spec: spec::SpecArgs,
    /// Create the VM on hold: it is not scheduled until released.
    #[arg(long)]
    hold: bool,
    /// How many VMs to create (with --name, %i in it becomes 0, 1, 2…).
    #[arg(long, default_value = "1", value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
}

/// Manage virtual machines.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List VMs: ID, USER, GROUP, NAME, STAT (runn, pend, poff, fail…), CPU, MEM, HOST, TIME.
    List(ListArgs),
    /// Show a VM: its state in words, host, capacity, disks, NICs, history, templates.
    Show(Target),
    /// Create VMs from a template file and/or flags; prints their ids.
    ///
    /// Example: nubo vm create --name web --cpu 0.5 --memory 512M --image debian
    /// --network private
    Create(CreateArgs),
    #[command(flatten)]
    Edit(Edit),
    #[command(flatten)]
    Rename(Rename),
    #[command(flatten)]
    Owner(Owner),
    #[command(flatten)]
    Lock(Lock),
    #[command(flatten)]
    Actions(lifecycle::Actions),
    #[command(flatten)]
    Placement(lifecycle::Placement),
    #[command(flatten)]
    Devices(devices::Devices),
    #[command(flatten)]
    Snapshots(snapshots::Snapshots),
    #[command(flatten)]
    Consoles(console::Consoles),
    /// Run a command in a running VM (a container, or a guest with an agent) and print
    /// what it printed; exits with its exit code.
    ///
    /// Example: nubo vm exec c1 -- cat /etc/os-release
    Exec(exec::ExecArgs),
    /// Wait until a VM is in STATE; fails on timeout, or when the VM fails or ends instead.
    ///
    /// Example: nubo vm wait web running --timeout 120
    Wait(wait::WaitArgs),
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let vms = ctx.client.resource::<Vm>();
        match self {
            Cmd::List(l) => {
                let xml = vms.pool_info_state(l.filter, l.state.unwrap_or_default())?;
                ctx.list(&xml, "VM", view::COLUMNS)
            }
            Cmd::Show(t) => ctx.show_with(&vms.info(vms.id_of(&t.id)?)?, view::show),
            Cmd::Create(c) => create(ctx, &c),
            Cmd::Edit(c) => c.run::<Vm>(ctx),
            Cmd::Rename(c) => c.run::<Vm>(ctx),
            Cmd::Owner(c) => c.run::<Vm>(ctx),
            Cmd::Lock(c) => c.run::<Vm>(ctx),
            Cmd::Actions(c) => c.run(ctx),
            Cmd::Placement(c) => c.run(ctx),
            Cmd::Devices(c) => c.run(ctx),
            Cmd::Snapshots(c) => c.run(ctx),
            Cmd::Consoles(c) => c.run(ctx),
            Cmd::Exec(e) => e.run(ctx),
            Cmd::Wait(w) => w.run(ctx),
        }
    }
}

/// `vm create`: one `vm.allocate` per VM.
fn create(ctx: &Ctx, args: &CreateArgs) -> anyhow::Result<()> {
    let base = spec::base_template(args.file.as_deref(), &args.spec, "--cpu 1 --memory 512M")?;
    let mut flags = args.spec.attributes(ctx)?;
    // A VM made from flags alone gets one CPU unless --cpu says otherwise (oned refuses a
    // VM without CPU).
    if args.file.is_none() && args.spec.cpu.is_none() {
        flags.push(nubo_template::Attribute::single("CPU", "1"));
    }
    let vms = ctx.client.resource::<Vm>();
    let mut ids = Vec::new();
    for index in 0..args.count as usize {
        let template = spec::merge(&base, args.spec.name_for(index).as_deref(), &flags)?;
        match vms.allocate(&template, args.hold) {
            Ok(id) => ids.push(id),
            Err(e) if ids.is_empty() => return Err(e.into()),
            Err(e) => return Err(anyhow::Error::from(e).context(made_before(&ids))),
        }
    }
    ctx.created_all(&ids)
}

/// Says which VMs a `--count` run created before it failed.
pub fn made_before(ids: &[i32]) -> String {
    let list: Vec<String> = ids.iter().map(i32::to_string).collect();
    format!("created VM {} before failing", list.join(","))
}
