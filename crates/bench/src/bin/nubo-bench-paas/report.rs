//! The Markdown report, and what the parts share.

use super::*;

#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) rows: Vec<(String, String)>,
    pub(crate) tables: Vec<String>,
    pub(crate) scale: Vec<(Marks, Marks)>,
}

impl Report {
    pub(crate) fn row(&mut self, what: impl Into<String>, result: impl Into<String>) {
        let (what, result) = (what.into(), result.into());
        eprintln!("  {what}: {result}");
        self.rows.push((what, result));
    }
}

/// Polls `done` every 20 ms until it holds.
pub(crate) fn wait_every(
    timeout: Duration,
    what: &str,
    mut done: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let start = Instant::now();
    loop {
        if done().unwrap_or(false) {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn sh(cmd: &str) -> Result<String> {
    let out = Command::new("sh").args(["-c", cmd]).output()?;
    if !out.status.success() {
        bail!("{cmd}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(crate) fn chmod_711(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o711))?;
    Ok(())
}

pub(crate) fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = meminfo_kib("MemTotal:").unwrap_or(0) / 1024;
    let kernel = sh("uname -r").unwrap_or_default();
    let distro = sh(". /etc/os-release && echo \"$PRETTY_NAME\"").unwrap_or_default();
    format!(
        "{cores} × {cpu}, {mem} MiB, {}, Linux {}",
        distro.trim(),
        kernel.trim()
    )
}

pub(crate) fn now_utc() -> String {
    sh("date -u '+%Y-%m-%d %H:%M UTC'")
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_encodes_as_rfc_4648() {
        assert_eq!(base64("oneadmin:pw"), "b25lYWRtaW46cHc=");
        assert_eq!(base64("ab"), "YWI=");
        assert_eq!(base64("abc"), "YWJj");
    }

    #[test]
    fn chunks_are_joined() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").expect("valid"),
            b"abcde"
        );
    }
}
