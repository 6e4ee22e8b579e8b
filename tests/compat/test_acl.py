"""one.acl.addrule / delrule / info."""

from onehelpers import (AUTHENTICATION, AUTHORIZATION, INTERNAL, acl_hex, connect, ids, tmpl, uniq)


def _rule(one, rid):
    for r in one.xml("acl.info").findall("ACL"):
        if int(r.findtext("ID")) == rid:
            return r
    return None


def test_info(one):
    pool = one.xml("acl.info")
    assert {0, 1, 2} <= set(ids(pool, "ACL"))


def test_addrule_grants_and_delrule_revokes(one, make_user):
    u = make_user()
    doc = one.document.allocate(f'NAME="{uniq("d")}"', 100)
    u.one.fails(AUTHORIZATION, "document.info", doc)
    u.one.fails(AUTHORIZATION, "document.update", doc, 'X="1"', 1)

    rid = one.acl.addrule(*acl_hex(f"#{u.id} DOCUMENT/#{doc} USE"))
    assert isinstance(rid, int) and rid > 2
    r = _rule(one, rid)
    assert r is not None
    assert r.findtext("STRING") == f"#{u.id} DOCUMENT/#{doc} USE #0"
    user_h, res_h, rights_h = acl_hex(f"#{u.id} DOCUMENT/#{doc} USE")
    assert int(r.findtext("USER"), 16) == int(user_h, 16)
    assert int(r.findtext("RESOURCE"), 16) == int(res_h, 16)
    assert int(r.findtext("RIGHTS"), 16) == int(rights_h, 16)
    # zone defaults to this zone (#0)
    assert int(r.findtext("ZONE"), 16) == 0x100000000

    assert int(u.one.xml("document.info", doc).findtext("ID")) == doc
    # USE does not give MANAGE
    u.one.fails(AUTHORIZATION, "document.update", doc, 'X="1"', 1)

    one.acl.delrule(rid)
    assert _rule(one, rid) is None
    u.one.fails(AUTHORIZATION, "document.info", doc)


def test_addrule_with_zone_and_manage(one, make_user):
    u = make_user()
    doc = one.document.allocate(f'NAME="{uniq("d")}"', 100)
    rid = one.acl.addrule(*acl_hex(f"#{u.id} DOCUMENT/#{doc} USE+MANAGE *"))
    try:
        assert _rule(one, rid).findtext("STRING") == f"#{u.id} DOCUMENT/#{doc} USE+MANAGE *"
        u.one.document.update(doc, 'VIA_ACL="1"', 1)
        assert tmpl(one.xml("document.info", doc), "VIA_ACL") == "1"
    finally:
        one.acl.delrule(rid)
    u.one.fails(AUTHORIZATION, "document.update", doc, 'VIA_ACL="2"', 1)


def test_group_rule_grants_create(one, make_user):
    g = one.group.allocate(uniq("g"))
    u = make_user(groups=[g])
    name = uniq("vnt")
    tmpl_s = f'NAME="{name}"\nVN_MAD="dummy"\nBRIDGE="br0"'
    u.one.fails(AUTHORIZATION, "vntemplate.allocate", tmpl_s)
    rid = one.acl.addrule(*acl_hex(f"@{g} VNTEMPLATE/* CREATE"))
    try:
        vid = u.one.vntemplate.allocate(tmpl_s)
        info = one.xml("vntemplate.info", vid)
        assert int(info.findtext("UID")) == u.id and int(info.findtext("GID")) == g
    finally:
        one.acl.delrule(rid)
    u.one.fails(AUTHORIZATION, "vntemplate.allocate", f'NAME="{uniq("vnt")}"\nVN_MAD="dummy"')


def test_errors(one, make_user):
    user_h, res_h, rights_h = acl_hex("* DOCUMENT/* USE")
    rid = one.acl.addrule(user_h, res_h, rights_h)
    try:
        # semantics: a duplicate rule fails (oned: INTERNAL "already exists")
        one.fails(INTERNAL, "acl.addrule", user_h, res_h, rights_h)
    finally:
        one.acl.delrule(rid)
    # semantics: deleting a missing rule is INTERNAL in oned
    one.fails(INTERNAL, "acl.delrule", rid)
    one.fails(INTERNAL, "acl.delrule", 999999)
    # malformed: no rights at all
    one.fails(INTERNAL, "acl.addrule", user_h, res_h, "0x0")
    u = make_user()
    before = ids(one.xml("acl.info"), "ACL")
    u.one.fails(AUTHORIZATION, "acl.addrule", *acl_hex(f"#{u.id} DOCUMENT/* USE+MANAGE"))
    u.one.fails(AUTHORIZATION, "acl.delrule", 0)
    # semantics: regular users cannot list ACLs
    u.one.fails(AUTHORIZATION, "acl.info")
    bad = connect(one.uri, "oneadmin:bad")
    bad.fails(AUTHENTICATION, "acl.info")
    bad.fails(AUTHENTICATION, "acl.addrule", *acl_hex("* DOCUMENT/* USE"))
    bad.fails(AUTHENTICATION, "acl.delrule", 1)
    assert ids(one.xml("acl.info"), "ACL") == before
