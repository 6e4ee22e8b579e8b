//! nubo-hostd's settings: command-line flags over an optional TOML file over defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use nubo_driver_kvm::accel::AccelChoice;
use serde::Deserialize;

/// Command-line flags.
#[derive(Debug, clap::Parser)]
#[command(name = "nubo-hostd", version, about = "The Nubo host agent")]
pub struct Args {
    /// TOML configuration file.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// This host's name, as it was created in nubod (`nubo host create NAME`).
    #[arg(long)]
    pub name: Option<String>,
    /// Listen address (ADDR:PORT, default 127.0.0.1:2634).
    #[arg(long)]
    pub listen: Option<String>,
    /// File holding the host's secret (`nubod host-secret NAME` prints it).
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
    /// Where the agent keeps its guests' files.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Hypervisor: kvm (QEMU; TCG when KVM does not work), lxc (containers on runc) or
    /// sim (simulated guests).
    #[arg(long)]
    pub driver: Option<String>,
    /// Acceleration: auto (probe), kvm or tcg.
    #[arg(long)]
    pub accel: Option<String>,
    /// Seconds a guest gets to power off after ACPI before it is stopped hard (default 60).
    #[arg(long)]
    pub shutdown_timeout: Option<u64>,
    /// nubod's host API (`http://ADDR:2635`), to say hello to on start and push reports to.
    #[arg(long)]
    pub nubod: Option<String>,
    /// Seconds between the reports pushed to nubod (default 30; also pushed whenever a
    /// guest changes state).
    #[arg(long)]
    pub push_interval: Option<u64>,
    /// The address nubod should reach this agent at (default: http:// and the listen
    /// address, unless that is 0.0.0.0).
    #[arg(long)]
    pub advertise: Option<String>,
    /// Certificate chain (PEM): serve TLS (with --tls-key); other agents and nubod then
    /// reach this one at https://.
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of the certificate.
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// Certificate authorities (PEM) trusted besides the system's, for https:// nubod and
    /// other agents (repeatable).
    #[arg(long)]
    pub ca_file: Vec<PathBuf>,
    /// Log filter (error, warn, info, debug, trace); RUST_LOG overrides it.
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

/// The TOML configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Host name.
    pub name: Option<String>,
    /// Listen address.
    pub listen: Option<String>,
    /// The secret, inline (prefer `secret_file`).
    pub secret: Option<String>,
    /// File holding the secret.
    pub secret_file: Option<PathBuf>,
    /// State directory.
    pub state_dir: Option<PathBuf>,
    /// `kvm`, `lxc` or `sim`.
    pub driver: Option<String>,
    /// nubod's host API URL.
    pub nubod: Option<String>,
    /// The URL nubod should reach this agent at.
    pub advertise: Option<String>,
    /// Seconds between the reports pushed to nubod.
    pub push_interval_s: Option<u64>,
    /// Certificate chain (PEM): serve TLS.
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of the certificate.
    pub tls_key: Option<PathBuf>,
    /// Certificate authorities (PEM) trusted besides the system's.
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    /// QEMU settings.
    #[serde(default)]
    pub kvm: KvmFileConfig,
    /// Container settings.
    #[serde(default)]
    pub lxc: LxcFileConfig,
}

/// `[lxc]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LxcFileConfig {
    /// The OCI runtime's program (default `runc`; `crun` or `youki` where they work).
    pub runtime: Option<String>,
    /// Seconds a container's init gets to end after SIGTERM before it is killed.
    pub shutdown_timeout_s: Option<u64>,
    /// The first host id of the containers' user-id slots (65,536 ids each; a multiple of
    /// 65,536).
    pub id_base: Option<u32>,
    /// The machine-wide registry of id slots, shared by every agent of the machine.
    pub id_registry: Option<PathBuf>,
    /// Most processes in one container.
    pub pids_limit: Option<i64>,
}

/// `[kvm]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvmFileConfig {
    /// The QEMU program.
    pub qemu: Option<String>,
    /// `auto`, `kvm` or `tcg`.
    pub accel: Option<String>,
    /// TCG translation cache per guest (MB).
    pub tcg_tb_size_mb: Option<u32>,
    /// Seconds a guest gets to power off after ACPI before it is stopped hard.
    pub shutdown_timeout_s: Option<u64>,
    /// Where other hosts send live-migrating guests (this host's address between hosts;
    /// default: the listen address, or the host's name when listening on all addresses).
    pub migration_address: Option<String>,
}

/// Which hypervisor runs the guests.
#[derive(Debug, Clone)]
pub enum DriverKind {
    /// QEMU.
    Kvm(nubo_driver_kvm::KvmConfig),
    /// Containers.
    Lxc(nubo_driver_lxc::LxcConfig),
    /// Simulated guests.
    Sim,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Host name.
    pub name: String,
    /// Listen address.
    pub listen: String,
    /// The host's secret.
    pub secret: String,
    /// The hypervisor.
    pub driver: DriverKind,
    /// nubod's host API, to say hello to.
    pub nubod: Option<String>,
    /// Where nubod should reach this agent.
    pub advertise: Option<String>,
    /// How often the report is pushed to nubod.
    pub push_every: Duration,
    /// The certificate and key the agent serves TLS with.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Certificate authorities trusted besides the system's.
    pub ca_files: Vec<PathBuf>,
}

fn accel(name: &str) -> anyhow::Result<AccelChoice> {
    Ok(match name {
        "auto" => AccelChoice::Auto,
        "kvm" => AccelChoice::Kvm,
        "tcg" => AccelChoice::Tcg,
        other => anyhow::bail!("accel must be auto, kvm or tcg, not \"{other}\""),
    })
}

/// The address in `listen`, or `name` when it listens on all addresses.
fn listen_host(listen: &str, name: &str) -> String {
    let ip = listen.rsplit_once(':').map_or(listen, |(ip, _)| ip);
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if ip == "0.0.0.0" || ip == "::" || ip.is_empty() {
        name.to_string()
    } else {
        ip.to_string()
    }
}

/// Reads a TOML config file.
pub fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("bad config file {}", path.display()))
}

impl Settings {
    /// Where other agents reach this one: the advertised address, else the migration
    /// address on the port it listens on.
    pub fn peer_address(&self, kvm: &nubo_driver_kvm::KvmConfig) -> String {
        self.peer_address_on(&kvm.migration_address)
    }

    /// This host's address between hosts when nothing names it: the listen address, or
    /// the host's name when listening on all addresses.
    pub fn listen_host(&self) -> String {
        listen_host(&self.listen, &self.name)
    }

    /// Where other agents reach this one: the advertised address, else `host` on the port
    /// it listens on.
    pub fn peer_address_on(&self, host: &str) -> String {
        if let Some(a) = &self.advertise {
            return a.clone();
        }
        let port = self
            .listen
            .rsplit_once(':')
            .map_or(nubo_hostapi::DEFAULT_PORT.to_string(), |(_, p)| {
                p.to_string()
            });
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        if host.contains(':') {
            format!("{scheme}://[{host}]:{port}")
        } else {
            format!("{scheme}://{host}:{port}")
        }
    }

    /// Flags over the file over defaults.
    pub fn resolve(args: &Args) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        let name = args
            .name
            .clone()
            .or(file.name)
            .context("the host's name is required (--name or name in the config file)")?;
        let secret = match (
            args.secret_file.as_ref().or(file.secret_file.as_ref()),
            file.secret,
        ) {
            (Some(path), _) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the secret file {}", path.display()))?
                .trim()
                .to_string(),
            (None, Some(s)) => s,
            (None, None) => anyhow::bail!(
                "the host's secret is required (--secret-file; `nubod host-secret {name}` prints it)"
            ),
        };
        anyhow::ensure!(secret.len() >= 16, "the host's secret is too short");
        let state_dir = args
            .state_dir
            .clone()
            .or(file.state_dir)
            .unwrap_or_else(|| PathBuf::from("/var/lib/nubo-hostd"));
        let listen = args
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| format!("127.0.0.1:{}", nubo_hostapi::DEFAULT_PORT));
        let driver = match args
            .driver
            .as_deref()
            .or(file.driver.as_deref())
            .unwrap_or("kvm")
        {
            "kvm" | "qemu" => {
                let mut k = nubo_driver_kvm::KvmConfig::new(state_dir);
                if let Some(q) = file.kvm.qemu {
                    k.qemu = q;
                }
                if let Some(a) = args.accel.as_deref().or(file.kvm.accel.as_deref()) {
                    k.accel = accel(a)?;
                }
                if let Some(t) = file.kvm.tcg_tb_size_mb {
                    k.tcg_tb_size_mb = t;
                }
                if let Some(s) = args.shutdown_timeout.or(file.kvm.shutdown_timeout_s) {
                    k.shutdown_timeout = Duration::from_secs(s);
                }
                k.migration_address = match file.kvm.migration_address {
                    Some(a) => a,
                    None => listen_host(&listen, &name),
                };
                DriverKind::Kvm(k)
            }
            "lxc" => {
                let mut l = nubo_driver_lxc::LxcConfig::new(state_dir);
                if let Some(r) = file.lxc.runtime {
                    anyhow::ensure!(!r.trim().is_empty(), "lxc.runtime must name a program");
                    l.runtime = r;
                }
                if let Some(s) = args.shutdown_timeout.or(file.lxc.shutdown_timeout_s) {
                    l.shutdown_timeout = Duration::from_secs(s);
                }
                if let Some(b) = file.lxc.id_base {
                    l.ids.base = b;
                }
                if let Some(r) = file.lxc.id_registry {
                    l.ids.registry = r;
                }
                l.ids
                    .check()
                    .map_err(|e| anyhow::anyhow!("lxc.id_base: {e}"))?;
                if let Some(p) = file.lxc.pids_limit {
                    anyhow::ensure!(p >= 8, "lxc.pids_limit must be at least 8");
                    l.pids_limit = p;
                }
                DriverKind::Lxc(l)
            }
            "sim" => DriverKind::Sim,
            other => anyhow::bail!("driver must be kvm, lxc or sim, not \"{other}\""),
        };
        let tls = match (
            args.tls_cert.clone().or(file.tls_cert),
            args.tls_key.clone().or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => anyhow::bail!("TLS needs both a certificate (--tls-cert) and a key (--tls-key)"),
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let advertise = args.advertise.clone().or(file.advertise).or_else(|| {
            let ip = listen.rsplit_once(':').map_or("", |(ip, _)| ip);
            (!matches!(ip, "0.0.0.0" | "[::]" | "")).then(|| format!("{scheme}://{listen}"))
        });
        let mut ca_files = file.ca_files;
        ca_files.extend(args.ca_file.iter().cloned());
        Ok(Settings {
            name,
            listen,
            secret,
            driver,
            nubod: args.nubod.clone().or(file.nubod),
            advertise,
            tls,
            ca_files,
            push_every: Duration::from_secs(
                args.push_interval
                    .or(file.push_interval_s)
                    .unwrap_or(30)
                    .max(1),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/hostd.example.toml");
        let file = read_file(&path).expect("parses");
        assert_eq!(file.driver.as_deref(), Some("kvm"));
        assert!(file.kvm.accel.is_some());
        assert_eq!(file.lxc.runtime.as_deref(), Some("runc"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("nmae = \"x\"").is_err());
    }
}
