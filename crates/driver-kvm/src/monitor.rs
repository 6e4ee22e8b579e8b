//! What the host reports: CPU and memory capacity and use (from /proc), the space of the
//! state directory's file system, the acceleration in use, and its guests: running or
//! paused (asked over QMP, with CPU and memory of their QEMU, their disk traffic, the
//! bytes through their taps and the space their disk files take), or powered off by
//! themselves. A guest whose QEMU is gone otherwise is left out.
//! With them goes the number of the last operation carried out on each VM.

use std::collections::BTreeMap;
use std::time::Instant;

use nubo_driver::{GuestState, HostReport, VmReport};

use crate::KvmDriver;
use crate::guest;
use crate::layout::VmDir;
use crate::process;

/// How long the report waits for a guest's QMP socket.
const STATUS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Clock ticks per second of /proc's CPU times (USER_HZ is 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// The host's report (the container driver shares [`host_report`] and [`nic_traffic`]).
pub(crate) async fn report(driver: &KvmDriver) -> HostReport {
    let (accel, reason) = driver.accel().await;
    let mut attributes = BTreeMap::new();
    attributes.insert("ACCELERATION".into(), accel.name().to_string());
    attributes.insert("ACCELERATION_REASON".into(), reason);
    let mut vms = Vec::new();
    let vm_ids = VmDir::list(&driver.inner.config.state_dir);
    let seqs = driver.last_seqs(&vm_ids).await;
    for vm_id in vm_ids {
        let dir = driver.vm_dir(vm_id);
        let Some(spec) = dir.load_spec().await else {
            continue;
        };
        let mut disk_io = nubo_driver::DiskIo::default();
        let (state, cpu, memory_kb) = match guest::running(&dir) {
            Some(r) => {
                // QEMU serves one QMP client at a time: while an operation holds the
                // socket (a migration, say), the guest counts as running.
                let status =
                    match tokio::time::timeout(STATUS_TIMEOUT, guest::status_and_io(&dir)).await {
                        Ok(Ok((s, io))) => {
                            disk_io = io;
                            Some(s)
                        }
                        _ => None,
                    };
                match status.as_deref() {
                    Some("shutdown") => {
                        // The guest powered itself off: QEMU goes, the fact stays.
                        let _ = tokio::fs::write(dir.powered_off(), b"").await;
                        guest::stop_hard(&dir).await;
                        (GuestState::Poweroff, 0.0, 0)
                    }
                    Some("paused" | "postmigrate" | "suspended") => (GuestState::Paused, 0.0, 0),
                    _ => {
                        let (cpu, mem) = cpu_and_memory(driver, vm_id, r);
                        (GuestState::Running, cpu, mem)
                    }
                }
            }
            None => {
                driver
                    .inner
                    .cpu_seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&vm_id);
                if tokio::fs::metadata(dir.powered_off()).await.is_err() {
                    // QEMU is gone without the guest powering off (killed, crashed,
                    // or stopped on purpose): not reported, so a RUNNING VM goes UNKNOWN.
                    continue;
                }
                (GuestState::Poweroff, 0.0, 0)
            }
        };
        let (netrx, nettx) = nic_traffic(&spec.nics);
        let disk_sizes = spec
            .disks
            .iter()
            .filter_map(|d| {
                let m = std::fs::metadata(dir.disk(d.disk_id)).ok()?;
                Some((d.disk_id, allocated_mb(&m)))
            })
            .collect();
        vms.push(VmReport {
            vm_id,
            deploy_id: spec.name.clone(),
            state,
            cpu,
            memory_kb,
            netrx,
            nettx,
            disk_io,
            disk_sizes,
            exec: None,
        });
    }
    host_report("kvm", &driver.inner.config.state_dir, attributes, vms, seqs)
}

/// The report of this machine as host of `vms`: its CPUs and memory (from /proc), its CPU
/// model and the space of the file system holding `state_dir` added to `attributes`, the
/// CPU the guests use; shared by the QEMU and container drivers.
pub fn host_report(
    hypervisor: &str,
    state_dir: &std::path::Path,
    mut attributes: BTreeMap<String, String>,
    vms: Vec<VmReport>,
    seqs: BTreeMap<i32, u64>,
) -> HostReport {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (total_kb, available_kb) = meminfo();
    if let Some(model) = cpu_model() {
        attributes.insert("MODELNAME".into(), model);
    }
    if let Some((total, free)) = disk_space(state_dir) {
        attributes.insert("DS_LOCATION_TOTAL_MB".into(), total.to_string());
        attributes.insert("DS_LOCATION_FREE_MB".into(), free.to_string());
        attributes.insert(
            "DS_LOCATION_USED_MB".into(),
            total.saturating_sub(free).to_string(),
        );
    }
    let used_cpu: f64 = vms.iter().map(|v| v.cpu).sum();
    HostReport {
        hypervisor: hypervisor.into(),
        total_cpu: i64::try_from(cores).unwrap_or(1) * 100,
        total_memory_kb: total_kb,
        used_cpu: used_cpu.round() as i64,
        used_memory_kb: total_kb - available_kb,
        attributes,
        vms,
        seqs,
    }
}

/// The space a file takes on disk (sparse files count what they hold), in MB.
pub fn allocated_mb(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    m.blocks().saturating_mul(512) / (1024 * 1024)
}

/// Bytes a VM's NICs received and sent, from their host ends (a tap or a veth receives
/// what the guest sends).
pub fn nic_traffic(nics: &[nubo_driver::NicSpec]) -> (u64, u64) {
    let (mut rx, mut tx) = (0u64, 0u64);
    for nic in nics {
        tx = tx.saturating_add(counter(&nic.target, "rx_bytes"));
        rx = rx.saturating_add(counter(&nic.target, "tx_bytes"));
    }
    (rx, tx)
}

/// A network interface's counter (0 when it has none).
fn counter(interface: &str, name: &str) -> u64 {
    if interface.is_empty() || interface.contains('/') {
        return 0;
    }
    std::fs::read_to_string(format!("/sys/class/net/{interface}/statistics/{name}"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// Total and free MB of the file system holding `dir`.
fn disk_space(dir: &std::path::Path) -> Option<(u64, u64)> {
    let st = rustix::fs::statvfs(dir).ok()?;
    let mb = |blocks: u64| blocks.saturating_mul(st.f_frsize) / (1024 * 1024);
    Some((mb(st.f_blocks), mb(st.f_bavail)))
}

/// Percent of one core used since the last report, and resident memory (KB).
fn cpu_and_memory(driver: &KvmDriver, vm_id: i32, r: process::Running) -> (f64, u64) {
    let Some((ticks, rss)) = process::usage(r) else {
        return (0.0, 0);
    };
    let now = Instant::now();
    let mut seen = driver
        .inner
        .cpu_seen
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let cpu = match seen.insert(vm_id, (ticks, now)) {
        Some((before, at)) if ticks >= before => {
            let secs = now.duration_since(at).as_secs_f64();
            if secs > 0.0 {
                (ticks - before) as f64 / TICKS_PER_SECOND / secs * 100.0
            } else {
                0.0
            }
        }
        _ => 0.0,
    };
    (cpu, rss)
}

/// Total and available memory of the host (KB).
fn meminfo() -> (i64, i64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| -> i64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

/// The host CPU's model name.
fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_string())
}
