"""The EC2 Query API driven by real boto3 and the aws CLI against nubod, on simulated
hosts: access keys (nubo CLI and XML-RPC), signatures (V4 header and presigned, V2), every
instance action with waiters, filters and pagination, key pairs, images, tags, errors in
EC2's form, permissions and quotas, and instances seen as the same VMs through pyone."""

from __future__ import annotations

import base64
import datetime
import json
import subprocess
from unittest import mock

import botocore.auth
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from ec2helpers import REGION, Ec2Cloud
from onehelpers import connect, raw_call, tmpl, uniq, wait_for

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILgIoeCyNSpzVW3WVr1piQmp+zzx/wtufMLVXGe6ogW6 me@host"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    c = Ec2Cloud(tmp_path_factory.mktemp("ec2"))
    yield c
    alive = c.nubod.alive()
    tail = c.nubod.stderr_tail()
    c.stop()
    assert alive, f"nubod died\n{tail}"


@pytest.fixture(scope="module")
def alice(cloud):
    return cloud.user()


@pytest.fixture(scope="module")
def ec2(cloud, alice):
    return cloud.client(alice)


def code_of(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value.response["Error"]["Code"]


def ami(cloud) -> str:
    return f"ami-{cloud.image:08d}"


def states(ec2, ids):
    r = ec2.describe_instances(InstanceIds=ids)
    return {i["InstanceId"]: i["State"]["Name"] for res in r["Reservations"] for i in res["Instances"]}


def run(ec2, cloud, n=1, **kw):
    r = ec2.run_instances(ImageId=ami(cloud), MinCount=n, MaxCount=n,
                          InstanceType=kw.pop("InstanceType", "m1.small"), **kw)
    return r, [i["InstanceId"] for i in r["Instances"]]


def fast(ec2, waiter, ids):
    ec2.get_waiter(waiter).wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def signed(cloud, user, body: str, *, region=REGION, when=None, secret=None) -> requests.Response:
    """POSTs `body` signed with SigV4 by botocore's own signer (at `when`, if given)."""
    req = AWSRequest(method="POST", url=cloud.url + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    creds = Credentials(user.access_key_id, secret or user.secret)
    if when is None:
        botocore.auth.SigV4Auth(creds, "ec2", region).add_auth(req)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            botocore.auth.SigV4Auth(creds, "ec2", region).add_auth(req)
    return requests.post(cloud.url + "/", data=body, headers=dict(req.headers), timeout=30)


def error_code(resp: requests.Response) -> str:
    import xml.etree.ElementTree as ET
    root = ET.fromstring(resp.content)
    assert root.tag == "Response", resp.text
    assert root.findtext("RequestID"), resp.text
    assert resp.headers.get("x-amzn-RequestId") == root.findtext("RequestID")
    return root.findtext("Errors/Error/Code")


# ---------------------------------------------------------------- access keys


def test_access_keys_with_the_cli_and_xmlrpc(cloud, alice):
    session = f"{alice.name}:{alice.password}"
    listed = json.loads(cloud.nubo(session, "ec2-key", "list", "--json").stdout)
    assert alice.access_key_id in json.dumps(listed)
    assert alice.secret not in json.dumps(listed)
    # Human output of create prints both, once.
    second = cloud.nubo(session, "ec2-key", "create").stdout
    assert "ACCESS_KEY_ID" in second and "SECRET_ACCESS_KEY" in second
    second_id = second.split()[1]
    # Two keys at most.
    third = cloud.nubo(session, "ec2-key", "create", check=False)
    assert third.returncode != 0 and "2 EC2 access keys" in third.stderr
    # XML-RPC: list, delete.
    ret = raw_call(cloud.nubod.endpoint, "one.user.ec2keyinfo", session, -1)
    assert ret[0] is True and second_id in ret[1] and alice.access_key_id in ret[1]
    ret = raw_call(cloud.nubod.endpoint, "one.user.ec2keydelete", session, -1, second_id)
    assert ret[0] is True
    ret = raw_call(cloud.nubod.endpoint, "one.user.ec2keydelete", session, -1, second_id)
    assert ret[0] is False and "no EC2 access key" in ret[1]
    # A deleted key signs nothing.
    gone = cloud.client(akid=second_id, secret="x" * 40)
    assert code_of(gone.describe_regions) == "AuthFailure"
    # Another user can neither list nor make keys for alice; oneadmin can.
    bob = cloud.user()
    ret = raw_call(cloud.nubod.endpoint, "one.user.ec2keyinfo", f"{bob.name}:{bob.password}", alice.uid)
    assert ret[0] is False and "Not authorized" in ret[1]
    made = cloud.nubo(cloud.nubod.admin_session, "ec2-key", "create", "--owner", alice.name, "--json")
    made_id = json.loads(made.stdout)["EC2_KEY"]["ACCESS_KEY_ID"]
    cloud.nubo(cloud.nubod.admin_session, "ec2-key", "delete", made_id, "--owner", str(alice.uid))


def test_secrets_are_not_in_the_database(cloud, alice):
    if cloud.nubod.db is None:
        data = b"".join(p.read_bytes() for p in (cloud.nubod.tmp / "data").glob("nubo.db*"))
    else:
        data = subprocess.run(["pg_dump", cloud.nubod.db.url], capture_output=True,
                              check=True).stdout
    assert alice.access_key_id.encode() in data
    assert alice.secret.encode() not in data


# ---------------------------------------------------------------- signatures


def test_signatures_v4_presigned_and_v2(cloud, alice, ec2):
    assert ec2.describe_regions()["Regions"][0]["RegionName"] == REGION
    url = ec2.generate_presigned_url("describe_regions", HttpMethod="GET", ExpiresIn=60)
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and "<regionName>nubo</regionName>" in r.text
    tampered = url.replace("DescribeRegions", "DescribeImages")
    assert error_code(requests.get(tampered, timeout=30)) == "AuthFailure"
    v2 = cloud.client(alice, signature_version="v2")
    assert v2.describe_regions()["Regions"][0]["RegionName"] == REGION
    bad_v2 = cloud.client(akid=alice.access_key_id, secret="wrong", signature_version="v2")
    assert code_of(bad_v2.describe_regions) == "AuthFailure"


def test_bad_requests_get_ec2_errors_and_change_nothing(cloud, alice, ec2):
    before = len(states(ec2, []) or {})
    wrong_secret = cloud.client(akid=alice.access_key_id, secret="not-the-secret")
    assert code_of(wrong_secret.describe_instances) == "AuthFailure"
    unknown = cloud.client(akid="NUBOAAAAAAAAAAAAAAAA", secret="x")
    assert code_of(unknown.describe_instances) == "AuthFailure"
    elsewhere = cloud.client(alice, region="us-east-1")
    assert code_of(elsewhere.describe_instances) == "AuthFailure"
    # Unsigned.
    r = requests.post(cloud.url + "/", data="Action=DescribeRegions&Version=2016-11-15", timeout=30)
    assert r.status_code == 401 and error_code(r) == "MissingAuthenticationToken"
    # Signed 20 minutes ago, and 20 minutes ahead.
    for minutes in (-20, 20):
        when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
        r = signed(cloud, alice, "Action=DescribeRegions&Version=2016-11-15",
                   when=when.replace(tzinfo=None))
        assert r.status_code == 400 and error_code(r) == "RequestExpired"
    # Signed now, but the body changed after signing.
    req = AWSRequest(method="POST", url=cloud.url + "/", data="Action=DescribeRegions&Version=2016-11-15",
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(Credentials(alice.access_key_id, alice.secret), "ec2", REGION).add_auth(req)
    r = requests.post(cloud.url + "/", headers=dict(req.headers), timeout=30,
                      data=f"Action=RunInstances&Version=2016-11-15&ImageId={ami(cloud)}&MinCount=1&MaxCount=1")
    assert r.status_code == 401 and error_code(r) == "AuthFailure"
    # SigV2 with odd timestamps: refused, never a crash; Expires far ahead is refused too.
    for stamp in ("2026-11-23T05:22:5\u00e9", "2026-11-23T05:22:50+9999999999999999:00"):
        r = requests.post(cloud.url + "/", timeout=30, data={
            "Action": "DescribeRegions", "AWSAccessKeyId": alice.access_key_id, "SignatureVersion": "2",
            "SignatureMethod": "HmacSHA256", "Timestamp": stamp, "Signature": "AAAA"})
        assert r.status_code == 400 and error_code(r) == "InvalidParameterValue", r.text
    far = requests.post(cloud.url + "/", timeout=30, data={
        "Action": "DescribeRegions", "AWSAccessKeyId": alice.access_key_id, "SignatureVersion": "2",
        "SignatureMethod": "HmacSHA256", "Expires": "2099-01-01T00:00:00Z", "Signature": "AAAA"})
    assert error_code(far) == "RequestExpired"
    # Unknown and missing actions, malformed and missing parameters.
    r = signed(cloud, alice, "Action=LaunchRockets&Version=2016-11-15")
    assert r.status_code == 400 and error_code(r) == "InvalidAction"
    r = signed(cloud, alice, "Version=2016-11-15")
    assert r.status_code == 400 and error_code(r) == "MissingAction"
    r = signed(cloud, alice, f"Action=RunInstances&Version=2016-11-15&ImageId={ami(cloud)}&MinCount=x&MaxCount=1")
    assert error_code(r) == "InvalidParameterValue"
    loose = cloud.client(alice, parameter_validation=False)
    assert code_of(loose.run_instances, ImageId=ami(cloud), MaxCount=1) == "MissingParameter"
    assert code_of(loose.run_instances, MinCount=1, MaxCount=1) == "MissingParameter"
    assert code_of(ec2.run_instances, ImageId=ami(cloud), MinCount=1, MaxCount=1,
                   InstanceType="m1.small", UserData="x" * 17000) == "InvalidParameterValue"
    r = signed(cloud, alice, "Action=DescribeInstances&Version=2016-11-15&Filter.1.Value.1=x")
    assert error_code(r) == "MissingParameter"
    # Oversized body.
    r = requests.post(cloud.url + "/", data=b"Action=DescribeRegions&X=" + b"a" * (2 * 1024 * 1024),
                      timeout=30)
    assert r.status_code == 413 and error_code(r) == "RequestEntityTooLarge"
    # Dry runs change nothing.
    assert code_of(ec2.run_instances, ImageId=ami(cloud), MinCount=1, MaxCount=1,
                   InstanceType="m1.small", DryRun=True) == "DryRunOperation"
    assert len(states(ec2, []) or {}) == before
    # The listener still serves.
    assert ec2.describe_regions()["Regions"]


# ---------------------------------------------------------------- regions, types, account


def test_regions_zones_account_and_instance_types(cloud, ec2):
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert "default" in [z["ZoneName"] for z in zones]
    assert all(z["RegionName"] == REGION and z["State"] == "available" for z in zones)
    assert code_of(ec2.describe_availability_zones, ZoneNames=["nowhere"]) == "InvalidParameterValue"
    assert code_of(ec2.describe_regions, RegionNames=["mars-1"]) == "InvalidParameterValue"
    attrs = {a["AttributeName"]: a["AttributeValues"][0]["AttributeValue"]
             for a in ec2.describe_account_attributes()["AccountAttributes"]}
    assert attrs["supported-platforms"] == "VPC" and "max-instances" in attrs
    types = {t["InstanceType"]: t for t in ec2.describe_instance_types()["InstanceTypes"]}
    assert types["m1.small"]["MemoryInfo"]["SizeInMiB"] == 128
    assert types["m1.large"]["VCpuInfo"]["DefaultVCpus"] == 2
    assert types["m1.large"]["ProcessorInfo"]["SupportedArchitectures"] == ["x86_64"]
    only = ec2.describe_instance_types(Filters=[{"Name": "memory-info.size-in-mib", "Values": ["1024"]}])
    assert [t["InstanceType"] for t in only["InstanceTypes"]] == ["m1.large"]
    assert code_of(ec2.describe_instance_types, InstanceTypes=["x9.huge"]) == "InvalidInstanceType"


# ---------------------------------------------------------------- instances


def test_instance_life_cycle_with_waiters_and_pyone(cloud, alice, ec2):
    ec2.import_key_pair(KeyName="lc-key", PublicKeyMaterial=ED25519.encode())
    token = uniq("tok")
    launch = dict(KeyName="lc-key", UserData="#!/bin/sh\necho hi\n", ClientToken=token,
                  TagSpecifications=[{"ResourceType": "instance",
                                      "Tags": [{"Key": "Name", "Value": "web"},
                                               {"Key": "tier", "Value": "front"}]}])
    r, ids = run(ec2, cloud, 2, **launch)
    assert len(ids) == 2 and r["ReservationId"].startswith("r-")
    assert r["OwnerId"] == f"{alice.uid:012d}"
    assert {i["State"]["Name"] for i in r["Instances"]} <= {"pending", "running"}
    assert [i["AmiLaunchIndex"] for i in r["Instances"]] == [0, 1]
    # The same client token is the same launch; with other parameters, a mistake.
    again, again_ids = run(ec2, cloud, 2, **launch)
    assert again_ids == ids and again["ReservationId"] == r["ReservationId"]
    assert code_of(ec2.run_instances, ImageId=ami(cloud), MinCount=2, MaxCount=2,
                   InstanceType="m1.large", **launch) == "IdempotentParameterMismatch"
    fast(ec2, "instance_running", ids)
    desc = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    assert len(desc) == 1 and desc[0]["ReservationId"] == r["ReservationId"]
    inst = desc[0]["Instances"][0]
    assert inst["KeyName"] == "lc-key" and inst["InstanceType"] == "m1.small"
    assert inst["ImageId"] == ami(cloud) and inst["PrivateIpAddress"].startswith("10.77.0.")
    assert inst["State"] == {"Code": 16, "Name": "running"}
    assert {"Key": "Name", "Value": "web"} in inst["Tags"] and inst["ClientToken"] == token
    assert inst["Placement"]["AvailabilityZone"] == "default"
    # pyone sees the same VM.
    vid = int(ids[0].split("-")[1])
    vm = cloud.one.xml("vm.info", vid)
    assert vm.findtext("NAME") == "web" and vm.findtext("UID") == str(alice.uid)
    assert vm.findtext("STATE") == "3" and vm.findtext("LCM_STATE") == "3"
    assert vm.findtext("TEMPLATE/CONTEXT/SSH_PUBLIC_KEY").startswith("ssh-ed25519 AAAA")
    assert base64.b64decode(vm.findtext("TEMPLATE/CONTEXT/USER_DATA")) == b"#!/bin/sh\necho hi\n"
    assert vm.findtext("TEMPLATE/CONTEXT/USER_DATA_ENCODING") == "base64"
    assert json.loads(vm.findtext("TEMPLATE/CONTEXT/EC2_TAGS")) == {"Name": "web", "tier": "front"}
    assert vm.findtext("TEMPLATE/CONTEXT/EC2_KEY_NAME") == "lc-key"
    assert vm.findtext("TEMPLATE/DISK/IMAGE_ID") == str(cloud.image)
    assert tmpl(vm, "EC2_CLIENT_TOKEN", "USER_TEMPLATE") == token
    # Status.
    st = ec2.describe_instance_status(InstanceIds=ids)["InstanceStatuses"]
    assert {s["InstanceStatus"]["Status"] for s in st} == {"ok"}
    # Stop, start, reboot.
    stopping = ec2.stop_instances(InstanceIds=[ids[0]])["StoppingInstances"][0]
    assert stopping["PreviousState"]["Name"] == "running"
    assert stopping["CurrentState"]["Name"] in ("stopping", "stopped")
    fast(ec2, "instance_stopped", [ids[0]])
    assert cloud.one.vm.info(vid).STATE == 8  # POWEROFF
    assert code_of(ec2.reboot_instances, InstanceIds=[ids[0]]) == "IncorrectInstanceState"
    assert ec2.describe_instance_status(InstanceIds=[ids[0]])["InstanceStatuses"] == []
    every = ec2.describe_instance_status(InstanceIds=[ids[0]], IncludeAllInstances=True)
    assert every["InstanceStatuses"][0]["InstanceState"]["Name"] == "stopped"
    started = ec2.start_instances(InstanceIds=[ids[0]])["StartingInstances"][0]
    assert started["PreviousState"]["Name"] == "stopped"
    fast(ec2, "instance_running", [ids[0]])
    ec2.reboot_instances(InstanceIds=ids)
    # Simulated guests print nothing: EC2's answer without output.
    out = ec2.get_console_output(InstanceId=ids[0])
    assert out["InstanceId"] == ids[0] and "Output" not in out and out["Timestamp"].year >= 2026
    assert code_of(ec2.get_console_output, InstanceId="i-99999999") == "InvalidInstanceID.NotFound"
    assert code_of(cloud.client(cloud.user()).get_console_output, InstanceId=ids[0]) == "InvalidInstanceID.NotFound"
    # Terminate; terminated instances stay visible.
    gone = ec2.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
    assert {g["PreviousState"]["Name"] for g in gone} == {"running"}
    fast(ec2, "instance_terminated", ids)
    assert set(states(ec2, ids).values()) == {"terminated"}
    assert cloud.one.vm.info(vid).STATE == 6  # DONE
    assert code_of(ec2.start_instances, InstanceIds=[ids[0]]) == "IncorrectInstanceState"
    # Terminating again is harmless.
    assert ec2.terminate_instances(InstanceIds=[ids[0]])["TerminatingInstances"][0]["CurrentState"]["Name"] == "terminated"


def test_describe_filters_pagination_and_unknown_ids(cloud, ec2):
    _, ids = run(ec2, cloud, 6, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "batch", "Value": "pages"}]}])
    mine = [{"Name": "tag:batch", "Values": ["pages"]}]
    found = ec2.describe_instances(Filters=mine)["Reservations"][0]["Instances"]
    assert sorted(i["InstanceId"] for i in found) == sorted(ids)
    paged = []
    for page in ec2.get_paginator("describe_instances").paginate(Filters=mine, PaginationConfig={"PageSize": 5}):
        paged += [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
    assert sorted(paged) == sorted(ids)
    first = ec2.describe_instances(Filters=mine, MaxResults=5)
    assert "NextToken" in first
    assert code_of(ec2.describe_instances, NextToken="bogus") == "InvalidPaginationToken"
    assert code_of(ec2.describe_instances, InstanceIds=ids[:1], MaxResults=5) == "InvalidParameterCombination"
    wild = ec2.describe_instances(Filters=[{"Name": "tag:batch", "Values": ["pa*"]},
                                           {"Name": "instance-state-code", "Values": ["0", "16"]}])
    assert len([i for r in wild["Reservations"] for i in r["Instances"]]) == 6
    none = ec2.describe_instances(Filters=mine + [{"Name": "instance-type", "Values": ["m1.large"]}])
    assert none["Reservations"] == []
    assert code_of(ec2.describe_instances, Filters=[{"Name": "colour", "Values": ["red"]}]) == "InvalidParameterValue"
    assert code_of(ec2.describe_instances, InstanceIds=[ids[0], "i-99999999"]) == "InvalidInstanceID.NotFound"
    assert code_of(ec2.describe_instances, InstanceIds=["i-zz"]) == "InvalidInstanceID.Malformed"
    assert code_of(ec2.terminate_instances, InstanceIds=["i-99999999"]) == "InvalidInstanceID.NotFound"
    assert code_of(ec2.run_instances, ImageId="ami-99999999", MinCount=1, MaxCount=1) == "InvalidAMIID.NotFound"
    assert code_of(ec2.run_instances, ImageId=ami(cloud), MinCount=1, MaxCount=1,
                   InstanceType="x9.huge") == "InvalidInstanceType"
    assert code_of(ec2.run_instances, ImageId=ami(cloud), MinCount=1, MaxCount=1,
                   KeyName="no-such-key") == "InvalidKeyPair.NotFound"
    ec2.terminate_instances(InstanceIds=ids)


def test_placement_and_security_groups(cloud, ec2, alice):
    sg = cloud.one.secgroup.allocate(f'NAME="{uniq("web")}"\nRULE=[PROTOCOL="TCP",RULE_TYPE="inbound",RANGE="80"]')
    cloud.one.secgroup.chmod(sg, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    _, ids = run(ec2, cloud, 1, SecurityGroupIds=[f"sg-{sg:08d}"],
                 Placement={"AvailabilityZone": "default"})
    inst = ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"][0]
    assert f"sg-{sg:08d}" in [g["GroupId"] for g in inst["SecurityGroups"]]
    vm = cloud.one.xml("vm.info", int(ids[0][2:]))
    assert str(sg) in vm.findtext("TEMPLATE/NIC/SECURITY_GROUPS").split(",")
    assert "CLUSTER_ID = 0" in tmpl(vm, "SCHED_REQUIREMENTS", "USER_TEMPLATE")
    assert code_of(ec2.run_instances, ImageId=ami(cloud), MinCount=1, MaxCount=1,
                   SecurityGroupIds=["sg-99999999"]) == "InvalidGroup.NotFound"
    assert code_of(ec2.run_instances, ImageId=ami(cloud), MinCount=1, MaxCount=1,
                   Placement={"AvailabilityZone": "nowhere"}) == "InvalidParameterValue"
    ec2.terminate_instances(InstanceIds=ids)


def test_users_are_bound_by_their_permissions_and_quotas(cloud, ec2):
    bob = cloud.user()
    theirs = cloud.client(bob)
    _, ids = run(ec2, cloud, 1)
    assert code_of(theirs.describe_instances, InstanceIds=ids) == "InvalidInstanceID.NotFound"
    assert code_of(theirs.terminate_instances, InstanceIds=ids) == "InvalidInstanceID.NotFound"
    assert ids[0] not in json.dumps(theirs.describe_instances(), default=str)
    cloud.one.user.quota(bob.uid, 'VM=[VMS="2"]')
    # MaxCount above the quota launches what fits; MinCount above it launches nothing.
    assert code_of(theirs.run_instances, ImageId=ami(cloud), MinCount=3, MaxCount=3,
                   InstanceType="m1.small") == "InstanceLimitExceeded"
    _, got = run(theirs, cloud, 1)
    r = theirs.run_instances(ImageId=ami(cloud), MinCount=1, MaxCount=5, InstanceType="m1.small")
    assert len(got) + len(r["Instances"]) == 2
    attrs = {a["AttributeName"]: a["AttributeValues"][0]["AttributeValue"]
             for a in theirs.describe_account_attributes()["AccountAttributes"]}
    assert attrs["max-instances"] == "2"
    # A disabled user's keys sign nothing.
    cloud.one.user.enable(bob.uid, False)
    assert code_of(theirs.describe_instances) == "AuthFailure"
    cloud.one.user.enable(bob.uid, True)
    theirs.terminate_instances(InstanceIds=got + [i["InstanceId"] for i in r["Instances"]])
    ec2.terminate_instances(InstanceIds=ids)


# ---------------------------------------------------------------- key pairs


def test_key_pairs(cloud, alice, ec2, tmp_path):
    name = uniq("kp")
    made = ec2.import_key_pair(KeyName=name, PublicKeyMaterial=ED25519.encode())
    assert made["KeyFingerprint"] == "imYPMgwft2JwMvJlfEzT+3fABKQeN5vGGj0gRZB0sbo="
    assert made["KeyPairId"].startswith("key-")
    assert code_of(ec2.import_key_pair, KeyName=name, PublicKeyMaterial=ED25519.encode()) == "InvalidKeyPair.Duplicate"
    assert code_of(ec2.import_key_pair, KeyName=uniq("kp"), PublicKeyMaterial=b"ssh-rsa nonsense") == "InvalidKeyPair.Format"
    pairs = ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"]
    assert pairs[0]["KeyType"] == "ed25519" and pairs[0]["PublicKey"].startswith("ssh-ed25519 ")
    assert ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [name]}])["KeyPairs"][0]["KeyPairId"] == made["KeyPairId"]
    assert code_of(ec2.describe_key_pairs, KeyNames=["missing"]) == "InvalidKeyPair.NotFound"
    # The aws CLI imports from a file, as users do.
    pub = tmp_path / "id.pub"
    pub.write_text(ED25519 + "\n")
    cli_name = uniq("clikp")
    out = json.loads(cloud.aws(alice, "import-key-pair", "--key-name", cli_name,
                               "--public-key-material", f"fileb://{pub}").stdout)
    assert out["KeyName"] == cli_name
    # Created pairs: the private key comes back once; its fingerprint is AWS's (SHA-1 of
    # the PKCS#8 DER), and it matches the public key nubod keeps.
    for kind in ("rsa", "ed25519"):
        made_name = uniq(kind)
        made = ec2.create_key_pair(KeyName=made_name, KeyType=kind)
        pem = tmp_path / made_name
        pem.write_text(made["KeyMaterial"])
        pem.chmod(0o600)
        derived = subprocess.run(["ssh-keygen", "-y", "-f", str(pem)], capture_output=True, text=True,
                                 check=True).stdout.split()[:2]
        stored = ec2.describe_key_pairs(KeyNames=[made_name], IncludePublicKey=True)["KeyPairs"][0]
        assert stored["PublicKey"].split()[:2] == derived and stored["KeyType"] == kind
        assert "KeyMaterial" not in stored
        if kind == "rsa":
            assert made["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----")
            der = subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", str(pem), "-outform", "DER"],
                                 capture_output=True, check=True).stdout
            import hashlib
            want = ":".join(f"{b:02x}" for b in hashlib.sha1(der).digest())
            assert made["KeyFingerprint"] == want
        ec2.delete_key_pair(KeyName=made_name)
    assert code_of(ec2.create_key_pair, KeyName=name) == "InvalidKeyPair.Duplicate"
    # Key pairs are per user.
    bob = cloud.user()
    assert cloud.client(bob).describe_key_pairs()["KeyPairs"] == []
    assert ec2.delete_key_pair(KeyName=name)["Return"] is True
    assert ec2.delete_key_pair(KeyName=name)["Return"] is True
    assert code_of(ec2.describe_key_pairs, KeyNames=[name]) == "InvalidKeyPair.NotFound"
    ec2.delete_key_pair(KeyPairId=ec2.describe_key_pairs(KeyNames=[cli_name])["KeyPairs"][0]["KeyPairId"])


# ---------------------------------------------------------------- images and tags


def test_images(cloud, alice, ec2, tmp_path):
    images = ec2.describe_images()["Images"]
    shared = [i for i in images if i["ImageId"] == ami(cloud)]
    assert shared and shared[0]["State"] == "available" and shared[0]["OwnerId"] == "000000000000"
    assert ec2.describe_images(Owners=["self"])["Images"] == [] or \
        all(i["OwnerId"] == f"{alice.uid:012d}" for i in ec2.describe_images(Owners=["self"])["Images"])
    assert code_of(ec2.describe_images, ImageIds=["ami-99999999"]) == "InvalidAMIID.NotFound"
    assert code_of(ec2.describe_images, ImageIds=["vol-1"]) == "InvalidAMIID.Malformed"
    # Users register images from URLs only; oneadmin may name a path, but never one of
    # nubod's own files (its data directory holds host.key, which seals the EC2 secrets).
    assert code_of(ec2.register_image, Name=uniq("mine"), ImageLocation=str(tmp_path)) == "InvalidParameterValue"
    admin_akid, admin_secret = cloud.new_key(cloud.nubod.admin_session)
    admin = cloud.client(akid=admin_akid, secret=admin_secret)
    host_key = cloud.nubod.tmp / "data" / "host.key"
    assert code_of(admin.register_image, Name=uniq("key"), ImageLocation=str(host_key)) == "InvalidParameterValue"
    disk = tmp_path / "reg.img"
    disk.write_bytes(b"\1" * 1024 * 1024)
    name = uniq("reg")
    made = admin.register_image(Name=name, ImageLocation=str(disk), Description="registered",
                                TagSpecifications=[{"ResourceType": "image",
                                                    "Tags": [{"Key": "os", "Value": "busybox"}]}])
    iid = made["ImageId"]
    img = admin.describe_images(ImageIds=[iid])["Images"][0]
    assert img["Name"] == name and img["Description"] == "registered"
    assert {"Key": "os", "Value": "busybox"} in img["Tags"]
    assert admin.describe_images(Filters=[{"Name": "name", "Values": [name]}])["Images"][0]["ImageId"] == iid
    loose = cloud.client(akid=admin_akid, secret=admin_secret, parameter_validation=False)
    assert code_of(loose.register_image, Name="ab", ImageLocation=str(disk)) == "InvalidParameterValue"
    # pyone sees the image.
    assert cloud.one.image.info(int(iid[4:])).NAME == name
    assert admin.deregister_image(ImageId=iid)["Return"] is True
    wait_for(lambda: iid not in json.dumps(admin.describe_images(), default=str), what="image gone")
    assert code_of(admin.deregister_image, ImageId=iid) == "InvalidAMIID.NotFound"


def test_tags(cloud, alice, ec2):
    _, ids = run(ec2, cloud, 1)
    ec2.create_tags(Resources=ids, Tags=[{"Key": "env", "Value": "test"}, {"Key": "owner", "Value": "alice"}])
    got = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": ids}])["Tags"]
    assert {(t["Key"], t["Value"], t["ResourceType"]) for t in got} == {
        ("env", "test", "instance"), ("owner", "alice", "instance")}
    assert tmpl(cloud.one.xml("vm.info", int(ids[0][2:])), "EC2_TAG", "USER_TEMPLATE") is not None
    found = ec2.describe_instances(Filters=[{"Name": "tag:env", "Values": ["test"]}])["Reservations"]
    assert ids[0] in [i["InstanceId"] for r in found for i in r["Instances"]]
    ec2.delete_tags(Resources=ids, Tags=[{"Key": "env", "Value": "other"}])
    assert len(ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": ids}])["Tags"]) == 2
    ec2.delete_tags(Resources=ids, Tags=[{"Key": "env"}])
    left = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": ids}])["Tags"]
    assert [t["Key"] for t in left] == ["owner"]
    assert code_of(ec2.create_tags, Resources=["i-99999999"], Tags=[{"Key": "a", "Value": "b"}]) == "InvalidInstanceID.NotFound"
    assert code_of(ec2.create_tags, Resources=ids, Tags=[{"Key": "aws:x", "Value": "b"}]) == "InvalidParameterValue"
    many = [{"Key": f"k{n}", "Value": "v"} for n in range(50)]
    assert code_of(ec2.create_tags, Resources=ids, Tags=many) == "TagLimitExceeded"
    bob = cloud.client(cloud.user())
    assert code_of(bob.create_tags, Resources=ids, Tags=[{"Key": "a", "Value": "b"}]) == "InvalidInstanceID.NotFound"
    ec2.terminate_instances(InstanceIds=ids)


# ---------------------------------------------------------------- the aws CLI


def test_the_aws_cli_runs_waits_and_terminates(cloud, alice):
    out = json.loads(cloud.aws(
        alice, "run-instances", "--image-id", ami(cloud), "--count", "1",
        "--instance-type", "m1.small", "--user-data", "hello",
        "--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=cli}]").stdout)
    iid = out["Instances"][0]["InstanceId"]
    cloud.aws(alice, "wait", "instance-running", "--instance-ids", iid)
    listed = json.loads(cloud.aws(
        alice, "describe-instances", "--filters", "Name=tag:Name,Values=cli",
        "Name=instance-state-name,Values=pending,running").stdout)
    assert [i["InstanceId"] for r in listed["Reservations"] for i in r["Instances"]] == [iid]
    bad = cloud.aws(alice, "describe-instances", "--instance-ids", "i-99999999", check=False)
    assert bad.returncode != 0 and "InvalidInstanceID.NotFound" in bad.stderr
    console = json.loads(cloud.aws(alice, "get-console-output", "--instance-id", iid).stdout)
    assert console["InstanceId"] == iid
    cloud.aws(alice, "terminate-instances", "--instance-ids", iid)
    cloud.aws(alice, "wait", "instance-terminated", "--instance-ids", iid)


def test_instance_attributes_and_type_changes(cloud, alice, ec2):
    _, ids = run(ec2, cloud, 1, UserData="hello")
    iid, vid = ids[0], int(ids[0][2:])
    fast(ec2, "instance_running", ids)

    def attr(name):
        return ec2.describe_instance_attribute(InstanceId=iid, Attribute=name)

    assert attr("instanceType")["InstanceType"]["Value"] == "m1.small"
    assert base64.b64decode(attr("userData")["UserData"]["Value"]) == b"hello"
    assert attr("rootDeviceName")["RootDeviceName"]["Value"] == "/dev/vda"
    assert attr("disableApiTermination")["DisableApiTermination"]["Value"] is False
    assert attr("blockDeviceMapping")["BlockDeviceMappings"][0]["DeviceName"] == "/dev/vda"
    assert "Groups" in attr("groupSet")
    assert code_of(ec2.describe_instance_attribute, InstanceId=iid, Attribute="sriovNetSupport") == "UnsupportedOperation"
    assert code_of(ec2.describe_instance_attribute, InstanceId=iid, Attribute="colour") == "InvalidParameterValue"
    assert code_of(ec2.describe_instance_attribute, InstanceId="i-99999999",
                   Attribute="instanceType") == "InvalidInstanceID.NotFound"
    # The type changes only while the instance is stopped, as on EC2.
    large = {"Value": "m1.large"}
    assert code_of(ec2.modify_instance_attribute, InstanceId=iid, InstanceType=large) == "IncorrectInstanceState"
    ec2.stop_instances(InstanceIds=ids)
    fast(ec2, "instance_stopped", ids)
    assert code_of(ec2.modify_instance_attribute, InstanceId=iid,
                   InstanceType={"Value": "x9.huge"}) == "InvalidInstanceType"
    assert code_of(ec2.modify_instance_attribute, InstanceId=iid,
                   SourceDestCheck={"Value": True}) == "UnsupportedOperation"
    assert code_of(ec2.modify_instance_attribute, InstanceId=iid, InstanceType=large,
                   UserData={"Value": b"x"}) == "InvalidParameterCombination"
    assert code_of(ec2.modify_instance_attribute, InstanceId=iid, InstanceType=large,
                   DryRun=True) == "DryRunOperation"
    assert cloud.one.vm.info(vid).TEMPLATE["MEMORY"] == "128"
    bob = cloud.client(cloud.user())
    assert code_of(bob.modify_instance_attribute, InstanceId=iid, InstanceType=large) == "InvalidInstanceID.NotFound"
    ec2.modify_instance_attribute(InstanceId=iid, InstanceType=large)
    assert attr("instanceType")["InstanceType"]["Value"] == "m1.large"
    inst = ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"][0]
    assert inst["InstanceType"] == "m1.large"
    # pyone: the VM has the new type's size.
    vm = cloud.one.vm.info(vid).TEMPLATE
    assert (vm["CPU"], vm["VCPU"], vm["MEMORY"]) == ("2", "2", "1024"), vm
    # The aws CLI, back again; then the instance starts with it.
    cloud.aws(alice, "modify-instance-attribute", "--instance-id", iid, "--instance-type", "Value=m1.small")
    out = json.loads(cloud.aws(alice, "describe-instance-attribute", "--instance-id", iid,
                               "--attribute", "instanceType").stdout)
    assert out["InstanceType"]["Value"] == "m1.small"
    assert cloud.one.vm.info(vid).TEMPLATE["MEMORY"] == "128"
    ec2.start_instances(InstanceIds=ids)
    fast(ec2, "instance_running", ids)
    ec2.terminate_instances(InstanceIds=ids)


# ---------------------------------------------------------------- security groups


def test_security_groups(cloud, alice, ec2):
    name = uniq("websg")
    gid = ec2.create_security_group(GroupName=name, Description="web servers",
                                    TagSpecifications=[{"ResourceType": "security-group",
                                                        "Tags": [{"Key": "role", "Value": "web"}]}])["GroupId"]
    assert code_of(ec2.create_security_group, GroupName=name, Description="again") == "InvalidGroup.Duplicate"
    g = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    assert g["GroupName"] == name and g["Description"] == "web servers"
    assert g["IpPermissions"] == []
    # All egress: one Nubo rule for any address, which EC2 shows for both families.
    [egress] = g["IpPermissionsEgress"]
    assert egress["IpProtocol"] == "-1"
    assert egress["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}] and egress["Ipv6Ranges"] == [{"CidrIpv6": "::/0"}]
    assert {"Key": "role", "Value": "web"} in g["Tags"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh"}]},
        {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "192.168.1.7/32"}]},
    ])
    assert code_of(ec2.authorize_security_group_ingress, GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]) == "InvalidPermission.Duplicate"
    assert code_of(ec2.authorize_security_group_ingress, GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/99"}]}]) == "InvalidParameterValue"
    g = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    perms = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")): [r["CidrIp"] for r in p["IpRanges"]]
             for p in g["IpPermissions"]}
    assert perms == {("tcp", 22, 22): ["10.0.0.0/8"], ("tcp", 8000, 8080): ["0.0.0.0/0"],
                     ("icmp", 8, -1): ["192.168.1.7/32"]}
    assert all(p["Ipv6Ranges"] == [] for p in g["IpPermissions"])
    # Nubo holds them as rules, which pyone sees.
    sg = cloud.one.xml("secgroup.info", int(gid[3:]))
    rules = [{c.tag: c.text for c in r} for r in sg.findall("TEMPLATE/RULE")]
    assert {"PROTOCOL": "TCP", "RULE_TYPE": "inbound", "RANGE": "22", "IP": "10.0.0.0",
            "SIZE": "16777216", "DESCRIPTION": "ssh"} in rules
    # 0.0.0.0/0 is every IPv4 address, and no IPv6 one.
    assert {"PROTOCOL": "TCP", "RULE_TYPE": "inbound", "RANGE": "8000:8080", "IP": "0.0.0.0",
            "SIZE": str(2 ** 32 - 1)} in rules
    # The CLI's short form, and egress.
    cloud.aws(alice, "authorize-security-group-ingress", "--group-name", name,
              "--protocol", "udp", "--port", "53", "--cidr", "10.1.0.0/16")
    # Revoking IPv4 egress leaves IPv6 egress, then that goes too.
    ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    [egress] = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissionsEgress"]
    assert egress["IpRanges"] == [] and egress["Ipv6Ranges"] == [{"CidrIpv6": "::/0"}]
    rules = [{c.tag: c.text for c in r} for r in cloud.one.xml("secgroup.info", int(gid[3:])).findall("TEMPLATE/RULE")]
    assert {"PROTOCOL": "ALL", "RULE_TYPE": "outbound", "IP": "::", "SIZE": str(2 ** 128 - 1)} in rules
    assert code_of(ec2.revoke_security_group_egress, GroupId=gid, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]) == "InvalidPermission.NotFound"
    ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[{"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    g = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"][0]
    assert [(p["IpProtocol"], p["FromPort"]) for p in g["IpPermissionsEgress"]] == [("tcp", 443)]
    assert ("udp", 53, 53) in [(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")) for p in g["IpPermissions"]]
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    assert code_of(ec2.revoke_security_group_ingress, GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]) == "InvalidPermission.NotFound"
    # A rule EC2 cannot express (a network instead of a CIDR) is kept as it is by every edit.
    alice_one = connect(cloud.nubod.endpoint, f"{alice.name}:{alice.password}")
    alice_one.secgroup.update(int(gid[3:]), 'RULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="5432", NETWORK_ID="0"]', 1)
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 9000, "ToPort": 9000, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}])
    assert code_of(ec2.revoke_security_group_ingress, GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]) == "InvalidPermission.NotFound"
    rules = [{c.tag: c.text for c in r} for r in cloud.one.xml("secgroup.info", int(gid[3:])).findall("TEMPLATE/RULE")]
    assert {"PROTOCOL": "TCP", "RULE_TYPE": "inbound", "RANGE": "5432", "NETWORK_ID": "0"} in rules
    shown = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]
    assert 5432 not in [p.get("FromPort") for p in shown]
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 9000, "ToPort": 9000, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}])
    # IPv6 ranges.
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/64", "Description": "v6 lan"}, {"CidrIpv6": "::/0"}]}])
    perm = [p for p in ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]
            if p.get("FromPort") == 443][0]
    assert perm["Ipv6Ranges"] == [{"CidrIpv6": "2001:db8::/64", "Description": "v6 lan"}, {"CidrIpv6": "::/0"}]
    assert perm["IpRanges"] == []
    rules = [{c.tag: c.text for c in r} for r in cloud.one.xml("secgroup.info", int(gid[3:])).findall("TEMPLATE/RULE")]
    assert {"PROTOCOL": "TCP", "RULE_TYPE": "inbound", "RANGE": "443", "IP": "2001:db8::",
            "SIZE": str(2 ** 64), "DESCRIPTION": "v6 lan"} in rules
    assert code_of(ec2.authorize_security_group_ingress, GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]) == "InvalidPermission.Duplicate"
    assert code_of(ec2.authorize_security_group_ingress, GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/200"}]}]) == "InvalidParameterValue"
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/64"}, {"CidrIpv6": "::/0"}]}])
    assert 443 not in [p.get("FromPort") for p in ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]]
    # A rule may name a group (the caller may use) instead of addresses.
    db = ec2.create_security_group(GroupName=uniq("db"), Description="databases")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "UserIdGroupPairs": [{"GroupId": gid, "Description": "from web"}]}])
    perm = ec2.describe_security_groups(GroupIds=[db])["SecurityGroups"][0]["IpPermissions"][0]
    assert perm["UserIdGroupPairs"] == [{"GroupId": gid, "UserId": f"{alice.uid:012d}", "Description": "from web"}]
    assert perm["IpRanges"] == []
    rules = [{c.tag: c.text for c in r} for r in cloud.one.xml("secgroup.info", int(db[3:])).findall("TEMPLATE/RULE")]
    assert {"PROTOCOL": "TCP", "RULE_TYPE": "inbound", "RANGE": "5432", "REMOTE_GROUP_ID": str(int(gid[3:])),
            "DESCRIPTION": "from web"} in rules
    assert code_of(ec2.authorize_security_group_ingress, GroupId=db, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "UserIdGroupPairs": [{"GroupId": gid}]}]) == "InvalidPermission.Duplicate"
    assert code_of(ec2.authorize_security_group_ingress, GroupId=db, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1,
         "UserIdGroupPairs": [{"GroupId": "sg-99999999"}]}]) == "InvalidGroup.NotFound"
    # A group other rules name cannot be deleted.
    assert code_of(ec2.delete_security_group, GroupId=gid) == "DependencyViolation"
    ec2.revoke_security_group_ingress(GroupId=db, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": gid}]}])
    assert ec2.describe_security_groups(GroupIds=[db])["SecurityGroups"][0]["IpPermissions"] == []
    ec2.delete_security_group(GroupId=db)
    # In use, it cannot be deleted; rules reach its VMs.
    _, ids = run(ec2, cloud, 1, SecurityGroupIds=[gid])
    fast(ec2, "instance_running", ids)
    assert code_of(ec2.delete_security_group, GroupId=gid) == "DependencyViolation"
    members = lambda which: {int(x.text) for x in cloud.one.xml("secgroup.info", int(gid[3:])).findall(f"{which}_VMS/ID")}
    vid = int(ids[0][2:])
    rule = lambda port: [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    cloud.one.host.update(cloud.host, 'SIM_UPDATESG="failure"', 1)
    try:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=rule(7000))
        wait_for(lambda: vid in members("ERROR"), timeout=20, what="the host refusing the new rules")
    finally:
        cloud.one.host.update(cloud.host, 'SIM_UPDATESG="success"', 1)
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=rule(7001))
    wait_for(lambda: vid in members("UPDATED"), timeout=20, what="the new rules on the instance's host")
    ec2.terminate_instances(InstanceIds=ids)
    fast(ec2, "instance_terminated", ids)
    # Other users cannot touch it.
    bob = cloud.client(cloud.user())
    assert code_of(bob.authorize_security_group_ingress, GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]) == "InvalidGroup.NotFound"
    theirs = bob.create_security_group(GroupName=uniq("bobs"), Description="bob's")["GroupId"]
    assert code_of(bob.authorize_security_group_ingress, GroupId=theirs, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "UserIdGroupPairs": [{"GroupId": gid}]}]) == "InvalidGroup.NotFound"
    assert ec2.delete_security_group(GroupId=gid)["Return"] is True
    assert code_of(ec2.describe_security_groups, GroupIds=[gid]) == "InvalidGroup.NotFound"
    assert code_of(ec2.describe_security_groups, GroupIds=["sg-x"]) == "InvalidGroupId.Malformed"


# ---------------------------------------------------------------- volumes and snapshots


def wait_volume(ec2, vid, status):
    wait_for(lambda: ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]["State"] == status,
             timeout=30, what=f"volume {vid} {status}")


def test_volumes_and_snapshots(cloud, alice, ec2):
    vol = ec2.create_volume(Size=1, AvailabilityZone="default", VolumeType="gp3",
                            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "data"}]}])
    vid = vol["VolumeId"]
    assert vol["Size"] == 1 and vol["AvailabilityZone"] == "default" and vol["VolumeType"] == "gp3"
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    # The same client token is the same volume.
    token = uniq("vt")
    a = ec2.create_volume(Size=1, AvailabilityZone="default", ClientToken=token)["VolumeId"]
    assert ec2.create_volume(Size=1, AvailabilityZone="default", ClientToken=token)["VolumeId"] == a
    # pyone sees a persistent DATABLOCK of 1024 MB.
    img = cloud.one.image.info(int(vid[4:]))
    assert img.TYPE == 2 and img.PERSISTENT == 1 and img.SIZE == 1024
    _, ids = run(ec2, cloud, 1)
    fast(ec2, "instance_running", ids)
    att = ec2.attach_volume(VolumeId=vid, InstanceId=ids[0], Device="/dev/sdf")
    assert att["State"] == "attaching" and att["Device"] == "/dev/sdf"
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[vid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    wait_for(lambda: ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]["Attachments"][0]["State"] == "attached",
             what="attached")
    v = ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]
    assert v["Attachments"][0]["InstanceId"] == ids[0] and v["Attachments"][0]["Device"] == "/dev/sdf"
    vm = cloud.one.xml("vm.info", int(ids[0][2:]))
    assert any(d.findtext("IMAGE_ID") == str(int(vid[4:])) and d.findtext("TARGET") == "vdf"
               for d in vm.findall("TEMPLATE/DISK"))
    inst = ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"][0]
    assert vid in [b["Ebs"].get("VolumeId") for b in inst["BlockDeviceMappings"]]
    found = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": ids}])["Volumes"]
    assert [f["VolumeId"] for f in found] == [vid]
    assert code_of(ec2.attach_volume, VolumeId=vid, InstanceId=ids[0], Device="/dev/sdg") == "VolumeInUse"
    assert code_of(ec2.attach_volume, VolumeId=a, InstanceId=ids[0], Device="/dev/sdf") == "InvalidParameterValue"
    assert code_of(ec2.delete_volume, VolumeId=vid) == "VolumeInUse"
    # A snapshot of an attached volume, then of a detached one.
    snap = ec2.create_snapshot(VolumeId=vid, Description="nightly",
                               TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "k", "Value": "v"}]}])
    sid = snap["SnapshotId"]
    assert snap["VolumeId"] == vid and snap["Description"] == "nightly"
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    s = ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]
    assert s["VolumeSize"] == 1 and {"Key": "k", "Value": "v"} in s["Tags"] and s["OwnerId"] == f"{alice.uid:012d}"
    assert [x["SnapshotId"] for x in ec2.describe_snapshots(OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": [vid]}])["Snapshots"]] == [sid]
    ec2.detach_volume(VolumeId=vid)
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert code_of(ec2.detach_volume, VolumeId=vid) == "IncorrectState"
    snap2 = ec2.create_snapshot(VolumeId=vid)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap2], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    # A volume from a snapshot (the one copied by nubod: simulated hosts write no files).
    restored = ec2.create_volume(SnapshotId=snap2, AvailabilityZone="default")
    assert restored["SnapshotId"] == snap2 and restored["Size"] == 1
    ec2.get_waiter("volume_available").wait(VolumeIds=[restored["VolumeId"]], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    s2 = ec2.describe_snapshots(SnapshotIds=[snap2])["Snapshots"][0]
    assert s2["VolumeId"] == vid and cloud.one.image.info(int(snap2[5:])).PERSISTENT == 0
    # A volume from a snapshot may be larger: its disk file is grown.
    grown = ec2.create_volume(SnapshotId=snap2, AvailabilityZone="default", Size=3, VolumeType="gp3",
                              TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "k", "Value": "big"}]}])
    gid = grown["VolumeId"]
    assert grown["Size"] == 3 and grown["SnapshotId"] == snap2 and grown["VolumeType"] == "gp3"
    ec2.get_waiter("volume_available").wait(VolumeIds=[gid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert [v["VolumeId"] for v in volumes_tagged(ec2, "k", "big")] == [gid]
    img = cloud.one.image.info(int(gid[4:]))
    assert img.SIZE == 3072 and img.PERSISTENT == 1
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", img.SOURCE],
                                     capture_output=True, check=True).stdout)
    assert info["virtual-size"] == 3 * 2 ** 30, info
    # ... never smaller.
    snap3 = ec2.create_snapshot(VolumeId=gid)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap3], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert ec2.describe_snapshots(SnapshotIds=[snap3])["Snapshots"][0]["VolumeSize"] == 3
    assert code_of(ec2.create_volume, SnapshotId=snap3, AvailabilityZone="default", Size=2) == "InvalidParameterValue"
    ec2.delete_snapshot(SnapshotId=snap3)
    ec2.delete_volume(VolumeId=gid)
    # Errors.
    assert code_of(ec2.describe_volumes, VolumeIds=["vol-99999999"]) == "InvalidVolume.NotFound"
    assert code_of(ec2.describe_snapshots, SnapshotIds=["snap-99999999"]) == "InvalidSnapshot.NotFound"
    assert code_of(ec2.create_volume, AvailabilityZone="default", Size=0) == "InvalidParameterValue"
    assert code_of(ec2.create_volume, AvailabilityZone="nowhere", Size=1) == "InvalidParameterValue"
    bob = cloud.client(cloud.user())
    assert code_of(bob.delete_volume, VolumeId=vid) == "InvalidVolume.NotFound"
    # Clean up; deleted volumes and snapshots are gone.
    for v in (vid, a, restored["VolumeId"]):
        ec2.delete_volume(VolumeId=v)
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[vid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    for s_ in (sid, snap2):
        ec2.delete_snapshot(SnapshotId=s_)
    assert code_of(ec2.describe_snapshots, SnapshotIds=[sid]) == "InvalidSnapshot.NotFound"
    ec2.terminate_instances(InstanceIds=ids)


def volumes_tagged(ec2, key, value):
    return ec2.describe_volumes(Filters=[{"Name": f"tag:{key}", "Values": [value]}])["Volumes"]


def test_block_device_mappings(cloud, alice, ec2):
    app = uniq("app")
    volume_tags = [{"ResourceType": "volume", "Tags": [{"Key": "app", "Value": app}]}]
    mappings = [
        {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 3}},
        {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2}},
        {"DeviceName": "/dev/sdc", "Ebs": {"VolumeSize": 1, "DeleteOnTermination": False,
                                            "VolumeType": "gp3"}},
    ]
    token = uniq("bdm")
    _, ids = run(ec2, cloud, 2, BlockDeviceMappings=mappings, TagSpecifications=volume_tags,
                 ClientToken=token)
    # A retry with the same token is the same launch, and makes no more volumes.
    assert run(ec2, cloud, 2, BlockDeviceMappings=mappings, TagSpecifications=volume_tags,
               ClientToken=token)[1] == ids
    fast(ec2, "instance_running", ids)
    inst = ec2.describe_instances(InstanceIds=ids[:1])["Reservations"][0]["Instances"][0]
    maps = {b["DeviceName"]: b["Ebs"] for b in inst["BlockDeviceMappings"]}
    assert set(maps) == {"/dev/vda", "/dev/sdb", "/dev/sdc"}, maps
    assert maps["/dev/sdb"]["DeleteOnTermination"] is True and "VolumeId" not in maps["/dev/sdb"]
    assert maps["/dev/sdc"]["DeleteOnTermination"] is False
    # pyone: the root grown to 3 GiB, a volatile 2 GiB disk, and a volume of its own.
    vm = cloud.one.xml("vm.info", int(ids[0][2:]))
    root, blank, kept = vm.findall("TEMPLATE/DISK")
    assert root.findtext("IMAGE_ID") == str(cloud.image) and root.findtext("SIZE") == "3072"
    assert blank.findtext("IMAGE_ID") is None and blank.findtext("SIZE") == "2048"
    assert blank.findtext("TARGET") == "vdb"
    assert kept.findtext("TARGET") == "vdc" and kept.findtext("PERSISTENT") == "YES"
    assert maps["/dev/sdc"]["VolumeId"] == f"vol-{int(kept.findtext('IMAGE_ID')):08d}"
    # Each instance has its own volume, tagged, in use, visible as a volume.
    vols = volumes_tagged(ec2, "app", app)
    assert len(vols) == 2 and {v["State"] for v in vols} == {"in-use"}
    assert {v["Attachments"][0]["InstanceId"] for v in vols} == set(ids)
    assert {(v["Size"], v["VolumeType"], v["Attachments"][0]["Device"]) for v in vols} == {(1, "gp3", "/dev/sdc")}
    # Terminated instances leave their kept volumes available.
    ec2.terminate_instances(InstanceIds=ids)
    fast(ec2, "instance_terminated", ids)
    vol_ids = [v["VolumeId"] for v in vols]
    ec2.get_waiter("volume_available").wait(VolumeIds=vol_ids, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    for v in vol_ids:
        ec2.delete_volume(VolumeId=v)

    # A type's own disks: NoDevice leaves one out, a mapping on its device replaces it.
    typed = cloud.one.template.allocate(
        f'NAME="{uniq("d1")}"\nCPU="0.5"\nMEMORY="128"\nEC2_INSTANCE_TYPE="d1.{uniq("x")}"\n'
        'DISK=[TYPE="fs",SIZE="16"]\nDISK=[TYPE="fs",SIZE="512"]\nDISK=[TYPE="swap",SIZE="256"]\n'
        f'SCHED_REQUIREMENTS="ID = {cloud.host}"')
    cloud.one.template.chmod(typed, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    itype = cloud.one.xml("template.info", typed).findtext("TEMPLATE/EC2_INSTANCE_TYPE")
    _, ids = run(ec2, cloud, 1, InstanceType=itype, BlockDeviceMappings=[
        {"DeviceName": "/dev/sdb", "NoDevice": ""},
        {"DeviceName": "/dev/xvdc", "Ebs": {"VolumeSize": 1}}])
    vm = cloud.one.xml("vm.info", int(ids[0][2:]))
    disks = [(d.findtext("TARGET"), d.findtext("SIZE")) for d in vm.findall("TEMPLATE/DISK")]
    assert disks == [("vda", "1"), ("vdc", "1024")], disks
    ec2.terminate_instances(InstanceIds=ids)

    # A disk made from a snapshot, grown on the way.
    vol = ec2.create_volume(Size=1, AvailabilityZone="default")["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vol], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    snap = ec2.create_snapshot(VolumeId=vol)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    _, ids = run(ec2, cloud, 1, BlockDeviceMappings=[
        {"DeviceName": "/dev/sdd", "Ebs": {"SnapshotId": snap, "VolumeSize": 2}}])
    vm = cloud.one.xml("vm.info", int(ids[0][2:]))
    made = vm.findall("TEMPLATE/DISK")[1]
    assert made.findtext("IMAGE_ID") == str(int(snap[5:])) and made.findtext("SIZE") == "2048"
    assert made.findtext("TARGET") == "vdd" and made.findtext("PERSISTENT") == "NO"
    ec2.terminate_instances(InstanceIds=ids)
    # The snapshot is in use until the instance is gone (deleted below).
    fast(ec2, "instance_terminated", ids)

    # Mappings that cannot be: EC2's errors, and nothing launched or left behind.
    before = len(ec2.describe_instances()["Reservations"])

    def refused(*maps):
        return code_of(ec2.run_instances, ImageId=ami(cloud), MinCount=1, MaxCount=1,
                       BlockDeviceMappings=list(maps))

    assert refused({"DeviceName": "/dev/sdb"}) == "InvalidBlockDeviceMapping"
    assert refused({"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 1}},
                   {"DeviceName": "/dev/xvdb", "Ebs": {"VolumeSize": 2}}) == "InvalidBlockDeviceMapping"
    assert refused({"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 1}},
                   {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 2}}) == "InvalidBlockDeviceMapping"
    assert refused({"DeviceName": "/dev/sda1", "NoDevice": ""}) == "InvalidBlockDeviceMapping"
    assert refused({"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": snap}}) == "InvalidBlockDeviceMapping"
    assert refused({"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 0}}) == "InvalidParameterValue"
    assert refused({"DeviceName": "/dev/nvme1n1", "Ebs": {"VolumeSize": 1}}) == "InvalidParameterValue"
    assert refused({"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}) == "Unsupported"
    assert refused({"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 1, "Encrypted": True}}) == "Unsupported"
    assert refused({"DeviceName": "/dev/sda1", "Ebs": {"DeleteOnTermination": False}}) == "Unsupported"
    assert refused({"DeviceName": "/dev/sdb", "Ebs": {"SnapshotId": "snap-99999999"}}) == "InvalidSnapshot.NotFound"
    assert len(ec2.describe_instances()["Reservations"]) == before
    ec2.delete_snapshot(SnapshotId=snap)
    ec2.delete_volume(VolumeId=vol)

    # Volumes made for instances a quota did not let launch are deleted again.
    carol = cloud.user()
    theirs = cloud.client(carol)
    cloud.one.user.quota(carol.uid, 'VM=[VMS="1"]')
    keep = [{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1, "DeleteOnTermination": False}}]
    r = theirs.run_instances(ImageId=ami(cloud), MinCount=1, MaxCount=3, InstanceType="m1.small",
                             BlockDeviceMappings=keep)
    assert len(r["Instances"]) == 1
    assert code_of(theirs.run_instances, ImageId=ami(cloud), MinCount=1, MaxCount=1,
                   InstanceType="m1.small", BlockDeviceMappings=keep) == "InstanceLimitExceeded"
    wait_for(lambda: len(theirs.describe_volumes()["Volumes"]) == 1, timeout=30,
             what="only the launched instance's volume left")
    assert theirs.describe_volumes()["Volumes"][0]["Attachments"][0]["InstanceId"] == r["Instances"][0]["InstanceId"]
    theirs.terminate_instances(InstanceIds=[r["Instances"][0]["InstanceId"]])


# ---------------------------------------------------------------- elastic IPs


def test_elastic_ips(cloud, alice, ec2):
    a = ec2.allocate_address(Domain="vpc")
    ip, alloc = a["PublicIp"], a["AllocationId"]
    assert ip.startswith("203.0.113.") and alloc.startswith("eipalloc-")
    assert ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]["PublicIp"] == ip
    _, ids = run(ec2, cloud, 2)
    fast(ec2, "instance_running", ids)
    assoc = ec2.associate_address(AllocationId=alloc, InstanceId=ids[0])["AssociationId"]
    wait_for(lambda: ec2.describe_instances(InstanceIds=[ids[0]])["Reservations"][0]["Instances"][0].get("PublicIpAddress") == ip,
             what="public IP on the instance")
    inst = ec2.describe_instances(Filters=[{"Name": "ip-address", "Values": [ip]}])["Reservations"]
    assert [i["InstanceId"] for r in inst for i in r["Instances"]] == [ids[0]]
    got = ec2.describe_addresses(PublicIps=[ip])["Addresses"][0]
    assert got["InstanceId"] == ids[0] and got["AssociationId"] == assoc
    # pyone: the VM has a NIC with that address.
    vm = cloud.one.xml("vm.info", int(ids[0][2:]))
    assert ip in [n.findtext("IP") for n in vm.findall("TEMPLATE/NIC")]
    assert code_of(ec2.associate_address, AllocationId=alloc, InstanceId=ids[1]) == "Resource.AlreadyAssociated"
    assert code_of(ec2.release_address, AllocationId=alloc) == "InvalidIPAddress.InUse"
    # Move it with AllowReassociation.
    wait_for(lambda: cloud.one.vm.info(int(ids[0][2:])).LCM_STATE == 3, what="hotplug done")
    ec2.associate_address(AllocationId=alloc, InstanceId=ids[1], AllowReassociation=True)
    wait_for(lambda: ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0].get("InstanceId") == ids[1],
             what="address moved")
    wait_for(lambda: cloud.one.vm.info(int(ids[1][2:])).LCM_STATE == 3, what="hotplug done")
    ec2.disassociate_address(AssociationId=assoc)
    wait_for(lambda: "InstanceId" not in ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0],
             what="address free")
    assert code_of(ec2.disassociate_address, AssociationId=assoc) == "InvalidAssociationID.NotFound"
    # The pool holds three addresses.
    more = [ec2.allocate_address(Domain="vpc")["AllocationId"] for _ in range(2)]
    assert code_of(ec2.allocate_address, Domain="vpc") == "AddressLimitExceeded"
    for x in more:
        ec2.release_address(AllocationId=x)
    # The aws CLI.
    out = json.loads(cloud.aws(alice, "allocate-address", "--domain", "vpc").stdout)
    cloud.aws(alice, "release-address", "--allocation-id", out["AllocationId"])
    ec2.release_address(AllocationId=alloc)
    assert code_of(ec2.describe_addresses, AllocationIds=[alloc]) == "InvalidAllocationID.NotFound"
    assert code_of(ec2.release_address, PublicIp="198.51.100.1") == "InvalidAddress.NotFound"
    ec2.terminate_instances(InstanceIds=ids)


# ---------------------------------------------------------------- dry runs


def test_dry_runs_check_everything_and_change_nothing(cloud, alice, ec2):
    _, ids = run(ec2, cloud, 1)
    fast(ec2, "instance_running", ids)
    vol = ec2.create_volume(Size=1, AvailabilityZone="default")["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vol], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    sg = ec2.create_security_group(GroupName=uniq("dry"), Description="dry")["GroupId"]
    perm = [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    calls = [
        (ec2.run_instances, dict(ImageId=ami(cloud), MinCount=1, MaxCount=1, InstanceType="m1.small")),
        (ec2.stop_instances, dict(InstanceIds=ids)),
        (ec2.reboot_instances, dict(InstanceIds=ids)),
        (ec2.terminate_instances, dict(InstanceIds=ids)),
        (ec2.create_tags, dict(Resources=ids, Tags=[{"Key": "dry", "Value": "run"}])),
        (ec2.create_volume, dict(Size=1, AvailabilityZone="default")),
        (ec2.attach_volume, dict(VolumeId=vol, InstanceId=ids[0], Device="/dev/sdh")),
        (ec2.create_snapshot, dict(VolumeId=vol)),
        (ec2.delete_volume, dict(VolumeId=vol)),
        (ec2.create_security_group, dict(GroupName=uniq("dry"), Description="x")),
        (ec2.authorize_security_group_ingress, dict(GroupId=sg, IpPermissions=perm)),
        (ec2.delete_security_group, dict(GroupId=sg)),
        (ec2.import_key_pair, dict(KeyName=uniq("dry"), PublicKeyMaterial=ED25519.encode())),
        (ec2.create_key_pair, dict(KeyName=uniq("dry"))),
        (ec2.allocate_address, dict(Domain="vpc")),
        (ec2.create_image, dict(InstanceId=ids[0], Name=uniq("dry"))),
        (ec2.describe_instances, dict()),
        (ec2.get_console_output, dict(InstanceId=ids[0])),
    ]
    images_before = len(ec2.describe_images()["Images"])
    for call, kwargs in calls:
        assert code_of(call, DryRun=True, **kwargs) == "DryRunOperation", call
    assert set(states(ec2, ids).values()) == {"running"}
    assert len(ec2.describe_volumes()["Volumes"]) == 1
    assert ec2.describe_volumes(VolumeIds=[vol])["Volumes"][0]["State"] == "available"
    assert ec2.describe_tags(Filters=[{"Name": "key", "Values": ["dry"]}])["Tags"] == []
    assert ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"] == []
    assert ec2.describe_addresses()["Addresses"] == []
    assert len(ec2.describe_images()["Images"]) == images_before
    assert [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"] if k["KeyName"].startswith("dry")] == []
    # A dry run still checks: objects must exist and be the caller's to use.
    assert code_of(ec2.terminate_instances, InstanceIds=["i-99999999"], DryRun=True) == "InvalidInstanceID.NotFound"
    bob = cloud.client(cloud.user())
    assert code_of(bob.stop_instances, InstanceIds=ids, DryRun=True) == "InvalidInstanceID.NotFound"
    # Bob may use alice's VM (group USE) but not manage it: a dry run says so.
    bob_user = cloud.user()
    cloud.one.vm.chmod(int(ids[0][2:]), 1, 1, 0, 1, 0, 0, 0, 0, 0)
    bob2 = cloud.client(bob_user)
    assert code_of(bob2.stop_instances, InstanceIds=ids, DryRun=True) == "UnauthorizedOperation"
    assert code_of(bob2.get_console_output, InstanceId=ids[0]) == "UnauthorizedOperation"
    assert code_of(bob2.create_tags, Resources=ids, Tags=[{"Key": "a", "Value": "b"}], DryRun=True) == "UnauthorizedOperation"
    # Tags are checked before anything is made: no snapshot is left behind.
    before = len(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"])
    many = [{"Key": f"k{n}", "Value": "v"} for n in range(51)]
    assert code_of(ec2.create_snapshot, VolumeId=vol,
                   TagSpecifications=[{"ResourceType": "snapshot", "Tags": many}]) == "TagLimitExceeded"
    assert len(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]) == before
    ec2.delete_security_group(GroupId=sg)
    ec2.delete_volume(VolumeId=vol)
    ec2.terminate_instances(InstanceIds=ids)


def test_create_image_from_an_instance(cloud, ec2):
    _, ids = run(ec2, cloud, 1)
    fast(ec2, "instance_running", ids)
    name = uniq("saved")
    iid = ec2.create_image(InstanceId=ids[0], Name=name, TagSpecifications=[
        {"ResourceType": "image", "Tags": [{"Key": "from", "Value": ids[0]}]}])["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    img = ec2.describe_images(ImageIds=[iid])["Images"][0]
    assert img["Name"] == name and {"Key": "from", "Value": ids[0]} in img["Tags"]
    assert cloud.one.image.info(int(iid[4:])).TYPE == 0  # OS
    assert code_of(ec2.create_image, InstanceId="i-99999999", Name=uniq("x")) == "InvalidInstanceID.NotFound"
    ec2.terminate_instances(InstanceIds=ids)
    fast(ec2, "instance_terminated", ids)
    ec2.deregister_image(ImageId=iid)
