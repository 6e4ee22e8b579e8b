"""Scheduled actions that run at their time, monitoring samples of hosts and VMs,
accounting and showback."""

import time

import pytest

from onehelpers import ACTION, AUTHORIZATION, wait_for, uniq
from test_vm import ACTIVE, DONE, HOLD, POWEROFF, RUNNING, host, wait_state
from test_vm_changes import running_vm, settled
from test_vm_resources import terminate


@pytest.fixture(scope="module")
def hid(nubod):
    return host(nubod.admin())


def sched(vm):
    return {int(s.findtext("ID")): s for s in vm.findall("TEMPLATE/SCHED_ACTION")}


def test_scheduled_actions_run_at_their_time(one, hid):
    vid = running_vm(one, hid)
    sa = one.vm.schedadd(vid, f'SCHED_ACTION=[ACTION="poweroff", TIME="{int(time.time()) + 2}"]')
    later = one.vm.schedadd(vid, 'SCHED_ACTION=[ACTION="resume", TIME="+999999"]')
    vm = one.xml("vm.info", vid)
    assert sorted(sched(vm)) == sorted([sa, later])
    assert [int(x.text) for x in vm.findall("SCHED_ACTIONS/ID")] == sorted([sa, later])
    assert sched(vm)[sa].findtext("DONE") == "-1"
    wait_state(one, vid, POWEROFF, timeout=15)
    done = int(sched(one.xml("vm.info", vid))[sa].findtext("DONE"))
    assert done > 0
    # Move the resume to now: it runs, and a delete removes what is left.
    one.vm.schedupdate(vid, later, f'SCHED_ACTION=[TIME="{int(time.time())}"]')
    wait_state(one, vid, ACTIVE, RUNNING, timeout=15)
    one.vm.scheddelete(vid, later)
    assert later not in sched(one.xml("vm.info", vid))
    one.fails(ACTION, "vm.scheddelete", vid, later)
    one.fails(ACTION, "vm.schedadd", vid, 'SCHED_ACTION=[ACTION="explode", TIME="+1"]')
    one.fails(ACTION, "vm.schedadd", vid, 'SCHED_ACTION=[ACTION="hold"]')
    terminate(one, vid)


def test_failed_scheduled_action_records_why(one, hid):
    vid = one.vm.allocate('CPU="0.1"\nMEMORY="64"\nSCHED_ACTION=[ACTION="suspend", TIME="+1"]', True)
    wait_for(lambda: sched(one.xml("vm.info", vid))[0].findtext("MESSAGE"),
             what="the failed action's MESSAGE")
    msg = sched(one.xml("vm.info", vid))[0].findtext("MESSAGE")
    assert "This action is not available for state HOLD" in msg, msg
    assert one.vm.info(vid).STATE == HOLD
    one.vm.action("terminate", vid)


def test_repeating_action_runs_again(one, hid):
    vid = one.vm.allocate('CPU="0.1"\nMEMORY="64"', True)
    now = int(time.time())
    # Hourly: after running once, TIME moves an hour on and END_VALUE counts down.
    sa = one.vm.schedadd(vid, f'SCHED_ACTION=[ACTION="release", TIME="{now}", REPEAT="3", DAYS="1", END_TYPE="1", END_VALUE="3"]')
    wait_for(lambda: int(sched(one.xml("vm.info", vid))[sa].findtext("DONE")) > 0, what="ran")
    s = sched(one.xml("vm.info", vid))[sa]
    assert int(s.findtext("TIME")) == now + 3600 and s.findtext("END_VALUE") == "2"
    assert one.vm.info(vid).STATE != HOLD
    terminate(one, vid)


def test_monitoring_of_hosts_and_vms(one, hid):
    vid = running_vm(one, hid)
    wait_for(lambda: len(one.xml("vm.monitoring", vid).findall("MONITORING")) >= 2,
             timeout=15, what="two VM samples")
    samples = one.xml("vm.monitoring", vid).findall("MONITORING")
    assert all(s.findtext("ID") == str(vid) for s in samples)
    assert int(samples[-1].findtext("TIMESTAMP")) >= int(samples[0].findtext("TIMESTAMP"))
    latest = one.xml("vm.info", vid).find("MONITORING")
    assert int(latest.findtext("TIMESTAMP")) >= int(samples[-1].findtext("TIMESTAMP"))
    assert latest.findtext("MEMORY") is not None
    pool = one.xml("vmpool.monitoring", -2, 0)
    assert str(vid) in [m.findtext("ID") for m in pool.findall("MONITORING")]
    hm = one.xml("host.monitoring", hid).findall("MONITORING")
    assert hm and hm[-1].findtext("ID") == str(hid)
    assert int(hm[-1].findtext("CAPACITY/FREE_CPU")) >= 0
    latest = one.xml("hostpool.monitoring", 0).findall("MONITORING")
    assert str(hid) in [m.findtext("ID") for m in latest]
    terminate(one, vid)


def test_accounting_and_showback(one, hid, make_user):
    start = int(time.time()) - 1
    vid = running_vm(one, hid, 'CPU_COST="2"\nMEMORY_COST="0.5"')
    time.sleep(1.2)
    terminate(one, vid)
    acct = one.xml("vmpool.accounting", -2, start, -1)
    mine = [h for h in acct.findall("HISTORY") if h.findtext("OID") == str(vid)]
    assert len(mine) == 1 and mine[0].findtext("VM/ID") == str(vid)
    assert int(mine[0].findtext("ETIME")) >= int(mine[0].findtext("STIME")) > 0
    assert not [h for h in one.xml("vmpool.accounting", -2, 0, start - 100).findall("HISTORY")
                if h.findtext("OID") == str(vid)]
    u = make_user()
    assert not u.one.xml("vmpool.accounting", -1, -1, -1).findall("HISTORY"), "others' VMs hidden"
    t = time.gmtime()
    show = one.xml("vmpool.showback", -2, t.tm_mon, t.tm_year, t.tm_mon, t.tm_year)
    rec = [r for r in show.findall("SHOWBACK") if r.findtext("VMID") == str(vid)]
    assert len(rec) == 1
    hours = float(rec[0].findtext("HOURS"))
    assert hours > 0
    assert float(rec[0].findtext("CPU_COST")) == pytest.approx(2 * 0.5 * hours, rel=1e-3)
    assert float(rec[0].findtext("MEMORY_COST")) == pytest.approx(0.5 * 128 * hours, rel=1e-3)
    one.call("vmpool.calculateshowback", t.tm_mon, t.tm_year, t.tm_mon, t.tm_year)
    u.one.fails(AUTHORIZATION, "vmpool.calculateshowback", 1, 2026, 2, 2026)
