//! CreateTags, DeleteTags and DescribeTags over instances (their VM's user template), AMIs,
//! volumes and snapshots (their image's template) and security groups (their template).

use nubo_core::PoolFilter;
use nubo_core::model::{Image, SecGroup, Vm};
use nubo_types::AuthOp;
use nubo_types::states::{ImageType, VmState};

use crate::error::{Ec2Error, Ec2Result};
use crate::filters::{Facts, Filters};
use crate::ids::{IMAGE, INSTANCE, SECURITY_GROUP, SNAPSHOT, VOLUME};
use crate::paging::Page;
use crate::params::{Params, check_tag};
use crate::tags;
use crate::xml::Xml;

use super::Ctx;

/// A taggable resource named by an EC2 id.
#[derive(Debug, Clone, Copy)]
enum Resource {
    Instance(i32),
    Image(i32),
    Volume(i32),
    Snapshot(i32),
    SecurityGroup(i32),
}

fn resource(ctx: &Ctx, text: &str) -> Ec2Result<Resource> {
    let r = match text.split_once('-').map(|(p, _)| p) {
        Some("i") => Resource::Instance(INSTANCE.parse(text)?),
        Some("ami") => Resource::Image(IMAGE.parse(text)?),
        Some("sg") => Resource::SecurityGroup(SECURITY_GROUP.parse(text)?),
        Some("vol") => Resource::Volume(VOLUME.parse(text)?),
        Some("snap") => Resource::Snapshot(SNAPSHOT.parse(text)?),
        _ => {
            return Err(Ec2Error::client(
                "InvalidID",
                format!(
                    "The ID '{text}' is not valid (instances, images, volumes, snapshots and security groups take tags here)"
                ),
            ));
        }
    };
    let exists = match r {
        Resource::Instance(id) => ctx
            .core
            .info::<Vm>(&ctx.caller, id)
            .is_ok_and(|vm| vm.state != VmState::Done),
        Resource::Image(id) => ctx
            .core
            .info::<Image>(&ctx.caller, id)
            .is_ok_and(|i| i.image_type == ImageType::Os),
        Resource::Volume(id) => ctx
            .core
            .info::<Image>(&ctx.caller, id)
            .is_ok_and(|i| super::volumes::is_volume(&i)),
        Resource::Snapshot(id) => ctx
            .core
            .info::<Image>(&ctx.caller, id)
            .is_ok_and(|i| super::volumes::is_snapshot(&i)),
        Resource::SecurityGroup(id) => ctx.core.info::<SecGroup>(&ctx.caller, id).is_ok(),
    };
    if !exists {
        return Err(match r {
            Resource::Instance(_) => super::instances::not_found(text),
            Resource::Image(_) => super::images::not_found(text),
            Resource::Volume(_) => super::volumes::not_found(text),
            Resource::Snapshot(_) => super::snapshots::not_found(text),
            Resource::SecurityGroup(_) => super::security_groups::not_found(text),
        });
    }
    Ok(r)
}

async fn edit(
    ctx: &Ctx,
    r: Resource,
    f: impl FnOnce(&mut nubo_template::Template) -> Ec2Result<()>,
) -> Ec2Result<()> {
    match r {
        Resource::Instance(id) => ctx.edit::<Vm, _>(id, f).await,
        Resource::Image(id) | Resource::Volume(id) | Resource::Snapshot(id) => {
            ctx.edit::<Image, _>(id, f).await
        }
        Resource::SecurityGroup(id) => ctx.edit::<SecGroup, _>(id, f).await,
    }
}

/// Checks that the caller may tag `r` and, with `adding`, that the tags fit on it (so that
/// a call over several resources fails before it changes any).
fn check(ctx: &Ctx, r: Resource, adding: Option<&[(String, String)]>) -> Ec2Result<()> {
    let template = match r {
        Resource::Instance(id) => {
            ctx.may::<Vm>(id, AuthOp::Manage)?;
            ctx.core.info::<Vm>(&ctx.caller, id)?.user_template.clone()
        }
        Resource::Image(id) | Resource::Volume(id) | Resource::Snapshot(id) => {
            ctx.may::<Image>(id, AuthOp::Manage)?;
            ctx.core.info::<Image>(&ctx.caller, id)?.template.clone()
        }
        Resource::SecurityGroup(id) => {
            ctx.may::<SecGroup>(id, AuthOp::Manage)?;
            ctx.core.info::<SecGroup>(&ctx.caller, id)?.template.clone()
        }
    };
    if let Some(new) = adding {
        tags::add(&mut template.clone(), new)?;
    }
    Ok(())
}

fn resources(ctx: &Ctx, p: &Params) -> Ec2Result<Vec<Resource>> {
    let ids = p.list("ResourceId");
    if ids.is_empty() {
        return Err(Ec2Error::missing("ResourceId"));
    }
    ids.iter().map(|id| resource(ctx, id)).collect()
}

/// CreateTags.
pub async fn create(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let targets = resources(ctx, p)?;
    let new = p.tags("Tag")?;
    if new.is_empty() {
        return Err(Ec2Error::missing("Tag"));
    }
    for r in &targets {
        check(ctx, *r, Some(&new))?;
    }
    ctx.proceed()?;
    for r in targets {
        let new = new.clone();
        edit(ctx, r, move |t| tags::add(t, &new)).await?;
    }
    x.flag("return", true);
    Ok(())
}

/// DeleteTags.
pub async fn delete(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let targets = resources(ctx, p)?;
    let mut which = Vec::new();
    for t in p.structs("Tag") {
        let key = t
            .required("Key")
            .map_err(|_| Ec2Error::missing("Tag.N.Key"))?;
        check_tag(key, t.get("Value").unwrap_or(""))?;
        which.push((key.to_string(), t.get("Value").map(str::to_string)));
    }
    for r in &targets {
        check(ctx, *r, None)?;
    }
    ctx.proceed()?;
    for r in targets {
        let which = which.clone();
        edit(ctx, r, move |t| {
            tags::remove(t, &which);
            Ok(())
        })
        .await?;
    }
    x.flag("return", true);
    Ok(())
}

struct Tag {
    resource_id: String,
    resource_type: &'static str,
    key: String,
    value: String,
}

impl Facts for Tag {
    fn facts(&self, name: &str) -> Option<Vec<String>> {
        Some(vec![match name {
            "key" => self.key.clone(),
            "value" => self.value.clone(),
            "resource-id" => self.resource_id.clone(),
            "resource-type" => self.resource_type.to_string(),
            _ => return None,
        }])
    }
}

/// DescribeTags.
pub fn describe(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let filters = Filters::parse(p)?;
    filters.check(&|n| matches!(n, "key" | "value" | "resource-id" | "resource-type"))?;
    let page = Page::parse(p, 5, 1000)?;
    let mut all = Vec::new();
    for vm in ctx.core.vm_pool_info(&ctx.caller, PoolFilter::ALL, -1)? {
        for (key, value) in tags::read(&vm.user_template) {
            all.push(Tag {
                resource_id: INSTANCE.id(vm.meta.id),
                resource_type: "instance",
                key,
                value,
            });
        }
    }
    for img in ctx.core.pool_info::<Image>(&ctx.caller, PoolFilter::ALL)? {
        let (resource_id, resource_type) = if img.image_type == ImageType::Os {
            (IMAGE.id(img.meta.id), "image")
        } else if super::volumes::is_volume(&img) {
            (VOLUME.id(img.meta.id), "volume")
        } else if super::volumes::is_snapshot(&img) {
            (SNAPSHOT.id(img.meta.id), "snapshot")
        } else {
            continue;
        };
        for (key, value) in tags::read(&img.template) {
            all.push(Tag {
                resource_id: resource_id.clone(),
                resource_type,
                key,
                value,
            });
        }
    }
    for sg in ctx
        .core
        .pool_info::<SecGroup>(&ctx.caller, PoolFilter::ALL)?
    {
        for (key, value) in tags::read(&sg.template) {
            all.push(Tag {
                resource_id: SECURITY_GROUP.id(sg.meta.id),
                resource_type: "security-group",
                key,
                value,
            });
        }
    }
    let chosen: Vec<Tag> = all.into_iter().filter(|t| filters.matches(t)).collect();
    let (chosen, next) = page.cut(chosen);
    x.list("tagSet", chosen, |x, t| {
        x.text("resourceId", &t.resource_id)
            .text("resourceType", t.resource_type)
            .text("key", &t.key)
            .text("value", &t.value);
    });
    x.opt("nextToken", next.as_deref());
    Ok(())
}
