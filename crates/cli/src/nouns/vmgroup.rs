//! `nubo vmgroup`: VM groups, their roles and the affinity rules between them.

use clap::{Args, Subcommand};
use nubo_client::nouns::VmGroup;

use crate::common::{Create, Lock, Owner, Read, Rename, Write};
use crate::context::Ctx;
use crate::exit::usage_error;
use crate::input::{self, quote};
use crate::output::{Column, OWNED, with};

/// Columns of `nubo vmgroup list`.
const COLUMNS: &[Column] = &[
    OWNED[0],
    OWNED[1],
    OWNED[2],
    OWNED[3],
    with("ROLES", |g| {
        g.find("ROLES")
            .map(|roles| {
                roles
                    .children("ROLE")
                    .filter_map(|r| r.text_of("NAME"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    }),
];

/// A role, from a file or flags.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// The VM group's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// File holding ROLE=[…] (- reads standard input), instead of the flags.
    #[arg(value_name = "FILE", conflicts_with_all = ["name", "policy"])]
    file: Option<String>,
    /// The role's NAME.
    #[arg(long, short)]
    name: Option<String>,
    /// Placement POLICY of the role's VMs: AFFINED (same host) or ANTI_AFFINED.
    #[arg(long, requires = "name")]
    policy: Option<String>,
}

impl RoleArgs {
    /// `ROLE=[…]` from the file or the flags.
    fn template(&self) -> anyhow::Result<String> {
        if let Some(file) = &self.file {
            return input::template(file);
        }
        let name = self
            .name
            .as_ref()
            .ok_or_else(|| usage_error("give a ROLE file, or --name (and --policy)"))?;
        let mut parts = vec![format!("NAME={}", quote(name))];
        if let Some(policy) = &self.policy {
            parts.push(format!("POLICY={}", quote(&policy.to_ascii_uppercase())));
        }
        Ok(format!("ROLE=[{}]", parts.join(", ")))
    }
}

/// Manage VM groups.
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
    /// Create a VM group from a template file (- reads standard input); prints its id.
    ///
    /// Example template: NAME="web" ROLE=[NAME="front", POLICY="ANTI_AFFINED"]
    /// ROLE=[NAME="db"] AFFINED="front, db"
    #[command(flatten)]
    Create(Create),
    /// Add a role, from a file holding ROLE=[…] or from flags.
    RoleAdd(RoleArgs),
    /// Delete a role.
    RoleDelete {
        /// The VM group's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The role's id.
        #[arg(value_name = "ROLE_ID")]
        role: i32,
    },
    /// Change a role from a file holding ROLE=[…].
    RoleUpdate {
        /// The VM group's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The role's id.
        #[arg(value_name = "ROLE_ID")]
        role: i32,
        /// Template file, or - for standard input.
        #[arg(value_name = "FILE")]
        file: String,
    },
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let groups = ctx.client.resource::<VmGroup>();
        match self {
            Cmd::Read(c) => c.run::<VmGroup>(ctx, COLUMNS),
            Cmd::Write(c) => c.run::<VmGroup>(ctx),
            Cmd::Rename(c) => c.run::<VmGroup>(ctx),
            Cmd::Owner(c) => c.run::<VmGroup>(ctx),
            Cmd::Lock(c) => c.run::<VmGroup>(ctx),
            Cmd::Create(c) => c.run::<VmGroup>(ctx),
            Cmd::RoleAdd(r) => {
                let template = r.template()?;
                Ok(groups.role_add(groups.id_of(&r.id)?, &template)?)
            }
            Cmd::RoleDelete { id, role } => Ok(groups.role_delete(groups.id_of(&id)?, role)?),
            Cmd::RoleUpdate { id, role, file } => {
                let template = input::template(&file)?;
                Ok(groups.role_update(groups.id_of(&id)?, role, &template)?)
            }
        }
    }
}
