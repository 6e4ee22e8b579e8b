//! What the container tests share: a busybox root filesystem image, a driver on a
//! state directory of its own, requests, commands run inside, and a transport that moves
//! files with file URLs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nubo_driver::{
    Change, DiskKind, DiskSource, DiskSpec, ExecReport, ExecSpec, GuestState, Operation, OsSpec,
    Request, VmSpec,
};
use nubo_driver_kvm::disks::SharedFiles;
use nubo_driver_lxc::layout::ContainerDir;
use nubo_driver_lxc::runtime::{ExecCommand, OciCli};
use nubo_driver_lxc::{LxcConfig, LxcDriver};

pub fn have(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn sh(cmd: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", cmd])
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether containers can run here; panics when they must and cannot.
pub fn usable() -> bool {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let busybox_static = std::process::Command::new("sh")
        .args([
            "-c",
            "ldd \"$(command -v busybox)\" 2>&1 | grep -q 'not a dynamic'",
        ])
        .status()
        .is_ok_and(|s| s.success());
    let ok = root && have("runc") && have("mke2fs") && busybox_static;
    if !ok && std::env::var("NUBO_REQUIRE_GUESTS").as_deref() == Ok("1") {
        panic!("containers cannot run here (root, runc, mke2fs, static busybox needed)");
    }
    ok
}

/// An ext4 image of a busybox system whose /sbin/init says hello, serves /www on port 80
/// and ends on SIGTERM.
pub fn busybox_image(dir: &Path) -> PathBuf {
    let root = dir.join("rootdir");
    for d in [
        "bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "www", "root",
    ] {
        std::fs::create_dir_all(root.join(d)).expect("dir");
    }
    std::fs::copy(sh("command -v busybox").trim(), root.join("bin/busybox")).expect("busybox");
    for tool in [
        "sh", "cat", "echo", "sleep", "ps", "httpd", "id", "hostname", "head", "tail", "seq", "ls",
        "ip", "wget", "dd", "env", "true", "grep", "mkfifo", "tr", "wc",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(tool)).expect("link");
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").expect("passwd");
    std::fs::write(root.join("www/index.html"), "hello from a container\n").expect("www");
    // The init forks nothing once up (a fork bomb's test must not starve it): it waits
    // on a FIFO no one writes, which SIGTERM interrupts.
    let init = "#!/bin/sh\necho nubo-test-init up\ntrap 'echo bye; exit 0' TERM\nhttpd -p 80 -h /www\nmkfifo /tmp/wake\nwhile :; do read -r line < /tmp/wake; done\n";
    std::fs::write(root.join("sbin/init"), init).expect("init");
    sh(&format!("chmod 755 {}", root.join("sbin/init").display()));
    let image = dir.join("busybox.raw");
    sh(&format!(
        "mke2fs -q -t ext4 -d {} {} 32M",
        root.display(),
        image.display()
    ));
    image
}

pub fn spec(vm_id: i32, image: &Path) -> VmSpec {
    VmSpec {
        name: format!("one-{vm_id}"),
        vcpu: 1,
        cpu_hundredths: 50,
        memory_mb: 64,
        os: OsSpec::default(),
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
        ..VmSpec::default()
    }
}

pub fn request(vm_id: i32, operation: Operation, spec: &VmSpec) -> Request {
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

/// Removes what a test's containers left when the test fails half-way (its assertions
/// panic before the containers end): their processes, mounts and namespaces.
pub struct Leftovers {
    pub state: PathBuf,
    pub vm_ids: Vec<i32>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        for id in &self.vm_ids {
            let _ = std::process::Command::new("runc")
                .arg("--root")
                .arg(self.state.join("runtime"))
                .args(["delete", "--force", &format!("one-{id}")])
                .output();
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &ContainerDir::new(&self.state, *id).netns()])
                .output();
        }
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "grep -o ' {}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l",
                self.state.display()
            ))
            .output();
    }
}

pub fn driver(state: &Path) -> LxcDriver {
    // Containers' users must pass through the state directory (a temporary one is 0700).
    for dir in [state.parent().expect("parent"), state] {
        std::fs::create_dir_all(dir).expect("dir");
        sh(&format!("chmod 711 {}", dir.display()));
    }
    driver_at(state)
}

/// A driver on `state`, as it is.
pub fn driver_at(state: &Path) -> LxcDriver {
    std::fs::create_dir_all(state).expect("dir");
    let mut config = LxcConfig::new(state.to_path_buf());
    // Agents of one test share a registry of id slots, as agents on one machine do.
    config.ids.registry = state.parent().expect("parent").join("id-slots");
    config.shutdown_timeout = Duration::from_secs(10);
    config.pids_limit = 48;
    let runtime = OciCli::new("runc", state.join("runtime"));
    LxcDriver::new(config, Arc::new(runtime), Arc::new(SharedFiles))
}

pub async fn exec(d: &LxcDriver, vm_id: i32, cmd: &str) -> (i32, String) {
    let out = d
        .exec(
            vm_id,
            &ExecCommand {
                args: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
                timeout: Duration::from_secs(30),
                ..ExecCommand::default()
            },
        )
        .await
        .expect("exec");
    (
        out.code,
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

pub fn decode(b64: &str) -> String {
    use base64::Engine;
    String::from_utf8_lossy(
        &base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64"),
    )
    .into_owned()
}

pub async fn exec_result(d: &LxcDriver, vm_id: i32, seq: u64) -> ExecReport {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let report = d.report().await;
        if let Some(e) = report
            .vms
            .iter()
            .find(|v| v.vm_id == vm_id)
            .and_then(|v| v.exec.clone())
            .filter(|e| e.seq == seq)
        {
            return e;
        }
        assert!(Instant::now() < deadline, "no result for exec {seq}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn run_exec(
    d: &LxcDriver,
    vm_id: i32,
    s: &VmSpec,
    seq: u64,
    command: &str,
    stdin: &[u8],
) -> ExecReport {
    use base64::Engine;
    let mut with = s.clone();
    with.change = Some(Change::Exec(ExecSpec {
        command: command.into(),
        stdin_b64: base64::engine::general_purpose::STANDARD.encode(stdin),
    }));
    let mut req = request(vm_id, Operation::Exec, &with);
    req.seq = seq;
    d.run(req).await.expect("exec");
    exec_result(d, vm_id, seq).await
}

pub async fn run_exec_err(d: &LxcDriver, vm_id: i32, s: &VmSpec, command: &str) -> String {
    let mut with = s.clone();
    with.change = Some(Change::Exec(ExecSpec {
        command: command.into(),
        stdin_b64: String::new(),
    }));
    d.run(request(vm_id, Operation::Exec, &with))
        .await
        .expect_err("refused")
        .to_string()
}

pub async fn state_of(d: &LxcDriver, vm_id: i32) -> Option<GuestState> {
    d.report()
        .await
        .vms
        .iter()
        .find(|v| v.vm_id == vm_id)
        .map(|v| v.state)
}

pub async fn deploy(d: &LxcDriver, vm_id: i32, spec: &VmSpec) {
    d.run(request(vm_id, Operation::Prolog, spec))
        .await
        .expect("prolog");
    d.run(request(vm_id, Operation::Deploy, spec))
        .await
        .expect("deploy");
}

/// Moves files between two drivers of this process: a file URL and a copy.
#[derive(Debug)]
pub struct LocalTransport {
    pub state: PathBuf,
}

impl nubo_driver_kvm::cold_migration::FileTransport for LocalTransport {
    fn offer_location(
        &self,
        vm_id: i32,
    ) -> Result<(String, String), nubo_driver_kvm::error::KvmError> {
        Ok((
            format!("file://{}/vms/{vm_id}", self.state.display()),
            "local".into(),
        ))
    }

    fn fetch<'a>(
        &'a self,
        url: &'a str,
        dest: &'a Path,
    ) -> nubo_driver::BoxFuture<'a, Result<String, nubo_driver_kvm::error::KvmError>> {
        Box::pin(async move {
            use sha2::Digest;
            let path = url
                .strip_prefix("file://")
                .and_then(|u| u.split('?').next())
                .unwrap_or_default();
            let bytes = std::fs::read(path)
                .map_err(|e| nubo_driver_kvm::error::KvmError::file(Path::new(path), e))?;
            std::fs::write(dest, &bytes)
                .map_err(|e| nubo_driver_kvm::error::KvmError::file(dest, e))?;
            Ok(hex::encode(sha2::Sha256::digest(&bytes)))
        })
    }

    /// A saved disk is copied to the file its URL names (`file://PATH`).
    fn upload<'a>(
        &'a self,
        url: &'a str,
        file: &'a Path,
    ) -> nubo_driver::BoxFuture<'a, Result<(), nubo_driver_kvm::error::KvmError>> {
        Box::pin(async move {
            let dest = Path::new(url.strip_prefix("file://").unwrap_or(url));
            std::fs::copy(file, dest)
                .map(|_| ())
                .map_err(|e| nubo_driver_kvm::error::KvmError::file(dest, e))
        })
    }
}

/// Two hosts for a cold migration: drivers on `<tmp>/a` and `<tmp>/b`, each fetching the
/// other's offered files from its state directory, and what container `vm_id` leaves on
/// either removed when the test ends.
pub struct TwoHosts {
    pub a: LxcDriver,
    pub b: LxcDriver,
    pub state_a: PathBuf,
    pub state_b: PathBuf,
    /// Kept until the test ends.
    pub _leftovers: [Leftovers; 2],
}

pub fn two_hosts(tmp: &Path, vm_id: i32) -> TwoHosts {
    let (state_a, state_b) = (tmp.join("a"), tmp.join("b"));
    let (a, b) = (driver(&state_a), driver(&state_b));
    for (d, state) in [(&a, &state_a), (&b, &state_b)] {
        d.set_transport(Arc::new(LocalTransport {
            state: state.clone(),
        }));
    }
    let leftovers = |state: &PathBuf| Leftovers {
        state: state.clone(),
        vm_ids: vec![vm_id],
    };
    TwoHosts {
        _leftovers: [leftovers(&state_a), leftovers(&state_b)],
        a,
        b,
        state_a,
        state_b,
    }
}
