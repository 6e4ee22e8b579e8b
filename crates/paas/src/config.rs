//! The PaaS's settings: where it keeps its files, the network its containers join, what a
//! build and an instance may take, and what of the host's package-registry setup builds
//! are handed.

use std::path::PathBuf;
use std::time::Duration;

use nubo_types::Oid;

/// What a build may take.
#[derive(Debug, Clone)]
pub struct BuildLimits {
    /// CPU share of the build container (OpenNebula's CPU).
    pub cpu: String,
    /// Its virtual CPUs.
    pub vcpu: u32,
    /// Its memory, in MB.
    pub memory_mb: u32,
    /// The size of its `/app` filesystem, in MB: what the source, the dependencies and the
    /// build's output may take together.
    pub disk_mb: u32,
    /// What it may write to its root filesystem (`/tmp`, caches, …), in MB: the SIZE of
    /// its stack disk, which bounds the container's writable layer, so that a build
    /// filling it fails with "No space left on device" and leaves its host's disk alone.
    pub root_mb: u32,
    /// How long it may run (Heroku: 15 minutes).
    pub timeout: Duration,
    /// The largest source, in bytes, after fetching.
    pub source_max_bytes: u64,
    /// How long fetching the source may take.
    pub fetch_timeout: Duration,
}

impl Default for BuildLimits {
    fn default() -> Self {
        BuildLimits {
            cpu: "1".into(),
            vcpu: 1,
            memory_mb: 1024,
            disk_mb: 2048,
            root_mb: 2048,
            timeout: Duration::from_secs(15 * 60),
            source_max_bytes: 512 * 1024 * 1024,
            fetch_timeout: Duration::from_secs(5 * 60),
        }
    }
}

/// The PaaS's settings.
#[derive(Debug, Clone)]
pub struct PaasConfig {
    /// Where builds check out sources and logs are kept (`DATA_DIR/paas`).
    pub work_dir: PathBuf,
    /// The virtual network (by name) builds and instances get a NIC on; none: no network.
    pub network: Option<String>,
    /// The image datastore sources and slugs go to.
    pub image_datastore: Oid,
    /// What a build may take.
    pub build: BuildLimits,
    /// What an app's instance (or one-off run) may write to its root filesystem, in MB:
    /// the SIZE of its stack disk (Cloud Foundry's default disk quota, 1024).
    pub instance_root_mb: u32,
    /// The CA bundle builds trust (the host's, so that a TLS-intercepting proxy the host
    /// trusts is trusted inside too).
    pub ca_bundle: Option<PathBuf>,
    /// The host's pip configuration, handed to builds.
    pub pip_conf: Option<PathBuf>,
    /// The host's npm configuration, handed to builds.
    pub npmrc: Option<PathBuf>,
    /// The domain the router serves apps under (`<app>.<domain>`), when it runs.
    pub apps_domain: Option<String>,
    /// How many of an app's newest releases keep their slugs for a rollback; older ones'
    /// slugs are deleted when nothing uses them ([`crate::rollback`]). At least 1.
    pub releases_kept: u32,
}

impl PaasConfig {
    /// Settings for a nubod whose data lives in `data_dir`: the host's CA bundle, pip and
    /// npm configuration where they exist.
    pub fn for_data_dir(data_dir: &std::path::Path) -> Self {
        let existing = |paths: &[&str]| paths.iter().map(PathBuf::from).find(|p| p.is_file());
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let npmrc = home
            .as_ref()
            .map(|h| h.join(".npmrc"))
            .filter(|p| p.is_file())
            .or_else(|| existing(&["/etc/npmrc", "/usr/etc/npmrc"]));
        let pip_conf = home
            .as_ref()
            .map(|h| h.join(".config/pip/pip.conf"))
            .filter(|p| p.is_file())
            .or_else(|| existing(&["/etc/pip.conf"]));
        PaasConfig {
            work_dir: data_dir.join("paas"),
            network: None,
            image_datastore: 1,
            build: BuildLimits::default(),
            instance_root_mb: 1024,
            ca_bundle: existing(&["/etc/ssl/certs/ca-certificates.crt"]),
            pip_conf,
            npmrc,
            apps_domain: None,
            releases_kept: crate::rollback::DEFAULT_RELEASES_KEPT,
        }
    }

    /// The directory of build `id`'s checkout.
    pub fn build_dir(&self, id: i64) -> PathBuf {
        self.work_dir.join("builds").join(id.to_string())
    }

    /// Where uploads are received before they become a build's source.
    pub fn upload_dir(&self) -> PathBuf {
        self.work_dir.join("uploads")
    }

    /// The uploaded source archive of build `id`.
    pub fn upload_path(&self, id: i64) -> PathBuf {
        self.upload_dir().join(format!("build-{id}.archive"))
    }

    /// The log of build `id`.
    pub fn build_log(&self, id: i64) -> PathBuf {
        self.work_dir.join("logs").join(format!("build-{id}.log"))
    }
}
