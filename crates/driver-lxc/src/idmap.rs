//! Host ids of the containers' user namespaces. Each container maps its ids 0–65,535 onto
//! a slot of its own, `base + slot × 65,536`, so no two containers share a host id and none
//! is an id of the host's own users: a container's root is an unprivileged user of the
//! host. A container keeps its slot (a file in its directory) until its directory goes.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::LxcError;
use crate::layout::ContainerDir;

/// Ids each container maps.
pub const IDS_PER_CONTAINER: u32 = 65_536;

/// One slot is handed out at a time on this host.
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A container's host ids: its id 0 is `first` on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// The host id of the container's id 0.
    pub first: u32,
    /// How many ids are mapped.
    pub count: u32,
}

impl IdRange {
    /// The host id of the container's id `id`.
    pub fn host_id(&self, id: u32) -> u32 {
        self.first + id
    }
}

/// How many slots fit above `base`.
pub fn slots(base: u32) -> u32 {
    (u32::MAX - base) / IDS_PER_CONTAINER
}

fn range(base: u32, slot: u32) -> IdRange {
    IdRange {
        first: base + slot * IDS_PER_CONTAINER,
        count: IDS_PER_CONTAINER,
    }
}

async fn read_slot(dir: &ContainerDir) -> Option<u32> {
    tokio::fs::read_to_string(dir.id_slot())
        .await
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The container's ids: the slot it has, or the lowest one no container under
/// `state_dir` holds.
pub async fn assign(state_dir: &Path, dir: &ContainerDir, base: u32) -> Result<IdRange, LxcError> {
    let _guard = LOCK.lock().await;
    if let Some(slot) = read_slot(dir).await.filter(|s| *s < slots(base)) {
        return Ok(range(base, slot));
    }
    let mut used = BTreeSet::new();
    for id in nubo_driver_kvm::layout::VmDir::list(state_dir) {
        if let Some(slot) = read_slot(&ContainerDir::new(state_dir, id)).await {
            used.insert(slot);
        }
    }
    let slot = (0..slots(base))
        .find(|s| !used.contains(s))
        .ok_or_else(|| LxcError::BadRequest("no user-id range left on this host".into()))?;
    let path = dir.id_slot();
    tokio::fs::write(&path, slot.to_string())
        .await
        .map_err(|e| LxcError::file(&path, e))?;
    Ok(range(base, slot))
}

/// The container's ids, if it was given a slot.
pub async fn assigned(dir: &ContainerDir, base: u32) -> Option<IdRange> {
    read_slot(dir)
        .await
        .filter(|s| *s < slots(base))
        .map(|s| range(base, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn containers_get_distinct_slots_and_keep_them() {
        let tmp = tempfile::tempdir().expect("tmp");
        let base = 100_000_000;
        let mut seen = BTreeSet::new();
        for id in 0..4 {
            let dir = ContainerDir::new(tmp.path(), id);
            tokio::fs::create_dir_all(dir.root()).await.expect("dir");
            let r = assign(tmp.path(), &dir, base).await.expect("slot");
            assert_eq!(r.count, IDS_PER_CONTAINER);
            assert!(r.first >= base);
            assert!(seen.insert(r.first), "slot handed out twice");
            assert_eq!(assign(tmp.path(), &dir, base).await.expect("again"), r);
            assert_eq!(assigned(&dir, base).await, Some(r));
        }
        // A freed slot is handed out again.
        let gone = ContainerDir::new(tmp.path(), 1);
        let freed = assigned(&gone, base).await.expect("slot");
        tokio::fs::remove_dir_all(gone.root()).await.expect("rm");
        let next = ContainerDir::new(tmp.path(), 9);
        tokio::fs::create_dir_all(next.root()).await.expect("dir");
        assert_eq!(assign(tmp.path(), &next, base).await.expect("slot"), freed);
        // The last slot still ends within the id space.
        let last = range(base, slots(base) - 1);
        assert!(u64::from(last.first) + u64::from(last.count) - 1 <= u64::from(u32::MAX));
    }
}
