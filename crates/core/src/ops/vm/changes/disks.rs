//! Disk changes: `vm.attach`, `vm.detach`, `vm.diskresize`, `vm.disksaveas`.

use nubo_types::states::ImageType;

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
                let container = on_container_host(tx, vm);
                if container {
                    check_container_saveas(tx, vm, disk_id)?;
                }
                let source = get(&pairs, "IMAGE_ID").and_then(|v| v.parse::<Oid>().ok());
                if source.is_none() && !container {
                    return Err(Error::action(format!(
                        "Disk {disk_id} is volatile and has no image to save"
                    )));
                }
                if snap_id >= 0
                    && !vm.disk_snapshots.iter().any(|s| {
                        s.disk_id == disk_id && s.snapshots.iter().any(|x| x.id == snap_id)
                    })
                {
                    return Err(Error::action(format!(
                        "Disk {disk_id} has no snapshot with id {snap_id}"
                    )));
                }
                let image = source.map(|s| tx.get::<Image>(s)).transpose()?;
                let size = get(&pairs, "SIZE")
                    .and_then(|s| s.parse().ok())
                    .or(image.as_ref().map(|i| i.size))
                    .unwrap_or(0);
                let image_type = match &image {
                    _ if !image_type.is_empty() => image_type,
                    Some(image) => image.image_type.name().to_string(),
                    None => ImageType::Datablock.name().to_string(),
                };
                let image_id = crate::ops::image::stage_saveas(
                    tx,
                    &caller2,
                    &name,
                    &image_type,
                    image.as_deref(),
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

/// Whether VM `vm` is on a container host (VM_MAD lxc), whose disks are saved differently.
fn on_container_host(tx: &Tx, vm: &Vm) -> bool {
    vm.current()
        .and_then(|h| tx.get::<Host>(h.hid).ok())
        .is_some_and(|host| host.vm_mad == "lxc")
}

/// What a container's disk-saveas needs: a data disk (its first disk that is not a CDROM
/// is its root filesystem, an image under a layer of changes), saved while the container
/// is powered off (a running container's disks are mounted filesystems). Its volatile
/// disks hold filesystems and may be saved too.
fn check_container_saveas(tx: &Tx, vm: &Vm, disk_id: i32) -> Result<()> {
    let is_cdrom = |pairs: &[(String, String)]| {
        get(pairs, "IMAGE_ID")
            .and_then(|v| v.parse::<Oid>().ok())
            .and_then(|id| tx.get::<Image>(id).ok())
            .is_some_and(|i| i.image_type == ImageType::Cdrom)
    };
    let root = vm
        .template
        .vectors("DISK")
        .find(|p| !is_cdrom(p))
        .and_then(|p| get(p, "DISK_ID"))
        .and_then(|v| v.parse::<i32>().ok());
    if root == Some(disk_id) {
        return Err(Error::action(format!(
            "Disk {disk_id} is the container's root filesystem, which cannot be saved as an \
             image; only a container's data disks can"
        )));
    }
    if vm.state != VmState::Poweroff {
        return Err(Error::action(format!(
            "A container's disk is saved as an image only while the container is powered off \
             (its disks are mounted filesystems while it runs): power off VM {} first",
            vm.meta.id
        )));
    }
    Ok(())
}
