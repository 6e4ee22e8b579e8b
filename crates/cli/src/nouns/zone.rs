//! `nubo zone`: the zones of a federation (a single-zone cloud has zone 0).

use clap::Subcommand;
use nubo_client::nouns::Zone;
use nubo_types::states::ZoneState;

use crate::common::{Create, Read, Rename, Toggle, Write};
use crate::context::Ctx;
use crate::output::{Column, code_name, text, with};

/// Columns of `nubo zone list`.
const COLUMNS: &[Column] = &[
    text("ID", "ID"),
    text("NAME", "NAME"),
    text("ENDPOINT", "TEMPLATE/ENDPOINT"),
    with("STAT", |z| {
        code_name(z, "STATE", |c| ZoneState::from_code(c).map(ZoneState::name))
    }),
];

/// Manage zones.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    #[command(flatten)]
    Read(Read),
    #[command(flatten)]
    Write(Write),
    #[command(flatten)]
    Rename(Rename),
    #[command(flatten)]
    Create(Create),
    #[command(flatten)]
    Toggle(Toggle),
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Cmd::Read(c) => c.run::<Zone>(ctx, COLUMNS),
            Cmd::Write(c) => c.run::<Zone>(ctx),
            Cmd::Rename(c) => c.run::<Zone>(ctx),
            Cmd::Create(c) => c.run::<Zone>(ctx),
            Cmd::Toggle(c) => c.run::<Zone>(ctx),
        }
    }
}
