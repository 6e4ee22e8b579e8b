//! Log files of the PaaS (build output for now): appended by one writer, read from an
//! offset by many.

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::error::{PaasError, Result};

/// Appends `data` to the log at `path`, creating it (and its directory).
pub async fn append(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| log_error(path, e))?;
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(|e| log_error(path, e))?;
    file.write_all(data).await.map_err(|e| log_error(path, e))?;
    file.flush().await.map_err(|e| log_error(path, e))
}

/// At most `max` bytes of the log at `path` from `offset` on (nothing when it does not exist
/// yet or ends before).
///
/// Tested through the REST API (`test_rest_schemathesis.py`: an offset past i64::MAX).
pub async fn read_from(path: &Path, offset: u64, max: u64) -> Result<Vec<u8>> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(log_error(path, e)),
    };
    // Nothing at or past the end (an offset past i64::MAX cannot even be sought).
    let len = file.metadata().await.map_err(|e| log_error(path, e))?.len();
    if offset >= len {
        return Ok(Vec::new());
    }
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|e| log_error(path, e))?;
    let mut data = Vec::new();
    file.take(max)
        .read_to_end(&mut data)
        .await
        .map_err(|e| log_error(path, e))?;
    Ok(data)
}

/// The last `lines` lines of the log at `path` (from its last 64 KiB).
pub async fn tail(path: &Path, lines: usize) -> String {
    let len = tokio::fs::metadata(path)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let data = read_from(path, len.saturating_sub(64 * 1024), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&data);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn log_error(path: &Path, e: std::io::Error) -> PaasError {
    PaasError::Core(nubo_types::Error::internal(format!(
        "cannot use log {}: {e}",
        path.display()
    )))
}
