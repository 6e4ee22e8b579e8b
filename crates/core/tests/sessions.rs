//! Whole-core tests of sessions: the session cache follows credential changes at once, and
//! serveradmin acts for other users with `server_cipher` tokens.

use nubo_core::auth::{hash_password, server_login_token};
use nubo_core::{Core, now};

mod support;

async fn core() -> (Core, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (core, _) = support::open(support::config(dir.path())).await;
    (core, dir)
}

#[tokio::test]
async fn a_cached_session_stops_working_when_the_password_changes_or_the_user_is_disabled() {
    let (core, _dir) = core().await;
    let admin = core.authenticate("oneadmin:pw").expect("oneadmin");
    let uid = core
        .user_allocate(&admin, "alice", "secret", "", &[])
        .await
        .expect("alice");
    for _ in 0..3 {
        assert_eq!(core.authenticate("alice:secret").expect("alice").uid, uid);
    }
    core.user_passwd(&admin, uid, "other")
        .await
        .expect("passwd");
    assert!(core.authenticate("alice:secret").is_err());
    assert_eq!(core.authenticate("alice:other").expect("new").uid, uid);
    core.user_enable(&admin, uid, false).await.expect("disable");
    assert!(core.authenticate("alice:other").is_err());
    core.user_enable(&admin, uid, true).await.expect("enable");
    core.user_delete(&admin, uid).await.expect("delete");
    assert!(core.authenticate("alice:other").is_err());
}

#[tokio::test]
async fn serveradmin_acts_for_a_user_with_a_server_cipher_token() {
    let (core, _dir) = core().await;
    let admin = core.authenticate("oneadmin:pw").expect("oneadmin");
    let alice = core
        .user_allocate(&admin, "alice", "secret", "", &[])
        .await
        .expect("alice");
    core.user_passwd(&admin, 1, "srvpass")
        .await
        .expect("serveradmin passwd");
    let stored = hash_password("srvpass");
    let token = server_login_token("serveradmin", &stored, "alice", now() + 60).expect("token");

    let caller = core
        .authenticate(&format!("serveradmin:alice:{token}"))
        .expect("serveradmin as alice");
    assert_eq!((caller.uid, caller.uname.as_str()), (alice, "alice"));
    let caller = core
        .authenticate(&format!("serveradmin:alice:1:{token}"))
        .expect("serveradmin as alice in users");
    assert_eq!((caller.uid, caller.gid), (alice, 1));
    assert!(
        core.authenticate(&format!("serveradmin:alice:0:{token}"))
            .is_err(),
        "alice is not in oneadmin"
    );
    assert!(
        core.authenticate(&format!("serveradmin:oneadmin:{token}"))
            .is_err(),
        "the token names alice"
    );
    assert_eq!(
        core.authenticate("serveradmin:srvpass")
            .expect("itself")
            .uid,
        1
    );

    let expired = server_login_token("serveradmin", &stored, "alice", now() - 1).expect("token");
    assert!(
        core.authenticate(&format!("serveradmin:alice:{expired}"))
            .is_err()
    );
    let forged = server_login_token("serveradmin", &hash_password("guess"), "alice", now() + 60)
        .expect("token");
    assert!(
        core.authenticate(&format!("serveradmin:alice:{forged}"))
            .is_err()
    );
    // A core user cannot use the server form.
    assert!(
        core.authenticate(&format!("alice:oneadmin:{token}"))
            .is_err()
    );
}
