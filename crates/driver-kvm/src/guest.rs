//! Starting and stopping one guest's QEMU: start (fresh boot, from saved memory, or waiting
//! for a live migration), ACPI power-down with a hard stop after a timeout, hard stop, and
//! moving the memory out (to a file or another host) with QMP's migration.

use std::process::Stdio;
use std::time::{Duration, Instant};

use nubo_driver::VmSpec;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::args::{self, Incoming, Machine};
use crate::disks::{self, ImageFiles};
use crate::error::KvmError;
use crate::layout::VmDir;
use crate::process::{self, Running};
use crate::{network, qmp};

/// How long QEMU may take to come up (its QMP socket answering).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The running QEMU of the VM, if any.
pub fn running(dir: &VmDir) -> Option<Running> {
    process::find(&dir.pid(), &dir.root)
}

/// Prepares disks, context and NICs, then starts QEMU.
pub async fn start(
    qemu: &str,
    machine: &Machine<'_>,
    spec: &VmSpec,
    images: &dyn ImageFiles,
    incoming: &Incoming,
) -> Result<Running, KvmError> {
    let dir = machine.dir;
    dir.create().await?;
    dir.save_spec(spec).await?;
    let prepared = disks::prepare(dir, &spec.disks, images).await?;
    let iso = match &spec.context {
        Some(ctx) => Some(disks::context_iso(dir, ctx).await?),
        None => None,
    };
    network::plug(&spec.nics).await?;
    crate::firewall::apply(&spec.nics).await?;
    crate::spoofing::apply(&spec.nics).await?;
    for stale in [dir.qmp(), dir.serial(), dir.pid(), dir.powered_off()] {
        let _ = tokio::fs::remove_file(stale).await;
    }
    let iso_text = iso.as_ref().map(|p| p.display().to_string());
    let argv = args::build(spec, machine, &prepared, iso_text.as_deref(), incoming);
    tracing::debug!(vm = %spec.name, args = ?argv, "starting qemu");
    let out = Command::new(qemu)
        .args(&argv)
        .stdin(Stdio::null())
        .kill_on_drop(false)
        .output()
        .await
        .map_err(|e| KvmError::Qemu(format!("cannot run {qemu}: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = stderr.trim();
        return Err(KvmError::Qemu(if message.is_empty() {
            format!("exited with {}", out.status)
        } else {
            message.to_string()
        }));
    }
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(r) = running(dir)
            && qmp::run(&dir.qmp(), "query-status", None).await.is_ok()
        {
            return Ok(r);
        }
        if Instant::now() > deadline {
            return Err(KvmError::Timeout(
                "QEMU started but its QMP socket does not answer".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the VM's QEMU is gone; whether it went within `timeout`.
pub async fn wait_gone(dir: &VmDir, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while running(dir).is_some() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

/// Stops QEMU at once: QMP `quit`, then SIGKILL if it lingers.
pub async fn stop_hard(dir: &VmDir) {
    let Some(r) = running(dir) else { return };
    let _ = qmp::run(&dir.qmp(), "quit", None).await;
    if !wait_gone(dir, Duration::from_secs(5)).await {
        process::kill(r);
        wait_gone(dir, Duration::from_secs(5)).await;
    }
}

/// ACPI power-down; a hard stop if the guest has not powered off after `timeout`.
/// Whether the guest went down by itself.
pub async fn power_down(dir: &VmDir, timeout: Duration) -> Result<bool, KvmError> {
    if running(dir).is_none() {
        return Ok(true);
    }
    qmp::run(&dir.qmp(), "system_powerdown", None).await?;
    // QEMU runs with -no-shutdown: a guest that powered off leaves QEMU in "shutdown".
    let deadline = Instant::now() + timeout;
    let by_itself = loop {
        if running(dir).is_none() {
            break true;
        }
        if status(dir).await.is_ok_and(|s| s == "shutdown") {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stop_hard(dir).await;
    Ok(by_itself)
}

/// The guest's run state as QMP names it (`running`, `paused`, `inmigrate`, …).
pub async fn status(dir: &VmDir) -> Result<String, KvmError> {
    let v = qmp::run(&dir.qmp(), "query-status", None).await?;
    Ok(v.get("status")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string())
}

/// The guest's run state and disk traffic, on one QMP connection.
pub async fn status_and_io(dir: &VmDir) -> Result<(String, nubo_driver::DiskIo), KvmError> {
    let mut q = qmp::Qmp::connect(&dir.qmp()).await?;
    let status = q.execute("query-status", None).await?;
    let status = status
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    let mut io = nubo_driver::DiskIo::default();
    if let Ok(Value::Array(devices)) = q.execute("query-blockstats", None).await {
        for d in &devices {
            let stat = |k: &str| {
                d.get("stats")
                    .and_then(|s| s.get(k))
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            };
            io.read_bytes += stat("rd_bytes");
            io.write_bytes += stat("wr_bytes");
            io.read_ops += stat("rd_operations");
            io.write_ops += stat("wr_operations");
        }
    }
    Ok((status, io))
}

/// Sends the guest's memory to `uri` (`file:…` or `tcp:…`) and waits for the end.
pub async fn migrate_out(dir: &VmDir, uri: &str, timeout: Duration) -> Result<(), KvmError> {
    let mut q = qmp::Qmp::connect(&dir.qmp()).await?;
    migrate_out_on(&mut q, uri, timeout).await
}

/// The same on an open QMP connection (QEMU serves one at a time).
pub async fn migrate_out_on(
    q: &mut qmp::Qmp,
    uri: &str,
    timeout: Duration,
) -> Result<(), KvmError> {
    q.execute("migrate", Some(json!({ "uri": uri }))).await?;
    let deadline = Instant::now() + timeout;
    loop {
        let info = q.execute("query-migrate", None).await?;
        match info.get("status").and_then(Value::as_str) {
            Some("completed") => return Ok(()),
            Some("failed") | Some("cancelled") => {
                let why = info
                    .get("error-desc")
                    .and_then(Value::as_str)
                    .unwrap_or("migration failed");
                return Err(KvmError::Qemu(why.to_string()));
            }
            _ => {}
        }
        if Instant::now() > deadline {
            let _ = q.execute("migrate_cancel", None).await;
            return Err(KvmError::Timeout(format!(
                "migration to {uri} did not finish in {} s",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// After an incoming migration or restore: waits for the memory to arrive, then runs the
/// guest.
pub async fn resume_incoming(dir: &VmDir, timeout: Duration) -> Result<(), KvmError> {
    let deadline = Instant::now() + timeout;
    loop {
        // While QEMU loads the memory it may not take QMP connections (its backlog is
        // one): that is waited out like the load itself.
        let state = match status(dir).await {
            Ok(s) => s,
            Err(e) => format!("unknown ({e})"),
        };
        match state.as_str() {
            "running" => return Ok(()),
            "paused" | "postmigrate" | "prelaunch" => {
                qmp::run(&dir.qmp(), "cont", None).await?;
                return Ok(());
            }
            _ => {}
        }
        if running(dir).is_none() {
            return Err(KvmError::Qemu(
                "QEMU exited while loading the VM's memory".into(),
            ));
        }
        if Instant::now() > deadline {
            return Err(KvmError::Timeout(format!(
                "the VM's memory did not arrive in {} s (state {state})",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
