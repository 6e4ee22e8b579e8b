//! Reading a guest's serial log from an offset, a bounded piece at a time.

use std::io::SeekFrom;
use std::path::Path;

use nubo_driver::{CONSOLE_TAIL, ConsoleChunk};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// The most one read returns.
const MAX_CHUNK: u64 = 64 * 1024;

/// What the log at `path` holds from `offset` on (empty when nothing new or no log yet;
/// from the start again when the log is shorter than `offset`; its last piece for
/// [`CONSOLE_TAIL`]).
pub async fn read(path: &Path, offset: u64) -> Result<ConsoleChunk, String> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        // Nothing printed yet (or the VM is gone from this host).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConsoleChunk::default()),
        Err(e) => return Err(e.to_string()),
    };
    let len = file.metadata().await.map_err(|e| e.to_string())?.len();
    let start = if offset == CONSOLE_TAIL {
        len.saturating_sub(MAX_CHUNK)
    } else if offset > len {
        0
    } else {
        offset
    };
    file.seek(SeekFrom::Start(start))
        .await
        .map_err(|e| e.to_string())?;
    let mut data = Vec::new();
    file.take(MAX_CHUNK)
        .read_to_end(&mut data)
        .await
        .map_err(|e| e.to_string())?;
    let next = start + data.len() as u64;
    Ok(ConsoleChunk { data, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_log_is_read_in_pieces_from_an_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("serial.log");
        tokio::fs::write(&log, b"GUEST-UP\nGUEST-READY\n")
            .await
            .expect("write");
        let all = read(&log, 0).await.expect("read");
        assert_eq!(all.data, b"GUEST-UP\nGUEST-READY\n");
        let rest = read(&log, 9).await.expect("read");
        assert_eq!(
            (rest.data.as_slice(), rest.next),
            (&b"GUEST-READY\n"[..], 21)
        );
        assert!(read(&log, 21).await.expect("read").data.is_empty());
        assert_eq!(
            read(&log, 99).await.expect("read").next,
            21,
            "a shorter log starts over"
        );
        let none = read(&dir.path().join("none"), 0).await.expect("no log");
        assert_eq!(none, ConsoleChunk::default(), "no log yet: nothing printed");
        let tail = read(&log, CONSOLE_TAIL).await.expect("read");
        assert_eq!(
            (tail.data.len(), tail.next),
            (21, 21),
            "a short log's tail is all of it"
        );
        let long = dir.path().join("long.log");
        let mut text = vec![b'a'; MAX_CHUNK as usize];
        text.extend_from_slice(b"LAST LINE\n");
        tokio::fs::write(&long, &text).await.expect("write");
        let tail = read(&long, CONSOLE_TAIL).await.expect("read");
        assert_eq!(tail.data.len() as u64, MAX_CHUNK);
        assert!(tail.data.ends_with(b"LAST LINE\n") && tail.next == text.len() as u64);
    }
}
