//! Cold migration: a stopped VM's files (its disks, saved memory, console log) move from
//! the host it leaves to the host it goes to. The leaving host offers them: each file's
//! name, size and SHA-256, and where to fetch them (from the agent's [`FileTransport`]).
//! The arriving host fetches each file, keeps it only if its digest matches the offer,
//! and rebases every overlay onto its own copy of the base image.

use std::path::Path;

use nubo_driver::{BoxFuture, DiskSource, VmSpec};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::disks::ImageFiles;
use crate::error::KvmError;
use crate::layout::VmDir;
use crate::{guest, migration, tools};

/// How VM files travel between hosts, and saved disks to the front-end; the agent
/// provides it.
pub trait FileTransport: Send + Sync + std::fmt::Debug {
    /// Where other hosts may fetch VM `vm_id`'s files for a while: the URL the file's name
    /// is appended to, and the query that authorizes the fetch.
    fn offer_location(&self, vm_id: i32) -> Result<(String, String), KvmError>;

    /// Fetches `url` into `dest`; the SHA-256 (hex) of what was written.
    fn fetch<'a>(&'a self, url: &'a str, dest: &'a Path)
    -> BoxFuture<'a, Result<String, KvmError>>;

    /// Sends `file` to the front-end as the content of the image at `url` (disk-saveas).
    fn upload<'a>(&'a self, url: &'a str, file: &'a Path) -> BoxFuture<'a, Result<(), KvmError>>;
}

/// The files of one VM, offered for a cold migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The URL each file's name is appended to.
    pub base: String,
    /// The query that authorizes the fetches.
    pub query: String,
    /// The files.
    pub files: Vec<OfferedFile>,
}

/// One offered file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedFile {
    /// Its name in the VM's directory.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 (hex).
    pub sha256: String,
}

/// Whether a file of a VM's directory moves with the VM: regular files the driver made,
/// except the spec (the destination is given its own), the operation count (each host
/// keeps its own) and what a running QEMU leaves.
pub fn moves(name: &str) -> bool {
    is_plain_name(name)
        && !matches!(name, "spec.json" | "qemu.pid" | "op-seq")
        && !name.ends_with(".tmp")
        && !name.ends_with(".part")
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains('/') && !name.contains('\\')
}

/// Offers VM `vm_id`'s files; its guest must be stopped.
pub async fn offer(
    dir: &VmDir,
    vm_id: i32,
    transport: &dyn FileTransport,
) -> Result<Offer, KvmError> {
    if guest::running(dir).is_some() {
        return Err(KvmError::Qemu(
            "the guest is running here; a cold migration needs it stopped".into(),
        ));
    }
    let mut entries = tokio::fs::read_dir(&dir.root)
        .await
        .map_err(|e| KvmError::file(&dir.root, format!("nothing of VM {vm_id} here: {e}")))?;
    let mut files = Vec::new();
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(|e| KvmError::file(&dir.root, e))?
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().await.is_ok_and(|t| t.is_file());
        if !is_file || !moves(&name) {
            continue;
        }
        let path = entry.path();
        let (size, sha256) = digest(&path).await?;
        files.push(OfferedFile { name, size, sha256 });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let (base, query) = transport.offer_location(vm_id)?;
    Ok(Offer { base, query, files })
}

/// Fetches the offered files into the VM's (fresh) directory, writes `spec`, and rebases
/// the overlays onto this host's copies of their images. On failure nothing is left.
pub async fn receive(
    dir: &VmDir,
    spec: &VmSpec,
    offer: &Offer,
    transport: &dyn FileTransport,
    images: &dyn ImageFiles,
) -> Result<(), KvmError> {
    if guest::running(dir).is_some() {
        return Err(KvmError::Qemu(
            "a guest of this VM already runs on this host".into(),
        ));
    }
    dir.remove().await?;
    let outcome = receive_into(dir, spec, offer, transport, images).await;
    if outcome.is_err() {
        let _ = dir.remove().await;
    }
    outcome
}

async fn receive_into(
    dir: &VmDir,
    spec: &VmSpec,
    offer: &Offer,
    transport: &dyn FileTransport,
    images: &dyn ImageFiles,
) -> Result<(), KvmError> {
    dir.create().await?;
    for file in &offer.files {
        if !moves(&file.name) {
            return Err(KvmError::BadRequest(format!(
                "the offer names \"{}\", which is not a VM file",
                file.name
            )));
        }
        let url = format!("{}/{}?{}", offer.base, file.name, offer.query);
        let dest = dir.root.join(&file.name);
        let got = transport.fetch(&url, &dest).await?;
        if got != file.sha256 {
            return Err(KvmError::file(
                &dest,
                format!(
                    "arrived damaged (SHA-256 {got}, the previous host sent {})",
                    file.sha256
                ),
            ));
        }
    }
    dir.save_spec(spec).await?;
    for d in spec
        .disks
        .iter()
        .filter(|d| migration::local_writable(dir, d))
    {
        let DiskSource::Image {
            format,
            persistent: false,
            ..
        } = &d.source
        else {
            continue;
        };
        let overlay = dir.disk(d.disk_id);
        if tokio::fs::metadata(&overlay).await.is_err() {
            continue;
        }
        let base = images.local_path(&d.source).await?;
        let format = if format.is_empty() { "raw" } else { format };
        tools::run(
            "qemu-img",
            [
                "rebase",
                "-u",
                "-F",
                format,
                "-b",
                &base.display().to_string(),
                &overlay.display().to_string(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Size and SHA-256 of a file.
async fn digest(path: &Path) -> Result<(u64, String), KvmError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| KvmError::file(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| KvmError::file(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_vms_own_plain_files_move() {
        for name in [
            "disk.0",
            "disk.3",
            "memory.state",
            "serial.log",
            "context.iso",
            "powered-off",
        ] {
            assert!(moves(name), "{name} moves");
        }
        for name in [
            "spec.json",
            "qemu.pid",
            "op-seq",
            "spec.json.tmp",
            "disk.0.part",
            "../disk.0",
            "a/b",
            ".hidden",
            "",
        ] {
            assert!(!moves(name), "{name} stays");
        }
    }

    #[tokio::test]
    async fn digests_match_sha256sum() {
        let tmp = tempfile::tempdir().expect("tmp");
        let p = tmp.path().join("f");
        std::fs::write(&p, b"abc").expect("write");
        let (size, sha) = digest(&p).await.expect("digest");
        assert_eq!(size, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
