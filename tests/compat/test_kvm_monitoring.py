"""Monitoring pushed by the agent: with nubod asking its hosts only once an hour, what it
knows of a real guest comes from the reports nubo-hostd pushes every few seconds and
whenever a guest changes: the host's disk space, the guest's network bytes, disk traffic
and disk sizes, and a guest whose QEMU died (RUNNING → UNKNOWN)."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from hostd import guest_dir, http_get, kernel_boot, lab_cloud, wait_state
from onehelpers import uniq, wait_for

ACTIVE, DONE, RUNNING, UNKNOWN = 3, 6, 3, 16


@pytest.fixture(scope="module")
def guest():
    return guest_dir()


@pytest.fixture(scope="module")
def cloud(guest):
    with lab_cloud(index=6, extra_args=("--push-interval", "2"),
                   monitor_interval=3600) as (d, lab, (h,)):
        yield d, lab, h


def test_reports_pushed_by_the_agent_keep_nubod_current(cloud, guest):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    wait_for(lambda: "DS_LOCATION_FREE_MB" in one.host.info(hid).TEMPLATE, timeout=30,
             what="the host's disk space reported")
    assert int(one.host.info(hid).TEMPLATE["DS_LOCATION_TOTAL_MB"]) > 0
    net = one.vn.allocate(
        f'NAME="{uniq("lan")}"\nVN_MAD="bridge"\nBRIDGE="br0"\n'
        f'NETWORK_MASK="255.255.255.0"\nGATEWAY="{lab.gateway}"\n'
        f'AR=[TYPE="IP4", IP="10.99.{lab.index}.10", SIZE="5"]', -1)
    vid = one.vm.allocate(
        f'NAME="{uniq("watched")}"\nCPU="0.5"\nMEMORY="128"\n' + kernel_boot(guest) + '\n'
        f'DISK=[SIZE="8", TYPE="fs"]\n'
        f'NIC=[NETWORK_ID="{net}"]\nCONTEXT=[NETWORK="YES"]\nSCHED_REQUIREMENTS="ID = {hid}"',
        False)
    wait_state(one, h, vid, ACTIVE, RUNNING)
    ip = one.vm.info(vid).TEMPLATE["NIC"]["IP"]
    wait_for(lambda: "nubo-test-guest" in http_get(f"http://{ip}/"), timeout=90,
             what="the guest answering")
    for _ in range(5):
        http_get(f"http://{ip}/")

    def sent() -> int:
        return int(getattr(one.vm.info(vid).MONITORING, "NETTX", 0) or 0)
    wait_for(lambda: sent() > 1000, timeout=30, what="the guest's sent bytes in a pushed report")

    assert h.ask(vid, "dd if=/dev/urandom of=/dev/vda bs=1M count=3 2>/dev/null; sync; echo ok") == "ok"

    def disk() -> tuple[int, dict[str, str]]:
        m = one.xml("vm.info", vid).find("MONITORING")
        sizes = {e.findtext("ID"): e.findtext("SIZE") for e in m.findall("DISK_SIZE")}
        return int(m.findtext("DISKWRBYTES") or 0), sizes
    wait_for(lambda: disk()[0] >= 3 << 20 and int(disk()[1].get("0", 0)) >= 3, timeout=30,
             what="the guest's disk writes and its disk's size in a pushed report")

    pids = subprocess.run(["pgrep", "-f", f"qemu-system.*{h.vm_dir(vid)}/"],
                          capture_output=True, text=True).stdout.split()
    assert pids
    for pid in pids:
        os.kill(int(pid), signal.SIGKILL)
    wait_state(one, h, vid, ACTIVE, UNKNOWN, timeout=30)
    one.vm.action("terminate-hard", vid)
    wait_state(one, h, vid, DONE)
