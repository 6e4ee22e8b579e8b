//! A VM's disks on the host: a copy-on-write qcow2 overlay on the image (non-persistent),
//! the image itself (persistent, and cdroms; a copy when the host cannot open the
//! front-end's file, sent back when the VM ends), or an empty volatile disk; and the context
//! cdrom, an ISO9660 image made with genisoimage. Everything made here lives in the VM's
//! directory, so removing the directory leaves nothing behind.

use std::path::{Path, PathBuf};

use nubo_driver::{ContextSpec, DiskKind, DiskSource, DiskSpec};

use crate::args::PreparedDisk;
use crate::error::KvmError;
use crate::layout::VmDir;
use crate::tools;

/// Where the host finds an image's file: the front-end's path when it is reachable here,
/// else a copy the image cache fetched.
pub trait ImageFiles: Send + Sync + std::fmt::Debug {
    /// The local file holding the image, fetching it first if needed.
    fn local_path<'a>(
        &'a self,
        source: &'a DiskSource,
    ) -> nubo_driver::BoxFuture<'a, Result<PathBuf, KvmError>>;
}

/// Images whose files are reachable on this host under the front-end's path.
#[derive(Debug, Default)]
pub struct SharedFiles;

impl ImageFiles for SharedFiles {
    fn local_path<'a>(
        &'a self,
        source: &'a DiskSource,
    ) -> nubo_driver::BoxFuture<'a, Result<PathBuf, KvmError>> {
        Box::pin(async move {
            match source {
                DiskSource::Image { path, .. } => {
                    let p = PathBuf::from(path);
                    if tokio::fs::metadata(&p).await.is_ok() {
                        Ok(p)
                    } else {
                        Err(KvmError::file(&p, "image file not found on the host"))
                    }
                }
                DiskSource::Volatile { .. } => {
                    Err(KvmError::BadRequest("a volatile disk has no image".into()))
                }
            }
        })
    }
}

/// Whether disk `d` is a persistent image this host cannot open where the front-end keeps
/// it: the VM then works on a copy in its directory ([`has_copy`]), sent back to the
/// front-end when the VM ends.
pub fn persistent_copy(d: &DiskSpec) -> bool {
    match &d.source {
        DiskSource::Image {
            persistent: true,
            path,
            ..
        } => d.kind == DiskKind::Disk && !d.readonly && std::fs::metadata(path).is_err(),
        _ => false,
    }
}

/// Whether the VM works on a copy of persistent disk `d` in its directory (made when the
/// disk was first prepared here, or brought along by a migration): once made, the copy
/// is the disk, whatever the host sees of the front-end's file since.
pub fn has_copy(dir: &VmDir, d: &DiskSpec) -> bool {
    matches!(
        d.source,
        DiskSource::Image {
            persistent: true,
            ..
        }
    ) && d.kind == DiskKind::Disk
        && !d.readonly
        && dir.disk(d.disk_id).exists()
}

/// The persistent disks of a VM that live as copies in its directory.
pub fn persistent_copies<'a>(dir: &VmDir, disks: &'a [DiskSpec]) -> Vec<&'a DiskSpec> {
    disks.iter().filter(|d| has_copy(dir, d)).collect()
}

/// Makes every disk of the VM ready (idempotent: what exists is kept).
pub async fn prepare(
    dir: &VmDir,
    disks: &[DiskSpec],
    images: &dyn ImageFiles,
) -> Result<Vec<PreparedDisk>, KvmError> {
    let mut out = Vec::with_capacity(disks.len());
    for d in disks {
        out.push(prepare_one(dir, d, images).await?);
    }
    Ok(out)
}

/// Makes one disk ready (idempotent).
pub async fn prepare_one(
    dir: &VmDir,
    d: &DiskSpec,
    images: &dyn ImageFiles,
) -> Result<PreparedDisk, KvmError> {
    let own = dir.disk(d.disk_id);
    let (path, format) = match &d.source {
        DiskSource::Volatile { size_mb, format } => {
            let format = if format.is_empty() { "raw" } else { format };
            if !exists(&own).await {
                tools::run(
                    "qemu-img",
                    [
                        "create",
                        "-q",
                        "-f",
                        format,
                        &own.display().to_string(),
                        &format!("{size_mb}M"),
                    ],
                )
                .await?;
            }
            (own, format.to_string())
        }
        DiskSource::Image {
            persistent, format, ..
        } => {
            let format = if format.is_empty() { "raw" } else { format };
            if has_copy(dir, d) || persistent_copy(d) {
                if !exists(&own).await {
                    let image = images.local_path(&d.source).await?;
                    let part = own.with_extension("part");
                    if let Err(e) = tokio::fs::copy(&image, &part).await {
                        let _ = tokio::fs::remove_file(&part).await;
                        return Err(KvmError::file(&part, e));
                    }
                    tokio::fs::rename(&part, &own)
                        .await
                        .map_err(|e| KvmError::file(&own, e))?;
                }
                return Ok(PreparedDisk {
                    disk_id: d.disk_id,
                    path: own.display().to_string(),
                    format: format.to_string(),
                    kind: d.kind,
                    readonly: d.readonly,
                });
            }
            let base = images.local_path(&d.source).await?;
            if *persistent || d.kind == DiskKind::Cdrom || d.readonly {
                (base, format.to_string())
            } else {
                if !exists(&own).await {
                    let mut args = vec![
                        "create".to_string(),
                        "-q".into(),
                        "-f".into(),
                        "qcow2".into(),
                        "-F".into(),
                        format.to_string(),
                        "-b".into(),
                        base.display().to_string(),
                        own.display().to_string(),
                    ];
                    if let Some(size) = d.size_mb {
                        args.push(format!("{size}M"));
                    }
                    tools::run("qemu-img", &args).await?;
                }
                (own, "qcow2".to_string())
            }
        }
    };
    Ok(PreparedDisk {
        disk_id: d.disk_id,
        path: path.display().to_string(),
        format,
        kind: d.kind,
        readonly: d.readonly,
    })
}

/// Writes the context cdrom; its path.
pub async fn context_iso(dir: &VmDir, ctx: &ContextSpec) -> Result<PathBuf, KvmError> {
    let files = dir.root.join("context");
    let _ = tokio::fs::remove_dir_all(&files).await;
    tokio::fs::create_dir_all(&files)
        .await
        .map_err(|e| KvmError::file(&files, e))?;
    for (name, body) in &ctx.files {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(KvmError::BadRequest(format!(
                "context file name \"{name}\" is not a plain file name"
            )));
        }
        let path = files.join(name);
        tokio::fs::write(&path, body)
            .await
            .map_err(|e| KvmError::file(&path, e))?;
    }
    let iso = dir.context_iso();
    let label = if ctx.label.is_empty() {
        "CONTEXT"
    } else {
        ctx.label.as_str()
    };
    tools::run(
        "genisoimage",
        [
            "-quiet",
            "-o",
            &iso.display().to_string(),
            "-V",
            label,
            "-J",
            "-R",
            &files.display().to_string(),
        ],
    )
    .await?;
    let _ = tokio::fs::remove_dir_all(&files).await;
    Ok(iso)
}

async fn exists(p: &Path) -> bool {
    tokio::fs::metadata(p).await.is_ok()
}
