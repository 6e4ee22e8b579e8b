"""one.vm.*, one.vmpool.*, one.template.*, one.templatepool.* on simulated hosts:
placement, the life cycle action by action, failures and recovery, quotas, rights."""

import pytest

from onehelpers import (ACTION, ALLOCATE, AUTHORIZATION, INTERNAL, NO_EXISTS, RPC_API, tmpl,
                        uniq, wait_for)

PENDING, HOLD, ACTIVE, STOPPED, SUSPENDED, DONE, POWEROFF, UNDEPLOYED = 1, 2, 3, 4, 5, 6, 8, 9
RUNNING, SHUTDOWN_POWEROFF, BOOT_FAILURE, PROLOG_FAILURE = 3, 18, 36, 39


def host(one, **attrs):
    hid = one.host.allocate(uniq("vmh"), "dummy", "dummy", -1)
    if attrs:
        one.host.update(hid, "\n".join(f'{k}="{v}"' for k, v in attrs.items()), 1)
    wait_for(lambda: one.host.info(hid).STATE == 2, what=f"host {hid} MONITORED")
    return hid


def state(one, vid):
    vm = one.vm.info(vid)
    return vm.STATE, vm.LCM_STATE


def wait_state(one, vid, st, lcm=None, timeout=20):
    want = (st, lcm)
    wait_for(lambda: (lambda s: s[0] == st and (lcm is None or s[1] == lcm))(state(one, vid)),
             timeout=timeout, what=f"VM {vid} in {want}, now {state(one, vid)}")


def small_vm(one, hid, extra="", hold=False):
    text = f'NAME="{uniq("vm")}"\nCPU="0.5"\nMEMORY="128"\nSCHED_REQUIREMENTS="ID = {hid}"\n{extra}'
    return one.vm.allocate(text, hold)


@pytest.fixture(scope="module")
def hid(nubod):
    return host(nubod.admin())


def test_template_crud_and_instantiate(one, hid):
    name = uniq("tpl")
    tid = one.template.allocate(f'NAME="{name}"\nCPU=1\nMEMORY=256\nSCHED_REQUIREMENTS="ID = {hid}"\nLABEL=x')
    t = one.xml("template.info", tid)
    assert t.findtext("NAME") == name and tmpl(t, "LABEL") == "x"
    one.template.update(tid, "LABEL=y", 1)
    assert tmpl(one.xml("template.info", tid), "LABEL") == "y"
    assert tid in [int(x.findtext("ID")) for x in one.xml("templatepool.info", -2, -1, -1).findall("VMTEMPLATE")]
    copy = one.template.clone(tid, uniq("copy"), False)
    one.template.delete(copy, False)
    one.fails(NO_EXISTS, "template.info", copy)
    # VMTemplatePool::allocate: "Invalid NAME, it cannot be empty" (INTERNAL)
    one.fails(INTERNAL, "template.allocate", "CPU=1")
    vid = one.template.instantiate(tid, "", False, "LABEL=z", False)
    vm = one.xml("vm.info", vid)
    assert vm.findtext("NAME") == f"{name}-{vid}"
    assert vm.findtext("TEMPLATE/TEMPLATE_ID") == str(tid)
    assert tmpl(vm, "LABEL", "USER_TEMPLATE") == "z"
    wait_state(one, vid, ACTIVE, RUNNING)
    vm = one.xml("vm.info", vid)
    assert vm.findtext("HISTORY_RECORDS/HISTORY/HID") == str(hid)
    assert vm.findtext("DEPLOY_ID")
    named = one.template.instantiate(tid, uniq("named"), True, "", False)
    assert state(one, named)[0] == HOLD
    for v in (vid, named):
        one.vm.action("terminate-hard", v)
    wait_state(one, vid, DONE)
    assert state(one, named)[0] == DONE


def test_bad_vm_templates_are_refused(one):
    # VirtualMachineAllocateAPI::pool_allocate answers what VirtualMachine::insert refuses
    # INTERNAL, with the bare reason
    one.fails(INTERNAL, "vm.allocate", "CPU=1", False)
    one.fails(INTERNAL, "vm.allocate", "CPU=1\nMEMORY=-5", False)
    one.fails(INTERNAL, "vm.allocate", "CPU=0\nMEMORY=64", False)
    msg = one.fails(INTERNAL, "vm.allocate", 'CPU=1\nMEMORY=64\nSCHED_REQUIREMENTS="ID = ("', False)
    assert "SCHED_REQUIREMENTS" in msg
    one.fails({ALLOCATE, RPC_API, INTERNAL}, "vm.allocate", "CPU=[", False)
    one.fails(NO_EXISTS, "vm.info", 999999)
    one.fails(NO_EXISTS, "template.instantiate", 999999, "", False, "", False)


def test_every_action_from_a_state_that_allows_it(one, hid):
    vid = small_vm(one, hid)
    wait_state(one, vid, ACTIVE, RUNNING)
    steps = [
        ("reboot", ACTIVE), ("reboot-hard", ACTIVE),
        ("poweroff", POWEROFF), ("resume", ACTIVE),
        ("poweroff-hard", POWEROFF), ("resume", ACTIVE),
        ("suspend", SUSPENDED), ("resume", ACTIVE),
        ("stop", STOPPED), ("resume", ACTIVE),
        ("suspend", SUSPENDED), ("stop", STOPPED), ("resume", ACTIVE),
        ("undeploy", UNDEPLOYED), ("resume", ACTIVE),
        ("undeploy-hard", UNDEPLOYED), ("resume", ACTIVE),
        ("resched", ACTIVE), ("unresched", ACTIVE),
    ]
    for action, st in steps:
        one.vm.action(action, vid)
        wait_state(one, vid, st, RUNNING if st == ACTIVE else None)
    actions = [int(h.findtext("ACTION")) for h in one.xml("vm.info", vid).findall("HISTORY_RECORDS/HISTORY")]
    assert 9 in actions and 5 in actions, f"stop and undeploy recorded: {actions}"
    one.vm.action("terminate", vid)
    wait_state(one, vid, DONE)
    one.vm.action("terminate", vid)  # DONE: a no-op, as oned does

    pending = small_vm(one, hid, hold=True)
    assert state(one, pending)[0] == HOLD
    one.vm.action("release", pending)
    wait_state(one, pending, ACTIVE, RUNNING)
    one.vm.action("terminate-hard", pending)
    wait_state(one, pending, DONE)


def test_wrong_states_and_unknown_actions(one, hid):
    vid = small_vm(one, hid, hold=True)
    for action in ("suspend", "stop", "poweroff", "reboot", "undeploy", "resume", "resched"):
        msg = one.fails(ACTION, "vm.action", action, vid)
        # VirtualMachineAPI::action + DispatchManagerActions.cc
        assert msg == (f'[one.vm.action] Error performing action "{action}": '
                       "This action is not available for state HOLD"), msg
    one.fails(ACTION, "vm.action", "explode", vid)
    one.vm.action("release", vid)
    wait_state(one, vid, ACTIVE, RUNNING)
    one.fails(ACTION, "vm.action", "hold", vid)
    one.fails(ACTION, "vm.action", "release", vid)
    one.fails(ACTION, "vm.deploy", vid, hid, False, -1)
    one.vm.action("terminate-hard", vid)
    wait_state(one, vid, DONE)
    one.fails(ACTION, "vm.action", "resume", vid)


def test_deploy_and_migrations(one, hid):
    other = host(one)
    vid = small_vm(one, hid, hold=True)
    one.vm.deploy(vid, other, False, -1)
    wait_state(one, vid, ACTIVE, RUNNING)
    assert one.vm.info(vid).HISTORY_RECORDS.HISTORY[-1].HID == other
    one.vm.migrate(vid, hid, True, False, -1, 0)
    wait_state(one, vid, ACTIVE, RUNNING)
    hist = one.vm.info(vid).HISTORY_RECORDS.HISTORY
    assert hist[-1].HID == hid and hist[-1].ACTION == 0 or hist[-1].HID == hid
    assert vid in [int(x.text) for x in one.xml("host.info", hid).findall("VMS/ID")]
    assert vid not in [int(x.text) for x in one.xml("host.info", other).findall("VMS/ID")]
    one.vm.migrate(vid, other, False, False, -1, 0)
    wait_state(one, vid, ACTIVE, RUNNING)
    assert one.vm.info(vid).HISTORY_RECORDS.HISTORY[-1].HID == other
    one.fails(ACTION, "vm.migrate", vid, other, False, False, -1, 0)
    one.fails(NO_EXISTS, "vm.migrate", vid, 999999, False, False, -1, 0)
    one.vm.action("terminate-hard", vid)
    wait_state(one, vid, DONE)
    share = one.host.info(other).HOST_SHARE
    assert vid not in [int(x.text) for x in one.xml("host.info", other).findall("VMS/ID")]
    assert share.RUNNING_VMS == 0 and share.CPU_USAGE == 0 and share.MEM_USAGE == 0


def test_failures_land_in_failure_states_and_recover(one):
    hid = host(one, SIM_DEPLOY="failure")
    vid = small_vm(one, hid)
    wait_state(one, vid, ACTIVE, BOOT_FAILURE)
    assert "DEPLOY" in tmpl(one.xml("vm.info", vid), "ERROR", "USER_TEMPLATE")
    one.fails(ACTION, "vm.action", "suspend", vid)
    one.host.update(hid, 'SIM_DEPLOY="success"', 1)
    one.vm.recover(vid, 2)  # retry
    wait_state(one, vid, ACTIVE, RUNNING)

    # An operation that never answers is settled by hand: recover success / failure.
    # (The simulated guest runs on, and monitoring would rightly bring a POWEROFF VM whose
    # guest runs back to RUNNING: the host is not monitored meanwhile.)
    one.host.update(hid, 'SIM_SHUTDOWN="-"\nSIM_MONITOR="failure"', 1)
    wait_for(lambda: one.host.info(hid).STATE == 3, what="host ERROR")
    one.vm.action("poweroff", vid)
    wait_state(one, vid, ACTIVE, SHUTDOWN_POWEROFF)
    one.vm.recover(vid, 1)
    wait_state(one, vid, POWEROFF)
    one.vm.action("resume", vid)
    wait_state(one, vid, ACTIVE, RUNNING)
    one.vm.action("poweroff", vid)
    wait_state(one, vid, ACTIVE, SHUTDOWN_POWEROFF)
    one.vm.recover(vid, 0)
    wait_state(one, vid, ACTIVE, RUNNING)
    one.host.update(hid, 'SIM_MONITOR="ok"', 1)
    wait_for(lambda: one.host.info(hid).STATE == 2, what="host MONITORED")

    one.host.update(hid, 'SIM_PROLOG="failure"', 1)
    second = small_vm(one, hid)
    wait_state(one, second, ACTIVE, PROLOG_FAILURE)
    one.vm.recover(second, 3)  # delete
    wait_state(one, second, DONE)
    one.fails(ACTION, "vm.recover", second, 2)
    one.fails(ACTION, "vm.recover", vid, 9)
    one.vm.recover(vid, 5)  # delete-db
    wait_state(one, vid, DONE)
    assert one.host.info(hid).HOST_SHARE.RUNNING_VMS == 0


def test_a_vm_that_fits_nowhere_waits_with_a_reason_and_is_placed_when_room_appears(one):
    big = host(one)
    vid = small_vm(one, big, extra='MEMORY="20000000"')
    wait_for(lambda: "SCHED_MESSAGE" in one.vm.info(vid).USER_TEMPLATE, what="SCHED_MESSAGE")
    assert one.vm.info(vid).STATE == PENDING
    assert "memory" in one.vm.info(vid).USER_TEMPLATE["SCHED_MESSAGE"]
    one.host.update(big, 'SIM_MEMORY="40000000000"', 1)
    wait_state(one, vid, ACTIVE, RUNNING)
    assert "SCHED_MESSAGE" not in one.vm.info(vid).USER_TEMPLATE
    one.vm.action("terminate-hard", vid)
    wait_state(one, vid, DONE)


def test_quotas_are_charged_and_released(one, make_user, hid):
    u = make_user()
    one.user.quota(u.id, "VM=[VMS=1, CPU=-2, MEMORY=-2, SYSTEM_DISK_SIZE=-2]")
    vid = small_vm(u.one, hid)
    vm_quota = one.xml("user.info", u.id).find("VM_QUOTA/VM")
    assert vm_quota.findtext("VMS_USED") == "1" and vm_quota.findtext("MEMORY_USED") == "128"
    u.one.fails(AUTHORIZATION, "vm.allocate", f'CPU=1\nMEMORY=64\nSCHED_REQUIREMENTS="ID = {hid}"', False)
    wait_state(one, vid, ACTIVE, RUNNING)
    u.one.vm.action("terminate-hard", vid)
    wait_state(one, vid, DONE)
    vm_quota = one.xml("user.info", u.id).find("VM_QUOTA/VM")
    assert vm_quota.findtext("VMS_USED") == "0" and vm_quota.findtext("RUNNING_VMS_USED") == "0"


def test_rights(one, make_user, hid):
    alice, bob = make_user(), make_user()
    vid = small_vm(alice.one, hid, hold=True)
    bob.one.fails(AUTHORIZATION, "vm.action", "release", vid)
    bob.one.fails(AUTHORIZATION, "vm.info", vid)
    alice.one.fails(AUTHORIZATION, "vm.deploy", vid, hid, False, -1)
    alice.one.fails(AUTHORIZATION, "vm.recover", vid, 3)
    assert vid in [v.ID for v in alice.one.vmpool.info(-3, -1, -1, -1).VM]
    assert vid not in [v.ID for v in bob.one.vmpool.info(-1, -1, -1, -1).VM]
    alice.one.vm.action("terminate", vid)
    assert state(one, vid)[0] == DONE


def test_pool_state_filters_and_forms(one, hid):
    held = small_vm(one, hid, hold=True)
    done = small_vm(one, hid, hold=True)
    one.vm.action("terminate", done)
    def listed(st):
        return [int(v.findtext("ID")) for v in one.xml("vmpool.info", -2, -1, -1, st).findall("VM")]
    assert held in listed(-1) and done not in listed(-1)
    assert held in listed(-2) and done in listed(-2)
    assert listed(HOLD).count(held) == 1 and done not in listed(HOLD)
    assert done in listed(DONE)
    one.fails(RPC_API, "vmpool.info", -2, -1, -1, 77)
    ext = one.xml("vmpool.infoextended", -2, held, held, -1)
    assert [int(v.findtext("ID")) for v in ext.findall("VM")] == [held]
    assert ext.find("VM/PERMISSIONS") is not None
    short = one.xml("vmpool.info", -2, held, held, -1)
    assert short.find("VM/PERMISSIONS") is None
    s = one.xml("vmpool.infoset", f"{held},{done}", False)
    assert sorted(int(v.findtext("ID")) for v in s.findall("VM")) == sorted([held, done])
    one.vm.action("terminate", held)
