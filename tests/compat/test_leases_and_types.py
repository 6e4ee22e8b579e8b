"""Issue 12 J over pyone and raw XML-RPC: bounded reservations, compact leases, strict
parameter types and known auth drivers.

- A 16M-address ETHER range is allowed; one vn.reserve takes at most 65,536 addresses
  (larger: ACTION), and a reservation of the cap leaves the parent's and the child's
  vn.info small (the size of the XML is checked, not the time).
- The addresses count against the owner's NETWORK LEASES quota, and come back with it.
- user.chauth (and user.allocate) take only OpenNebula's auth drivers.
- A <boolean> where oned reads an int, or an <int> where it reads a boolean, is fault -501.

The MAC addresses are data in templates only; nothing is ever sent to them.
"""

from xml.etree import ElementTree as ET

from onehelpers import (ACTION, AUTHORIZATION, INTERNAL, http_post, parse_method_response,
                        raw_call, uniq, validate_xml, wait_for)

HUGE = 16_777_216
CAP = 65_536
FIRST_MAC = "02:00:0a:00:00:00"


def huge_vnet(one) -> int:
    t = (f'NAME="{uniq("huge")}"\nVN_MAD="dummy"\nBRIDGE="br0"\n'
         f'AR=[TYPE="ETHER", MAC="{FIRST_MAC}", SIZE="{HUGE}"]')
    vid = one.vn.allocate(t, -1)
    wait_for(lambda: one.xml("vn.info", vid).findtext("STATE") == "1", what=f"vnet {vid} READY")
    one.vn.chmod(vid, -1, -1, -1, -1, -1, -1, 1, -1, -1)  # others may USE it
    return vid


def info_text(endpoint, session, vid) -> str:
    """vn.info's XML as sent, validated against vnet.xsd."""
    arr = raw_call(endpoint, "one.vn.info", session, vid)
    assert arr[0] is True, arr
    validate_xml("one.vn.info", arr[1])
    return arr[1]


def leases_used(one, uid, vid):
    return one.xml("user.info", uid).findtext(f"NETWORK_QUOTA/NETWORK[ID='{vid}']/LEASES_USED")


def test_a_16m_range_is_free_until_used(one, endpoint, nubod):
    vid = huge_vnet(one)
    xml = info_text(endpoint, nubod.admin_session, vid)
    assert len(xml) < 4_000, len(xml)
    ar = ET.fromstring(xml).find("AR_POOL/AR")
    assert ar.findtext("SIZE") == str(HUGE) and ar.findtext("USED_LEASES") == "0"
    assert ar.findtext("MAC_END") == "02:00:0a:ff:ff:ff"


def test_reservations_are_bounded_and_cost_what_they_hold(one, make_user, endpoint, nubod):
    vid = huge_vnet(one)
    bob = make_user()
    for size in (CAP + 1, HUGE, 15_999_999):
        msg = bob.one.fails(ACTION, "vn.reserve", vid, f'SIZE="{size}"\nNAME="{uniq("r")}"')
        assert "65536" in msg, msg
    assert one.xml("vn.info", vid).findtext("USED_LEASES") == "0"
    assert leases_used(one, bob.id, vid) in (None, "0")

    name = uniq("resv")
    rid = bob.one.vn.reserve(vid, f'SIZE="{CAP}"\nNAME="{name}"')
    parent = info_text(endpoint, nubod.admin_session, vid)
    assert len(parent) < 4_000, f"parent vn.info is {len(parent)} bytes"
    root = ET.fromstring(parent)
    assert root.findtext("USED_LEASES") == str(CAP)
    ar = root.find("AR_POOL/AR")
    assert ar.findtext("USED_LEASES") == str(CAP)
    leases = ar.findall("LEASES/LEASE")
    assert [(x.findtext("MAC"), x.findtext("VNET")) for x in leases] == [(FIRST_MAC, str(rid))]

    child = info_text(endpoint, bob.session, rid)
    assert len(child) < 4_000, f"child vn.info is {len(child)} bytes"
    car = ET.fromstring(child).find("AR_POOL/AR")
    assert car.findtext("SIZE") == str(CAP) and car.findtext("MAC") == FIRST_MAC
    assert car.findtext("PARENT_NETWORK_AR_ID") == "0" and car.findtext("USED_LEASES") == "0"
    assert car.findtext("MAC_END") == "02:00:0a:00:ff:ff"

    pool = raw_call(endpoint, "one.vnpool.info", bob.session, -1, -1, -1)
    assert pool[0] is True and len(pool[1]) < 20_000, len(pool[1])
    assert leases_used(one, bob.id, vid) == str(CAP)

    # The next block follows, its own LEASE; giving one back frees it and its quota.
    rid2 = bob.one.vn.reserve(vid, f'SIZE="{CAP}"\nNAME="{uniq("resv")}"')
    leases = ET.fromstring(info_text(endpoint, nubod.admin_session, vid)).findall(
        "AR_POOL/AR/LEASES/LEASE")
    assert [(x.findtext("MAC"), x.findtext("VNET")) for x in leases] == [
        (FIRST_MAC, str(rid)), ("02:00:0a:01:00:00", str(rid2))]
    bob.one.vn.delete(rid)
    assert one.xml("vn.info", vid).findtext("USED_LEASES") == str(CAP)
    assert leases_used(one, bob.id, vid) == str(CAP)
    bob.one.vn.delete(rid2)
    assert one.xml("vn.info", vid).findtext("USED_LEASES") == "0"
    assert leases_used(one, bob.id, vid) == "0"


def test_reservations_count_against_the_leases_quota(one, make_user):
    vid = huge_vnet(one)
    bob = make_user()
    one.user.quota(bob.id, f"NETWORK=[ID={vid}, LEASES=100]")
    msg = bob.one.fails(AUTHORIZATION, "vn.reserve", vid, f'SIZE="101"\nNAME="{uniq("r")}"')
    assert "LEASES" in msg
    rid = bob.one.vn.reserve(vid, f'SIZE="100"\nNAME="{uniq("r")}"')
    bob.one.fails(AUTHORIZATION, "vn.reserve", vid, f'SIZE="1"\nNAME="{uniq("r")}"')
    assert leases_used(one, bob.id, vid) == "100"
    bob.one.vn.delete(rid)
    assert leases_used(one, bob.id, vid) == "0"


def test_chauth_takes_known_drivers_only(one, make_user):
    u = make_user()
    for driver in ("evil", "../../../tmp/evil", "CORE", "dummy"):
        msg = one.fails(ACTION, "user.chauth", u.id, driver, "")
        assert "auth driver" in msg, msg
        one.fails(INTERNAL, "user.allocate", uniq("u"), "pw", driver)
    assert one.xml("user.info", u.id).findtext("AUTH_DRIVER") == "core"
    for driver in ("ldap", "x509", "ssh", "server_cipher", "server_x509", "public", "core"):
        one.user.chauth(u.id, driver, "")
        assert one.xml("user.info", u.id).findtext("AUTH_DRIVER") == driver
    u.one.fails(AUTHORIZATION, "user.chauth", 0, "public", "")


def body_with(method, *values_xml) -> bytes:
    params = "".join(f"<param><value>{v}</value></param>" for v in values_xml)
    return (f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName>"
            f"<params>{params}</params></methodCall>").encode()


def fault_of(endpoint, method, *values_xml):
    r = http_post(endpoint, body_with(method, *values_xml))
    assert r.status == 200
    params, fault = parse_method_response(r.body)
    assert fault is not None, f"{method}: expected a fault, got {params!r}"
    return fault.faultCode


def test_booleans_and_integers_are_strict(one, make_user, endpoint, nubod):
    s = nubod.admin_session
    u = make_user()
    i = lambda n: f"<int>{n}</int>"  # noqa: E731
    b = lambda v: f"<boolean>{int(v)}</boolean>"  # noqa: E731
    # an <int> where a boolean is read
    assert fault_of(endpoint, "one.user.enable", s, i(u.id), i(0)) == -501
    assert fault_of(endpoint, "one.vm.allocate", s, "<string>NAME=x</string>", i(1)) == -501
    vid = huge_vnet(one)
    assert fault_of(endpoint, "one.vn.rm_ar", s, i(vid), i(0), i(1)) == -501
    # a <boolean> where an integer is read
    assert fault_of(endpoint, "one.user.info", s, b(True)) == -501
    assert fault_of(endpoint, "one.user.chgrp", s, i(u.id), b(True)) == -501
    assert fault_of(endpoint, "one.vn.info", s, b(False)) == -501
    assert fault_of(endpoint, "one.user.allocate", s, f"<string>{uniq('u')}</string>",
                    "<string>pw</string>", "<string>core</string>",
                    f"<array><data><value>{b(True)}</value></data></array>") == -501
    # nothing happened, and pyone's own types work
    info = one.xml("user.info", u.id)
    assert info.findtext("ENABLED") == "1" and info.findtext("GID") == "1"
    assert len(one.xml("vn.info", vid).findall("AR_POOL/AR")) == 1
    one.user.enable(u.id, False)
    assert one.xml("user.info", u.id).findtext("ENABLED") == "0"
    one.user.enable(u.id, True)
    assert one.vn.info(vid, False).ID == vid
