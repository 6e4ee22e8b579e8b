//! How long VMs wait to be placed, for whoever watches the scheduler (nubod's metrics):
//! each pending VM is stamped when the scheduler first wakes up to it, and the wait is
//! told when its placement has been committed. Stamps of VMs that stopped being pending
//! some other way (deleted, held) are dropped after each pass over the queue.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Told how long each VM the scheduler placed had waited.
#[derive(Clone, Default)]
pub struct PlacementObserver(Option<Arc<dyn Fn(Duration) + Send + Sync>>);

impl PlacementObserver {
    /// An observer calling `f` with each wait.
    pub fn new(f: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        PlacementObserver(Some(Arc::new(f)))
    }

    /// Whether anyone is told.
    pub(crate) fn is_on(&self) -> bool {
        self.0.is_some()
    }

    fn tell(&self, waited: Duration) {
        if let Some(f) = &self.0 {
            f(waited);
        }
    }
}

impl std::fmt::Debug for PlacementObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_on() {
            "PlacementObserver(on)"
        } else {
            "PlacementObserver(off)"
        })
    }
}

/// The stamps of the VMs waiting, kept by the scheduler loop.
#[derive(Debug, Default)]
pub(crate) struct Waits {
    since: HashMap<i32, Instant>,
    /// The VMs seen pending in the pass under way.
    pass: HashSet<i32>,
}

impl Waits {
    /// A pass over the queue begins; VMs first seen in it have waited since `woken`.
    pub fn begin(&mut self) {
        self.pass.clear();
    }

    /// `vms` are pending, first seen no later than `woken`.
    pub fn seen(&mut self, vms: impl IntoIterator<Item = i32>, woken: Instant) {
        for vm in vms {
            self.since.entry(vm).or_insert(woken);
            self.pass.insert(vm);
        }
    }

    /// `vms` were placed: tells `observer` how long each waited.
    pub fn placed(&mut self, vms: impl IntoIterator<Item = i32>, observer: &PlacementObserver) {
        for vm in vms {
            if let Some(at) = self.since.remove(&vm) {
                observer.tell(at.elapsed());
            }
        }
    }

    /// The pass is over: VMs not seen in it are no longer waiting.
    pub fn end(&mut self) {
        let pass = &self.pass;
        self.since.retain(|vm, _| pass.contains(vm));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn waits_are_told_once_and_strays_forgotten() {
        let told = Arc::new(Mutex::new(Vec::new()));
        let sink = told.clone();
        let observer = PlacementObserver::new(move |d| sink.lock().expect("lock").push(d));
        let mut waits = Waits::default();
        let woken = Instant::now() - Duration::from_secs(2);
        waits.begin();
        waits.seen([1, 2, 3], woken);
        waits.end();
        waits.begin();
        waits.seen([1, 2], Instant::now());
        waits.placed([1, 1, 9], &observer);
        waits.end();
        assert_eq!(told.lock().expect("lock").len(), 1);
        assert!(told.lock().expect("lock")[0] >= Duration::from_secs(2));
        // 3 left the queue unplaced: forgotten; 2 still waits since the first pass.
        assert_eq!(waits.since.len(), 1);
        assert_eq!(waits.since.get(&2), Some(&woken));
    }
}
