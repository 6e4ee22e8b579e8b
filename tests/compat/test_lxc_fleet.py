"""Containers beyond one host and one API: a container moves to another lxc host by cold
migration and boots there on its own layer (what it wrote travels, its owners shifted into
the new host's id slot), and an EC2 instance type whose template asks for
HYPERVISOR=lxc launches containers over boto3 (run, stop, start, terminate)."""

from __future__ import annotations

import pytest

from hostd import http_get, lab_cloud, wait_state
from ec2helpers import boto3_for_new_user
from onehelpers import free_port, uniq, wait_for
from test_lxc import (ACTIVE, DONE, RUNNING, assert_nothing_left, cleanup, container,
                      images, import_image, init_pid, wait_boots)  # noqa: F401 (images: fixture)

LAB = 13


@pytest.fixture(scope="module")
def fleet(images):
    port = free_port()
    with lab_cloud(index=LAB, hosts=2, driver="lxc", extra_args=["--shutdown-timeout", "5"],
                   nubod_args=["--ec2", f"127.0.0.1:{port}"]) as (d, lab, hosts):
        yield d, lab, hosts, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def busybox(fleet, images):
    d, _lab, _hosts, _url = fleet
    one = d.admin()
    img = import_image(one, images["busybox"], "lxcf")
    one.image.chmod(img, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    one.datastore.chmod(0, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    return img


@pytest.fixture(scope="module")
def net(fleet):
    d, lab, _hosts, _url = fleet
    one = d.admin()
    vn = one.vn.allocate(
        f'NAME="{uniq("lxcf")}"\nVN_MAD="bridge"\nBRIDGE="br0"\nNETWORK_MASK="255.255.255.0"\n'
        f'GATEWAY="{lab.gateway}"\nAR=[TYPE="IP4", IP="10.99.{LAB}.10", SIZE="20"]', -1)
    one.vn.chmod(vn, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    return vn


def host_uid(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def test_a_container_moves_to_another_host_with_its_layer(fleet, busybox, net):
    d, _lab, (h1, h2), _url = fleet
    one = d.admin()
    hid1, hid2 = h1.host_id(one), h2.host_id(one)
    # Another container on the second host holds an id slot meanwhile.
    keep = container(one, hid2, busybox, "holder")
    vid = container(one, hid1, busybox, "mover", net=net)
    try:
        wait_state(one, h1, vid, ACTIVE, RUNNING, timeout=60)
        wait_boots(h1, vid, 1)
        wait_state(one, h2, keep, ACTIVE, RUNNING, timeout=60)
        ip = one.vm.info(vid).TEMPLATE["NIC"]["IP"]
        wait_for(lambda: "boots=1" in http_get(f"http://{ip}/"), timeout=30, what="boot 1 over HTTP")
        one.vm.migrate(vid, hid2, False, False, -1, 0)
        wait_for(lambda: one.vm.info(vid).HISTORY_RECORDS.HISTORY[-1].HID == hid2
                 if isinstance(one.vm.info(vid).HISTORY_RECORDS.HISTORY, list) else False,
                 timeout=60, what="a history record on the second host")
        wait_state(one, h2, vid, ACTIVE, RUNNING, timeout=60)
        # The init counts its boots in its layer: the second boot knows of the first.
        wait_for(lambda: "boots=2" in http_get(f"http://{ip}/"), timeout=30,
                 what=f"boot 2 on the second host:\n{h2.serial(vid)[-800:]}")
        # Its root is an unprivileged host user there too, not the holder's.
        assert host_uid(init_pid(h2, vid)) >= 1 << 27
        assert host_uid(init_pid(h2, vid)) != host_uid(init_pid(h2, keep))
        assert not h1.vm_dir(vid).exists(), "the first host dropped its copy"
        one.vm.action("terminate-hard", vid)
        wait_state(one, h2, vid, DONE, timeout=60)
        assert_nothing_left(h2, vid, None)
    finally:
        cleanup(one, h2, vid, keep)
        cleanup(one, h1, vid)


def test_an_ec2_instance_type_launches_containers(fleet, busybox, net):
    d, _lab, (h1, h2), url = fleet
    one = d.admin()
    tid = one.template.allocate(
        f'NAME="{uniq("c1small")}"\nCPU="0.25"\nVCPU="1"\nMEMORY="64"\n'
        f'EC2_INSTANCE_TYPE="c1.container"\nNIC=[NETWORK_ID="{net}"]\nCONTEXT=[NETWORK="YES"]\n'
        f'SCHED_REQUIREMENTS="HYPERVISOR=lxc"')
    one.template.chmod(tid, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    ec2 = boto3_for_new_user(d, url)
    types = ec2.describe_instance_types(InstanceTypes=["c1.container"])["InstanceTypes"]
    assert types and types[0]["MemoryInfo"]["SizeInMiB"] == 64, types
    r = ec2.run_instances(ImageId=f"ami-{busybox:08d}", InstanceType="c1.container",
                          MinCount=1, MaxCount=1)
    iid = r["Instances"][0]["InstanceId"]
    vid = int(iid[2:])
    wait = {"Delay": 1, "MaxAttempts": 90}
    try:
        ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=wait)
        vm = one.vm.info(vid)
        hid = vm.HISTORY_RECORDS.HISTORY[-1].HID if isinstance(
            vm.HISTORY_RECORDS.HISTORY, list) else vm.HISTORY_RECORDS.HISTORY.HID
        h = h1 if hid == h1.host_id(one) else h2
        assert one.host.info(hid).TEMPLATE["HYPERVISOR"] == "lxc"
        wait_boots(h, vid, 1)
        ip = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
            "PrivateIpAddress"]
        wait_for(lambda: "boots=1" in http_get(f"http://{ip}/"), timeout=30, what="HTTP")
        out = ec2.get_console_output(InstanceId=iid)
        assert "LXC-READY" in out["Output"], out
        ec2.stop_instances(InstanceIds=[iid])
        ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=wait)
        ec2.start_instances(InstanceIds=[iid])
        ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=wait)
        wait_for(lambda: "boots=2" in http_get(f"http://{ip}/"), timeout=60,
                 what="the container's second boot, on its kept layer")
        ec2.terminate_instances(InstanceIds=[iid])
        ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=wait)
        assert not h.vm_dir(vid).exists()
    finally:
        cleanup(one, h1, vid)
