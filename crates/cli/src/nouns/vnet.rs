//! `nubo vnet`: virtual networks, their address ranges, held leases and reservations.

use clap::{Args, Subcommand};
use nubo_client::nouns::{Cluster, Vnet};
use nubo_types::states::VnetState;

use crate::common::{self, Lock, Owner, Read, Rename, Write};
use crate::context::Ctx;
use crate::exit::usage_error;
use crate::input::{self, quote};
use crate::output::{Column, OWNED, code_name, id_list, text, with};

/// Columns of `nubo vnet list`.
const COLUMNS: &[Column] = &[
    OWNED[0],
    OWNED[1],
    OWNED[2],
    OWNED[3],
    with("CLUSTERS", |n| {
        n.find("CLUSTERS").map(id_list).unwrap_or_default()
    }),
    text("BRIDGE", "BRIDGE"),
    text("LEASES", "USED_LEASES"),
    with("STATE", |n| {
        code_name(n, "STATE", |c| VnetState::from_code(c).map(VnetState::name))
    }),
];

/// A network and an address range id.
#[derive(Debug, Args)]
pub struct RangeArgs {
    /// The network's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// The address range's id (AR_ID).
    #[arg(value_name = "AR_ID")]
    ar: i32,
}

/// A network and one address.
#[derive(Debug, Args)]
pub struct LeaseArgs {
    /// The network's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// The IPv4 address.
    ip: String,
}

/// A new address range, from a file or flags.
#[derive(Debug, Args)]
pub struct AddArArgs {
    /// The network's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// File holding AR=[…] (- reads standard input); instead of the flags.
    #[arg(value_name = "FILE", conflicts_with_all = ["ip", "size", "mac"])]
    file: Option<String>,
    /// TYPE of the range: IP4, IP6, IP4_6, ETHER, IP6_STATIC or IP4_6_STATIC.
    #[arg(long = "type", default_value = "IP4", value_name = "TYPE")]
    ar_type: String,
    /// First IPv4 address.
    #[arg(long)]
    ip: Option<String>,
    /// Number of addresses.
    #[arg(long)]
    size: Option<u32>,
    /// First MAC address (default: generated).
    #[arg(long)]
    mac: Option<String>,
}

impl AddArArgs {
    /// `AR=[…]` from the file or the flags.
    fn template(&self) -> anyhow::Result<String> {
        if let Some(file) = &self.file {
            return input::template(file);
        }
        let size = self
            .size
            .ok_or_else(|| usage_error("give an AR file, or --size (and --ip for IPv4)"))?;
        let mut parts = vec![
            format!("TYPE={}", quote(&self.ar_type)),
            format!("SIZE=\"{size}\""),
        ];
        for (key, value) in [("IP", &self.ip), ("MAC", &self.mac)] {
            if let Some(value) = value {
                parts.push(format!("{key}={}", quote(value)));
            }
        }
        Ok(format!("AR=[{}]", parts.join(", ")))
    }
}

/// What to reserve.
#[derive(Debug, Args)]
pub struct ReserveArgs {
    /// The network to reserve from: id or name.
    #[arg(value_name = "ID")]
    id: String,
    /// How many addresses.
    #[arg(long, short)]
    size: u32,
    /// Name of a new network to hold the reservation.
    #[arg(long, short, required_unless_present = "vnet")]
    name: Option<String>,
    /// Existing network (id or name) to add the reservation to, instead of a new one.
    #[arg(long)]
    vnet: Option<String>,
    /// Reserve from this address range only.
    #[arg(long)]
    ar: Option<i32>,
    /// First address of the reservation.
    #[arg(long)]
    ip: Option<String>,
}

/// Manage virtual networks.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    #[command(flatten)]
    Read(Read),
    #[command(flatten)]
    Write(Write),
    #[command(flatten)]
    Rename(Rename),
    #[command(flatten)]
    Owner(Owner),
    #[command(flatten)]
    Lock(Lock),
    /// Create a network from a template file (- reads standard input); prints its id.
    ///
    /// Example template: NAME="private" VN_MAD="bridge" BRIDGE="br0"
    /// AR=[TYPE="IP4", IP="10.0.0.10", SIZE="100"]
    Create {
        /// Template file, or - for standard input.
        #[arg(value_name = "FILE")]
        file: String,
        /// Cluster to add the network to, by id or name (default: the default cluster).
        #[arg(long, short)]
        cluster: Option<String>,
    },
    /// Add an address range, from a file holding AR=[…] or from flags.
    Addar(AddArArgs),
    /// Remove an address range (it must have no leases).
    Rmar(RangeArgs),
    /// Change an address range from a file holding AR=[AR_ID=…, …].
    Updatear {
        /// The network's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// Template file, or - for standard input.
        #[arg(value_name = "FILE")]
        file: String,
    },
    /// Release every lease of an address range.
    Freear(RangeArgs),
    /// Hold an address so it is not leased.
    Hold(LeaseArgs),
    /// Release a held address.
    Release(LeaseArgs),
    /// Reserve addresses into a new network (--name) or an existing one (--vnet); prints
    /// the id of the network holding them.
    Reserve(ReserveArgs),
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let vnets = ctx.client.vnet();
        let lease = |l: &LeaseArgs| format!("LEASES=[IP={}]", quote(&l.ip));
        match self {
            Cmd::Read(c) => c.run::<Vnet>(ctx, COLUMNS),
            Cmd::Write(c) => c.run::<Vnet>(ctx),
            Cmd::Rename(c) => c.run::<Vnet>(ctx),
            Cmd::Owner(c) => c.run::<Vnet>(ctx),
            Cmd::Lock(c) => c.run::<Vnet>(ctx),
            Cmd::Create { file, cluster } => {
                let template = input::template(&file)?;
                let cid = cluster.map_or(Ok(-1), |c| common::id::<Cluster>(ctx, &c))?;
                ctx.created(vnets.allocate(&template, cid)?)
            }
            Cmd::Addar(a) => Ok(vnets.add_ar(vnets.id_of(&a.id)?, &a.template()?)?),
            Cmd::Rmar(r) => Ok(vnets.rm_ar(vnets.id_of(&r.id)?, r.ar)?),
            Cmd::Updatear { id, file } => {
                Ok(vnets.update_ar(vnets.id_of(&id)?, &input::template(&file)?)?)
            }
            Cmd::Freear(r) => Ok(vnets.free_ar(vnets.id_of(&r.id)?, r.ar)?),
            Cmd::Hold(l) => Ok(vnets.hold(vnets.id_of(&l.id)?, &lease(&l))?),
            Cmd::Release(l) => Ok(vnets.release(vnets.id_of(&l.id)?, &lease(&l))?),
            Cmd::Reserve(r) => {
                let mut parts = vec![format!("SIZE=\"{}\"", r.size)];
                if let Some(name) = &r.name {
                    parts.push(format!("NAME={}", quote(name)));
                }
                if let Some(vnet) = &r.vnet {
                    parts.push(format!("NETWORK_ID=\"{}\"", vnets.id_of(vnet)?));
                }
                if let Some(ar) = r.ar {
                    parts.push(format!("AR_ID=\"{ar}\""));
                }
                if let Some(ip) = &r.ip {
                    parts.push(format!("IP={}", quote(ip)));
                }
                ctx.created(vnets.reserve(vnets.id_of(&r.id)?, &parts.join("\n"))?)
            }
        }
    }
}
