"""Failure messages clients match (issue 13, item 3): each class answered with oned 7.4's
exact wording and code, as pyone raises them. The message is `[method] ` followed by the
class's text (Request::failure_message): NO_EXISTS `Error getting <object> [N].`,
AUTHORIZATION `User [N] : <reason>.`, ALLOCATE `Error allocating a new <object>. <reason>`,
ACTION/API/INTERNAL the reason alone. Each test names the OpenNebula source it follows."""

from __future__ import annotations

import pyone
import pytest

from onehelpers import ACTION, ALLOCATE, AUTHORIZATION, INTERNAL, NO_EXISTS, RPC_API, uniq
from test_image import datablock, wait_ready


def refused(server, exc, method: str, *args) -> str:
    """Calls `method` through pyone's bindings and returns the message of the `exc` it raises."""
    obj, verb = method.split(".")
    with pytest.raises(exc) as info:
        getattr(getattr(server, obj), verb)(*args)
    assert type(info.value) is exc, type(info.value)
    return str(info.value)


def template(one, name=None) -> tuple[int, str]:
    name = name or uniq("t")
    return one.template.allocate(f'NAME="{name}"\nCPU="0.1"\nMEMORY="64"'), name


def test_missing_objects(one):
    # Request::failure_message, NO_EXISTS: "Error getting " << object_name << " [N]."
    assert refused(one, pyone.OneNoExistsException, "vm.info", 99999) == \
        "[one.vm.info] Error getting virtual machine [99999]."
    assert refused(one, pyone.OneNoExistsException, "template.info", 99998) == \
        "[one.template.info] Error getting virtual machine template [99998]."
    # the object that is missing is named, not the one the method is about (resp_obj)
    assert one.fails(NO_EXISTS, "image.allocate", 'NAME="x"\nTYPE="DATABLOCK"\nSIZE="1"', 99997) == \
        "[one.image.allocate] Error getting datastore [99997]."


def test_not_authorized(one, make_user):
    # AuthRequest::add_auth: "Not authorized to perform <OP> <TYPE> [oid]", wrapped by
    # failure_message as "User [uid] : <message>."
    bob = make_user()
    tid, _ = template(one)
    assert refused(bob.one, pyone.OneAuthorizationException, "template.info", tid) == \
        f"[one.template.info] User [{bob.id}] : Not authorized to perform USE TEMPLATE [{tid}]."
    # a CREATE has no object id; two refusals are joined by "; " (host.allocate asks ADMIN
    # on the cluster too, -1 being the default cluster 0)
    assert bob.one.fails(AUTHORIZATION, "host.allocate", uniq("h"), "kvm", "kvm", -1) == \
        (f"[one.host.allocate] User [{bob.id}] : Not authorized to perform CREATE HOST; "
         "Not authorized to perform ADMIN CLUSTER [0].")


def test_restricted_attributes(one, make_user):
    # TemplateAPI: "VM Template includes a restricted attribute EMULATOR" (AUTHORIZATION),
    # a vector's entry named by its key (Template::check_restricted: CONTEXT/FILES -> FILES)
    bob = make_user()
    msg = refused(bob.one, pyone.OneAuthorizationException, "template.allocate",
                  f'NAME="{uniq("t")}"\nEMULATOR="/bin/sh"')
    assert msg == (f"[one.template.allocate] User [{bob.id}] : "
                   "VM Template includes a restricted attribute EMULATOR.")
    assert bob.one.fails(AUTHORIZATION, "template.allocate",
                         f'NAME="{uniq("t")}"\nCONTEXT=[FILES="/etc/shadow"]') == (
        f"[one.template.allocate] User [{bob.id}] : "
        "VM Template includes a restricted attribute FILES.")
    # TemplateAPI::merge: instantiate's extra template is the "User Template"
    tid, _ = template(one)
    one.template.chmod(tid, 1, 0, 0, 1, 0, 0, 1, 0, 0)
    assert bob.one.fails(AUTHORIZATION, "template.instantiate", tid, uniq("vm"), True,
                         'EMULATOR="/bin/sh"', False) == (
        f"[one.template.instantiate] User [{bob.id}] : "
        "User Template includes a restricted attribute EMULATOR.")


def test_names_already_taken(one):
    # VMTemplatePool::allocate "NAME is already taken by TEMPLATE N."; TemplateAPI's
    # pool_allocate answers it INTERNAL with the bare reason (so do those of networks,
    # security groups, VM groups, network templates, documents, datastores, groups, users,
    # VMs), HostAPI's ALLOCATE in "Error allocating a new <object>. <reason>" (so do
    # clusters' and images')
    tid, name = template(one)
    assert one.fails(INTERNAL, "template.allocate", f'NAME="{name}"\nCPU="1"') == (
        f"[one.template.allocate] NAME is already taken by TEMPLATE {tid}.")
    host_name = uniq("h")
    hid = one.host.allocate(host_name, "kvm", "kvm", -1)
    assert one.fails(ALLOCATE, "host.allocate", host_name, "kvm", "kvm", -1) == (
        f"[one.host.allocate] Error allocating a new host. NAME is already taken by HOST {hid}.")
    one.host.delete(hid)
    # HostPool::allocate: the drivers
    assert one.fails(ALLOCATE, "host.allocate", uniq("h"), "", "kvm", -1) == (
        "[one.host.allocate] Error allocating a new host. IM_MAD_NAME cannot be empty.")
    # some pools spell their kind their own way: SecurityGroupPool, VMGroupPool, VNTemplatePool
    sg_name = uniq("sg")
    sg = one.secgroup.allocate(f'NAME="{sg_name}"')
    assert one.fails(INTERNAL, "secgroup.allocate", f'NAME="{sg_name}"') == (
        f"[one.secgroup.allocate] NAME is already taken by SecurityGroup {sg}.")
    vt_name = uniq("vt")
    vt = one.vntemplate.allocate(f'NAME="{vt_name}"')
    assert one.fails(INTERNAL, "vntemplate.allocate", f'NAME="{vt_name}"') == (
        f"[one.vntemplate.allocate] NAME is already taken by VN TEMPLATE {vt}.")
    # VMTemplatePool::allocate checks the name first
    assert one.fails(INTERNAL, "template.allocate", 'CPU="1"') == \
        "[one.template.allocate] Invalid NAME, it cannot be empty"
    # SharedAPI::rename: "<object> cannot be renamed to <name> because it collides with
    # <object> N" (ACTION); renaming to the same name succeeds
    other, _ = template(one)
    assert refused(one, pyone.OneActionException, "template.rename", other, name) == (
        f"[one.template.rename] virtual machine template cannot be renamed to {name} "
        f"because it collides with virtual machine template {tid}")
    assert one.template.rename(tid, name) == tid
    # PoolObjectSQL::name_is_valid names the character
    assert one.fails(ACTION, "template.rename", other, "a\tb") == \
        "[one.template.rename] Invalid NAME, char '\t' is not allowed"


def test_update_errors(one):
    # SharedAPI::update: "Wrong update type" (RPC_API); a template that does not parse is
    # "Cannot update template. <parser's message>" (INTERNAL)
    tid, _ = template(one)
    assert one.fails(RPC_API, "template.update", tid, 'A="1"', 3) == \
        "[one.template.update] Wrong update type"
    assert one.fails(INTERNAL, "template.update", tid, "A=[", 0).startswith(
        "[one.template.update] Cannot update template. ")


def test_restricted_attributes_on_update(one, make_user):
    # SharedAPI::update: "Cannot update template. " and PoolObjectSQL::append_template's
    # "User Template includes a restricted attribute X" / replace_template's "Tried to change
    # restricted attribute: X" (INTERNAL)
    bob = make_user()
    tid, _ = template(bob.one)
    assert refused(bob.one, pyone.OneInternalException, "template.update", tid,
                   'EMULATOR="/bin/sh"', 1) == (
        "[one.template.update] Cannot update template. "
        "User Template includes a restricted attribute EMULATOR")
    assert bob.one.fails(INTERNAL, "template.update", tid, 'CONTEXT=[FILES="/etc/shadow"]', 0) == (
        "[one.template.update] Cannot update template. Tried to change restricted attribute: FILES")


def test_chmod_values(one):
    # PoolObjectSQL::set_permissions: "New permission values must be -1, 0 or 1" (INTERNAL)
    tid, _ = template(one)
    assert one.fails(INTERNAL, "template.chmod", tid, 2, -1, -1, -1, -1, -1, -1, -1, -1) == \
        "[one.template.chmod] New permission values must be -1, 0 or 1"


def test_locks(one, make_user):
    # AclManager::oneadmin_authorize / authorize refuse what a lock blocks, so a locked
    # object is an AUTHORIZATION failure: "<TYPE> is locked. [N]" for the oneadmin group,
    # the ordinary "Not authorized to perform ..." for other users
    bob = make_user()
    tid, _ = template(one)
    one.template.chmod(tid, 1, 1, 0, 1, 1, 0, 1, 1, 0)
    assert one.template.lock(tid, 2, False) == tid
    assert refused(one, pyone.OneAuthorizationException, "template.update", tid, 'A="1"', 1) == \
        f"[one.template.update] User [0] : TEMPLATE is locked. [{tid}]."
    assert bob.one.fails(AUTHORIZATION, "template.update", tid, 'A="1"', 1) == \
        f"[one.template.update] User [{bob.id}] : Not authorized to perform MANAGE TEMPLATE [{tid}]."
    # SharedAPI::lock: "Wrong lock level specified"; a test lock of a locked object answers
    # the time it was locked at (PoolObjectSQL::test_lock_db)
    assert one.fails(ACTION, "template.lock", tid, 7, False) == "[one.template.lock] Wrong lock level specified"
    locked_at = one.xml("template.info", tid).findtext("LOCK/TIME")
    assert one.fails(ACTION, "template.lock", tid, 1, True) == f"[one.template.lock] {locked_at}"
    # SharedAPI::unlock: only the locker (or the oneadmin group) unlocks
    assert bob.one.fails(ACTION, "template.unlock", tid) == \
        "[one.template.unlock] Cannot unlock: Lock is owned by another user"
    assert one.template.unlock(tid) == tid


def test_image_restore_of_a_non_backup_image(one):
    # ImageManager::restore_image: "Can only restore images of type BACKUP" (ACTION)
    iid, _ = datablock(one)
    wait_ready(one, iid)
    assert refused(one, pyone.OneActionException, "image.restore", iid, 1, "") == \
        "[one.image.restore] Can only restore images of type BACKUP"


def test_image_snapshot_calls(one):
    # ImageManager::{delete,revert,flatten}_snapshot: type, then state, then the snapshot
    iid, _ = datablock(one)
    wait_ready(one, iid)
    for m in ("snapshotdelete", "snapshotrevert", "snapshotflatten"):
        assert one.fails(ACTION, f"image.{m}", iid, 0) == f"[one.image.{m}] Snapshot does not exist"
    one.image.enable(iid, False)
    assert one.fails(ACTION, "image.snapshotrevert", iid, 0) == \
        "[one.image.snapshotrevert] Cannot revert to snapshot in state DISABLED"
    one.image.enable(iid, True)
    one.image.chtype(iid, "CDROM")
    assert one.fails(ACTION, "image.snapshotdelete", iid, 0) == (
        "[one.image.snapshotdelete] IMAGES of type KERNEL, RAMDISK, BACKUP, FILESYSTEM and "
        "CONTEXT does not have snapshots.")


def test_refused_deletes_and_rules(one):
    # SharedAPI::delete_object: "Cannot delete <object>. <reason>"; SecurityGroupAPI::drop
    assert one.fails(ACTION, "secgroup.delete", 0) == (
        "[one.secgroup.delete] Cannot delete security group. "
        "The default security group (ID 0) cannot be deleted.")
    # AclManager::del_rule (INTERNAL)
    assert one.fails(INTERNAL, "acl.delrule", 99999) == "[one.acl.delrule] Rule 99999 does not exist"


def test_image_allocate_refusals(one):
    # Image::insert and ImagePool::allocate, in ALLOCATE's "Error allocating a new image. "
    assert one.fails(ALLOCATE, "image.allocate",
                     f'NAME="{uniq("i")}"\nPATH="/tmp/x"\nSOURCE="/tmp/y"\nSIZE="1"', 1) == (
        "[one.image.allocate] Error allocating a new image. PATH and SOURCE cannot be both set.")
    assert one.fails(ALLOCATE, "image.allocate", f'NAME="{uniq("i")}"\nTYPE="CDROM"', 1) == (
        "[one.image.allocate] Error allocating a new image. No PATH nor SOURCE in template.")
    assert one.fails(ALLOCATE, "image.allocate",
                     f'NAME="{uniq("i")}"\nTYPE="DATABLOCK"\nSIZE="1"', 2) == (
        "[one.image.allocate] Error allocating a new image. Only IMAGES of type KERNEL, "
        "RAMDISK and CONTEXT can be registered in a FILE_DS datastore")


def test_vm_action_in_a_wrong_state(one):
    # VirtualMachineAPI::action + DispatchManager::resume: the action name in quotes, then
    # "This action is not available for state <state_str()>" (ACTION); other calls word it
    # their own way (DispatchManager::attach, snapshot_create)
    vid = one.vm.allocate('NAME="w"\nCPU="0.1"\nMEMORY="64"', True)   # HOLD
    assert one.fails(ACTION, "vm.action", "resume", vid) == (
        '[one.vm.action] Error performing action "resume": '
        "This action is not available for state HOLD")
    assert one.fails(ACTION, "vm.attach", vid, "DISK=[TYPE=fs, SIZE=1]") == (
        f"[one.vm.attach] Could not attach a new disk to VM {vid}, wrong state HOLD.")
    assert one.fails(ACTION, "vm.snapshotcreate", vid, "x") == (
        f"[one.vm.snapshotcreate] Could not create a new snapshot for VM {vid}, wrong state HOLD.")
    one.vm.action("terminate-hard", vid)


def test_quota_exceeded(one, make_user):
    # Quota::check_quota "limit of L reached for METRIC quota in VM" (" with ID: N" for
    # datastores), prefixed by SharedAPI::user/group_quota_authorization with "user [N] " /
    # "group [N] ", answered AUTHORIZATION ("User [caller] : <reason>.")
    bob = make_user()
    one.user.quota(bob.id, "VM=[VMS=0]")
    assert bob.one.fails(AUTHORIZATION, "vm.allocate", 'NAME="q"\nCPU="0.1"\nMEMORY="64"', False) == (
        f"[one.vm.allocate] User [{bob.id}] : user [{bob.id}] limit of 0 reached for VMS quota in VM.")
    one.user.quota(bob.id, "DATASTORE=[ID=1, SIZE=0]")
    assert bob.one.fails(AUTHORIZATION, "image.allocate",
                         f'NAME="{uniq("qi")}"\nTYPE="DATABLOCK"\nSIZE="10"', 1) == (
        f"[one.image.allocate] User [{bob.id}] : user [{bob.id}] limit of 0 reached "
        "for SIZE quota in DATASTORE with ID: 1.")


def test_vm_allocate_refusals(one):
    # VirtualMachineAllocateAPI::pool_allocate answers vm->insert's refusal INTERNAL with
    # the bare reason: VirtualMachine::insert (sizes), ImagePool::disk_attribute (volatile
    # disks), ImageManager::acquire_image and VirtualNetworkPool::get_nic_by_* (references)
    def refusal(text):
        return one.fails(INTERNAL, "vm.allocate", f'NAME="{uniq("a")}"\n' + text, True)
    assert refusal('CPU="1"') == \
        "[one.vm.allocate] MEMORY attribute must be a positive integer value."
    assert refusal('CPU="1"\nMEMORY="-5"') == \
        "[one.vm.allocate] MEMORY attribute must be a positive integer value."
    assert refusal('MEMORY="64"\nCPU="x"') == \
        "[one.vm.allocate] CPU attribute must be a positive float or integer value."
    assert refusal('MEMORY="64"\nCPU="1"\nVCPU="0"') == \
        "[one.vm.allocate] VCPU attribute must be a positive integer value."
    base = 'CPU="0.1"\nMEMORY="64"\n'
    assert refusal(base + "DISK=[IMAGE_ID=99999]") == \
        "[one.vm.allocate] Image with ID: 99999 does not exist"
    assert refusal(base + 'DISK=[IMAGE="nope"]') == (
        "[one.vm.allocate] User 0 does not own an image with name: nope . "
        "Set IMAGE_UNAME or IMAGE_UID of owner in DISK.")
    assert refusal(base + "NIC=[NETWORK_ID=99999]") == \
        "[one.vm.allocate] Virtual network with ID: 99999 does not exist"
    assert refusal(base + 'NIC=[NETWORK="nope"]') == (
        "[one.vm.allocate] User 0 does not own a network with name: nope . "
        "Set NETWORK_UNAME or NETWORK_UID of owner in NIC.")
    assert refusal(base + "DISK=[TYPE=fs]") == \
        "[one.vm.allocate] SIZE attribute must be a positive integer value."
    assert refusal(base + "DISK=[TYPE=block, SIZE=1]") == \
        "[one.vm.allocate] Unknown disk type BLOCK"


def test_refused_group_cluster_and_datastore_changes(one, make_user):
    # SharedAPI::delete_object's "Cannot delete <object>. " around GroupPool::drop,
    # ClusterPool::drop / Cluster::check_drop and DatastorePool::drop (ACTION)
    assert one.fails(ACTION, "group.delete", 1) == \
        "[one.group.delete] Cannot delete group. System Groups (ID < 100) cannot be deleted."
    gid = one.group.allocate(uniq("g"))
    bob = make_user(groups=[gid])
    assert one.fails(ACTION, "group.delete", gid) == \
        f"[one.group.delete] Cannot delete group. Group {gid} is not empty."
    # GroupAPI add_admin/del_admin: "Cannot edit group. " + Group::add_admin/del_admin
    other = one.group.allocate(uniq("g"))
    assert one.fails(ACTION, "group.addadmin", other, bob.id) == (
        f"[one.group.addadmin] Cannot edit group. User {bob.id} is not part of Group {other}.")
    assert one.fails(ACTION, "group.deladmin", gid, bob.id) == (
        f"[one.group.deladmin] Cannot edit group. User {bob.id} is not an administrator "
        f"of Group {gid}.")
    one.group.addadmin(gid, bob.id)
    assert one.fails(ACTION, "group.addadmin", gid, bob.id) == (
        f"[one.group.addadmin] Cannot edit group. User {bob.id} is already an administrator "
        f"of Group {gid}.")
    assert one.fails(ACTION, "cluster.delete", 0) == \
        "[one.cluster.delete] Cannot delete cluster. System Clusters (ID < 100) cannot be deleted."
    cid = one.cluster.allocate(uniq("c"))
    hid = one.host.allocate(uniq("h"), "dummy", "dummy", cid)
    assert one.fails(ACTION, "cluster.delete", cid) == \
        f"[one.cluster.delete] Cannot delete cluster. Cluster {cid} is not empty, it contains 1 hosts."
    one.host.delete(hid)
    one.cluster.delete(cid)
    iid, _ = datablock(one)
    assert one.fails(ACTION, "datastore.delete", 1) == \
        "[one.datastore.delete] Cannot delete datastore. Datastore 1 is not empty."
    one.image.delete(iid)


def test_incorrect_filter_flag(one):
    # PoolSharedAPI / VirtualMachinePoolAPI: "Incorrect filter_flag" (RPC_API)
    assert one.fails(RPC_API, "templatepool.info", -5, -1, -1) == \
        "[one.templatepool.info] Incorrect filter_flag"
    assert one.fails(RPC_API, "vmpool.info", -5, -1, -1, -1) == \
        "[one.vmpool.info] Incorrect filter_flag"


def test_user_refusals(one, make_user):
    # UserAPI / User / UserPool (src/rm/api/UserAPI.cc, src/um/User.cc, src/um/UserPool.cc)
    assert one.fails(INTERNAL, "user.allocate", "a:b", "pw", "core", []) == \
        "[one.user.allocate] Invalid NAME, char ':' is not allowed."
    assert one.fails(INTERNAL, "user.allocate", uniq("u"), "p w", "core", []) == \
        "[one.user.allocate] Invalid password, character ' ' is not allowed"
    assert one.fails(ACTION, "user.delete", 0) == \
        "[one.user.delete] Cannot delete user. oneadmin cannot be deleted."
    assert one.fails(ACTION, "user.enable", 0, False) == \
        "[one.user.enable] Cannot enable/disable oneadmin user"
    u = make_user()
    g = one.group.allocate(uniq("g"))
    one.user.addgroup(u.id, g)
    assert one.fails(ACTION, "user.addgroup", u.id, g) == \
        "[one.user.addgroup] User is already in this group"
    assert one.fails(ACTION, "user.delgroup", u.id, 1) == \
        "[one.user.delgroup] Cannot remove user from the primary group"
    one.user.delgroup(u.id, g)
    assert one.fails(ACTION, "user.delgroup", u.id, g) == \
        "[one.user.delgroup] User is not part of this group"
    assert u.one.fails(RPC_API, "user.login", u.name, "", -5, -1) == \
        "[one.user.login] Wrong valid period for token"
    assert u.one.fails(RPC_API, "user.login", u.name, "f" * 64, 0, -1) == \
        f"[one.user.login] Could not find token: {'f' * 64}"
    assert u.one.fails(RPC_API, "user.login", u.name, "", 3600, 0) == \
        "[one.user.login] EGID is not in user group list"


def test_refusals_reserved_to_the_oneadmin_group(one, make_user):
    # SharedAPI::quota_update, VirtualMachinePoolShowbackCalculateAPI (AUTHORIZATION with
    # a message); Datastore::enable (INTERNAL)
    bob = make_user()
    for method in ("userquota.update", "groupquota.update"):
        assert bob.one.fails(AUTHORIZATION, method, "DATASTORE=[ID=2, IMAGES=1]") == (
            f"[one.{method}] User [{bob.id}] : The default quotas can only be updated by "
            "users in the oneadmin group.")
    assert bob.one.fails(AUTHORIZATION, "vmpool.calculateshowback", 1, 2020, 12, 2030) == \
        f"[one.vmpool.calculateshowback] User [{bob.id}] : Action reserved for group 0 only."
    assert one.fails(INTERNAL, "datastore.enable", 1, False) == \
        "[one.datastore.enable] Only SYSTEM_DS can be disabled or enabled"


def test_vnet_address_changes_in_a_wrong_state(one):
    # VirtualNetworkAPI::authorize "Could not execute one.vn.<verb>Virtual Network is in
    # wrong state: S" and rm_ar_helper "Could not remove Adress Range, ..." (sic, ACTION)
    vid = one.vn.allocate(f'NAME="{uniq("werr")}"\nVN_MAD="bridge"\nBRIDGE="br0"\n'
                          'AR=[TYPE="IP4", IP="10.52.0.1", SIZE="-1"]', -1)   # ERROR
    assert one.xml("vn.info", vid).findtext("STATE") == "5"   # ERROR
    assert one.fails(ACTION, "vn.add_ar", vid, 'AR=[TYPE="ETHER", SIZE="2"]') == (
        "[one.vn.add_ar] Could not execute one.vn.add_arVirtual Network is in wrong state: ERROR")
    assert one.fails(ACTION, "vn.hold", vid, 'LEASES=[IP="10.52.0.1"]') == (
        "[one.vn.hold] Could not execute one.vn.holdVirtual Network is in wrong state: ERROR")
    assert one.fails(ACTION, "vn.rm_ar", vid, 0) == (
        "[one.vn.rm_ar] Could not remove Adress Range, Virtual Network is in wrong state: ERROR")
    one.vn.delete(vid)


def test_restricted_attributes_on_vm_changes(one, make_user):
    # VirtualMachineAPI attachnic / attach / updateconf name the vector or "Template"
    # (AUTHORIZATION, "User [N] : <what> includes a restricted attribute X.")
    bob = make_user()
    vid = bob.one.vm.allocate('NAME="r"\nCPU="0.1"\nMEMORY="64"', True)
    assert bob.one.fails(AUTHORIZATION, "vm.attachnic", vid, 'NIC=[NETWORK_ID=0, BRIDGE="br9"]') == (
        f"[one.vm.attachnic] User [{bob.id}] : NIC includes a restricted attribute BRIDGE.")
    assert bob.one.fails(AUTHORIZATION, "vm.attach", vid,
                         'DISK=[TYPE=fs, SIZE=1, TOTAL_BYTES_SEC="1"]') == (
        f"[one.vm.attach] User [{bob.id}] : DISK includes a restricted attribute TOTAL_BYTES_SEC.")
    assert bob.one.fails(AUTHORIZATION, "vm.updateconf", vid, 'RAW=[TYPE="kvm", DATA="x"]', 1) == (
        f"[one.vm.updateconf] User [{bob.id}] : Template includes a restricted attribute RAW.")
    one.vm.action("terminate-hard", vid)
