//! What runs beside the request path: the driver of every host (operations started after
//! a commit, replies fed back as life-cycle events in batches), the event-driven scheduler,
//! host monitoring (asked of the hosts whose agents pushed no report lately), and the
//! security-group updater. Started by [`crate::Core::open`].

mod context_cdrom;
mod drivers;
mod monitor;
mod placement;
mod placement_wait;
mod scheduler;
mod sg_updates;
mod spec;
mod timer;
pub(crate) mod zombies;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

pub(crate) use drivers::Drivers;
pub use drivers::HostKey;
pub(crate) use monitor::Monitored;
pub use placement_wait::PlacementObserver;

use crate::Core;
use crate::ops::vm::Followup;

/// Settings of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Delay of every simulated operation (hosts can override it).
    pub sim_delay: Duration,
    /// How often hosts are monitored.
    pub monitor_interval: Duration,
    /// How often the scheduler looks again at VMs it could not place (it is also woken
    /// whenever VMs become pending or capacity is freed).
    pub sched_retry: Duration,
    /// How the scheduler chooses among the hosts that fit a VM without SCHED_RANK.
    pub sched_policy: nubo_scheduler::Policy,
    /// The key host agents' secrets are derived from (empty: no agents).
    pub host_key: HostKey,
    /// Where host agents fetch image files (`http://ADDR:PORT`); none: agents open the
    /// images' paths themselves (shared storage).
    pub host_api_url: Option<String>,
    /// Told how long each VM the scheduler placed had waited (nubod's metrics).
    pub placement_observer: PlacementObserver,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            sim_delay: Duration::from_millis(100),
            monitor_interval: Duration::from_secs(30),
            sched_retry: Duration::from_secs(5),
            sched_policy: nubo_scheduler::Policy::Striping,
            host_key: HostKey::default(),
            host_api_url: None,
            placement_observer: PlacementObserver::default(),
        }
    }
}

/// A driver reply: VM, operation sequence, outcome.
pub(crate) type Reply = (i32, u64, Result<String, String>);

/// The runtime's shared parts.
#[derive(Debug)]
pub(crate) struct Runtime {
    pub drivers: Drivers,
    pub replies: mpsc::UnboundedSender<Reply>,
    pub schedule: Arc<Notify>,
    pub monitor_now: Arc<Notify>,
    pub timer: Arc<Notify>,
    /// Wakes the security-group updater.
    pub sg_updates: Arc<Notify>,
    pub config: RuntimeConfig,
    /// When each host's agent last pushed a report that covered all its VMs.
    pub pushed: std::sync::Mutex<std::collections::HashMap<i32, std::time::Instant>>,
    /// Guests of deleted VMs that hosts were asked to drop.
    pub zombies: zombies::Zombies,
}

impl Runtime {
    /// A runtime and the receiving end of its reply channel.
    pub fn new(config: RuntimeConfig) -> (Runtime, mpsc::UnboundedReceiver<Reply>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Runtime {
                drivers: Drivers::new(config.sim_delay, config.host_key.clone()),
                replies: tx,
                schedule: Arc::new(Notify::new()),
                monitor_now: Arc::new(Notify::new()),
                timer: Arc::new(Notify::new()),
                sg_updates: Arc::new(Notify::new()),
                config,
                pushed: std::sync::Mutex::default(),
                zombies: zombies::Zombies::default(),
            },
            rx,
        )
    }
}

/// Starts the background tasks of `core`, once the drivers know the guests they host (a
/// first monitoring round must not find a simulated host empty).
pub(crate) fn start(
    core: &Core,
    replies: mpsc::UnboundedReceiver<Reply>,
) -> nubo_types::Result<()> {
    drivers::restore_guests(core)?;
    tokio::spawn(reply_loop(core.clone(), replies));
    tokio::spawn(scheduler::run(core.clone()));
    tokio::spawn(monitor::run(core.clone()));
    tokio::spawn(timer::run(core.clone()));
    tokio::spawn(sg_updates::run(core.clone()));
    Ok(())
}

/// Applies driver replies in batches: one commit for all replies that are waiting.
async fn reply_loop(core: Core, mut rx: mpsc::UnboundedReceiver<Reply>) {
    const BATCH: usize = 1024;
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let replies = std::mem::take(&mut batch);
        if let Err(e) = core.driver_replies(replies).await {
            tracing::error!(error = %e, "cannot apply driver replies");
        }
    }
}

/// Whether NIC changes of a powered-off VM on `host` go through its driver (OpenNebula's
/// COLD_NIC_ATTACH, a static property of the VM_MAD): on the QEMU driver and host agents
/// (`kvm`, `qemu`: the guest's devices live in the spec saved on the host), on the
/// simulated driver (`dummy`, `sim`) when the host's template says SIM_COLD_NIC_ATTACH=YES
/// (as the simulated driver reads it), and in doubt (a VM_MAD with no driver here): the
/// driver path never leaves a host's saved spec stale. Read from the host alone, so the
/// write transaction that asks starts or configures no driver.
pub(crate) fn cold_nic_attach(host: &crate::model::Host) -> bool {
    match host.vm_mad.as_str() {
        "dummy" | "sim" => host
            .template
            .attrs
            .iter()
            .filter(|a| a.name == "SIM_COLD_NIC_ATTACH")
            .filter_map(|a| a.value.as_single())
            .next_back()
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("yes")),
        _ => true,
    }
}

impl Core {
    /// Carries out what a commit asked for: start driver operations, wake the scheduler.
    pub(crate) fn follow_up(&self, follow: Followup) {
        if follow.schedule {
            self.inner.runtime.schedule.notify_one();
        }
        for d in follow.dispatch {
            drivers::dispatch(self, d);
        }
    }

    /// Wakes the scheduler (capacity or hosts changed).
    pub(crate) fn wake_scheduler(&self) {
        self.inner.runtime.schedule.notify_one();
    }

    /// Forgets the driver of a deleted host.
    pub(crate) fn forget_driver(&self, host_id: i32) {
        self.inner.runtime.drivers.forget(host_id);
    }

    /// Wakes the timer of scheduled actions (one was added or changed).
    pub(crate) fn wake_timer(&self) {
        self.inner.runtime.timer.notify_one();
    }

    /// Wakes the security-group updater (a group's VMs became outdated).
    pub(crate) fn wake_sg_updates(&self) {
        self.inner.runtime.sg_updates.notify_one();
    }

    /// Asks for a monitoring round now (a host was added or changed).
    pub(crate) fn monitor_soon(&self) {
        self.inner.runtime.monitor_now.notify_one();
    }
}

impl Core {
    /// After a start: operations that were in flight when nubod stopped are started again
    /// (each driver operation is safe to repeat), pending VMs are scheduled and hosts
    /// monitored.
    pub(crate) fn resume_operations(&self) -> nubo_types::Result<()> {
        let dispatch = self.read(|state| {
            Ok(state
                .vms
                .values()
                .filter(|vm| vm.state == nubo_types::states::VmState::Active)
                .filter_map(|vm| {
                    // An in-place change waits for the operation its PendingChange names.
                    let op = nubo_lifecycle::pending_op(vm.lcm_state).or_else(|| {
                        vm.pending
                            .as_ref()
                            .map(|p| nubo_lifecycle::DriverOp::Reconfig(p.reconfig()))
                    })?;
                    let (host_id, target_host_id) = crate::ops::vm::op_hosts(vm, op)?;
                    Some(crate::ops::vm::Dispatch {
                        vm_id: vm.meta.id,
                        seq: vm.op_seq,
                        op,
                        host_id,
                        target_host_id,
                    })
                })
                .collect::<Vec<_>>())
        })?;
        self.follow_up(Followup {
            dispatch,
            schedule: true,
        });
        self.monitor_soon();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use nubo_types::states::HostState;

    use super::*;
    use crate::model::Host;

    fn host(vm_mad: &str, template: &str) -> Host {
        Host {
            id: 0,
            name: "h".into(),
            state: HostState::Monitored,
            prev_state: HostState::Monitored,
            im_mad: vm_mad.into(),
            vm_mad: vm_mad.into(),
            cluster_id: 0,
            cluster: "default".into(),
            share: Default::default(),
            vms: Default::default(),
            template: nubo_template::Template::parse(template).unwrap_or_default(),
            last_monitored: 0,
        }
    }

    #[test]
    fn cold_nic_attach_is_the_vm_mads() {
        // A QEMU host needs no reachable agent (nor a host key) to be known as cold.
        assert!(cold_nic_attach(&host("kvm", "")));
        assert!(cold_nic_attach(&host(
            "qemu",
            "HOSTD_ENDPOINT=\"not a url\""
        )));
        assert!(cold_nic_attach(&host("lxc", "")));
        assert!(!cold_nic_attach(&host("dummy", "")));
        assert!(!cold_nic_attach(&host("sim", "SIM_COLD_NIC_ATTACH=NO")));
        assert!(cold_nic_attach(&host("dummy", "SIM_COLD_NIC_ATTACH=yes")));
        assert!(cold_nic_attach(&host(
            "sim",
            "SIM_COLD_NIC_ATTACH=\" YES \""
        )));
    }
}
