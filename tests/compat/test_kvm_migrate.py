"""Live migration of a real guest between two nubo-hostd, each in its own network
namespace, joined by a fabric bridge (agents, migration traffic) and a LAN bridge (the
guests' network). The guest keeps its memory (a file written before the move is served
after it), keeps answering on its address, and leaves nothing on the host it left."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hostd import guest_dir, http_get, import_guest_image, kernel_boot, lab_cloud
from onehelpers import tmpl, uniq, wait_for

ACTIVE, DONE, RUNNING = 3, 6, 3


@pytest.fixture(scope="module")
def guest():
    return guest_dir()


@pytest.fixture(scope="module")
def two_hosts(guest):
    with lab_cloud(index=2, hosts=2) as (d, lab, (h1, h2)):
        yield d, lab, h1, h2


def type_into(h, vid: int, line: str) -> None:
    """Types a line into the guest's serial console."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(h.vm_dir(vid) / "serial.sock"))
        s.sendall(line.encode() + b"\n")
        time.sleep(0.5)


def wait_on(one, hosts, vid, state, lcm, hid, timeout=120):
    def where():
        vm = one.vm.info(vid)
        hist = vm.HISTORY_RECORDS.HISTORY
        last = (hist[-1] if hist else None) if isinstance(hist, list) else hist
        return vm.STATE, vm.LCM_STATE, last.HID if last is not None else None
    deadline = time.monotonic() + timeout
    while where() != (state, lcm, hid):
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {h.name} ---\n{h.log_tail(3000)}" for h in hosts)
            error = tmpl(one.xml("vm.info", vid), "ERROR", "USER_TEMPLATE")
            raise AssertionError(f"VM {vid} is {where()}, not {(state, lcm, hid)} "
                                 f"(error: {error})\n{logs}")
        time.sleep(0.2)


def wait_running_on(one, hosts, vid, hid, timeout=120):
    wait_on(one, hosts, vid, ACTIVE, RUNNING, hid, timeout)


def test_a_running_guest_moves_live_and_back(two_hosts, guest):
    d, lab, h1, h2 = two_hosts
    one = d.admin()
    id1, id2 = h1.host_id(one), h2.host_id(one)
    net = one.vn.allocate(
        f'NAME="{uniq("lan")}"\nVN_MAD="bridge"\nBRIDGE="br0"\n'
        f'NETWORK_MASK="255.255.255.0"\nGATEWAY="{lab.gateway}"\n'
        f'AR=[TYPE="IP4", IP="10.99.{lab.index}.10", SIZE="5"]', -1)
    vid = one.vm.allocate(
        f'NAME="{uniq("mover")}"\nCPU="0.5"\nMEMORY="128"\n'
        + kernel_boot(guest) + f'\n'
        f'NIC=[NETWORK_ID="{net}"]\nCONTEXT=[NETWORK="YES", HOSTNAME="mover"]\n'
        f'SCHED_REQUIREMENTS="ID = {id1}"', False)
    wait_running_on(one, lab.hosts, vid, id1)
    ip = one.vm.info(vid).TEMPLATE["NIC"]["IP"]
    wait_for(lambda: "nubo-test-guest mover" in http_get(f"http://{ip}/"), timeout=90,
             what="the guest answering on h1")
    marker = uniq("marker")
    h1.wait_shell(vid)
    type_into(h1, vid, f"echo {marker} > /www/marker")
    assert http_get(f"http://{ip}/marker").strip() == marker

    one.vm.migrate(vid, id2, True, False, -1, 0)
    wait_running_on(one, lab.hosts, vid, id2)
    assert http_get(f"http://{ip}/marker").strip() == marker, "memory moved with the guest"
    assert "GUEST-UP" not in h2.serial(vid), "the guest was not booted again on h2"
    assert h1.qemu_pids() == [] and not h1.vm_dir(vid).exists()
    assert f"one-{vid}-0" not in h1.links() and f"one-{vid}-0" in h2.links()

    one.vm.migrate(vid, id1, True, False, -1, 0)
    wait_running_on(one, lab.hosts, vid, id1)
    assert http_get(f"http://{ip}/marker").strip() == marker
    assert h2.qemu_pids() == [] and not h2.vm_dir(vid).exists()

    one.vm.action("terminate-hard", vid)
    wait_for(lambda: one.vm.info(vid).STATE == DONE, timeout=60, what="DONE")
    for h in (h1, h2):
        assert h.qemu_pids() == [] and not h.vm_dir(vid).exists()
        assert f"one-{vid}-0" not in h.links()


def test_a_guest_with_local_disks_moves_live_with_them(two_hosts, guest):
    d, lab, h1, h2 = two_hosts
    one = d.admin()
    id1, id2 = h1.host_id(one), h2.host_id(one)
    img = import_guest_image(one, guest, "boot")
    vid = one.vm.allocate(
        f'NAME="{uniq("disky")}"\nCPU="0.5"\nMEMORY="128"\n'
        f'DISK=[IMAGE_ID="{img}"]\nDISK=[SIZE="8", TYPE="fs"]\n'
        f'SCHED_REQUIREMENTS="ID = {id1}"', False)
    wait_running_on(one, lab.hosts, vid, id1)
    wait_for(lambda: "GUEST-READY" in h1.serial(vid), timeout=120, what="GUEST-READY on h1")
    marker = uniq("on-disk")
    h1.wait_shell(vid)
    type_into(h1, vid, f"printf {marker} > /dev/vdb; sync; echo WROTE-$((6*7))")
    wait_for(lambda: "WROTE-42" in h1.serial(vid), timeout=20, what="the guest writing its disk")
    # A disk plugged in while it runs moves too (both ends build the same machine).
    data = one.image.allocate(
        f'NAME="{uniq("data")}"\nTYPE="DATABLOCK"\nSIZE="8"\nFORMAT="qcow2"', 1)
    wait_for(lambda: one.image.info(data).STATE == 1, timeout=60, what="datablock READY")
    one.vm.attach(vid, f'DISK=[IMAGE_ID="{data}"]')
    wait_running_on(one, lab.hosts, vid, id1)
    type_into(h1, vid, f"sleep 1; printf {marker}-hot > /dev/vdc; sync; echo WROTE-HOT-$((6*7))")
    wait_for(lambda: "WROTE-HOT-42" in h1.serial(vid), timeout=20, what="the guest writing vdc")

    one.vm.migrate(vid, id2, True, False, -1, 0)
    wait_running_on(one, lab.hosts, vid, id2)
    copy = (h2.vm_dir(vid) / "disk.1").read_bytes()
    assert copy.startswith(marker.encode()), "the volatile disk's data reached h2"
    overlay = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(h2.vm_dir(vid) / "disk.0")],
                             capture_output=True, text=True, check=True).stdout
    assert f"/images/{img}-" in overlay, "h2's overlay sits on h2's cached base"
    type_into(h2, vid, "echo 3 > /proc/sys/vm/drop_caches; echo READ-$(head -c 40 /dev/vdb)")
    wait_for(lambda: f"READ-{marker}" in h2.serial(vid), timeout=20,
             what="the guest reading its disk back on h2")
    type_into(h2, vid, "echo HOT-$(head -c 60 /dev/vdc)")
    wait_for(lambda: f"HOT-{marker}-hot" in h2.serial(vid), timeout=20,
             what="the hot-plugged disk's data on h2")
    assert h1.qemu_pids() == [] and not h1.vm_dir(vid).exists()

    one.vm.action("terminate-hard", vid)
    wait_for(lambda: one.vm.info(vid).STATE == DONE, timeout=60, what="DONE")
    assert not h2.vm_dir(vid).exists()


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_a_guest_moves_cold_with_its_memory_and_disks_and_back_powered_off(two_hosts, guest):
    """Without --live: the guest is saved on h1, its overlay, volatile disk and memory
    travel to h2 (checked against their digests), the overlay is rebased onto h2's copy
    of the image, and the guest resumes where it was. Powered off, it moves back."""
    d, lab, h1, h2 = two_hosts
    one = d.admin()
    id1, id2 = h1.host_id(one), h2.host_id(one)
    img = import_guest_image(one, guest, "boot")
    vid = one.vm.allocate(
        f'NAME="{uniq("cold")}"\nCPU="0.5"\nMEMORY="128"\n'
        f'DISK=[IMAGE_ID="{img}"]\nDISK=[SIZE="8", TYPE="fs"]\n'
        f'SCHED_REQUIREMENTS="ID = {id1}"', False)
    wait_running_on(one, lab.hosts, vid, id1)
    wait_for(lambda: "GUEST-READY" in h1.serial(vid), timeout=120, what="GUEST-READY on h1")
    marker = uniq("cold")
    h1.wait_shell(vid)
    type_into(h1, vid, f"printf {marker} > /dev/vdb; sync; echo {marker}-ram > /www/marker; "
                       f"echo WROTE-$((6*7))")
    wait_for(lambda: "WROTE-42" in h1.serial(vid), timeout=20, what="the guest writing")

    one.vm.migrate(vid, id2, False, False, -1, 0)
    wait_running_on(one, lab.hosts, vid, id2)
    assert "memory.state" not in {p.name for p in h2.vm_dir(vid).iterdir()}, \
        "the saved memory was restored and dropped"
    assert (h2.vm_dir(vid) / "disk.1").read_bytes().startswith(marker.encode())
    overlay = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(h2.vm_dir(vid) / "disk.0")],
                             capture_output=True, text=True, check=True).stdout
    assert f"{h2.state_dir}/images/{img}-" in overlay, "h2's overlay sits on h2's cached base"
    assert h1.qemu_pids() == [] and not h1.vm_dir(vid).exists(), "h1 dropped its copy"
    assert "GUEST-UP" not in h2.serial(vid).split("WROTE-42")[-1], "resumed, not booted again"
    type_into(h2, vid, "echo RAM-$(cat /www/marker)")
    wait_for(lambda: f"RAM-{marker}-ram" in h2.serial(vid), timeout=20,
             what="the guest's memory on h2")

    one.vm.action("poweroff-hard", vid)
    wait_on(one, lab.hosts, vid, 8, 0, id2)
    one.vm.migrate(vid, id1, False, False, -1, 0)
    wait_on(one, lab.hosts, vid, 8, 0, id1)
    assert not h2.vm_dir(vid).exists()
    one.vm.action("resume", vid)
    wait_running_on(one, lab.hosts, vid, id1)
    h1.wait_shell(vid, boots=2)  # the console log moved with the VM: this is its 2nd boot
    assert h1.ask(vid, "head -c 40 /dev/vdb").startswith(marker), \
        "the volatile disk's data is back on h1 after a fresh boot"

    one.vm.action("terminate-hard", vid)
    wait_for(lambda: one.vm.info(vid).STATE == DONE, timeout=60, what="DONE")
    for h in (h1, h2):
        assert h.qemu_pids() == [] and not h.vm_dir(vid).exists()


def test_a_cold_migration_from_a_host_whose_agent_is_down_fails_and_recovers(two_hosts, guest):
    """The previous host cannot offer the files: PROLOG_MIGRATE_POWEROFF_FAILURE with the
    reason, its files untouched; once its agent is back, a retry moves the VM."""
    d, lab, h1, h2 = two_hosts
    one = d.admin()
    id1, id2 = h1.host_id(one), h2.host_id(one)
    vid = one.vm.allocate(
        f'NAME="{uniq("stuck")}"\nCPU="0.5"\nMEMORY="128"\n'
        + kernel_boot(guest) + f'\nDISK=[SIZE="4", TYPE="fs"]\n'
        f'SCHED_REQUIREMENTS="ID = {id1}"', False)
    wait_running_on(one, lab.hosts, vid, id1)
    one.vm.action("poweroff-hard", vid)
    wait_on(one, lab.hosts, vid, 8, 0, id1)
    files = sorted(p.name for p in h1.vm_dir(vid).iterdir())
    # The agent serves VM files only with a token it minted, for that VM, unexpired.
    url = f"{h1.endpoint}/v1/transfer/{vid}/disk.0"
    assert status_of(url) == 401
    assert status_of(url + "?expires=99999999999&token=" + "0" * 64) == 401
    assert status_of(f"{h1.endpoint}/v1/transfer/{vid}/spec.json?expires=1&token=00") == 401
    h1.kill()
    try:
        one.vm.migrate(vid, id2, False, False, -1, 0)
        wait_on(one, lab.hosts, vid, 3, 44, id2)  # PROLOG_MIGRATE_POWEROFF_FAILURE
        error = tmpl(one.xml("vm.info", vid), "ERROR", "USER_TEMPLATE")
        assert "previous host" in error and "cannot reach" in error, error
        assert sorted(p.name for p in h1.vm_dir(vid).iterdir()) == files
        assert not h2.vm_dir(vid).exists()
    finally:
        h1.restart()
    one.vm.recover(vid, 2)
    wait_on(one, lab.hosts, vid, 8, 0, id2)
    disks = [f for f in files if f.startswith("disk.")]
    assert disks and all((h2.vm_dir(vid) / f).exists() for f in disks), disks
    assert not h1.vm_dir(vid).exists()
    one.vm.action("terminate-hard", vid)
    wait_for(lambda: one.vm.info(vid).STATE == DONE, timeout=60, what="DONE")
    assert not h2.vm_dir(vid).exists()


def test_an_undeployed_or_stopped_guest_resumes_on_another_host_with_its_files(two_hosts, guest):
    """undeploy and stop keep the VM's files on its host; deployed onto the other host,
    the VM takes them along (its disk after undeploy, its disk and memory after stop)."""
    d, lab, h1, h2 = two_hosts
    one = d.admin()
    id1, id2 = h1.host_id(one), h2.host_id(one)
    vid = one.vm.allocate(
        f'NAME="{uniq("wanderer")}"\nCPU="0.5"\nMEMORY="128"\n'
        + kernel_boot(guest) + f'\nDISK=[SIZE="4", TYPE="fs"]\n'
        f'SCHED_REQUIREMENTS="ID = {id1}"', False)
    wait_running_on(one, lab.hosts, vid, id1)
    marker = uniq("kept")
    assert h1.ask(vid, f"printf {marker} > /dev/vda; sync; echo ok") == "ok"

    one.vm.action("undeploy-hard", vid)
    wait_on(one, lab.hosts, vid, 9, 0, id1)  # UNDEPLOYED
    assert (h1.vm_dir(vid) / "disk.0").exists()
    one.vm.deploy(vid, id2, False, -1)
    wait_running_on(one, lab.hosts, vid, id2)
    h2.wait_shell(vid, boots=2)
    assert h2.ask(vid, "head -c 40 /dev/vda").startswith(marker)
    assert not h1.vm_dir(vid).exists()

    assert h2.ask(vid, f"echo {marker}-ram > /www/marker; echo ok") == "ok"
    one.vm.action("stop", vid)
    wait_on(one, lab.hosts, vid, 4, 0, id2)  # STOPPED
    one.vm.deploy(vid, id1, False, -1)
    wait_running_on(one, lab.hosts, vid, id1)
    assert h1.ask(vid, "cat /www/marker") == f"{marker}-ram", "the memory came along"
    assert not h2.vm_dir(vid).exists()
    one.vm.action("terminate-hard", vid)
    wait_for(lambda: one.vm.info(vid).STATE == DONE, timeout=60, what="DONE")
    for h in (h1, h2):
        assert not h.vm_dir(vid).exists()


def test_a_host_without_the_datastore_works_on_a_copy_of_a_persistent_image(two_hosts, guest):
    """A host that cannot see nubod's datastore (hidden under a tmpfs in its mount
    namespace) fetches a persistent image, the VM writes the copy, and the copy goes back
    to the datastore when the VM ends: the next VM reads what the first one wrote."""
    d, lab, _, _ = two_hosts
    one = d.admin()
    h3 = lab.add_host(d, hide=[d.tmp / "data"])
    id3 = h3.host_id(one)
    img = one.image.allocate(
        f'NAME="{uniq("mine")}"\nTYPE="DATABLOCK"\nSIZE="4"\nFORMAT="raw"\nPERSISTENT="YES"', 1)
    wait_for(lambda: one.image.info(img).STATE == 1, timeout=60, what="image READY")
    source = Path(one.image.info(img).SOURCE)

    def boot() -> int:
        vid = one.vm.allocate(
            f'NAME="{uniq("keeper")}"\nCPU="0.5"\nMEMORY="128"\n' + kernel_boot(guest) + '\n'
            f'DISK=[IMAGE_ID="{img}"]\nSCHED_REQUIREMENTS="ID = {id3}"', False)
        wait_running_on(one, lab.hosts, vid, id3)
        return vid

    first = boot()
    assert (h3.vm_dir(first) / "disk.0").exists(), "the VM works on a copy in its directory"
    marker = uniq("persisted")
    assert h3.ask(first, f"printf {marker} > /dev/vda; sync; echo ok") == "ok"
    assert not source.read_bytes().startswith(marker.encode()), "the datastore is untouched meanwhile"
    one.vm.action("terminate", first)
    wait_for(lambda: one.vm.info(first).STATE == DONE, timeout=90, what="DONE")
    assert source.read_bytes().startswith(marker.encode()), "the copy came back"
    assert not h3.vm_dir(first).exists()

    second = boot()
    assert h3.ask(second, "head -c 40 /dev/vda").startswith(marker)
    one.vm.action("terminate-hard", second)
    wait_for(lambda: one.vm.info(second).STATE == DONE, timeout=90, what="DONE")


def test_a_live_migration_the_destination_cannot_take_leaves_the_guest_where_it_was(two_hosts, guest):
    """The destination cannot get the VM's image (its file was removed from the datastore
    after the VM started): the migration fails with the reason, the guest runs on where it
    was, and the destination keeps nothing of it."""
    d, lab, h1, h2 = two_hosts
    one = d.admin()
    id1, id2 = h1.host_id(one), h2.host_id(one)
    img = import_guest_image(one, guest, "vanishing")
    vid = one.vm.allocate(
        f'NAME="{uniq("stayer")}"\nCPU="0.5"\nMEMORY="128"\nDISK=[IMAGE_ID="{img}"]\n'
        f'SCHED_REQUIREMENTS="ID = {id1}"', False)
    wait_running_on(one, lab.hosts, vid, id1)
    Path(one.image.info(img).SOURCE).unlink()
    one.vm.migrate(vid, id2, True, False, -1, 0)
    wait_for(lambda: "destination host" in str(tmpl(one.xml("vm.info", vid), "ERROR", "USER_TEMPLATE") or ""),
             timeout=60, what="the failed migration's reason")
    wait_running_on(one, lab.hosts, vid, id1)
    assert not h2.vm_dir(vid).exists(), "the destination keeps nothing"
    assert h1.qemu_pids(), "the guest runs on"
    one.vm.action("terminate-hard", vid)
    wait_for(lambda: one.vm.info(vid).STATE == DONE, timeout=60, what="DONE")
