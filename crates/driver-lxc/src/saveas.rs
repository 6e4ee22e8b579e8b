//! `DISKSAVEAS` for containers: a data disk of a powered-off container becomes a new
//! image. The disk's file on the host (a volatile disk's ext4 file, or the container's own
//! copy of an image) is the filesystem as the container left it; it goes to the front-end
//! through the agent's [`FileTransport`], as the QEMU driver's saved disks do
//! ([`nubo_driver_kvm::changes::saveas_transport`]), converted back to qcow2 first when
//! the disk's image was qcow2. The root filesystem (an image with a layer of changes
//! above it) is not a disk that can be saved, nor is any disk while the container runs:
//! its filesystem is mounted there.

use nubo_driver::{Change, DiskKind, DiskSource, DiskSpec, VmSpec};
use nubo_driver_kvm::changes::saveas_transport;
use nubo_driver_kvm::cold_migration::FileTransport;
use nubo_driver_kvm::tools;

use crate::error::LxcError;
use crate::layout::ContainerDir;
use crate::{disks, mounts, rootfs};

/// What a container's disk-saveas asks for: the disk, and where its image goes.
#[derive(Debug, Clone)]
pub struct SaveAs<'a> {
    /// The disk saved.
    pub disk: &'a DiskSpec,
    /// The new image's id.
    pub image_id: i32,
    /// Where the front-end takes the image's content.
    pub url: &'a str,
}

/// Checks the saveas `spec.change` asks for against what a container can save: a data
/// disk (not the root filesystem, not a CDROM) of its own, with no disk snapshot.
pub fn check(spec: &VmSpec) -> Result<SaveAs<'_>, LxcError> {
    let Some(Change::DiskSaveas {
        disk_id,
        image_id,
        snap_id,
        url,
    }) = &spec.change
    else {
        return Err(LxcError::BadRequest(
            "DISKSAVEAS needs the disk to save".into(),
        ));
    };
    let disk = spec
        .disks
        .iter()
        .find(|d| d.disk_id == *disk_id)
        .ok_or_else(|| LxcError::BadRequest(format!("the container has no DISK_ID {disk_id}")))?;
    if rootfs::root_disk(&spec.disks).is_ok_and(|root| root.disk_id == *disk_id) {
        return Err(LxcError::BadRequest(format!(
            "DISK_ID {disk_id} is the container's root filesystem, which cannot be saved as \
             an image (only its data disks can)"
        )));
    }
    if *snap_id >= 0 {
        return Err(LxcError::BadRequest(
            "containers' disks have no snapshots to save".into(),
        ));
    }
    if disk.kind == DiskKind::Cdrom {
        return Err(LxcError::BadRequest(format!(
            "DISK_ID {disk_id} is a CDROM, the image itself: clone the image instead"
        )));
    }
    if let DiskSource::Image {
        persistent: true, ..
    } = disk.source
    {
        return Err(LxcError::BadRequest(format!(
            "DISK_ID {disk_id} is persistent, which containers' data disks cannot be"
        )));
    }
    Ok(SaveAs {
        disk,
        image_id: *image_id,
        url,
    })
}

/// Sends disk `what.disk` of the container in `dir`, which is off and holds no mount of
/// it, to the front-end as the content of image `what.image_id`.
pub async fn save(
    dir: &ContainerDir,
    what: &SaveAs<'_>,
    transport: Option<&dyn FileTransport>,
) -> Result<(), LxcError> {
    let transport = saveas_transport(transport, what.url)?;
    let d = what.disk;
    let file = disks::copy_of(dir, d);
    if tokio::fs::metadata(&file).await.is_err() {
        return Err(LxcError::BadRequest(format!(
            "DISK_ID {} has no file on this host yet: the container has not run with it",
            d.disk_id
        )));
    }
    // The filesystem must be unmounted everywhere, so that what is sent is what the
    // container last wrote, complete.
    let device = disks::device_dir(dir, d.disk_id);
    let loops = tools::run("losetup", ["-j".as_ref(), file.as_os_str()])
        .await
        .unwrap_or_default();
    if mounts::is_mounted(&device).await || !loops.trim().is_empty() {
        return Err(LxcError::BadRequest(format!(
            "DISK_ID {}'s filesystem is still mounted on the host ({}); it is not saved",
            d.disk_id,
            loops.trim()
        )));
    }
    let qcow2 = matches!(&d.source, DiskSource::Image { format, .. } if format.eq_ignore_ascii_case("qcow2"));
    if !qcow2 {
        transport.upload(what.url, &file).await?;
        return Ok(());
    }
    let saved = dir.root().join(format!("saveas.{}", what.image_id));
    let converted = tools::run(
        "qemu-img",
        [
            "convert".as_ref(),
            "-q".as_ref(),
            "-f".as_ref(),
            "raw".as_ref(),
            "-O".as_ref(),
            "qcow2".as_ref(),
            file.as_os_str(),
            saved.as_os_str(),
        ],
    )
    .await;
    let outcome = match converted {
        Ok(_) => transport.upload(what.url, &saved).await,
        Err(e) => Err(e),
    };
    let _ = tokio::fs::remove_file(&saved).await;
    outcome.map_err(LxcError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(id: i32, kind: DiskKind, source: DiskSource) -> DiskSpec {
        DiskSpec {
            disk_id: id,
            kind,
            source,
            target: String::new(),
            readonly: false,
            size_mb: None,
        }
    }

    fn image(persistent: bool) -> DiskSource {
        DiskSource::Image {
            image_id: 3,
            url: String::new(),
            path: "/x.raw".into(),
            sha256: String::new(),
            format: "raw".into(),
            persistent,
        }
    }

    fn asking(disk_id: i32, snap_id: i32) -> VmSpec {
        VmSpec {
            disks: vec![
                disk(0, DiskKind::Disk, image(false)),
                disk(
                    1,
                    DiskKind::Disk,
                    DiskSource::Volatile {
                        size_mb: 8,
                        format: "raw".into(),
                    },
                ),
                disk(2, DiskKind::Cdrom, image(false)),
                disk(3, DiskKind::Disk, image(true)),
                disk(4, DiskKind::Disk, image(false)),
            ],
            change: Some(Change::DiskSaveas {
                disk_id,
                image_id: 9,
                snap_id,
                url: "https://front/v1/images/9".into(),
            }),
            ..VmSpec::default()
        }
    }

    #[test]
    fn only_data_disks_of_the_container_are_saved() {
        for ok in [1, 4] {
            let spec = asking(ok, -1);
            let what = check(&spec).expect("a data disk");
            assert_eq!((what.disk.disk_id, what.image_id), (ok, 9));
        }
        let refused = |disk_id, snap_id| {
            check(&asking(disk_id, snap_id))
                .expect_err("refused")
                .to_string()
        };
        assert!(refused(0, -1).contains("root filesystem"));
        assert!(refused(1, 0).contains("no snapshots"));
        assert!(refused(2, -1).contains("CDROM"));
        assert!(refused(3, -1).contains("persistent"));
        assert!(refused(7, -1).contains("no DISK_ID 7"));
        let mut none = asking(1, -1);
        none.change = None;
        assert!(check(&none).is_err());
    }
}
