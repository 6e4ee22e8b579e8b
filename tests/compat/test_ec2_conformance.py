"""EC2 behaviours EC2 test tools found different from AWS (issue 13, items 19-22), driven
with real boto3 and the aws CLI against nubod:

- ids: an id of AWS's form (prefix, then 8 or 17 lowercase hex digits) that names nothing
  is ``*.NotFound``; anything else (``i-0``, ``i-zz``) is ``*.Malformed``; Nubo's own
  decimal ids keep working;
- ReleaseAddress with both PublicIp and AllocationId, DescribeAddresses with a PublicIp
  that is no IP address, DescribeSnapshots with MaxResults and SnapshotIds;
- GetPasswordData, Describe/Modify/ResetImageAttribute (launch permissions are the image's
  OTHER USE bit, seen through pyone);
- DisableApiTermination: kept from RunInstances and ModifyInstanceAttribute, shown by
  DescribeInstanceAttribute, enforced by TerminateInstances, kept across a nubod restart;
  kernel and ramdisk answer an empty value."""

from __future__ import annotations

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from ec2helpers import Ec2Cloud
from onehelpers import AUTHORIZATION, connect, uniq, wait_for


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    c = Ec2Cloud(tmp_path_factory.mktemp("ec2conf"))
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


@pytest.fixture(scope="module")
def bob(cloud):
    return cloud.client(cloud.user())


def code_of(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value.response["Error"]["Code"]


def ami(cloud) -> str:
    return f"ami-{cloud.image:08d}"


def run(ec2, cloud, n=1, **kw):
    r = ec2.run_instances(ImageId=ami(cloud), MinCount=n, MaxCount=n, InstanceType="m1.small", **kw)
    ids = [i["InstanceId"] for i in r["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return ids


def state(ec2, iid) -> str:
    r = ec2.describe_instances(InstanceIds=[iid])
    return r["Reservations"][0]["Instances"][0]["State"]["Name"]


# ---------------------------------------------------------------- 19: ids


def test_ids_of_aws_form_naming_nothing_are_not_found_others_malformed(cloud, alice, ec2):
    cases = [
        (ec2.describe_instances, "InstanceIds", "i", "InvalidInstanceID"),
        (ec2.terminate_instances, "InstanceIds", "i", "InvalidInstanceID"),
        (ec2.describe_images, "ImageIds", "ami", "InvalidAMIID"),
        (ec2.describe_volumes, "VolumeIds", "vol", ("InvalidVolumeID", "InvalidVolume")),
        (ec2.describe_snapshots, "SnapshotIds", "snap", ("InvalidSnapshotID", "InvalidSnapshot")),
        (ec2.describe_security_groups, "GroupIds", "sg", ("InvalidGroupId", "InvalidGroup")),
        (ec2.describe_addresses, "AllocationIds", "eipalloc", "InvalidAllocationID"),
    ]
    for call, param, prefix, codes in cases:
        malformed, not_found = (codes, codes) if isinstance(codes, str) else codes
        for bad in (f"{prefix}-0", f"{prefix}-zz", f"{prefix}-0000012", f"{prefix}-0123ABCD",
                    f"{prefix}-0123abcdef", f"{prefix}-"):
            assert code_of(call, **{param: [bad]}) == f"{malformed}.Malformed", (call, bad)
        for unknown in (f"{prefix}-0123abcd", f"{prefix}-0123456789abcdef0", f"{prefix}-99999999",
                        f"{prefix}-99999999999999999"):
            assert code_of(call, **{param: [unknown]}) == f"{not_found}.NotFound", (call, unknown)
    # Single-id actions, and tags.
    assert code_of(ec2.get_console_output, InstanceId="i-0123abcd") == "InvalidInstanceID.NotFound"
    assert code_of(ec2.get_console_output, InstanceId="i-0") == "InvalidInstanceID.Malformed"
    assert code_of(ec2.delete_volume, VolumeId="vol-0123abcd") == "InvalidVolume.NotFound"
    assert code_of(ec2.delete_snapshot, SnapshotId="snap-0123abcd") == "InvalidSnapshot.NotFound"
    assert code_of(ec2.deregister_image, ImageId="ami-0123abcd") == "InvalidAMIID.NotFound"
    assert code_of(ec2.release_address, AllocationId="eipalloc-0123abcd") == "InvalidAllocationID.NotFound"
    assert code_of(ec2.disassociate_address, AssociationId="eipassoc-0123abcd") == "InvalidAssociationID.NotFound"
    assert code_of(ec2.run_instances, ImageId="ami-0123abcd", MinCount=1, MaxCount=1) == "InvalidAMIID.NotFound"
    assert code_of(ec2.run_instances, ImageId="ami-1", MinCount=1, MaxCount=1) == "InvalidAMIID.Malformed"
    for res, code in (("i-0123abcd", "InvalidInstanceID.NotFound"), ("i-0", "InvalidInstanceID.Malformed"),
                      ("vol-0123abcd", "InvalidVolume.NotFound"), ("sg-1", "InvalidGroupId.Malformed")):
        assert code_of(ec2.create_tags, Resources=[res], Tags=[{"Key": "k", "Value": "v"}]) == code, res
    # The aws CLI.
    for bad, code in (("i-0", "InvalidInstanceID.Malformed"), ("i-0123abcd", "InvalidInstanceID.NotFound")):
        out = cloud.aws(alice, "describe-instances", "--instance-ids", bad, check=False)
        assert out.returncode != 0 and code in out.stderr, out.stderr
    # Nubo's own ids keep working, also zero-padded to 17 digits.
    [iid] = run(ec2, cloud)
    vid = int(iid[2:])
    assert iid == f"i-{vid:08d}"
    for form in (iid, f"i-{vid:017d}"):
        got = ec2.describe_instances(InstanceIds=[form])["Reservations"][0]["Instances"][0]
        assert got["InstanceId"] == iid
    assert ec2.describe_images(ImageIds=[ami(cloud)])["Images"][0]["ImageId"] == ami(cloud)
    ec2.terminate_instances(InstanceIds=[iid])


# ---------------------------------------------------------------- 20: parameter checks


def test_release_address_with_ip_and_allocation_id(cloud, alice, ec2):
    a = ec2.allocate_address(Domain="vpc")
    ip, alloc = a["PublicIp"], a["AllocationId"]
    assert code_of(ec2.release_address, PublicIp=ip, AllocationId=alloc) == "InvalidParameterCombination"
    out = cloud.aws(alice, "release-address", "--public-ip", ip, "--allocation-id", alloc, check=False)
    assert out.returncode != 0 and "InvalidParameterCombination" in out.stderr, out.stderr
    # Nothing was released: the address is still alice's (and pyone still has it).
    assert ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]["PublicIp"] == ip
    assert cloud.one.xml("vn.info", int(alloc[9:])).findtext("PARENT_NETWORK_ID") == str(cloud.public)
    # DescribeAddresses: a PublicIp that is no IP address is invalid; an unknown one not found.
    for bad in ("not-an-ip", "203.0.113.300", "203.0.113"):
        assert code_of(ec2.describe_addresses, PublicIps=[bad]) == "InvalidParameterValue", bad
    assert code_of(ec2.describe_addresses, PublicIps=["198.51.100.7"]) == "InvalidAddress.NotFound"
    assert ec2.describe_addresses(PublicIps=[ip])["Addresses"][0]["AllocationId"] == alloc
    ec2.release_address(AllocationId=alloc)
    assert code_of(ec2.describe_addresses, AllocationIds=[alloc]) == "InvalidAllocationID.NotFound"



def test_elastic_ip_cannot_be_leased_by_another_user_over_xmlrpc(cloud, alice, ec2):
    """An Elastic IP is its account's own. Every group may USE every network of the default
    VDC, but leasing an address of a reservation of an EC2_ELASTIC_IPS network needs
    MANAGE: another user's one.vm.attachnic or one.vm.allocate naming it is refused as
    AUTHORIZATION and takes nothing. An ordinary reservation keeps oned's USE rule."""
    carol = cloud.user()
    c_one = connect(cloud.nubod.endpoint, f"{carol.name}:{carol.password}")
    a_one = connect(cloud.nubod.endpoint, f"{alice.name}:{alice.password}")
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    eip = int(alloc[9:])
    try:
        [iid] = run(cloud.client(carol), cloud)
        vm = int(iid[2:])
        nics = len(cloud.one.xml("vm.info", vm).findall("TEMPLATE/NIC"))

        def leases():
            return cloud.one.xml("vn.info", eip).findtext("USED_LEASES")

        before = leases()
        msg = c_one.fails(AUTHORIZATION, "vm.attachnic", vm, f'NIC=[NETWORK_ID="{eip}"]')
        assert f"MANAGE NET [{eip}]" in msg, msg
        vms = len(cloud.one.xml("vmpool.info", -2, -1, -1, -1).findall("VM"))
        msg = c_one.fails(AUTHORIZATION, "vm.allocate",
                          f'NAME="{uniq("steal")}"\nCPU="0.1"\nMEMORY="64"\n'
                          f'NIC=[NETWORK_ID="{eip}"]', True)
        assert f"MANAGE NET [{eip}]" in msg, msg
        assert leases() == before, "no address was taken"
        assert len(cloud.one.xml("vm.info", vm).findall("TEMPLATE/NIC")) == nics
        assert len(cloud.one.xml("vmpool.info", -2, -1, -1, -1).findall("VM")) == vms
        # an ordinary reservation of alice's: USE is enough, as in oned
        plain = a_one.vn.reserve(cloud.vnet, f'NAME="{uniq("rsv")}"\nSIZE="1"')
        c_one.vm.attachnic(vm, f'NIC=[NETWORK_ID="{plain}"]')
        # The NIC is in the template at once (ATTACH=YES); the VM is RUNNING again (and
        # may be terminated) only when its host has plugged it in (HOTPLUG_NIC until then).
        wait_for(lambda: len(cloud.one.xml("vm.info", vm).findall("TEMPLATE/NIC")) == nics + 1
                 and cloud.one.vm.info(vm).LCM_STATE == 3,
                 what="NIC attached and the VM RUNNING again")
        cloud.client(carol).terminate_instances(InstanceIds=[iid])
    finally:
        ec2.release_address(AllocationId=alloc)


def test_describe_snapshots_max_results_with_ids(cloud, ec2):
    vol = ec2.create_volume(Size=1, AvailabilityZone="default")["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vol], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    sid = ec2.create_snapshot(VolumeId=vol)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert code_of(ec2.describe_snapshots, SnapshotIds=[sid], MaxResults=5) == "InvalidParameterCombination"
    # As DescribeVolumes and DescribeInstances already answer.
    assert code_of(ec2.describe_volumes, VolumeIds=[vol], MaxResults=5) == "InvalidParameterCombination"
    # Each alone is fine.
    assert [s["SnapshotId"] for s in ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"]] == [sid]
    assert sid in [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"], MaxResults=5)["Snapshots"]]
    ec2.delete_snapshot(SnapshotId=sid)
    ec2.delete_volume(VolumeId=vol)


# ---------------------------------------------------------------- 21: missing actions


def test_get_password_data(cloud, alice, ec2, bob):
    [iid] = run(ec2, cloud)
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    r = ec2.get_password_data(InstanceId=iid)
    assert r["InstanceId"] == iid and r["PasswordData"] == ""
    assert before <= r["Timestamp"] <= datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
    out = json.loads(cloud.aws(alice, "get-password-data", "--instance-id", iid).stdout)
    assert out["InstanceId"] == iid and out["PasswordData"] == ""
    assert code_of(ec2.get_password_data, InstanceId="i-0123abcd") == "InvalidInstanceID.NotFound"
    assert code_of(ec2.get_password_data, InstanceId="i-0") == "InvalidInstanceID.Malformed"
    assert code_of(bob.get_password_data, InstanceId=iid) == "InvalidInstanceID.NotFound"
    assert code_of(ec2.get_password_data, InstanceId=iid, DryRun=True) == "DryRunOperation"
    ec2.terminate_instances(InstanceIds=[iid])


def _alices_image(cloud, alice, tmp_path) -> tuple[int, str]:
    one = cloud.one
    disk = tmp_path / f"{uniq('img')}.img"
    disk.write_bytes(b"\0" * 1024 * 1024)
    img = one.image.allocate(f'NAME="{uniq("alice-os")}"\nTYPE="OS"\nPATH="{disk}"', 1)
    wait_for(lambda: one.image.info(img).STATE == 1, what="image READY")
    one.image.chown(img, alice.uid, -1)
    one.image.chmod(img, 1, 1, 0, 0, 0, 0, 0, 0, 0)
    return img, f"ami-{img:08d}"


def _other_u(cloud, img) -> str:
    return cloud.one.xml("image.info", img).findtext("PERMISSIONS/OTHER_U")


def test_image_attributes(cloud, alice, ec2, bob, tmp_path):
    img, aid = _alices_image(cloud, alice, tmp_path)

    def attr(name, client=ec2):
        return client.describe_image_attribute(ImageId=aid, Attribute=name)

    # Description.
    assert attr("description")["ImageId"] == aid and attr("description")["Description"] == {}
    ec2.modify_image_attribute(ImageId=aid, Description={"Value": "my image"})
    assert attr("description")["Description"] == {"Value": "my image"}
    assert ec2.describe_images(ImageIds=[aid])["Images"][0]["Description"] == "my image"
    assert cloud.one.image.info(img).TEMPLATE["DESCRIPTION"] == "my image"
    ec2.modify_image_attribute(ImageId=aid, Attribute="description", Value="second")
    assert attr("description")["Description"] == {"Value": "second"}
    assert code_of(ec2.modify_image_attribute, ImageId=aid, Description={"Value": "x" * 256}) == \
        "InvalidParameterValue"
    # Attributes a Nubo image does not have answer empty, as AWS does for an HVM image.
    assert attr("kernel")["KernelId"] == {} and attr("ramdisk")["RamdiskId"] == {}
    assert attr("sriovNetSupport")["SriovNetSupport"] == {} and attr("bootMode")["BootMode"] == {}
    assert attr("productCodes")["ProductCodes"] == []
    assert attr("blockDeviceMapping")["BlockDeviceMappings"][0]["DeviceName"] == "/dev/vda"
    assert attr("deregistrationProtection")["DeregistrationProtection"] == {"Value": "disabled"}
    assert code_of(ec2.describe_image_attribute, ImageId=aid, Attribute="colour") == "InvalidParameterValue"
    for fixed in ("kernel", "ramdisk", "blockDeviceMapping", "sriovNetSupport", "bootMode"):
        assert code_of(ec2.modify_image_attribute, ImageId=aid, Attribute=fixed, Value="x") == \
            "InvalidParameterValue", fixed
    # Launch permissions: group all is OTHER USE.
    assert attr("launchPermission")["LaunchPermissions"] == [] and _other_u(cloud, img) == "0"
    assert code_of(bob.describe_images, ImageIds=[aid]) == "InvalidAMIID.NotFound"
    assert code_of(bob.describe_image_attribute, ImageId=aid, Attribute="description") == "InvalidAMIID.NotFound"
    ec2.modify_image_attribute(ImageId=aid, LaunchPermission={"Add": [{"Group": "all"}]})
    assert attr("launchPermission")["LaunchPermissions"] == [{"Group": "all"}]
    assert _other_u(cloud, img) == "1"
    assert ec2.describe_images(ImageIds=[aid])["Images"][0]["Public"] is True
    # Bob now sees it, reads its description, but neither its permissions nor changes them.
    assert bob.describe_images(ImageIds=[aid])["Images"][0]["ImageId"] == aid
    assert attr("description", bob)["Description"] == {"Value": "second"}
    assert code_of(bob.describe_image_attribute, ImageId=aid, Attribute="launchPermission") == \
        "UnauthorizedOperation"
    assert code_of(bob.modify_image_attribute, ImageId=aid,
                   LaunchPermission={"Remove": [{"Group": "all"}]}) == "UnauthorizedOperation"
    assert code_of(bob.reset_image_attribute, ImageId=aid, Attribute="launchPermission") == "UnauthorizedOperation"
    assert code_of(bob.modify_image_attribute, ImageId=aid, Description={"Value": "bob's"}) == \
        "UnauthorizedOperation"
    assert _other_u(cloud, img) == "1" and attr("description")["Description"] == {"Value": "second"}
    # The older form: Attribute, OperationType, UserGroups.
    ec2.modify_image_attribute(ImageId=aid, Attribute="launchPermission", OperationType="remove",
                               UserGroups=["all"])
    assert attr("launchPermission")["LaunchPermissions"] == [] and _other_u(cloud, img) == "0"
    # A dry run changes nothing.
    assert code_of(ec2.modify_image_attribute, ImageId=aid, LaunchPermission={"Add": [{"Group": "all"}]},
                   DryRun=True) == "DryRunOperation"
    assert _other_u(cloud, img) == "0"
    # Nubo cannot share an image with one account, nor with a group other than all.
    alice_account, bob_account = f"{alice.uid:012d}", "000000000999"
    assert code_of(ec2.modify_image_attribute, ImageId=aid,
                   LaunchPermission={"Add": [{"UserId": bob_account}]}) == "InvalidAMIAttributeItemValue"
    assert code_of(ec2.modify_image_attribute, ImageId=aid, Attribute="launchPermission",
                   OperationType="add", UserIds=[bob_account]) == "InvalidAMIAttributeItemValue"
    assert code_of(ec2.modify_image_attribute, ImageId=aid, Attribute="launchPermission",
                   OperationType="add", UserGroups=["friends"]) == "InvalidAMIAttributeItemValue"
    assert code_of(ec2.modify_image_attribute, ImageId=aid, LaunchPermission={
        "Add": [{"OrganizationArn": "arn:aws:organizations::1:organization/o-1"}]}) == "InvalidAMIAttributeItemValue"
    assert _other_u(cloud, img) == "0"
    # The owner's own account may always launch it: no change, no error.
    ec2.modify_image_attribute(ImageId=aid, LaunchPermission={"Add": [{"UserId": alice_account}]})
    assert _other_u(cloud, img) == "0"
    # One attribute at a time.
    assert code_of(ec2.modify_image_attribute, ImageId=aid, Description={"Value": "d"},
                   LaunchPermission={"Add": [{"Group": "all"}]}) == "InvalidParameterCombination"
    assert _other_u(cloud, img) == "0"
    # ResetImageAttribute: launchPermission makes the image private again.
    ec2.modify_image_attribute(ImageId=aid, LaunchPermission={"Add": [{"Group": "all"}]})
    assert _other_u(cloud, img) == "1"
    assert ec2.reset_image_attribute(ImageId=aid, Attribute="launchPermission")["ResponseMetadata"]
    assert _other_u(cloud, img) == "0" and attr("launchPermission")["LaunchPermissions"] == []
    assert code_of(ec2.reset_image_attribute, ImageId=aid, Attribute="description") == "InvalidParameterValue"
    # The aws CLI.
    cloud.aws(alice, "modify-image-attribute", "--image-id", aid, "--launch-permission", "Add=[{Group=all}]")
    out = json.loads(cloud.aws(alice, "describe-image-attribute", "--image-id", aid,
                               "--attribute", "launchPermission").stdout)
    assert out["LaunchPermissions"] == [{"Group": "all"}] and _other_u(cloud, img) == "1"
    cloud.aws(alice, "reset-image-attribute", "--image-id", aid, "--attribute", "launchPermission")
    assert _other_u(cloud, img) == "0"
    # Ids.
    assert code_of(ec2.describe_image_attribute, ImageId="ami-0123abcd", Attribute="description") == \
        "InvalidAMIID.NotFound"
    assert code_of(ec2.modify_image_attribute, ImageId="ami-0", Description={"Value": "x"}) == \
        "InvalidAMIID.Malformed"


# ---------------------------------------------------------------- 22: DisableApiTermination


def test_disable_api_termination(cloud, alice, ec2, bob):
    protected, free = run(ec2, cloud, 1, DisableApiTermination=True)[0], run(ec2, cloud)[0]

    def flag(iid):
        return ec2.describe_instance_attribute(InstanceId=iid, Attribute="disableApiTermination")[
            "DisableApiTermination"]["Value"]

    assert flag(protected) is True and flag(free) is False
    assert cloud.one.vm.info(int(protected[2:])).USER_TEMPLATE["EC2_DISABLE_API_TERMINATION"] == "YES"
    # TerminateInstances refuses it, and terminates nothing else of the call either.
    assert code_of(ec2.terminate_instances, InstanceIds=[protected]) == "OperationNotPermitted"
    assert code_of(ec2.terminate_instances, InstanceIds=[free, protected]) == "OperationNotPermitted"
    assert code_of(ec2.terminate_instances, InstanceIds=[protected], DryRun=True) == "OperationNotPermitted"
    assert state(ec2, protected) == "running" and state(ec2, free) == "running"
    assert cloud.one.vm.info(int(protected[2:])).STATE == 3 and cloud.one.vm.info(int(free[2:])).STATE == 3
    out = cloud.aws(alice, "terminate-instances", "--instance-ids", protected, check=False)
    assert out.returncode != 0 and "OperationNotPermitted" in out.stderr, out.stderr
    # Bob can neither see nor change it.
    assert code_of(bob.modify_instance_attribute, InstanceId=protected,
                   DisableApiTermination={"Value": False}) == "InvalidInstanceID.NotFound"
    assert flag(protected) is True
    # ModifyInstanceAttribute turns it off (Attribute/Value form) and on (the aws CLI).
    ec2.modify_instance_attribute(InstanceId=protected, Attribute="disableApiTermination", Value="false")
    assert flag(protected) is False
    assert "EC2_DISABLE_API_TERMINATION" not in cloud.one.vm.info(int(protected[2:])).USER_TEMPLATE
    cloud.aws(alice, "modify-instance-attribute", "--instance-id", free, "--disable-api-termination")
    shown = json.loads(cloud.aws(alice, "describe-instance-attribute", "--instance-id", free,
                                 "--attribute", "disableApiTermination").stdout)
    assert shown["DisableApiTermination"] == {"Value": True}
    assert code_of(ec2.terminate_instances, InstanceIds=[free]) == "OperationNotPermitted"
    # A dry run changes nothing; one attribute at a time.
    assert code_of(ec2.modify_instance_attribute, InstanceId=free, DisableApiTermination={"Value": False},
                   DryRun=True) == "DryRunOperation"
    assert flag(free) is True
    assert code_of(ec2.modify_instance_attribute, InstanceId=free, DisableApiTermination={"Value": False},
                   InstanceType={"Value": "m1.large"}) == "InvalidParameterCombination"
    # Unprotected, it terminates.
    ec2.terminate_instances(InstanceIds=[protected])
    ec2.modify_instance_attribute(InstanceId=free, DisableApiTermination={"Value": False})
    ec2.terminate_instances(InstanceIds=[free])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[protected, free],
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def test_kernel_and_ramdisk_are_empty(cloud, alice, ec2):
    [iid] = run(ec2, cloud)
    for name, key in (("kernel", "KernelId"), ("ramdisk", "RamdiskId")):
        got = ec2.describe_instance_attribute(InstanceId=iid, Attribute=name)
        assert got["InstanceId"] == iid and got[key] == {}, got
    out = json.loads(cloud.aws(alice, "describe-instance-attribute", "--instance-id", iid,
                               "--attribute", "kernel").stdout)
    assert out["InstanceId"] == iid and out.get("KernelId", {}) == {}
    ec2.terminate_instances(InstanceIds=[iid])


def test_disable_api_termination_survives_a_restart(tmp_path):
    c = Ec2Cloud(tmp_path)
    try:
        alice = c.user()
        ec2 = c.client(alice)
        [iid] = run(ec2, c, 1, DisableApiTermination=True)
        c.nubod.kill()
        c.nubod.restart()
        wait_for(lambda: c.nubod.alive(), what="nubod back")
        ec2 = c.client(alice)
        got = ec2.describe_instance_attribute(InstanceId=iid, Attribute="disableApiTermination")
        assert got["DisableApiTermination"]["Value"] is True
        assert code_of(ec2.terminate_instances, InstanceIds=[iid]) == "OperationNotPermitted"
        assert c.one.vm.info(int(iid[2:])).STATE != 6
    finally:
        c.stop()
