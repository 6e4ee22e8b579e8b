"""XML-RPC and HTTP protocol behaviour (spec §1), below pyone."""

import concurrent.futures
import http.client
import urllib.parse
import xmlrpc.client
from xml.etree import ElementTree as ET

import pytest

from onehelpers import http_post, parse_method_response, raw_call, uniq, validate_xml


def call_body(method, *params) -> bytes:
    return xmlrpc.client.dumps(tuple(params), methodname=method).encode()


def body_with(method, *values_xml) -> bytes:
    params = "".join(f"<param><value>{v}</value></param>" for v in values_xml)
    return (f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName>"
            f"<params>{params}</params></methodCall>").encode()


def expect_fault(endpoint, body, code):
    r = http_post(endpoint, body)
    assert r.status == 200, r
    params, fault = parse_method_response(r.body)
    assert fault is not None, f"expected a fault, got {params!r}"
    assert fault.faultCode == code, f"fault {fault.faultCode}: {fault.faultString}"
    return fault


def value_types(body: bytes) -> list[str]:
    """Type tags of the values in the reply array."""
    root = ET.fromstring(body)
    vals = root.findall("./params/param/value/array/data/value")
    out = []
    for v in vals:
        kids = list(v)
        out.append(kids[0].tag if kids else "string")
    return out


def test_success_reply_http_and_shape(endpoint, nubod):
    r = http_post(endpoint, call_body("one.system.version", nubod.admin_session))
    assert r.status == 200
    assert r.header("Content-Type").split(";")[0].strip() == "text/xml"
    if r.header("Transfer-Encoding") is None:
        assert int(r.header("Content-Length")) == len(r.body)
    (arr,), fault = parse_method_response(r.body)
    assert fault is None and arr == [True, "7.4.0", 0]
    assert value_types(r.body)[0] == "boolean"
    assert value_types(r.body)[2] in ("i4", "int")


def test_failure_reply_shape(endpoint, nubod):
    r = http_post(endpoint, call_body("one.user.info", nubod.admin_session, 99999))
    assert r.status == 200 and r.header("Content-Type").split(";")[0].strip() == "text/xml"
    assert int(r.header("Content-Length")) == len(r.body)
    (arr,), _ = parse_method_response(r.body)
    assert arr == [False, "[one.user.info] Error getting user [99999].", 1024, 99999, -1]
    types = value_types(r.body)
    assert types[0] == "boolean" and types[1] == "string"
    assert types[2] in ("i4", "int") and types[3] in ("i4", "int")
    assert types[4] == "i8"


def test_auth_failure_shape(endpoint):
    arr = raw_call(endpoint, "one.user.info", "oneadmin:wrong", 0)
    assert arr == [False, "[one.user.info] User couldn't be authenticated, aborting call.", 256, -1, -1]


def test_xml_reply_has_no_namespace_and_validates(endpoint, nubod):
    arr = raw_call(endpoint, "one.user.info", nubod.admin_session, 0)
    assert arr[0] is True and arr[1].startswith("<USER>")
    assert "xmlns" not in arr[1].split(">", 1)[0]
    validate_xml("one.user.info", arr[1])


def test_unknown_method(endpoint, nubod):
    expect_fault(endpoint, call_body("one.nosuch.method", nubod.admin_session), -506)
    # opennebula-cli probes names oned lacks
    expect_fault(endpoint, call_body("one.aclpool.info", nubod.admin_session), -506)


def test_wrong_parameter_type(endpoint, nubod):
    expect_fault(endpoint, call_body("one.user.info", nubod.admin_session, "zero"), -501)
    expect_fault(endpoint, call_body("one.user.info", 42, 0), -501)


def test_missing_parameter(endpoint, nubod):
    expect_fault(endpoint, call_body("one.user.info", nubod.admin_session), -502)
    expect_fault(endpoint, call_body("one.system.version"), -502)
    expect_fault(endpoint, call_body("one.imagepool.info", nubod.admin_session, -2, -1), -502)


def test_extra_trailing_parameters_ignored(endpoint, nubod):
    s = nubod.admin_session
    assert raw_call(endpoint, "one.system.version", s, 1, "two", True)[0] is True
    assert raw_call(endpoint, "one.user.info", s, 0, False, "extra", 7)[0] is True
    assert raw_call(endpoint, "one.imagepool.info", s, -2, -1, -1, -1, "")[0] is True


def test_int_i4_and_untyped_string(endpoint, nubod):
    s = nubod.admin_session
    for v in ("<int>0</int>", "<i4>0</i4>"):
        r = http_post(endpoint, body_with("one.user.info", s, v))
        (arr,), fault = parse_method_response(r.body)
        assert fault is None and arr[0] is True, arr
    # an untyped <value> is a string
    r = http_post(endpoint, body_with("one.user.info", s, "<i4>0</i4>").replace(
        f"<value>{s}</value>".encode(), f"<value><string>{s}</string></value>".encode()))
    (arr,), _ = parse_method_response(r.body)
    assert arr[0] is True


def test_bool_and_int_are_strict(endpoint, nubod):
    # semantics: oned reads parameters with xmlrpc-c's paramList::getInt / getBoolean, which
    # check the type: a <boolean> for an int, or an <int> for a boolean, is fault -501
    # (issue 12 J; spec §1 had suggested leniency). pyone sends bool as <boolean>, int as <int>.
    s = nubod.admin_session
    expect_fault(endpoint, body_with("one.user.info", s, "<boolean>0</boolean>"), -501)
    expect_fault(endpoint, body_with("one.user.enable", s, "<i4>0</i4>", "<i4>1</i4>"), -501)
    r = http_post(endpoint, body_with("one.user.info", s, "<i4>0</i4>", "<boolean>0</boolean>"))
    (arr,), fault = parse_method_response(r.body)
    assert fault is None and arr[0] is True


def test_malformed_xml(endpoint):
    expect_fault(endpoint, b"<?xml version='1.0'?><methodCall><methodName>one.system.version", -503)
    expect_fault(endpoint, b"<methodCall><methodName>one.system.version</methodName><params>"
                           b"<param><value><i4>notanint</i4></value></param></params></methodCall>", -503)


def test_garbage_bytes(endpoint):
    expect_fault(endpoint, bytes(range(256)) * 8, -503)


def test_invalid_utf8(endpoint, nubod):
    body = body_with("one.user.update", nubod.admin_session, "<i4>0</i4>",
                     "<string>X=\"\xff\xfe\"</string>")
    body = body.replace("\xff\xfe".encode(), b"\xff\xfe")
    expect_fault(endpoint, body, -503)


def test_large_template_accepted(one, endpoint, nubod):
    big = "a" * (2 * 1024 * 1024)
    name = uniq("big")
    did = one.document.allocate(f'NAME="{name}"\nBIG="{big}"', 100)
    r = http_post(endpoint, call_body("one.document.info", nubod.admin_session, did))
    assert r.status == 200 and int(r.header("Content-Length")) == len(r.body)
    (arr,), _ = parse_method_response(r.body)
    doc = validate_xml("one.document.info", arr[1])
    assert len(doc.findtext("TEMPLATE/BIG")) == len(big)
    one.document.delete(did)


def test_http_other_paths_and_methods(endpoint, nubod):
    # semantics: Abyss serves only POST /RPC2
    r = http_post(endpoint, call_body("one.system.version", nubod.admin_session), path="/nothere")
    assert r.status != 200 or parse_method_response(r.body)[1] is not None
    r = http_post(endpoint, None, method="GET")
    assert r.status in (400, 404, 405, 501)


def test_keepalive_two_requests_one_connection(endpoint, nubod):
    # semantics: HTTP/1.1 keep-alive as Abyss does (KEEPALIVE_MAX_CONN=30)
    url = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        for _ in range(2):
            conn.request("POST", url.path, body=call_body("one.system.version", nubod.admin_session),
                         headers={"Content-Type": "text/xml"})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200
            assert parse_method_response(body)[0][0][1] == "7.4.0"
    finally:
        conn.close()


def test_concurrent_calls(endpoint, nubod):
    def one_call(_):
        return raw_call(endpoint, "one.system.version", nubod.admin_session)[1]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        assert list(ex.map(one_call, range(32))) == ["7.4.0"] * 32


@pytest.mark.parametrize("method,params", [
    ("one.user.delete", (1,)),
    ("one.group.allocate", ("g-unauth",)),
    ("one.zone.rename", (0, "hijacked")),
    ("one.acl.delrule", (0,)),
])
def test_unauthenticated_changes_nothing(endpoint, one, method, params):
    before = (one.xml("userpool.info"), one.xml("grouppool.info"), one.xml("zone.info", 0),
              one.xml("acl.info"))
    arr = raw_call(endpoint, method, "oneadmin:wrong", *params)
    assert arr[0] is False and arr[2] == 256
    after = (one.xml("userpool.info"), one.xml("grouppool.info"), one.xml("zone.info", 0),
             one.xml("acl.info"))
    assert [ET.tostring(x) for x in before] == [ET.tostring(x) for x in after]


def test_still_answers_after_abuse(endpoint, nubod):
    assert nubod.alive()
    assert raw_call(endpoint, "one.system.version", nubod.admin_session) == [True, "7.4.0", 0]
