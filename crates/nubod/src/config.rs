//! nubod's settings: command-line flags over an optional TOML file over defaults.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// Command-line flags.
#[derive(Debug, clap::Parser)]
#[command(name = "nubod", version, about = "The Nubo cloud daemon")]
pub struct Args {
    /// TOML configuration file.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Where nubod keeps its database and datastores.
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// XML-RPC listen address (ADDR:PORT).
    #[arg(long)]
    pub xmlrpc: Option<String>,
    /// Where host agents fetch image files (ADDR:PORT, default 127.0.0.1:2635).
    #[arg(long)]
    pub host_api: Option<String>,
    /// Certificate chain (PEM) the host agents' API serves TLS with (with --host-api-tls-key).
    #[arg(long)]
    pub host_api_tls_cert: Option<PathBuf>,
    /// Private key (PEM) of that certificate.
    #[arg(long)]
    pub host_api_tls_key: Option<PathBuf>,
    /// Certificate authorities (PEM) trusted besides the system's, for https:// host
    /// agents and image URLs (repeatable).
    #[arg(long)]
    pub ca_file: Vec<PathBuf>,
    /// Serve the EC2 Query API on ADDR:PORT (`--ec2` alone: 127.0.0.1:4567; off without it).
    #[arg(long, num_args = 0..=1, default_missing_value = DEFAULT_EC2_LISTEN, value_name = "ADDR:PORT")]
    pub ec2: Option<String>,
    /// The region EC2 requests must be signed for (default "nubo").
    #[arg(long)]
    pub ec2_region: Option<String>,
    /// Serve the PaaS's HTTP router (apps at `<app>.<apps domain>`) on ADDR:PORT
    /// (`--router` alone: 127.0.0.1:8000; off without it).
    #[arg(long, num_args = 0..=1, default_missing_value = DEFAULT_ROUTER_LISTEN, value_name = "ADDR:PORT")]
    pub router: Option<String>,
    /// Serve the REST/JSON API of the PaaS (`/api/v1`) on ADDR:PORT (`--api` alone:
    /// 127.0.0.1:8080; off without it).
    #[arg(long, num_args = 0..=1, default_missing_value = DEFAULT_API_LISTEN, value_name = "ADDR:PORT")]
    pub api: Option<String>,
    /// Database URL: postgres://... for PostgreSQL (default: SQLite in the data dir).
    #[arg(long)]
    pub database: Option<String>,
    /// Delay of each operation on simulated hosts, in milliseconds (default 100).
    #[arg(long)]
    pub sim_delay_ms: Option<u64>,
    /// Seconds between host monitoring rounds (default 30).
    #[arg(long)]
    pub monitor_interval: Option<u64>,
    /// Scheduler host policy: striping (default), packing, load-aware, or custom (with
    /// `sched_rank` in the config file).
    #[arg(long)]
    pub sched_policy: Option<String>,
    /// Make this machine a host of its own: hosts local-lxc (and local-kvm when QEMU is
    /// installed) driven by nubo-hostd agents nubod runs, and the container stack
    /// registered as image debian-12 (see docs/hosts.md, "The local host").
    #[arg(long)]
    pub local_host: bool,
    /// The container stack the local host registers as image debian-12 (default: the
    /// first of DATA_DIR/stacks/debian-12.raw and target/stack/debian-12.raw that exists).
    #[arg(long, value_name = "PATH")]
    pub stack: Option<PathBuf>,
    /// Log filter (error, warn, info, debug, trace); RUST_LOG overrides it.
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Instead of serving: a one-off command.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Where `--ec2` alone serves the EC2 API (econe's port).
const DEFAULT_EC2_LISTEN: &str = "127.0.0.1:4567";

/// Where `--router` alone serves the router.
const DEFAULT_ROUTER_LISTEN: &str = "127.0.0.1:8000";

/// The apps domain when none is configured: `<app>.apps.localhost` (browsers resolve
/// `*.localhost` to the loopback address).
const DEFAULT_APPS_DOMAIN: &str = "apps.localhost";

/// Where `--api` alone serves the REST API.
const DEFAULT_API_LISTEN: &str = "127.0.0.1:8080";

/// One-off commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Prints the secret that host NAME's agent (nubo-hostd) must be given.
    HostSecret {
        /// The host's name, as created with `nubo host create NAME`.
        name: String,
    },
}

/// The TOML configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Database URL.
    pub database: Option<String>,
    /// XML-RPC settings.
    #[serde(default)]
    pub xmlrpc: XmlRpcConfig,
    /// Scheduler, monitoring and simulated hosts.
    #[serde(default)]
    pub runtime: RuntimeFileConfig,
    /// The listener host agents use.
    #[serde(default)]
    pub hosts: HostsFileConfig,
    /// `[images]`: what image imports may reach (docs/security.md).
    #[serde(default)]
    pub images: ImagesFileConfig,
    /// The EC2 Query API.
    #[serde(default)]
    pub ec2: Ec2FileConfig,
    /// `[api]`: the PaaS's REST API.
    #[serde(default)]
    pub api: ApiFileConfig,
    /// `[paas]`: the PaaS's builds and instances.
    #[serde(default)]
    pub paas: PaasFileConfig,
    /// `[metrics]`: who may scrape `/metrics` on the API listener.
    #[serde(default)]
    pub metrics: MetricsFileConfig,
    /// `[router]`: the PaaS's HTTP router.
    #[serde(default)]
    pub router: RouterFileConfig,
    /// `[limits]`: what every listener allows a client.
    #[serde(default)]
    pub limits: LimitsFileConfig,
    /// `[restricted_attributes]`: what only the oneadmin group may set.
    #[serde(default)]
    pub restricted_attributes: RestrictedFileConfig,
    /// `[local_host]`: this machine as a host of its own cloud.
    #[serde(default)]
    pub local_host: LocalHostFileConfig,
}

/// `[local_host]`: off unless `enabled` (or `--local-host`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalHostFileConfig {
    /// Run the local hosts.
    #[serde(default)]
    pub enabled: bool,
    /// The container stack registered as image debian-12.
    pub stack: Option<PathBuf>,
    /// The nubo-hostd program (default: beside nubod, else on PATH).
    pub hostd: Option<PathBuf>,
    /// Run host local-kvm too (default: when qemu-system-x86_64 is on PATH).
    pub kvm: Option<bool>,
}

/// `[restricted_attributes]`: each list, when given, replaces OpenNebula's default list
/// (`VM_RESTRICTED_ATTR`, `IMAGE_RESTRICTED_ATTR`, `VNET_RESTRICTED_ATTR`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictedFileConfig {
    /// `NAME` or `VECTOR/KEY` entries for VMs and VM templates.
    pub vm: Option<Vec<String>>,
    /// Entries for images.
    pub image: Option<Vec<String>>,
    /// Entries for network reservations.
    pub vnet: Option<Vec<String>>,
}

/// `[limits]`: the defences of every listener (XML-RPC, EC2, host agents).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFileConfig {
    /// Connections each listener serves at once; more are answered 503.
    pub max_connections: Option<usize>,
    /// Seconds for a request's headers, and for an idle keep-alive connection.
    pub header_timeout_s: Option<u64>,
    /// Seconds a request body may pause.
    pub body_idle_timeout_s: Option<u64>,
    /// Seconds a whole request body may take.
    pub body_timeout_s: Option<u64>,
    /// Bytes all large request bodies in flight may take together.
    pub body_memory_bytes: Option<usize>,
}

/// `[images]`: exceptions to the rules on where images are imported from.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagesFileConfig {
    /// PATH may name files under /proc, /sys, /dev and nubod's own directories.
    #[serde(default)]
    pub allow_private_paths: bool,
    /// URLs may reach loopback, link-local and this machine's own addresses.
    #[serde(default)]
    pub allow_local_urls: bool,
    /// Hosts whose URLs may reach such addresses anyway.
    #[serde(default)]
    pub local_url_hosts: Vec<String>,
}

/// `[ec2]` section: the EC2 API is served when `listen` is set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2FileConfig {
    /// Listen address (ADDR:PORT).
    pub listen: Option<String>,
    /// The region requests must be signed for (default "nubo").
    pub region: Option<String>,
    /// Largest request body in bytes.
    pub max_body_bytes: Option<usize>,
}

/// `[api]` section: the REST API is served when `listen` is set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFileConfig {
    /// Listen address (ADDR:PORT).
    pub listen: Option<String>,
}

/// `[metrics]` section: `/metrics` on the API listener takes members of the oneadmin
/// group (HTTP Basic, as the REST API) and, when set, `Authorization: Bearer <token>`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFileConfig {
    /// The bearer token scrapers may present (at least [`METRICS_TOKEN_MIN`] characters).
    pub token: Option<String>,
}

/// The shortest `[metrics] token` taken.
pub const METRICS_TOKEN_MIN: usize = 16;

/// `[router]` section: the router is served when `listen` is set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterFileConfig {
    /// Listen address (ADDR:PORT).
    pub listen: Option<String>,
    /// The apps domain: app `shop` is served at `shop.<domain>` (default apps.localhost).
    pub domain: Option<String>,
    /// The certificate (PEM, with its chain) the router serves HTTPS with.
    pub tls_cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub tls_key: Option<PathBuf>,
}

/// Where and how the router is served.
#[derive(Debug, Clone)]
pub struct RouterSettings {
    /// Listen address.
    pub listen: String,
    /// The apps domain.
    pub domain: String,
    /// The certificate and key it serves HTTPS with, if any.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// `[paas]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaasFileConfig {
    /// The virtual network (by name) builds and app instances get a NIC on (default: the
    /// local host's `local-apps` with `--local-host`, else none).
    pub network: Option<String>,
    /// Memory of a build container, in MB (default 1024).
    pub build_memory_mb: Option<u32>,
    /// The size of a build's `/app` filesystem, in MB (default 2048).
    pub build_disk_mb: Option<u32>,
    /// What a build may write to its root filesystem, in MB (default 2048).
    pub build_root_mb: Option<u32>,
    /// What an app's instance or run may write to its root filesystem, in MB (default
    /// 1024).
    pub instance_root_mb: Option<u32>,
    /// How long a build may run, in seconds (default 900).
    pub build_timeout_s: Option<u64>,
    /// How many of an app's newest releases keep their slugs for a rollback (default 20,
    /// at least 1); older slugs are deleted once nothing runs them.
    pub releases_kept: Option<u32>,
}

/// `[hosts]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostsFileConfig {
    /// Listen address of the host agents' API.
    pub listen: Option<String>,
    /// The URL host agents reach it at (default: http(s):// and the listen address).
    pub url: Option<String>,
    /// Certificate chain (PEM): serve TLS (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of the certificate.
    pub tls_key: Option<PathBuf>,
    /// Certificate authorities (PEM) trusted besides the system's, for https:// host
    /// agents and image URLs.
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
}

/// `[runtime]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeFileConfig {
    /// Delay of each operation on simulated hosts, in milliseconds.
    pub sim_delay_ms: Option<u64>,
    /// Seconds between host monitoring rounds.
    pub monitor_interval_s: Option<u64>,
    /// Seconds between scheduler retries of VMs it could not place.
    pub sched_retry_s: Option<u64>,
    /// Host policy: "striping" (default), "packing", "load-aware" or "custom".
    pub sched_policy: Option<String>,
    /// The rank expression of the "custom" policy (highest wins), e.g. "FREE_CPU".
    pub sched_rank: Option<String>,
}

/// The scheduler's host policy by name (OpenNebula's packing, striping, load-aware and
/// custom-rank policies).
/// OpenNebula's restricted attributes, with the lists `[restricted_attributes]` gives
/// instead (names upper-cased, as templates store them).
fn restricted(file: RestrictedFileConfig) -> nubo_core::RestrictedAttrs {
    let upper = |list: Vec<String>| {
        list.into_iter()
            .map(|e| e.trim().to_ascii_uppercase())
            .collect()
    };
    let mut r = nubo_core::RestrictedAttrs::default();
    if let Some(list) = file.vm {
        r.vm = upper(list);
    }
    if let Some(list) = file.image {
        r.image = upper(list);
    }
    if let Some(list) = file.vnet {
        r.vnet = upper(list);
    }
    r
}

/// The listeners' limits and the body rules (limit still to set, budget shared) of `[limits]`.
fn limits(file: &LimitsFileConfig) -> (nubo_listener::Limits, nubo_listener::BodyRules) {
    let secs = |s: u64| std::time::Duration::from_secs(s.max(1));
    let mut limits = nubo_listener::Limits::default();
    if let Some(n) = file.max_connections {
        limits.max_connections = n.max(1);
    }
    if let Some(s) = file.header_timeout_s {
        limits.header_timeout = secs(s);
    }
    let mut bodies = nubo_listener::BodyRules::new(0);
    if let Some(s) = file.body_idle_timeout_s {
        bodies.idle = secs(s);
    }
    if let Some(s) = file.body_timeout_s {
        bodies.total = secs(s);
    }
    if let Some(bytes) = file.body_memory_bytes {
        bodies.budget = nubo_listener::BodyBudget::new(bytes);
    }
    (limits, bodies)
}

fn sched_policy(name: &str, rank: Option<&str>) -> anyhow::Result<nubo_scheduler::Policy> {
    use nubo_scheduler::Policy;
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "striping" => Policy::Striping,
        "packing" => Policy::Packing,
        "load-aware" | "load_aware" => Policy::LoadAware,
        "custom" => {
            let text = rank.ok_or_else(|| {
                anyhow::anyhow!("sched_policy \"custom\" needs sched_rank (an expression)")
            })?;
            Policy::Custom(
                nubo_template::Rank::parse(text).map_err(|e| anyhow::anyhow!("sched_rank: {e}"))?,
            )
        }
        other => anyhow::bail!(
            "unknown sched_policy \"{other}\" (striping, packing, load-aware or custom)"
        ),
    })
}

/// The XML-RPC URL of a bound listener, as zone 0's ENDPOINT shows it: an unspecified
/// address (0.0.0.0, ::) reads as localhost, as oned writes it.
pub fn served_endpoint(addr: std::net::SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("http://localhost:{}/RPC2", addr.port())
    } else {
        format!("http://{addr}/RPC2")
    }
}

/// `[xmlrpc]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmlRpcConfig {
    /// Listen address.
    pub listen: Option<String>,
    /// Largest request body in bytes.
    pub max_body_bytes: Option<usize>,
    /// The XML-RPC URL clients are given as zone 0's ENDPOINT (default: the bound
    /// address, `http://ADDR:PORT/RPC2`).
    pub public_endpoint: Option<String>,
}

/// The settings nubod runs with.
#[derive(Debug)]
pub struct Settings {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL.
    pub database: String,
    /// XML-RPC listen address.
    pub xmlrpc: String,
    /// The configured public XML-RPC URL (zone 0's ENDPOINT), if any.
    pub xmlrpc_endpoint: Option<String>,
    /// How the XML-RPC API reads bodies.
    pub xmlrpc_bodies: nubo_listener::BodyRules,
    /// How the host agents' API reads bodies other than image uploads.
    pub host_api_bodies: nubo_listener::BodyRules,
    /// Every listener's connection limits.
    pub limits: nubo_listener::Limits,
    /// The restricted attributes.
    pub restricted: nubo_core::RestrictedAttrs,
    /// The host agents' API listen address.
    pub host_api: String,
    /// The certificate and key the host agents' API serves TLS with.
    pub host_api_tls: Option<(PathBuf, PathBuf)>,
    /// Certificate authorities trusted besides the system's.
    pub ca_files: Vec<PathBuf>,
    /// What image imports may reach.
    pub images: nubo_core::ops::image_sources::ImageImports,
    /// Scheduler, monitoring, simulated hosts and the host key (read at start).
    pub runtime: nubo_core::RuntimeConfig,
    /// The EC2 API's listen address and settings, when it is served.
    pub ec2: Option<(String, nubo_frontend_ec2::Ec2Config)>,
    /// The REST API's listen address, when it is served.
    pub api: Option<String>,
    /// The bearer token that may scrape `/metrics`, if any.
    pub metrics_token: Option<String>,
    /// The PaaS's settings.
    pub paas: nubo_paas::PaasConfig,
    /// The router, when it is served.
    pub router: Option<RouterSettings>,
    /// The local hosts, when they are on.
    pub local_host: Option<crate::local_host::LocalHostSettings>,
}

impl FileConfig {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("invalid configuration in {}", path.display()))
    }
}

impl Settings {
    /// Flags win over the file, the file over defaults.
    pub fn resolve(args: &Args) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .or_else(|| dirs::data_dir().map(|d| d.join("nubo")))
            .context("no data directory: pass --data-dir")?;
        let database = args
            .database
            .clone()
            .or(file.database)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("nubo.db").display()));
        let xmlrpc = args
            .xmlrpc
            .clone()
            .or(file.xmlrpc.listen)
            .unwrap_or_else(|| "127.0.0.1:2633".to_string());
        let (limits, bodies) = limits(&file.limits);
        let xmlrpc_bodies = nubo_listener::BodyRules {
            limit: file
                .xmlrpc
                .max_body_bytes
                .unwrap_or(nubo_frontend_xmlrpc::DEFAULT_BODY_LIMIT),
            ..bodies.clone()
        };
        let host_api_bodies = nubo_listener::BodyRules {
            limit: nubo_frontend_hosts::BODY_LIMIT,
            ..bodies.clone()
        };
        let mut runtime = nubo_core::RuntimeConfig::default();
        let secs = std::time::Duration::from_secs;
        if let Some(ms) = args.sim_delay_ms.or(file.runtime.sim_delay_ms) {
            runtime.sim_delay = std::time::Duration::from_millis(ms);
        }
        if let Some(s) = args.monitor_interval.or(file.runtime.monitor_interval_s) {
            runtime.monitor_interval = secs(s.max(1));
        }
        if let Some(s) = file.runtime.sched_retry_s {
            runtime.sched_retry = secs(s.max(1));
        }
        let policy = args.sched_policy.clone().or(file.runtime.sched_policy);
        if let Some(name) = policy {
            runtime.sched_policy = sched_policy(&name, file.runtime.sched_rank.as_deref())?;
        }
        let host_api = args
            .host_api
            .clone()
            .or(file.hosts.listen)
            .unwrap_or_else(|| "127.0.0.1:2635".to_string());
        let host_api_tls = match (
            args.host_api_tls_cert.clone().or(file.hosts.tls_cert),
            args.host_api_tls_key.clone().or(file.hosts.tls_key),
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => anyhow::bail!("TLS for the host agents' API needs both a certificate and a key"),
        };
        let scheme = if host_api_tls.is_some() {
            "https"
        } else {
            "http"
        };
        let mut ca_files = file.hosts.ca_files;
        ca_files.extend(args.ca_file.iter().cloned());
        runtime.host_api_url = Some(
            file.hosts
                .url
                .unwrap_or_else(|| format!("{scheme}://{host_api}"))
                .trim_end_matches('/')
                .to_string(),
        );
        let ec2 = args.ec2.clone().or(file.ec2.listen).map(|listen| {
            let config = nubo_frontend_ec2::Ec2Config {
                region: args
                    .ec2_region
                    .clone()
                    .or(file.ec2.region.clone())
                    .unwrap_or_else(|| "nubo".to_string()),
                bodies: nubo_listener::BodyRules {
                    limit: file
                        .ec2
                        .max_body_bytes
                        .unwrap_or(nubo_frontend_ec2::DEFAULT_BODY_LIMIT),
                    ..bodies.clone()
                },
            };
            (listen, config)
        });
        let local_host = (args.local_host || file.local_host.enabled).then(|| {
            crate::local_host::LocalHostSettings {
                stack: args.stack.clone().or(file.local_host.stack),
                hostd: file.local_host.hostd,
                kvm: file.local_host.kvm,
            }
        });
        let api = args.api.clone().or(file.api.listen);
        let metrics_token = file.metrics.token.filter(|t| !t.is_empty());
        if metrics_token.as_ref().is_some_and(|t| {
            t.len() < METRICS_TOKEN_MIN || t.bytes().any(|b| !b.is_ascii_graphic())
        }) {
            anyhow::bail!(
                "[metrics] token must be at least {METRICS_TOKEN_MIN} printable characters without spaces"
            );
        }
        let mut paas = nubo_paas::PaasConfig::for_data_dir(&data_dir);
        paas.network = file.paas.network.or_else(|| {
            local_host
                .is_some()
                .then(|| crate::local_network::APPS_NETWORK.to_owned())
        });
        if let Some(mb) = file.paas.build_memory_mb {
            paas.build.memory_mb = mb;
        }
        if let Some(mb) = file.paas.build_disk_mb {
            paas.build.disk_mb = mb;
        }
        if let Some(mb) = file.paas.build_root_mb {
            paas.build.root_mb = mb;
        }
        if let Some(mb) = file.paas.instance_root_mb {
            paas.instance_root_mb = mb;
        }
        if let Some(s) = file.paas.build_timeout_s {
            paas.build.timeout = std::time::Duration::from_secs(s);
        }
        if let Some(n) = file.paas.releases_kept {
            anyhow::ensure!(n >= 1, "[paas] releases_kept must be at least 1");
            paas.releases_kept = n;
        }
        let router_tls = match (file.router.tls_cert, file.router.tls_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => anyhow::bail!("TLS for the router needs both tls_cert and tls_key"),
        };
        // The apps domain is known when a router serves it: nubod's own, or one running
        // elsewhere (`nubo-router`) for which `[router] domain` alone is configured.
        let configured_domain = file.router.domain.clone();
        let domain = configured_domain
            .clone()
            .unwrap_or_else(|| DEFAULT_APPS_DOMAIN.to_owned())
            .trim_matches('.')
            .to_ascii_lowercase();
        let router = args
            .router
            .clone()
            .or(file.router.listen)
            .map(|listen| RouterSettings {
                listen,
                domain: domain.clone(),
                tls: router_tls,
            });
        paas.apps_domain = (router.is_some() || configured_domain.is_some()).then_some(domain);
        Ok(Settings {
            local_host,
            ec2,
            api,
            metrics_token,
            paas,
            router,
            data_dir,
            database,
            xmlrpc,
            xmlrpc_endpoint: file.xmlrpc.public_endpoint.filter(|e| !e.trim().is_empty()),
            xmlrpc_bodies,
            host_api_bodies,
            limits,
            restricted: restricted(file.restricted_attributes),
            host_api,
            host_api_tls,
            ca_files,
            images: nubo_core::ops::image_sources::ImageImports {
                allow_private_paths: file.images.allow_private_paths,
                allow_local_urls: file.images.allow_local_urls,
                local_url_hosts: file.images.local_url_hosts,
            },
            runtime,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/nubod.example.toml");
        let cfg = FileConfig::load(&path).expect("the example configuration is valid");
        assert_eq!(cfg.xmlrpc.listen.as_deref(), Some("127.0.0.1:2633"));
        assert!(!cfg.local_host.enabled);
    }

    #[test]
    fn zone_endpoint_is_the_bound_address_or_the_public_one() {
        let at = |s: &str| s.parse::<std::net::SocketAddr>().expect("addr");
        assert_eq!(
            served_endpoint(at("127.0.0.1:40123")),
            "http://127.0.0.1:40123/RPC2"
        );
        assert_eq!(
            served_endpoint(at("0.0.0.0:2633")),
            "http://localhost:2633/RPC2"
        );
        assert_eq!(served_endpoint(at("[::1]:2633")), "http://[::1]:2633/RPC2");
        let cfg: FileConfig =
            toml::from_str("[xmlrpc]\npublic_endpoint = \"https://c.example/RPC2\"").expect("ok");
        assert_eq!(
            cfg.xmlrpc.public_endpoint.as_deref(),
            Some("https://c.example/RPC2")
        );
    }

    #[test]
    fn images_section_is_read() {
        let cfg: FileConfig = toml::from_str(
            "[images]\nallow_local_urls = true\nlocal_url_hosts = [\"mirror.local\"]",
        )
        .expect("valid");
        assert!(cfg.images.allow_local_urls && !cfg.images.allow_private_paths);
        assert_eq!(cfg.images.local_url_hosts, ["mirror.local"]);
        assert!(toml::from_str::<FileConfig>("[images]\nallow_urls = true").is_err());
    }

    #[test]
    fn the_local_host_is_off_unless_asked() {
        use clap::Parser;
        let args = Args::parse_from(["nubod", "--data-dir", "/tmp/x"]);
        assert!(Settings::resolve(&args).expect("ok").local_host.is_none());
        let args = Args::parse_from(["nubod", "--data-dir", "/tmp/x", "--local-host"]);
        let on = Settings::resolve(&args)
            .expect("ok")
            .local_host
            .expect("on");
        assert_eq!(on.stack, None);
        let args = Args::parse_from([
            "nubod",
            "--data-dir",
            "/tmp/x",
            "--local-host",
            "--stack",
            "/s.raw",
        ]);
        let on = Settings::resolve(&args)
            .expect("ok")
            .local_host
            .expect("on");
        assert_eq!(on.stack.as_deref(), Some(Path::new("/s.raw")));
        let cfg: FileConfig =
            toml::from_str("[local_host]\nenabled = true\nkvm = false").expect("valid");
        assert!(cfg.local_host.enabled && cfg.local_host.kvm == Some(false));
        assert!(toml::from_str::<FileConfig>("[local_host]\nenable = true").is_err());
    }

    #[test]
    fn the_apps_domain_is_known_with_a_router_here_or_elsewhere() {
        use clap::Parser;
        let dir = tempfile::tempdir().expect("tmp");
        let resolve = |extra: &[&str], file: &str| {
            let path = dir.path().join("nubod.toml");
            std::fs::write(&path, file).expect("write");
            let mut args = vec!["nubod", "--data-dir", "/tmp/x", "--config"];
            let path = path.display().to_string();
            args.push(&path);
            args.extend(extra);
            Settings::resolve(&Args::parse_from(args))
                .expect("ok")
                .paas
                .apps_domain
        };
        assert_eq!(resolve(&[], ""), None);
        assert_eq!(
            resolve(&["--router", "127.0.0.1:0"], "").as_deref(),
            Some(DEFAULT_APPS_DOMAIN)
        );
        // No router in nubod, one elsewhere (nubo-router) for the configured domain.
        assert_eq!(
            resolve(&[], "[router]\ndomain = \".Apps.Example.COM.\"").as_deref(),
            Some("apps.example.com")
        );
    }

    #[test]
    fn releases_kept_is_at_least_one() {
        use clap::Parser;
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("nubod.toml");
        let args = ["nubod", "--data-dir", "/tmp/x", "--config"];
        let resolve = |file: &str| {
            std::fs::write(&path, file).expect("write");
            let path = path.display().to_string();
            let args: Vec<&str> = args.iter().copied().chain([path.as_str()]).collect();
            Settings::resolve(&Args::parse_from(args)).map(|s| s.paas.releases_kept)
        };
        assert_eq!(resolve("").expect("default"), 20);
        assert_eq!(resolve("[paas]\nreleases_kept = 2").expect("set"), 2);
        assert!(resolve("[paas]\nreleases_kept = 0").is_err());
    }

    #[test]
    fn the_metrics_token_is_long_and_printable() {
        use clap::Parser;
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("nubod.toml");
        let args = ["nubod", "--data-dir", "/tmp/x", "--config"];
        let resolve = |file: &str| {
            std::fs::write(&path, file).expect("write");
            let path = path.display().to_string();
            let args: Vec<&str> = args.iter().copied().chain([path.as_str()]).collect();
            Settings::resolve(&Args::parse_from(args)).map(|s| s.metrics_token)
        };
        assert_eq!(resolve("").expect("default"), None);
        assert_eq!(resolve("[metrics]\ntoken = \"\"").expect("empty"), None);
        assert_eq!(
            resolve("[metrics]\ntoken = \"0123456789abcdef\"").expect("set"),
            Some("0123456789abcdef".to_owned())
        );
        assert!(resolve("[metrics]\ntoken = \"short\"").is_err());
        assert!(resolve("[metrics]\ntoken = \"0123456789 abcdef\"").is_err());
        assert!(resolve("[metrics]\ntokens = \"0123456789abcdef\"").is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("colour = 1").is_err());
    }
}
