"""one.vmgroup.*, one.vmgrouppool.info, one.vm.vmgroupadd/vmgroupdel: VM groups as owned
objects (roles, rules, validation, rights), VMs joining and leaving roles, and placement on
simulated hosts under the rules (POLICY, HOST_AFFINED, HOST_ANTI_AFFINED, role-to-role
AFFINED and ANTI_AFFINED)."""

import pytest

from onehelpers import (ACTION, ALLOCATE, AUTHENTICATION, AUTHORIZATION, INTERNAL,
                        NO_EXISTS, RPC_API, connect, ids, perms, tmpl, uniq, wait_for)

PENDING, HOLD, ACTIVE, DONE = 1, 2, 3, 6
RUNNING = 3


def make_vmg(one, body='ROLE=[NAME="web"]', name=None):
    name = name or uniq("vmg")
    return one.vmgroup.allocate(f'NAME="{name}"\n{body}'), name


def roles(one, gid):
    return {r.findtext("NAME"): r for r in one.xml("vmgroup.info", gid).findall("ROLES/ROLE")}


def role_vms(one, gid, role):
    text = roles(one, gid)[role].findtext("VMS") or ""
    return sorted(int(x) for x in text.split(",") if x)


def names(one):
    return [g.findtext("NAME") for g in one.xml("vmgrouppool.info", -2, -1, -1).findall("VM_GROUP")]


def held_vm(one, vmgroup, extra=""):
    """A VM on HOLD (never placed) asking to join `vmgroup` (the inside of VMGROUP=[..])."""
    text = f'NAME="{uniq("vm")}"\nCPU="0.1"\nMEMORY="32"\nVMGROUP=[{vmgroup}]\n{extra}'
    return one.vm.allocate(text, True)


def terminate(one, *vids):
    """Terminates VMs (once they are RUNNING, or never placed) and waits for DONE."""
    from test_vm_resources import terminate_when_settled
    for v in vids:
        terminate_when_settled(one, v)
    for v in vids:
        wait_for(lambda v=v: one.vm.info(v).STATE == DONE, what=f"VM {v} DONE")


# --------------------------------------------------------------------------
# The object
# --------------------------------------------------------------------------


def test_allocate_info(one):
    gid, name = make_vmg(one, 'ROLE=[NAME="db", POLICY="affined", HOST_AFFINED="2, 1"]\n'
                              'ROLE=[NAME="web", POLICY=ANTI_AFFINED, HOST_ANTI_AFFINED="3"]\n'
                              'ROLE=[NAME="cache"]\n'
                              'AFFINED="db, cache"\nDESCRIPTION="three tiers"')
    root = one.xml("vmgroup.info", gid)
    assert root.findtext("NAME") == name and root.findtext("UNAME") == "oneadmin"
    assert perms(root) == (1, 1, 0, 0, 0, 0, 0, 0, 0)
    got = [(r.findtext("ID"), r.findtext("NAME"), r.findtext("POLICY"), r.findtext("HOST_AFFINED"),
            r.findtext("HOST_ANTI_AFFINED"), r.findtext("VMS")) for r in root.findall("ROLES/ROLE")]
    assert got == [("0", "db", "AFFINED", "1,2", None, None),
                   ("1", "web", "ANTI_AFFINED", None, "3", None),
                   ("2", "cache", "NONE", None, None, None)]
    assert tmpl(root, "AFFINED") == "db, cache" and tmpl(root, "DESCRIPTION") == "three tiers"
    assert root.find("TEMPLATE/ROLE") is None and root.find("TEMPLATE/NAME") is None
    g = one.vmgroup.info(gid)
    assert g.NAME == name and [r.NAME for r in g.ROLES.ROLE] == ["db", "web", "cache"]


@pytest.mark.parametrize("body, message", [
    ('ROLE=[POLICY="AFFINED"]', "Missing NAME in VM group role"),
    ('ROLE=[NAME="a"]\nROLE=[NAME="a"]', "Role a already exists"),
    ('ROLE=[NAME="a", POLICY="SIDEWAYS"]', "Wrong POLICY"),
    ('ROLE=[NAME="a", HOST_AFFINED="1,x"]', "Wrong host id"),
    ('ROLE=[NAME="a"]\nAFFINED="a, zz"', "Some roles used in AFFINED attribute (a, zz) are not defined"),
    ('ROLE=[NAME="a"]\nANTI_AFFINED="zz"', "Some roles used in ANTI_AFFINED attribute"),
    ('ROLE=[NAME="a"]\nROLE=[NAME="b"]\nAFFINED="a,b"\nAFFINED="b, a"', "Duplicated AFFINED rule"),
    ('ROLE=[NAME="a", POLICY="ANTI_AFFINED"]\nROLE=[NAME="b"]\nAFFINED="a,b"',
     "Role a is in an AFFINED rule but the role policy is ANTI_AFFINED"),
    ('ROLE=[NAME="a"]\nROLE=[NAME="b"]\nROLE=[NAME="c"]\nAFFINED="a,b"\nANTI_AFFINED="b,c"',
     "Roles defined in AFFINED and ANTI_AFFINED rules: b"),
])
def test_invalid_groups_are_refused(one, body, message):
    name = uniq("bad")
    msg = one.fails({ALLOCATE, INTERNAL}, "vmgroup.allocate", f'NAME="{name}"\n{body}')
    assert message in msg
    assert name not in names(one)


def test_allocate_errors(one, make_user):
    gid, name = make_vmg(one)
    assert "NAME" in one.fails({ALLOCATE, INTERNAL}, "vmgroup.allocate", 'ROLE=[NAME="a"]')
    assert "already taken" in one.fails({ALLOCATE, INTERNAL}, "vmgroup.allocate",
                                        f'NAME="{name}"\nROLE=[NAME="a"]')
    one.fails({ALLOCATE, INTERNAL}, "vmgroup.allocate", 'NAME="x\nROLE=[')
    connect(one.uri, "oneadmin:x").fails(AUTHENTICATION, "vmgroup.allocate", f'NAME="{uniq("g")}"')
    one.fails(NO_EXISTS, "vmgroup.info", 999999)
    make_user().one.fails(AUTHORIZATION, "vmgroup.info", gid)
    # a user of the users group may create VM groups (the bootstrap ACL)
    u = make_user()
    ugid, _ = make_vmg(u.one)
    assert int(u.one.xml("vmgroup.info", ugid).findtext("UID")) == u.id


def test_roles_add_delete_update(one):
    gid, _ = make_vmg(one, 'ROLE=[NAME="a"]\nROLE=[NAME="b"]\nROLE=[NAME="e"]\nAFFINED="a,b"')
    assert one.vmgroup.roleadd(gid, 'ROLE=[NAME="c", POLICY="ANTI_AFFINED", HOST_AFFINED="4"]') == gid
    r = roles(one, gid)
    assert r["c"].findtext("ID") == "3" and r["c"].findtext("POLICY") == "ANTI_AFFINED"
    assert r["c"].findtext("HOST_AFFINED") == "4"
    assert "already exists" in one.fails(ACTION, "vmgroup.roleadd", gid, 'ROLE=[NAME="c"]')
    assert "No ROLE" in one.fails(ACTION, "vmgroup.roleadd", gid, 'NAME="d"')
    assert "Missing NAME" in one.fails(ACTION, "vmgroup.roleadd", gid, 'ROLE=[POLICY="NONE"]')
    # rules are checked on update: known roles, no ANTI_AFFINED role in an AFFINED rule,
    # no role in both kinds of rule; a refused update changes nothing
    msg = one.fails(ACTION, "vmgroup.update", gid, 'AFFINED="a,b,c"', 1)
    assert "Role c is in an AFFINED rule but the role policy is ANTI_AFFINED" in msg
    assert "not defined" in one.fails(ACTION, "vmgroup.update", gid, 'ANTI_AFFINED="a, zz"', 1)
    one.vmgroup.update(gid, 'ANTI_AFFINED="c, e"\nLABEL="x"', 1)
    msg = one.fails(ACTION, "vmgroup.update", gid, 'AFFINED="a,b,e"', 1)
    assert "Roles defined in AFFINED and ANTI_AFFINED rules: e" in msg
    root = one.xml("vmgroup.info", gid)
    assert (tmpl(root, "AFFINED"), tmpl(root, "ANTI_AFFINED"), tmpl(root, "LABEL")) == ("a,b", "c, e", "x")
    one.fails(RPC_API, "vmgroup.update", gid, 'LABEL="y"', 2)
    # role updates merge the keys given; names stay unique, and rules must keep naming
    # defined roles
    one.vmgroup.roleadd(gid, 'ROLE=[NAME="f", HOST_AFFINED="5"]')
    one.vmgroup.roleupdate(gid, 4, 'ROLE=[NAME="ff", HOST_ANTI_AFFINED="8,7"]')
    r = roles(one, gid)
    assert "f" not in r and (r["ff"].findtext("HOST_AFFINED"), r["ff"].findtext("HOST_ANTI_AFFINED")) == ("5", "7,8")
    assert "already exists" in one.fails(ACTION, "vmgroup.roleupdate", gid, 4, 'ROLE=[NAME="a"]')
    assert "not defined" in one.fails(ACTION, "vmgroup.roleupdate", gid, 1, 'ROLE=[NAME="bb"]')
    assert "doesn't have role 9" in one.fails(ACTION, "vmgroup.roleupdate", gid, 9, 'ROLE=[NAME="z"]')
    one.fails(ACTION, "vmgroup.roleupdate", gid, 4, 'ROLE=[POLICY="SIDEWAYS"]')
    # deleting a role a rule names is refused; once the rules are gone it is not
    assert "not defined" in one.fails(ACTION, "vmgroup.roledelete", gid, 3)
    one.vmgroup.update(gid, 'LABEL="x"', 0)
    assert one.vmgroup.roledelete(gid, 3) == gid
    assert "doesn't exist" in one.fails(ACTION, "vmgroup.roledelete", gid, 3)
    for role_id in (1, 2, 4):
        one.vmgroup.roledelete(gid, role_id)
    # as OpenNebula, the last role can go too: a group may have none
    assert one.vmgroup.roledelete(gid, 0) == gid
    assert roles(one, gid) == {}
    one.fails(NO_EXISTS, "vmgroup.roleadd", 999999, 'ROLE=[NAME="x"]')
    # role ids are never reused
    one.vmgroup.roleadd(gid, 'ROLE=[NAME="g"]')
    assert roles(one, gid)["g"].findtext("ID") == "5"


def test_rename_chmod_chown_lock_delete(one, make_user):
    gid, _ = make_vmg(one)
    _, other = make_vmg(one)
    new = uniq("vmgr")
    one.vmgroup.rename(gid, new)
    assert one.xml("vmgroup.info", gid).findtext("NAME") == new
    one.fails(ACTION, "vmgroup.rename", gid, other)
    u = make_user()
    u.one.fails(AUTHORIZATION, "vmgroup.update", gid, 'A="1"', 1)
    one.vmgroup.chmod(gid, -1, -1, -1, -1, -1, -1, 1, 1, 0)
    assert perms(one.xml("vmgroup.info", gid)) == (1, 1, 0, 0, 0, 0, 1, 1, 0)
    u.one.vmgroup.update(gid, 'BY_OTHER="1"', 1)
    one.vmgroup.chown(gid, u.id, 1)
    root = one.xml("vmgroup.info", gid)
    assert (int(root.findtext("UID")), root.findtext("GNAME")) == (u.id, "users")
    u.one.vmgroup.lock(gid, 1, False)
    assert one.xml("vmgroup.info", gid).findtext("LOCK/LOCKED") == "1"
    # oned 7.4 refuses what a lock blocks while it authorizes: AUTHORIZATION, "VMGROUP is
    # locked. [N]" for the oneadmin group (AclManager::oneadmin_authorize)
    assert one.fails(AUTHORIZATION, "vmgroup.update", gid, 'A="2"', 1) == \
        f"[one.vmgroup.update] User [0] : VMGROUP is locked. [{gid}]."
    one.fails(AUTHORIZATION, "vmgroup.roleadd", gid, 'ROLE=[NAME="z"]')
    u.one.vmgroup.unlock(gid)
    assert one.xml("vmgroup.info", gid).find("LOCK") is None
    # delete needs MANAGE: with OTHER_M cleared, another user may not delete it
    u.one.vmgroup.chmod(gid, -1, -1, -1, -1, -1, -1, 1, 0, -1)
    make_user().one.fails(AUTHORIZATION, "vmgroup.delete", gid)
    assert u.one.vmgroup.delete(gid) == gid
    one.fails(NO_EXISTS, "vmgroup.info", gid)
    one.fails(NO_EXISTS, "vmgroup.delete", gid)


def test_pool(one, make_user):
    a, _ = make_vmg(one)
    b, _ = make_vmg(one)
    got = ids(one.xml("vmgrouppool.info", -2, -1, -1), "VM_GROUP")
    assert {a, b} <= set(got) and got == sorted(got)
    assert ids(one.xml("vmgrouppool.info", -2, a, b), "VM_GROUP") == [i for i in got if a <= i <= b]
    assert len(one.vmgrouppool.info(-2, -1, -1).VM_GROUP) == len(got)
    u = make_user()
    mine, _ = make_vmg(u.one)
    assert ids(u.one.xml("vmgrouppool.info", -3, -1, -1), "VM_GROUP") == [mine]
    assert a not in ids(u.one.xml("vmgrouppool.info", -2, -1, -1), "VM_GROUP")
    one.fails(RPC_API, "vmgrouppool.info", -5, -1, -1)
    connect(one.uri, "a:b").fails(AUTHENTICATION, "vmgrouppool.info", -2, -1, -1)


# --------------------------------------------------------------------------
# VMs in groups
# --------------------------------------------------------------------------


def test_vms_join_at_allocate_and_leave_when_done(one):
    gid, name = make_vmg(one, 'ROLE=[NAME="web"]\nROLE=[NAME="db"]')
    by_id = held_vm(one, f'VMGROUP_ID="{gid}", ROLE="web"')
    by_name = held_vm(one, f'VMGROUP_NAME="{name}", ROLE="db"')
    assert role_vms(one, gid, "web") == [by_id] and role_vms(one, gid, "db") == [by_name]
    vm = one.xml("vm.info", by_name)
    assert vm.findtext("TEMPLATE/VMGROUP/VMGROUP_ID") == str(gid)
    assert vm.findtext("TEMPLATE/VMGROUP/ROLE") == "db"
    # the template of a VM template carries VMGROUP to its VMs
    tid = one.template.allocate(f'NAME="{uniq("t")}"\nCPU=0.1\nMEMORY=32\n'
                                f'VMGROUP=[VMGROUP_ID="{gid}", ROLE="web"]')
    from_template = one.template.instantiate(tid, "", True, "", False)
    assert role_vms(one, gid, "web") == sorted([by_id, from_template])
    # unknown group or role, no role: refused, and nothing changes
    before = len(one.vmpool.info(-2, -1, -1, -1).VM)
    assert "Role does not exist" in one.fails(INTERNAL, "vm.allocate",
                                              f'CPU=1\nMEMORY=32\nVMGROUP=[VMGROUP_ID="{gid}", ROLE="nope"]', True)
    assert "Cannot find VM Group" in one.fails(INTERNAL, "vm.allocate",
                                               'CPU=1\nMEMORY=32\nVMGROUP=[VMGROUP_ID="999999", ROLE="web"]', True)
    assert "Cannot find VM Group" in one.fails(INTERNAL, "vm.allocate",
                                               f'CPU=1\nMEMORY=32\nVMGROUP=[VMGROUP_NAME="{uniq("x")}", ROLE="web"]', True)
    assert "Missing role" in one.fails(INTERNAL, "vm.allocate",
                                       f'CPU=1\nMEMORY=32\nVMGROUP=[VMGROUP_ID="{gid}"]', True)
    assert len(one.vmpool.info(-2, -1, -1, -1).VM) == before
    assert role_vms(one, gid, "web") == sorted([by_id, from_template])
    # a group with VMs can be neither deleted nor updated, nor can its busy roles change
    assert "VMs" in one.fails(ACTION, "vmgroup.delete", gid)
    one.fails(ACTION, "vmgroup.update", gid, 'LABEL="x"', 1)
    one.fails(ACTION, "vmgroup.roledelete", gid, 0)
    one.fails(ACTION, "vmgroup.roleupdate", gid, 0, 'ROLE=[POLICY="AFFINED"]')
    terminate(one, by_id, by_name, from_template)
    assert role_vms(one, gid, "web") == [] and role_vms(one, gid, "db") == []
    assert one.vmgroup.delete(gid) == gid


def test_joining_needs_use_on_the_group(one, make_user):
    gid, name = make_vmg(one)
    u = make_user()
    u.one.fails(AUTHORIZATION, "vm.allocate",
                f'CPU=0.1\nMEMORY=32\nVMGROUP=[VMGROUP_ID="{gid}", ROLE="web"]', True)
    # by name, another user's group is found only with its owner's id or name
    u.one.fails(INTERNAL, "vm.allocate",
                f'CPU=0.1\nMEMORY=32\nVMGROUP=[VMGROUP_NAME="{name}", ROLE="web"]', True)
    u.one.fails(AUTHORIZATION, "vm.allocate",
                f'CPU=0.1\nMEMORY=32\nVMGROUP=[VMGROUP_NAME="{name}", VMGROUP_UNAME="oneadmin", ROLE="web"]', True)
    assert role_vms(one, gid, "web") == []
    one.vmgroup.chmod(gid, -1, -1, -1, -1, -1, -1, 1, 0, 0)
    vid = held_vm(u.one, f'VMGROUP_NAME="{name}", VMGROUP_UID="0", ROLE="web"')
    assert role_vms(one, gid, "web") == [vid]
    terminate(u.one, vid)
    one.vmgroup.delete(gid)


# --------------------------------------------------------------------------
# Placement
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hosts(nubod):
    """Three monitored hosts, labelled so that only this module's VMs use them."""
    one = nubod.admin()
    label = uniq("vmgl")
    hids = []
    for _ in range(3):
        hid = one.host.allocate(uniq("vmgh"), "dummy", "dummy", -1)
        one.host.update(hid, f'VMG_LABEL="{label}"', 1)
        hids.append(hid)
    for hid in hids:
        wait_for(lambda hid=hid: one.host.info(hid).STATE == 2, what=f"host {hid} MONITORED")
    return label, hids


def placed_vm(one, label, vmgroup=None, req="", rank=""):
    """A VM for the scheduler, on this module's hosts (and `req`), maybe in a VM group."""
    group = f"VMGROUP=[{vmgroup}]" if vmgroup else ""
    requirements = f'VMG_LABEL = \\"{label}\\"' + (f" & {req}" if req else "")
    rank = f'SCHED_RANK="{rank}"' if rank else ""
    return one.vm.allocate(f'NAME="{uniq("vm")}"\nCPU="0.1"\nMEMORY="32"\n'
                           f'SCHED_REQUIREMENTS="{requirements}"\n{group}\n{rank}', False)


def host_of(one, vid):
    wait_for(lambda: one.vm.info(vid).STATE == ACTIVE and one.vm.info(vid).LCM_STATE == RUNNING,
             what=f"VM {vid} RUNNING (now {one.vm.info(vid).STATE}/{one.vm.info(vid).LCM_STATE}, "
                  f"{tmpl(one.xml('vm.info', vid), 'SCHED_MESSAGE', 'USER_TEMPLATE')})")
    return one.vm.info(vid).HISTORY_RECORDS.HISTORY[-1].HID


def sched_message(one, vid):
    return tmpl(one.xml("vm.info", vid), "SCHED_MESSAGE", "USER_TEMPLATE") or ""


def test_anti_affined_role_spreads_and_a_fourth_vm_waits(one, hosts):
    label, hids = hosts
    gid, _ = make_vmg(one, 'ROLE=[NAME="spread", POLICY="ANTI_AFFINED"]')
    member = f'VMGROUP_ID="{gid}", ROLE="spread"'
    # the VMs ask to be packed (most VMs first): only the role keeps them apart
    vms = [placed_vm(one, label, member, rank="RUNNING_VMS") for _ in range(3)]
    assert sorted(host_of(one, v) for v in vms) == sorted(hids)
    fourth = placed_vm(one, label, member, rank="RUNNING_VMS")
    wait_for(lambda: "POLICY=ANTI_AFFINED" in sched_message(one, fourth),
             what=f"SCHED_MESSAGE of VM {fourth}: {sched_message(one, fourth)!r}")
    assert one.vm.info(fourth).STATE == PENDING
    assert role_vms(one, gid, "spread") == sorted(vms + [fourth])
    assert "VMs" in one.fails(ACTION, "vmgroup.delete", gid)
    # a host freed by the role lets the fourth in
    freed = host_of(one, vms[0])
    terminate(one, vms[0])
    assert host_of(one, fourth) == freed
    terminate(one, *vms[1:], fourth)
    assert role_vms(one, gid, "spread") == []
    assert one.vmgroup.delete(gid) == gid


def test_affined_role_lands_on_one_host(one, hosts):
    label, hids = hosts
    gid, _ = make_vmg(one, 'ROLE=[NAME="together", POLICY="AFFINED"]')
    vms = [placed_vm(one, label, f'VMGROUP_ID="{gid}", ROLE="together"') for _ in range(3)]
    placed = {host_of(one, v) for v in vms}
    assert len(placed) == 1 and placed <= set(hids)
    terminate(one, *vms)
    one.vmgroup.delete(gid)


def test_host_affined_and_host_anti_affined(one, hosts):
    label, hids = hosts
    gid, _ = make_vmg(one, f'ROLE=[NAME="pinned", HOST_AFFINED="{hids[1]}"]\n'
                           f'ROLE=[NAME="kept", HOST_ANTI_AFFINED="{hids[0]},{hids[1]}"]\n'
                           f'ROLE=[NAME="nowhere", HOST_AFFINED="{hids[0]}"]')
    pinned = [placed_vm(one, label, f'VMGROUP_ID="{gid}", ROLE="pinned"') for _ in range(2)]
    kept = [placed_vm(one, label, f'VMGROUP_ID="{gid}", ROLE="kept"') for _ in range(2)]
    assert [host_of(one, v) for v in pinned] == [hids[1], hids[1]]
    assert [host_of(one, v) for v in kept] == [hids[2], hids[2]]
    # HOST_AFFINED to a host the VM's requirements rule out: it waits, and says why
    nowhere = placed_vm(one, label, f'VMGROUP_ID="{gid}", ROLE="nowhere"', req=f"ID != {hids[0]}")
    wait_for(lambda: "HOST_AFFINED" in sched_message(one, nowhere),
             what=f"SCHED_MESSAGE of VM {nowhere}: {sched_message(one, nowhere)!r}")
    assert one.vm.info(nowhere).STATE == PENDING
    terminate(one, *pinned, *kept, nowhere)
    one.vmgroup.delete(gid)


def test_role_to_role_rules(one, hosts):
    label, hids = hosts
    gid, _ = make_vmg(one, f'ROLE=[NAME="a", HOST_AFFINED="{hids[0]}"]\n'
                           f'ROLE=[NAME="b", HOST_AFFINED="{hids[0]},{hids[1]}"]\n'
                           f'ROLE=[NAME="c", HOST_AFFINED="{hids[2]}"]\n'
                           'ROLE=[NAME="d"]\n'
                           'ANTI_AFFINED="a, b"\nAFFINED="c, d"')
    a = placed_vm(one, label, f'VMGROUP_ID="{gid}", ROLE="a"')
    assert host_of(one, a) == hids[0]
    b = [placed_vm(one, label, f'VMGROUP_ID="{gid}", ROLE="b"') for _ in range(2)]
    assert [host_of(one, v) for v in b] == [hids[1], hids[1]]
    c = placed_vm(one, label, f'VMGROUP_ID="{gid}", ROLE="c"')
    assert host_of(one, c) == hids[2]
    d = [placed_vm(one, label, f'VMGROUP_ID="{gid}", ROLE="d"') for _ in range(2)]
    assert [host_of(one, v) for v in d] == [hids[2], hids[2]]
    # a "b" that may only go where "a" runs waits, and says which rule keeps it off
    blocked = placed_vm(one, label, f'VMGROUP_ID="{gid}", ROLE="b"', req=f"ID = {hids[0]}")
    wait_for(lambda: "ANTI_AFFINED rule" in sched_message(one, blocked),
             what=f"SCHED_MESSAGE of VM {blocked}: {sched_message(one, blocked)!r}")
    assert one.vm.info(blocked).STATE == PENDING
    terminate(one, a, *b, c, *d, blocked)
    one.vmgroup.delete(gid)


def test_vmgroupadd_and_vmgroupdel(one, hosts, make_user):
    label, hids = hosts
    gid, _ = make_vmg(one, f'ROLE=[NAME="free"]\nROLE=[NAME="elsewhere", HOST_AFFINED="{hids[2]}"]')
    vid = placed_vm(one, label, req=f"ID = {hids[0]}")
    assert host_of(one, vid) == hids[0]
    msg = one.fails(ACTION, "vm.vmgroupadd", vid, gid, "elsewhere")
    assert "HOST_AFFINED" in msg
    one.fails(ACTION, "vm.vmgroupadd", vid, gid, "nope")
    one.fails(NO_EXISTS, "vm.vmgroupadd", vid, 999999, "free")
    make_user().one.fails(AUTHORIZATION, "vm.vmgroupadd", vid, gid, "free")
    assert one.vm.vmgroupadd(vid, gid, "free") == vid
    assert role_vms(one, gid, "free") == [vid]
    vm = one.xml("vm.info", vid)
    assert (vm.findtext("TEMPLATE/VMGROUP/VMGROUP_ID"), vm.findtext("TEMPLATE/VMGROUP/ROLE")) == (str(gid), "free")
    assert vm.findtext("HISTORY_RECORDS/HISTORY[last()]/ACTION") == "64"  # vmgroup-add
    assert "already" in one.fails(ACTION, "vm.vmgroupadd", vid, gid, "free")
    assert one.vm.vmgroupdel(vid) == vid
    assert one.xml("vm.info", vid).findtext("HISTORY_RECORDS/HISTORY[last()]/ACTION") == "65"
    assert role_vms(one, gid, "free") == []
    assert one.xml("vm.info", vid).find("TEMPLATE/VMGROUP") is None
    one.fails(ACTION, "vm.vmgroupdel", vid)
    one.fails(NO_EXISTS, "vm.vmgroupdel", 999999)
    terminate(one, vid)
    one.fails(ACTION, "vm.vmgroupadd", vid, gid, "free")
    one.vmgroup.delete(gid)
