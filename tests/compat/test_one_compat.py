"""Behaviours OpenNebula's own clients found different from oned 7.4 (issue 13): clusters'
reserved capacity and DRS plans, a user's groups across chgrp, zones on a standalone
front-end, VM groups without roles, the default VDC's ACL rules and where first start
leaves oneadmin's credentials. Each test states oned's behaviour (source named)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import xml.etree.ElementTree as ET

import boto3
import pyone
import pytest
from botocore.config import Config

from onehelpers import (ACTION, ALLOCATE, AUTHORIZATION, INTERNAL, NO_EXISTS, RPC_API, Nubod, connect,
                        free_port, raw_call, tmpl, uniq, wait_for)


def test_new_clusters_have_empty_reserved_capacity(one, fresh_nubod):
    # Cluster.cc: add_template_attribute("RESERVED_CPU", "") and RESERVED_MEM, for every
    # cluster, the default one included
    cid = one.cluster.allocate(uniq("cl"))
    for info in (one.xml("cluster.info", cid), fresh_nubod.admin().xml("cluster.info", 0)):
        template = info.find("TEMPLATE")
        assert template.find("RESERVED_CPU") is not None and template.find("RESERVED_MEM") is not None
        assert tmpl(info, "RESERVED_CPU") in ("", None) and tmpl(info, "RESERVED_MEM") in ("", None)
    # pyone shows them as (empty) attributes of the template
    assert {"RESERVED_CPU", "RESERVED_MEM"} <= set(one.cluster.info(cid).TEMPLATE)


def test_drs_plan_calls(one, make_user):
    cid = one.cluster.allocate(uniq("cl"))
    # ClusterAPI::PlanDelete: "Plan for cluster N does not exist" (ACTION) when no plan
    msg = one.fails(ACTION, "cluster.plandelete", cid)
    assert msg == f"[one.cluster.plandelete] Plan for cluster {cid} does not exist"
    # PlanManager::start_plan on an empty plan: "Plan is not ready"
    assert one.fails(ACTION, "cluster.planexecute", cid) == "[one.cluster.planexecute] Plan is not ready"
    # optimize asks the scheduler for a plan: accepted
    assert one.cluster.optimize(cid) == cid
    for method in ("cluster.optimize", "cluster.plandelete", "cluster.planexecute"):
        one.fails(NO_EXISTS, method, 99999)
        make_user().one.fails(AUTHORIZATION, method, cid)


def test_chgrp_to_a_secondary_group_keeps_the_old_primary(one, make_user):
    g2, g3 = one.group.allocate(uniq("g")), one.group.allocate(uniq("g"))
    u = make_user(groups=[1, g2])
    assert sorted(int(x) for x in one.user.info(u.id).GROUPS.ID) == [1, g2]
    # UserAPI::change_group: the new group was a secondary one, so the old primary stays
    one.user.chgrp(u.id, g2)
    info = one.user.info(u.id)
    assert info.GID == g2 and sorted(int(x) for x in info.GROUPS.ID) == [1, g2]
    assert u.id in [int(x) for x in one.group.info(1).USERS.ID]
    # to a group the user was not in: the old primary (g2) is left
    one.user.chgrp(u.id, g3)
    info = one.user.info(u.id)
    assert info.GID == g3 and sorted(int(x) for x in info.GROUPS.ID) == [1, g3]
    assert u.id not in [int(x) for x in (one.group.info(g2).USERS.ID or [])]
    # "Wrong group ID" (RPC_API) for a negative group; oneadmin stays in oneadmin
    assert "Wrong group ID" in one.fails(RPC_API, "user.chgrp", u.id, -3)
    assert "cannot be moved outside of the group [0] oneadmin" in one.fails(0x2000, "user.chgrp", 0, 1)
    # oned checks the group id and that both exist before the caller's rights
    stranger = make_user()
    stranger.one.fails(RPC_API, "user.chgrp", u.id, -3)
    stranger.one.fails(NO_EXISTS, "user.chgrp", u.id, 99999)
    stranger.one.fails(AUTHORIZATION, "user.chgrp", u.id, g2)
    assert one.user.info(u.id).GID == g3


def test_standalone_front_end_refuses_zones_and_is_solo(one, make_user):
    # ZoneAPI::allocate: only a federation master creates zones, whoever asks
    msg = one.fails(ALLOCATE, "zone.allocate", f'NAME="{uniq("z")}"\nENDPOINT="http://x:2633/RPC2"')
    assert msg == ("[one.zone.allocate] Error allocating a new zone. "
                   "New zones can only be created at federation master")
    make_user().one.fails(ALLOCATE, "zone.allocate", f'NAME="{uniq("z")}"')
    assert [z.ID for z in one.zonepool.info().ZONE] == [0]
    # RaftManager::to_xml on a solo server: state SOLO (0), server -1, no log
    for raft in (one.xml("zone.raftstatus"), make_user().one.xml("zone.raftstatus")):
        assert raft.findtext("STATE") == "0" and raft.findtext("SERVER_ID") == "-1"
        assert raft.findtext("LOG_INDEX") == "-1" and raft.findtext("LOG_TERM") == "-1"
        assert raft.findtext("FEDLOG_INDEX") == "-1"


def test_vm_group_without_roles(one, nubod):
    # VMGroup::insert: ROLE vectors are optional
    gid = one.vmgroup.allocate(f'NAME="{uniq("vmg")}"\nDESCRIPTION="roles later"')
    # oned then answers an empty <ROLES></ROLES> (VMGroupRoles::to_xml), which its own
    # vm_group.xsd does not allow (ROLE minOccurs=1); the validator forgives only that
    ok, body, *_ = raw_call(nubod.endpoint, "one.vmgroup.info", nubod.admin_session, gid)
    assert ok is True
    root = ET.fromstring(body)
    assert root.find("ROLES") is not None and root.findall("ROLES/ROLE") == []
    assert tmpl(root, "DESCRIPTION") == "roles later"
    assert gid in [int(g.findtext("ID")) for g in one.xml("vmgrouppool.info", -2, -1, -1).findall("VM_GROUP")]
    # and pyone's own bindings read it
    plain = pyone.OneServer(nubod.endpoint, session=nubod.admin_session)
    assert plain.vmgroup.info(gid).ID == gid
    one.vmgroup.roleadd(gid, 'ROLE=[NAME="web"]')
    assert [r.findtext("NAME") for r in one.xml("vmgroup.info", gid).findall("ROLES/ROLE")] == ["web"]
    # and a VM cannot join a role the group does not have
    one.vmgroup.roledelete(gid, 0)
    one.fails({ACTION, INTERNAL}, "vm.allocate",
              f'NAME="{uniq("v")}"\nCPU="0.1"\nMEMORY="16"\nVMGROUP=[VMGROUP_ID="{gid}", ROLE="web"]', True)


def _nubo(d: Nubod, session: str, *args: str) -> str:
    user, password = session.split(":", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONE_", "AWS_"))}
    env["ONE_XMLRPC"] = d.endpoint
    p = subprocess.run([str(d.binary.parent / "nubo"), "--user", user, "--password", password, *args],
                       capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_default_vdc_lets_users_use_datastores_and_networks():
    """A user of the users group, with no grant beyond the bootstrap's, creates images,
    volumes and snapshots (boto3) and uses oneadmin's networks (the default VDC's rules
    @1 NET/* USE #0, @1 DATASTORE/* USE #0 from oned.conf's DEFAULT_VDC_CLUSTER_*_ACL)."""
    ec2_port = free_port()
    d = Nubod(extra_args=["--ec2", f"127.0.0.1:{ec2_port}"]).start()
    try:
        admin = d.admin()
        net = admin.vn.allocate(f'NAME="{uniq("n")}"\nBRIDGE="br0"\nVN_MAD="dummy"\n'
                                'AR=[TYPE="IP4", IP="10.9.0.1", SIZE="8"]', -1)
        name, password = uniq("u"), "pw-" + uniq("p")
        uid = admin.user.allocate(name, password, "core", [])
        user = connect(d.endpoint, f"{name}:{password}")
        assert user.user.info(uid).GID == 1
        image = user.image.allocate(f'NAME="{uniq("img")}"\nTYPE="DATABLOCK"\nSIZE="1"\nFORMAT="raw"', 1)
        wait_for(lambda: user.image.info(image).STATE == 1, what="image READY")
        reserved = user.vn.reserve(net, f'NAME="{uniq("r")}"\nSIZE="2"')
        assert user.vn.info(reserved).UID == uid
        key = json.loads(_nubo(d, f"{name}:{password}", "ec2-key", "create", "--json"))["EC2_KEY"]
        ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{ec2_port}", region_name="nubo",
                           aws_access_key_id=key["ACCESS_KEY_ID"],
                           aws_secret_access_key=key["SECRET_ACCESS_KEY"],
                           config=Config(retries={"max_attempts": 1}))
        zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
        volume = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
        wait_for(lambda: ec2.describe_volumes(VolumeIds=[volume])["Volumes"][0]["State"] == "available",
                 what="volume available")
        snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
        assert ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]["VolumeId"] == volume
        # every new group joins the default VDC too (GroupAllocateAPI::pool_allocate) ...
        g = admin.group.allocate(uniq("g"))
        rules = {r.findtext("STRING"): int(r.findtext("ID")) for r in admin.xml("acl.info").findall("ACL")}
        assert {f"@{g} NET/* USE #0", f"@{g} DATASTORE/* USE #0"} <= set(rules)
        other, opw = uniq("o"), "pw-" + uniq("p")
        admin.user.allocate(other, opw, "core", [g])
        other_one = connect(d.endpoint, f"{other}:{opw}")
        other_one.image.allocate(f'NAME="{uniq("img")}"\nTYPE="DATABLOCK"\nSIZE="1"', 1)
        # ... and a group taken out of it (its rules deleted) may use neither any more
        for text in (f"@{g} NET/* USE #0", f"@{g} DATASTORE/* USE #0"):
            admin.acl.delrule(rules[text])
        other_one.fails(AUTHORIZATION, "image.allocate", f'NAME="{uniq("img")}"\nTYPE="DATABLOCK"\nSIZE="1"', 1)
        other_one.fails(AUTHORIZATION, "vn.info", net)
    finally:
        d.stop()


@pytest.mark.parametrize("existing", [None, "someone:their-other-cloud\n"])
def test_first_start_keeps_credentials_in_the_data_dir(existing):
    d = Nubod(home_files={} if existing is None else {".one/one_auth": existing}).start()
    try:
        kept = d.tmp / "data" / "one_auth"
        home = d.tmp / "home" / ".one" / "one_auth"
        assert kept.read_text() == f"oneadmin:{d.admin_password}\n"
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        out = (d.tmp / "nubod.stdout").read_text()
        assert f"oneadmin's credentials are in {kept}" in out
        if existing is None:
            assert home.read_text() == f"oneadmin:{d.admin_password}\n"
            assert stat.S_IMODE(home.stat().st_mode) == 0o600
        else:
            # someone's credentials for another cloud are never overwritten
            assert home.read_text() == existing
            assert f"ONE_AUTH={kept}" in out
        # a restart is not a first start: nothing is rewritten
        home.write_text("changed:later\n")
        d.kill()
        d.restart()
        assert home.read_text() == "changed:later\n"
        assert kept.read_text() == f"oneadmin:{d.admin_password}\n"
    finally:
        d.stop()


def _sql(d: Nubod, statement: str) -> None:
    """Runs one statement on a stopped nubod's database (SQLite file or PostgreSQL)."""
    if d.db is not None:
        subprocess.run([shutil.which("psql"), d.db.url, "-q", "-v", "ON_ERROR_STOP=1", "-c", statement],
                       check=True, capture_output=True, timeout=60)
        return
    with sqlite3.connect(d.tmp / "data" / "nubo.db") as db:
        db.execute(statement)


def test_an_older_cloud_gets_the_default_vdc_once(fresh_nubod):
    """A cloud made before the default VDC's rules (no rules, no mark) gets them for the users
    group and its own groups at its next start, once: a rule deleted afterwards stays so."""
    d = fresh_nubod
    one = d.admin()
    g = one.group.allocate(uniq("g"))
    vdc = {int(r.findtext("ID")): r.findtext("STRING") for r in one.xml("acl.info").findall("ACL")
           if r.findtext("STRING").endswith(" #0")}
    assert sorted(vdc.values()) == sorted([f"@{gid} {kind}/* USE #0"
                                           for gid in (1, g) for kind in ("NET", "DATASTORE")])
    d.kill()
    _sql(d, f"DELETE FROM acl_pool WHERE oid IN ({', '.join(map(str, vdc))})")
    _sql(d, "DELETE FROM system_attributes WHERE name = 'DEFAULT_VDC'")
    d.restart()
    one = d.admin()
    strings = [r.findtext("STRING") for r in one.xml("acl.info").findall("ACL")]
    for text in vdc.values():
        assert strings.count(text) == 1, (text, strings)
    rule = next(int(r.findtext("ID")) for r in one.xml("acl.info").findall("ACL")
                if r.findtext("STRING") == "@1 NET/* USE #0")
    one.acl.delrule(rule)
    d.kill()
    d.restart()
    strings = [r.findtext("STRING") for r in d.admin().xml("acl.info").findall("ACL")]
    assert "@1 NET/* USE #0" not in strings and "@1 DATASTORE/* USE #0" in strings
