//! What the end-to-end tests share: a real `nubod` on a free port (simulated hosts answer
//! in 20 ms, monitoring every second), driven by the built `nubo` binary, and helpers to
//! read its output. Each test binary uses a part of it.
//!
//! `nubod` must be built first (`cargo build -p nubo-nubod`); it is found through
//! `NUBOD_BIN`, else `$CARGO_TARGET_DIR/debug/nubod`, else `target/debug/nubod` at the
//! workspace root.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nubo_client::Client;

/// A running nubod in a temporary directory; killed on drop.
pub struct Server {
    child: Child,
    /// The temporary directory: data, log, `one_auth`, files written by [`Server::file`].
    pub dir: tempfile::TempDir,
    /// The XML-RPC endpoint.
    pub endpoint: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the nubod binary is.
fn nubod_path() -> PathBuf {
    if let Some(path) = std::env::var_os("NUBOD_BIN") {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(
            || root.join("target"),
            |t| if t.is_absolute() { t } else { root.join(t) },
        );
    target.join("debug").join("nubod")
}

impl Server {
    /// Starts nubod with oneadmin's password `pw` and waits until it answers.
    pub fn start() -> Server {
        let bin = nubod_path();
        assert!(
            bin.is_file(),
            "nubod not found at {}: build it first with `cargo build -p nubo-nubod` (or set NUBOD_BIN)",
            bin.display()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = std::fs::File::create(dir.path().join("nubod.log")).expect("log file");
        let child = Command::new(&bin)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--xmlrpc")
            .arg(format!("127.0.0.1:{port}"))
            .args(["--host-api", "127.0.0.1:0"])
            .args(["--sim-delay-ms", "20", "--monitor-interval", "1"])
            .env("NUBO_ADMIN_PASSWORD", "pw")
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        std::fs::write(dir.path().join("one_auth"), "oneadmin:pw\n").expect("one_auth");
        let mut server = Server {
            child,
            dir,
            endpoint: format!("http://127.0.0.1:{port}/RPC2"),
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let client = Client::new(&self.endpoint, "oneadmin:pw");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if client.version().is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nubod exited ({status}) before answering:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "nubod did not answer within 20 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nubod.log")).unwrap_or_default()
    }

    /// A `nubo` command set up like a user's shell: ONE_XMLRPC and ONE_AUTH (a file).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nubo"));
        cmd.args(args)
            .env("ONE_XMLRPC", &self.endpoint)
            .env("ONE_AUTH", self.dir.path().join("one_auth"))
            .env("HOME", self.dir.path())
            .env_remove("ONE_XMLRPC_TIMEOUT")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run nubo")
    }

    /// Runs nubo, expects success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "nubo {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Runs nubo, expects failure with `code`, returns stderr (checked to be one line).
    pub fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8(out.stderr).expect("utf-8");
        assert_eq!(out.status.code(), Some(code), "nubo {args:?}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "nubo {args:?} printed {:?}",
            out.stdout
        );
        assert_eq!(stderr.lines().count(), 1, "not one line: {stderr:?}");
        assert!(stderr.starts_with("nubo: "), "{stderr}");
        stderr
    }

    /// Runs nubo with `input` on stdin, expects success.
    pub fn ok_with_stdin(&self, args: &[&str], input: &str) -> String {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nubo");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("wait nubo");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path.display().to_string()
    }
}

/// The id `create` printed (`ID: 5`).
pub fn created(stdout: &str) -> i32 {
    stdout
        .trim()
        .strip_prefix("ID: ")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not an id: {stdout:?}"))
}

/// The table row whose NAME column (any column, really) holds `name`.
pub fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.contains(&name))
        .unwrap_or_else(|| panic!("no row with {name} in:\n{table}"))
}

/// `nubo … --json` parsed.
pub fn json(s: &Server, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&s.ok(&all)).expect("valid json")
}

/// The elements under `doc[root][element]`, whether one (an object) or several (an array).
pub fn items<'a>(
    doc: &'a serde_json::Value,
    root: &str,
    element: &str,
) -> Vec<&'a serde_json::Value> {
    match &doc[root][element] {
        serde_json::Value::Array(a) => a.iter().collect(),
        serde_json::Value::Null => vec![],
        one => vec![one],
    }
}
