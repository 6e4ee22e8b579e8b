"""Shared machinery for the OpenNebula compatibility suite.

- ``XsdValidator``: validates every XML reply against OpenNebula's XSDs.
- ``ValidatingOneServer``: pyone's XML-RPC ``OneServer`` with a hook on the one
  seam every call goes through (``_do_request``), so each reply is checked for
  shape and XML replies are validated before pyone's bindings see them.
- ``raw_call`` / ``http_post``: protocol-level access without pyone.
- ``Nubod``: starts and stops one ``nubod`` process (and kills / restarts it on the same
  data dir, database and port).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import xmlschema

import pyone
import pyone.acl
from pyone import server_xrpc

NS = "http://opennebula.org/XMLSchema"

REPO_ROOT = Path(__file__).resolve().parents[2]

# Error codes (spec §1).
AUTHENTICATION = 0x100
AUTHORIZATION = 0x200
NO_EXISTS = 0x400
ACTION = 0x800
RPC_API = 0x1000
INTERNAL = 0x2000
ALLOCATE = 0x4000
LOCKED = 0x8000

# nubod configuration letting images be downloaded from this machine's addresses (test
# servers listen on 127.0.0.1), which nubod refuses by default (docs/security.md)
LOCAL_URLS = "[images]\nallow_local_urls = true\n"

EXCEPTION_FOR_CODE = {
    AUTHENTICATION: pyone.OneAuthenticationException,
    AUTHORIZATION: pyone.OneAuthorizationException,
    NO_EXISTS: pyone.OneNoExistsException,
    ACTION: pyone.OneActionException,
    RPC_API: pyone.OneApiException,
    INTERNAL: pyone.OneInternalException,
}


def xsd_dir() -> Path:
    env = os.environ.get("NUBO_XSD_DIR")
    if env:
        return Path(env)
    for cand in (
        REPO_ROOT.parent / "shared" / "spec" / "opennebula-xsd",
        REPO_ROOT / "shared" / "spec" / "opennebula-xsd",
    ):
        if cand.is_dir():
            return cand
    raise RuntimeError("OpenNebula XSD directory not found; set NUBO_XSD_DIR")


# --------------------------------------------------------------------------
# XSD validation
# --------------------------------------------------------------------------

# root element -> (xsd file, path of the element declaration inside it or None
# for a top-level element)
ROOT_SCHEMA = {
    "ACL_POOL": ("acl_pool.xsd", None),
    "CLUSTER": ("cluster.xsd", None),
    "CLUSTER_POOL": ("cluster_pool.xsd", None),
    "DATASTORE": ("datastore.xsd", None),
    "DATASTORE_POOL": ("datastore_pool.xsd", None),
    "DOCUMENT": ("document.xsd", None),
    "DOCUMENT_POOL": ("document_pool.xsd", None),
    "GROUP": ("group.xsd", None),
    "GROUP_POOL": ("group_pool.xsd", None),
    "HOST": ("host.xsd", None),
    "HOST_POOL": ("host_pool.xsd", None),
    "IMAGE": ("image.xsd", None),
    "IMAGE_POOL": ("image_pool.xsd", None),
    "MARKETPLACE": ("marketplace.xsd", None),
    "MARKETPLACE_POOL": ("marketplace_pool.xsd", None),
    "MARKETPLACEAPP": ("marketplaceapp.xsd", None),
    "MARKETPLACEAPP_POOL": ("marketplaceapp_pool.xsd", None),
    "MONITORING_DATA": ("monitoring_data.xsd", None),
    "OPENNEBULA_CONFIGURATION": ("opennebula_configuration.xsd", None),
    "RAFT": ("raftstatus.xsd", None),
    "SECURITY_GROUP": ("security_group.xsd", None),
    "SECURITY_GROUP_POOL": ("security_group_pool.xsd", None),
    "USER": ("user.xsd", None),
    "USER_POOL": ("user_pool.xsd", None),
    "VDC": ("vdc.xsd", None),
    "VDC_POOL": ("vdc_pool.xsd", None),
    "VM": ("vm.xsd", None),
    "VM_POOL": ("vm_pool.xsd", None),
    "VM_GROUP": ("vm_group.xsd", None),
    "VM_GROUP_POOL": ("vm_group_pool.xsd", None),
    "VMTEMPLATE": ("vmtemplate.xsd", None),
    "VMTEMPLATE_POOL": ("vmtemplate_pool.xsd", None),
    "VNET": ("vnet.xsd", None),
    "VNET_POOL": ("vnet_pool.xsd", None),
    "VNTEMPLATE": ("vntemplate.xsd", None),
    "VNTEMPLATE_POOL": ("vntemplate_pool.xsd", None),
    "VROUTER": ("vrouter.xsd", None),
    "VROUTER_POOL": ("vrouter_pool.xsd", None),
    "ZONE": ("zone.xsd", None),
    "ZONE_POOL": ("zone_pool.xsd", None),
    "HOOK": ("hook.xsd", None),
    "HOOK_POOL": ("hook_pool.xsd", None),
    "BACKUPJOB": ("backupjob.xsd", None),
    "BACKUPJOB_POOL": ("backupjob_pool.xsd", None),
    "HISTORY_RECORDS": ("acct.xsd", None),
    "SHOWBACK_RECORDS": ("showback.xsd", None),
    # userquota.info / groupquota.info return the default-quota element that
    # the XSDs only declare inside USER / GROUP.
    "DEFAULT_USER_QUOTAS": ("user.xsd", "USER/DEFAULT_USER_QUOTAS"),
    "DEFAULT_GROUP_QUOTAS": ("group.xsd", "GROUP/DEFAULT_GROUP_QUOTAS"),
}

# Methods whose root element is shared with another schema.
METHOD_SCHEMA = {
    "one.vmpool.infoextended": ("vm_pool_extended.xsd", None),
}

# Methods whose reply wraps elements that only a schema's inner declaration describes:
# host monitoring is MONITORING_DATA (monitoring_data.xsd has only the VM form) holding
# the MONITORING element of host.xsd, each validated against that declaration.
METHOD_CHILD_SCHEMA = {
    "one.host.monitoring": ("MONITORING_DATA", "host.xsd", "HOST/MONITORING"),
    "one.hostpool.monitoring": ("MONITORING_DATA", "host.xsd", "HOST/MONITORING"),
}

_ROOT_TAG = re.compile(r"^<([A-Za-z_][A-Za-z0-9_.\-]*)")


class XmlValidationError(AssertionError):
    pass


@functools.lru_cache(maxsize=None)
def _schema(filename: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(xsd_dir() / filename))


@functools.lru_cache(maxsize=None)
def _element_decl(filename: str, path: str):
    schema = _schema(filename)
    qpath = "/".join(f"{{{NS}}}{p}" for p in path.split("/"))
    decl = schema.find(qpath)
    if decl is None:
        raise RuntimeError(f"{path} not declared in {filename}")
    return decl


@functools.lru_cache(maxsize=None)
def _declared_children(filename: str, path: str) -> frozenset:
    """The qualified names of the child elements an element declaration allows."""
    return frozenset(e.name for e in _element_decl(filename, path).type.content.iter_elements())


def add_namespace(xml: str) -> str:
    """Insert the OpenNebula namespace on the root element (spec §6)."""
    m = _ROOT_TAG.match(xml)
    if m is None:
        raise XmlValidationError(f"reply does not start with an element: {xml[:80]!r}")
    head_end = xml.find(">")
    if "xmlns=" in xml[: head_end + 1]:
        return xml
    return xml[: m.end()] + f' xmlns="{NS}"' + xml[m.end():]


def _narrow_to_xsd_gaps(doc: ET.Element) -> None:
    """The places where OpenNebula's own replies are richer than its XSDs.

    security_group.xsd lets a security group's TEMPLATE hold only DESCRIPTION and RULE, and a
    RULE only PROTOCOL and RULE_TYPE, while oned (and Nubo) return every attribute of the
    template, e.g. RANGE="22" of a TCP rule: dropping the ports to please the schema would
    make the reply useless. So, for the copy being validated only, those extra children are
    removed; everything else of the reply is validated as it is."""
    q = lambda tag: f"{{{NS}}}{tag}"  # noqa: E731
    for sg in ([doc] if doc.tag == q("SECURITY_GROUP") else doc.findall(q("SECURITY_GROUP"))):
        template = sg.find(q("TEMPLATE"))
        if template is None:
            continue
        for child in list(template):
            if child.tag not in (q("DESCRIPTION"), q("RULE")):
                template.remove(child)
        for rule in template.findall(q("RULE")):
            for child in list(rule):
                if child.tag not in (q("PROTOCOL"), q("RULE_TYPE")):
                    rule.remove(child)
    # An address range likewise: oned returns every attribute of the range (GATEWAY, DNS,
    # any custom one) while vnet.xsd / vnet_pool.xsd list only the ones oned computes.
    ar_schema = {q("VNET"): ("vnet.xsd", "VNET/AR_POOL/AR"),
                 q("VNET_POOL"): ("vnet_pool.xsd", "VNET_POOL/VNET/AR_POOL/AR")}.get(doc.tag)
    if ar_schema is not None:
        known = _declared_children(*ar_schema)
        for ar in doc.iter(q("AR")):
            for child in list(ar):
                if child.tag not in known:
                    ar.remove(child)


def _empty_roles(error) -> bool:
    """One place where oned's reply breaks its own XSD: a VM group without roles (which
    oned accepts) is written with an empty <ROLES></ROLES> (VMGroupRoles::to_xml), while
    vm_group.xsd wants at least one ROLE. Only that error is forgiven."""
    elem = getattr(error, "elem", None)
    return elem is not None and elem.tag == f"{{{NS}}}ROLES" and len(elem) == 0


def validate_xml(method: str, xml: str) -> ET.Element:
    """Validate one XML reply; raise XmlValidationError on any problem."""
    m = _ROOT_TAG.match(xml)
    if m is None:
        raise XmlValidationError(f"{method}: reply is not XML: {xml[:80]!r}")
    root = m.group(1)
    if method in METHOD_CHILD_SCHEMA:
        return _validate_children(method, root, xml, *METHOD_CHILD_SCHEMA[method])
    target = METHOD_SCHEMA.get(method) or ROOT_SCHEMA.get(root)
    if target is None:
        raise XmlValidationError(f"{method}: no OpenNebula schema has root element <{root}>")
    try:
        doc = ET.fromstring(add_namespace(xml))
    except ET.ParseError as e:
        raise XmlValidationError(f"{method}: reply is not well-formed XML: {e}") from e
    filename, path = target
    _narrow_to_xsd_gaps(doc)
    if path is None:
        errors = list(_schema(filename).iter_errors(doc))
    else:
        errors = list(_element_decl(filename, path).iter_errors(doc))
    errors = [e for e in errors if not _empty_roles(e)]
    if errors:
        first = str(errors[0]).strip().splitlines()
        detail = "\n".join(first[:12])
        raise XmlValidationError(
            f"{method}: reply <{root}> does not validate against {filename} "
            f"({len(errors)} error(s)); first:\n{detail}"
        )
    return ET.fromstring(xml)


def _validate_children(method: str, root: str, xml: str, want_root: str, filename: str,
                       path: str) -> ET.Element:
    if root != want_root:
        raise XmlValidationError(f"{method}: root is <{root}>, expected <{want_root}>")
    try:
        doc = ET.fromstring(add_namespace(xml))
    except ET.ParseError as e:
        raise XmlValidationError(f"{method}: reply is not well-formed XML: {e}") from e
    decl = _element_decl(filename, path)
    for child in doc:
        errors = list(decl.iter_errors(child))
        if errors:
            raise XmlValidationError(f"{method}: a <{child.tag}> does not validate against "
                                     f"{filename} {path}: {str(errors[0]).strip()[:400]}")
    return ET.fromstring(xml)


# --------------------------------------------------------------------------
# pyone with validation
# --------------------------------------------------------------------------


class CapturingTransport(server_xrpc.RequestsTransport):
    """pyone's own transport, keeping the last raw HTTP reply."""

    last_status = None
    last_headers = None
    last_body = None

    def parse_response(self, response):
        self.last_status = response.status_code
        self.last_headers = dict(response.headers)
        self.last_body = response.content
        return super().parse_response(response)


def check_reply_shape(method: str, ret, body: bytes | None) -> None:
    """Replies are [true, value, 0] or [false, msg, code, resp_id, i8]."""
    if not isinstance(ret, (list, tuple)) or len(ret) < 3:
        raise XmlValidationError(f"{method}: reply is not an array of >= 3 values: {ret!r}")
    if not isinstance(ret[0], bool):
        raise XmlValidationError(f"{method}: reply[0] is not a boolean: {ret!r}")
    if ret[0]:
        if len(ret) != 3:
            raise XmlValidationError(f"{method}: success reply must have 3 values: {ret!r}")
        if type(ret[2]) is not int or ret[2] != 0:
            raise XmlValidationError(f"{method}: success reply code must be i4 0: {ret!r}")
        if isinstance(ret[1], str) and ret[1] == "":
            raise XmlValidationError(f"{method}: success value is an empty string (pyone reads [0] of it)")
    else:
        if len(ret) != 5:
            raise XmlValidationError(f"{method}: failure reply must have 5 values: {ret!r}")
        if not isinstance(ret[1], str) or type(ret[2]) is not int or type(ret[3]) is not int:
            raise XmlValidationError(f"{method}: failure reply types wrong: {ret!r}")
        if not ret[1].startswith(f"[{method}]"):
            raise XmlValidationError(f"{method}: failure message must start with '[{method}]': {ret[1]!r}")
        if body is not None and b"<i8>" not in body:
            raise XmlValidationError(f"{method}: failure reply must carry an <i8> as 5th value")


class ValidatingOneServer(server_xrpc.OneServerXRPC):
    """pyone OneServer whose every reply is shape-checked and XSD-validated.

    pyone routes every call through ``_do_request(method, params)`` and then
    unmarshals; overriding it lets us validate the raw value before pyone's
    generateDS bindings parse it.
    """

    def __init__(self, uri, session, **kw):
        super().__init__(uri, session, **kw)
        transport = CapturingTransport()
        transport.set_https(uri.startswith("https"))
        transport.set_https_verify(True)
        self._ServerProxy__transport = transport  # noqa: SLF001 - deliberate seam
        self._capture = transport
        self.session = session
        self.uri = uri
        self.last_method = None
        self.last_response = None
        self.last_xml = None
        self.validated = 0

    def _do_request(self, method, params):
        self.last_method = method
        self.last_response = None
        self.last_xml = None
        self._capture.last_body = None
        ret = super()._do_request(method, params)
        self.last_response = ret
        try:
            check_reply_shape(method, ret, self._capture.last_body)
            if ret[0] and isinstance(ret[1], str) and ret[1].startswith("<"):
                self.last_xml = validate_xml(method, ret[1])
                self.validated += 1
        except XmlValidationError as e:
            pytest.fail(f"[{method}] invalid reply: {e}", pytrace=False)
        return ret

    # -- convenience --------------------------------------------------------

    def call(self, method: str, *args):
        """Call 'x.y' (without the 'one.' prefix) through pyone."""
        target = self
        for part in method.split("."):
            target = getattr(target, part)
        return target(*args)

    def xml(self, method: str, *args) -> ET.Element:
        """Call a method returning XML; return its (namespace-free) root."""
        self.call(method, *args)
        if self.last_xml is None:
            pytest.fail(f"one.{method} did not return XML: {self.last_response!r}", pytrace=False)
        return self.last_xml

    def fails(self, code, method: str, *args) -> str:
        """Assert the call fails with `code` (an int or a set of ints)."""
        codes = {code} if isinstance(code, int) else set(code)
        try:
            ret = self.call(method, *args)
        except pyone.OneException as e:
            resp = self.last_response
            if resp is None:
                pytest.fail(f"one.{method}: expected failure code {sorted(codes)}, got a fault: {e}", pytrace=False)
            got = resp[2]
            assert got in codes, (
                f"one.{method}{args!r}: expected code {[hex(c) for c in sorted(codes)]}, "
                f"got {hex(got)}: {resp[1]}"
            )
            expected_cls = EXCEPTION_FOR_CODE.get(got, pyone.OneException)
            assert type(e) is expected_cls, f"pyone raised {type(e).__name__} for code {hex(got)}"
            return resp[1]
        pytest.fail(f"one.{method}{args!r} succeeded ({ret!r}); expected code {[hex(c) for c in sorted(codes)]}",
                    pytrace=False)


def connect(endpoint: str, session: str) -> ValidatingOneServer:
    return ValidatingOneServer(endpoint, session=session)


# --------------------------------------------------------------------------
# Raw XML-RPC / HTTP
# --------------------------------------------------------------------------


@dataclass
class HttpReply:
    status: int
    headers: dict
    body: bytes

    def header(self, name: str):
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


def http_post(endpoint: str, body: bytes, path: str | None = None,
              content_type: str = "text/xml", method: str = "POST",
              timeout: float = 30.0) -> HttpReply:
    url = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        headers = {"Content-Type": content_type} if body is not None else {}
        conn.request(method, path or url.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return HttpReply(resp.status, {k: v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def raw_call(endpoint: str, method: str, *params, allow_none=False):
    """Call an XML-RPC method with Python's own client; returns the raw array
    or raises xmlrpc.client.Fault."""
    proxy = xmlrpc.client.ServerProxy(endpoint, allow_none=allow_none)
    return getattr(proxy, method)(*params)


def parse_method_response(body: bytes):
    """Parse an XML-RPC methodResponse; returns (params, fault)."""
    p, u = xmlrpc.client.getparser()
    p.feed(body)
    p.close()
    try:
        return u.close(), None
    except xmlrpc.client.Fault as f:
        return None, f


# --------------------------------------------------------------------------
# Misc helpers
# --------------------------------------------------------------------------


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sha256_hex(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def ids(root: ET.Element, tag: str) -> list[int]:
    return [int(e.findtext("ID")) for e in root.findall(tag)]


def id_list(elem: ET.Element | None) -> list[int]:
    """<VMS><ID>1</ID>...</VMS> -> [1, ...]"""
    if elem is None:
        return []
    return [int(e.text) for e in elem.findall("ID")]


def perms(root: ET.Element) -> tuple[int, ...]:
    p = root.find("PERMISSIONS")
    assert p is not None, "PERMISSIONS missing"
    return tuple(int(p.findtext(k)) for k in (
        "OWNER_U", "OWNER_M", "OWNER_A", "GROUP_U", "GROUP_M", "GROUP_A",
        "OTHER_U", "OTHER_M", "OTHER_A"))


def tmpl(root: ET.Element, name: str, under: str = "TEMPLATE"):
    t = root.find(under)
    assert t is not None, f"{under} missing"
    return t.findtext(name)


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})", pytrace=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# nubod process
# --------------------------------------------------------------------------


def nubod_binary() -> Path:
    env = os.environ.get("NUBOD_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    return target / "debug" / "nubod"


class PgDatabase:
    """A throw-away PostgreSQL database created with the psql CLI."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.name = "nubo_compat_" + uuid.uuid4().hex[:12]
        parts = urllib.parse.urlsplit(admin_url)
        self.url = urllib.parse.urlunsplit(parts._replace(path="/" + self.name))

    def _psql(self, sql: str) -> None:
        psql = shutil.which("psql")
        if psql is None:
            pytest.fail("NUBO_TEST_DATABASE is set but psql is not installed", pytrace=False)
        subprocess.run([psql, self.admin_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                       check=True, capture_output=True, timeout=60)

    def create(self) -> str:
        self._psql(f'CREATE DATABASE "{self.name}"')
        return self.url

    def drop(self) -> None:
        try:
            self._psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass



def outsider(one, make_user, *kinds: str):
    """A user of a new group that is not in the default VDC for `kinds` (default NET and
    DATASTORE): every group joins the default VDC (`@gid NET/* USE #0`, `@gid DATASTORE/*
    USE #0`, as oned's), so that group's rules for those kinds are taken away. The user
    may create objects but may use only the networks and datastores granted to them."""
    kinds = kinds or ("NET", "DATASTORE")
    gid = one.group.allocate(uniq("grp"))
    for rule in one.xml("acl.info").findall("ACL"):
        if any(rule.findtext("STRING", "").startswith(f"@{gid} {kind}/") for kind in kinds):
            one.acl.delrule(int(rule.findtext("ID")))
    return make_user(groups=[gid])

@dataclass
class Nubod:
    admin_password: str = field(default_factory=lambda: "pw-" + uuid.uuid4().hex)
    port: int = 0
    proc: subprocess.Popen | None = None
    tmp: Path | None = None
    db: PgDatabase | None = None
    stderr_path: Path | None = None
    # the binary to run (default: NUBOD_BIN or target/debug/nubod)
    binary: Path | None = None
    # how many times ``restart`` started it again
    restarts: int = 0
    # more command-line options for nubod
    extra_args: list = field(default_factory=list)
    # where host agents reach nubod (ADDR:PORT); a free port on 127.0.0.1 by default
    host_api: str = ""
    # seconds between the monitoring rounds in which nubod asks its hosts
    monitor_interval: int = 1
    # TOML configuration file text (passed with --config when not empty), e.g.
    # LOCAL_URLS to let images be downloaded from this machine
    config: str = ""
    # files written under nubod's HOME before its first start (path relative to HOME: text)
    home_files: dict = field(default_factory=dict)
    # the REST API's port (a free one, chosen at start)
    api_port: int = 0
    # the apps' router's port (a free one, chosen at start, unless extra_args name one)
    router_port: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/RPC2"

    @property
    def api(self) -> str:
        """The REST API's base URL."""
        return f"http://127.0.0.1:{self.api_port}/api/v1"

    @property
    def admin_session(self) -> str:
        return f"oneadmin:{self.admin_password}"

    def start(self, ready_timeout: float = 20.0) -> "Nubod":
        """Starts nubod on a fresh data dir (and a fresh database with
        NUBO_TEST_DATABASE) and a free port."""
        binary = self.binary or nubod_binary()
        if not binary.is_file():
            pytest.fail(f"nubod binary not found at {binary}; run `cargo build -p nubo-nubod` "
                        f"or set NUBOD_BIN", pytrace=False)
        self.binary = binary
        self.tmp = Path(tempfile.mkdtemp(prefix="nubo-compat-"))
        (self.tmp / "data").mkdir()
        (self.tmp / "home").mkdir()
        for relative, text in self.home_files.items():
            path = self.tmp / "home" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.port = free_port()
        self.api_port = free_port()
        if "--router" in self.extra_args:
            self.router_port = int(self.extra_args[self.extra_args.index("--router") + 1]
                                   .rsplit(":", 1)[1])
        else:
            self.router_port = free_port()
        if not self.host_api:
            self.host_api = f"127.0.0.1:{free_port()}"
        pg = os.environ.get("NUBO_TEST_DATABASE")
        if pg:
            self.db = PgDatabase(pg)
            self.db.create()
        self.stderr_path = self.tmp / "nubod.stderr"
        self._spawn(ready_timeout)
        return self

    def kill(self) -> None:
        """kill -9: nubod gets no chance to flush or shut down. The data dir, the database
        and the port are kept for ``restart``."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=15)

    def restart(self, ready_timeout: float = 20.0) -> "Nubod":
        """Starts nubod again on the same data dir, database and port (after ``kill``, a
        crash or a clean ``proc`` exit); its output is appended to the same log files."""
        if self.alive():
            raise RuntimeError("nubod is still running; kill() it first")
        self.restarts += 1
        with open(self.stderr_path, "ab") as f:
            f.write(f"\n===== test harness: restart #{self.restarts} =====\n".encode())
        self._spawn(ready_timeout)
        return self

    def _spawn(self, ready_timeout: float) -> None:
        args = [str(self.binary), "--data-dir", str(self.tmp / "data"),
                "--xmlrpc", f"127.0.0.1:{self.port}",
                "--host-api", f"{self.host_api}",
                "--api", f"127.0.0.1:{self.api_port}",
                *([] if "--router" in self.extra_args
                  else ["--router", f"127.0.0.1:{self.router_port}"]),
                "--sim-delay-ms", "20", "--monitor-interval", str(self.monitor_interval),
                *self.extra_args]
        if self.config:
            (self.tmp / "nubod.toml").write_text(self.config)
            args += ["--config", str(self.tmp / "nubod.toml")]
        if self.db is not None:
            args += ["--database", self.db.url]
        env = dict(os.environ)
        env["NUBO_ADMIN_PASSWORD"] = self.admin_password
        env["HOME"] = str(self.tmp / "home")
        env.setdefault("RUST_BACKTRACE", "1")
        with open(self.tmp / "nubod.stdout", "ab") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)
        deadline = time.monotonic() + ready_timeout
        last_err = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail_start(f"nubod exited with status {self.proc.returncode}")
            try:
                ret = raw_call(self.endpoint, "one.system.version", self.admin_session)
                if isinstance(ret, list) and ret and ret[0] is True:
                    return
                last_err = f"unexpected reply {ret!r}"
            except Exception as e:  # noqa: BLE001 - not ready yet
                last_err = repr(e)
            time.sleep(0.1)
        self._fail_start(f"nubod did not answer one.system.version within {ready_timeout}s ({last_err})")

    def stderr_tail(self, limit: int = 6000) -> str:
        try:
            data = self.stderr_path.read_bytes() if self.stderr_path else b""
        except OSError:
            data = b""
        return data[-limit:].decode("utf-8", "replace")

    def _fail_start(self, why: str):
        tail = self.stderr_tail()
        self.stop()
        pytest.fail(f"{why}\n--- nubod stderr ---\n{tail}", pytrace=False)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def halt(self) -> None:
        """SIGTERM (SIGKILL after 15 s): nubod stops; its data dir and database are kept."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def stop(self) -> None:
        self.halt()
        if self.db is not None:
            self.db.drop()
            self.db = None
        if self.tmp is not None and os.environ.get("NUBO_COMPAT_KEEP") is None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def admin(self) -> ValidatingOneServer:
        return connect(self.endpoint, self.admin_session)


@dataclass
class TestUser:
    id: int
    name: str
    password: str
    one: ValidatingOneServer

    @property
    def session(self) -> str:
        return f"{self.name}:{self.password}"


def acl_hex(rule: str):
    """'#5 IMAGE/#3 USE' -> the hex strings one.acl.addrule takes (pyone's parser)."""
    return pyone.acl.OneAcl().parse_rule(rule)


@contextlib.contextmanager
def acl_rule(one: ValidatingOneServer, rule: str):
    """Add an ACL rule for the duration of a block."""
    rid = one.acl.addrule(*acl_hex(rule))
    try:
        yield rid
    finally:
        one.acl.delrule(rid)
