//! `nubo secgroup`: security groups and pushing their rules to the VMs that use them.

use clap::Subcommand;
use nubo_client::nouns::SecGroup;

use crate::common::{CloneAs, Create, Owner, Read, Rename, Write};
use crate::context::Ctx;
use crate::output::{Column, OWNED, count, with};

/// Columns of `nubo secgroup list`.
const COLUMNS: &[Column] = &[
    OWNED[0],
    OWNED[1],
    OWNED[2],
    OWNED[3],
    count("UPDATED", "UPDATED_VMS"),
    count("OUTDATED", "OUTDATED_VMS"),
    with("ERRORS", |s| {
        s.find("ERROR_VMS")
            .map_or(0, |e| e.children("ID").count())
            .to_string()
    }),
];

/// Manage security groups.
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
    Clone(CloneAs),
    #[command(flatten)]
    Create(Create),
    /// Push the group's rules to the VMs using it.
    Commit {
        /// The security group's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// Only update the VMs whose rules are outdated (default: all of them).
        #[arg(long)]
        outdated: bool,
    },
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Cmd::Read(c) => c.run::<SecGroup>(ctx, COLUMNS),
            Cmd::Write(c) => c.run::<SecGroup>(ctx),
            Cmd::Rename(c) => c.run::<SecGroup>(ctx),
            Cmd::Owner(c) => c.run::<SecGroup>(ctx),
            Cmd::Clone(c) => c.run::<SecGroup>(ctx),
            Cmd::Create(c) => c.run::<SecGroup>(ctx),
            Cmd::Commit { id, outdated } => {
                let groups = ctx.client.secgroup();
                Ok(groups.commit(groups.id_of(&id)?, outdated)?)
            }
        }
    }
}
