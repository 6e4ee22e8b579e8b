"""Quotas as OpenNebula 7.4 counts them: default quotas (left-out metrics unlimited, -1
refused), running quotas held from allocation by PENDING and HOLD VMs (so a VM over the
limit is refused at once), released and asked for again by poweroff, stop, undeploy,
suspend and resume, nothing leaked by placements, and the same usage after a restart."""

import json
import shutil
import sqlite3
import subprocess
import time

import pytest

from onehelpers import ACTION, AUTHORIZATION, uniq, wait_for
from test_vm import (ACTIVE, DONE, HOLD, PENDING, POWEROFF, RUNNING, STOPPED, SUSPENDED,
                     UNDEPLOYED, host, wait_state)

VM_METRICS = ["CPU", "MEMORY", "PCI_DEV", "PCI_NIC", "RUNNING_CPU", "RUNNING_MEMORY",
              "RUNNING_PCI_DEV", "RUNNING_PCI_NIC", "RUNNING_VMS", "SYSTEM_DISK_SIZE", "VMS"]


@pytest.fixture(scope="module")
def hid(nubod):
    return host(nubod.admin())


def vm_text(hid, cpu="0.5", memory=128):
    return (f'NAME="{uniq("q")}"\nCPU="{cpu}"\nMEMORY="{memory}"\n'
            f'SCHED_REQUIREMENTS="ID = {hid}"')


def usage(one, uid, tag="user"):
    q = one.xml(f"{tag}.info", uid).find("VM_QUOTA/VM")
    if q is None:
        return {}
    return {m: float(q.findtext(m + "_USED")) for m in ("VMS", "RUNNING_VMS", "RUNNING_CPU",
                                                         "RUNNING_MEMORY")}


def running(one, uid, tag="user"):
    return usage(one, uid, tag).get("RUNNING_VMS", 0.0)


# ---------------------------------------------------------------- default quotas

@pytest.mark.parametrize("tag", ["userquota", "groupquota"])
def test_default_quota_left_out_metrics_are_unlimited(one, tag):
    out = one.xml(f"{tag}.update", "VM=[VMS=5, CPU=2.5]")
    try:
        vm = one.xml(f"{tag}.info").find("VM_QUOTA/VM")
        got = {m: vm.findtext(m) for m in VM_METRICS}
        assert got["VMS"] == "5" and got["CPU"] == "2.5", got
        assert all(got[m] == "-2" for m in VM_METRICS if m not in ("VMS", "CPU")), got
        assert out.findtext("VM_QUOTA/VM/VMS") == "5" and out.findtext("VM_QUOTA/VM/MEMORY") == "-2"
        # a second update sets every metric again: CPU, left out now, is unlimited
        getattr(one, tag).update("VM=[VMS=4]")
        vm = one.xml(f"{tag}.info").find("VM_QUOTA/VM")
        assert vm.findtext("VMS") == "4" and vm.findtext("CPU") == "-2"
        # datastore defaults: SIZE left out is unlimited
        getattr(one, tag).update("DATASTORE=[ID=1, IMAGES=3]")
        ds = one.xml(f"{tag}.info").find("DATASTORE_QUOTA/DATASTORE")
        assert ds.findtext("IMAGES") == "3" and ds.findtext("SIZE") == "-2"
    finally:
        getattr(one, tag).update("VM=[VMS=-2]")
        getattr(one, tag).update("DATASTORE=[ID=1, IMAGES=-2]")
    # all unlimited: the entries are gone, as oned drops them
    assert one.xml(f"{tag}.info").find("VM_QUOTA/VM") is None
    assert one.xml(f"{tag}.info").find("DATASTORE_QUOTA/DATASTORE") is None


@pytest.mark.parametrize("tag", ["userquota", "groupquota"])
def test_default_quota_refuses_minus_one(one, tag):
    msg = one.fails(ACTION, f"{tag}.update", "VM=[VMS=-1, CPU=2]")
    assert "Negative limits or bad format in quota VM = [ CPU=2,VMS=-1 ]" in msg, msg
    msg = one.fails(ACTION, f"{tag}.update", "DATASTORE=[ID=1, SIZE=-1]")
    assert "Negative limits or bad format in quota DATASTORE = [ ID=1,SIZE=-1 ]" in msg, msg
    msg = one.fails(ACTION, f"{tag}.update", "VM=[VMS=1]\nVM=[CPU=1]")
    assert "Only one default VM quota can be defined" in msg, msg
    msg = one.fails(ACTION, f"{tag}.update", "VM=[VMS=1, CLUSTER_IDS=0]")
    assert "CLUSTER_IDS attribute is not allowed for default VM quota" in msg, msg
    assert one.xml(f"{tag}.info").find("VM_QUOTA/VM") is None, "nothing was set"



@pytest.mark.parametrize("tag", ["user", "group"])
def test_quota_bad_limits_refused_as_oned(one, make_user, tag):
    """oned's Quota::set: a negative limit other than -1 (default) and -2 (unlimited), or a
    missing or malformed ID, is ACTION 'Negative limits or bad format in quota ...' with
    the vector as given, and nothing is set."""
    oid = make_user().id if tag == "user" else one.group.allocate(uniq("qb"))
    msg = one.fails(ACTION, f"{tag}.quota", oid, "VM=[VMS=-5, CPU=2]")
    assert "Negative limits or bad format in quota VM = [ CPU=2,VMS=-5 ]" in msg, msg
    msg = one.fails(ACTION, f"{tag}.quota", oid, "DATASTORE=[ID=1, SIZE=-3]")
    assert "Negative limits or bad format in quota DATASTORE = [ ID=1,SIZE=-3 ]" in msg, msg
    msg = one.fails(ACTION, f"{tag}.quota", oid, "NETWORK=[LEASES=3]")
    assert "Negative limits or bad format in quota NETWORK = [ LEASES=3 ]" in msg, msg
    msg = one.fails(ACTION, f"{tag}.quota", oid, "IMAGE=[ID=x, RVMS=3]")
    assert "Negative limits or bad format in quota IMAGE = [ ID=x,RVMS=3 ]" in msg, msg
    info = one.xml(f"{tag}.info", oid)
    assert info.find("VM_QUOTA/VM") is None and info.find("DATASTORE_QUOTA/DATASTORE") is None
    # -1 and -2 are the default and unlimited, both allowed
    getattr(one, tag).quota(oid, "VM=[VMS=-2, CPU=-1, MEMORY=512]")
    vm = one.xml(f"{tag}.info", oid).find("VM_QUOTA/VM")
    assert (vm.findtext("VMS"), vm.findtext("CPU"), vm.findtext("MEMORY")) == ("-2", "-1", "512")


@pytest.mark.parametrize("tag", ["userquota", "groupquota"])
def test_default_quota_bad_limits_refused_as_oned(one, tag):
    msg = one.fails(ACTION, f"{tag}.update", "VM=[VMS=-5]")
    assert "Negative limits or bad format in quota VM = [ VMS=-5 ]" in msg, msg
    msg = one.fails(ACTION, f"{tag}.update", "NETWORK=[ID=0, LEASES=-7]")
    assert "Negative limits or bad format in quota NETWORK = [ ID=0,LEASES=-7 ]" in msg, msg
    assert one.xml(f"{tag}.info").find("VM_QUOTA/VM") is None, "nothing was set"


def test_default_running_quota_applies_to_users(one, make_user, hid):
    u = make_user()
    one.userquota.update("VM=[RUNNING_VMS=1]")
    try:
        u.one.vm.allocate(vm_text(hid), True)
        msg = u.one.fails(AUTHORIZATION, "vm.allocate", vm_text(hid), True)
        assert "RUNNING_VMS" in msg, msg
    finally:
        one.userquota.update("VM=[RUNNING_VMS=-2]")


@pytest.mark.parametrize("tag", ["user", "group"])
def test_quota_update_sets_every_limit(one, make_user, tag):
    """As oned's Quota::set: a vector sets every limit of its entry, a metric left out is
    -1 (the default quota), and an entry left with only defaults and no usage is gone."""
    oid = make_user().id if tag == "user" else one.group.allocate(uniq("qs"))
    getattr(one, tag).quota(oid, "VM=[VMS=2, CPU=3]")
    getattr(one, tag).quota(oid, "VM=[CPU=4]")
    vm = one.xml(f"{tag}.info", oid).find("VM_QUOTA/VM")
    assert vm.findtext("CPU") == "4" and vm.findtext("VMS") == "-1", vm.findtext("VMS")
    getattr(one, tag).quota(oid, "VM=[CPU=-1]")
    assert one.xml(f"{tag}.info", oid).find("VM_QUOTA/VM") is None


# ---------------------------------------------------------------- running quotas

def test_pending_and_hold_vms_hold_running_quota(one, make_user):
    u = make_user()
    one.user.quota(u.id, "VM=[RUNNING_VMS=2]")
    held = u.one.vm.allocate(vm_text(999999, "0.25", 64), True)
    assert one.vm.info(held).STATE == HOLD
    assert usage(one, u.id) == {"VMS": 1, "RUNNING_VMS": 1, "RUNNING_CPU": 0.25,
                                "RUNNING_MEMORY": 64}
    waiting = u.one.vm.allocate(vm_text(999999, "0.5", 128), False)
    assert one.vm.info(waiting).STATE == PENDING
    assert usage(one, u.id)["RUNNING_VMS"] == 2 and usage(one, u.id)["RUNNING_CPU"] == 0.75
    # the third is refused at once, by the user's limit, naming it
    msg = u.one.fails(AUTHORIZATION, "vm.allocate", vm_text(999999), False)
    assert msg == (f"[one.vm.allocate] User [{u.id}] : user [{u.id}] limit of 2 reached "
                   "for RUNNING_VMS quota in VM."), msg
    # so is an instantiate
    tid = one.template.allocate(vm_text(999999))
    one.template.chmod(tid, -1, -1, -1, -1, 1, -1, -1, -1, -1)
    u.one.fails(AUTHORIZATION, "template.instantiate", tid, "", False, "", False)
    assert usage(one, u.id)["RUNNING_VMS"] == 2 and usage(one, u.id)["VMS"] == 2
    # release keeps it (HOLD -> PENDING), terminate gives it back
    u.one.vm.action("release", held)
    assert running(one, u.id) == 2
    for vid in (held, waiting):
        u.one.vm.action("terminate-hard", vid)
        wait_state(one, vid, DONE)
    assert usage(one, u.id) == {"VMS": 0, "RUNNING_VMS": 0, "RUNNING_CPU": 0, "RUNNING_MEMORY": 0}
    one.template.delete(tid, False)


def test_group_running_quota_refuses_without_leaking_user_usage(one, make_user, hid):
    gid = one.group.allocate(uniq("qg"))
    u = make_user(groups=[gid])
    one.group.quota(gid, "VM=[RUNNING_VMS=1]")
    one.user.quota(u.id, "VM=[RUNNING_VMS=5]")
    vid = u.one.vm.allocate(vm_text(hid), False)
    wait_state(one, vid, ACTIVE, RUNNING)
    msg = u.one.fails(AUTHORIZATION, "vm.allocate", vm_text(hid), False)
    assert msg == (f"[one.vm.allocate] User [{u.id}] : group [{gid}] limit of 1 reached "
                   "for RUNNING_VMS quota in VM."), msg
    assert running(one, u.id) == 1 and running(one, gid, "group") == 1
    u.one.vm.action("terminate-hard", vid)
    wait_state(one, vid, DONE)
    assert running(one, u.id) == 0 and running(one, gid, "group") == 0


def test_scheduler_rounds_leak_nothing(one, make_user, hid):
    """The reported leak: a user under its limit in a group at its limit. A VM released
    from HOLD is placed (a release asks no quota; the VM holds its running quota since
    allocation), and over many scheduler rounds the usage of user and group stays exactly
    the number of their VMs, as does that of a VM that fits on no host."""
    gid = one.group.allocate(uniq("lg"))
    u = make_user(groups=[gid])
    one.group.quota(gid, "VM=[RUNNING_VMS=3]")
    one.user.quota(u.id, "VM=[RUNNING_VMS=5]")
    placed = u.one.vm.allocate(vm_text(hid), False)
    wait_state(one, placed, ACTIVE, RUNNING)
    held = u.one.vm.allocate(vm_text(hid), True)
    stuck = u.one.vm.allocate(vm_text(hid, memory=64 * 1024 * 1024), False)
    assert running(one, u.id) == 3 and running(one, gid, "group") == 3
    one.group.quota(gid, "VM=[RUNNING_VMS=1]")
    u.one.vm.action("release", held)
    wait_state(one, held, ACTIVE, RUNNING)
    seen = set()
    for _ in range(12):
        seen.add((running(one, u.id), running(one, gid, "group")))
        time.sleep(0.5)
    assert seen == {(3, 3)}, seen
    assert one.vm.info(stuck).STATE == PENDING
    for vid in (placed, held, stuck):
        u.one.vm.action("terminate-hard", vid)
        wait_state(one, vid, DONE)
    assert running(one, u.id) == 0 and running(one, gid, "group") == 0


@pytest.mark.parametrize("action,settled", [
    ("poweroff-hard", (POWEROFF, None)),
    ("stop", (STOPPED, None)),
    ("undeploy-hard", (UNDEPLOYED, None)),
    ("suspend", (SUSPENDED, None)),
])
def test_leaving_releases_and_resume_asks_again(one, make_user, hid, action, settled):
    u = make_user()
    one.user.quota(u.id, "VM=[RUNNING_VMS=1]")
    vid = u.one.vm.allocate(vm_text(hid), False)
    wait_state(one, vid, ACTIVE, RUNNING)
    assert running(one, u.id) == 1
    u.one.vm.action(action, vid)
    wait_state(one, vid, *settled)
    q = usage(one, u.id)
    assert q["RUNNING_VMS"] == 0 and q["RUNNING_CPU"] == 0 and q["VMS"] == 1, q
    # another VM takes the running quota; the resume is refused (ACTION, the quota's words)
    other = u.one.vm.allocate(vm_text(999999), True)
    msg = u.one.fails(ACTION, "vm.action", "resume", vid)
    assert msg == f"[one.vm.action] user [{u.id}] limit of 1 reached for RUNNING_VMS quota in VM", msg
    assert one.vm.info(vid).STATE == settled[0] and running(one, u.id) == 1
    u.one.vm.action("terminate-hard", other)
    wait_state(one, other, DONE)
    u.one.vm.action("resume", vid)
    assert running(one, u.id) == 1
    wait_state(one, vid, ACTIVE, RUNNING)
    assert running(one, u.id) == 1
    # terminate from the powered-off state takes nothing it does not give back
    u.one.vm.action("poweroff-hard", vid)
    wait_state(one, vid, POWEROFF)
    u.one.vm.action("terminate-hard", vid)
    wait_state(one, vid, DONE)
    assert usage(one, u.id) == {"VMS": 0, "RUNNING_VMS": 0, "RUNNING_CPU": 0, "RUNNING_MEMORY": 0}


@pytest.mark.parametrize("action,settled", [("stop", STOPPED), ("undeploy-hard", UNDEPLOYED)])
def test_deploy_of_a_stopped_vm_asks_for_running_quota(one, make_user, hid, action, settled):
    u = make_user()
    one.user.quota(u.id, "VM=[RUNNING_VMS=1]")
    vid = u.one.vm.allocate(vm_text(hid), False)
    wait_state(one, vid, ACTIVE, RUNNING)
    u.one.vm.action(action, vid)
    wait_state(one, vid, settled)
    other = u.one.vm.allocate(vm_text(999999), True)
    msg = one.fails(AUTHORIZATION, "vm.deploy", vid, hid, False, -1)
    # the caller (oneadmin) in failure_message's prefix, the VM's owner in the reason
    assert msg == (f"[one.vm.deploy] User [0] : user [{u.id}] limit of 1 reached "
                   "for RUNNING_VMS quota in VM."), msg
    assert one.vm.info(vid).STATE == settled and running(one, u.id) == 1
    u.one.vm.action("terminate-hard", other)
    wait_state(one, other, DONE)
    one.vm.deploy(vid, hid, False, -1)
    wait_state(one, vid, ACTIVE, RUNNING)
    assert running(one, u.id) == 1
    u.one.vm.action("terminate-hard", vid)
    wait_state(one, vid, DONE)
    assert running(one, u.id) == 0


# ---------------------------------------------------------------- restart

def test_usage_is_the_same_after_a_restart(fresh_nubod):
    one = fresh_nubod.admin()
    hid = host(one)
    uid = one.user.allocate(uniq("r"), "pw", "core")
    one.user.quota(uid, "VM=[RUNNING_VMS=3]")
    one.user.chgrp(uid, 1)
    placed = one.vm.allocate(vm_text(hid), False)
    one.vm.chown(placed, uid, -1)
    held = one.vm.allocate(vm_text(999999), True)
    one.vm.chown(held, uid, -1)
    wait_state(one, placed, ACTIVE, RUNNING)
    off = one.vm.allocate(vm_text(hid), False)
    one.vm.chown(off, uid, -1)
    wait_state(one, off, ACTIVE, RUNNING)
    one.vm.action("poweroff-hard", off)
    wait_state(one, off, POWEROFF)
    before = usage(one, uid)
    assert before["RUNNING_VMS"] == 2 and before["VMS"] == 3, before
    fresh_nubod.kill()
    fresh_nubod.restart()
    one = fresh_nubod.admin()
    wait_for(lambda: one.vm.info(placed).LCM_STATE == RUNNING, what="VM running again")
    assert usage(one, uid) == before
    one.vm.action("resume", off)
    wait_state(one, off, ACTIVE, RUNNING)
    assert usage(one, uid)["RUNNING_VMS"] == 3


def _user_body(d, uid, new_body=None):
    """Reads (or, with new_body, writes) a user's stored JSON body while nubod is down."""
    if d.db is not None:
        psql = shutil.which("psql")
        if new_body is None:
            out = subprocess.run([psql, d.db.url, "-At", "-c",
                                  f"SELECT body FROM user_pool WHERE oid = {uid}"],
                                 capture_output=True, text=True, check=True)
            return out.stdout.strip()
        quoted = new_body.replace("'", "''")
        subprocess.run([psql, d.db.url, "-q", "-v", "ON_ERROR_STOP=1", "-c",
                        f"UPDATE user_pool SET body = '{quoted}' WHERE oid = {uid}"],
                       check=True)
        return new_body
    with sqlite3.connect(d.tmp / "data" / "nubo.db") as db:
        if new_body is None:
            return db.execute("SELECT body FROM user_pool WHERE oid = ?", (uid,)).fetchone()[0]
        db.execute("UPDATE user_pool SET body = ? WHERE oid = ?", (new_body, uid))
        return new_body


def test_running_usage_is_recounted_at_start(fresh_nubod):
    """A database whose running usage is off (one written by a version that counted VMs
    only once placed) is set right when nubod starts."""
    one = fresh_nubod.admin()
    uid = one.user.allocate(uniq("rc"), "pw", "core")
    one.user.quota(uid, "VM=[RUNNING_VMS=5]")
    held = one.vm.allocate(vm_text(999999, "0.5", 256), True)
    one.vm.chown(held, uid, -1)
    want = usage(one, uid)
    assert want["RUNNING_VMS"] == 1 and want["RUNNING_MEMORY"] == 256, want
    fresh_nubod.kill()
    body = json.loads(_user_body(fresh_nubod, uid))
    body["quotas"]["entries"]["Vm"]["-1"]["used"].update(
        {"RUNNING_VMS": 0, "RUNNING_CPU": 0, "RUNNING_MEMORY": 0})
    _user_body(fresh_nubod, uid, json.dumps(body))
    fresh_nubod.restart()
    one = fresh_nubod.admin()
    assert usage(one, uid) == want
