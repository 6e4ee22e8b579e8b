"""The scheduler's host policy, chosen when nubod starts (`--sched-policy` or
`[runtime] sched_policy`): packing fills one host first, striping (the default, which the
other suites use) spreads; a VM's SCHED_RANK overrides either."""

import pytest

from onehelpers import Nubod, uniq
from test_vm import ACTIVE, RUNNING, host, wait_state


@pytest.fixture(scope="module")
def packing():
    d = Nubod(extra_args=["--sched-policy", "packing"]).start()
    yield d
    d.stop()


def placed(one, hids, extra=""):
    req = " | ".join(f"ID = {h}" for h in hids)
    vid = one.vm.allocate(f'NAME="{uniq("vm")}"\nCPU="0.1"\nMEMORY="64"\nSCHED_REQUIREMENTS="{req}"\n{extra}', False)
    wait_state(one, vid, ACTIVE, RUNNING)
    return int(one.xml("vm.info", vid).findtext("HISTORY_RECORDS/HISTORY/HID"))


def test_packing_fills_one_host_and_rank_overrides_it(packing):
    one = packing.admin()
    hids = [host(one), host(one), host(one)]
    first = placed(one, hids)
    assert [placed(one, hids) for _ in range(3)] == [first] * 3
    # SCHED_RANK of the VM wins over the policy: spread by fewest running VMs.
    assert placed(one, hids, 'SCHED_RANK="-RUNNING_VMS"') != first


def test_striping_spreads(one):
    hids = [host(one), host(one)]
    assert len({placed(one, hids), placed(one, hids)}) == 2


def test_an_unknown_policy_stops_nubod_with_a_message():
    d = Nubod(extra_args=["--sched-policy", "random"])
    with pytest.raises(pytest.fail.Exception) as e:
        d.start(ready_timeout=10)
    assert "sched_policy" in str(e.value)
