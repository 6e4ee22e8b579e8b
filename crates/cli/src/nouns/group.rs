//! `nubo group`: groups, their administrators and quotas.

use clap::Subcommand;
use nubo_client::nouns::{Group, User};

use crate::common::{self, Quota, Read, Write};
use crate::context::Ctx;
use crate::output::{Column, count, text};

/// Columns of `nubo group list`.
const COLUMNS: &[Column] = &[
    text("ID", "ID"),
    text("NAME", "NAME"),
    count("USERS", "USERS"),
    count("ADMINS", "ADMINS"),
];

/// Manage groups.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    #[command(flatten)]
    Read(Read),
    #[command(flatten)]
    Write(Write),
    #[command(flatten)]
    Quota(Quota),
    /// Create a group; prints its id.
    Create {
        /// The group name.
        name: String,
    },
    /// Make a user an administrator of the group.
    Addadmin {
        /// The group's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The user's id, or name.
        user: String,
    },
    /// Remove a user from the group's administrators.
    Deladmin {
        /// The group's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The user's id, or name.
        user: String,
    },
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let groups = ctx.client.group();
        match self {
            Cmd::Read(c) => c.run::<Group>(ctx, COLUMNS),
            Cmd::Write(c) => c.run::<Group>(ctx),
            Cmd::Quota(c) => c.run::<Group>(ctx),
            Cmd::Create { name } => ctx.created(groups.allocate(&name)?),
            Cmd::Addadmin { id, user } => {
                Ok(groups.addadmin(groups.id_of(&id)?, common::id::<User>(ctx, &user)?)?)
            }
            Cmd::Deladmin { id, user } => {
                Ok(groups.deladmin(groups.id_of(&id)?, common::id::<User>(ctx, &user)?)?)
            }
        }
    }
}
