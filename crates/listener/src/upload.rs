//! Receiving a large request body (an uploaded archive) into a file, within a size limit
//! and a time limit between two pieces, never holding it in memory: for the front ends that
//! take uploads (the PaaS's REST and CAMP APIs).

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

/// Why an upload was not kept.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// More than the limit, in bytes.
    #[error("the upload is larger than {0} bytes")]
    TooLarge(u64),
    /// No piece came for the time limit, in seconds.
    #[error("the upload stalled for more than {0} s")]
    Stalled(u64),
    /// The client's body broke off.
    #[error("the upload broke off: {0}")]
    Broken(String),
    /// Nothing was sent.
    #[error("the upload is empty")]
    Empty,
    /// The file could not be written.
    #[error("cannot keep the upload")]
    Io(#[source] std::io::Error),
}

/// Writes the pieces of `stream` to a new file at `path`: at most `limit` bytes, at most
/// `idle` between two pieces; the bytes written. The file is removed when this fails.
pub async fn stream_to_file<S, E>(
    stream: S,
    path: &Path,
    limit: u64,
    idle: Duration,
) -> Result<u64, UploadError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>>,
    E: std::fmt::Display,
{
    let outcome = async {
        let mut stream = std::pin::pin!(stream);
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(UploadError::Io)?;
        let mut received = 0u64;
        loop {
            let piece = tokio::time::timeout(idle, stream.next())
                .await
                .map_err(|_| UploadError::Stalled(idle.as_secs()))?;
            let Some(piece) = piece else { break };
            let piece = piece.map_err(|e| UploadError::Broken(e.to_string()))?;
            received += piece.len() as u64;
            if received > limit {
                return Err(UploadError::TooLarge(limit));
            }
            file.write_all(&piece).await.map_err(UploadError::Io)?;
        }
        file.flush().await.map_err(UploadError::Io)?;
        if received == 0 {
            return Err(UploadError::Empty);
        }
        Ok(received)
    }
    .await;
    if outcome.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(sizes: &[usize]) -> impl futures_util::Stream<Item = Result<bytes::Bytes, String>> {
        let v: Vec<Result<bytes::Bytes, String>> = sizes
            .iter()
            .map(|n| Ok(bytes::Bytes::from(vec![7u8; *n])))
            .collect();
        futures_util::stream::iter(v)
    }

    #[tokio::test]
    async fn uploads_are_kept_within_the_limit() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("u");
        let idle = Duration::from_secs(5);
        assert_eq!(
            stream_to_file(pieces(&[3, 4]), &path, 7, idle)
                .await
                .expect("kept"),
            7
        );
        assert_eq!(std::fs::read(&path).expect("file").len(), 7);
        let err = stream_to_file(pieces(&[3, 5]), &path, 7, idle)
            .await
            .expect_err("too large");
        assert!(matches!(err, UploadError::TooLarge(7)));
        assert!(!path.exists());
        let err = stream_to_file(pieces(&[]), &path, 7, idle)
            .await
            .expect_err("empty");
        assert!(matches!(err, UploadError::Empty));
        let broken = futures_util::stream::iter(vec![
            Ok(bytes::Bytes::from_static(b"x")),
            Err("cut".to_string()),
        ]);
        let err = stream_to_file(broken, &path, 7, idle)
            .await
            .expect_err("broken");
        assert!(matches!(err, UploadError::Broken(_)) && !path.exists());
        let stalled = futures_util::stream::pending::<Result<bytes::Bytes, String>>();
        let err = stream_to_file(stalled, &path, 7, Duration::from_millis(50))
            .await
            .expect_err("stalled");
        assert!(matches!(err, UploadError::Stalled(0)));
    }
}
