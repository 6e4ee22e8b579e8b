//! Receiving a source tarball into a file (`nubo_listener::upload`), its refusals as
//! problems: 413 over the size limit, 408 when the client stops sending, 400 for a broken
//! or empty body.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use nubo_listener::upload::{UploadError, stream_to_file};

use crate::problem::ApiError;

/// The longest wait for the next piece of an upload.
const IDLE: Duration = Duration::from_secs(30);

/// Writes `body` to a new file in `dir`, at most `limit` bytes; the file.
pub async fn receive(body: Body, dir: &Path, limit: u64) -> Result<PathBuf, ApiError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    tokio::fs::create_dir_all(dir).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("cannot receive the upload: {e}"),
        )
    })?;
    let path = dir.join(format!(
        "incoming-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    match stream_to_file(body.into_data_stream(), &path, limit, IDLE).await {
        Ok(_) => Ok(path),
        Err(e) => {
            let (status, code) = match &e {
                UploadError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
                UploadError::Stalled(_) => (StatusCode::REQUEST_TIMEOUT, "timeout"),
                UploadError::Broken(_) | UploadError::Empty => (StatusCode::BAD_REQUEST, "invalid"),
                UploadError::Io(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            };
            Err(ApiError::new(status, code, e.to_string()))
        }
    }
}
