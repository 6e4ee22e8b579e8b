//! The host's copies of front-end images. A non-persistent disk's overlay sits on a cached
//! base: `images/<ID>-<SHA256 prefix>` under the state directory, fetched from nubod once
//! and checked against its SHA-256; each version keeps its own file, so overlays made on an
//! older version stay valid. Persistent images (written by the VM) are opened at their
//! path when the host shares the front-end's storage, else fetched like the others (the
//! driver works on a copy and sends it back); images without a URL must be shared.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nubo_driver::{BoxFuture, DiskSource};
use nubo_driver_kvm::disks::ImageFiles;
use nubo_driver_kvm::error::KvmError;
use nubo_hostapi::images::{self, Fetched, HostIdentity};

/// Cached images of this host.
#[derive(Debug)]
pub struct ImageCache {
    dir: PathBuf,
    who: HostIdentity,
    locks: Mutex<HashMap<i32, Arc<tokio::sync::Mutex<()>>>>,
}

impl ImageCache {
    /// A cache in `state_dir/images`, fetching as host `who`.
    pub fn new(state_dir: &Path, who: HostIdentity) -> ImageCache {
        ImageCache {
            dir: state_dir.join("images"),
            who,
            locks: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self, image_id: i32) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(image_id)
            .or_default()
            .clone()
    }

    async fn cached(&self, image_id: i32, url: &str) -> Result<PathBuf, KvmError> {
        let lock = self.lock(image_id);
        let _guard = lock.lock().await;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| KvmError::file(&self.dir, e))?;
        let current = self.dir.join(format!("{image_id}.sha256"));
        let have = tokio::fs::read_to_string(&current)
            .await
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|sha| self.version(image_id, sha).exists());
        let download = self.dir.join(format!("{image_id}.download"));
        let fetched = images::fetch(&self.who, url, &download, have.as_deref())
            .await
            .map_err(|e| KvmError::Tool {
                program: "image transfer".into(),
                message: e,
            })?;
        let sha = match (fetched, have) {
            (Fetched::Unchanged, Some(sha)) => sha,
            (Fetched::Unchanged, None) => {
                return Err(KvmError::BadRequest(format!(
                    "nubod says image {image_id} is unchanged but this host has no copy"
                )));
            }
            (Fetched::Written(sha), _) => {
                let path = self.version(image_id, &sha);
                tokio::fs::rename(&download, &path)
                    .await
                    .map_err(|e| KvmError::file(&path, e))?;
                tokio::fs::write(&current, format!("{sha}\n"))
                    .await
                    .map_err(|e| KvmError::file(&current, e))?;
                tracing::info!(image_id, %sha, "image fetched from the front-end");
                sha
            }
        };
        Ok(self.version(image_id, &sha))
    }

    fn version(&self, image_id: i32, sha: &str) -> PathBuf {
        let prefix = sha.get(..16).unwrap_or(sha);
        self.dir.join(format!("{image_id}-{prefix}"))
    }
}

impl ImageFiles for ImageCache {
    fn local_path<'a>(
        &'a self,
        source: &'a DiskSource,
    ) -> BoxFuture<'a, Result<PathBuf, KvmError>> {
        Box::pin(async move {
            match source {
                DiskSource::Image {
                    image_id,
                    url,
                    path,
                    persistent,
                    ..
                } if *persistent || url.is_empty() => {
                    let p = PathBuf::from(path);
                    if tokio::fs::metadata(&p).await.is_ok() {
                        Ok(p)
                    } else if !url.is_empty() {
                        // A persistent image this host does not share: the driver copies
                        // the fetched file and sends the copy back when the VM ends.
                        self.cached(*image_id, url).await
                    } else {
                        Err(KvmError::file(&p, "image file not found on the host"))
                    }
                }
                DiskSource::Image { image_id, url, .. } => self.cached(*image_id, url).await,
                DiskSource::Volatile { .. } => {
                    Err(KvmError::BadRequest("a volatile disk has no image".into()))
                }
            }
        })
    }
}
