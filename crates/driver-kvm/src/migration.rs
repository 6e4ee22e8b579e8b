//! Live migration with the guest's local disks: the destination starts QEMU waiting for
//! the guest's memory and, when the guest has disks only this host holds (overlays,
//! volatile disks), exports its fresh copies of them over NBD; the source mirrors each
//! such disk into that export, sends the memory once the mirrors are in step, then drops
//! the mirrors. Disks on shared storage are opened by both sides and not copied.

use std::time::{Duration, Instant};

use nubo_driver::{DiskKind, DiskSource, DiskSpec, VmSpec};
use serde_json::{Value, json};

use crate::error::KvmError;
use crate::guest;
use crate::layout::VmDir;
use crate::qmp::{self, Qmp};

/// A disk the VM writes that lives only on this host (an overlay, a volatile disk, or a
/// copy of a persistent image, once the disks are prepared), so a live migration has to
/// copy it.
pub fn local_writable(dir: &VmDir, d: &DiskSpec) -> bool {
    if d.readonly || d.kind == DiskKind::Cdrom {
        return false;
    }
    match &d.source {
        DiskSource::Volatile { .. } => true,
        DiskSource::Image { persistent, .. } => !persistent || crate::disks::has_copy(dir, d),
    }
}

/// Where the source sends the guest: the memory's URI and, for local disks, the NBD
/// server that takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `tcp:HOST:PORT`.
    pub memory: String,
    /// `HOST:PORT` of the NBD server.
    pub disks: Option<String>,
}

impl Destination {
    /// The text form carried in the request (`tcp:H:P` or `tcp:H:P nbd:H:P`).
    pub fn to_text(&self) -> String {
        match &self.disks {
            Some(nbd) => format!("{} nbd:{nbd}", self.memory),
            None => self.memory.clone(),
        }
    }

    /// Reads the text form.
    pub fn parse(text: &str) -> Result<Destination, KvmError> {
        let mut parts = text.split_whitespace();
        let memory = parts
            .next()
            .filter(|m| m.starts_with("tcp:"))
            .ok_or_else(|| KvmError::BadRequest(format!("bad migration address \"{text}\"")))?;
        let disks = match parts.next() {
            Some(n) => Some(
                n.strip_prefix("nbd:")
                    .ok_or_else(|| {
                        KvmError::BadRequest(format!("bad migration address \"{text}\""))
                    })?
                    .to_string(),
            ),
            None => None,
        };
        Ok(Destination {
            memory: memory.to_string(),
            disks,
        })
    }
}

fn split_host_port(addr: &str) -> Result<(String, String), KvmError> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| KvmError::BadRequest(format!("bad address \"{addr}\"")))?;
    Ok((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port.to_string(),
    ))
}

/// On the destination, once QEMU waits for the memory: exports the local disks over NBD
/// on `nbd_addr`, and stops the export when the guest runs here.
pub async fn export_disks(
    dir: &VmDir,
    spec: &VmSpec,
    nbd_addr: &str,
    timeout: Duration,
) -> Result<(), KvmError> {
    let (host, port) = split_host_port(nbd_addr)?;
    let mut q = Qmp::connect(&dir.qmp()).await?;
    q.execute(
        "nbd-server-start",
        Some(json!({ "addr": { "type": "inet", "data": { "host": host, "port": port } } })),
    )
    .await?;
    for d in spec.disks.iter().filter(|d| local_writable(dir, d)) {
        let node = format!("d{}", d.disk_id);
        q.execute(
            "block-export-add",
            Some(json!({ "type": "nbd", "id": node, "node-name": node, "writable": true })),
        )
        .await?;
    }
    let dir = dir.clone();
    tokio::spawn(async move {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match guest::status(&dir).await.as_deref() {
                Ok("running") => {
                    let _ = qmp::run(&dir.qmp(), "nbd-server-stop", None).await;
                    return;
                }
                Err(_) if guest::running(&dir).is_none() => return,
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    Ok(())
}

/// On the source: sends the guest (its local disks first, then its memory) to `to`.
pub async fn send(
    dir: &VmDir,
    spec: &VmSpec,
    to: &Destination,
    timeout: Duration,
) -> Result<(), KvmError> {
    let mut q = Qmp::connect(&dir.qmp()).await?;
    let local: Vec<&DiskSpec> = spec
        .disks
        .iter()
        .filter(|d| local_writable(dir, d))
        .collect();
    let mut jobs = Vec::new();
    let result = async {
        if !local.is_empty() {
            let nbd = to.disks.as_deref().ok_or_else(|| {
                KvmError::BadRequest("the destination did not offer to take the disks".into())
            })?;
            let (host, port) = split_host_port(nbd)?;
            for d in &local {
                let node = format!("d{}", d.disk_id);
                let target = format!("m{}", d.disk_id);
                q.execute(
                    "blockdev-add",
                    Some(json!({
                        "driver": "nbd", "node-name": target, "export": node,
                        "server": { "type": "inet", "host": host, "port": port }
                    })),
                )
                .await?;
                // An overlay's base is the same image on both hosts: copy the top only
                // (a persistent image's copy has no base: its top is all of it).
                let sync = match d.source {
                    DiskSource::Image { .. } => "top",
                    DiskSource::Volatile { .. } => "full",
                };
                let job = format!("mirror{}", d.disk_id);
                q.execute(
                    "blockdev-mirror",
                    Some(json!({ "job-id": job, "device": node, "target": target, "sync": sync })),
                )
                .await?;
                jobs.push(job);
            }
            wait_ready(&mut q, &jobs, timeout).await?;
        }
        guest::migrate_out_on(&mut q, &to.memory, timeout).await
    }
    .await;
    for job in &jobs {
        let _ = q
            .execute("block-job-cancel", Some(json!({ "device": job })))
            .await;
    }
    if !jobs.is_empty() {
        wait_gone(&mut q, Duration::from_secs(30)).await;
        for d in &local {
            let _ = q
                .execute(
                    "blockdev-del",
                    Some(json!({ "node-name": format!("m{}", d.disk_id) })),
                )
                .await;
        }
    }
    result
}

async fn jobs_now(q: &mut Qmp) -> Result<Vec<Value>, KvmError> {
    Ok(q.execute("query-block-jobs", None)
        .await?
        .as_array()
        .cloned()
        .unwrap_or_default())
}

async fn wait_ready(q: &mut Qmp, jobs: &[String], timeout: Duration) -> Result<(), KvmError> {
    let deadline = Instant::now() + timeout;
    loop {
        let now = jobs_now(q).await?;
        let ready = jobs.iter().all(|j| {
            now.iter().any(|v| {
                v.get("device").and_then(Value::as_str) == Some(j.as_str())
                    && v.get("ready").and_then(Value::as_bool) == Some(true)
            })
        });
        if ready {
            return Ok(());
        }
        if let Some(failed) = jobs.iter().find(|j| {
            !now.iter()
                .any(|v| v.get("device").and_then(Value::as_str) == Some(j.as_str()))
        }) {
            return Err(KvmError::Qemu(format!("disk mirror {failed} stopped")));
        }
        if Instant::now() > deadline {
            return Err(KvmError::Timeout(format!(
                "the disks did not reach the destination in {} s",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_gone(q: &mut Qmp, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match jobs_now(q).await {
            Ok(j) if j.is_empty() => return,
            Err(_) => return,
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_round_trip() {
        let d = Destination {
            memory: "tcp:10.0.0.2:4000".into(),
            disks: Some("10.0.0.2:4001".into()),
        };
        assert_eq!(Destination::parse(&d.to_text()).expect("ok"), d);
        let m = Destination::parse("tcp:10.0.0.2:4000").expect("ok");
        assert_eq!(m.disks, None);
        assert!(Destination::parse("file:/x").is_err());
        assert!(Destination::parse("tcp:a:1 ftp:b").is_err());
    }
}
