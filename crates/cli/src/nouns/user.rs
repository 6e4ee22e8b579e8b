//! `nubo user`: accounts, passwords and authentication drivers, group membership, quotas and
//! login tokens.

use clap::Subcommand;
use nubo_client::nouns::{Group, User};

use crate::common::{self, Quota, Read, Toggle, Write};
use crate::context::Ctx;
use crate::output::{Column, text, with, yes_no};

/// Columns of `nubo user list`.
const COLUMNS: &[Column] = &[
    text("ID", "ID"),
    text("NAME", "NAME"),
    with("ENAB", |u| yes_no(u, "ENABLED")),
    text("GROUP", "GNAME"),
    text("AUTH", "AUTH_DRIVER"),
];

/// Manage users.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    #[command(flatten)]
    Read(Read),
    #[command(flatten)]
    Write(Write),
    #[command(flatten)]
    Toggle(Toggle),
    #[command(flatten)]
    Quota(Quota),
    /// Create a user; prints its id.
    ///
    /// Without --group the user joins the users group (or, when a group admin creates it,
    /// the admin's group).
    Create {
        /// The user name.
        name: String,
        /// The password (some drivers need none).
        #[arg(default_value = "", hide_default_value = true)]
        password: String,
        /// Authentication driver: core (the default), ldap, ssh, x509, server_cipher, …
        #[arg(long, default_value = "", hide_default_value = true)]
        driver: String,
        /// Group to join, by id or name; repeat for more (the first is the primary group).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// Change a user's password.
    Passwd {
        /// The user's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The new password.
        password: String,
    },
    /// Change a user's authentication driver, and optionally the password.
    Chauth {
        /// The user's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The driver: core, ldap, ssh, x509, public, server_cipher, …
        driver: String,
        /// The new password (default: unchanged).
        #[arg(default_value = "", hide_default_value = true)]
        password: String,
    },
    /// Change a user's primary group.
    Chgrp {
        /// The user's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The group's id, or name.
        group: String,
    },
    /// Add a user to a secondary group.
    Addgroup {
        /// The user's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The group's id, or name.
        group: String,
    },
    /// Remove a user from a secondary group.
    Delgroup {
        /// The user's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The group's id, or name.
        group: String,
    },
    /// Create a login token for a user and print it; use it as the password afterwards.
    Login {
        /// The user name.
        name: String,
        /// The token (default: a random one is generated).
        #[arg(long, default_value = "", hide_default_value = true)]
        token: String,
        /// Seconds the token is valid; -1 is the longest the server allows, 0 revokes it
        /// (or every token, with no --token).
        #[arg(long, default_value_t = 36_000, allow_negative_numbers = true)]
        time: i32,
        /// Restrict sessions with this token to one group (id or name).
        #[arg(long)]
        group: Option<String>,
    },
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let users = ctx.client.user();
        let gid = |g: &str| common::id::<Group>(ctx, g);
        match self {
            Cmd::Read(c) => c.run::<User>(ctx, COLUMNS),
            Cmd::Write(c) => c.run::<User>(ctx),
            Cmd::Toggle(c) => c.run::<User>(ctx),
            Cmd::Quota(c) => c.run::<User>(ctx),
            Cmd::Create {
                name,
                password,
                driver,
                groups,
            } => {
                let gids = groups
                    .iter()
                    .map(|g| gid(g))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                ctx.created(users.allocate(&name, &password, &driver, &gids)?)
            }
            Cmd::Passwd { id, password } => Ok(users.passwd(users.id_of(&id)?, &password)?),
            Cmd::Chauth {
                id,
                driver,
                password,
            } => Ok(users.chauth(users.id_of(&id)?, &driver, &password)?),
            Cmd::Chgrp { id, group } => Ok(users.chgrp(users.id_of(&id)?, gid(&group)?)?),
            Cmd::Addgroup { id, group } => Ok(users.addgroup(users.id_of(&id)?, gid(&group)?)?),
            Cmd::Delgroup { id, group } => Ok(users.delgroup(users.id_of(&id)?, gid(&group)?)?),
            Cmd::Login {
                name,
                token,
                time,
                group,
            } => {
                let egid = group.as_deref().map_or(Ok(-1), gid)?;
                ctx.text(&users.login(&name, &token, time, egid)?)
            }
        }
    }
}
