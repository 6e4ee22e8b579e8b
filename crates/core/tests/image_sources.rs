//! Where images may be imported from (issue 12 D): PATH files checked after resolving
//! them (symlinks, `..`, `/proc/self/root`) against the places no image comes from and the
//! datastore's RESTRICTED_DIRS / SAFE_DIRS, and URLs checked against local addresses.
//! Every refusal stores nothing: no image, no file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nubo_core::model::{Datastore, Image};
use nubo_core::ops::image_sources::ImageImports;
use nubo_core::{Caller, Core, CoreConfig, PoolFilter};
use nubo_types::{Error, Oid};
use tempfile::TempDir;

mod support;

/// The default IMAGE_DS of a new cloud.
const DS: Oid = 1;

/// A core laid out as nubod lays it out: the datastores inside its data directory, which
/// is private.
struct Cloud {
    core: Core,
    admin: Caller,
    alice: Caller,
    data: PathBuf,
    _dir: TempDir,
}

impl Cloud {
    async fn new(images: ImageImports) -> Cloud {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let config = CoreConfig {
            private_dirs: vec![data.clone()],
            images,
            ..support::config(&data.join("datastores"))
        };
        let (core, admin) = support::open(config).await;
        let alice = support::user(&core, &admin, "alice").await;
        // Everyone may USE the default datastore.
        core.chmod::<Datastore>(&admin, DS, [-1, -1, -1, -1, -1, -1, 1, -1, -1])
            .await
            .expect("chmod datastore");
        Cloud {
            core,
            admin,
            alice,
            data,
            _dir: dir,
        }
    }

    async fn import(&self, who: &Caller, path: &str) -> Result<Oid, Error> {
        let text = format!("NAME=\"{}\"\nTYPE=DATABLOCK\nPATH=\"{path}\"", uniq());
        self.core.image_allocate(who, &text, DS, false).await
    }

    /// The images and the datastore's files.
    fn stored(&self) -> (usize, usize) {
        let images = self
            .core
            .pool_info::<Image>(&self.admin, PoolFilter::ALL)
            .expect("pool")
            .len();
        let files = std::fs::read_dir(self.data.join("datastores/1"))
            .map(|d| d.count())
            .unwrap_or(0);
        (images, files)
    }

    /// Fails unless `who` importing `path` is refused with an allocate error that names
    /// the path and no content, storing nothing.
    async fn refused(&self, who: &Caller, path: &str, why: &str) -> String {
        let before = self.stored();
        let err = self
            .import(who, path)
            .await
            .expect_err(&format!("{} may not import {path}", who.uname));
        assert_eq!(err.code() as i32, 0x4000, "{path}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(path), "the refusal names {path}: {msg}");
        assert!(msg.contains(why), "{path}: {msg} (wanted {why:?})");
        assert!(!msg.contains(first_env_entry().as_str()), "{msg}");
        assert_eq!(self.stored(), before, "{path}: nothing stored");
        msg
    }

    fn content(&self, id: Oid) -> Vec<u8> {
        let image = self.core.info::<Image>(&self.admin, id).expect("image");
        std::fs::read(&image.source).expect("image file")
    }
}

fn uniq() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("img{}", N.fetch_add(1, Ordering::Relaxed))
}

/// The first `NAME=value` of this process's environment, as /proc/self/environ has it.
fn first_env_entry() -> String {
    let mut raw = Vec::new();
    std::fs::File::open("/proc/self/environ")
        .and_then(|mut f| f.read_to_end(&mut raw))
        .expect("environ");
    let first = raw.split(|b| *b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(first).into_owned()
}

/// A directory under /var/tmp, OpenNebula's default SAFE_DIRS.
fn safe_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("nubo-test-")
        .tempdir_in("/var/tmp")
        .expect("a directory in /var/tmp")
}

fn write(path: &Path, data: &[u8]) {
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(data))
        .expect("write");
}

#[tokio::test]
async fn users_import_only_from_safe_dirs_and_never_from_private_places() {
    let cloud = Cloud::new(ImageImports::default()).await;
    let alice = &cloud.alice;
    let safe = safe_dir();
    let s = safe.path().display().to_string();

    cloud
        .refused(alice, "/proc/self/environ", "under /proc")
        .await;
    cloud
        .refused(
            alice,
            &format!("{s}/../../../proc/self/environ"),
            "under /proc",
        )
        .await;
    std::os::unix::fs::symlink("/proc/self/environ", safe.path().join("env")).expect("symlink");
    cloud
        .refused(alice, &format!("{s}/env"), "under /proc")
        .await;
    cloud
        .refused(
            alice,
            "/proc/self/root/etc/hostname",
            "restricted directory",
        )
        .await;
    cloud
        .refused(alice, "/proc/self/root/proc/self/environ", "under /proc")
        .await;

    // Outside SAFE_DIRS, even through `..` or a symlink planted in a safe directory.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let outside = elsewhere.path().join("disk.raw");
    write(&outside, &[7; 4096]);
    let msg = cloud
        .refused(
            alice,
            &outside.display().to_string(),
            "restricted directory",
        )
        .await;
    assert!(msg.contains("Not allowed to copy image file"), "{msg}");
    assert!(msg.contains("RESTRICTED_DIRS=\"/\""), "{msg}");
    std::os::unix::fs::symlink(&outside, safe.path().join("link")).expect("symlink");
    cloud
        .refused(alice, &format!("{s}/link"), "restricted directory")
        .await;

    // nubod's own files: its data directory and its home's one_auth.
    let key = cloud.data.join("host.key");
    write(&key, b"secret key");
    cloud
        .refused(alice, &key.display().to_string(), "nubod's own files")
        .await;
    let home = Home::new();
    cloud
        .refused(
            alice,
            &home.one_auth.display().to_string(),
            "nubod's own files",
        )
        .await;
    cloud
        .refused(alice, "relative/disk.raw", "absolute path")
        .await;

    // A file in SAFE_DIRS is imported, byte for byte.
    let disk = safe.path().join("disk.raw");
    write(&disk, &[1; 8192]);
    let id = cloud
        .import(alice, &disk.display().to_string())
        .await
        .expect("a file in /var/tmp");
    assert_eq!(cloud.content(id), vec![1; 8192]);
}

#[tokio::test]
async fn safe_dirs_never_open_the_private_places() {
    let cloud = Cloud::new(ImageImports::default()).await;
    let text = "NAME=open\nDS_MAD=fs\nTM_MAD=qcow2\nSAFE_DIRS=\"/\"";
    let ds = cloud
        .core
        .datastore_allocate(&cloud.admin, text, -1)
        .await
        .expect("datastore");
    cloud
        .core
        .chmod::<Datastore>(&cloud.admin, ds, [-1, -1, -1, -1, -1, -1, 1, -1, -1])
        .await
        .expect("chmod");
    let key = cloud.data.join("host.key");
    write(&key, b"secret key");
    for path in ["/proc/self/environ".to_string(), key.display().to_string()] {
        let text = format!("NAME=\"{}\"\nTYPE=DATABLOCK\nPATH=\"{path}\"", uniq());
        let err = cloud
            .core
            .image_allocate(&cloud.alice, &text, ds, false)
            .await
            .expect_err(&path);
        assert!(err.to_string().contains("Not allowed"), "{err}");
    }
}

#[tokio::test]
async fn oneadmin_cannot_read_private_places_without_the_override() {
    let cloud = Cloud::new(ImageImports::default()).await;
    let admin = &cloud.admin;
    cloud
        .refused(admin, "/proc/self/environ", "under /proc")
        .await;
    cloud
        .refused(admin, "/sys/kernel/uevent_seqnum", "under /sys")
        .await;
    cloud.refused(admin, "/dev/zero", "under /dev").await;
    let key = cloud.data.join("host.key");
    write(&key, b"secret key");
    cloud
        .refused(admin, &key.display().to_string(), "nubod's own files")
        .await;
    let home = Home::new();
    cloud
        .refused(
            admin,
            &home.one_auth.display().to_string(),
            "nubod's own files",
        )
        .await;
    // Anywhere else is fine for the oneadmin group (but /etc).
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let disk = elsewhere.path().join("disk.raw");
    write(&disk, &[2; 4096]);
    let id = cloud
        .import(admin, &disk.display().to_string())
        .await
        .expect("oneadmin imports from anywhere else");
    assert_eq!(cloud.content(id), vec![2; 4096]);
    cloud
        .refused(admin, "/etc/hostname", "restricted directory")
        .await;

    // The administrator's override lets oneadmin, not users, read them.
    let open = Cloud::new(ImageImports {
        allow_private_paths: true,
        ..ImageImports::default()
    })
    .await;
    let key = open.data.join("host.key");
    write(&key, b"secret key");
    let id = open
        .import(&open.admin, &key.display().to_string())
        .await
        .expect("allowed by nubod's configuration");
    assert_eq!(open.content(id), b"secret key");
    open.import(&open.admin, "/proc/self/environ")
        .await
        .expect("allowed by nubod's configuration");
    open.refused(&open.alice, "/proc/self/environ", "restricted directory")
        .await;
}

#[tokio::test]
async fn only_administrators_register_sources_and_never_private_ones() {
    let cloud = Cloud::new(ImageImports::default()).await;
    for source in ["/proc/self/environ", "/var/tmp/../../proc/self/environ"] {
        let text = format!("NAME=\"{}\"\nSOURCE=\"{source}\"\nSIZE=1", uniq());
        let err = cloud
            .core
            .image_allocate(&cloud.admin, &text, DS, false)
            .await
            .expect_err(source);
        assert!(
            err.to_string().contains("Not allowed to register SOURCE"),
            "{err}"
        );
    }
    assert_eq!(cloud.stored(), (0, 0));
}

/// A file `.one/one_auth` in a new directory of this process's home (nubod's home when
/// it is nubod), removed at the end.
struct Home {
    _dir: TempDir,
    one_auth: PathBuf,
}

impl Home {
    fn new() -> Home {
        let home = std::env::var_os("HOME").expect("HOME is set");
        let dir = tempfile::Builder::new()
            .prefix(".nubo-test-")
            .tempdir_in(home)
            .expect("a directory in $HOME");
        let one = dir.path().join(".one");
        std::fs::create_dir_all(&one).expect(".one");
        let one_auth = one.join("one_auth");
        write(&one_auth, b"oneadmin:password");
        Home {
            _dir: dir,
            one_auth,
        }
    }
}

/// A one-file HTTP server on `addr`: answers every request with `body`; counts
/// connections.
async fn serve(addr: &str, body: &'static [u8]) -> (u16, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(body).await;
            });
        }
    });
    (port, seen)
}

/// This machine's address toward the outside, if it has one besides loopback.
fn own_address() -> Option<std::net::IpAddr> {
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect("192.0.2.1:9").ok()?;
    let ip = sock.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

#[tokio::test]
async fn urls_to_this_machine_are_refused_unless_configured() {
    let (port, seen) = serve("0.0.0.0:0", b"served").await;
    let cloud = Cloud::new(ImageImports::default()).await;
    let mut urls = vec![
        format!("http://127.0.0.1:{port}/disk"),
        format!("http://127.1.2.3:{port}/disk"),
        format!("http://[::1]:{port}/disk"),
        format!("http://[::ffff:127.0.0.1]:{port}/disk"),
        format!("http://localhost:{port}/disk"),
        format!("http://0.0.0.0:{port}/disk"),
        format!("https://169.254.169.254:{port}/latest/meta-data"),
        "http://127.0.0.1:2633/RPC2".to_string(),
    ];
    if let Some(ip) = own_address() {
        urls.push(format!("http://{ip}:{port}/disk"));
    }
    for url in &urls {
        for who in [&cloud.admin, &cloud.alice] {
            cloud.refused(who, url, "Not allowed to download").await;
        }
    }
    assert_eq!(seen.load(Ordering::SeqCst), 0, "no connection was made");

    let open = Cloud::new(ImageImports {
        allow_local_urls: true,
        ..ImageImports::default()
    })
    .await;
    let id = open
        .import(&open.alice, &format!("http://127.0.0.1:{port}/disk"))
        .await
        .expect("allowed by nubod's configuration");
    assert_eq!(open.content(id), b"served");

    let listed = Cloud::new(ImageImports {
        local_url_hosts: vec!["localhost".into()],
        ..ImageImports::default()
    })
    .await;
    let id = listed
        .import(&listed.admin, &format!("http://localhost:{port}/disk"))
        .await
        .expect("localhost is listed");
    assert_eq!(listed.content(id), b"served");
    listed
        .refused(
            &listed.admin,
            &format!("http://127.0.0.1:{port}/disk"),
            "local addresses",
        )
        .await;
}
