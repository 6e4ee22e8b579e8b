"""one.secgroup.*, one.secgrouppool.info"""

from onehelpers import (ACTION, ALLOCATE, AUTHENTICATION, AUTHORIZATION, INTERNAL, NO_EXISTS,
                        RPC_API, connect, ids, perms, tmpl, uniq)

RULE = 'RULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="22"]'


def make_sg(one, name=None):
    name = name or uniq("sg")
    return one.secgroup.allocate(f'NAME="{name}"\nDESCRIPTION="ssh"\n{RULE}'), name


def test_allocate_info(one):
    sid, name = make_sg(one)
    info = one.xml("secgroup.info", sid)
    assert info.findtext("NAME") == name
    rule = info.find("TEMPLATE/RULE")
    assert rule is not None
    assert (rule.findtext("PROTOCOL"), rule.findtext("RULE_TYPE"), rule.findtext("RANGE")) == \
        ("TCP", "inbound", "22")
    assert perms(info) == (1, 1, 0, 0, 0, 0, 0, 0, 0)
    assert one.secgroup.info(sid).NAME == name


def test_regular_user_can_create(make_user):
    u = make_user()
    sid, _ = make_sg(u.one)
    info = u.one.xml("secgroup.info", sid)
    assert int(info.findtext("UID")) == u.id and info.findtext("GID") == "1"


def test_allocate_errors(one, make_user):
    sid, name = make_sg(one)
    one.fails({ALLOCATE, INTERNAL}, "secgroup.allocate", f'NAME="{name}"')
    # semantics: an unknown PROTOCOL is rejected at allocation
    bad = uniq("sg")
    one.fails({ALLOCATE, INTERNAL}, "secgroup.allocate",
              f'NAME="{bad}"\nRULE=[PROTOCOL="FOO", RULE_TYPE="inbound"]')
    one.fails({ALLOCATE, INTERNAL}, "secgroup.allocate", 'NAME="x\nRULE=[')
    connect(one.uri, "oneadmin:x").fails(AUTHENTICATION, "secgroup.allocate", f'NAME="{uniq("sg")}"')
    names = [s.findtext("NAME") for s in one.xml("secgrouppool.info", -2, -1, -1).findall("SECURITY_GROUP")]
    assert names.count(name) == 1 and bad not in names
    one.fails(NO_EXISTS, "secgroup.info", 99999)
    make_user().one.fails(AUTHORIZATION, "secgroup.info", sid)


def test_clone(one, make_user):
    sid, _ = make_sg(one)
    cname = uniq("sgc")
    cid = one.secgroup.clone(sid, cname)
    info = one.xml("secgroup.info", cid)
    assert info.findtext("NAME") == cname
    assert info.find("TEMPLATE/RULE/RANGE").text == "22"
    one.fails(NO_EXISTS, "secgroup.clone", 99999, uniq("x"))
    make_user().one.fails(AUTHORIZATION, "secgroup.clone", sid, uniq("x"))


def test_commit(one, make_user):
    sid, _ = make_sg(one)
    assert one.secgroup.commit(sid, False) == sid
    assert one.secgroup.commit(sid, True) == sid
    one.fails(NO_EXISTS, "secgroup.commit", 99999, False)
    make_user().one.fails(AUTHORIZATION, "secgroup.commit", sid, False)


def test_update_rename_chmod_chown_delete(one, make_user):
    sid, _ = make_sg(one)
    _, other_name = make_sg(one)
    one.secgroup.update(sid, 'RULE=[PROTOCOL="UDP", RULE_TYPE="outbound", RANGE="53"]', 0)
    info = one.xml("secgroup.info", sid)
    rules = info.findall("TEMPLATE/RULE")
    assert [(r.findtext("PROTOCOL"), r.findtext("RANGE")) for r in rules] == [("UDP", "53")]
    one.secgroup.update(sid, 'LABEL="x"', 1)
    assert tmpl(one.xml("secgroup.info", sid), "LABEL") == "x"
    one.fails(RPC_API, "secgroup.update", sid, 'A="1"', 2)
    new = uniq("sgr")
    one.secgroup.rename(sid, new)
    assert one.xml("secgroup.info", sid).findtext("NAME") == new
    one.fails(ACTION, "secgroup.rename", sid, other_name)
    u = make_user()
    one.secgroup.chmod(sid, -1, -1, -1, -1, -1, -1, 1, 1, 0)
    assert perms(one.xml("secgroup.info", sid)) == (1, 1, 0, 0, 0, 0, 1, 1, 0)
    u.one.secgroup.update(sid, 'BY_OTHER="1"', 1)
    one.secgroup.chown(sid, u.id, 1)
    info = one.xml("secgroup.info", sid)
    assert (int(info.findtext("UID")), info.findtext("GNAME")) == (u.id, "users")
    # delete needs MANAGE: with OTHER_M cleared, another user may not delete it
    u.one.secgroup.chmod(sid, -1, -1, -1, -1, -1, -1, 1, 0, -1)
    make_user().one.fails(AUTHORIZATION, "secgroup.delete", sid)
    u.one.secgroup.delete(sid)
    one.fails(NO_EXISTS, "secgroup.info", sid)
    one.fails(NO_EXISTS, "secgroup.delete", sid)


def test_pool(one, make_user):
    a, _ = make_sg(one)
    b, _ = make_sg(one)
    got = ids(one.xml("secgrouppool.info", -2, -1, -1), "SECURITY_GROUP")
    assert {a, b} <= set(got) and got == sorted(got)
    assert ids(one.xml("secgrouppool.info", -2, a, b), "SECURITY_GROUP") == [i for i in got if a <= i <= b]
    one.fails(RPC_API, "secgrouppool.info", -5, -1, -1)
    connect(one.uri, "a:b").fails(AUTHENTICATION, "secgrouppool.info", -2, -1, -1)


def test_rules_naming_other_groups(one, make_user):
    """REMOTE_GROUP_ID (a Nubo extension): a rule whose peers are another group's VMs."""
    web, _ = make_sg(one)
    db = one.secgroup.allocate(f'NAME="{uniq("db")}"\n'
                               f'RULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="5432", REMOTE_GROUP_ID="{web}"]')
    rule = one.xml("secgroup.info", db).find("TEMPLATE/RULE")
    assert rule.findtext("REMOTE_GROUP_ID") == str(web)
    for bad in ('REMOTE_GROUP_ID="web"', f'REMOTE_GROUP_ID="{web}", IP="10.0.0.1", SIZE="1"',
                f'REMOTE_GROUP_ID="{web}", NETWORK_ID="0"'):
        one.fails({ALLOCATE, INTERNAL}, "secgroup.allocate",
                  f'NAME="{uniq("bad")}"\nRULE=[PROTOCOL="TCP", RULE_TYPE="inbound", {bad}]')
    # Naming a group takes the right to use it.
    u = make_user()
    u.one.fails(AUTHORIZATION, "secgroup.allocate",
                f'NAME="{uniq("mine")}"\nRULE=[PROTOCOL="ALL", RULE_TYPE="inbound", REMOTE_GROUP_ID="{web}"]')
    mine, _ = make_sg(u.one)
    u.one.fails(AUTHORIZATION, "secgroup.update", mine,
                f'RULE=[PROTOCOL="ALL", RULE_TYPE="inbound", REMOTE_GROUP_ID="{web}"]', 0)
    # Cloning copies the names, so it takes the same right.
    one.secgroup.chmod(db, -1, -1, -1, -1, -1, -1, 1, 0, 0)
    u.one.fails(AUTHORIZATION, "secgroup.clone", db, uniq("copy"))
    # A rule with both IP and NETWORK_ID is still taken, as before.
    one.secgroup.allocate(f'NAME="{uniq("both")}"\nRULE=[PROTOCOL="TCP", RULE_TYPE="inbound", '
                          'IP="10.0.0.1", SIZE="2", NETWORK_ID="0"]')
    # A group other rules name cannot go; once no rule names it, it can.
    one.fails(ACTION, "secgroup.delete", web)
    one.secgroup.update(db, 'RULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="5432"]', 0)
    one.secgroup.delete(web)
