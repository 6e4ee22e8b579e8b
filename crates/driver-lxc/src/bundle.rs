//! The OCI runtime configuration (`config.json`) of a container, made from its VM's spec
//! with the `oci-spec` crate: the init (OS/INIT through `/bin/sh -c`, else `/sbin/init`)
//! with the context as its environment; a user namespace mapping the container's ids onto
//! its own slot of host ids; new PID, mount, IPC, UTS and cgroup namespaces and the network
//! namespace, which the driver plugs the NICs into; the capabilities Docker leaves a container, no new
//! privileges, the seccomp filter of [`crate::seccomp`], read-only /sys and the kernel's
//! sensitive files masked; cgroup limits from VCPU (CPU time), CPU (weight), MEMORY (no
//! swap beyond it) and a pids limit.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use nubo_driver::VmSpec;
use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxIdMappingBuilder,
    LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder,
    LinuxResourcesBuilder, Mount, MountBuilder, PosixRlimitBuilder, PosixRlimitType,
    ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use crate::error::LxcError;
use crate::idmap::IdRange;

/// The CFS period the CPU quota is counted in (µs).
const CPU_PERIOD_US: u64 = 100_000;

/// A file or directory of the host bound into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Its path on the host.
    pub host: PathBuf,
    /// Where the container sees it.
    pub inside: String,
    /// Whether the container may only read it.
    pub readonly: bool,
}

impl Bind {
    /// A read-only bind.
    pub fn readonly(host: PathBuf, inside: &str) -> Bind {
        Bind {
            host,
            inside: inside.to_string(),
            readonly: true,
        }
    }
}

/// Open files a container's processes may have (soft limit, raised up to the hard one);
/// within what the agent itself may have, since a user namespace cannot raise it.
const OPEN_FILES_SOFT: u64 = 1024;
const OPEN_FILES_HARD: u64 = 4096;

/// What the configuration needs besides the VM's spec.
#[derive(Debug, Clone)]
pub struct BundleInputs {
    /// The container's host ids.
    pub ids: IdRange,
    /// The cgroup path.
    pub cgroup: String,
    /// The hostname.
    pub hostname: String,
    /// Context variables for the environment (`KEY=value`).
    pub env: Vec<String>,
    /// Files and directories bound into the container.
    pub binds: Vec<Bind>,
    /// Most processes the container may have.
    pub pids_limit: i64,
}

fn oci<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, LxcError> {
    r.map_err(|e| LxcError::BadRequest(format!("container configuration: {e}")))
}

/// The capabilities a container keeps (Docker's default set).
pub fn capabilities() -> HashSet<Capability> {
    [
        Capability::AuditWrite,
        Capability::Chown,
        Capability::DacOverride,
        Capability::Fowner,
        Capability::Fsetid,
        Capability::Kill,
        Capability::Mknod,
        Capability::NetBindService,
        Capability::NetRaw,
        Capability::Setfcap,
        Capability::Setgid,
        Capability::Setpcap,
        Capability::Setuid,
        Capability::SysChroot,
    ]
    .into_iter()
    .collect()
}

/// The cgroup limits of a container running `spec`: MEMORY (no swap beyond it), VCPU
/// whole CPUs of time, and a weight of 1024 per CPU of its CPU share.
pub fn limits(spec: &VmSpec) -> crate::runtime::Limits {
    let memory_bytes = i64::try_from(spec.memory_mb.max(4))
        .unwrap_or(i64::MAX / (1 << 20))
        .saturating_mul(1 << 20);
    let cpu_quota_us = i64::from(spec.vcpu.max(1)).saturating_mul(CPU_PERIOD_US as i64);
    // At least the kernel's minimum weight of 2.
    let cpu_shares = u64::try_from(spec.cpu_hundredths.max(1))
        .unwrap_or(1)
        .saturating_mul(1024)
        / 100;
    crate::runtime::Limits {
        memory_bytes,
        cpu_quota_us,
        cpu_period_us: CPU_PERIOD_US,
        cpu_shares: cpu_shares.max(2),
    }
}

/// The init's command line.
pub fn init_args(spec: &VmSpec) -> Vec<String> {
    match spec
        .os
        .init
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(cmd) => vec!["/bin/sh".into(), "-c".into(), cmd.into()],
        None => vec!["/sbin/init".into()],
    }
}

/// Where the init looks for programs (the PATH it is given).
const INIT_PATH: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Words the shell runs itself: an OS/INIT starting with one needs no program.
const SHELL_OWN: &[&str] = &[
    "!", "(", "{", ":", ".", "[", "[[", "case", "cd", "echo", "eval", "export", "for", "if",
    "printf", "read", "set", "shift", "source", "test", "trap", "true", "false", "ulimit", "umask",
    "unset", "until", "wait", "while",
];

/// The program OS/INIT names first (after variable assignments and `exec`), when it is not
/// one the shell runs itself; none when the command line does not split into words (the
/// shell reports that).
pub fn init_program(spec: &VmSpec) -> Option<String> {
    let cmd = spec.os.init.as_deref()?;
    let words = shell_words::split(cmd).ok()?;
    let mut rest = words
        .iter()
        .skip_while(|w| w.contains('=') && !w.starts_with('='))
        .skip_while(|w| *w == "exec");
    let first = rest.next()?;
    if SHELL_OWN.contains(&first.as_str()) || first.contains(['$', '`', ';', '|', '&', '>', '<']) {
        return None;
    }
    Some(first.clone())
}

/// Whether `program` (a path, or a name looked up in the init's PATH) is in the root
/// filesystem at `rootfs` (links count, wherever they point).
pub async fn has_program(rootfs: &Path, program: &str) -> bool {
    let candidates: Vec<PathBuf> = if program.contains('/') {
        vec![rootfs.join(program.trim_start_matches('/'))]
    } else {
        INIT_PATH
            .iter()
            .map(|dir| rootfs.join(dir.trim_start_matches('/')).join(program))
            .collect()
    };
    for c in candidates {
        if tokio::fs::symlink_metadata(&c).await.is_ok() {
            return true;
        }
    }
    false
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, LxcError> {
    oci(MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build())
}

fn mounts(inputs: &BundleInputs) -> Result<Vec<Mount>, LxcError> {
    let mut m = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
            ],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
    ];
    for b in &inputs.binds {
        m.push(mount(
            &b.inside,
            "bind",
            &b.host.display().to_string(),
            &[
                "rbind",
                if b.readonly { "ro" } else { "rw" },
                "nosuid",
                "nodev",
            ],
        )?);
    }
    Ok(m)
}

/// The configuration of a container running `spec`.
pub fn config(spec: &VmSpec, inputs: &BundleInputs) -> Result<Spec, LxcError> {
    let caps = capabilities();
    let capabilities = oci(LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .inheritable(HashSet::new())
        .ambient(HashSet::new())
        .build())?;
    let mut env = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        "HOME=/root".to_string(),
        "TERM=xterm".to_string(),
        "container=nubo".to_string(),
    ];
    env.extend(inputs.env.iter().cloned());
    let process = oci(ProcessBuilder::default()
        .terminal(false)
        .user(oci(UserBuilder::default().uid(0u32).gid(0u32).build())?)
        .args(init_args(spec))
        .env(env)
        .cwd("/")
        .capabilities(capabilities)
        .no_new_privileges(true)
        .rlimits(vec![oci(PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .hard(OPEN_FILES_HARD)
            .soft(OPEN_FILES_SOFT)
            .build())?])
        .build())?;
    let idmap = oci(LinuxIdMappingBuilder::default()
        .host_id(inputs.ids.first)
        .container_id(0u32)
        .size(inputs.ids.count)
        .build())?;
    let ns = |typ: LinuxNamespaceType, path: Option<&Path>| {
        let mut b = LinuxNamespaceBuilder::default().typ(typ);
        if let Some(p) = path {
            b = b.path(p);
        }
        oci(b.build())
    };
    let namespaces = vec![
        ns(LinuxNamespaceType::Pid, None)?,
        ns(LinuxNamespaceType::Network, None)?,
        ns(LinuxNamespaceType::Ipc, None)?,
        ns(LinuxNamespaceType::Uts, None)?,
        ns(LinuxNamespaceType::Mount, None)?,
        ns(LinuxNamespaceType::User, None)?,
        ns(LinuxNamespaceType::Cgroup, None)?,
    ];
    let l = limits(spec);
    let resources = oci(LinuxResourcesBuilder::default()
        .memory(oci(LinuxMemoryBuilder::default()
            .limit(l.memory_bytes)
            .swap(l.memory_bytes)
            .build())?)
        .cpu(oci(LinuxCpuBuilder::default()
            .period(l.cpu_period_us)
            .quota(l.cpu_quota_us)
            .shares(l.cpu_shares)
            .build())?)
        .pids(oci(LinuxPidsBuilder::default()
            .limit(inputs.pids_limit)
            .build())?)
        .build())?;
    let linux = oci(LinuxBuilder::default()
        .uid_mappings(vec![idmap])
        .gid_mappings(vec![idmap])
        .namespaces(namespaces)
        .cgroups_path(PathBuf::from(&inputs.cgroup))
        .resources(resources)
        .masked_paths(
            [
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/proc/scsi",
                "/sys/firmware",
                "/sys/devices/virtual/powercap",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        )
        .readonly_paths(
            [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        )
        .seccomp(crate::seccomp::profile()?)
        .build())?;
    oci(SpecBuilder::default()
        .version("1.0.2-dev")
        .root(oci(RootBuilder::default()
            .path("rootfs")
            .readonly(false)
            .build())?)
        .process(process)
        .hostname(inputs.hostname.clone())
        .mounts(mounts(inputs)?)
        .linux(linux)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> BundleInputs {
        BundleInputs {
            ids: IdRange {
                first: 100_065_536,
                count: 65_536,
            },
            cgroup: "/nubo/one-7".into(),
            hostname: "web1".into(),
            env: vec!["ROLE=web".into()],
            binds: vec![Bind::readonly(
                PathBuf::from("/state/vms/7/context"),
                "/context",
            )],
            pids_limit: 512,
        }
    }

    #[test]
    fn a_container_is_unprivileged_isolated_and_limited() {
        let spec = VmSpec {
            vcpu: 2,
            cpu_hundredths: 50,
            memory_mb: 256,
            ..VmSpec::default()
        };
        let json = serde_json::to_value(config(&spec, &inputs()).expect("config")).expect("json");
        assert_eq!(json["process"]["args"], serde_json::json!(["/sbin/init"]));
        assert_eq!(json["process"]["noNewPrivileges"], true);
        let env = json["process"]["env"].as_array().expect("env");
        assert!(env.iter().any(|e| e == "ROLE=web"));
        let caps = json["process"]["capabilities"]["bounding"]
            .as_array()
            .expect("caps");
        assert!(!caps.iter().any(|c| c == "CAP_SYS_ADMIN"));
        assert!(caps.iter().any(|c| c == "CAP_NET_BIND_SERVICE"));
        let linux = &json["linux"];
        assert_eq!(linux["uidMappings"][0]["hostID"], 100_065_536);
        assert_eq!(linux["uidMappings"][0]["containerID"], 0);
        assert_eq!(linux["gidMappings"][0]["size"], 65_536);
        let kinds: Vec<&str> = linux["namespaces"]
            .as_array()
            .expect("ns")
            .iter()
            .filter_map(|n| n["type"].as_str())
            .collect();
        for k in ["pid", "network", "ipc", "uts", "mount", "user", "cgroup"] {
            assert!(kinds.contains(&k), "no {k} namespace");
        }
        assert!(linux["namespaces"][1].get("path").is_none());
        assert_eq!(linux["resources"]["memory"]["limit"], 256 << 20);
        assert_eq!(linux["resources"]["memory"]["swap"], 256 << 20);
        assert_eq!(linux["resources"]["cpu"]["quota"], 200_000);
        assert_eq!(linux["resources"]["cpu"]["shares"], 512);
        assert_eq!(linux["resources"]["pids"]["limit"], 512);
        assert_eq!(linux["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
        let mounts = json["mounts"].as_array().expect("mounts");
        let sys = mounts
            .iter()
            .find(|m| m["destination"] == "/sys")
            .expect("sys");
        assert!(
            sys["options"]
                .as_array()
                .expect("opts")
                .iter()
                .any(|o| o == "ro")
        );
        let ctx = mounts
            .iter()
            .find(|m| m["destination"] == "/context")
            .expect("context");
        assert!(
            ctx["options"]
                .as_array()
                .expect("opts")
                .iter()
                .any(|o| o == "ro")
        );
    }

    #[test]
    fn the_program_os_init_names_is_found() {
        let with = |cmd: &str| {
            let mut spec = VmSpec::default();
            spec.os.init = Some(cmd.into());
            init_program(&spec)
        };
        assert_eq!(
            with("python3 -m http.server 80").as_deref(),
            Some("python3")
        );
        assert_eq!(
            with("PORT=80 exec /usr/bin/node app.js").as_deref(),
            Some("/usr/bin/node")
        );
        assert_eq!(with("while :; do sleep 1; done"), None);
        assert_eq!(with("echo hi"), None);
        assert_eq!(with("$HOME/run"), None);
        assert_eq!(with("'unterminated"), None);
        assert_eq!(init_program(&VmSpec::default()), None);
    }

    #[test]
    fn os_init_runs_through_the_shell() {
        let mut spec = VmSpec::default();
        spec.os.init = Some("python3 -m http.server 80".into());
        assert_eq!(
            init_args(&spec),
            ["/bin/sh", "-c", "python3 -m http.server 80"]
        );
        spec.os.init = Some("  ".into());
        assert_eq!(init_args(&spec), ["/sbin/init"]);
    }
}
