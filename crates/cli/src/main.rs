//! `nubo`, Nubo's command-line tool: one subcommand per kind of object (`nubo user list`,
//! `nubo image create …`), speaking OpenNebula's XML-RPC API, and `nubo app …` for the
//! PaaS, speaking the REST API ([`rest`]).
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
mod rest;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match flags::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return exit::usage(&err),
    };
    exit::finish(run(cli))
}

/// Runs the command with the global flags.
fn run(cli: flags::Cli) -> anyhow::Result<()> {
    nouns::run(cli.command, &cli.global)
}
