//! Whole-core tests of issue 12 J: one reservation takes at most `MAX_RESERVATION_SIZE`
//! addresses; a reserved block is one run of the parent's leases however large, so the
//! parent's memory and stored body grow with its holders, not its addresses, and a
//! 16M-address range costs nothing until used; reservations count against the owner's
//! NETWORK `LEASES` quota; bodies stored with one entry per lease still load; and users get
//! only known auth drivers.

use nubo_core::model::{LeaseOwner, QuotaKind, User, Vnet};
use nubo_core::ops::user::AUTH_DRIVERS;
use nubo_core::ops::vnet_reservation::MAX_RESERVATION_SIZE;
use nubo_core::{Caller, Core};
use nubo_store::{Change, Store};

mod support;
use nubo_types::{Error, ObjectKind};

const ACTION: i32 = 0x800;
/// oned answers a user its pool refuses INTERNAL (UserAllocateAPI::pool_allocate).
const INTERNAL: i32 = 0x2000;

/// 2^24 addresses.
const HUGE: &str = r#"NAME="huge"
VN_MAD="bridge"
AR=[TYPE="ETHER", MAC="02:00:00:00:00:00", SIZE="16777216"]"#;

struct Ctx {
    core: Core,
    admin: Caller,
    bob: Caller,
    url: String,
    _dir: tempfile::TempDir,
}

async fn open(url: &str, dir: &tempfile::TempDir) -> (Core, Caller) {
    support::open_at(url, support::config(dir.path())).await
}

async fn setup() -> Ctx {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("nubo.db").display());
    let (core, admin) = open(&url, &dir).await;
    let bob = support::user(&core, &admin, "bob").await;
    Ctx {
        core,
        admin,
        bob,
        url,
        _dir: dir,
    }
}

fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> i32 {
    r.expect_err("the call must fail").code() as i32
}

impl Ctx {
    /// A network everyone may use.
    async fn shared_net(&self, text: &str) -> i32 {
        let id = self
            .core
            .vnet_allocate(&self.admin, text, -1)
            .await
            .expect("allocate");
        self.core
            .chmod::<Vnet>(&self.admin, id, [-1, -1, -1, -1, -1, -1, 1, -1, -1])
            .await
            .expect("share");
        id
    }

    fn vnet(&self, id: i32) -> std::sync::Arc<Vnet> {
        self.core.info::<Vnet>(&self.admin, id).expect("info")
    }

    /// The stored JSON body of network `id`.
    async fn stored(&self, id: i32) -> String {
        let store = Store::open(&self.url).await.expect("store");
        let rows = store.load_all().await.expect("load").rows;
        rows.into_iter()
            .find(|r| r.kind == ObjectKind::Vnet && r.oid == id)
            .map(|r| r.body)
            .expect("stored network")
    }

    fn leases_used(&self, uid: i32, net: i32) -> Option<f64> {
        let user = self.core.info::<User>(&self.admin, uid).expect("user");
        user.quotas
            .entry(QuotaKind::Network, net)
            .map(|e| e.used("LEASES"))
    }
}

#[tokio::test]
async fn a_reservation_is_bounded_and_held_as_one_run() {
    let ctx = setup().await;
    let (core, bob) = (&ctx.core, &ctx.bob);
    let id = ctx.shared_net(HUGE).await;
    assert!(
        ctx.stored(id).await.len() < 2_000,
        "a 16M-address range costs nothing until used"
    );

    for size in [MAX_RESERVATION_SIZE + 1, 16_777_216, 15_999_999] {
        let err = core
            .vnet_reserve(bob, id, &format!("SIZE={size}\nNAME=r{size}"))
            .await
            .expect_err("larger than a reservation may be");
        assert_eq!(err.code() as i32, ACTION, "{err}");
        assert!(err.to_string().contains("65536"), "{err}");
    }
    assert_eq!(ctx.vnet(id).used_leases(), 0, "nothing was taken");
    assert_eq!(ctx.leases_used(bob.uid, id).unwrap_or(0.0), 0.0);

    let first = core
        .vnet_reserve(bob, id, "SIZE=65536\nNAME=first")
        .await
        .expect("a reservation of the cap");
    let second = core
        .vnet_reserve(bob, id, "SIZE=65536\nNAME=second")
        .await
        .expect("another");
    let parent = ctx.vnet(id);
    let ar = &parent.ars[0];
    assert_eq!(ar.used_leases(), 131_072);
    assert_eq!(ar.leases.run_count(), 2, "one run per reservation");
    assert_eq!(
        ar.leases.get(&0).map(|l| l.owner),
        Some(LeaseOwner::Vnet(first))
    );
    assert_eq!(
        ar.leases.get(&131_071).map(|l| l.owner),
        Some(LeaseOwner::Vnet(second))
    );
    let body = ctx.stored(id).await;
    assert!(body.len() < 2_000, "stored parent: {} bytes", body.len());
    let child = ctx.vnet(second);
    assert_eq!((child.ars[0].size, child.ars[0].used_leases()), (65_536, 0));
    assert_eq!(ctx.leases_used(bob.uid, id), Some(131_072.0));

    // Giving a block back frees exactly it, and the quota with it.
    core.vnet_delete(bob, first).await.expect("delete first");
    let parent = ctx.vnet(id);
    assert_eq!(parent.ars[0].used_leases(), 65_536);
    assert!(!parent.ars[0].leases.contains_key(&0));
    assert_eq!(ctx.leases_used(bob.uid, id), Some(65_536.0));
}

#[tokio::test]
async fn reservations_count_against_the_network_leases_quota() {
    let ctx = setup().await;
    let (core, admin, bob) = (&ctx.core, &ctx.admin, &ctx.bob);
    let id = ctx.shared_net(HUGE).await;
    core.user_quota(admin, bob.uid, &format!("NETWORK=[ID={id}, LEASES=100]"))
        .await
        .expect("quota");
    let over = core.vnet_reserve(bob, id, "SIZE=101\nNAME=big").await;
    assert!(matches!(over, Err(Error::Quota { .. })), "{over:?}");
    let child = core
        .vnet_reserve(bob, id, "SIZE=100\nNAME=fits")
        .await
        .expect("within the quota");
    let again = core.vnet_reserve(bob, id, "SIZE=1\nNAME=one-more").await;
    assert!(matches!(again, Err(Error::Quota { .. })), "{again:?}");
    assert_eq!(ctx.leases_used(bob.uid, id), Some(100.0));
    assert_eq!(ctx.vnet(id).used_leases(), 100);
    core.vnet_delete(bob, child).await.expect("delete");
    assert_eq!(ctx.leases_used(bob.uid, id), Some(0.0));
}

#[tokio::test]
async fn bodies_with_one_entry_per_lease_still_load() {
    let ctx = setup().await;
    let (core, admin, bob) = (&ctx.core, &ctx.admin, &ctx.bob);
    let id = ctx
        .shared_net(
            r#"NAME="old"
VN_MAD="bridge"
AR=[TYPE="IP4", IP="10.1.0.0", SIZE="4096"]"#,
        )
        .await;
    let child = core
        .vnet_reserve(bob, id, "SIZE=1000\nNAME=res")
        .await
        .expect("reserve");
    core.vnet_hold(admin, id, "LEASES=[IP=10.1.4.0]")
        .await
        .expect("hold 1024");

    // Rewrite the parent as older nubods stored it: one entry per lease.
    let mut body: serde_json::Value = serde_json::from_str(&ctx.stored(id).await).expect("json");
    let mut old = serde_json::Map::new();
    for i in 0..1000 {
        old.insert(i.to_string(), serde_json::json!({"owner": {"Vnet": child}}));
    }
    old.insert("1024".into(), serde_json::json!({"owner": "Hold"}));
    body["ars"][0]["leases"] = serde_json::Value::Object(old);
    let store = Store::open(&ctx.url).await.expect("store");
    let row = store
        .load_all()
        .await
        .expect("load")
        .rows
        .into_iter()
        .find(|r| r.kind == ObjectKind::Vnet && r.oid == id)
        .expect("row");
    let body = serde_json::to_string(&body).expect("json");
    store
        .commit(&[Change::Put(nubo_store::Row { body, ..row })])
        .await
        .expect("write the old body");

    let (core, admin) = open(&ctx.url, &ctx._dir).await;
    let bob = core.authenticate("bob:secret").expect("bob");
    let parent = core.info::<Vnet>(&admin, id).expect("loads");
    let ar = &parent.ars[0];
    assert_eq!(ar.used_leases(), 1001);
    assert_eq!(ar.leases.run_count(), 2, "joined into runs as it is read");
    assert_eq!(
        ar.leases.get(&999).map(|l| l.owner),
        Some(LeaseOwner::Vnet(child))
    );
    assert_eq!(
        ar.leases.get(&1024).map(|l| l.owner),
        Some(LeaseOwner::Hold)
    );
    core.vnet_delete(&bob, child)
        .await
        .expect("delete the reservation");
    let parent = core.info::<Vnet>(&admin, id).expect("info");
    assert_eq!(parent.used_leases(), 1, "only the hold is left");
}

#[tokio::test]
async fn users_get_only_known_auth_drivers() {
    let ctx = setup().await;
    let (core, admin, bob) = (&ctx.core, &ctx.admin, &ctx.bob);
    for driver in ["evil", "../../../tmp/evil", "CORE", "core ", "dummy"] {
        assert_eq!(
            code(core.user_chauth(admin, bob.uid, driver, "").await),
            ACTION,
            "chauth {driver:?}"
        );
        assert_eq!(
            code(core.user_allocate(admin, "eve", "pw", driver, &[]).await),
            INTERNAL,
            "allocate with {driver:?}"
        );
    }
    let user = core.info::<User>(admin, bob.uid).expect("bob");
    assert_eq!(user.auth_driver, "core", "unchanged");
    for driver in AUTH_DRIVERS {
        core.user_chauth(admin, bob.uid, driver, "")
            .await
            .expect("a known driver");
        let user = core.info::<User>(admin, bob.uid).expect("bob");
        assert_eq!(user.auth_driver, driver);
    }
    core.user_chauth(admin, bob.uid, "core", "new-secret")
        .await
        .expect("back to core");
    core.authenticate("bob:new-secret").expect("bob again");
    core.user_allocate(admin, "eve", "pw", "ldap", &[])
        .await
        .expect("a known driver");
}
