//! `nubo template`: VM templates, made from a file or from flags, and the VMs instantiated
//! from them.

use clap::{Args, Subcommand};
use nubo_client::nouns::VmTemplate;

use super::vm::made_before;
use super::vm::spec::{SpecArgs, base_template, merge};
use crate::common::{Edit, Lock, Owner, Read, Rename, Target};
use crate::context::Ctx;
use crate::input;
use crate::output::{Column, OWNED, date, text, with};

/// Columns of `nubo template list`.
const COLUMNS: &[Column] = &[
    OWNED[0],
    OWNED[1],
    OWNED[2],
    OWNED[3],
    text("CPU", "TEMPLATE/CPU"),
    with("MEM", |t| {
        crate::output::bytes_mb(t.text_of("TEMPLATE/MEMORY").unwrap_or(""))
    }),
    with("REGTIME", |t| date(t.text_of("REGTIME").unwrap_or(""))),
];

/// What a new template is made from.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Template file (- reads standard input); the flags replace its NAME, CPU, VCPU and
    /// MEMORY and add disks and NICs.
    #[arg(value_name = "FILE")]
    file: Option<String>,
    /// Name, capacity, disks and networks.
    #[command(flatten)]
    spec: SpecArgs,
}

/// How to instantiate a template.
#[derive(Debug, Args)]
pub struct InstantiateArgs {
    /// The template's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// File with attributes merged into the template (- reads standard input).
    #[arg(long, value_name = "FILE")]
    extra: Option<String>,
    /// The VM's name (default: the template's name and the VM's id); capacity, disks and
    /// networks given here are merged into the template.
    #[command(flatten)]
    spec: SpecArgs,
    /// Create the VM on hold: it is not scheduled until released.
    #[arg(long)]
    hold: bool,
    /// Give the VM its own persistent copies of the template's images.
    #[arg(long)]
    persistent: bool,
    /// How many VMs to create (with --name, %i in it becomes 0, 1, 2…).
    #[arg(long, default_value = "1", value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
}

/// Manage VM templates.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    #[command(flatten)]
    Read(Read),
    #[command(flatten)]
    Edit(Edit),
    #[command(flatten)]
    Rename(Rename),
    #[command(flatten)]
    Owner(Owner),
    #[command(flatten)]
    Lock(Lock),
    /// Create a template from a file and/or flags; prints its id.
    ///
    /// Example: nubo template create --name small --cpu 0.5 --memory 512M --image debian
    Create(CreateArgs),
    /// Delete a template; with --recursive, its images too.
    Delete {
        /// The template's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// Delete the images the template uses as well.
        #[arg(long, short)]
        recursive: bool,
    },
    /// Copy a template under a new name; prints the copy's id.
    Clone {
        /// The template's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The copy's name.
        name: String,
        /// Copy the template's images as well.
        #[arg(long, short)]
        recursive: bool,
    },
    /// Create VMs from a template; prints their ids.
    Instantiate(InstantiateArgs),
    /// Show a template with its disks and NICs filled in from their images and networks.
    ShowExtended(Target),
}

impl Cmd {
    /// Runs the command.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let templates = ctx.client.resource::<VmTemplate>();
        match self {
            Cmd::Read(c) => c.run::<VmTemplate>(ctx, COLUMNS),
            Cmd::Edit(c) => c.run::<VmTemplate>(ctx),
            Cmd::Rename(c) => c.run::<VmTemplate>(ctx),
            Cmd::Owner(c) => c.run::<VmTemplate>(ctx),
            Cmd::Lock(c) => c.run::<VmTemplate>(ctx),
            Cmd::Create(c) => {
                let base = base_template(
                    c.file.as_deref(),
                    &c.spec,
                    "--name small --cpu 1 --memory 512M",
                )?;
                let flags = c.spec.attributes(ctx)?;
                let template = merge(&base, c.spec.name_for(0).as_deref(), &flags)?;
                ctx.created(templates.allocate(&template)?)
            }
            Cmd::Delete { id, recursive } => {
                Ok(templates.delete_recursive(templates.id_of(&id)?, recursive)?)
            }
            Cmd::Clone {
                id,
                name,
                recursive,
            } => ctx.created(templates.clone_recursive(templates.id_of(&id)?, &name, recursive)?),
            Cmd::Instantiate(i) => instantiate(ctx, &i),
            Cmd::ShowExtended(t) => {
                ctx.show(&templates.info_extended(templates.id_of(&t.id)?, true)?)
            }
        }
    }
}

/// `template instantiate`: one `template.instantiate` per VM.
fn instantiate(ctx: &Ctx, args: &InstantiateArgs) -> anyhow::Result<()> {
    let templates = ctx.client.resource::<VmTemplate>();
    let id = templates.id_of(&args.id)?;
    let file = args
        .extra
        .as_deref()
        .map(input::template)
        .transpose()?
        .unwrap_or_default();
    let extra = merge(&file, None, &args.spec.attributes(ctx)?)?;
    let mut ids = Vec::new();
    for index in 0..args.count as usize {
        let name = args.spec.name_for(index).unwrap_or_default();
        match templates.instantiate(id, &name, args.hold, &extra, args.persistent) {
            Ok(vid) => ids.push(vid),
            Err(e) if ids.is_empty() => return Err(e.into()),
            Err(e) => return Err(anyhow::Error::from(e).context(made_before(&ids))),
        }
    }
    ctx.created_all(&ids)
}
