//! The container driver: a VM placed on a host whose VM_MAD is `lxc` runs as an
//! unprivileged OCI container, started by an OCI runtime (runc; [`runtime`]) from a bundle
//! made for it ([`bundle`]): its root filesystem is its first disk's image with a
//! copy-on-write layer of its own ([`rootfs`]), its ids map onto a slot of host ids of its
//! own ([`idmap`]), its NICs are veths in a network namespace the agent owns, filtered as a
//! VM's taps ([`netns`]), its context reaches it as environment and files ([`context`]),
//! and its cgroup enforces VCPU, CPU, MEMORY and a pids limit. Containers outlive the
//! agent: the runtime keeps their state under the driver's state directory, where a
//! restarted agent finds them again.
//!
//! Life cycle as OpenNebula's LXC driver: deploy, shutdown (SIGTERM to the init, SIGKILL
//! after the timeout), poweroff, reboot, suspend and resume (the cgroup freezer), stop and
//! undeploy (the container's layer stays on the host), NIC hot-plug, disks attached,
//! detached and saved as new images while off ([`saveas`]); snapshots, disk snapshots and
//! resizes and live migration are refused with the reason. An init that ends by itself
//! leaves the VM powered off.

pub mod bundle;
mod cgroups;
pub mod context;
pub mod disks;
pub mod error;
pub mod exec;
pub mod idmap;
mod idmapped;
mod init_watch;
pub mod layout;
pub mod migration;
mod monitor;
mod mounts;
pub mod netns;
pub mod rootfs;
pub mod runtime;
pub mod saveas;
pub mod seccomp;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use nubo_driver::{
    BoxFuture, Change, ConsoleChunk, HostReport, Hypervisor, Operation, Outcome, Request, VmSpec,
};
use nubo_driver_kvm::cold_migration::FileTransport;
use nubo_driver_kvm::disks::ImageFiles;

use crate::error::LxcError;
use crate::layout::{ContainerDir, container_id};
use crate::runtime::{CreateFiles, Runtime};

/// The first host id of the containers' slots by default (2^27, a multiple of 65,536).
pub const DEFAULT_ID_BASE: u32 = 1 << 27;
/// The machine-wide registry of id slots by default.
pub const DEFAULT_ID_REGISTRY: &str = "/var/lib/nubo/lxc-id-slots";

/// Settings of the driver.
#[derive(Debug, Clone)]
pub struct LxcConfig {
    /// The OCI runtime's program (`runc`; `crun` or `youki` where they work).
    pub runtime: String,
    /// Where container directories (and the runtime's state) live.
    pub state_dir: PathBuf,
    /// How long an init gets to end after SIGTERM before it is killed.
    pub shutdown_timeout: Duration,
    /// The containers' id slots: the first host id and the machine-wide registry.
    pub ids: idmap::IdSlots,
    /// Most processes in one container.
    pub pids_limit: i64,
}

impl LxcConfig {
    /// Defaults with the given state directory.
    pub fn new(state_dir: PathBuf) -> LxcConfig {
        LxcConfig {
            runtime: "runc".into(),
            state_dir,
            shutdown_timeout: Duration::from_secs(60),
            ids: idmap::IdSlots {
                base: DEFAULT_ID_BASE,
                registry: PathBuf::from(DEFAULT_ID_REGISTRY),
            },
            pids_limit: 4096,
        }
    }
}

#[derive(Debug)]
struct Inner {
    config: LxcConfig,
    runtime: Arc<dyn Runtime>,
    images: Arc<dyn ImageFiles>,
    ledger: nubo_driver_kvm::ledger::Ledger,
    cpu_seen: Mutex<HashMap<i32, (u64, Instant)>>,
    execs: exec::Running,
    transport: OnceLock<Arc<dyn FileTransport>>,
    inits: init_watch::InitWatch,
}

/// The container driver of one host.
#[derive(Debug, Clone)]
pub struct LxcDriver {
    inner: Arc<Inner>,
}

/// How often a stopping container is looked at.
const POLL: Duration = Duration::from_millis(20);

impl LxcDriver {
    /// A driver keeping its containers under `config.state_dir`, finding image files with
    /// `images`, starting containers with `runtime`.
    pub fn new(
        config: LxcConfig,
        runtime: Arc<dyn Runtime>,
        images: Arc<dyn ImageFiles>,
    ) -> LxcDriver {
        LxcDriver {
            inner: Arc::new(Inner {
                config,
                runtime,
                images,
                ledger: Default::default(),
                cpu_seen: Mutex::new(HashMap::new()),
                execs: exec::Running::default(),
                transport: OnceLock::new(),
                inits: init_watch::InitWatch::default(),
            }),
        }
    }

    /// Lets containers' files move to and from other hosts with `transport` (cold
    /// migration); without one, cold migrations are refused. Set once.
    pub fn set_transport(&self, transport: Arc<dyn FileTransport>) {
        let _ = self.inner.transport.set(transport);
    }

    fn transport(&self) -> Result<&dyn FileTransport, LxcError> {
        self.inner
            .transport
            .get()
            .map(|t| t.as_ref())
            .ok_or_else(|| {
                LxcError::BadRequest(
                    "this host cannot move container files to other hosts (no transport)".into(),
                )
            })
    }

    /// Notified whenever the init of one of this driver's containers ends (the VM powered
    /// itself off, or was stopped): a reason to look at the containers now rather than at
    /// the next periodic look. One notification may stand for several ends.
    pub fn init_ends(&self) -> Arc<tokio::sync::Notify> {
        self.inner.inits.ended()
    }

    /// The files of VM `vm_id`'s container.
    pub fn dir(&self, vm_id: i32) -> ContainerDir {
        ContainerDir::new(&self.inner.config.state_dir, vm_id)
    }

    pub(crate) fn execs(&self) -> &exec::Running {
        &self.inner.execs
    }

    /// Carries out one operation while holding the VM's lock, then notes its number.
    pub async fn run(&self, request: Request) -> Result<String, LxcError> {
        let lock = self.inner.ledger.lock(request.vm_id);
        let _guard = lock.lock().await;
        let (vm_id, seq) = (request.vm_id, request.seq);
        let outcome = self.carry_out(request).await;
        self.inner
            .ledger
            .carried_out(&self.dir(vm_id).vm, vm_id, seq)
            .await;
        outcome
    }

    /// Runs a command in VM `vm_id`'s running container.
    pub async fn exec(
        &self,
        vm_id: i32,
        command: &runtime::ExecCommand,
    ) -> Result<runtime::ExecOutput, LxcError> {
        match self.status(vm_id).await.as_deref() {
            Some("running") => self.inner.runtime.exec(&container_id(vm_id), command).await,
            Some("paused") => Err(LxcError::BadRequest("the container is suspended".into())),
            _ => Err(LxcError::BadRequest("the container is not running".into())),
        }
    }

    /// The runtime's status of VM `vm_id`'s container (`None`: no container).
    pub async fn status(&self, vm_id: i32) -> Option<String> {
        match self.inner.runtime.state(&container_id(vm_id)).await {
            Ok(s) => s.map(|s| s.status),
            Err(e) => {
                tracing::warn!(vm_id, error = %e, "cannot ask the runtime for a container's state");
                None
            }
        }
    }

    async fn carry_out(&self, request: Request) -> Result<String, LxcError> {
        let vm_id = request.vm_id;
        let dir = self.dir(vm_id);
        let id = container_id(vm_id);
        let rt = self.inner.runtime.as_ref();
        match request.operation {
            Operation::Prolog => {
                let spec = need_spec(&request)?;
                dir.vm.create().await?;
                dir.vm.save_spec(spec).await?;
                let disk = rootfs::root_disk(&spec.disks)?;
                rootfs::fetch(
                    &self.inner.config.state_dir,
                    disk,
                    self.inner.images.as_ref(),
                )
                .await?;
                Ok(String::new())
            }
            Operation::Deploy => {
                if matches!(
                    self.status(vm_id).await.as_deref(),
                    Some("running" | "paused")
                ) {
                    return Ok(deploy_id(&request));
                }
                let spec = need_spec(&request)?;
                self.start(&dir, spec).await?;
                Ok(deploy_id(&request))
            }
            Operation::Shutdown => {
                self.stop(vm_id, true).await?;
                self.release(&dir).await;
                Ok(String::new())
            }
            Operation::Cancel => {
                self.stop(vm_id, false).await?;
                self.release(&dir).await;
                Ok(String::new())
            }
            Operation::Save => {
                match self.status(vm_id).await.as_deref() {
                    Some("running") => rt.pause(&id).await?,
                    Some("paused") => {}
                    _ => return Err(LxcError::BadRequest("the container is not running".into())),
                }
                let _ = tokio::fs::write(dir.frozen(), b"").await;
                Ok(String::new())
            }
            Operation::Restore => {
                match self.status(vm_id).await.as_deref() {
                    Some("paused") => rt.resume(&id).await?,
                    Some("running") => {}
                    // Stopped or undeployed: the container's processes are gone; it boots
                    // again on its kept layer.
                    _ => {
                        let spec = match request.spec.as_deref() {
                            Some(s) => s.clone(),
                            None => dir.vm.load_spec().await.ok_or_else(|| {
                                LxcError::BadRequest("no spec for the container to restore".into())
                            })?,
                        };
                        self.start(&dir, &spec).await?;
                    }
                }
                let _ = tokio::fs::remove_file(dir.frozen()).await;
                Ok(deploy_id(&request))
            }
            Operation::Reboot | Operation::Reset => {
                let spec = match dir.vm.load_spec().await {
                    Some(s) => s,
                    None => need_spec(&request)?.clone(),
                };
                self.stop(vm_id, request.operation == Operation::Reboot)
                    .await?;
                self.release(&dir).await;
                self.start(&dir, &spec).await?;
                Ok(String::new())
            }
            Operation::Migrate | Operation::MigrateIn => Err(LxcError::BadRequest(
                "live migration is not available for containers (migrate without --live)".into(),
            )),
            Operation::PrologMigrateOut => {
                // The container ends here; its layer goes.
                self.stop(vm_id, false).await?;
                self.release(&dir).await;
                let cfg = &self.inner.config;
                let offer = migration::offer(&dir, vm_id, &cfg.ids, self.transport()?).await?;
                serde_json::to_string(&offer).map_err(|e| LxcError::BadRequest(e.to_string()))
            }
            Operation::PrologMigrate => {
                let spec = need_spec(&request)?;
                let offer = request.migrate_uri.as_deref().ok_or_else(|| {
                    LxcError::BadRequest("PROLOG_MIGRATE needs the previous host's offer".into())
                })?;
                let offer: nubo_driver_kvm::cold_migration::Offer = serde_json::from_str(offer)
                    .map_err(|e| {
                        LxcError::BadRequest(format!("bad offer from the previous host: {e}"))
                    })?;
                if self.status(vm_id).await.is_some() {
                    return Err(LxcError::BadRequest(
                        "a container of this VM already runs on this host".into(),
                    ));
                }
                let cfg = &self.inner.config;
                migration::receive(
                    &dir,
                    &cfg.ids,
                    spec,
                    &offer,
                    self.transport()?,
                    self.inner.images.as_ref(),
                )
                .await?;
                let disk = rootfs::root_disk(&spec.disks)?;
                rootfs::fetch(&cfg.state_dir, disk, self.inner.images.as_ref()).await?;
                Ok(String::new())
            }
            Operation::Epilog | Operation::Cleanup => {
                self.stop(vm_id, false).await?;
                self.release(&dir).await;
                let keep = request.operation == Operation::Epilog
                    && request.spec.as_deref().is_some_and(|s| s.keep_files);
                if keep {
                    return Ok(String::new());
                }
                if !mounts::under(dir.root()).await.is_empty() {
                    return Err(LxcError::Rootfs(format!(
                        "{} still has mounts; it is kept",
                        dir.root().display()
                    )));
                }
                idmap::release(&dir, &self.inner.config.ids).await;
                dir.vm.remove().await?;
                Ok(String::new())
            }
            Operation::UpdateSecurityGroups => {
                let spec = need_spec(&request)?;
                let Some(Change::UpdateNic { nic_id }) = spec.change else {
                    return Err(LxcError::BadRequest(
                        "UPDATESG needs the NIC whose rules change".into(),
                    ));
                };
                if let Some(nic) = spec.nics.iter().find(|n| n.nic_id == nic_id)
                    && self.status(vm_id).await.is_some()
                {
                    nubo_driver_kvm::firewall::replace_rules(nic).await?;
                }
                Ok(String::new())
            }
            Operation::Exec => {
                let spec = need_spec(&request)?;
                let Some(Change::Exec(e)) = &spec.change else {
                    return Err(LxcError::BadRequest("EXEC needs the command to run".into()));
                };
                self.exec_start(vm_id, request.seq, e).await
            }
            Operation::ExecCancel => self.exec_cancel(vm_id).await,
            Operation::AttachNic | Operation::DetachNic | Operation::UpdateNic => {
                let spec = need_spec(&request)?;
                self.change_nic(vm_id, &dir, spec).await?;
                Ok(String::new())
            }
            Operation::Resize => {
                // New CPU, VCPU and MEMORY: the cgroup of a running container changes at
                // once; the spec kept on the host carries them to the next boot.
                let spec = need_spec(&request)?;
                let mut after = spec.clone();
                after.change = None;
                let live = rt.state(&id).await?;
                if live.is_some_and(|s| matches!(s.status.as_str(), "running" | "paused")) {
                    rt.update(&id, &bundle::limits(spec)).await?;
                }
                if tokio::fs::metadata(dir.root()).await.is_ok() {
                    dir.vm.save_spec(&after).await?;
                }
                Ok(String::new())
            }
            Operation::AttachDisk | Operation::DetachDisk => {
                let spec = need_spec(&request)?;
                self.change_disk(vm_id, &dir, spec).await?;
                Ok(String::new())
            }
            Operation::DiskSaveas => {
                let what = saveas::check(need_spec(&request)?)?;
                match self.status(vm_id).await.as_deref() {
                    None => {}
                    // An init that ended by itself: the container is off, its mounts go.
                    Some("stopped") => {
                        self.stop(vm_id, false).await?;
                        self.release(&dir).await;
                    }
                    Some(_) => {
                        return Err(LxcError::BadRequest(
                            "a container's disk is saved as an image only while the container \
                             is powered off (its filesystem is mounted in the running container)"
                                .into(),
                        ));
                    }
                }
                let transport = self.inner.transport.get().map(|t| t.as_ref());
                saveas::save(&dir, &what, transport).await?;
                Ok(String::new())
            }
            Operation::SnapshotCreate
            | Operation::SnapshotRevert
            | Operation::SnapshotDelete
            | Operation::DiskSnapshotCreate
            | Operation::DiskSnapshotRevert
            | Operation::DiskSnapshotDelete
            | Operation::DiskResize => Err(LxcError::BadRequest(format!(
                "{} is not available for containers",
                request.operation.name()
            ))),
        }
    }

    /// Attaches or detaches a disk of a container that is off (the next boot mounts what
    /// the spec kept on the host lists).
    async fn change_disk(
        &self,
        vm_id: i32,
        dir: &ContainerDir,
        spec: &VmSpec,
    ) -> Result<(), LxcError> {
        if self.status(vm_id).await.is_some() {
            return Err(LxcError::BadRequest(
                "disks are attached to and detached from a container while it is powered off"
                    .into(),
            ));
        }
        let mut after = spec.clone();
        after.change = None;
        match spec.change {
            Some(Change::AttachDisk { disk_id }) => {
                let d = spec
                    .disks
                    .iter()
                    .find(|d| d.disk_id == disk_id)
                    .ok_or_else(|| LxcError::BadRequest(format!("no DISK {disk_id} to attach")))?;
                dir.vm.create().await?;
                disks::prepare(dir, d, self.inner.images.as_ref()).await?;
            }
            Some(Change::DetachDisk { disk_id }) => {
                if let Some(d) = spec.disks.iter().find(|d| d.disk_id == disk_id) {
                    disks::remove(dir, d).await;
                }
                after.disks.retain(|d| d.disk_id != disk_id);
            }
            _ => return Err(LxcError::BadRequest("the disk change is missing".into())),
        }
        dir.vm.save_spec(&after).await?;
        Ok(())
    }

    /// Plugs, unplugs or refreshes a NIC of a running container; the spec kept on the host
    /// follows, so the next boot has the NICs the VM has.
    async fn change_nic(
        &self,
        vm_id: i32,
        dir: &ContainerDir,
        spec: &VmSpec,
    ) -> Result<(), LxcError> {
        let running = self.status(vm_id).await.is_some();
        let mut after = spec.clone();
        after.change = None;
        match spec.change {
            Some(Change::AttachNic { nic_id }) => {
                if running && let Some(nic) = spec.nics.iter().find(|n| n.nic_id == nic_id) {
                    let ctx = context::container_context(spec.context.as_ref());
                    netns::attach(dir, nic, &ctx).await?;
                }
            }
            Some(Change::DetachNic { nic_id }) => {
                if let Some(nic) = spec.nics.iter().find(|n| n.nic_id == nic_id) {
                    netns::detach(nic).await;
                }
                after.nics.retain(|n| n.nic_id != nic_id);
            }
            Some(Change::UpdateNic { nic_id }) => {
                if running && let Some(nic) = spec.nics.iter().find(|n| n.nic_id == nic_id) {
                    nubo_driver_kvm::firewall::refresh(nic).await?;
                    nubo_driver_kvm::spoofing::apply(std::slice::from_ref(nic)).await?;
                }
            }
            _ => return Err(LxcError::BadRequest("the NIC change is missing".into())),
        }
        if tokio::fs::metadata(dir.root()).await.is_ok() {
            dir.vm.save_spec(&after).await?;
        }
        Ok(())
    }

    /// Starts the container of `spec`: root filesystem, network, bundle, then the runtime.
    /// What was made is undone when a step fails.
    async fn start(&self, dir: &ContainerDir, spec: &VmSpec) -> Result<(), LxcError> {
        let vm_id = dir.vm_id;
        match self.try_start(dir, spec).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.inner.runtime.delete(&container_id(vm_id), true).await;
                self.release(dir).await;
                Err(e)
            }
        }
    }

    async fn try_start(&self, dir: &ContainerDir, spec: &VmSpec) -> Result<(), LxcError> {
        let cfg = &self.inner.config;
        let vm_id = dir.vm_id;
        let id = container_id(vm_id);
        dir.vm.create().await?;
        open_to_containers(dir).await?;
        dir.vm.save_spec(spec).await?;
        let _ = tokio::fs::remove_file(dir.powered_off()).await;
        let _ = tokio::fs::remove_file(dir.frozen()).await;
        // A container the runtime still knows (its init ended) goes first.
        if self.inner.runtime.state(&id).await?.is_some() {
            self.inner.runtime.delete(&id, true).await?;
        }
        let ids = idmap::assign(dir, &cfg.ids).await?;
        let disk = rootfs::root_disk(&spec.disks)?;
        let image = rootfs::fetch(&cfg.state_dir, disk, self.inner.images.as_ref()).await?;
        rootfs::mount(&cfg.state_dir, dir, &image, ids, rootfs::layer_mb(disk)).await?;
        let rootfs = dir.rootfs();
        let init = bundle::init_args(spec);
        let program = init.first().map(String::as_str).unwrap_or("/sbin/init");
        if tokio::fs::symlink_metadata(rootfs.join(program.trim_start_matches('/')))
            .await
            .is_err()
        {
            return Err(LxcError::Rootfs(if spec.os.init.is_some() {
                format!("the root filesystem has no {program} to run OS/INIT with")
            } else {
                format!("the root filesystem has no {program} (give the VM an OS/INIT command)")
            }));
        }
        if let Some(named) = bundle::init_program(spec)
            && !bundle::has_program(&rootfs, &named).await
        {
            return Err(LxcError::Rootfs(format!(
                "the root filesystem has no program \"{named}\" for OS/INIT"
            )));
        }
        let ctx = context::container_context(spec.context.as_ref());
        let mut binds = self.write_context_files(dir, spec, &ctx).await?;
        binds.extend(disks::mount_all(dir, &spec.disks, self.inner.images.as_ref(), ids).await?);
        let inputs = bundle::BundleInputs {
            ids,
            cgroup: dir.cgroup(),
            hostname: ctx
                .hostname
                .clone()
                .unwrap_or_else(|| deploy_name(spec, vm_id)),
            env: ctx.env.clone(),
            binds,
            pids_limit: cfg.pids_limit,
        };
        let config = bundle::config(spec, &inputs)?;
        let json = serde_json::to_vec_pretty(&config)
            .map_err(|e| LxcError::BadRequest(format!("container configuration: {e}")))?;
        let path = dir.bundle().join("config.json");
        tokio::fs::write(&path, json)
            .await
            .map_err(|e| LxcError::file(&path, e))?;
        let (pid, console) = (dir.pid(), dir.console_log());
        self.inner
            .runtime
            .create(
                &id,
                CreateFiles {
                    bundle: &dir.bundle(),
                    pid_file: &pid,
                    console: &console,
                },
            )
            .await?;
        let init_pid = tokio::fs::read_to_string(&pid)
            .await
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            .ok_or_else(|| LxcError::file(&pid, "the runtime wrote no pid"))?;
        self.inner.inits.watch(vm_id, init_pid);
        netns::adopt(dir, init_pid, &spec.nics, &ctx).await?;
        self.inner.runtime.start(&id).await
    }

    /// Writes the files bound into the container (context, hostname, resolv.conf); the
    /// binds.
    async fn write_context_files(
        &self,
        dir: &ContainerDir,
        spec: &VmSpec,
        ctx: &context::ContainerContext,
    ) -> Result<Vec<bundle::Bind>, LxcError> {
        let write = |path: PathBuf, text: String| async move {
            tokio::fs::write(&path, text)
                .await
                .map_err(|e| LxcError::file(&path, e))
        };
        let mut binds = Vec::new();
        let hostname = ctx
            .hostname
            .clone()
            .unwrap_or_else(|| deploy_name(spec, dir.vm_id));
        write(dir.hostname_file(), format!("{hostname}\n")).await?;
        binds.push(bundle::Bind::readonly(dir.hostname_file(), "/etc/hostname"));
        if !ctx.dns.is_empty() {
            let text: String = ctx
                .dns
                .iter()
                .map(|d| format!("nameserver {d}\n"))
                .collect();
            write(dir.resolv_conf(), text).await?;
            binds.push(bundle::Bind::readonly(
                dir.resolv_conf(),
                "/etc/resolv.conf",
            ));
        }
        if let Some(c) = &spec.context {
            let cdir = dir.context();
            let _ = tokio::fs::remove_dir_all(&cdir).await;
            tokio::fs::create_dir_all(&cdir)
                .await
                .map_err(|e| LxcError::file(&cdir, e))?;
            for (name, text) in &c.files {
                // Names come from the front-end; only plain file names are written.
                if name.is_empty() || name.contains('/') || name.starts_with('.') {
                    continue;
                }
                write(cdir.join(name), text.clone()).await?;
            }
            binds.push(bundle::Bind::readonly(cdir, "/context"));
        }
        Ok(binds)
    }

    /// Ends the container's processes: SIGTERM to the init and up to the shutdown timeout
    /// for it to end (`graceful`), then SIGKILL to everything left; the runtime forgets it.
    async fn stop(&self, vm_id: i32, graceful: bool) -> Result<(), LxcError> {
        let rt = self.inner.runtime.as_ref();
        let id = container_id(vm_id);
        let Some(state) = rt.state(&id).await? else {
            return Ok(());
        };
        if state.status == "paused" {
            rt.resume(&id).await?;
        }
        if graceful && matches!(state.status.as_str(), "running" | "paused") {
            let _ = rt.kill(&id, "TERM", false).await;
            let deadline = Instant::now() + self.inner.config.shutdown_timeout;
            while Instant::now() < deadline {
                match rt.state(&id).await? {
                    Some(s) if s.status != "stopped" => tokio::time::sleep(POLL).await,
                    _ => break,
                }
            }
        }
        rt.delete(&id, true).await
    }

    /// Gives back what a container held on the host besides its files: its network and
    /// mounts (its layer stays).
    async fn release(&self, dir: &ContainerDir) {
        let vm_id = dir.vm_id;
        let nics = dir.vm.load_spec().await.map(|s| s.nics).unwrap_or_default();
        netns::remove(dir, &nics).await;
        rootfs::unmount(&self.inner.config.state_dir, dir).await;
        let cgroup = dir.cgroup();
        let _ = tokio::task::spawn_blocking(move || cgroups::remove_parent_if_empty(&cgroup)).await;
        self.inner
            .cpu_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&vm_id);
    }
}

/// Lets the container's processes (unprivileged host users) pass through its directory to
/// its root filesystem and the files bound into it, without listing anything: the VM
/// directory, the one holding it and the state directory are `rwx--x--x`. The directories
/// above must be passable already (an operator's choice): a clear error says which is not.
async fn open_to_containers(dir: &ContainerDir) -> Result<(), LxcError> {
    use std::os::unix::fs::PermissionsExt;
    let ours: Vec<&Path> = dir.root().ancestors().take(3).collect();
    for path in &ours {
        tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(0o711))
            .await
            .map_err(|e| LxcError::file(path, e))?;
    }
    for above in dir.root().ancestors().skip(3) {
        let mode = tokio::fs::metadata(above)
            .await
            .map(|m| m.permissions().mode())
            .unwrap_or(0o755);
        if mode & 0o001 == 0 {
            return Err(LxcError::file(
                above,
                "containers' users cannot pass through it to the agent's state directory (chmod o+x)",
            ));
        }
    }
    Ok(())
}

fn need_spec(request: &Request) -> Result<&VmSpec, LxcError> {
    request.spec.as_deref().ok_or_else(|| {
        LxcError::BadRequest(format!(
            "{} needs the VM's description",
            request.operation.name()
        ))
    })
}

fn deploy_name(spec: &VmSpec, vm_id: i32) -> String {
    if spec.name.is_empty() {
        container_id(vm_id)
    } else {
        spec.name.clone()
    }
}

fn deploy_id(request: &Request) -> String {
    request
        .spec
        .as_deref()
        .map(|s| deploy_name(s, request.vm_id))
        .unwrap_or_else(|| container_id(request.vm_id))
}

impl Hypervisor for LxcDriver {
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

    /// The container's NICs live in the spec kept on the host, as a QEMU guest's do.
    fn cold_nic_attach(&self) -> bool {
        true
    }

    fn console(&self, vm_id: i32, offset: u64) -> BoxFuture<'static, Result<ConsoleChunk, String>> {
        let log = self.dir(vm_id).console_log();
        Box::pin(async move { nubo_driver_kvm::console::read(&log, offset).await })
    }

    fn run_check(
        &self,
        vm_id: i32,
        command: Vec<String>,
        timeout: std::time::Duration,
    ) -> BoxFuture<'static, Result<nubo_driver::CheckOutcome, String>> {
        let me = self.clone();
        Box::pin(async move {
            me.check_command(vm_id, command, timeout)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
