//! The bookkeeping of operations on a host's VMs, shared by the QEMU and container drivers:
//! one operation at a time per VM (a lock each), and the number of the last operation
//! carried out on each (kept in memory and in the VM's directory, so a restarted agent
//! still knows it), which reports carry so nubod can tell a report made before an
//! operation ended from one made after.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::layout::VmDir;

/// Locks and operation numbers of a host's VMs.
#[derive(Debug, Default)]
pub struct Ledger {
    locks: Mutex<HashMap<i32, Arc<tokio::sync::Mutex<()>>>>,
    seqs: Mutex<HashMap<i32, u64>>,
}

impl Ledger {
    /// The lock that serialises VM `vm_id`'s operations.
    pub fn lock(&self, vm_id: i32) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(vm_id)
            .or_default()
            .clone()
    }

    /// Notes operation `seq` (0: none) as carried out on the VM of `dir`.
    pub async fn carried_out(&self, dir: &VmDir, vm_id: i32, seq: u64) {
        if seq == 0 {
            return;
        }
        self.seqs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(vm_id, seq);
        if tokio::fs::metadata(&dir.root).await.is_ok() {
            let _ = tokio::fs::write(dir.op_seq(), seq.to_string()).await;
        }
    }

    /// The number of the last operation carried out on each VM of `vm_ids` under
    /// `state_dir` (the higher of this run's and the one its directory keeps), and on every
    /// VM this run carried one out on.
    pub async fn last_seqs(&self, state_dir: &Path, vm_ids: &[i32]) -> BTreeMap<i32, u64> {
        let mut seqs = BTreeMap::new();
        for id in vm_ids {
            let kept = tokio::fs::read_to_string(VmDir::new(state_dir, *id).op_seq())
                .await
                .ok()
                .and_then(|t| t.trim().parse().ok());
            if let Some(seq) = kept {
                seqs.insert(*id, seq);
            }
        }
        let here = self.seqs.lock().unwrap_or_else(|p| p.into_inner());
        for (id, seq) in here.iter() {
            let e = seqs.entry(*id).or_insert(*seq);
            *e = (*e).max(*seq);
        }
        seqs
    }
}
