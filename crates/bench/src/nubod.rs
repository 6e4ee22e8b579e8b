//! A nubod started for the benchmark: a fresh data directory, a free port, simulated hosts
//! with no delay; stopped when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nubo_client::Client;

/// The running daemon.
#[derive(Debug)]
pub struct Nubod {
    child: Child,
    endpoint: String,
    session: String,
    _dir: tempfile::TempDir,
}

impl Nubod {
    /// Starts `binary` and waits until it answers.
    pub fn start(binary: &Path) -> Result<Nubod> {
        Nubod::start_with(binary, "127.0.0.1:0")
    }

    /// Starts `binary` with its host API (where agents say hello, push reports and fetch
    /// images) on `host_api` (`ADDR:PORT`; a real port when agents are to reach it).
    pub fn start_with(binary: &Path, host_api: &str) -> Result<Nubod> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let password = "bench-password";
        let child = Command::new(binary)
            .args(["--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--xmlrpc", &format!("127.0.0.1:{port}")])
            .args(["--host-api", host_api])
            .args([
                "--sim-delay-ms",
                "0",
                "--monitor-interval",
                "30",
                "--log-level",
                "warn",
            ])
            .env("NUBO_ADMIN_PASSWORD", password)
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let nubod = Nubod {
            child,
            endpoint: format!("http://127.0.0.1:{port}/RPC2"),
            session: format!("oneadmin:{password}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while nubod.client().version().is_err() {
            if Instant::now() > deadline {
                bail!("nubod did not answer within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(nubod)
    }

    /// Its data directory.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("data")
    }

    /// The XML-RPC endpoint and oneadmin's session.
    pub fn endpoint(&self) -> (&str, &str) {
        (&self.endpoint, &self.session)
    }

    /// A client as oneadmin.
    pub fn client(&self) -> Client {
        Client::new(&self.endpoint, &self.session)
    }

    /// CPU seconds nubod has used (user + system).
    pub fn cpu_seconds(&self) -> Result<f64> {
        process_cpu_seconds(self.child.id())
    }

    /// nubod's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// nubod's peak resident memory (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc status")
    }
}

impl Drop for Nubod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds process `pid` has used (user + system).
pub fn process_cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    Ok(ticks / 100.0)
}
