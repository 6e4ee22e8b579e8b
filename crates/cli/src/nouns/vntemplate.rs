//! `nubo vntemplate`: virtual network templates, and networks made from them.

use clap::Subcommand;
use nubo_client::nouns::VnTemplate;

use crate::common::{CloneAs, Create, Lock, Owner, Read, Rename, Write};
use crate::context::Ctx;
use crate::input;
use crate::output::{Column, OWNED, date, with};

/// Columns of `nubo vntemplate list`.
const COLUMNS: &[Column] = &[
    OWNED[0],
    OWNED[1],
    OWNED[2],
    OWNED[3],
    with("REGTIME", |t| date(t.text_of("REGTIME").unwrap_or(""))),
];

/// Manage virtual network templates.
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
    #[command(flatten)]
    Clone(CloneAs),
    #[command(flatten)]
    Create(Create),
    /// Create a virtual network from the template; prints the network's id.
    Instantiate {
        /// The template's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The network's name (default: chosen by the server).
        #[arg(long, short, default_value = "", hide_default_value = true)]
        name: String,
        /// File with extra attributes merged into the template (- reads standard input).
        #[arg(long, value_name = "FILE")]
        extra: Option<String>,
    },
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Cmd::Read(c) => c.run::<VnTemplate>(ctx, COLUMNS),
            Cmd::Write(c) => c.run::<VnTemplate>(ctx),
            Cmd::Rename(c) => c.run::<VnTemplate>(ctx),
            Cmd::Owner(c) => c.run::<VnTemplate>(ctx),
            Cmd::Lock(c) => c.run::<VnTemplate>(ctx),
            Cmd::Clone(c) => c.run::<VnTemplate>(ctx),
            Cmd::Create(c) => c.run::<VnTemplate>(ctx),
            Cmd::Instantiate { id, name, extra } => {
                let templates = ctx.client.vntemplate();
                let extra = extra
                    .as_deref()
                    .map(input::template)
                    .transpose()?
                    .unwrap_or_default();
                ctx.created(templates.instantiate(templates.id_of(&id)?, &name, &extra)?)
            }
        }
    }
}
