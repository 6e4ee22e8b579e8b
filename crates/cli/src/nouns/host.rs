//! `nubo host`: registering hosts and switching them between enabled, disabled and offline.

use clap::Subcommand;
use nubo_client::nouns::{Cluster, Host, HostStatus};
use nubo_types::states::HostState;

use crate::common::{self, Read, Rename, Target, Write};
use crate::context::Ctx;
use crate::input::quote;
use crate::output::{Column, code_name, text, with};

/// Columns of `nubo host list`.
const COLUMNS: &[Column] = &[
    text("ID", "ID"),
    text("NAME", "NAME"),
    text("CLUSTER", "CLUSTER"),
    text("RVM", "HOST_SHARE/RUNNING_VMS"),
    text("IM", "IM_MAD"),
    text("VM", "VM_MAD"),
    with("STAT", |h| {
        code_name(h, "STATE", |c| HostState::from_code(c).map(HostState::name))
    }),
];

/// Manage hosts.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    #[command(flatten)]
    Read(Read),
    #[command(flatten)]
    Write(Write),
    #[command(flatten)]
    Rename(Rename),
    /// Register a host; prints its id.
    ///
    /// `--vm kvm` is a host whose guests a nubo-hostd runs as QEMU VMs, `--vm lxc` one
    /// whose guests it runs as containers (see docs/hosts.md); for tests and scale runs,
    /// `--vm dummy` gives a host with simulated guests.
    Create {
        /// The host's name (its address, for real drivers).
        name: String,
        /// Information (monitoring) driver (default: the same as --vm).
        #[arg(long, short)]
        im: Option<String>,
        /// Virtualization driver: kvm (or qemu), lxc (containers), or dummy.
        #[arg(long, short)]
        vm: String,
        /// Where its nubo-hostd listens, when not at http://NAME:2634 (HOSTD_ENDPOINT).
        #[arg(long = "hostd", value_name = "URL")]
        hostd_endpoint: Option<String>,
        /// Cluster to put the host in, by id or name (default: the default cluster).
        #[arg(long, short)]
        cluster: Option<String>,
    },
    /// Enable a host: it is monitored and takes new VMs.
    Enable(Target),
    /// Disable a host: it is monitored but takes no new VMs.
    Disable(Target),
    /// Set a host offline: it is neither monitored nor used.
    Offline(Target),
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let hosts = ctx.client.host();
        let status = |t: Target, s| Ok(hosts.status(hosts.id_of(&t.id)?, s)?);
        match self {
            Cmd::Read(c) => c.run::<Host>(ctx, COLUMNS),
            Cmd::Write(c) => c.run::<Host>(ctx),
            Cmd::Rename(c) => c.run::<Host>(ctx),
            Cmd::Create {
                name,
                im,
                vm,
                hostd_endpoint,
                cluster,
            } => {
                let cid = cluster.map_or(Ok(-1), |c| common::id::<Cluster>(ctx, &c))?;
                let im = im.unwrap_or_else(|| vm.clone());
                let id = hosts.allocate(&name, &im, &vm, cid)?;
                if let Some(url) = hostd_endpoint {
                    hosts.update(id, &format!("HOSTD_ENDPOINT={}", quote(&url)), true)?;
                }
                ctx.created(id)
            }
            Cmd::Enable(t) => status(t, HostStatus::Enabled),
            Cmd::Disable(t) => status(t, HostStatus::Disabled),
            Cmd::Offline(t) => status(t, HostStatus::Offline),
        }
    }
}
