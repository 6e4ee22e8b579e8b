//! Disk changes: `vm.attach`, `vm.detach`, `vm.diskresize`, `vm.disksaveas`.

use super::*;

impl Core {
    /// `vm.attach`: adds a DISK (an image or a volatile disk) to a RUNNING or POWEROFF VM.
    pub async fn vm_attach_disk(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let (_, mut pairs) = single_vector(text, &["DISK"])?;
        self.check_restricted_vector(caller, "DISK", &pairs, None)?;
        let caller2 = caller.clone();
        self.reconfigure(
            caller,
            id,
            "disk-attach",
            Reconfig::AttachDisk,
            move |tx, vm| {
                let disk_id = next_id(&vm.template, "DISK", "DISK_ID");
                let before = resources::system_disk_mb(&vm.template);
                let index = usize::try_from(disk_id).unwrap_or(0);
                resources::take_disk(tx, &caller2, vm, &mut pairs, index, &mut Taken::default())
                    .map_err(to_action)?;
                set(&mut pairs, "ATTACH", "YES");
                push_system(vm, Attribute::vector("DISK", pairs));
                recharge_system_disk(tx, vm, before)?;
                Ok((Some(PendingChange::AttachDisk { disk_id }), id))
            },
        )
        .await
    }

    /// `vm.detach`: removes a DISK.
    pub async fn vm_detach_disk(&self, caller: &Caller, id: Oid, disk_id: i32) -> Result<Oid> {
        self.reconfigure(
            caller,
            id,
            "disk-detach",
            Reconfig::DetachDisk,
            move |_, vm| {
                let at = find(&vm.template, "DISK", "DISK_ID", disk_id)
                    .ok_or_else(|| no_disk(vm.meta.id, disk_id))?;
                if let Some(p) = vector_mut(&mut vm.template, at) {
                    set(p, "ATTACH", "YES");
                }
                Ok((Some(PendingChange::DetachDisk { disk_id }), id))
            },
        )
        .await
    }

    /// `vm.diskresize`: grows a disk to `size` MB.
    pub async fn vm_disk_resize(
        &self,
        caller: &Caller,
        id: Oid,
        disk_id: i32,
        size: &str,
    ) -> Result<Oid> {
        let size: i64 = size
            .trim()
            .parse()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| Error::action(format!("Invalid disk size \"{size}\" (MB)")))?;
        self.reconfigure(
            caller,
            id,
            "disk-resize",
            Reconfig::DiskResize,
            move |tx, vm| {
                let at = find(&vm.template, "DISK", "DISK_ID", disk_id)
                    .ok_or_else(|| no_disk(vm.meta.id, disk_id))?;
                let total = resources::system_disk_mb(&vm.template);
                let p =
                    vector_mut(&mut vm.template, at).ok_or_else(|| no_disk(vm.meta.id, disk_id))?;
                let before: i64 = get(p, "SIZE").and_then(|s| s.parse().ok()).unwrap_or(0);
                if size <= before {
                    return Err(Error::action(format!(
                        "New size {size} MB must be larger than the current {before} MB"
                    )));
                }
                set(p, "SIZE", size.to_string());
                recharge_system_disk(tx, vm, total)?;
                Ok((Some(PendingChange::DiskResize { disk_id, before }), id))
            },
        )
        .await
    }

    /// `vm.disksaveas`: saves a disk into a new image (LOCKED until the copy is done);
    /// returns the image id.
    pub async fn vm_disk_saveas(
        &self,
        caller: &Caller,
        id: Oid,
        disk_id: i32,
        name: &str,
        image_type: &str,
        snap_id: i32,
    ) -> Result<Oid> {
        let (name, image_type) = (name.trim().to_string(), image_type.trim().to_string());
        if name.is_empty() {
            return Err(Error::action("The new image needs a name"));
        }
        let caller2 = caller.clone();
        self.reconfigure(
            caller,
            id,
            "disk-saveas",
            Reconfig::DiskSaveas,
            move |tx, vm| {
                let at = find(&vm.template, "DISK", "DISK_ID", disk_id)
                    .ok_or_else(|| no_disk(vm.meta.id, disk_id))?;
                let pairs = vm.template.attrs[at]
                    .value
                    .as_vector()
                    .unwrap_or_default()
                    .to_vec();
                let source = get(&pairs, "IMAGE_ID")
                    .and_then(|v| v.parse::<Oid>().ok())
                    .ok_or_else(|| {
                        Error::action(format!(
                            "Disk {disk_id} is volatile and has no image to save"
                        ))
                    })?;
                if snap_id >= 0
                    && !vm.disk_snapshots.iter().any(|s| {
                        s.disk_id == disk_id && s.snapshots.iter().any(|x| x.id == snap_id)
                    })
                {
                    return Err(Error::action(format!(
                        "Disk {disk_id} has no snapshot with id {snap_id}"
                    )));
                }
                let image = tx.get::<Image>(source)?;
                let size = get(&pairs, "SIZE")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(image.size);
                let image_type = if image_type.is_empty() {
                    image.image_type.name().to_string()
                } else {
                    image_type
                };
                let image_id = crate::ops::image::stage_saveas(
                    tx,
                    &caller2,
                    &name,
                    &image_type,
                    &image,
                    size,
                )?;
                Ok((
                    Some(PendingChange::DiskSaveas {
                        disk_id,
                        image_id,
                        snap_id,
                    }),
                    image_id,
                ))
            },
        )
        .await
    }
}
