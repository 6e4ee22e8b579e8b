"""one.host.*, one.hostpool.*"""

from onehelpers import (ACTION, ALLOCATE, AUTHENTICATION, AUTHORIZATION, INTERNAL, NO_EXISTS,
                        RPC_API, connect, id_list, ids, tmpl, uniq)

HOST_INIT, HOST_MONITORED, HOST_ERROR, HOST_DISABLED, HOST_OFFLINE = 0, 2, 3, 4, 8


def _host(one, **kw):
    name = kw.get("name") or uniq("h")
    return one.host.allocate(name, "dummy", "dummy", kw.get("cluster", -1)), name


def test_allocate_info(one):
    hid, name = _host(one)
    info = one.xml("host.info", hid)
    assert int(info.findtext("ID")) == hid and info.findtext("NAME") == name
    assert info.findtext("IM_MAD") == "dummy" and info.findtext("VM_MAD") == "dummy"
    # cluster -1 means the default cluster 0
    assert info.findtext("CLUSTER_ID") == "0" and info.findtext("CLUSTER") == "default"
    assert int(info.findtext("STATE")) in (HOST_INIT, HOST_MONITORED, HOST_ERROR)
    assert hid in id_list(one.xml("cluster.info", 0).find("HOSTS"))
    assert one.host.info(hid).NAME == name


def test_allocate_into_cluster(one):
    cid = one.cluster.allocate(uniq("c"))
    hid, _ = _host(one, cluster=cid)
    info = one.xml("host.info", hid)
    assert int(info.findtext("CLUSTER_ID")) == cid
    assert id_list(one.xml("cluster.info", cid).find("HOSTS")) == [hid]
    assert hid not in id_list(one.xml("cluster.info", 0).find("HOSTS"))


def test_allocate_errors(one, make_user):
    hid, name = _host(one)
    # semantics: duplicate host name -> ALLOCATE (INTERNAL accepted)
    one.fails({ALLOCATE, INTERNAL}, "host.allocate", name, "dummy", "dummy", -1)
    one.fails(NO_EXISTS, "host.allocate", uniq("h"), "dummy", "dummy", 99999)
    other = uniq("h")
    make_user().one.fails(AUTHORIZATION, "host.allocate", other, "dummy", "dummy", -1)
    connect(one.uri, "oneadmin:bad").fails(AUTHENTICATION, "host.allocate", other, "dummy", "dummy", -1)
    names = [h.findtext("NAME") for h in one.xml("hostpool.info").findall("HOST")]
    assert names.count(name) == 1 and other not in names


def test_info_errors(one, make_user):
    hid, _ = _host(one)
    one.fails(NO_EXISTS, "host.info", 99999)
    make_user().one.fails(AUTHORIZATION, "host.info", hid)
    connect(one.uri, "x:y").fails(AUTHENTICATION, "host.info", hid)


def test_status_enable_disable_offline(one, make_user):
    hid, _ = _host(one)
    one.host.status(hid, 1)
    assert int(one.xml("host.info", hid).findtext("STATE")) == HOST_DISABLED
    one.host.status(hid, 2)
    assert int(one.xml("host.info", hid).findtext("STATE")) == HOST_OFFLINE
    one.host.status(hid, 0)
    assert int(one.xml("host.info", hid).findtext("STATE")) in (HOST_INIT, HOST_MONITORED, HOST_ERROR)
    one.fails(NO_EXISTS, "host.status", 99999, 1)
    # HostAPI::status: "Wrong status code" (INTERNAL)
    assert one.fails(INTERNAL, "host.status", hid, 9) == "[one.host.status] Wrong status code"
    make_user().one.fails(AUTHORIZATION, "host.status", hid, 1)
    connect(one.uri, "oneadmin:bad").fails(AUTHENTICATION, "host.status", hid, 1)
    assert int(one.xml("host.info", hid).findtext("STATE")) not in (HOST_DISABLED, HOST_OFFLINE)


def test_update(one, make_user):
    hid, _ = _host(one)
    one.host.update(hid, 'LABEL="rack1"', 1)
    assert tmpl(one.xml("host.info", hid), "LABEL") == "rack1"
    one.host.update(hid, 'OTHER="x"', 1)
    info = one.xml("host.info", hid)
    assert tmpl(info, "LABEL") == "rack1" and tmpl(info, "OTHER") == "x"
    one.host.update(hid, 'ONLY="y"', 0)
    info = one.xml("host.info", hid)
    assert tmpl(info, "LABEL") is None and tmpl(info, "ONLY") == "y"
    one.fails(NO_EXISTS, "host.update", 99999, 'A="1"', 1)
    one.fails(RPC_API, "host.update", hid, 'A="1"', 3)
    one.fails(INTERNAL, "host.update", hid, 'A=[B="1"', 1)
    make_user().one.fails(AUTHORIZATION, "host.update", hid, 'A="1"', 1)
    assert tmpl(one.xml("host.info", hid), "A") is None


def test_rename(one, make_user):
    hid, _ = _host(one)
    other, other_name = _host(one)
    new = uniq("hr")
    one.host.rename(hid, new)
    assert one.xml("host.info", hid).findtext("NAME") == new
    # semantics: renaming onto an existing name -> ACTION (collision)
    one.fails(ACTION, "host.rename", hid, other_name)
    assert one.xml("host.info", hid).findtext("NAME") == new
    one.fails(NO_EXISTS, "host.rename", 99999, uniq("x"))
    make_user().one.fails(AUTHORIZATION, "host.rename", hid, uniq("x"))
    assert one.xml("host.info", hid).findtext("NAME") == new


def test_delete(one, make_user):
    hid, _ = _host(one)
    make_user().one.fails(AUTHORIZATION, "host.delete", hid)
    connect(one.uri, "oneadmin:bad").fails(AUTHENTICATION, "host.delete", hid)
    assert one.host.info(hid).ID == hid
    one.host.delete(hid)
    one.fails(NO_EXISTS, "host.info", hid)
    assert hid not in ids(one.xml("hostpool.info"), "HOST")
    assert hid not in id_list(one.xml("cluster.info", 0).find("HOSTS"))
    one.fails(NO_EXISTS, "host.delete", hid)


def test_pool(one, make_user):
    a, _ = _host(one)
    b, _ = _host(one)
    pool = one.xml("hostpool.info")
    got = ids(pool, "HOST")
    assert {a, b} <= set(got) and got == sorted(got)
    # parameters are ignored (POOL0)
    assert ids(one.xml("hostpool.info", -2, -1, -1), "HOST") == got
    # semantics: regular users see no hosts (no ACL for HOST)
    assert ids(make_user().one.xml("hostpool.info"), "HOST") == []
    connect(one.uri, "x:y").fails(AUTHENTICATION, "hostpool.info")


def test_monitoring(one):
    hid, _ = _host(one)
    root = one.xml("host.monitoring", hid)
    assert root.tag == "MONITORING_DATA"
    one.fails(NO_EXISTS, "host.monitoring", 99999)
    root = one.xml("hostpool.monitoring", -1)
    assert root.tag == "MONITORING_DATA"
    connect(one.uri, "x:y").fails(AUTHENTICATION, "hostpool.monitoring", -1)
