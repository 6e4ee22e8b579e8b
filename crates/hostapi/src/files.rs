//! Files on the wire: a file read as a stream of chunks for a body, a body written to a
//! temporary file while it is hashed (removed again if anything fails, so a full disk or
//! a broken connection leaves nothing behind), and a file's SHA-256.

use std::path::Path;

use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a body may send nothing before the transfer is given up.
const STALL: std::time::Duration = std::time::Duration::from_secs(120);

/// A file's contents as a stream of chunks, for a body.
pub fn file_chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    futures_util::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
}

/// Why a body could not be received.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiveError {
    /// The sender broke off or went silent.
    #[error("{0}")]
    Sender(String),
    /// The file could not be written (a full disk, say).
    #[error("{0}")]
    Write(String),
}

impl From<ReceiveError> for String {
    fn from(e: ReceiveError) -> String {
        e.to_string()
    }
}

/// Writes `body` into `tmp` (synced) and answers its SHA-256; on any failure (or two
/// minutes without data) `tmp` is removed. `from` names the sender in errors.
pub async fn receive<B>(mut body: B, tmp: &Path, from: &str) -> Result<String, ReceiveError>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let write = |e: std::io::Error| ReceiveError::Write(format!("{}: {e}", tmp.display()));
    let written: Result<String, ReceiveError> = async {
        let mut file = tokio::fs::File::create(tmp).await.map_err(write)?;
        let mut hasher = Sha256::new();
        loop {
            let next = tokio::time::timeout(STALL, body.frame())
                .await
                .map_err(|_| {
                    ReceiveError::Sender(format!("{from}: no data for {} s", STALL.as_secs()))
                })?;
            let Some(frame) = next else { break };
            let frame = frame.map_err(|e| ReceiveError::Sender(format!("{from}: {e}")))?;
            if let Ok(data) = frame.into_data() {
                hasher.update(&data);
                file.write_all(&data).await.map_err(write)?;
            }
        }
        file.sync_all().await.map_err(write)?;
        Ok(hex::encode(hasher.finalize()))
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(tmp).await;
    }
    written
}

/// The SHA-256 (hex) of a file.
pub async fn sha256(file: &Path) -> Result<String, String> {
    let mut handle = tokio::fs::File::open(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = handle
            .read(&mut buf)
            .await
            .map_err(|e| format!("{}: {e}", file.display()))?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}
