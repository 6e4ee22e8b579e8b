//! A container root filesystem for benchmarks: an ext4 image (made by `mke2fs -d`, no
//! mount needed) of a static busybox whose /sbin/init prints a line and sleeps. Needs
//! `mke2fs` and a static `busybox` on PATH (Debian's `busybox-static` or `busybox`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The line the image's /sbin/init prints first.
pub const INIT_LINE: &str = "BENCH-INIT-UP";

fn sh(cmd: &str) -> Result<String> {
    let out = Command::new("sh").args(["-c", cmd]).output()?;
    if !out.status.success() {
        bail!("{cmd}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Makes `dir/busybox.raw` (32 MiB ext4) and returns its path.
pub fn image(dir: &Path) -> Result<PathBuf> {
    let busybox = sh("command -v busybox").context("busybox is not installed")?;
    let busybox = busybox.trim();
    if !sh(&format!("ldd {busybox} 2>&1 || true"))?.contains("not a dynamic") {
        bail!("{busybox} is not a static executable (install busybox-static)");
    }
    let root = dir.join("rootdir");
    for d in ["bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root"] {
        std::fs::create_dir_all(root.join(d))?;
    }
    std::fs::copy(busybox, root.join("bin/busybox"))?;
    for tool in [
        "sh", "cat", "echo", "sleep", "ps", "id", "hostname", "ls", "ip", "true", "kill",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(tool))?;
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    let init = format!(
        "#!/bin/sh\necho {INIT_LINE}\ntrap 'exit 0' TERM\nwhile :; do sleep 3600 & wait $!; done\n"
    );
    std::fs::write(root.join("sbin/init"), init)?;
    sh(&format!("chmod 755 {}", root.join("sbin/init").display()))?;
    let image = dir.join("busybox.raw");
    sh(&format!(
        "mke2fs -q -t ext4 -d {} {} 32M",
        root.display(),
        image.display()
    ))?;
    Ok(image)
}
