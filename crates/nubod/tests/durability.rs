//! nubod end to end: a write that was acknowledged survives `kill -9`, and the data of a
//! stopped daemon is served again by the next one.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{call, dirs, start};
use nubo_xmlrpc::Value;

fn user_names(endpoint: &str) -> String {
    match call(endpoint, "one.userpool.info", vec![]).expect("userpool.info") {
        Value::String(xml) => xml,
        other => panic!("unexpected {other:?}"),
    }
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
