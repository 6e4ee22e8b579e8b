//! Id-mapped bind mounts (Linux 5.12+): a view of a directory tree in which every file's
//! owner and group are shifted into a container's slot of host ids, so one read-only image
//! serves containers with different id slots without copying or chowning a file. A user
//! namespace carrying the mapping is made with util-linux's `unshare` (a child process that
//! only sleeps; the agent writes its id maps), then the tree is cloned (`open_tree`),
//! marked with the namespace (`mount_setattr`, the one system call neither rustix nor
//! util-linux 2.38 offer, hence the single `unsafe` block below) and attached
//! (`move_mount`).
#![allow(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rustix::mount::{MoveMountFlags, OpenTreeFlags};

use crate::error::LxcError;
use crate::idmap::IdRange;

/// `MOUNT_ATTR_IDMAP` (linux/mount.h).
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// `struct mount_attr` (linux/mount.h, version 0).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn failed(what: &str, e: impl std::fmt::Display) -> LxcError {
    LxcError::Rootfs(format!("id-mapped mount: {what}: {e}"))
}

/// A user namespace mapping ids 0..count onto `ids` (an open `/proc/PID/ns/user`).
async fn user_namespace(ids: IdRange) -> Result<std::fs::File, LxcError> {
    let mut child = tokio::process::Command::new("unshare")
        .args(["--user", "--", "sleep", "30"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed("unshare", e))?;
    let pid = child.id().ok_or_else(|| failed("unshare", "no pid"))?;
    let result = async {
        let mine = tokio::fs::read_link("/proc/self/ns/user")
            .await
            .map_err(|e| failed("own namespace", e))?;
        let theirs = format!("/proc/{pid}/ns/user");
        let mut waited = Duration::ZERO;
        while tokio::fs::read_link(&theirs).await.ok().as_ref() == Some(&mine) {
            if waited > Duration::from_secs(5) {
                return Err(failed("unshare", "the namespace did not appear"));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            waited += Duration::from_millis(1);
        }
        let map = format!("0 {} {}\n", ids.first, ids.count);
        for file in ["uid_map", "gid_map"] {
            let path = format!("/proc/{pid}/{file}");
            tokio::fs::write(&path, &map)
                .await
                .map_err(|e| failed(&path, e))?;
        }
        std::fs::File::open(&theirs).map_err(|e| failed(&theirs, e))
    }
    .await;
    let _ = child.kill().await;
    result
}

/// Mounts `source` at `target` with every id shifted by `ids`.
pub async fn bind(source: &Path, target: &Path, ids: IdRange) -> Result<(), LxcError> {
    let userns = user_namespace(ids).await?;
    let (source, target) = (source.to_path_buf(), target.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let tree = rustix::mount::open_tree(
            rustix::fs::CWD,
            &source,
            OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
        )
        .map_err(|e| failed("open_tree", e))?;
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_IDMAP,
            attr_clr: 0,
            propagation: 0,
            userns_fd: u64::try_from(userns.as_fd().as_raw_fd()).unwrap_or(u64::MAX),
        };
        // SAFETY: mount_setattr(2) reads `size_of::<MountAttr>()` bytes from `&attr`, a
        // live, properly laid out `struct mount_attr`; the path is a NUL-terminated empty
        // string and `tree` an open file descriptor, both alive for the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                tree.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        if rc != 0 {
            return Err(failed("mount_setattr", std::io::Error::last_os_error()));
        }
        rustix::mount::move_mount(
            tree.as_fd(),
            "",
            rustix::fs::CWD,
            &target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .map_err(|e| failed("move_mount", e))
    })
    .await
    .map_err(|e| failed("task", e))?
}
