"""Resources follow the VM: NICs take leases from their networks, DISKs take images
(persistent: one VM at a time; non-persistent: shared), volatile disks count in the
system disk quota; all is given back when the VM ends, and a chown moves the quotas."""

import time

import pyone
import pytest

from onehelpers import AUTHORIZATION, ACTION, INTERNAL, NO_EXISTS, outsider, wait_for, uniq, tmpl
from test_image import datablock, wait_ready
from test_vm import ACTIVE, DONE, RUNNING, host, wait_state

USED, READY, USED_PERS = 2, 1, 8


@pytest.fixture(scope="module")
def hid(nubod):
    return host(nubod.admin())


def vnet(one, size=2, ip="10.9.0.1"):
    return one.vn.allocate(
        f'NAME="{uniq("net")}"\nVN_MAD="bridge"\nBRIDGE="br0"\nGATEWAY="10.9.0.254"\n'
        f'AR=[TYPE="IP4", IP="{ip}", SIZE="{size}"]', -1)


def used_leases(one, nid):
    return int(one.xml("vn.info", nid).findtext("USED_LEASES"))


def lease_vms(one, nid):
    return sorted(int(x.findtext("VM")) for x in one.xml("vn.info", nid).findall("AR_POOL/AR/LEASES/LEASE"))


def vm_text(hid, extra):
    return f'NAME="{uniq("vm")}"\nCPU="0.1"\nMEMORY="64"\nSCHED_REQUIREMENTS="ID = {hid}"\n{extra}'


def terminate_when_settled(one, vid, timeout=20):
    """terminate-hard, retried while the VM is between phases (a PENDING VM may be placed
    between the look and the call)."""
    deadline = time.time() + timeout
    while True:
        try:
            one.vm.action("terminate-hard", vid)
            return
        except pyone.OneActionException as e:
            if "wrong state" not in str(e) or time.time() > deadline:
                raise
            time.sleep(0.1)


def terminate(one, *vids):
    """Terminates VMs (once they are RUNNING, or never placed) and waits for DONE."""
    for v in vids:
        terminate_when_settled(one, v)
    for v in vids:
        wait_state(one, v, DONE)


def test_nics_take_leases_and_give_them_back(one, hid):
    nid = vnet(one, size=3)
    name = one.xml("vn.info", nid).findtext("NAME")
    a = one.vm.allocate(vm_text(hid, f"NIC=[NETWORK_ID={nid}]"), False)
    nic = one.xml("vm.info", a).find("TEMPLATE/NIC")
    assert nic.findtext("IP") == "10.9.0.1" and nic.findtext("NIC_ID") == "0"
    assert nic.findtext("MAC") and nic.findtext("NETWORK") == name
    assert nic.findtext("BRIDGE") == "br0" and nic.findtext("GATEWAY") == "10.9.0.254"
    assert nic.findtext("TARGET") == f"one-{a}-0"
    b = one.vm.allocate(vm_text(hid, f'NIC=[NETWORK="{name}", IP="10.9.0.3"]'), False)
    assert one.xml("vm.info", b).findtext("TEMPLATE/NIC/IP") == "10.9.0.3"
    msg = one.fails(INTERNAL, "vm.allocate", vm_text(hid, f'NIC=[NETWORK_ID={nid}, IP="10.9.0.3"]'), False)
    assert "in use" in msg
    assert used_leases(one, nid) == 2 and lease_vms(one, nid) == sorted([a, b])
    c = one.vm.allocate(vm_text(hid, f"NIC=[NETWORK_ID={nid}]"), False)
    msg = one.fails(INTERNAL, "vm.allocate", vm_text(hid, f"NIC=[NETWORK_ID={nid}]"), False)
    assert "No free address" in msg
    assert used_leases(one, nid) == 3, "a refused VM takes no lease"
    one.fails(ACTION, "vn.delete", nid)
    terminate(one, a, b, c)
    assert used_leases(one, nid) == 0
    one.vn.delete(nid)


def test_unknown_network_or_image_is_refused_and_changes_nothing(one, make_user):
    u = make_user()
    msg = u.one.fails(INTERNAL, "vm.allocate", 'CPU=1\nMEMORY=64\nNIC=[NETWORK_ID=99999]', False)
    assert "99999" in msg
    msg = u.one.fails(INTERNAL, "vm.allocate", 'CPU=1\nMEMORY=64\nDISK=[IMAGE="nope"]', False)
    assert "nope" in msg
    u.one.fails(INTERNAL, "vm.allocate", 'CPU=1\nMEMORY=64\nDISK=[TYPE=fs]', False)
    quota = one.xml("user.info", u.id).find("VM_QUOTA/VM")
    assert quota is None or quota.findtext("VMS_USED") == "0"
    nid = vnet(one, ip="10.9.1.1")
    # A network the user may not use (outside the default VDC, which lets users use all).
    outsider(one, make_user).one.fails(AUTHORIZATION, "vm.allocate",
                                       f'CPU=1\nMEMORY=64\nNIC=[NETWORK_ID={nid}]', False)
    assert used_leases(one, nid) == 0


def test_disks_take_images(one, hid):
    pers, _ = datablock(one, size=20, PERSISTENT="YES")
    shared, _ = datablock(one, size=30)
    wait_ready(one, pers)
    wait_ready(one, shared)
    disks = f"DISK=[IMAGE_ID={pers}]\nDISK=[IMAGE_ID={shared}]\nDISK=[TYPE=swap, SIZE=16]"
    a = one.vm.allocate(vm_text(hid, disks), False)
    vm = one.xml("vm.info", a)
    got = vm.findall("TEMPLATE/DISK")
    assert [d.findtext("TARGET") for d in got] == ["vda", "vdb", "vdc"]
    assert [d.findtext("DISK_ID") for d in got] == ["0", "1", "2"]
    assert got[0].findtext("CLONE") == "NO" and got[0].findtext("SAVE") == "YES"
    assert got[1].findtext("CLONE") == "YES" and got[1].findtext("SIZE") == "30"
    assert got[2].findtext("TYPE") == "swap"
    p = one.xml("image.info", pers)
    assert int(p.findtext("STATE")) == USED_PERS and p.findtext("RUNNING_VMS") == "1"
    assert [int(x.text) for x in p.findall("VMS/ID")] == [a]
    assert int(one.xml("image.info", shared).findtext("STATE")) == USED
    msg = one.fails(INTERNAL, "vm.allocate", vm_text(hid, f"DISK=[IMAGE_ID={pers}]"), False)
    assert "persistent" in msg
    b = one.vm.allocate(vm_text(hid, f"DISK=[IMAGE_ID={shared}]"), False)
    assert one.xml("image.info", shared).findtext("RUNNING_VMS") == "2"
    one.fails(ACTION, "image.delete", shared)
    terminate(one, a)
    assert int(one.xml("image.info", pers).findtext("STATE")) == READY
    assert int(one.xml("image.info", shared).findtext("STATE")) == USED
    terminate(one, b)
    s = one.xml("image.info", shared)
    assert int(s.findtext("STATE")) == READY and s.findtext("RUNNING_VMS") == "0"
    for i in (pers, shared):
        one.image.delete(i)


def test_quotas_follow_resources_and_chown(one, make_user, hid):
    nid = vnet(one, size=4, ip="10.9.2.1")
    img, _ = datablock(one, size=10)
    wait_ready(one, img)
    one.vn.chmod(nid, -1, -1, -1, -1, -1, -1, 1, -1, -1)   # others USE
    one.image.chmod(img, -1, -1, -1, -1, -1, -1, 1, -1, -1)
    u, w = make_user(), make_user()
    one.user.quota(u.id, f"NETWORK=[ID={nid}, LEASES=1]")
    text = f"NIC=[NETWORK_ID={nid}]\nDISK=[IMAGE_ID={img}]\nDISK=[TYPE=fs, SIZE=100]"
    vid = u.one.vm.allocate(vm_text(hid, text), False)
    info = one.xml("user.info", u.id)
    assert info.findtext(f"NETWORK_QUOTA/NETWORK[ID='{nid}']/LEASES_USED") == "1"
    assert info.findtext(f"IMAGE_QUOTA/IMAGE[ID='{img}']/RVMS_USED") == "1"
    assert info.findtext("VM_QUOTA/VM/SYSTEM_DISK_SIZE_USED") == "110"
    msg = u.one.fails(AUTHORIZATION, "vm.allocate", vm_text(hid, f"NIC=[NETWORK_ID={nid}]"), False)
    assert "LEASES" in msg
    assert used_leases(one, nid) == 1
    wait_state(one, vid, ACTIVE, RUNNING)
    one.vm.chown(vid, w.id, -1)
    old, new = one.xml("user.info", u.id), one.xml("user.info", w.id)
    assert old.findtext(f"NETWORK_QUOTA/NETWORK[ID='{nid}']/LEASES_USED") == "0"
    assert new.findtext(f"NETWORK_QUOTA/NETWORK[ID='{nid}']/LEASES_USED") == "1"
    assert old.findtext("VM_QUOTA/VM/VMS_USED") == "0"
    assert new.findtext("VM_QUOTA/VM/VMS_USED") == "1"
    assert new.findtext("VM_QUOTA/VM/RUNNING_VMS_USED") == "1"
    assert new.findtext(f"IMAGE_QUOTA/IMAGE[ID='{img}']/RVMS_USED") == "1"
    terminate(one, vid)
    new = one.xml("user.info", w.id)
    assert new.findtext(f"NETWORK_QUOTA/NETWORK[ID='{nid}']/LEASES_USED") == "0"
    assert new.findtext("VM_QUOTA/VM/SYSTEM_DISK_SIZE_USED") == "0"
    assert new.findtext(f"IMAGE_QUOTA/IMAGE[ID='{img}']/RVMS_USED") == "0"


def test_clusters_of_networks_and_datastores_constrain_placement(one):
    cid = one.cluster.allocate(uniq("cl"))
    nid = vnet(one, ip="10.9.3.1")
    one.cluster.addvnet(cid, nid)
    one.cluster.delvnet(0, nid)
    h = host(one)
    one.cluster.addhost(cid, h)
    vid = one.vm.allocate(f'NAME="{uniq("vm")}"\nCPU="0.1"\nMEMORY="64"\nNIC=[NETWORK_ID={nid}]', False)
    req = one.xml("vm.info", vid).findtext("TEMPLATE/AUTOMATIC_REQUIREMENTS")
    assert f"CLUSTER_ID = {cid}" in req and "CLUSTER_ID = 0" not in req
    # The host is in the network's cluster but the cluster has no system datastore yet.
    one.cluster.adddatastore(cid, 0)
    wait_for(lambda: one.vm.info(vid).LCM_STATE == RUNNING, what=f"VM {vid} RUNNING")
    assert one.xml("vm.info", vid).findtext("HISTORY_RECORDS/HISTORY/HID") == str(h)
    terminate(one, vid)


def test_template_calls_reach_their_images(one, hid):
    img, img_name = datablock(one, size=6)
    wait_ready(one, img)
    name = uniq("tpl")
    tid = one.template.allocate(f'NAME="{name}"\nCPU="0.1"\nMEMORY="64"\n'
                                f'SCHED_REQUIREMENTS="ID = {hid}"\nDISK=[IMAGE="{img_name}"]')
    # chmod recursive: the image gets the bits too.
    one.template.chmod(tid, -1, -1, -1, -1, -1, -1, 1, -1, -1, True)
    assert one.xml("image.info", img).findtext("PERMISSIONS/OTHER_U") == "1"
    # clone recursive: the copy uses a clone of the image.
    copy = one.template.clone(tid, uniq("copy"), True)
    disk = one.xml("template.info", copy).find("TEMPLATE/DISK")
    cloned = int(disk.findtext("IMAGE_ID"))
    assert cloned != img
    wait_ready(one, cloned)
    # instantiate persistent: the VM runs on a persistent clone; the original stays free.
    vid = one.template.instantiate(tid, uniq("pvm"), False, "", True)
    used = int(one.xml("vm.info", vid).findtext("TEMPLATE/DISK/IMAGE_ID"))
    assert used not in (img, cloned)
    assert one.xml("image.info", used).findtext("PERSISTENT") == "1"
    terminate(one, vid)
    # delete recursive: the copy and its image go.
    one.template.delete(copy, True)
    one.fails(NO_EXISTS, "image.info", cloned)
    one.fails(NO_EXISTS, "template.info", copy)
    one.template.delete(tid, False)
    assert one.xml("image.info", img).findtext("NAME") == img_name
