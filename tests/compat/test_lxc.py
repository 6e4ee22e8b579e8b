"""Containers through pyone and the `nubo` CLI: nubod drives a `nubo-hostd --driver lxc`
agent (in its own network namespace, as the QEMU tests' agents) that runs VMs as
unprivileged runc containers whose root filesystem is a busybox ext4 image made here.

A container is RUNNING on its lxc host and its vm.info is valid; it goes through every
life-cycle action as OpenNebula shows them, keeping what it wrote across poweroff, stop
and undeploy; it serves HTTP on its lease behind its security groups and cannot send from
an address or MAC its network did not give it; its memory limit kills a hog without
hurting anyone else; an init that ends powers it off; a root that is not a filesystem, or
has no /sbin/init, fails the boot with the reason (a persistent root, the prolog);
snapshots and disk changes of a running container are refused with the reason and leave it
RUNNING; NICs plug in and out while it runs, data disks are mounted in it, and one saved
as an image while it is powered off is mounted by another container; one.vm.exec runs
commands in it; SCHED_REQUIREMENTS="HYPERVISOR=lxc" places it; two clouds' agents on one
machine keep their containers apart; the agent and nubod restarted lose nothing; a
terminated container leaves nothing on the host (directory, mounts, netns, veth, cgroup).

Needs root, runc, mke2fs and a static busybox; skips without them unless
NUBO_REQUIRE_GUESTS=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from hostd import http_get, lab_cloud, sh, vm_state, wait_state
from onehelpers import tmpl, uniq, wait_for

LAB = 11
PENDING, HOLD, ACTIVE, STOPPED, SUSPENDED, DONE, POWEROFF, UNDEPLOYED = 1, 2, 3, 4, 5, 6, 8, 9
RUNNING, BOOT_FAILURE, PROLOG_FAILURE, UNKNOWN = 3, 36, 39, 16
HOST_MONITORED, HOST_ERROR = 2, 3

# The test image's /sbin/init: counts its boots in its own layer (/root/boots), says so on
# its console and over HTTP (port 80, and 8080 for the security-group test), ends on TERM.
INIT = r"""#!/bin/sh
n=$(cat /root/boots 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > /root/boots
echo "LXC-BOOT $n"
echo "boots=$n host=$(hostname)" > /www/index.html
echo "side door" > /www/side.html
echo "LXC-NET $(ip -o -4 addr show 2>/dev/null | grep -v ' lo ' | awk '{print $2, $4}' | tr '\n' ' ')"
echo "LXC-ROUTE $(ip route show default 2>/dev/null)"
trap 'echo LXC-TERM; exit 0' TERM
httpd -p 80 -h /www
httpd -p 8080 -h /www
echo LXC-READY
while :; do sleep 1 & wait $!; done
"""

APPLETS = ["sh", "cat", "echo", "sleep", "ps", "httpd", "id", "hostname", "head", "tail", "seq",
           "ls", "ip", "wget", "dd", "env", "true", "grep", "awk", "tr", "mkdir", "wc", "kill",
           "ping", "nc", "date", "rm"]


def _usable() -> None:
    missing = []
    if os.geteuid() != 0:
        missing.append("root")
    for tool in ("runc", "mke2fs", "busybox", "curl", "nft", "nsenter"):
        if shutil.which(tool) is None:
            missing.append(tool)
    bb = shutil.which("busybox")
    if bb and "not a dynamic" not in subprocess.run(["ldd", bb], capture_output=True,
                                                    text=True).stdout + subprocess.run(
            ["ldd", bb], capture_output=True, text=True).stderr:
        missing.append("a static busybox")
    if missing:
        why = "containers cannot run here, missing: " + ", ".join(missing)
        if os.environ.get("NUBO_REQUIRE_GUESTS") == "1":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)


def make_root(d: Path, init: str | None = INIT) -> Path:
    """A busybox root directory; with `init`, its /sbin/init."""
    root = d / "rootdir"
    for sub in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "www", "root", "run"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(shutil.which("busybox"), root / "bin" / "busybox")
    for tool in APPLETS:
        (root / "bin" / tool).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    if init is not None:
        (root / "sbin" / "init").write_text(init)
        (root / "sbin" / "init").chmod(0o755)
    return root


def ext4(root: Path, image: Path, size: str = "32M") -> Path:
    sh("mke2fs", "-q", "-t", "ext4", "-d", str(root), str(image), size)
    return image


@pytest.fixture(scope="module")
def images():
    """Image files: `busybox` (the init above), `noinit` (no /sbin/init), `junk` (random
    bytes)."""
    _usable()
    d = Path(tempfile.mkdtemp(prefix="nubo-lxc-img-"))
    try:
        files = {"busybox": ext4(make_root(d / "a"), d / "busybox.raw"),
                 "noinit": ext4(make_root(d / "b", init=None), d / "noinit.raw", "16M")}
        junk = d / "junk.raw"
        junk.write_bytes(os.urandom(4 << 20))
        files["junk"] = junk
        yield files
    finally:
        shutil.rmtree(d, ignore_errors=True)


# Agents before the per-agent key (layout::agent_key) named a container's cgroup
# (/nubo/one-<id>) and network namespace (nubo-one-<id>) for the machine, not the agent:
# other suites' clouds on this machine, whose nubods count VM ids from 0 too, shared them.
# This module's VMs start at this id.
FIRST_VM_ID = 300


@pytest.fixture(scope="module")
def cloud(images):
    with lab_cloud(index=LAB, driver="lxc", extra_args=["--shutdown-timeout", "5"]) as (d, lab, (h,)):
        one = d.admin()
        while True:
            vid = one.vm.allocate('NAME="skip"\nCPU="0.1"\nMEMORY="1"', True)
            one.vm.recover(vid, 3)
            if vid >= FIRST_VM_ID - 1:
                break
        yield d, lab, h


def import_image(one, path: Path, name: str) -> int:
    img = one.image.allocate(f'NAME="{uniq(name)}"\nTYPE="OS"\nPATH="{path}"', 1)
    wait_for(lambda: one.image.info(img).STATE == 1, timeout=60, what="image READY")
    return img


@pytest.fixture(scope="module")
def image_ids(cloud, images):
    d, _lab, _h = cloud
    one = d.admin()
    ids = {name: import_image(one, path, f"lxc-{name}") for name, path in images.items()}
    ids["persistent"] = import_image(one, images["busybox"], "lxc-persistent")
    one.image.persistent(ids["persistent"], True)
    return ids


@pytest.fixture(scope="module")
def net(cloud):
    d, lab, _h = cloud
    one = d.admin()
    return one.vn.allocate(
        f'NAME="{uniq("lxcnet")}"\nVN_MAD="bridge"\nBRIDGE="br0"\nNETWORK_MASK="255.255.255.0"\n'
        f'GATEWAY="{lab.gateway}"\nAR=[TYPE="IP4", IP="10.99.{LAB}.10", SIZE="40"]', -1)


def container(one, hid: int, image: int, name: str, net: int | None = None, memory: int = 64,
              init: str | None = None, extra: str = "", nic_extra: str = "",
              req: str | None = None) -> int:
    """A VM for lxc host `hid` (or where `req` says): its first disk from `image`, on
    `net`."""
    req = req or f"ID = {hid}"
    t = (f'NAME="{uniq(name)}"\nCPU="0.5"\nVCPU="1"\nMEMORY="{memory}"\n'
         f'DISK=[IMAGE_ID="{image}"]\nSCHED_REQUIREMENTS="{req}"\n')
    if net is not None:
        t += f'NIC=[NETWORK_ID="{net}"{nic_extra}]\nCONTEXT=[NETWORK="YES", HOSTNAME="{name}"]\n'
    if init is not None:
        t += f'OS=[INIT="{init}"]\n'
    return one.vm.allocate(t + extra, False)


def cgroup_of(pid: int, controller: str = "memory") -> str:
    """The cgroup of process `pid` in `controller`'s hierarchy (v1; v2: the unified one)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctls, path = line.split(":", 2)
        if controller in ctls.split(",") or (ctls == "" and not Path("/sys/fs/cgroup/memory").is_dir()):
            return path
    raise AssertionError(f"no {controller} cgroup for {pid}")


def named_netns(h, pid: int) -> list[str]:
    """The `ip netns` names agent `h` sees for process `pid`'s network namespace."""
    want = os.stat(f"/proc/{pid}/ns/net").st_ino
    out = subprocess.run(["nsenter", "-t", str(h.proc.pid), "-m", "sh", "-c",
                          "for n in /var/run/netns/*; do echo \"$(stat -L -c %i \"$n\") $n\"; done"],
                         capture_output=True, text=True, timeout=20).stdout
    return [line.split()[1].rsplit("/", 1)[-1] for line in out.splitlines()
            if line.split()[0].isdigit() and int(line.split()[0]) == want]


def init_pid(h, vid) -> int:
    return int((h.vm_dir(vid) / "init.pid").read_text().strip())


def in_container_net(h, vid, *args, check=False) -> subprocess.CompletedProcess:
    """Runs a host program (as host root) in the container's network namespace."""
    return subprocess.run(["nsenter", "-t", str(init_pid(h, vid)), "-n", *args],
                          capture_output=True, text=True, timeout=30, check=check)


def boots(h, vid) -> int:
    return h.serial(vid).count("LXC-BOOT ")


def wait_boots(h, vid, n, timeout=30) -> None:
    wait_for(lambda: boots(h, vid) >= n and h.serial(vid).count("LXC-READY") >= n,
             timeout=timeout, what=f"boot {n} of VM {vid}:\n{h.serial(vid)[-1500:]}")


def error_of(one, vid) -> str:
    return str(tmpl(one.xml("vm.info", vid), "ERROR", "USER_TEMPLATE") or "")


def assert_nothing_left(h, vid, target: str | None) -> None:
    """No directory, mount, network namespace, veth or cgroup of container `vid`."""
    assert not h.vm_dir(vid).exists(), list(h.vm_dir(vid).rglob("*"))[:20]
    mounts = [line.split()[4] for line in h.mountinfo().splitlines()
              if str(h.vm_dir(vid)) + "/" in line.split()[4] + "/"]
    assert mounts == [], mounts
    listed = subprocess.run(["nsenter", "-t", str(h.proc.pid), "-m", "ip", "netns", "list"],
                            capture_output=True, text=True, timeout=20).stdout
    for name in h.container_netns_names(vid):
        assert not Path(f"/var/run/netns/{name}").exists(), name
        assert name not in listed.split(), listed
    if target:
        assert target not in h.links()
    for ctl in ("memory", "pids", "cpu", "freezer"):
        for path in h.container_cgroups(vid):
            assert not Path(f"/sys/fs/cgroup/{ctl}{path}").exists(), f"{ctl}{path}"
    assert not (h.state_dir / "runtime" / f"one-{vid}").exists()


def terminate(one, h, vid, hard=True) -> None:
    try:
        one.vm.action("terminate-hard" if hard else "terminate", vid)
    except Exception:
        one.vm.recover(vid, 3)
    wait_state(one, h, vid, DONE, timeout=60)


def cleanup(one, h, *vids) -> None:
    """Ends what a failed test left (never raising)."""
    for vid in vids:
        try:
            if one.vm.info(vid).STATE != DONE:
                terminate(one, h, vid)
        except Exception:
            pass


# 1 + 2 + 3: placement, XSD, every life-cycle action, what survives which, HTTP on the lease.

def test_a_container_runs_on_the_lxc_host_and_goes_through_every_action(cloud, image_ids, net):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    host = one.host.info(hid)
    assert host.VM_MAD == "lxc" and host.IM_MAD == "lxc"
    tid = one.template.allocate(
        f'NAME="{uniq("life")}"\nCPU="0.5"\nVCPU="1"\nMEMORY="64"\n'
        f'DISK=[IMAGE_ID="{image_ids["busybox"]}"]\nNIC=[NETWORK_ID="{net}"]\n'
        f'CONTEXT=[NETWORK="YES", HOSTNAME="life"]\nSCHED_REQUIREMENTS="HYPERVISOR=lxc"')
    started = time.monotonic()
    vid = one.template.instantiate(tid, "", False, "", False)
    try:
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        took = time.monotonic() - started
        assert took < 30, f"RUNNING after {took:.1f}s"
        vm = one.vm.info(vid)                     # validated against the XSD by the helper
        history = vm.HISTORY_RECORDS.HISTORY
        history = history[-1] if isinstance(history, list) else history
        assert history.HOSTNAME == h.name and history.HID == hid
        assert history.VM_MAD == "lxc"
        nic = vm.TEMPLATE["NIC"]
        ip, target = nic["IP"], nic["TARGET"]
        assert ip.startswith(f"10.99.{LAB}.")
        wait_boots(h, vid, 1)
        console = h.serial(vid)
        assert f"LXC-NET eth0 {ip}/24" in console, console
        assert f"default via {lab.gateway} dev eth0" in console, console
        assert target in h.links(), h.links()
        assert named_netns(h, init_pid(h, vid)), "the agent names the container's netns"
        wait_for(lambda: "boots=1 host=life" in http_get(f"http://{ip}/"), timeout=30,
                 what="the container answering HTTP on its lease")

        # Monitoring reaches nubod: the VM's memory use is reported.
        wait_for(lambda: int(one.xml("vm.info", vid).findtext("MONITORING/MEMORY") or 0) > 0,
                 timeout=30, what="the container's memory use monitored")

        def back(n):
            wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
            wait_boots(h, vid, n)
            wait_for(lambda: f"boots={n} " in http_get(f"http://{ip}/"), timeout=30,
                     what=f"HTTP after boot {n}")

        # poweroff (TERM to the init) / resume: booted again on the same layer.
        one.vm.action("poweroff", vid)
        wait_state(one, h, vid, POWEROFF, timeout=30)
        assert "LXC-TERM" in h.serial(vid)
        assert target not in h.links()
        assert http_get(f"http://{ip}/") == ""
        one.vm.action("resume", vid)
        back(2)

        # poweroff-hard (KILL) / resume.
        terms = h.serial(vid).count("LXC-TERM")
        one.vm.action("poweroff-hard", vid)
        wait_state(one, h, vid, POWEROFF, timeout=30)
        assert h.serial(vid).count("LXC-TERM") == terms, "poweroff-hard sends no TERM"
        one.vm.action("resume", vid)
        back(3)

        # reboot (TERM, start again) and reboot-hard: RUNNING throughout, a new init.
        one.vm.action("reboot", vid)
        wait_for(lambda: boots(h, vid) == 4, timeout=30, what="a new init after reboot")
        assert h.serial(vid).count("LXC-TERM") == terms + 1
        back(4)
        one.vm.action("reboot-hard", vid)
        wait_for(lambda: boots(h, vid) == 5, timeout=30, what="a new init after reboot-hard")
        back(5)

        # suspend (freezer) / resume: the same processes, not booted again.
        one.vm.action("suspend", vid)
        wait_state(one, h, vid, SUSPENDED, timeout=30)
        assert http_get(f"http://{ip}/") == "", "a frozen container answers nothing"
        state = (h.vm_dir(vid) / "frozen").exists()
        assert state, "the freezer holds the container"
        pid = init_pid(h, vid)
        one.vm.action("resume", vid)
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=30)
        wait_for(lambda: "boots=5 " in http_get(f"http://{ip}/"), timeout=30, what="thawed")
        assert boots(h, vid) == 5 and init_pid(h, vid) == pid

        # stop / resume: the processes end, the layer stays; it boots again on it.
        one.vm.action("stop", vid)
        wait_state(one, h, vid, STOPPED, timeout=60)
        assert target not in h.links()
        one.vm.action("resume", vid)
        back(6)

        # undeploy / resume.
        one.vm.action("undeploy", vid)
        wait_state(one, h, vid, UNDEPLOYED, timeout=60)
        assert target not in h.links()
        one.vm.action("resume", vid)
        back(7)

        # terminate (graceful): DONE, nothing left on the host.
        terms = h.serial(vid).count("LXC-TERM")
        one.vm.action("terminate", vid)
        wait_state(one, h, vid, DONE, timeout=60)
        assert_nothing_left(h, vid, target)
        leased = [x.findtext("IP") for x in one.xml("vn.info", net).findall("AR_POOL/AR/LEASES/LEASE")]
        assert ip not in leased, "the lease was given back"
    finally:
        cleanup(one, h, vid)


def test_terminate_hard_leaves_nothing_and_the_cli_makes_containers(cloud, image_ids, net):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    place = h.tmp / "place.tmpl"
    place.write_text(f'SCHED_REQUIREMENTS="ID = {hid}"\n')
    out = nubo_cli(d, "vm", "create", str(place), "--name", uniq("cli"),
                   "--image", str(image_ids["busybox"]), "--cpu", "0.5", "--memory", "64M",
                   "--network", str(net))
    assert out.returncode == 0, out.stderr
    vid = int(out.stdout.strip().split()[-1])
    try:
        assert int(one.xml("vm.info", vid).findtext("TEMPLATE/MEMORY")) == 64
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, vid, 1)
        target = one.vm.info(vid).TEMPLATE["NIC"]["TARGET"]
        console = nubo_cli(d, "vm", "console", str(vid))
        assert console.returncode == 0 and "LXC-READY" in console.stdout, console
        one.vm.action("terminate-hard", vid)
        wait_state(one, h, vid, DONE, timeout=30)
        assert_nothing_left(h, vid, target)
    finally:
        cleanup(one, h, vid)


def test_hypervisor_lxc_requirements_place_a_vm_on_the_lxc_host(cloud, image_ids):
    """The host carries HYPERVISOR=lxc from its agent's report; `nubo vm create --hypervisor
    lxc` sets SCHED_REQUIREMENTS="HYPERVISOR=lxc", which places the VM there."""
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    # As the README says it: no --cpu (one CPU by default).
    out = nubo_cli(d, "vm", "create", "--name", uniq("hyp"), "--hypervisor", "lxc",
                   "--image", str(image_ids["busybox"]), "--memory", "64M")
    assert out.returncode == 0, out.stderr
    vid = int(out.stdout.strip().split()[-1])
    try:
        root = one.xml("vm.info", vid)
        req = root.findtext("USER_TEMPLATE/SCHED_REQUIREMENTS") or root.findtext(
            "TEMPLATE/SCHED_REQUIREMENTS")
        assert req.replace(" ", "") == "HYPERVISOR=lxc", req
        assert one.host.info(hid).TEMPLATE.get("HYPERVISOR") == "lxc", one.host.info(hid).TEMPLATE
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=30)
        assert one.xml("vm.info", vid).findtext("HISTORY_RECORDS/HISTORY/HID") == str(hid)
    finally:
        cleanup(one, h, vid)
        if one.vm.info(vid).STATE != DONE:
            one.vm.recover(vid, 3)


def nubo_cli(d, *args: str) -> subprocess.CompletedProcess:
    auth = d.tmp / "cli_auth"
    auth.write_text(d.admin_session + "\n")
    env = {**os.environ, "ONE_XMLRPC": d.endpoint, "ONE_AUTH": str(auth)}
    return subprocess.run([str(d.binary.parent / "nubo"), *args], capture_output=True, text=True,
                          env=env, timeout=60)


# 4: security groups and anti-spoofing on the container's veth.

def pings(ip: str, netns_pid: int | None = None) -> bool:
    prefix = ["nsenter", "-t", str(netns_pid), "-n"] if netns_pid else []
    return subprocess.run([*prefix, "busybox", "ping", "-c", "1", "-W", "2", ip],
                          capture_output=True, timeout=20).returncode == 0


def test_security_groups_filter_what_reaches_a_container(cloud, image_ids, net):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    before = one.secgroup.info(0).TEMPLATE
    rules = 'RULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="80"]\nRULE=[PROTOCOL="ALL", RULE_TYPE="outbound"]'
    one.secgroup.update(0, rules, 0)
    side = one.secgroup.allocate(
        f'NAME="{uniq("side")}"\nRULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="8080"]')
    vid = container(one, hid, image_ids["busybox"], "walled", net)
    try:
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, vid, 1)
        ip = one.vm.info(vid).TEMPLATE["NIC"]["IP"]
        wait_for(lambda: "boots=1" in http_get(f"http://{ip}/"), timeout=30, what=":80 allowed")
        # :8080 listens (seen from inside the container's network) but is not let in.
        inside = in_container_net(h, vid, "curl", "-sf", "-m", "3", f"http://{ip}:8080/side.html")
        assert "side door" in inside.stdout, inside
        assert http_get(f"http://{ip}:8080/side.html") == "", ":8080 is not allowed in"
        assert not pings(ip), "ICMP is not allowed in"
        # The container's own traffic goes out, and the answers come back.
        assert pings(lab.gateway, init_pid(h, vid)), "outbound ICMP and its answers"

        one.vm.attachsg(vid, 0, side)
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=30)
        wait_for(lambda: "side door" in http_get(f"http://{ip}:8080/side.html"), timeout=30,
                 what=":8080 once its group is attached")
        one.vm.detachsg(vid, 0, side)
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=30)
        wait_for(lambda: http_get(f"http://{ip}:8080/side.html") == "", timeout=30,
                 what=":8080 blocked once the group is detached")
        assert "boots=1" in http_get(f"http://{ip}/")
        target = one.vm.info(vid).TEMPLATE["NIC"]["TARGET"]
        terminate(one, h, vid)
        assert_nothing_left(h, vid, target)
        left = h.netns("nft", "list", "table", "inet", "nubo", check=False)
        assert f"one_{vid}_" not in left.replace("-", "_"), left
    finally:
        cleanup(one, h, vid)
        one.secgroup.update(0, _rules_text(before), 0)


def _rules_text(template) -> str:
    rules = template.get("RULE", [])
    rules = rules if isinstance(rules, list) else [rules]
    return "\n".join("RULE=[" + ", ".join(f'{k}="{v}"' for k, v in r.items()) + "]" for r in rules)


def test_a_container_cannot_send_from_an_address_or_mac_it_was_not_given(cloud, image_ids):
    """FILTER_IP_SPOOFING and FILTER_MAC_SPOOFING hold on a container's veth: its network
    namespace changed behind it (as host root; the container itself may not) to another
    address or MAC is cut off until it goes back to its own."""
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    guarded = one.vn.allocate(
        f'NAME="{uniq("guarded")}"\nVN_MAD="bridge"\nBRIDGE="br0"\nNETWORK_MASK="255.255.255.0"\n'
        f'FILTER_IP_SPOOFING="YES"\nFILTER_MAC_SPOOFING="YES"\n'
        f'AR=[TYPE="IP4", IP="10.99.{LAB}.100", SIZE="5"]', -1)
    open_sg = one.secgroup.allocate(
        f'NAME="{uniq("open")}"\nRULE=[PROTOCOL="ALL", RULE_TYPE="inbound"]\n'
        f'RULE=[PROTOCOL="ALL", RULE_TYPE="outbound"]')
    vid = container(one, hid, image_ids["busybox"], "spoof", guarded,
                    nic_extra=f', SECURITY_GROUPS="{open_sg}"')
    try:
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, vid, 1)
        nic = one.vm.info(vid).TEMPLATE["NIC"]
        own, mac = nic["IP"], nic["MAC"]
        pid = init_pid(h, vid)
        gw = lab.gateway
        run = lambda *a: in_container_net(h, vid, *a)  # noqa: E731
        # Even root in the container may not change its network.
        assert pings(gw, pid), "the container reaches its gateway"
        fake = f"10.99.{LAB}.199"
        run("ip", "addr", "flush", "dev", "eth0")
        run("ip", "addr", "add", f"{fake}/24", "dev", "eth0")
        run("ip", "neigh", "flush", "all")
        assert not pings(gw, pid), f"sent from {fake}, not its lease"
        run("ip", "addr", "flush", "dev", "eth0")
        run("ip", "addr", "add", f"{own}/24", "dev", "eth0")
        wait_for(lambda: pings(gw, pid), timeout=15, what="its own address works again")
        run("ip", "link", "set", "eth0", "address", "02:00:de:ad:be:ef")
        run("ip", "neigh", "flush", "all")
        assert not pings(gw, pid), "sent from a MAC it was not given"
        run("ip", "link", "set", "eth0", "address", mac)
        run("ip", "neigh", "flush", "all")
        wait_for(lambda: pings(gw, pid), timeout=15, what="its own MAC works again")
        terminate(one, h, vid)
        left = h.netns("nft", "list", "table", "bridge", "nubo", check=False)
        assert nic["TARGET"] not in left, left
    finally:
        cleanup(one, h, vid)


# 5: limits, and an init that ends.

def test_a_memory_hog_is_killed_by_the_cgroup_and_nobody_else_is_hurt(cloud, image_ids):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    hog = ("echo hog-start; head -c 200000000 /dev/zero | tail -c 150000000 >/dev/null "
           "&& echo hog-survived || echo hog-killed; while true; do sleep 1; done")
    vid = container(one, hid, image_ids["busybox"], "hog", memory=64, init=hog)
    try:
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        wait_for(lambda: "hog-killed" in h.serial(vid) or "hog-survived" in h.serial(vid),
                 timeout=60, what="the hog's end")
        assert "hog-killed" in h.serial(vid), h.serial(vid)
        limit = Path(f"/sys/fs/cgroup/memory{cgroup_of(init_pid(h, vid))}/memory.limit_in_bytes")
        assert int(limit.read_text()) == 64 << 20
        time.sleep(3)
        assert vm_state(one, vid) == (ACTIVE, RUNNING), "the init outlived its hog"
        assert h.proc.poll() is None, "the agent survives"
        assert one.host.info(hid).STATE == HOST_MONITORED
        terminate(one, h, vid)
        assert_nothing_left(h, vid, None)
    finally:
        cleanup(one, h, vid)


def test_an_init_that_ends_powers_the_container_off(cloud, image_ids):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = container(one, hid, image_ids["busybox"], "brief", init="echo bye")
    try:
        wait_state(one, h, vid, POWEROFF, timeout=60)
        assert "bye" in h.serial(vid)
        one.vm.action("resume", vid)
        wait_for(lambda: h.serial(vid).count("bye") == 2, timeout=30, what="ran again on resume")
        wait_state(one, h, vid, POWEROFF, timeout=30)
        terminate(one, h, vid)
        assert_nothing_left(h, vid, None)
    finally:
        cleanup(one, h, vid)


# 6: bad roots fail the boot with the reason; refused operations leave the VM RUNNING.

@pytest.mark.parametrize("image, words", [("junk", "not a filesystem"), ("noinit", "/sbin/init")])
def test_a_bad_root_filesystem_fails_the_boot_with_the_reason(cloud, image_ids, image, words):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = container(one, hid, image_ids[image], f"bad-{image}")
    try:
        wait_state(one, h, vid, ACTIVE, BOOT_FAILURE, timeout=60)
        error = error_of(one, vid)
        assert words in error, error
        assert h.proc.poll() is None
        one.vm.recover(vid, 3)  # delete
        wait_state(one, h, vid, DONE, timeout=60)
        assert_nothing_left(h, vid, None)
    finally:
        cleanup(one, h, vid)


def test_a_persistent_root_image_fails_the_prolog_with_the_reason(cloud, image_ids):
    """A container's changes live in its own layer: its root image must be non-persistent."""
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = container(one, hid, image_ids["persistent"], "persistent")
    try:
        wait_state(one, h, vid, ACTIVE, PROLOG_FAILURE, timeout=60)
        assert "non-persistent" in error_of(one, vid), error_of(one, vid)
        one.vm.recover(vid, 3)  # delete
        wait_state(one, h, vid, DONE, timeout=60)
        assert_nothing_left(h, vid, None)
        wait_for(lambda: one.image.info(image_ids["persistent"]).STATE == 1, timeout=30,
                 what="the image READY again")
    finally:
        cleanup(one, h, vid)


def test_snapshots_and_disk_changes_are_refused_and_the_container_keeps_running(cloud, image_ids):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = container(one, hid, image_ids["busybox"], "refuse")
    try:
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, vid, 1)
        pid = init_pid(h, vid)
        one.vm.snapshotcreate(vid, "snap")
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=30)
        wait_for(lambda: "not available for containers" in error_of(one, vid), timeout=30,
                 what="the refusal's reason in the VM's ERROR")
        assert "snapshot" in error_of(one, vid).lower(), error_of(one, vid)
        assert not one.xml("vm.info", vid).findall("TEMPLATE/SNAPSHOT")
        refused = error_of(one, vid)
        one.vm.attach(vid, 'DISK=[TYPE="fs", SIZE="16"]')
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=30)
        wait_for(lambda: error_of(one, vid) != refused, timeout=30, what="the attach's refusal")
        assert "container" in error_of(one, vid) and "attach" in error_of(one, vid).lower(), \
            error_of(one, vid)
        assert len(one.xml("vm.info", vid).findall("TEMPLATE/DISK")) == 1, "no disk attached"
        assert init_pid(h, vid) == pid and boots(h, vid) == 1, "the container ran on"
        terminate(one, h, vid)
    finally:
        cleanup(one, h, vid)


# 7: the agent and nubod restarted.

def monitored_at(one, vid) -> int:
    m = one.xml("vm.info", vid).find("MONITORING/TIMESTAMP")
    return int(m.text) if m is not None and m.text else 0


def test_a_restarted_agent_finds_its_running_container(cloud, image_ids, net):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = container(one, hid, image_ids["busybox"], "survivor", net)
    try:
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, vid, 1)
        ip = one.vm.info(vid).TEMPLATE["NIC"]["IP"]
        target = one.vm.info(vid).TEMPLATE["NIC"]["TARGET"]
        wait_for(lambda: "boots=1" in http_get(f"http://{ip}/"), timeout=30, what="HTTP")
        pid = init_pid(h, vid)

        h.kill()
        wait_for(lambda: one.host.info(hid).STATE == HOST_ERROR, timeout=30, what="host ERROR")
        assert "boots=1" in http_get(f"http://{ip}/"), "the container runs without its agent"
        assert vm_state(one, vid) == (ACTIVE, RUNNING)
        h.restart()
        wait_for(lambda: one.host.info(hid).STATE == HOST_MONITORED, timeout=30, what="host back")
        seen = monitored_at(one, vid)
        wait_for(lambda: monitored_at(one, vid) > seen, timeout=30,
                 what="the container monitored again")
        assert vm_state(one, vid) == (ACTIVE, RUNNING)
        assert init_pid(h, vid) == pid and boots(h, vid) == 1, "the same container, found again"
        assert "boots=1" in http_get(f"http://{ip}/")

        # The restarted agent still drives it: poweroff, resume on its layer, terminate.
        one.vm.action("poweroff", vid)
        wait_state(one, h, vid, POWEROFF, timeout=30)
        one.vm.action("resume", vid)
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, vid, 2)
        wait_for(lambda: "boots=2" in http_get(f"http://{ip}/"), timeout=30, what="HTTP again")
        terminate(one, h, vid)
        assert_nothing_left(h, vid, target)
    finally:
        cleanup(one, h, vid)


def test_nubod_killed_and_restarted_loses_no_container(cloud, image_ids, net):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = container(one, hid, image_ids["busybox"], "steady", net)
    try:
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, vid, 1)
        ip = one.vm.info(vid).TEMPLATE["NIC"]["IP"]
        pid = init_pid(h, vid)
        d.kill()
        d.restart()
        one = d.admin()
        assert vm_state(one, vid) == (ACTIVE, RUNNING)
        seen = monitored_at(one, vid)
        wait_for(lambda: monitored_at(one, vid) > seen, timeout=30, what="monitored again")
        time.sleep(2)
        assert vm_state(one, vid) == (ACTIVE, RUNNING)
        assert init_pid(h, vid) == pid and boots(h, vid) == 1
        assert "boots=1" in http_get(f"http://{ip}/")
        terminate(one, h, vid)
        assert_nothing_left(h, vid, None)
    finally:
        if d.alive():
            cleanup(d.admin(), h, vid)


# Last: a second host (deleted after, so the tests above all use the first).

def test_a_host_made_with_the_cli_runs_containers(cloud, image_ids):
    """`nubo host create NAME --vm lxc --hostd URL` registers a second agent."""
    d, lab, _h = cloud
    one = d.admin()
    h2 = lab.add_host(d, driver="lxc", extra_args=["--shutdown-timeout", "5"])
    out = nubo_cli(d, "host", "create", h2.name, "--vm", "lxc", "--hostd", h2.endpoint)
    assert out.returncode == 0, out.stderr
    hid = int(out.stdout.strip().split()[-1])
    wait_for(lambda: one.host.info(hid).STATE == HOST_MONITORED, timeout=60,
             what=f"host {hid} MONITORED:\n{h2.log_tail()}")
    host = one.host.info(hid)
    assert host.VM_MAD == "lxc" and host.IM_MAD == "lxc"
    vid = container(one, hid, image_ids["busybox"], "second")
    try:
        wait_state(one, h2, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h2, vid, 1)
        terminate(one, h2, vid)
        assert_nothing_left(h2, vid, None)
        left = [line.split()[4] for line in h2.mountinfo().splitlines()
                if line.split()[4].startswith(str(h2.state_dir))]
        assert left == [], f"the shared image mount goes with its last container: {left}"
    finally:
        cleanup(one, h2, vid)
        one.host.delete(hid)   # later containers (HYPERVISOR=lxc) go to the first host


def test_two_clouds_on_one_machine_keep_their_containers_apart(cloud, images, image_ids):
    """Two agents on one machine (two clouds here), each with a container of the same VM
    id: each container has its own cgroup (its own MEMORY) and its agent still names its
    network namespace."""
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    mine = container(one, hid, image_ids["busybox"], "mine", memory=64)
    try:
        wait_state(one, h, mine, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, mine, 1)
        with lab_cloud(index=LAB + 1, driver="lxc") as (d2, _lab2, (other,)):
            one2 = d2.admin()
            hid2 = other.host_id(one2)
            img2 = import_image(one2, images["busybox"], "other")
            while True:
                vid = one2.vm.allocate('NAME="skip"\nCPU="0.1"\nMEMORY="1"', True)
                one2.vm.recover(vid, 3)
                if vid >= mine - 1:
                    break
            theirs = container(one2, hid2, img2, "theirs", memory=256)
            assert theirs == mine, "the same VM id in both clouds"
            try:
                wait_state(one2, other, theirs, ACTIVE, RUNNING, timeout=60)
                wait_boots(other, theirs, 1)
                ours, their = init_pid(h, mine), init_pid(other, theirs)
                assert cgroup_of(ours) != cgroup_of(their), f"one cgroup: {cgroup_of(ours)}"
                limit = Path(f"/sys/fs/cgroup/memory{cgroup_of(ours)}/memory.limit_in_bytes")
                assert int(limit.read_text()) == 64 << 20, "the other cloud's MEMORY=256 became mine"
                assert named_netns(h, ours), "my agent lost the name of my container's netns"
                assert named_netns(other, their), "theirs lost its name"
            finally:
                cleanup(one2, other, theirs)
    finally:
        cleanup(one, h, mine)



def test_a_nic_plugged_into_a_running_container_and_out_again(cloud, image_ids, net):
    """one.vm.attachnic on a RUNNING container: a veth named as the NIC's TARGET on its
    bridge, eth<NIC_ID> inside with its lease; detachnic takes both away; it survives a
    poweroff/resume (the kept spec has it)."""
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    second = one.vn.allocate(
        f'NAME="{uniq("second")}"\nVN_MAD="bridge"\nBRIDGE="br0"\nNETWORK_MASK="255.255.255.0"\n'
        f'AR=[TYPE="IP4", IP="10.99.{LAB}.150", SIZE="5"]', -1)
    vid = container(one, hid, image_ids["busybox"], "plug", net)
    try:
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, vid, 1)
        one.vm.attachnic(vid, f'NIC=[NETWORK_ID="{second}"]')
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=30)
        nics = one.vm.info(vid).TEMPLATE["NIC"]
        assert isinstance(nics, list) and len(nics) == 2, nics
        added = [n for n in nics if int(n["NETWORK_ID"]) == second][0]
        inside = lambda: in_container_net(h, vid, "ip", "-o", "-4", "addr", "show").stdout  # noqa: E731
        wait_for(lambda: f"eth{added['NIC_ID']}" in inside() and added["IP"] in inside(),
                 timeout=30, what=f"eth{added['NIC_ID']} with {added['IP']}:\n{inside()}")
        assert added["TARGET"] in h.links()
        wait_for(lambda: "boots=1" in http_get(f"http://{added['IP']}/"), timeout=30,
                 what="HTTP on the new NIC's lease")

        one.vm.action("poweroff", vid)
        wait_state(one, h, vid, POWEROFF, timeout=30)
        one.vm.action("resume", vid)
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, vid, 2)
        wait_for(lambda: added["IP"] in inside(), timeout=30, what="the NIC after a new boot")

        one.vm.detachnic(vid, int(added["NIC_ID"]))
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=30)
        wait_for(lambda: added["TARGET"] not in h.links(), timeout=30, what="the veth gone")
        assert added["IP"] not in inside()
        nics = one.vm.info(vid).TEMPLATE["NIC"]
        assert not isinstance(nics, list), nics
        terminate(one, h, vid)
        assert_nothing_left(h, vid, added["TARGET"])
    finally:
        cleanup(one, h, vid)


# Guest commands (one.vm.exec) and data disks.

def exec_info(one, vid) -> dict:
    e = one.xml("vm.info", vid).find("TEMPLATE/QEMU_GA_EXEC")
    return {c.tag: (c.text or "") for c in e} if e is not None else {}


def run_in(one, vid, command: str, stdin: bytes = b"", timeout: float = 30) -> dict:
    """one.vm.exec of `command` (shell words) in container `vid`; its finished record."""
    import base64
    assert one.vm.exec(vid, command, base64.b64encode(stdin).decode()) == vid
    wait_for(lambda: exec_info(one, vid).get("STATUS") not in (None, "EXECUTING"),
             timeout=timeout, what=f"{command!r} finished: {exec_info(one, vid)}")
    e = exec_info(one, vid)
    e["OUT"] = base64.b64decode(e.get("STDOUT", "")).decode(errors="replace")
    e["ERR"] = base64.b64decode(e.get("STDERR", "")).decode(errors="replace")
    return e


def test_commands_run_in_the_container_and_what_they_write_stays(cloud, image_ids, net):
    """one.vm.exec runs a command in the container (input, output, exit code), what it
    writes survives poweroff/resume and stop/resume, cancelexec ends a long one."""
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = container(one, hid, image_ids["busybox"], "exec", net)
    try:
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, vid, 1)
        e = run_in(one, vid, "/bin/sh -c 'echo out; cat; echo err >&2; exit 3'", b"some input")
        assert e["STATUS"] == "DONE" and e["RETURN_CODE"] == "3", e
        assert e["OUT"] == "out\nsome input" or e["OUT"].split() == ["out", "some", "input"], e
        assert e["ERR"].strip() == "err", e
        assert run_in(one, vid, "hostname")["OUT"].strip() == "exec"
        e = run_in(one, vid, "/bin/sh -c 'echo written-by-exec > /root/mark && id -u'")
        assert e["RETURN_CODE"] == "0" and e["OUT"].strip() == "0", e

        for off, state in (("poweroff", POWEROFF), ("stop", STOPPED)):
            one.vm.action(off, vid)
            wait_state(one, h, vid, state, timeout=60)
            one.vm.action("resume", vid)
            wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
            e = run_in(one, vid, "cat /root/mark")
            assert e["OUT"].strip() == "written-by-exec", (off, e)

        assert one.vm.exec(vid, "sleep 100", "") == vid
        wait_for(lambda: exec_info(one, vid).get("STATUS") == "EXECUTING", timeout=15,
                 what="the long command running")
        one.vm.cancelexec(vid)
        wait_for(lambda: exec_info(one, vid).get("STATUS") == "CANCELLED", timeout=30,
                 what=f"the command cancelled: {exec_info(one, vid)}")
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=30)
        terminate(one, h, vid)
        assert_nothing_left(h, vid, None)
    finally:
        cleanup(one, h, vid)


def test_a_data_disk_is_mounted_in_the_container_and_one_attached_while_powered_off(cloud, image_ids):
    """A volatile disk with TARGET=/data is a filesystem the container's root owns at /data;
    a disk attached while the container is powered off is at /media/one-disk.<DISK_ID>
    after its resume."""
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = container(one, hid, image_ids["busybox"], "disks",
                    extra='DISK=[TYPE="fs", SIZE="16", FORMAT="raw", TARGET="/data"]\n')
    try:
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, vid, 1)
        e = run_in(one, vid, "/bin/sh -c 'grep \" /data \" /proc/mounts && echo kept > /data/f && cat /data/f'")
        assert e["RETURN_CODE"] == "0" and "kept" in e["OUT"], e
        one.vm.action("poweroff", vid)
        wait_state(one, h, vid, POWEROFF, timeout=30)
        one.vm.attach(vid, 'DISK=[TYPE="fs", SIZE="8", FORMAT="raw"]')
        wait_state(one, h, vid, POWEROFF, timeout=30)
        disks = one.xml("vm.info", vid).findall("TEMPLATE/DISK")
        assert len(disks) == 3, [x.findtext("DISK_ID") for x in disks]
        new_id = max(int(x.findtext("DISK_ID")) for x in disks)
        one.vm.action("resume", vid)
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        e = run_in(one, vid, f"/bin/sh -c 'cat /data/f; grep -c /media/one-disk.{new_id} /proc/mounts'")
        assert e["OUT"].split() == ["kept", "1"], e
        terminate(one, h, vid)
        assert_nothing_left(h, vid, None)
    finally:
        cleanup(one, h, vid)


def test_a_data_disk_saved_while_powered_off_is_an_image_another_container_mounts(cloud, image_ids):
    """The PaaS's build: a container writes an app on its volatile disk at /app (a file
    owned by uid 1000 inside) and powers off; one.vm.disksaveas of that disk gives a READY
    DATABLOCK image of the disk's SIZE; a new container with the image at /app sees the
    files with their owners. Saving disk 0 (the root filesystem) or a disk of a running
    container is refused at once with the reason, and makes no image."""
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = container(one, hid, image_ids["busybox"], "builder",
                    extra='DISK=[TYPE="fs", SIZE="16", FORMAT="raw", TARGET="/app"]\n')
    instance = None
    try:
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, vid, 1)
        e = run_in(one, vid, "/bin/sh -c 'echo built > /app/slug.txt && mkdir /app/bin && "
                             "echo run > /app/bin/run && busybox chown -R 1000:1000 "
                             "/app/slug.txt /app/bin'")
        assert e["RETURN_CODE"] == "0", e
        images_before = len(one.imagepool.info(-2, -1, -1).IMAGE)
        with pytest.raises(Exception) as running:
            one.vm.disksaveas(vid, 1, uniq("slug"), "", -1)
        assert "powered off" in str(running.value), running.value
        one.vm.action("poweroff", vid)
        wait_state(one, h, vid, POWEROFF, timeout=30)
        with pytest.raises(Exception) as root:
            one.vm.disksaveas(vid, 0, uniq("root"), "", -1)
        assert "root filesystem" in str(root.value), root.value
        assert len(one.imagepool.info(-2, -1, -1).IMAGE) == images_before, "no image made"

        slug = one.vm.disksaveas(vid, 1, uniq("slug"), "", -1)
        wait_state(one, h, vid, POWEROFF, timeout=60)
        wait_for(lambda: one.image.info(slug).STATE == 1, timeout=60, what="the slug READY")
        info = one.image.info(slug)
        assert (info.TYPE, info.SIZE, info.PERSISTENT) == (2, 16, 0), (info.TYPE, info.SIZE)
        assert os.path.getsize(info.SOURCE) == 16 << 20
        assert not list(h.vm_dir(vid).glob("saveas.*")), "the agent kept no copy"

        instance = container(one, hid, image_ids["busybox"], "instance",
                             extra=f'DISK=[IMAGE_ID="{slug}", TARGET="/app"]\n')
        wait_state(one, h, instance, ACTIVE, RUNNING, timeout=60)
        wait_boots(h, instance, 1)
        e = run_in(one, instance, "/bin/sh -c 'cat /app/slug.txt; ls -ln /app/slug.txt /app/bin/run'")
        assert e["RETURN_CODE"] == "0", e
        lines = e["OUT"].splitlines()
        assert lines[0] == "built", e
        assert [line.split()[2:4] for line in lines[1:]] == [["1000", "1000"]] * 2, e
        # The builder boots again with its disk as it was.
        one.vm.action("resume", vid)
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        assert run_in(one, vid, "cat /app/slug.txt")["OUT"] == "built\n"
        for v in (vid, instance):
            terminate(one, h, v)
            assert_nothing_left(h, v, None)
    finally:
        cleanup(one, h, vid, *([instance] if instance is not None else []))


def test_a_container_sees_neither_the_hosts_processes_nor_its_neighbours_traffic(
        cloud, image_ids, net):
    """Two containers on one network: one sees only its own processes and interfaces, and
    what the host exchanges with the other does not reach it (its eth0 counts a few
    bytes of broadcast, not the megabytes sent to its neighbour)."""
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    a = container(one, hid, image_ids["busybox"], "nosy", net)
    b = container(one, hid, image_ids["busybox"], "busy", net)
    try:
        for vid in (a, b):
            wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
            wait_boots(h, vid, 1)
        ps = run_in(one, a, "ps -o pid,comm")
        pids = [line.split()[0] for line in ps["OUT"].splitlines()[1:] if line.split()]
        assert len(pids) <= 8 and "1" in pids, ps["OUT"]
        assert "nubod" not in ps["OUT"] and "nubo-hostd" not in ps["OUT"], ps["OUT"]
        links = run_in(one, a, "ls /sys/class/net")["OUT"].split()
        assert sorted(links) == ["eth0", "lo"], links
        made = run_in(one, b, "dd if=/dev/zero of=/www/big bs=1024 count=2048")
        assert made["RETURN_CODE"] == "0", made
        ip_b = one.vm.info(b).TEMPLATE["NIC"]["IP"]

        def rx_of_a() -> int:
            return int(run_in(one, a, "cat /sys/class/net/eth0/statistics/rx_bytes")["OUT"])

        before = rx_of_a()
        got = 0
        for _ in range(4):
            got += len(http_get(f"http://{ip_b}/big"))
        assert got >= 4 * 2048 * 1024, got
        grew = rx_of_a() - before
        assert grew < 256 * 1024, f"{grew} bytes reached the neighbour of a {got}-byte exchange"
    finally:
        cleanup(one, h, a, b)


def test_an_agent_whose_containers_all_ended_leaves_no_cgroup(cloud, image_ids):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = container(one, hid, image_ids["busybox"], "last")
    try:
        wait_state(one, h, vid, ACTIVE, RUNNING, timeout=60)
        terminate(one, h, vid)
    finally:
        cleanup(one, h, vid)
    active = [v.ID for v in one.vmpool.infoextended(-2, -1, -1, -1).VM
              if v.STATE not in (DONE,)] if hasattr(one.vmpool, "infoextended") else []
    assert not active, f"containers still there: {active}"
    left = [c for c in ("memory", "pids", "cpu", "freezer")
            if Path(f"/sys/fs/cgroup/{c}/nubo/{h.agent_key()}").exists()]
    assert left == [], f"/nubo/{h.agent_key()} left in {left}"
