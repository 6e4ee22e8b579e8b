//! A container's root filesystem, from its VM's first disk: an image holding a filesystem
//! (raw, or qcow2 converted to raw once per image), mounted read-only once per image file
//! under `rootfs-images/<key>/lower` and shared by every container made from it. Each
//! container sees that tree through an id-mapped bind mount (its files owned by the
//! container's own root, whatever slot of host ids it has) and writes into an overlay
//! layer of its own, so one image serves many containers and each one's changes go away
//! with it. A root disk with SIZE bounds that layer to SIZE MB ([`layer`]).

pub mod layer;

use std::path::{Path, PathBuf};

use nubo_driver::{DiskKind, DiskSource, DiskSpec};
use nubo_driver_kvm::disks::ImageFiles;
use nubo_driver_kvm::tools;
use sha2::{Digest, Sha256};

use crate::error::LxcError;
use crate::idmap::IdRange;
use crate::layout::ContainerDir;
use crate::mounts;

/// One image mount is made or dropped at a time on this host.
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The disk a container's root filesystem comes from: its first disk.
pub fn root_disk(disks: &[DiskSpec]) -> Result<&DiskSpec, LxcError> {
    let d = disks
        .iter()
        .find(|d| d.kind == DiskKind::Disk)
        .ok_or_else(|| {
            LxcError::Rootfs("a container needs a disk with its root filesystem".into())
        })?;
    match &d.source {
        DiskSource::Image {
            persistent: true, ..
        } => Err(LxcError::Rootfs(
            "a container's root image must be non-persistent (its changes live in the container)"
                .into(),
        )),
        DiskSource::Image { .. } => Ok(d),
        DiskSource::Volatile { .. } => Err(LxcError::Rootfs(
            "a container's first disk must be an image holding a root filesystem".into(),
        )),
    }
}

fn shared_dir(state_dir: &Path, key: &str) -> PathBuf {
    state_dir.join("rootfs-images").join(key)
}

fn key_of(file: &Path) -> String {
    hex::encode(&Sha256::digest(file.display().to_string().as_bytes())[..8])
}

/// Brings the root image to the host (fetched by the image cache; a qcow2 image converted
/// to raw once); the file to mount.
pub async fn fetch(
    state_dir: &Path,
    disk: &DiskSpec,
    images: &dyn ImageFiles,
) -> Result<PathBuf, LxcError> {
    let file = images.local_path(&disk.source).await?;
    let DiskSource::Image { format, .. } = &disk.source else {
        return Err(LxcError::Rootfs("no image".into()));
    };
    if !format.eq_ignore_ascii_case("qcow2") {
        return Ok(file);
    }
    let _guard = LOCK.lock().await;
    let dir = shared_dir(state_dir, &key_of(&file));
    let raw = dir.join("image.raw");
    if tokio::fs::metadata(&raw).await.is_ok() {
        return Ok(raw);
    }
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| LxcError::file(&dir, e))?;
    let tmp = dir.join("image.raw.tmp");
    tools::run(
        "qemu-img",
        [
            "convert",
            "-q",
            "-f",
            "qcow2",
            "-O",
            "raw",
            &file.display().to_string(),
            &tmp.display().to_string(),
        ],
    )
    .await?;
    tokio::fs::rename(&tmp, &raw)
        .await
        .map_err(|e| LxcError::file(&raw, e))?;
    Ok(raw)
}

async fn mkdir(path: &Path) -> Result<(), LxcError> {
    tokio::fs::create_dir_all(path)
        .await
        .map_err(|e| LxcError::file(path, e))
}

/// How many MB the container's writable layer may hold: the root disk's SIZE, which nubod
/// passes on only when it is larger than the image (and refuses below it); `None`, no
/// bound (the layer is plain directories on the host's filesystem).
pub fn layer_mb(root: &DiskSpec) -> Option<u64> {
    root.size_mb
}

/// Mounts the container's root filesystem at its bundle's `rootfs` (idempotent): with
/// `layer_mb`, its writable layer lives in an image of that many MB.
pub async fn mount(
    state_dir: &Path,
    dir: &ContainerDir,
    image: &Path,
    ids: IdRange,
    layer_mb: Option<u64>,
) -> Result<(), LxcError> {
    let rootfs = dir.rootfs();
    if mounts::is_mounted(&rootfs).await {
        return Ok(());
    }
    let key = key_of(image);
    let shared = shared_dir(state_dir, &key).join("lower");
    {
        let _guard = LOCK.lock().await;
        if !mounts::is_mounted(&shared).await {
            mkdir(&shared).await?;
            let file = image.display().to_string();
            let at = shared.display().to_string();
            if let Err(e) = mounts::mount(&["-o", "loop,ro,nodev", &file, &at]).await {
                return Err(LxcError::Rootfs(format!(
                    "the image is not a filesystem this host can mount ({})",
                    mounts::reason(&e.to_string(), &[&file, &at])
                )));
            }
        }
        let key_file = dir.image_key();
        tokio::fs::write(&key_file, &key)
            .await
            .map_err(|e| LxcError::file(&key_file, e))?;
    }
    let lower = dir.lower();
    if !mounts::is_mounted(&lower).await {
        mkdir(&lower).await?;
        crate::idmapped::bind(&shared, &lower, ids).await?;
    }
    if let Some(mb) = layer_mb {
        layer::mount(dir, mb).await?;
    }
    let (upper, work) = (dir.upper(), dir.work());
    mkdir(&upper).await?;
    mkdir(&work).await?;
    mkdir(&rootfs).await?;
    // The overlay's root takes its owner and mode from the upper layer: the container's
    // root owns it, as it owns the image's root.
    let mode = tokio::fs::metadata(&lower)
        .await
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
        .unwrap_or(0o755);
    let owner = format!("{}:{}", ids.first, ids.first);
    tools::run("chown", [owner.as_str(), &upper.display().to_string()]).await?;
    tools::run(
        "chmod",
        [format!("{mode:o}").as_str(), &upper.display().to_string()],
    )
    .await?;
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    mounts::mount(&[
        "-t",
        "overlay",
        "overlay",
        "-o",
        &options,
        &rootfs.display().to_string(),
    ])
    .await
    .map_err(|e| LxcError::Rootfs(format!("cannot make the container's layer: {e}")))
}

/// Unmounts everything under the container's directory, and the shared image when no
/// other container uses it.
pub async fn unmount(state_dir: &Path, dir: &ContainerDir) {
    for m in mounts::under(dir.root()).await {
        mounts::unmount(&m).await;
    }
    let Ok(key) = tokio::fs::read_to_string(dir.image_key()).await else {
        return;
    };
    let _guard = LOCK.lock().await;
    let _ = tokio::fs::remove_file(dir.image_key()).await;
    for id in nubo_driver_kvm::layout::VmDir::list(state_dir) {
        let other = ContainerDir::new(state_dir, id);
        if tokio::fs::read_to_string(other.image_key()).await.ok() == Some(key.clone()) {
            return;
        }
    }
    let shared = shared_dir(state_dir, key.trim()).join("lower");
    if mounts::is_mounted(&shared).await {
        mounts::unmount(&shared.display().to_string()).await;
    }
}
