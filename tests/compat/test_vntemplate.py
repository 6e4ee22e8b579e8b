"""one.vntemplate.*, one.vntemplatepool.info"""

from onehelpers import (ACTION, ALLOCATE, AUTHENTICATION, AUTHORIZATION, INTERNAL, LOCKED, NO_EXISTS,
                        RPC_API, connect, ids, perms, tmpl, uniq, wait_for)


def make_vnt(one, name=None):
    name = name or uniq("vnt")
    t = (f'NAME="{name}"\nVN_MAD="dummy"\nBRIDGE="br1"\nDESCRIPTION="from template"\n'
         'AR=[TYPE="IP4", IP="10.1.0.1", SIZE="4"]')
    return one.vntemplate.allocate(t), name


def test_allocate_info(one):
    tid, name = make_vnt(one)
    info = one.xml("vntemplate.info", tid)
    assert info.findtext("NAME") == name
    assert tmpl(info, "VN_MAD") == "dummy" and tmpl(info, "BRIDGE") == "br1"
    assert info.find("TEMPLATE/AR/IP").text == "10.1.0.1"
    assert perms(info) == (1, 1, 0, 0, 0, 0, 0, 0, 0)
    assert int(info.findtext("REGTIME")) > 0
    assert one.vntemplate.info(tid).NAME == name


def test_allocate_errors(one, make_user):
    tid, name = make_vnt(one)
    one.fails({INTERNAL, 0x4000}, "vntemplate.allocate", f'NAME="{name}"\nVN_MAD="dummy"')
    one.fails({ALLOCATE, INTERNAL}, "vntemplate.allocate", 'NAME="x\nVN_MAD')
    other = uniq("vnt")
    make_user().one.fails(AUTHORIZATION, "vntemplate.allocate", f'NAME="{other}"\nVN_MAD="dummy"')
    connect(one.uri, "oneadmin:x").fails(AUTHENTICATION, "vntemplate.allocate", f'NAME="{other}"')
    names = [t.findtext("NAME") for t in one.xml("vntemplatepool.info", -2, -1, -1).findall("VNTEMPLATE")]
    assert names.count(name) == 1 and other not in names
    one.fails(NO_EXISTS, "vntemplate.info", 99999)


def test_clone(one, make_user):
    tid, _ = make_vnt(one)
    cname = uniq("vntc")
    cid = one.vntemplate.clone(tid, cname)
    info = one.xml("vntemplate.info", cid)
    assert info.findtext("NAME") == cname
    assert tmpl(info, "VN_MAD") == "dummy" and info.find("TEMPLATE/AR/SIZE").text == "4"
    one.fails(NO_EXISTS, "vntemplate.clone", 99999, uniq("x"))
    make_user().one.fails(AUTHORIZATION, "vntemplate.clone", tid, uniq("x"))


def test_instantiate(one, make_user):
    tid, _ = make_vnt(one)
    vname = uniq("vnfromt")
    vid = one.vntemplate.instantiate(tid, vname, 'EXTRA_ATTR="yes"')
    wait_for(lambda: one.xml("vn.info", vid).findtext("STATE") == "1", what="vnet READY")
    vn = one.xml("vn.info", vid)
    assert vn.findtext("NAME") == vname
    assert vn.findtext("TEMPLATE_ID") == str(tid)
    assert vn.findtext("VN_MAD") == "dummy" and vn.findtext("BRIDGE") == "br1"
    assert tmpl(vn, "EXTRA_ATTR") == "yes" and tmpl(vn, "DESCRIPTION") == "from template"
    ar = vn.find("AR_POOL/AR")
    assert ar.findtext("IP") == "10.1.0.1" and ar.findtext("SIZE") == "4"
    assert vid in ids(one.xml("vnpool.info", -2, -1, -1), "VNET")
    one.fails(NO_EXISTS, "vntemplate.instantiate", 99999, uniq("x"), "")
    make_user().one.fails(AUTHORIZATION, "vntemplate.instantiate", tid, uniq("x"), "")


def test_update_rename_chmod_chown(one, make_user):
    tid, _ = make_vnt(one)
    _, other_name = make_vnt(one)
    one.vntemplate.update(tid, 'NEW="1"', 1)
    assert tmpl(one.xml("vntemplate.info", tid), "NEW") == "1"
    one.vntemplate.update(tid, 'VN_MAD="dummy"\nONLY="1"', 0)
    info = one.xml("vntemplate.info", tid)
    assert tmpl(info, "NEW") is None and tmpl(info, "ONLY") == "1"
    one.fails(RPC_API, "vntemplate.update", tid, 'A="1"', 3)
    one.fails(NO_EXISTS, "vntemplate.update", 99999, 'A="1"', 1)
    new = uniq("vntr")
    one.vntemplate.rename(tid, new)
    assert one.xml("vntemplate.info", tid).findtext("NAME") == new
    one.fails(ACTION, "vntemplate.rename", tid, other_name)
    u = make_user()
    u.one.fails(AUTHORIZATION, "vntemplate.info", tid)
    one.vntemplate.chmod(tid, 1, 1, 0, 1, 1, 0, 1, 0, 0)
    assert perms(one.xml("vntemplate.info", tid)) == (1, 1, 0, 1, 1, 0, 1, 0, 0)
    assert u.one.xml("vntemplate.info", tid).findtext("ID") == str(tid)
    one.vntemplate.chown(tid, u.id, -1)
    assert int(one.xml("vntemplate.info", tid).findtext("UID")) == u.id
    one.fails(NO_EXISTS, "vntemplate.chown", tid, 99999, -1)


def test_lock_and_delete(one, make_user):
    tid, _ = make_vnt(one)
    one.vntemplate.lock(tid, 1, False)
    assert one.xml("vntemplate.info", tid).findtext("LOCK/LOCKED") == "1"
    one.fails({AUTHORIZATION, LOCKED}, "vntemplate.update", tid, 'A="1"', 1)
    one.fails({AUTHORIZATION, LOCKED}, "vntemplate.delete", tid)
    one.vntemplate.unlock(tid)
    make_user().one.fails(AUTHORIZATION, "vntemplate.delete", tid)
    one.vntemplate.delete(tid)
    one.fails(NO_EXISTS, "vntemplate.info", tid)
    one.fails(NO_EXISTS, "vntemplate.delete", tid)


def test_pool(one, make_user):
    a, _ = make_vnt(one)
    b, _ = make_vnt(one)
    got = ids(one.xml("vntemplatepool.info", -2, -1, -1), "VNTEMPLATE")
    assert {a, b} <= set(got) and got == sorted(got)
    assert ids(one.xml("vntemplatepool.info", -2, b, b), "VNTEMPLATE") == [b]
    one.fails(RPC_API, "vntemplatepool.info", -9, -1, -1)
    # a fresh user sees none of oneadmin's mode-600 objects (other tests may have made
    # some objects world-readable, so only these two are checked)
    assert not {a, b} & set(ids(make_user().one.xml("vntemplatepool.info", -2, -1, -1), "VNTEMPLATE"))
    connect(one.uri, "a:b").fails(AUTHENTICATION, "vntemplatepool.info", -2, -1, -1)
