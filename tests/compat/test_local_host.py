"""The local host (`nubod --local-host`): nubod makes this machine a host of its own cloud.

nubod creates host local-lxc (and local-kvm when QEMU is installed), runs a nubo-hostd
per host bound to 127.0.0.1, which pushes reports so the hosts go MONITORED; an agent
that dies is started again; stopping nubod stops its agents. With root and runc, the
container stack registered as image debian-12 (the one scripts/build-stack.sh makes,
NUBO_TEST_STACK, else a busybox ext4 image made here and passed with --stack) runs a VM
with SCHED_REQUIREMENTS="HYPERVISOR=lxc" to RUNNING, whose init says it is ready on the
console (the Debian stack's after running the context's START_SCRIPT once).

Environment:
  NUBO_TEST_STACK      the container stack (default target/stack/debian-12.raw if built)
  NUBO_REQUIRE_GUESTS  1: fail instead of skipping when root, runc or mke2fs is missing
  NUBO_PG_GUESTS       1: run the container on PostgreSQL too (else only on SQLite, as
                       scripts/test runs the real-guest modules)
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from onehelpers import REPO_ROOT, Nubod, raw_call, wait_for

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
    d = Nubod(extra_args=["--local-host"]).start()
    try:
        pid = wait_for(lambda: _agent_pid(d, "local-lxc"), timeout=20, what="the agent")
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait(timeout=30)
        assert d.proc.returncode == 0, d.stderr_tail()
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=5, what="the agent gone")
        d.restart()
        names = [h.NAME for h in d.admin().hostpool.info().HOST]
        assert names.count("local-lxc") == 1, names
        wait_for(lambda: _agent_pid(d, "local-lxc"), timeout=20, what="the agent again")
    finally:
        d.stop()
