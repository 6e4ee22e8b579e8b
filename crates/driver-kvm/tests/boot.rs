//! Boots the test guest (scripts/build-test-guest.sh) under the real QEMU driver and takes
//! it through deploy, save/restore, reset, ACPI shutdown and cleanup. Skipped, with a note,
//! when QEMU or the guest is missing, unless NUBO_REQUIRE_GUESTS=1 (CI sets it).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nubo_driver::{ContextSpec, GuestState, NicSpec, Operation, OsSpec, Request, VmSpec};
use nubo_driver_kvm::accel::AccelChoice;
use nubo_driver_kvm::disks::SharedFiles;
use nubo_driver_kvm::{KvmConfig, KvmDriver};

fn guest_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("NUBO_TEST_GUEST")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-guest")
        });
    let have_qemu = std::process::Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if have_qemu && dir.join("vmlinuz").exists() && dir.join("initramfs.gz").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var("NUBO_REQUIRE_GUESTS").as_deref() != Ok("1"),
        "QEMU or the test guest is missing (scripts/build-test-guest.sh)"
    );
    eprintln!("skipped: QEMU or the test guest is missing (scripts/build-test-guest.sh)");
    None
}

fn spec(guest: &std::path::Path) -> VmSpec {
    let mut files = BTreeMap::new();
    files.insert(
        "context.sh".to_string(),
        "ETH0_MAC='02:00:0a:00:00:07'\nETH0_IP='10.0.2.15'\nETH0_MASK='255.255.255.0'\nHOSTNAME='kvm-test'\n".to_string(),
    );
    VmSpec {
        name: "one-7".into(),
        vcpu: 1,
        memory_mb: 128,
        os: OsSpec {
            kernel: Some(guest.join("vmlinuz").display().to_string()),
            initrd: Some(guest.join("initramfs.gz").display().to_string()),
            kernel_cmd: Some("console=ttyS0 quiet no_timer_check panic=-1".into()),
            ..OsSpec::default()
        },
        nics: vec![NicSpec {
            nic_id: 0,
            mac: "02:00:0a:00:00:07".into(),
            target: "one-7-0".into(),
            ..NicSpec::default()
        }],
        context: Some(ContextSpec {
            label: "CONTEXT".into(),
            files,
            target: "hda".into(),
        }),
        ..VmSpec::default()
    }
}

fn request(op: Operation, spec: &VmSpec) -> Request {
    Request {
        vm_id: 7,
        operation: op,
        deploy_id: "one-7".into(),
        host: "localhost".into(),
        target_host: None,
        vcpu: 1,
        memory_mb: 128,
        spec: Some(Box::new(spec.clone())),
        migrate_uri: None,
        seq: 0,
    }
}

async fn wait_for_line(log: &std::path::Path, needle: &str, skip: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.len() > skip && text[skip..].contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "no {needle} in {log:?}:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_boots_is_saved_restored_shut_down_and_cleaned_up() {
    let Some(guest) = guest_dir() else { return };
    let state = tempfile::tempdir().expect("tempdir");
    let mut config = KvmConfig::new(state.path().to_path_buf());
    config.accel = AccelChoice::Auto;
    config.shutdown_timeout = Duration::from_secs(30);
    let driver = KvmDriver::new(config, Arc::new(SharedFiles));
    let spec = spec(&guest);
    let dir = driver.vm_dir(7);

    let id = driver
        .run(request(Operation::Deploy, &spec))
        .await
        .expect("deploy");
    assert_eq!(id, "one-7");
    let text = wait_for_line(&dir.serial_log(), "GUEST-READY", 0).await;
    assert!(
        text.contains("GUEST-NET eth0 10.0.2.15/24 mac=02:00:0a:00:00:07"),
        "{text}"
    );
    // A second deploy of a running VM changes nothing.
    assert_eq!(
        driver
            .run(request(Operation::Deploy, &spec))
            .await
            .expect("again"),
        "one-7"
    );

    let report = driver.report().await;
    let vm = report.vms.iter().find(|v| v.vm_id == 7).expect("reported");
    assert_eq!(vm.state, GuestState::Running);
    assert!(vm.memory_kb > 10_000, "{vm:?}");
    assert!(report.attributes.contains_key("ACCELERATION"));

    driver
        .run(request(Operation::Save, &spec))
        .await
        .expect("save");
    assert!(dir.saved().exists());
    assert!(nubo_driver_kvm::guest::running(&dir).is_none());
    // Saved on purpose: no QEMU, not powered off by the guest, so not reported.
    assert!(driver.report().await.vms.is_empty());

    driver
        .run(request(Operation::Restore, &spec))
        .await
        .expect("restore");
    assert!(!dir.saved().exists());
    assert_eq!(
        nubo_driver_kvm::guest::status(&dir).await.expect("status"),
        "running"
    );

    let before = std::fs::read_to_string(dir.serial_log())
        .expect("log")
        .len();
    driver
        .run(request(Operation::Reset, &spec))
        .await
        .expect("reset");
    wait_for_line(&dir.serial_log(), "GUEST-READY", before).await;

    driver
        .run(request(Operation::Shutdown, &spec))
        .await
        .expect("shutdown");
    let text = std::fs::read_to_string(dir.serial_log()).expect("log");
    assert!(text.contains("GUEST-ACPI-POWERDOWN"), "{text}");
    assert!(nubo_driver_kvm::guest::running(&dir).is_none());

    driver
        .run(request(Operation::Epilog, &spec))
        .await
        .expect("epilog");
    assert!(!dir.root.exists());
    assert!(driver.report().await.vms.is_empty());
}

#[tokio::test]
async fn a_kernel_that_does_not_exist_fails_with_qemus_message() {
    let Some(guest) = guest_dir() else { return };
    let state = tempfile::tempdir().expect("tempdir");
    let mut config = KvmConfig::new(state.path().to_path_buf());
    config.accel = AccelChoice::Tcg;
    let driver = KvmDriver::new(config, Arc::new(SharedFiles));
    let mut spec = spec(&guest);
    spec.os.kernel = Some("/nonexistent/vmlinuz".into());
    let err = driver
        .run(request(Operation::Deploy, &spec))
        .await
        .expect_err("no kernel");
    assert!(err.to_string().contains("/nonexistent/vmlinuz"), "{err}");
    assert!(nubo_driver_kvm::guest::running(&driver.vm_dir(7)).is_none());
}
