//! `nubo acl`: ACL rules in their text form, `USER RESOURCES RIGHTS [ZONE]`.

use clap::Subcommand;

use crate::context::Ctx;
use crate::output::{Column, text, with};

/// Columns of `nubo acl list`: the rule's text form, split.
const COLUMNS: &[Column] = &[
    text("ID", "ID"),
    with("USER", |r| part(r, 0)),
    with("RESOURCES", |r| part(r, 1)),
    with("RIGHTS", |r| part(r, 2)),
    with("ZONE", |r| part(r, 3)),
];

/// Word `n` of a rule's STRING.
fn part(rule: &nubo_client::Element, n: usize) -> String {
    rule.text_of("STRING")
        .and_then(|s| s.split_whitespace().nth(n))
        .unwrap_or("")
        .to_owned()
}

/// Manage ACL rules.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List the rules.
    List,
    /// Add a rule; prints its id.
    ///
    /// The rule is "USER RESOURCES RIGHTS [ZONE]": USER is #uid, @gid or *; RESOURCES is
    /// kinds joined with + and an object spec, e.g. VM+IMAGE/* or NET/#3 or HOST/%0
    /// (cluster); RIGHTS is USE, MANAGE, ADMIN and/or CREATE joined with +; ZONE is #zid or *
    /// (default #0). Example: nubo acl create "@1 VM+IMAGE/* CREATE *"
    Create {
        /// The rule, quoted as one argument.
        rule: String,
    },
    /// Delete a rule.
    Delete {
        /// The rule's id.
        id: i32,
    },
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let acl = ctx.client.acl();
        match self {
            Cmd::List => ctx.list(&acl.info()?, "ACL", COLUMNS),
            Cmd::Create { rule } => ctx.created(acl.add_text(&rule)?),
            Cmd::Delete { id } => Ok(acl.delete(id)?),
        }
    }
}
