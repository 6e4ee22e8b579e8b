"""Bootstrap state of a fresh nubod (spec §2), checked on a dedicated daemon."""

import pyone.acl

from onehelpers import id_list, ids, perms, sha256_hex, tmpl, uniq


def test_users(fresh_nubod):
    one = fresh_nubod.admin()
    pool = one.xml("userpool.info")
    assert ids(pool, "USER") == [0, 1]
    users = {int(u.findtext("ID")): u for u in pool.findall("USER")}
    assert users[0].findtext("NAME") == "oneadmin"
    assert users[1].findtext("NAME") == "serveradmin"
    assert users[0].findtext("GID") == "0" and users[0].findtext("GNAME") == "oneadmin"
    assert users[0].findtext("AUTH_DRIVER") == "core"
    assert users[1].findtext("AUTH_DRIVER") == "server_cipher"
    # core passwords are stored as lowercase sha256 hex and shown as such
    assert users[0].findtext("PASSWORD") == sha256_hex(fresh_nubod.admin_password)
    assert users[0].findtext("ENABLED") == "1"


def test_groups(fresh_nubod):
    one = fresh_nubod.admin()
    pool = one.xml("grouppool.info")
    assert ids(pool, "GROUP") == [0, 1]
    names = {int(g.findtext("ID")): g.findtext("NAME") for g in pool.findall("GROUP")}
    assert names == {0: "oneadmin", 1: "users"}
    g0 = one.xml("group.info", 0)
    assert 0 in id_list(g0.find("USERS"))


def test_cluster_datastores_zone(fresh_nubod):
    one = fresh_nubod.admin()
    clusters = one.xml("clusterpool.info")
    assert ids(clusters, "CLUSTER") == [0]
    assert clusters.find("CLUSTER").findtext("NAME") == "default"
    ds = one.xml("datastorepool.info")
    assert ids(ds, "DATASTORE") == [0, 1, 2]
    by_id = {int(d.findtext("ID")): d for d in ds.findall("DATASTORE")}
    assert by_id[0].findtext("NAME") == "system" and by_id[0].findtext("TYPE") == "1"
    assert by_id[1].findtext("NAME") == "default" and by_id[1].findtext("TYPE") == "0"
    assert by_id[2].findtext("NAME") == "files" and by_id[2].findtext("TYPE") == "2"
    # semantics: oned puts the three bootstrap datastores in cluster 0
    c0 = one.xml("cluster.info", 0)
    assert set(id_list(c0.find("DATASTORES"))) >= {0, 1, 2}
    zones = one.xml("zonepool.info")
    assert ids(zones, "ZONE") == [0]


def test_acl_rules(fresh_nubod):
    one = fresh_nubod.admin()
    pool = one.xml("acl.info")
    rules = {int(r.findtext("ID")): r for r in pool.findall("ACL")}
    assert sorted(rules) == [0, 1, 2, 3, 4]
    expected = {
        0: "@1 VM+IMAGE+TEMPLATE+DOCUMENT+SECGROUP+VMGROUP/* CREATE *",
        1: "* ZONE/* USE *",
        2: "* MARKETPLACE+MARKETPLACEAPP/* USE *",
        # the default VDC: the users group may use zone 0's networks and datastores
        3: "@1 NET/* USE #0",
        4: "@1 DATASTORE/* USE #0",
    }
    acl = pyone.acl.OneAcl()
    for rid, text in expected.items():
        assert rules[rid].findtext("STRING") == text
        user, res, rights, zone = acl.parse_rule(text)
        assert int(rules[rid].findtext("USER"), 16) == int(user, 16)
        assert int(rules[rid].findtext("RESOURCE"), 16) == int(res, 16)
        assert int(rules[rid].findtext("RIGHTS"), 16) == int(rights, 16)
        assert int(rules[rid].findtext("ZONE"), 16) == int(zone, 16)


def test_user_created_ids_start_at_100(fresh_nubod):
    one = fresh_nubod.admin()
    assert one.group.allocate(uniq("g")) == 100
    assert one.cluster.allocate(uniq("c")) == 100
    ds = one.datastore.allocate(f'NAME="{uniq("ds")}"\nTYPE="IMAGE_DS"\nDS_MAD="fs"\nTM_MAD="ssh"', -1)
    assert ds == 100
    assert one.group.allocate(uniq("g")) == 101


def test_default_umask_gives_mode_600(fresh_nubod):
    one = fresh_nubod.admin()
    doc = one.document.allocate(f'NAME="{uniq("d")}"', 100)
    assert perms(one.xml("document.info", doc)) == (1, 1, 0, 0, 0, 0, 0, 0, 0)
    sg = one.secgroup.allocate(f'NAME="{uniq("sg")}"')
    assert perms(one.xml("secgroup.info", sg)) == (1, 1, 0, 0, 0, 0, 0, 0, 0)


def test_new_user_joins_users_group_and_gets_token_password(fresh_nubod):
    one = fresh_nubod.admin()
    uid = one.user.allocate(uniq("u"), "secret", "core")
    info = one.xml("user.info", uid)
    assert info.findtext("GID") == "1" and info.findtext("GNAME") == "users"
    assert id_list(info.find("GROUPS")) == [1]
    assert tmpl(info, "TOKEN_PASSWORD")
    g1 = one.xml("group.info", 1)
    assert uid in id_list(g1.find("USERS"))
