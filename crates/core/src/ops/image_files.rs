//! The files behind images, on the front-end: inspecting a file to register, copying it
//! (opened and checked by [`super::image_sources`]) into a datastore, creating an empty datablock, growing a copy, removing a
//! file. Everything here does I/O, so it runs before or after [`crate::Core::write`],
//! never inside it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nubo_types::{Error, ObjectKind, Result};
use tokio::process::Command;

use crate::auth::random_hex;

/// The program that inspects and creates disk images.
const QEMU_IMG: &str = "qemu-img";

/// Bytes per MB (OpenNebula's MB are MiB).
const MB: u64 = 1024 * 1024;

/// How long `qemu-img info` may take to inspect an image.
const QEMU_IMG_TIMEOUT: Duration = Duration::from_secs(120);

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

/// Format and virtual size of the image file at `path`, by `qemu-img info`. A file that
/// qemu-img cannot read as an image (or not in time) counts as raw, of the file's size.
/// Images that name other files (a backing file, an external data file, extents in other
/// files) are refused: registering them would expose those files to the VMs.
pub async fn inspect(path: &Path) -> Result<DiskInfo> {
    let output = tokio::time::timeout(
        QEMU_IMG_TIMEOUT,
        Command::new(QEMU_IMG)
            .arg("info")
            .arg("--output=json")
            .arg(path)
            .kill_on_drop(true)
            .output(),
    )
    .await;
    if let Ok(Ok(out)) = output
        && out.status.success()
        && let Some(info) = parse_info(&out.stdout)?
    {
        return Ok(info);
    }
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| alloc(format!("Cannot read the image file: {e}")))?;
    Ok(DiskInfo {
        format: "raw".into(),
        size_mb: bytes_to_mb(meta.len()),
    })
}

/// Whether the image `qemu-img info` describes reads files other than its own: a backing
/// file, a qcow2 data file, or children (VMDK extents, ...) in other files.
fn names_other_files(value: &serde_json::Value) -> Option<&'static str> {
    if value.get("backing-filename").is_some() {
        return Some("a backing file");
    }
    let data = value.pointer("/format-specific/data");
    if data.and_then(|d| d.get("data-file")).is_some() {
        return Some("an external data file");
    }
    let own = value.get("filename").and_then(|f| f.as_str());
    let elsewhere = |f: Option<&serde_json::Value>| f.and_then(|f| f.as_str()) != own;
    let children = value.get("children").and_then(|c| c.as_array());
    let extents = data
        .and_then(|d| d.get("extents"))
        .and_then(|e| e.as_array());
    let other_child = children
        .into_iter()
        .flatten()
        .any(|c| elsewhere(c.pointer("/info/filename")));
    let other_extent = extents
        .into_iter()
        .flatten()
        .any(|e| elsewhere(e.get("filename")));
    (other_child || other_extent).then_some("parts in other files")
}

/// Reads `qemu-img info --output=json`; None if it does not say format and size.
fn parse_info(json: &[u8]) -> Result<Option<DiskInfo>> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) else {
        return Ok(None);
    };
    if let Some(what) = names_other_files(&value) {
        return Err(alloc(format!(
            "Images with {what} cannot be registered; convert the image to a single file first"
        )));
    }
    let format = value.get("format").and_then(|f| f.as_str());
    let size = value.get("virtual-size").and_then(|s| s.as_u64());
    Ok(format.zip(size).map(|(format, size)| DiskInfo {
        format: format.to_string(),
        size_mb: bytes_to_mb(size),
    }))
}

/// A new, unused file name in directory `dir` (created if missing).
pub(crate) async fn new_file_in(dir: &Path) -> Result<PathBuf> {
    tokio::fs::create_dir_all(dir).await.map_err(|e| {
        alloc(format!(
            "Cannot create datastore directory {}: {e}",
            dir.display()
        ))
    })?;
    Ok(dir.join(random_hex(16)?))
}

/// Copies the open file `src` (PATH `path` of a new image) into datastore directory
/// `dir`; returns the new file.
pub(super) async fn copy_from(mut src: tokio::fs::File, path: &str, dir: &Path) -> Result<PathBuf> {
    let dest = new_file_in(dir).await?;
    let copied = async {
        let mut out = tokio::fs::File::create(&dest).await?;
        tokio::io::copy(&mut src, &mut out).await?;
        out.sync_all().await
    }
    .await;
    if let Err(e) = copied {
        remove(&dest).await;
        return Err(alloc(format!("Cannot copy {path} into the datastore: {e}")));
    }
    Ok(dest)
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

    #[test]
    fn images_that_read_other_files_are_refused() {
        let data_file = br#"{"format":"qcow2","virtual-size":1048576,"filename":"a",
            "format-specific":{"type":"qcow2","data":{"data-file":"/etc/shadow"}}}"#;
        let err = parse_info(data_file).expect_err("data file");
        assert!(err.to_string().contains("external data file"), "{err}");
        let extent = br#"{"format":"vmdk","virtual-size":1048576,"filename":"d.vmdk",
            "children":[{"name":"extents.0","info":{"filename":"/proc/self/environ"}},
                        {"name":"file","info":{"filename":"d.vmdk"}}],
            "format-specific":{"type":"vmdk","data":{"extents":[
                {"filename":"/proc/self/environ","format":"FLAT"}]}}}"#;
        let err = parse_info(extent).expect_err("extent elsewhere");
        assert!(err.to_string().contains("other files"), "{err}");
        let old_qemu = br#"{"format":"vmdk","virtual-size":1048576,"filename":"d.vmdk",
            "format-specific":{"type":"vmdk","data":{"extents":[{"filename":"/x"}]}}}"#;
        assert!(parse_info(old_qemu).is_err());
        let sparse = br#"{"format":"vmdk","virtual-size":1048576,"filename":"s.vmdk",
            "children":[{"name":"file","info":{"filename":"s.vmdk"}}],
            "format-specific":{"type":"vmdk","data":{"extents":[{"filename":"s.vmdk"}]}}}"#;
        assert_eq!(
            parse_info(sparse).expect("one file"),
            Some(DiskInfo {
                format: "vmdk".into(),
                size_mb: 1
            })
        );
    }
}
