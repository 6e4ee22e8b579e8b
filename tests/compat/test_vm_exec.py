"""OpenNebula 7.4's guest command execution, `one.vm.exec`, `one.vm.retryexec` and
`one.vm.cancelexec`, on simulated hosts (DispatchManager::exec / exec_cancel; the dummy
driver answers as oned's dummy probe does, "Execution finished for VM N"): the command
and its base64 input are recorded in the VM's QEMU_GA_EXEC, the VM passes through
HOTPLUG back to RUNNING with STATUS=EXECUTING, and the result the host reports is merged
with STATUS=DONE, RETURN_CODE, base64 STDOUT and STDERR. Refusals carry oned's words.
Real commands in containers are tested in test_lxc.py.
"""

import base64

from onehelpers import ACTION, wait_for
from test_vm import ACTIVE, POWEROFF, RUNNING, host, small_vm, wait_state

import pytest


@pytest.fixture(scope="module")
def hid(nubod):
    return host(nubod.admin())


def exec_info(one, vid):
    vm = one.xml("vm.info", vid)
    e = vm.find("TEMPLATE/QEMU_GA_EXEC")
    return {c.tag: (c.text or "") for c in e} if e is not None else {}


def running(one, hid):
    vid = small_vm(one, hid)
    wait_state(one, vid, ACTIVE, RUNNING)
    return vid


def test_exec_records_the_command_and_the_result(one, hid):
    vid = running(one, hid)
    stdin = base64.b64encode(b"some input").decode()
    assert one.vm.exec(vid, "cat /etc/os-release", stdin) == vid
    wait_for(lambda: exec_info(one, vid).get("STATUS") == "DONE", what="the command's result")
    e = exec_info(one, vid)
    assert e["COMMAND"] == "cat /etc/os-release" and e["STDIN"] == stdin
    assert e["RETURN_CODE"] == "0"
    assert base64.b64decode(e["STDOUT"]) == f"Execution finished for VM {vid}".encode()
    # The XSD lists QEMU_GA_EXEC's fields in this order.
    vm = one.xml("vm.info", vid)
    tags = [c.tag for c in vm.find("TEMPLATE/QEMU_GA_EXEC")]
    assert tags == sorted(tags)
    # The history records the exec (HISTORY ACTION 61).
    actions = [h.findtext("ACTION") for h in vm.findall("HISTORY_RECORDS/HISTORY")]
    assert "61" in actions
    # retryexec runs the recorded command again.
    assert one.vm.retryexec(vid) == vid
    wait_for(lambda: exec_info(one, vid).get("STATUS") == "DONE", what="the retried command")
    assert exec_info(one, vid)["COMMAND"] == "cat /etc/os-release"


def test_exec_refusals_carry_oneds_words(one, hid):
    vid = running(one, hid)
    msg = one.fails(ACTION, "vm.cancelexec", vid)
    assert "Could not cancel command, there is no command being executed" in msg
    msg = one.fails(ACTION, "vm.exec", vid, "true", "not base64!")
    assert "base64" in msg
    one.vm.action("poweroff", vid)
    wait_state(one, vid, POWEROFF)
    msg = one.fails(ACTION, "vm.exec", vid, "true", "")
    assert "Could not execute command, VM must be in running" in msg
    msg = one.fails(ACTION, "vm.cancelexec", vid)
    assert "Could not cancel command, VM must be in running" in msg
    msg = one.fails(ACTION, "vm.retryexec", vid)
    assert "Could not execute command, VM must be in running" in msg


def test_a_vm_starting_a_command_takes_no_other(one, hid):
    # The dummy host takes 2 s to start the command: the VM waits in HOTPLUG meanwhile.
    slow = host(one, SIM_EXEC="success 2")
    vid = running(one, slow)
    one.vm.exec(vid, "sleep 100", "")
    wait_for(lambda: one.vm.info(vid).LCM_STATE == 17, what="HOTPLUG while the host starts it")
    msg = one.fails(ACTION, "vm.exec", vid, "true", "")
    assert "Could not execute command, VM must be in running" in msg
    wait_for(lambda: exec_info(one, vid).get("STATUS") in ("EXECUTING", "DONE"), timeout=10,
             what="the command started")
