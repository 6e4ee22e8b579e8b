//! What the host reports with containers: CPU and memory capacity and use (from /proc,
//! as the QEMU driver reads them), the runtime in use, the state directory's space, and
//! each container the runtime knows — running (CPU time and memory from its cgroup,
//! traffic of its veths, block traffic, disk sizes, the last `vm.exec` result), frozen, or
//! powered off by its init's end — with the number of the last operation carried out on
//! each VM. Running containers' inits are watched from their first report on
//! ([`crate::init_watch`]), so that a restarted agent also notices their end at once.

use std::collections::BTreeMap;
use std::time::Instant;

use nubo_driver::{GuestState, HostReport, VmReport, VmSpec};
use nubo_driver_kvm::monitor as host;

use crate::layout::ContainerDir;
use crate::{LxcDriver, cgroups, deploy_name, disks, rootfs};

impl LxcDriver {
    /// Reports the host and its containers.
    pub async fn report(&self) -> HostReport {
        let cfg = &self.inner.config;
        let vm_ids = nubo_driver_kvm::layout::VmDir::list(&cfg.state_dir);
        // The operation numbers first, then what the runtime says: an operation that ends
        // meanwhile has a number the report does not claim, so nubod does not read the
        // container's absence (or old state) as the outcome of that operation.
        let seqs = self.inner.ledger.last_seqs(&cfg.state_dir, &vm_ids).await;
        let known = match self.inner.runtime.list().await {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the runtime's containers");
                Default::default()
            }
        };
        let mut vms = Vec::new();
        for vm_id in vm_ids {
            let dir = self.dir(vm_id);
            let Some(spec) = dir.vm.load_spec().await else {
                continue;
            };
            let status = known
                .get(&crate::layout::container_id(vm_id))
                .map(|s| s.status.clone());
            if let Some(live) = known.get(&crate::layout::container_id(vm_id))
                && matches!(live.status.as_str(), "running" | "created" | "paused")
                && let Ok(pid) = u32::try_from(live.pid)
                && pid > 0
            {
                // Containers found running by a restarted agent are watched from here on.
                self.inner.inits.watch(vm_id, pid);
            }
            let (state, cpu, memory_kb) = match status.as_deref() {
                Some("running" | "created") => {
                    let cpu = self.cpu_percent(vm_id);
                    let mem = cgroups::memory_kb(&dir.cgroup()).unwrap_or(0);
                    (GuestState::Running, cpu, mem)
                }
                Some("paused") => (GuestState::Paused, 0.0, 0),
                Some(_) => {
                    // The init ended by itself: the VM powered itself off. The runtime
                    // may forget the container; the fact stays.
                    let _ = tokio::fs::write(dir.powered_off(), b"").await;
                    (GuestState::Poweroff, 0.0, 0)
                }
                None if tokio::fs::metadata(dir.powered_off()).await.is_ok() => {
                    (GuestState::Poweroff, 0.0, 0)
                }
                // Never started here, or gone without ending by itself: not reported.
                None => continue,
            };
            let (netrx, nettx) = host::nic_traffic(&spec.nics);
            vms.push(VmReport {
                vm_id,
                deploy_id: deploy_name(&spec, vm_id),
                state,
                cpu,
                memory_kb,
                netrx,
                nettx,
                disk_io: cgroups::disk_io(&dir.cgroup()),
                disk_sizes: disk_sizes(&dir, &spec).await,
                exec: self.exec_result(&dir).await,
            });
        }
        let attributes =
            BTreeMap::from([("RUNTIME".to_string(), self.inner.runtime.name().to_string())]);
        host::host_report("lxc", &cfg.state_dir, attributes, vms, seqs)
    }

    /// Percent of one core the container used since the last report.
    fn cpu_percent(&self, vm_id: i32) -> f64 {
        let Some(ns) = cgroups::cpu_ns(&self.dir(vm_id).cgroup()) else {
            return 0.0;
        };
        let now = Instant::now();
        let mut seen = self
            .inner
            .cpu_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match seen.insert(vm_id, (ns, now)) {
            Some((before, at)) if ns >= before => {
                let secs = now.duration_since(at).as_secs_f64();
                if secs > 0.0 {
                    (ns - before) as f64 / 1e9 / secs * 100.0
                } else {
                    0.0
                }
            }
            _ => 0.0,
        }
    }
}

/// Space each disk takes on the host: the root disk its layer (a bounded layer's image,
/// mounted or not), the others their copies.
async fn disk_sizes(dir: &ContainerDir, spec: &VmSpec) -> Vec<(i32, u64)> {
    let mut out = Vec::new();
    if let Ok(root) = rootfs::root_disk(&spec.disks) {
        let mb = match rootfs::layer::allocated_mb(dir).await {
            Some(mb) => mb,
            None => {
                let upper = dir.upper();
                tokio::task::spawn_blocking(move || cgroups::allocated_mb(&upper))
                    .await
                    .unwrap_or(0)
            }
        };
        out.push((root.disk_id, mb));
    }
    for d in disks::extra(&spec.disks) {
        let copy = dir.root().join(format!("disk.{}", d.disk_id));
        if let Ok(m) = tokio::fs::metadata(&copy).await {
            out.push((d.disk_id, host::allocated_mb(&m)));
        }
    }
    out
}
