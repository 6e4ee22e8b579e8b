"""A real nubo-hostd for tests, run inside its own network namespace.

A ``Lab`` makes the networks of a test (see its docstring); each ``Hostd`` runs in its
own namespace joined to them, so nothing a test makes touches the machine's own
network. ``guest_dir()`` finds the test guest built by scripts/build-test-guest.sh.

Environment:
  NUBO_HOSTD_BIN        path of nubo-hostd (default: beside NUBOD_BIN, else target/debug)
  NUBO_TEST_GUEST       directory with vmlinuz and initramfs.gz (default target/test-guest)
  NUBO_REQUIRE_GUESTS   1: fail instead of skipping when QEMU, the guest or root is missing
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from onehelpers import REPO_ROOT, nubod_binary, uniq

SHELL_BANNER = "Enter 'help' for a list of built-in commands."


def guest_dir() -> Path:
    d = Path(os.environ.get("NUBO_TEST_GUEST", REPO_ROOT / "target" / "test-guest"))
    missing = []
    if not (d / "vmlinuz").is_file() or not (d / "initramfs.gz").is_file():
        missing.append(f"the test guest in {d} (scripts/build-test-guest.sh)")
    if shutil.which("qemu-system-x86_64") is None:
        missing.append("qemu-system-x86_64")
    if os.geteuid() != 0:
        missing.append("root (network namespaces, bridges, taps)")
    if missing:
        why = "missing: " + ", ".join(missing)
        if os.environ.get("NUBO_REQUIRE_GUESTS") == "1":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    return d


def hostd_binary() -> Path:
    env = os.environ.get("NUBO_HOSTD_BIN")
    if env:
        return Path(env)
    return nubod_binary().parent / "nubo-hostd"


def sh(*args: str, check: bool = True) -> str:
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


class Lab:
    """The networks of a test: in the root namespace, a bridge between hosts (the
    "fabric", 10.213.N.1/24, where nubod reaches the agents and live migrations travel)
    and a bridge for the guests' LAN (10.99.N.1/24, which the test reaches guests on).
    Each host's namespace joins both: its eth0 on the fabric, and its br0 (the bridge the
    guests' taps join) through an uplink to the LAN."""

    def __init__(self, index: int):
        self.index = index
        self.tag = uuid.uuid4().hex[:6]
        self.fabric = f"nf{self.tag}"
        self.lan = f"ng{self.tag}"
        self.gateway = f"10.99.{index}.1"
        self.fabric_ip = f"10.213.{index}.1"
        self.hosts: list[Hostd] = []

    def start(self) -> "Lab":
        for bridge, addr in ((self.fabric, f"10.213.{self.index}.1/24"),
                             (self.lan, f"{self.gateway}/24")):
            sh("ip", "link", "add", bridge, "type", "bridge")
            sh("ip", "addr", "add", addr, "dev", bridge)
            sh("ip", "link", "set", bridge, "up")
        return self

    def add_host(self, nubod, extra_args=(), tls=None, hide=(), state_mb=None,
                 driver="kvm") -> "Hostd":
        """A new agent; with `tls` (cert, key, ca) it serves TLS, trusts `ca` and reaches
        nubod at https://; the directories in `hide` (nubod's datastores, say) are covered
        by an empty tmpfs in its mount namespace, as if it ran on another machine; with
        `state_mb` its state directory is a tmpfs that small; `driver` is its --driver
        (kvm, or lxc for containers)."""
        h = Hostd(nubod, self, len(self.hosts) + 1, extra_args, tls, hide, state_mb,
                  driver).start()
        self.hosts.append(h)
        return h

    def stop(self) -> None:
        for h in self.hosts:
            h.stop()
        for bridge in (self.fabric, self.lan):
            sh("ip", "link", "del", bridge, check=False)


class Hostd:
    """One agent in its own namespace, serving host ``name``."""

    def __init__(self, nubod, lab: Lab, number: int, extra_args=(), tls=None, hide=(),
                 state_mb=None, driver="kvm"):
        self.nubod = nubod
        self.driver = driver
        self.state_mb = state_mb
        self.extra_args = list(extra_args)
        self.tls = tls
        self.hide = [str(p) for p in hide]
        self.lab = lab
        tag = f"{lab.tag}{number}"
        self.name = f"{driver}-{tag}"
        self.ns = f"nubo-{tag}"
        self.to_fabric = f"hf{tag}"
        self.to_lan = f"hg{tag}"
        self.addr = f"10.213.{lab.index}.{10 + number}"
        self.port = 2634
        self.tmp = Path(tempfile.mkdtemp(prefix="nubo-hostd-"))
        self.state_dir = self.tmp / "state"
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.addr}:{self.port}"

    def netns(self, *args: str, check: bool = True) -> str:
        return sh("ip", "netns", "exec", self.ns, *args, check=check)

    def start(self) -> "Hostd":
        sh("ip", "netns", "add", self.ns)
        self.netns("ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", self.to_fabric, "type", "veth", "peer", "name", "eth0", "netns", self.ns)
        sh("ip", "link", "set", self.to_fabric, "master", self.lab.fabric, "up")
        self.netns("ip", "addr", "add", f"{self.addr}/24", "dev", "eth0")
        self.netns("ip", "link", "set", "eth0", "up")
        self.netns("ip", "link", "add", "br0", "type", "bridge")
        self.netns("ip", "link", "set", "br0", "up")
        sh("ip", "link", "add", self.to_lan, "type", "veth", "peer", "name", "uplink", "netns", self.ns)
        sh("ip", "link", "set", self.to_lan, "master", self.lab.lan, "up")
        self.netns("ip", "link", "set", "uplink", "master", "br0", "up")
        secret = subprocess.run([str(self.nubod.binary), "--data-dir", str(self.nubod.tmp / "data"),
                                 "host-secret", self.name], capture_output=True, text=True,
                                check=True, timeout=30).stdout.strip()
        self.secret_file = self.tmp / "secret"
        self.secret_file.write_text(secret + "\n")
        self.secret_file.chmod(0o600)
        self.log = self.tmp / "hostd.log"
        if self.state_mb:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            sh("mount", "-t", "tmpfs", "-o", f"size={self.state_mb}m", "nubo-state", str(self.state_dir))
        if self.driver == "lxc":
            # Containers' users (unprivileged host ids) pass through the state directory.
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self.tmp.chmod(0o711)
            self.state_dir.chmod(0o711)
        self._spawn()
        return self

    def _spawn(self) -> None:
        with open(self.log, "ab") as err:
            # `ip netns exec` gives the agent a mount namespace of its own (a slave of the
            # machine's), so what is mounted there is seen by the agent alone.
            mounts = "".join(f'mount -t tmpfs nubo-hidden "{p}" && ' for p in self.hide)
            hiding = ["sh", "-c", mounts + 'exec "$0" "$@"'] if mounts else []
            enter = ["ip", "netns", "exec", self.ns]
            if self.driver == "lxc":
                # The machine's /sys (with its cgroups, which the OCI runtime needs) in a
                # mount namespace of the agent's own: `ip netns exec` would give it a bare
                # sysfs of the namespace.
                enter = ["nsenter", f"--net=/var/run/netns/{self.ns}", "unshare", "-m",
                         "--propagation", "slave"]
            self.proc = subprocess.Popen(
                [*enter, *hiding, str(hostd_binary()), "--name", self.name,
                 "--listen", f"{self.addr}:{self.port}", "--secret-file", str(self.secret_file),
                 "--state-dir", str(self.state_dir), "--driver", self.driver, "--log-level", "debug",
                 "--nubod", f"{'https' if self.tls else 'http'}://{self.nubod.host_api}",
                 *self.tls_args(), *self.extra_args],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err)

    def tls_args(self) -> list[str]:
        if not self.tls:
            return []
        cert, key, ca = self.tls
        return ["--tls-cert", str(cert), "--tls-key", str(key), "--ca-file", str(ca)]

    def kill(self) -> None:
        """kill -9 the agent (its guests keep running)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=15)

    def restart(self) -> None:
        """Starts the agent again; returns once it accepts connections."""
        with open(self.log, "ab") as f:
            f.write(b"\n===== test harness: restart =====\n")
        self._spawn()
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((self.addr, self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError(f"{self.name}'s agent does not listen:\n{self.log_tail()}")
                time.sleep(0.1)

    def host_id(self, one) -> int:
        """The host's id in nubod, registering it first if needed."""
        for x in one.hostpool.info().HOST:
            if x.NAME == self.name:
                return x.ID
        return self.register(one)

    def register(self, one) -> int:
        """Creates the host in nubod and waits for MONITORED: the agent's hello tells
        nubod where it listens."""
        hid = one.host.allocate(self.name, self.driver, self.driver, -1)
        deadline = time.monotonic() + 60
        while one.host.info(hid).STATE != 2:
            if time.monotonic() > deadline:
                raise AssertionError(f"host {hid} not MONITORED; hostd log:\n{self.log_tail()}")
            time.sleep(0.2)
        assert one.host.info(hid).TEMPLATE["HOSTD_ENDPOINT"] == self.endpoint
        return hid

    def vm_dir(self, vid: int) -> Path:
        return self.state_dir / "vms" / str(vid)

    def serial(self, vid: int) -> str:
        """The guest's serial log (a container's: its init's output)."""
        log = "console.log" if self.driver == "lxc" else "serial.log"
        try:
            return (self.vm_dir(vid) / log).read_text(errors="replace")
        except OSError:
            return ""

    def wait_shell(self, vid: int, boots: int = 1, timeout: float = 120) -> None:
        """Waits until the guest's serial console has offered its shell `boots` times."""
        deadline = time.monotonic() + timeout
        while self.serial(vid).count(SHELL_BANNER) < boots:
            if time.monotonic() > deadline:
                raise AssertionError(f"no shell on VM {vid}'s console:\n{self.serial(vid)[-2000:]}")
            time.sleep(0.2)

    def ask(self, vid: int, command: str, timeout: float = 60) -> str:
        """Runs `command` in the guest's serial shell (once it is there); its output."""
        self.wait_shell(vid)
        tag = uniq("ans")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(self.vm_dir(vid) / "serial.sock"))
            s.sendall(f'echo "{tag}-BEGIN"; {command}; echo; echo "{tag}-END"\n'.encode())
            # Connected until the answer is there: QEMU drops what a client sent if it
            # leaves before the guest read it. What the console sends back is drained,
            # or the guest's console stalls once the socket's buffer is full.
            s.setblocking(False)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    while s.recv(65536):
                        pass
                except BlockingIOError:
                    pass
                text = self.serial(vid)
                begin, end = text.rfind(f"\n{tag}-BEGIN"), text.rfind(f"\n{tag}-END")
                if begin >= 0 and end > begin:
                    return text[begin + len(tag) + 7:end].strip()
                time.sleep(0.05)
        raise AssertionError(f"no answer to {command!r}:\n{self.serial(vid)[-2000:]}")

    def log_tail(self, limit: int = 6000) -> str:
        try:
            return self.log.read_bytes()[-limit:].decode("utf-8", "replace")
        except OSError:
            return ""

    def qemu_pids(self) -> list[int]:
        out = sh("pgrep", "-f", f"qemu-system.*{self.state_dir}", check=False)
        return [int(p) for p in out.split()]

    def mountinfo(self) -> str:
        """The mount table of the agent's mount namespace (empty once it is gone)."""
        try:
            return Path(f"/proc/{self.proc.pid}/mountinfo").read_text()
        except (OSError, AttributeError):
            return ""

    def agent_key(self) -> str:
        """What the machine-wide names of this agent's containers carry (driver-lxc's
        layout::agent_key: the state directory's SHA-256, first 4 bytes in hex)."""
        import hashlib
        return hashlib.sha256(str(self.state_dir.resolve()).encode()).hexdigest()[:8]

    def container_netns_names(self, vid) -> list[str]:
        """The `ip netns` names container `vid` may have (older agents: nubo-one-<id>)."""
        return [f"nubo-{self.agent_key()}-{vid}", f"nubo-one-{vid}"]

    def container_cgroups(self, vid) -> list[str]:
        """The cgroup paths container `vid` may have (older agents: /nubo/one-<id>)."""
        return [f"/nubo/{self.agent_key()}/one-{vid}", f"/nubo/one-{vid}"]

    def remove_containers(self) -> None:
        """Ends the containers a test left (their processes, cgroups and namespaces)."""
        runtime = self.state_dir / "runtime"
        if runtime.is_dir():
            for c in runtime.iterdir():
                sh("runc", "--root", str(runtime), "delete", "--force", c.name, check=False)
        vms = self.state_dir / "vms"
        if vms.is_dir():
            for v in vms.iterdir():
                for name in self.container_netns_names(v.name):
                    sh("ip", "netns", "del", name, check=False)
        for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
            point = line.split()[4]
            if point.startswith(str(self.state_dir)):
                sh("umount", "-l", point, check=False)

    def links(self) -> list[str]:
        return [line.split(":")[1].strip().split("@")[0]
                for line in self.netns("ip", "-o", "link", "show").splitlines()]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for pid in self.qemu_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.driver == "lxc":
            self.remove_containers()
        if self.state_mb:
            sh("umount", "-l", str(self.state_dir), check=False)
        sh("ip", "link", "del", self.to_fabric, check=False)
        sh("ip", "link", "del", self.to_lan, check=False)
        sh("ip", "netns", "del", self.ns, check=False)
        if os.environ.get("NUBO_COMPAT_KEEP") is None:
            shutil.rmtree(self.tmp, ignore_errors=True)


@contextlib.contextmanager
def lab_cloud(index: int, hosts: int = 1, extra_args=(), monitor_interval: int = 1, tls=None,
              nubod_args=(), nubod_config: str = "", driver: str = "kvm"):
    """A nubod (asking its hosts every `monitor_interval` seconds, with `nubod_args` and the
    configuration file text `nubod_config`) and
    `hosts` agents (with `extra_args`) in a lab of their own: yields (nubod, lab, [agents]);
    fails the module if an agent died during it. With `tls` (cert, key, ca), nubod and the
    agents serve TLS with that certificate and trust that authority."""
    from onehelpers import Nubod, free_port
    lab = Lab(index=index).start()
    d = None
    try:
        nubod_args = list(nubod_args)
        if tls:
            cert, key, ca = tls
            nubod_args += ["--host-api-tls-cert", str(cert), "--host-api-tls-key", str(key),
                           "--ca-file", str(ca)]
        d = Nubod(host_api=f"{lab.fabric_ip}:{free_port()}", monitor_interval=monitor_interval,
                  extra_args=nubod_args, config=nubod_config).start()
        agents = [lab.add_host(d, extra_args, tls, driver=driver) for _ in range(hosts)]
        yield d, lab, agents
    finally:
        dead = [h.name for h in lab.hosts if h.proc is None or h.proc.poll() is not None]
        logs = "\n".join(f"--- {h.name} ---\n{h.log_tail()}" for h in lab.hosts)
        lab.stop()
        if d is not None:
            d.stop()
        if dead:
            pytest.fail(f"nubo-hostd died: {dead}\n{logs}", pytrace=False)


def import_guest_image(one, guest: Path, name: str = "boot") -> int:
    """Imports the test guest's bootable disk as an OS image; its id, once READY."""
    from onehelpers import wait_for
    img = one.image.allocate(
        f'NAME="{uniq(name)}"\nTYPE="OS"\nPATH="{guest}/nubo-test-guest.qcow2"', 1)
    wait_for(lambda: one.image.info(img).STATE == 1, timeout=60, what="image READY")
    return img


def vm_state(one, vid) -> tuple[int, int]:
    vm = one.vm.info(vid)
    return vm.STATE, vm.LCM_STATE


def wait_state(one, h, vid, st, lcm=None, timeout=90) -> None:
    """Waits until VM `vid` is in STATE `st` (and LCM_STATE `lcm`); on timeout, fails with
    its error, its serial console and agent `h`'s log."""
    deadline = time.monotonic() + timeout
    while True:
        s = vm_state(one, vid)
        if s[0] == st and (lcm is None or s[1] == lcm):
            return
        if time.monotonic() > deadline:
            vm = one.vm.info(vid)
            error = vm.USER_TEMPLATE.get("ERROR") if hasattr(vm, "USER_TEMPLATE") else ""
            raise AssertionError(f"VM {vid} is {s}, not {(st, lcm)}: {error}\n"
                                 f"serial:\n{h.serial(vid)}\nhostd:\n{h.log_tail()}")
        time.sleep(0.2)


def http_get(url: str, netns: str | None = None) -> str:
    """GET from the guests' LAN (the root namespace, or `netns`); empty when it fails."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    r = subprocess.run([*prefix, "curl", "-sf", "-m", "3", url], capture_output=True, text=True,
                       timeout=20)
    return r.stdout if r.returncode == 0 else ""


GUEST_CMDLINE = "console=ttyS0 quiet no_timer_check panic=-1"


def kernel_boot(guest: Path, cmdline: str = "") -> str:
    """The OS section that boots the test guest's kernel and initramfs directly."""
    kernel_cmd = f"{GUEST_CMDLINE} {cmdline}".strip()
    return (f'OS=[KERNEL="{guest}/vmlinuz", INITRD="{guest}/initramfs.gz", '
            f'KERNEL_CMD="{kernel_cmd}"]')
