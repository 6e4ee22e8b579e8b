"""Numbers that corrupted accounting (issue 12 I): CPU, VCPU and MEMORY that are not
finite, exact (CPU in steps of 0.01) and bounded are refused by vm.allocate and vm.resize,
for oneadmin and for a user whose quotas are enforced, with nothing changed; a CPU quota
of 0.3 takes exactly three VMs of 0.1 CPU."""

import pytest

from onehelpers import ACTION, AUTHORIZATION, INTERNAL, uniq
from test_vm import ACTIVE, RUNNING, host, wait_state
from test_vm_resources import terminate

HUGE = 'CPU="1e308" MEMORY="18446744073709551615" VCPU="4294967296"'


@pytest.fixture(scope="module")
def hid(nubod):
    return host(nubod.admin())


def share(one, hid):
    s = one.xml("host.info", hid).find("HOST_SHARE")
    return {k: int(s.findtext(k)) for k in ("CPU_USAGE", "MEM_USAGE", "RUNNING_VMS")}


def sizes(one, vid):
    vm = one.xml("vm.info", vid)
    return tuple(vm.findtext(f"TEMPLATE/{k}") for k in ("CPU", "VCPU", "MEMORY"))


def vm_quota(one, uid):
    q = one.xml("user.info", uid).find("VM_QUOTA/VM")
    return {} if q is None else {e.tag: e.text for e in q}


def test_oneadmin_resize_with_huge_values_is_refused(one, hid):
    vid = one.vm.allocate(f'NAME="{uniq("n")}"\nCPU="0.5"\nVCPU="1"\nMEMORY="128"\n'
                          f'SCHED_REQUIREMENTS="ID = {hid}"', False)
    wait_state(one, vid, ACTIVE, RUNNING)
    before = share(one, hid)
    for text in (HUGE, 'CPU="1e308"', 'MEMORY="18446744073709551615"', 'VCPU="4294967296"',
                 'CPU="1e-320"', 'CPU="NaN"', 'CPU="inf"', 'CPU="-1"', 'CPU="0.001"'):
        for enforce in (False, True):
            one.fails(ACTION, "vm.resize", vid, text, enforce)
        assert sizes(one, vid) == ("0.5", "1", "128"), text
        assert share(one, hid) == before, text
    assert all(v >= 0 for v in share(one, hid).values())
    message = one.fails(ACTION, "vm.resize", vid, HUGE, False)
    assert "CPU must be a plain decimal number" in message
    terminate(one, vid)


def test_a_user_cannot_zero_his_cpu_usage(make_user):
    u = make_user()
    for cpu, vcpu, memory in (("1e-320", "1", "64"), ("NaN", "1", "64"), ("inf", "1", "64"),
                              ("-1", "1", "64"), ("0.001", "1", "64"), ("0", "1", "64"),
                              ("1", "4294967296", "64"), ("1", "1", "18446744073709551615")):
        u.one.fails(INTERNAL, "vm.allocate",
                    f'NAME="{uniq("n")}"\nCPU="{cpu}"\nVCPU="{vcpu}"\nMEMORY="{memory}"', True)
    assert vm_quota(u.one, u.id).get("CPU_USED", "0") == "0"
    vid = u.one.vm.allocate(f'NAME="{uniq("n")}"\nCPU="0.5"\nVCPU="1"\nMEMORY="64"', True)
    assert vm_quota(u.one, u.id)["CPU_USED"] == "0.5"
    for text in ('VCPU="4294967296"', 'CPU="1e-320"', 'CPU="1e-320" VCPU="4294967296"', HUGE):
        u.one.fails(ACTION, "vm.resize", vid, text, False)
        q = vm_quota(u.one, u.id)
        assert (q["CPU_USED"], q["MEMORY_USED"]) == ("0.5", "64"), text
        assert sizes(u.one, vid) == ("0.5", "1", "64"), text
    u.one.vm.action("terminate", vid)
    assert vm_quota(u.one, u.id)["CPU_USED"] == "0"


def test_a_cpu_quota_of_0_3_takes_exactly_three_vms_of_0_1(one, make_user):
    u = make_user()
    one.user.quota(u.id, 'VM=[CPU="0.3"]')
    tenth = lambda: f'NAME="{uniq("n")}"\nCPU="0.1"\nMEMORY="16"'
    vids = [u.one.vm.allocate(tenth(), True) for _ in range(3)]
    q = vm_quota(one, u.id)
    assert (q["CPU"], q["CPU_USED"]) == ("0.3", "0.3")
    message = u.one.fails(AUTHORIZATION, "vm.allocate", tenth(), True)
    assert "limit of 0.3 reached for CPU" in message
    u.one.fails(AUTHORIZATION, "vm.allocate", f'NAME="{uniq("n")}"\nCPU="0.01"\nMEMORY="16"', True)
    for vid in vids:
        u.one.vm.action("terminate", vid)
    assert vm_quota(one, u.id)["CPU_USED"] == "0"
