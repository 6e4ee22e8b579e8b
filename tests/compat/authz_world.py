"""The small cloud the XML-RPC authorization matrix (test_authz_matrix.py) runs against,
and the pool snapshots both matrices compare.

``build_world``: a fresh nubod, one simulated host, and objects of every kind owned by
"alice" with mode 600: her VM running on the host (a disk of her image, a NIC on her
network in her security group, in her VM group, with a VM snapshot, a disk snapshot and a
scheduled action), her template, network template, document, a reservation of the public
network and an EC2 access key. "bob", an ordinary user in the same group (users), has his
own running VM on a public network and a template naming alice's image; a public template
and a public image are there for him to use. "carol" is alone in a group that has no ACL rule at all, "gina" administers
carol's group, "dave" is disabled, and sessions that worked once must not any more (a user
disabled after use, a password changed after use, a revoked login token). Admin-only: a
cluster, a datastore, a group, the ACL rules.

``snapshot`` reads every pool as oneadmin (and the quotas in user and group info), so that
a matrix can take one before and one after each refused call and compare them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import xmlrpc.client
from dataclasses import dataclass, field

from onehelpers import Nubod, TestUser, connect, uniq, wait_for

RUNNING_LCM = 3
MODE_600 = (1, 1, 0, 0, 0, 0, 0, 0, 0)
PUBLIC = (1, 1, 0, 1, 0, 0, 1, 0, 0)


@dataclass
class World:
    nubod: Nubod
    admin_raw: xmlrpc.client.ServerProxy
    alice: TestUser
    bob: TestUser
    carol: TestUser
    dave: TestUser
    gina: TestUser = None  # type: ignore[assignment]
    host: int = -1
    cluster: int = -1
    datastore: int = -1
    group: int = -1
    acl_rule: int = -1
    public_net: int = -1
    public_template: int = -1
    public_image: int = -1
    reservation: int = -1
    net: int = -1
    image: int = -1
    template: int = -1
    secgroup: int = -1
    vmgroup: int = -1
    document: int = -1
    vntemplate: int = -1
    vm: int = -1
    bob_vm: int = -1
    bob_template: int = -1
    alice_ec2_key: str = "NUBO0000000000000000"
    # sessions that once worked: erin's (then disabled), frank's old password (then
    # changed), a login token of alice's (then revoked)
    stale_sessions: dict = field(default_factory=dict)
    ec2_keys_served: bool = False
    alice_ids: dict = field(default_factory=dict)

    def admin(self):
        return self.nubod.admin()

    def raw(self, method: str, *args):
        """oneadmin's call with Python's own client, no validation: [ok, value, code, ...]."""
        return getattr(self.admin_raw, method)(self.nubod.admin_session, *args)


def _user(admin, endpoint, name, groups):
    password = "pw-" + uniq("p")
    uid = admin.user.allocate(name, password, "core", groups)
    return TestUser(uid, name, password, connect(endpoint, f"{name}:{password}"))


def _vm_settled(one, vid):
    vm = one.xml("vm.info", vid)
    return int(vm.findtext("STATE")) == 3 and int(vm.findtext("LCM_STATE")) == RUNNING_LCM


def build_world(monitor_interval: int = 1) -> World:
    d = Nubod(monitor_interval=monitor_interval).start()
    try:
        return _build(d)
    except BaseException:
        d.stop()
        raise


def _build(d: Nubod) -> World:
    admin = d.admin()
    raw = xmlrpc.client.ServerProxy(d.endpoint)
    tag = uniq("az")
    alice = _user(admin, d.endpoint, f"alice-{tag}", [1])
    bob = _user(admin, d.endpoint, f"bob-{tag}", [1])
    w = World(d, raw, alice, bob, None, None)  # type: ignore[arg-type]
    w.group = admin.group.allocate(f"grp-{tag}")
    # A new group gets the CREATE rule users have and the default VDC's rules; carol's
    # group loses them all, so that she may create and use nothing at all. The users group
    # is taken out of the default VDC (as an operator who gives each group its own
    # networks and datastores does): alice's network and datastore are then hers alone.
    for rule in admin.xml("acl.info").findall("ACL"):
        text = rule.findtext("STRING")
        if text.startswith(f"@{w.group} ") or text.endswith(" #0") and text.startswith("@1 "):
            admin.acl.delrule(int(rule.findtext("ID")))
    w.carol = _user(admin, d.endpoint, f"carol-{tag}", [w.group])
    w.dave = _user(admin, d.endpoint, f"dave-{tag}", [1])
    # gina administers carol's group.
    w.gina = _user(admin, d.endpoint, f"gina-{tag}", [w.group])
    admin.group.addadmin(w.group, w.gina.id)
    admin.user.enable(w.dave.id, False)

    # Sessions that worked once (and are in the session cache) and then must not.
    erin = _user(admin, d.endpoint, f"erin-{tag}", [1])
    frank = _user(admin, d.endpoint, f"frank-{tag}", [1])
    for u in (erin, frank):
        u.one.user.info(-1)
    admin.user.enable(erin.id, False)
    admin.user.passwd(frank.id, "pw-" + uniq("new"))
    token = alice.one.user.login(alice.name, "", 3600, -1)
    connect(d.endpoint, f"{alice.name}:{token}").user.info(-1)
    alice.one.user.login(alice.name, token, 0, -1)
    w.stale_sessions = {"disabled after use": erin.session,
                        "password changed after use": frank.session,
                        "revoked login token": f"{alice.name}:{token}"}

    w.host = admin.host.allocate(f"host-{tag}", "dummy", "dummy", -1)
    wait_for(lambda: admin.host.info(w.host).STATE == 2, what="host MONITORED")
    w.cluster = admin.cluster.allocate(f"cl-{tag}")
    w.datastore = admin.datastore.allocate(
        f'NAME="ds-{tag}"\nTYPE="IMAGE_DS"\nDS_MAD="fs"\nTM_MAD="ssh"', -1)
    w.acl_rule = 0

    # A network everyone may use (bob's VM is on it).
    w.public_net = admin.vn.allocate(
        f'NAME="pub-{tag}"\nBRIDGE="br-pub"\nVN_MAD="dummy"\nAR=[TYPE="IP4", IP="10.8.0.10", SIZE="20"]', -1)
    admin.vn.chmod(w.public_net, *PUBLIC)
    # A template everyone may instantiate.
    w.public_template = admin.template.allocate(
        f'NAME="ptpl-{tag}"\nCPU="0.1"\nMEMORY="32"\nSCHED_REQUIREMENTS="ID = {w.host}"')
    admin.template.chmod(w.public_template, *PUBLIC)

    # Alice's objects. Users may not create networks, network templates or images in the
    # bootstrap datastores, so oneadmin makes those and gives them to her.
    w.net = admin.vn.allocate(
        f'NAME="net-{tag}"\nBRIDGE="br-a"\nVN_MAD="dummy"\nAR=[TYPE="IP4", IP="10.9.0.10", SIZE="20"]', -1)
    w.vntemplate = admin.vntemplate.allocate(
        f'NAME="vnt-{tag}"\nVN_MAD="dummy"\nBRIDGE="br-t"\nAR=[TYPE="IP4", IP="10.10.0.1", SIZE="4"]')
    w.image = admin.image.allocate(f'NAME="img-{tag}"\nTYPE="DATABLOCK"\nSIZE="1"\nFORMAT="raw"', 1)
    w.public_image = admin.image.allocate(f'NAME="pimg-{tag}"\nTYPE="DATABLOCK"\nSIZE="1"\nFORMAT="raw"', 1)
    wait_for(lambda: admin.image.info(w.image).STATE == 1 and admin.image.info(w.public_image).STATE == 1,
             what="images READY")
    admin.image.chmod(w.public_image, *PUBLIC)
    for kind, oid in (("vn", w.net), ("vntemplate", w.vntemplate), ("image", w.image)):
        admin.call(f"{kind}.chown", oid, alice.id, 1)

    a = alice.one
    # Alice's reservation of one address of the public network.
    w.reservation = a.vn.reserve(w.public_net, f'SIZE="1"\nNAME="res-{tag}"')
    w.secgroup = a.secgroup.allocate(
        f'NAME="sg-{tag}"\nRULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="22"]')
    w.vmgroup = a.vmgroup.allocate(f'NAME="vmg-{tag}"\nROLE=[NAME="r1"]\nROLE=[NAME="r2"]')
    w.document = a.document.allocate(f'NAME="doc-{tag}"\nSECRET_SAUCE="42"', 100)
    w.template = a.template.allocate(
        f'NAME="tpl-{tag}"\nCPU="0.1"\nMEMORY="32"\nDISK=[IMAGE_ID="{w.image}"]\n'
        f'NIC=[NETWORK_ID="{w.net}"]\nSCHED_REQUIREMENTS="ID = {w.host}"')
    w.vm = a.vm.allocate(
        f'NAME="vm-{tag}"\nCPU="0.1"\nMEMORY="32"\nDISK=[IMAGE_ID="{w.image}"]\n'
        f'NIC=[NETWORK_ID="{w.net}", SECURITY_GROUPS="{w.secgroup}"]\n'
        f'VMGROUP=[VMGROUP_ID="{w.vmgroup}", ROLE="r1"]\n'
        f'SCHED_ACTION=[ACTION="terminate-hard", TIME="+864000"]\n'
        f'SCHED_REQUIREMENTS="ID = {w.host}"', False)
    wait_for(lambda: _vm_settled(admin, w.vm), timeout=60, what="alice's VM RUNNING")
    a.vm.snapshotcreate(w.vm, "snap")
    wait_for(lambda: _vm_settled(admin, w.vm) and admin.xml("vm.info", w.vm).find("TEMPLATE/SNAPSHOT") is not None,
             timeout=60, what="alice's VM snapshot")
    a.vm.disksnapshotcreate(w.vm, 0, "dsnap")
    wait_for(lambda: _vm_settled(admin, w.vm) and admin.xml("vm.info", w.vm).find("SNAPSHOTS/SNAPSHOT") is not None,
             timeout=60, what="alice's disk snapshot")
    for kind, oid in (("vn", w.net), ("vn", w.reservation), ("vntemplate", w.vntemplate), ("image", w.image),
                      ("secgroup", w.secgroup), ("vmgroup", w.vmgroup), ("document", w.document),
                      ("template", w.template), ("vm", w.vm)):
        admin.call(f"{kind}.chmod", oid, *MODE_600)

    w.bob_vm = bob.one.vm.allocate(
        f'NAME="bvm-{tag}"\nCPU="0.1"\nMEMORY="32"\nNIC=[NETWORK_ID="{w.public_net}"]\n'
        f'SCHED_REQUIREMENTS="ID = {w.host}"', False)
    wait_for(lambda: _vm_settled(admin, w.bob_vm), timeout=60, what="bob's VM RUNNING")
    # Alice's EC2 access key (one.user.ec2keycreate; see ec2_keys_served).
    ret = w.raw("one.user.ec2keycreate", w.alice.id) if _served(d, "one.user.ec2keycreate") else None
    if ret is not None:
        assert ret[0] is True, ret
        w.alice_ec2_key = ET.fromstring(ret[1]).findtext("ACCESS_KEY_ID")
        w.ec2_keys_served = True
    # Bob's template naming alice's image (allocate does not check what a template names;
    # what is done with it must), readable by all.
    w.bob_template = bob_template(w)
    bob.one.template.chmod(w.bob_template, *PUBLIC)
    w.alice_ids = {"vm": w.vm, "template": w.template, "image": w.image, "vn": w.net,
                   "vntemplate": w.vntemplate, "secgroup": w.secgroup, "vmgroup": w.vmgroup,
                   "document": w.document}
    return w


def bob_template(w: World) -> int:
    return w.bob.one.template.allocate(
        f'NAME="btpl-{uniq("t")}"\nCPU="0.1"\nMEMORY="32"\nDISK=[IMAGE_ID="{w.image}"]\n'
        f'SCHED_REQUIREMENTS="ID = {w.host}"')


def _served(d: Nubod, method: str) -> bool:
    return method in xmlrpc.client.ServerProxy(d.endpoint).system.listMethods()


# --------------------------------------------------------------------------
# Snapshots of every pool, as oneadmin
# --------------------------------------------------------------------------

# Elements that may change by themselves (monitoring rounds, clocks), dropped wherever they
# are. (An idle world with simulated hosts changes nothing else; snapshots of it taken
# seconds apart are equal even without this.)
VOLATILE_TAGS = {
    "MONITORING", "LAST_MON_TIME", "LAST_POLL",
    # a datastore's sizes are its filesystem's, which other processes change
    "TOTAL_MB", "FREE_MB", "USED_MB",
}


def _strip(elem: ET.Element, tags: set[str]) -> None:
    for child in list(elem):
        if child.tag in tags:
            elem.remove(child)
        else:
            _strip(child, tags)


def normalise(xml: str, tags: set[str] = VOLATILE_TAGS) -> str:
    root = ET.fromstring(xml)
    _strip(root, tags)
    return ET.tostring(root, encoding="unicode")


def snapshot_calls(w: World) -> list[tuple[str, tuple]]:
    return [
        ("one.userpool.info", ()),
        ("one.grouppool.info", ()),
        ("one.user.info", (w.alice.id,)),
        ("one.user.info", (w.bob.id,)),
        ("one.user.info", (w.carol.id,)),
        ("one.group.info", (1,)),
        ("one.group.info", (w.group,)),
        ("one.userquota.info", ()),
        ("one.groupquota.info", ()),
        ("one.vmpool.info", (-2, -1, -1, -2)),
        ("one.vmpool.infoextended", (-2, -1, -1, -2)),
        ("one.templatepool.info", (-2, -1, -1)),
        ("one.imagepool.info", (-2, -1, -1)),
        ("one.vnpool.info", (-2, -1, -1)),
        ("one.vntemplatepool.info", (-2, -1, -1)),
        ("one.secgrouppool.info", (-2, -1, -1)),
        ("one.vmgrouppool.info", (-2, -1, -1)),
        ("one.documentpool.info", (-2, -1, -1, -1)),
        ("one.hostpool.info", ()),
        ("one.clusterpool.info", ()),
        ("one.datastorepool.info", ()),
        ("one.zonepool.info", ()),
        ("one.acl.info", ()),
    ] + ([("one.user.ec2keyinfo", (w.alice.id,)), ("one.user.ec2keyinfo", (w.bob.id,))]
         if w.ec2_keys_served else [])


def snapshot(w: World) -> dict[str, str]:
    out = {}
    for method, args in snapshot_calls(w):
        ret = w.raw(method, *args)
        assert ret[0] is True, f"{method}{args} as oneadmin failed: {ret!r}"
        out[f"{method}{args}"] = normalise(ret[1])
    return out


def diff_snapshots(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """What changed, pool by pool, as short readable lines."""
    import difflib
    out = []
    for key in before:
        if before[key] != after[key]:
            a = re.sub(r"><", ">\n<", before[key]).splitlines()
            b = re.sub(r"><", ">\n<", after[key]).splitlines()
            d = [l for l in difflib.unified_diff(a, b, lineterm="", n=1)][2:]
            out.append(f"{key}:\n  " + "\n  ".join(d[:30]))
    return out
