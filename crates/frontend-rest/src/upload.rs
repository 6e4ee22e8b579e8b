//! Receiving a large request body (a source tarball) into a file, within a size limit and
//! with a time limit between two pieces, never holding it in memory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::problem::ApiError;

/// The longest wait for the next piece of an upload.
const IDLE: Duration = Duration::from_secs(30);

/// Writes `body` to a new file in `dir`; refuses (413) a body over `limit` bytes and a
/// client that stops sending, removing what it had written.
pub async fn receive(body: Body, dir: &Path, limit: u64) -> Result<PathBuf, ApiError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let internal = |e: std::io::Error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("cannot receive the upload: {e}"),
        )
    };
    tokio::fs::create_dir_all(dir).await.map_err(internal)?;
    let path = dir.join(format!(
        "incoming-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let outcome = async {
        let mut file = tokio::fs::File::create(&path).await.map_err(internal)?;
        let mut stream = body.into_data_stream();
        let mut received = 0u64;
        loop {
            let piece = tokio::time::timeout(IDLE, stream.next())
                .await
                .map_err(|_| {
                    ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "timeout",
                        format!("the upload stalled for more than {} s", IDLE.as_secs()),
                    )
                })?;
            let Some(piece) = piece else { break };
            let piece =
                piece.map_err(|e| ApiError::bad_request(format!("the upload broke off: {e}")))?;
            received += piece.len() as u64;
            if received > limit {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("the upload is larger than {limit} bytes"),
                ));
            }
            file.write_all(&piece).await.map_err(internal)?;
        }
        file.flush().await.map_err(internal)?;
        if received == 0 {
            return Err(ApiError::bad_request("the upload is empty"));
        }
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => Ok(path),
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            Err(e)
        }
    }
}
