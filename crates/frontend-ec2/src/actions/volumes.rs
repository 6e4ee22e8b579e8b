//! Volumes are persistent DATABLOCK images: CreateVolume allocates one (empty, or cloned
//! from a snapshot and grown to the size asked for), AttachVolume hot-plugs it into a VM,
//! DetachVolume unplugs it, DeleteVolume deletes it. A volume's attachments are the VMs
//! using the image.

use std::sync::Arc;

use nubo_core::PoolFilter;
use nubo_core::model::{Image, Vm};
use nubo_core::ops::image::CloneAs;
use nubo_template::Template;
use nubo_types::AuthOp;
use nubo_types::states::{ImageState, ImageType, LcmState};

use crate::error::{Ec2Error, Ec2Result, quota_exceeded, state_refused};
use crate::filters::{Facts, Filters, tag_facts};
use crate::ids::{INSTANCE, SNAPSHOT, VOLUME};
use crate::paging::Page;
use crate::params::Params;
use crate::tags;
use crate::xml::Xml;

use super::{Ctx, tag_specifications};

/// The datastore volumes are made in.
const DATASTORE: i32 = 1;
/// Image attributes of volumes and snapshots.
pub const SNAPSHOT_OF: &str = "EC2_SNAPSHOT_OF";
const FROM_SNAPSHOT: &str = "EC2_FROM_SNAPSHOT";
const VOLUME_TYPE: &str = "EC2_VOLUME_TYPE";
const ZONE: &str = "EC2_AVAILABILITY_ZONE";
const CLIENT_TOKEN: &str = "EC2_CLIENT_TOKEN";
/// The device name a volume was attached or mapped as, kept in the VM's DISK.
pub const DEVICE: &str = "EC2_DEVICE";
/// The largest volume, in GiB.
const MAX_GIB: i64 = 16384;

/// Whether an image is a volume.
pub fn is_volume(img: &Image) -> bool {
    img.image_type == ImageType::Datablock
        && img.persistent
        && img.template.get(SNAPSHOT_OF).is_none()
}

/// Whether an image is a snapshot.
pub fn is_snapshot(img: &Image) -> bool {
    img.image_type == ImageType::Datablock
        && !img.persistent
        && img.template.get(SNAPSHOT_OF).is_some()
}

/// `InvalidVolume.NotFound` for `id`.
pub fn not_found(id: &str) -> Ec2Error {
    VOLUME.unknown_id(id)
}

/// Size in GiB (rounded up) of `mb`.
pub fn gib(mb: i64) -> i64 {
    (mb.max(0) + 1023) / 1024
}

/// One place a volume is attached.
pub struct Attachment {
    vm: i32,
    disk_id: i32,
    device: String,
    status: &'static str,
    time: i64,
}

/// A volume and where it is attached.
pub struct Volume {
    img: Arc<Image>,
    tags: Vec<(String, String)>,
    attachments: Vec<Attachment>,
}

impl Volume {
    fn status(&self) -> &'static str {
        match self.img.state {
            ImageState::Init | ImageState::Locked | ImageState::Clone => "creating",
            ImageState::Ready => "available",
            ImageState::Used
            | ImageState::UsedPers
            | ImageState::LockedUsed
            | ImageState::LockedUsedPers => "in-use",
            ImageState::Delete => "deleting",
            ImageState::Error | ImageState::Disabled => "error",
        }
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.img.template.get(name).filter(|v| !v.is_empty())
    }
}

impl Facts for Volume {
    fn facts(&self, name: &str) -> Option<Vec<String>> {
        let img = &self.img;
        let each = |f: &dyn Fn(&Attachment) -> String| self.attachments.iter().map(f).collect();
        Some(match name {
            "volume-id" => vec![VOLUME.id(img.meta.id)],
            "status" => vec![self.status().into()],
            "size" => vec![gib(img.size).to_string()],
            "availability-zone" => vec![self.attr(ZONE).unwrap_or("").into()],
            "volume-type" => vec![self.attr(VOLUME_TYPE).unwrap_or("standard").into()],
            "snapshot-id" => self
                .attr(FROM_SNAPSHOT)
                .map(str::to_string)
                .into_iter()
                .collect(),
            "encrypted" => vec!["false".into()],
            "attachment.instance-id" => each(&|a| INSTANCE.id(a.vm)),
            "attachment.device" => each(&|a| a.device.clone()),
            "attachment.status" => each(&|a| a.status.to_string()),
            n => return tag_facts(&self.tags, n),
        })
    }
}

fn attachments(ctx: &Ctx, img: &Image) -> Vec<Attachment> {
    let mut out = Vec::new();
    for vm_id in &img.vms {
        let Ok(vm) = ctx.core.info::<Vm>(&ctx.caller, *vm_id) else {
            continue;
        };
        for d in vm.template.vectors("DISK") {
            let get = |k: &str| d.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            if get("IMAGE_ID").and_then(|i| i.parse::<i32>().ok()) != Some(img.meta.id) {
                continue;
            }
            let changing = get("ATTACH") == Some("YES") && vm.lcm_state == LcmState::Hotplug;
            out.push(Attachment {
                vm: vm.meta.id,
                disk_id: get("DISK_ID").and_then(|i| i.parse().ok()).unwrap_or(0),
                device: get(DEVICE)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("/dev/{}", get("TARGET").unwrap_or("vda"))),
                status: if changing { "attaching" } else { "attached" },
                time: vm.stime,
            });
        }
    }
    out
}

/// The VM and disk a volume is attached to, if it is.
pub fn attachment_of(v: &Volume) -> Option<(i32, i32)> {
    v.attachments.first().map(|a| (a.vm, a.disk_id))
}

/// The image behind a volume.
pub fn image_id(v: &Volume) -> i32 {
    v.img.meta.id
}

/// The template of a volume's image.
pub fn template(v: &Volume) -> &Template {
    &v.img.template
}

/// Every volume the caller may use.
pub fn all(ctx: &Ctx) -> Ec2Result<Vec<Volume>> {
    Ok(ctx
        .core
        .pool_info::<Image>(&ctx.caller, PoolFilter::ALL)?
        .into_iter()
        .filter(|i| is_volume(i))
        .map(|img| Volume {
            tags: tags::read(&img.template),
            attachments: attachments(ctx, &img),
            img,
        })
        .collect())
}

/// The volume `text` names.
pub fn find(ctx: &Ctx, text: &str) -> Ec2Result<Volume> {
    let id = VOLUME.parse(text)?;
    all(ctx)?
        .into_iter()
        .find(|v| v.img.meta.id == id)
        .ok_or_else(|| not_found(text))
}

fn write_volume(x: &mut Xml, v: &Volume) {
    let img = &v.img;
    x.text("volumeId", &VOLUME.id(img.meta.id))
        .num("size", gib(img.size))
        .text("snapshotId", v.attr(FROM_SNAPSHOT).unwrap_or(""))
        .text("availabilityZone", v.attr(ZONE).unwrap_or(""))
        .text("status", v.status())
        .time("createTime", img.regtime)
        .list("attachmentSet", &v.attachments, |x, a| {
            x.text("volumeId", &VOLUME.id(img.meta.id))
                .text("instanceId", &INSTANCE.id(a.vm))
                .text("device", &a.device)
                .text("status", a.status)
                .time("attachTime", a.time)
                .flag("deleteOnTermination", false);
        })
        .text("volumeType", v.attr(VOLUME_TYPE).unwrap_or("standard"))
        .flag("encrypted", false)
        .flag("multiAttachEnabled", false)
        .tags(&v.tags);
}

/// The zone a request names (which must be a cluster), or the first cluster.
pub fn zone(ctx: &Ctx, asked: Option<&str>) -> Ec2Result<String> {
    let names: Vec<String> = ctx
        .core
        .cluster_names()?
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    match asked.filter(|z| !z.is_empty()) {
        Some(z) if names.iter().any(|n| n == z) => Ok(z.to_string()),
        Some(z) => Err(Ec2Error::client(
            "InvalidParameterValue",
            format!("Invalid availability zone: [{z}]"),
        )),
        None => Ok(names.into_iter().next().unwrap_or_default()),
    }
}

/// CreateVolume.
pub async fn create(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let zone = zone(ctx, p.get("AvailabilityZone"))?;
    let tags_to_set = tag_specifications(p, "volume")?;
    ctx.check_new_tags(&tags_to_set)?;
    ctx.proceed()?;
    let token = p.get("ClientToken").filter(|t| !t.is_empty());
    if let Some(t) = token
        && let Some(v) = all(ctx)?
            .into_iter()
            .find(|v| v.img.meta.uid == ctx.caller.uid && v.attr(CLIENT_TOKEN) == Some(t))
    {
        write_volume(x, &v);
        return Ok(());
    }
    let size = p.int("Size")?;
    let volume_type = p.get("VolumeType").unwrap_or("standard").to_string();
    let name = crate::ids::random("volume", 12)?;
    let quota = quota_exceeded("VolumeLimitExceeded");
    let id = match p.get("SnapshotId").filter(|s| !s.is_empty()) {
        Some(snap_text) => {
            let snap = super::snapshots::completed(ctx, snap_text)?;
            if let Some(s) = size {
                check_size("Size", s)?;
                if let Some(why) = super::snapshots::too_small(s, &snap, snap_text) {
                    return Err(Ec2Error::client("InvalidParameterValue", why));
                }
            }
            // The volume's attributes go in with the copy, in one write.
            let mut t = snap.template.clone();
            t.remove(SNAPSHOT_OF);
            t.set(FROM_SNAPSHOT, SNAPSHOT.id(snap.meta.id));
            t.set(VOLUME_TYPE, volume_type);
            t.set(ZONE, zone);
            if let Some(tok) = token {
                t.set(CLIENT_TOKEN, tok);
            }
            tags::remove(&mut t, &[]);
            tags::add(&mut t, &tags_to_set)?;
            let how = CloneAs {
                size_mb: size.map(|g| g * 1024),
                persistent: Some(true),
                template: Some(t),
            };
            ctx.core
                .image_clone_as(&ctx.caller, snap.meta.id, &name, DATASTORE, how)
                .await
                .map_err(quota)?
        }
        None => {
            let size = size.ok_or_else(|| Ec2Error::missing("Size"))?;
            check_size("Size", size)?;
            let blank = Blank {
                size_gib: size,
                volume_type,
                zone,
                tags: tags_to_set,
            };
            create_blank(ctx, &blank, token).await?
        }
    };
    let v = find(ctx, &VOLUME.id(id))?;
    write_volume(x, &v);
    Ok(())
}

/// What a new empty volume is made of.
#[derive(Debug, Clone)]
pub struct Blank {
    pub size_gib: i64,
    pub volume_type: String,
    pub zone: String,
    pub tags: Vec<(String, String)>,
}

/// Checks a volume size in GiB given as parameter `name`.
pub fn check_size(name: &str, size_gib: i64) -> Ec2Result<()> {
    if (1..=MAX_GIB).contains(&size_gib) {
        Ok(())
    } else {
        Err(Ec2Error::invalid(
            name,
            &size_gib.to_string(),
            format!("It must be between 1 and {MAX_GIB} GiB."),
        ))
    }
}

/// Allocates an empty volume (a persistent DATABLOCK), returning its image id.
pub async fn create_blank(ctx: &Ctx, blank: &Blank, token: Option<&str>) -> Ec2Result<i32> {
    let mut t = Template::new();
    t.set("NAME", crate::ids::random("volume", 12)?);
    t.set("TYPE", "DATABLOCK");
    t.set("SIZE", (blank.size_gib * 1024).to_string());
    t.set("PERSISTENT", "YES");
    t.set(VOLUME_TYPE, blank.volume_type.clone());
    t.set(ZONE, blank.zone.clone());
    if let Some(tok) = token {
        t.set(CLIENT_TOKEN, tok);
    }
    tags::add(&mut t, &blank.tags)?;
    ctx.core
        .image_allocate(&ctx.caller, &t.to_text(), DATASTORE, false)
        .await
        .map_err(quota_exceeded("VolumeLimitExceeded"))
}

/// DescribeVolumes.
pub fn describe(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let filters = Filters::parse(p)?;
    filters.check(&|n| {
        n.starts_with("tag:")
            || matches!(
                n,
                "volume-id"
                    | "status"
                    | "size"
                    | "availability-zone"
                    | "volume-type"
                    | "snapshot-id"
                    | "encrypted"
                    | "attachment.instance-id"
                    | "attachment.device"
                    | "attachment.status"
                    | "tag-key"
                    | "tag-value"
            )
    })?;
    let page = Page::parse(p, 5, 500)?;
    let volumes = all(ctx)?;
    let ids = VOLUME.known(
        &p.list("VolumeId"),
        |id| volumes.iter().any(|v| v.img.meta.id == id),
        not_found,
    )?;
    if !ids.is_empty() && page.limited() {
        return Err(Ec2Error::client(
            "InvalidParameterCombination",
            "The parameter volumeSet cannot be used with the parameter maxResults",
        ));
    }
    let chosen: Vec<&Volume> = volumes
        .iter()
        .filter(|v| (ids.is_empty() || ids.contains(&v.img.meta.id)) && filters.matches(*v))
        .collect();
    let (chosen, next) = page.cut(chosen);
    x.list("volumeSet", chosen, write_volume);
    x.opt("nextToken", next.as_deref());
    Ok(())
}

/// The target name of an EC2 device (`/dev/sdf`, `/dev/xvdf`, `/dev/hdf`, `/dev/vdf` are
/// all `vdf`).
pub fn target_of(device: &str) -> Ec2Result<String> {
    let name = device.strip_prefix("/dev/").unwrap_or(device);
    let tail = name
        .strip_prefix("xvd")
        .or_else(|| name.strip_prefix("sd"))
        .or_else(|| name.strip_prefix("vd"))
        .or_else(|| name.strip_prefix("hd"))
        .filter(|t| !t.is_empty() && t.len() <= 2 && t.bytes().all(|b| b.is_ascii_lowercase()))
        .ok_or_else(|| {
            Ec2Error::invalid("Device", device, "Use a name like /dev/sdf or /dev/xvdf.")
        })?;
    Ok(format!("vd{tail}"))
}

/// AttachVolume.
pub async fn attach(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let vol_text = p.required("VolumeId")?;
    let inst_text = p.required("InstanceId")?;
    let device = p.required("Device")?;
    let volume = find(ctx, vol_text)?;
    let vm = super::instances::live(ctx, inst_text)?;
    let vm_id = vm.meta.id;
    match volume.status() {
        "available" => {}
        "in-use" => {
            return Err(Ec2Error::client(
                "VolumeInUse",
                format!("{vol_text} is already attached to an instance"),
            ));
        }
        other => {
            return Err(Ec2Error::client(
                "IncorrectState",
                format!("The volume '{vol_text}' is '{other}'"),
            ));
        }
    }
    let target = target_of(device)?;
    let taken = vm.template.vectors("DISK").any(|d| {
        d.iter()
            .any(|(k, v)| (k == "TARGET" && *v == target) || (k == DEVICE && v == device))
    });
    if taken {
        return Err(Ec2Error::invalid(
            "Device",
            device,
            "That attachment point is already in use.",
        ));
    }
    let mut t = Template::new();
    t.push(nubo_template::Attribute::vector(
        "DISK",
        [
            ("IMAGE_ID", volume.img.meta.id.to_string()),
            ("TARGET", target),
            (DEVICE, device.to_string()),
        ],
    ));
    ctx.may::<Vm>(vm_id, AuthOp::Manage)?;
    ctx.may::<Image>(volume.img.meta.id, AuthOp::Use)?;
    ctx.proceed()?;
    ctx.core
        .vm_attach_disk(&ctx.caller, vm_id, &t.to_text())
        .await
        .map_err(state_refused("IncorrectInstanceState"))?;
    x.text("volumeId", vol_text)
        .text("instanceId", inst_text)
        .text("device", device)
        .text("status", "attaching")
        .time("attachTime", nubo_core::now())
        .flag("deleteOnTermination", false);
    Ok(())
}

/// DetachVolume.
pub async fn detach(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let vol_text = p.required("VolumeId")?;
    let volume = find(ctx, vol_text)?;
    let inst = p.get("InstanceId").filter(|i| !i.is_empty());
    let inst_id = inst.map(|i| INSTANCE.parse(i)).transpose()?;
    if volume.attachments.is_empty() {
        return Err(Ec2Error::client(
            "IncorrectState",
            format!("Volume '{vol_text}' is in the 'available' state."),
        ));
    }
    let a = volume
        .attachments
        .iter()
        .find(|a| inst_id.is_none_or(|i| i == a.vm))
        .filter(|a| p.get("Device").is_none_or(|d| d == a.device))
        .ok_or_else(|| {
            Ec2Error::client(
                "InvalidAttachment.NotFound",
                format!("Volume '{vol_text}' is not attached there"),
            )
        })?;
    if a.disk_id == 0 {
        return Err(Ec2Error::client(
            "OperationNotPermitted",
            "The root volume of an instance cannot be detached",
        ));
    }
    ctx.may::<Vm>(a.vm, AuthOp::Manage)?;
    ctx.proceed()?;
    ctx.core
        .vm_detach_disk(&ctx.caller, a.vm, a.disk_id)
        .await
        .map_err(state_refused("IncorrectInstanceState"))?;
    x.text("volumeId", vol_text)
        .text("instanceId", &INSTANCE.id(a.vm))
        .text("device", &a.device)
        .text("status", "detaching")
        .time("attachTime", a.time)
        .flag("deleteOnTermination", false);
    Ok(())
}

/// DeleteVolume.
pub async fn delete(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let text = p.required("VolumeId")?;
    let volume = find(ctx, text)?;
    if !volume.attachments.is_empty() || volume.status() == "in-use" {
        return Err(Ec2Error::client(
            "VolumeInUse",
            format!("Volume {text} is currently attached to an instance"),
        ));
    }
    ctx.may::<Image>(volume.img.meta.id, AuthOp::Manage)?;
    ctx.proceed()?;
    ctx.core
        .image_delete(&ctx.caller, volume.img.meta.id, false)
        .await
        .map_err(state_refused("VolumeInUse"))?;
    x.flag("return", true);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_become_virtio_targets() {
        assert_eq!(target_of("/dev/sdf").expect("sd"), "vdf");
        assert_eq!(target_of("/dev/xvdg").expect("xvd"), "vdg");
        assert_eq!(target_of("vdh").expect("vd"), "vdh");
        assert!(target_of("/dev/nvme1n1").is_err());
        assert!(target_of("/dev/sd").is_err());
    }
}
