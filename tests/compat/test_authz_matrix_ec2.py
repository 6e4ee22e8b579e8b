"""The authorization matrix of the EC2 API (issue 12): a row for every action of the EC2
front end (the ``ACTIONS`` array of crates/frontend-ec2/src/actions/mod.rs, read by this
module, so that an action added there without a row fails), driven with real boto3
clients against a fresh nubod, and for each action two test cases:

- ``test_unauthenticated``: the action unsigned (``MissingAuthenticationToken``, 401), signed
  with a wrong secret, with an unknown access key, and with the valid key of a disabled
  user (``AuthFailure``, 401); nothing changes.
- ``test_refused``: bob (group users, like alice) acts on alice's instances, AMIs, volumes,
  snapshots, security groups, addresses, key pairs and tags, or puts them into his own
  (his instance, his volume, his address, his security group). The answer is the EC2 code
  the front end gives for "not yours": alice's objects are invisible to bob, so
  ``*.NotFound`` of the kind named (``UnauthorizedOperation`` where bob may see but not
  change); Describe* actions succeed and must not show alice's objects. Where bob may
  legitimately create (key pairs in his own account), the row checks that only bob's
  account changed and undoes it; where creation needs rights bob has, carol (a group
  without any ACL rule, no use of the elastic IP network) is refused instead.

Around every call every pool is read as oneadmin over XML-RPC (``authz_world.snapshot``)
and compared: a refused call changes nothing. Rows whose answer shows a hole are marked
``xfail(strict=True)``."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import xmlrpc.client
from dataclasses import dataclass
from typing import Callable

import botocore
import pytest
import requests
from botocore.exceptions import ClientError

from authz_world import World, diff_snapshots, snapshot
from ec2helpers import REGION, Ec2Cloud
from onehelpers import REPO_ROOT, connect, uniq, wait_for
from onehelpers import TestUser as OneUser

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILgIoeCyNSpzVW3WVr1piQmp+zzx/wtufMLVXGe6ogW6 me@host"

ACTIONS_RS = REPO_ROOT / "crates" / "frontend-ec2" / "src" / "actions" / "mod.rs"


def actions_in_source() -> list[str]:
    """The ACTIONS array of the EC2 front end."""
    text = ACTIONS_RS.read_text()
    table = text[text.index("const ACTIONS"):]
    table = table[table.index("[") + 1:table.index("];")]
    return re.findall(r'"([A-Za-z0-9]+)"', table)


# ----------------------------------------------------------------------------------
# The cloud
# ----------------------------------------------------------------------------------


@dataclass
class Ec2World:
    cloud: Ec2Cloud
    w: World                 # for authz_world.snapshot (alice, bob, carol, group)
    users: dict              # name -> ec2helpers.Ec2User
    clients: dict            # name -> boto3 client
    ami: str = ""            # the public AMI
    a: dict = None           # alice's resources, EC2 ids
    b: dict = None           # bob's resources, EC2 ids

    def client(self, who: str):
        return self.clients[who]


def _ec2_user(cloud: Ec2Cloud, name: str, groups: list[int]):
    password = "pw-" + uniq("p")
    uid = cloud.one.user.allocate(name, password, "core", groups)
    akid, secret = cloud.new_key(f"{name}:{password}")
    from ec2helpers import Ec2User
    return Ec2User(uid, name, password, akid, secret)


def _running(ec2, ids):
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def _settled(one, vid):
    vm = one.xml("vm.info", vid)
    return (vm.findtext("STATE"), vm.findtext("LCM_STATE")) == ("3", "3")


def build(tmp) -> Ec2World:
    cloud = Ec2Cloud(tmp)
    try:
        return _build(cloud)
    except BaseException:
        cloud.stop()
        raise


def _build(cloud: Ec2Cloud) -> Ec2World:
    one = cloud.one
    tag = uniq("e")
    # Elastic IPs: the pool belongs to group users (group USE): bob and alice may allocate,
    # carol may not.
    one.vn.chown(cloud.public, -1, 1)
    one.vn.chmod(cloud.public, 1, 1, 0, 1, 0, 0, 0, 0, 0)
    group = one.group.allocate(f"noacl-{tag}")
    for rule in one.xml("acl.info").findall("ACL"):
        if rule.findtext("STRING").startswith(f"@{group} "):
            one.acl.delrule(int(rule.findtext("ID")))
    users = {
        "alice": _ec2_user(cloud, f"alice-{tag}", [1]),
        "bob": _ec2_user(cloud, f"bob-{tag}", [1]),
        "carol": _ec2_user(cloud, f"carol-{tag}", [group]),
        "dave": _ec2_user(cloud, f"dave-{tag}", [1]),
    }
    one.user.enable(users["dave"].uid, False)
    clients = {n: cloud.client(u) for n, u in users.items()}
    ami = f"ami-{cloud.image:08d}"
    alice, bob = clients["alice"], clients["bob"]

    # Alice's resources, made through EC2: they are hers, mode 600 (the default umask).
    a: dict = {}
    a["key"] = f"alice-key-{tag}"
    alice.import_key_pair(KeyName=a["key"], PublicKeyMaterial=ED25519.encode())
    a["key_id"] = alice.describe_key_pairs(KeyNames=[a["key"]])["KeyPairs"][0]["KeyPairId"]
    sg = alice.create_security_group(GroupName=f"alice-sg-{tag}", Description="alice's")
    a["sg"], a["sg_name"] = sg["GroupId"], f"alice-sg-{tag}"
    a["perm"] = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    alice.authorize_security_group_ingress(GroupId=a["sg"], IpPermissions=a["perm"])
    r = alice.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
                            KeyName=a["key"], SecurityGroupIds=[a["sg"]],
                            TagSpecifications=[{"ResourceType": "instance",
                                                "Tags": [{"Key": "owner", "Value": "alice"}]}])
    a["i"] = r["Instances"][0]["InstanceId"]
    _running(alice, [a["i"]])
    vols = []
    for _ in range(2):
        v = alice.create_volume(Size=1, AvailabilityZone="default")["VolumeId"]
        vols.append(v)
    alice.get_waiter("volume_available").wait(VolumeIds=vols, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    a["vol"], a["vol_attached"] = vols
    alice.attach_volume(VolumeId=a["vol_attached"], InstanceId=a["i"], Device="/dev/sdf")
    alice.get_waiter("volume_in_use").wait(VolumeIds=[a["vol_attached"]], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    wait_for(lambda: _settled(one, int(a["i"][2:])), timeout=60, what="alice's instance settled")
    a["snap"] = alice.create_snapshot(VolumeId=a["vol"])["SnapshotId"]
    alice.get_waiter("snapshot_completed").wait(SnapshotIds=[a["snap"]], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    a["ami"] = alice.create_image(InstanceId=a["i"], Name=f"alice-ami-{tag}")["ImageId"]
    alice.get_waiter("image_available").wait(ImageIds=[a["ami"]], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    wait_for(lambda: _settled(one, int(a["i"][2:])), timeout=60, what="alice's instance settled")
    addr = alice.allocate_address(Domain="vpc")
    a["alloc"], a["ip"] = addr["AllocationId"], addr["PublicIp"]
    a["assoc"] = alice.associate_address(AllocationId=a["alloc"], InstanceId=a["i"])["AssociationId"]
    wait_for(lambda: _settled(one, int(a["i"][2:])) and alice.describe_addresses(
        AllocationIds=[a["alloc"]])["Addresses"][0].get("InstanceId") == a["i"], timeout=60, what="address associated")
    for res in (a["ami"], a["vol"], a["snap"], a["sg"]):
        alice.create_tags(Resources=[res], Tags=[{"Key": "owner", "Value": "alice"}])
    # Alice's private instance type (a template of hers).
    a["type"] = f"a1.alice-{tag}"
    e_tpl = connect(cloud.nubod.endpoint, f"{users['alice'].name}:{users['alice'].password}").template.allocate(
        f'NAME="alice-type-{tag}"\nCPU="0.1"\nMEMORY="64"\nEC2_INSTANCE_TYPE="{a["type"]}"\n'
        f'SCHED_REQUIREMENTS="ID = {cloud.host}"')
    a["type_template"] = e_tpl
    # The AMI's disk file, which bob must not import as his own.
    a["ami_path"] = one.xml("image.info", int(a["ami"][4:])).findtext("SOURCE")

    # Bob's own: an instance, a volume, an address, a security group.
    b: dict = {}
    b["i"] = bob.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="m1.small")["Instances"][0]["InstanceId"]
    _running(bob, [b["i"]])
    b["vol"] = bob.create_volume(Size=1, AvailabilityZone="default")["VolumeId"]
    bob.get_waiter("volume_available").wait(VolumeIds=[b["vol"]], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    b["alloc"] = bob.allocate_address(Domain="vpc")["AllocationId"]
    b["sg"] = bob.create_security_group(GroupName=f"bob-sg-{tag}", Description="bob's")["GroupId"]
    wait_for(lambda: _settled(one, int(b["i"][2:])), timeout=60, what="bob's instance settled")

    # The XML-RPC view the snapshots need.
    def tu(n):
        u = users[n]
        return OneUser(u.uid, u.name, u.password, connect(cloud.nubod.endpoint, f"{u.name}:{u.password}"))
    w = World(cloud.nubod, xmlrpc.client.ServerProxy(cloud.nubod.endpoint), tu("alice"), tu("bob"),
              tu("carol"), tu("dave"))
    w.group = group
    w.ec2_keys_served = True
    return Ec2World(cloud, w, users, clients, ami, a, b)


# ----------------------------------------------------------------------------------
# Rows
# ----------------------------------------------------------------------------------

OK = None


@dataclass
class Call:
    kwargs: Callable[[Ec2World], dict]
    who: str = "bob"
    expect: frozenset | None = None      # refusal codes, or OK
    check: Callable | None = None        # check(e, reply) for OK
    undo: Callable | None = None         # undo(e, reply): a legitimate change of bob's own, undone
    what: str = ""


@dataclass
class Row:
    calls: list
    why: str = ""
    xfail: str | None = None


def deny(kwargs, *codes, who="bob", what=""):
    return Call(kwargs, who=who, expect=frozenset(codes), what=what)


def allow(kwargs, check=None, who="bob", what="", undo=None):
    return Call(kwargs, who=who, expect=OK, check=check, what=what, undo=undo)


def row(*calls, why="", xfail=None):
    return Row(list(calls), why=why, xfail=xfail)


NF_I = "InvalidInstanceID.NotFound"
NF_AMI = "InvalidAMIID.NotFound"
NF_VOL = "InvalidVolume.NotFound"
NF_SNAP = "InvalidSnapshot.NotFound"
NF_SG = "InvalidGroup.NotFound"
NF_KEY = "InvalidKeyPair.NotFound"
NF_ALLOC = "InvalidAllocationID.NotFound"
NF_ADDR = "InvalidAddress.NotFound"
NF_ASSOC = "InvalidAssociationID.NotFound"
UNAUTH = "UnauthorizedOperation"
DEFAULT_SG = "sg-00000000"
NOT_YOURS = "alice's objects are invisible to bob: the EC2 code for an id that does not exist"


def names(text: str, token: str) -> bool:
    """Whether `text` holds `token` as a whole word (i-00000001 is not in ami-00000001,
    nor 10.0.0.1 in 10.0.0.10)."""
    return re.search(r"(?<![\w.-])" + re.escape(token) + r"(?!\w)", text) is not None


def hides(*keys, extra: Callable[[Ec2World], list[str]] = lambda e: []):
    """The reply names none of alice's resources `keys` (nor her address, account...)."""
    def check(e: Ec2World, reply):
        text = repr(reply)
        for k in keys:
            assert not names(text, e.a[k]), f"bob sees alice's {k} {e.a[k]}: {text[:1500]}"
        for s in extra(e):
            assert not names(text, s), f"bob sees {s}: {text[:1500]}"
    return check


def hides_with_alice_seeing(method: str, kwargs_alice: Callable[[Ec2World], dict], *keys):
    """As `hides`, and alice's own call lists them (so the check can fail)."""
    inner = hides(*keys)

    def check(e: Ec2World, reply):
        inner(e, reply)
        mine = repr(getattr(e.client("alice"), method)(**kwargs_alice(e)))
        for k in keys:
            assert names(mine, e.a[k]), f"alice's own {method} does not list her {k}: the check proves nothing"
    return check


def _alice_keeps_her_key(e: Ec2World):
    keys = e.client("alice").describe_key_pairs()["KeyPairs"]
    assert [(k["KeyName"], k["KeyPairId"]) for k in keys] == [(e.a["key"], e.a["key_id"])], keys


def _delete_bob_key(name):
    def undo(e: Ec2World, reply):
        e.client("bob").delete_key_pair(KeyName=name(e))
    return undo


ROWS: dict[str, Row] = {
    # ------------------------------------------------------------ regions, account, types
    "DescribeRegions": row(allow(lambda e: {}, lambda e, r: r["Regions"][0]["RegionName"] == REGION or
                                 pytest.fail(str(r))), why="public information: succeeds for every user"),
    "DescribeAvailabilityZones": row(allow(lambda e: {}, lambda e, r: bool(r["AvailabilityZones"]) or pytest.fail(str(r))),
                                     why="public information: succeeds for every user"),
    "DescribeAccountAttributes": row(allow(lambda e: {}, hides(extra=lambda e: [f"{e.users['alice'].uid:012}"])),
                                     why="bob's own account: succeeds"),
    "DescribeInstanceTypes": row(
        allow(lambda e: {}, hides_with_alice_seeing("describe_instance_types", lambda e: {}, "type")),
        deny(lambda e: dict(InstanceTypes=[e.a["type"]]), "InvalidInstanceType", what="alice's private type"),
        why="the instance types bob may use: alice's private one is not among them"),
    # ------------------------------------------------------------ instances
    "RunInstances": row(
        deny(lambda e: dict(ImageId=e.a["ami"], MinCount=1, MaxCount=1, InstanceType="m1.small"), NF_AMI,
             what="alice's private AMI"),
        deny(lambda e: dict(ImageId=e.ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
                            SecurityGroupIds=[e.a["sg"]]), NF_SG, what="in alice's security group"),
        deny(lambda e: dict(ImageId=e.ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
                            SecurityGroups=[e.a["sg_name"]]), NF_SG, what="in alice's security group, by name"),
        deny(lambda e: dict(ImageId=e.ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
                            KeyName=e.a["key"]), NF_KEY, what="with alice's key pair"),
        deny(lambda e: dict(ImageId=e.ami, MinCount=1, MaxCount=1, InstanceType=e.a["type"]),
             "InvalidInstanceType", "InvalidParameterValue", what="alice's private instance type"),
        deny(lambda e: dict(ImageId=e.ami, MinCount=1, MaxCount=1, InstanceType="m1.small",
                            BlockDeviceMappings=[{"DeviceName": "/dev/sdb",
                                                  "Ebs": {"SnapshotId": e.a["snap"]}}]), NF_SNAP,
             what="a disk from alice's snapshot"),
        deny(lambda e: dict(ImageId=e.ami, MinCount=1, MaxCount=1, InstanceType="m1.small"), UNAUTH,
             who="carol"),
        why="bob may launch instances of his own: refused are those that use alice's objects; carol may not launch"),
    "DescribeInstances": row(
        allow(lambda e: {}, hides_with_alice_seeing("describe_instances", lambda e: {}, "i")),
        allow(lambda e: dict(Filters=[{"Name": "tag:owner", "Values": ["alice"]}]), hides("i")),
        allow(lambda e: dict(Filters=[{"Name": "ip-address", "Values": [e.a["ip"]]}]), hides("i")),
        deny(lambda e: dict(InstanceIds=[e.a["i"]]), NF_I),
        why="lists only bob's instances; " + NOT_YOURS),
    "DescribeInstanceStatus": row(
        allow(lambda e: dict(IncludeAllInstances=True),
              hides_with_alice_seeing("describe_instance_status", lambda e: dict(IncludeAllInstances=True), "i")),
        deny(lambda e: dict(InstanceIds=[e.a["i"]]), NF_I), why="lists only bob's instances; " + NOT_YOURS),
    "StartInstances": row(deny(lambda e: dict(InstanceIds=[e.a["i"]]), NF_I),
                          deny(lambda e: dict(InstanceIds=[e.b["i"], e.a["i"]]), NF_I, what="with one of his own"),
                          why=NOT_YOURS),
    "StopInstances": row(deny(lambda e: dict(InstanceIds=[e.a["i"]]), NF_I),
                         deny(lambda e: dict(InstanceIds=[e.b["i"], e.a["i"]]), NF_I, what="with one of his own"),
                         why=NOT_YOURS),
    "RebootInstances": row(deny(lambda e: dict(InstanceIds=[e.a["i"]]), NF_I), why=NOT_YOURS),
    "TerminateInstances": row(deny(lambda e: dict(InstanceIds=[e.a["i"]]), NF_I),
                              deny(lambda e: dict(InstanceIds=[e.b["i"], e.a["i"]]), NF_I, what="with one of his own"),
                              why=NOT_YOURS),
    "GetConsoleOutput": row(deny(lambda e: dict(InstanceId=e.a["i"]), NF_I), why=NOT_YOURS),
    "DescribeInstanceAttribute": row(deny(lambda e: dict(InstanceId=e.a["i"], Attribute="userData"), NF_I),
                                     deny(lambda e: dict(InstanceId=e.a["i"], Attribute="instanceType"), NF_I),
                                     why=NOT_YOURS),
    "ModifyInstanceAttribute": row(deny(lambda e: dict(InstanceId=e.a["i"], InstanceType={"Value": "m1.large"}), NF_I),
                                   deny(lambda e: dict(InstanceId=e.a["i"], DisableApiTermination={"Value": True}),
                                        NF_I, what="termination protection"),
                                   why=NOT_YOURS),
    "GetPasswordData": row(deny(lambda e: dict(InstanceId=e.a["i"]), NF_I), why=NOT_YOURS),
    # ------------------------------------------------------------ images
    "DescribeImages": row(
        allow(lambda e: {}, hides_with_alice_seeing("describe_images", lambda e: {}, "ami")),
        allow(lambda e: dict(Owners=[f"{e.users['alice'].uid:012}"]), hides("ami")),
        allow(lambda e: dict(Filters=[{"Name": "tag:owner", "Values": ["alice"]}]), hides("ami")),
        deny(lambda e: dict(ImageIds=[e.a["ami"]]), NF_AMI),
        why="lists the public AMI and bob's own; " + NOT_YOURS),
    "RegisterImage": row(
        deny(lambda e: dict(Name=uniq("steal"), ImageLocation=e.a["ami_path"]), "InvalidParameterValue",
             what="alice's AMI file on nubod's disk as his own image"),
        deny(lambda e: dict(Name=uniq("x"), ImageLocation="http://203.0.113.1/x.img"), UNAUTH, who="carol"),
        why="bob may register images from URLs: a file path is for administrators only "
            "(InvalidParameterValue); carol may create no image (UnauthorizedOperation)"),
    "DeregisterImage": row(deny(lambda e: dict(ImageId=e.a["ami"]), NF_AMI),
                           deny(lambda e: dict(ImageId=e.ami), UNAUTH, what="the public AMI he may only use"),
                           why=NOT_YOURS + "; what bob may see but not manage: UnauthorizedOperation"),
    "CreateImage": row(deny(lambda e: dict(InstanceId=e.a["i"], Name=uniq("img")), NF_I), why=NOT_YOURS),
    "DescribeImageAttribute": row(
        deny(lambda e: dict(ImageId=e.a["ami"], Attribute="description"), NF_AMI),
        deny(lambda e: dict(ImageId=e.a["ami"], Attribute="launchPermission"), NF_AMI),
        deny(lambda e: dict(ImageId=e.ami, Attribute="launchPermission"), UNAUTH,
             what="the launch permissions of the public AMI he may only use"),
        why=NOT_YOURS + "; launch permissions are the owner's (MANAGE): UnauthorizedOperation"),
    "ModifyImageAttribute": row(
        deny(lambda e: dict(ImageId=e.a["ami"], LaunchPermission={"Add": [{"Group": "all"}]}), NF_AMI),
        deny(lambda e: dict(ImageId=e.a["ami"], Description={"Value": "bob's"}), NF_AMI),
        deny(lambda e: dict(ImageId=e.ami, LaunchPermission={"Remove": [{"Group": "all"}]}), UNAUTH,
             what="the public AMI he may only use, made private"),
        deny(lambda e: dict(ImageId=e.ami, Description={"Value": "bob's"}), UNAUTH,
             what="the public AMI's description"),
        why=NOT_YOURS + "; what bob may see but not manage: UnauthorizedOperation"),
    "ResetImageAttribute": row(
        deny(lambda e: dict(ImageId=e.a["ami"], Attribute="launchPermission"), NF_AMI),
        deny(lambda e: dict(ImageId=e.ami, Attribute="launchPermission"), UNAUTH,
             what="the public AMI he may only use, made private"),
        why=NOT_YOURS + "; what bob may see but not manage: UnauthorizedOperation"),
    # ------------------------------------------------------------ key pairs
    "CreateKeyPair": row(
        allow(lambda e: dict(KeyName=e.a["key"]),
              lambda e, r: (r["KeyName"] == e.a["key"] and r["KeyPairId"] != e.a["key_id"]) or pytest.fail(str(r)),
              undo=_delete_bob_key(lambda e: e.a["key"]),
              what="a key of his own named like alice's: hers is untouched"),
        why="key pairs live in the caller's own account: bob may make one with any name; "
            "only his account changes (checked, then undone)"),
    "ImportKeyPair": row(
        allow(lambda e: dict(KeyName=e.a["key"], PublicKeyMaterial=ED25519.encode()),
              lambda e, r: (r["KeyName"] == e.a["key"] and r["KeyPairId"] != e.a["key_id"]) or pytest.fail(str(r)),
              undo=_delete_bob_key(lambda e: e.a["key"]),
              what="a key of his own named like alice's: hers is untouched"),
        why="key pairs live in the caller's own account: bob may import one with any name; "
            "only his account changes (checked, then undone)"),
    "DescribeKeyPairs": row(
        allow(lambda e: {}, hides_with_alice_seeing("describe_key_pairs", lambda e: {}, "key", "key_id")),
        deny(lambda e: dict(KeyNames=[e.a["key"]]), NF_KEY),
        deny(lambda e: dict(KeyPairIds=[e.a["key_id"]]), NF_KEY),
        why="lists only bob's key pairs; " + NOT_YOURS),
    "DeleteKeyPair": row(
        allow(lambda e: dict(KeyName=e.a["key"]), lambda e, r: _alice_keeps_her_key(e)),
        allow(lambda e: dict(KeyPairId=e.a["key_id"]), lambda e, r: _alice_keeps_her_key(e)),
        why="bob has no key pair of that name or id; as on AWS, deleting a key pair one does not have "
            "succeeds and does nothing: alice's key stays (checked, and nothing changes)"),
    # ------------------------------------------------------------ security groups
    "CreateSecurityGroup": row(deny(lambda e: dict(GroupName=uniq("sg"), Description="x"), UNAUTH, who="carol"),
                               why="bob may create security groups (ACL @1); carol's group has no rule"),
    "DescribeSecurityGroups": row(
        allow(lambda e: {}, hides_with_alice_seeing("describe_security_groups", lambda e: {}, "sg", "sg_name")),
        deny(lambda e: dict(GroupIds=[e.a["sg"]]), NF_SG),
        deny(lambda e: dict(GroupNames=[e.a["sg_name"]]), NF_SG),
        why="lists the default group and bob's own; " + NOT_YOURS),
    "AuthorizeSecurityGroupIngress": row(
        deny(lambda e: dict(GroupId=e.a["sg"], IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                                               "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]), NF_SG),
        deny(lambda e: dict(GroupId=e.b["sg"], IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                                               "UserIdGroupPairs": [{"GroupId": e.a["sg"]}]}]), NF_SG,
             what="his own group opened to alice's group (which he may not see)"),
        deny(lambda e: dict(GroupId=DEFAULT_SG, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                                                "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]), UNAUTH,
             what="the default group every network has, which he may only use"),
        why=NOT_YOURS + "; what bob may see but not manage: UnauthorizedOperation"),
    "AuthorizeSecurityGroupEgress": row(
        deny(lambda e: dict(GroupId=e.a["sg"], IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                                               "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]), NF_SG),
        why=NOT_YOURS),
    "RevokeSecurityGroupIngress": row(deny(lambda e: dict(GroupId=e.a["sg"], IpPermissions=e.a["perm"]), NF_SG),
                                      why=NOT_YOURS),
    "RevokeSecurityGroupEgress": row(
        deny(lambda e: dict(GroupId=e.a["sg"], IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
             NF_SG),
        deny(lambda e: dict(GroupId=DEFAULT_SG, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
             UNAUTH, what="the default group, which he may only use"),
        why=NOT_YOURS + "; what bob may see but not manage: UnauthorizedOperation"),
    "DeleteSecurityGroup": row(deny(lambda e: dict(GroupId=e.a["sg"]), NF_SG),
                               deny(lambda e: dict(GroupName=e.a["sg_name"]), NF_SG, what="by name"),
                               deny(lambda e: dict(GroupId=DEFAULT_SG), UNAUTH, "CannotDelete",
                                    what="the default group, which he may only use"),
                               why=NOT_YOURS + "; what bob may see but not manage: UnauthorizedOperation"),
    # ------------------------------------------------------------ volumes
    "CreateVolume": row(
        deny(lambda e: dict(SnapshotId=e.a["snap"], AvailabilityZone="default"), NF_SNAP, what="from alice's snapshot"),
        deny(lambda e: dict(Size=1, AvailabilityZone="default"), UNAUTH, who="carol"),
        why="bob may create volumes: refused is one from alice's snapshot; carol may create no image"),
    "DescribeVolumes": row(
        allow(lambda e: {}, hides_with_alice_seeing("describe_volumes", lambda e: {}, "vol", "vol_attached")),
        allow(lambda e: dict(Filters=[{"Name": "attachment.instance-id", "Values": [e.a["i"]]}]), hides("vol_attached")),
        deny(lambda e: dict(VolumeIds=[e.a["vol"]]), NF_VOL),
        why="lists only bob's volumes; " + NOT_YOURS),
    "AttachVolume": row(
        deny(lambda e: dict(VolumeId=e.a["vol"], InstanceId=e.a["i"], Device="/dev/sdg"), NF_VOL),
        deny(lambda e: dict(VolumeId=e.a["vol"], InstanceId=e.b["i"], Device="/dev/sdg"), NF_VOL,
             what="alice's volume on his instance"),
        deny(lambda e: dict(VolumeId=e.b["vol"], InstanceId=e.a["i"], Device="/dev/sdg"), NF_I,
             what="his volume on alice's instance"),
        why=NOT_YOURS),
    "DetachVolume": row(deny(lambda e: dict(VolumeId=e.a["vol_attached"]), NF_VOL),
                        deny(lambda e: dict(VolumeId=e.a["vol_attached"], InstanceId=e.a["i"], Force=True), NF_VOL),
                        why=NOT_YOURS),
    "DeleteVolume": row(deny(lambda e: dict(VolumeId=e.a["vol"]), NF_VOL), why=NOT_YOURS),
    # ------------------------------------------------------------ snapshots
    "CreateSnapshot": row(deny(lambda e: dict(VolumeId=e.a["vol"]), NF_VOL), why=NOT_YOURS),
    "DescribeSnapshots": row(
        allow(lambda e: {}, hides_with_alice_seeing("describe_snapshots", lambda e: {}, "snap")),
        allow(lambda e: dict(OwnerIds=[f"{e.users['alice'].uid:012}"]), hides("snap")),
        allow(lambda e: dict(Filters=[{"Name": "volume-id", "Values": [e.a["vol"]]}]), hides("snap")),
        deny(lambda e: dict(SnapshotIds=[e.a["snap"]]), NF_SNAP),
        why="lists only bob's snapshots; " + NOT_YOURS),
    "DeleteSnapshot": row(deny(lambda e: dict(SnapshotId=e.a["snap"]), NF_SNAP), why=NOT_YOURS),
    # ------------------------------------------------------------ addresses
    "AllocateAddress": row(deny(lambda e: dict(Domain="vpc"), UNAUTH, "AddressLimitExceeded", who="carol"),
                           why="bob may allocate from the pool his group may use; carol may use no pool, which "
                               "the front end answers as AddressLimitExceeded ('No network you may use offers "
                               "elastic IPs')"),
    "DescribeAddresses": row(
        allow(lambda e: {}, hides_with_alice_seeing("describe_addresses", lambda e: {}, "alloc", "ip", "assoc")),
        allow(lambda e: dict(Filters=[{"Name": "instance-id", "Values": [e.a["i"]]}]), hides("alloc", "ip")),
        deny(lambda e: dict(AllocationIds=[e.a["alloc"]]), NF_ALLOC),
        deny(lambda e: dict(PublicIps=[e.a["ip"]]), NF_ADDR),
        why="lists only bob's addresses; " + NOT_YOURS),
    "AssociateAddress": row(
        deny(lambda e: dict(AllocationId=e.a["alloc"], InstanceId=e.b["i"], AllowReassociation=True), NF_ALLOC,
             what="alice's address moved to his instance"),
        deny(lambda e: dict(PublicIp=e.a["ip"], InstanceId=e.b["i"], AllowReassociation=True), NF_ADDR,
             what="alice's address by IP"),
        deny(lambda e: dict(AllocationId=e.b["alloc"], InstanceId=e.a["i"]), NF_I,
             what="his address on alice's instance"),
        why=NOT_YOURS),
    "DisassociateAddress": row(deny(lambda e: dict(AssociationId=e.a["assoc"]), NF_ASSOC),
                               deny(lambda e: dict(PublicIp=e.a["ip"]), NF_ADDR), why=NOT_YOURS),
    "ReleaseAddress": row(deny(lambda e: dict(AllocationId=e.a["alloc"]), NF_ALLOC),
                          deny(lambda e: dict(PublicIp=e.a["ip"]), NF_ADDR), why=NOT_YOURS),
    # ------------------------------------------------------------ tags
    "CreateTags": row(*[deny(lambda e, k=k: dict(Resources=[e.a[k]], Tags=[{"Key": "owner", "Value": "bob"}]), code,
                             what=f"alice's {k}")
                        for k, code in (("i", NF_I), ("ami", NF_AMI), ("vol", NF_VOL), ("snap", NF_SNAP), ("sg", NF_SG))],
                      deny(lambda e: dict(Resources=[e.b["i"], e.a["i"]], Tags=[{"Key": "owner", "Value": "bob"}]), NF_I,
                           what="his instance and alice's"),
                      deny(lambda e: dict(Resources=[e.ami], Tags=[{"Key": "owner", "Value": "bob"}]), UNAUTH,
                           what="the public AMI he may only use"),
                      deny(lambda e: dict(Resources=[DEFAULT_SG], Tags=[{"Key": "owner", "Value": "bob"}]), UNAUTH,
                           what="the default security group he may only use"),
                      why=NOT_YOURS + "; what bob may see but not manage: UnauthorizedOperation"),
    "DeleteTags": row(*[deny(lambda e, k=k: dict(Resources=[e.a[k]], Tags=[{"Key": "owner"}]), code, what=f"alice's {k}")
                        for k, code in (("i", NF_I), ("ami", NF_AMI), ("vol", NF_VOL), ("snap", NF_SNAP), ("sg", NF_SG))],
                      deny(lambda e: dict(Resources=[e.ami], Tags=[{"Key": "owner"}]), UNAUTH,
                           what="the public AMI he may only use"),
                      why=NOT_YOURS + "; what bob may see but not manage: UnauthorizedOperation"),
    "DescribeTags": row(
        allow(lambda e: {}, hides_with_alice_seeing("describe_tags", lambda e: {}, "i", "ami", "vol", "snap", "sg")),
        allow(lambda e: dict(Filters=[{"Name": "resource-id", "Values": [e.a["i"]]}]), hides("i")),
        allow(lambda e: dict(Filters=[{"Name": "value", "Values": ["alice"]}]), hides("i", "ami", "vol", "snap", "sg")),
        why="lists only the tags of bob's resources"),
}


# ----------------------------------------------------------------------------------
# Calling
# ----------------------------------------------------------------------------------


def _method(action: str) -> str:
    return botocore.xform_name(action)


def attempt(client, action: str, kwargs: dict):
    """(True, reply) or (False, code, http status, message)."""
    try:
        return True, getattr(client, _method(action))(**kwargs)
    except ClientError as e:
        err = e.response["Error"]
        return False, err["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], err.get("Message", "")


@pytest.fixture(scope="module")
def ec2w(tmp_path_factory):
    e = build(tmp_path_factory.mktemp("authz-ec2"))
    yield e
    alive = e.cloud.nubod.alive()
    tail = e.cloud.nubod.stderr_tail()
    e.cloud.stop()
    assert alive, f"nubod died during the matrix\n{tail}"


ALL_ACTIONS = sorted(set(actions_in_source()) | set(ROWS))


def params():
    out = []
    for a in ALL_ACTIONS:
        r = ROWS.get(a)
        marks = [pytest.mark.xfail(strict=True, reason=r.xfail)] if r is not None and r.xfail else []
        out.append(pytest.param(a, id=a, marks=marks))
    return out


def test_every_action_has_a_row_and_every_row_an_action():
    actions = actions_in_source()
    assert len(actions) > 40 and len(actions) == len(set(actions)), actions
    missing = sorted(set(actions) - set(ROWS))
    stale = sorted(set(ROWS) - set(actions))
    assert not missing and not stale, f"actions without a row: {missing}; rows for no action: {stale}"


def test_the_world_is_what_the_rows_assume(ec2w):
    e = ec2w
    one = e.cloud.one
    alice_uid = e.users["alice"].uid
    objects = [("vm", e.a["i"][2:]), ("image", e.a["ami"][4:]), ("image", e.a["vol"][4:]),
               ("image", e.a["snap"][5:]), ("secgroup", e.a["sg"][3:]), ("vn", e.a["alloc"][9:])]
    for kind, oid in objects:
        info = one.xml(f"{kind}.info", int(oid))
        assert int(info.findtext("UID")) == alice_uid, (kind, oid)
        p = info.find("PERMISSIONS")
        assert [p.findtext(k) for k in ("GROUP_U", "GROUP_M", "OTHER_U", "OTHER_M")] == ["0"] * 4, (kind, oid)
    # alice sees each of her resources; bob and alice share the group users
    assert e.client("alice").describe_instances(InstanceIds=[e.a["i"]])["Reservations"]
    assert e.client("alice").describe_volumes(VolumeIds=[e.a["vol_attached"]])["Volumes"][0]["State"] == "in-use"
    assert e.client("alice").describe_addresses(AllocationIds=[e.a["alloc"]])["Addresses"][0]["InstanceId"] == e.a["i"]
    for n in ("alice", "bob"):
        assert int(one.xml("user.info", e.users[n].uid).findtext("GID")) == 1
    assert snapshot(e.w) == snapshot(e.w)


def _bad_clients(e: Ec2World):
    bob = e.users["bob"]
    dave = e.users["dave"]
    return {
        "wrong secret": (e.cloud.client(akid=bob.access_key_id, secret="x" * 40), "AuthFailure"),
        "unknown key": (e.cloud.client(akid="NUBO" + "A" * 16, secret=bob.secret), "AuthFailure"),
        "disabled user's key": (e.cloud.client(dave), "AuthFailure"),
        "signature v2, wrong secret": (e.cloud.client(akid=bob.access_key_id, secret="y" * 40,
                                                      signature_version="v2"), "AuthFailure"),
    }


@pytest.mark.parametrize("action", params())
def test_unauthenticated(ec2w, action):
    r = ROWS.get(action)
    assert r is not None, f"{action} is in ACTIONS but has no row"
    e = ec2w
    kwargs = r.calls[0].kwargs(e)
    before = snapshot(e.w)
    for name, (client, code) in _bad_clients(e).items():
        got = attempt(client, action, kwargs)
        assert not got[0], f"{action} ({name}) succeeded: {str(got[1])[:300]}"
        assert (got[1], got[2]) == (code, 401), f"{action} ({name}): {got}"
    resp = requests.post(e.cloud.url + "/", data={"Action": action, "Version": "2016-11-15"}, timeout=30)
    assert resp.status_code == 401, resp.text
    assert ET.fromstring(resp.content).findtext("Errors/Error/Code") == "MissingAuthenticationToken", resp.text
    changed = diff_snapshots(before, snapshot(e.w))
    assert not changed, f"{action} unauthenticated changed the cloud:\n" + "\n".join(changed)


@pytest.mark.parametrize("action", params())
def test_refused(ec2w, action):
    r = ROWS.get(action)
    assert r is not None, f"{action} is in ACTIONS but has no row"
    e = ec2w
    failures = []
    for call in r.calls:
        kwargs = call.kwargs(e)
        label = f"{action}({kwargs!r}) by {call.who}" + (f" ({call.what})" if call.what else "")
        before = snapshot(e.w)
        got = attempt(e.client(call.who), action, kwargs)
        if call.expect is OK:
            if not got[0]:
                failures.append(f"{label}: expected success, got {got[1:]}")
            else:
                try:
                    if call.check is not None:
                        call.check(e, got[1])
                except AssertionError as x:
                    failures.append(f"{label}: {x}")
                if call.undo is not None:
                    # Only bob's own account may have changed; then it is undone.
                    mid = snapshot(e.w)
                    changed = [k for k in before if before[k] != mid[k]]
                    bobs = {"one.userpool.info()", f"one.user.info({e.w.bob.id},)"}
                    if not set(changed) <= bobs:
                        failures.append(f"{label} changed more than bob's account:\n"
                                        + "\n".join(diff_snapshots({k: before[k] for k in changed if k not in bobs},
                                                                   {k: mid[k] for k in changed if k not in bobs})))
                    call.undo(e, got[1])
        elif got[0]:
            failures.append(f"{label}: SUCCEEDED ({str(got[1])[:300]}); expected {sorted(call.expect)}")
        elif got[1] not in call.expect:
            failures.append(f"{label}: {got[1]} (HTTP {got[2]}: {got[3]}); expected {sorted(call.expect)}")
        changed = diff_snapshots(before, snapshot(e.w))
        if changed:
            failures.append(f"{label} changed the cloud:\n" + "\n".join(changed))
    assert not failures, "\n".join(failures)
