"""one.group.*, one.grouppool.info, one.groupquota.*"""

from onehelpers import (ACTION, ALLOCATE, AUTHENTICATION, AUTHORIZATION, INTERNAL, NO_EXISTS,
                        RPC_API, connect, id_list, ids, tmpl, uniq)


def test_allocate_info(one):
    name = uniq("g")
    gid = one.group.allocate(name)
    assert gid >= 100
    info = one.xml("group.info", gid)
    assert int(info.findtext("ID")) == gid and info.findtext("NAME") == name
    assert id_list(info.find("USERS")) == [] and id_list(info.find("ADMINS")) == []
    assert one.group.info(gid).NAME == name


def test_allocate_errors(one, make_user):
    name = uniq("g")
    one.group.allocate(name)
    # semantics: duplicate name fails as INTERNAL or ALLOCATE
    one.fails({INTERNAL, ALLOCATE}, "group.allocate", name)
    assert [g.findtext("NAME") for g in one.xml("grouppool.info").findall("GROUP")].count(name) == 1
    u = make_user()
    other = uniq("g")
    u.one.fails(AUTHORIZATION, "group.allocate", other)
    connect(one.uri, "oneadmin:bad").fails(AUTHENTICATION, "group.allocate", other)
    assert other not in [g.findtext("NAME") for g in one.xml("grouppool.info").findall("GROUP")]


def test_info_errors_and_self(one, make_user):
    one.fails(NO_EXISTS, "group.info", 99999)
    u = make_user()
    # -1 is the caller's primary group
    assert u.one.xml("group.info", -1).findtext("ID") == "1"
    u.one.fails(AUTHORIZATION, "group.info", 0)


def test_update(one, make_user):
    gid = one.group.allocate(uniq("g"))
    one.group.update(gid, 'A="1"\nB="2"', 0)
    one.group.update(gid, 'C="3"', 1)
    info = one.xml("group.info", gid)
    assert (tmpl(info, "A"), tmpl(info, "B"), tmpl(info, "C")) == ("1", "2", "3")
    one.group.update(gid, 'D="4"', 0)
    info = one.xml("group.info", gid)
    assert tmpl(info, "A") is None and tmpl(info, "D") == "4"
    one.fails(NO_EXISTS, "group.update", 99999, 'A="1"', 0)
    one.fails(RPC_API, "group.update", gid, 'A="1"', 7)
    make_user().one.fails(AUTHORIZATION, "group.update", gid, 'X="1"', 1)
    assert tmpl(one.xml("group.info", gid), "X") is None


def test_addadmin_deladmin(one, make_user):
    gid = one.group.allocate(uniq("g"))
    u = make_user(groups=[gid])
    assert u.id in id_list(one.xml("group.info", gid).find("USERS"))
    one.group.addadmin(gid, u.id)
    assert id_list(one.xml("group.info", gid).find("ADMINS")) == [u.id]
    one.group.deladmin(gid, u.id)
    assert id_list(one.xml("group.info", gid).find("ADMINS")) == []
    one.fails(NO_EXISTS, "group.addadmin", gid, 99999)
    one.fails(NO_EXISTS, "group.addadmin", 99999, u.id)
    # semantics: a user that is not a member cannot be made admin (oned: ACTION/INTERNAL)
    outsider = make_user()
    one.fails({ACTION, INTERNAL}, "group.addadmin", gid, outsider.id)
    assert id_list(one.xml("group.info", gid).find("ADMINS")) == []
    outsider.one.fails(AUTHORIZATION, "group.addadmin", gid, outsider.id)


def test_group_admin_can_manage_members(one, make_user):
    """An admin of a group may manage the group's users (semantics: oned adds ACLs
    '#admin USER/@gid USE+MANAGE+ADMIN' etc. when addadmin is called)."""
    gid = one.group.allocate(uniq("g"))
    admin = make_user(groups=[gid])
    member = make_user(groups=[gid])
    admin.one.fails(AUTHORIZATION, "user.update", member.id, 'BY_ADMIN="1"', 1)
    one.group.addadmin(gid, admin.id)
    admin.one.user.update(member.id, 'BY_ADMIN="1"', 1)
    assert tmpl(one.xml("user.info", member.id), "BY_ADMIN") == "1"
    one.group.deladmin(gid, admin.id)
    admin.one.fails(AUTHORIZATION, "user.update", member.id, 'BY_ADMIN="2"', 1)


def test_group_quota(one, make_user):
    gid = one.group.allocate(uniq("g"))
    one.group.quota(gid, "DATASTORE=[ID=1, IMAGES=3, SIZE=300]")
    dq = one.xml("group.info", gid).find("DATASTORE_QUOTA/DATASTORE")
    assert (dq.findtext("ID"), dq.findtext("IMAGES"), dq.findtext("SIZE")) == ("1", "3", "300")
    one.fails(ACTION, "group.quota", 0, "DATASTORE=[ID=1, IMAGES=3]")
    one.fails(NO_EXISTS, "group.quota", 99999, "DATASTORE=[ID=1, IMAGES=3]")
    one.fails(ACTION, "group.quota", gid, "DATASTORE=[ID=1, IMAGES=3")
    make_user().one.fails(AUTHORIZATION, "group.quota", gid, "DATASTORE=[ID=1, IMAGES=30]")
    assert one.xml("group.info", gid).find("DATASTORE_QUOTA/DATASTORE/IMAGES").text == "3"


def test_groupquota_default(one, make_user):
    assert one.xml("groupquota.info").tag == "DEFAULT_GROUP_QUOTAS"
    try:
        one.groupquota.update("DATASTORE=[ID=2, IMAGES=555, SIZE=5555]")
        assert one.last_xml is not None and one.last_xml.tag == "DEFAULT_GROUP_QUOTAS"
        dq = one.xml("groupquota.info").find("DATASTORE_QUOTA/DATASTORE")
        assert (dq.findtext("ID"), dq.findtext("IMAGES"), dq.findtext("SIZE")) == ("2", "555", "5555")
        assert one.xml("grouppool.info").find("DEFAULT_GROUP_QUOTAS/DATASTORE_QUOTA/DATASTORE/IMAGES").text == "555"
        make_user().one.fails(AUTHORIZATION, "groupquota.update", "DATASTORE=[ID=2, IMAGES=1]")
        one.fails(ACTION, "groupquota.update", "DATASTORE=[ID=2")
        assert one.xml("groupquota.info").find("DATASTORE_QUOTA/DATASTORE/IMAGES").text == "555"
    finally:
        one.groupquota.update("DATASTORE=[ID=2, IMAGES=-2, SIZE=-2]")
    connect(one.uri, "oneadmin:bad").fails(AUTHENTICATION, "groupquota.info")


def test_grouppool(one, make_user):
    g = one.group.allocate(uniq("g"))
    pool = one.xml("grouppool.info")
    all_ids = ids(pool, "GROUP")
    assert {0, 1, g} <= set(all_ids) and all_ids == sorted(all_ids)
    assert pool.find("DEFAULT_GROUP_QUOTAS") is not None
    assert ids(one.xml("grouppool.info", -2, -1, -1), "GROUP") == all_ids
    # semantics: a regular user sees its own group, not others'
    mine = ids(make_user().one.xml("grouppool.info"), "GROUP")
    assert 1 in mine and 0 not in mine and g not in mine
    connect(one.uri, "a:b").fails(AUTHENTICATION, "grouppool.info")


def test_delete(one, make_user):
    gid = one.group.allocate(uniq("g"))
    u = make_user(groups=[gid])
    # semantics: a group with users cannot be deleted
    one.fails(ACTION, "group.delete", gid)
    assert one.group.info(gid).ID == gid
    one.user.chgrp(u.id, 1)
    one.group.delete(gid)
    one.fails(NO_EXISTS, "group.info", gid)
    assert gid not in ids(one.xml("grouppool.info"), "GROUP")
    one.fails(NO_EXISTS, "group.delete", gid)
    # the system groups cannot be deleted
    one.fails(ACTION, "group.delete", 0)
    one.fails(ACTION, "group.delete", 1)
    assert {0, 1} <= set(ids(one.xml("grouppool.info"), "GROUP"))
    g2 = one.group.allocate(uniq("g"))
    make_user().one.fails(AUTHORIZATION, "group.delete", g2)
    connect(one.uri, "oneadmin:bad").fails(AUTHENTICATION, "group.delete", g2)
    assert one.group.info(g2).ID == g2


def test_vlan_rules(one, make_user):
    gid = one.group.allocate(uniq("g"))
    one.group.vlan(gid, 'RULE=[ID="1,33,400-700", SCOPE="0", VNTEMPLATE="5"]\nRULE=[ID="9", SCOPE="1", VNTEMPLATE="6"]')
    rules = one.xml("group.info", gid).findall("VLAN_RULES/RULE")
    assert [(r.findtext("ID"), r.findtext("SCOPE"), r.findtext("VNTEMPLATE")) for r in rules] == [
        ("1,33,400-700", "0", "5"), ("9", "1", "6")]
    assert one.xml("group.info", gid).findtext("VLAN_RULES/ID") == str(gid)
    # a bad id list changes nothing
    one.fails(ACTION, "group.vlan", gid, 'RULE=[ID="700-400", SCOPE="0", VNTEMPLATE="5"]')
    one.fails(ACTION, "group.vlan", gid, 'RULE=[ID="5000", SCOPE="0", VNTEMPLATE="5"]')
    assert len(one.xml("group.info", gid).findall("VLAN_RULES/RULE")) == 2
    make_user().one.fails(AUTHORIZATION, "group.vlan", gid, 'RULE=[ID="1", SCOPE="0", VNTEMPLATE="5"]')
    one.fails(NO_EXISTS, "group.vlan", 99999, 'RULE=[ID="1", SCOPE="0", VNTEMPLATE="5"]')
    # an empty template clears the rules
    one.group.vlan(gid, "")
    assert one.xml("group.info", gid).findall("VLAN_RULES/RULE") == []
