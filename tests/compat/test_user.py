"""one.user.*, one.userpool.info, one.userquota.* (and login tokens)."""

import re

import pytest

from onehelpers import (ACTION, AUTHENTICATION, AUTHORIZATION, INTERNAL, NO_EXISTS, RPC_API,
                        acl_rule, connect, id_list, ids, sha256_hex, tmpl, uniq)


# ---------------------------------------------------------------- allocate


def test_allocate_and_info(one):
    name = uniq("u")
    uid = one.user.allocate(name, "s3cret", "core")
    info = one.xml("user.info", uid)
    assert int(info.findtext("ID")) == uid
    assert info.findtext("NAME") == name
    assert info.findtext("AUTH_DRIVER") == "core"
    assert info.findtext("PASSWORD") == sha256_hex("s3cret")
    assert info.findtext("ENABLED") == "1"
    assert info.findtext("GID") == "1" and info.findtext("GNAME") == "users"
    # pyone's bindings parse it too
    assert one.user.info(uid).NAME == name


def test_allocate_empty_driver_means_core(one, endpoint):
    name = uniq("u")
    uid = one.user.allocate(name, "pw1", "")
    assert one.xml("user.info", uid).findtext("AUTH_DRIVER") == "core"
    assert connect(endpoint, f"{name}:pw1").user.info(-1).ID == uid


def test_allocate_with_groups(one):
    g1 = one.group.allocate(uniq("g"))
    g2 = one.group.allocate(uniq("g"))
    uid = one.user.allocate(uniq("u"), "pw", "core", [g1, g2])
    info = one.xml("user.info", uid)
    assert int(info.findtext("GID")) == g1
    assert sorted(id_list(info.find("GROUPS"))) == sorted([g1, g2])
    assert uid in id_list(one.xml("group.info", g2).find("USERS"))


def test_allocate_duplicate_name(one):
    name = uniq("u")
    first = one.user.allocate(name, "pw", "core")
    # semantics: oned's UserAllocate returns INTERNAL ("NAME is already taken");
    # ALLOCATE is accepted too.
    one.fails({INTERNAL, 0x4000}, "user.allocate", name, "pw", "core")
    pool = one.xml("userpool.info")
    assert [u.findtext("NAME") for u in pool.findall("USER")].count(name) == 1
    assert first in ids(pool, "USER")


def test_allocate_in_missing_group(one):
    name = uniq("u")
    one.fails(NO_EXISTS, "user.allocate", name, "pw", "core", [99999])
    assert name not in [u.findtext("NAME") for u in one.xml("userpool.info").findall("USER")]


def test_allocate_by_regular_user_denied(make_user, one):
    u = make_user()
    name = uniq("u")
    u.one.fails(AUTHORIZATION, "user.allocate", name, "pw", "core")
    assert name not in [x.findtext("NAME") for x in one.xml("userpool.info").findall("USER")]


def test_allocate_bad_session(endpoint, one):
    name = uniq("u")
    connect(endpoint, "oneadmin:bad").fails(AUTHENTICATION, "user.allocate", name, "pw", "core")
    assert name not in [x.findtext("NAME") for x in one.xml("userpool.info").findall("USER")]


# ---------------------------------------------------------------- info


def test_info_minus_one_is_self(make_user):
    u = make_user()
    assert int(u.one.xml("user.info", -1).findtext("ID")) == u.id


def test_info_missing(one):
    msg = one.fails(NO_EXISTS, "user.info", 99999)
    assert msg == "[one.user.info] Error getting user [99999]."


def test_info_other_user_denied(make_user):
    # semantics: USER objects grant nothing to group peers
    a, b = make_user(), make_user()
    a.one.fails(AUTHORIZATION, "user.info", b.id)
    a.one.fails(AUTHORIZATION, "user.info", 0)


def test_info_decrypt_flag_accepted(one):
    assert one.user.info(0, True).ID == 0


# ---------------------------------------------------------------- update


def test_update_replace_and_merge(one, make_user):
    u = make_user()
    one.user.update(u.id, 'A="1"\nB="two"', 0)
    info = one.xml("user.info", u.id)
    assert tmpl(info, "A") == "1" and tmpl(info, "B") == "two"
    one.user.update(u.id, 'C="3"', 1)
    info = one.xml("user.info", u.id)
    assert (tmpl(info, "A"), tmpl(info, "C")) == ("1", "3")
    one.user.update(u.id, 'D="4"', 0)
    info = one.xml("user.info", u.id)
    assert tmpl(info, "A") is None and tmpl(info, "C") is None and tmpl(info, "D") == "4"


def test_update_own_template(make_user):
    u = make_user()
    u.one.user.update(u.id, 'MINE="yes"', 1)
    assert tmpl(u.one.xml("user.info", -1), "MINE") == "yes"


def test_update_errors(one, make_user):
    u = make_user()
    other = make_user()
    one.fails(NO_EXISTS, "user.update", 99999, 'A="1"', 0)
    one.fails(RPC_API, "user.update", u.id, 'A="1"', 2)
    # semantics: a template parse error is INTERNAL ("Cannot update template. ...")
    one.fails(INTERNAL, "user.update", u.id, 'A="unterminated', 0)
    u.one.fails(AUTHORIZATION, "user.update", other.id, 'A="1"', 1)
    assert tmpl(one.xml("user.info", other.id), "A") is None


# ---------------------------------------------------------------- passwd / chauth


def test_passwd_changes_what_authenticates(one, make_user, endpoint):
    u = make_user(password="old-pw")
    one.user.passwd(u.id, "new-pw")
    assert one.xml("user.info", u.id).findtext("PASSWORD") == sha256_hex("new-pw")
    connect(endpoint, f"{u.name}:old-pw").fails(AUTHENTICATION, "user.info", -1)
    assert connect(endpoint, f"{u.name}:new-pw").user.info(-1).ID == u.id


def test_passwd_by_self(make_user, endpoint):
    u = make_user(password="mine-1")
    u.one.user.passwd(u.id, "mine-2")
    assert connect(endpoint, f"{u.name}:mine-2").user.info(-1).ID == u.id


def test_passwd_errors(one, make_user):
    a, b = make_user(), make_user()
    one.fails(NO_EXISTS, "user.passwd", 99999, "x")
    a.one.fails(AUTHORIZATION, "user.passwd", b.id, "hijack")
    assert one.xml("user.info", b.id).findtext("PASSWORD") == sha256_hex(b.password)
    # semantics: an empty core password is rejected by set_password -> ACTION
    one.fails(ACTION, "user.passwd", a.id, "")
    assert one.xml("user.info", a.id).findtext("PASSWORD") == sha256_hex(a.password)


def test_chauth(one, make_user, endpoint):
    u = make_user(password="pw-a")
    one.user.chauth(u.id, "core", "pw-b")
    info = one.xml("user.info", u.id)
    assert info.findtext("AUTH_DRIVER") == "core"
    assert info.findtext("PASSWORD") == sha256_hex("pw-b")
    assert connect(endpoint, f"{u.name}:pw-b").user.info(-1).ID == u.id
    connect(endpoint, f"{u.name}:pw-a").fails(AUTHENTICATION, "user.info", -1)
    # the 'public' driver never authenticates (spec §2)
    one.user.chauth(u.id, "public", "")
    assert one.xml("user.info", u.id).findtext("AUTH_DRIVER") == "public"
    connect(endpoint, f"{u.name}:pw-b").fails(AUTHENTICATION, "user.info", -1)
    one.user.chauth(u.id, "core", "pw-c")
    assert connect(endpoint, f"{u.name}:pw-c").user.info(-1).ID == u.id


def test_chauth_errors(one, make_user):
    a, b = make_user(), make_user()
    one.fails(NO_EXISTS, "user.chauth", 99999, "core", "x")
    a.one.fails(AUTHORIZATION, "user.chauth", b.id, "core", "x")


# ---------------------------------------------------------------- groups


def test_chgrp(one, make_user):
    u = make_user()
    g = one.group.allocate(uniq("g"))
    one.user.chgrp(u.id, g)
    info = one.xml("user.info", u.id)
    assert int(info.findtext("GID")) == g
    assert id_list(info.find("GROUPS")) == [g]
    assert u.id in id_list(one.xml("group.info", g).find("USERS"))
    assert u.id not in id_list(one.xml("group.info", 1).find("USERS"))


def test_chgrp_errors(one, make_user):
    u = make_user()
    one.fails(NO_EXISTS, "user.chgrp", u.id, 99999)
    one.fails(NO_EXISTS, "user.chgrp", 99999, 1)
    # semantics: oneadmin cannot leave group oneadmin (oned: INTERNAL)
    one.fails(INTERNAL, "user.chgrp", 0, 1)
    assert one.xml("user.info", 0).findtext("GID") == "0"
    u.one.fails(AUTHORIZATION, "user.chgrp", u.id, 0)
    assert one.xml("user.info", u.id).findtext("GID") == "1"


def test_addgroup_delgroup(one, make_user):
    u = make_user()
    g = one.group.allocate(uniq("g"))
    one.user.addgroup(u.id, g)
    info = one.xml("user.info", u.id)
    assert sorted(id_list(info.find("GROUPS"))) == sorted([1, g])
    assert info.findtext("GID") == "1"
    assert u.id in id_list(one.xml("group.info", g).find("USERS"))
    one.fails(ACTION, "user.addgroup", u.id, g)          # already a member
    one.fails(ACTION, "user.delgroup", u.id, 1)          # primary group
    one.user.delgroup(u.id, g)
    assert id_list(one.xml("user.info", u.id).find("GROUPS")) == [1]
    assert u.id not in id_list(one.xml("group.info", g).find("USERS"))
    one.fails(ACTION, "user.delgroup", u.id, g)          # not a member
    one.fails(NO_EXISTS, "user.addgroup", u.id, 99999)
    one.fails(NO_EXISTS, "user.addgroup", 99999, g)
    u.one.fails(AUTHORIZATION, "user.addgroup", u.id, g)


# ---------------------------------------------------------------- enable


def test_enable_disable_blocks_login(one, make_user, endpoint):
    u = make_user()
    one.user.enable(u.id, False)
    assert one.xml("user.info", u.id).findtext("ENABLED") == "0"
    connect(endpoint, u.session).fails(AUTHENTICATION, "user.info", -1)
    one.user.enable(u.id, True)
    assert one.xml("user.info", u.id).findtext("ENABLED") == "1"
    assert connect(endpoint, u.session).user.info(-1).ID == u.id


def test_enable_errors(one, make_user):
    u = make_user()
    one.fails(ACTION, "user.enable", 0, False)
    assert connect(one.uri, one.session).user.info(-1).ID == 0
    one.fails(NO_EXISTS, "user.enable", 99999, True)
    u.one.fails(AUTHORIZATION, "user.enable", 0, False)


# ---------------------------------------------------------------- login tokens


def test_login_token_works_as_password_and_revoke(make_user, endpoint, one):
    u = make_user()
    token = u.one.user.login(u.name, "", -1, -1)
    assert re.fullmatch(r"[0-9a-f]{64}", token), token
    info = one.xml("user.info", u.id)
    tokens = [t.findtext("TOKEN") for t in info.findall("LOGIN_TOKEN")]
    assert token in tokens
    lt = [t for t in info.findall("LOGIN_TOKEN") if t.findtext("TOKEN") == token][0]
    assert lt.findtext("EXPIRATION_TIME") == "-1" and lt.findtext("EGID") == "-1"
    via_token = connect(endpoint, f"{u.name}:{token}")
    assert via_token.user.info(-1).ID == u.id
    # revoke
    u.one.user.login(u.name, token, 0, -1)
    assert token not in [t.findtext("TOKEN") for t in one.xml("user.info", u.id).findall("LOGIN_TOKEN")]
    connect(endpoint, f"{u.name}:{token}").fails(AUTHENTICATION, "user.info", -1)
    # the password still works
    assert u.one.user.info(-1).ID == u.id


def test_login_given_token_and_revoke_all(make_user, endpoint, one):
    u = make_user()
    mine = "a" * 40
    assert u.one.user.login(u.name, mine, 3600, -1) == mine
    lt = one.xml("user.info", u.id).find("LOGIN_TOKEN")
    assert lt.findtext("TOKEN") == mine and int(lt.findtext("EXPIRATION_TIME")) > 0
    assert connect(endpoint, f"{u.name}:{mine}").user.info(-1).ID == u.id
    other = u.one.user.login(u.name, "", 3600, -1)
    # empty token + valid=0 revokes every token
    u.one.user.login(u.name, "", 0, -1)
    assert one.xml("user.info", u.id).findall("LOGIN_TOKEN") == []
    connect(endpoint, f"{u.name}:{mine}").fails(AUTHENTICATION, "user.info", -1)
    connect(endpoint, f"{u.name}:{other}").fails(AUTHENTICATION, "user.info", -1)


def test_login_errors(one, make_user):
    a, b = make_user(), make_user()
    one.fails(NO_EXISTS, "user.login", uniq("nobody"), "", -1, -1)
    a.one.fails(AUTHORIZATION, "user.login", b.name, "", -1, -1)
    a.one.fails(RPC_API, "user.login", a.name, "", -5, -1)          # wrong valid period
    a.one.fails(RPC_API, "user.login", a.name, "f" * 64, 0, -1)      # unknown token


# ---------------------------------------------------------------- quota


def test_user_quota_visible_and_enforced(one, make_user):
    u = make_user()
    one.user.quota(u.id, "DATASTORE=[ID=1, IMAGES=1, SIZE=100]")
    dq = one.xml("user.info", u.id).find("DATASTORE_QUOTA/DATASTORE")
    assert dq is not None
    assert (dq.findtext("ID"), dq.findtext("IMAGES"), dq.findtext("SIZE")) == ("1", "1", "100")
    # the bootstrap ACLs give 'users' no datastore: grant USE on datastore 1
    with acl_rule(one, f"#{u.id} DATASTORE/#1 USE"):
        img = u.one.image.allocate(f'NAME="{uniq("q")}"\nTYPE="DATABLOCK"\nSIZE="10"', 1)
        dq = one.xml("user.info", u.id).find("DATASTORE_QUOTA/DATASTORE")
        assert dq.findtext("IMAGES_USED") == "1" and dq.findtext("SIZE_USED") == "10"
        name = uniq("q")
        u.one.fails(AUTHORIZATION, "image.allocate", f'NAME="{name}"\nTYPE="DATABLOCK"\nSIZE="10"', 1)
    assert name not in [i.findtext("NAME") for i in one.xml("imagepool.info", -2, -1, -1).findall("IMAGE")]
    assert img in ids(one.xml("imagepool.info", -2, -1, -1), "IMAGE")


def test_user_quota_errors(one, make_user):
    a, b = make_user(), make_user()
    one.fails(ACTION, "user.quota", 0, "DATASTORE=[ID=1, IMAGES=1]")
    one.fails(NO_EXISTS, "user.quota", 99999, "DATASTORE=[ID=1, IMAGES=1]")
    one.fails(ACTION, "user.quota", a.id, "DATASTORE=[ID=1, IMAGES=1")
    a.one.fails(AUTHORIZATION, "user.quota", b.id, "DATASTORE=[ID=1, IMAGES=5]")
    assert one.xml("user.info", b.id).find("DATASTORE_QUOTA/DATASTORE") is None


def test_userquota_default(one, make_user):
    before = one.xml("userquota.info")
    assert before.tag == "DEFAULT_USER_QUOTAS"
    try:
        out = one.userquota.update("DATASTORE=[ID=2, IMAGES=777, SIZE=99999]")
        # the reply is the new default-quota XML (validated by the hook)
        assert one.last_xml is not None and one.last_xml.tag == "DEFAULT_USER_QUOTAS"
        assert out is not None
        dq = one.xml("userquota.info").find("DATASTORE_QUOTA/DATASTORE")
        assert (dq.findtext("ID"), dq.findtext("IMAGES"), dq.findtext("SIZE")) == ("2", "777", "99999")
        # also shown in every USER and at the end of USER_POOL
        assert one.xml("user.info", 0).find("DEFAULT_USER_QUOTAS/DATASTORE_QUOTA/DATASTORE/IMAGES").text == "777"
        assert one.xml("userpool.info").find("DEFAULT_USER_QUOTAS/DATASTORE_QUOTA/DATASTORE/IMAGES").text == "777"
        u = make_user()
        u.one.fails(AUTHORIZATION, "userquota.update", "DATASTORE=[ID=2, IMAGES=1]")
        one.fails(ACTION, "userquota.update", "DATASTORE=[ID=2, IMAGES=1")
        assert one.xml("userquota.info").find("DATASTORE_QUOTA/DATASTORE/IMAGES").text == "777"
    finally:
        one.userquota.update("DATASTORE=[ID=2, IMAGES=-2, SIZE=-2]")


def test_userquota_bad_session(endpoint):
    connect(endpoint, "oneadmin:x").fails(AUTHENTICATION, "userquota.info")
    connect(endpoint, "oneadmin:x").fails(AUTHENTICATION, "userquota.update", "DATASTORE=[ID=2, IMAGES=1]")


# ---------------------------------------------------------------- pool / delete


def test_userpool(one, make_user):
    a, b = make_user(), make_user()
    pool = one.xml("userpool.info")
    all_ids = ids(pool, "USER")
    assert {0, 1, a.id, b.id} <= set(all_ids)
    assert all_ids == sorted(all_ids)
    assert pool.find("DEFAULT_USER_QUOTAS") is not None
    # extra parameters are ignored (opennebula-cli sends -2,-1,-1)
    assert ids(one.xml("userpool.info", -2, -1, -1), "USER") == all_ids
    # semantics: a regular user sees itself but not oneadmin nor peers (mode of USER objects)
    mine = ids(a.one.xml("userpool.info"), "USER")
    assert a.id in mine and 0 not in mine and b.id not in mine


def test_userpool_bad_session(endpoint):
    connect(endpoint, "x:y").fails(AUTHENTICATION, "userpool.info")


def test_delete(one, make_user, endpoint):
    u = make_user()
    g = one.group.allocate(uniq("g"))
    one.user.addgroup(u.id, g)
    one.user.delete(u.id)
    one.fails(NO_EXISTS, "user.info", u.id)
    assert u.id not in ids(one.xml("userpool.info"), "USER")
    assert u.id not in id_list(one.xml("group.info", g).find("USERS"))
    assert u.id not in id_list(one.xml("group.info", 1).find("USERS"))
    connect(endpoint, u.session).fails(AUTHENTICATION, "user.info", -1)
    one.fails(NO_EXISTS, "user.delete", u.id)


def test_delete_errors(one, make_user):
    a, b = make_user(), make_user()
    one.fails(ACTION, "user.delete", 0)
    a.one.fails(AUTHORIZATION, "user.delete", b.id)
    assert one.user.info(b.id).ID == b.id
    connect(one.uri, "oneadmin:wrong").fails(AUTHENTICATION, "user.delete", b.id)
    assert one.user.info(b.id).ID == b.id


@pytest.mark.parametrize("method,args", [
    ("user.info", (0,)), ("user.passwd", (0, "x")), ("user.update", (0, 'A="1"', 1)),
    ("user.chauth", (0, "core", "x")), ("user.chgrp", (0, 0)), ("user.addgroup", (0, 1)),
    ("user.delgroup", (0, 1)), ("user.quota", (1, "")), ("user.enable", (1, True)),
    ("user.login", ("oneadmin", "", -1, -1)), ("user.delete", (1,)),
])
def test_bad_session_everywhere(endpoint, method, args, one):
    connect(endpoint, "oneadmin:not-the-password").fails(AUTHENTICATION, method, *args)
    assert one.xml("user.info", 0).findtext("PASSWORD") == sha256_hex(one.session.split(":", 1)[1])
    assert one.user.info(1).ID == 1
