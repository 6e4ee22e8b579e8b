//! `nubo cluster`: clusters and their members (hosts, datastores, virtual networks).

use clap::{Args, Subcommand};
use nubo_client::nouns::{Cluster, Datastore, Host, Member, Vnet};

use crate::common::{self, Read, Rename, Write};
use crate::context::Ctx;
use crate::output::{Column, count, text};

/// Columns of `nubo cluster list`.
const COLUMNS: &[Column] = &[
    text("ID", "ID"),
    text("NAME", "NAME"),
    count("HOSTS", "HOSTS"),
    count("VNETS", "VNETS"),
    count("DATASTORES", "DATASTORES"),
];

/// A cluster and one object.
#[derive(Debug, Args)]
pub struct Membership {
    /// The cluster's id, or name.
    #[arg(value_name = "CLUSTER")]
    cluster: String,
    /// The object's id, or name.
    #[arg(value_name = "OBJECT")]
    object: String,
}

/// Manage clusters.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    #[command(flatten)]
    Read(Read),
    #[command(flatten)]
    Write(Write),
    #[command(flatten)]
    Rename(Rename),
    /// Create a cluster; prints its id.
    Create {
        /// The cluster name.
        name: String,
    },
    /// Move a host into the cluster (a host is in exactly one cluster).
    Addhost(Membership),
    /// Move a host back to the default cluster.
    Delhost(Membership),
    /// Add a datastore to the cluster.
    Adddatastore(Membership),
    /// Remove a datastore from the cluster.
    Deldatastore(Membership),
    /// Add a virtual network to the cluster.
    Addvnet(Membership),
    /// Remove a virtual network from the cluster.
    Delvnet(Membership),
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Cmd::Read(c) => c.run::<Cluster>(ctx, COLUMNS),
            Cmd::Write(c) => c.run::<Cluster>(ctx),
            Cmd::Rename(c) => c.run::<Cluster>(ctx),
            Cmd::Create { name } => ctx.created(ctx.client.cluster().allocate(&name)?),
            Cmd::Addhost(m) => membership(ctx, &m, Member::Host, true),
            Cmd::Delhost(m) => membership(ctx, &m, Member::Host, false),
            Cmd::Adddatastore(m) => membership(ctx, &m, Member::Datastore, true),
            Cmd::Deldatastore(m) => membership(ctx, &m, Member::Datastore, false),
            Cmd::Addvnet(m) => membership(ctx, &m, Member::Vnet, true),
            Cmd::Delvnet(m) => membership(ctx, &m, Member::Vnet, false),
        }
    }
}

/// Adds an object to a cluster or removes it.
fn membership(ctx: &Ctx, m: &Membership, member: Member, add: bool) -> anyhow::Result<()> {
    let clusters = ctx.client.cluster();
    let cid = clusters.id_of(&m.cluster)?;
    let oid = match member {
        Member::Host => common::id::<Host>(ctx, &m.object)?,
        Member::Datastore => common::id::<Datastore>(ctx, &m.object)?,
        Member::Vnet => common::id::<Vnet>(ctx, &m.object)?,
    };
    if add {
        Ok(clusters.add(cid, member, oid)?)
    } else {
        Ok(clusters.del(cid, member, oid)?)
    }
}
