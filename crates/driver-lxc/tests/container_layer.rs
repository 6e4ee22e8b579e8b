//! Real containers whose root disk carries SIZE: their writable layer lives in an ext4
//! image of that many MB, so a container that writes past it gets ENOSPC and the host
//! keeps its space; the layer lasts across poweroff, reboot, a restarted agent and a
//! cold migration, and goes on terminate. Needs what containers.rs needs (root, runc,
//! mke2fs, a static busybox); skips without them unless NUBO_REQUIRE_GUESTS=1.

#[allow(dead_code)]
mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

use common::*;
use nubo_driver::{GuestState, Operation, VmSpec};
use nubo_driver_lxc::LxcDriver;
use nubo_driver_lxc::layout::ContainerDir;

fn bounded(vm_id: i32, image: &Path, size_mb: u64) -> VmSpec {
    let mut s = spec(vm_id, image);
    s.disks[0].size_mb = Some(size_mb);
    s
}

fn allocated_mb(file: &Path) -> u64 {
    std::fs::metadata(file).expect("layer image").blocks() * 512 / (1024 * 1024)
}

fn is_mounted(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let p = format!(" {} ", path.display());
    mounts.lines().any(|l| l.contains(&p))
}

async fn root_disk_mb(d: &LxcDriver, vm_id: i32) -> Option<u64> {
    d.report()
        .await
        .vms
        .iter()
        .find(|v| v.vm_id == vm_id)
        .and_then(|v| {
            v.disk_sizes
                .iter()
                .find(|(id, _)| *id == 0)
                .map(|(_, mb)| *mb)
        })
}

#[tokio::test]
async fn a_container_cannot_write_past_its_root_size_and_keeps_its_layer_until_terminate() {
    if !usable() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let image = busybox_image(tmp.path());
    let state = tmp.path().join("state");
    let d = driver(&state);
    let (vm_id, plain_id) = (90_021, 90_022);
    let _leftovers = Leftovers {
        state: state.clone(),
        vm_ids: vec![vm_id, plain_id],
    };

    // The cost: a deploy with a bounded layer against one without.
    let plain = spec(plain_id, &image);
    let started = Instant::now();
    deploy(&d, plain_id, &plain).await;
    let plain_took = started.elapsed();
    let s = bounded(vm_id, &image, 64);
    let started = Instant::now();
    deploy(&d, vm_id, &s).await;
    let bounded_took = started.elapsed();
    println!("deploy without SIZE {plain_took:?}, with SIZE=64 {bounded_took:?}");
    assert_eq!(state_of(&d, vm_id).await, Some(GuestState::Running));
    let dir = ContainerDir::new(&state, vm_id);
    assert!(is_mounted(&dir.layer_mount()));
    assert!(!ContainerDir::new(&state, plain_id).layer_dir().exists());

    // 200 MB into /tmp: the container runs out of space at 64 MB, the host does not.
    let (code, out) = exec(
        &d,
        vm_id,
        "echo kept > /root/note; dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>&1",
    )
    .await;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("No space left on device"), "{out}");
    let layer_mb = allocated_mb(&dir.layer_image());
    assert!(layer_mb <= 64, "the layer takes {layer_mb} MB of the host");
    assert!(layer_mb >= 40, "the layer takes {layer_mb} MB of the host");
    let reported = root_disk_mb(&d, vm_id).await;
    assert_eq!(reported, Some(layer_mb));
    // The other container writes as before.
    let (code, out) = exec(&d, plain_id, "dd if=/dev/zero of=/tmp/f bs=1M count=8 2>&1").await;
    assert_eq!(code, 0, "{out}");
    let (code, _) = exec(&d, vm_id, "rm /tmp/fill").await;
    assert_eq!(code, 0);

    // Reboot, poweroff and resume (deploy again): the layer stays.
    d.run(request(vm_id, Operation::Reboot, &s))
        .await
        .expect("reboot");
    let (_, out) = exec(&d, vm_id, "cat /root/note").await;
    assert_eq!(out.trim(), "kept");
    d.run(request(vm_id, Operation::Shutdown, &s))
        .await
        .expect("poweroff");
    assert!(!is_mounted(&dir.layer_mount()));
    assert!(dir.layer_image().exists());
    assert!(allocated_mb(&dir.layer_image()) > 0);
    deploy(&d, vm_id, &s).await;
    let (_, out) = exec(&d, vm_id, "cat /root/note").await;
    assert_eq!(out.trim(), "kept");

    // A restarted agent finds the running container on its mounted layer.
    let again = driver_at(&state);
    assert_eq!(state_of(&again, vm_id).await, Some(GuestState::Running));
    let (_, out) = exec(&again, vm_id, "cat /root/note").await;
    assert_eq!(out.trim(), "kept");

    // Terminate: nothing left, the image included.
    for (id, sp) in [(vm_id, &s), (plain_id, &plain)] {
        again
            .run(request(id, Operation::Cancel, sp))
            .await
            .expect("cancel");
        again
            .run(request(id, Operation::Epilog, sp))
            .await
            .expect("epilog");
    }
    assert!(!dir.root().exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(&state.display().to_string()), "{mounts}");
}

#[tokio::test]
async fn a_bounded_layer_moves_to_another_host_in_an_image_of_its_size() {
    if !usable() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let image = busybox_image(tmp.path());
    let vm_id = 90_023;
    let TwoHosts {
        a,
        b,
        state_a,
        state_b,
        _leftovers,
    } = two_hosts(tmp.path(), vm_id);
    let s = bounded(vm_id, &image, 32);
    deploy(&a, vm_id, &s).await;
    let (code, _) = exec(&a, vm_id, "mkdir -p /srv && echo mine > /srv/note").await;
    assert_eq!(code, 0);
    a.run(request(vm_id, Operation::Save, &s))
        .await
        .expect("save");
    let offer = a
        .run(request(vm_id, Operation::PrologMigrateOut, &s))
        .await
        .expect("offer");
    // The packed layer travels, not the sparse image.
    assert!(offer.contains("layer.tar"), "{offer}");
    assert!(!offer.contains("layer.img"), "{offer}");
    let mut take = request(vm_id, Operation::PrologMigrate, &s);
    take.migrate_uri = Some(offer);
    b.run(take).await.expect("prolog migrate");
    let arrived = ContainerDir::new(&state_b, vm_id);
    let size = std::fs::metadata(arrived.layer_image())
        .expect("layer image")
        .len();
    assert_eq!(size, 32 << 20);
    b.run(request(vm_id, Operation::Restore, &s))
        .await
        .expect("restore");
    let (code, out) = exec(&b, vm_id, "cat /srv/note; ls -ln /srv/note").await;
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("mine\n"), "{out}");
    let owner: Vec<&str> = out
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(owner.get(2), Some(&"0"), "{out}");
    let (code, out) = exec(
        &b,
        vm_id,
        "dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1",
    )
    .await;
    assert_ne!(code, 0, "{out}");
    let mut drop_copy = request(vm_id, Operation::Cleanup, &s);
    drop_copy.spec = None;
    a.run(drop_copy).await.expect("cleanup");
    assert!(!state_a.join(format!("vms/{vm_id}")).exists());
    b.run(request(vm_id, Operation::Cancel, &s))
        .await
        .expect("cancel");
    b.run(request(vm_id, Operation::Epilog, &s))
        .await
        .expect("epilog");
    assert!(!arrived.root().exists());
}
