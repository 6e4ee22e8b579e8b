//! Which acceleration QEMU gets: KVM when it really runs guests here, TCG otherwise.
//! `/dev/kvm` existing is not enough: a KVM-PVM host kernel accepts `KVM_CREATE_VM` but only
//! runs PVM-aware guest kernels, so that case is TCG; elsewhere a probe start of QEMU with
//! `-accel kvm` must succeed and report KVM enabled.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The acceleration in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Hardware virtualization.
    Kvm,
    /// QEMU's emulator.
    Tcg,
}

impl Accel {
    /// Its name, as `-accel` and the host's ACCELERATION attribute spell it.
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// What the operator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccelChoice {
    /// Probe.
    #[default]
    Auto,
    /// KVM, no probe.
    Kvm,
    /// TCG, no probe.
    Tcg,
}

/// The acceleration to use and why.
pub async fn choose(choice: AccelChoice, qemu: &str) -> (Accel, String) {
    match choice {
        AccelChoice::Kvm => (Accel::Kvm, "configured".into()),
        AccelChoice::Tcg => (Accel::Tcg, "configured".into()),
        AccelChoice::Auto => probe(qemu).await,
    }
}

async fn probe(qemu: &str) -> (Accel, String) {
    if Path::new("/sys/module/kvm_pvm").exists() {
        return (
            Accel::Tcg,
            "/dev/kvm is KVM-PVM, which runs only PVM guest kernels".into(),
        );
    }
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        return (Accel::Tcg, "/dev/kvm is missing or not accessible".into());
    }
    match tokio::time::timeout(Duration::from_secs(20), kvm_starts(qemu)).await {
        Ok(true) => (Accel::Kvm, "probe start with -accel kvm succeeded".into()),
        Ok(false) => (Accel::Tcg, "probe start with -accel kvm failed".into()),
        Err(_) => (Accel::Tcg, "probe start with -accel kvm timed out".into()),
    }
}

/// Starts a paused QEMU with `-accel kvm -cpu host` and asks it whether KVM is enabled.
async fn kvm_starts(qemu: &str) -> bool {
    let child = Command::new(qemu)
        .args([
            "-accel",
            "kvm",
            "-cpu",
            "host",
            "-machine",
            "q35",
            "-m",
            "64",
            "-nodefaults",
            "-display",
            "none",
            "-S",
            "-qmp",
            "stdio",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        let script = concat!(
            "{\"execute\":\"qmp_capabilities\"}\n",
            "{\"execute\":\"query-kvm\"}\n",
            "{\"execute\":\"quit\"}\n"
        );
        let _ = stdin.write_all(script.as_bytes()).await;
    }
    let Ok(out) = child.wait_with_output().await else {
        return false;
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.contains("\"enabled\": true") || l.contains("\"enabled\":true"))
}
