//! The local host (`--local-host`, `[local_host]`): this machine becomes a host of its own
//! cloud, so that one command gives a cloud that runs containers.
//!
//! On start nubod, acting as oneadmin through the core's own operations:
//! - creates, if missing, host [`LXC_HOST`] (IM_MAD and VM_MAD `lxc`) and, when
//!   `qemu-system-x86_64` is on PATH (or `kvm = true`), host [`KVM_HOST`] (`kvm`) in the
//!   default cluster;
//! - runs one `nubo-hostd` per such host (the binary beside nubod's own, else on PATH) as a
//!   child: its secret in `DATA_DIR/local-hosts/NAME.secret` (mode 600), its state in
//!   `DATA_DIR/local-hosts/NAME/`, its log in `DATA_DIR/local-hosts/NAME.log`, listening on
//!   a free port of 127.0.0.1 (recorded as the host's `HOSTD_ENDPOINT`, with `HYPERVISOR`
//!   `lxc` or `kvm` as OpenNebula's probes set it) and pushing its reports to nubod's host
//!   API. An agent that ends is started again after 1 s, doubling up to 60 s while it
//!   keeps failing within a minute. When nubod stops, the agents get
//!   SIGTERM (guests keep running; the next agent adopts them again). An agent left running
//!   by a nubod that was killed is stopped before its successor starts (`NAME.pid`);
//! - registers the container stack (`scripts/build-stack.sh`'s `debian-12.raw`, as soon as
//!   it is there) as image [`STACK_IMAGE`] (OS, non-persistent, raw, in the default image
//!   datastore, owned by oneadmin, usable by everyone: permissions 604) unless an image of
//!   that name exists;
//! - makes the apps network [`local_network::APPS_NETWORK`] and, as root, its bridge and
//!   outbound NAT on this machine (see [`local_network`]), before the agents start.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nubo_core::model::{Datastore, Host, Image};
use nubo_core::{Caller, Core};
use nubo_types::{ONEADMIN_GID, ONEADMIN_UID, Oid};
use tokio::sync::watch;

use crate::local_network;

/// The container host's name.
pub const LXC_HOST: &str = "local-lxc";
/// The QEMU host's name.
pub const KVM_HOST: &str = "local-kvm";
/// The name the container stack is registered under.
pub const STACK_IMAGE: &str = "debian-12";
/// The stack's file name, in `DATA_DIR/stacks/` and in `target/stack/`.
const STACK_FILE: &str = "debian-12.raw";
/// OpenNebula's default image datastore.
const IMAGE_DATASTORE: Oid = 1;
/// The host template attribute nubod reaches an agent at.
const ENDPOINT_ATTR: &str = "HOSTD_ENDPOINT";
/// The host template attribute naming its hypervisor, as OpenNebula's probes set it.
const HYPERVISOR_ATTR: &str = "HYPERVISOR";
/// How long an agent gets to stop after SIGTERM.
const STOP_WAIT: Duration = Duration::from_secs(10);
/// How often nubod looks for a container stack that is not there yet.
const STACK_POLL: Duration = Duration::from_secs(10);
/// Seconds a container of the local host gets between SIGTERM and SIGKILL.
const CONTAINER_STOP_GRACE_S: u64 = 30;
/// The longest pause between two starts of a failing agent.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What `[local_host]` and the flags ask for.
#[derive(Debug, Clone, Default)]
pub struct LocalHostSettings {
    /// The container stack to register (`--stack`, `stack`); by default the first of
    /// `DATA_DIR/stacks/debian-12.raw`, `./target/stack/debian-12.raw` and
    /// `../stack/debian-12.raw` beside nubod's executable that exists.
    pub stack: Option<PathBuf>,
    /// The `nubo-hostd` program (default: beside nubod's executable, else on PATH).
    pub hostd: Option<PathBuf>,
    /// Whether to run the QEMU host too (default: when `qemu-system-x86_64` is on PATH).
    pub kvm: Option<bool>,
}

/// Why the local hosts could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LocalHostError {
    /// No `nubo-hostd` program was found.
    #[error(
        "cannot find nubo-hostd beside nubod ({0}) or on PATH (build it: cargo build -p \
         nubo-hostd, with --release for a release nubod)"
    )]
    NoAgent(PathBuf),
    /// A host of the name exists, driven otherwise.
    #[error("host {name} exists with VM_MAD \"{found}\", not \"{wanted}\"; rename or delete it")]
    Mismatch {
        /// The host's name.
        name: String,
        /// Its VM_MAD.
        found: String,
        /// The VM_MAD the local host needs.
        wanted: &'static str,
    },
    /// The core refused an operation.
    #[error("{0}")]
    Core(#[from] nubo_types::Error),
    /// The apps network could not be made or set up on the host.
    #[error("{0}")]
    Network(#[from] local_network::NetworkError),
    /// A file could not be made, read or copied.
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// To which file.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, LocalHostError>;

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> LocalHostError {
    let path = path.to_path_buf();
    move |source| LocalHostError::Io { what, path, source }
}

/// One local host and how its agent runs.
#[derive(Debug, Clone)]
struct Agent {
    name: &'static str,
    driver: &'static str,
    host_id: Oid,
    program: PathBuf,
    dir: PathBuf,
    nubod_url: String,
}

/// The running agents' supervisors; [`LocalHosts::stopped`] waits for them to end.
#[derive(Debug)]
pub struct LocalHosts {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LocalHosts {
    /// Waits until every agent has stopped (after nubod's stop signal).
    pub async fn stopped(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Sets up the local hosts and starts their agents; `nubod_url` is nubod's host API as
/// the agents reach it, `stop` turns true when nubod stops.
pub async fn start(
    core: &Core,
    settings: &LocalHostSettings,
    data_dir: &Path,
    nubod_url: &str,
    stop: watch::Receiver<bool>,
) -> Result<LocalHosts> {
    let caller = oneadmin(core)?;
    let data_dir = std::fs::canonicalize(data_dir).map_err(io("resolve", data_dir))?;
    let program = agent_program(settings.hostd.as_deref())?;
    let root = rustix::process::geteuid().is_root();
    if !root {
        tracing::warn!(
            "nubod is not running as root: the local hosts' agents cannot make containers, \
             bridges or taps, nor nubod the apps network's bridge and NAT"
        );
    }
    // before the agents start: they find the apps network's bridge made and addressed
    let apps = local_network::ensure(core, &caller).await?;
    if root {
        local_network::set_up_host(&apps).await?;
    }
    let mut wanted = vec![(LXC_HOST, "lxc")];
    if settings
        .kvm
        .unwrap_or_else(|| on_path("qemu-system-x86_64").is_some())
    {
        wanted.push((KVM_HOST, "kvm"));
    }
    let base = data_dir.join("local-hosts");
    std::fs::create_dir_all(&base).map_err(io("create", &base))?;
    let mut tasks = Vec::new();
    for (name, driver) in wanted {
        let host_id = ensure_host(core, &caller, name, driver).await?;
        write_secret(&base, name, &core.config().runtime.host_key.secret_of(name))?;
        let agent = Agent {
            name,
            driver,
            host_id,
            program: program.clone(),
            dir: base.clone(),
            nubod_url: nubod_url.to_string(),
        };
        if driver == "lxc" {
            warn_unreachable(&base.join(name));
        }
        stop_leftover(&agent).await;
        tracing::info!(
            host = name,
            host_id,
            log = %base.join(format!("{name}.log")).display(),
            "running the local host's agent"
        );
        tasks.push(tokio::spawn(supervise(
            core.clone(),
            caller.clone(),
            agent,
            stop.clone(),
        )));
    }
    tasks.push(tokio::spawn(watch_stack(
        core.clone(),
        caller,
        settings.stack.clone(),
        data_dir,
        stop,
    )));
    Ok(LocalHosts { tasks })
}

/// oneadmin, as the core's checks know it.
fn oneadmin(core: &Core) -> Result<Caller> {
    Ok(core.read(|state| {
        let user = state.get::<nubo_core::model::User>(ONEADMIN_UID)?;
        let group = state.get::<nubo_core::model::Group>(ONEADMIN_GID)?;
        Ok(Caller {
            uid: ONEADMIN_UID,
            gid: ONEADMIN_GID,
            uname: user.name.clone(),
            gname: group.name.clone(),
            groups: [ONEADMIN_GID].into_iter().collect(),
        })
    })?)
}

/// `program` on PATH, if it is there.
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The configured `nubo-hostd`, else the one beside nubod's executable, else PATH's.
fn agent_program(configured: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = configured {
        return Ok(path.to_path_buf());
    }
    let beside = std::env::current_exe()
        .map(|exe| exe.with_file_name("nubo-hostd"))
        .unwrap_or_else(|_| PathBuf::from("nubo-hostd"));
    if beside.is_file() {
        return Ok(beside);
    }
    on_path("nubo-hostd").ok_or(LocalHostError::NoAgent(beside))
}

/// The id of host `name`, created with `driver` as IM_MAD and VM_MAD when missing.
async fn ensure_host(
    core: &Core,
    caller: &Caller,
    name: &'static str,
    driver: &'static str,
) -> Result<Oid> {
    let existing = core.read(|state| {
        Ok(state
            .hosts
            .values()
            .find(|h| h.name == name)
            .map(|h| (h.id, h.vm_mad.clone())))
    })?;
    match existing {
        Some((id, vm_mad)) if vm_mad == driver => Ok(id),
        Some((_, found)) => Err(LocalHostError::Mismatch {
            name: name.to_string(),
            found,
            wanted: driver,
        }),
        None => {
            let id = core.host_allocate(caller, name, driver, driver, -1).await?;
            tracing::info!(host = name, id, "created the local host");
            Ok(id)
        }
    }
}

/// Warns when a directory above `state_dir` is closed to other users: the containers'
/// root is an unprivileged user of the host, whose runtime must reach the bundles there.
fn warn_unreachable(state_dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let closed = state_dir
        .ancestors()
        .skip(1)
        .find(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 == 0));
    if let Some(dir) = closed {
        tracing::warn!(
            dir = %dir.display(),
            "containers cannot start under a directory other users cannot search \
             (chmod o+x it, or choose another --data-dir)"
        );
    }
}

/// Writes the agent's secret to `DIR/NAME.secret`, mode 600.
fn write_secret(dir: &Path, name: &str, secret: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = dir.join(format!("{name}.secret"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(io("write", &path))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| writeln!(file, "{secret}"))
        .map_err(io("write", &path))
}

/// The port of the host's recorded `HOSTD_ENDPOINT`, if any.
fn recorded_port(core: &Core, host_id: Oid) -> Option<u16> {
    core.read(|state| {
        Ok(state
            .get::<Host>(host_id)
            .ok()
            .and_then(|h| h.template.get(ENDPOINT_ATTR).map(str::to_owned)))
    })
    .ok()
    .flatten()
    .and_then(|endpoint| {
        endpoint
            .rsplit(':')
            .next()?
            .trim_end_matches('/')
            .parse()
            .ok()
    })
}

/// A free port on 127.0.0.1: `previous` while nothing else holds it.
fn free_port(previous: Option<u16>) -> Result<u16> {
    let bind = |port| std::net::TcpListener::bind(("127.0.0.1", port));
    if let Some(port) = previous
        && bind(port).is_ok()
    {
        return Ok(port);
    }
    bind(0)
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(io("bind", Path::new("127.0.0.1:0")))
}

/// Runs the agent of one host until `stop`, starting it again whenever it ends.
async fn supervise(core: Core, caller: Caller, agent: Agent, mut stop: watch::Receiver<bool>) {
    // The port the host's agent had (before a restart of nubod, say), kept while it is
    // free: operations under way go on reaching the agent where they left it.
    let mut port = recorded_port(&core, agent.host_id);
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = Instant::now();
        match run_once(&core, &caller, &agent, &mut port, &mut stop).await {
            Ok(Ended::Stopped) => return,
            Ok(Ended::Exited(status)) => {
                tracing::warn!(host = agent.name, %status, "the local host's agent ended")
            }
            Err(e) => tracing::error!(host = agent.name, error = %e, "cannot run the agent"),
        }
        if started.elapsed() > MAX_BACKOFF {
            backoff = Duration::from_secs(1);
        }
        tracing::info!(
            host = agent.name,
            in_s = backoff.as_secs(),
            "restarting the agent"
        );
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stopping(&mut stop) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Returns once nubod is stopping.
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// How one run of an agent ended.
enum Ended {
    /// nubod is stopping, and so did the agent.
    Stopped,
    /// It ended on its own.
    Exited(std::process::ExitStatus),
}

/// Starts the agent once and waits for it to end, or for nubod's stop (then stops it).
async fn run_once(
    core: &Core,
    caller: &Caller,
    agent: &Agent,
    port: &mut Option<u16>,
    stop: &mut watch::Receiver<bool>,
) -> Result<Ended> {
    let p = free_port(*port)?;
    *port = Some(p);
    let url = format!("http://127.0.0.1:{p}");
    let endpoint = url.clone();
    let hypervisor = agent.driver;
    core.edit_template::<Host, ()>(caller, agent.host_id, move |t| {
        if t.get(ENDPOINT_ATTR) != Some(endpoint.as_str()) {
            t.set(ENDPOINT_ATTR, endpoint);
        }
        // what `SCHED_REQUIREMENTS="HYPERVISOR=lxc"` (nubo vm create --hypervisor) matches
        if t.get(HYPERVISOR_ATTR).is_none() {
            t.set(HYPERVISOR_ATTR, hypervisor);
        }
        Ok(())
    })
    .await?;
    let name = agent.name;
    let state_dir = agent.dir.join(name);
    let log_path = agent.dir.join(format!("{name}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io("open", &log_path))?;
    let log_err = log.try_clone().map_err(io("open", &log_path))?;
    let mut command = tokio::process::Command::new(&agent.program);
    if agent.driver == "lxc" {
        // SIGTERM, then SIGKILL after 30 s, as Heroku and Cloud Foundry stop a process.
        command
            .arg("--shutdown-timeout")
            .arg(CONTAINER_STOP_GRACE_S.to_string());
    }
    let mut child = command
        .arg("--name")
        .arg(name)
        .arg("--driver")
        .arg(agent.driver)
        .arg("--listen")
        .arg(format!("127.0.0.1:{p}"))
        .arg("--advertise")
        .arg(&url)
        .arg("--secret-file")
        .arg(agent.dir.join(format!("{name}.secret")))
        .arg("--state-dir")
        .arg(&state_dir)
        .arg("--nubod")
        .arg(&agent.nubod_url)
        // the agent needs no cloud credentials
        .env_remove("NUBO_ADMIN_PASSWORD")
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log_err)
        // its own process group: a Ctrl-C in nubod's terminal reaches nubod only, which
        // then stops the agent itself
        .process_group(0)
        .spawn()
        .map_err(io("start", &agent.program))?;
    let pid_path = agent.dir.join(format!("{name}.pid"));
    let pid = child.id();
    if let Some(pid) = pid {
        std::fs::write(&pid_path, format!("{pid}\n")).map_err(io("write", &pid_path))?;
    }
    tracing::debug!(host = name, ?pid, listen = %url, "agent started");
    let ended = tokio::select! {
        status = child.wait() => Ended::Exited(status.map_err(io("wait for", &agent.program))?),
        () = stopping(stop) => {
            terminate(&mut child).await;
            Ended::Stopped
        }
    };
    let _ = std::fs::remove_file(&pid_path);
    Ok(ended)
}

/// SIGTERM, then SIGKILL if the agent is still there after [`STOP_WAIT`].
async fn terminate(child: &mut tokio::process::Child) {
    if let Some(pid) = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32))
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    if tokio::time::timeout(STOP_WAIT, child.wait()).await.is_err() {
        tracing::warn!("a local agent did not stop on SIGTERM; killing it");
        let _ = child.kill().await;
    }
}

/// Stops an agent of this host that a previous nubod (killed, so it could not stop it)
/// left running, as its pid file says, so that two agents never share a state directory.
async fn stop_leftover(agent: &Agent) {
    let pid_path = agent.dir.join(format!("{}.pid", agent.name));
    let Some(pid) = std::fs::read_to_string(&pid_path)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    else {
        return;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let ours = args.first().is_some_and(|a| a.ends_with(b"nubo-hostd"))
        && args
            .windows(2)
            .any(|w| w[0] == b"--name" && w[1] == agent.name.as_bytes());
    if let (true, Some(p)) = (ours, rustix::process::Pid::from_raw(pid)) {
        tracing::info!(
            host = agent.name,
            pid,
            "stopping the agent a previous nubod left"
        );
        let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
        let deadline = Instant::now() + STOP_WAIT;
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
    }
    let _ = std::fs::remove_file(&pid_path);
}

/// Registers the container stack once it is there (it may be built after nubod started),
/// unless an image already has its name; looks again every [`STACK_POLL`] until then.
async fn watch_stack(
    core: Core,
    caller: Caller,
    configured: Option<PathBuf>,
    data_dir: PathBuf,
    mut stop: watch::Receiver<bool>,
) {
    let mut told = false;
    loop {
        let taken =
            core.read(|state| Ok(state.images.values().any(|i| i.meta.name == STACK_IMAGE)));
        if taken.unwrap_or(true) {
            return;
        }
        if let Some(stack) = find_stack(configured.as_deref(), &data_dir) {
            match register_stack(&core, &caller, &stack).await {
                Ok(Some(id)) => tracing::info!(
                    image = STACK_IMAGE,
                    id,
                    from = %stack.display(),
                    "registered the container stack"
                ),
                Ok(None) => {}
                Err(e) => tracing::error!(
                    error = %e,
                    from = %stack.display(),
                    "cannot register the container stack"
                ),
            }
            return;
        }
        if !told {
            told = true;
            tracing::info!(
                stack = %configured.as_deref().unwrap_or(Path::new(STACK_FILE)).display(),
                "no container stack yet (build it with scripts/build-stack.sh, or pass \
                 --stack); it is registered as image {STACK_IMAGE} when it appears"
            );
        }
        tokio::select! {
            () = tokio::time::sleep(STACK_POLL) => {}
            () = stopping(&mut stop) => return,
        }
    }
}

/// The stack to register: the configured file, else the first default that exists.
fn find_stack(configured: Option<&Path>, data_dir: &Path) -> Option<PathBuf> {
    if let Some(path) = configured {
        return path.is_file().then(|| path.to_path_buf());
    }
    let mut candidates = vec![
        data_dir.join("stacks").join(STACK_FILE),
        PathBuf::from("target/stack").join(STACK_FILE),
    ];
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join("../stack").join(STACK_FILE));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// Registers `stack` as [`STACK_IMAGE`] unless an image has that name: the file is copied
/// into the default image datastore (where the core may take it as SOURCE whatever
/// directory the stack is in), then allocated and opened to every user (604).
async fn register_stack(core: &Core, caller: &Caller, stack: &Path) -> Result<Option<Oid>> {
    let (taken, ds) = core.read(|state| {
        let taken = state.images.values().any(|i| i.meta.name == STACK_IMAGE);
        Ok((taken, state.get::<Datastore>(IMAGE_DATASTORE)?.clone()))
    })?;
    if taken {
        return Ok(None);
    }
    let mut name = [0u8; 16];
    getrandom::fill(&mut name).map_err(|e| LocalHostError::Io {
        what: "name a copy of",
        path: stack.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    // 32 hex digits in the datastore's directory: a file the core deletes with the image
    let copy = Path::new(&ds.base_path).join(hex::encode(name));
    let bytes = tokio::fs::copy(stack, &copy)
        .await
        .map_err(io("copy", stack))?;
    let size_mb = bytes.div_ceil(1024 * 1024).max(1);
    let template = format!(
        "NAME=\"{STACK_IMAGE}\"\nTYPE=\"OS\"\nPERSISTENT=\"NO\"\nFORMAT=\"raw\"\n\
         SOURCE=\"{}\"\nSIZE=\"{size_mb}\"\n\
         DESCRIPTION=\"Debian 12 container stack (python3, nodejs, npm, tini, busybox)\"\n",
        copy.display()
    );
    let id = match core
        .image_allocate(caller, &template, IMAGE_DATASTORE, true)
        .await
    {
        Ok(id) => id,
        Err(e) => {
            let _ = tokio::fs::remove_file(&copy).await;
            return Err(e.into());
        }
    };
    // u m a / u m a / u m a: the owner uses and manages, everyone uses
    core.chmod::<Image>(caller, id, [1, 1, 0, 0, 0, 0, 1, 0, 0])
        .await?;
    Ok(Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_is_the_previous_one_while_it_is_free() {
        let port = free_port(None).expect("a free port");
        assert_eq!(free_port(Some(port)).expect("again"), port);
        let held = std::net::TcpListener::bind(("127.0.0.1", port)).expect("held");
        assert_ne!(free_port(Some(port)).expect("another"), port);
        drop(held);
    }

    #[test]
    fn the_secret_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        write_secret(dir.path(), "local-lxc", "s3cret").expect("written");
        let path = dir.path().join("local-lxc.secret");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "s3cret\n");
    }

    #[test]
    fn a_configured_stack_wins_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stack = dir.path().join("s.raw");
        assert_eq!(find_stack(Some(&stack), dir.path()), None);
        std::fs::write(&stack, b"x").expect("write");
        assert_eq!(find_stack(Some(&stack), dir.path()), Some(stack));
        std::fs::create_dir_all(dir.path().join("stacks")).expect("mkdir");
        let default = dir.path().join("stacks").join(STACK_FILE);
        std::fs::write(&default, b"x").expect("write");
        assert_eq!(find_stack(None, dir.path()), Some(default));
    }
}
