//! The files behind images, on the front-end: checking and inspecting a file to register,
//! copying it into a datastore, creating an empty datablock, growing a copy, removing a
//! file. Everything here does I/O, so it runs before or after [`crate::Core::write`],
//! never inside it.

use std::path::{Path, PathBuf};

use nubo_types::{Error, ObjectKind, Result};
use tokio::process::Command;

use crate::auth::random_hex;
use crate::model::Datastore;

/// The program that inspects and creates disk images.
const QEMU_IMG: &str = "qemu-img";

/// Bytes per MB (OpenNebula's MB are MiB).
const MB: u64 = 1024 * 1024;

/// Directories no image may be registered from unless a safe directory allows it
/// (OpenNebula's `RESTRICTED_DIRS` default).
const DEFAULT_RESTRICTED_DIRS: &str = "/etc";

/// Directories always allowed (OpenNebula's `SAFE_DIRS` default).
const DEFAULT_SAFE_DIRS: &str = "/var/tmp";

/// Format and virtual size of a disk image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskInfo {
    /// Disk format as qemu-img names it (`raw`, `qcow2`, ...).
    pub format: String,
    /// Virtual size in MB, rounded up.
    pub size_mb: i64,
}

fn alloc(message: String) -> Error {
    Error::allocate(ObjectKind::Image, message)
}

/// Bytes to MB, rounded up.
pub fn bytes_to_mb(bytes: u64) -> i64 {
    i64::try_from(bytes.div_ceil(MB)).unwrap_or(i64::MAX)
}

fn dirs(ds: &Datastore, attr: &str, default: &str) -> Vec<PathBuf> {
    ds.template
        .get(attr)
        .unwrap_or(default)
        .split_whitespace()
        .map(PathBuf::from)
        .collect()
}

/// Resolves `path` (a PATH given to `image.allocate`) to a readable regular file that the
/// datastore lets images be registered from: not under its `RESTRICTED_DIRS` (default
/// `/etc`) or under any datastore's files, unless under its `SAFE_DIRS` (default
/// `/var/tmp`); never under nubod's own `private_dirs`.
pub async fn check_import_path(
    path: &str,
    ds: &Datastore,
    datastore_base: &Path,
    private_dirs: &[PathBuf],
) -> Result<PathBuf> {
    let unreadable = |e: std::io::Error| alloc(format!("Cannot read PATH \"{path}\": {e}"));
    let real = tokio::fs::canonicalize(path).await.map_err(unreadable)?;
    let meta = tokio::fs::metadata(&real).await.map_err(unreadable)?;
    if !meta.is_file() {
        return Err(alloc(format!("PATH \"{path}\" is not a regular file")));
    }
    tokio::fs::File::open(&real).await.map_err(unreadable)?;
    let mut restricted = dirs(ds, "RESTRICTED_DIRS", DEFAULT_RESTRICTED_DIRS);
    let base = tokio::fs::canonicalize(datastore_base)
        .await
        .unwrap_or_else(|_| datastore_base.to_path_buf());
    restricted.push(base);
    // nubod's own files (the database, host.key which seals the EC2 secrets) are never
    // an image, whatever SAFE_DIRS says.
    for dir in private_dirs {
        let dir = tokio::fs::canonicalize(dir)
            .await
            .unwrap_or_else(|_| dir.clone());
        if real.starts_with(&dir) {
            return Err(alloc(format!(
                "Not allowed to copy images from \"{path}\": it is among nubod's own files"
            )));
        }
    }
    let safe = dirs(ds, "SAFE_DIRS", DEFAULT_SAFE_DIRS);
    let under = |list: &[PathBuf]| list.iter().any(|d| real.starts_with(d));
    if under(&restricted) && !under(&safe) {
        return Err(alloc(format!(
            "Not allowed to copy images from \"{path}\": the datastore restricts that directory"
        )));
    }
    Ok(real)
}

/// Format and virtual size of the image file at `path`, by `qemu-img info`. A file that
/// qemu-img cannot read as an image counts as raw, of the file's size. Images backed by
/// another file are refused: registering them would expose the backing file.
pub async fn inspect(path: &Path) -> Result<DiskInfo> {
    let output = Command::new(QEMU_IMG)
        .arg("info")
        .arg("--output=json")
        .arg(path)
        .output()
        .await;
    if let Ok(out) = output
        && out.status.success()
        && let Some(info) = parse_info(&out.stdout)?
    {
        return Ok(info);
    }
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| alloc(format!("Cannot read PATH \"{}\": {e}", path.display())))?;
    Ok(DiskInfo {
        format: "raw".into(),
        size_mb: bytes_to_mb(meta.len()),
    })
}

/// Reads `qemu-img info --output=json`; None if it does not say format and size.
fn parse_info(json: &[u8]) -> Result<Option<DiskInfo>> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) else {
        return Ok(None);
    };
    if value.get("backing-filename").is_some() {
        return Err(alloc(
            "Images with a backing file cannot be registered; flatten the image first".into(),
        ));
    }
    let format = value.get("format").and_then(|f| f.as_str());
    let size = value.get("virtual-size").and_then(|s| s.as_u64());
    Ok(format.zip(size).map(|(format, size)| DiskInfo {
        format: format.to_string(),
        size_mb: bytes_to_mb(size),
    }))
}

/// A new, unused file name in directory `dir` (created if missing).
pub(super) async fn new_file_in(dir: &Path) -> Result<PathBuf> {
    tokio::fs::create_dir_all(dir).await.map_err(|e| {
        alloc(format!(
            "Cannot create datastore directory {}: {e}",
            dir.display()
        ))
    })?;
    Ok(dir.join(random_hex(16)?))
}

/// Copies `src` into datastore directory `dir`; returns the new file.
pub async fn copy_in(src: &Path, dir: &Path) -> Result<PathBuf> {
    let dest = new_file_in(dir).await?;
    if let Err(e) = tokio::fs::copy(src, &dest).await {
        remove(&dest).await;
        return Err(alloc(format!(
            "Cannot copy {} into the datastore: {e}",
            src.display()
        )));
    }
    Ok(dest)
}

/// Creates an empty `size_mb` MB disk of `format` in datastore directory `dir`.
pub async fn create_empty(dir: &Path, format: &str, size_mb: i64) -> Result<PathBuf> {
    let dest = new_file_in(dir).await?;
    match sized(&dest, "create", format, size_mb).await {
        Ok(()) => Ok(dest),
        Err(failure) => {
            remove(&dest).await;
            Err(alloc(format!(
                "Cannot create the empty disk image: {failure}"
            )))
        }
    }
}

/// Runs `qemu-img VERB -q -f FORMAT PATH SIZE_MBM` (`create` or `resize`); the failure,
/// as qemu-img says it.
async fn sized(
    path: &Path,
    verb: &str,
    format: &str,
    size_mb: i64,
) -> std::result::Result<(), String> {
    let out = Command::new(QEMU_IMG)
        .args([verb, "-q", "-f", format])
        .arg(path)
        .arg(format!("{size_mb}M"))
        .output()
        .await;
    match out {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        Err(e) => Err(format!("cannot run {QEMU_IMG}: {e}")),
    }
}

/// Grows the `format` disk image at `path` to `size_mb` MB.
pub async fn grow(path: &Path, format: &str, size_mb: i64) -> Result<()> {
    sized(path, "resize", format, size_mb)
        .await
        .map_err(|failure| alloc(format!("Cannot grow the disk image: {failure}")))
}

/// Removes `path`, best effort: a failure is logged, not reported.
pub async fn remove(path: &Path) {
    match tokio::fs::remove_file(path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot remove image file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_to_mb() {
        assert_eq!(bytes_to_mb(0), 0);
        assert_eq!(bytes_to_mb(1), 1);
        assert_eq!(bytes_to_mb(MB), 1);
        assert_eq!(bytes_to_mb(10 * MB + 1), 11);
    }

    #[test]
    fn qemu_img_json_is_read() {
        let info = parse_info(br#"{"format":"qcow2","virtual-size":10485760}"#).expect("ok");
        assert_eq!(
            info,
            Some(DiskInfo {
                format: "qcow2".into(),
                size_mb: 10
            })
        );
        assert_eq!(parse_info(b"not json").expect("ok"), None);
        assert!(
            parse_info(br#"{"format":"qcow2","virtual-size":1,"backing-filename":"/x"}"#).is_err()
        );
    }
}
