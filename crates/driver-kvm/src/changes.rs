//! In-place changes of a VM: disks and NICs plugged in and out (QMP `blockdev-add` /
//! `device_add` on a free PCIe root port, and back), VM snapshots (`savevm` inside the
//! qcow2 disks), disk snapshots and resizes (QMP while the guest runs, `qemu-img` while it
//! is off), disks saved as new images (copied while the guest is paused, sent to the
//! front-end). After a change the VM's saved spec says what it now has, so a restart or a
//! migration brings the same devices.

use std::time::{Duration, Instant};

use nubo_driver::{Change, DiskKind, DiskSource, DiskSpec, NicSpec, VmSpec};
use serde_json::{Value, json};

use crate::args::{DISK_PORTS, NIC_PORTS, disk_port, nic_port};
use crate::cold_migration::FileTransport;
use crate::disks::{self, ImageFiles};
use crate::error::KvmError;
use crate::layout::VmDir;
use crate::qmp::Qmp;
use crate::{guest, network, tools};

/// How long a guest gets to let go of an unplugged device.
const UNPLUG_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a back end may stay "in use" after its device was unplugged.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(10);

fn disk_of(spec: &VmSpec, id: i32) -> Result<&DiskSpec, KvmError> {
    spec.disks
        .iter()
        .find(|d| d.disk_id == id)
        .ok_or_else(|| KvmError::BadRequest(format!("the VM has no DISK_ID {id}")))
}

fn nic_of(spec: &VmSpec, id: i32) -> Result<&NicSpec, KvmError> {
    spec.nics
        .iter()
        .find(|n| n.nic_id == id)
        .ok_or_else(|| KvmError::BadRequest(format!("the VM has no NIC_ID {id}")))
}

/// Carries out `change` on the VM in `dir` (running or not); the spec to keep afterwards.
pub async fn apply(
    dir: &VmDir,
    spec: &VmSpec,
    change: &Change,
    images: &dyn ImageFiles,
    transport: Option<&dyn FileTransport>,
) -> Result<VmSpec, KvmError> {
    let running = guest::running(dir).is_some();
    let mut after = spec.clone();
    after.change = None;
    match change {
        Change::AttachDisk { disk_id } => {
            let d = disk_of(spec, *disk_id)?;
            disks::prepare_one(dir, d, images).await?;
            if running {
                plug_disk(dir, d, images).await?;
            }
        }
        Change::DetachDisk { disk_id } => {
            let d = disk_of(spec, *disk_id)?.clone();
            if running {
                let mut q = Qmp::connect(&dir.qmp()).await?;
                unplug_device(&mut q, &format!("disk{disk_id}")).await?;
                release(
                    &mut q,
                    "blockdev-del",
                    json!({ "node-name": format!("d{disk_id}") }),
                )
                .await?;
            }
            if disks::has_copy(dir, &d) {
                // The copy of a persistent image goes back to the front-end first; if it
                // cannot, the guest gets its disk back and the detach fails.
                if let Err(e) = send_back(dir, &d, transport).await {
                    if running && let Err(replug) = plug_disk(dir, &d, images).await {
                        tracing::warn!(disk_id, error = %replug, "cannot plug the disk back in");
                    }
                    return Err(e);
                }
                let _ = tokio::fs::remove_file(dir.disk(*disk_id)).await;
            } else if owned_file(&d) {
                let _ = tokio::fs::remove_file(dir.disk(*disk_id)).await;
            }
            after.disks.retain(|x| x.disk_id != *disk_id);
        }
        Change::AttachNic { nic_id } => {
            let nic = nic_of(spec, *nic_id)?;
            if running {
                let bus = nic_port(*nic_id).ok_or_else(|| {
                    KvmError::BadRequest(format!(
                        "NICs from NIC_ID {NIC_PORTS} on cannot be plugged into a running VM"
                    ))
                })?;
                network::plug(std::slice::from_ref(nic)).await?;
                crate::firewall::apply(std::slice::from_ref(nic)).await?;
                crate::spoofing::apply(std::slice::from_ref(nic)).await?;
                let mut q = Qmp::connect(&dir.qmp()).await?;
                let netdev = match &nic.bridge {
                    Some(_) => {
                        json!({ "type": "tap", "id": format!("n{nic_id}"), "ifname": nic.target, "script": "no", "downscript": "no" })
                    }
                    None => json!({ "type": "user", "id": format!("n{nic_id}") }),
                };
                q.execute("netdev_add", Some(netdev)).await?;
                let device = json!({
                    "driver": "virtio-net-pci", "netdev": format!("n{nic_id}"),
                    "mac": nic.mac, "id": format!("nic{nic_id}")
                });
                if let Err(e) = plug_device(&mut q, device, Some(bus)).await {
                    let _ = q
                        .execute("netdev_del", Some(json!({ "id": format!("n{nic_id}") })))
                        .await;
                    network::unplug(std::slice::from_ref(nic)).await;
                    return Err(e);
                }
            }
        }
        Change::DetachNic { nic_id } => {
            let nic = nic_of(spec, *nic_id)?.clone();
            if running {
                let mut q = Qmp::connect(&dir.qmp()).await?;
                unplug_device(&mut q, &format!("nic{nic_id}")).await?;
                release(&mut q, "netdev_del", json!({ "id": format!("n{nic_id}") })).await?;
                network::unplug(std::slice::from_ref(&nic)).await;
            }
            after.nics.retain(|n| n.nic_id != *nic_id);
        }
        Change::UpdateNic { nic_id } => {
            if running {
                let nic = nic_of(spec, *nic_id)?;
                crate::firewall::refresh(nic).await?;
                crate::spoofing::apply(std::slice::from_ref(nic)).await?;
            }
        }
        Change::Exec(_) | Change::ExecCancel => {
            return Err(KvmError::BadRequest(
                "running a command in a QEMU guest needs a guest agent".into(),
            ));
        }
        Change::Resize => {
            if running {
                return Err(KvmError::BadRequest(
                    "CPU and memory of a running guest cannot change here; power it off first"
                        .into(),
                ));
            }
        }
        Change::SnapshotCreate { snap_id } => hmp(dir, &format!("savevm snap-{snap_id}")).await?,
        Change::SnapshotRevert { snap_id } => hmp(dir, &format!("loadvm snap-{snap_id}")).await?,
        Change::SnapshotDelete { snap_id } => hmp(dir, &format!("delvm snap-{snap_id}")).await?,
        Change::DiskSnapshotCreate { disk_id, snap_id } => {
            disk_snapshot(dir, spec, *disk_id, *snap_id, running, SnapOp::Create).await?;
        }
        Change::DiskSnapshotRevert { disk_id, snap_id } => {
            disk_snapshot(dir, spec, *disk_id, *snap_id, running, SnapOp::Revert).await?;
        }
        Change::DiskSnapshotDelete { disk_id, snap_id } => {
            disk_snapshot(dir, spec, *disk_id, *snap_id, running, SnapOp::Delete).await?;
        }
        Change::DiskResize { disk_id, size_mb } => {
            let d = disk_of(spec, *disk_id)?;
            let bytes = size_mb.saturating_mul(1024 * 1024);
            if running {
                let mut q = Qmp::connect(&dir.qmp()).await?;
                q.execute(
                    "block_resize",
                    Some(json!({ "node-name": format!("d{disk_id}"), "size": bytes })),
                )
                .await?;
            } else {
                let path = writable_file(dir, d, images).await?;
                tools::run("qemu-img", ["resize", "-q", &path, &format!("{size_mb}M")]).await?;
            }
        }
        Change::DiskSaveas {
            disk_id,
            image_id,
            snap_id,
            url,
        } => {
            let transport = saveas_transport(transport, url)?;
            let d = disk_of(spec, *disk_id)?;
            let saved = dir.root.join(format!("saveas.{image_id}"));
            let outcome = match save_disk(dir, d, *snap_id, &saved, running, images).await {
                Ok(()) => transport.upload(url, &saved).await,
                Err(e) => Err(e),
            };
            let _ = tokio::fs::remove_file(&saved).await;
            outcome?;
        }
    }
    Ok(after)
}

/// The transport a disk saved as a new image goes to the front-end with (its
/// [`FileTransport::upload`] to `url`), checked before the disk is copied; the container
/// driver's disk-saveas uses it too.
pub fn saveas_transport<'a>(
    transport: Option<&'a dyn FileTransport>,
    url: &str,
) -> Result<&'a dyn FileTransport, KvmError> {
    let transport = transport.ok_or_else(|| {
        KvmError::BadRequest("this host cannot send images to the front-end".into())
    })?;
    if url.is_empty() {
        return Err(KvmError::BadRequest(
            "the front-end gave no address to send the image to".into(),
        ));
    }
    Ok(transport)
}

/// Plugs disk `d` (prepared) into the running guest, on the root port its id names.
async fn plug_disk(dir: &VmDir, d: &DiskSpec, images: &dyn ImageFiles) -> Result<(), KvmError> {
    let disk_id = d.disk_id;
    let prepared = disks::prepare_one(dir, d, images).await?;
    let bus = match d.kind {
        DiskKind::Disk => Some(disk_port(disk_id).ok_or_else(|| {
            KvmError::BadRequest(format!(
                "disks from DISK_ID {DISK_PORTS} on cannot be plugged into a running VM"
            ))
        })?),
        DiskKind::Cdrom => None,
    };
    let mut q = Qmp::connect(&dir.qmp()).await?;
    let node = format!("d{disk_id}");
    let readonly = prepared.readonly || prepared.kind == DiskKind::Cdrom;
    q.execute(
        "blockdev-add",
        Some(json!({
            "driver": prepared.format, "node-name": node, "read-only": readonly,
            "file": { "driver": "file", "filename": prepared.path, "read-only": readonly }
        })),
    )
    .await?;
    let device = match d.kind {
        DiskKind::Disk => {
            json!({ "driver": "virtio-blk-pci", "drive": node, "id": format!("disk{disk_id}") })
        }
        DiskKind::Cdrom => {
            json!({ "driver": "scsi-cd", "drive": node, "id": format!("disk{disk_id}"), "bus": "scsi0.0" })
        }
    };
    if let Err(e) = plug_device(&mut q, device, bus).await {
        let _ = q
            .execute("blockdev-del", Some(json!({ "node-name": node })))
            .await;
        return Err(e);
    }
    Ok(())
}

/// New security-group rules for one NIC of a running guest (the NIC that `sent.change`
/// names, with its rules as `sent` has them). Only the rules change: the VM's own saved
/// spec stays the truth about its disks and NICs, so an update that arrives after the VM
/// was changed, moved or shut down neither undoes that nor brings anything back; a VM not
/// running here, or a NIC it no longer has, needs nothing.
pub async fn new_rules(dir: &VmDir, sent: &VmSpec) -> Result<(), KvmError> {
    let Some(Change::UpdateNic { nic_id }) = sent.change else {
        return Err(KvmError::BadRequest(
            "UPDATESG needs the NIC whose rules change".into(),
        ));
    };
    if guest::running(dir).is_none() {
        return Ok(());
    }
    let Some(mut saved) = dir.load_spec().await else {
        return Ok(());
    };
    let (Some(new), Some(nic)) = (
        sent.nics.iter().find(|n| n.nic_id == nic_id),
        saved.nics.iter_mut().find(|n| n.nic_id == nic_id),
    ) else {
        return Ok(());
    };
    if nic.mac != new.mac {
        // Not the same NIC any more (detached, and another attached with its id).
        return Ok(());
    }
    nic.rules = new.rules.clone();
    nic.filtered = new.filtered;
    crate::firewall::replace_rules(nic).await?;
    dir.save_spec(&saved).await
}

/// Sends the copy of persistent disk `d` back to the front-end.
pub async fn send_back(
    dir: &VmDir,
    d: &DiskSpec,
    transport: Option<&dyn FileTransport>,
) -> Result<(), KvmError> {
    let DiskSource::Image { url, image_id, .. } = &d.source else {
        return Ok(());
    };
    if url.is_empty() {
        return Err(KvmError::BadRequest(format!(
            "no address to send persistent image {image_id} back to"
        )));
    }
    let transport = transport.ok_or_else(|| {
        KvmError::BadRequest("this host cannot send images to the front-end".into())
    })?;
    transport.upload(url, &dir.disk(d.disk_id)).await?;
    tracing::info!(image_id, "persistent image sent back");
    Ok(())
}

/// Copies disk `d` (or its snapshot `snap_id`) into `out`, a standalone file in the
/// image's format. A running guest is paused meanwhile (QEMU flushes its disks when it
/// stops), so the copy is consistent.
async fn save_disk(
    dir: &VmDir,
    d: &DiskSpec,
    snap_id: i32,
    out: &std::path::Path,
    running: bool,
    images: &dyn ImageFiles,
) -> Result<(), KvmError> {
    let DiskSource::Image { format, .. } = &d.source else {
        return Err(KvmError::BadRequest(format!(
            "DISK_ID {} is volatile and has no image to save",
            d.disk_id
        )));
    };
    let format = if format.is_empty() { "raw" } else { format };
    let source = match own_file(dir, d) {
        Some(f) => f,
        None => images.local_path(&d.source).await?,
    };
    let mut args = vec!["convert".to_string(), "-q".into()];
    if running {
        args.push("-U".into());
    }
    if snap_id >= 0 {
        args.push("-l".into());
        args.push(format!("snapshot.name=dsnap-{snap_id}"));
    }
    args.extend([
        "-O".to_string(),
        format.to_string(),
        source.display().to_string(),
        out.display().to_string(),
    ]);
    if !running {
        return tools::run("qemu-img", &args).await.map(|_| ());
    }
    let mut q = Qmp::connect(&dir.qmp()).await?;
    q.execute("stop", None).await?;
    let copied = tools::run("qemu-img", &args).await;
    let resumed = q.execute("cont", None).await;
    copied?;
    resumed.map(|_| ())
}

/// Whether the disk's file was made for this VM (and goes with it).
fn owned_file(d: &DiskSpec) -> bool {
    match &d.source {
        DiskSource::Volatile { .. } => true,
        DiskSource::Image { persistent, .. } => {
            !persistent && !d.readonly && d.kind == DiskKind::Disk
        }
    }
}

/// The file in the VM's directory that holds disk `d`, if one does: a file made for the
/// VM, or its copy of a persistent image.
fn own_file(dir: &VmDir, d: &DiskSpec) -> Option<std::path::PathBuf> {
    (owned_file(d) || disks::has_copy(dir, d)).then(|| dir.disk(d.disk_id))
}

/// The file the VM writes for disk `d`.
async fn writable_file(
    dir: &VmDir,
    d: &DiskSpec,
    images: &dyn ImageFiles,
) -> Result<String, KvmError> {
    if let Some(f) = own_file(dir, d) {
        return Ok(f.display().to_string());
    }
    match &d.source {
        DiskSource::Image {
            persistent: true, ..
        } => Ok(images.local_path(&d.source).await?.display().to_string()),
        _ => Err(KvmError::BadRequest(format!(
            "DISK_ID {} is read-only",
            d.disk_id
        ))),
    }
}

enum SnapOp {
    Create,
    Revert,
    Delete,
}

async fn disk_snapshot(
    dir: &VmDir,
    spec: &VmSpec,
    disk_id: i32,
    snap_id: i32,
    running: bool,
    op: SnapOp,
) -> Result<(), KvmError> {
    let d = disk_of(spec, disk_id)?;
    let tag = format!("dsnap-{snap_id}");
    if running {
        let mut q = Qmp::connect(&dir.qmp()).await?;
        let node = format!("d{disk_id}");
        let command = match op {
            SnapOp::Create => "blockdev-snapshot-internal-sync",
            SnapOp::Delete => "blockdev-snapshot-delete-internal-sync",
            SnapOp::Revert => {
                return Err(KvmError::BadRequest(
                    "a disk goes back to a snapshot only while the VM is powered off".into(),
                ));
            }
        };
        q.execute(command, Some(json!({ "device": node, "name": tag })))
            .await?;
        return Ok(());
    }
    let path = match d.source {
        DiskSource::Volatile { .. }
        | DiskSource::Image {
            persistent: false, ..
        } => dir.disk(disk_id).display().to_string(),
        DiskSource::Image { ref path, .. } => path.clone(),
    };
    let flag = match op {
        SnapOp::Create => "-c",
        SnapOp::Revert => "-a",
        SnapOp::Delete => "-d",
    };
    tools::run("qemu-img", ["snapshot", flag, &tag, &path]).await?;
    Ok(())
}

async fn hmp(dir: &VmDir, command: &str) -> Result<(), KvmError> {
    if guest::running(dir).is_none() {
        return Err(KvmError::Qemu("the VM is not running".into()));
    }
    Qmp::connect(&dir.qmp()).await?.hmp(command).await
}

/// Adds a device on the given bus (its own root port for a PCI device).
async fn plug_device(q: &mut Qmp, mut device: Value, bus: Option<String>) -> Result<(), KvmError> {
    if let Some(bus) = bus {
        device["bus"] = json!(bus);
    }
    q.execute("device_add", Some(device)).await?;
    Ok(())
}

/// Asks the guest to let go of a device and waits until it did. A device that is already
/// gone (an earlier detach that timed out finished later) counts as unplugged.
async fn unplug_device(q: &mut Qmp, id: &str) -> Result<(), KvmError> {
    if let Err(e) = q.execute("device_del", Some(json!({ "id": id }))).await {
        return if already_gone(&e) { Ok(()) } else { Err(e) };
    }
    let path = format!("/machine/peripheral/{id}");
    let deadline = Instant::now() + UNPLUG_TIMEOUT;
    loop {
        if q.execute("qom-list", Some(json!({ "path": path })))
            .await
            .is_err()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(KvmError::Timeout(format!(
                "the guest did not release {id} in {} s",
                UNPLUG_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Deletes the back end (block node or netdev) of an unplugged device. QEMU drops the
/// device's last reference to it a moment after the device leaves the QOM tree, so "in
/// use" is retried for a few seconds; a back end that is already gone counts as deleted.
async fn release(q: &mut Qmp, command: &str, args: Value) -> Result<(), KvmError> {
    let deadline = Instant::now() + RELEASE_TIMEOUT;
    loop {
        match q.execute(command, Some(args.clone())).await {
            Ok(_) => return Ok(()),
            Err(e) if already_gone(&e) => return Ok(()),
            Err(KvmError::Qmp(desc)) if desc.contains("in use") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether QEMU refused because the named device or back end does not exist.
fn already_gone(e: &KvmError) -> bool {
    matches!(e, KvmError::Qmp(desc)
        if desc.contains("not found") || desc.contains("Failed to find") || desc.contains("No such"))
}
