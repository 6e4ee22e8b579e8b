"""one.zone.info / rename / update, one.zonepool.info"""

from onehelpers import (ACTION, AUTHENTICATION, AUTHORIZATION, NO_EXISTS, RPC_API, connect, ids,
                        tmpl, uniq)


def test_info_and_pool(one, make_user):
    z = one.xml("zone.info", 0)
    assert z.findtext("ID") == "0" and z.findtext("NAME")
    assert z.findtext("STATE") == "0"  # ENABLED
    pool = one.xml("zonepool.info")
    assert 0 in ids(pool, "ZONE")
    assert ids(one.xml("zonepool.info", -2, -1, -1), "ZONE") == ids(pool, "ZONE")
    one.fails(NO_EXISTS, "zone.info", 99999)
    # every user may USE zones (bootstrap ACL '* ZONE/* USE *')
    u = make_user()
    assert u.one.xml("zone.info", 0).findtext("ID") == "0"
    assert 0 in ids(u.one.xml("zonepool.info"), "ZONE")
    connect(one.uri, "a:b").fails(AUTHENTICATION, "zone.info", 0)
    connect(one.uri, "a:b").fails(AUTHENTICATION, "zonepool.info")


def test_rename(one, make_user):
    old = one.xml("zone.info", 0).findtext("NAME")
    new = uniq("zone")
    try:
        one.zone.rename(0, new)
        assert one.xml("zone.info", 0).findtext("NAME") == new
        assert one.xml("zonepool.info").find("ZONE/NAME").text == new
        make_user().one.fails(AUTHORIZATION, "zone.rename", 0, uniq("z"))
        assert one.xml("zone.info", 0).findtext("NAME") == new
        one.fails(NO_EXISTS, "zone.rename", 99999, uniq("z"))
    finally:
        one.zone.rename(0, old)
    assert one.xml("zone.info", 0).findtext("NAME") == old


def test_update(one, make_user):
    # zone.xsd allows only ENDPOINT in a zone's TEMPLATE, so that is what an update shows.
    tag = f"http://{uniq('t')}:2633/RPC2"
    one.zone.update(0, f'ENDPOINT="{tag}"', 1)
    assert tmpl(one.xml("zone.info", 0), "ENDPOINT") == tag
    one.fails(RPC_API, "zone.update", 0, 'A="1"', 5)
    one.fails(NO_EXISTS, "zone.update", 99999, 'A="1"', 1)
    make_user().one.fails(AUTHORIZATION, "zone.update", 0, 'ENDPOINT="user"', 1)
    assert tmpl(one.xml("zone.info", 0), "ENDPOINT") == tag
    connect(one.uri, "oneadmin:x").fails(AUTHENTICATION, "zone.update", 0, 'ENDPOINT="x"', 1)
    assert tmpl(one.xml("zone.info", 0), "ENDPOINT") == tag


def test_rename_collision_is_action(one):
    # zone 0 renamed to its own name is a no-op success in oned
    name = one.xml("zone.info", 0).findtext("NAME")
    one.zone.rename(0, name)
    assert one.xml("zone.info", 0).findtext("NAME") == name
    # an empty name is refused
    one.fails({ACTION, 0x2000}, "zone.rename", 0, "")
    assert one.xml("zone.info", 0).findtext("NAME") == name
