//! Mount points of this host, read from `/proc/self/mountinfo`, and mounting with the
//! `mount` program (util-linux: loop devices and id-mapped binds, `X-mount.idmap`).

use std::path::Path;

use nubo_driver_kvm::tools;

use crate::error::LxcError;

/// A mount point as mountinfo escapes it (`\040` for a space, …) read back.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&field[i + 1..i + 4], 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every mount point of this host.
pub async fn points() -> Vec<String> {
    let text = tokio::fs::read_to_string("/proc/self/mountinfo")
        .await
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .collect()
}

/// Whether something is mounted at `path`.
pub async fn is_mounted(path: &Path) -> bool {
    let p = path.display().to_string();
    points().await.contains(&p)
}

/// The mount points at or under `dir`, deepest first.
pub async fn under(dir: &Path) -> Vec<String> {
    let d = dir.display().to_string();
    let prefix = format!("{d}/");
    let mut found: Vec<String> = points()
        .await
        .into_iter()
        .filter(|m| *m == d || m.starts_with(&prefix))
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.len()));
    found.dedup();
    found
}

/// Runs `mount` with `args`.
pub async fn mount(args: &[&str]) -> Result<(), LxcError> {
    tools::run("mount", args)
        .await
        .map(drop)
        .map_err(Into::into)
}

/// What a failed `mount` said, without the program's name and the host's paths (`paths`):
/// the part worth showing a VM's owner.
pub fn reason(message: &str, paths: &[&str]) -> String {
    let mut m = message.to_string();
    for p in paths {
        m = m.replace(p, "");
    }
    let m = m
        .split(':')
        .map(str::trim)
        .filter(|part| !part.is_empty() && *part != "mount")
        .collect::<Vec<_>>()
        .join(": ");
    m.trim_matches(|c: char| c == '.' || c.is_whitespace())
        .to_string()
}

/// Unmounts `path` (lazily when busy); nothing when it is not a mount point.
pub async fn unmount(path: &str) {
    if tools::run("umount", [path]).await.is_err()
        && let Err(e) = tools::run("umount", ["-l", path]).await
    {
        tracing::warn!(path, error = %e, "cannot unmount");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_failures_lose_the_program_and_the_paths() {
        let said = "mount: mount: /state/rootfs-images/ab/lower: wrong fs type, bad option, bad superblock on /dev/loop3, missing codepage or helper program, or other error.";
        assert_eq!(
            reason(said, &["/state/rootfs-images/ab/lower"]),
            "wrong fs type, bad option, bad superblock on /dev/loop3, missing codepage or helper program, or other error"
        );
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/x\\"), "/x\\");
        assert_eq!(unescape("\\\\"), "\\\\");
    }
}
