//! Cold migration of a container: its layer (everything it changed on its image) moves to
//! the next host. The leaving host ends the container, packs the layer into `layer.tar`
//! (a layer bounded by the root disk's SIZE is read from its image, mounted for the
//! while; the sparse image itself does not travel)
//! (numeric owners, overlay whiteouts and their `trusted.overlay.*` attributes kept) with
//! the first host id of its slot in `layer-ids`, and offers the container's files as the
//! QEMU driver offers a VM's; the arriving host fetches and checks them, unpacks the layer
//! and shifts its owners into the slot of host ids it gives the container there. The
//! container then boots on the new host on its layer, as after a stop.

use std::path::{Path, PathBuf};

use nubo_driver::VmSpec;
use nubo_driver_kvm::cold_migration::{self, FileTransport, Offer};
use nubo_driver_kvm::disks::ImageFiles;
use nubo_driver_kvm::tools;

use crate::error::LxcError;
use crate::idmap::{self, IdRange, IdSlots};
use crate::layout::ContainerDir;
use crate::rootfs::{self, layer};

/// The packed layer.
const LAYER: &str = "layer.tar";
/// The first host id of the slot the packed layer's owners are in.
const LAYER_IDS: &str = "layer-ids";

/// Packs the (ended) container's layer and offers its files.
pub async fn offer(
    dir: &ContainerDir,
    vm_id: i32,
    slots: &IdSlots,
    transport: &dyn FileTransport,
) -> Result<Offer, LxcError> {
    let bounded = tokio::fs::metadata(dir.layer_image()).await.is_ok();
    if bounded {
        layer::mount_existing(dir).await?;
    }
    let packed = pack(dir, slots).await;
    if bounded {
        layer::unmount(dir).await;
    }
    packed?;
    // What only this host's container means does not travel; its ids are free again.
    idmap::release(dir, slots).await;
    for name in ["id-slot", "image-key", "init.pid", "exec.pid", "frozen"] {
        let _ = tokio::fs::remove_file(dir.root().join(name)).await;
    }
    Ok(cold_migration::offer(&dir.vm, vm_id, transport).await?)
}

/// Packs the layer (when the container has one) into `layer.tar`, its slot's first host
/// id into `layer-ids`.
async fn pack(dir: &ContainerDir, slots: &IdSlots) -> Result<(), LxcError> {
    let upper = dir.upper();
    if tokio::fs::metadata(&upper).await.is_ok() {
        let ids = idmap::assigned(dir, slots.base)
            .await
            .ok_or_else(|| LxcError::Rootfs("the container's layer has no id slot".into()))?;
        let tar = dir.root().join(LAYER);
        tools::run(
            "tar",
            [
                "--numeric-owner",
                "--xattrs",
                "--xattrs-include=trusted.overlay.*",
                "-C",
                &upper.display().to_string(),
                "-cf",
                &tar.display().to_string(),
                ".",
            ],
        )
        .await?;
        let ids_file = dir.root().join(LAYER_IDS);
        tokio::fs::write(&ids_file, ids.first.to_string())
            .await
            .map_err(|e| LxcError::file(&ids_file, e))?;
    }
    Ok(())
}

/// Fetches the offered files, unpacks the layer and gives it this host's ids.
pub async fn receive(
    dir: &ContainerDir,
    slots: &IdSlots,
    spec: &VmSpec,
    offer: &Offer,
    transport: &dyn FileTransport,
    images: &dyn ImageFiles,
) -> Result<(), LxcError> {
    cold_migration::receive(&dir.vm, spec, offer, transport, images).await?;
    let layer_mb = rootfs::root_disk(&spec.disks)
        .ok()
        .and_then(rootfs::layer_mb);
    let outcome = match layer_mb {
        Some(mb) => unpack_bounded(dir, slots, mb).await,
        None => unpack(dir, slots).await,
    };
    if outcome.is_err() {
        let _ = dir.vm.remove().await;
    }
    outcome
}

/// Unpacks the layer into a new image of `layer_mb` MB, mounted for the while.
async fn unpack_bounded(
    dir: &ContainerDir,
    slots: &IdSlots,
    layer_mb: u64,
) -> Result<(), LxcError> {
    if tokio::fs::metadata(dir.root().join(LAYER)).await.is_err() {
        return Ok(());
    }
    layer::mount(dir, layer_mb).await?;
    let outcome = unpack(dir, slots).await;
    layer::unmount(dir).await;
    outcome
}

async fn unpack(dir: &ContainerDir, slots: &IdSlots) -> Result<(), LxcError> {
    let tar = dir.root().join(LAYER);
    if tokio::fs::metadata(&tar).await.is_err() {
        return Ok(());
    }
    let ids_file = dir.root().join(LAYER_IDS);
    let old: u32 = tokio::fs::read_to_string(&ids_file)
        .await
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| LxcError::file(&ids_file, "the layer's ids are missing"))?;
    let new = idmap::assign(dir, slots).await?;
    let upper = dir.upper();
    tokio::fs::create_dir_all(&upper)
        .await
        .map_err(|e| LxcError::file(&upper, e))?;
    tools::run(
        "tar",
        [
            "--numeric-owner",
            "--same-owner",
            "--same-permissions",
            "--xattrs",
            "--xattrs-include=trusted.overlay.*",
            "-C",
            &upper.display().to_string(),
            "-xf",
            &tar.display().to_string(),
        ],
    )
    .await?;
    let from = IdRange {
        first: old,
        count: idmap::IDS_PER_CONTAINER,
    };
    tokio::task::spawn_blocking(move || shift_owners(&upper, from, new))
        .await
        .map_err(|e| LxcError::Rootfs(format!("cannot shift the layer's owners: {e}")))??;
    let _ = tokio::fs::remove_file(&tar).await;
    let _ = tokio::fs::remove_file(&ids_file).await;
    Ok(())
}

/// Moves every owner and group under `root` (itself included, links not followed) from
/// the ids of `from` to the same ids of `to`; ids outside `from` stay.
pub fn shift_owners(root: &Path, from: IdRange, to: IdRange) -> Result<(), LxcError> {
    use std::os::unix::fs::MetadataExt;
    let shift = |id: u32| -> Option<u32> {
        (id >= from.first && id - from.first < from.count).then(|| to.first + (id - from.first))
    };
    let mut stack: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).map_err(|e| LxcError::file(&path, e))?;
        let (uid, gid) = (shift(meta.uid()), shift(meta.gid()));
        if uid.is_some() || gid.is_some() {
            // lchown clears set-id bits: they are put back.
            let mode = meta.mode() & 0o7777;
            std::os::unix::fs::lchown(&path, uid, gid).map_err(|e| LxcError::file(&path, e))?;
            if !meta.file_type().is_symlink() && mode & 0o6000 != 0 {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| LxcError::file(&path, e))?;
            }
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(|e| LxcError::file(&path, e))? {
                let entry = entry.map_err(|e| LxcError::file(&path, e))?;
                stack.push(entry.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn owners_move_from_one_slot_to_another() {
        let is_root = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        if !is_root {
            return;
        }
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("upper");
        std::fs::create_dir_all(root.join("etc")).expect("dir");
        std::fs::write(root.join("etc/f"), "x").expect("file");
        std::os::unix::fs::symlink("f", root.join("etc/l")).expect("link");
        std::fs::write(root.join("host-owned"), "y").expect("file");
        let from = IdRange {
            first: 200_000,
            count: 65_536,
        };
        let to = IdRange {
            first: 400_000,
            count: 65_536,
        };
        for p in ["", "etc", "etc/f"] {
            std::os::unix::fs::lchown(root.join(p), Some(200_000), Some(200_005)).expect("own");
        }
        std::os::unix::fs::lchown(root.join("etc/l"), Some(200_033), Some(200_033)).expect("own");
        shift_owners(&root, from, to).expect("shift");
        let owner = |p: &str| {
            let m = std::fs::symlink_metadata(root.join(p)).expect("meta");
            (m.uid(), m.gid())
        };
        assert_eq!(owner(""), (400_000, 400_005));
        assert_eq!(owner("etc/f"), (400_000, 400_005));
        assert_eq!(owner("etc/l"), (400_033, 400_033));
        assert_eq!(owner("host-owned"), (0, 0));
    }
}
