"""TLS where configured: nubod's host API and two nubo-hostd serve TLS with a certificate
from a test authority they all trust. nubod drives the agents over https, the agents
fetch images from nubod and a VM's files from each other over https, plain HTTP gets no
answer, an agent whose certificate nubod does not trust is refused, and images import
from https:// URLs checked against nubod's trusted authorities."""

from __future__ import annotations

import http.client
import http.server
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hostd import guest_dir, import_guest_image, kernel_boot, lab_cloud, wait_state
from onehelpers import LOCAL_URLS, tmpl, uniq, wait_for

ACTIVE, DONE, RUNNING = 3, 6, 3
HOST_MONITORED, HOST_ERROR = 2, 3
LAB = 7


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_pki(tmp: Path, name: str, ips: list[str]) -> tuple[Path, Path, Path]:
    """A certificate authority and a server certificate for `ips`: (cert, key, ca)."""
    ca, ca_key = tmp / f"{name}-ca.pem", tmp / f"{name}-ca.key"
    cert, key, csr = tmp / f"{name}.pem", tmp / f"{name}.key", tmp / f"{name}.csr"
    ext = tmp / f"{name}.ext"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
            "-subj", f"/CN={name} test authority")
    openssl("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
    ext.write_text("subjectAltName=" + ",".join(f"IP:{ip}" for ip in ips) + "\n"
                   "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return cert, key, ca


@pytest.fixture(scope="module")
def guest():
    return guest_dir()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pki")
    ips = [f"10.213.{LAB}.1", *(f"10.213.{LAB}.{10 + n}" for n in range(1, 5)), "127.0.0.1"]
    return {"lab": make_pki(tmp, "lab", ips), "rogue": make_pki(tmp, "rogue", ips)}


@pytest.fixture(scope="module")
def cloud(guest, pki):
    # Its image server listens on 127.0.0.1: nubod must allow local URLs.
    with lab_cloud(index=LAB, hosts=2, tls=pki["lab"], nubod_config=LOCAL_URLS) as (d, lab, hosts):
        yield d, lab, hosts


def test_nubod_and_agents_speak_tls_both_ways(cloud, guest):
    d, lab, (h1, h2) = cloud
    one = d.admin()
    id1, id2 = h1.host_id(one), h2.host_id(one)  # MONITORED over https, endpoint https://
    assert one.host.info(id1).TEMPLATE["HOSTD_ENDPOINT"].startswith("https://")
    with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
        urllib.request.urlopen(f"http://{h1.addr}:{h1.port}/v1/monitor", timeout=10).read()

    img = import_guest_image(one, guest, "boot")
    vid = one.vm.allocate(
        f'NAME="{uniq("sealed")}"\nCPU="0.5"\nMEMORY="128"\nDISK=[IMAGE_ID="{img}"]\n'
        f'SCHED_REQUIREMENTS="ID = {id1}"', False)
    wait_state(one, h1, vid, ACTIVE, RUNNING, timeout=120)  # image fetched over https
    assert list((h1.state_dir / "images").glob(f"{img}-*"))
    one.vm.action("poweroff-hard", vid)
    wait_state(one, h1, vid, 8)
    one.vm.migrate(vid, id2, False, False, -1, 0)  # files move agent to agent over https
    deadline = time.monotonic() + 120
    while not (h2.vm_dir(vid) / "disk.0").exists() or one.vm.info(vid).STATE != 8:
        assert time.monotonic() < deadline, f"not moved:\n{h2.log_tail()}"
        time.sleep(0.2)
    assert not h1.vm_dir(vid).exists()
    one.vm.action("terminate-hard", vid)
    wait_state(one, h2, vid, DONE)


def test_an_agent_whose_certificate_is_not_trusted_is_refused(cloud, pki):
    d, lab, _ = cloud
    one = d.admin()
    cert, key, _ = pki["rogue"]
    rogue = lab.add_host(d, tls=(cert, key, pki["lab"][2]))
    hid = one.host.allocate(rogue.name, "kvm", "kvm", -1)
    wait_for(lambda: "HOSTD_ENDPOINT" in one.host.info(hid).TEMPLATE, timeout=30,
             what="the rogue agent's hello (it trusts nubod)")

    def error() -> str:
        return str(tmpl(one.xml("host.info", hid), "ERROR") or "")
    wait_for(lambda: "certificate" in error().lower(), timeout=30,
             what="nubod refusing the agent's certificate")
    time.sleep(3)  # the agent keeps pushing reports: they do not make it MONITORED
    assert one.host.info(hid).STATE == HOST_ERROR and "certificate" in error().lower()


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def https_server(directory: Path, cert: Path, key: Path) -> tuple[http.server.HTTPServer, int]:
    handler = lambda *a, **k: _Files(*a, directory=str(directory), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def test_images_import_from_https_urls_checked_against_trusted_authorities(cloud, pki, tmp_path):
    d, _, _ = cloud
    one = d.admin()
    payload = bytes(range(256)) * 4096
    (tmp_path / "disk.raw").write_bytes(payload)
    good, port = https_server(tmp_path, *pki["lab"][:2])
    bad, bad_port = https_server(tmp_path, *pki["rogue"][:2])
    try:
        img = one.image.allocate(
            f'NAME="{uniq("https")}"\nTYPE="DATABLOCK"\n'
            f'PATH="https://127.0.0.1:{port}/disk.raw"', 1)
        wait_for(lambda: one.image.info(img).STATE == 1, timeout=60, what="image READY")
        assert Path(one.image.info(img).SOURCE).read_bytes() == payload
        with pytest.raises(Exception) as refused:
            one.image.allocate(
                f'NAME="{uniq("rogue")}"\nTYPE="DATABLOCK"\n'
                f'PATH="https://127.0.0.1:{bad_port}/disk.raw"', 1)
        assert "certificate" in str(refused.value).lower(), refused.value
    finally:
        good.shutdown()
        bad.shutdown()
