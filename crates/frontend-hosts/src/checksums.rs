//! SHA-256 of image files, computed once per file version (size and modification time) and
//! remembered, so an image sent to many hosts is read for hashing only once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

/// Known digests.
#[derive(Debug, Default)]
pub struct Checksums {
    known: Mutex<HashMap<PathBuf, (u64, SystemTime, String)>>,
}

impl Checksums {
    /// The SHA-256 (hex) of `path` as it is now.
    pub async fn of(&self, path: &Path) -> std::io::Result<String> {
        let meta = tokio::fs::metadata(path).await?;
        let version = (meta.len(), meta.modified()?);
        if let Some((len, mtime, sha)) = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
            && (*len, *mtime) == version
        {
            return Ok(sha.clone());
        }
        let owned = path.to_path_buf();
        let sha = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let mut file = std::fs::File::open(&owned)?;
            let mut hasher = Sha256::new();
            std::io::copy(&mut file, &mut hasher)?;
            Ok(hex::encode(hasher.finalize()))
        })
        .await
        .map_err(std::io::Error::other)??;
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.to_path_buf(), (version.0, version.1, sha.clone()));
        Ok(sha)
    }
}
