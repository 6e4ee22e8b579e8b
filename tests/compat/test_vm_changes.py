"""Changes to a VM in place: disk and NIC hotplug, updatenic and security groups, VM and
disk snapshots, disk resize and save-as, resize, updateconf; each through the driver
when the VM is on a host, with the failure of the driver undoing it."""

import time

import pytest

from onehelpers import ACTION, wait_for, uniq
from test_image import datablock, wait_ready
from test_vm import ACTIVE, DONE, POWEROFF, RUNNING, host, wait_state
from test_vm_resources import terminate, used_leases, vnet

READY, USED = 1, 2


@pytest.fixture(scope="module")
def hid(nubod):
    return host(nubod.admin())


def running_vm(one, hid, extra=""):
    vid = one.vm.allocate(f'NAME="{uniq("vm")}"\nCPU="0.5"\nMEMORY="128"\n'
                          f'SCHED_REQUIREMENTS="ID = {hid}"\n{extra}', False)
    wait_state(one, vid, ACTIVE, RUNNING)
    return vid


def settled(one, vid, st=ACTIVE, lcm=RUNNING):
    wait_state(one, vid, st, lcm if st == ACTIVE else None)
    return one.xml("vm.info", vid)


def disk_ids(vm):
    return [int(d.findtext("DISK_ID")) for d in vm.findall("TEMPLATE/DISK")]


def test_disk_hotplug(one, hid):
    img, _ = datablock(one, size=8)
    wait_ready(one, img)
    vid = running_vm(one, hid, "DISK=[TYPE=fs, SIZE=10]")
    one.vm.attach(vid, f"DISK=[IMAGE_ID={img}]")
    vm = settled(one, vid)
    assert disk_ids(vm) == [0, 1]
    disk = vm.findall("TEMPLATE/DISK")[1]
    assert disk.findtext("TARGET") == "vdb" and disk.find("ATTACH") is None
    assert int(one.xml("image.info", img).findtext("STATE")) == USED
    one.vm.detach(vid, 1)
    vm = settled(one, vid)
    assert disk_ids(vm) == [0]
    assert int(one.xml("image.info", img).findtext("STATE")) == READY
    one.fails(ACTION, "vm.detach", vid, 7)
    # In POWEROFF the disk is attached without a running guest.
    one.vm.action("poweroff", vid)
    settled(one, vid, POWEROFF)
    one.vm.attach(vid, "DISK=[TYPE=swap, SIZE=4]")
    vm = settled(one, vid, POWEROFF)
    assert disk_ids(vm) == [0, 1]
    one.vm.action("resume", vid)
    settled(one, vid)
    terminate(one, vid)


def test_failed_hotplug_is_undone(one):
    h = host(one, SIM_ATTACHDISK="failure", SIM_ATTACHNIC="failure")
    img, _ = datablock(one, size=8)
    wait_ready(one, img)
    nid = vnet(one, ip="10.9.8.1")
    vid = running_vm(one, h)
    one.vm.attach(vid, f"DISK=[IMAGE_ID={img}]")
    vm = settled(one, vid)
    assert disk_ids(vm) == [] and vm.findtext("USER_TEMPLATE/ERROR")
    assert int(one.xml("image.info", img).findtext("STATE")) == READY
    one.vm.attachnic(vid, f"NIC=[NETWORK_ID={nid}]")
    vm = settled(one, vid)
    assert vm.find("TEMPLATE/NIC") is None and used_leases(one, nid) == 0
    terminate(one, vid)


def test_nic_hotplug_update_and_security_groups(one, hid):
    nid = vnet(one, ip="10.9.9.1")
    vid = running_vm(one, hid)
    one.vm.attachnic(vid, f"NIC=[NETWORK_ID={nid}]")
    vm = settled(one, vid)
    nic = vm.find("TEMPLATE/NIC")
    assert nic.findtext("IP") == "10.9.9.1" and nic.findtext("NIC_ID") == "0"
    assert used_leases(one, nid) == 1
    one.vm.updatenic(vid, 0, 'NIC=[INBOUND_AVG_BW="100"]', 1)
    assert settled(one, vid).findtext("TEMPLATE/NIC/INBOUND_AVG_BW") == "100"
    one.fails(ACTION, "vm.updatenic", vid, 0, 'NIC=[NETWORK_ID="3"]', 1)
    sg = one.secgroup.allocate(f'NAME="{uniq("sg")}"\nRULE=[PROTOCOL=TCP, RULE_TYPE=inbound]')
    one.vm.attachsg(vid, 0, sg)
    vm = settled(one, vid)
    assert str(sg) in vm.findtext("TEMPLATE/NIC/SECURITY_GROUPS").split(",")
    assert vid in [int(x.text) for x in one.xml("secgroup.info", sg).findall("UPDATED_VMS/ID")]
    one.fails(ACTION, "vm.attachsg", vid, 0, sg)
    one.vm.detachsg(vid, 0, sg)
    vm = settled(one, vid)
    assert str(sg) not in vm.findtext("TEMPLATE/NIC/SECURITY_GROUPS").split(",")
    one.vm.detachnic(vid, 0)
    vm = settled(one, vid)
    assert vm.find("TEMPLATE/NIC") is None and used_leases(one, nid) == 0
    terminate(one, vid)


def sg_members(one, sg, which):
    return {int(x.text) for x in one.xml("secgroup.info", sg).findall(f"{which}_VMS/ID")}


def test_rule_changes_reach_running_vms(one):
    """A group's new rules are sent to the hosts of its running VMs (UPDATESG), without
    touching the VMs' states: OUTDATED → UPDATING → UPDATED, or ERROR until a commit."""
    hid = host(one)
    nid = vnet(one, ip="10.9.8.1")
    sg = one.secgroup.allocate(f'NAME="{uniq("sg")}"\nRULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="22"]')
    nic = f'NIC=[NETWORK_ID="{nid}", SECURITY_GROUPS="{sg}"]'
    vid = running_vm(one, hid, nic)
    off = running_vm(one, hid, nic)
    one.vm.action("poweroff", off)
    settled(one, off, POWEROFF)
    assert {vid, off} <= sg_members(one, sg, "UPDATED")
    # The host refuses: the VM is in ERROR, still RUNNING; the powered-off one needs nothing.
    one.host.update(hid, 'SIM_UPDATESG="failure"', 1)
    one.secgroup.update(sg, 'RULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="80"]', 0)
    wait_for(lambda: vid in sg_members(one, sg, "ERROR"), timeout=20, what="the update failed")
    assert off in sg_members(one, sg, "UPDATED")
    settled(one, vid)
    # A commit of the outdated ones tries again; a slow update is seen UPDATING.
    one.host.update(hid, 'SIM_UPDATESG="success 2"', 1)
    one.secgroup.commit(sg, True)
    wait_for(lambda: vid in sg_members(one, sg, "UPDATING"), timeout=20, what="UPDATING")
    wait_for(lambda: vid in sg_members(one, sg, "UPDATED"), timeout=20, what="UPDATED")
    assert sg_members(one, sg, "ERROR") == set() and sg_members(one, sg, "OUTDATED") == set()
    settled(one, vid)
    # A failed update is tried again on its own (every half minute).
    one.host.update(hid, 'SIM_UPDATESG="failure"', 1)
    one.secgroup.update(sg, 'RULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="443"]', 0)
    wait_for(lambda: vid in sg_members(one, sg, "ERROR"), timeout=20, what="the update failed")
    one.host.update(hid, 'SIM_UPDATESG="success"', 1)
    wait_for(lambda: vid in sg_members(one, sg, "UPDATED"), timeout=60, what="UPDATED without a commit")
    # Terminated VMs leave the group.
    for v in (vid, off):
        terminate(one, v)
    one.secgroup.commit(sg, False)
    wait_for(lambda: not sg_members(one, sg, "UPDATED") | sg_members(one, sg, "OUTDATED"),
             timeout=20, what="no member left")


def test_vm_and_disk_snapshots(one, hid):
    img, _ = datablock(one, size=8)
    wait_ready(one, img)
    vid = running_vm(one, hid, f"DISK=[IMAGE_ID={img}]")
    s0 = one.vm.snapshotcreate(vid, "first")
    settled(one, vid)
    s1 = one.vm.snapshotcreate(vid, "")
    vm = settled(one, vid)
    snaps = vm.findall("TEMPLATE/SNAPSHOT")
    assert [int(s.findtext("SNAPSHOT_ID")) for s in snaps] == [s0, s1]
    assert snaps[0].findtext("NAME") == "first"
    one.vm.snapshotrevert(vid, s0)
    vm = settled(one, vid)
    active = [s.findtext("SNAPSHOT_ID") for s in vm.findall("TEMPLATE/SNAPSHOT") if s.findtext("ACTIVE") == "YES"]
    assert active == [str(s0)]
    one.vm.snapshotdelete(vid, s1)
    settled(one, vid)
    one.fails(ACTION, "vm.snapshotdelete", vid, s1)

    d0 = one.vm.disksnapshotcreate(vid, 0, "a")
    settled(one, vid)
    d1 = one.vm.disksnapshotcreate(vid, 0, "b")
    vm = settled(one, vid)
    snaps = vm.find("SNAPSHOTS")
    assert snaps.findtext("DISK_ID") == "0" and snaps.findtext("CURRENT_BASE") == str(d1)
    assert [int(s.findtext("ID")) for s in snaps.findall("SNAPSHOT")] == [d0, d1]
    # oned's deletion rules (the active one without children may go, as may one in a
    # straight chain) are in test_vm_compat.py::test_disk_snapshot_delete_follows_oned.
    one.fails(ACTION, "vm.disksnapshotdelete", vid, 0, d1 + 1)   # no such snapshot
    one.fails(ACTION, "vm.disksnapshotrevert", vid, 0, d0)   # only in POWEROFF
    one.vm.disksnapshotrename(vid, 0, d0, "renamed")
    one.vm.action("poweroff", vid)
    settled(one, vid, POWEROFF)
    one.vm.disksnapshotrevert(vid, 0, d0)
    vm = settled(one, vid, POWEROFF)
    assert vm.findtext("SNAPSHOTS/CURRENT_BASE") == str(d0)
    one.vm.disksnapshotdelete(vid, 0, d1)
    vm = settled(one, vid, POWEROFF)
    names = [s.findtext("NAME") for s in vm.findall("SNAPSHOTS/SNAPSHOT")]
    assert names == ["renamed"]
    terminate(one, vid)


def test_disk_resize_and_saveas(one, hid, make_user):
    img, _ = datablock(one, size=8)
    wait_ready(one, img)
    one.image.chmod(img, -1, -1, -1, -1, -1, -1, 1, -1, -1)  # others may use it
    u = make_user()
    vid = running_vm(u.one, hid, f"DISK=[IMAGE_ID={img}]\nDISK=[TYPE=fs, SIZE=10]")
    quota = lambda: one.xml("user.info", u.id).findtext("VM_QUOTA/VM/SYSTEM_DISK_SIZE_USED")
    before = float(quota())
    assert before == 18
    disk_usage = lambda: int(one.xml("host.info", hid).findtext("HOST_SHARE/DATASTORES/DISK_USAGE"))
    host_before = disk_usage()
    one.vm.diskresize(vid, 1, "30")
    vm = settled(one, vid)
    assert vm.findall("TEMPLATE/DISK")[1].findtext("SIZE") == "30"
    assert float(quota()) == before + 20
    assert disk_usage() == host_before + 20, "the host counts the grown disk"
    one.fails(ACTION, "vm.diskresize", vid, 1, "5")
    new = u.one.vm.disksaveas(vid, 0, uniq("saved"), "", -1)
    settled(one, vid)
    wait_ready(one, new)
    saved = one.xml("image.info", new)
    assert saved.findtext("SIZE") == "8" and saved.findtext("UID") == str(u.id)
    one.fails(ACTION, "vm.disksaveas", vid, 1, uniq("vol"), "", -1)   # volatile
    terminate(one, vid)
    assert float(quota()) == 0, "the clone (8) and the resized volatile disk (30) released"
    assert disk_usage() == host_before - 18, "the host gives back all 38 MB"
    one.image.delete(new)


def test_resize_and_updateconf(one, hid):
    vid = running_vm(one, hid)
    share = lambda: int(one.xml("host.info", hid).findtext("HOST_SHARE/MEM_USAGE"))
    mem = share()
    one.vm.resize(vid, 'CPU="1"\nVCPU="2"\nMEMORY="256"', True)
    vm = settled(one, vid)
    assert vm.findtext("TEMPLATE/MEMORY") == "256" and vm.findtext("TEMPLATE/VCPU") == "2"
    assert share() == mem + 128 * 1024
    one.fails(ACTION, "vm.resize", vid, 'MEMORY="99999999999"', True)
    one.vm.action("poweroff", vid)
    settled(one, vid, POWEROFF)
    one.vm.resize(vid, 'MEMORY="192"', False)
    assert one.xml("vm.info", vid).findtext("TEMPLATE/MEMORY") == "192"
    one.vm.updateconf(vid, 'OS=[ARCH="x86_64"]\nGRAPHICS=[TYPE="VNC", LISTEN="0.0.0.0"]', 0)
    vm = one.xml("vm.info", vid)
    assert vm.findtext("TEMPLATE/OS/ARCH") == "x86_64" and vm.findtext("TEMPLATE/GRAPHICS/TYPE") == "VNC"
    one.vm.updateconf(vid, 'OS=[BOOT="disk0"]', 1)
    vm = one.xml("vm.info", vid)
    assert vm.findtext("TEMPLATE/OS/ARCH") == "x86_64" and vm.findtext("TEMPLATE/OS/BOOT") == "disk0"
    one.vm.action("resume", vid)
    settled(one, vid)
    terminate(one, vid)


def test_wrong_states_for_changes(one, hid):
    vid = one.vm.allocate('CPU="0.1"\nMEMORY="64"', True)
    for method, args in [("vm.attach", ("DISK=[TYPE=fs, SIZE=1]",)), ("vm.snapshotcreate", ("x",)),
                         ("vm.disksnapshotcreate", (0, "x")), ("vm.attachnic", ("NIC=[NETWORK_ID=0]",))]:
        msg = one.fails(ACTION, method, vid, *args)
        assert "wrong state" in msg, msg
    one.vm.resize(vid, 'MEMORY="128"', False)   # HOLD: changed at once
    assert one.xml("vm.info", vid).findtext("TEMPLATE/MEMORY") == "128"
    one.vm.action("terminate", vid)
    wait_state(one, vid, DONE)


def test_resched_moves_the_vm_to_another_host(one):
    a, b = host(one), host(one)
    vid = one.vm.allocate(f'NAME="{uniq("vm")}"\nCPU="0.1"\nMEMORY="64"\n'
                          f'SCHED_REQUIREMENTS="ID = {a} | ID = {b}"', True)
    one.vm.deploy(vid, a, False, -1)
    settled(one, vid)
    one.vm.action("resched", vid)
    wait_for(lambda: one.xml("vm.info", vid).findtext("HISTORY_RECORDS/HISTORY[last()]/HID") == str(b)
             and one.vm.info(vid).LCM_STATE == RUNNING, what=f"VM {vid} moved to host {b}")
    vm = one.xml("vm.info", vid)
    assert vm.findtext("RESCHED") == "0"
    assert [h.findtext("HID") for h in vm.findall("HISTORY_RECORDS/HISTORY")] == [str(a), str(b)]
    # With nowhere else to go, the flag stays and the VM stays.
    one.host.status(a, 1)   # disabled: no longer a candidate
    one.vm.action("resched", vid)
    time.sleep(0.5)
    vm = one.xml("vm.info", vid)
    assert vm.findtext("HISTORY_RECORDS/HISTORY[last()]/HID") == str(b)
    assert vm.findtext("RESCHED") == "1" and one.vm.info(vid).LCM_STATE == RUNNING
    one.vm.action("unresched", vid)
    one.host.status(a, 0)
    terminate(one, vid)


def test_system_datastore_follows_ds_requirements_and_rank(one):
    h = host(one)
    fast = one.datastore.allocate(f'NAME="{uniq("sys")}"\nTYPE="SYSTEM_DS"\nTM_MAD="ssh"\nSPEED="10"', -1)
    slow = one.datastore.allocate(f'NAME="{uniq("sys")}"\nTYPE="SYSTEM_DS"\nTM_MAD="ssh"\nSPEED="1"', -1)
    base = f'NAME="{uniq("vm")}"\nCPU="0.1"\nMEMORY="64"\nSCHED_REQUIREMENTS="ID = {h}"\n'
    ranked = one.vm.allocate(base + f'SCHED_DS_REQUIREMENTS="ID = {fast} | ID = {slow}"\nSCHED_DS_RANK="-SPEED"', False)
    pinned = one.vm.allocate(base + f'SCHED_DS_REQUIREMENTS="ID = {fast}"', False)
    nowhere = one.vm.allocate(base + 'SCHED_DS_REQUIREMENTS="ID = 99999"', False)
    for v in (ranked, pinned):
        settled(one, v)
    ds = lambda v: one.xml("vm.info", v).findtext("HISTORY_RECORDS/HISTORY/DS_ID")
    assert ds(ranked) == str(slow) and ds(pinned) == str(fast)
    wait_for(lambda: "SCHED_DS_REQUIREMENTS" in (one.xml("vm.info", nowhere).findtext("USER_TEMPLATE/SCHED_MESSAGE") or ""),
             what="the datastore message")
    assert one.vm.info(nowhere).STATE == 1
    one.vm.action("terminate", nowhere)
    terminate(one, ranked, pinned)


def test_nic_alias_attach_and_detach(one, hid):
    nid = vnet(one, ip="10.9.10.1")
    lan = vnet(one, ip="10.9.11.1")
    vid = running_vm(one, hid, f"NIC=[NETWORK_ID={lan}]")
    # An alias rides on one of the VM's NICs, named by PARENT.
    one.fails(ACTION, "vm.attachnic", vid, f"NIC_ALIAS=[NETWORK_ID={nid}]")
    one.fails(ACTION, "vm.attachnic", vid, f'NIC_ALIAS=[NETWORK_ID={nid}, PARENT="NIC7"]')
    one.vm.attachnic(vid, f'NIC_ALIAS=[NETWORK_ID={nid}, PARENT="NIC0"]')
    vm = settled(one, vid)
    alias = vm.find("TEMPLATE/NIC_ALIAS")
    assert alias.findtext("IP") == "10.9.10.1" and used_leases(one, nid) == 1
    assert alias.findtext("PARENT") == "NIC0" and alias.findtext("PARENT_ID") == "0"
    one.vm.detachnic(vid, int(alias.findtext("NIC_ID")))
    vm = settled(one, vid)
    assert vm.find("TEMPLATE/NIC_ALIAS") is None and used_leases(one, nid) == 0
    terminate(one, vid)


def test_nic_aliases_of_a_new_vm_take_leases_and_give_them_back(one, hid):
    nid = vnet(one, ip="10.9.12.1")
    lan = vnet(one, ip="10.9.13.1")
    vid = running_vm(one, hid, f'NIC=[NETWORK_ID={lan}]\nNIC_ALIAS=[NETWORK_ID={nid}, PARENT="NIC0"]')
    alias = one.xml("vm.info", vid).find("TEMPLATE/NIC_ALIAS")
    assert alias.findtext("IP") == "10.9.12.1" and alias.findtext("NIC_ID") == "1"
    assert used_leases(one, nid) == 1
    terminate(one, vid)
    wait_for(lambda: used_leases(one, nid) == 0, what="the alias's lease given back")
