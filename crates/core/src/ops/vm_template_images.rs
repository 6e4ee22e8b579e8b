//! The recursive forms of the VM template calls, which reach the images a template's DISKs
//! name: `template.delete(id, true)` deletes them, `template.clone(id, name, true)` clones
//! them and points the copy at the clones, `template.chmod(…, true)` changes their
//! permissions too, and `template.instantiate(…, persistent=true)` runs the VM on
//! persistent copies of them.

use nubo_template::{Template, Value};
use nubo_types::{AuthOp, Error, Oid, Result};

use super::address_range::value;
use super::generic::fetch_for;
use crate::Core;
use crate::auth::Caller;
use crate::model::{Image, VmTemplate};

/// The images a template's DISKs name (by IMAGE_ID, or IMAGE with IMAGE_UNAME / the
/// template owner), each once, in disk order.
fn images_of(core: &Core, t: &VmTemplate) -> Result<Vec<Oid>> {
    core.read(|s| {
        let mut ids = Vec::new();
        for disk in t.template.vectors("DISK") {
            let get = |k: &str| value(disk, k);
            let id = match get("IMAGE_ID").and_then(|v| v.parse::<Oid>().ok()) {
                Some(id) => Some(id),
                None => get("IMAGE").and_then(|name| {
                    let owner = get("IMAGE_UNAME").unwrap_or(&t.meta.uname);
                    s.images
                        .values()
                        .find(|i| i.meta.name == name && i.meta.uname == owner)
                        .map(|i| i.meta.id)
                }),
            };
            if let Some(id) = id.filter(|id| !ids.contains(id)) {
                ids.push(id);
            }
        }
        Ok(ids)
    })
}

/// Points every DISK of `t` that names image `from` at image `to`.
fn repoint(t: &mut Template, from: Oid, from_name: &str, to: Oid) {
    for attr in t.attrs.iter_mut().filter(|a| a.name == "DISK") {
        if let Value::Vector(pairs) = &mut attr.value {
            let names_it = pairs.iter().any(|(k, v)| {
                (k == "IMAGE_ID" && v.trim() == from.to_string())
                    || (k == "IMAGE" && v.trim() == from_name)
            });
            if names_it {
                pairs.retain(|(k, _)| !matches!(k.as_str(), "IMAGE" | "IMAGE_UNAME" | "IMAGE_UID"));
                match pairs.iter_mut().find(|(k, _)| k == "IMAGE_ID") {
                    Some(p) => p.1 = to.to_string(),
                    None => pairs.push(("IMAGE_ID".into(), to.to_string())),
                }
            }
        }
    }
}

impl Core {
    /// `template.delete(id, recursive)`: with `recursive`, the template's images are deleted
    /// too; the ones that cannot be (in use, not the caller's) are named in the error, and
    /// the template is deleted all the same, as oned does.
    pub async fn template_delete_recursive(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        let template = self.read(|s| fetch_for::<VmTemplate>(s, caller, id, AuthOp::Manage))?;
        let images = images_of(self, &template)?;
        self.template_delete(caller, id).await?;
        let mut failed = Vec::new();
        for image in images {
            if let Err(e) = self.image_delete(caller, image, false).await {
                failed.push(format!("image {image}: {e}"));
            }
        }
        if failed.is_empty() {
            Ok(id)
        } else {
            Err(Error::action(format!(
                "Template {id} deleted, but not all its images: {}",
                failed.join("; ")
            )))
        }
    }

    /// `template.clone(id, name, recursive)`: with `recursive`, each image is cloned as
    /// `<name>-disk-<n>` and the copy uses the clones. `persistent` makes the clones
    /// persistent (for `template.instantiate(…, persistent)`).
    pub async fn template_clone_recursive(
        &self,
        caller: &Caller,
        id: Oid,
        name: &str,
        persistent: bool,
    ) -> Result<Oid> {
        let source = self.read(|s| fetch_for::<VmTemplate>(s, caller, id, AuthOp::Use))?;
        let images = images_of(self, &source)?;
        let mut template = source.template.clone();
        let mut made = Vec::new();
        for (n, image) in images.iter().enumerate() {
            let (image_name, ds) = self.read(|s| {
                let i = s.get::<Image>(*image)?;
                Ok((i.meta.name.clone(), i.datastore_id))
            })?;
            let how = super::image::CloneAs {
                persistent: persistent.then_some(true),
                ..Default::default()
            };
            let clone = match self
                .image_clone_as(caller, *image, &format!("{name}-disk-{n}"), ds, how)
                .await
            {
                Ok(clone) => clone,
                Err(e) => {
                    self.forget_clones(caller, &made).await;
                    return Err(e);
                }
            };
            made.push(clone);
            repoint(&mut template, *image, &image_name, clone);
        }
        template.set("NAME", name.trim().to_string());
        let text = template.to_text();
        let new = self.template_clone(caller, id, name).await?;
        self.update_template::<VmTemplate>(caller, new, &text, 0)
            .await?;
        Ok(new)
    }

    async fn forget_clones(&self, caller: &Caller, images: &[Oid]) {
        for image in images {
            let _ = self.image_delete(caller, *image, false).await;
        }
    }

    /// `template.chmod(…, recursive)`: the template's images get the same bits.
    pub async fn template_chmod_images(
        &self,
        caller: &Caller,
        id: Oid,
        bits: [i32; 9],
    ) -> Result<Oid> {
        let template = self.read(|s| fetch_for::<VmTemplate>(s, caller, id, AuthOp::Manage))?;
        for image in images_of(self, &template)? {
            self.chmod::<Image>(caller, image, bits).await?;
        }
        Ok(id)
    }

    /// `template.instantiate(…, persistent=true)`: the VM runs on a copy of the template
    /// (named after the VM) whose images are persistent clones, so its disks outlive it.
    pub async fn template_instantiate_persistent(
        &self,
        caller: &Caller,
        id: Oid,
        name: &str,
        hold: bool,
        extra: &str,
    ) -> Result<Oid> {
        let base = self.read(|s| Ok(s.get::<VmTemplate>(id)?.meta.name.clone()))?;
        let copy_name = if name.trim().is_empty() {
            format!("{base}-{}", crate::now())
        } else {
            name.trim().to_string()
        };
        let copy = self
            .template_clone_recursive(caller, id, &copy_name, true)
            .await?;
        self.template_instantiate(caller, copy, name, hold, extra)
            .await
    }
}
