"""Real guests through pyone: nubod drives a nubo-hostd (in its own network namespace)
that runs the test guest under QEMU. The guest gets its IP and SSH key from the context
cdrom, answers HTTP on its lease's address, and survives suspend/resume and
poweroff/resume; terminate leaves no process, tap, file or lease behind; a guest that
powers itself off is seen as POWEROFF."""

from __future__ import annotations

import os
import subprocess

import pytest

from hostd import guest_dir, http_get, import_guest_image, kernel_boot, lab_cloud, wait_state
from onehelpers import tmpl, uniq, wait_for

ACTIVE, STOPPED, SUSPENDED, DONE, POWEROFF, UNDEPLOYED = 3, 4, 5, 6, 8, 9
RUNNING = 3
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINuboTestKey test@nubo"


@pytest.fixture(scope="module")
def guest():
    return guest_dir()


@pytest.fixture(scope="module")
def cloud(guest):
    with lab_cloud(index=1) as (d, _lab, (h,)):
        yield d, h


def test_a_real_guest_runs_suspends_powers_off_and_leaves_nothing(cloud, guest):
    d, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    host = one.host.info(hid)
    assert host.TEMPLATE["ACCELERATION"] in ("kvm", "tcg")
    net = one.vn.allocate(
        f'NAME="{uniq("net")}"\nVN_MAD="bridge"\nBRIDGE="br0"\n'
        f'NETWORK_MASK="255.255.255.0"\nGATEWAY="10.99.1.1"\n'
        f'AR=[TYPE="IP4", IP="10.99.1.10", SIZE="5"]', -1)
    tid = one.template.allocate(
        f'NAME="{uniq("guest")}"\nCPU="0.5"\nVCPU="1"\nMEMORY="128"\n'
        + kernel_boot(guest) + f'\n'
        f'NIC=[NETWORK_ID="{net}"]\n'
        f'CONTEXT=[NETWORK="YES", HOSTNAME="g1", SSH_PUBLIC_KEY="{KEY}"]\n'
        f'SCHED_REQUIREMENTS="ID = {hid}"')
    vid = one.template.instantiate(tid, "", False, "", False)
    wait_state(one, h, vid, ACTIVE, RUNNING)
    ip = one.vm.info(vid).TEMPLATE["NIC"]["IP"]
    assert ip == "10.99.1.10"
    wait_for(lambda: "GUEST-READY" in h.serial(vid), timeout=90, what="GUEST-READY on the serial log")
    serial = h.serial(vid)
    assert f"GUEST-NET eth0 {ip}/24" in serial, serial
    assert "GUEST-SSH-KEY ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINuboTestKey" in serial, serial
    wait_for(lambda: "nubo-test-guest g1" in http_get(f"http://{ip}/"), timeout=30,
             what="the guest answering HTTP on its lease")
    assert http_get(f"http://{ip}/authorized_keys").strip() == KEY
    assert f"one-{vid}-0" in h.links()

    one.vm.action("suspend", vid)
    wait_state(one, h, vid, SUSPENDED)
    assert h.qemu_pids() == []
    one.vm.action("resume", vid)
    wait_state(one, h, vid, ACTIVE, RUNNING)
    wait_for(lambda: "nubo-test-guest g1" in http_get(f"http://{ip}/"), timeout=30,
             what="the guest answering after resume")

    one.vm.action("poweroff", vid)
    wait_state(one, h, vid, POWEROFF)
    assert "GUEST-ACPI-POWERDOWN" in h.serial(vid)
    assert h.qemu_pids() == []
    assert f"one-{vid}-0" not in h.links()
    one.vm.action("resume", vid)
    wait_state(one, h, vid, ACTIVE, RUNNING)
    wait_for(lambda: "nubo-test-guest g1" in http_get(f"http://{ip}/"), timeout=60,
             what="the guest answering after poweroff/resume")

    one.vm.action("terminate-hard", vid)
    wait_state(one, h, vid, DONE)
    assert h.qemu_pids() == []
    assert f"one-{vid}-0" not in h.links()
    assert not h.vm_dir(vid).exists()
    leases = one.vn.info(net).AR_POOL.AR[0].LEASES
    assert not getattr(leases, "LEASE", None), "the lease was given back"


def test_a_guest_that_powers_itself_off_is_seen_as_poweroff(cloud, guest):
    d, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = one.vm.allocate(
        f'NAME="{uniq("self-off")}"\nCPU="0.5"\nMEMORY="128"\n'
        + kernel_boot(guest, "guest.mode=poweroff") + f'\n'
        f'SCHED_REQUIREMENTS="ID = {hid}"', False)
    wait_state(one, h, vid, ACTIVE, RUNNING)
    wait_state(one, h, vid, POWEROFF, timeout=120)
    assert "GUEST-READY" in h.serial(vid)
    one.vm.action("terminate-hard", vid)
    wait_state(one, h, vid, DONE)
    assert not h.vm_dir(vid).exists()


def test_stop_and_undeploy_keep_the_guest_for_its_resume(cloud, guest):
    d, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = one.vm.allocate(
        f'NAME="{uniq("keep")}"\nCPU="0.5"\nMEMORY="128"\n'
        + kernel_boot(guest) + f'\n'
        f'DISK=[SIZE="16", TYPE="fs"]\n'
        f'SCHED_REQUIREMENTS="ID = {hid}"', False)
    wait_state(one, h, vid, ACTIVE, RUNNING)
    wait_for(lambda: "GUEST-READY" in h.serial(vid), timeout=90, what="GUEST-READY")
    disk = h.vm_dir(vid) / "disk.0"
    assert disk.exists()

    one.vm.action("stop", vid)
    wait_state(one, h, vid, STOPPED)
    assert (h.vm_dir(vid) / "memory.state").exists() and disk.exists()
    assert h.qemu_pids() == []
    boots = h.serial(vid).count("GUEST-UP")
    one.vm.action("resume", vid)
    wait_state(one, h, vid, ACTIVE, RUNNING)
    assert h.serial(vid).count("GUEST-UP") == boots, "resumed from memory, not booted again"
    assert not (h.vm_dir(vid) / "memory.state").exists()

    one.vm.action("undeploy", vid)
    wait_state(one, h, vid, UNDEPLOYED)
    assert disk.exists() and h.qemu_pids() == []
    one.vm.action("resume", vid)
    wait_state(one, h, vid, ACTIVE, RUNNING)
    wait_for(lambda: h.serial(vid).count("GUEST-READY") > boots, timeout=90,
             what="the guest booting again after undeploy")

    one.vm.action("terminate-hard", vid)
    wait_state(one, h, vid, DONE)
    assert not h.vm_dir(vid).exists() and h.qemu_pids() == []


def test_guests_boot_from_an_imported_image_fetched_once_by_the_host(cloud, guest):
    d, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    img = import_guest_image(one, guest, "guest-img")
    image = one.image.info(img)
    assert image.FORMAT == "qcow2"
    net = one.vn.allocate(
        f'NAME="{uniq("net")}"\nVN_MAD="bridge"\nBRIDGE="br0"\n'
        f'NETWORK_MASK="255.255.255.0"\nGATEWAY="10.99.1.1"\n'
        f'AR=[TYPE="IP4", IP="10.99.1.30", SIZE="5"]', -1)
    tid = one.template.allocate(
        f'NAME="{uniq("from-disk")}"\nCPU="0.5"\nMEMORY="128"\n'
        f'DISK=[IMAGE_ID="{img}"]\nNIC=[NETWORK_ID="{net}"]\n'
        f'CONTEXT=[NETWORK="YES", HOSTNAME="disk-guest"]\nSCHED_REQUIREMENTS="ID = {hid}"')
    vids = [one.template.instantiate(tid, "", False, "", False) for _ in range(2)]
    for vid in vids:
        wait_state(one, h, vid, ACTIVE, RUNNING)
        wait_for(lambda: "GUEST-READY" in h.serial(vid), timeout=120, what=f"VM {vid} ready")
        ip = one.vm.info(vid).TEMPLATE["NIC"]["IP"]
        wait_for(lambda: "nubo-test-guest disk-guest" in http_get(f"http://{ip}/"), timeout=30,
                 what=f"VM {vid} answering")
        overlay = h.vm_dir(vid) / "disk.0"
        info = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(overlay)],
                              capture_output=True, text=True, check=True).stdout
        assert f"/images/{img}-" in info, f"the overlay sits on the cached base: {info}"
    cached = list((h.state_dir / "images").glob(f"{img}-*"))
    assert len(cached) == 1
    assert h.log_tail(200000).count("image fetched from the front-end") == 1, "fetched once"
    for vid in vids:
        one.vm.action("terminate-hard", vid)
    for vid in vids:
        wait_state(one, h, vid, DONE)
        assert not h.vm_dir(vid).exists()
    assert cached[0].exists(), "the cache outlives the VMs"
    assert one.image.info(img).STATE == 1


def test_a_missing_image_file_fails_the_prolog_with_a_message(cloud, guest):
    d, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    img = import_guest_image(one, guest, "doomed")
    os.remove(one.image.info(img).SOURCE)
    vid = one.vm.allocate(
        f'NAME="{uniq("no-disk")}"\nCPU="0.5"\nMEMORY="128"\nDISK=[IMAGE_ID="{img}"]\n'
        f'SCHED_REQUIREMENTS="ID = {hid}"', False)
    PROLOG_FAILURE = 39
    wait_state(one, h, vid, ACTIVE, PROLOG_FAILURE, timeout=60)
    error = tmpl(one.xml("vm.info", vid), "ERROR", "USER_TEMPLATE")
    assert f"cannot read image {img}" in error, error
    one.vm.recover(vid, 3)  # delete
    wait_state(one, h, vid, DONE)
    assert not h.vm_dir(vid).exists()


def test_context_variables_and_a_cloud_init_seed_reach_the_guest(cloud, guest):
    d, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    one.user.update(0, f'SSH_PUBLIC_KEY="{KEY}"', 1)   # oneadmin owns the VMs below
    net = one.vn.allocate(
        f'NAME="{uniq("net")}"\nVN_MAD="bridge"\nBRIDGE="br0"\nNETWORK_MASK="255.255.255.0"\n'
        f'GATEWAY="10.99.1.1"\nAR=[TYPE="IP4", IP="10.99.1.40", SIZE="5"]', -1)
    base = (f'CPU="0.5"\nMEMORY="128"\nOS=[KERNEL="{guest}/vmlinuz", INITRD="{guest}/initramfs.gz", '
            f'KERNEL_CMD="console=ttyS0 quiet no_timer_check panic=-1"]\nNIC=[NETWORK_ID="{net}"]\n'
            f'SCHED_REQUIREMENTS="ID = {hid}"\n')
    # OpenNebula's form, with variables replaced at creation.
    one_ctx = one.vm.allocate(
        base + f'NAME="{uniq("one")}"\nCONTEXT=[NETWORK="YES", SSH_PUBLIC_KEY="$USER[SSH_PUBLIC_KEY]", '
        f'HOSTNAME="vm-$VMID", GW="$NETWORK[GATEWAY, NETWORK_ID={net}]", MYIP="$NIC[IP]"]', False)
    ctx = one.vm.info(one_ctx).TEMPLATE["CONTEXT"]
    ip = one.vm.info(one_ctx).TEMPLATE["NIC"]["IP"]
    assert ctx["SSH_PUBLIC_KEY"] == KEY
    assert ctx["HOSTNAME"] == f"vm-{one_ctx}" and ctx["GW"] == "10.99.1.1" and ctx["MYIP"] == ip
    # cloud-init NoCloud: the guest reads meta-data, user-data and network-config.
    seeded = one.vm.allocate(
        base + f'NAME="{uniq("ci")}"\nCONTEXT=[CLOUD_INIT="YES", HOSTNAME="seeded", '
        f'SSH_PUBLIC_KEY="{KEY}"]', False)
    for vid in (one_ctx, seeded):
        wait_state(one, h, vid, ACTIVE, RUNNING)
        wait_for(lambda: "GUEST-READY" in h.serial(vid), timeout=90, what=f"VM {vid} ready")
    assert f"vm-{one_ctx}" in http_get(f"http://{ip}/")
    serial = h.serial(seeded)
    assert "GUEST-CONTEXT nocloud" in serial, serial
    seeded_ip = one.vm.info(seeded).TEMPLATE["NIC"]["IP"]
    assert f"GUEST-NET eth0 {seeded_ip}/24" in serial, serial
    wait_for(lambda: "nubo-test-guest seeded" in http_get(f"http://{seeded_ip}/"), timeout=30,
             what="the seeded guest answering")
    assert http_get(f"http://{seeded_ip}/authorized_keys").strip() == KEY
    assert "instance-id: one-" in http_get(f"http://{seeded_ip}/meta-data")
    for vid in (one_ctx, seeded):
        one.vm.action("terminate-hard", vid)
    for vid in (one_ctx, seeded):
        wait_state(one, h, vid, DONE)


def nubo_cli(d, *args: str) -> subprocess.CompletedProcess:
    """Runs the `nubo` CLI (beside nubod) as oneadmin."""
    auth = d.tmp / "cli_auth"
    auth.write_text(d.admin_session + "\n")
    env = {**os.environ, "ONE_XMLRPC": d.endpoint, "ONE_AUTH": str(auth)}
    return subprocess.run([str(d.binary.parent / "nubo"), *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_the_cli_shows_the_serial_console_and_the_vnc_address(cloud, guest):
    d, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    vid = one.vm.allocate(
        f'NAME="{uniq("screen")}"\nCPU="0.5"\nMEMORY="128"\n'
        + kernel_boot(guest) + f'\n'
        f'GRAPHICS=[TYPE="VNC", LISTEN="0.0.0.0"]\nSCHED_REQUIREMENTS="ID = {hid}"', False)
    wait_state(one, h, vid, ACTIVE, RUNNING)
    wait_for(lambda: "GUEST-READY" in h.serial(vid), timeout=90, what="guest ready")
    out = nubo_cli(d, "vm", "console", str(vid))
    assert out.returncode == 0, out.stderr
    assert "GUEST-UP" in out.stdout and "GUEST-READY" in out.stdout
    vnc = nubo_cli(d, "vm", "vnc", str(vid))
    assert vnc.returncode == 0, vnc.stderr
    assert vnc.stdout.strip() == f"{h.name}:{5900 + vid}"
    # The VNC server answers on the host with the RFB greeting.
    banner = h.netns("sh", "-c", f"busybox nc -w 2 {h.addr} {5900 + vid} </dev/null | head -c 12")
    assert banner.startswith("RFB 003."), banner
    # Someone who may not manage the VM does not see its console.
    peeker = uniq("peek")
    assert one.user.allocate(peeker, "pw", "core", []) > 0
    peek = subprocess.run([str(d.binary.parent / "nubo"), "vm", "console", str(vid)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "ONE_XMLRPC": d.endpoint,
                               "ONE_AUTH": str(_auth(d, uniq("peekauth"), peeker))})
    assert peek.returncode != 0
    one.vm.action("terminate-hard", vid)
    wait_state(one, h, vid, DONE)


def _auth(d, name: str, user: str):
    p = d.tmp / name
    p.write_text(f"{user}:pw\n")
    return p
