//! Where a new image's data may come from (docs/security.md, "Image imports").
//!
//! A PATH on the front-end is resolved first (symlinks, `..`, `/proc/self/root`), and the
//! resolved path is checked: never under `/proc`, `/sys`, `/dev`, nubod's own directories
//! (its data directory, the datastores, its home with `.one/one_auth`) unless nubod's
//! configuration allows it (`[images] allow_private_paths`); then against the datastore's
//! `RESTRICTED_DIRS` and `SAFE_DIRS`, OpenNebula's way (a safe directory wins, else a
//! restricted one refuses). Callers outside the oneadmin group get OpenNebula's defaults,
//! `RESTRICTED_DIRS="/"` and `SAFE_DIRS="/var/tmp"`; the oneadmin group gets `/etc` as the
//! restricted default. The checked path is then opened without following a last symlink
//! nor waiting on a FIFO, and the opened file must be a regular file at the very path that
//! was checked (a path swapped in between is refused).
//!
//! A URL's host is resolved once and every address checked: loopback, link-local,
//! unspecified, multicast, broadcast and this machine's own addresses are refused unless
//! configured (`[images] allow_local_urls`, `local_url_hosts`); the download then connects
//! to a checked address, not to the result of a second lookup.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nubo_types::{Error, ObjectKind, Oid, Result};

use crate::CoreConfig;
use crate::model::Datastore;

/// System directories no image comes from, whoever asks.
const SYSTEM_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// `RESTRICTED_DIRS` when the datastore sets none, for callers outside the oneadmin group
/// (OpenNebula's default).
const USER_RESTRICTED_DIRS: &str = "/";

/// `RESTRICTED_DIRS` when the datastore sets none, for the oneadmin group.
const ADMIN_RESTRICTED_DIRS: &str = "/etc";

/// `SAFE_DIRS` when the datastore sets none (OpenNebula's default).
const DEFAULT_SAFE_DIRS: &str = "/var/tmp";

/// `[images]` of nubod's configuration: what image imports may reach besides the rules
/// above. Everything off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageImports {
    /// PATH may name files under `/proc`, `/sys`, `/dev` and nubod's own directories.
    pub allow_private_paths: bool,
    /// URLs may reach loopback, link-local and this machine's own addresses.
    pub allow_local_urls: bool,
    /// Hosts (as written in URLs: a name or an address) whose URLs may reach such
    /// addresses even when `allow_local_urls` is off.
    pub local_url_hosts: Vec<String>,
}

impl ImageImports {
    /// Whether URLs naming `host` may reach local addresses.
    fn local_allowed(&self, host: &str) -> bool {
        self.allow_local_urls
            || self
                .local_url_hosts
                .iter()
                .any(|h| h.trim_matches(['[', ']']).eq_ignore_ascii_case(host))
    }
}

/// Why a PATH is refused.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("it is under {0}, which images are never copied from")]
    System(&'static str),
    #[error("it is among nubod's own files")]
    Own,
    #[error(
        "it is in a restricted directory of datastore {ds} \
         (RESTRICTED_DIRS=\"{restricted}\", SAFE_DIRS=\"{safe}\")"
    )]
    Restricted {
        ds: Oid,
        restricted: String,
        safe: String,
    },
}

/// Why a URL's address is refused.
#[derive(Debug, thiserror::Error)]
pub(super) enum LocalAddress {
    #[error("an unspecified address")]
    Unspecified,
    #[error("a loopback address")]
    Loopback,
    #[error("a link-local address")]
    LinkLocal,
    #[error("a multicast address")]
    Multicast,
    #[error("a broadcast address")]
    Broadcast,
    #[error("an address of this machine")]
    Own,
}

fn alloc(message: String) -> Error {
    Error::allocate(ObjectKind::Image, message)
}

/// `path`, canonical when it exists.
async fn canonical(path: &Path) -> PathBuf {
    tokio::fs::canonicalize(path)
        .await
        .unwrap_or_else(|_| path.to_path_buf())
}

/// nubod's own directories: its private directories, the datastores, and its home
/// (unless that is `/`, as for some service accounts).
async fn own_dirs(config: &CoreConfig) -> Vec<PathBuf> {
    let mut dirs = config.private_dirs.clone();
    dirs.push(config.datastore_base.clone());
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from)
        && home.is_absolute()
        && canonical(&home).await != Path::new("/")
    {
        dirs.push(home);
    }
    let mut out = Vec::with_capacity(dirs.len());
    for dir in dirs {
        out.push(canonical(&dir).await);
    }
    out
}

/// Checks resolved path `real` against the places no image comes from.
async fn check_private(real: &Path, config: &CoreConfig) -> std::result::Result<(), Refusal> {
    if let Some(dir) = SYSTEM_DIRS.iter().find(|d| real.starts_with(d)) {
        return Err(Refusal::System(dir));
    }
    if own_dirs(config).await.iter().any(|d| real.starts_with(d)) {
        return Err(Refusal::Own);
    }
    Ok(())
}

/// The datastore's `attr` (space-separated directories), or `default` when it sets none.
fn dirs_attr<'a>(ds: &'a Datastore, attr: &str, default: &'a str) -> &'a str {
    ds.template.get(attr).map(str::trim).unwrap_or(default)
}

async fn under_any(real: &Path, dirs: &str) -> bool {
    for dir in dirs.split_whitespace() {
        if real.starts_with(canonical(Path::new(dir)).await) {
            return true;
        }
    }
    false
}

/// OpenNebula's check of `RESTRICTED_DIRS` and `SAFE_DIRS` on resolved path `real`.
async fn check_datastore_dirs(
    real: &Path,
    ds: &Datastore,
    admin: bool,
) -> std::result::Result<(), Refusal> {
    let default = if admin {
        ADMIN_RESTRICTED_DIRS
    } else {
        USER_RESTRICTED_DIRS
    };
    let restricted = dirs_attr(ds, "RESTRICTED_DIRS", default);
    let safe = dirs_attr(ds, "SAFE_DIRS", DEFAULT_SAFE_DIRS);
    if under_any(real, safe).await || !under_any(real, restricted).await {
        return Ok(());
    }
    Err(Refusal::Restricted {
        ds: ds.meta.id,
        restricted: restricted.to_string(),
        safe: safe.to_string(),
    })
}

/// Opens resolved path `real` for reading: no last symlink followed, no wait on a FIFO;
/// the file must be a regular file, and the one at `real` (not reached through a
/// directory swapped for a symlink after the check).
async fn open_checked(real: &Path, path: &str) -> Result<tokio::fs::File> {
    let unreadable = |e: std::io::Error| alloc(format!("Cannot read PATH \"{path}\": {e}"));
    let file = tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(real)
        .await
        .map_err(unreadable)?;
    let meta = file.metadata().await.map_err(unreadable)?;
    if !meta.is_file() {
        return Err(alloc(format!("PATH \"{path}\" is not a regular file")));
    }
    let opened = tokio::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .await
        .map_err(|e| alloc(format!("Cannot check what PATH \"{path}\" opened: {e}")))?;
    if opened != real {
        return Err(alloc(format!(
            "PATH \"{path}\" changed while it was checked"
        )));
    }
    Ok(file)
}

/// Resolves, checks and opens PATH `path` of a new image in datastore `ds` for a caller
/// in the oneadmin group (`admin`) or not. The refusals name the path and the rule, never
/// anything the file holds.
pub(super) async fn open_path(
    path: &str,
    ds: &Datastore,
    admin: bool,
    config: &CoreConfig,
) -> Result<tokio::fs::File> {
    if !Path::new(path).is_absolute() {
        return Err(alloc(format!(
            "PATH \"{path}\" must be an absolute path on the front-end"
        )));
    }
    let real = tokio::fs::canonicalize(path)
        .await
        .map_err(|e| alloc(format!("Cannot read PATH \"{path}\": {e}")))?;
    let refused = |why: Refusal| alloc(format!("Not allowed to copy image file {path}: {why}"));
    if !config.images.allow_private_paths {
        check_private(&real, config).await.map_err(refused)?;
    }
    check_datastore_dirs(&real, ds, admin)
        .await
        .map_err(refused)?;
    open_checked(&real, path).await
}

/// Checks the SOURCE an administrator gives a new image (a file the datastore already
/// holds, served to the hosts as the image): in the datastores, or else not one of the
/// places no image comes from, unless nubod's configuration allows it. A SOURCE that is
/// not an absolute path is not a file of this machine.
pub(super) async fn check_source(source: &str, config: &CoreConfig) -> Result<()> {
    let path = Path::new(source);
    if config.images.allow_private_paths || !path.is_absolute() {
        return Ok(());
    }
    let real = canonical(path).await;
    if real.starts_with(canonical(&config.datastore_base).await) {
        return Ok(());
    }
    check_private(&real, config)
        .await
        .map_err(|why| alloc(format!("Not allowed to register SOURCE {source}: {why}")))
}

/// Whether `ip` is one of this machine's addresses: binding to it works.
fn is_own(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// What makes `ip` local, if anything.
pub(super) fn local_kind(ip: IpAddr) -> Option<LocalAddress> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let kind = match ip {
        IpAddr::V4(v4) if v4.octets()[0] == 0 => LocalAddress::Unspecified,
        IpAddr::V4(v4) if v4.is_loopback() => LocalAddress::Loopback,
        IpAddr::V4(v4) if v4.is_link_local() => LocalAddress::LinkLocal,
        IpAddr::V4(v4) if v4.is_multicast() => LocalAddress::Multicast,
        IpAddr::V4(v4) if v4 == Ipv4Addr::BROADCAST => LocalAddress::Broadcast,
        IpAddr::V6(v6) if v6.is_unspecified() => LocalAddress::Unspecified,
        IpAddr::V6(v6) if v6.is_loopback() => LocalAddress::Loopback,
        IpAddr::V6(v6) if v6.is_unicast_link_local() => LocalAddress::LinkLocal,
        IpAddr::V6(v6) if v6.is_multicast() => LocalAddress::Multicast,
        _ if is_own(ip) => LocalAddress::Own,
        _ => return None,
    };
    Some(kind)
}

/// The addresses of `host` (a name, or an address without brackets) on `port` that a
/// download may connect to: all of them, once each is checked. A name is looked up once;
/// one local address among its addresses refuses the URL.
pub(super) async fn resolve(
    host: &str,
    port: u16,
    imports: &ImageImports,
) -> std::result::Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    if imports.local_allowed(host) {
        return Ok(addrs);
    }
    for addr in &addrs {
        if let Some(kind) = local_kind(addr.ip()) {
            return Err(format!(
                "{host} is {}, {kind}; nubod's configuration does not allow downloads from \
                 local addresses",
                addr.ip()
            ));
        }
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn local_addresses_are_recognised() {
        let local = |s: &str| local_kind(s.parse().expect("address")).is_some();
        for s in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "0.1.2.3",
            "169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(local(s), "{s} is local");
        }
        for s in ["192.0.2.1", "198.51.100.7", "2001:db8::1", "8.8.8.8"] {
            assert!(!local(s), "{s} is not local");
        }
    }

    #[test]
    fn this_machines_addresses_are_local() {
        // Whatever addresses this machine has, binding proves them its own.
        let sock = std::net::UdpSocket::bind("0.0.0.0:0").expect("socket");
        if sock.connect("192.0.2.1:9").is_ok()
            && let Ok(addr) = sock.local_addr()
            && !addr.ip().is_unspecified()
        {
            assert!(matches!(local_kind(addr.ip()), Some(LocalAddress::Own)));
        }
        assert!(local_kind(IpAddr::V6(Ipv6Addr::LOCALHOST)).is_some());
    }

    #[tokio::test]
    async fn a_path_swapped_after_the_check_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).expect("a");
        std::fs::create_dir_all(&b).expect("b");
        std::fs::write(a.join("f"), b"checked").expect("a/f");
        std::fs::write(b.join("f"), b"other").expect("b/f");
        let real = std::fs::canonicalize(a.join("f")).expect("real");
        open_checked(&real, "x").await.expect("the checked file");

        // A directory on the way swapped for a symlink.
        std::fs::rename(&a, dir.path().join("a.old")).expect("move a");
        std::os::unix::fs::symlink(&b, &a).expect("a -> b");
        let err = open_checked(&real, "x")
            .await
            .expect_err("swapped directory");
        assert!(
            err.to_string().contains("changed while it was checked"),
            "{err}"
        );

        // The file itself swapped for a symlink.
        std::fs::remove_file(&a).expect("unlink a");
        std::fs::rename(dir.path().join("a.old"), &a).expect("a back");
        std::fs::remove_file(a.join("f")).expect("rm a/f");
        std::os::unix::fs::symlink(b.join("f"), a.join("f")).expect("a/f -> b/f");
        let err = open_checked(&real, "x").await.expect_err("swapped file");
        assert!(err.to_string().contains("Cannot read PATH"), "{err}");

        // A FIFO: refused at once, not waited on.
        std::fs::remove_file(a.join("f")).expect("rm a/f");
        let made = std::process::Command::new("mkfifo")
            .arg(a.join("f"))
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let opened =
            tokio::time::timeout(std::time::Duration::from_secs(10), open_checked(&real, "x"))
                .await
                .expect("no wait for a writer");
        let err = opened.expect_err("a FIFO");
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn allowed_hosts_match_without_brackets_or_case() {
        let imports = ImageImports {
            local_url_hosts: vec!["Mirror.Local".into(), "[::1]".into()],
            ..ImageImports::default()
        };
        assert!(imports.local_allowed("mirror.local"));
        assert!(imports.local_allowed("::1"));
        assert!(!imports.local_allowed("127.0.0.1"));
    }
}
