//! A container's figures from its cgroup: CPU time, memory in use and block traffic, on
//! cgroup v1 (a hierarchy per controller, as here) or v2 (one unified hierarchy), found at
//! the path the driver gave the runtime; and the space its files take on the host.

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

/// Block traffic of the cgroup at `path`: (bytes read, bytes written, reads, writes).
/// cgroup v1 counts only what passes its throttling layer (direct I/O), v2 all of it.
pub fn disk_io(path: &str) -> nubo_driver::DiskIo {
    let rel = path.trim_start_matches('/');
    let mut io = nubo_driver::DiskIo::default();
    if unified() {
        let text =
            std::fs::read_to_string(Path::new(ROOT).join(rel).join("io.stat")).unwrap_or_default();
        for field in text.split_whitespace() {
            let Some((k, v)) = field.split_once('=') else {
                continue;
            };
            let v: u64 = v.parse().unwrap_or(0);
            match k {
                "rbytes" => io.read_bytes += v,
                "wbytes" => io.write_bytes += v,
                "rios" => io.read_ops += v,
                "wios" => io.write_ops += v,
                _ => {}
            }
        }
    } else {
        let dir = Path::new(ROOT).join("blkio").join(rel);
        let sum = |file: &str, what: &str| -> u64 {
            std::fs::read_to_string(dir.join(file))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| {
                    let mut w = l.split_whitespace();
                    let (_dev, kind, n) = (w.next()?, w.next()?, w.next()?);
                    (kind == what).then(|| n.parse::<u64>().ok())?
                })
                .sum()
        };
        io.read_bytes = sum("blkio.throttle.io_service_bytes_recursive", "Read");
        io.write_bytes = sum("blkio.throttle.io_service_bytes_recursive", "Write");
        io.read_ops = sum("blkio.throttle.io_serviced_recursive", "Read");
        io.write_ops = sum("blkio.throttle.io_serviced_recursive", "Write");
    }
    io
}

/// The most directory entries counted when measuring a container's layer.
const WALK_LIMIT: usize = 200_000;

/// MB the files under `dir` take on disk (at most [`WALK_LIMIT`] entries are counted).
pub fn allocated_mb(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut stack = vec![dir.to_path_buf()];
    let (mut blocks, mut seen) = (0u64, 0usize);
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        blocks = blocks.saturating_add(meta.blocks());
        seen += 1;
        if seen >= WALK_LIMIT {
            break;
        }
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&p)
        {
            stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
        }
    }
    blocks.saturating_mul(512) / (1024 * 1024)
}

/// Removes the agent's cgroup parent (`/nubo/<agent key>`) from every hierarchy once no
/// container of it is left there (an empty cgroup is removed by `rmdir`; one still in use
/// stays, as the kernel refuses).
pub fn remove_parent_if_empty(container_cgroup: &str) {
    let Some((parent, _leaf)) = container_cgroup.trim_start_matches('/').rsplit_once('/') else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(ROOT) else {
        return;
    };
    let mut dirs = vec![Path::new(ROOT).join(parent)];
    dirs.extend(entries.filter_map(|e| {
        let e = e.ok()?;
        e.file_type().ok()?.is_dir().then(|| e.path().join(parent))
    }));
    for dir in dirs {
        // rmdir fails on a cgroup with children or tasks: exactly what must stay.
        let _ = std::fs::remove_dir(&dir);
    }
}
