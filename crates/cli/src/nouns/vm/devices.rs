//! Changing a VM in place: `resize`, `updateconf`, and attaching, detaching, resizing and
//! saving disks and NICs.

use clap::{Args, Subcommand};
use nubo_client::nouns::{Image, Vm, Vnet};

use crate::common;
use crate::context::Ctx;
use crate::exit::usage_error;
use crate::input::{self, megabytes, quote};

/// New capacity for a VM.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("capacity").required(true).multiple(true).args(
    ["cpu", "vcpu", "memory"]
)))]
pub struct ResizeArgs {
    /// The VM's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// New CPU share, e.g. 0.5 or 2.
    #[arg(long, value_parser = super::spec::cpu)]
    cpu: Option<String>,
    /// New number of virtual CPUs.
    #[arg(long)]
    vcpu: Option<u32>,
    /// New MEMORY in MB, or with a unit: 512M, 2G.
    #[arg(long, value_parser = megabytes, value_name = "SIZE")]
    memory: Option<u64>,
    /// Refuse if the host lacks the capacity.
    #[arg(long)]
    enforce: bool,
}

/// A disk to attach: an image, or a DISK=[…] file.
#[derive(Debug, Args)]
pub struct DiskAttachArgs {
    /// The VM's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// File holding DISK=[…] (- reads standard input), instead of --image.
    #[arg(
        value_name = "FILE",
        conflicts_with = "image",
        required_unless_present = "image"
    )]
    file: Option<String>,
    /// The image to attach, by id or name.
    #[arg(long)]
    image: Option<String>,
    /// Device name in the guest, e.g. vdb.
    #[arg(long)]
    target: Option<String>,
}

/// A NIC to attach: a network, or a NIC=[…] file.
#[derive(Debug, Args)]
pub struct NicAttachArgs {
    /// The VM's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// File holding NIC=[…] (- reads standard input), instead of --network.
    #[arg(
        value_name = "FILE",
        conflicts_with = "network",
        required_unless_present = "network"
    )]
    file: Option<String>,
    /// The virtual network, by id or name.
    #[arg(long)]
    network: Option<String>,
    /// Ask for this IPv4 address.
    #[arg(long)]
    ip: Option<String>,
}

/// A VM and one of its disks or NICs.
#[derive(Debug, Args)]
pub struct Part {
    /// The VM's id, or name.
    #[arg(value_name = "ID")]
    id: String,
    /// The disk's DISK_ID or the NIC's NIC_ID.
    #[arg(value_name = "PART_ID")]
    part: i32,
}

/// Disks, NICs and capacity.
#[derive(Debug, Subcommand)]
pub enum Devices {
    /// Change a VM's CPU, VCPU or MEMORY.
    Resize(ResizeArgs),
    /// Change a VM's configuration (OS, FEATURES, INPUT, GRAPHICS, RAW, CONTEXT…) from FILE;
    /// with --append, merge into it.
    Updateconf(common::UpdateArgs),
    /// Attach a disk: an image (--image), or the DISK=[…] in FILE.
    DiskAttach(DiskAttachArgs),
    /// Detach a disk.
    DiskDetach(Part),
    /// Grow a disk to SIZE (MB, or 10G…).
    DiskResize {
        /// The VM's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The disk's DISK_ID.
        #[arg(value_name = "DISK_ID")]
        disk: i32,
        /// The new size: MB, or with a unit (10G).
        #[arg(value_parser = megabytes, value_name = "SIZE")]
        size: u64,
    },
    /// Save a disk (or one of its snapshots) as a new image; prints the image's id.
    DiskSaveas {
        /// The VM's id, or name.
        #[arg(value_name = "ID")]
        id: String,
        /// The disk's DISK_ID.
        #[arg(value_name = "DISK_ID")]
        disk: i32,
        /// The new image's name.
        name: String,
        /// The new image's TYPE (default: the disk's).
        #[arg(long = "type", default_value = "", hide_default_value = true)]
        image_type: String,
        /// Save this disk snapshot instead of the disk.
        #[arg(long, default_value = "-1", hide_default_value = true)]
        snapshot: i32,
    },
    /// Attach a NIC: on a network (--network), or the NIC=[…] in FILE.
    NicAttach(NicAttachArgs),
    /// Detach a NIC.
    NicDetach(Part),
}

impl Devices {
    /// Runs the verb.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let vms = ctx.client.resource::<Vm>();
        match self {
            Devices::Resize(r) => {
                let mut parts = Vec::new();
                if let Some(cpu) = &r.cpu {
                    parts.push(format!("CPU={}", quote(cpu)));
                }
                if let Some(vcpu) = r.vcpu {
                    parts.push(format!("VCPU=\"{vcpu}\""));
                }
                if let Some(memory) = r.memory {
                    parts.push(format!("MEMORY=\"{memory}\""));
                }
                Ok(vms.resize(vms.id_of(&r.id)?, &parts.join("\n"), r.enforce)?)
            }
            Devices::Updateconf(u) => {
                let template = input::template(&u.file)?;
                Ok(vms.updateconf(vms.id_of(&u.id)?, &template, u.append)?)
            }
            Devices::DiskAttach(a) => {
                let template = match (&a.file, &a.image) {
                    (Some(file), _) => input::template(file)?,
                    (None, Some(image)) => {
                        let mut parts =
                            vec![format!("IMAGE_ID=\"{}\"", common::id::<Image>(ctx, image)?)];
                        if let Some(target) = &a.target {
                            parts.push(format!("TARGET={}", quote(target)));
                        }
                        format!("DISK=[{}]", parts.join(", "))
                    }
                    (None, None) => return Err(usage_error("give a DISK file or --image")),
                };
                Ok(vms.disk_attach(vms.id_of(&a.id)?, &template)?)
            }
            Devices::DiskDetach(p) => Ok(vms.disk_detach(vms.id_of(&p.id)?, p.part)?),
            Devices::DiskResize { id, disk, size } => {
                Ok(vms.disk_resize(vms.id_of(&id)?, disk, size)?)
            }
            Devices::DiskSaveas {
                id,
                disk,
                name,
                image_type,
                snapshot,
            } => {
                let image_type = image_type.to_ascii_uppercase();
                let vid = vms.id_of(&id)?;
                ctx.created(vms.disk_saveas(vid, disk, &name, &image_type, snapshot)?)
            }
            Devices::NicAttach(a) => {
                let template = match (&a.file, &a.network) {
                    (Some(file), _) => input::template(file)?,
                    (None, Some(network)) => {
                        let mut parts = vec![format!(
                            "NETWORK_ID=\"{}\"",
                            common::id::<Vnet>(ctx, network)?
                        )];
                        if let Some(ip) = &a.ip {
                            parts.push(format!("IP={}", quote(ip)));
                        }
                        format!("NIC=[{}]", parts.join(", "))
                    }
                    (None, None) => return Err(usage_error("give a NIC file or --network")),
                };
                Ok(vms.nic_attach(vms.id_of(&a.id)?, &template)?)
            }
            Devices::NicDetach(p) => Ok(vms.nic_detach(vms.id_of(&p.id)?, p.part)?),
        }
    }
}
