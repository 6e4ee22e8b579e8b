//! AMIs are Nubo images of type OS: DescribeImages lists those the caller may use,
//! RegisterImage imports one from a URL or path into the default image datastore,
//! DeregisterImage deletes one, CreateImage saves an instance's first disk as a new one.

use std::sync::Arc;

use nubo_core::PoolFilter;
use nubo_core::model::{Image, Vm};
use nubo_template::Template;
use nubo_types::AuthOp;
use nubo_types::states::{ImageState, ImageType};

use crate::error::{Ec2Error, Ec2Result, state_refused};
use crate::filters::{Facts, Filters, tag_facts};
use crate::ids::{self, IMAGE, INSTANCE};
use crate::paging::Page;
use crate::params::Params;
use crate::tags;
use crate::xml::Xml;

use super::{Ctx, tag_specifications};

/// The datastore RegisterImage imports into.
const DEFAULT_DATASTORE: i32 = 1;

/// `InvalidAMIID.NotFound` for `id`.
pub fn not_found(id: &str) -> Ec2Error {
    IMAGE.unknown_id(id)
}

fn state(img: &Image) -> &'static str {
    match img.state {
        ImageState::Ready | ImageState::Used | ImageState::UsedPers => "available",
        ImageState::Init
        | ImageState::Locked
        | ImageState::Clone
        | ImageState::LockedUsed
        | ImageState::LockedUsedPers => "pending",
        ImageState::Error => "failed",
        ImageState::Disabled => "disabled",
        ImageState::Delete => "deregistered",
    }
}

struct Ami {
    img: Arc<Image>,
    tags: Vec<(String, String)>,
}

impl Ami {
    fn public(&self) -> bool {
        self.img.meta.perms.other_allows(AuthOp::Use)
    }
    fn description(&self) -> &str {
        self.img.template.get("DESCRIPTION").unwrap_or("")
    }
}

impl Facts for Ami {
    fn facts(&self, name: &str) -> Option<Vec<String>> {
        let img = &self.img;
        Some(match name {
            "image-id" => vec![IMAGE.id(img.meta.id)],
            "name" => vec![img.meta.name.clone()],
            "state" => vec![state(img).into()],
            "owner-id" => vec![ids::account(img.meta.uid)],
            "is-public" => vec![self.public().to_string()],
            "architecture" => vec!["x86_64".into()],
            "image-type" => vec!["machine".into()],
            "description" => vec![self.description().into()],
            "root-device-type" => vec!["ebs".into()],
            "virtualization-type" => vec!["hvm".into()],
            "hypervisor" => vec!["kvm".into()],
            n => return tag_facts(&self.tags, n),
        })
    }
}

fn amis(ctx: &Ctx) -> Ec2Result<Vec<Ami>> {
    Ok(ctx
        .core
        .pool_info::<Image>(&ctx.caller, PoolFilter::ALL)?
        .into_iter()
        .filter(|i| i.image_type == ImageType::Os)
        .map(|img| Ami {
            tags: tags::read(&img.template),
            img,
        })
        .collect())
}

/// DescribeImages.
pub fn describe(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let filters = Filters::parse(p)?;
    let page = Page::parse(p, 1, 1000)?;
    let all = amis(ctx)?;
    filters.check(&|n| {
        n.starts_with("tag:")
            || matches!(
                n,
                "image-id"
                    | "name"
                    | "state"
                    | "owner-id"
                    | "is-public"
                    | "architecture"
                    | "image-type"
                    | "description"
                    | "root-device-type"
                    | "virtualization-type"
                    | "hypervisor"
                    | "tag-key"
                    | "tag-value"
            )
    })?;
    let ids = IMAGE.known(
        &p.list("ImageId"),
        |id| all.iter().any(|a| a.img.meta.id == id),
        not_found,
    )?;
    let owners = p.list("Owner");
    let chosen: Vec<&Ami> = all
        .iter()
        .filter(|a| ids.is_empty() || ids.contains(&a.img.meta.id))
        .filter(|a| ctx.owned_by(&owners, a.img.meta.uid) && filters.matches(*a))
        .collect();
    let (chosen, next) = page.cut(chosen);
    x.list("imagesSet", chosen, |x, a| {
        let img = &a.img;
        x.text("imageId", &IMAGE.id(img.meta.id))
            .text(
                "imageLocation",
                &format!("{}/{}", img.meta.uname, img.meta.name),
            )
            .text("imageState", state(img))
            .text("imageOwnerId", &ids::account(img.meta.uid))
            .time("creationDate", img.regtime)
            .flag("isPublic", a.public())
            .text("architecture", "x86_64")
            .text("imageType", "machine")
            .text("name", &img.meta.name)
            .text("description", a.description())
            .text("rootDeviceType", "ebs")
            .text("rootDeviceName", "/dev/vda");
        write_block_devices(x, img);
        x.text("virtualizationType", "hvm")
            .text("hypervisor", "kvm")
            .tags(&a.tags);
    });
    x.opt("nextToken", next.as_deref());
    Ok(())
}

/// The AMI's `blockDeviceMapping`: its one disk, `/dev/vda`.
pub fn write_block_devices(x: &mut Xml, img: &Image) {
    x.list("blockDeviceMapping", [img], |x, img| {
        x.text("deviceName", "/dev/vda")
            .open("ebs")
            .num("volumeSize", (img.size.max(0) + 1023) / 1024)
            .flag("deleteOnTermination", true)
            .text("volumeType", "standard")
            .close("ebs");
    });
}

/// The AMI `text` names, if the caller sees it.
pub fn find(ctx: &Ctx, text: &str) -> Ec2Result<Arc<Image>> {
    let id = IMAGE.parse(text)?;
    amis(ctx)?
        .into_iter()
        .find(|a| a.img.meta.id == id)
        .map(|a| a.img)
        .ok_or_else(|| not_found(text))
}

fn check_name(p: &Params) -> Ec2Result<&str> {
    let name = p.required("Name")?;
    if name.chars().count() < 3 || name.chars().count() > 128 {
        return Err(Ec2Error::invalid(
            "Name",
            name,
            "It must be 3 to 128 characters long.",
        ));
    }
    Ok(name)
}

/// RegisterImage: `ImageLocation` (an http(s) URL or a path nubod can read) becomes a new
/// OS image named `Name`.
pub async fn register(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let name = check_name(p)?;
    let location = p.required("ImageLocation")?;
    let mut t = Template::new();
    t.set("NAME", name);
    t.set("PATH", location);
    t.set("TYPE", "OS");
    if let Some(d) = p.get("Description") {
        t.set("DESCRIPTION", d);
    }
    tags::add(&mut t, &tag_specifications(p, "image")?)?;
    let url = location.starts_with("http://") || location.starts_with("https://");
    if !(url || ctx.caller.is_admin()) {
        return Err(Ec2Error::invalid(
            "ImageLocation",
            location,
            "It must be an http:// or https:// URL the cloud can download.",
        ));
    }
    ctx.proceed()?;
    let id = ctx
        .core
        .image_allocate(&ctx.caller, &t.to_text(), DEFAULT_DATASTORE, false)
        .await?;
    x.text("imageId", &IMAGE.id(id));
    Ok(())
}

/// DeregisterImage.
pub async fn deregister(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let text = p.required("ImageId")?;
    let id = IMAGE.parse(text)?;
    if !amis(ctx)?.iter().any(|a| a.img.meta.id == id) {
        return Err(not_found(text));
    }
    ctx.may::<Image>(id, AuthOp::Manage)?;
    ctx.proceed()?;
    ctx.core.image_delete(&ctx.caller, id, false).await?;
    x.flag("return", true);
    Ok(())
}

/// CreateImage: the instance's first disk saved as a new image (pending until saved).
pub async fn create(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let text = p.required("InstanceId")?;
    let name = check_name(p)?;
    let vm_id = INSTANCE.parse(text)?;
    let vm = ctx
        .core
        .info::<Vm>(&ctx.caller, vm_id)
        .map_err(|_| super::instances::not_found(text))?;
    let disk = vm
        .template
        .vectors("DISK")
        .next()
        .and_then(|d| d.iter().find(|(k, _)| k == "DISK_ID"))
        .and_then(|(_, v)| v.parse::<i32>().ok())
        .ok_or_else(|| {
            Ec2Error::client(
                "InvalidParameterValue",
                format!("The instance '{text}' has no disk"),
            )
        })?;
    let tags = tag_specifications(p, "image")?;
    ctx.check_new_tags(&tags)?;
    ctx.may::<Vm>(vm_id, AuthOp::Manage)?;
    ctx.proceed()?;
    let id = ctx
        .core
        .vm_disk_saveas(&ctx.caller, vm_id, disk, name, "OS", -1)
        .await
        .map_err(state_refused("IncorrectInstanceState"))?;
    if !tags.is_empty() {
        ctx.edit::<Image, _>(id, move |t| tags::add(t, &tags))
            .await?;
    }
    x.text("imageId", &IMAGE.id(id));
    Ok(())
}
