"""VM calls behaving as OpenNebula 7.4's oned does (issue 13):

- disk snapshots are deleted by Snapshots::test_delete's rules for ALLOW_ORPHANS=NO: the
  active one without children goes and its parent becomes active; the refusals carry
  oned's words;
- NIC and security-group changes on a POWEROFF VM are made at once (it stays POWEROFF)
  unless the host's driver declares COLD_NIC_ATTACH (DispatchManager::attach_nic ...);
- vm.resize reads 0 as "keep the current value" (VirtualMachineAPI::resize);
- vmpool.info / infoextended take the search filter (KEY=VALUE&...) that onevm list
  --search sends, matched against the VM's JSON body as oned matches it on MySQL;
- vm.recover success/failure/retry on an ACTIVE VM with nothing to recover does nothing;
  other states are refused with DispatchManager::recover's words.
"""

import pytest

import json

from onehelpers import ACTION, INTERNAL, uniq, wait_for
from test_host_api import call, front, secret_of  # noqa: F401 (front is a fixture)
from test_image import datablock, wait_ready
from test_vm import ACTIVE, HOLD, POWEROFF, RUNNING, host, small_vm, wait_state
from test_vm_resources import terminate, used_leases, vnet

HOTPLUG_NIC_POWEROFF = 65
UNKNOWN = 16


@pytest.fixture(scope="module")
def hid(nubod):
    return host(nubod.admin())


def running(one, hid, extra=""):
    vid = small_vm(one, hid, extra)
    wait_state(one, vid, ACTIVE, RUNNING)
    return vid


def powered_off(one, hid, extra=""):
    vid = running(one, hid, extra)
    one.vm.action("poweroff", vid)
    wait_state(one, vid, POWEROFF)
    return vid


def phase(one, vid):
    vm = one.vm.info(vid)
    return vm.STATE, vm.LCM_STATE


# ---------------------------------------------------------------------------------------
# Item 6: disk snapshot deletion


def disk_snaps(one, vid):
    """{id: (parent, active, children)} of DISK 0's snapshots, and CURRENT_BASE."""
    vm = one.xml("vm.info", vid)
    out = {}
    for s in vm.findall("SNAPSHOTS/SNAPSHOT"):
        children = s.findtext("CHILDREN") or ""
        out[int(s.findtext("ID"))] = (int(s.findtext("PARENT")), s.findtext("ACTIVE") == "YES",
                                      sorted(int(c) for c in children.split(",") if c))
    base = vm.findtext("SNAPSHOTS/CURRENT_BASE")
    return out, int(base) if base is not None else None


def snap(one, vid, name):
    sid = one.vm.disksnapshotcreate(vid, 0, name)
    wait_state(one, vid, POWEROFF)
    return sid


def delete(one, vid, sid):
    one.vm.disksnapshotdelete(vid, 0, sid)
    wait_state(one, vid, POWEROFF)


def test_disk_snapshot_delete_follows_oned(one, hid):
    img, _ = datablock(one, size=8)
    wait_ready(one, img)
    vid = powered_off(one, hid, f"DISK=[IMAGE_ID={img}]")
    a, b, c = (snap(one, vid, n) for n in "abc")
    snaps, base = disk_snaps(one, vid)
    assert snaps == {a: (-1, False, [b]), b: (a, False, [c]), c: (b, True, [])} and base == c

    # The active snapshot without children is deleted; its parent becomes active.
    delete(one, vid, c)
    snaps, base = disk_snaps(one, vid)
    assert snaps == {a: (-1, False, [b]), b: (a, True, [])} and base == b

    # The active one with a child is not.
    c2 = snap(one, vid, "c2")
    one.vm.disksnapshotrevert(vid, 0, b)
    wait_state(one, vid, POWEROFF)
    msg = one.fails(ACTION, "vm.disksnapshotdelete", vid, 0, b)
    assert "Cannot delete the active snapshot with children" in msg, msg

    # A new snapshot is a child of the active one: b now has two children.
    d = snap(one, vid, "d")
    assert disk_snaps(one, vid)[0][b] == (a, False, [c2, d])
    msg = one.fails(ACTION, "vm.disksnapshotdelete", vid, 0, b)
    assert "Cannot delete snapshot with more than one children" in msg, msg
    msg = one.fails(ACTION, "vm.disksnapshotdelete", vid, 0, a)
    assert "Cannot delete snapshot if child has children" in msg, msg
    e = snap(one, vid, "e")
    msg = one.fails(ACTION, "vm.disksnapshotdelete", vid, 0, d)
    assert "Cannot delete snapshot if parent has more than one child" in msg, msg
    msg = one.fails(ACTION, "vm.disksnapshotdelete", vid, 0, 99)
    assert "Snapshot does not exist" in msg, msg

    # A snapshot in the middle of a straight chain goes; its child takes its parent.
    delete(one, vid, c2)
    delete(one, vid, e)
    snaps, base = disk_snaps(one, vid)
    assert snaps == {a: (-1, False, [b]), b: (a, False, [d]), d: (b, True, [])} and base == d
    delete(one, vid, b)
    snaps, base = disk_snaps(one, vid)
    assert snaps == {a: (-1, False, [d]), d: (a, True, [])} and base == d

    # While RUNNING too.
    one.vm.action("resume", vid)
    wait_state(one, vid, ACTIVE, RUNNING)
    one.vm.disksnapshotdelete(vid, 0, d)
    wait_state(one, vid, ACTIVE, RUNNING)
    snaps, base = disk_snaps(one, vid)
    assert snaps == {a: (-1, True, [])} and base == a
    terminate(one, vid)


def test_snapshot_0_of_a_persistent_disk_stays(one, hid):
    img, _ = datablock(one, size=8, PERSISTENT="YES")
    wait_ready(one, img)
    vid = powered_off(one, hid, f"DISK=[IMAGE_ID={img}]")
    s0 = snap(one, vid, "first")
    assert s0 == 0
    msg = one.fails(ACTION, "vm.disksnapshotdelete", vid, 0, s0)
    assert "Cannot delete snapshot 0 for persistent disk images" in msg, msg
    s1 = snap(one, vid, "second")
    delete(one, vid, s1)
    assert disk_snaps(one, vid) == ({s0: (-1, True, [])}, s0)
    terminate(one, vid)


# ---------------------------------------------------------------------------------------
# Item 7: NIC and security-group changes on POWEROFF


def nic_ids(one, vid):
    return [int(n.findtext("NIC_ID")) for n in one.xml("vm.info", vid).findall("TEMPLATE/NIC")]


def sg_vms(one, sg):
    g = one.xml("secgroup.info", sg)
    out = {}
    for which in ("UPDATED", "OUTDATED", "UPDATING", "ERROR"):
        ids = [int(x.text) for x in g.findall(f"{which}_VMS/ID")]
        if ids:
            out[which] = ids
    return out


def test_nic_changes_on_poweroff_are_synchronous(one):
    # Were the driver asked, each change would keep the VM in HOTPLUG_NIC_POWEROFF for 2 s.
    hid = host(one, SIM_ATTACHNIC="success 2", SIM_DETACHNIC="success 2", SIM_UPDATENIC="success 2")
    nid = vnet(one, ip="10.13.7.1")
    sg = one.secgroup.allocate(f'NAME="{uniq("sg")}"\nRULE=[PROTOCOL=TCP, RULE_TYPE=inbound]')
    vid = powered_off(one, hid)

    # Every call is done when it answers: no hotplug phase, the next call works at once.
    one.vm.attachnic(vid, f"NIC=[NETWORK_ID={nid}]")
    assert phase(one, vid) == (POWEROFF, 0)
    vm = one.xml("vm.info", vid)
    assert vm.findtext("TEMPLATE/NIC/IP") == "10.13.7.1" and vm.find("TEMPLATE/NIC/ATTACH") is None
    assert used_leases(one, nid) == 1
    one.vm.attachnic(vid, f"NIC=[NETWORK_ID={nid}]")
    assert nic_ids(one, vid) == [0, 1] and used_leases(one, nid) == 2
    one.vm.updatenic(vid, 0, 'NIC=[INBOUND_AVG_BW="100"]', 1)
    assert phase(one, vid) == (POWEROFF, 0)
    assert one.xml("vm.info", vid).findtext("TEMPLATE/NIC/INBOUND_AVG_BW") == "100"
    one.vm.attachsg(vid, 0, sg)
    assert phase(one, vid) == (POWEROFF, 0)
    assert str(sg) in one.xml("vm.info", vid).findtext("TEMPLATE/NIC/SECURITY_GROUPS").split(",")
    # oned's SecurityGroup::add_vm: the VM is among the updated ones (no UPDATESG to wait for).
    assert sg_vms(one, sg) == {"UPDATED": [vid]}
    one.vm.detachsg(vid, 0, sg)
    assert phase(one, vid) == (POWEROFF, 0)
    assert str(sg) not in one.xml("vm.info", vid).findtext("TEMPLATE/NIC/SECURITY_GROUPS").split(",")
    assert sg_vms(one, sg) == {}
    one.vm.detachnic(vid, 1)
    assert phase(one, vid) == (POWEROFF, 0)
    assert nic_ids(one, vid) == [0] and used_leases(one, nid) == 1

    # The guest boots with what it was given.
    one.vm.action("resume", vid)
    wait_state(one, vid, ACTIVE, RUNNING)
    assert nic_ids(one, vid) == [0]
    terminate(one, vid)
    assert used_leases(one, nid) == 0


def test_cold_nic_attach_driver_takes_the_driver_path(one):
    """A host whose driver declares COLD_NIC_ATTACH (the simulated one with
    SIM_COLD_NIC_ATTACH=YES, as Nubo's QEMU driver always does) passes through
    HOTPLUG_NIC_POWEROFF, and a failure of the driver undoes the attach."""
    h = host(one, SIM_COLD_NIC_ATTACH="YES", SIM_ATTACHNIC="success 2, failure")
    nid = vnet(one, ip="10.13.8.1")
    vid = powered_off(one, h)
    one.vm.attachnic(vid, f"NIC=[NETWORK_ID={nid}]")
    assert phase(one, vid) == (ACTIVE, HOTPLUG_NIC_POWEROFF)
    one.fails(ACTION, "vm.attachnic", vid, f"NIC=[NETWORK_ID={nid}]")
    wait_state(one, vid, POWEROFF)
    assert nic_ids(one, vid) == [0] and used_leases(one, nid) == 1
    one.vm.attachnic(vid, f"NIC=[NETWORK_ID={nid}]")
    wait_state(one, vid, POWEROFF)
    assert nic_ids(one, vid) == [0] and used_leases(one, nid) == 1
    terminate(one, vid)


# ---------------------------------------------------------------------------------------
# Item 12: resize with 0


def sizes(one, vid):
    vm = one.xml("vm.info", vid)
    return tuple(vm.findtext(f"TEMPLATE/{k}") for k in ("CPU", "VCPU", "MEMORY"))


def test_resize_zero_keeps_the_value(one, hid):
    vid = small_vm(one, hid, 'VCPU="2"', hold=True)
    assert sizes(one, vid) == ("0.5", "2", "128")
    one.vm.resize(vid, "VCPU=0", False)
    assert sizes(one, vid) == ("0.5", "2", "128")
    one.vm.resize(vid, 'CPU="0"\nVCPU="3"\nMEMORY="0"', False)
    assert sizes(one, vid) == ("0.5", "3", "128")
    one.vm.resize(vid, 'CPU="0.25"\nVCPU="0"\nMEMORY="96"', False)
    assert sizes(one, vid) == ("0.25", "3", "96")
    one.vm.action("release", vid)
    wait_state(one, vid, ACTIVE, RUNNING)
    one.vm.action("poweroff", vid)
    wait_state(one, vid, POWEROFF)
    one.vm.resize(vid, 'VCPU="0"\nMEMORY="64"', True)
    assert sizes(one, vid) == ("0.25", "3", "64")
    terminate(one, vid)


# ---------------------------------------------------------------------------------------
# Item 13: vmpool.info's search filter


def pool_ids(one, query, method="vmpool.info", state=-1):
    return sorted(int(v.findtext("ID")) for v in one.xml(method, -2, -1, -1, state, query).findall("VM"))


def test_pool_search_filter(one, hid, make_user):
    tag = uniq("srch").replace("-", "_")
    web = small_vm(one, hid, f'LABEL="{tag}_web"\nROLE="front"\nDISK=[TYPE="fs", SIZE="10"]', hold=True)
    db = small_vm(one, hid, f'LABEL="{tag}_db"\nROLE="back"\nDISK=[TYPE="fs", SIZE="20"]', hold=True)
    one.vm.rename(web, f"{tag}-web")
    one.vm.rename(db, f"{tag}-db")
    both = sorted([web, db])

    for method in ("vmpool.info", "vmpool.infoextended"):
        assert pool_ids(one, f"VM.NAME={tag}", method) == both
        assert pool_ids(one, f"VM.NAME={tag}-web", method) == [web]
    # pyone's own bindings send and read it the same way.
    assert [v.ID for v in one.vmpool.infoextended(-2, -1, -1, -1, f"VM.NAME={tag}-web").VM] == [web]
    # USER_TEMPLATE attributes, several terms ANDed, a term with no key (whole body).
    assert pool_ids(one, f"VM.USER_TEMPLATE.LABEL={tag}_db") == [db]
    assert pool_ids(one, f"VM.NAME={tag}&VM.USER_TEMPLATE.ROLE=front") == [web]
    assert pool_ids(one, f"VM.NAME={tag}&VM.USER_TEMPLATE.ROLE=nothing") == []
    assert pool_ids(one, f"{tag}_web") == [web]
    # DISK is always an array: [*] and [N] reach it.
    assert pool_ids(one, f"VM.NAME={tag}&VM.TEMPLATE.DISK[*].SIZE=20") == [db]
    assert pool_ids(one, f"VM.NAME={tag}&VM.TEMPLATE.DISK[0].SIZE=10") == [web]
    # LIKE: % and _ are wildcards, case counts.
    assert pool_ids(one, f"VM.NAME={tag}-_b") == [db]
    assert pool_ids(one, f"VM.NAME={tag}%web") == [web]
    assert pool_ids(one, f"VM.NAME={tag.upper()}") == []
    # Numbers are strings in the body; the state filter still applies.
    assert pool_ids(one, f"VM.NAME={tag}&VM.STATE={HOLD}") == both
    assert pool_ids(one, f"VM.NAME={tag}", state=ACTIVE) == []
    # oned reads each piece up to its first blank.
    assert pool_ids(one, f"VM.NAME={tag}-web and more") == [web]
    # An empty filter is no filter.
    assert set(both) <= set(pool_ids(one, ""))
    # A quoted member is a member; a blank cuts the term before its `=`, so a quoted
    # member cannot hold one: `VM."A B"=x` looks for the text `VM."A` anywhere.
    assert pool_ids(one, f'VM."NAME"={tag}-web') == [web]
    assert pool_ids(one, f'VM."A B"={tag}') == []
    # Pages and id ranges are cut from the VMs that match.
    def page(start, end):
        vms = one.xml("vmpool.info", -2, start, end, -1, f"VM.NAME={tag}").findall("VM")
        return sorted(int(v.findtext("ID")) for v in vms)

    assert page(0, -2) == both and page(1, -2) == [both[1]] and page(2, -2) == []
    assert page(both[1], both[1]) == [both[1]] and page(both[1], -1) == [both[1]]

    # Bad filters are refused as oned refuses a query its database rejects.
    # A run of more than 256 characters between %s is refused too (its automaton stays
    # small); 256 are taken.
    assert pool_ids(one, f"VM.NAME={'a' * 256}%{'b' * 256}") == []
    for bad in ["VM..NAME=x", "VM.NAME[=x", "VM.**=x", "x&" * 33, "a" * 5000, "VM.NAME=" + "a" * 257]:
        one.fails(INTERNAL, "vmpool.info", -2, -1, -1, -1, bad)
    one.fails(INTERNAL, "vmpool.infoextended", -2, -1, -1, -1, "VM.=x")
    # A user finds only what is theirs to see, filter or not.
    assert pool_ids(make_user().one, f"VM.NAME={tag}") == []
    terminate(one, web, db)


# ---------------------------------------------------------------------------------------
# Item 14: vm.recover


def test_recover_on_running_does_nothing(one, hid):
    vid = running(one, hid)
    before = one.xml("vm.info", vid).find("HISTORY_RECORDS")
    seqs = [h.findtext("SEQ") for h in before.findall("HISTORY")]
    for op in (1, 0, 2):
        one.vm.recover(vid, op)
        assert phase(one, vid) == (ACTIVE, RUNNING)
    after = one.xml("vm.info", vid).find("HISTORY_RECORDS")
    assert [h.findtext("SEQ") for h in after.findall("HISTORY")] == seqs
    msg = one.fails(ACTION, "vm.recover", vid, 7)
    assert msg.endswith("Wrong recovery operation code"), msg

    one.vm.action("poweroff", vid)
    wait_state(one, vid, POWEROFF)
    for op in (0, 1):
        msg = one.fails(ACTION, "vm.recover", vid, op)
        assert f"Could not perform a recover operation on VM {vid}, wrong state POWEROFF." in msg, msg
    msg = one.fails(ACTION, "vm.recover", vid, 2)
    assert f"Could not perform a retry on VM {vid}, wrong state POWEROFF." in msg, msg
    # delete still works from POWEROFF.
    one.vm.recover(vid, 3)
    wait_for(lambda: one.vm.info(vid).STATE == 6, what="DONE")

    held = small_vm(one, hid, hold=True)
    msg = one.fails(ACTION, "vm.recover", held, 1)
    assert f"Could not perform a recover operation on VM {held}, wrong state HOLD." in msg, msg
    one.vm.recover(held, 3)
    wait_for(lambda: one.vm.info(held).STATE == 6, what="DONE")


def test_recover_takes_an_unknown_vm_back_to_running(front):
    """oned's LifeCycleManager::recover: an UNKNOWN VM is RUNNING again at once, whether
    the operation says success or failure (the next monitoring round says what it finds;
    here nubod monitors hourly, so the reports pushed decide)."""
    one = front.admin()
    name = uniq("recoverh")
    hid = one.host.allocate(name, "dummy", "dummy", -1)
    wait_for(lambda: one.host.info(hid).STATE == 2, what="host MONITORED")
    secret = secret_of(front, name)
    vid = one.vm.allocate(f'CPU="0.1"\nMEMORY="64"\nSCHED_REQUIREMENTS="ID = {hid}"', False)
    wait_for(lambda: phase(one, vid) == (ACTIVE, RUNNING), what="VM RUNNING")

    def vanish():
        # A report without the VM, after its latest operation, makes it UNKNOWN.
        for seq in range(0, 20):
            report = {"hypervisor": "sim", "total_cpu": 800, "total_memory_kb": 1 << 24,
                      "used_cpu": 0, "used_memory_kb": 0, "attributes": {}, "vms": [],
                      "seqs": {str(vid): seq}}
            status, body, _, _ = call(front, "POST", "/v1/monitor", host=name, secret=secret,
                                      body=json.dumps(report).encode())
            assert status == 200, body
            if phase(one, vid) == (ACTIVE, UNKNOWN):
                return
        pytest.fail("no pushed report made the VM UNKNOWN")

    for op in (1, 0):
        vanish()
        one.vm.recover(vid, op)
        assert phase(one, vid) == (ACTIVE, RUNNING)
    # retry has nothing to retry there.
    vanish()
    one.vm.recover(vid, 2)
    assert phase(one, vid) == (ACTIVE, UNKNOWN)
    one.vm.recover(vid, 3)
    wait_for(lambda: one.vm.info(vid).STATE == 6, what="DONE")
