"""Networks of real guests: security groups applied on the host with nftables (only what
a group allows reaches a guest, answers flow back, groups attached and detached while it
runs), and 802.1Q VLANs (a guest on VLAN 100 is reachable on that VLAN and cut off from
the untagged network, even with an address of the same subnet)."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from hostd import guest_dir, http_get, kernel_boot, lab_cloud, sh, wait_state
from onehelpers import uniq, wait_for

ACTIVE, DONE = 3, 6
RUNNING = 3


@pytest.fixture(scope="module")
def guest():
    return guest_dir()


@pytest.fixture(scope="module")
def cloud(guest):
    with lab_cloud(index=5) as (d, lab, (h,)):
        yield d, lab, h


def wait_running(one, h, vid, timeout=90):
    wait_state(one, h, vid, ACTIVE, RUNNING, timeout)


def boot(one, guest, hid, net, name, extra=""):
    vid = one.vm.allocate(
        f'NAME="{uniq(name)}"\nCPU="0.5"\nMEMORY="128"\n'
        + kernel_boot(guest) + f'\n'
        f'NIC=[NETWORK_ID="{net}"{extra}]\nCONTEXT=[NETWORK="YES", HOSTNAME="{name}"]\n'
        f'SCHED_REQUIREMENTS="ID = {hid}"', False)
    return vid


def pings(ip: str, netns: str | None = None) -> bool:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return subprocess.run([*prefix, "busybox", "ping", "-c", "1", "-W", "1", ip],
                          capture_output=True, timeout=20).returncode == 0


def test_security_groups_let_through_only_what_they_allow(cloud, guest):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    net = one.vn.allocate(
        f'NAME="{uniq("lan")}"\nVN_MAD="bridge"\nBRIDGE="br0"\nNETWORK_MASK="255.255.255.0"\n'
        f'AR=[TYPE="IP4", IP="10.99.{lab.index}.10", SIZE="10"]', -1)
    # Every network has the default group 0; here it lets only web traffic in.
    one.secgroup.update(0, 'RULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="80"]\n'
                           'RULE=[PROTOCOL="ALL", RULE_TYPE="outbound"]', 0)
    icmp = one.secgroup.allocate(
        f'NAME="{uniq("icmp")}"\nRULE=[PROTOCOL="ICMP", RULE_TYPE="inbound"]')
    a = boot(one, guest, hid, net, "sg-a")
    b = boot(one, guest, hid, net, "sg-b", f', SECURITY_GROUPS="{icmp}"')
    assert one.vm.info(b).TEMPLATE["NIC"]["SECURITY_GROUPS"] == f"0,{icmp}"
    for vid in (a, b):
        wait_running(one, h, vid)
        wait_for(lambda: "GUEST-READY" in h.serial(vid), timeout=90, what=f"VM {vid} ready")
    ip_a = one.vm.info(a).TEMPLATE["NIC"]["IP"]
    ip_b = one.vm.info(b).TEMPLATE["NIC"]["IP"]

    wait_for(lambda: "nubo-test-guest" in http_get(f"http://{ip_a}/"), timeout=30, what="A on :80")
    assert not pings(ip_a), "ICMP to A is not allowed"
    assert pings(ip_b) and "nubo-test-guest" in http_get(f"http://{ip_b}/"), "B lets ICMP in"
    # Guest to guest: B reaches A's web server but not its ICMP; A's pings to B come back.
    # (The guest's static busybox wget crashes; nc speaks HTTP well enough.)
    http = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip_a} 80 | grep -c nubo-test-guest"
    assert h.ask(b, http) == "1"
    ping = "ping -c 1 -W 1 {} >/dev/null && echo PING-OK || echo PING-NO"
    assert h.ask(b, ping.format(ip_a)) == "PING-NO"
    assert h.ask(a, ping.format(ip_b)) == "PING-OK"

    one.vm.attachsg(a, 0, icmp)
    wait_running(one, h, a)
    wait_for(lambda: pings(ip_a), timeout=15, what="ICMP to A once the group is attached")
    one.vm.detachsg(a, 0, icmp)
    wait_running(one, h, a)
    wait_for(lambda: not pings(ip_a), timeout=15, what="ICMP to A blocked again")
    assert "nubo-test-guest" in http_get(f"http://{ip_a}/")

    # A group's new rules reach its running guests at once, their VMs staying RUNNING.
    web = 'RULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="80"]\nRULE=[PROTOCOL="ALL", RULE_TYPE="outbound"]'
    one.secgroup.update(0, web + '\nRULE=[PROTOCOL="ICMP", RULE_TYPE="inbound"]', 0)
    wait_for(lambda: pings(ip_a), timeout=30, what="ICMP to A once its group lets it in")
    updated = lambda: {int(x.text) for x in one.xml("secgroup.info", 0).findall("UPDATED_VMS/ID")}
    wait_for(lambda: {a, b} <= updated(), timeout=30, what="both VMs UPDATED")
    assert one.vm.info(a).LCM_STATE == RUNNING
    one.secgroup.update(0, web, 0)
    wait_for(lambda: not pings(ip_a), timeout=30, what="ICMP to A blocked again by its group")
    assert "nubo-test-guest" in http_get(f"http://{ip_a}/")

    # A rule naming a group (REMOTE_GROUP_ID, here its own) lets in its members only, as
    # they come and go.
    mates = one.secgroup.allocate(f'NAME="{uniq("mates")}"')
    one.secgroup.update(mates, f'RULE=[PROTOCOL="ICMP", RULE_TYPE="inbound", REMOTE_GROUP_ID="{mates}"]', 0)
    one.vm.attachsg(a, 0, mates)
    wait_running(one, h, a)
    assert h.ask(b, ping.format(ip_a)) == "PING-NO", "B is not a member yet"
    one.vm.attachsg(b, 0, mates)
    wait_running(one, h, b)
    wait_for(lambda: h.ask(b, ping.format(ip_a)) == "PING-OK", timeout=30,
             what="B let in by A once it joined the group")
    assert not pings(ip_a), "the host is not a member"
    one.vm.detachsg(b, 0, mates)
    wait_running(one, h, b)
    wait_for(lambda: h.ask(b, ping.format(ip_a)) == "PING-NO", timeout=30,
             what="B shut out once it left the group")

    for vid in (a, b):
        one.vm.action("terminate-hard", vid)
    for vid in (a, b):
        wait_for(lambda: one.vm.info(vid).STATE == DONE, timeout=60, what="DONE")
    rules = h.netns("nft", "list", "table", "inet", "nubo", check=False)
    assert "vm_one_" not in rules, f"no chain left behind:\n{rules}"


@pytest.mark.parametrize("kind", ["802.1Q", "vxlan"])
def test_a_guest_on_a_vlan_is_cut_off_from_the_untagged_network(cloud, guest, kind):
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    probe = f"np{uuid.uuid4().hex[:6]}"
    sh("ip", "netns", "add", probe)
    n = ["ip", "netns", "exec", probe]
    try:
        # A probe on the same VLAN (802.1Q: on the guests' LAN; VXLAN: on the fabric).
        wire = lab.lan if kind == "802.1Q" else lab.fabric
        sh("ip", "link", "add", f"{probe}o", "type", "veth", "peer", "name", "eth0", "netns", probe)
        sh("ip", "link", "set", f"{probe}o", "master", wire, "up")
        sh(*n, "ip", "link", "set", "eth0", "up")
        if kind == "802.1Q":
            made = subprocess.run([*n, "ip", "link", "add", "link", "eth0", "name", "v100", "type",
                                   "vlan", "id", "100"], capture_output=True, text=True)
            if made.returncode != 0:
                pytest.skip(f"this kernel cannot tag 802.1Q frames: {made.stderr.strip()}")
            phydev = "uplink"
        else:
            sh(*n, "ip", "addr", "add", f"10.213.{lab.index}.200/24", "dev", "eth0")
            sh(*n, "ip", "link", "add", "v100", "type", "vxlan", "id", "100", "group",
               "239.0.0.100", "dev", "eth0", "dstport", "4789")
            phydev = "eth0"
        sh(*n, "ip", "addr", "add", f"10.99.{lab.index}.2/24", "dev", "v100")
        sh(*n, "ip", "link", "set", "v100", "up")
        vlan = one.vn.allocate(
            f'NAME="{uniq("vlan")}"\nVN_MAD="{kind}"\nPHYDEV="{phydev}"\nVLAN_ID="100"\n'
            f'NETWORK_MASK="255.255.255.0"\nAR=[TYPE="IP4", IP="10.99.{lab.index}.60", SIZE="5"]', -1)
        vid = boot(one, guest, hid, vlan, "tagged")
        wait_running(one, h, vid)
        wait_for(lambda: "GUEST-READY" in h.serial(vid), timeout=90, what="guest ready")
        ip = one.vm.info(vid).TEMPLATE["NIC"]["IP"]
        bridge = one.vm.info(vid).TEMPLATE["NIC"]["BRIDGE"]
        assert bridge in h.links() and f"{phydev}.100" in h.links()
        wait_for(lambda: "nubo-test-guest" in http_get(f"http://{ip}/", probe), timeout=30,
                 what=f"the guest on {kind} 100")
        assert not pings(ip), "the untagged LAN does not reach the VLAN guest"
        assert http_get(f"http://{ip}/") == ""
        one.vm.action("terminate-hard", vid)
        wait_for(lambda: one.vm.info(vid).STATE == DONE, timeout=60, what="DONE")
        assert f"one-{vid}-0" not in h.links()
    finally:
        sh("ip", "link", "del", f"{probe}o", check=False)
        sh("ip", "netns", "del", probe, check=False)


def test_a_guest_cannot_send_from_an_address_its_network_does_not_give_it(cloud, guest):
    """FILTER_IP_SPOOFING and FILTER_MAC_SPOOFING: on such a network a guest that takes
    another address or MAC is cut off until it goes back to its own; on a network without
    them the same trick works (so the filter, not the trick, is what stops it)."""
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    nets = {}
    for name, base, flags in (("guarded", 40, 'FILTER_IP_SPOOFING="YES"\nFILTER_MAC_SPOOFING="YES"\n'),
                              ("open", 50, "")):
        nets[name] = one.vn.allocate(
            f'NAME="{uniq(name)}"\nVN_MAD="bridge"\nBRIDGE="br0"\nNETWORK_MASK="255.255.255.0"\n'
            f'{flags}AR=[TYPE="IP4", IP="10.99.{lab.index}.{base}", SIZE="5"]', -1)
    vms = {name: boot(one, guest, hid, net, f"spoof-{name}") for name, net in nets.items()}
    for vid in vms.values():
        wait_running(one, h, vid)
        h.wait_shell(vid)
    gw = lab.gateway
    ping = f"ping -c 1 -W 2 {gw} >/dev/null && echo PING-OK || echo PING-NO"
    # The default group 0 lets everything out and (in this module) only :80 in; pings
    # from the guest get their answers back through connection tracking.
    one.secgroup.update(0, 'RULE=[PROTOCOL="ALL", RULE_TYPE="outbound"]\n'
                           'RULE=[PROTOCOL="ALL", RULE_TYPE="inbound"]', 0)
    for vid in vms.values():
        assert h.ask(vid, ping) == "PING-OK"

    for name, vid in vms.items():
        fake = f"10.99.{lab.index}.{99 if name == 'guarded' else 98}"
        spoofed = (f"ip addr flush dev eth0; ip addr add {fake}/24 dev eth0; "
                   f"ip neigh flush all >/dev/null 2>&1; {ping}")
        expected = "PING-NO" if name == "guarded" else "PING-OK"
        assert h.ask(vid, spoofed, timeout=30) == expected, f"{name} network, address {fake}"
        own = one.vm.info(vid).TEMPLATE["NIC"]["IP"]
        assert h.ask(vid, f"ip addr flush dev eth0; ip addr add {own}/24 dev eth0; {ping}",
                     timeout=30) == "PING-OK"

    vid = vms["guarded"]
    mac = one.vm.info(vid).TEMPLATE["NIC"]["MAC"]
    assert h.ask(vid, f"ip link set eth0 address 02:00:de:ad:be:ef; ip neigh flush all >/dev/null 2>&1; {ping}",
                 timeout=30) == "PING-NO"
    assert h.ask(vid, f"ip link set eth0 address {mac}; ip neigh flush all >/dev/null 2>&1; {ping}",
                 timeout=30) == "PING-OK"

    for vid in vms.values():
        one.vm.action("terminate-hard", vid)
    for vid in vms.values():
        wait_for(lambda: one.vm.info(vid).STATE == DONE, timeout=60, what="DONE")
    left = h.netns("nft", "list", "table", "bridge", "nubo", check=False)
    assert "spoof_" not in left, f"no chain left behind:\n{left}"


def link_local(mac: str) -> str:
    """The IPv6 link-local address a NIC with `mac` gives itself (EUI-64)."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 2
    eui = b[:3] + [0xFF, 0xFE] + b[3:]
    return "fe80::" + ":".join(f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2))


def pings6(addr: str, dev: str) -> bool:
    return subprocess.run(["busybox", "ping6", "-c", "1", "-W", "2", "-I", dev, addr],
                          capture_output=True, timeout=20).returncode == 0


def test_security_groups_filter_ipv6_too(cloud, guest):
    """A guest's IPv6 (here its link-local address) obeys its security groups: ICMPv6 gets
    in only while a group allows it, neighbour discovery always works, and an ICMPv6 rule
    opens nothing for IPv4."""
    d, lab, h = cloud
    one = d.admin()
    hid = h.host_id(one)
    one.secgroup.update(0, 'RULE=[PROTOCOL="ALL", RULE_TYPE="outbound"]', 0)
    icmp6 = one.secgroup.allocate(
        f'NAME="{uniq("icmp6")}"\nRULE=[PROTOCOL="ICMPV6", RULE_TYPE="inbound"]')
    net = one.vn.allocate(
        f'NAME="{uniq("lan6")}"\nVN_MAD="bridge"\nBRIDGE="br0"\nNETWORK_MASK="255.255.255.0"\n'
        f'AR=[TYPE="IP4", IP="10.99.{lab.index}.60", SIZE="5"]', -1)
    vid = boot(one, guest, hid, net, "v6", f', SECURITY_GROUPS="{icmp6}"')
    wait_running(one, h, vid)
    h.wait_shell(vid)
    nic = one.vm.info(vid).TEMPLATE["NIC"]
    addr = link_local(nic["MAC"])
    wait_for(lambda: pings6(addr, lab.lan), timeout=30, what="ICMPv6 to the guest, allowed")
    assert not pings(nic["IP"]), "an ICMPv6 rule does not let IPv4 ICMP in"
    rules = h.netns("nft", "list", "table", "inet", "nubo")
    assert "vm6_one_" in rules and "ipv6-icmp accept" in rules, rules

    # A rule's IPv6 range binds it to those addresses: the probe's link-local one is in
    # fe80::/64, not in 2001:db8::/64.
    rule6 = 'RULE=[PROTOCOL="ICMPV6", RULE_TYPE="inbound", IP="{}", SIZE="{}"]'
    one.secgroup.update(icmp6, rule6.format("2001:db8::", 2 ** 64), 0)
    wait_for(lambda: not pings6(addr, lab.lan), timeout=30, what="ICMPv6 from outside the range blocked")
    one.secgroup.update(icmp6, rule6.format("fe80::", 2 ** 64), 0)
    wait_for(lambda: pings6(addr, lab.lan), timeout=30, what="ICMPv6 from inside the range allowed")
    # Every IPv4 address (EC2's 0.0.0.0/0) is no IPv6 one; every IPv6 address (::/0) is.
    one.secgroup.update(
        icmp6, f'RULE=[PROTOCOL="ALL", RULE_TYPE="inbound", IP="0.0.0.0", SIZE="{2 ** 32 - 1}"]', 0)
    wait_for(lambda: pings(nic["IP"]), timeout=30, what="IPv4 from any IPv4 address allowed")
    assert not pings6(addr, lab.lan), "a rule for every IPv4 address lets no IPv6 in"
    one.secgroup.update(icmp6, rule6.format("::", 2 ** 128 - 1), 0)
    wait_for(lambda: pings6(addr, lab.lan), timeout=30, what="ICMPv6 from any IPv6 address allowed")
    assert not pings(nic["IP"]), "a rule for every IPv6 address lets no IPv4 in"

    one.vm.detachsg(vid, 0, icmp6)
    wait_running(one, h, vid)
    wait_for(lambda: not pings6(addr, lab.lan), timeout=15, what="ICMPv6 to the guest blocked")
    one.vm.attachsg(vid, 0, icmp6)
    wait_running(one, h, vid)
    wait_for(lambda: pings6(addr, lab.lan), timeout=15, what="ICMPv6 allowed again")

    one.vm.action("terminate-hard", vid)
    wait_for(lambda: one.vm.info(vid).STATE == DONE, timeout=60, what="DONE")
    left = h.netns("nft", "list", "table", "inet", "nubo", check=False)
    assert "vm6_one_" not in left, f"no chain left behind:\n{left}"
