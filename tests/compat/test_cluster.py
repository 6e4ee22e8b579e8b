"""one.cluster.*, one.clusterpool.info"""

from onehelpers import (ACTION, ALLOCATE, AUTHENTICATION, AUTHORIZATION, INTERNAL, NO_EXISTS,
                        RPC_API, connect, id_list, ids, tmpl, uniq)

VNET = 'NAME="{}"\nVN_MAD="dummy"\nBRIDGE="br0"\nAR=[TYPE="IP4", IP="10.0.0.1", SIZE="10"]'
DS = 'NAME="{}"\nTYPE="IMAGE_DS"\nDS_MAD="fs"\nTM_MAD="ssh"'


def test_allocate_info(one):
    name = uniq("c")
    cid = one.cluster.allocate(name)
    assert cid >= 100
    info = one.xml("cluster.info", cid)
    assert info.findtext("NAME") == name
    for tag in ("HOSTS", "DATASTORES", "VNETS"):
        assert id_list(info.find(tag)) == []
    assert one.cluster.info(cid).NAME == name


def test_allocate_errors(one, make_user):
    name = uniq("c")
    one.cluster.allocate(name)
    # semantics: duplicate name -> ALLOCATE (INTERNAL accepted)
    one.fails({ALLOCATE, INTERNAL}, "cluster.allocate", name)
    other = uniq("c")
    make_user().one.fails(AUTHORIZATION, "cluster.allocate", other)
    connect(one.uri, "oneadmin:x").fails(AUTHENTICATION, "cluster.allocate", other)
    names = [c.findtext("NAME") for c in one.xml("clusterpool.info").findall("CLUSTER")]
    assert names.count(name) == 1 and other not in names


def test_info_errors(one, make_user):
    one.fails(NO_EXISTS, "cluster.info", 99999)
    connect(one.uri, "oneadmin:x").fails(AUTHENTICATION, "cluster.info", 0)


def test_add_del_host(one):
    cid = one.cluster.allocate(uniq("c"))
    hid = one.host.allocate(uniq("h"), "dummy", "dummy", -1)
    one.cluster.addhost(cid, hid)
    assert id_list(one.xml("cluster.info", cid).find("HOSTS")) == [hid]
    h = one.xml("host.info", hid)
    assert int(h.findtext("CLUSTER_ID")) == cid
    assert h.findtext("CLUSTER") == one.xml("cluster.info", cid).findtext("NAME")
    assert hid not in id_list(one.xml("cluster.info", 0).find("HOSTS"))
    one.cluster.delhost(cid, hid)
    assert id_list(one.xml("cluster.info", cid).find("HOSTS")) == []
    # semantics: a host removed from a cluster goes back to the default cluster
    assert one.xml("host.info", hid).findtext("CLUSTER_ID") == "0"
    one.fails(NO_EXISTS, "cluster.addhost", cid, 99999)
    one.fails(NO_EXISTS, "cluster.addhost", 99999, hid)


def test_add_del_datastore(one):
    cid = one.cluster.allocate(uniq("c"))
    ds = one.datastore.allocate(DS.format(uniq("ds")), -1)
    one.cluster.adddatastore(cid, ds)
    assert id_list(one.xml("cluster.info", cid).find("DATASTORES")) == [ds]
    assert cid in id_list(one.xml("datastore.info", ds).find("CLUSTERS"))
    one.cluster.deldatastore(cid, ds)
    assert id_list(one.xml("cluster.info", cid).find("DATASTORES")) == []
    assert cid not in id_list(one.xml("datastore.info", ds).find("CLUSTERS"))
    one.fails(NO_EXISTS, "cluster.adddatastore", cid, 99999)
    one.fails(NO_EXISTS, "cluster.adddatastore", 99999, ds)


def test_add_del_vnet(one):
    cid = one.cluster.allocate(uniq("c"))
    vn = one.vn.allocate(VNET.format(uniq("vn")), -1)
    one.cluster.addvnet(cid, vn)
    assert id_list(one.xml("cluster.info", cid).find("VNETS")) == [vn]
    assert cid in id_list(one.xml("vn.info", vn).find("CLUSTERS"))
    one.cluster.delvnet(cid, vn)
    assert id_list(one.xml("cluster.info", cid).find("VNETS")) == []
    assert cid not in id_list(one.xml("vn.info", vn).find("CLUSTERS"))
    one.fails(NO_EXISTS, "cluster.addvnet", cid, 99999)
    one.fails(NO_EXISTS, "cluster.addvnet", 99999, vn)


def test_membership_needs_admin(one, make_user):
    cid = one.cluster.allocate(uniq("c"))
    hid = one.host.allocate(uniq("h"), "dummy", "dummy", -1)
    u = make_user()
    for m in ("addhost", "delhost"):
        u.one.fails(AUTHORIZATION, f"cluster.{m}", cid, hid)
    connect(one.uri, "oneadmin:x").fails(AUTHENTICATION, "cluster.addhost", cid, hid)
    assert id_list(one.xml("cluster.info", cid).find("HOSTS")) == []


def test_update_rename(one, make_user):
    cid = one.cluster.allocate(uniq("c"))
    one.cluster.update(cid, 'RESERVED_CPU="10"', 1)
    one.cluster.update(cid, 'X="y"', 1)
    info = one.xml("cluster.info", cid)
    assert tmpl(info, "RESERVED_CPU") == "10" and tmpl(info, "X") == "y"
    one.cluster.update(cid, 'Z="1"', 0)
    info = one.xml("cluster.info", cid)
    assert tmpl(info, "X") is None and tmpl(info, "Z") == "1"
    one.fails(RPC_API, "cluster.update", cid, 'A="1"', 5)
    one.fails(NO_EXISTS, "cluster.update", 99999, 'A="1"', 0)
    new = uniq("cr")
    one.cluster.rename(cid, new)
    assert one.xml("cluster.info", cid).findtext("NAME") == new
    one.fails(ACTION, "cluster.rename", cid, "default")
    one.fails(NO_EXISTS, "cluster.rename", 99999, uniq("x"))
    make_user().one.fails(AUTHORIZATION, "cluster.rename", cid, uniq("x"))
    assert one.xml("cluster.info", cid).findtext("NAME") == new


def test_delete(one, make_user):
    cid = one.cluster.allocate(uniq("c"))
    hid = one.host.allocate(uniq("h"), "dummy", "dummy", cid)
    # semantics: a cluster that still has hosts cannot be deleted
    one.fails(ACTION, "cluster.delete", cid)
    one.host.delete(hid)
    make_user().one.fails(AUTHORIZATION, "cluster.delete", cid)
    one.cluster.delete(cid)
    one.fails(NO_EXISTS, "cluster.info", cid)
    assert cid not in ids(one.xml("clusterpool.info"), "CLUSTER")
    one.fails(NO_EXISTS, "cluster.delete", cid)


def test_pool(one):
    a = one.cluster.allocate(uniq("c"))
    got = ids(one.xml("clusterpool.info"), "CLUSTER")
    assert {0, a} <= set(got) and got == sorted(got)
    assert ids(one.xml("clusterpool.info", -2, -1, -1), "CLUSTER") == got
    connect(one.uri, "oneadmin:x").fails(AUTHENTICATION, "clusterpool.info")
