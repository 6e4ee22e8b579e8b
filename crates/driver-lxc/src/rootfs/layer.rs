//! A container's writable layer bounded in size: when its root disk carries SIZE, the
//! overlay's `upper` and `work` live inside a sparse ext4 image of that many MB
//! (`layer/layer.img`, made with `mke2fs` the first time the container boots, loop-mounted
//! `nodev` at `layer/mnt`), so a container writing past it gets ENOSPC and nothing else on
//! the host runs short. The image stays while the container is off (stop, undeploy,
//! poweroff unmount it; the next boot mounts it again) and goes with the VM's directory on
//! terminate. It sits in a directory of its own so that cold migration, which moves the
//! VM directory's plain files, sends the packed layer rather than the sparse image.
//! Containers without SIZE keep their layer in plain directories, as before.

use nubo_driver_kvm::tools;

use crate::error::LxcError;
use crate::layout::ContainerDir;
use crate::mounts;

/// The smallest bounded layer (MB): ext4's own metadata needs a few.
pub const MIN_MB: u64 = 8;

/// Makes the layer's image of `size_mb` MB unless it exists, and mounts it (idempotent).
pub async fn mount(dir: &ContainerDir, size_mb: u64) -> Result<(), LxcError> {
    let at = dir.layer_mount();
    if mounts::is_mounted(&at).await {
        return Ok(());
    }
    if size_mb < MIN_MB {
        return Err(LxcError::Rootfs(format!(
            "the root disk's SIZE ({size_mb} MB) is below the smallest layer ({MIN_MB} MB)"
        )));
    }
    if tokio::fs::metadata(dir.layer_image()).await.is_err() {
        make(dir, size_mb).await?;
    }
    mount_existing(dir).await
}

/// Mounts the layer's image, which exists (idempotent).
pub async fn mount_existing(dir: &ContainerDir) -> Result<(), LxcError> {
    let (image, at) = (dir.layer_image(), dir.layer_mount());
    if mounts::is_mounted(&at).await {
        return Ok(());
    }
    tokio::fs::create_dir_all(&at)
        .await
        .map_err(|e| LxcError::file(&at, e))?;
    let (file, point) = (image.display().to_string(), at.display().to_string());
    mounts::mount(&["-o", "loop,nodev,noinit_itable", &file, &point])
        .await
        .map_err(|e| {
            LxcError::Rootfs(format!(
                "cannot mount the container's layer ({})",
                mounts::reason(&e.to_string(), &[&file, &point])
            ))
        })
}

/// A sparse file of `size_mb` MB holding an empty ext4 (no blocks reserved for root, inode
/// tables and journal left to the kernel to initialise), written under a temporary name
/// and renamed into place once whole.
async fn make(dir: &ContainerDir, size_mb: u64) -> Result<(), LxcError> {
    let image = dir.layer_image();
    let folder = dir.layer_dir();
    tokio::fs::create_dir_all(&folder)
        .await
        .map_err(|e| LxcError::file(&folder, e))?;
    let tmp = folder.join("layer.img.tmp");
    let t = tmp.display().to_string();
    let _ = tokio::fs::remove_file(&tmp).await;
    tools::run("truncate", ["-s", &format!("{size_mb}M"), t.as_str()]).await?;
    let made = tools::run(
        "mke2fs",
        [
            "-q",
            "-F",
            "-t",
            "ext4",
            "-m",
            "0",
            "-E",
            "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
            t.as_str(),
        ],
    )
    .await;
    if let Err(e) = made {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e.into());
    }
    tokio::fs::rename(&tmp, &image)
        .await
        .map_err(|e| LxcError::file(&image, e))
}

/// Unmounts the layer's image when it is mounted (the overlay above it goes first).
pub async fn unmount(dir: &ContainerDir) {
    let at = dir.layer_mount();
    if mounts::is_mounted(&at).await {
        mounts::unmount(&at.display().to_string()).await;
    }
}

/// Space the layer's image takes on the host (MB), when the container has one.
pub async fn allocated_mb(dir: &ContainerDir) -> Option<u64> {
    let meta = tokio::fs::metadata(dir.layer_image()).await.ok()?;
    Some(nubo_driver_kvm::monitor::allocated_mb(&meta))
}
