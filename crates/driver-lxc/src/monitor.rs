//! What the host reports with containers: CPU and memory capacity and use (from /proc,
//! as the QEMU driver reads them), the runtime in use, the state directory's space, and
//! each container the runtime knows — running (CPU time and memory from its cgroup,
//! traffic of its veths, block traffic, disk sizes, the last `vm.exec` result), frozen, or
//! powered off by its init's end — with the number of the last operation carried out on
//! each VM. Running containers' inits are watched from their first report on
//! ([`crate::init_watch`]), so that a restarted agent also notices their end at once.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use nubo_driver::{GuestState, HostReport, VmReport, VmSpec};
use nubo_driver_kvm::monitor as host;

use crate::layout::ContainerDir;
use crate::runtime::{ContainerState, Runtime};
use crate::{LxcDriver, cgroups, deploy_name, disks, rootfs};

/// How many times a failed list of the runtime's containers is tried.
const LIST_TRIES: u32 = 3;
/// The pause between two tries.
const LIST_PAUSE: Duration = Duration::from_millis(20);

impl LxcDriver {
    /// Reports the host and its containers.
    pub async fn report(&self) -> HostReport {
        let cfg = &self.inner.config;
        let vm_ids = nubo_driver_kvm::layout::VmDir::list(&cfg.state_dir);
        // The operation numbers first, then what the runtime says: an operation that ends
        // meanwhile has a number the report does not claim, so nubod does not read the
        // container's absence (or old state) as the outcome of that operation.
        let seqs = self.inner.ledger.last_seqs(&cfg.state_dir, &vm_ids).await;
        let known = known_containers(self.inner.runtime.as_ref(), &vm_ids).await;
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

/// What the runtime knows of the containers of `vm_ids`: one `list`, tried again when it
/// fails (runc's fails when a container's directory goes while it lists them, as a
/// stopped container's does), then each container asked on its own. A report must never
/// take a failed list for an empty host: nubod would take every running container for
/// gone (UNKNOWN) and the router would lose every instance on the host.
pub(crate) async fn known_containers(
    runtime: &dyn Runtime,
    vm_ids: &[i32],
) -> HashMap<String, ContainerState> {
    for attempt in 1..=LIST_TRIES {
        match runtime.list().await {
            Ok(known) => return known,
            Err(e) => {
                tracing::debug!(attempt, error = %e, "cannot list the runtime's containers");
                tokio::time::sleep(LIST_PAUSE).await;
            }
        }
    }
    tracing::warn!("cannot list the runtime's containers: asking each of them");
    let mut known = HashMap::new();
    for vm_id in vm_ids {
        let id = crate::layout::container_id(*vm_id);
        match runtime.state(&id).await {
            Ok(Some(state)) => {
                known.insert(id, state);
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(vm_id, error = %e, "cannot ask the runtime of a container"),
        }
    }
    known
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use nubo_driver::BoxFuture;

    use super::*;
    use crate::error::LxcError;
    use crate::runtime::{CreateFiles, ExecCommand, ExecOutput, Limits};

    /// A runtime whose `list` fails `failures` times (as runc's does when a container's
    /// directory goes meanwhile) and that knows one running container.
    #[derive(Debug)]
    struct Flaky {
        failures: u32,
        lists: AtomicU32,
    }

    fn refused<T: Send + 'static>() -> BoxFuture<'static, Result<T, LxcError>> {
        Box::pin(async { Err(LxcError::BadRequest("not in this test".into())) })
    }

    fn running() -> ContainerState {
        ContainerState {
            status: "running".into(),
            pid: 42,
        }
    }

    impl Runtime for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        fn create<'a>(
            &'a self,
            _: &'a str,
            _: CreateFiles<'a>,
        ) -> BoxFuture<'a, Result<(), LxcError>> {
            refused()
        }
        fn start<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), LxcError>> {
            refused()
        }
        fn state<'a>(
            &'a self,
            id: &'a str,
        ) -> BoxFuture<'a, Result<Option<ContainerState>, LxcError>> {
            let known = id == crate::layout::container_id(7);
            Box::pin(async move { Ok(known.then(running)) })
        }
        fn list(&self) -> BoxFuture<'_, Result<HashMap<String, ContainerState>, LxcError>> {
            let n = self.lists.fetch_add(1, Ordering::SeqCst);
            let fail = n < self.failures;
            Box::pin(async move {
                if fail {
                    Err(LxcError::Runtime {
                        program: "runc".into(),
                        message: "stat /x/runtime/one-6: no such file or directory".into(),
                    })
                } else {
                    Ok(HashMap::from([(crate::layout::container_id(7), running())]))
                }
            })
        }
        fn kill<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: bool,
        ) -> BoxFuture<'a, Result<(), LxcError>> {
            refused()
        }
        fn delete<'a>(&'a self, _: &'a str, _: bool) -> BoxFuture<'a, Result<(), LxcError>> {
            refused()
        }
        fn pause<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), LxcError>> {
            refused()
        }
        fn resume<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), LxcError>> {
            refused()
        }
        fn update<'a>(&'a self, _: &'a str, _: &'a Limits) -> BoxFuture<'a, Result<(), LxcError>> {
            refused()
        }
        fn exec<'a>(
            &'a self,
            _: &'a str,
            _: &'a ExecCommand,
        ) -> BoxFuture<'a, Result<ExecOutput, LxcError>> {
            refused()
        }
    }

    #[tokio::test]
    async fn a_failed_list_is_never_an_empty_host() {
        let id = crate::layout::container_id(7);
        for failures in [0, 1, LIST_TRIES - 1, LIST_TRIES, 100] {
            let runtime = Flaky {
                failures,
                lists: AtomicU32::new(0),
            };
            let known = known_containers(&runtime, &[6, 7]).await;
            assert_eq!(known.len(), 1, "{failures} failures: {known:?}");
            assert_eq!(
                known.get(&id).map(|s| s.pid),
                Some(42),
                "{failures} failures"
            );
            assert!(runtime.lists.load(Ordering::SeqCst) <= LIST_TRIES);
        }
    }
}
