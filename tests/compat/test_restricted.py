"""What an ordinary user may put in a VM: every object a template names (networks of NICs
and NIC aliases, the security groups a NIC names, images, hosts and datastores of deploy
and migrate) needs the user's right to it, whichever call carries the reference; and the
restricted attributes (OpenNebula's VM_RESTRICTED_ATTR, IMAGE_RESTRICTED_ATTR,
VNET_RESTRICTED_ATTR: RAW, EMULATOR, CONTEXT/FILES, DISK/SOURCE, NIC/BRIDGE, …) are refused
to users outside the oneadmin group with the authorization code, on allocate, instantiate
(the extra template), updateconf and attach, and on the updates of templates, images and
reservations with oned's INTERNAL "Cannot update template. ..." (SharedAPI::update), while
oneadmin keeps them and users may instantiate oneadmin's templates that hold them."""

from __future__ import annotations

import pytest

from onehelpers import ACTION, AUTHORIZATION, INTERNAL, acl_rule, outsider, uniq, wait_for
from test_vm import host
from test_vm_resources import terminate, used_leases, vm_text, vnet

RESTRICTED = [
    'RAW=[TYPE="kvm", DATA="<devices/>"]',
    'EMULATOR="/bin/sh"',
    'CONTEXT=[FILES="/etc/shadow"]',
    'DISK=[SOURCE="/etc/shadow", TYPE="fs", SIZE="8"]',
    'CPU_COST="0"',
    'PCI=[VENDOR="8086"]',
]


@pytest.fixture(scope="module")
def hid(nubod):
    return host(nubod.admin())


@pytest.fixture(scope="module")
def net(nubod):
    """A network every user may use."""
    one = nubod.admin()
    nid = vnet(one, size=20, ip="10.77.0.1")
    one.vn.chmod(nid, 1, 1, 0, 1, 1, 0, 1, 0, 0)
    return nid


def vm_count(one) -> int:
    return len(one.xml("vmpool.info", -2, -1, -1, -1).findall("VM"))


def test_users_may_not_set_restricted_attributes(one, make_user, hid):
    bob = make_user()
    before = vm_count(one)
    for attr in RESTRICTED:
        msg = bob.one.fails(AUTHORIZATION, "vm.allocate", vm_text(hid, attr), False)
        assert "restricted attribute" in msg, msg
        bob.one.fails(AUTHORIZATION, "template.allocate", f'NAME="{uniq("t")}"\n{attr}')
    assert vm_count(one) == before, "a refused allocate left a VM behind"
    # oneadmin may.
    vid = one.vm.allocate(vm_text(hid, 'RAW=[TYPE="kvm", DATA="<devices/>"]'), True)
    one.vm.action("terminate-hard", vid)


def test_users_may_instantiate_templates_that_hold_them_but_not_add_them(one, make_user, hid):
    bob = make_user()
    tid = one.template.allocate(
        f'NAME="{uniq("raw")}"\nCPU="0.1"\nMEMORY="64"\nSCHED_REQUIREMENTS="ID = {hid}"\n'
        'RAW=[TYPE="kvm", DATA="<a/>"]\nCPU_COST="2"')
    one.template.chmod(tid, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    vid = bob.one.template.instantiate(tid, uniq("vm"), True, "", False)
    assert one.xml("vm.info", vid).findtext("TEMPLATE/RAW/DATA") == "<a/>"
    # The same values in the extra template change nothing and pass; others are refused.
    again = bob.one.template.instantiate(tid, uniq("vm"), True, 'CPU_COST="2"', False)
    bob.one.fails(AUTHORIZATION, "template.instantiate", tid, uniq("vm"), True,
                  'RAW=[TYPE="kvm", DATA="<b/>"]', False)
    bob.one.fails(AUTHORIZATION, "template.instantiate", tid, uniq("vm"), True,
                  'EMULATOR="/bin/sh"', False)
    for v in (vid, again):
        bob.one.vm.action("terminate-hard", v)


def test_updates_keep_restricted_attributes_and_refuse_new_ones(one, make_user, hid):
    bob = make_user()
    tid = bob.one.template.allocate(f'NAME="{uniq("t")}"\nCPU="0.1"\nMEMORY="64"')
    # SharedAPI::update: PoolObjectSQL::{append,replace}_template refuse it, INTERNAL
    bob.one.fails(INTERNAL, "template.update", tid, 'EMULATOR="/bin/sh"', 1)
    bob.one.fails(INTERNAL, "template.update", tid, 'CPU="1"\nRAW=[TYPE="kvm", DATA="x"]', 0)
    # oneadmin sets one; bob's replacing update keeps it, and may not change it.
    one.template.update(tid, 'CPU_COST="3"', 1)
    bob.one.template.update(tid, 'CPU="1"\nMEMORY="64"\nDESCRIPTION="mine"', 0)
    t = one.xml("template.info", tid)
    assert t.findtext("TEMPLATE/CPU_COST") == "3" and t.findtext("TEMPLATE/DESCRIPTION") == "mine"
    bob.one.fails(INTERNAL, "template.update", tid, 'CPU_COST="0"', 1)
    # A VM's user template and its configuration.
    vid = bob.one.vm.allocate(vm_text(hid, ""), False)
    wait_for(lambda: one.vm.info(vid).LCM_STATE == 3, what="RUNNING")
    bob.one.fails(INTERNAL, "vm.update", vid, 'EMULATOR="/bin/sh"', 1)
    bob.one.fails(AUTHORIZATION, "vm.updateconf", vid, 'RAW=[TYPE="kvm", DATA="<x/>"]', 1)
    bob.one.fails(AUTHORIZATION, "vm.updateconf", vid, 'CONTEXT=[FILES="/etc/shadow"]', 1)
    bob.one.vm.updateconf(vid, 'GRAPHICS=[TYPE="VNC", LISTEN="127.0.0.1"]', 1)
    vm = one.xml("vm.info", vid)
    assert vm.find("TEMPLATE/RAW") is None and vm.find("USER_TEMPLATE/EMULATOR") is None
    terminate(bob.one, vid)


def test_attached_nics_and_disks_are_checked_too(one, make_user, hid, net):
    bob = make_user()
    vid = bob.one.vm.allocate(vm_text(hid, f"NIC=[NETWORK_ID={net}]"), False)
    wait_for(lambda: one.vm.info(vid).LCM_STATE == 3, what="RUNNING")
    bob.one.fails(AUTHORIZATION, "vm.attachnic", vid, f'NIC=[NETWORK_ID={net}, BRIDGE="br-evil"]')
    bob.one.fails(AUTHORIZATION, "vm.attachnic", vid,
                  f'NIC=[NETWORK_ID={net}, MAC="02:00:0a:4d:00:99"]')
    bob.one.fails(AUTHORIZATION, "vm.attach", vid, 'DISK=[SOURCE="/etc/shadow", SIZE="8", TYPE="fs"]')
    bob.one.fails(AUTHORIZATION, "vm.updatenic", vid, 0, 'NIC=[INBOUND_AVG_BW="1"]', 1)
    one.vm.updatenic(vid, 0, 'NIC=[INBOUND_AVG_BW="100"]', 1)
    wait_for(lambda: one.vm.info(vid).LCM_STATE == 3, what="RUNNING again")
    terminate(bob.one, vid)


def test_system_config_lists_the_restricted_attributes(one):
    conf = one.xml("system.config")
    vm = [e.text for e in conf.findall("VM_RESTRICTED_ATTR")]
    assert {"RAW", "EMULATOR", "CONTEXT/FILES", "NIC/BRIDGE", "DISK/SOURCE"} <= set(vm), vm
    assert "SOURCE" in [e.text for e in conf.findall("IMAGE_RESTRICTED_ATTR")]
    assert "BRIDGE" in [e.text for e in conf.findall("VNET_RESTRICTED_ATTR")]


def private_group(owner) -> int:
    sg = owner.one.secgroup.allocate(
        f'NAME="{uniq("sg")}"\nRULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="22"]')
    owner.one.secgroup.chmod(sg, 1, 1, 0, 0, 0, 0, 0, 0, 0)
    return sg


def members(one, sg) -> list[int]:
    return sorted(int(v.text) for v in one.xml("secgroup.info", sg).findall("UPDATED_VMS/ID"))


def test_a_nic_names_only_security_groups_the_user_may_use(one, make_user, hid, net):
    alice, bob = make_user(), make_user()
    sg = private_group(alice)
    nic = f"NIC=[NETWORK_ID={net}, SECURITY_GROUPS={sg}]"
    bob.one.fails(AUTHORIZATION, "vm.allocate", vm_text(hid, nic), False)
    tid = bob.one.template.allocate(f'NAME="{uniq("t")}"\nCPU="0.1"\nMEMORY="64"\n'
                                    f'SCHED_REQUIREMENTS="ID = {hid}"\n{nic}')
    bob.one.fails(AUTHORIZATION, "template.instantiate", tid, uniq("vm"), False, "", False)
    plain = bob.one.template.allocate(f'NAME="{uniq("t")}"\nCPU="0.1"\nMEMORY="64"\n'
                                      f'SCHED_REQUIREMENTS="ID = {hid}"')
    bob.one.fails(AUTHORIZATION, "template.instantiate", plain, uniq("vm"), False, nic, False)
    vid = bob.one.vm.allocate(vm_text(hid, f"NIC=[NETWORK_ID={net}]"), False)
    wait_for(lambda: one.vm.info(vid).LCM_STATE == 3, what="RUNNING")
    bob.one.fails(AUTHORIZATION, "vm.attachnic", vid, nic)
    bob.one.fails(ACTION, "vm.updatenic", vid, 0, f"NIC=[SECURITY_GROUPS={sg}]", 1)
    bob.one.fails(AUTHORIZATION, "vm.attachsg", vid, 0, sg)
    assert members(one, sg) == [], "alice's group lists bob's VMs"
    # With USE on the group, bob may.
    alice.one.secgroup.chmod(sg, 1, 1, 0, 0, 0, 0, 1, 0, 0)
    other = bob.one.vm.allocate(vm_text(hid, nic), False)
    assert members(one, sg) == [other]
    terminate(bob.one, vid, other)


def test_nic_aliases_need_the_network_and_a_parent(one, make_user, hid, net):
    alice, bob = make_user(), outsider(one, make_user, "NET")
    private = vnet(one, size=4, ip="10.78.0.1")
    one.vn.chown(private, alice.id, -1)
    one.vn.chmod(private, 1, 1, 0, 0, 0, 0, 0, 0, 0)
    nic = f"NIC=[NETWORK_ID={net}]"
    bob.one.fails(AUTHORIZATION, "vm.allocate",
                  vm_text(hid, f'{nic}\nNIC_ALIAS=[NETWORK_ID={private}, PARENT="NIC0"]'), False)
    assert used_leases(one, private) == 0
    bob.one.fails((ACTION, INTERNAL), "vm.allocate",
                  vm_text(hid, f'{nic}\nNIC_ALIAS=[NETWORK_ID={net}, PARENT="NIC5"]'), False)
    vid = bob.one.vm.allocate(vm_text(hid, f'{nic}\nNIC_ALIAS=[NETWORK_ID={net}, PARENT="NIC0"]'), False)
    alias = one.xml("vm.info", vid).find("TEMPLATE/NIC_ALIAS")
    assert alias.findtext("PARENT_ID") == "0" and alias.findtext("NETWORK_ID") == str(net)
    terminate(bob.one, vid)


def test_deploy_and_migrate_need_the_host_and_datastore(one, make_user, hid):
    bob = outsider(one, make_user, "DATASTORE")
    other = host(one)
    vid = bob.one.vm.allocate(vm_text(hid, ""), True)
    # bob may administer his VMs (an ACL oneadmin gave), yet not place them on hosts he
    # may not manage, nor on a system datastore he may not use.
    with acl_rule(one, f"#{bob.id} VM/* ADMIN"):
        bob.one.fails(AUTHORIZATION, "vm.deploy", vid, other, False, -1)
        with acl_rule(one, f"#{bob.id} HOST/#{other} MANAGE"):
            ds = one.datastore.allocate(f'NAME="{uniq("sys")}"\nTYPE="SYSTEM_DS"\nTM_MAD="ssh"', -1)
            one.datastore.chmod(ds, 1, 1, 0, 0, 0, 0, 0, 0, 0)
            bob.one.fails(AUTHORIZATION, "vm.deploy", vid, other, False, ds)
            bob.one.vm.deploy(vid, other, False, -1)
            wait_for(lambda: one.vm.info(vid).LCM_STATE == 3, what="RUNNING")
        bob.one.fails(AUTHORIZATION, "vm.migrate", vid, hid, False, False, -1, 0)
    terminate(one, vid)


def test_images_and_reservations_have_their_restricted_attributes(one, make_user, net):
    bob = make_user()
    with acl_rule(one, f"#{bob.id} DATASTORE/#1 USE"):
        msg = bob.one.fails(AUTHORIZATION, "image.allocate",
                            f'NAME="{uniq("img")}"\nTYPE="DATABLOCK"\nSIZE="1"\nSOURCE="/etc/shadow"', 1)
        assert "restricted attribute SOURCE" in msg, msg
        img = bob.one.image.allocate(f'NAME="{uniq("img")}"\nTYPE="DATABLOCK"\nSIZE="1"', 1)
    bob.one.fails(INTERNAL, "image.update", img, 'SOURCE="/etc/shadow"', 1)
    # A reservation's network attributes are oneadmin's.
    rid = bob.one.vn.reserve(net, f'NAME="{uniq("rsv")}"\nSIZE="2"')
    bob.one.fails(INTERNAL, "vn.update", rid, 'BRIDGE="br-evil"', 1)
    bob.one.fails(INTERNAL, "vn.update", rid, 'PHYDEV="eth9"', 1)
    ar = one.xml("vn.info", rid).findtext("AR_POOL/AR/AR_ID")
    bob.one.fails(AUTHORIZATION, "vn.update_ar", rid, f'AR=[AR_ID="{ar}", BRIDGE="br-evil"]')
    bob.one.vn.update(rid, 'DESCRIPTION="mine"', 1)
    assert one.xml("vn.info", rid).findtext("BRIDGE") != "br-evil"
    bob.one.vn.delete(rid)
