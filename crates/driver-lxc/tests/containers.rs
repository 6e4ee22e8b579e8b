//! Real containers through the driver: a busybox root filesystem image made here (ext4 by
//! `mke2fs -d`), run by runc. Needs root, runc, mke2fs and a static busybox; skips without
//! them unless NUBO_REQUIRE_GUESTS=1.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use nubo_driver::{
    Change, ContextSpec, DiskKind, DiskSource, DiskSpec, ExecSpec, GuestState, Hypervisor, NicSpec,
    Operation, VmSpec,
};
use nubo_driver_lxc::layout::ContainerDir;

#[tokio::test]
async fn a_container_runs_isolated_limited_and_goes_through_its_life_cycle() {
    if !usable() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let image = busybox_image(tmp.path());
    let state = tmp.path().join("state");
    let d = driver(&state);
    let _leftovers = Leftovers {
        state: state.clone(),
        vm_ids: vec![90_001],
    };
    let vm_id = 90_001;
    let mut s = spec(vm_id, &image);
    let mut files = std::collections::BTreeMap::new();
    files.insert(
        "context.sh".to_string(),
        "HOSTNAME='box1'\nGREETING='it'\\''s me'\n".to_string(),
    );
    s.context = Some(ContextSpec {
        label: "CONTEXT".into(),
        files,
        target: "hda".into(),
    });
    deploy(&d, vm_id, &s).await;
    assert_eq!(state_of(&d, vm_id).await, Some(GuestState::Running));

    // Context: hostname, environment, files.
    let (code, out) = exec(&d, vm_id, "hostname; cat /context/context.sh | head -1").await;
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("box1\nHOSTNAME='box1'"), "{out}");
    let (_, env) = exec(
        &d,
        vm_id,
        "cat /proc/1/environ | tr '\\0' '\\n' | grep GREETING",
    )
    .await;
    assert!(env.contains("GREETING=it's me"), "{env}");

    // vm.exec: a command with standard input; its result comes with the reports.
    let done = run_exec(
        &d,
        vm_id,
        &s,
        7,
        "sh -c 'cat; echo err >&2; exit 3'",
        b"piped",
    )
    .await;
    assert_eq!((done.status.as_str(), done.return_code), ("DONE", 3));
    assert_eq!(decode(&done.stdout_b64), "piped");
    assert_eq!(decode(&done.stderr_b64), "err\n");
    assert!(done.pid > 0);
    // A cancel kills a command that would run on.
    let mut long = s.clone();
    long.change = Some(Change::Exec(ExecSpec {
        command: "sleep 60".into(),
        stdin_b64: String::new(),
    }));
    let mut req = request(vm_id, Operation::Exec, &long);
    req.seq = 8;
    d.run(req).await.expect("exec");
    tokio::time::sleep(Duration::from_millis(300)).await;
    d.run(request(vm_id, Operation::ExecCancel, &s))
        .await
        .expect("cancel");
    let cancelled = exec_result(&d, vm_id, 8).await;
    assert_eq!(cancelled.status, "CANCELLED");
    assert!(
        d.run(request(vm_id, Operation::ExecCancel, &s))
            .await
            .is_err()
    );
    let bad = run_exec_err(&d, vm_id, &s, "echo 'unterminated").await;
    assert!(bad.contains("does not parse"), "{bad}");

    // Health check commands: waited for, in the container's environment; one that
    // outlives its time is killed, in the container too.
    let check = |words: &[&str], secs| {
        let words = words.iter().map(|w| w.to_string()).collect();
        d.run_check(vm_id, words, Duration::from_secs(secs))
    };
    let passed = check(
        &["sh", "-c", "test \"$GREETING\" = \"it's me\" && echo ok"],
        10,
    )
    .await
    .expect("a check");
    assert_eq!((passed.code, passed.timed_out), (0, false), "{passed:?}");
    assert_eq!(passed.output, "ok\n");
    let failed = check(&["sh", "-c", "echo out; echo no >&2; exit 4"], 10)
        .await
        .expect("a failing check");
    assert_eq!((failed.code, failed.output.as_str()), (4, "out\nno\n"));
    let started = Instant::now();
    let hung = check(&["sleep", "37"], 1).await.expect("a hung check");
    assert!(hung.timed_out && hung.code == -1, "{hung:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, ps) = exec(&d, vm_id, "ps -o args").await;
    assert!(!ps.contains("sleep 37"), "{ps}");
    let missing = check(&["no-such-check"], 5)
        .await
        .expect("a missing command");
    assert_ne!(missing.code, 0, "{missing:?}");
    assert!(
        d.run_check(90_999, vec!["true".into()], Duration::from_secs(1))
            .await
            .is_err()
    );

    // Isolation: the container sees only its own processes, its root is not the host's.
    let (_, ps) = exec(&d, vm_id, "ps -o pid,comm").await;
    assert!(!ps.contains("cargo") && !ps.contains("systemd"), "{ps}");
    let pid = std::fs::read_to_string(state.join("vms/90001/init.pid")).expect("pid");
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).expect("status");
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).expect("uid");
    let host_uid: u32 = uid_line
        .split_whitespace()
        .nth(1)
        .expect("n")
        .parse()
        .expect("num");
    assert!(
        host_uid >= 100_000_000,
        "the container's root is host uid {host_uid}"
    );
    let (code, out) = exec(
        &d,
        vm_id,
        "cat /sys/kernel/uevent_helper 2>&1; echo x > /sys/kernel/uevent_helper",
    )
    .await;
    assert_ne!(code, 0, "/sys is writable: {out}");
    // Writes land in the container's own layer, not in the image.
    let (code, _) = exec(&d, vm_id, "echo mine > /root/note && cat /root/note").await;
    assert_eq!(code, 0);
    assert!(!tmp.path().join("rootdir/root/note").exists());

    // Monitoring: memory from the cgroup, the layer's size as the root disk's.
    let (code, _) = exec(&d, vm_id, "head -c 6000000 /dev/urandom > /root/blob").await;
    assert_eq!(code, 0);
    let report = d.report().await;
    let me = report
        .vms
        .iter()
        .find(|v| v.vm_id == vm_id)
        .expect("reported");
    assert!(me.memory_kb > 0, "{me:?}");
    let root_mb = me
        .disk_sizes
        .iter()
        .find(|(id, _)| *id == 0)
        .map(|(_, mb)| *mb);
    assert!(root_mb.is_some_and(|mb| mb >= 5), "{me:?}");
    assert_eq!(report.hypervisor, "lxc");
    let (code, _) = exec(&d, vm_id, "rm /root/blob").await;
    assert_eq!(code, 0);

    // Limits: a memory hog is killed by the cgroup, a fork bomb stops at the pids limit.
    let (_, out) = exec(
        &d,
        vm_id,
        "head -c 200000000 /dev/zero | tail -c 150000000 >/dev/null; echo rc=$?",
    )
    .await;
    assert!(out.contains("rc=137"), "the hog was not killed: {out}");
    assert_eq!(state_of(&d, vm_id).await, Some(GuestState::Running));
    let (_, out) = exec(
        &d,
        vm_id,
        "for i in $(seq 200); do sleep 30 >/dev/null 2>&1 & done 2>/dev/null; ps | wc -l",
    )
    .await;
    let procs: usize = out
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    assert!(procs <= 48, "{procs} processes past a limit of 48: {out}");
    // The host ends the bomb's processes (the container has no pid left to do it).
    let init = std::fs::read_to_string(state.join("vms/90001/init.pid")).expect("pid");
    let procs = format!(
        "/sys/fs/cgroup/pids{}/cgroup.procs",
        ContainerDir::new(&state, vm_id).cgroup()
    );
    for pid in std::fs::read_to_string(&procs)
        .expect("procs")
        .split_whitespace()
    {
        if pid != init.trim() {
            let _ = std::process::Command::new("kill")
                .args(["-9", pid])
                .output();
        }
    }

    // Resize: the running container's cgroup takes the new memory at once.
    let mut bigger = s.clone();
    bigger.memory_mb = 96;
    bigger.change = Some(Change::Resize);
    d.run(request(vm_id, Operation::Resize, &bigger))
        .await
        .expect("resize");
    let cgroup = ContainerDir::new(&state, vm_id).cgroup();
    let limit = ["memory.limit_in_bytes", "memory.max"]
        .iter()
        .find_map(|f| {
            std::fs::read_to_string(format!("/sys/fs/cgroup/memory{cgroup}/{f}"))
                .or_else(|_| std::fs::read_to_string(format!("/sys/fs/cgroup{cgroup}/{f}")))
                .ok()
        })
        .expect("memory limit");
    assert_eq!(limit.trim(), (96u64 << 20).to_string());

    // Suspend (freezer) and resume.
    d.run(request(vm_id, Operation::Save, &s))
        .await
        .expect("save");
    assert_eq!(state_of(&d, vm_id).await, Some(GuestState::Paused));
    d.run(request(vm_id, Operation::Restore, &s))
        .await
        .expect("restore");
    assert_eq!(state_of(&d, vm_id).await, Some(GuestState::Running));

    // Reboot: a new init, the layer kept.
    d.run(request(vm_id, Operation::Reboot, &s))
        .await
        .expect("reboot");
    let (_, out) = exec(&d, vm_id, "cat /root/note").await;
    assert_eq!(out.trim(), "mine");

    // Shutdown: the init honours SIGTERM at once.
    let started = Instant::now();
    d.run(request(vm_id, Operation::Shutdown, &s))
        .await
        .expect("shutdown");
    assert!(started.elapsed() < Duration::from_secs(5));
    let console = std::fs::read_to_string(state.join("vms/90001/console.log")).expect("console");
    assert!(
        console.contains("nubo-test-init up") && console.contains("bye"),
        "{console}"
    );

    // Poweroff then resume (deploy again), then terminate: nothing left.
    deploy(&d, vm_id, &s).await;
    assert_eq!(state_of(&d, vm_id).await, Some(GuestState::Running));
    d.run(request(vm_id, Operation::Cancel, &s))
        .await
        .expect("cancel");
    d.run(request(vm_id, Operation::Epilog, &s))
        .await
        .expect("epilog");
    assert!(!state.join("vms/90001").exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(&state.display().to_string()), "{mounts}");
    let names = ContainerDir::new(&state, vm_id);
    assert!(!Path::new("/var/run/netns").join(names.netns()).exists());
    assert!(!Path::new(&format!("/sys/fs/cgroup/memory{}", names.cgroup())).exists());
}

#[tokio::test]
async fn an_init_that_ends_powers_the_container_off_and_bad_roots_fail_clearly() {
    if !usable() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let image = busybox_image(tmp.path());
    let state = tmp.path().join("state");
    let d = driver(&state);
    let _leftovers = Leftovers {
        state: state.clone(),
        vm_ids: vec![90_002, 90_003, 90_004, 90_008],
    };

    let vm_id = 90_002;
    let mut s = spec(vm_id, &image);
    s.os.init = Some("echo short-lived".into());
    deploy(&d, vm_id, &s).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while state_of(&d, vm_id).await != Some(GuestState::Poweroff) {
        assert!(Instant::now() < deadline, "the container did not power off");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    d.run(request(vm_id, Operation::Epilog, &s))
        .await
        .expect("epilog");

    // An OS/INIT whose program is not in the root filesystem.
    let vm_id = 90_008;
    let mut s = spec(vm_id, &image);
    s.os.init = Some("exec no-such-server --port 80".into());
    d.run(request(vm_id, Operation::Prolog, &s))
        .await
        .expect("prolog");
    let e = d
        .run(request(vm_id, Operation::Deploy, &s))
        .await
        .expect_err("no program");
    assert!(e.to_string().contains("no-such-server"), "{e}");
    d.run(request(vm_id, Operation::Epilog, &s))
        .await
        .expect("epilog");

    // A root filesystem without an init.
    let vm_id = 90_003;
    let no_init = tmp.path().join("noinit");
    std::fs::create_dir_all(no_init.join("bin")).expect("dir");
    let bare = tmp.path().join("bare.raw");
    sh(&format!(
        "mke2fs -q -t ext4 -d {} {} 8M",
        no_init.display(),
        bare.display()
    ));
    let s = spec(vm_id, &bare);
    d.run(request(vm_id, Operation::Prolog, &s))
        .await
        .expect("prolog");
    let e = d
        .run(request(vm_id, Operation::Deploy, &s))
        .await
        .expect_err("no init");
    assert!(e.to_string().contains("/sbin/init"), "{e}");
    d.run(request(vm_id, Operation::Epilog, &s))
        .await
        .expect("epilog");

    // An agent whose state directory sits in a directory others cannot pass.
    let closed = tmp.path().join("closed");
    std::fs::create_dir_all(closed.join("inner")).expect("dir");
    sh(&format!("chmod 700 {}", closed.display()));
    let hidden = driver_at(&closed.join("inner").join("state"));
    let s = spec(90_009, &image);
    hidden
        .run(request(90_009, Operation::Prolog, &s))
        .await
        .expect("prolog");
    let e = hidden
        .run(request(90_009, Operation::Deploy, &s))
        .await
        .expect_err("closed");
    assert!(e.to_string().contains("chmod o+x"), "{e}");
    assert!(e.to_string().contains("closed"), "{e}");

    // An image that is not a filesystem.
    let vm_id = 90_004;
    let junk = tmp.path().join("junk.raw");
    std::fs::write(&junk, vec![0x5a; 4 << 20]).expect("junk");
    let s = spec(vm_id, &junk);
    d.run(request(vm_id, Operation::Prolog, &s))
        .await
        .expect("prolog");
    let e = d
        .run(request(vm_id, Operation::Deploy, &s))
        .await
        .expect_err("not a filesystem");
    assert!(e.to_string().contains("not a filesystem"), "{e}");
    d.run(request(vm_id, Operation::Epilog, &s))
        .await
        .expect("epilog");
    assert!(!state.join("vms/90004").exists());
}

#[tokio::test]
async fn a_container_serves_http_on_its_lease_behind_its_security_groups() {
    if !usable() || !have("nft") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let image = busybox_image(tmp.path());
    let state = tmp.path().join("state");
    let d = driver(&state);
    let _leftovers = Leftovers {
        state: state.clone(),
        vm_ids: vec![90_005],
    };
    let bridge = "nbtlxc0";
    let _ = std::process::Command::new("ip")
        .args(["link", "del", bridge])
        .output();
    sh(&format!(
        "ip link add {bridge} type bridge && ip addr add 10.231.7.1/24 dev {bridge} && ip link set {bridge} up"
    ));
    let vm_id = 90_005;
    let mut s = spec(vm_id, &image);
    s.nics = vec![NicSpec {
        nic_id: 0,
        mac: "02:00:0a:e7:07:02".into(),
        ip: Some("10.231.7.2".into()),
        bridge: Some(bridge.into()),
        vn_mad: "bridge".into(),
        target: "lxct-90005-0".into(),
        filter_mac: true,
        filter_ip: true,
        ..NicSpec::default()
    }];
    deploy(&d, vm_id, &s).await;
    let get = || {
        std::process::Command::new("curl")
            .args(["-s", "-m", "3", "http://10.231.7.2/"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut body = get();
    while !body.contains("hello from a container") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        body = get();
    }
    assert!(body.contains("hello from a container"), "{body:?}");
    // The container cannot take another address (its network is the host's to change).
    let (code, out) = exec(&d, vm_id, "ip addr add 10.231.7.9/24 dev eth0").await;
    assert_ne!(code, 0, "{out}");
    d.run(request(vm_id, Operation::Cancel, &s))
        .await
        .expect("cancel");
    d.run(request(vm_id, Operation::Epilog, &s))
        .await
        .expect("epilog");
    assert!(sh("ip -o link").find("lxct-90005-0").is_none());
    let _ = std::process::Command::new("ip")
        .args(["link", "del", bridge])
        .output();
}

#[tokio::test]
async fn a_container_moves_to_another_host_with_its_layer() {
    if !usable() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let image = busybox_image(tmp.path());
    let vm_id = 90_006;
    let TwoHosts {
        a,
        b,
        state_a,
        state_b,
        _leftovers,
    } = two_hosts(tmp.path(), vm_id);
    // Another container holds host B's first id slot, so the layer's owners must move.
    occupy_first_slot(&state_b);
    let s = spec(vm_id, &image);
    deploy(&a, vm_id, &s).await;
    let (code, _) = exec(
        &a,
        vm_id,
        "mkdir -p /srv && echo mine > /srv/note && rm /www/index.html",
    )
    .await;
    assert_eq!(code, 0);
    // SAVE_MIGRATE, then the offer from A and the fetch by B, then RESTORE on B.
    a.run(request(vm_id, Operation::Save, &s))
        .await
        .expect("save");
    let offer = a
        .run(request(vm_id, Operation::PrologMigrateOut, &s))
        .await
        .expect("offer");
    let mut take = request(vm_id, Operation::PrologMigrate, &s);
    take.migrate_uri = Some(offer);
    b.run(take).await.expect("prolog migrate");
    b.run(request(vm_id, Operation::Restore, &s))
        .await
        .expect("restore");
    let (code, out) = exec(&b, vm_id, "cat /srv/note; ls -ln /srv/note; ls /www").await;
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("mine\n"), "{out}");
    // Owned by the container's root on the new host; the deleted file stays deleted.
    let owner: Vec<&str> = out
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(owner.get(2), Some(&"0"), "{out}");
    assert!(!out.contains("index.html"), "{out}");
    let pid = std::fs::read_to_string(state_b.join("vms/90006/init.pid")).expect("pid");
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).expect("status");
    let host_uid: u32 = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse().ok())
        .expect("uid");
    assert_eq!(
        host_uid,
        nubo_driver_lxc::DEFAULT_ID_BASE + 65_536,
        "the machine's second slot"
    );
    // A drops its copy; B ends the container.
    let mut drop_copy = request(vm_id, Operation::Cleanup, &s);
    drop_copy.spec = None;
    a.run(drop_copy).await.expect("cleanup");
    assert!(!state_a.join("vms/90006").exists());
    b.run(request(vm_id, Operation::Cancel, &s))
        .await
        .expect("cancel");
    b.run(request(vm_id, Operation::Epilog, &s))
        .await
        .expect("epilog");
}

/// Makes the machine's first id slot taken, as another container would.
fn occupy_first_slot(state: &Path) {
    let registry = state.parent().expect("parent").join("id-slots");
    std::fs::create_dir_all(&registry).expect("dir");
    let block = nubo_driver_lxc::DEFAULT_ID_BASE / 65_536;
    std::fs::write(
        registry.join(block.to_string()),
        state.display().to_string(),
    )
    .expect("claim");
}

#[tokio::test]
async fn data_disks_are_mounted_where_their_target_says_and_keep_their_data() {
    if !usable() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let image = busybox_image(tmp.path());
    let state = tmp.path().join("state");
    let d = driver(&state);
    let _leftovers = Leftovers {
        state: state.clone(),
        vm_ids: vec![90_007],
    };
    let vm_id = 90_007;
    let mut s = spec(vm_id, &image);
    let volatile = |id: i32, target: &str| DiskSpec {
        disk_id: id,
        kind: DiskKind::Disk,
        source: DiskSource::Volatile {
            size_mb: 16,
            format: "raw".into(),
        },
        target: target.into(),
        readonly: false,
        size_mb: None,
    };
    s.disks.push(volatile(1, "/data"));
    let mut with_image = s.disks[0].clone();
    with_image.disk_id = 2;
    with_image.target = "vdc".into();
    s.disks.push(with_image);
    deploy(&d, vm_id, &s).await;
    let (code, out) = exec(
        &d,
        vm_id,
        "echo kept > /data/f && ls -ln /data/f && cat /media/one-disk.2/www/index.html && echo x > /media/one-disk.2/www/new",
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let owner: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        owner.get(2),
        Some(&"0"),
        "the container's root owns its disk: {out}"
    );
    assert!(out.contains("hello from a container"), "{out}");
    // Power off and on: the data stays; the image disk is the container's own copy.
    d.run(request(vm_id, Operation::Shutdown, &s))
        .await
        .expect("shutdown");
    assert!(!tmp.path().join("rootdir/www/new").exists());
    // A disk attached while off is there at the next boot; one detached is gone.
    let mut attached = s.clone();
    attached.disks.push(volatile(3, "/scratch"));
    attached.change = Some(Change::AttachDisk { disk_id: 3 });
    d.run(request(vm_id, Operation::AttachDisk, &attached))
        .await
        .expect("attach");
    let mut detached = attached.clone();
    detached.change = Some(Change::DetachDisk { disk_id: 2 });
    d.run(request(vm_id, Operation::DetachDisk, &detached))
        .await
        .expect("detach");
    let mut after = detached.clone();
    after.change = None;
    after.disks.retain(|x| x.disk_id != 2);
    d.run(request(vm_id, Operation::Deploy, &after))
        .await
        .expect("deploy");
    let (code, out) = exec(
        &d,
        vm_id,
        "cat /data/f && ls -d /scratch && ls /media/one-disk.2/www 2>&1; true",
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("kept\n/scratch"), "{out}");
    // The detached disk's mount point may stay, empty; its files went with it.
    assert!(!out.contains("index.html"), "{out}");
    // Attaching to a running container is refused with the reason.
    let mut live = after.clone();
    live.disks.push(volatile(4, "/more"));
    live.change = Some(Change::AttachDisk { disk_id: 4 });
    let e = d
        .run(request(vm_id, Operation::AttachDisk, &live))
        .await
        .expect_err("running");
    assert!(e.to_string().contains("powered off"), "{e}");
    d.run(request(vm_id, Operation::Cancel, &after))
        .await
        .expect("cancel");
    d.run(request(vm_id, Operation::Epilog, &after))
        .await
        .expect("epilog");
    assert!(!state.join("vms/90007").exists());
}

/// The spec of VM `vm_id` asking to save its DISK_ID `disk_id` into the file `out`.
fn saving(s: &VmSpec, disk_id: i32, out: &Path) -> VmSpec {
    let mut with = s.clone();
    with.change = Some(Change::DiskSaveas {
        disk_id,
        image_id: 77,
        snap_id: -1,
        url: format!("file://{}", out.display()),
    });
    with
}

/// The PaaS's flow: an app is built on a container's volatile data disk at /app, the
/// container powers off, the disk is saved as an image, and an app instance made from
/// that image sees the build at /app with its owners.
#[tokio::test]
async fn a_data_disk_of_a_powered_off_container_is_saved_as_an_image_others_mount() {
    if !usable() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let image = busybox_image(tmp.path());
    let state = tmp.path().join("state");
    let d = driver(&state);
    d.set_transport(Arc::new(LocalTransport {
        state: state.clone(),
    }));
    let _leftovers = Leftovers {
        state: state.clone(),
        vm_ids: vec![90_008, 90_009],
    };
    let (builder, instance) = (90_008, 90_009);
    let mut s = spec(builder, &image);
    s.disks.push(DiskSpec {
        disk_id: 1,
        kind: DiskKind::Disk,
        source: DiskSource::Volatile {
            size_mb: 16,
            format: "raw".into(),
        },
        target: "/app".into(),
        readonly: false,
        size_mb: None,
    });
    deploy(&d, builder, &s).await;
    let (code, out) = exec(
        &d,
        builder,
        "echo built > /app/slug.txt && busybox mkdir /app/bin && echo '#!/bin/sh' > /app/bin/run \
         && busybox chown -R 1000:1000 /app/slug.txt /app/bin",
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let slug = tmp.path().join("slug.raw");
    // Not while it runs (its disk is a mounted filesystem), never its root.
    let e = d
        .run(request(
            builder,
            Operation::DiskSaveas,
            &saving(&s, 1, &slug),
        ))
        .await
        .expect_err("running");
    assert!(e.to_string().contains("powered off"), "{e}");
    d.run(request(builder, Operation::Shutdown, &s))
        .await
        .expect("poweroff");
    let e = d
        .run(request(
            builder,
            Operation::DiskSaveas,
            &saving(&s, 0, &slug),
        ))
        .await
        .expect_err("root");
    assert!(e.to_string().contains("root filesystem"), "{e}");
    assert!(!slug.exists());
    d.run(request(
        builder,
        Operation::DiskSaveas,
        &saving(&s, 1, &slug),
    ))
    .await
    .expect("saveas");
    assert_eq!(
        std::fs::metadata(&slug).expect("saved").len(),
        16 * 1024 * 1024
    );
    // The builder keeps its disk, and boots again with it.
    d.run(request(builder, Operation::Deploy, &s))
        .await
        .expect("power on");
    let (code, out) = exec(&d, builder, "cat /app/slug.txt").await;
    assert_eq!((code, out.as_str()), (0, "built\n"));
    // An app instance mounts the saved image at /app (as qcow2 where qemu-img is, so
    // that its copy goes back as qcow2).
    let qcow2 = have("qemu-img");
    let (path, format) = if qcow2 {
        let q = tmp.path().join("slug.qcow2");
        sh(&format!(
            "qemu-img convert -q -f raw -O qcow2 {} {}",
            slug.display(),
            q.display()
        ));
        (q, "qcow2")
    } else {
        (slug.clone(), "raw")
    };
    let mut t = spec(instance, &image);
    t.disks.push(DiskSpec {
        disk_id: 1,
        kind: DiskKind::Disk,
        source: DiskSource::Image {
            image_id: 77,
            url: String::new(),
            path: path.display().to_string(),
            sha256: String::new(),
            format: format.into(),
            persistent: false,
        },
        target: "/app".into(),
        readonly: false,
        size_mb: None,
    });
    deploy(&d, instance, &t).await;
    let (code, out) = exec(
        &d,
        instance,
        "cat /app/slug.txt && ls -ln /app/slug.txt /app/bin/run && echo more > /app/more.txt",
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("built"), "{out}");
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            fields.get(2..4),
            Some(&["1000", "1000"][..]),
            "owned inside as when built: {out}"
        );
    }
    // An image's copy is saved the same way: what the instance wrote is in it.
    d.run(request(instance, Operation::Shutdown, &t))
        .await
        .expect("poweroff");
    let again = tmp.path().join("again.raw");
    d.run(request(
        instance,
        Operation::DiskSaveas,
        &saving(&t, 1, &again),
    ))
    .await
    .expect("saveas of an image's copy");
    let mut fs = again.clone();
    if qcow2 {
        let info = sh(&format!("qemu-img info --output=json {}", again.display()));
        assert!(info.contains("\"format\": \"qcow2\""), "{info}");
        fs = tmp.path().join("again-fs.raw");
        sh(&format!(
            "qemu-img convert -q -f qcow2 -O raw {} {}",
            again.display(),
            fs.display()
        ));
    }
    let listed = sh(&format!(
        "debugfs -R 'cat /more.txt' {} 2>/dev/null",
        fs.display()
    ));
    assert_eq!(listed, "more\n");
    assert!(!state.join("vms/90009/saveas.77").exists(), "no copy kept");
    for (vm_id, sp) in [(builder, &s), (instance, &t)] {
        d.run(request(vm_id, Operation::Cancel, sp))
            .await
            .expect("cancel");
        d.run(request(vm_id, Operation::Epilog, sp))
            .await
            .expect("epilog");
    }
}
