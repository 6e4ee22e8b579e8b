//! `nubo document`: generic documents, which applications store under a numeric type and
//! list per type. Documents are named by id.

use clap::Subcommand;
use nubo_client::Filter;
use nubo_client::nouns::Document;

use crate::common::{self, CloneAs, Lock, Owner, Rename, Write};
use crate::context::Ctx;
use crate::input;
use crate::output::{Column, OWNED, text};

/// Columns of `nubo document list`.
const COLUMNS: &[Column] = &[OWNED[0], OWNED[1], OWNED[2], OWNED[3], text("TYPE", "TYPE")];

/// Manage documents.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// List the documents of one type.
    List {
        /// Whose documents: all, mine, group, mine-group, or a user id.
        #[arg(long, short, default_value = "all", value_name = "FILTER")]
        filter: Filter,
        /// The document type to list.
        #[arg(long = "type", default_value_t = 0, value_name = "TYPE")]
        doc_type: i32,
    },
    /// Show one document: its attributes, then its template.
    Show {
        /// The document's id.
        #[arg(value_name = "ID")]
        id: String,
    },
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
    /// Create a document from a template file (- reads standard input); prints its id.
    Create {
        /// Template file, or - for standard input.
        #[arg(value_name = "FILE")]
        file: String,
        /// The document type.
        #[arg(long = "type", default_value_t = 0, value_name = "TYPE")]
        doc_type: i32,
    },
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let documents = ctx.client.document();
        match self {
            Cmd::List { filter, doc_type } => ctx.list(
                &documents.pool_info_of_type(filter, doc_type)?,
                "DOCUMENT",
                COLUMNS,
            ),
            Cmd::Show { id } => common::show::<Document>(ctx, &id),
            Cmd::Write(c) => c.run::<Document>(ctx),
            Cmd::Rename(c) => c.run::<Document>(ctx),
            Cmd::Owner(c) => c.run::<Document>(ctx),
            Cmd::Lock(c) => c.run::<Document>(ctx),
            Cmd::Clone(c) => c.run::<Document>(ctx),
            Cmd::Create { file, doc_type } => {
                ctx.created(documents.allocate(&input::template(&file)?, doc_type)?)
            }
        }
    }
}
