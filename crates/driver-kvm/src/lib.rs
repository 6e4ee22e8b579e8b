//! The QEMU driver: runs real guests on this host. Each VM gets a directory (its spec,
//! sockets, serial log, pid, disks, context cdrom), a QEMU started with `-daemonize` so it
//! outlives the agent, and a lock so that one operation at a time touches it. After a
//! restart the driver finds its guests again from those directories and pid files.
//! Acceleration is KVM when a probe shows it works, TCG otherwise ([`accel`]).

pub mod accel;
pub mod args;
pub mod changes;
pub mod cold_migration;
pub mod console;
pub mod disks;
pub mod error;
pub mod firewall;
pub mod guest;
pub mod layout;
pub mod ledger;
pub mod migration;
pub mod monitor;
pub mod network;
pub mod process;
pub mod qmp;
pub mod spoofing;
pub mod tools;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use nubo_driver::{
    BoxFuture, ConsoleChunk, HostReport, Hypervisor, Operation, Outcome, Request, VmSpec,
};
use tokio::sync::OnceCell;

use crate::accel::{Accel, AccelChoice};
use crate::args::{Incoming, Machine};
use crate::cold_migration::FileTransport;
use crate::disks::ImageFiles;
use crate::error::KvmError;
use crate::layout::VmDir;

/// Settings of the driver.
#[derive(Debug, Clone)]
pub struct KvmConfig {
    /// The QEMU program.
    pub qemu: String,
    /// Where VM directories live.
    pub state_dir: PathBuf,
    /// KVM, TCG or probe.
    pub accel: AccelChoice,
    /// TCG translation cache (MB per guest).
    pub tcg_tb_size_mb: u32,
    /// How long a guest may take to power off after ACPI before it is stopped hard.
    pub shutdown_timeout: Duration,
    /// How long a save, restore or migration may take.
    pub migrate_timeout: Duration,
    /// The address other hosts send live-migrating guests to (this host's address on
    /// the network between hosts).
    pub migration_address: String,
}

impl KvmConfig {
    /// Defaults with the given state directory.
    pub fn new(state_dir: PathBuf) -> KvmConfig {
        KvmConfig {
            qemu: "qemu-system-x86_64".into(),
            state_dir,
            accel: AccelChoice::Auto,
            tcg_tb_size_mb: 32,
            shutdown_timeout: Duration::from_secs(60),
            migrate_timeout: Duration::from_secs(600),
            migration_address: "127.0.0.1".into(),
        }
    }
}

#[derive(Debug)]
struct Inner {
    config: KvmConfig,
    accel: OnceCell<(Accel, String)>,
    ledger: ledger::Ledger,
    cpu_seen: Mutex<HashMap<i32, (u64, std::time::Instant)>>,
    images: Arc<dyn ImageFiles>,
    transport: OnceLock<Arc<dyn FileTransport>>,
}

/// The QEMU driver of one host.
#[derive(Debug, Clone)]
pub struct KvmDriver {
    inner: Arc<Inner>,
}

impl KvmDriver {
    /// A driver keeping its VMs under `config.state_dir`, finding image files with
    /// `images`.
    pub fn new(config: KvmConfig, images: Arc<dyn ImageFiles>) -> KvmDriver {
        KvmDriver {
            inner: Arc::new(Inner {
                config,
                accel: OnceCell::new(),
                ledger: ledger::Ledger::default(),
                cpu_seen: Mutex::new(HashMap::new()),
                images,
                transport: OnceLock::new(),
            }),
        }
    }

    /// Lets VM files move to and from other hosts with `transport` (cold migration);
    /// without one, cold migrations are refused. Set once.
    pub fn set_transport(&self, transport: Arc<dyn FileTransport>) {
        let _ = self.inner.transport.set(transport);
    }

    fn transport(&self) -> Result<&dyn FileTransport, KvmError> {
        self.inner
            .transport
            .get()
            .map(|t| t.as_ref())
            .ok_or_else(|| {
                KvmError::BadRequest(
                    "this host cannot move VM files to other hosts (no transport)".into(),
                )
            })
    }

    /// The acceleration in use and why (probed once).
    pub async fn accel(&self) -> (Accel, String) {
        self.inner
            .accel
            .get_or_init(|| accel::choose(self.inner.config.accel, &self.inner.config.qemu))
            .await
            .clone()
    }

    /// The files of VM `vm_id`.
    pub fn vm_dir(&self, vm_id: i32) -> VmDir {
        VmDir::new(&self.inner.config.state_dir, vm_id)
    }

    /// Carries out one operation while holding the VM's lock, then notes its number
    /// (`request.seq`) as the last one carried out on the VM.
    pub async fn run(&self, request: Request) -> Result<String, KvmError> {
        let lock = self.inner.ledger.lock(request.vm_id);
        let _guard = lock.lock().await;
        let (vm_id, seq) = (request.vm_id, request.seq);
        let outcome = self.carry_out(request).await;
        self.inner
            .ledger
            .carried_out(&self.vm_dir(vm_id), vm_id, seq)
            .await;
        outcome
    }

    /// The number of the last operation carried out on each VM (this run's, else the one
    /// its directory keeps).
    pub(crate) async fn last_seqs(&self, vm_ids: &[i32]) -> BTreeMap<i32, u64> {
        self.inner
            .ledger
            .last_seqs(&self.inner.config.state_dir, vm_ids)
            .await
    }

    async fn carry_out(&self, request: Request) -> Result<String, KvmError> {
        let dir = self.vm_dir(request.vm_id);
        let cfg = &self.inner.config;
        match request.operation {
            Operation::Prolog => {
                let spec = need_spec(&request)?;
                dir.create().await?;
                dir.save_spec(spec).await?;
                disks::prepare(&dir, &spec.disks, self.inner.images.as_ref()).await?;
                Ok(String::new())
            }
            Operation::Deploy => {
                if guest::running(&dir).is_some() {
                    return Ok(deploy_id(&request));
                }
                let spec = need_spec(&request)?;
                self.start(&dir, spec, &Incoming::Boot).await?;
                Ok(deploy_id(&request))
            }
            Operation::Shutdown => {
                let spec = dir.load_spec().await;
                guest::power_down(&dir, cfg.shutdown_timeout).await?;
                if let Some(spec) = spec {
                    network::unplug(&spec.nics).await;
                }
                Ok(String::new())
            }
            Operation::Cancel => {
                guest::stop_hard(&dir).await;
                if let Some(spec) = dir.load_spec().await {
                    network::unplug(&spec.nics).await;
                }
                Ok(String::new())
            }
            Operation::Save => {
                if guest::running(&dir).is_none() {
                    return Err(KvmError::Qemu("the VM is not running".into()));
                }
                qmp::run(&dir.qmp(), "stop", None).await?;
                let uri = format!("file:{}", dir.saved().display());
                if let Err(e) = guest::migrate_out(&dir, &uri, cfg.migrate_timeout).await {
                    let _ = qmp::run(&dir.qmp(), "cont", None).await;
                    let _ = tokio::fs::remove_file(dir.saved()).await;
                    return Err(e);
                }
                guest::stop_hard(&dir).await;
                if let Some(spec) = dir.load_spec().await {
                    network::unplug(&spec.nics).await;
                }
                Ok(String::new())
            }
            Operation::Restore => {
                if guest::running(&dir).is_some() {
                    return Ok(deploy_id(&request));
                }
                let spec = match request.spec.as_deref() {
                    Some(s) => s.clone(),
                    None => dir.load_spec().await.ok_or_else(|| {
                        KvmError::BadRequest("no spec for the VM to restore".into())
                    })?,
                };
                let saved = dir.saved();
                if tokio::fs::metadata(&saved).await.is_err() {
                    return Err(KvmError::file(&saved, "no saved memory to restore"));
                }
                let incoming = Incoming::File(saved.display().to_string());
                self.start(&dir, &spec, &incoming).await?;
                if let Err(e) = guest::resume_incoming(&dir, cfg.migrate_timeout).await {
                    guest::stop_hard(&dir).await;
                    return Err(e);
                }
                let _ = tokio::fs::remove_file(&saved).await;
                Ok(deploy_id(&request))
            }
            Operation::MigrateIn => {
                let spec = need_spec(&request)?;
                // A guest left from an earlier, failed attempt goes first.
                guest::stop_hard(&dir).await;
                let address = cfg.migration_address.clone();
                let at = |port: u16| {
                    if address.contains(':') {
                        format!("[{address}]:{port}")
                    } else {
                        format!("{address}:{port}")
                    }
                };
                let memory = at(free_port(&address)?);
                self.start(&dir, spec, &Incoming::Tcp(memory.clone()))
                    .await?;
                let disks = if spec
                    .disks
                    .iter()
                    .any(|d| migration::local_writable(&dir, d))
                {
                    let nbd = at(free_port(&address)?);
                    if let Err(e) =
                        migration::export_disks(&dir, spec, &nbd, cfg.migrate_timeout).await
                    {
                        guest::stop_hard(&dir).await;
                        network::unplug(&spec.nics).await;
                        return Err(e);
                    }
                    Some(nbd)
                } else {
                    None
                };
                let to = migration::Destination {
                    memory: format!("tcp:{memory}"),
                    disks,
                };
                Ok(to.to_text())
            }
            Operation::Migrate => {
                let to = request.migrate_uri.as_deref().ok_or_else(|| {
                    KvmError::BadRequest("MIGRATE needs the destination's address".into())
                })?;
                let to = migration::Destination::parse(to)?;
                if guest::running(&dir).is_none() {
                    return Err(KvmError::Qemu("the VM is not running here".into()));
                }
                let spec = match dir.load_spec().await {
                    Some(s) => s,
                    None => need_spec(&request)?.clone(),
                };
                migration::send(&dir, &spec, &to, cfg.migrate_timeout).await?;
                guest::stop_hard(&dir).await;
                network::unplug(&spec.nics).await;
                dir.remove().await?;
                Ok(String::new())
            }
            Operation::PrologMigrateOut => {
                let offer = cold_migration::offer(&dir, request.vm_id, self.transport()?).await?;
                serde_json::to_string(&offer).map_err(|e| KvmError::BadRequest(e.to_string()))
            }
            Operation::PrologMigrate => {
                let spec = need_spec(&request)?;
                let offer = request.migrate_uri.as_deref().ok_or_else(|| {
                    KvmError::BadRequest("PROLOG_MIGRATE needs the previous host's offer".into())
                })?;
                let offer: cold_migration::Offer = serde_json::from_str(offer).map_err(|e| {
                    KvmError::BadRequest(format!("bad offer from the previous host: {e}"))
                })?;
                cold_migration::receive(
                    &dir,
                    spec,
                    &offer,
                    self.transport()?,
                    self.inner.images.as_ref(),
                )
                .await?;
                Ok(String::new())
            }
            Operation::Reboot | Operation::Reset => {
                qmp::run(&dir.qmp(), "system_reset", None).await?;
                Ok(String::new())
            }
            Operation::Epilog | Operation::Cleanup => {
                guest::stop_hard(&dir).await;
                let saved = dir.load_spec().await;
                if let Some(spec) = &saved {
                    network::unplug(&spec.nics).await;
                }
                let keep = request.operation == Operation::Epilog
                    && request.spec.as_deref().is_some_and(|s| s.keep_files);
                if keep {
                    return Ok(String::new());
                }
                // With the VM's description the VM ends here (EPILOG, or CLEANUP when it
                // is deleted): persistent copies go back. A CLEANUP without one only drops
                // what this host holds of a VM that lives on elsewhere (after a migration).
                if let Some(spec) = request.spec.as_deref() {
                    let sent = self.send_back_persistent(&dir, spec).await;
                    match (request.operation, sent) {
                        (_, Ok(())) => {}
                        (Operation::Epilog, Err(e)) => return Err(e),
                        // Deleting the VM does not delete what it wrote into a persistent
                        // image: the copy stays on the host for an administrator.
                        (_, Err(e)) => {
                            tracing::warn!(vm_id = request.vm_id, error = %e, dir = %dir.root.display(),
                                "a persistent image's copy could not go back; its directory is kept");
                            return Ok(String::new());
                        }
                    }
                }
                dir.remove().await?;
                Ok(String::new())
            }
            Operation::UpdateSecurityGroups => {
                let spec = need_spec(&request)?;
                changes::new_rules(&dir, spec).await?;
                Ok(String::new())
            }
            Operation::Exec | Operation::ExecCancel => Err(KvmError::BadRequest(
                "running a command in a QEMU guest needs a guest agent, which this driver does not have"
                    .into(),
            )),
            Operation::AttachDisk
            | Operation::DetachDisk
            | Operation::AttachNic
            | Operation::DetachNic
            | Operation::UpdateNic
            | Operation::SnapshotCreate
            | Operation::SnapshotRevert
            | Operation::SnapshotDelete
            | Operation::DiskSnapshotCreate
            | Operation::DiskSnapshotRevert
            | Operation::DiskSnapshotDelete
            | Operation::DiskResize
            | Operation::DiskSaveas
            | Operation::Resize => {
                let spec = need_spec(&request)?;
                let change = spec.change.clone().ok_or_else(|| {
                    KvmError::BadRequest(format!(
                        "{} needs the change to make",
                        request.operation.name()
                    ))
                })?;
                dir.create().await?;
                let transport = self.inner.transport.get().map(|t| t.as_ref());
                let after =
                    changes::apply(&dir, spec, &change, self.inner.images.as_ref(), transport)
                        .await?;
                dir.save_spec(&after).await?;
                Ok(String::new())
            }
        }
    }

    /// Sends the copies of persistent images the VM worked on back to the front-end.
    async fn send_back_persistent(&self, dir: &VmDir, spec: &VmSpec) -> Result<(), KvmError> {
        let transport = self.inner.transport.get().map(|t| t.as_ref());
        for d in disks::persistent_copies(dir, &spec.disks) {
            changes::send_back(dir, d, transport).await?;
        }
        Ok(())
    }

    async fn start(&self, dir: &VmDir, spec: &VmSpec, incoming: &Incoming) -> Result<(), KvmError> {
        let (accel, _) = self.accel().await;
        let machine = Machine {
            accel,
            tcg_tb_size_mb: self.inner.config.tcg_tb_size_mb,
            dir,
        };
        match guest::start(
            &self.inner.config.qemu,
            &machine,
            spec,
            self.inner.images.as_ref(),
            incoming,
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                guest::stop_hard(dir).await;
                network::unplug(&spec.nics).await;
                Err(e)
            }
        }
    }

    /// Reports the host and its guests.
    pub async fn report(&self) -> HostReport {
        monitor::report(self).await
    }
}

fn need_spec(request: &Request) -> Result<&VmSpec, KvmError> {
    request.spec.as_deref().ok_or_else(|| {
        KvmError::BadRequest(format!(
            "{} needs the VM's description",
            request.operation.name()
        ))
    })
}

/// A TCP port free on `address` right now.
fn free_port(address: &str) -> Result<u16, KvmError> {
    let listener = std::net::TcpListener::bind((address, 0))
        .map_err(|e| KvmError::Qemu(format!("no free port on {address}: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| KvmError::Qemu(e.to_string()))
}

fn deploy_id(request: &Request) -> String {
    request
        .spec
        .as_deref()
        .map(|s| s.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("one-{}", request.vm_id))
}

impl Hypervisor for KvmDriver {
    fn execute(&self, request: Request) -> BoxFuture<'static, Outcome> {
        let me = self.clone();
        Box::pin(async move { me.run(request).await.map_err(|e| e.to_string()) })
    }

    fn monitor(&self) -> BoxFuture<'static, Result<HostReport, String>> {
        let me = self.clone();
        Box::pin(async move { Ok(me.report().await) })
    }

    fn configure(&self, _settings: &BTreeMap<String, String>) {}

    fn wants_spec(&self) -> bool {
        true
    }

    /// The guest's devices live in the spec saved on the host, so NICs of a powered-off
    /// VM change there too: the next boot brings them.
    fn cold_nic_attach(&self) -> bool {
        true
    }

    fn console(&self, vm_id: i32, offset: u64) -> BoxFuture<'static, Result<ConsoleChunk, String>> {
        let log = self.vm_dir(vm_id).serial_log();
        Box::pin(async move { console::read(&log, offset).await })
    }
}
