//! End to end: VM templates, VMs and VM groups through `nubo`, on simulated hosts of a real
//! `nubod` (see [`common`]).

mod common;

use std::time::{Duration, Instant};

use common::{Server, created, items, json, row};

/// Registers a simulated host (`dummy` drivers) and waits until it is monitored.
fn host(s: &Server, name: &str) -> i32 {
    let id = created(&s.ok(&["host", "create", name, "--im", "dummy", "--vm", "dummy"]));
    let deadline = Instant::now() + Duration::from_secs(20);
    while json(s, &["host", "show", name])["HOST"]["STATE"] != "2" {
        assert!(Instant::now() < deadline, "host {name} never MONITORED");
        std::thread::sleep(Duration::from_millis(100));
    }
    id
}

/// `nubo vm wait ID STATE`, expected to succeed within 30 s.
fn wait(s: &Server, vm: &str, state: &str) {
    s.ok(&[
        "vm",
        "wait",
        vm,
        state,
        "--timeout",
        "30",
        "--interval",
        "0.1",
    ]);
}

/// The value of a `KEY : value` line of `show`.
fn field<'a>(show: &'a str, key: &str) -> &'a str {
    show.lines()
        .find_map(|l| {
            l.split_once(" : ")
                .filter(|(k, _)| k.trim() == key)
                .map(|(_, v)| v)
        })
        .unwrap_or_else(|| panic!("no {key} in:\n{show}"))
}

/// A network with ten addresses from 10.0.0.10, and a 16 MB datablock image, both ready.
fn network_and_image(s: &Server) {
    let net = s.file(
        "net.tmpl",
        "NAME=\"priv\"\nVN_MAD=\"dummy\"\nBRIDGE=\"br0\"\nAR=[TYPE=\"IP4\", IP=\"10.0.0.10\", SIZE=\"10\"]\n",
    );
    s.ok(&["vnet", "create", &net]);
    s.ok(&[
        "image",
        "create",
        "--name",
        "data",
        "--datastore",
        "default",
        "--type",
        "DATABLOCK",
        "--size",
        "16",
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while json(s, &["image", "show", "data"])["IMAGE"]["STATE"] != "1" {
        assert!(Instant::now() < deadline, "image never READY");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn templates_and_vms_from_flags() {
    let s = Server::start();
    host(&s, "node1");
    network_and_image(&s);

    let tid = created(&s.ok(&[
        "template",
        "create",
        "--name",
        "small",
        "--cpu",
        "0.5",
        "--memory",
        "256M",
        "--network",
        "priv",
    ]));
    let templates = s.ok(&["template", "list"]);
    assert_eq!(
        row(&templates, "small")[..6],
        [
            &tid.to_string(),
            "oneadmin",
            "oneadmin",
            "small",
            "0.5",
            "256M"
        ]
    );
    let doc = json(&s, &["template", "show", "small"]);
    assert_eq!(doc["VMTEMPLATE"]["TEMPLATE"]["MEMORY"], "256");
    assert_eq!(doc["VMTEMPLATE"]["TEMPLATE"]["NIC"]["NETWORK_ID"], "0");
    let file = s.file(
        "t.tmpl",
        "NAME=\"fromfile\"\nCPU=\"1\"\nMEMORY=\"128\"\nLABEL=\"x\"\n",
    );
    let other = created(&s.ok(&["template", "create", &file, "--memory", "1G"]));
    let doc = json(&s, &["template", "show", &other.to_string()]);
    assert_eq!(doc["VMTEMPLATE"]["TEMPLATE"]["MEMORY"], "1024", "flags win");
    assert_eq!(doc["VMTEMPLATE"]["TEMPLATE"]["LABEL"], "x");
    let copy = created(&s.ok(&["template", "clone", "fromfile", "copy"]));
    s.ok(&["template", "delete", &copy.to_string()]);
    s.ok(&["template", "delete", "fromfile", "--recursive"]);
    assert!(!s.ok(&["template", "list"]).contains("fromfile"));

    let from_template = created(&s.ok(&["template", "instantiate", "small", "--name", "t1"]));
    wait(&s, "t1", "running");
    let doc = json(&s, &["vm", "show", "t1"]);
    assert_eq!(doc["VM"]["ID"], from_template.to_string());
    assert_eq!(doc["VM"]["TEMPLATE"]["TEMPLATE_ID"], tid.to_string());

    let vid = created(&s.ok(&[
        "vm",
        "create",
        "--name",
        "web",
        "--cpu",
        "0.5",
        "--vcpu",
        "2",
        "--memory",
        "1G",
        "--image",
        "data",
        "--network",
        "priv",
    ]));
    wait(&s, "web", "running");
    let vms = s.ok(&["vm", "list"]);
    assert!(vms.starts_with("ID  USER"), "{vms}");
    let web = row(&vms, "web");
    assert_eq!(
        web[..8],
        [
            &vid.to_string(),
            "oneadmin",
            "oneadmin",
            "web",
            "runn",
            "0.5",
            "1G",
            "node1"
        ]
    );
    let show = s.ok(&["vm", "show", "web"]);
    assert_eq!(field(&show, "STATE"), "ACTIVE");
    assert_eq!(field(&show, "LCM_STATE"), "RUNNING");
    assert_eq!(field(&show, "HOST"), "node1");
    assert_eq!(field(&show, "VCPU"), "2");
    assert!(show.contains("\nNICS\n"), "{show}");
    assert!(show.contains("\nDISKS\n"), "{show}");
    assert!(show.contains("\nHISTORY\n"), "{show}");
    let nic = &json(&s, &["vm", "show", "web"])["VM"]["TEMPLATE"]["NIC"];
    assert!(
        nic["IP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.0.0.")),
        "{nic}"
    );
    assert!(show.contains(nic["IP"].as_str().unwrap_or("?")), "{show}");
    let disk = &json(&s, &["vm", "show", "web"])["VM"]["TEMPLATE"]["DISK"];
    assert_eq!(disk["IMAGE"], "data");
    let xml = s.ok(&["vm", "show", "web", "--xml"]);
    assert!(xml.starts_with("<VM>"), "{xml}");

    s.ok(&["vm", "terminate", "web", "t1", "--hard"]);
    wait(&s, &vid.to_string(), "done");
    wait(&s, &from_template.to_string(), "done");
}

#[test]
fn life_cycle_actions_wait_and_wrong_states() {
    let s = Server::start();
    host(&s, "node1");
    let vid = created(&s.ok(&[
        "vm", "create", "--name", "lc", "--cpu", "0.1", "--memory", "64",
    ]));
    let id = vid.to_string();
    wait(&s, &id, "running");
    s.ok(&["vm", "poweroff", "lc"]);
    wait(&s, "lc", "poweroff");
    assert_eq!(row(&s.ok(&["vm", "list"]), "lc")[4], "poff");
    let listed = json(&s, &["vm", "list", "--state", "poweroff"]);
    assert_eq!(items(&listed, "VM_POOL", "VM").len(), 1);
    let err = s.fails(1, &["vm", "suspend", "lc"]);
    assert!(
        err.contains("This action is not available for state POWEROFF"),
        "{err}"
    );
    let err = s.fails(1, &["vm", "wait", "lc", "running", "--timeout", "0.5"]);
    assert!(
        err.contains("timed out") && err.contains("POWEROFF"),
        "{err}"
    );
    s.ok(&["vm", "resume", "lc"]);
    wait(&s, "lc", "runn");
    s.ok(&["vm", "reboot", "lc"]);
    s.ok(&["vm", "reboot", "lc", "--hard"]);
    wait(&s, "lc", "running");
    s.ok(&["vm", "suspend", "lc"]);
    wait(&s, "lc", "suspended");
    s.ok(&["vm", "stop", "lc"]);
    wait(&s, "lc", "stopped");
    s.ok(&["vm", "resume", "lc"]);
    wait(&s, "lc", "running");
    s.ok(&["vm", "undeploy", "lc", "--hard"]);
    wait(&s, "lc", "undeployed");
    s.ok(&["vm", "resume", "lc"]);
    wait(&s, "lc", "running");
    s.ok(&["vm", "resched", "lc"]);
    s.ok(&["vm", "unresched", "lc"]);
    s.ok(&["vm", "rename", "lc", "lc2"]);
    s.ok(&["vm", "chmod", "lc2", "640"]);
    s.ok(&["vm", "lock", "lc2"]);
    let err = s.fails(1, &["vm", "terminate", "lc2"]);
    assert!(err.contains("locked"), "{err}");
    s.ok(&["vm", "unlock", "lc2"]);
    s.ok(&["vm", "terminate", "lc2"]);
    wait(&s, &id, "done");
    let err = s.fails(1, &["vm", "wait", &id, "running", "--timeout", "5"]);
    assert!(err.contains("DONE"), "{err}");
    assert!(!s.ok(&["vm", "list"]).contains("lc2"));
    assert_eq!(
        row(&s.ok(&["vm", "list", "--state", "any"]), "lc2")[4],
        "done"
    );

    let out = s.ok(&[
        "vm", "create", "--name", "h-%i", "--cpu", "0.1", "--memory", "64", "--hold", "--count",
        "2",
    ]);
    assert_eq!(out.lines().count(), 2, "{out}");
    let vms = s.ok(&["vm", "list"]);
    assert_eq!(row(&vms, "h-0")[4], "hold");
    assert_eq!(row(&vms, "h-1")[4], "hold");
    s.fails(1, &["vm", "wait", "h-0", "running", "--timeout", "0.3"]);
    s.ok(&["vm", "release", "h-0", "h-1"]);
    wait(&s, "h-0", "running");
    wait(&s, "h-1", "running");
    s.ok(&["vm", "terminate", "h-0", "h-1"]);
    wait(&s, "h-0", "done");
    wait(&s, "h-1", "done");
}

#[test]
fn failures_deploy_migrate_and_recover() {
    let s = Server::start();
    host(&s, "good");
    host(&s, "bad");
    let sim = s.file("fail.tmpl", "SIM_DEPLOY=\"failure\"\n");
    s.ok(&["host", "update", "bad", &sim, "--append"]);
    let vid = created(&s.ok(&["vm", "create", "--cpu", "0.1", "--memory", "64", "--hold"]));
    let id = vid.to_string();
    s.ok(&["vm", "deploy", &id, "bad"]);
    let err = s.fails(1, &["vm", "wait", &id, "running", "--timeout", "30"]);
    assert!(err.contains("BOOT_FAILURE"), "{err}");
    wait(&s, &id, "failure");
    assert_eq!(row(&s.ok(&["vm", "list"]), "bad")[4], "fail");
    let ok = s.file("ok.tmpl", "SIM_DEPLOY=\"success\"\n");
    s.ok(&["host", "update", "bad", &ok, "--append"]);
    s.ok(&["vm", "recover", &id, "--retry"]);
    wait(&s, &id, "running");
    s.ok(&["vm", "migrate", &id, "good", "--live"]);
    wait(&s, &id, "running");
    let show = s.ok(&["vm", "show", &id]);
    assert_eq!(field(&show, "HOST"), "good");
    assert!(show.contains("live-migrate"), "{show}");
    s.ok(&["vm", "migrate", &id, "bad"]);
    wait(&s, &id, "running");
    assert_eq!(field(&s.ok(&["vm", "show", &id]), "HOST"), "bad");
    s.ok(&["vm", "recover", &id, "--delete"]);
    wait(&s, &id, "done");
}

#[test]
fn bad_usage_is_refused_before_any_call() {
    let s = Server::start();
    let err = s.fails(2, &["vm", "create"]);
    assert!(err.contains("--cpu"), "{err}");
    assert_eq!(
        s.run(&["vm", "create", "--memory", "12X"]).status.code(),
        Some(2)
    );
    assert_eq!(
        s.run(&["vm", "create", "--cpu", "0"]).status.code(),
        Some(2)
    );
    assert_eq!(s.run(&["vm", "wait", "0", "flying"]).status.code(), Some(2));
    assert_eq!(s.run(&["vm", "recover", "0"]).status.code(), Some(2));
    assert_eq!(
        s.run(&["vm", "list", "--state", "running"]).status.code(),
        Some(2)
    );
    assert_eq!(
        s.run(&["vm", "recover", "0", "--retry", "--delete"])
            .status
            .code(),
        Some(2)
    );
    s.fails(2, &["template", "create"]);
    let err = s.fails(
        1,
        &[
            "vm", "create", "--cpu", "1", "--memory", "64", "--image", "nope",
        ],
    );
    assert!(err.contains("no image named"), "{err}");
    s.fails(1, &["vm", "show", "999"]);
    s.fails(1, &["vm", "wait", "999", "running"]);
}

/// Verbs whose server side may not exist yet: each must either work or be refused by the
/// server (exit 1, one line) — never rejected as bad usage.
#[test]
fn in_place_changes_reach_the_server() {
    let s = Server::start();
    host(&s, "node1");
    network_and_image(&s);
    let vid = created(&s.ok(&[
        "vm", "create", "--name", "x", "--cpu", "0.1", "--memory", "64",
    ]));
    wait(&s, "x", "running");
    let conf = s.file("conf.tmpl", "CONTEXT=[NETWORK=\"YES\"]\n");
    let role = s.file("role.tmpl", "ROLE=[NAME=\"db\"]\n");
    let group = s.file("group.tmpl", "NAME=\"g\"\nROLE=[NAME=\"web\"]\n");
    // Each change goes through the simulated driver; the VM comes back to its state.
    let steps: &[(&[&str], &str)] = &[
        (
            &["vm", "resize", "x", "--cpu", "0.2", "--memory", "128M"],
            "running",
        ),
        (&["vm", "disk-attach", "x", "--image", "data"], "running"),
        (&["vm", "disk-resize", "x", "0", "1G"], "running"),
        (&["vm", "disk-snapshot-create", "x", "0", "s"], "running"),
        (
            &["vm", "disk-snapshot-rename", "x", "0", "0", "t"],
            "running",
        ),
        (&["vm", "snapshot-create", "x", "snap"], "running"),
        (&["vm", "snapshot-revert", "x", "0"], "running"),
        (&["vm", "snapshot-delete", "x", "0"], "running"),
        (
            &[
                "vm",
                "nic-attach",
                "x",
                "--network",
                "priv",
                "--ip",
                "10.0.0.15",
            ],
            "running",
        ),
        (
            &[
                "vm",
                "sched-add",
                "x",
                "--action",
                "poweroff",
                "--time",
                "+3600",
            ],
            "running",
        ),
        (&["vm", "sched-delete", "x", "0"], "running"),
        (&["vm", "updateconf", "x", &conf, "--append"], "running"),
    ];
    for (args, state) in steps {
        s.ok(args);
        wait(&s, "x", state);
    }
    let show = s.ok(&["vm", "show", "x"]);
    assert!(show.contains("10.0.0.15"), "the attached NIC's IP: {show}");
    assert!(show.contains("1024"), "the resized disk: {show}");
    s.ok(&["vm", "nic-detach", "x", "0"]);
    wait(&s, "x", "running");
    assert!(!s.ok(&["vm", "show", "x"]).contains("10.0.0.15"));
    s.ok(&["vm", "poweroff", "x"]);
    wait(&s, "x", "poweroff");
    for args in [
        &["vm", "disk-snapshot-revert", "x", "0", "0"][..],
        &["vm", "disk-saveas", "x", "0", "saved"],
        &["vm", "disk-detach", "x", "0"],
    ] {
        s.ok(args);
        wait(&s, "x", "poweroff");
    }
    // Refused by the server: one line, exit 1.
    s.fails(1, &["vm", "snapshot-delete", "x", "7"]);
    // VM groups land separately; until then each call works or is refused cleanly.
    let group_calls: &[&[&str]] = &[
        &["vmgroup", "create", &group],
        &["vmgroup", "list"],
        &["vmgroup", "role-add", "0", &role],
        &["vmgroup", "role-delete", "0", "1"],
        &["vmgroup", "show", "0"],
        &["vmgroup", "delete", "0"],
    ];
    for args in group_calls {
        let out = s.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || (out.status.code() == Some(1) && stderr.lines().count() == 1),
            "nubo {args:?}: {:?} {stderr}",
            out.status
        );
    }
    s.ok(&["vm", "terminate", &vid.to_string(), "--hard"]);
    wait(&s, &vid.to_string(), "done");
}
