//! Images and documents through a whole core: real files in a temporary datastore
//! directory, quotas, locks, permissions and the document pool's type filter.

use std::path::{Path, PathBuf};
use std::process::Command;

use nubo_core::model::{Document, Image, QuotaKind, User};
use nubo_core::ops::image::ImageSnapshotOp;
use nubo_core::{Caller, Core, PoolFilter};
use nubo_types::states::{ImageState, ImageType};
use nubo_types::{Error, Oid};
use tempfile::TempDir;

mod support;

/// The default IMAGE_DS of a new cloud.
const DEFAULT_DS: Oid = 1;

struct Cloud {
    core: Core,
    admin: Caller,
    dir: TempDir,
}

impl Cloud {
    async fn new() -> Cloud {
        let dir = tempfile::tempdir().expect("tempdir");
        let (core, admin) = support::open(support::config(&dir.path().join("datastores"))).await;
        Cloud { core, admin, dir }
    }

    /// A user in the `users` group, authenticated.
    async fn user(&self, name: &str) -> Caller {
        support::user(&self.core, &self.admin, name).await
    }

    fn image(&self, id: Oid) -> std::sync::Arc<Image> {
        self.core.info::<Image>(&self.admin, id).expect("image")
    }

    /// A file outside the datastores, for PATH imports.
    fn source_file(&self, name: &str) -> PathBuf {
        let dir = self.dir.path().join("uploads");
        std::fs::create_dir_all(&dir).expect("uploads dir");
        dir.join(name)
    }

    fn datastore_users(&self, uid: Oid, field: &str) -> f64 {
        let user = self.core.info::<User>(&self.admin, uid).expect("user");
        user.quotas
            .entry(QuotaKind::Datastore, DEFAULT_DS)
            .map_or(0.0, |e| e.used(field))
    }
}

fn code(e: Error) -> i32 {
    e.code() as i32
}

/// `qemu-img info` of `path`: (format, virtual size in bytes).
fn qemu_info(path: &Path) -> (String, u64) {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(path)
        .output()
        .expect("qemu-img");
    assert!(out.status.success(), "qemu-img info {}", path.display());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    (
        v["format"].as_str().expect("format").to_string(),
        v["virtual-size"].as_u64().expect("size"),
    )
}

fn qemu_create(path: &Path, format: &str, size: &str) {
    let status = Command::new("qemu-img")
        .args(["create", "-q", "-f", format])
        .arg(path)
        .arg(size)
        .status()
        .expect("qemu-img");
    assert!(status.success());
}

#[tokio::test]
async fn an_empty_datablock_is_a_real_disk_of_its_size() {
    let cloud = Cloud::new().await;
    let id = cloud
        .core
        .image_allocate(
            &cloud.admin,
            "NAME=d1\nTYPE=DATABLOCK\nSIZE=10\nDESCRIPTION=x",
            DEFAULT_DS,
            false,
        )
        .await
        .expect("allocate");
    let img = cloud.image(id);
    assert_eq!(
        (img.state, img.image_type, img.size),
        (ImageState::Ready, ImageType::Datablock, 10)
    );
    assert_eq!(img.format, "raw");
    assert_eq!(img.template.get("DESCRIPTION"), Some("x"));
    let source = PathBuf::from(&img.source);
    assert!(source.starts_with(cloud.dir.path().join("datastores").join("1")));
    assert_eq!(qemu_info(&source), ("raw".into(), 10 * 1024 * 1024));
    let ds = cloud
        .core
        .info::<nubo_core::model::Datastore>(&cloud.admin, DEFAULT_DS)
        .expect("ds");
    assert!(ds.images.contains(&id));

    let q = cloud
        .core
        .image_allocate(
            &cloud.admin,
            "NAME=d2\nTYPE=DATABLOCK\nSIZE=5\nFORMAT=qcow2",
            DEFAULT_DS,
            false,
        )
        .await
        .expect("qcow2 datablock");
    assert_eq!(
        qemu_info(Path::new(&cloud.image(q).source)),
        ("qcow2".into(), 5 * 1024 * 1024)
    );
}

#[tokio::test]
async fn a_path_import_copies_the_file_and_reads_its_format() {
    let cloud = Cloud::new().await;
    let file = cloud.source_file("x.qcow2");
    qemu_create(&file, "qcow2", "10M");
    let text = format!("NAME=q\nPATH=\"{}\"\nPERSISTENT=YES", file.display());
    let id = cloud
        .core
        .image_allocate(&cloud.admin, &text, DEFAULT_DS, false)
        .await
        .expect("allocate");
    let img = cloud.image(id);
    assert_eq!((img.format.as_str(), img.size), ("qcow2", 10));
    assert_eq!((img.image_type, img.persistent), (ImageType::Os, true));
    assert_eq!(img.path, file.display().to_string());
    assert_ne!(Path::new(&img.source), file.as_path());
    assert_eq!(qemu_info(Path::new(&img.source)).0, "qcow2");

    let plain = cloud.source_file("notes.txt");
    std::fs::write(&plain, vec![7u8; 1024 * 1024 + 1]).expect("write");
    let text = format!("NAME=raw\nTYPE=CDROM\nPATH={}", plain.display());
    let id = cloud
        .core
        .image_allocate(&cloud.admin, &text, DEFAULT_DS, false)
        .await
        .expect("raw file");
    let img = cloud.image(id);
    assert_eq!((img.format.as_str(), img.size), ("raw", 2));
}

#[tokio::test]
async fn bad_requests_get_opennebula_error_codes() {
    let cloud = Cloud::new().await;
    let alloc = |text: &'static str, ds: Oid| {
        let core = cloud.core.clone();
        let admin = cloud.admin.clone();
        async move { core.image_allocate(&admin, text, ds, false).await }
    };
    let cases = [
        ("TYPE=DATABLOCK\nSIZE=10", DEFAULT_DS, 0x4000),
        ("NAME=a\nTYPE=FLOPPY\nSIZE=10", DEFAULT_DS, 0x4000),
        ("NAME=a\nTYPE=DATABLOCK\nSIZE=0", DEFAULT_DS, 0x4000),
        ("NAME=a\nTYPE=DATABLOCK\nSIZE=big", DEFAULT_DS, 0x4000),
        ("NAME=a\nTYPE=CDROM", DEFAULT_DS, 0x4000),
        ("NAME=a\nPATH=/nonexistent/disk.img", DEFAULT_DS, 0x4000),
        ("NAME=a\nPATH=/etc/hostname", DEFAULT_DS, 0x4000),
        ("NAME=a\nTYPE=DATABLOCK\nSIZE=10", 999, 0x400),
        ("NAME=a\nTYPE=DATABLOCK\nSIZE=10", 0, 0x4000),
        ("NAME=a\nTYPE=DATABLOCK\nSIZE=10", 2, 0x4000),
        (
            "NAME=a\nTYPE=KERNEL\nPATH=/etc/hostname",
            DEFAULT_DS,
            0x4000,
        ),
    ];
    for (text, ds, want) in cases {
        let err = alloc(text, ds).await.expect_err(text);
        assert_eq!(code(err), want, "{text} in datastore {ds}");
    }
    alloc("NAME=a\nTYPE=DATABLOCK\nSIZE=1", DEFAULT_DS)
        .await
        .expect("first");
    let clash = alloc("NAME=a\nTYPE=DATABLOCK\nSIZE=1", DEFAULT_DS)
        .await
        .expect_err("same name");
    assert_eq!(code(clash), 0x4000);
    let files = std::fs::read_dir(cloud.dir.path().join("datastores/1"))
        .expect("ds dir")
        .count();
    assert_eq!(files, 1, "failed allocations leave no files behind");
}

#[tokio::test]
async fn users_need_rights_and_respect_quotas() {
    let cloud = Cloud::new().await;
    let alice = cloud.user("alice").await;
    let bob = cloud.user("bob").await;
    let core = &cloud.core;
    // The default datastore is mode 640 (oneadmin group only): let everyone use it.
    core.chmod::<nubo_core::model::Datastore>(
        &cloud.admin,
        DEFAULT_DS,
        [-1, -1, -1, -1, -1, -1, 1, -1, -1],
    )
    .await
    .expect("chmod datastore");
    core.user_quota(
        &cloud.admin,
        alice.uid,
        "DATASTORE=[ID=1, IMAGES=1, SIZE=100]",
    )
    .await
    .expect("quota");
    let first = core
        .image_allocate(
            &alice,
            "NAME=a1\nTYPE=DATABLOCK\nSIZE=10",
            DEFAULT_DS,
            false,
        )
        .await
        .expect("alice's first image");
    assert_eq!(cloud.datastore_users(alice.uid, "IMAGES"), 1.0);
    assert_eq!(cloud.datastore_users(alice.uid, "SIZE"), 10.0);
    let over = core
        .image_allocate(
            &alice,
            "NAME=a2\nTYPE=DATABLOCK\nSIZE=10",
            DEFAULT_DS,
            false,
        )
        .await
        .expect_err("IMAGES limit");
    assert_eq!(
        code(over),
        0x200,
        "quota overruns are AUTHORIZATION errors, as in oned"
    );
    assert_eq!(
        core.pool_info::<Image>(&alice, PoolFilter::ALL)
            .expect("pool")
            .len(),
        1
    );

    let source = core
        .image_allocate(&alice, "NAME=s\nSOURCE=/x\nSIZE=1", DEFAULT_DS, false)
        .await
        .expect_err("SOURCE is restricted");
    assert_eq!(code(source), 0x200);
    let denied = core
        .image_delete(&bob, first, false)
        .await
        .expect_err("bob");
    assert_eq!(code(denied), 0x200);
    let denied = core
        .image_clone(&bob, first, "mine", -1)
        .await
        .expect_err("bob");
    assert_eq!(code(denied), 0x200);

    let file = PathBuf::from(&cloud.image(first).source);
    assert!(file.exists());
    core.image_delete(&alice, first, false)
        .await
        .expect("delete");
    assert!(!file.exists(), "delete removes the file");
    assert_eq!(cloud.datastore_users(alice.uid, "IMAGES"), 0.0);
    assert_eq!(cloud.datastore_users(alice.uid, "SIZE"), 0.0);
    core.image_allocate(
        &alice,
        "NAME=a2\nTYPE=DATABLOCK\nSIZE=10",
        DEFAULT_DS,
        false,
    )
    .await
    .expect("quota freed");
    let big = core
        .image_allocate(
            &alice,
            "NAME=big\nTYPE=DATABLOCK\nSIZE=1000",
            DEFAULT_DS,
            false,
        )
        .await
        .expect_err("limits are checked before the file is made");
    assert_eq!(code(big), 0x200);
}

#[tokio::test]
async fn persistent_enable_chtype_and_clone() {
    let cloud = Cloud::new().await;
    let core = &cloud.core;
    let admin = &cloud.admin;
    let id = core
        .image_allocate(
            admin,
            "NAME=os\nTYPE=DATABLOCK\nSIZE=4\nDEV_PREFIX=vd",
            DEFAULT_DS,
            false,
        )
        .await
        .expect("allocate");
    core.image_persistent(admin, id, true)
        .await
        .expect("persistent");
    assert!(cloud.image(id).persistent);
    core.image_chtype(admin, id, "OS").await.expect("chtype");
    assert_eq!(cloud.image(id).image_type, ImageType::Os);
    assert_eq!(
        code(
            core.image_chtype(admin, id, "KERNEL")
                .await
                .expect_err("family")
        ),
        0x800
    );
    assert_eq!(
        code(
            core.image_chtype(admin, id, "DISK")
                .await
                .expect_err("unknown")
        ),
        0x1000
    );

    core.image_enable(admin, id, false).await.expect("disable");
    assert_eq!(cloud.image(id).state, ImageState::Disabled);
    let disabled = core
        .image_clone(admin, id, "c0", -1)
        .await
        .expect_err("disabled source");
    assert_eq!(code(disabled), 0x4000);
    core.image_enable(admin, id, true).await.expect("enable");
    assert_eq!(cloud.image(id).state, ImageState::Ready);

    let clone = core.image_clone(admin, id, "c1", -1).await.expect("clone");
    let (src, copy) = (cloud.image(id), cloud.image(clone));
    assert_eq!(
        (copy.cloning_id, copy.state, copy.size),
        (id, ImageState::Ready, 4)
    );
    assert_eq!((copy.image_type, copy.persistent), (ImageType::Os, true));
    assert_eq!(copy.template.get("DEV_PREFIX"), Some("vd"));
    assert_eq!(copy.path, src.source);
    assert_ne!(copy.source, src.source);
    assert_eq!(qemu_info(Path::new(&copy.source)).1, 4 * 1024 * 1024);
    let clash = core
        .image_clone(admin, id, "c1", -1)
        .await
        .expect_err("name taken");
    assert_eq!(code(clash), 0x4000);
    let no_ds = core
        .image_clone(admin, id, "c2", 2)
        .await
        .expect_err("FILE_DS");
    assert_eq!(code(no_ds), 0x800);

    let snap = core
        .image_snapshot(admin, id, 0, ImageSnapshotOp::Delete)
        .expect_err("no snapshots");
    // ImageManager::delete_snapshot's wording.
    assert_eq!(snap.to_string(), "Snapshot does not exist");
    assert_eq!(code(snap), 0x800);
    let restore = core
        .image_restore(admin, id, DEFAULT_DS, "")
        .expect_err("not a backup");
    assert_eq!(code(restore), 0x800);
}

#[tokio::test]
async fn locks_block_deletion() {
    let cloud = Cloud::new().await;
    let core = &cloud.core;
    let admin = &cloud.admin;
    let id = core
        .image_allocate(admin, "NAME=l\nTYPE=DATABLOCK\nSIZE=1", DEFAULT_DS, false)
        .await
        .expect("allocate");
    core.lock::<Image>(admin, id, 1, false).await.expect("lock");
    let locked = core
        .image_delete(admin, id, false)
        .await
        .expect_err("locked");
    // oned 7.4 refuses what a lock blocks while it authorizes: AUTHORIZATION.
    assert_eq!(code(locked), 0x200);
    let locked = core
        .image_persistent(admin, id, true)
        .await
        .expect_err("locked");
    // oned 7.4 refuses what a lock blocks while it authorizes: AUTHORIZATION.
    assert_eq!(code(locked), 0x200);
    core.unlock::<Image>(admin, id).await.expect("unlock");
    // An ADMIN-level lock lets MANAGE through, but deleting then needs `force`.
    core.lock::<Image>(admin, id, 3, false)
        .await
        .expect("admin lock");
    let forced = core
        .image_delete(admin, id, false)
        .await
        .expect_err("needs force");
    assert_eq!(code(forced), 0x2000);
    core.image_delete(admin, id, true)
        .await
        .expect("forced delete");
    assert!(core.info::<Image>(admin, id).is_err());
}

#[tokio::test]
async fn dummy_datastores_touch_no_disk() {
    let cloud = Cloud::new().await;
    let core = &cloud.core;
    let admin = &cloud.admin;
    let ds = core
        .datastore_allocate(admin, "NAME=dummy\nDS_MAD=dummy\nTM_MAD=dummy", -1)
        .await
        .expect("dummy datastore");
    let id = core
        .image_allocate(admin, "NAME=x\nPATH=/does/not/exist", ds, false)
        .await
        .expect("dummy image");
    let img = cloud.image(id);
    assert_eq!(
        (img.source.as_str(), img.format.as_str(), img.size),
        ("dummy_path", "raw", 1024)
    );
    let clone = core.image_clone(admin, id, "x2", -1).await.expect("clone");
    assert_eq!(cloud.image(clone).source, "dummy_path");
    core.image_delete(admin, id, false).await.expect("delete");
    assert!(
        !cloud
            .dir
            .path()
            .join("datastores")
            .join(ds.to_string())
            .exists()
    );
}

#[tokio::test]
async fn documents_are_filtered_by_type() {
    let cloud = Cloud::new().await;
    let core = &cloud.core;
    let admin = &cloud.admin;
    let a = core
        .document_allocate(admin, "NAME=svc\nBODY=x", 100)
        .await
        .expect("doc");
    let b = core
        .document_allocate(admin, "BODY=y", 101)
        .await
        .expect("unnamed");
    let c = core.document_clone(admin, a, "svc2").await.expect("clone");
    let unnamed = core.info::<Document>(admin, b).expect("b");
    assert_eq!(unnamed.meta.name, format!("document-{b}"));
    let copy = core.info::<Document>(admin, c).expect("c");
    assert_eq!((copy.doc_type, copy.template.get("BODY")), (100, Some("x")));
    let ids = |t| {
        core.document_pool(admin, PoolFilter::ALL, t)
            .expect("pool")
            .iter()
            .map(|d| d.meta.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(100), vec![a, c]);
    assert_eq!(ids(101), vec![b]);
    assert_eq!(ids(-1), vec![a, b, c]);
    let page = PoolFilter {
        filter: -2,
        start: 1,
        end: -1 - 1,
    };
    let paged = core.document_pool(admin, page, 100).expect("page");
    assert_eq!(paged.iter().map(|d| d.meta.id).collect::<Vec<_>>(), vec![c]);

    let alice = cloud.user("alice").await;
    let denied = core
        .document_clone(&alice, a, "mine")
        .await
        .expect_err("not hers");
    assert_eq!(code(denied), 0x200);
    core.document_delete(admin, a).await.expect("delete");
    assert_eq!(ids(100), vec![c]);
}

#[tokio::test]
async fn restricted_directories_and_datastore_files_cannot_be_imported() {
    let cloud = Cloud::new().await;
    let core = &cloud.core;
    let admin = &cloud.admin;
    let secret_dir = cloud.dir.path().join("secret");
    std::fs::create_dir_all(&secret_dir).expect("dir");
    let secret = secret_dir.join("key");
    std::fs::write(&secret, b"private").expect("write");
    let text = format!(
        "NAME=r\nDS_MAD=fs\nTM_MAD=qcow2\nRESTRICTED_DIRS=\"{}\"",
        secret_dir.display()
    );
    let ds = core.datastore_allocate(admin, &text, -1).await.expect("ds");
    let steal = format!("NAME=s\nTYPE=CDROM\nPATH={}", secret.display());
    let err = core
        .image_allocate(admin, &steal, ds, false)
        .await
        .expect_err("restricted");
    assert_eq!(code(err), 0x4000);
    core.image_allocate(admin, &steal, DEFAULT_DS, false)
        .await
        .expect("other datastores do not restrict that directory");

    let id = core
        .image_allocate(admin, "NAME=d\nTYPE=DATABLOCK\nSIZE=1", DEFAULT_DS, false)
        .await
        .expect("datablock");
    let copy = format!("NAME=c\nPATH={}", cloud.image(id).source);
    let err = core
        .image_allocate(admin, &copy, DEFAULT_DS, false)
        .await
        .expect_err("datastore files are off limits");
    assert_eq!(code(err), 0x4000);
}

#[tokio::test]
async fn chown_moves_the_datastore_quota_to_the_new_owner() {
    let cloud = Cloud::new().await;
    let alice = cloud.user("alice").await;
    let bob = cloud.user("bob").await;
    let core = &cloud.core;
    let id = core
        .image_allocate(
            &cloud.admin,
            "NAME=d\nTYPE=DATABLOCK\nSIZE=20",
            DEFAULT_DS,
            false,
        )
        .await
        .expect("image");
    core.chown::<Image>(&cloud.admin, id, alice.uid, -1)
        .await
        .expect("to alice");
    assert_eq!(cloud.datastore_users(alice.uid, "SIZE"), 20.0);
    assert_eq!(cloud.datastore_users(alice.uid, "IMAGES"), 1.0);
    // Only the group changes: alice's usage stays counted once.
    core.chown::<Image>(&cloud.admin, id, -1, 0)
        .await
        .expect("chgrp");
    assert_eq!(cloud.datastore_users(alice.uid, "IMAGES"), 1.0);
    // Bob cannot take more than his quota.
    core.user_quota(&cloud.admin, bob.uid, "DATASTORE=[ID=1, SIZE=10]")
        .await
        .expect("quota");
    let over = core
        .chown::<Image>(&cloud.admin, id, bob.uid, -1)
        .await
        .expect_err("over bob's quota");
    assert_eq!(code(over), 0x200);
    assert_eq!(
        cloud.datastore_users(alice.uid, "SIZE"),
        20.0,
        "nothing moved"
    );
    core.user_quota(&cloud.admin, bob.uid, "DATASTORE=[ID=1, SIZE=-2]")
        .await
        .expect("unlimited");
    core.chown::<Image>(&cloud.admin, id, bob.uid, 1)
        .await
        .expect("to bob");
    assert_eq!(cloud.datastore_users(alice.uid, "SIZE"), 0.0);
    assert_eq!(cloud.datastore_users(alice.uid, "IMAGES"), 0.0);
    assert_eq!(cloud.datastore_users(bob.uid, "SIZE"), 20.0);
}
