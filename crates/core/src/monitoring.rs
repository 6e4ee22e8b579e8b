//! Recent monitoring samples of hosts and VMs, kept in memory (as OpenNebula's monitord
//! keeps them in expiring tables): what `host.monitoring`, `hostpool.monitoring`,
//! `vm.monitoring` and `vmpool.monitoring` return and what a VM's MONITORING shows.
//! Samples are not state: a restart starts with none, and the next round refills them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use nubo_types::Oid;

/// Samples kept per host or VM.
const KEEP: usize = 32;
/// Seconds a sample is kept.
const EXPIRE: i64 = 12 * 3600;

/// One host sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostSample {
    /// When (epoch seconds).
    pub timestamp: i64,
    /// CPU capacity (percent).
    pub total_cpu: i64,
    /// CPU in use (percent).
    pub used_cpu: i64,
    /// Memory capacity (KB).
    pub total_memory: i64,
    /// Memory in use (KB).
    pub used_memory: i64,
}

/// One VM sample.
#[derive(Debug, Clone, PartialEq)]
pub struct VmSample {
    /// When (epoch seconds).
    pub timestamp: i64,
    /// CPU used (percent of one core).
    pub cpu: f64,
    /// Memory used (KB).
    pub memory_kb: u64,
    /// Bytes received.
    pub netrx: u64,
    /// Bytes sent.
    pub nettx: u64,
    /// Disk traffic so far.
    pub disk_io: nubo_driver::DiskIo,
    /// Space of each disk file on the host: (DISK_ID, MB).
    pub disk_sizes: Vec<(i32, u64)>,
}

/// The samples, by host and by VM.
#[derive(Debug, Default)]
pub struct MonitoringLog {
    hosts: Mutex<HashMap<Oid, VecDeque<HostSample>>>,
    vms: Mutex<HashMap<Oid, VecDeque<VmSample>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn push<T>(q: &mut VecDeque<T>, sample: T, at: i64, time: impl Fn(&T) -> i64) {
    q.push_back(sample);
    while q.len() > KEEP || q.front().is_some_and(|s| at - time(s) > EXPIRE) {
        q.pop_front();
    }
}

impl MonitoringLog {
    /// Records a host sample.
    pub fn record_host(&self, id: Oid, sample: HostSample) {
        let mut hosts = lock(&self.hosts);
        push(
            hosts.entry(id).or_default(),
            sample,
            sample.timestamp,
            |s| s.timestamp,
        );
    }

    /// Records VM samples.
    pub fn record_vms(&self, samples: impl IntoIterator<Item = (Oid, VmSample)>) {
        let mut vms = lock(&self.vms);
        for (id, sample) in samples {
            let at = sample.timestamp;
            push(vms.entry(id).or_default(), sample, at, |s| s.timestamp);
        }
    }

    /// Drops the samples of hosts and VMs not heard of for longer than samples are kept
    /// (VMs that ended, hosts that were deleted).
    pub fn prune(&self, now: i64) {
        let fresh = |t: i64| now - t <= EXPIRE;
        lock(&self.vms).retain(|_, q| q.back().is_some_and(|s| fresh(s.timestamp)));
        lock(&self.hosts).retain(|_, q| q.back().is_some_and(|s| fresh(s.timestamp)));
    }

    /// Forgets a VM (it is DONE) or a host (deleted).
    pub fn forget_vm(&self, id: Oid) {
        lock(&self.vms).remove(&id);
    }

    /// Forgets a host.
    pub fn forget_host(&self, id: Oid) {
        lock(&self.hosts).remove(&id);
    }

    /// Samples of host `id` since `since` (epoch; 0 for all).
    pub fn host(&self, id: Oid, since: i64) -> Vec<HostSample> {
        lock(&self.hosts)
            .get(&id)
            .map(|q| q.iter().filter(|s| s.timestamp >= since).copied().collect())
            .unwrap_or_default()
    }

    /// Samples of VM `id` since `since`.
    pub fn vm(&self, id: Oid, since: i64) -> Vec<VmSample> {
        lock(&self.vms)
            .get(&id)
            .map(|q| q.iter().filter(|s| s.timestamp >= since).cloned().collect())
            .unwrap_or_default()
    }

    /// The latest sample of VM `id`.
    pub fn vm_latest(&self, id: Oid) -> Option<VmSample> {
        lock(&self.vms).get(&id).and_then(|q| q.back().cloned())
    }

    /// The latest sample of host `id`.
    pub fn host_latest(&self, id: Oid) -> Option<HostSample> {
        lock(&self.hosts).get(&id).and_then(|q| q.back().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(t: i64) -> VmSample {
        VmSample {
            timestamp: t,
            cpu: 1.0,
            memory_kb: 2,
            netrx: 3,
            nettx: 4,
            disk_io: nubo_driver::DiskIo::default(),
            disk_sizes: Vec::new(),
        }
    }

    #[test]
    fn old_and_surplus_samples_are_dropped() {
        let log = MonitoringLog::default();
        log.record_vms((0..40).map(|i| (1, vm(1000 + i))));
        let kept = log.vm(1, 0);
        assert_eq!(kept.len(), KEEP);
        assert_eq!(kept.first().map(|s| s.timestamp), Some(1008));
        assert_eq!(log.vm(1, 1030).len(), 10);
        log.record_vms([(1, vm(1039 + EXPIRE + 1))]);
        assert_eq!(log.vm(1, 0).len(), 1);
        assert_eq!(log.vm_latest(1).map(|s| s.timestamp), Some(1040 + EXPIRE));
        log.forget_vm(1);
        assert!(log.vm(1, 0).is_empty());
    }
}
