//! Whole-core tests of virtual networks, vnet templates and security groups: a Core over an
//! in-memory store, driven as oneadmin and as a plain user. The addresses are data only.

mod support;

use std::net::Ipv4Addr;

use nubo_core::model::{LeaseOwner, SecGroup, VnTemplate, Vnet};
use nubo_core::{Caller, Core, PoolFilter};
use nubo_types::Error;
use nubo_types::states::VnetState;

const AUTHORIZATION: i32 = 0x200;
const NO_EXISTS: i32 = 0x400;
const ACTION: i32 = 0x800;
const API: i32 = 0x1000;
const INTERNAL: i32 = 0x2000;

struct Ctx {
    core: Core,
    admin: Caller,
    alice: Caller,
    _dir: tempfile::TempDir,
}

async fn setup() -> Ctx {
    let dir = tempfile::tempdir().expect("tempdir");
    let (core, admin) = support::open(support::config(dir.path())).await;
    let alice = support::user(&core, &admin, "alice").await;
    Ctx {
        core,
        admin,
        alice,
        _dir: dir,
    }
}

fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> i32 {
    r.expect_err("the call must fail").code() as i32
}

const NET: &str = r#"NAME="pub"
VN_MAD="bridge"
AR=[TYPE="IP4", IP="10.0.0.1", SIZE="10"]"#;

impl Ctx {
    async fn net(&self, text: &str) -> i32 {
        self.core
            .vnet_allocate(&self.admin, text, -1)
            .await
            .expect("allocate")
    }

    fn vnet(&self, id: i32) -> std::sync::Arc<Vnet> {
        self.core.info::<Vnet>(&self.admin, id).expect("info")
    }
}

#[tokio::test]
async fn allocate_builds_the_network() {
    let ctx = setup().await;
    let id = ctx.net(NET).await;
    let v = ctx.vnet(id);
    assert_eq!(v.meta.name, "pub");
    assert_eq!(v.bridge, format!("onebr{id}"));
    assert_eq!(v.bridge_type, "linux");
    assert_eq!(v.template.get("SECURITY_GROUPS"), Some("0"));
    assert_eq!(v.template.get("NAME"), None);
    assert!(v.clusters.contains(&0));
    assert_eq!(v.ars.len(), 1);
    assert_eq!(v.ars[0].ip, Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(
        nubo_core::model::format_mac(v.ars[0].mac),
        "02:00:0a:00:00:01"
    );
    let cluster = ctx
        .core
        .info::<nubo_core::model::Cluster>(&ctx.admin, 0)
        .expect("cluster");
    assert!(cluster.vnets.contains(&id));
    let sg = ctx
        .core
        .info::<SecGroup>(&ctx.admin, 0)
        .expect("default secgroup");
    assert_eq!(sg.meta.name, "default");
    assert_eq!(sg.template.vectors("RULE").count(), 2);
}

#[tokio::test]
async fn allocate_errors_have_the_right_codes() {
    let ctx = setup().await;
    let alloc = |t: &'static str| ctx.core.vnet_allocate(&ctx.admin, t, -1);
    assert_eq!(code(alloc("VN_MAD=bridge").await), INTERNAL);
    assert_eq!(code(alloc("NAME=a").await), INTERNAL);
    // A bad address range does not refuse the network: as oned (whose IPAM step adds the
    // ranges after the network exists), it is created without that range, in ERROR, with the
    // reason in its template.
    for (n, (ar, reason)) in [
        ("[TYPE=IP5,SIZE=3]", "TYPE"),
        (
            "[TYPE=IP4,IP=10.0.0.1,SIZE=0]",
            "Wrong SIZE for address range",
        ),
        (
            "[TYPE=IP4,IP=10.0.0.1,SIZE=-1]",
            "Wrong SIZE for address range",
        ),
        (
            "[TYPE=IP4,IP=10.0.0.999,SIZE=2]",
            "Wrong or empty IP attribute",
        ),
        ("[TYPE=IP4,IP=10.0.0.3,SIZE=4]", "overlap"),
    ]
    .into_iter()
    .enumerate()
    {
        let text = format!("NAME=bad{n}\nVN_MAD=bridge\nAR=[TYPE=IP4,IP=10.0.0.1,SIZE=4]\nAR={ar}");
        let id = ctx
            .core
            .vnet_allocate(&ctx.admin, &text, -1)
            .await
            .expect("created, in ERROR");
        let v = ctx.vnet(id);
        assert_eq!(v.state, VnetState::Error, "{ar}");
        assert_eq!(
            v.prev_state,
            VnetState::Error,
            "oned stores PREV_STATE = STATE"
        );
        assert_eq!(v.ars.len(), 1, "the good range is added: {ar}");
        let error = v.template.get("ERROR").expect("ERROR");
        assert!(
            error.contains(&format!(" : {reason}")) || error.contains(reason),
            "{error}"
        );
        assert_eq!(v.template.get("AR"), None);
    }
    assert_eq!(
        code(alloc("NAME=a\nVN_MAD=802.1Q\nPHYDEV=eth0").await),
        INTERNAL
    );
    assert_eq!(code(alloc("NAME=a\nVN_MAD=dummy").await), INTERNAL);
    assert_eq!(
        code(ctx.core.vnet_allocate(&ctx.admin, NET, 77).await),
        NO_EXISTS
    );
    // Users may not create networks by default.
    assert_eq!(
        code(ctx.core.vnet_allocate(&ctx.alice, NET, -1).await),
        AUTHORIZATION
    );
    ctx.net(NET).await;
    assert_eq!(code(alloc(NET).await), INTERNAL, "name taken");
}

#[tokio::test]
async fn vlan_drivers_get_automatic_ids() {
    let ctx = setup().await;
    let id = ctx
        .net("NAME=v\nVN_MAD=802.1Q\nPHYDEV=eth0\nAUTOMATIC_VLAN_ID=YES\nSECURITY_GROUPS=\"5, 3\"")
        .await;
    let v = ctx.vnet(id);
    assert_eq!(v.vlan_id.as_deref(), Some("2"));
    assert!(v.vlan_id_automatic);
    assert_eq!(v.bridge, "onebr.2");
    assert_eq!(v.template.get("SECURITY_GROUPS"), Some("0,3,5"));
}

#[tokio::test]
async fn address_ranges_are_added_updated_and_removed() {
    let ctx = setup().await;
    let id = ctx.net(NET).await;
    let (core, admin) = (&ctx.core, &ctx.admin);
    core.vnet_add_ar(admin, id, "AR=[TYPE=ETHER, SIZE=5]")
        .await
        .expect("add ether");
    // A bad range for an existing network is an ACTION error, as oned reports it.
    assert_eq!(
        code(core.vnet_add_ar(admin, id, "AR=[TYPE=IP4, SIZE=5]").await),
        ACTION
    );
    assert_eq!(
        code(
            core.vnet_add_ar(admin, id, "AR=[TYPE=IP4, IP=10.0.0.5, SIZE=2]")
                .await
        ),
        ACTION
    );
    assert_eq!(code(core.vnet_add_ar(admin, id, "FOO=bar").await), API);
    let v = ctx.vnet(id);
    assert_eq!(v.ars.iter().map(|a| a.id).collect::<Vec<_>>(), vec![0, 1]);

    core.vnet_update_ar(admin, id, "AR=[AR_ID=0, SIZE=20, GATEWAY=10.0.0.254]")
        .await
        .expect("update");
    let v = ctx.vnet(id);
    assert_eq!(v.ars[0].size, 20);
    assert_eq!(v.ars[0].attr("GATEWAY"), Some("10.0.0.254"));
    assert_eq!(
        code(core.vnet_update_ar(admin, id, "AR=[SIZE=3]").await),
        API
    );
    assert_eq!(
        code(core.vnet_update_ar(admin, id, "AR=[AR_ID=9, SIZE=3]").await),
        ACTION
    );

    core.vnet_hold(admin, id, "LEASES=[IP=10.0.0.15]")
        .await
        .expect("hold");
    assert_eq!(
        code(
            core.vnet_update_ar(admin, id, "AR=[AR_ID=0, SIZE=10]")
                .await
        ),
        ACTION
    );
    assert_eq!(code(core.vnet_rm_ar(admin, id, 0, false).await), ACTION);
    assert_eq!(code(core.vnet_free_ar(admin, id, 0).await), ACTION);
    core.vnet_rm_ar(admin, id, 1, false)
        .await
        .expect("rm unused AR");
    core.vnet_rm_ar(admin, id, 0, true)
        .await
        .expect("forced rm");
    assert!(ctx.vnet(id).ars.is_empty());
    assert_eq!(code(core.vnet_rm_ar(admin, id, 0, false).await), ACTION);
}

#[tokio::test]
async fn hold_and_release() {
    let ctx = setup().await;
    let id = ctx.net(NET).await;
    let (core, admin) = (&ctx.core, &ctx.admin);
    core.vnet_hold(admin, id, "LEASES=[IP=10.0.0.3]")
        .await
        .expect("hold by ip");
    core.vnet_hold(admin, id, "LEASES=[MAC=02:00:0a:00:00:04, AR_ID=0]")
        .await
        .expect("hold by mac");
    let v = ctx.vnet(id);
    assert_eq!(v.used_leases(), 2);
    assert_eq!(
        v.ars[0].leases.get(&2).map(|l| l.owner),
        Some(LeaseOwner::Hold)
    );
    assert_eq!(
        code(core.vnet_hold(admin, id, "LEASES=[IP=10.0.0.3]").await),
        ACTION
    );
    assert_eq!(
        code(core.vnet_hold(admin, id, "LEASES=[IP=10.9.9.9]").await),
        ACTION
    );
    assert_eq!(
        code(core.vnet_hold(admin, id, "LEASES=[AR_ID=0]").await),
        API
    );
    assert_eq!(
        code(core.vnet_hold(&ctx.alice, id, "LEASES=[IP=10.0.0.5]").await),
        AUTHORIZATION
    );
    assert_eq!(
        code(core.vnet_delete(admin, id).await),
        ACTION,
        "holds are leases in use"
    );
    core.vnet_release(admin, id, "LEASES=[IP=10.0.0.3]")
        .await
        .expect("release");
    // As oned's free_leases: an address not on hold is left alone, and the call succeeds.
    for text in [
        "LEASES=[IP=10.0.0.3]",
        "LEASES=[IP=10.0.0.9]",
        "LEASES=[IP=192.0.2.1]",
        "LEASES=[IP=10.0.0.4, AR_ID=7]",
        "LEASES=[IP=nope]",
    ] {
        core.vnet_release(admin, id, text).await.expect(text);
    }
    assert_eq!(ctx.vnet(id).used_leases(), 1, "the MAC hold stays");
    assert_eq!(
        code(core.vnet_release(admin, id, "LEASES=[AR_ID=0]").await),
        API
    );
    assert_eq!(
        code(
            core.vnet_release(admin, id, "LEASES=[IP=10.0.0.3, MAC=02:00:0a:00:00:04]")
                .await
        ),
        API
    );
    core.vnet_release(admin, id, "MAC=02:00:0a:00:00:04")
        .await
        .expect("top-level MAC");
    assert_eq!(ctx.vnet(id).used_leases(), 0);
    core.vnet_delete(admin, id).await.expect("delete");
    assert_eq!(code(core.info::<Vnet>(admin, id)), NO_EXISTS);
}

#[tokio::test]
async fn reservations_take_and_give_back_leases() {
    let ctx = setup().await;
    let id = ctx.net(NET).await;
    let (core, admin, alice) = (&ctx.core, &ctx.admin, &ctx.alice);
    // alice (users group) may use the network through the default VDC's `@1 NET/* USE`
    // rule, as in oned; sharing it as well changes nothing.
    core.chmod::<Vnet>(admin, id, [-1, -1, -1, -1, -1, -1, 1, -1, -1])
        .await
        .expect("share");
    core.vnet_hold(admin, id, "LEASES=[IP=10.0.0.2]")
        .await
        .expect("hold");
    let child = core
        .vnet_reserve(alice, id, "SIZE=3\nNAME=mine")
        .await
        .expect("reserve");
    let c = core
        .info::<Vnet>(alice, child)
        .expect("alice sees her reservation");
    assert_eq!(c.meta.uid, alice.uid);
    assert_eq!(c.parent_network_id, id);
    assert_eq!(c.ars[0].parent_network_ar_id, Some(0));
    assert_eq!(c.ars[0].size, 3);
    assert_eq!(
        c.ars[0].ip,
        Some(Ipv4Addr::new(10, 0, 0, 3)),
        "first free block after the hold"
    );
    assert!(c.clusters.contains(&0));
    let p = ctx.vnet(id);
    assert_eq!(p.used_leases(), 4);
    assert_eq!(
        p.ars[0].leases.get(&2).map(|l| l.owner),
        Some(LeaseOwner::Vnet(child))
    );

    // Extend the reservation from a given address; errors as OpenNebula words them.
    core.vnet_reserve(
        alice,
        id,
        &format!("SIZE=2\nNETWORK_ID={child}\nAR_ID=0\nIP=10.0.0.9"),
    )
    .await
    .expect("extend");
    assert_eq!(core.info::<Vnet>(alice, child).expect("child").ars.len(), 2);
    assert_eq!(
        code(core.vnet_reserve(alice, id, "SIZE=20\nNAME=big").await),
        ACTION
    );
    assert_eq!(
        code(core.vnet_reserve(alice, id, "SIZE=0\nNAME=x").await),
        ACTION
    );
    assert_eq!(code(core.vnet_reserve(alice, id, "SIZE=1").await), ACTION);
    assert_eq!(
        code(
            core.vnet_reserve(alice, id, "SIZE=1\nNAME=x\nIP=10.0.0.8")
                .await
        ),
        ACTION
    );
    assert_eq!(
        code(core.vnet_reserve(alice, child, "SIZE=1\nNAME=x").await),
        ACTION
    );
    assert_eq!(ctx.vnet(id).used_leases(), 6);

    // The parent cannot go while it has reservations; the child can, returning its leases.
    assert_eq!(code(core.vnet_delete(admin, id).await), ACTION);
    core.vnet_free_ar(alice, child, 1)
        .await
        .expect("free the second range");
    assert_eq!(ctx.vnet(id).used_leases(), 4);
    core.vnet_delete(alice, child)
        .await
        .expect("delete reservation");
    let p = ctx.vnet(id);
    assert_eq!(p.used_leases(), 1, "only the hold is left");
    let user = core
        .info::<nubo_core::model::User>(admin, alice.uid)
        .expect("alice");
    let used = user
        .quotas
        .entry(nubo_core::model::QuotaKind::Network, id)
        .map(|e| e.used("LEASES"));
    assert_eq!(used, Some(0.0), "the leases quota is released");
}

#[tokio::test]
async fn lock_blocks_changes() {
    let ctx = setup().await;
    let id = ctx.net(NET).await;
    let (core, admin) = (&ctx.core, &ctx.admin);
    core.lock::<Vnet>(admin, id, 4, false).await.expect("lock");
    // oned checks locks while it authorizes: an AUTHORIZATION failure.
    assert_eq!(
        code(core.vnet_update(admin, id, "FOO=bar", 1).await),
        AUTHORIZATION
    );
    assert_eq!(
        code(core.vnet_hold(admin, id, "LEASES=[IP=10.0.0.1]").await),
        AUTHORIZATION
    );
    assert!(ctx.vnet(id).meta.lock.is_some(), "info still works");
    core.unlock::<Vnet>(admin, id).await.expect("unlock");
    core.vnet_update(admin, id, "FOO=bar\nBRIDGE=br9", 1)
        .await
        .expect("update");
    let v = ctx.vnet(id);
    assert_eq!(v.bridge, "br9");
    assert_eq!(v.template.get("FOO"), Some("bar"));
    assert_eq!(v.template.get("VN_MAD"), Some("bridge"));
}

#[tokio::test]
async fn recover_checks_the_state() {
    let ctx = setup().await;
    let id = ctx.net(NET).await;
    let (core, admin) = (&ctx.core, &ctx.admin);
    // oned: a wrong state is an INTERNAL error.
    for op in [0, 1, 2, 3] {
        assert_eq!(
            code(core.vnet_recover(admin, id, op).await),
            INTERNAL,
            "op {op} on READY"
        );
    }
    assert_eq!(code(core.vnet_recover(admin, id, 7).await), ACTION);
    assert_eq!(
        code(core.vnet_recover(&ctx.alice, id, 1).await),
        AUTHORIZATION
    );
    let bad = "VN_MAD=bridge\nAR=[TYPE=IP4,IP=10.1.0.1,SIZE=-1]";
    let broken = ctx.net(&format!("NAME=broken\n{bad}")).await;
    assert_eq!(ctx.vnet(broken).state, VnetState::Error);
    assert_eq!(
        code(
            core.vnet_add_ar(admin, broken, "AR=[TYPE=ETHER,SIZE=2]")
                .await
        ),
        ACTION
    );
    for op in [0, 3] {
        assert_eq!(code(core.vnet_recover(admin, broken, op).await), INTERNAL);
    }
    core.vnet_recover(admin, broken, 1).await.expect("success");
    let v = ctx.vnet(broken);
    assert_eq!(
        (v.state, v.prev_state),
        (VnetState::Ready, VnetState::Ready)
    );
    assert_eq!(v.template.get("ERROR"), None);
    assert_eq!(code(core.vnet_recover(admin, broken, 1).await), INTERNAL);
    let gone = ctx.net(&format!("NAME=gone\n{bad}")).await;
    core.vnet_recover(admin, gone, 2).await.expect("delete");
    assert_eq!(code(core.info::<Vnet>(admin, gone)), NO_EXISTS);
}

#[tokio::test]
async fn vntemplates_instantiate_networks() {
    let ctx = setup().await;
    let (core, admin, alice) = (&ctx.core, &ctx.admin, &ctx.alice);
    let tid = core
        .vntemplate_allocate(
            admin,
            "NAME=tpl\nVN_MAD=bridge\nAR=[TYPE=IP4, IP=192.168.1.10, SIZE=5]",
        )
        .await
        .expect("template");
    assert_eq!(
        code(core.vntemplate_allocate(admin, "VN_MAD=bridge").await),
        INTERNAL
    );
    assert_eq!(
        code(core.vntemplate_allocate(alice, "NAME=t2").await),
        AUTHORIZATION
    );
    let t = core.info::<VnTemplate>(admin, tid).expect("info");
    assert_eq!(t.template.get("NAME"), None);
    assert!(t.regtime > 0);

    let vid = core
        .vntemplate_instantiate(admin, tid, "fromtpl", "DESCRIPTION=x")
        .await
        .expect("instantiate");
    let v = ctx.vnet(vid);
    assert_eq!(v.meta.name, "fromtpl");
    assert_eq!(v.template_id, tid);
    assert_eq!(v.template.get("DESCRIPTION"), Some("x"));
    assert_eq!(v.ars.len(), 1);
    assert_eq!(v.ars[0].ip, Some(Ipv4Addr::new(192, 168, 1, 10)));
    let unnamed = core
        .vntemplate_instantiate(admin, tid, "", "")
        .await
        .expect("unnamed");
    assert_eq!(ctx.vnet(unnamed).meta.name, format!("tpl-{unnamed}"));

    let copy = core
        .vntemplate_clone(admin, tid, "tpl2")
        .await
        .expect("clone");
    assert_ne!(copy, tid);
    assert_eq!(
        code(core.vntemplate_clone(admin, tid, "tpl2").await),
        INTERNAL
    );
    assert_eq!(
        code(core.vntemplate_instantiate(alice, tid, "x", "").await),
        AUTHORIZATION
    );
    core.lock::<VnTemplate>(admin, tid, 1, false)
        .await
        .expect("lock");
    assert_eq!(
        code(
            core.update_template::<VnTemplate>(admin, tid, "A=1", 1)
                .await
        ),
        AUTHORIZATION
    );
    core.vntemplate_delete(admin, copy).await.expect("delete");
    let listed = core
        .pool_info::<VnTemplate>(admin, PoolFilter::ALL)
        .expect("pool");
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn security_groups() {
    let ctx = setup().await;
    let (core, admin, alice) = (&ctx.core, &ctx.admin, &ctx.alice);
    let id = core
        .secgroup_allocate(
            alice,
            "NAME=web\nRULE=[PROTOCOL=TCP, RULE_TYPE=inbound, RANGE=\"80,443\"]",
        )
        .await
        .expect("users may create security groups");
    assert!(id >= 100, "user security groups start at 100");
    assert_eq!(
        code(
            core.secgroup_allocate(alice, "NAME=bad\nRULE=[PROTOCOL=XX, RULE_TYPE=inbound]")
                .await
        ),
        INTERNAL
    );
    assert_eq!(
        code(
            core.secgroup_allocate(alice, "RULE=[PROTOCOL=TCP, RULE_TYPE=inbound]")
                .await
        ),
        INTERNAL
    );
    let copy = core.secgroup_clone(alice, id, "web2").await.expect("clone");
    let sg = core.info::<SecGroup>(alice, copy).expect("info");
    assert_eq!(sg.meta.name, "web2");
    assert_eq!(sg.template.vectors("RULE").count(), 1);
    assert_eq!(
        code(
            core.secgroup_update(alice, copy, "RULE=[PROTOCOL=TCP]", 0)
                .await
        ),
        API
    );
    core.secgroup_update(alice, copy, "DESCRIPTION=d", 1)
        .await
        .expect("update");
    assert_eq!(
        core.secgroup_commit(alice, copy, false)
            .await
            .expect("commit"),
        copy
    );
    core.info::<SecGroup>(alice, 0)
        .expect("the default group is readable");
    assert_eq!(code(core.secgroup_delete(admin, 0).await), ACTION);
    assert_eq!(code(core.secgroup_delete(alice, 0).await), AUTHORIZATION);
    core.secgroup_delete(alice, copy).await.expect("delete");
}
