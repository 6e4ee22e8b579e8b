//! Snapshots are DATABLOCK images copied from a volume (`EC2_SNAPSHOT_OF` names it): from
//! the running VM's disk when the volume is attached (disk-saveas), else a clone of the
//! image. A snapshot is `pending` until its copy is done.

use std::sync::Arc;

use nubo_core::PoolFilter;
use nubo_core::model::Image;
use nubo_core::ops::image::CloneAs;
use nubo_template::Template;
use nubo_types::AuthOp;
use nubo_types::states::ImageState;

use crate::error::{Ec2Error, Ec2Result, state_refused};
use crate::filters::{Facts, Filters, tag_facts};
use crate::ids::{self, SNAPSHOT, VOLUME};
use crate::paging::Page;
use crate::params::Params;
use crate::tags;
use crate::xml::Xml;

use super::volumes::{self, SNAPSHOT_OF, gib, is_snapshot};
use super::{Ctx, tag_specifications};

/// `InvalidSnapshot.NotFound` for `id`.
pub fn not_found(id: &str) -> Ec2Error {
    SNAPSHOT.unknown_id(id)
}

struct Snapshot {
    img: Arc<Image>,
    tags: Vec<(String, String)>,
}

impl Snapshot {
    fn status(&self) -> &'static str {
        match self.img.state {
            ImageState::Ready | ImageState::Used | ImageState::UsedPers => "completed",
            ImageState::Error | ImageState::Disabled => "error",
            _ => "pending",
        }
    }
    fn volume(&self) -> &str {
        self.img.template.get(SNAPSHOT_OF).unwrap_or("")
    }
    fn description(&self) -> &str {
        self.img.template.get("DESCRIPTION").unwrap_or("")
    }
}

impl Facts for Snapshot {
    fn facts(&self, name: &str) -> Option<Vec<String>> {
        Some(vec![match name {
            "snapshot-id" => SNAPSHOT.id(self.img.meta.id),
            "volume-id" => self.volume().to_string(),
            "status" => self.status().to_string(),
            "owner-id" => ids::account(self.img.meta.uid),
            "description" => self.description().to_string(),
            "volume-size" => gib(self.img.size).to_string(),
            "start-time" => crate::xml::iso8601(self.img.regtime),
            "encrypted" => "false".into(),
            n => return tag_facts(&self.tags, n),
        }])
    }
}

fn all(ctx: &Ctx) -> Ec2Result<Vec<Snapshot>> {
    Ok(ctx
        .core
        .pool_info::<Image>(&ctx.caller, PoolFilter::ALL)?
        .into_iter()
        .filter(|i| is_snapshot(i))
        .map(|img| Snapshot {
            tags: tags::read(&img.template),
            img,
        })
        .collect())
}

/// The snapshot image `text` names.
pub fn find(ctx: &Ctx, text: &str) -> Ec2Result<Arc<Image>> {
    let id = SNAPSHOT.parse(text)?;
    all(ctx)?
        .into_iter()
        .find(|s| s.img.meta.id == id)
        .map(|s| s.img)
        .ok_or_else(|| not_found(text))
}

/// Snapshot `text`, which must be completed (to make a disk or a volume of).
pub fn completed(ctx: &Ctx, text: &str) -> Ec2Result<Arc<Image>> {
    let snap = find(ctx, text)?;
    if snap.state != ImageState::Ready && snap.state != ImageState::Used {
        return Err(Ec2Error::client(
            "IncorrectState",
            format!("Snapshot {text} is not completed"),
        ));
    }
    Ok(snap)
}

/// Why a disk of `size_gib` cannot be made from snapshot `snap` (named `text`): it would be
/// smaller.
pub fn too_small(size_gib: i64, snap: &Image, text: &str) -> Option<String> {
    let least = gib(snap.size);
    (size_gib < least).then(|| {
        format!(
            "Volume of size {size_gib} is smaller than snapshot '{text}', expect size >= {least}"
        )
    })
}

fn write_snapshot(x: &mut Xml, s: &Snapshot) {
    let img = &s.img;
    x.text("snapshotId", &SNAPSHOT.id(img.meta.id))
        .text("volumeId", s.volume())
        .text("status", s.status())
        .time("startTime", img.regtime)
        .text(
            "progress",
            if s.status() == "completed" {
                "100%"
            } else {
                "0%"
            },
        )
        .text("ownerId", &ids::account(img.meta.uid))
        .num("volumeSize", gib(img.size))
        .text("description", s.description())
        .flag("encrypted", false)
        .tags(&s.tags);
}

/// CreateSnapshot.
pub async fn create(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let vol_text = p.required("VolumeId")?;
    let volume = volumes::find(ctx, vol_text)?;
    let name = crate::ids::random("snapshot", 12)?;
    let attached = volumes::attachment_of(&volume);
    let tags_to_set = tag_specifications(p, "snapshot")?;
    ctx.check_new_tags(&tags_to_set)?;
    ctx.may::<Image>(volumes::image_id(&volume), AuthOp::Use)?;
    if let Some((vm, _)) = attached {
        ctx.may::<nubo_core::model::Vm>(vm, AuthOp::Manage)?;
    }
    ctx.proceed()?;
    let description = p.get("Description").unwrap_or("").to_string();
    let source = VOLUME.id(volumes::image_id(&volume));
    let id = match attached {
        Some((vm, disk_id)) => {
            let id = ctx
                .core
                .vm_disk_saveas(&ctx.caller, vm, disk_id, &name, "DATABLOCK", -1)
                .await
                .map_err(state_refused("IncorrectState"))?;
            ctx.edit::<Image, _>(id, move |t| {
                mark_snapshot(t, source, description, &tags_to_set)
            })
            .await?;
            id
        }
        None => {
            // A copy of the volume's file, marked in the same write; a snapshot is not a
            // volume, so not persistent.
            let mut t = volumes::template(&volume).clone();
            mark_snapshot(&mut t, source, description, &tags_to_set)?;
            let how = CloneAs {
                size_mb: None,
                persistent: Some(false),
                template: Some(t),
            };
            ctx.core
                .image_clone_as(&ctx.caller, volumes::image_id(&volume), &name, 1, how)
                .await?
        }
    };
    let snap = all(ctx)?
        .into_iter()
        .find(|s| s.img.meta.id == id)
        .ok_or_else(|| Ec2Error::internal("the new snapshot vanished"))?;
    write_snapshot(x, &snap);
    Ok(())
}

/// Makes the template of a copy of volume `source` a snapshot's.
fn mark_snapshot(
    t: &mut Template,
    source: String,
    description: String,
    tags_to_set: &[(String, String)],
) -> Ec2Result<()> {
    for attr in [
        "EC2_VOLUME_TYPE",
        "EC2_AVAILABILITY_ZONE",
        "EC2_CLIENT_TOKEN",
        "EC2_FROM_SNAPSHOT",
    ] {
        t.remove(attr);
    }
    t.set(SNAPSHOT_OF, source);
    t.set("DESCRIPTION", description);
    tags::remove(t, &[]);
    tags::add(t, tags_to_set)
}

/// DescribeSnapshots.
pub fn describe(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let filters = Filters::parse(p)?;
    filters.check(&|n| {
        n.starts_with("tag:")
            || matches!(
                n,
                "snapshot-id"
                    | "volume-id"
                    | "status"
                    | "owner-id"
                    | "description"
                    | "volume-size"
                    | "start-time"
                    | "encrypted"
                    | "tag-key"
                    | "tag-value"
            )
    })?;
    let page = Page::parse(p, 5, 1000)?;
    let snaps = all(ctx)?;
    let ids = SNAPSHOT.known(
        &p.list("SnapshotId"),
        |id| snaps.iter().any(|s| s.img.meta.id == id),
        not_found,
    )?;
    if !ids.is_empty() && page.limited() {
        return Err(Ec2Error::client(
            "InvalidParameterCombination",
            "The parameter snapshotSet cannot be used with the parameter maxResults",
        ));
    }
    let owners = p.list("Owner");
    let chosen: Vec<&Snapshot> = snaps
        .iter()
        .filter(|s| ids.is_empty() || ids.contains(&s.img.meta.id))
        .filter(|s| ctx.owned_by(&owners, s.img.meta.uid) && filters.matches(*s))
        .collect();
    let (chosen, next) = page.cut(chosen);
    x.list("snapshotSet", chosen, write_snapshot);
    x.opt("nextToken", next.as_deref());
    Ok(())
}

/// DeleteSnapshot.
pub async fn delete(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let text = p.required("SnapshotId")?;
    let img = find(ctx, text)?;
    ctx.may::<Image>(img.meta.id, AuthOp::Manage)?;
    ctx.proceed()?;
    ctx.core
        .image_delete(&ctx.caller, img.meta.id, false)
        .await
        .map_err(state_refused("InvalidSnapshot.InUse"))?;
    x.flag("return", true);
    Ok(())
}
