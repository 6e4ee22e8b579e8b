//! `nubo datastore`: datastores, from a template file or from flags.

use clap::{Args, Subcommand};
use nubo_client::nouns::{Cluster, Datastore};
use nubo_types::states::{DatastoreState, DatastoreType};

use crate::common::{self, Owner, Read, Rename, Toggle, Write};
use crate::context::Ctx;
use crate::exit::usage_error;
use crate::input::{self, quote};
use crate::output::{Column, bytes_mb, code_name, id_list, text, with};

/// Columns of `nubo datastore list`.
const COLUMNS: &[Column] = &[
    text("ID", "ID"),
    text("NAME", "NAME"),
    with("SIZE", |d| bytes_mb(d.text_of("TOTAL_MB").unwrap_or(""))),
    with("AVAIL", |d| bytes_mb(d.text_of("FREE_MB").unwrap_or(""))),
    with("CLUSTERS", |d| {
        d.find("CLUSTERS").map(id_list).unwrap_or_default()
    }),
    with("TYPE", |d| {
        code_name(d, "TYPE", |c| {
            DatastoreType::from_code(c).map(DatastoreType::name)
        })
    }),
    text("DS", "DS_MAD"),
    text("TM", "TM_MAD"),
    with("STAT", |d| {
        code_name(d, "STATE", |c| {
            DatastoreState::from_code(c).map(DatastoreState::name)
        })
    }),
];

/// What a new datastore is made from.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Template file (- reads standard input); the flags below add to it.
    #[arg(value_name = "FILE")]
    file: Option<String>,
    /// NAME of the datastore.
    #[arg(long)]
    name: Option<String>,
    /// DS_MAD: the datastore driver, e.g. fs or dummy.
    #[arg(long)]
    ds_mad: Option<String>,
    /// TM_MAD: the transfer driver, e.g. shared, ssh or dummy.
    #[arg(long)]
    tm_mad: Option<String>,
    /// TYPE: IMAGE_DS, SYSTEM_DS, FILE_DS or BACKUP_DS.
    #[arg(long = "type", value_name = "TYPE")]
    ds_type: Option<String>,
    /// Cluster to add the datastore to, by id or name (default: the default cluster).
    #[arg(long, short)]
    cluster: Option<String>,
}

/// Manage datastores.
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
    Toggle(Toggle),
    /// Create a datastore from a template file and/or flags; prints its id.
    ///
    /// Example: nubo datastore create --name images --ds-mad fs --tm-mad shared --type IMAGE_DS
    Create(CreateArgs),
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Cmd::Read(c) => c.run::<Datastore>(ctx, COLUMNS),
            Cmd::Write(c) => c.run::<Datastore>(ctx),
            Cmd::Rename(c) => c.run::<Datastore>(ctx),
            Cmd::Owner(c) => c.run::<Datastore>(ctx),
            Cmd::Toggle(c) => c.run::<Datastore>(ctx),
            Cmd::Create(args) => {
                let mut template = args
                    .file
                    .as_deref()
                    .map(input::template)
                    .transpose()?
                    .unwrap_or_default();
                for (key, value) in [
                    ("NAME", &args.name),
                    ("DS_MAD", &args.ds_mad),
                    ("TM_MAD", &args.tm_mad),
                    ("TYPE", &args.ds_type),
                ] {
                    if let Some(value) = value {
                        template.push_str(&format!("\n{key}={}", quote(value)));
                    }
                }
                if template.trim().is_empty() {
                    return Err(usage_error("give a template FILE or at least --name"));
                }
                let cid = args
                    .cluster
                    .map_or(Ok(-1), |c| common::id::<Cluster>(ctx, &c))?;
                ctx.created(ctx.client.datastore().allocate(&template, cid)?)
            }
        }
    }
}
