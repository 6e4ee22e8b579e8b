"""A real guest launched, stopped, started and terminated over the EC2 API: boto3 signs
as a Nubo user, RunInstances boots the test guest under QEMU on a nubo-hostd host, and
the guest serves the imported key pair's public key, sees the user data, has the disks
its block device mappings asked for, and its console output reaches GetConsoleOutput."""

from __future__ import annotations

import base64

import pytest

from hostd import guest_dir, http_get, import_guest_image, lab_cloud
from ec2helpers import boto3_for_new_user
from onehelpers import free_port, uniq, wait_for

LAB = 8
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILgIoeCyNSpzVW3WVr1piQmp+zzx/wtufMLVXGe6ogW6"
USER_DATA = "#cloud-config\n# launched over EC2\n"


@pytest.fixture(scope="module")
def guest():
    return guest_dir()


@pytest.fixture(scope="module")
def cloud(guest):
    port = free_port()
    with lab_cloud(index=LAB, nubod_args=["--ec2", f"127.0.0.1:{port}"]) as (d, _lab, (h,)):
        yield d, h, f"http://127.0.0.1:{port}"


def test_a_real_guest_over_ec2(cloud, guest):
    d, h, url = cloud
    one = d.admin()
    hid = h.host_id(one)
    net = one.vn.allocate(
        f'NAME="{uniq("net")}"\nVN_MAD="bridge"\nBRIDGE="br0"\nNETWORK_MASK="255.255.255.0"\n'
        f'GATEWAY="10.99.{LAB}.1"\nAR=[TYPE="IP4", IP="10.99.{LAB}.10", SIZE="5"]', -1)
    image = import_guest_image(one, guest)
    tid = one.template.allocate(
        f'NAME="{uniq("t1guest")}"\nCPU="0.5"\nVCPU="1"\nMEMORY="128"\n'
        f'EC2_INSTANCE_TYPE="t1.guest"\nNIC=[NETWORK_ID="{net}"]\nCONTEXT=[NETWORK="YES"]\n'
        f'SCHED_REQUIREMENTS="ID = {hid}"')
    for kind, oid in (("vn", net), ("image", image), ("template", tid)):
        getattr(one, kind).chmod(oid, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    one.datastore.chmod(0, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    ec2 = boto3_for_new_user(d, url)
    ec2.import_key_pair(KeyName="mine", PublicKeyMaterial=KEY.encode())
    # The root grown to 1 GiB and a blank 2 GiB disk, both deleted with the instance.
    mappings = [{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 1}},
                {"DeviceName": "/dev/sdb", "Ebs": {"VolumeSize": 2}}]
    r = ec2.run_instances(ImageId=f"ami-{image:08d}", InstanceType="t1.guest", MinCount=1,
                          MaxCount=1, KeyName="mine", UserData=USER_DATA,
                          BlockDeviceMappings=mappings)
    iid = r["Instances"][0]["InstanceId"]
    vid = int(iid[2:])
    wait = {"Delay": 2, "MaxAttempts": 90}
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=wait)
    ip = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
    assert ip.startswith(f"10.99.{LAB}.")
    wait_for(lambda: "GUEST-READY" in h.serial(vid), timeout=120, what="GUEST-READY")
    # The serial console, as EC2 gives it (boto3 decodes the base64).
    out = ec2.get_console_output(InstanceId=iid)
    assert out["InstanceId"] == iid and "GUEST-READY" in out["Output"], out
    wait_for(lambda: http_get(f"http://{ip}/authorized_keys").strip() == KEY, timeout=30,
             what="the key pair's public key in the guest")
    ctx = http_get(f"http://{ip}/context.sh")
    assert base64.b64encode(USER_DATA.encode()).decode() in ctx, ctx
    sectors = {dev: h.ask(vid, f"cat /sys/block/{dev}/size") for dev in ("vda", "vdb")}
    assert sectors == {"vda": str(1024 * 2048), "vdb": str(2048 * 2048)}, sectors
    # Stop: the guest goes away; start: it comes back, with its disk.
    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=wait)
    assert h.qemu_pids() == []
    ec2.start_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=wait)
    wait_for(lambda: http_get(f"http://{ip}/authorized_keys").strip() == KEY, timeout=120,
             what="the guest answering after start")
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=wait)
    assert h.qemu_pids() == []
    assert not h.vm_dir(vid).exists()
