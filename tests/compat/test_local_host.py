"""The local host (`nubod --local-host`): nubod makes this machine a host of its own cloud.

nubod creates host local-lxc (and local-kvm when QEMU is installed), runs a nubo-hostd
per host bound to 127.0.0.1, which pushes reports so the hosts go MONITORED; an agent
that dies is started again; stopping nubod stops its agents. With root and runc, the
container stack registered as image debian-12 (the one scripts/build-stack.sh makes,
NUBO_TEST_STACK, else a busybox ext4 image made here and passed with --stack) runs a VM
with SCHED_REQUIREMENTS="HYPERVISOR=lxc" to RUNNING, whose init says it is ready on the
console (the Debian stack's after running the context's START_SCRIPT once).

The apps network: nubod makes network local-apps (bridge nubo-apps, 10.247.0.0/24, usable
by every user) and, as root, puts the bridge with the gateway's address on this machine
and masquerades the subnet's outbound traffic (nftables table ip nubo-local-nat), once
however often it starts. A container a user puts on it reaches PyPI over HTTPS (with the
host's CA bundle handed in: the machine's TLS-intercepting proxy is not in Debian's store)
and serves HTTP that this process, on the host, fetches from the container's address.

Environment:
  NUBO_TEST_STACK      the container stack (default target/stack/debian-12.raw if built)
  NUBO_REQUIRE_GUESTS  1: fail instead of skipping when root, runc or mke2fs is missing
  NUBO_PG_GUESTS       1: run the container on PostgreSQL too (else only on SQLite, as
                       scripts/test runs the real-guest modules)
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from onehelpers import REPO_ROOT, Nubod, connect, raw_call, uniq, wait_for

HOST_MONITORED = 2
PENDING, ACTIVE, DONE = 1, 3, 6
RUNNING = 3
IMAGE_READY = 1
# LCM states a deploy ends in when it fails (BOOT_FAILURE, PROLOG_FAILURE, UNKNOWN)
FAILURES = (36, 39, 16)

# The busybox stack's /sbin/init: what the Debian stack's nubo-init prints, then waits.
BUSYBOX_INIT = """#!/bin/sh
trap 'exit 0' TERM
echo "nubo-init: ready"
while :; do sleep 1 & wait $!; done
"""


def _guests_missing() -> list[str]:
    missing = []
    if os.geteuid() != 0:
        missing.append("root")
    for tool in ("runc", "mke2fs"):
        if shutil.which(tool) is None:
            missing.append(tool)
    return missing


def _need_guests() -> None:
    missing = _guests_missing()
    if missing:
        why = "containers cannot run here, missing: " + ", ".join(missing)
        if os.environ.get("NUBO_REQUIRE_GUESTS") == "1":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)


def _static_busybox() -> str | None:
    bb = shutil.which("busybox")
    if bb is None:
        return None
    r = subprocess.run(["ldd", bb], capture_output=True, text=True)
    return bb if "not a dynamic" in r.stdout + r.stderr else None


def _busybox_stack(work: Path) -> Path | None:
    """A small ext4 root filesystem: a static busybox, its applets and BUSYBOX_INIT."""
    bb = _static_busybox()
    if bb is None or shutil.which("mke2fs") is None:
        return None
    root = work / "root"
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "context"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(bb, root / "bin" / "busybox")
    for applet in ("sh", "sleep", "echo", "cat", "ls"):
        (root / "bin" / applet).symlink_to("busybox")
    init = root / "sbin" / "init"
    init.write_text(BUSYBOX_INIT)
    init.chmod(0o755)
    image = work / "busybox.raw"
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "busybox", "-d", str(root),
                    str(image), "16M"], check=True, capture_output=True, timeout=60)
    return image


def _stack(work: Path) -> Path | None:
    env = os.environ.get("NUBO_TEST_STACK")
    if env:
        path = Path(env)
        if not path.is_absolute():
            path = REPO_ROOT / path
        return path if path.is_file() else None
    built = REPO_ROOT / "target" / "stack" / "debian-12.raw"
    if built.is_file():
        return built
    return _busybox_stack(work)


@pytest.fixture(scope="module")
def cloud():
    """nubod with --local-host (and --stack when a stack is at hand)."""
    work = Path(tempfile.mkdtemp(prefix="nubo-local-host-"))
    stack = _stack(work) if not _guests_missing() else None
    had_network = _bridge_exists(), _nat_table() is not None
    args = ["--local-host"] + (["--stack", str(stack)] if stack else [])
    d = Nubod(extra_args=args).start()
    # containers run as an unprivileged user, who must reach the agent's state directory
    # under the data dir: mkdtemp made nubod's directory 0700
    d.tmp.chmod(0o711)
    d.stack = stack
    yield d
    one = d.admin()
    for vm in one.vmpool.info(-2, -1, -1, -1).VM:
        try:
            one.vm.action("terminate-hard", vm.ID)
        except Exception:  # noqa: BLE001 - best effort
            pass
    if stack is not None:
        wait_for(lambda: not one.vmpool.info(-2, -1, -1, -1).VM, timeout=60, what="VMs gone")
    d.stop()
    shutil.rmtree(work, ignore_errors=True)
    _remove_apps_network(*had_network)


def _data(d: Nubod) -> Path:
    return d.tmp / "data"


def _hosts(one) -> dict:
    return {h.NAME: h for h in one.hostpool.info().HOST}


def _agent_pid(d: Nubod, name: str) -> int | None:
    try:
        pid = int((_data(d) / "local-hosts" / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def _expected_hosts() -> list[str]:
    return ["local-lxc"] + (["local-kvm"] if shutil.which("qemu-system-x86_64") else [])


def _agent_log(d: Nubod, name: str) -> str:
    try:
        return (_data(d) / "local-hosts" / f"{name}.log").read_text()[-4000:]
    except OSError:
        return ""


def _monitored(one, name: str) -> bool:
    return _hosts(one).get(name) is not None and _hosts(one)[name].STATE == HOST_MONITORED


# The apps network.

APPS_NETWORK, APPS_BRIDGE, NAT_TABLE = "local-apps", "nubo-apps", "nubo-local-nat"
SUBNET, GATEWAY = "10.247.0.0", "10.247.0.1"


def _host_net_missing() -> list[str]:
    missing = [] if os.geteuid() == 0 else ["root"]
    return missing + [tool for tool in ("ip", "nft") if shutil.which(tool) is None]


def _need_host_net() -> None:
    missing = _host_net_missing()
    if missing:
        why = "nubod cannot set up the apps network here, missing: " + ", ".join(missing)
        if os.environ.get("NUBO_REQUIRE_GUESTS") == "1":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)


def _bridge_exists() -> bool:
    return Path(f"/sys/class/net/{APPS_BRIDGE}").exists()


def _bridge() -> dict | None:
    """`ip -j addr show` of the bridge, or None."""
    r = subprocess.run(["ip", "-j", "addr", "show", "dev", APPS_BRIDGE],
                       capture_output=True, text=True)
    return json.loads(r.stdout)[0] if r.returncode == 0 and r.stdout.strip() else None


def _nat_table() -> str | None:
    """`nft list table ip nubo-local-nat`, or None without it (or without nft)."""
    if shutil.which("nft") is None or os.geteuid() != 0:
        return None
    r = subprocess.run(["nft", "list", "table", "ip", NAT_TABLE], capture_output=True,
                       text=True)
    return r.stdout if r.returncode == 0 else None


def _other_local_hosts() -> list[int]:
    """Pids of running nubods with --local-host (this module's are stopped by now)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"nubod") and b"--local-host" in argv:
            pids.append(int(proc.name))
    return pids


def _remove_apps_network(had_bridge: bool, had_table: bool) -> None:
    """Takes away the bridge and the NAT table this module's nubods made, unless they were
    there before, something still uses the bridge, or another local host runs on this
    machine (they are one machine's, shared by every local host on it; a run that left
    them behind harms nothing: the next start takes them as they are)."""
    if os.geteuid() != 0 or _other_local_hosts():
        return
    if _bridge_exists() and subprocess.run(
            ["ip", "-o", "link", "show", "master", APPS_BRIDGE],
            capture_output=True, text=True).stdout.strip():
        return
    if not had_table and _nat_table() is not None:
        subprocess.run(["nft", "delete", "table", "ip", NAT_TABLE], capture_output=True)
    if not had_bridge and _bridge_exists():
        subprocess.run(["ip", "link", "del", "dev", APPS_BRIDGE], capture_output=True)


def _sweep_containers(nubod) -> list[str]:
    """Stops what a stopped cloud's local container host left running (it should leave
    nothing: a leftover keeps its address on the shared apps bridge, which a later cloud
    hands out again) and unmounts what its containers left; the network namespaces it
    found in use."""
    return sweep_agent(nubod.tmp / "data" / "local-hosts" / "local-lxc", nubod.tmp)


def sweep_agent(state: Path, under: Path) -> list[str]:
    """Stops what the container agent with state directory `state` left (processes in its
    network namespaces, named with the driver's `agent_key` of `state`, and the
    namespaces) and unmounts everything under `under`; the namespaces found in use."""
    key = hashlib.sha256(str(state).encode()).hexdigest()[:8]
    found = []
    netns = Path("/run/netns")
    for ns in sorted(p.name for p in netns.iterdir()) if netns.is_dir() else []:
        if not ns.startswith(f"nubo-{key}-"):
            continue
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                              text=True).stdout.split()
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGKILL)
        if pids:
            found.append(ns)
        subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=30)
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
              if line.split()[1].startswith(f"{under}/")]
    for mount in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True, timeout=30)
    return found


def _host_dns() -> str | None:
    """The DNS nubod gives the network: the host's IPv4 nameservers but loopback ones."""
    for path in ("/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"):
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        found = []
        for line in lines:
            words = line.split()
            if len(words) >= 2 and words[0] == "nameserver" and "." in words[1] \
                    and not words[1].startswith("127.") and words[1] != "0.0.0.0" \
                    and words[1] not in found:
                found.append(words[1])
        if found:
            return " ".join(found)
    return None


def _apps_networks(one) -> list:
    return [n for n in one.vnpool.info(-2, -1, -1).VNET if n.NAME == APPS_NETWORK]


def _user(d: Nubod, group: int | None = None):
    """A new core user (of group `group`, else users) and a connection as them."""
    name, password = uniq("u"), "p-" + uniq("pw")
    args = [name, password, "core"] + ([[group]] if group is not None else [])
    uid = d.admin().call("user.allocate", *args)
    return uid, connect(d.endpoint, f"{name}:{password}")


def test_hosts_are_made_and_monitored(cloud):
    one = cloud.admin()
    hosts = _hosts(one)
    for name in _expected_hosts():
        assert name in hosts, sorted(hosts)
        driver = "lxc" if name == "local-lxc" else "kvm"
        assert (hosts[name].IM_MAD, hosts[name].VM_MAD) == (driver, driver)
        wait_for(lambda n=name: _monitored(one, n), timeout=30,
                 what=f"{name} MONITORED\n{_agent_log(cloud, name)}\n{cloud.stderr_tail()}")
        endpoint = one.host.info(hosts[name].ID).TEMPLATE["HOSTD_ENDPOINT"]
        assert endpoint.startswith("http://127.0.0.1:"), endpoint
        secret = _data(cloud) / "local-hosts" / f"{name}.secret"
        assert secret.stat().st_mode & 0o777 == 0o600
        assert (_data(cloud) / "local-hosts" / name).is_dir()


def test_agents_listen_on_loopback_only(cloud):
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is missing")
    for name in _expected_hosts():
        pid = wait_for(lambda n=name: _agent_pid(cloud, n), timeout=20, what=f"{name}'s agent")
        out = subprocess.run(["ss", "-Htlnp"], capture_output=True, text=True, check=True).stdout
        mine = [line.split()[3] for line in out.splitlines() if f"pid={pid}," in line]
        assert mine, out
        assert all(addr.startswith("127.0.0.1:") for addr in mine), mine


def test_a_killed_agent_is_started_again(cloud):
    one = cloud.admin()
    wait_for(lambda: _monitored(one, "local-lxc"), timeout=30, what="local-lxc MONITORED")
    pid = wait_for(lambda: _agent_pid(cloud, "local-lxc"), timeout=20, what="the agent")
    os.kill(pid, signal.SIGKILL)
    new = wait_for(lambda: (p := _agent_pid(cloud, "local-lxc")) and p != pid and p,
                   timeout=30, what="a new agent")
    assert new != pid
    hid = _hosts(one)["local-lxc"].ID
    wait_for(lambda: one.host.info(hid).STATE == HOST_MONITORED, timeout=30,
             what="local-lxc MONITORED again")
    assert cloud.alive()


def _console(d: Nubod, vid: int) -> str:
    ret = raw_call(d.endpoint, "one.vm.console", d.admin_session, vid, 0)
    if not (isinstance(ret, list) and ret and ret[0] is True):
        return ""
    xml = ret[1]
    start, end = xml.find("<DATA>"), xml.find("</DATA>")
    if start < 0 or end < 0:
        return ""
    return base64.b64decode(xml[start + 6:end]).decode("utf-8", "replace")


def test_a_container_from_the_stack_runs(cloud):
    if os.environ.get("NUBO_TEST_DATABASE") and os.environ.get("NUBO_PG_GUESTS") != "1":
        pytest.skip("containers run once, on SQLite (NUBO_PG_GUESTS=1 runs them here too)")
    _need_guests()
    if cloud.stack is None:
        why = ("no container stack: build it with scripts/build-stack.sh (or set "
               "NUBO_TEST_STACK), or install a static busybox")
        if os.environ.get("NUBO_REQUIRE_GUESTS") == "1":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    one = cloud.admin()

    def stack_image():
        images = [i for i in one.imagepool.info(-2, -1, -1).IMAGE if i.NAME == "debian-12"]
        return images[0] if images and images[0].STATE == IMAGE_READY else None

    img = wait_for(stack_image, timeout=120, what="image debian-12 READY")
    assert img.UNAME == "oneadmin" and img.PERSISTENT == 0 and img.TYPE == 0
    assert (img.PERMISSIONS.OWNER_U, img.PERMISSIONS.OTHER_U) == (1, 1)
    wait_for(lambda: _monitored(one, "local-lxc"), timeout=30, what="local-lxc MONITORED")
    vid = one.vm.allocate(
        'NAME="c1" CPU="0.5" MEMORY="256" '
        'DISK=[IMAGE="debian-12", IMAGE_UNAME="oneadmin"] '
        'SCHED_REQUIREMENTS="HYPERVISOR=lxc" '
        'CONTEXT=[GREETING="hi", START_SCRIPT_BASE64="'
        + base64.b64encode(b'#!/bin/sh\necho "start script says $GREETING"\n').decode()
        + '"]', False)

    def running():
        vm = one.vm.info(vid)
        if vm.STATE not in (PENDING, ACTIVE) or vm.LCM_STATE in FAILURES:
            pytest.fail(f"VM {vid} went to {vm.STATE}/{vm.LCM_STATE}: "
                        f"{vm.USER_TEMPLATE.get('ERROR')}\n{_agent_log(cloud, 'local-lxc')}",
                        pytrace=False)
        return (vm.STATE, vm.LCM_STATE) == (ACTIVE, RUNNING)

    try:
        wait_for(running, timeout=180, interval=0.5, what=f"VM {vid} RUNNING")
    except BaseException:
        vm = one.vm.info(vid)
        print(f"VM {vid}: {vm.STATE}/{vm.LCM_STATE} {dict(vm.USER_TEMPLATE)}\n"
              f"{_agent_log(cloud, 'local-lxc')}\n{cloud.stderr_tail()}")
        raise
    vm = one.vm.info(vid)
    assert vm.HISTORY_RECORDS.HISTORY[-1].HOSTNAME == "local-lxc"
    wait_for(lambda: "nubo-init: ready" in _console(cloud, vid), timeout=60, interval=0.5,
             what="nubo-init: ready on the console")
    if cloud.stack.name == "debian-12.raw":
        # the stack's nubo-init ran the context's START_SCRIPT with its variables, once
        console = _console(cloud, vid)
        assert console.count("start script says hi") == 1, console
        assert console.index("start script says hi") < console.index("nubo-init: ready")
    one.vm.action("terminate-hard", vid)
    wait_for(lambda: one.vm.info(vid).STATE == DONE, timeout=60, what=f"VM {vid} DONE")


def test_stopping_nubod_stops_its_agents():
    """A nubod of its own: stopped, it takes its agents with it; started again on the same
    data dir, it makes no second host."""
    had_network = _bridge_exists(), _nat_table() is not None
    d = Nubod(extra_args=["--local-host"]).start()
    try:
        pid = wait_for(lambda: _agent_pid(d, "local-lxc"), timeout=20, what="the agent")
        net = _apps_networks(d.admin())
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait(timeout=30)
        assert d.proc.returncode == 0, d.stderr_tail()
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=5, what="the agent gone")
        d.restart()
        names = [h.NAME for h in d.admin().hostpool.info().HOST]
        assert names.count("local-lxc") == 1, names
        # the apps network is reused and the host's NAT replaced, not added to
        assert [n.ID for n in _apps_networks(d.admin())] == [n.ID for n in net]
        if not _host_net_missing():
            table = _nat_table() or ""
            assert table.count("masquerade") == 1, table
            v4 = [a["local"] for a in (_bridge() or {}).get("addr_info", [])
                  if a["family"] == "inet"]
            assert v4 == [GATEWAY], v4
        wait_for(lambda: _agent_pid(d, "local-lxc"), timeout=20, what="the agent again")
    finally:
        d.stop()
        _remove_apps_network(*had_network)


def test_the_apps_network_is_made_for_every_user(cloud):
    """Network local-apps: oneadmin's, bridge nubo-apps, 10.247.0.0/24 from .2 for 250
    addresses, gateway .1, the host's nameservers, 604; a user of group users and one of a
    group outside the default VDC both take a lease on it."""
    one = cloud.admin()
    nets = _apps_networks(one)
    assert len(nets) == 1, [n.NAME for n in nets]
    net = one.vn.info(nets[0].ID)
    assert net.UNAME == "oneadmin" and net.VN_MAD == "bridge" and net.BRIDGE == APPS_BRIDGE
    t = net.TEMPLATE
    assert (t["NETWORK_ADDRESS"], t["NETWORK_MASK"], t["GATEWAY"]) == (
        SUBNET, "255.255.255.0", GATEWAY), dict(t)
    assert t.get("DNS") == _host_dns(), dict(t)
    ars = net.AR_POOL.AR
    assert len(ars) == 1 and (ars[0].TYPE, ars[0].IP, ars[0].SIZE) == ("IP4", "10.247.0.2", 250)
    p = net.PERMISSIONS
    assert (p.OWNER_U, p.OWNER_M, p.OWNER_A, p.GROUP_U, p.GROUP_M, p.GROUP_A,
            p.OTHER_U, p.OTHER_M, p.OTHER_A) == (1, 1, 0, 0, 0, 0, 1, 0, 0)

    # an outsider: a group whose default-VDC rule for networks is taken away
    outsiders = one.group.allocate(uniq("grp"))
    for rule in one.xml("acl.info").findall("ACL"):
        if rule.findtext("STRING", "").startswith(f"@{outsiders} NET/"):
            one.acl.delrule(int(rule.findtext("ID")))
    for group in (None, outsiders):
        _, user = _user(cloud, group)
        vid = user.vm.allocate(
            f'NAME="{uniq("held")}" CPU="0.1" MEMORY="64" '
            f'NIC=[NETWORK="{APPS_NETWORK}", NETWORK_UNAME="oneadmin"]', True)
        nic = user.vm.info(vid).TEMPLATE["NIC"]
        assert nic["IP"].startswith("10.247.0.") and nic["GATEWAY"] == GATEWAY, nic
        user.vm.action("terminate-hard", vid)
        wait_for(lambda v=vid: one.vm.info(v).STATE == DONE, timeout=30, what=f"VM {vid} DONE")


def test_the_host_carries_the_bridge_and_the_nat(cloud):
    """As root: bridge nubo-apps up with 10.247.0.1/24, IPv4 forwarding on, and table ip
    nubo-local-nat masquerading the subnet's traffic that leaves by another interface and
    keeping new connections from elsewhere out of the subnet."""
    _need_host_net()
    bridge = _bridge()
    assert bridge is not None, cloud.stderr_tail()
    assert "UP" in bridge["flags"], bridge
    v4 = [(a["local"], a["prefixlen"]) for a in bridge["addr_info"] if a["family"] == "inet"]
    assert v4.count((GATEWAY, 24)) == 1, v4
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"
    table = _nat_table()
    assert table is not None, cloud.stderr_tail()
    rule = f'ip saddr {SUBNET}/24 oifname != "{APPS_BRIDGE}" masquerade'
    assert table.count(rule) == 1, table
    assert table.count("masquerade") == 1, table
    # new connections forwarded into the subnet from elsewhere are dropped
    assert table.count(f'ip daddr {SUBNET}/24 iifname != "{APPS_BRIDGE}" ct state != '
                       '{ established, related } drop') == 1, table


def _exec(one, vid: int, command: str, stdin: bytes = b"", timeout: float = 60) -> dict:
    """one.vm.exec of `command` (shell words, no shell) in container `vid`; its result."""
    assert one.vm.exec(vid, command, base64.b64encode(stdin).decode()) == vid

    def info():
        e = one.xml("vm.info", vid).find("TEMPLATE/QEMU_GA_EXEC")
        return {c.tag: (c.text or "") for c in e} if e is not None else {}

    wait_for(lambda: info().get("STATUS") not in (None, "EXECUTING"), timeout=timeout,
             interval=0.5, what=f"{command[:60]!r} finished: {info()}")
    e = info()
    e["OUT"] = base64.b64decode(e.get("STDOUT", "")).decode(errors="replace")
    e["ERR"] = base64.b64decode(e.get("STDERR", "")).decode(errors="replace")
    return e


# Fetches PyPI's page of `six`, trusting the CA bundle given on standard input, or the
# container's own store when none is given; prints the status and the page.
FETCH_PYPI = ("python3 -c 'import sys, ssl, urllib.request; ca = sys.stdin.read(); "
              "ctx = ssl.create_default_context(cadata=ca) if ca else "
              "ssl.create_default_context(); "
              "r = urllib.request.urlopen(\"https://pypi.org/simple/six/\", context=ctx, "
              "timeout=30); print(r.status); print(r.read().decode()[:4000])'")

# Serves /tmp/www on port 8080 from the container, in the background.
HTTP_SERVER = b"""#!/bin/sh
mkdir -p /tmp/www && echo "hello from $(hostname)" > /tmp/www/hello.txt
nohup python3 -m http.server 8080 --bind 0.0.0.0 --directory /tmp/www >/tmp/http.log 2>&1 &
"""


def test_an_app_container_reaches_pypi_and_the_host_reaches_it(cloud):
    """A user's container with a NIC on local-apps (and CONTEXT NETWORK=YES for its gateway
    and DNS) fetches https://pypi.org/simple/six/ trusting the host's CA bundle, and the
    HTTP server it runs answers this process at the container's address."""
    if os.environ.get("NUBO_TEST_DATABASE") and os.environ.get("NUBO_PG_GUESTS") != "1":
        pytest.skip("containers run once, on SQLite (NUBO_PG_GUESTS=1 runs them here too)")
    _need_guests()
    _need_host_net()
    if cloud.stack is None or cloud.stack.name != "debian-12.raw":
        why = "the Debian stack (python3) is needed: build it with scripts/build-stack.sh"
        if os.environ.get("NUBO_REQUIRE_GUESTS") == "1":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    others = [p for p in _other_local_hosts() if p != cloud.proc.pid]
    if others:
        pytest.skip(f"another local host runs on this machine (nubod {others}): its containers "
                    f"share {APPS_BRIDGE} and {SUBNET}/24, and their leases would collide")
    one = cloud.admin()
    wait_for(lambda: any(i.NAME == "debian-12" and i.STATE == IMAGE_READY
                         for i in one.imagepool.info(-2, -1, -1).IMAGE),
             timeout=120, what="image debian-12 READY")
    wait_for(lambda: _monitored(one, "local-lxc"), timeout=30, what="local-lxc MONITORED")
    _, user = _user(cloud)
    vid = user.vm.allocate(
        'NAME="app1" CPU="0.5" MEMORY="512" '
        'DISK=[IMAGE="debian-12", IMAGE_UNAME="oneadmin"] '
        f'NIC=[NETWORK="{APPS_NETWORK}", NETWORK_UNAME="oneadmin"] '
        'SCHED_REQUIREMENTS="HYPERVISOR=lxc" '
        'CONTEXT=[NETWORK="YES", START_SCRIPT_BASE64="'
        + base64.b64encode(HTTP_SERVER).decode() + '"]', False)
    try:
        def running():
            vm = one.vm.info(vid)
            if vm.STATE not in (PENDING, ACTIVE) or vm.LCM_STATE in FAILURES:
                pytest.fail(f"VM {vid} went to {vm.STATE}/{vm.LCM_STATE}: "
                            f"{vm.USER_TEMPLATE.get('ERROR')}\n"
                            f"{_agent_log(cloud, 'local-lxc')}", pytrace=False)
            return (vm.STATE, vm.LCM_STATE) == (ACTIVE, RUNNING)

        wait_for(running, timeout=180, interval=0.5, what=f"VM {vid} RUNNING")
        wait_for(lambda: "nubo-init: ready" in _console(cloud, vid), timeout=60, interval=0.5,
                 what="nubo-init: ready on the console")
        ip = one.vm.info(vid).TEMPLATE["NIC"]["IP"]
        assert ip.startswith("10.247.0."), ip

        # (b) nubod's side: this process, on the host, reaches the container's server
        import urllib.request

        def served():
            try:
                with urllib.request.urlopen(f"http://{ip}:8080/hello.txt", timeout=5) as r:
                    return r.read().decode()
            except OSError:
                return None

        page = wait_for(served, timeout=60, interval=0.5, what=f"http://{ip}:8080/ from the host")
        assert page.startswith("hello from "), page

        # nubod's own listeners bind 127.0.0.1: the container cannot reach them through the
        # gateway (what listens on 0.0.0.0 it could, as from any host on its route)
        e = _exec(user, vid, "python3 -c 'import socket, sys; socket.create_connection("
                             f"(sys.argv[1], int(sys.argv[2])), 5)' {GATEWAY} {cloud.port}")
        assert e.get("RETURN_CODE") != "0" and "refused" in e["ERR"], e

        # (a) the outside: DNS through the host's nameservers, HTTPS through the NAT. The
        # host's CA bundle is handed in on standard input: where the host reaches PyPI
        # through a TLS-intercepting proxy, Debian's own store in the container does not
        # trust the proxy's CA (printed below, not asserted: elsewhere it does).
        own = _exec(user, vid, FETCH_PYPI)
        print(f"the container's own CA store: return code {own.get('RETURN_CODE')}, "
              f"{(own['ERR'].strip().splitlines() or [''])[-1]}")
        host_ca = Path("/etc/ssl/certs/ca-certificates.crt").read_bytes()
        e = _exec(user, vid, FETCH_PYPI, stdin=host_ca)
        assert e.get("RETURN_CODE") == "0", e
        status, _, page = e["OUT"].partition("\n")
        assert status == "200" and "six-" in page, e["OUT"][:500]
    finally:
        try:
            one.vm.action("terminate-hard", vid)
        except Exception:  # noqa: BLE001 - best effort
            pass
    wait_for(lambda: one.vm.info(vid).STATE == DONE, timeout=60, what=f"VM {vid} DONE")
