//! `nubo ec2-key`: the EC2 access keys with which boto3 and the aws CLI sign their requests
//! as a Nubo user. `nubo ec2-key create --user NAME --password P` makes NAME's own key (the
//! global login flags); `--owner NAME` lets an administrator manage another user's keys.

use clap::Subcommand;

use crate::context::Ctx;
use crate::output::{Column, text};

/// Columns of `nubo ec2-key list`.
const COLUMNS: &[Column] = &[
    text("ACCESS_KEY_ID", "ACCESS_KEY_ID"),
    text("USER", "USER_NAME"),
    text("CREATED", "CREATED"),
];

/// Manage EC2 access keys.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create an access key; prints its id and its secret (shown only this once).
    Create {
        /// The user the key is for, by id or name (default: the user you log in as, with
        /// the global --user/--password or ONE_AUTH).
        #[arg(long)]
        owner: Option<String>,
    },
    /// List access keys (never their secrets).
    List {
        /// Whose keys, by id or name (default: yours).
        #[arg(long)]
        owner: Option<String>,
    },
    /// Delete an access key.
    Delete {
        /// The access key id.
        access_key_id: String,
        /// The user holding the key, by id or name (default: yourself).
        #[arg(long)]
        owner: Option<String>,
    },
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let users = ctx.client.user();
        let uid = |owner: Option<String>| -> anyhow::Result<i32> {
            Ok(match owner {
                Some(u) => users.id_of(&u)?,
                None => -1,
            })
        };
        match self {
            Cmd::Create { owner } => {
                let xml = users.ec2_key_create(uid(owner)?)?;
                ctx.show_with(&xml, |key| {
                    format!(
                        "ACCESS_KEY_ID:     {}\nSECRET_ACCESS_KEY: {}\n",
                        key.text_of("ACCESS_KEY_ID").unwrap_or_default(),
                        key.text_of("SECRET_ACCESS_KEY").unwrap_or_default()
                    )
                })
            }
            Cmd::List { owner } => ctx.list(&users.ec2_key_info(uid(owner)?)?, "EC2_KEY", COLUMNS),
            Cmd::Delete {
                access_key_id,
                owner,
            } => Ok(users.ec2_key_delete(uid(owner)?, &access_key_id)?),
        }
    }
}
