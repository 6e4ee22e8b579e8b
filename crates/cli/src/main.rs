//! `nubo`, Nubo's command-line tool: one subcommand per kind of object (`nubo user list`,
//! `nubo image create …`), speaking OpenNebula's XML-RPC API.
//!
//! Flags are parsed once ([`flags`]); the settings derived from them live in [`context`];
//! exit codes and the one-line error report are decided in [`exit`].

mod common;
mod context;
mod exit;
mod flags;
mod input;
mod nouns;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match flags::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return exit::usage(&err),
    };
    exit::finish(run(cli))
}

/// Builds the context from the global flags and runs the command.
fn run(cli: flags::Cli) -> anyhow::Result<()> {
    let ctx = context::Ctx::from_flags(&cli.global)?;
    nouns::run(cli.command, &ctx)
}
