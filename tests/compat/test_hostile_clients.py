"""Hostile clients against a real nubod: its listeners (XML-RPC, EC2, host agents) refuse
oversized bodies before reading them, cut off idle, slow and stalled clients, refuse
connections over their limit cleanly, keep all unfinished bodies together within one memory
budget, answer a body cut short as a bad request, and keep serving everyone else. SIGTERM
stops nubod within seconds whatever its clients are doing.

nubod runs with small limits here (``[limits]`` in its config) so the tests are quick; the
defaults are the same mechanism with larger numbers (docs/security.md).
"""

from __future__ import annotations

import signal
import socket
import threading
import time

import pytest

from onehelpers import Nubod, free_port, parse_method_response, raw_call, uniq

HEADER_TIMEOUT = 2
BODY_IDLE = 2
MAX_CONNECTIONS = 40
XMLRPC_LIMIT = 32 * 1024 * 1024
BUDGET = 64 * 1024 * 1024

CONFIG = f"""
[xmlrpc]
max_body_bytes = {XMLRPC_LIMIT}

[limits]
max_connections = {MAX_CONNECTIONS}
header_timeout_s = {HEADER_TIMEOUT}
body_idle_timeout_s = {BODY_IDLE}
body_timeout_s = 30
body_memory_bytes = {BUDGET}
"""


def start_nubod(tmp_path_factory) -> Nubod:
    cfg = tmp_path_factory.mktemp("hostile") / "nubod.toml"
    cfg.write_text(CONFIG)
    d = Nubod(extra_args=["--config", str(cfg), "--ec2", f"127.0.0.1:{free_port()}"])
    return d.start()


@pytest.fixture(scope="module")
def nubod(tmp_path_factory):
    d = start_nubod(tmp_path_factory)
    yield d
    alive = d.alive()
    tail = d.stderr_tail()
    d.stop()
    assert alive, f"nubod died\n{tail}"


def ec2_port(d: Nubod) -> int:
    return int(d.extra_args[-1].rsplit(":", 1)[1])


def host_api_port(d: Nubod) -> int:
    return int(d.host_api.rsplit(":", 1)[1])


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def head(path: str, length: int, content_type: str = "text/xml") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def read_reply(s: socket.socket, wait: float = 10.0) -> bytes:
    """What the server sends until it closes the connection or pauses after a reply."""
    s.settimeout(wait)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head_, _, body = out.partition(b"\r\n\r\n")
                for line in head_.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(body) >= int(line.split(b":")[1]):
                            return out
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def closed_within(s: socket.socket, seconds: float) -> bool:
    """Whether the server closes `s` (after anything it says) within `seconds`."""
    s.settimeout(seconds)
    try:
        while s.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def fault_of(reply: bytes):
    _, _, body = reply.partition(b"\r\n\r\n")
    params, fault = parse_method_response(body)
    assert fault is not None, reply[:400]
    return fault


def serving(d: Nubod) -> bool:
    return raw_call(d.endpoint, "one.system.version", d.admin_session)[0] is True


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_declared_oversize_is_refused_before_the_body(nubod):
    # XML-RPC: a fault at once, though not a byte of the 100 MB body was sent.
    s = connect(nubod.port)
    s.sendall(head("/RPC2", 100_000_000) + b"<?xml")
    fault = fault_of(read_reply(s))
    assert fault.faultCode == -509 and "larger than the limit" in fault.faultString
    # EC2: 413 RequestEntityTooLarge.
    s = connect(ec2_port(nubod))
    s.sendall(head("/", 100_000_000, "application/x-www-form-urlencoded") + b"Action=")
    reply = read_reply(s)
    assert reply.startswith(b"HTTP/1.1 413") and b"RequestEntityTooLarge" in reply, reply[:300]
    # The host agents' API: 413 before any signature is checked.
    s = connect(host_api_port(nubod))
    s.sendall(head("/v1/monitor", 100_000_000, "application/json") + b"{")
    assert read_reply(s).startswith(b"HTTP/1.1 413")
    assert serving(nubod)


def test_a_body_cut_short_is_a_bad_request(nubod):
    s = connect(nubod.port)
    s.sendall(head("/RPC2", 1000) + b"<?xml version='1.0'?><methodCall>")
    s.shutdown(socket.SHUT_WR)
    reply = read_reply(s)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:300]
    fault = fault_of(reply)
    assert fault.faultCode == -503 and "ended before it was complete" in fault.faultString


def test_a_stalled_body_is_given_up(nubod):
    s = connect(nubod.port)
    s.sendall(head("/RPC2", 1000) + b"<?xml version='1.0'?>")
    reply = read_reply(s, wait=BODY_IDLE + 8)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:300]
    assert "did not arrive in time" in fault_of(reply).faultString


def test_idle_and_slow_connections_are_closed_while_others_are_served(nubod):
    idle = [connect(nubod.port) for _ in range(20)]
    slow = []
    for port in (nubod.port, ec2_port(nubod), host_api_port(nubod)):
        for _ in range(3):
            s = connect(port)
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(s)
    kept = connect(nubod.port)
    body = b"<?xml version='1.0'?><methodCall><methodName>one.system.version</methodName><params/></methodCall>"
    kept.sendall(head("/RPC2", len(body)) + body)
    assert b"HTTP/1.1 200" in read_reply(kept)
    # Everyone else is served meanwhile.
    assert serving(nubod)
    for s in idle + slow + [kept]:
        assert closed_within(s, HEADER_TIMEOUT + 8), "a connection outlived the header timeout"


def test_connections_over_the_limit_are_refused_cleanly_and_the_listener_recovers(nubod):
    held = [connect(nubod.port) for _ in range(MAX_CONNECTIONS + 20)]
    time.sleep(0.3)
    refused = 0
    for s in held:
        s.setblocking(False)
        try:
            if s.recv(4096).startswith(b"HTTP/1.1 503"):
                refused += 1
        except BlockingIOError:
            pass
        s.setblocking(True)
    assert refused >= 20, f"only {refused} of the connections over the limit were refused"
    for s in held:
        assert closed_within(s, HEADER_TIMEOUT + 8)
    assert serving(nubod)


def test_unfinished_uploads_stay_within_the_memory_budget(nubod):
    pid = nubod.proc.pid
    before = rss_kib(pid)
    size = 30 * 1024 * 1024
    chunk = b"x" * (1024 * 1024)
    socks = [connect(nubod.port) for _ in range(16)]
    peak = [before]

    def upload(s: socket.socket):
        # Everything but the last byte, then hold on.
        try:
            s.sendall(head("/RPC2", size))
            for _ in range(size // len(chunk) - 1):
                s.sendall(chunk)
            s.sendall(chunk[:-1])
        except OSError:
            pass  # refused (busy) before the whole body went

    threads = [threading.Thread(target=upload, args=(s,), daemon=True) for s in socks]
    for t in threads:
        t.start()
    for _ in range(30):
        peak.append(rss_kib(pid))
        time.sleep(0.05)
    for t in threads:
        t.join(timeout=20)
    peak.append(rss_kib(pid))
    grown_mib = (max(peak) - before) / 1024
    # 16 bodies of 30 MiB are 480 MiB; the budget lets 64 MiB in (two bodies).
    assert grown_mib < BUDGET / 2**20 + 64, f"RSS grew by {grown_mib:.0f} MiB"
    busy = 0
    for s in socks:
        reply = read_reply(s, wait=BODY_IDLE + 8)
        if b"too many large requests" in reply:
            busy += 1
    assert busy >= 10, f"only {busy} uploads were refused as over the budget"
    assert serving(nubod)


def test_deep_nesting_is_refused_and_nubod_serves_on(nubod):
    depth = 100_000
    body = (b"<?xml version='1.0'?><methodCall><methodName>one.system.version</methodName>"
            b"<params><param>" + b"<value><array><data>" * depth + b"</data></array></value>" * depth
            + b"</param></params></methodCall>")
    s = connect(nubod.port)
    s.sendall(head("/RPC2", len(body)) + body)
    assert fault_of(read_reply(s)).faultCode == -503
    assert serving(nubod)


def test_sigterm_stops_nubod_within_seconds_whatever_clients_do(tmp_path_factory):
    d = start_nubod(tmp_path_factory)
    try:
        held = [connect(d.port) for _ in range(10)]
        stalled = connect(d.port)
        stalled.sendall(head("/RPC2", 1000) + b"<?xml")
        one = raw_call(d.endpoint, "one.template.allocate", d.admin_session, f'NAME="{uniq("t")}"')
        assert one[0] is True
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait(timeout=30)  # raises if nubod hangs on its clients
        del held
    finally:
        d.stop()
