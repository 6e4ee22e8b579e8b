//! The front-end's host key (`DATA_DIR/host.key`, mode 600): 32 random bytes, made on first
//! start, from which each host agent's secret is derived (`nubod host-secret NAME`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

/// Reads the key, making it first if there is none.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<nubo_core::HostKey> {
    let path = data_dir.join("host.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = hex::decode(text.trim())
                .with_context(|| format!("{} does not hold a hex key", path.display()))?;
            anyhow::ensure!(
                key.len() >= 16,
                "{} holds a key that is too short",
                path.display()
            );
            Ok(nubo_core::HostKey(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = vec![0u8; 32];
            getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            writeln!(file, "{}", hex::encode(&key))
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(nubo_core::HostKey(key))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = load_or_create(dir.path()).expect("made");
        let b = load_or_create(dir.path()).expect("read");
        assert_eq!(a.0, b.0);
        assert_eq!(a.0.len(), 32);
        assert_ne!(a.secret_of("node1"), a.secret_of("node2"));
        std::fs::write(dir.path().join("host.key"), "zz").expect("write");
        assert!(load_or_create(dir.path()).is_err());
    }
}
