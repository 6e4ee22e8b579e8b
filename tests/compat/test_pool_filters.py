"""Pool filters (-4 GROUP, -3 MINE, -2 ALL, -1 MINE_GROUP, uid), id ranges,
pagination (end < -1 means LIMIT start,-end) and ownership/permission rules,
exercised on security groups (POOL3, synchronous, creatable by users)."""

from xml.etree import ElementTree as ET

import pytest

from onehelpers import AUTHENTICATION, AUTHORIZATION, NO_EXISTS, RPC_API, connect, ids, perms, uniq

POOL = "secgrouppool.info"
TAG = "SECURITY_GROUP"


def sg(srv):
    return srv.secgroup.allocate(f'NAME="{uniq("pf")}"')


@pytest.fixture
def world(one, make_user):
    a, b = make_user(), make_user()
    g = one.group.allocate(uniq("g"))
    c = make_user(groups=[g])
    w = {
        "a": a, "b": b, "c": c,
        "a1": sg(a.one), "a2": sg(a.one), "b1": sg(b.one), "c1": sg(c.one), "adm": sg(one),
    }
    return w


def listing(srv, flt, start=-1, end=-1):
    return ids(srv.xml(POOL, flt, start, end), TAG)


def test_mine(world):
    a = world["a"]
    assert listing(a.one, -3) == sorted([world["a1"], world["a2"]])


def test_all_respects_mode_600(world):
    a = world["a"]
    got = set(listing(a.one, -2))
    assert {world["a1"], world["a2"]} <= got
    assert not got & {world["b1"], world["c1"], world["adm"]}


def test_group_objects_need_group_use(world):
    a, b = world["a"], world["b"]
    assert world["b1"] not in listing(a.one, -1)
    assert world["b1"] not in listing(a.one, -4)
    a.one.fails(AUTHORIZATION, "secgroup.info", world["b1"])
    b.one.secgroup.chmod(world["b1"], -1, -1, -1, 1, 0, 0, -1, -1, -1)
    assert world["b1"] in listing(a.one, -1)
    assert world["b1"] in listing(a.one, -2)
    assert world["b1"] in listing(a.one, -4)
    assert int(a.one.xml("secgroup.info", world["b1"]).findtext("ID")) == world["b1"]
    # c is in another primary group: still nothing of b's
    assert world["b1"] not in listing(world["c"].one, -2)
    assert world["adm"] not in listing(a.one, -4)
    assert set(listing(a.one, -1)) >= {world["a1"], world["a2"]}


def test_other_use_and_manage(world, one):
    a = world["a"]
    adm = world["adm"]
    a.one.fails(AUTHORIZATION, "secgroup.info", adm)
    a.one.fails(AUTHORIZATION, "secgroup.update", adm, 'X="1"', 1)
    one.secgroup.chmod(adm, -1, -1, -1, -1, -1, -1, 1, 0, 0)
    assert perms(one.xml("secgroup.info", adm)) == (1, 1, 0, 0, 0, 0, 1, 0, 0)
    assert a.one.xml("secgroup.info", adm).findtext("ID") == str(adm)
    assert adm in listing(a.one, -2) and adm in listing(world["c"].one, -2)
    a.one.fails(AUTHORIZATION, "secgroup.update", adm, 'X="1"', 1)
    one.secgroup.chmod(adm, -1, -1, -1, -1, -1, -1, -1, 1, -1)
    a.one.secgroup.update(adm, 'X="1"', 1)
    # MANAGE does not include ADMIN: a cannot grant itself admin bits
    a.one.fails(AUTHORIZATION, "secgroup.chmod", adm, -1, -1, -1, -1, -1, -1, -1, -1, 1)


def test_owner_cannot_set_admin_bits(world):
    a = world["a"]
    a.one.secgroup.chmod(world["a1"], 1, 1, -1, 1, 1, 0, 0, 0, 0)
    assert perms(a.one.xml("secgroup.info", world["a1"])) == (1, 1, 0, 1, 1, 0, 0, 0, 0)
    a.one.fails(AUTHORIZATION, "secgroup.chmod", world["a1"], -1, -1, 1, -1, -1, -1, -1, -1, -1)
    assert perms(a.one.xml("secgroup.info", world["a1"])) == (1, 1, 0, 1, 1, 0, 0, 0, 0)


def test_uid_filter(world, one):
    a, b = world["a"], world["b"]
    assert listing(one, a.id) == sorted([world["a1"], world["a2"]])
    assert listing(one, b.id) == [world["b1"]]
    assert listing(a.one, b.id) == []
    b.one.secgroup.chmod(world["b1"], -1, -1, -1, -1, -1, -1, 1, 0, 0)
    assert listing(a.one, b.id) == [world["b1"]]


def test_bad_filter(world):
    world["a"].one.fails(RPC_API, POOL, -5, -1, -1)


def test_id_range(world, one):
    lo, hi = world["a1"], world["adm"]
    mine = sorted(world[k] for k in ("a1", "a2", "b1", "c1", "adm"))
    assert listing(one, -2, lo, hi) == mine
    assert listing(one, -2, world["a2"], world["a2"]) == [world["a2"]]
    assert listing(one, -2, hi + 1000, hi + 2000) == []
    # a start bound alone / an end bound alone
    assert all(i >= world["b1"] for i in listing(one, -2, world["b1"], -1))
    assert world["b1"] in listing(one, -2, world["b1"], -1)
    assert all(i <= world["b1"] for i in listing(one, -2, -1, world["b1"]))
    # the range still goes through the filter and the permissions
    assert listing(world["a"].one, -2, lo, hi) == sorted([world["a1"], world["a2"]])


def test_pagination(world, one):
    full = listing(one, -2)
    assert len(full) >= 5 and full == sorted(full)
    assert listing(one, -2, 0, -2) == full[0:2]
    assert listing(one, -2, 1, -2) == full[1:3]
    assert listing(one, -2, 2, -3) == full[2:5]
    assert listing(one, -2, len(full), -10) == []
    # Ruby pages as (-2, off, -size); walking the pages returns everything once
    seen, off = [], 0
    while True:
        page = listing(one, -2, off, -2)
        seen += page
        if len(page) < 2:
            break
        off += 2
    assert seen == full
    # pages of a regular user only contain what it may see
    assert listing(world["a"].one, -3, 0, -1000) == sorted([world["a1"], world["a2"]])


def test_chown_and_chgrp(world, one):
    a, b = world["a"], world["b"]
    adm = world["adm"]
    one.secgroup.chown(adm, a.id, -1)
    info = one.xml("secgroup.info", adm)
    assert (int(info.findtext("UID")), info.findtext("UNAME")) == (a.id, a.name)
    assert info.findtext("GID") == "0"
    assert adm in listing(a.one, -3)
    one.secgroup.chown(adm, -1, 1)
    info = one.xml("secgroup.info", adm)
    assert (info.findtext("GID"), info.findtext("GNAME")) == ("1", "users")
    one.fails(NO_EXISTS, "secgroup.chown", adm, 99999, -1)
    one.fails(NO_EXISTS, "secgroup.chown", adm, -1, 99999)
    one.fails(NO_EXISTS, "secgroup.chown", 99999, a.id, -1)
    # b may not take a's object, nor give its own away to a user it cannot manage
    b.one.fails(AUTHORIZATION, "secgroup.chown", world["a1"], b.id, -1)
    b.one.fails(AUTHORIZATION, "secgroup.chown", world["b1"], a.id, -1)
    assert int(one.xml("secgroup.info", world["b1"]).findtext("UID")) == b.id
    # a user may chgrp its object to one of its own groups only
    b.one.fails(AUTHORIZATION, "secgroup.chown", world["b1"], -1, 0)
    assert one.xml("secgroup.info", world["b1"]).findtext("GID") == "1"


def test_unauthenticated_and_unauthorized_change_nothing(world, one):
    a, b = world["a"], world["b"]
    target = world["b1"]
    before = one.xml("secgroup.info", target)
    bad = connect(one.uri, f"{b.name}:wrong")
    bad.fails(AUTHENTICATION, "secgroup.update", target, 'HACK="1"', 1)
    bad.fails(AUTHENTICATION, "secgroup.rename", target, uniq("h"))
    bad.fails(AUTHENTICATION, "secgroup.chmod", target, 1, 1, 1, 1, 1, 1, 1, 1, 1)
    bad.fails(AUTHENTICATION, "secgroup.delete", target)
    a.one.fails(AUTHORIZATION, "secgroup.update", target, 'HACK="1"', 1)
    a.one.fails(AUTHORIZATION, "secgroup.rename", target, uniq("h"))
    a.one.fails(AUTHORIZATION, "secgroup.chmod", target, 1, 1, 1, 1, 1, 1, 1, 1, 1)
    a.one.fails(AUTHORIZATION, "secgroup.delete", target)
    after = one.xml("secgroup.info", target)
    assert ET.tostring(before) == ET.tostring(after)
