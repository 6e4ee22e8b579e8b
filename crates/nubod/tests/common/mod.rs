//! Shared by nubod's integration tests: start a real nubod on a free port, call it.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nubo_xmlrpc::{MethodCall, MethodResponse, Value, parse_response, write_call};

/// A running nubod, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub endpoint: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts nubod on `data` with oneadmin's password `pw`; extra flags in `args`.
pub fn start_with(data: &Path, home: &Path, args: &[&str]) -> Daemon {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_nubod"))
        .arg("--data-dir")
        .arg(data)
        .arg("--xmlrpc")
        .arg(format!("127.0.0.1:{port}"))
        .args(["--host-api", "127.0.0.1:0"])
        .args(args)
        .env("NUBO_ADMIN_PASSWORD", "pw")
        .env("HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nubod starts");
    let daemon = Daemon {
        child,
        endpoint: format!("http://127.0.0.1:{port}/RPC2"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while call(&daemon.endpoint, "one.system.version", vec![]).is_err() {
        assert!(Instant::now() < deadline, "nubod did not answer in 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon
}

/// Starts nubod on `data` with default settings.
pub fn start(data: &Path, home: &Path) -> Daemon {
    start_with(data, home, &[])
}

/// Posts a raw body; returns the parsed response.
pub fn post(endpoint: &str, body: &[u8]) -> Result<MethodResponse, String> {
    let reply = ureq::post(endpoint)
        .header("Content-Type", "text/xml")
        .send(body)
        .map_err(|e| e.to_string())?
        .body_mut()
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    parse_response(&reply).map_err(|e| e.to_string())
}

/// Calls `method` as oneadmin; Ok(value) on success, Err(message) otherwise.
pub fn call(endpoint: &str, method: &str, mut params: Vec<Value>) -> Result<Value, String> {
    params.insert(0, Value::from("oneadmin:pw"));
    let body = write_call(&MethodCall {
        method: method.to_string(),
        params,
    });
    match post(endpoint, body.as_bytes())? {
        MethodResponse::Success(Value::Array(items))
            if items.first() == Some(&Value::Bool(true)) =>
        {
            Ok(items.get(1).cloned().unwrap_or(Value::Nil))
        }
        other => Err(format!("{other:?}")),
    }
}

/// A temporary root with `data` and `home` folders.
pub fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let home = root.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    (root, data, home)
}
