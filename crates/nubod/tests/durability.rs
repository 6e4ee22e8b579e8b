//! nubod end to end: a write that was acknowledged survives `kill -9`, and the data of a
//! stopped daemon is served again by the next one.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nubo_xmlrpc::{MethodCall, MethodResponse, Value, parse_response, write_call};

struct Daemon {
    child: Child,
    endpoint: String,
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

fn start(data: &Path, home: &Path) -> Daemon {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_nubod"))
        .arg("--data-dir")
        .arg(data)
        .arg("--xmlrpc")
        .arg(format!("127.0.0.1:{port}"))
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

/// Calls `method` as oneadmin; Ok(value) on success, Err(message) otherwise.
fn call(endpoint: &str, method: &str, mut params: Vec<Value>) -> Result<Value, String> {
    params.insert(0, Value::from("oneadmin:pw"));
    let body = write_call(&MethodCall {
        method: method.to_string(),
        params,
    });
    let reply = ureq::post(endpoint)
        .header("Content-Type", "text/xml")
        .send(body.as_bytes())
        .map_err(|e| e.to_string())?
        .body_mut()
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    match parse_response(&reply).map_err(|e| e.to_string())? {
        MethodResponse::Success(Value::Array(items))
            if items.first() == Some(&Value::Bool(true)) =>
        {
            Ok(items.get(1).cloned().unwrap_or(Value::Nil))
        }
        other => Err(format!("{other:?}")),
    }
}

fn user_names(endpoint: &str) -> String {
    match call(endpoint, "one.userpool.info", vec![]).expect("userpool.info") {
        Value::String(xml) => xml,
        other => panic!("unexpected {other:?}"),
    }
}

fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let home = root.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    (root, data, home)
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let (_root, data, home) = dirs();
    let daemon = start(&data, &home);
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (endpoint, acked, stop) =
                (daemon.endpoint.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let name = format!("u{w}x{i}");
                    let args = vec![
                        Value::from(name.as_str()),
                        Value::from("p"),
                        Value::from(""),
                    ];
                    match call(&endpoint, "one.user.allocate", args) {
                        Ok(_) => acked.lock().expect("lock").push(name),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let mut daemon = daemon;
    daemon.child.kill().expect("kill -9");
    let _ = daemon.child.wait();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    let acked = acknowledged.lock().expect("lock").clone();
    assert!(
        acked.len() > 10,
        "only {} users were created before the kill",
        acked.len()
    );

    let again = start(&data, &home);
    let listing = user_names(&again.endpoint);
    for name in &acked {
        assert!(
            listing.contains(&format!("<NAME>{name}</NAME>")),
            "acknowledged user {name} was lost"
        );
    }
    // New ids continue after the survivors: no id is handed out twice.
    let next = call(
        &again.endpoint,
        "one.user.allocate",
        vec![Value::from("after"), Value::from("p"), Value::from("")],
    )
    .expect("allocate after restart");
    assert!(matches!(next, Value::Int(id) if id as usize >= acked.len() + 2));
}

#[test]
fn a_clean_restart_serves_the_same_cloud_and_keeps_the_first_password() {
    let (_root, data, home) = dirs();
    let first = start(&data, &home);
    call(
        &first.endpoint,
        "one.group.allocate",
        vec![Value::from("devs")],
    )
    .expect("group");
    drop(first);
    let auth = std::fs::read_to_string(home.join(".one/one_auth")).expect("one_auth written");
    assert_eq!(auth.trim(), "oneadmin:pw");
    let mode = std::fs::metadata(home.join(".one/one_auth"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .expect("one_auth metadata");
    assert_eq!(mode, 0o600);
    let second = start(&data, &home);
    let groups = call(&second.endpoint, "one.grouppool.info", vec![]).expect("grouppool");
    assert!(matches!(groups, Value::String(ref x) if x.contains("<NAME>devs</NAME>")));
}
