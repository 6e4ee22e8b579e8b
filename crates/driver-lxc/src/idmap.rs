//! Host ids of the containers' user namespaces. Each container maps its ids 0–65,535 onto
//! a slot of its own, `base + slot × 65,536`, so no two containers share a host id and none
//! is an id of the host's own users: a container's root is an unprivileged user of the
//! host. Slots are claimed machine-wide — a file per 65,536-id block in a registry
//! directory, created exclusively and naming the container's directory — so agents of
//! several clouds on one machine never hand out the same ids; a claim whose container
//! directory is gone (a crash, a wiped state directory) may be taken again. A container
//! keeps its slot (also noted in its directory) until its directory goes.
//!
//! Agents are separate processes: a slot is looked for, claimed and given back under an
//! exclusive `flock` of the registry's `.lock` file, and a claim file appears whole (written
//! aside, then hard-linked into place), so no agent ever reads a claim half-written and
//! takes it for a gone container's.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::LxcError;
use crate::layout::ContainerDir;

/// Ids each container maps.
pub const IDS_PER_CONTAINER: u32 = 65_536;

/// One slot is handed out at a time by this agent (the registry settles it between agents).
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A container's host ids: its id 0 is `first` on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// The host id of the container's id 0.
    pub first: u32,
    /// How many ids are mapped.
    pub count: u32,
}

/// Where slots come from: the first host id (a multiple of 65,536, above the host's own
/// ids) and the machine-wide registry of claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdSlots {
    /// The host id of slot 0.
    pub base: u32,
    /// The registry directory.
    pub registry: PathBuf,
}

impl IdSlots {
    /// Checks the base: a multiple of 65,536, above the host's own first 65,536 ids, with
    /// room for one slot.
    pub fn check(&self) -> Result<(), String> {
        if self.base < IDS_PER_CONTAINER
            || !self.base.is_multiple_of(IDS_PER_CONTAINER)
            || slots(self.base) == 0
        {
            return Err(format!(
                "the first container id must be a multiple of {IDS_PER_CONTAINER} from {IDS_PER_CONTAINER} on, with room for a slot"
            ));
        }
        Ok(())
    }

    fn claim_file(&self, range: IdRange) -> PathBuf {
        self.registry
            .join((range.first / IDS_PER_CONTAINER).to_string())
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

/// Who holds a claim: the container directory it names, when that still exists.
fn holder(claim: &Path) -> Option<PathBuf> {
    let owner = PathBuf::from(std::fs::read_to_string(claim).ok()?.trim());
    owner.exists().then_some(owner)
}

/// Holds the registry's lock (between the agents of this machine) while it lives.
struct RegistryLock {
    _locked: std::fs::File,
}

impl RegistryLock {
    /// Waits for the registry's lock (blocking: call it off the async threads).
    fn take(registry: &Path) -> Result<Self, LxcError> {
        std::fs::create_dir_all(registry).map_err(|e| LxcError::file(registry, e))?;
        let path = registry.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| LxcError::file(&path, e))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| LxcError::file(&path, std::io::Error::from(e)))?;
        Ok(RegistryLock { _locked: file })
    }
}

/// Claims `range` for `dir`: true when it is now `dir`'s (also when it already was).
/// Called with the registry's lock held.
fn claim(slots: &IdSlots, range: IdRange, dir: &ContainerDir) -> Result<bool, LxcError> {
    let file = slots.claim_file(range);
    let me = dir.root().to_path_buf();
    match holder(&file) {
        Some(owner) if owner == me => return Ok(true),
        Some(_) => return Ok(false),
        // A claim of a container that is gone goes.
        None => {
            let _ = std::fs::remove_file(&file);
        }
    }
    // Written aside, then linked into place: the claim appears whole or not at all.
    let aside = slots
        .registry
        .join(format!(".claim-{}", std::process::id()));
    std::fs::File::create(&aside)
        .and_then(|mut f| f.write_all(me.display().to_string().as_bytes()))
        .map_err(|e| LxcError::file(&aside, e))?;
    let linked = std::fs::hard_link(&aside, &file);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(LxcError::file(&file, e)),
    }
}

/// The container's ids: the slot it has, or the lowest one free on this machine.
pub async fn assign(dir: &ContainerDir, slots_of: &IdSlots) -> Result<IdRange, LxcError> {
    let _guard = LOCK.lock().await;
    let (dir, slots_of) = (dir.clone(), slots_of.clone());
    tokio::task::spawn_blocking(move || {
        let _registry = RegistryLock::take(&slots_of.registry)?;
        let kept = std::fs::read_to_string(dir.id_slot())
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            .filter(|s| *s < slots(slots_of.base));
        if let Some(slot) = kept
            && claim(&slots_of, range(slots_of.base, slot), &dir)?
        {
            return Ok(range(slots_of.base, slot));
        }
        for slot in 0..slots(slots_of.base) {
            if claim(&slots_of, range(slots_of.base, slot), &dir)? {
                let path = dir.id_slot();
                std::fs::write(&path, slot.to_string()).map_err(|e| LxcError::file(&path, e))?;
                return Ok(range(slots_of.base, slot));
            }
        }
        Err(LxcError::BadRequest(
            "no user-id range left on this host".into(),
        ))
    })
    .await
    .map_err(|e| LxcError::BadRequest(format!("id slots: {e}")))?
}

/// The container's ids, if it was given a slot.
pub async fn assigned(dir: &ContainerDir, base: u32) -> Option<IdRange> {
    read_slot(dir)
        .await
        .filter(|s| *s < slots(base))
        .map(|s| range(base, s))
}

/// Gives the container's slot back (its directory is going or its layer left).
pub async fn release(dir: &ContainerDir, slots_of: &IdSlots) {
    let Some(r) = assigned(dir, slots_of.base).await else {
        return;
    };
    let _guard = LOCK.lock().await;
    let (dir, slots_of) = (dir.clone(), slots_of.clone());
    let _ = tokio::task::spawn_blocking(move || {
        let Ok(_registry) = RegistryLock::take(&slots_of.registry) else {
            return;
        };
        let file = slots_of.claim_file(r);
        let mine =
            std::fs::read_to_string(&file).is_ok_and(|owner| Path::new(owner.trim()) == dir.root());
        if mine {
            let _ = std::fs::remove_file(&file);
        }
        let _ = std::fs::remove_file(dir.id_slot());
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[tokio::test]
    async fn containers_of_every_agent_get_distinct_slots_and_keep_them() {
        let tmp = tempfile::tempdir().expect("tmp");
        let slots_of = IdSlots {
            base: 2048 * IDS_PER_CONTAINER,
            registry: tmp.path().join("registry"),
        };
        assert!(slots_of.check().is_ok());
        let mut seen = BTreeSet::new();
        // Two agents (state directories) on one machine.
        for agent in ["a", "b"] {
            for id in 0..3 {
                let dir = ContainerDir::new(&tmp.path().join(agent), id);
                tokio::fs::create_dir_all(dir.root()).await.expect("dir");
                let r = assign(&dir, &slots_of).await.expect("slot");
                assert_eq!(r.count, IDS_PER_CONTAINER);
                assert!(r.first >= slots_of.base);
                assert!(seen.insert(r.first), "slot handed out twice");
                assert_eq!(assign(&dir, &slots_of).await.expect("again"), r);
                assert_eq!(assigned(&dir, slots_of.base).await, Some(r));
            }
        }
        // A released slot is handed out again; so is one whose container directory went.
        let gone = ContainerDir::new(&tmp.path().join("a"), 1);
        let freed = assigned(&gone, slots_of.base).await.expect("slot");
        release(&gone, &slots_of).await;
        let next = ContainerDir::new(&tmp.path().join("b"), 9);
        tokio::fs::create_dir_all(next.root()).await.expect("dir");
        assert_eq!(assign(&next, &slots_of).await.expect("slot"), freed);
        let crashed = ContainerDir::new(&tmp.path().join("a"), 2);
        let stale = assigned(&crashed, slots_of.base).await.expect("slot");
        tokio::fs::remove_dir_all(crashed.root()).await.expect("rm");
        let later = ContainerDir::new(&tmp.path().join("b"), 10);
        tokio::fs::create_dir_all(later.root()).await.expect("dir");
        assert_eq!(assign(&later, &slots_of).await.expect("slot"), stale);
        // The last slot still ends within the id space; bad bases are refused.
        let last = range(slots_of.base, slots(slots_of.base) - 1);
        assert!(u64::from(last.first) + u64::from(last.count) - 1 <= u64::from(u32::MAX));
        for base in [0, 100_000_000, u32::MAX - 10] {
            let bad = IdSlots {
                base,
                registry: PathBuf::new(),
            };
            assert!(bad.check().is_err(), "{base}");
        }
    }

    #[tokio::test]
    async fn another_agent_holding_the_registry_makes_a_claim_wait() {
        let tmp = tempfile::tempdir().expect("tmp");
        let slots_of = IdSlots {
            base: 2048 * IDS_PER_CONTAINER,
            registry: tmp.path().join("registry"),
        };
        // Another agent (here: the lock taken through another open file) is mid-claim.
        let other = RegistryLock::take(&slots_of.registry).expect("lock");
        let dir = ContainerDir::new(&tmp.path().join("a"), 1);
        tokio::fs::create_dir_all(dir.root()).await.expect("dir");
        let waiting = tokio::spawn({
            let (dir, slots_of) = (dir.clone(), slots_of.clone());
            async move { assign(&dir, &slots_of).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(
            !waiting.is_finished(),
            "a claim went ahead under another agent's lock"
        );
        // What it sees once the other is done: the other's claim of slot 0, whole.
        let others = ContainerDir::new(&tmp.path().join("b"), 0);
        std::fs::create_dir_all(others.root()).expect("other dir");
        let slot0 = slots_of.claim_file(range(slots_of.base, 0));
        std::fs::write(slot0, others.root().display().to_string()).expect("claim");
        drop(other);
        let r = waiting.await.expect("join").expect("slot");
        assert_eq!(
            r.first,
            slots_of.base + IDS_PER_CONTAINER,
            "slot 0 is the other's"
        );
        // No file of a claim in the making is left behind.
        let names: Vec<String> = std::fs::read_dir(&slots_of.registry)
            .expect("registry")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with(".claim-")), "{names:?}");
    }
}
