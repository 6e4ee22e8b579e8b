//! The simulated hypervisor (`vm_mad` `sim`, or OpenNebula's `dummy`). A [`SimFleet`]
//! holds every simulated host's VMs, so a migration moves a VM from one host's list to
//! another's. Each operation succeeds after a delay unless the host's template says
//! otherwise, in the spirit of OpenNebula's dummy driver:
//!
//! - `SIM_CPU` (percent, default 800) and `SIM_MEMORY` (KB, default 16 GiB): capacity;
//! - `SIM_DELAY_MS`: the delay of every operation (else the fleet's default);
//! - `SIM_<OPERATION>` (e.g. `SIM_DEPLOY`): outcomes used in rotation, separated by `,`
//!   or `;`: `success [secs]`, `failure [secs]`, or `-` (never answer);
//! - `SIM_MONITOR=failure`: the host cannot be monitored;
//! - `SIM_COLD_NIC_ATTACH=YES`: NICs of a powered-off VM are attached and detached through
//!   the driver, as with OpenNebula's `COLD_NIC_ATTACH` (by default the front-end does it).
//!
//! A simulated guest's console is empty.

mod outcome;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nubo_driver::{
    BoxFuture, ConsoleChunk, GuestState, HostReport, Hypervisor, Operation, Outcome, Request,
    VmReport,
};

use outcome::{Planned, Script};

/// Default CPU capacity of a simulated host (percent), as OpenNebula's dummy probe.
pub const DEFAULT_CPU: i64 = 800;
/// Default memory of a simulated host (KB), as OpenNebula's dummy probe.
pub const DEFAULT_MEMORY_KB: i64 = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
struct SimVm {
    deploy_id: String,
    state: GuestState,
    vcpu: u32,
    memory_kb: u64,
    /// The last command run in it (finished at once, as OpenNebula's dummy driver says).
    exec: Option<nubo_driver::ExecReport>,
}

type HostVms = HashMap<i32, SimVm>;

/// Every simulated host of one nubod.
#[derive(Debug, Clone, Default)]
pub struct SimFleet {
    vms: Arc<Mutex<HashMap<String, HostVms>>>,
    default_delay: Duration,
}

impl SimFleet {
    /// A fleet whose operations take `default_delay` unless a host says otherwise.
    pub fn new(default_delay: Duration) -> SimFleet {
        SimFleet {
            vms: Arc::default(),
            default_delay,
        }
    }

    /// The simulated hypervisor of host `name`.
    pub fn host(&self, name: &str) -> SimHypervisor {
        SimHypervisor {
            inner: Arc::new(SimHost {
                name: name.to_string(),
                fleet: self.clone(),
                settings: Mutex::new(Settings::default()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, HostVms>> {
        // A panic while holding the lock cannot leave the maps half-updated (every
        // update is a single insert or remove), so a poisoned lock is still usable.
        self.vms.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Default)]
struct Settings {
    cpu: Option<i64>,
    memory_kb: Option<i64>,
    delay: Option<Duration>,
    scripts: HashMap<String, Script>,
    monitor_fails: bool,
    cold_nic_attach: bool,
}

/// One simulated host.
#[derive(Debug, Clone)]
pub struct SimHypervisor {
    inner: Arc<SimHost>,
}

#[derive(Debug)]
struct SimHost {
    name: String,
    fleet: SimFleet,
    settings: Mutex<Settings>,
}

impl SimHost {
    fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the next `operation` does: its delay and outcome.
    fn plan(&self, operation: Operation) -> (Duration, Planned) {
        let mut settings = self.settings();
        let delay = settings.delay.unwrap_or(self.fleet.default_delay);
        match settings.scripts.get_mut(operation.name()) {
            Some(script) => script.next(delay),
            None => (delay, Planned::Success),
        }
    }

    /// Applies a successful operation to the simulated VMs; returns the outcome info.
    fn apply(&self, r: &Request) -> String {
        let mut fleet = self.fleet.lock();
        let here = fleet.entry(self.name.clone()).or_default();
        let vm = SimVm {
            deploy_id: if r.deploy_id.is_empty() {
                format!("one-{}", r.vm_id)
            } else {
                r.deploy_id.clone()
            },
            state: GuestState::Running,
            vcpu: r.vcpu,
            memory_kb: r.memory_mb * 1024,
            exec: None,
        };
        let info = vm.deploy_id.clone();
        match r.operation {
            Operation::Deploy | Operation::Restore => {
                here.insert(r.vm_id, vm);
            }
            Operation::Shutdown | Operation::Cancel | Operation::Save | Operation::Cleanup => {
                here.remove(&r.vm_id);
            }
            Operation::Migrate => {
                let moved = here.remove(&r.vm_id).unwrap_or(vm);
                if let Some(target) = &r.target_host {
                    fleet
                        .entry(target.clone())
                        .or_default()
                        .insert(r.vm_id, moved);
                }
            }
            Operation::Exec => {
                if let Some(vm) = here.get_mut(&r.vm_id) {
                    use base64::Engine;
                    let out = format!("Execution finished for VM {}", r.vm_id);
                    vm.exec = Some(nubo_driver::ExecReport {
                        seq: r.seq,
                        pid: i64::from(r.vm_id),
                        status: "DONE".into(),
                        return_code: 0,
                        stdout_b64: base64::engine::general_purpose::STANDARD.encode(out),
                        stderr_b64: String::new(),
                    });
                }
            }
            Operation::Resize => {
                if let Some(vm) = here.get_mut(&r.vm_id) {
                    vm.vcpu = r.vcpu;
                    vm.memory_kb = r.memory_mb * 1024;
                }
            }
            _ => {}
        }
        info
    }

    fn report(&self) -> HostReport {
        let (cpu, memory_kb) = {
            let s = self.settings();
            (
                s.cpu.unwrap_or(DEFAULT_CPU),
                s.memory_kb.unwrap_or(DEFAULT_MEMORY_KB),
            )
        };
        let fleet = self.fleet.lock();
        let vms: Vec<VmReport> = fleet
            .get(&self.name)
            .map(|vms| {
                vms.iter()
                    .map(|(id, vm)| VmReport {
                        vm_id: *id,
                        deploy_id: vm.deploy_id.clone(),
                        state: vm.state,
                        cpu: f64::from(vm.vcpu) * 10.0,
                        memory_kb: vm.memory_kb,
                        netrx: 0,
                        nettx: 0,
                        disk_io: nubo_driver::DiskIo::default(),
                        disk_sizes: Vec::new(),
                        exec: vm.exec.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let used_cpu = vms.iter().map(|v| v.cpu as i64).sum();
        let used_memory_kb = vms.iter().map(|v| v.memory_kb as i64).sum();
        HostReport {
            hypervisor: "sim".to_string(),
            total_cpu: cpu,
            total_memory_kb: memory_kb,
            used_cpu,
            used_memory_kb,
            attributes: BTreeMap::from([("HYPERVISOR".to_string(), "sim".to_string())]),
            vms,
            seqs: BTreeMap::new(),
        }
    }
}

impl Hypervisor for SimHypervisor {
    fn execute(&self, request: Request) -> BoxFuture<'static, Outcome> {
        let this = self.inner.clone();
        Box::pin(async move {
            let (delay, planned) = this.plan(request.operation);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            match planned {
                Planned::Success => Ok(this.apply(&request)),
                Planned::Failure => Err(format!(
                    "simulated failure of {} on {}",
                    request.operation.name(),
                    this.name
                )),
                Planned::Never => std::future::pending().await,
            }
        })
    }

    fn monitor(&self) -> BoxFuture<'static, Result<HostReport, String>> {
        let this = self.inner.clone();
        Box::pin(async move {
            if this.settings().monitor_fails {
                return Err(format!("simulated monitoring failure of {}", this.name));
            }
            Ok(this.report())
        })
    }

    fn restore(&self, running: Vec<Request>) {
        for mut r in running {
            r.operation = Operation::Deploy;
            self.inner.apply(&r);
        }
    }

    fn configure(&self, settings: &BTreeMap<String, String>) {
        let mut s = Settings::default();
        for (key, value) in settings {
            let value = value.trim();
            match key.as_str() {
                "SIM_CPU" => s.cpu = value.parse().ok(),
                "SIM_MEMORY" => s.memory_kb = value.parse().ok(),
                "SIM_DELAY_MS" => s.delay = value.parse().ok().map(Duration::from_millis),
                "SIM_MONITOR" => s.monitor_fails = value.eq_ignore_ascii_case("failure"),
                "SIM_COLD_NIC_ATTACH" => s.cold_nic_attach = value.eq_ignore_ascii_case("yes"),
                other => {
                    if let Some(op) = other.strip_prefix("SIM_") {
                        s.scripts.insert(op.to_string(), Script::parse(value));
                    }
                }
            }
        }
        *self.inner.settings() = s;
    }

    fn cold_nic_attach(&self) -> bool {
        self.inner.settings().cold_nic_attach
    }

    /// A simulated guest prints nothing.
    fn console(
        &self,
        _vm_id: i32,
        _offset: u64,
    ) -> BoxFuture<'static, Result<ConsoleChunk, String>> {
        Box::pin(async { Ok(ConsoleChunk::default()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(vm_id: i32, operation: Operation) -> Request {
        Request {
            vm_id,
            operation,
            deploy_id: String::new(),
            host: "h1".into(),
            target_host: Some("h2".into()),
            vcpu: 2,
            memory_mb: 512,
            spec: None,
            migrate_uri: None,
            seq: 0,
        }
    }

    #[tokio::test]
    async fn deployed_vms_are_reported_and_move_with_a_migration() {
        let fleet = SimFleet::new(Duration::ZERO);
        let (h1, h2) = (fleet.host("h1"), fleet.host("h2"));
        let id = h1
            .execute(request(7, Operation::Deploy))
            .await
            .expect("deploy");
        assert_eq!(id, "one-7");
        let report = h1.monitor().await.expect("monitor");
        assert_eq!(report.vms.len(), 1);
        assert_eq!(report.used_memory_kb, 512 * 1024);
        assert_eq!(report.total_cpu, DEFAULT_CPU);
        h1.execute(request(7, Operation::Migrate))
            .await
            .expect("migrate");
        assert!(h1.monitor().await.expect("h1").vms.is_empty());
        assert_eq!(h2.monitor().await.expect("h2").vms[0].vm_id, 7);
        h2.execute(request(7, Operation::Cancel))
            .await
            .expect("cancel");
        assert!(h2.monitor().await.expect("h2").vms.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn host_settings_inject_failures_delays_and_capacity() {
        let fleet = SimFleet::new(Duration::ZERO);
        let h = fleet.host("h1");
        h.configure(&BTreeMap::from([
            ("SIM_DEPLOY".to_string(), "failure, success 2".to_string()),
            ("SIM_CPU".to_string(), "400".to_string()),
        ]));
        let err = h.execute(request(1, Operation::Deploy)).await;
        assert!(err.expect_err("first deploy fails").contains("DEPLOY"));
        let start = tokio::time::Instant::now();
        h.execute(request(1, Operation::Deploy))
            .await
            .expect("second succeeds");
        assert!(start.elapsed() >= Duration::from_secs(2));
        assert!(
            h.execute(request(1, Operation::Deploy)).await.is_err(),
            "rotation"
        );
        assert_eq!(h.monitor().await.expect("monitor").total_cpu, 400);
        h.configure(&BTreeMap::from([(
            "SIM_MONITOR".to_string(),
            "failure".to_string(),
        )]));
        assert!(h.monitor().await.is_err());
        h.configure(&BTreeMap::from([(
            "SIM_SHUTDOWN".to_string(),
            "-".to_string(),
        )]));
        let never = tokio::time::timeout(
            Duration::from_secs(3600),
            h.execute(request(1, Operation::Shutdown)),
        )
        .await;
        assert!(never.is_err(), "`-` never answers");
    }
}
