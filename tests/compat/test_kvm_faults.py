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

from hostd import (guest_dir, http_get, import_guest_image, kernel_boot, lab_cloud, vm_state,
                   wait_state)
from onehelpers import tmpl, uniq, wait_for

ACTIVE, DONE, POWEROFF = 3, 6, 8
RUNNING, UNKNOWN = 3, 16
HOST_MONITORED, HOST_ERROR = 2, 3


@pytest.fixture(scope="module")
def guest():
    return guest_dir()


@pytest.fixture(scope="module")
def cloud(guest):
    with lab_cloud(index=3, extra_args=["--shutdown-timeout", "4"]) as (d, lab, (h,)):
        yield d, lab, h


def boot(one, guest, hid, cmdline="", nic=None):
    extra = f'NIC=[NETWORK_ID="{nic}"]\nCONTEXT=[NETWORK="YES"]\n' if nic is not None else ""
    return one.vm.allocate(
        f'NAME="{uniq("f")}"\nCPU="0.5"\nMEMORY="128"\n'
        + kernel_boot(guest, cmdline) + '\n'
        f'{extra}SCHED_REQUIREMENTS="ID = {hid}"', False)


def qemu_of(h, vid) -> list[int]:
    out = subprocess.run(["pgrep", "-f", f"qemu-system.*{h.vm_dir(vid)}/"],
                         capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


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
    assert vm_state(one, vid) == (ACTIVE, RUNNING)
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
    wait_for(lambda: vm_state(one, vid)[0] == ACTIVE, timeout=30, what="VM placed")
    d.kill()
    d.restart()
    one = d.admin()
    wait_state(one, h, vid, ACTIVE, RUNNING)
    wait_for(lambda: "GUEST-READY" in h.serial(vid), timeout=90, what="guest up")
    assert len(qemu_of(h, vid)) == 1, "one QEMU, however often the deploy was asked for"
    one.vm.action("terminate-hard", vid)
    wait_state(one, h, vid, DONE)
    assert qemu_of(h, vid) == [] and not h.vm_dir(vid).exists()


def test_a_full_disk_fails_the_prolog_with_the_reason_and_leaves_nothing(cloud, guest):
    """A host whose state directory has no room for the image: PROLOG_FAILURE with the
    reason, no partial file left in its image cache; recover --delete ends the VM."""
    d, lab, _ = cloud
    one = d.admin()
    small = lab.add_host(d, state_mb=8)
    hid = small.host_id(one)
    img = import_guest_image(one, guest, "big")
    vid = one.vm.allocate(
        f'NAME="{uniq("cramped")}"\nCPU="0.5"\nMEMORY="128"\nDISK=[IMAGE_ID="{img}"]\n'
        f'SCHED_REQUIREMENTS="ID = {hid}"', False)
    wait_state(one, small, vid, ACTIVE, 39, timeout=60)  # PROLOG_FAILURE
    error = str(tmpl(one.xml("vm.info", vid), "ERROR", "USER_TEMPLATE"))
    assert "No space left on device" in error, error
    leftovers = [p.name for p in (small.state_dir / "images").iterdir()]
    assert not [n for n in leftovers if n.startswith(f"{img}")], leftovers
    one.vm.recover(vid, 3)  # delete
    wait_state(one, small, vid, DONE)
    assert not small.vm_dir(vid).exists()
