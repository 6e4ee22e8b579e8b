//! `nubo image`: registering images (from a path or as empty datablocks), cloning,
//! persistence and type.

use clap::{Args, Subcommand};
use nubo_client::nouns::{Datastore, Image};
use nubo_types::states::{ImageState, ImageType};

use crate::common::{self, Lock, Owner, Read, Rename, Target, Toggle, Write};
use crate::context::Ctx;
use crate::exit::usage_error;
use crate::input::{self, quote};
use crate::output::{Column, OWNED, bytes_mb, code_name, text, with, yes_no};

/// Columns of `nubo image list`.
const COLUMNS: &[Column] = &[
    OWNED[0],
    OWNED[1],
    OWNED[2],
    OWNED[3],
    text("DATASTORE", "DATASTORE"),
    with("SIZE", |i| bytes_mb(i.text_of("SIZE").unwrap_or(""))),
    with("TYPE", |i| {
        code_name(i, "TYPE", |c| ImageType::from_code(c).map(ImageType::name))
    }),
    with("PER", |i| yes_no(i, "PERSISTENT")),
    with("STAT", |i| {
        code_name(i, "STATE", |c| {
            ImageState::from_code(c).map(ImageState::name)
        })
    }),
    text("RVMS", "RUNNING_VMS"),
];

/// What a new image is made from.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Template file (- reads standard input); the flags below add to it.
    #[arg(value_name = "FILE")]
    file: Option<String>,
    /// Datastore to register the image in, by id or name.
    #[arg(long, short)]
    datastore: String,
    /// NAME of the image.
    #[arg(long)]
    name: Option<String>,
    /// PATH (or URL) to copy the image from.
    #[arg(long, conflicts_with = "size")]
    path: Option<String>,
    /// SIZE in MB, for an empty image (with --type DATABLOCK).
    #[arg(long)]
    size: Option<u64>,
    /// TYPE: OS, CDROM, DATABLOCK, KERNEL, RAMDISK or CONTEXT.
    #[arg(long = "type", value_name = "TYPE")]
    image_type: Option<String>,
    /// FORMAT of the disk, e.g. raw or qcow2.
    #[arg(long)]
    format: Option<String>,
    /// DESCRIPTION of the image.
    #[arg(long)]
    description: Option<String>,
    /// Make the image persistent (one VM at a time; changes are kept).
    #[arg(long)]
    persistent: bool,
}

impl CreateArgs {
    /// The template: the file's text, then one line per flag given.
    fn template(&self) -> anyhow::Result<String> {
        let mut template = self
            .file
            .as_deref()
            .map(input::template)
            .transpose()?
            .unwrap_or_default();
        let size = self.size.map(|s| s.to_string());
        let persistent = self.persistent.then(|| "YES".to_owned());
        for (key, value) in [
            ("NAME", &self.name),
            ("PATH", &self.path),
            ("SIZE", &size),
            ("TYPE", &self.image_type),
            ("FORMAT", &self.format),
            ("DESCRIPTION", &self.description),
            ("PERSISTENT", &persistent),
        ] {
            if let Some(value) = value {
                template.push_str(&format!("\n{key}={}", quote(value)));
            }
        }
        if template.trim().is_empty() {
            return Err(usage_error(
                "give a template FILE or --name with --path or --size",
            ));
        }
        Ok(template)
    }
}

/// Manage images.
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
    Toggle(Toggle),
    /// Register an image; prints its id.
    ///
    /// Examples: nubo image create --name debian --datastore default --path /tmp/d.qcow2
    /// and nubo image create --name scratch --datastore 1 --size 1024 --type DATABLOCK
    Create(CreateArgs),
    /// Make an image persistent: one VM at a time, and its changes are kept.
    Persistent(Target),
    /// Make an image non-persistent: each VM gets a copy.
    Nonpersistent(Target),
    /// Change an image's type (OS, CDROM, DATABLOCK, KERNEL, RAMDISK, CONTEXT).
    Chtype {
        /// The image's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The new type.
        #[arg(value_name = "TYPE")]
        image_type: String,
    },
    /// Copy an image, optionally into another datastore; prints the copy's id.
    Clone {
        /// The image's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The copy's name.
        name: String,
        /// Datastore for the copy, by id or name (default: the same one).
        #[arg(long, short)]
        datastore: Option<String>,
    },
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let images = ctx.client.image();
        let ds = |d: &str| common::id::<Datastore>(ctx, d);
        match self {
            Cmd::Read(c) => c.run::<Image>(ctx, COLUMNS),
            Cmd::Write(c) => c.run::<Image>(ctx),
            Cmd::Rename(c) => c.run::<Image>(ctx),
            Cmd::Owner(c) => c.run::<Image>(ctx),
            Cmd::Lock(c) => c.run::<Image>(ctx),
            Cmd::Toggle(c) => c.run::<Image>(ctx),
            Cmd::Create(args) => {
                let template = args.template()?;
                ctx.created(images.allocate(&template, ds(&args.datastore)?)?)
            }
            Cmd::Persistent(t) => Ok(images.persistent(images.id_of(&t.id)?, true)?),
            Cmd::Nonpersistent(t) => Ok(images.persistent(images.id_of(&t.id)?, false)?),
            Cmd::Chtype { id, image_type } => {
                Ok(images.chtype(images.id_of(&id)?, &image_type.to_ascii_uppercase())?)
            }
            Cmd::Clone {
                id,
                name,
                datastore,
            } => {
                let target = datastore.as_deref().map_or(Ok(-1), ds)?;
                ctx.created(images.clone_to(images.id_of(&id)?, &name, target)?)
            }
        }
    }
}
