//! A container's disks besides its root filesystem, as OpenNebula's LXC driver mounts
//! them: each holds a filesystem mounted at its TARGET when that is an absolute path,
//! else at `/media/one-disk.<DISK_ID>`. A volatile disk is made empty on the host (ext4);
//! an image disk is the container's own copy of the image (raw; qcow2 converted), made at
//! PROLOG; a CDROM is the image itself, read-only. Each is loop-mounted in the container's
//! directory and seen through an id-mapped bind, so the container's root owns what the
//! image's root owns. Persistent data disks are not available to containers yet.
//! Disks are attached and detached while the container is off: the next boot mounts them.
//! A data disk is saved as a new image while the container is off ([`crate::saveas`]).

use std::path::PathBuf;

use nubo_driver::{DiskKind, DiskSource, DiskSpec};
use nubo_driver_kvm::disks::ImageFiles;
use nubo_driver_kvm::tools;

use crate::bundle::Bind;
use crate::error::LxcError;
use crate::idmap::IdRange;
use crate::layout::ContainerDir;
use crate::{idmapped, mounts, rootfs};

/// The disks of `disks` other than the root filesystem's.
pub fn extra(disks: &[DiskSpec]) -> Vec<&DiskSpec> {
    let root = rootfs::root_disk(disks).ok().map(|d| d.disk_id);
    disks.iter().filter(|d| Some(d.disk_id) != root).collect()
}

/// Where the container sees disk `d`.
pub fn mount_point(d: &DiskSpec) -> String {
    let t = d.target.trim();
    let usable = t.starts_with('/')
        && t.len() > 1
        && t.len() <= 255
        && !t.split('/').any(|part| part == ".." || part == ".")
        && !t.chars().any(|c| c.is_control());
    if usable {
        t.trim_end_matches('/').to_string()
    } else {
        format!("/media/one-disk.{}", d.disk_id)
    }
}

/// The container's own copy of data disk `d` (a volatile disk's file, an image's copy).
pub(crate) fn copy_of(dir: &ContainerDir, d: &DiskSpec) -> PathBuf {
    dir.root().join(format!("disk.{}", d.disk_id))
}

/// Where the host mounts disk `disk_id`'s filesystem (the id-mapped bind is made from it).
pub(crate) fn device_dir(dir: &ContainerDir, disk_id: i32) -> PathBuf {
    dir.root().join("disks").join(format!("{disk_id}.fs"))
}

fn refuse_persistent(d: &DiskSpec) -> Result<(), LxcError> {
    match &d.source {
        DiskSource::Image {
            persistent: true, ..
        } if d.kind == DiskKind::Disk => Err(LxcError::BadRequest(format!(
            "DISK {}: persistent data disks are not available to containers",
            d.disk_id
        ))),
        _ => Ok(()),
    }
}

/// Makes disk `d` ready on the host (idempotent): a volatile disk made and formatted, an
/// image copied.
pub async fn prepare(
    dir: &ContainerDir,
    d: &DiskSpec,
    images: &dyn ImageFiles,
) -> Result<(), LxcError> {
    refuse_persistent(d)?;
    if d.kind == DiskKind::Cdrom {
        images.local_path(&d.source).await?;
        return Ok(());
    }
    let own = copy_of(dir, d);
    if tokio::fs::metadata(&own).await.is_ok() {
        return Ok(());
    }
    let tmp = own.with_extension("part");
    let t = tmp.display().to_string();
    match &d.source {
        DiskSource::Volatile { size_mb, .. } => {
            tools::run("truncate", ["-s", &format!("{size_mb}M"), t.as_str()]).await?;
            tools::run("mkfs.ext4", ["-q", "-F", t.as_str()]).await?;
        }
        DiskSource::Image { format, .. } => {
            let file = images.local_path(&d.source).await?.display().to_string();
            if format.eq_ignore_ascii_case("qcow2") {
                tools::run(
                    "qemu-img",
                    ["convert", "-q", "-f", "qcow2", "-O", "raw", &file, &t],
                )
                .await?;
            } else {
                tools::run("cp", ["--sparse=always", "--reflink=auto", &file, &t]).await?;
            }
        }
    }
    tokio::fs::rename(&tmp, &own)
        .await
        .map_err(|e| LxcError::file(&own, e))?;
    Ok(())
}

/// Mounts every extra disk for the container; the binds that bring them in.
pub async fn mount_all(
    dir: &ContainerDir,
    disks: &[DiskSpec],
    images: &dyn ImageFiles,
    ids: IdRange,
) -> Result<Vec<Bind>, LxcError> {
    let mut binds = Vec::new();
    for d in extra(disks) {
        refuse_persistent(d)?;
        let readonly = d.readonly || d.kind == DiskKind::Cdrom;
        let file = if d.kind == DiskKind::Cdrom {
            images.local_path(&d.source).await?
        } else {
            prepare(dir, d, images).await?;
            copy_of(dir, d)
        };
        let (device, seen) = (
            device_dir(dir, d.disk_id),
            dir.root().join("disks").join(d.disk_id.to_string()),
        );
        for p in [&device, &seen] {
            tokio::fs::create_dir_all(p)
                .await
                .map_err(|e| LxcError::file(p, e))?;
        }
        if !mounts::is_mounted(&device).await {
            let opts = if readonly {
                "loop,ro,nodev"
            } else {
                "loop,nodev"
            };
            mounts::mount(&[
                "-o",
                opts,
                &file.display().to_string(),
                &device.display().to_string(),
            ])
            .await
            .map_err(|e| {
                LxcError::BadRequest(format!(
                    "DISK {} does not hold a filesystem this host can mount ({e})",
                    d.disk_id
                ))
            })?;
        }
        if !mounts::is_mounted(&seen).await {
            idmapped::bind(&device, &seen, ids).await?;
        }
        binds.push(Bind {
            host: seen,
            inside: mount_point(d),
            readonly,
        });
    }
    Ok(binds)
}

/// Removes the host's copy of disk `d` (after a detach).
pub async fn remove(dir: &ContainerDir, d: &DiskSpec) {
    let _ = tokio::fs::remove_file(copy_of(dir, d)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(id: i32, target: &str) -> DiskSpec {
        DiskSpec {
            disk_id: id,
            kind: DiskKind::Disk,
            source: DiskSource::Volatile {
                size_mb: 8,
                format: "raw".into(),
            },
            target: target.into(),
            readonly: false,
            size_mb: None,
        }
    }

    #[test]
    fn disks_go_where_their_target_says_or_under_media() {
        assert_eq!(mount_point(&disk(1, "/data")), "/data");
        assert_eq!(mount_point(&disk(1, "/srv/db/")), "/srv/db");
        assert_eq!(mount_point(&disk(2, "vdb")), "/media/one-disk.2");
        assert_eq!(mount_point(&disk(3, "/")), "/media/one-disk.3");
        assert_eq!(mount_point(&disk(4, "/a/../etc")), "/media/one-disk.4");
        assert_eq!(mount_point(&disk(5, "/a\nb")), "/media/one-disk.5");
    }
}
