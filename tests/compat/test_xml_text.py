"""Characters XML 1.0 cannot carry (C0 controls other than tab, LF and CR, U+FFFE, U+FFFF),
over pyone and boto3 against a real nubod: a request holding one, raw or as a character
reference, is refused (an XML-RPC parse fault, a template parse error, EC2's
InvalidParameterValue), every refusal arrives as a reply the client can read, and the pool
listings stay well-formed for everyone (pyone's own parser, expat, reads them; every reply is
XSD-validated by the fixtures)."""

from __future__ import annotations

import re
import xml.parsers.expat

import pyone
import pytest
from botocore.exceptions import ClientError

from ec2helpers import Ec2Cloud
from onehelpers import (ACTION, ALLOCATE, INTERNAL, RPC_API, http_post, parse_method_response,
                        uniq)

PARSE_FAULT = -503
TEMPLATE_ERRORS = {ALLOCATE, RPC_API, INTERNAL, ACTION}
BAD = ["\x0b", "\x00", "\x01", "\x1f", "\ufffe", "\uffff"]


def refused_as_fault(call, *args) -> str:
    """The call must be refused by the XML-RPC decoder: pyone turns the fault into a
    OneException whose text names the fault code."""
    with pytest.raises(pyone.OneException) as e:
        call(*args)
    text = str(e.value)
    assert str(PARSE_FAULT) in text and "is not allowed in XML 1.0" in text, text
    return text


def pools_parse(one):
    """Every listing the issue names still reads: pyone binds it, the fixture validates it
    against OpenNebula's XSD, and expat parses the reply and the document inside."""
    for method, args in [
        ("templatepool.info", (-2, -1, -1)),
        ("vmpool.info", (-2, -1, -1, -1)),
        ("userpool.info", ()),
        ("vntemplatepool.info", (-2, -1, -1)),
        ("grouppool.info", ()),
        ("imagepool.info", (-2, -1, -1)),
    ]:
        one.xml(method, *args)
        reply = one._capture.last_body  # noqa: SLF001 - the raw HTTP reply
        for doc in (reply, one.last_response[1].encode()):
            xml.parsers.expat.ParserCreate().Parse(doc, True)


def test_names_and_values_with_raw_characters_are_faults(one):
    for c in BAD:
        name = uniq("tpl") + c
        refused_as_fault(one.template.allocate, f'NAME="{name}"\nCPU=1\nMEMORY=64')
        refused_as_fault(one.template.allocate,
                         f'NAME="{uniq("tpl")}"\nMEMORY=64\nDESCRIPTION="x{c}y"')
        refused_as_fault(one.vntemplate.allocate, f'NAME="{name}"')
        refused_as_fault(one.user.allocate, uniq("u") + c, "pw", "core", [])
        refused_as_fault(one.vm.allocate, f'NAME="{name}"\nCPU=0.1\nMEMORY=64', True)
    # In a template built from a dict, as pyone marshals it (XML inside the string).
    refused_as_fault(one.template.allocate,
                     {"TEMPLATE": {"NAME": uniq("tpl"), "MEMORY": "64", "DESCRIPTION": "a\ufffeb"}})
    pools_parse(one)


def test_an_existing_object_cannot_be_given_them(one):
    tid = one.template.allocate(f'NAME="{uniq("tpl")}"\nMEMORY=64')
    refused_as_fault(one.template.rename, tid, "x\uffff")
    refused_as_fault(one.template.update, tid, 'DESCRIPTION="a\x0bb"', 1)
    vid = one.vm.allocate(f'NAME="{uniq("vm")}"\nCPU=0.1\nMEMORY=64', True)
    refused_as_fault(one.vm.rename, vid, "v\ufffe")
    refused_as_fault(one.vm.update, vid, 'LABEL="\x01"', 1)
    # A reference in the template's XML form reaches the template parser, which refuses it.
    for reference in ["&#11;", "&#xb;", "&#xFFFE;", "&#65535;"]:
        message = one.fails(TEMPLATE_ERRORS, "template.update", tid,
                            f"<TEMPLATE><DESCRIPTION>a{reference}b</DESCRIPTION></TEMPLATE>", 1)
        assert "is not allowed in XML 1.0" in message, message
        message = one.fails(TEMPLATE_ERRORS, "template.allocate",
                            f"<TEMPLATE><NAME>{uniq('tpl')}</NAME><DESCRIPTION>{reference}"
                            "</DESCRIPTION></TEMPLATE>")
        assert "is not allowed in XML 1.0" in message, message
    t = one.xml("template.info", tid)
    assert t.find("TEMPLATE/DESCRIPTION") is None
    # `&#11;` in the text form is five ordinary characters, and stays so.
    one.template.update(tid, 'DESCRIPTION="&#11;"', 1)
    assert one.xml("template.info", tid).findtext("TEMPLATE/DESCRIPTION") == "&#11;"
    pools_parse(one)


def test_character_references_in_the_xml_rpc_body_are_faults(nubod, admin_password):
    session = f"oneadmin:{admin_password}"
    for reference, code in [("&#11;", "000B"), ("&#xFFFE;", "FFFE"), ("&#65535;", "FFFF"),
                            ("&#x1;", "0001")]:
        body = (
            "<?xml version='1.0'?><methodCall><methodName>one.template.allocate</methodName>"
            f"<params><param><value><string>{session}</string></value></param>"
            f"<param><value><string>NAME=\"t-{uniq('r')}\"\nDESCRIPTION=\"a{reference}b\"</string>"
            "</value></param></params></methodCall>"
        ).encode()
        reply = http_post(nubod.endpoint, body)
        assert reply.status == 200
        expat = xml.parsers.expat.ParserCreate()
        expat.Parse(reply.body, True)
        params, fault = parse_method_response(reply.body)
        assert params is None and fault is not None, params
        assert fault.faultCode == PARSE_FAULT
        assert re.search(rf"character U\+{code} at byte \d+ is not allowed in XML 1\.0",
                         fault.faultString), fault.faultString


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    c = Ec2Cloud(tmp_path_factory.mktemp("ec2xml"))
    yield c
    alive = c.nubod.alive()
    tail = c.nubod.stderr_tail()
    c.stop()
    assert alive, f"nubod died\n{tail}"


def test_ec2_refuses_them_with_invalid_parameter_value(cloud):
    ec2 = cloud.client(cloud.user())
    for c in BAD:
        with pytest.raises(ClientError) as e:
            ec2.describe_images(Filters=[{"Name": "name", "Values": [f"x{c}"]}])
        error = e.value.response["Error"]
        assert error["Code"] == "InvalidParameterValue", error
        assert "which XML 1.0 cannot carry" in error["Message"], error
        with pytest.raises(ClientError) as e:
            ec2.create_key_pair(KeyName=f"k{c}")
        assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    # Nothing was made of them, and the listings read.
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    ec2.describe_images()
