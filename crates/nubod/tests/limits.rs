//! nubod under bad input: an oversized body gets fault -509 and the daemon keeps serving;
//! a configuration file with an unknown key is refused at start.

mod common;

use std::process::Command;

use common::{call, dirs, post, start_with};
use nubo_xmlrpc::{MethodResponse, Value};

#[test]
fn bodies_over_the_limit_get_a_fault_and_nubod_keeps_serving() {
    let (root, data, home) = dirs();
    let config = root.path().join("nubod.toml");
    std::fs::write(&config, "[xmlrpc]\nmax_body_bytes = 4096\n").expect("config");
    let daemon = start_with(
        &data,
        &home,
        &["--config", config.to_str().expect("utf-8 path")],
    );
    let big = format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>one.user.update</methodName><params>\
         <param><value>oneadmin:pw</value></param><param><value><int>0</int></value></param>\
         <param><value>A=\"{}\"</value></param></params></methodCall>",
        "x".repeat(10_000)
    );
    match post(&daemon.endpoint, big.as_bytes()).expect("a reply") {
        MethodResponse::Fault { code, .. } => assert_eq!(code, -509),
        other => panic!("expected fault -509, got {other:?}"),
    }
    // Nothing changed, and the daemon still answers.
    let user = call(&daemon.endpoint, "one.user.info", vec![Value::Int(0)]).expect("user.info");
    assert!(matches!(user, Value::String(ref x) if !x.contains("xxxx")));
}

#[test]
fn unknown_configuration_keys_are_refused() {
    let (root, data, _home) = dirs();
    let config = root.path().join("nubod.toml");
    std::fs::write(&config, "colour = \"blue\"\n").expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_nubod"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .expect("nubod runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("colour"),
        "the error names the key: {stderr}"
    );
}
