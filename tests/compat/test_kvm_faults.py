"""Faults with real guests: the agent killed and restarted (guests keep running and are
found again), QEMU killed behind the agent's back (UNKNOWN, then resume boots it again),
a guest that ignores ACPI (stopped hard after the agent's timeout), and nubod killed right
after an instantiate (the deploy finishes after the restart, with one QEMU)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from hostd import Lab, guest_dir
from onehelpers import Nubod, free_port, uniq, wait_for

ACTIVE, DONE, POWEROFF = 3, 6, 8
RUNNING, UNKNOWN = 3, 16
HOST_MONITORED, HOST_ERROR = 2, 3


@pytest.fixture(scope="module")
def guest():
    return guest_dir()


@pytest.fixture(scope="module")
def cloud(guest):
    lab = Lab(index=3).start()
    d = None
    try:
        d = Nubod(host_api=f"{lab.fabric_ip}:{free_port()}").start()
        h = lab.add_host(d, extra_args=["--shutdown-timeout", "4"])
        yield d, lab, h
    finally:
        lab.stop()
        if d is not None:
            d.stop()


def state(one, vid):
    vm = one.vm.info(vid)
    return vm.STATE, vm.LCM_STATE


def wait_state(one, h, vid, st, lcm=None, timeout=90):
    deadline = time.monotonic() + timeout
    while True:
        s = state(one, vid)
        if s[0] == st and (lcm is None or s[1] == lcm):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"VM {vid} is {s}, not {(st, lcm)}\nserial:\n{h.serial(vid)}\n"
                                 f"hostd:\n{h.log_tail()}")
        time.sleep(0.2)


def boot(one, guest, hid, cmdline="", nic=None):
    extra = f'NIC=[NETWORK_ID="{nic}"]\nCONTEXT=[NETWORK="YES"]\n' if nic is not None else ""
    return one.vm.allocate(
        f'NAME="{uniq("f")}"\nCPU="0.5"\nMEMORY="128"\n'
        f'OS=[KERNEL="{guest}/vmlinuz", INITRD="{guest}/initramfs.gz", '
        f'KERNEL_CMD="console=ttyS0 quiet no_timer_check panic=-1 {cmdline}"]\n'
        f'{extra}SCHED_REQUIREMENTS="ID = {hid}"', False)


def qemu_of(h, vid) -> list[int]:
    out = subprocess.run(["pgrep", "-f", f"qemu-system.*{h.vm_dir(vid)}/"],
                         capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def http_get(url: str) -> str:
    r = subprocess.run(["curl", "-sf", "-m", "2", url], capture_output=True, text=True, timeout=20)
    return r.stdout if r.returncode == 0 else ""


def test_a_restarted_agent_finds_its_running_guests(cloud, guest):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    net = one.vn.allocate(
        f'NAME="{uniq("net")}"\nVN_MAD="bridge"\nBRIDGE="br0"\nNETWORK_MASK="255.255.255.0"\n'
        f'AR=[TYPE="IP4", IP="10.99.{lab.index}.10", SIZE="5"]', -1)
    vid = boot(one, guest, hid, nic=net)
    wait_state(one, h, vid, ACTIVE, RUNNING)
    ip = one.vm.info(vid).TEMPLATE["NIC"]["IP"]
    wait_for(lambda: "nubo-test-guest" in http_get(f"http://{ip}/"), timeout=90, what="guest up")
    pid = qemu_of(h, vid)

    h.kill()
    wait_for(lambda: one.host.info(hid).STATE == HOST_ERROR, timeout=30, what="host ERROR")
    assert "nubo-test-guest" in http_get(f"http://{ip}/"), "the guest runs without its agent"
    assert state(one, vid) == (ACTIVE, RUNNING)
    h.restart()
    wait_for(lambda: one.host.info(hid).STATE == HOST_MONITORED, timeout=30, what="host back")
    assert qemu_of(h, vid) == pid, "the same QEMU, found again"
    one.vm.action("poweroff", vid)
    wait_state(one, h, vid, POWEROFF)
    assert qemu_of(h, vid) == []
    one.vm.action("terminate-hard", vid)
    wait_state(one, h, vid, DONE)


def test_a_qemu_that_died_leaves_the_vm_unknown_until_resumed(cloud, guest):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = boot(one, guest, hid)
    wait_state(one, h, vid, ACTIVE, RUNNING)
    wait_for(lambda: "GUEST-READY" in h.serial(vid), timeout=90, what="guest up")
    for pid in qemu_of(h, vid):
        os.kill(pid, signal.SIGKILL)
    wait_state(one, h, vid, ACTIVE, UNKNOWN, timeout=30)
    one.vm.action("resume", vid)
    wait_state(one, h, vid, ACTIVE, RUNNING)
    wait_for(lambda: h.serial(vid).count("GUEST-READY") == 2, timeout=90, what="booted again")
    assert len(qemu_of(h, vid)) == 1
    one.vm.action("terminate-hard", vid)
    wait_state(one, h, vid, DONE)
    assert not h.vm_dir(vid).exists()


def test_a_guest_that_ignores_acpi_is_stopped_hard_after_the_timeout(cloud, guest):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = boot(one, guest, hid, cmdline="guest.acpi=ignore")
    wait_state(one, h, vid, ACTIVE, RUNNING)
    wait_for(lambda: "GUEST-IGNORES-ACPI" in h.serial(vid), timeout=90, what="guest up")
    started = time.monotonic()
    one.vm.action("poweroff", vid)
    wait_state(one, h, vid, POWEROFF, timeout=60)
    assert time.monotonic() - started >= 3.5, "the agent waited for the guest first"
    assert "GUEST-ACPI-POWERDOWN" not in h.serial(vid)
    assert qemu_of(h, vid) == []
    one.vm.action("terminate-hard", vid)
    wait_state(one, h, vid, DONE)


def test_nubod_killed_after_an_instantiate_finishes_the_deploy_after_restart(cloud, guest):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = boot(one, guest, hid)
    wait_for(lambda: state(one, vid)[0] == ACTIVE, timeout=30, what="VM placed")
    d.kill()
    d.restart()
    one = d.admin()
    wait_state(one, h, vid, ACTIVE, RUNNING)
    wait_for(lambda: "GUEST-READY" in h.serial(vid), timeout=90, what="guest up")
    assert len(qemu_of(h, vid)) == 1, "one QEMU, however often the deploy was asked for"
    one.vm.action("terminate-hard", vid)
    wait_state(one, h, vid, DONE)
    assert qemu_of(h, vid) == [] and not h.vm_dir(vid).exists()
