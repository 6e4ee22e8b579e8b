"""one.document.*, one.documentpool.info (with its type filter)"""

from onehelpers import (ACTION, ALLOCATE, AUTHENTICATION, AUTHORIZATION, INTERNAL, LOCKED, NO_EXISTS,
                        RPC_API, connect, ids, perms, tmpl, uniq)


def make_doc(one, dtype=100, name=None, body='BODY="x"'):
    name = name or uniq("doc")
    return one.document.allocate(f'NAME="{name}"\n{body}', dtype), name


def test_allocate_info(one):
    did, name = make_doc(one, 100, body='COLOR="blue"\nSIZE="3"')
    info = one.xml("document.info", did)
    assert info.findtext("NAME") == name and info.findtext("TYPE") == "100"
    assert tmpl(info, "COLOR") == "blue" and tmpl(info, "SIZE") == "3"
    assert perms(info) == (1, 1, 0, 0, 0, 0, 0, 0, 0)
    assert one.document.info(did).NAME == name


def test_regular_user_can_create(make_user):
    u = make_user()
    did, _ = make_doc(u.one, 101)
    info = u.one.xml("document.info", did)
    assert int(info.findtext("UID")) == u.id and info.findtext("GNAME") == "users"


def test_allocate_errors(one, make_user):
    # (document names are not unique in oned, so no duplicate-name check here)
    one.fails({ALLOCATE, INTERNAL}, "document.allocate", 'NAME="x\nA=', 100)
    connect(one.uri, "oneadmin:x").fails(AUTHENTICATION, "document.allocate", f'NAME="{uniq("d")}"', 100)
    one.fails(NO_EXISTS, "document.info", 99999)
    did, _ = make_doc(one)
    make_user().one.fails(AUTHORIZATION, "document.info", did)


def test_pool_type_filter(one):
    t = 4000 + (int(uniq("x").split("-")[1], 16) % 50000)
    a, _ = make_doc(one, t)
    b, _ = make_doc(one, t)
    c, _ = make_doc(one, t + 1)
    got = ids(one.xml("documentpool.info", -2, -1, -1, t), "DOCUMENT")
    assert got == sorted([a, b])
    assert ids(one.xml("documentpool.info", -2, -1, -1, t + 1), "DOCUMENT") == [c]
    assert ids(one.xml("documentpool.info", -2, a, a, t), "DOCUMENT") == [a]
    for d in one.xml("documentpool.info", -2, -1, -1, t).findall("DOCUMENT"):
        assert d.findtext("TYPE") == str(t)
    one.fails(RPC_API, "documentpool.info", -7, -1, -1, t)
    connect(one.uri, "a:b").fails(AUTHENTICATION, "documentpool.info", -2, -1, -1, t)


def test_clone(one, make_user):
    did, _ = make_doc(one, 321, body='K="v"')
    cname = uniq("docc")
    cid = one.document.clone(did, cname)
    info = one.xml("document.info", cid)
    assert info.findtext("NAME") == cname and info.findtext("TYPE") == "321"
    assert tmpl(info, "K") == "v"
    one.fails(NO_EXISTS, "document.clone", 99999, uniq("x"))
    make_user().one.fails(AUTHORIZATION, "document.clone", did, uniq("x"))


def test_update_rename_chmod_chown_delete(one, make_user):
    did, _ = make_doc(one, 100)
    one.document.update(did, 'A="1"', 1)
    one.document.update(did, 'B="2"', 1)
    info = one.xml("document.info", did)
    assert (tmpl(info, "A"), tmpl(info, "B")) == ("1", "2")
    one.document.update(did, 'C="3"', 0)
    info = one.xml("document.info", did)
    assert tmpl(info, "A") is None and tmpl(info, "C") == "3"
    one.fails(RPC_API, "document.update", did, 'A="1"', 2)
    one.fails(INTERNAL, "document.update", did, 'A="1', 1)
    new = uniq("docr")
    one.document.rename(did, new)
    assert one.xml("document.info", did).findtext("NAME") == new
    one.fails(NO_EXISTS, "document.rename", 99999, uniq("x"))
    u = make_user()
    one.document.chmod(did, -1, -1, -1, -1, -1, -1, 1, 0, 0)
    assert perms(one.xml("document.info", did)) == (1, 1, 0, 0, 0, 0, 1, 0, 0)
    assert u.one.xml("document.info", did).findtext("ID") == str(did)
    u.one.fails(AUTHORIZATION, "document.delete", did)
    one.document.chown(did, u.id, 1)
    u.one.document.delete(did)
    one.fails(NO_EXISTS, "document.info", did)
    one.fails(NO_EXISTS, "document.delete", did)


def test_lock_levels(one, make_user):
    did, _ = make_doc(one)
    # level 1 (USE): blocks manage and admin operations; info still works
    one.document.lock(did, 1, False)
    info = one.xml("document.info", did)
    assert info.findtext("LOCK/LOCKED") == "1" and info.findtext("LOCK/OWNER") == "0"
    msg = one.fails({AUTHORIZATION, LOCKED}, "document.update", did, 'A="1"', 1)
    assert "locked" in msg.lower()
    one.fails({AUTHORIZATION, LOCKED}, "document.rename", did, uniq("x"))
    one.fails({AUTHORIZATION, LOCKED}, "document.delete", did)
    # a second lock with test=true reports the existing lock
    one.fails(ACTION, "document.lock", did, 2, True)
    one.document.unlock(did)
    assert one.xml("document.info", did).find("LOCK") is None
    # level 2 (MANAGE)
    one.document.lock(did, 2, False)
    assert one.xml("document.info", did).findtext("LOCK/LOCKED") == "2"
    one.fails({AUTHORIZATION, LOCKED}, "document.update", did, 'A="1"', 1)
    one.document.unlock(did)
    # level 3 (ADMIN): manage operations pass, admin ones do not
    one.document.lock(did, 3, False)
    assert one.xml("document.info", did).find("LOCK") is not None
    one.document.update(did, 'UNDER_ADMIN_LOCK="1"', 1)
    assert tmpl(one.xml("document.info", did), "UNDER_ADMIN_LOCK") == "1"
    one.fails({AUTHORIZATION, LOCKED}, "document.chmod", did, -1, -1, 1, -1, -1, -1, -1, -1, -1)
    one.document.unlock(did)
    # level 4 (ALL) is stored as USE
    one.document.lock(did, 4, False)
    # semantics: LOCKED shows the stored level (ST_USE = 1)
    assert one.xml("document.info", did).findtext("LOCK/LOCKED") == "1"
    one.fails({AUTHORIZATION, LOCKED}, "document.update", did, 'A="1"', 1)
    one.document.unlock(did)
    one.fails(ACTION, "document.lock", did, 5, False)
    assert one.xml("document.info", did).find("LOCK") is None
    one.fails(NO_EXISTS, "document.lock", 99999, 1, False)
    one.fails(NO_EXISTS, "document.unlock", 99999)


def test_unlock_by_other_user(one, make_user):
    u, v = make_user(), make_user()
    did, _ = make_doc(u.one)
    u.one.document.chmod(did, -1, -1, -1, 1, 1, 0, -1, -1, -1)  # group users: use+manage
    u.one.document.lock(did, 1, False)
    assert u.one.xml("document.info", did).findtext("LOCK/OWNER") == str(u.id)
    # v can manage the document but does not own the lock
    v.one.fails(ACTION, "document.unlock", did)
    assert one.xml("document.info", did).find("LOCK") is not None
    # admins may unlock anyone's lock
    one.document.unlock(did)
    assert one.xml("document.info", did).find("LOCK") is None
    v.one.document.update(did, 'BY_V="1"', 1)
