//! `nubo-bench-containers`: containers on one host (root, runc, a static busybox, mke2fs,
//! nft). Measures, each against a baseline taken in the same run:
//!
//! 1. the container driver alone (`LxcDriver`, in this process): `run(DEPLOY)` after
//!    PROLOG until the init's first line is in console.log, against plain `runc run -d` of
//!    the same bundle (same config.json, same id-mapped overlay root, prepared untimed),
//!    and the split of a deploy into its steps (the driver's public pieces called in the
//!    driver's order, each timed);
//! 2. through a release nubod and `nubo-hostd --driver lxc`: `template.instantiate` until
//!    `vm.info` says RUNNING, with the agent's log giving when PROLOG and DEPLOY ran;
//! 3. `--density` small containers (MEMORY=32, an init that sleeps) at once: time until
//!    all RUNNING, memory per container, the machine's CPU while they idle, then
//!    terminate-hard for all and a look for anything left;
//! 4. shutdown of a container whose init honours SIGTERM: the driver's SHUTDOWN against
//!    `runc kill TERM`, and `vm.action poweroff` until POWEROFF.
//!
//! Prints a Markdown report for docs/benchmarks.md; progress goes to standard error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;
use nubo_bench::machine::{
    exec_cost, host_cpu_seconds, median, mem_available_kib, meminfo_kib, ms,
    process_tree_cpu_seconds, range, wait_every, wait_line,
};
use nubo_bench::nubod;
use nubo_client::Client;
use nubo_driver::{
    DiskKind, DiskSource, DiskSpec, FirewallRule, NicSpec, Operation, Request, VmSpec,
};
use nubo_driver_kvm::disks::SharedFiles;
use nubo_driver_lxc::idmap::IdSlots;
use nubo_driver_lxc::layout::{ContainerDir, agent_key, container_id};
use nubo_driver_lxc::runtime::{CreateFiles, OciCli, Runtime};
use nubo_driver_lxc::{LxcConfig, LxcDriver, bundle, context, idmap, netns, rootfs};
use nubo_xmlrpc::Value;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "Benchmarks containers: the lxc driver, and nubod with nubo-hostd --driver lxc")]
struct Args {
    /// The nubod binary.
    #[arg(long, default_value = "target/release/nubod")]
    nubod: PathBuf,
    /// The nubo-hostd binary.
    #[arg(long, default_value = "target/release/nubo-hostd")]
    hostd: PathBuf,
    /// Runs measured each way (medians are reported).
    #[arg(long, default_value_t = 11)]
    runs: usize,
    /// Containers to run at once for the density measurement (0: skip it).
    #[arg(long, default_value_t = 500)]
    density: usize,
    /// Only the driver-level figures (no nubod, no nubo-hostd).
    #[arg(long)]
    driver_only: bool,
}

/// The test bridge the containers' NICs join.
const BRIDGE: &str = "nbbench0";
/// What a measured init prints first.
const LINE: &str = "CT-UP";
/// An init that prints a line and sleeps (SIGTERM does not end it: it is pid 1).
const INIT_FIRST: &str = "echo CT-UP; exec sleep 3600";
/// An init that ends on SIGTERM.
const INIT_TERM: &str = "trap 'exit 0' TERM; echo CT-UP; while :; do sleep 1 & wait $!; done";
/// The density containers' init: one sleeping process.
const INIT_SLEEP: &str = "exec sleep 86400";
/// Host ids of the containers' user namespaces, as the agent's default.
const ID_BASE: u32 = nubo_driver_lxc::DEFAULT_ID_BASE;

fn main() -> Result<()> {
    let args = Args::parse();
    if !Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
    {
        bail!("run as root: containers need mounts, cgroups and network namespaces");
    }
    let work = tempfile::Builder::new()
        .prefix("nubo-bench-ct-")
        .tempdir()?;
    chmod_711(work.path())?;
    let _cleanup = Cleanup {
        work: work.path().to_path_buf(),
    };
    sh(&format!(
        "ip link del {BRIDGE} 2>/dev/null; ip link add {BRIDGE} type bridge && \
         ip addr add 10.231.99.1/24 dev {BRIDGE} && ip link set {BRIDGE} up"
    ))?;
    let image = nubo_bench::busybox::image(work.path())?;
    let machine = machine_line();
    eprintln!("machine: {machine}");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let drv = rt.block_on(driver_figures(&args, work.path(), &image))?;
    let mut report = Report::default();
    drv.print(&mut report, args.runs);
    if !args.driver_only {
        nubod_figures(&args, work.path(), &image, &mut report)?;
    }
    println!("Machine: {machine}; {}\n", chrono_now());
    println!("| measurement | result |\n|---|---|");
    for (what, result) in &report.rows {
        println!("| {what} | {result} |");
    }
    for note in &report.notes {
        println!("\n{note}");
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Report {
    rows: Vec<(String, String)>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, what: impl Into<String>, result: impl Into<String>) {
        let (what, result) = (what.into(), result.into());
        eprintln!("  {what}: {result}");
        self.rows.push((what, result));
    }
}

fn med_range(v: &[Duration]) -> String {
    let (lo, hi) = range(v);
    format!("{} ms ({}–{})", ms(median(v)), ms(lo), ms(hi))
}

/// Removes what the benchmark left when it ends or fails half-way: containers of the runc
/// state directories under the work directory, their network namespaces, veths and
/// cgroups, the mounts under the work directory and the test bridge.
struct Cleanup {
    work: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let w = self.work.display().to_string();
        let keys = format!(
            "{}|{}",
            agent_key(&self.work.join("driver-state")),
            agent_key(&self.work.join("hostd-state"))
        );
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "for root in {w}/*/runtime; do [ -d \"$root\" ] || continue; \
                   for c in $(ls \"$root\"); do runc --root \"$root\" delete --force \"$c\"; \
                   done; done 2>/dev/null; \
                 for n in $(ip netns list | awk '{{print $1}}' | grep -E '^nubo-({keys})-'); do \
                   ip netns del $n; done 2>/dev/null; \
                 for k in $(echo '{keys}' | tr '|' ' '); do \
                   rmdir /sys/fs/cgroup/*/nubo/$k/one-* /sys/fs/cgroup/*/nubo/$k; done 2>/dev/null; \
                 grep -o ' {w}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l; \
                 for l in $(ip -o link | grep -o 'lxcb-[0-9]*-0'); do ip link del $l; done 2>/dev/null; \
                 ip link del {BRIDGE} 2>/dev/null; true"
            ))
            .status();
    }
}

fn sh(cmd: &str) -> Result<String> {
    let out = Command::new("sh").args(["-c", cmd]).output()?;
    if !out.status.success() {
        bail!("{cmd}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The id slots of the benchmark's own containers: the agent's defaults (first id and the
/// machine-wide registry of claims, so they never share ids with an agent's).
fn slots() -> IdSlots {
    IdSlots {
        base: ID_BASE,
        registry: PathBuf::from(nubo_driver_lxc::DEFAULT_ID_REGISTRY),
    }
}

fn chmod_711(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o711))?;
    Ok(())
}

fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = meminfo_kib("MemTotal:").unwrap_or(0) / 1024;
    let kernel = sh("uname -r").unwrap_or_default();
    let runc = sh("runc --version | head -1").unwrap_or_default();
    let distro = sh(". /etc/os-release && echo \"$PRETTY_NAME\"").unwrap_or_default();
    let cgroup = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "cgroup v2"
    } else {
        "cgroup v1"
    };
    format!(
        "{cores} × {cpu}, {mem} MiB, {}, Linux {}, {}, {cgroup}",
        distro.trim(),
        kernel.trim(),
        runc.trim()
    )
}

fn chrono_now() -> String {
    sh("date -u '+%Y-%m-%d %H:%M UTC'")
        .unwrap_or_default()
        .trim()
        .to_string()
}

// ---------------------------------------------------------------------------------------
// 1 and 4, the driver alone.

fn spec(vm_id: i32, image: &Path, init: &str, nic: bool) -> VmSpec {
    let n = 2 + vm_id.rem_euclid(250);
    VmSpec {
        name: format!("one-{vm_id}"),
        vcpu: 1,
        cpu_hundredths: 10,
        memory_mb: 32,
        os: nubo_driver::OsSpec {
            init: Some(init.into()),
            ..nubo_driver::OsSpec::default()
        },
        disks: vec![DiskSpec {
            disk_id: 0,
            kind: DiskKind::Disk,
            source: DiskSource::Image {
                image_id: 0,
                url: String::new(),
                path: image.display().to_string(),
                sha256: String::new(),
                format: "raw".into(),
                persistent: false,
            },
            target: "vda".into(),
            readonly: false,
            size_mb: None,
        }],
        nics: if nic {
            vec![NicSpec {
                nic_id: 0,
                mac: format!("02:00:0a:e7:63:{n:02x}"),
                ip: Some(format!("10.231.99.{n}")),
                bridge: Some(BRIDGE.into()),
                vn_mad: "bridge".into(),
                target: format!("lxcb-{vm_id}-0"),
                // As nubod sends a NIC of a network with the default security group
                // (everything allowed, through the host's nft filter) and no
                // anti-spoofing.
                filtered: true,
                rules: ["outbound", "inbound"]
                    .into_iter()
                    .map(|d| FirewallRule {
                        direction: d.into(),
                        protocol: "ALL".into(),
                        ..FirewallRule::default()
                    })
                    .collect(),
                ..NicSpec::default()
            }]
        } else {
            Vec::new()
        },
        ..VmSpec::default()
    }
}

fn request(vm_id: i32, operation: Operation, spec: &VmSpec) -> Request {
    Request {
        vm_id,
        operation,
        deploy_id: String::new(),
        host: "here".into(),
        target_host: None,
        vcpu: spec.vcpu,
        memory_mb: spec.memory_mb,
        spec: Some(Box::new(spec.clone())),
        migrate_uri: None,
        seq: 0,
    }
}

#[derive(Debug, Default)]
struct DriverFigures {
    first_deploy: Duration,
    baseline: Vec<Duration>,
    nubo_return: Vec<Duration>,
    nubo_line: Vec<Duration>,
    nubo_unfiltered: Vec<Duration>,
    phases: BTreeMap<&'static str, Vec<Duration>>,
    phased_total: Vec<Duration>,
    runc_state: Vec<Duration>,
    exec_ip: Duration,
    exec_true: Duration,
    shutdown_driver: Vec<Duration>,
    shutdown_runc: Vec<Duration>,
    leftovers: Vec<String>,
}

const PHASES: [(&str, &str); 9] = [
    (
        "state",
        "two `runc state` (is it running? does runc still know it?)",
    ),
    ("files", "directory, spec, id slot"),
    (
        "rootfs",
        "root filesystem: id-mapped bind of the shared image + overlay",
    ),
    ("bundle", "context files + config.json"),
    ("create", "`runc create`"),
    (
        "net",
        "netns attach + lo + veth on the bridge + MAC/IP (1 NIC)",
    ),
    (
        "sg",
        "security-group nft rules of that NIC (`firewall::apply`)",
    ),
    ("start", "`runc start`"),
    ("line", "start returned → first line in console.log"),
];

impl DriverFigures {
    fn print(&self, r: &mut Report, runs: usize) {
        r.row(
            format!("1a. baseline: `runc run -d` of the same bundle (prepared) → first line (median of {runs})"),
            med_range(&self.baseline),
        );
        let target = Duration::from_millis(150);
        let m = median(&self.nubo_line);
        r.row(
            format!(
                "1b. `LxcDriver::run(DEPLOY)` (after PROLOG, 1 NIC) → first line (median of {runs})"
            ),
            format!(
                "{} — {:.1}× the baseline; target ≤ 150 ms: {}",
                med_range(&self.nubo_line),
                m.as_secs_f64() / median(&self.baseline).as_secs_f64().max(1e-9),
                if m <= target { "met" } else { "**missed**" }
            ),
        );
        r.row(
            "1b. of which DEPLOY returned (median)",
            format!("{} ms", ms(median(&self.nubo_return))),
        );
        r.row(
            "1b′. the same, the NIC in no security group (no nft rules)",
            med_range(&self.nubo_unfiltered),
        );
        r.row(
            "1c. first container of an image on the host (loop mount of the image included)",
            format!("{} ms (one run)", ms(self.first_deploy)),
        );
        for (key, what) in PHASES {
            if let Some(v) = self.phases.get(key) {
                r.row(format!("1d. split: {what}"), med_range(v));
            }
        }
        r.row(
            "1d. split: sum of the steps (median)",
            format!("{} ms", ms(median(&self.phased_total))),
        );
        r.row(
            "one `runc state` of a running container (median)",
            med_range(&self.runc_state),
        );
        r.row(
            "one `ip link show dev lo` / one `/bin/true`, spawned and waited for (median of 20)",
            format!("{} ms / {} ms", ms(self.exec_ip), ms(self.exec_true)),
        );
        r.row(
            format!(
                "4a. baseline: `runc kill TERM` → init gone (TERM-honouring init, median of {runs})"
            ),
            med_range(&self.shutdown_runc),
        );
        r.row(
            format!("4b. `LxcDriver::run(SHUTDOWN)` of the same (TERM, wait, delete, network and mounts released; median of {runs})"),
            med_range(&self.shutdown_driver),
        );
        if !self.leftovers.is_empty() {
            r.row(
                "driver-level leftovers after all",
                self.leftovers.join("; "),
            );
        }
    }
}

async fn driver_figures(args: &Args, work: &Path, image: &Path) -> Result<DriverFigures> {
    let state = work.join("driver-state");
    chmod_711(&state)?;
    let runtime = OciCli::new("runc", state.join("runtime"));
    let mut config = LxcConfig::new(state.clone());
    config.shutdown_timeout = Duration::from_secs(10);
    config.ids = slots();
    let d = LxcDriver::new(config, Arc::new(runtime.clone()), Arc::new(SharedFiles));
    let mut f = DriverFigures {
        exec_ip: exec_cost("ip", &["link", "show", "dev", "lo"], 20),
        exec_true: exec_cost("true", &[], 20),
        ..DriverFigures::default()
    };

    // The first container of the image keeps it mounted (as on a host that runs others).
    eprintln!("driver: first container");
    let anchor = 70_000;
    let s = spec(anchor, image, INIT_FIRST, true);
    d.run(request(anchor, Operation::Prolog, &s)).await?;
    let t = Instant::now();
    d.run(request(anchor, Operation::Deploy, &s)).await?;
    wait_line(&d.dir(anchor).console_log(), LINE, Duration::from_secs(20))?;
    f.first_deploy = t.elapsed();

    for i in 0..args.runs {
        let i = i32::try_from(i)?;
        eprintln!("driver: run {}", i + 1);
        // (a) plain runc run -d of a bundle prepared beforehand.
        let vm_id = 72_000 + i;
        let s = spec(vm_id, image, INIT_FIRST, false);
        let dir = prepare(&state, vm_id, &s, &mut BTreeMap::new()).await?;
        let t = Instant::now();
        runc_run(&runtime.root, &dir, vm_id)?;
        wait_line(&dir.console_log(), LINE, Duration::from_secs(20))?;
        f.baseline.push(t.elapsed());
        let t = Instant::now();
        runtime.state(&container_id(vm_id)).await?;
        f.runc_state.push(t.elapsed());
        undo(&runtime, &state, &dir, vm_id, &s).await;

        // (b) the driver's DEPLOY.
        let vm_id = 71_000 + i;
        let s = spec(vm_id, image, INIT_FIRST, true);
        d.run(request(vm_id, Operation::Prolog, &s)).await?;
        let t = Instant::now();
        d.run(request(vm_id, Operation::Deploy, &s)).await?;
        f.nubo_return.push(t.elapsed());
        wait_line(&d.dir(vm_id).console_log(), LINE, Duration::from_secs(20))?;
        f.nubo_line.push(t.elapsed());
        d.run(request(vm_id, Operation::Cancel, &s)).await?;
        d.run(request(vm_id, Operation::Epilog, &s)).await?;

        // (b') the same with a NIC that no security group filters.
        let vm_id = 76_000 + i;
        let mut s = spec(vm_id, image, INIT_FIRST, true);
        for nic in &mut s.nics {
            nic.filtered = false;
        }
        d.run(request(vm_id, Operation::Prolog, &s)).await?;
        let t = Instant::now();
        d.run(request(vm_id, Operation::Deploy, &s)).await?;
        wait_line(&d.dir(vm_id).console_log(), LINE, Duration::from_secs(20))?;
        f.nubo_unfiltered.push(t.elapsed());
        d.run(request(vm_id, Operation::Cancel, &s)).await?;
        d.run(request(vm_id, Operation::Epilog, &s)).await?;

        // (c) the same steps one by one.
        let vm_id = 73_000 + i;
        let s = spec(vm_id, image, INIT_FIRST, true);
        let mut phases = BTreeMap::new();
        let t = Instant::now();
        let dir = prepare(&state, vm_id, &s, &mut phases).await?;
        let id = container_id(vm_id);
        let step = Instant::now();
        runtime
            .create(
                &id,
                CreateFiles {
                    bundle: &dir.bundle(),
                    pid_file: &dir.pid(),
                    console: &dir.console_log(),
                },
            )
            .await?;
        phases.insert("create", step.elapsed());
        let pid: u32 = std::fs::read_to_string(dir.pid())?.trim().parse()?;
        // The network as the driver plugs it, the security groups' rules timed apart.
        let step = Instant::now();
        let ctx = context::container_context(None);
        let mut unfiltered = s.nics.clone();
        for nic in &mut unfiltered {
            nic.filtered = false;
        }
        netns::adopt(&dir, pid, &unfiltered, &ctx).await?;
        phases.insert("net", step.elapsed());
        let step = Instant::now();
        nubo_driver_kvm::firewall::apply(&s.nics).await?;
        phases.insert("sg", step.elapsed());
        let step = Instant::now();
        runtime.start(&id).await?;
        phases.insert("start", step.elapsed());
        phases.insert(
            "line",
            wait_line(&dir.console_log(), LINE, Duration::from_secs(20))?,
        );
        f.phased_total.push(t.elapsed());
        for (k, v) in phases {
            f.phases.entry(k).or_default().push(v);
        }
        undo(&runtime, &state, &dir, vm_id, &s).await;
    }

    for i in 0..args.runs {
        let i = i32::try_from(i)?;
        eprintln!("driver: shutdown {}", i + 1);
        // (4a) runc kill TERM on a TERM-honouring init, until it is gone.
        let vm_id = 74_000 + i;
        let s = spec(vm_id, image, INIT_TERM, false);
        let dir = prepare(&state, vm_id, &s, &mut BTreeMap::new()).await?;
        runc_run(&runtime.root, &dir, vm_id)?;
        wait_line(&dir.console_log(), LINE, Duration::from_secs(20))?;
        let pid: u32 = std::fs::read_to_string(dir.pid())?.trim().parse()?;
        let t = Instant::now();
        runtime.kill(&container_id(vm_id), "TERM", false).await?;
        wait_every(
            Duration::from_secs(20),
            Duration::from_micros(500),
            "the init to end",
            || Ok(!alive(pid)),
        )?;
        f.shutdown_runc.push(t.elapsed());
        undo(&runtime, &state, &dir, vm_id, &s).await;

        // (4b) the driver's SHUTDOWN of the same.
        let vm_id = 75_000 + i;
        let s = spec(vm_id, image, INIT_TERM, true);
        d.run(request(vm_id, Operation::Prolog, &s)).await?;
        d.run(request(vm_id, Operation::Deploy, &s)).await?;
        wait_line(&d.dir(vm_id).console_log(), LINE, Duration::from_secs(20))?;
        let t = Instant::now();
        d.run(request(vm_id, Operation::Shutdown, &s)).await?;
        f.shutdown_driver.push(t.elapsed());
        d.run(request(vm_id, Operation::Epilog, &s)).await?;
    }

    let s = spec(anchor, image, INIT_FIRST, true);
    d.run(request(anchor, Operation::Cancel, &s)).await?;
    d.run(request(anchor, Operation::Epilog, &s)).await?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    let left = mounts
        .lines()
        .filter(|l| l.contains(&state.display().to_string()))
        .count();
    if left > 0 {
        f.leftovers.push(format!("{left} mounts"));
    }
    let cgroups = std::fs::read_dir(format!("/sys/fs/cgroup/memory/nubo/{}", agent_key(&state)))
        .map_or(0, |r| {
            r.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .count()
        });
    if cgroups > 0 {
        f.leftovers.push(format!("{cgroups} memory cgroups"));
    }
    Ok(f)
}

/// Whether process `pid` still runs (a zombie has ended).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// Makes container `vm_id`'s directory, ids, root filesystem and bundle as the driver does
/// before `runc create`, noting how long each step took in `phases`.
async fn prepare(
    state: &Path,
    vm_id: i32,
    s: &VmSpec,
    phases: &mut BTreeMap<&'static str, Duration>,
) -> Result<ContainerDir> {
    let dir = ContainerDir::new(state, vm_id);
    let id = container_id(vm_id);
    let runtime = OciCli::new("runc", state.join("runtime"));
    let step = Instant::now();
    runtime.state(&id).await?;
    runtime.state(&id).await?;
    phases.insert("state", step.elapsed());
    let step = Instant::now();
    dir.vm.create().await?;
    chmod_711(dir.root())?;
    dir.vm.save_spec(s).await?;
    let ids = idmap::assign(&dir, &slots()).await?;
    phases.insert("files", step.elapsed());
    let step = Instant::now();
    let disk = rootfs::root_disk(&s.disks)?;
    let file = rootfs::fetch(state, disk, &SharedFiles).await?;
    rootfs::mount(state, &dir, &file, ids, rootfs::layer_mb(disk)).await?;
    phases.insert("rootfs", step.elapsed());
    let step = Instant::now();
    let ctx = context::container_context(None);
    std::fs::write(dir.hostname_file(), format!("{}\n", s.name))?;
    let inputs = bundle::BundleInputs {
        ids,
        cgroup: dir.cgroup(),
        hostname: s.name.clone(),
        env: ctx.env.clone(),
        binds: vec![bundle::Bind::readonly(dir.hostname_file(), "/etc/hostname")],
        pids_limit: 4096,
    };
    let config = bundle::config(s, &inputs)?;
    std::fs::write(
        dir.bundle().join("config.json"),
        serde_json::to_vec_pretty(&config)?,
    )?;
    phases.insert("bundle", step.elapsed());
    Ok(dir)
}

/// `runc run -d` of a prepared bundle, its output to console.log.
fn runc_run(root: &Path, dir: &ContainerDir, vm_id: i32) -> Result<()> {
    let console = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.console_log())?;
    let status = Command::new("runc")
        .arg("--root")
        .arg(root)
        .args(["run", "-d", "--bundle"])
        .arg(dir.bundle())
        .arg("--pid-file")
        .arg(dir.pid())
        .arg(container_id(vm_id))
        .stdin(Stdio::null())
        .stdout(console.try_clone()?)
        .stderr(console)
        .status()?;
    if !status.success() {
        bail!(
            "runc run failed ({status}): {}",
            std::fs::read_to_string(dir.console_log()).unwrap_or_default()
        );
    }
    Ok(())
}

/// Removes a container made by [`prepare`] (and run by hand).
async fn undo(runtime: &OciCli, state: &Path, dir: &ContainerDir, vm_id: i32, s: &VmSpec) {
    let _ = runtime.delete(&container_id(vm_id), true).await;
    let _ = vm_id;
    netns::remove(dir, &s.nics).await;
    rootfs::unmount(state, dir).await;
    idmap::release(dir, &slots()).await;
    let _ = dir.vm.remove().await;
}

// ---------------------------------------------------------------------------------------
// 2, 3 and 4 through nubod and nubo-hostd.

struct Hostd {
    child: Child,
    state: PathBuf,
    log: PathBuf,
}

impl Drop for Hostd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Hostd {
    fn console(&self, vid: i32) -> PathBuf {
        self.state
            .join("vms")
            .join(vid.to_string())
            .join("console.log")
    }
}

fn nubod_figures(args: &Args, work: &Path, image: &Path, r: &mut Report) -> Result<()> {
    let host_api = free_port()?;
    let daemon = nubod::Nubod::start_with(&args.nubod, &format!("127.0.0.1:{host_api}"))?;
    let client = daemon.client();
    let name = "bench-lxc";
    let secret = Command::new(&args.nubod)
        .arg("--data-dir")
        .arg(daemon.data_dir())
        .args(["host-secret", name])
        .output()?;
    let secret_file = work.join("hostd.secret");
    std::fs::write(&secret_file, &secret.stdout)?;
    let state = work.join("hostd-state");
    chmod_711(&state)?;
    let log = work.join("hostd.log");
    let port = free_port()?;
    let hostd = Hostd {
        child: Command::new(&args.hostd)
            .args(["--name", name, "--listen", &format!("127.0.0.1:{port}")])
            .arg("--secret-file")
            .arg(&secret_file)
            .arg("--state-dir")
            .arg(&state)
            .args(["--driver", "lxc", "--log-level", "info"])
            .args(["--shutdown-timeout", "10"])
            .args(["--nubod", &format!("http://127.0.0.1:{host_api}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("cannot start {}", args.hostd.display()))?,
        state: state.clone(),
        log,
    };
    let hid = client.call_id(
        "one.host.allocate",
        vec![
            Value::from(name),
            Value::from("lxc"),
            Value::from("lxc"),
            Value::Int(-1),
        ],
    )?;
    wait_every(
        Duration::from_secs(60),
        Duration::from_millis(100),
        "the host MONITORED",
        || {
            Ok(client
                .call_string("one.host.info", vec![Value::Int(hid)])?
                .contains("<STATE>2</STATE>"))
        },
    )?;
    let img = client.call_id(
        "one.image.allocate",
        vec![
            Value::from(format!(
                "NAME=\"bench-busybox\"\nTYPE=\"OS\"\nPATH=\"{}\"",
                image.display()
            )),
            Value::Int(1),
        ],
    )?;
    wait_every(
        Duration::from_secs(60),
        Duration::from_millis(100),
        "the image READY",
        || {
            Ok(client
                .call_string("one.image.info", vec![Value::Int(img)])?
                .contains("<STATE>1</STATE>"))
        },
    )?;
    let net = client.call_id(
        "one.vn.allocate",
        vec![
            Value::from(format!(
                "NAME=\"bench-net\"\nVN_MAD=\"bridge\"\nBRIDGE=\"{BRIDGE}\"\n\
                 AR=[TYPE=\"IP4\", IP=\"10.231.98.2\", SIZE=\"250\"]"
            )),
            Value::Int(-1),
        ],
    )?;
    let template = |tname: &str, init: &str, nic: bool, cpu: &str| -> Result<i32> {
        let nic = if nic {
            format!("NIC=[NETWORK_ID=\"{net}\"]\n")
        } else {
            String::new()
        };
        Ok(client.call_id(
            "one.template.allocate",
            vec![Value::from(format!(
                "NAME=\"{tname}\"\nCPU=\"{cpu}\"\nVCPU=\"1\"\nMEMORY=\"32\"\n\
                 DISK=[IMAGE_ID=\"{img}\"]\n{nic}SCHED_REQUIREMENTS=\"ID = {hid}\"\n\
                 OS=[INIT=\"{init}\"]"
            ))],
        )?)
    };
    let t_first = template("bench-first", INIT_FIRST, true, "0.1")?;
    let t_term = template("bench-term", INIT_TERM, false, "0.1")?;

    // The first container of the image on the host: the agent fetches the image from
    // nubod and loop-mounts it. It keeps running, so the runs below see a host that already
    // runs containers of the image (its mount is shared).
    eprintln!("nubod: first container");
    let t = Instant::now();
    let anchor = instantiate(&client, t_first)?;
    wait_every(
        Duration::from_secs(120),
        Duration::from_millis(2),
        "the first VM RUNNING",
        || Ok(vm_state(&client, anchor)? == (3, 3)),
    )?;
    r.row(
        "2. first container of the image on the host (image fetched from nubod: 32 MiB, loop-mounted) → RUNNING",
        format!("{} ms (one run)", ms(t.elapsed())),
    );

    // 2. instantiate → RUNNING, and when the agent ran PROLOG and DEPLOY.
    let mut running = Vec::new();
    let mut first_line = Vec::new();
    let mut timelines: BTreeMap<&'static str, Vec<Duration>> = BTreeMap::new();
    for i in 0..args.runs {
        eprintln!("nubod: instantiate {}", i + 1);
        let wall = SystemTime::now();
        let t = Instant::now();
        let vid = instantiate(&client, t_first)?;
        timelines
            .entry("instantiate returned")
            .or_default()
            .push(t.elapsed());
        let (mut at_running, mut at_line) = (None, None);
        wait_every(
            Duration::from_secs(60),
            Duration::from_millis(2),
            "the VM RUNNING and its first line",
            || {
                if at_running.is_none() && vm_state(&client, vid)? == (3, 3) {
                    at_running = Some(t.elapsed());
                }
                if at_line.is_none() && has_line(&hostd.console(vid)) {
                    at_line = Some(t.elapsed());
                }
                Ok(at_running.is_some() && at_line.is_some())
            },
        )?;
        running.extend(at_running);
        first_line.extend(at_line);
        for (op, what, key) in [
            ("PROLOG", "started", "agent: PROLOG received"),
            ("PROLOG", "done", "agent: PROLOG done"),
            ("DEPLOY", "started", "agent: DEPLOY received"),
            ("DEPLOY", "done", "agent: DEPLOY done"),
        ] {
            if let Some(d) = log_offset(&hostd.log, vid, op, what, wall) {
                timelines.entry(key).or_default().push(d);
            }
        }
        terminate(&client, vid)?;
    }
    let m = median(&running);
    r.row(
        format!(
            "2. `template.instantiate` → `vm.info` RUNNING via nubod + nubo-hostd (1 NIC, median of {})",
            args.runs
        ),
        format!(
            "{}; target ≤ 300 ms: {}",
            med_range(&running),
            if m <= Duration::from_millis(300) {
                "met"
            } else {
                "**missed**"
            }
        ),
    );
    r.row(
        "2. `template.instantiate` → the init's first line in console.log",
        med_range(&first_line),
    );
    for key in [
        "instantiate returned",
        "agent: PROLOG received",
        "agent: PROLOG done",
        "agent: DEPLOY received",
        "agent: DEPLOY done",
    ] {
        if let Some(v) = timelines.get(key) {
            r.row(
                format!("2. timeline: {key} (ms after the call, median)"),
                format!("{} ms", ms(median(v))),
            );
        }
    }

    // 4. poweroff of a TERM-honouring init.
    let mut poweroff = Vec::new();
    let mut agent_shutdown = Vec::new();
    for i in 0..args.runs {
        eprintln!("nubod: poweroff {}", i + 1);
        let vid = instantiate(&client, t_term)?;
        wait_every(
            Duration::from_secs(60),
            Duration::from_millis(5),
            "the VM RUNNING",
            || Ok(vm_state(&client, vid)? == (3, 3) && has_line(&hostd.console(vid))),
        )?;
        let wall = SystemTime::now();
        let t = Instant::now();
        client.call(
            "one.vm.action",
            vec![Value::from("poweroff"), Value::Int(vid)],
        )?;
        wait_every(
            Duration::from_secs(60),
            Duration::from_millis(2),
            "the VM POWEROFF",
            || Ok(vm_state(&client, vid)?.0 == 8),
        )?;
        poweroff.push(t.elapsed());
        if let (Some(a), Some(b)) = (
            log_offset(&hostd.log, vid, "SHUTDOWN", "started", wall),
            log_offset(&hostd.log, vid, "SHUTDOWN", "done", wall),
        ) {
            agent_shutdown.push(b.saturating_sub(a));
        }
        terminate(&client, vid)?;
    }
    let m = median(&poweroff);
    r.row(
        format!(
            "4c. `vm.action poweroff` → POWEROFF via nubod (TERM-honouring init, median of {})",
            args.runs
        ),
        format!(
            "{}; target ≤ 1 s: {}",
            med_range(&poweroff),
            if m <= Duration::from_secs(1) {
                "met"
            } else {
                "**missed**"
            }
        ),
    );
    if !agent_shutdown.is_empty() {
        r.row(
            "4c. of which the agent's SHUTDOWN (its log)",
            med_range(&agent_shutdown),
        );
    }

    terminate(&client, anchor)?;
    if args.density > 0 {
        density(args, &client, &daemon, &hostd, img, hid, r)?;
    }
    drop(hostd);
    Ok(())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn has_line(log: &Path) -> bool {
    std::fs::read_to_string(log).is_ok_and(|t| t.contains(LINE))
}

fn instantiate(client: &Client, tid: i32) -> Result<i32> {
    Ok(client.call_id(
        "one.template.instantiate",
        vec![
            Value::Int(tid),
            Value::from(""),
            Value::Bool(false),
            Value::from(""),
            Value::Bool(false),
        ],
    )?)
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    Some(&text[from..from + text[from..].find(end)?])
}

/// STATE and LCM_STATE of VM `vid`.
fn vm_state(client: &Client, vid: i32) -> Result<(i32, i32)> {
    let xml = client.call_string("one.vm.info", vec![Value::Int(vid)])?;
    let state = between(&xml, "<STATE>", "</STATE>").and_then(|s| s.parse().ok());
    let lcm = between(&xml, "<LCM_STATE>", "</LCM_STATE>").and_then(|s| s.parse().ok());
    Ok((state.unwrap_or(-1), lcm.unwrap_or(-1)))
}

fn terminate(client: &Client, vid: i32) -> Result<()> {
    client.call(
        "one.vm.action",
        vec![Value::from("terminate-hard"), Value::Int(vid)],
    )?;
    wait_every(
        Duration::from_secs(120),
        Duration::from_millis(20),
        "a VM DONE",
        || Ok(vm_state(client, vid)?.0 == 6),
    )?;
    Ok(())
}

/// Seconds since midnight UTC of a log line's timestamp (`2026-12-07T04:50:01.123456Z`).
fn day_seconds(stamp: &str) -> Option<f64> {
    let time = stamp.split_once('T')?.1.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// When the agent logged `op` `what` ("started", "done") for VM `vid`, after `since`.
fn log_offset(log: &Path, vid: i32, op: &str, what: &str, since: SystemTime) -> Option<Duration> {
    let text = std::fs::read_to_string(log).ok()?;
    let base = since.duration_since(UNIX_EPOCH).ok()?.as_secs_f64() % 86_400.0;
    let vm = format!("vm_id={vid} ");
    let opq = format!("op=\"{op}\"");
    let line = text.lines().find(|l| {
        l.contains(&format!("operation {what}"))
            && (l.contains(&vm) || l.ends_with(&format!("vm_id={vid}")))
            && (l.contains(&opq) || l.contains(&format!("op={op}")))
    })?;
    // Without ANSI colours the timestamp is the first word.
    let at = day_seconds(line.split_whitespace().next()?)?;
    let d = at - base;
    (d >= 0.0).then(|| Duration::from_secs_f64(d))
}

/// How many of the pool's VMs are in each LCM_STATE (STATE/LCM_STATE pairs).
fn pool_states(client: &Client) -> Result<BTreeMap<(i32, i32), usize>> {
    let xml = client.call_string(
        "one.vmpool.info",
        vec![
            Value::Int(-2),
            Value::Int(-1),
            Value::Int(-1),
            Value::Int(-1),
        ],
    )?;
    let mut counts = BTreeMap::new();
    for vm in xml.split("<VM>").skip(1) {
        let state = between(vm, "<STATE>", "</STATE>").and_then(|s| s.parse().ok());
        let lcm = between(vm, "<LCM_STATE>", "</LCM_STATE>").and_then(|s| s.parse().ok());
        *counts
            .entry((state.unwrap_or(-1), lcm.unwrap_or(-1)))
            .or_insert(0) += 1;
    }
    Ok(counts)
}

/// Processes of the machine, and those in the cgroups of the containers of the agent
/// with state directory `state`.
fn processes(state: &Path) -> (usize, usize) {
    let mark = format!("/nubo/{}/", agent_key(state));
    let (mut all, mut contained) = (0, 0);
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            if e.file_name()
                .to_str()
                .is_none_or(|n| n.parse::<u32>().is_err())
            {
                continue;
            }
            all += 1;
            if std::fs::read_to_string(e.path().join("cgroup")).is_ok_and(|c| c.contains(&mark)) {
                contained += 1;
            }
        }
    }
    (all, contained)
}

/// Memory in use by the containers of the agent with state directory `state`, from their
/// parent cgroup (0 when it is not there).
fn cgroup_usage_kib(state: &Path) -> u64 {
    std::fs::read_to_string(format!(
        "/sys/fs/cgroup/memory/nubo/{}/memory.usage_in_bytes",
        agent_key(state)
    ))
    .ok()
    .and_then(|t| t.trim().parse::<u64>().ok())
    .unwrap_or(0)
        / 1024
}

/// CPU use over 10 s, in % of one core.
#[derive(Debug)]
struct Cpu {
    machine: f64,
    hostd: f64,
    nubod: f64,
    containers: f64,
}

impl std::fmt::Display for Cpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} % / {:.0} % / {:.0} % / {:.0} % of one core",
            self.machine, self.hostd, self.nubod, self.containers
        )
    }
}

/// CPU time (ns) of the agent's containers, from their parent cgroup.
fn containers_cpu_ns(state: &Path) -> u64 {
    std::fs::read_to_string(format!(
        "/sys/fs/cgroup/cpuacct/nubo/{}/cpuacct.usage",
        agent_key(state)
    ))
    .ok()
    .and_then(|t| t.trim().parse().ok())
    .unwrap_or(0)
}

fn cpu_over_10s(hostd: &Hostd, daemon: &nubod::Nubod) -> Result<Cpu> {
    let pid = hostd.child.id();
    let (m0, h0, d0, c0, at) = (
        host_cpu_seconds()?,
        process_tree_cpu_seconds(pid)?,
        daemon.cpu_seconds()?,
        containers_cpu_ns(&hostd.state),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs(10));
    let secs = at.elapsed().as_secs_f64();
    let pct = |x: f64| x / secs * 100.0;
    Ok(Cpu {
        machine: pct(host_cpu_seconds()? - m0),
        hostd: pct(process_tree_cpu_seconds(pid)? - h0),
        nubod: pct(daemon.cpu_seconds()? - d0),
        containers: pct(containers_cpu_ns(&hostd.state).saturating_sub(c0) as f64 / 1e9),
    })
}

fn density(
    args: &Args,
    client: &Client,
    daemon: &nubod::Nubod,
    hostd: &Hostd,
    img: i32,
    hid: i32,
    r: &mut Report,
) -> Result<()> {
    let n = args.density;
    // The scheduler counts CPU (at least 0.01) against the host's cores (MAX_CPU = cores
    // × 100, no overcommit): past that, VMs are placed as an administrator overcommits,
    // held and then `vm.deploy` with enforce = false.
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let cpu = "0.01";
    let fits = cores * 100;
    let by_hand = n > fits;
    if by_hand {
        r.row(
            "3. what the scheduler places on this host",
            format!(
                "at most {fits} containers of CPU=0.01 (MAX_CPU = {cores} cores × 100; nubod applies no RESERVED_CPU overcommit): the {n} are held and placed with `vm.deploy` enforce=false"
            ),
        );
    }
    let tid = client.call_id(
        "one.template.allocate",
        vec![Value::from(format!(
            "NAME=\"bench-sleep\"\nCPU=\"{cpu}\"\nVCPU=\"1\"\nMEMORY=\"32\"\n\
             DISK=[IMAGE_ID=\"{img}\"]\nSCHED_REQUIREMENTS=\"ID = {hid}\"\n\
             OS=[INIT=\"{INIT_SLEEP}\"]"
        ))],
    )?;
    std::thread::sleep(Duration::from_secs(3));
    let mem_before = mem_available_kib()?;
    let slab_before = meminfo_kib("Slab:")?;
    let cg_before = cgroup_usage_kib(&hostd.state);
    let (procs_before, _) = processes(&hostd.state);
    let cpu_before = cpu_over_10s(hostd, daemon)?;
    eprintln!("density: instantiating {n}");
    let t = Instant::now();
    let mut vids = Vec::new();
    for _ in 0..n {
        if by_hand {
            let vid = client.call_id(
                "one.template.instantiate",
                vec![
                    Value::Int(tid),
                    Value::from(""),
                    Value::Bool(true),
                    Value::from(""),
                    Value::Bool(false),
                ],
            )?;
            client.call(
                "one.vm.deploy",
                vec![
                    Value::Int(vid),
                    Value::Int(hid),
                    Value::Bool(false),
                    Value::Int(-1),
                ],
            )?;
            vids.push(vid);
        } else {
            vids.push(instantiate(client, tid)?);
        }
    }
    let submitted = t.elapsed();
    let mut last = (0, Instant::now());
    let mut most_unknown = (0, Duration::ZERO);
    let (outcome, states) = loop {
        let states = pool_states(client)?;
        let up = states.get(&(3, 3)).copied().unwrap_or(0);
        // ACTIVE/UNKNOWN: RUNNING, then missing from a report of the agent.
        let unknown = states.get(&(3, 16)).copied().unwrap_or(0);
        if unknown > most_unknown.0 {
            most_unknown = (unknown, t.elapsed());
        }
        if up >= n {
            break (Ok(t.elapsed()), states);
        }
        if up != last.0 {
            eprintln!(
                "density: {up} RUNNING ({unknown} UNKNOWN) after {:.1} s",
                t.elapsed().as_secs_f64()
            );
            last = (up, Instant::now());
        }
        if last.1.elapsed() > Duration::from_secs(120) {
            let e = format!("{up} of {n} RUNNING; STATE/LCM_STATE counts {states:?}");
            break (Err(e), states);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let up = states.get(&(3, 3)).copied().unwrap_or(0);
    if most_unknown.0 > 0 {
        r.row(
            "3. VMs seen ACTIVE/UNKNOWN on the way (RUNNING, then missing from a report)",
            format!(
                "up to {} at once ({:.1} s after the first call); all RUNNING again later: {}",
                most_unknown.0,
                most_unknown.1.as_secs_f64(),
                if outcome.is_ok() { "yes" } else { "no" }
            ),
        );
    }
    match &outcome {
        Ok(all) => r.row(
            format!("3. {n} containers (MEMORY=32, `{INIT_SLEEP}`): instantiate → all RUNNING"),
            format!(
                "{:.1} s ({:.0} ms per container; the {n} calls took {:.1} s)",
                all.as_secs_f64(),
                all.as_secs_f64() * 1000.0 / n as f64,
                submitted.as_secs_f64()
            ),
        ),
        Err(e) => {
            let failed = vids
                .iter()
                .find(|v| vm_state(client, **v).is_ok_and(|s| s != (3, 3)));
            let error = failed
                .and_then(|v| client.call_string("one.vm.info", vec![Value::Int(*v)]).ok())
                .and_then(|x| between(&x, "<ERROR><![CDATA[", "]]>").map(str::to_string))
                .unwrap_or_default();
            let warnings: Vec<String> = std::fs::read_to_string(&hostd.log)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                .take(5)
                .map(str::to_string)
                .collect();
            r.row(
                format!("3. {n} containers: instantiate → all RUNNING"),
                format!(
                    "**failed**: {e}; first error: {error}; agent: {}",
                    warnings.join(" / ")
                ),
            );
        }
    }
    std::thread::sleep(Duration::from_secs(10));
    let mem_after = mem_available_kib()?;
    let slab_after = meminfo_kib("Slab:")?;
    let cg_after = cgroup_usage_kib(&hostd.state);
    let (procs_after, contained) = processes(&hostd.state);
    let runc_procs = sh("pgrep -c -x runc || true").unwrap_or_default();
    let cpu = cpu_over_10s(hostd, daemon)?;
    // Containers runc knows on the host (whatever nubod thinks of them).
    let on_host = std::fs::read_dir(hostd.state.join("runtime")).map_or(0, |r| r.count());
    let per = |kib: u64| kib as f64 / on_host.max(1) as f64;
    let used = mem_before.saturating_sub(mem_after);
    r.row(
        format!("3. memory for the {on_host} containers on the host (MemAvailable before − after)"),
        format!(
            "{} MiB, {:.0} KiB per container (in their cgroups: {:.0} KiB each; kernel slab: {:.0} KiB each)",
            used / 1024,
            per(used),
            per(cg_after.saturating_sub(cg_before)),
            per(slab_after.saturating_sub(slab_before))
        ),
    );
    r.row(
        "3. processes they added (all / in the containers' cgroups / runc processes at that moment)",
        format!(
            "{} / {contained} / {}",
            procs_after.saturating_sub(procs_before),
            runc_procs.trim()
        ),
    );
    r.row(
        "3. CPU over 10 s before the containers (machine / nubo-hostd with the programs it ran / nubod / containers)",
        cpu_before.to_string(),
    );
    r.row(
        format!("3. CPU over 10 s with {on_host} idle containers (machine / nubo-hostd with the programs it ran / nubod / the containers)"),
        cpu.to_string(),
    );

    eprintln!("density: terminating");
    let t = Instant::now();
    for vid in &vids {
        client.call(
            "one.vm.action",
            vec![Value::from("terminate-hard"), Value::Int(*vid)],
        )?;
    }
    let gone = wait_every(
        Duration::from_secs(900),
        Duration::from_millis(500),
        "every VM DONE",
        || Ok(pool_states(client)?.values().sum::<usize>() == 0),
    );
    r.row(
        format!("3. terminate-hard of all {n} → all DONE"),
        match gone {
            Ok(_) => format!("{:.1} s", t.elapsed().as_secs_f64()),
            Err(e) => format!("**{e}**"),
        },
    );
    // Loop devices are detached after their last unmount, asynchronously.
    std::thread::sleep(Duration::from_secs(5));
    let mut left = Vec::new();
    let state = hostd.state.display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?
        .lines()
        .filter(|l| l.contains(&state))
        .count();
    if mounts > 0 {
        left.push(format!("{mounts} mounts under the agent's state directory"));
    }
    for ctl in ["memory", "pids", "cpu", "freezer"] {
        let c = vids
            .iter()
            .filter(|v| {
                let cg = ContainerDir::new(&hostd.state, **v).cgroup();
                Path::new(&format!("/sys/fs/cgroup/{ctl}{cg}")).exists()
            })
            .count();
        if c > 0 {
            left.push(format!("{c} {ctl} cgroups"));
        }
    }
    let ns = vids
        .iter()
        .filter(|v| {
            let ns = ContainerDir::new(&hostd.state, **v).netns();
            Path::new(&format!("/var/run/netns/{ns}")).exists()
        })
        .count();
    if ns > 0 {
        left.push(format!("{ns} network namespaces"));
    }
    let known = std::fs::read_dir(hostd.state.join("runtime")).map_or(0, |r| r.count());
    if known > 0 {
        left.push(format!("{known} containers runc still knows"));
    }
    let dirs = std::fs::read_dir(hostd.state.join("vms")).map_or(0, |r| r.count());
    if dirs > 0 {
        left.push(format!("{dirs} VM directories"));
    }
    let (_, contained) = processes(&hostd.state);
    if contained > 0 {
        left.push(format!("{contained} processes in the containers' cgroups"));
    }
    let loops = sh("losetup -a")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&state))
        .count();
    if loops > 0 {
        left.push(format!("{loops} loop devices"));
    }
    r.row(
        "3. left after all DONE (mounts, cgroups, netns, runc state, directories, processes, loop devices)",
        if left.is_empty() {
            "nothing".to_string()
        } else {
            left.join(", ")
        },
    );
    if outcome.is_err() {
        r.notes.push(format!(
            "Density stopped at {up} of {n}: see the row above for the first error."
        ));
    }
    Ok(())
}
