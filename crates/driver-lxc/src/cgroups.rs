//! A container's figures from its cgroup: CPU time and memory in use, on cgroup v1 (a
//! hierarchy per controller, as here) or v2 (one unified hierarchy), found at the path
//! the driver gave the runtime.

use std::path::Path;

const ROOT: &str = "/sys/fs/cgroup";

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn stat_field(path: &Path, name: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == name).then(|| v.trim().parse().ok())?
    })
}

fn unified() -> bool {
    Path::new(ROOT).join("cgroup.controllers").exists()
}

/// CPU time used so far (ns) by the cgroup at `path` (`/nubo/one-7`).
pub fn cpu_ns(path: &str) -> Option<u64> {
    let rel = path.trim_start_matches('/');
    if unified() {
        stat_field(&Path::new(ROOT).join(rel).join("cpu.stat"), "usage_usec")
            .map(|us| us.saturating_mul(1000))
    } else {
        read_u64(
            &Path::new(ROOT)
                .join("cpuacct")
                .join(rel)
                .join("cpuacct.usage"),
        )
    }
}

/// Memory in use (KB) by the cgroup at `path`, without the page cache it could drop.
pub fn memory_kb(path: &str) -> Option<u64> {
    let rel = path.trim_start_matches('/');
    let (usage, inactive) = if unified() {
        let dir = Path::new(ROOT).join(rel);
        (
            read_u64(&dir.join("memory.current"))?,
            stat_field(&dir.join("memory.stat"), "inactive_file").unwrap_or(0),
        )
    } else {
        let dir = Path::new(ROOT).join("memory").join(rel);
        (
            read_u64(&dir.join("memory.usage_in_bytes"))?,
            stat_field(&dir.join("memory.stat"), "total_inactive_file").unwrap_or(0),
        )
    };
    Some(usage.saturating_sub(inactive) / 1024)
}
