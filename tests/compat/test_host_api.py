"""nubod's API for host agents (--host-api), spoken here without an agent: every request
must be signed with the secret of the host it names, every answer is signed back, an
agent gets only the images of VMs on its host, and sends only the image a disk-saveas of
a VM on its host is making, checked against the digest it announced."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import time

import pytest

from onehelpers import Nubod, uniq, wait_for


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def mac(secret: str, *parts: str) -> str:
    return hmac.new(secret.encode(), "\n".join(parts).encode(), hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def front():
    # nubod asks its hosts once at their creation, then hourly: what else it learns comes
    # from the reports pushed here.
    d = Nubod(monitor_interval=3600).start()
    yield d
    d.stop()


def secret_of(d: Nubod, host: str) -> str:
    return subprocess.run([str(d.binary), "--data-dir", str(d.tmp / "data"), "host-secret", host],
                          capture_output=True, text=True, check=True, timeout=30).stdout.strip()


def call(d: Nubod, method: str, path: str, host: str = "", secret: str | None = None,
         body: bytes = b"", digest: str | None = None, sign_digest: str | None = None):
    """One request; signed with `secret` over `sign_digest` (default: the announced digest,
    else the body's). Answers (status, body, request signature, answer signature)."""
    headers = {"x-nubo-host": host}
    signature = ""
    if secret is not None:
        date = str(int(time.time()))
        over = sign_digest or digest or sha(body)
        signature = mac(secret, "request", method, path, date, over)
        headers.update({"x-nubo-date": date, "x-nubo-signature": signature})
    if digest is not None:
        headers["x-nubo-sha256"] = digest
    addr, port = d.host_api.rsplit(":", 1)
    conn = http.client.HTTPConnection(addr, int(port), timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read(), signature, r.getheader("x-nubo-signature")
    finally:
        conn.close()


def signed_by(secret: str, request_signature: str, status: int, body: bytes, got: str | None):
    return got == mac(secret, "response", request_signature, str(status), sha(body))


def test_requests_must_be_signed_by_the_host_they_name(front):
    one = front.admin()
    name = uniq("api-host")
    one.host.allocate(name, "dummy", "dummy", -1)
    secret = secret_of(front, name)
    status, _, _, _ = call(front, "GET", "/v1/images/0", host=name)
    assert status == 401
    status, _, _, _ = call(front, "GET", "/v1/images/0", host=name, secret="0" * 64)
    assert status == 401
    other = uniq("other")
    one.host.allocate(other, "dummy", "dummy", -1)
    status, _, _, _ = call(front, "GET", "/v1/images/0", host=other, secret=secret)
    assert status == 401, "a host's secret does not sign for another host"
    # A body declared larger than the limit is refused before it is sent (the client that
    # goes on writing it finds the connection closed).
    port = int(front.host_api.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"POST /v1/hello HTTP/1.1\r\nHost: x\r\nX-Nubo-Host: {name}\r\n"
                  f"Content-Length: {(5 << 20) + 2}\r\n\r\n{{".encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 413")


def test_an_agent_gets_only_images_of_vms_on_its_host(front):
    one = front.admin()
    name = uniq("api-host")
    one.host.allocate(name, "dummy", "dummy", -1)
    secret = secret_of(front, name)
    img = one.image.allocate(f'NAME="{uniq("img")}"\nTYPE="DATABLOCK"\nSIZE="4"', 1)
    wait_for(lambda: one.image.info(img).STATE == 1, what="image READY")
    status, body, req_sig, answer_sig = call(front, "GET", f"/v1/images/{img}", host=name,
                                             secret=secret)
    assert status == 403 and b"no VM on host" in body, body
    assert signed_by(secret, req_sig, status, body, answer_sig), "the refusal is signed"


def test_an_agent_sends_only_the_image_its_vm_is_saving_and_only_intact(front):
    one = front.admin()
    name = uniq("saver-host")
    hid = one.host.allocate(name, "dummy", "dummy", -1)
    # The simulated DISKSAVEAS takes long enough for the uploads below.
    one.host.update(hid, 'SIM_DISKSAVEAS="success 20"', 1)
    wait_for(lambda: one.host.info(hid).STATE == 2, what="host MONITORED")
    secret = secret_of(front, name)
    src = one.image.allocate(f'NAME="{uniq("src")}"\nTYPE="DATABLOCK"\nSIZE="4"', 1)
    wait_for(lambda: one.image.info(src).STATE == 1, what="image READY")
    vid = one.vm.allocate(f'CPU="0.1"\nMEMORY="64"\nDISK=[IMAGE_ID="{src}"]\n'
                          f'SCHED_REQUIREMENTS="ID = {hid}"', False)
    wait_for(lambda: one.vm.info(vid).LCM_STATE == 3, what="VM RUNNING")

    status, body, _, _ = call(front, "PUT", f"/v1/images/{src}", host=name, secret=secret,
                              body=b"x", digest=sha(b"x"))
    assert status == 403, "a READY image is not written"

    new = one.vm.disksaveas(vid, 0, uniq("copy"), "", -1)
    assert one.image.info(new).STATE == 4  # LOCKED while the disk is copied
    target = one.image.info(new).SOURCE
    path = f"/v1/images/{new}"
    content = os.urandom(300_000)

    status, body, _, _ = call(front, "PUT", path, host=name, secret=secret, body=content)
    assert status == 400 and b"SHA-256" in body, "the digest must be announced"
    status, body, _, _ = call(front, "PUT", path, host=name, secret=secret, body=content,
                              digest=sha(content), sign_digest=sha(b"other"))
    assert status == 401, "the signature covers the announced digest"
    status, body, req_sig, answer_sig = call(front, "PUT", path, host=name, secret=secret,
                                             body=content + b"!", digest=sha(content))
    assert status == 400 and b"arrived damaged" in body, body
    assert signed_by(secret, req_sig, status, body, answer_sig)
    assert not os.path.exists(target), "nothing damaged is kept"

    other = uniq("bystander")
    one.host.allocate(other, "dummy", "dummy", -1)
    status, body, _, _ = call(front, "PUT", path, host=other, secret=secret_of(front, other),
                              body=content, digest=sha(content))
    assert status == 403, "only the VM's host sends its disk"

    status, body, req_sig, answer_sig = call(front, "PUT", path, host=name, secret=secret,
                                             body=content, digest=sha(content))
    assert status == 200, body
    assert signed_by(secret, req_sig, status, body, answer_sig)
    with open(target, "rb") as f:
        assert f.read() == content
    assert not os.path.exists(target + ".upload")
    wait_for(lambda: one.image.info(new).STATE == 1, timeout=40, what="the copy READY")


def test_a_pushed_report_counts_for_a_vm_only_after_its_latest_operation(front):
    """A report that lacks a RUNNING VM makes it UNKNOWN only if the agent says it had
    carried out the VM's latest operation; with an older operation number it is ignored."""
    one = front.admin()
    name = uniq("pusher")
    hid = one.host.allocate(name, "dummy", "dummy", -1)
    wait_for(lambda: one.host.info(hid).STATE == 2, what="host MONITORED")
    secret = secret_of(front, name)
    vid = one.vm.allocate(f'CPU="0.1"\nMEMORY="64"\nSCHED_REQUIREMENTS="ID = {hid}"', False)
    wait_for(lambda: one.vm.info(vid).LCM_STATE == 3, what="VM RUNNING")

    def push(seq: int) -> int:
        report = {"hypervisor": "sim", "total_cpu": 800, "total_memory_kb": 1 << 24,
                  "used_cpu": 0, "used_memory_kb": 0,
                  "attributes": {"PUSHED_BY_TEST": str(seq)}, "vms": [],
                  "seqs": {str(vid): seq}}
        status, body, _, _ = call(front, "POST", "/v1/monitor", host=name, secret=secret,
                                  body=json.dumps(report).encode())
        assert status == 200, body
        return one.vm.info(vid).LCM_STATE

    ignored = []
    for seq in range(0, 20):
        if push(seq) == 16:  # UNKNOWN
            break
        assert one.host.info(hid).TEMPLATE["PUSHED_BY_TEST"] == str(seq), "the host part counts"
        ignored.append(seq)
    else:
        pytest.fail("no pushed report made the vanished VM UNKNOWN")
    assert ignored, "reports made before the VM's latest operation were ignored"

    status, _, _, _ = call(front, "POST", "/v1/monitor", host=name, secret=secret,
                           body=b"{not json")
    assert status == 400
