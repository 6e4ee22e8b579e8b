//! The driver of each host, made on first use from the host's `vm_mad`, and the dispatch
//! of one operation: build the request from the state, run it, send the reply back.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nubo_driver::{Hypervisor, Operation, Request};
use nubo_driver_sim::SimFleet;
use nubo_hostapi::{Endpoint, RemoteHost};
use nubo_lifecycle::{DriverOp, Reconfig};
use nubo_types::states::{LcmState, VmState};

use crate::Core;
use crate::model::{Host, Vm};
use crate::ops::vm::Dispatch;

/// One host's driver and the settings it was last configured with.
#[derive(Debug, Clone)]
struct Entry {
    driver: Arc<dyn Hypervisor>,
    settings: BTreeMap<String, String>,
}

/// The front-end's secret key, from which each host agent's secret is derived. Never
/// printed.
#[derive(Clone, Default)]
pub struct HostKey(pub Vec<u8>);

impl std::fmt::Debug for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostKey(..)")
    }
}

impl HostKey {
    /// The secret of host `name`'s agent.
    pub fn secret_of(&self, name: &str) -> String {
        nubo_hostapi::auth::host_secret(&self.0, name)
    }
}

/// The host template attribute that gives a host agent's address.
const ENDPOINT_ATTR: &str = "HOSTD_ENDPOINT";

/// Every host's driver.
#[derive(Debug)]
pub(crate) struct Drivers {
    fleet: SimFleet,
    key: HostKey,
    hosts: Mutex<HashMap<i32, Entry>>,
}

impl Drivers {
    pub fn new(sim_delay: Duration, key: HostKey) -> Drivers {
        Drivers {
            fleet: SimFleet::new(sim_delay),
            key,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// The agent of a host whose guests run under `nubo-hostd`.
    fn remote(&self, host: &Host) -> Result<Arc<dyn Hypervisor>, String> {
        if self.key.0.is_empty() {
            return Err("this front-end has no host key, so it cannot reach host agents".into());
        }
        let address = host
            .template
            .get(ENDPOINT_ATTR)
            .map(str::to_string)
            .unwrap_or_else(|| format!("http://{}:{}", host.name, nubo_hostapi::DEFAULT_PORT));
        let endpoint = Endpoint::parse(&address)?;
        Ok(Arc::new(RemoteHost::new(
            host.name.clone(),
            endpoint,
            self.key.secret_of(&host.name),
        )))
    }

    /// The driver of `host`, configured from its template; `Err` for a `vm_mad` that this
    /// nubod has no driver for.
    pub fn of(&self, host: &Host) -> Result<Arc<dyn Hypervisor>, String> {
        let settings: BTreeMap<String, String> = host
            .template
            .attrs
            .iter()
            .filter(|a| a.name.starts_with("SIM_") || a.name == ENDPOINT_ATTR)
            .filter_map(|a| Some((a.name.clone(), a.value.as_single()?.to_string())))
            .collect();
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let endpoint_changed = hosts
            .get(&host.id)
            .is_some_and(|e| e.settings.get(ENDPOINT_ATTR) != settings.get(ENDPOINT_ATTR));
        if endpoint_changed {
            hosts.remove(&host.id);
        }
        if let Some(entry) = hosts.get_mut(&host.id) {
            if entry.settings != settings {
                entry.driver.configure(&settings);
                entry.settings = settings;
            }
            return Ok(entry.driver.clone());
        }
        let driver: Arc<dyn Hypervisor> = match host.vm_mad.as_str() {
            "dummy" | "sim" => Arc::new(self.fleet.host(&host.name)),
            "kvm" | "qemu" | "lxc" => self.remote(host)?,
            other => {
                return Err(format!(
                    "no driver for VM_MAD \"{other}\" on this front-end"
                ));
            }
        };
        driver.configure(&settings);
        hosts.insert(
            host.id,
            Entry {
                driver: driver.clone(),
                settings,
            },
        );
        Ok(driver)
    }

    /// Forgets a deleted host's driver.
    pub fn forget(&self, host_id: i32) {
        self.hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&host_id);
    }
}

fn operation(op: DriverOp) -> Operation {
    match op {
        DriverOp::Prolog => Operation::Prolog,
        DriverOp::Deploy => Operation::Deploy,
        DriverOp::Shutdown => Operation::Shutdown,
        DriverOp::Cancel => Operation::Cancel,
        DriverOp::Save => Operation::Save,
        DriverOp::Restore => Operation::Restore,
        DriverOp::Migrate => Operation::Migrate,
        DriverOp::PrologMigrate => Operation::PrologMigrate,
        DriverOp::Epilog => Operation::Epilog,
        DriverOp::Reboot => Operation::Reboot,
        DriverOp::Reset => Operation::Reset,
        DriverOp::Cleanup => Operation::Cleanup,
        DriverOp::Reconfig(r) => match r {
            Reconfig::AttachDisk => Operation::AttachDisk,
            Reconfig::DetachDisk => Operation::DetachDisk,
            Reconfig::AttachNic => Operation::AttachNic,
            Reconfig::DetachNic => Operation::DetachNic,
            Reconfig::UpdateNic => Operation::UpdateNic,
            Reconfig::SecurityGroup => Operation::UpdateSecurityGroups,
            Reconfig::SnapshotCreate => Operation::SnapshotCreate,
            Reconfig::SnapshotRevert => Operation::SnapshotRevert,
            Reconfig::SnapshotDelete => Operation::SnapshotDelete,
            Reconfig::DiskSnapshotCreate => Operation::DiskSnapshotCreate,
            Reconfig::DiskSnapshotRevert => Operation::DiskSnapshotRevert,
            Reconfig::DiskSnapshotDelete => Operation::DiskSnapshotDelete,
            Reconfig::DiskResize => Operation::DiskResize,
            Reconfig::DiskSaveas => Operation::DiskSaveas,
            Reconfig::Resize => Operation::Resize,
            Reconfig::Exec => Operation::Exec,
            Reconfig::ExecCancel => Operation::ExecCancel,
        },
    }
}

/// A driver operation ready to run: the host's driver, the request, and for a migration
/// between host agents the other host's driver (a live migration's destination, a cold
/// migration's previous host).
type Prepared = (Arc<dyn Hypervisor>, Request, Option<Arc<dyn Hypervisor>>);

/// A request for `operation` on `vm` at `host` (operation number `seq`), without a spec,
/// a target host or a migration address.
pub(super) fn request_for(vm: &Vm, host: &Host, operation: Operation, seq: u64) -> Request {
    Request {
        vm_id: vm.meta.id,
        operation,
        deploy_id: vm.deploy_id.clone(),
        host: host.name.clone(),
        target_host: None,
        vcpu: vm.vcpu,
        memory_mb: u64::try_from(vm.memory_mb).unwrap_or(0),
        spec: None,
        migrate_uri: None,
        seq,
    }
}

/// Builds the request for `d` from the state, or the reason it cannot run.
fn request(core: &Core, d: &Dispatch) -> Result<Prepared, String> {
    core.read(|state| {
        let vm = state.get::<Vm>(d.vm_id)?;
        let host = state.get::<Host>(d.host_id)?;
        let target = d
            .target_host_id
            .and_then(|t| state.hosts.get(&t).map(|h| h.name.clone()));
        let driver = core.inner.runtime.drivers.of(host);
        let spec = match &driver {
            Ok(d) if d.wants_spec() => Some(Box::new(super::spec::build(
                state,
                vm,
                core.inner.runtime.config.host_api_url.as_deref(),
            ))),
            _ => None,
        };
        // A migration between agents needs the other host's agent too. (A resume whose
        // files were kept on a host deleted since starts afresh.)
        let target_host_id = d
            .target_host_id
            .filter(|t| d.op != DriverOp::Prolog || state.hosts.contains_key(t));
        let peer_driver = match (d.op, &spec, target_host_id) {
            (DriverOp::Migrate | DriverOp::PrologMigrate | DriverOp::Prolog, Some(_), Some(t)) => {
                Some(
                    state
                        .get::<Host>(t)
                        .map_err(|e| e.to_string())
                        .and_then(|h| core.inner.runtime.drivers.of(h)),
                )
            }
            _ => None,
        };
        Ok((
            driver,
            Request {
                target_host: target,
                spec,
                ..request_for(vm, host, operation(d.op), d.seq)
            },
            peer_driver,
        ))
    })
    .map_err(|e| e.to_string())
    .and_then(|(driver, request, peer)| Ok((driver?, request, peer.transpose()?)))
}

/// A live migration between two agents: the destination gets ready and says where to
/// send the guest, then the source sends it; if either fails, the destination drops what
/// it prepared.
async fn migrate_between(
    source: Arc<dyn Hypervisor>,
    target: Arc<dyn Hypervisor>,
    mut request: Request,
) -> Result<String, String> {
    let mut incoming = request.clone();
    incoming.operation = Operation::MigrateIn;
    let uri = match target.execute(incoming.clone()).await {
        Ok(uri) => uri,
        Err(e) => {
            // What the destination prepared (fresh disks) is of no use to anyone.
            drop_copy(
                &target,
                incoming,
                "the destination after a failed migration",
            )
            .await;
            return Err(format!("destination host: {e}"));
        }
    };
    request.migrate_uri = Some(uri);
    match source.execute(request).await {
        Ok(info) => Ok(info),
        Err(e) => {
            drop_copy(
                &target,
                incoming,
                "the destination after a failed migration",
            )
            .await;
            Err(e)
        }
    }
}

/// A cold migration between two agents: the previous host offers the VM's files, this
/// host fetches them, then the previous host drops its copy. If the fetch fails, the
/// previous host keeps everything (the VM can be recovered there) and this host drops
/// what it fetched.
async fn transfer_between(
    previous: Arc<dyn Hypervisor>,
    here: Arc<dyn Hypervisor>,
    mut request: Request,
) -> Result<String, String> {
    let mut out = request.clone();
    out.operation = Operation::PrologMigrateOut;
    if let Some(previous_name) = out.target_host.take() {
        out.target_host = Some(std::mem::replace(&mut out.host, previous_name));
    }
    let offer = previous
        .execute(out.clone())
        .await
        .map_err(|e| format!("previous host: {e}"))?;
    request.migrate_uri = Some(offer);
    match here.execute(request.clone()).await {
        Ok(info) => {
            drop_copy(&previous, out, "the previous host after a cold migration").await;
            Ok(info)
        }
        Err(e) => {
            drop_copy(&here, request, "this host after a failed cold migration").await;
            Err(e)
        }
    }
}

/// Has `host` drop what it holds of a VM that lives on elsewhere: a CLEANUP without the
/// VM's description (so nothing is sent back from there). A failure is only logged.
async fn drop_copy(host: &Arc<dyn Hypervisor>, mut request: Request, which: &str) {
    let vm_id = request.vm_id;
    request.operation = Operation::Cleanup;
    request.spec = None;
    if let Err(e) = host.execute(request).await {
        tracing::warn!(vm_id, error = %e, "cannot clean {which}");
    }
}

/// Starts one driver operation; its reply goes to the reply loop.
pub(crate) fn dispatch(core: &Core, d: Dispatch) {
    let replies = core.inner.runtime.replies.clone();
    match request(core, &d) {
        Ok((driver, request, peer)) => {
            tokio::spawn(async move {
                let outcome = match (request.operation, peer) {
                    (Operation::Migrate, Some(target)) => {
                        migrate_between(driver, target, request).await
                    }
                    (Operation::PrologMigrate, Some(previous)) => {
                        transfer_between(previous, driver, request).await
                    }
                    // A resume onto another host than the one that kept the VM's files
                    // moves them as a cold migration does.
                    (Operation::Prolog, Some(previous)) => {
                        let mut request = request;
                        request.operation = Operation::PrologMigrate;
                        transfer_between(previous, driver, request).await
                    }
                    _ => driver.execute(request).await,
                };
                let _ = replies.send((d.vm_id, d.seq, outcome));
            });
        }
        Err(message) => {
            let _ = replies.send((d.vm_id, d.seq, Err(message)));
        }
    }
}

/// Whether a VM in this phase has a guest on its host (running, or changing in place,
/// or being shut down, saved or migrated away).
fn has_guest(lcm: LcmState) -> bool {
    use LcmState as L;
    matches!(
        lcm,
        L::Running
            | L::Hotplug
            | L::HotplugNic
            | L::HotplugSnapshot
            | L::HotplugSaveas
            | L::HotplugResize
            | L::DiskSnapshot
            | L::DiskSnapshotDelete
            | L::DiskResize
            | L::Shutdown
            | L::ShutdownPoweroff
            | L::ShutdownUndeploy
            | L::SaveStop
            | L::SaveSuspend
            | L::SaveMigrate
            | L::Migrate
    )
}

/// After a start: tells each host's driver which guests the core knows to be on it (a
/// simulated host, which lives in this process, takes them back).
pub(crate) fn restore_guests(core: &Core) -> nubo_types::Result<()> {
    let by_host = core.read(|state| {
        let mut by_host: HashMap<i32, Vec<Request>> = HashMap::new();
        for vm in state.vms.values() {
            if vm.state != VmState::Active || !has_guest(vm.lcm_state) {
                continue;
            }
            let Some(current) = vm.current() else {
                continue;
            };
            let hid = match (&vm.migrating_from, vm.lcm_state) {
                (Some(from), LcmState::Migrate | LcmState::SaveMigrate) => from.hid,
                _ => current.hid,
            };
            let Some(host) = state.hosts.get(&hid) else {
                continue;
            };
            by_host.entry(hid).or_default().push(request_for(
                vm,
                host,
                Operation::Deploy,
                vm.op_seq,
            ));
        }
        Ok(by_host)
    })?;
    for (hid, guests) in by_host {
        let host = core.read(|s| s.get::<Host>(hid).cloned())?;
        if let Ok(driver) = core.inner.runtime.drivers.of(&host) {
            driver.restore(guests);
        }
    }
    Ok(())
}
