"""The authorization matrix of the XML-RPC API (issue 12): a row for every method nubod
serves (``system.listMethods``), and for each method two test cases:

- ``test_bad_session``: the call with a session that authenticates no one (an unknown user,
  an empty session, no colon, alice's name with a wrong password, serveradmin with a
  made-up token for alice, a disabled user, and sessions that worked once and then must
  not: a user disabled after use, a password changed after use, a revoked login token)
  fails with AUTHENTICATION (0x100) as OpenNebula's failure array, and changes nothing.
- ``test_refused``: an ordinary user calls it on what is not his: bob (group users, like
  alice) on alice's objects, all mode 600 (owner only), on admin-only objects and
  operations, on his own VM with alice's image, network, security group or VM group, with
  flags only oneadmin may use; carol (a group without any ACL rule) where bob may
  legitimately create; gina (administrator of carol's group) beyond her group. The answer is
  AUTHORIZATION (0x200), or, where OpenNebula answers something else (pools, which list
  only what the caller may see; version, config, zone reads), that answer, checked so
  that alice's objects stay invisible; the row says why.

Around every call every pool is read as oneadmin (``authz_world.snapshot``) and compared:
a refused call changes nothing. Rows whose answer shows a hole are marked
``xfail(strict=True)`` with what happened, so that they turn into failures once fixed and
the mark must go."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import xmlrpc.client
from dataclasses import dataclass
from typing import Callable

import pyone
import pytest

from authz_world import World, bob_template, build_world, diff_snapshots, snapshot
from onehelpers import (ACTION, ALLOCATE, AUTHENTICATION, AUTHORIZATION, EXCEPTION_FOR_CODE, INTERNAL, REPO_ROOT,
                        RPC_API, connect, uniq)

OK = None  # a call that succeeds

# ----------------------------------------------------------------------------------
# Rows
# ----------------------------------------------------------------------------------


@dataclass
class Call:
    """One call of a row: its arguments (after the session) from the world, who makes it,
    and what it must answer: a failure code, or OK and a check of the reply."""
    args: Callable[[World], tuple]
    who: str = "bob"
    expect: int | frozenset | None = AUTHORIZATION   # a code, a set of codes, or OK
    check: Callable | None = None   # check(w, reply_value, reply_xml_root_or_None)
    what: str = ""
    # bob's own objects the call may legitimately change: [(element tag, id)] from its args
    own: Callable | None = None


@dataclass
class Row:
    calls: list[Call]
    why: str = ""                   # why the answer is not "bob gets 0x200"
    bad_session: int = AUTHENTICATION
    xfail: str | None = None        # a hole: what happened, what OpenNebula does
    bad_session_xfail: str | None = None


def deny(args, who="bob", what="", codes=None, own=None):
    """Refused: AUTHORIZATION, or (`codes`) one of the codes OpenNebula answers there."""
    return Call(args, who=who, expect=frozenset(codes) if codes else AUTHORIZATION, what=what, own=own)


def allow(args, check=None, who="bob", what=""):
    return Call(args, who=who, expect=OK, check=check, what=what)


def row(*calls, why="", xfail=None, bad_session=AUTHENTICATION, bad_session_xfail=None):
    return Row(list(calls), why=why, xfail=xfail, bad_session=bad_session,
               bad_session_xfail=bad_session_xfail)


# -- checks of the replies that succeed ---------------------------------------------


def _ids(root: ET.Element, child: str, id_tag: str = "ID") -> set[int]:
    return {int(e.findtext(id_tag)) for e in root.iter(child) if e.findtext(id_tag) is not None}


def hides(child: str, targets: Callable[[World], list[int]], id_tag: str = "ID",
          admin_call: Callable[[World], tuple] | None = None):
    """The reply lists no `child` element whose `id_tag` is one of `targets`, while the same
    call by oneadmin does list them (so the check can fail)."""
    def check(w: World, value, root, method=None, args=None):
        assert root is not None, f"no XML reply: {value!r}"
        seen = _ids(root, child, id_tag)
        hidden = set(targets(w))
        assert not (seen & hidden), f"bob sees {sorted(seen & hidden)} of {child} (not his): {value[:2000]}"
        ret = w.raw(method, *(admin_call(w) if admin_call else args))
        assert ret[0] is True, ret
        admin_seen = _ids(ET.fromstring(ret[1]), child, id_tag)
        assert hidden <= admin_seen, (
            f"oneadmin's {method} does not list {sorted(hidden - admin_seen)}: the check proves nothing")
    return check


def lists_only(child: str, allowed: Callable[[World], set[int]], id_tag: str = "ID"):
    """The reply lists no `child` other than `allowed` (which it may)."""
    def check(w: World, value, root, method=None, args=None):
        assert root is not None, f"no XML reply: {value!r}"
        seen = _ids(root, child, id_tag)
        extra = seen - allowed(w)
        assert not extra, f"bob sees {child} {sorted(extra)}, not his: {value[:2000]}"
    return check


def returns_string(value_check: Callable[[str], bool] = lambda s: bool(s)):
    def check(w, value, root, method=None, args=None):
        assert isinstance(value, str) and value_check(value), repr(value)
    return check


def is_xml(root_tag: str):
    def check(w, value, root, method=None, args=None):
        assert root is not None and root.tag == root_tag, repr(value)[:300]
    return check


# -- shorthands ------------------------------------------------------------------------

SG_RULE = 'RULE=[PROTOCOL="TCP", RULE_TYPE="inbound", RANGE="80"]'


def vm_text(extra=""):
    return f'NAME="{uniq("x")}"\nCPU="0.1"\nMEMORY="32"\n{extra}'


def owned_pool(kind_child: str, attrs, *extra):
    """A POOL3 (filter, start, end, ...) read by bob with each filter that could name
    alice's objects: -2 all, -1 his and his groups', alice's uid, -4 his group's. None of
    them may list alice's objects `attrs` (World attribute names)."""
    attrs = (attrs,) if isinstance(attrs, str) else attrs
    out = []
    for name, filt in (("all (-2)", lambda w: -2), ("mine and my groups' (-1)", lambda w: -1),
                       ("alice's (uid)", lambda w: w.alice.id), ("my group's (-4)", lambda w: -4)):
        out.append(allow(lambda w, filt=filt: (filt(w), -1, -1, *extra),
                         hides(kind_child, lambda w: [getattr(w, a) for a in attrs],
                               admin_call=lambda w: (-2, -1, -1, *extra)),
                         what=f"filter {name}"))
    return out


ROWS: dict[str, Row] = {
    # ------------------------------------------------------------------ acl
    "one.acl.addrule": row(deny(lambda w: _acl_hex(f"#{w.bob.id} VM+IMAGE+NET+TEMPLATE/* USE+MANAGE+ADMIN *"),
                                what="bob grants himself everything")),
    "one.acl.delrule": row(deny(lambda w: (w.acl_rule,))),
    "one.acl.info": row(deny(lambda w: ()),
                        why="OpenNebula's acl.info needs MANAGE on ACLs (basic_authorization on ACL)"),
    # ------------------------------------------------------------------ cluster
    "one.cluster.adddatastore": row(deny(lambda w: (w.cluster, w.datastore))),
    "one.cluster.addhost": row(deny(lambda w: (w.cluster, w.host))),
    "one.cluster.addvnet": row(deny(lambda w: (w.cluster, w.net))),
    "one.cluster.allocate": row(deny(lambda w: (uniq("cl"),))),
    "one.cluster.deldatastore": row(deny(lambda w: (0, 1))),
    "one.cluster.delete": row(deny(lambda w: (w.cluster,))),
    "one.cluster.delhost": row(deny(lambda w: (0, w.host))),
    "one.cluster.delvnet": row(deny(lambda w: (0, w.net))),
    "one.cluster.info": row(deny(lambda w: (w.cluster,))),
    "one.cluster.optimize": row(deny(lambda w: (0,))),
    "one.cluster.plandelete": row(deny(lambda w: (0,))),
    "one.cluster.planexecute": row(deny(lambda w: (0,))),
    "one.cluster.rename": row(deny(lambda w: (w.cluster, uniq("x")))),
    "one.cluster.update": row(deny(lambda w: (w.cluster, 'X="1"', 1))),
    "one.clusterpool.info": row(allow(lambda w: (), hides("CLUSTER", lambda w: [w.cluster])),
                                why="pools list only what the caller may see"),
    # ------------------------------------------------------------------ datastore
    "one.datastore.allocate": row(deny(lambda w: (f'NAME="{uniq("ds")}"\nTYPE="IMAGE_DS"\nDS_MAD="fs"\nTM_MAD="ssh"', -1))),
    "one.datastore.chmod": row(deny(lambda w: (1, 1, 1, 1, 1, 1, 1, 1, 1, 1))),
    "one.datastore.chown": row(deny(lambda w: (1, w.bob.id, -1))),
    "one.datastore.delete": row(deny(lambda w: (w.datastore,))),
    "one.datastore.enable": row(deny(lambda w: (1, False))),
    "one.datastore.info": row(deny(lambda w: (w.datastore,))),
    "one.datastore.rename": row(deny(lambda w: (w.datastore, uniq("x")))),
    "one.datastore.update": row(deny(lambda w: (w.datastore, 'X="1"', 1))),
    "one.datastorepool.info": row(allow(lambda w: (), hides("DATASTORE", lambda w: [w.datastore])),
                                  why="pools list only what the caller may see"),
    # ------------------------------------------------------------------ document
    "one.document.allocate": row(deny(lambda w: (f'NAME="{uniq("d")}"', 100), who="carol"),
                                 why="bob may create documents (ACL @1 DOCUMENT CREATE); carol's group has no rule"),
    "one.document.chmod": row(deny(lambda w: (w.document, 1, 1, 1, 1, 1, 1, 1, 1, 1))),
    "one.document.chown": row(deny(lambda w: (w.document, w.bob.id, -1))),
    "one.document.clone": row(deny(lambda w: (w.document, uniq("c")))),
    "one.document.delete": row(deny(lambda w: (w.document,))),
    "one.document.info": row(deny(lambda w: (w.document,))),
    "one.document.lock": row(deny(lambda w: (w.document, 4))),
    "one.document.rename": row(deny(lambda w: (w.document, uniq("x")))),
    "one.document.unlock": row(deny(lambda w: (w.document,))),
    "one.document.update": row(deny(lambda w: (w.document, 'X="1"', 1))),
    "one.documentpool.info": row(*owned_pool("DOCUMENT", "document", -1),
                                 why="pools list only what the caller may see"),
    # ------------------------------------------------------------------ group
    "one.group.addadmin": row(deny(lambda w: (1, w.bob.id), what="bob makes himself admin of users"),
                              deny(lambda w: (1, w.gina.id), who="gina", what="admin of another group")),
    "one.group.allocate": row(deny(lambda w: (uniq("g"),))),
    "one.group.deladmin": row(deny(lambda w: (w.group, w.carol.id))),
    "one.group.delete": row(deny(lambda w: (w.group,))),
    "one.group.info": row(deny(lambda w: (w.group,), what="a group bob is not in")),
    "one.group.quota": row(deny(lambda w: (1, 'VM=[VMS="1000", MEMORY="-2"]'), what="quota of his own group"),
                           deny(lambda w: (w.group, 'VM=[VMS="1000"]'), who="gina",
                                what="a group admin sets her group's quota (needs ADMIN)")),
    "one.group.update": row(deny(lambda w: (1, 'X="1"', 1), what="his own group")),
    "one.group.vlan": row(deny(lambda w: (w.group, 'VLAN_ID="7"'))),
    "one.grouppool.info": row(allow(lambda w: (), hides("GROUP", lambda w: [w.group])),
                              why="pools list only what the caller may see"),
    "one.groupquota.info": row(allow(lambda w: (), is_xml("DEFAULT_GROUP_QUOTAS")),
                               why="everyone reads the default quotas (OpenNebula: no authorization)"),
    "one.groupquota.update": row(deny(lambda w: ('VM=[VMS="1000"]',))),
    # ------------------------------------------------------------------ host
    "one.host.allocate": row(deny(lambda w: (uniq("h"), "dummy", "dummy", -1))),
    "one.host.delete": row(deny(lambda w: (w.host,))),
    "one.host.info": row(deny(lambda w: (w.host,))),
    "one.host.monitoring": row(deny(lambda w: (w.host,))),
    "one.host.rename": row(deny(lambda w: (w.host, uniq("x")))),
    "one.host.status": row(deny(lambda w: (w.host, 1))),
    "one.host.update": row(deny(lambda w: (w.host, 'SIM_DEPLOY="failure"', 1))),
    "one.hostpool.info": row(allow(lambda w: (), hides("HOST", lambda w: [w.host])),
                             why="pools list only what the caller may see"),
    "one.hostpool.monitoring": row(allow(lambda w: (-1,), hides("MONITORING", lambda w: [w.host])),
                                   why="pools list only what the caller may see"),
    # ------------------------------------------------------------------ image
    "one.image.allocate": row(
        deny(lambda w: (f'NAME="{uniq("i")}"\nTYPE="DATABLOCK"\nSIZE="1"', w.datastore), what="into a datastore he may not use"),
        deny(lambda w: (f'NAME="{uniq("i")}"\nTYPE="DATABLOCK"\nSIZE="1"', 1), who="carol")),
    "one.image.chmod": row(deny(lambda w: (w.image, 1, 1, 1, 1, 1, 1, 1, 1, 1))),
    "one.image.chown": row(deny(lambda w: (w.image, w.bob.id, -1))),
    "one.image.chtype": row(deny(lambda w: (w.image, "OS"))),
    "one.image.clone": row(deny(lambda w: (w.image, uniq("c"), -1)),
                           deny(lambda w: (w.public_image, uniq("c"), w.datastore),
                                what="a public image into a datastore he may not use"),
                           deny(lambda w: (w.public_image, uniq("c"), -1),
                                what="a public image into its datastore, which he may not use")),
    "one.image.delete": row(deny(lambda w: (w.image, True))),
    "one.image.enable": row(deny(lambda w: (w.image, False))),
    "one.image.info": row(deny(lambda w: (w.image,))),
    "one.image.lock": row(deny(lambda w: (w.image, 4))),
    "one.image.persistent": row(deny(lambda w: (w.image, True))),
    "one.image.rename": row(deny(lambda w: (w.image, uniq("x")))),
    "one.image.restore": row(deny(lambda w: (w.image, 1, ""))),
    "one.image.snapshotdelete": row(deny(lambda w: (w.image, 0))),
    "one.image.snapshotflatten": row(deny(lambda w: (w.image, 0))),
    "one.image.snapshotrevert": row(deny(lambda w: (w.image, 0))),
    "one.image.unlock": row(deny(lambda w: (w.image,))),
    "one.image.update": row(deny(lambda w: (w.image, 'X="1"', 1))),
    "one.imagepool.info": row(*owned_pool("IMAGE", "image"), why="pools list only what the caller may see"),
    # ------------------------------------------------------------------ secgroup
    "one.secgroup.allocate": row(deny(lambda w: (f'NAME="{uniq("sg")}"',), who="carol"),
                                 why="bob may create security groups (ACL @1); carol's group has no rule"),
    "one.secgroup.chmod": row(deny(lambda w: (w.secgroup, 1, 1, 1, 1, 1, 1, 1, 1, 1))),
    "one.secgroup.chown": row(deny(lambda w: (w.secgroup, w.bob.id, -1))),
    "one.secgroup.clone": row(deny(lambda w: (w.secgroup, uniq("c")))),
    "one.secgroup.commit": row(deny(lambda w: (w.secgroup, False)),
                               deny(lambda w: (0, False), what="the default group (bob may only use it)")),
    "one.secgroup.delete": row(deny(lambda w: (w.secgroup,))),
    "one.secgroup.info": row(deny(lambda w: (w.secgroup,))),
    "one.secgroup.rename": row(deny(lambda w: (w.secgroup, uniq("x")))),
    "one.secgroup.update": row(deny(lambda w: (w.secgroup, SG_RULE, 1)),
                               deny(lambda w: (0, SG_RULE, 1), what="the default group every network has")),
    "one.secgrouppool.info": row(*owned_pool("SECURITY_GROUP", "secgroup"),
                                 why="pools list only what the caller may see"),
    # ------------------------------------------------------------------ system
    "one.system.config": row(allow(lambda w: (), is_xml("OPENNEBULA_CONFIGURATION")),
                             why="every user reads the configuration (OpenNebula hides only secrets)"),
    "one.system.version": row(allow(lambda w: (), returns_string(lambda s: s.startswith("7."))),
                              why="every user reads the version"),
    # ------------------------------------------------------------------ template
    "one.template.allocate": row(deny(lambda w: (vm_text(),), who="carol"),
                                 why="bob may create templates (ACL @1); carol's group has no rule"),
    "one.template.chmod": row(deny(lambda w: (w.template, 1, 1, 1, 1, 1, 1, 1, 1, 1)),
                              deny(lambda w: (w.bob_template, 1, 1, 0, 1, 0, 0, 1, 0, 0, True),
                                   what="recursive, on his template naming alice's image")),
    "one.template.chown": row(deny(lambda w: (w.template, w.bob.id, -1))),
    "one.template.clone": row(deny(lambda w: (w.template, uniq("c"), False)),
                              deny(lambda w: (w.bob_template, uniq("c"), True),
                                   what="recursive, of his template naming alice's image")),
    "one.template.delete": row(deny(lambda w: (w.template, True)),
                               deny(lambda w: (bob_template(w), True), codes={ACTION, AUTHORIZATION},
                                    own=lambda w, args: [("VMTEMPLATE", args[0])],
                                    what="recursive, of a template of his naming alice's image"),
                               why="a recursive delete of bob's own template deletes the template and "
                                   "refuses alice's image (oned: ACTION 'not all its images'): only bob's "
                                   "template may go"),
    "one.template.info": row(deny(lambda w: (w.template,))),
    "one.template.instantiate": row(
        deny(lambda w: (w.template, uniq("x"), False, "", False)),
        deny(lambda w: (w.public_template, uniq("x"), True, f'DISK=[IMAGE_ID="{w.image}"]', False),
             what="a public template with alice's image"),
        deny(lambda w: (w.public_template, uniq("x"), True, f'NIC=[NETWORK_ID="{w.net}"]', False),
             what="a public template on alice's network"),
        deny(lambda w: (w.bob_template, uniq("x"), True, "", False), what="his template naming alice's image"),
        deny(lambda w: (w.bob_template, uniq("x"), True, "", True),
             what="his template naming alice's image, persistent (her image copied for him)")),
    "one.template.lock": row(deny(lambda w: (w.template, 4))),
    "one.template.rename": row(deny(lambda w: (w.template, uniq("x")))),
    "one.template.unlock": row(deny(lambda w: (w.template,))),
    "one.template.update": row(deny(lambda w: (w.template, 'X="1"', 1))),
    "one.templatepool.info": row(*owned_pool("VMTEMPLATE", "template"),
                                 why="pools list only what the caller may see"),
    # ------------------------------------------------------------------ user
    "one.user.addgroup": row(deny(lambda w: (w.bob.id, 0), what="bob joins oneadmin"),
                             deny(lambda w: (w.carol.id, 0), who="gina", what="a group admin puts her user in oneadmin")),
    "one.user.allocate": row(deny(lambda w: (uniq("u"), "pw", "core", [0])),
                             deny(lambda w: (uniq("u"), "pw", "core", [0]), who="gina",
                                  what="a group admin creates a user in oneadmin")),
    "one.user.chauth": row(deny(lambda w: (w.alice.id, "core", "hijacked")),
                           deny(lambda w: (w.alice.id, "core", "hijacked"), who="gina", what="a user outside her group")),
    "one.user.chgrp": row(deny(lambda w: (w.bob.id, 0), what="bob moves to oneadmin"),
                          deny(lambda w: (w.bob.id, w.group), what="bob moves to a group he is not in"),
                          deny(lambda w: (w.carol.id, 0), who="gina", what="a group admin moves her user to oneadmin"),
                          deny(lambda w: (w.alice.id, w.group), what="alice moved")),
    "one.user.delete": row(deny(lambda w: (w.alice.id,))),
    "one.user.delgroup": row(deny(lambda w: (w.alice.id, 1))),
    "one.user.enable": row(deny(lambda w: (w.alice.id, False))),
    "one.user.info": row(deny(lambda w: (w.alice.id,))),
    "one.user.login": row(deny(lambda w: (w.alice.name, "", 600, -1), what="a token for alice"),
                          deny(lambda w: (w.bob.name, "", 600, 0), codes={ACTION, AUTHORIZATION, RPC_API},
                               what="a token of his own acting as group oneadmin"),
                          deny(lambda w: (w.bob.name, "", 600, w.group), codes={ACTION, AUTHORIZATION, RPC_API},
                               what="a token of his own acting as a group he is not in"),
                          why="a token for oneself in a group one is not in is refused (OpenNebula: "
                              "'EGID is not in user group list'), not always as 0x200"),
    "one.user.ec2keycreate": row(deny(lambda w: (w.alice.id,), what="a key to sign as alice")),
    "one.user.ec2keydelete": row(deny(lambda w: (w.alice.id, w.alice_ec2_key))),
    "one.user.ec2keyinfo": row(deny(lambda w: (w.alice.id,))),
    "one.user.passwd": row(deny(lambda w: (w.alice.id, "hijacked")),
                           deny(lambda w: (0, "hijacked"), who="gina", what="oneadmin's password by a group admin")),
    "one.user.quota": row(deny(lambda w: (w.bob.id, 'VM=[VMS="1000"]'), what="bob raises his own quota"),
                          deny(lambda w: (w.alice.id, 'VM=[VMS="0"]'), what="alice's quota")),
    "one.user.update": row(deny(lambda w: (w.alice.id, 'X="1"', 1))),
    "one.userpool.info": row(allow(lambda w: (), hides("USER", lambda w: [w.alice.id, w.carol.id, 0])),
                             why="pools list only what the caller may see"),
    "one.userquota.info": row(allow(lambda w: (), is_xml("DEFAULT_USER_QUOTAS")),
                              why="everyone reads the default quotas (OpenNebula: no authorization)"),
    "one.userquota.update": row(deny(lambda w: ('VM=[VMS="1000"]',))),
    # ------------------------------------------------------------------ vm
    "one.vm.action": row(deny(lambda w: ("terminate-hard", w.vm)), deny(lambda w: ("poweroff", w.vm)),
                         deny(lambda w: ("resched", w.bob_vm), what="resched of his own VM needs ADMIN")),
    "one.vm.allocate": row(
        deny(lambda w: (vm_text(f'DISK=[IMAGE_ID="{w.image}"]'), True), what="with alice's image"),
        deny(lambda w: (vm_text(f'NIC=[NETWORK_ID="{w.net}"]'), True), what="on alice's network"),
        deny(lambda w: (vm_text(f'NIC=[NETWORK_ID="{w.public_net}", SECURITY_GROUPS="{w.secgroup}"]'), True),
             what="in alice's security group"),
        deny(lambda w: (vm_text(f'VMGROUP=[VMGROUP_ID="{w.vmgroup}", ROLE="r2"]'), True),
             what="in alice's VM group"),
        deny(lambda w: (vm_text(f'DISK=[IMAGE="{_name(w, "image", w.image)}", IMAGE_UNAME="{w.alice.name}"]'), True),
             what="alice's image by name"),
        deny(lambda w: (vm_text(f'NIC=[NETWORK="{_name(w, "vn", w.net)}", NETWORK_UNAME="{w.alice.name}"]'), True),
             what="alice's network by name"),
        deny(lambda w: (vm_text(), True), who="carol"),
        deny(lambda w: (vm_text(f'NIC=[NETWORK_ID="{w.public_net}", IP="{_reserved_ip(w)}"]'), True), codes={INTERNAL},
             what="the public network's address alice reserved"),
        why="bob may create VMs of his own: refused are those that use alice's objects (0x200), "
            "or the address alice reserved (in use: INTERNAL 0x2000, as oned's "
            "VirtualMachineAllocateAPI::pool_allocate answers)"),
    "one.vm.attach": row(deny(lambda w: (w.vm, 'DISK=[SIZE="1", TYPE="fs"]')),
                         deny(lambda w: (w.bob_vm, f'DISK=[IMAGE_ID="{w.image}"]'), what="alice's image on his VM"),
                         deny(lambda w: (w.bob_vm, f'DISK=[IMAGE="{_name(w, "image", w.image)}", IMAGE_UNAME="{w.alice.name}"]'),
                              what="alice's image by name on his VM")),
    "one.vm.attachnic": row(deny(lambda w: (w.vm, f'NIC=[NETWORK_ID="{w.public_net}"]')),
                            deny(lambda w: (w.bob_vm, f'NIC=[NETWORK_ID="{w.net}"]'), what="alice's network on his VM"),
                            deny(lambda w: (w.bob_vm, f'NIC=[NETWORK="{_name(w, "vn", w.net)}", NETWORK_UNAME="{w.alice.name}"]'),
                                 what="alice's network by name on his VM"),
                            deny(lambda w: (w.bob_vm, f'NIC=[NETWORK_ID="{w.public_net}", SECURITY_GROUPS="{w.secgroup}"]'),
                                 what="alice's security group on his VM"),
                            deny(lambda w: (w.bob_vm, f'NIC=[NETWORK_ID="{w.public_net}", IP="{_reserved_ip(w)}"]'),
                                 codes={ACTION}, what="the public network's address alice reserved"),
                            why="the address alice reserved is in use: ACTION 0x800, as oned"),
    "one.vm.attachsg": row(deny(lambda w: (w.vm, 0, 0)),
                           deny(lambda w: (w.bob_vm, 0, w.secgroup), what="alice's security group on his VM")),
    "one.vm.cancelexec": row(deny(lambda w: (w.vm,))),
    "one.vm.chmod": row(deny(lambda w: (w.vm, 1, 1, 1, 1, 1, 1, 1, 1, 1)),
                        deny(lambda w: (w.bob_vm, 1, 1, 1, 0, 0, 0, 0, 0, 0),
                             what="ADMIN for himself on his own VM (setting an ADMIN bit needs ADMIN)")),
    "one.vm.chown": row(deny(lambda w: (w.vm, w.bob.id, -1)),
                        deny(lambda w: (w.bob_vm, w.alice.id, -1), what="his VM given to alice"),
                        deny(lambda w: (w.bob_vm, -1, w.group), what="his VM into a group he is not in")),
    "one.vm.console": row(deny(lambda w: (w.vm, 0))),
    "one.vm.deploy": row(deny(lambda w: (w.vm, w.host, False, -1)),
                         deny(lambda w: (w.bob_vm, w.host, False, -1), what="his own VM: deploy needs ADMIN")),
    "one.vm.detach": row(deny(lambda w: (w.vm, 0))),
    "one.vm.detachnic": row(deny(lambda w: (w.vm, 0))),
    "one.vm.detachsg": row(deny(lambda w: (w.vm, 0, w.secgroup))),
    "one.vm.diskresize": row(deny(lambda w: (w.vm, 0, "2"))),
    "one.vm.disksaveas": row(deny(lambda w: (w.vm, 0, uniq("saved"), "", -1))),
    "one.vm.disksnapshotcreate": row(deny(lambda w: (w.vm, 0, "x"))),
    "one.vm.disksnapshotdelete": row(deny(lambda w: (w.vm, 0, 0))),
    "one.vm.disksnapshotrename": row(deny(lambda w: (w.vm, 0, 0, "renamed"))),
    "one.vm.disksnapshotrevert": row(deny(lambda w: (w.vm, 0, 0))),
    "one.vm.exec": row(deny(lambda w: (w.vm, "echo hi", ""))),
    "one.vm.info": row(deny(lambda w: (w.vm,)),
                       deny(lambda w: (w.vm,), who="gina", what="a group admin, not of alice's group")),
    "one.vm.lock": row(deny(lambda w: (w.vm, 4))),
    "one.vm.migrate": row(deny(lambda w: (w.vm, w.host, False, False, -1, 0)),
                          deny(lambda w: (w.bob_vm, w.host, False, False, -1, 0), what="his own VM: migrate needs ADMIN")),
    "one.vm.monitoring": row(deny(lambda w: (w.vm,))),
    "one.vm.recover": row(deny(lambda w: (w.vm, 3)),
                          deny(lambda w: (w.bob_vm, 1), what="his own VM: recover needs ADMIN")),
    "one.vm.rename": row(deny(lambda w: (w.vm, uniq("x")))),
    "one.vm.retryexec": row(deny(lambda w: (w.vm,))),
    "one.vm.resize": row(deny(lambda w: (w.vm, 'CPU="0.2"\nMEMORY="64"', False)),
                         deny(lambda w: (w.bob_vm, 'MEMORY="100000000"', False), codes={ACTION},
                              what="his own running VM beyond its host's capacity, enforce=false"),
                         why="enforce=false skips the host's capacity check for the oneadmin group "
                             "only: oned enforces it for regular users ('regular users resize requests "
                             "will always be enforced'), so bob's oversized resize fails as ACTION 0x800"),
    "one.vm.schedadd": row(deny(lambda w: (w.vm, 'SCHED_ACTION=[ACTION="poweroff", TIME="+86400"]'))),
    "one.vm.scheddelete": row(deny(lambda w: (w.vm, 0))),
    "one.vm.schedupdate": row(deny(lambda w: (w.vm, 0, 'SCHED_ACTION=[TIME="+3600"]'))),
    "one.vm.snapshotcreate": row(deny(lambda w: (w.vm, "x"))),
    "one.vm.snapshotdelete": row(deny(lambda w: (w.vm, 0))),
    "one.vm.snapshotrevert": row(deny(lambda w: (w.vm, 0))),
    "one.vm.unlock": row(deny(lambda w: (w.vm,))),
    "one.vm.update": row(deny(lambda w: (w.vm, 'X="1"', 1))),
    "one.vm.updateconf": row(deny(lambda w: (w.vm, 'CONTEXT=[X="1"]', 1))),
    "one.vm.updatenic": row(deny(lambda w: (w.vm, 0, 'NIC=[INBOUND_AVG_BW="100"]', 1))),
    "one.vm.vmgroupadd": row(deny(lambda w: (w.vm, w.vmgroup, "r2")),
                             deny(lambda w: (w.bob_vm, w.vmgroup, "r1"), what="his VM in alice's VM group")),
    "one.vm.vmgroupdel": row(deny(lambda w: (w.vm,))),
    # ------------------------------------------------------------------ vmgroup
    "one.vmgroup.allocate": row(deny(lambda w: (f'NAME="{uniq("g")}"\nROLE=[NAME="a"]',), who="carol"),
                                why="bob may create VM groups (ACL @1); carol's group has no rule"),
    "one.vmgroup.chmod": row(deny(lambda w: (w.vmgroup, 1, 1, 1, 1, 1, 1, 1, 1, 1))),
    "one.vmgroup.chown": row(deny(lambda w: (w.vmgroup, w.bob.id, -1))),
    "one.vmgroup.delete": row(deny(lambda w: (w.vmgroup,))),
    "one.vmgroup.info": row(deny(lambda w: (w.vmgroup,))),
    "one.vmgroup.lock": row(deny(lambda w: (w.vmgroup, 4))),
    "one.vmgroup.rename": row(deny(lambda w: (w.vmgroup, uniq("x")))),
    "one.vmgroup.roleadd": row(deny(lambda w: (w.vmgroup, 'ROLE=[NAME="r3"]'))),
    "one.vmgroup.roledelete": row(deny(lambda w: (w.vmgroup, 1))),
    "one.vmgroup.roleupdate": row(deny(lambda w: (w.vmgroup, 1, 'ROLE=[NAME="r2", POLICY="AFFINED"]'))),
    "one.vmgroup.unlock": row(deny(lambda w: (w.vmgroup,))),
    "one.vmgroup.update": row(deny(lambda w: (w.vmgroup, 'X="1"', 1))),
    "one.vmgrouppool.info": row(*owned_pool("VM_GROUP", "vmgroup"), why="pools list only what the caller may see"),
    # ------------------------------------------------------------------ vmpool
    "one.vmpool.accounting": row(allow(lambda w: (-2, -1, -1), hides("HISTORY", lambda w: [w.vm], id_tag="OID")),
                                 allow(lambda w: (w.alice.id, -1, -1), hides("HISTORY", lambda w: [w.vm], id_tag="OID",
                                                                              admin_call=lambda w: (-2, -1, -1))),
                                 why="pools list only what the caller may see"),
    "one.vmpool.calculateshowback": row(deny(lambda w: (1, 2020, 12, 2030))),
    "one.vmpool.info": row(*[allow(lambda w, f=f: (f(w), -1, -1, -2),
                                   hides("VM", lambda w: [w.vm], admin_call=lambda w: (-2, -1, -1, -2)))
                             for f in (lambda w: -2, lambda w: -1, lambda w: w.alice.id, lambda w: -4)],
                           why="pools list only what the caller may see"),
    "one.vmpool.infoextended": row(*[allow(lambda w, f=f: (f(w), -1, -1, -2),
                                           hides("VM", lambda w: [w.vm], admin_call=lambda w: (-2, -1, -1, -2)))
                                     for f in (lambda w: -2, lambda w: -1, lambda w: w.alice.id, lambda w: -4)],
                                   why="pools list only what the caller may see"),
    "one.vmpool.infoset": row(allow(lambda w: (f"{w.vm},{w.bob_vm}", False),
                                    hides("VM", lambda w: [w.vm])),
                              why="pools list only what the caller may see"),
    "one.vmpool.monitoring": row(allow(lambda w: (-2, -1), hides("MONITORING", lambda w: [w.vm])),
                                 why="pools list only what the caller may see"),
    "one.vmpool.showback": row(allow(lambda w: (-2, -1, -1, -1, -1), lists_only("SHOWBACK", lambda w: {w.bob_vm}, "VMID")),
                               why="pools list only what the caller may see. NB: records exist only for "
                                   "months a VM ran in that are over, which a fresh cloud has none of, so "
                                   "this listing is empty for oneadmin too: the check is weak here"),
    # ------------------------------------------------------------------ vn
    "one.vn.add_ar": row(deny(lambda w: (w.net, 'AR=[TYPE="IP4", IP="10.9.9.1", SIZE="2"]'))),
    "one.vn.allocate": row(deny(lambda w: (f'NAME="{uniq("n")}"\nBRIDGE="b"\nVN_MAD="dummy"', -1)),
                           why="users may not create networks (no ACL NET CREATE for @1)"),
    "one.vn.chmod": row(deny(lambda w: (w.net, 1, 1, 1, 1, 1, 1, 1, 1, 1))),
    "one.vn.chown": row(deny(lambda w: (w.net, w.bob.id, -1))),
    "one.vn.delete": row(deny(lambda w: (w.net,))),
    "one.vn.free_ar": row(deny(lambda w: (w.net, 0))),
    "one.vn.hold": row(deny(lambda w: (w.net, 'LEASES=[IP="10.9.0.20"]')),
                       deny(lambda w: (w.public_net, 'LEASES=[IP="10.8.0.25"]'), what="a network he may only use")),
    "one.vn.info": row(deny(lambda w: (w.net,))),
    "one.vn.lock": row(deny(lambda w: (w.net, 4))),
    "one.vn.recover": row(deny(lambda w: (w.net, 1))),
    "one.vn.release": row(deny(lambda w: (w.net, 'LEASES=[IP="10.9.0.10"]'))),
    "one.vn.rename": row(deny(lambda w: (w.net, uniq("x")))),
    "one.vn.reserve": row(deny(lambda w: (w.net, f'SIZE="1"\nNAME="{uniq("r")}"'), what="a reservation from alice's network"),
                          deny(lambda w: (w.public_net, f'SIZE="1"\nNETWORK_ID="{w.reservation}"'),
                               what="addresses of the public network added to alice's reservation of it")),
    "one.vn.rm_ar": row(deny(lambda w: (w.net, 0, True))),
    "one.vn.unlock": row(deny(lambda w: (w.net,))),
    "one.vn.update": row(deny(lambda w: (w.net, 'X="1"', 1)),
                         deny(lambda w: (w.public_net, 'X="1"', 1), what="a network he may only use")),
    "one.vn.update_ar": row(deny(lambda w: (w.net, 'AR=[AR_ID="0", SIZE="30"]'))),
    "one.vnpool.info": row(*owned_pool("VNET", ("net", "reservation")), why="pools list only what the caller may see"),
    # ------------------------------------------------------------------ vntemplate
    "one.vntemplate.allocate": row(deny(lambda w: (f'NAME="{uniq("n")}"\nVN_MAD="dummy"\nBRIDGE="b"',)),
                                   why="users may not create network templates (no ACL for @1)"),
    "one.vntemplate.chmod": row(deny(lambda w: (w.vntemplate, 1, 1, 1, 1, 1, 1, 1, 1, 1))),
    "one.vntemplate.chown": row(deny(lambda w: (w.vntemplate, w.bob.id, -1))),
    "one.vntemplate.clone": row(deny(lambda w: (w.vntemplate, uniq("c")))),
    "one.vntemplate.delete": row(deny(lambda w: (w.vntemplate,))),
    "one.vntemplate.info": row(deny(lambda w: (w.vntemplate,))),
    "one.vntemplate.instantiate": row(deny(lambda w: (w.vntemplate, uniq("n"), ""))),
    "one.vntemplate.lock": row(deny(lambda w: (w.vntemplate, 4))),
    "one.vntemplate.rename": row(deny(lambda w: (w.vntemplate, uniq("x")))),
    "one.vntemplate.unlock": row(deny(lambda w: (w.vntemplate,))),
    "one.vntemplate.update": row(deny(lambda w: (w.vntemplate, 'X="1"', 1))),
    "one.vntemplatepool.info": row(*owned_pool("VNTEMPLATE", "vntemplate"),
                                   why="pools list only what the caller may see"),
    # ------------------------------------------------------------------ zone
    "one.zone.addserver": row(deny(lambda w: (0, 'SERVER=[NAME="x", ENDPOINT="http://127.0.0.1:1/RPC2"]'))),
    "one.zone.allocate": row(deny(lambda w: (f'NAME="{uniq("z")}"',), codes={ALLOCATE}),
                             why="a standalone front-end refuses new zones to everyone"),
    "one.zone.delete": row(deny(lambda w: (0,))),
    "one.zone.delserver": row(deny(lambda w: (0, 0))),
    "one.zone.enable": row(deny(lambda w: (0, False))),
    "one.zone.info": row(allow(lambda w: (0,), is_xml("ZONE")),
                         why="the bootstrap ACL '* ZONE/* USE *' lets everyone read zones"),
    "one.zone.raftstatus": row(allow(lambda w: (), is_xml("RAFT")),
                               why="OpenNebula's raftstatus needs USE on the zone, which everyone has"),
    "one.zone.rename": row(deny(lambda w: (0, uniq("x")))),
    "one.zone.resetserver": row(deny(lambda w: (0, 0))),
    "one.zone.update": row(deny(lambda w: (0, 'X="1"', 1))),
    "one.zonepool.info": row(allow(lambda w: (), is_xml("ZONE_POOL")),
                             why="the bootstrap ACL '* ZONE/* USE *' lets everyone read zones"),
}


_NAMES: dict = {}


def _name(w: World, kind: str, oid: int) -> str:
    key = (id(w), kind, oid)
    if key not in _NAMES:
        ret = w.raw(f"one.{kind}.info", oid)
        assert ret[0] is True, ret
        _NAMES[key] = ET.fromstring(ret[1]).findtext("NAME")
    return _NAMES[key]


def _reserved_ip(w: World) -> str:
    ret = w.raw("one.vn.info", w.reservation)
    assert ret[0] is True, ret
    return ET.fromstring(ret[1]).findtext("AR_POOL/AR/IP")


def _acl_hex(rule: str):
    from onehelpers import acl_hex
    return tuple(acl_hex(rule))


# ----------------------------------------------------------------------------------
# The methods nubod serves
# ----------------------------------------------------------------------------------

METHODS_RS = REPO_ROOT / "crates" / "frontend-xmlrpc" / "src" / "handlers" / "methods.rs"


def methods_in_source() -> set[str]:
    """The METHODS table of methods.rs, read at collection time so that a method added
    there without a row here is a test case of its own (which fails)."""
    text = METHODS_RS.read_text()
    table = text[text.index("pub const METHODS"):]
    table = table[:table.index("];")]
    return set(re.findall(r'"(one\.[a-z0-9_]+\.[a-z0-9_]+)"', table))


ALL_METHODS = sorted(set(ROWS) | methods_in_source())

def _marks(method: str, kind: str):
    r = ROWS.get(method)
    reason = None if r is None else (r.xfail if kind == "refused" else r.bad_session_xfail)
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


def params(kind: str):
    return [pytest.param(m, id=m, marks=_marks(m, kind)) for m in ALL_METHODS]


# ----------------------------------------------------------------------------------
# Fixtures and the calls
# ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world():
    w = build_world()
    yield w
    alive = w.nubod.alive()
    tail = w.nubod.stderr_tail()
    w.nubod.stop()
    assert alive, f"nubod died during the matrix\n{tail}"


def _caller(w: World, who: str):
    return {"bob": w.bob, "carol": w.carol, "gina": w.gina, "alice": w.alice}[who].one


def attempt(server, method: str, args: tuple):
    """Calls `method` through pyone (replies shape-checked and XSD-validated); returns
    (True, value, xml_root) or (False, code, message)."""
    short = method[len("one."):]
    try:
        value = server.call(short, *args)
    except pyone.OneException as e:
        resp = server.last_response
        assert resp is not None, f"{method}: a fault, not a failure array: {e}"
        assert resp[0] is False and len(resp) == 5, resp
        code = resp[2]
        want_cls = EXCEPTION_FOR_CODE.get(code, pyone.OneException)
        assert type(e) is want_cls, f"pyone raised {type(e).__name__} for code {hex(code)}"
        return False, code, resp[1]
    except xmlrpc.client.Fault as f:
        pytest.fail(f"{method}{args!r}: XML-RPC fault {f.faultCode}: {f.faultString}", pytrace=False)
    resp = server.last_response
    return True, resp[1], server.last_xml


def _expect_code(want) -> str:
    if want is OK:
        return "success"
    return "/".join(hex(c) for c in sorted(want)) if isinstance(want, frozenset) else hex(want)


def _check_unchanged(w: World, before: dict, what: str):
    after = snapshot(w)
    changed = diff_snapshots(before, after)
    assert not changed, f"{what} changed the cloud:\n" + "\n".join(changed)


# ----------------------------------------------------------------------------------
# Tests
# ----------------------------------------------------------------------------------


def _served(w: World) -> list[str]:
    served = xmlrpc.client.ServerProxy(w.nubod.endpoint).system.listMethods()
    assert isinstance(served, list) and all(isinstance(m, str) for m in served)
    assert len(served) == len(set(served)), "system.listMethods lists a method twice"
    return served


def test_every_served_method_has_a_row_and_every_row_a_method(world):
    served = _served(world)
    assert len(served) > 200
    missing = sorted(set(served) - set(ROWS))
    stale = sorted(set(ROWS) - set(served))
    assert not missing, f"methods without a row in ROWS: {missing}"
    assert not stale, f"rows for methods nubod does not serve: {stale}"
    assert set(served) == methods_in_source()


def test_the_world_is_what_the_rows_assume(world):
    """alice's objects are hers, mode 600, and hers alone; bob may not even see them."""
    w = world
    admin = w.admin()
    for kind, oid in w.alice_ids.items():
        info = admin.xml(f"{kind}.info", oid)
        assert int(info.findtext("UID")) == w.alice.id, (kind, oid)
        p = info.find("PERMISSIONS")
        assert [int(p.findtext(k)) for k in ("OWNER_U", "OWNER_M", "OWNER_A", "GROUP_U", "GROUP_M",
                                            "GROUP_A", "OTHER_U", "OTHER_M", "OTHER_A")] == \
            [1, 1, 0, 0, 0, 0, 0, 0, 0], (kind, oid)
        ok, code, _ = attempt(w.bob.one, f"one.{kind}.info", (oid,))
        assert not ok and code == AUTHORIZATION, (kind, oid, code)
        # ... and alice herself may read it (the rights are the point, not the ids)
        ok, _, _ = attempt(w.alice.one, f"one.{kind}.info", (oid,))
        assert ok, (kind, oid)
    vm = admin.xml("vm.info", w.vm)
    assert (vm.findtext("STATE"), vm.findtext("LCM_STATE")) == ("3", "3")
    assert vm.find("TEMPLATE/SNAPSHOT") is not None and vm.find("SNAPSHOTS/SNAPSHOT") is not None
    assert vm.find("TEMPLATE/SCHED_ACTION") is not None
    assert int(admin.xml("user.info", w.bob.id).findtext("GID")) == 1
    assert int(admin.xml("user.info", w.alice.id).findtext("GID")) == 1
    assert snapshot(w) == snapshot(w)


BAD_SESSIONS = {
    "unknown user": lambda w: "nobody:wrong",
    "empty session": lambda w: "",
    "no colon": lambda w: w.alice.name,
    "serveradmin with a made-up token": lambda w: f"serveradmin:{w.alice.name}:{'ab' * 32}",
    "wrong password": lambda w: f"{w.alice.name}:not-her-password",
    "disabled user": lambda w: w.dave.session,
    "disabled after use": lambda w: w.stale_sessions["disabled after use"],
    "password changed after use": lambda w: w.stale_sessions["password changed after use"],
    "revoked login token": lambda w: w.stale_sessions["revoked login token"],
}


@pytest.mark.parametrize("method", params("bad_session"))
def test_bad_session(world, method):
    r = ROWS.get(method)
    assert r is not None, f"{method} is served but has no row in ROWS"
    w = world
    args = r.calls[0].args(w)
    before = snapshot(w)
    for name, session in BAD_SESSIONS.items():
        server = connect(w.nubod.endpoint, session(w))
        ok, code, msg = attempt(server, method, args)
        assert not ok, f"{method} with a bad session ({name}) succeeded: {str(code)[:300]}"
        assert code == r.bad_session, f"{method} ({name}): code {hex(code)}, expected {hex(r.bad_session)}: {msg}"
        # The raw array is OpenNebula's: [false, "[method] ...", code, -1, -1].
        raw = getattr(xmlrpc.client.ServerProxy(w.nubod.endpoint), method)(session(w), *args)
        assert raw[0] is False and raw[2] == r.bad_session and raw[1].startswith(f"[{method}]"), raw
    _check_unchanged(w, before, f"{method} with a bad session")


@pytest.mark.parametrize("method", params("refused"))
def test_refused(world, method):
    r = ROWS.get(method)
    assert r is not None, f"{method} is served but has no row in ROWS"
    w = world
    failures = []
    for call in r.calls:
        args = call.args(w)
        label = f"{method}{args!r} by {call.who}" + (f" ({call.what})" if call.what else "")
        own = call.own(w, args) if call.own else []
        before = _without(snapshot(w), own)
        ok, value, extra = attempt(_caller(w, call.who), method, args)
        if call.expect is OK:
            if not ok:
                failures.append(f"{label}: expected success, got {hex(value)}: {extra}")
            elif call.check is not None:
                try:
                    call.check(w, value, extra, method=method, args=args)
                except AssertionError as e:
                    failures.append(f"{label}: {e}")
        elif ok:
            failures.append(f"{label}: SUCCEEDED ({str(value)[:300]!r}); expected {_expect_code(call.expect)}")
        elif value not in (call.expect if isinstance(call.expect, frozenset) else {call.expect}):
            failures.append(f"{label}: code {hex(value)} ({extra}); expected {_expect_code(call.expect)}")
        after = _without(snapshot(w), own)
        changed = diff_snapshots(before, after)
        if changed:
            failures.append(f"{label} changed the cloud:\n" + "\n".join(changed))
    assert not failures, "\n".join(failures)


def _without(snap: dict[str, str], own: list[tuple[str, int]]) -> dict[str, str]:
    """The snapshot without bob's own objects `own` ((tag, id)), which a call may change."""
    if not own:
        return snap
    out = {}
    for key, text in snap.items():
        root = ET.fromstring(text)
        for parent in root.iter():
            for child in list(parent):
                if any(child.tag == tag and child.findtext("ID") == str(oid) for tag, oid in own):
                    parent.remove(child)
        out[key] = ET.tostring(root, encoding="unicode")
    return out
