"""The allocates that take a cluster (vn.allocate, datastore.allocate, host.allocate) need
ADMIN on that cluster besides CREATE on the kind, as oned's SharedAPI::allocate_authorization
asks (`ar.add_auth(AuthRequest::ADMIN, *cluster_perms)`), -1 meaning the default cluster 0
(VirtualNetworkAllocateAPI / DatastoreAllocateAPI / HostAllocateAPI::allocate). A user
given CREATE by an ACL rule is refused a cluster he may not administer, and nothing is
created; with an ACL rule granting ADMIN on it, he gets past the check."""

import pytest

from onehelpers import AUTHORIZATION, acl_rule, uniq

KINDS = {
    # method, ACL kind, pool method, pool element, args(cluster)
    "vn": ("vn.allocate", "NET", "vnpool.info",
           lambda c: (f'NAME="{uniq("n")}"\nBRIDGE="b"\nVN_MAD="dummy"', c)),
    "datastore": ("datastore.allocate", "DATASTORE", "datastorepool.info",
                  lambda c: (f'NAME="{uniq("ds")}"\nTYPE="IMAGE_DS"\nDS_MAD="fs"\nTM_MAD="ssh"', c)),
    "host": ("host.allocate", "HOST", "hostpool.info", lambda c: (uniq("h"), "dummy", "dummy", c)),
}


def pool_ids(one, method):
    args = (-2, -1, -1) if method in ("vnpool.info",) else ()
    return {int(e.findtext("ID")) for e in one.xml(method, *args) if e.findtext("ID") is not None}


@pytest.fixture
def cluster(one):
    cid = one.cluster.allocate(uniq("cl"))
    yield cid
    try:
        one.cluster.delete(cid)
    except Exception:  # noqa: BLE001 - something of a failed test is still in it
        pass


@pytest.mark.parametrize("kind", list(KINDS))
def test_allocate_needs_admin_on_the_cluster(one, make_user, cluster, kind):
    method, acl_kind, pool, args = KINDS[kind]
    bob = make_user()
    before = pool_ids(one, pool)
    # without CREATE either, the message names both refusals, as AuthRequest joins them
    msg = bob.one.fails(AUTHORIZATION, method, *args(cluster))
    assert msg == (f"[one.{method}] User [{bob.id}] : Not authorized to perform CREATE {acl_kind}; "
                   f"Not authorized to perform ADMIN CLUSTER [{cluster}]."), msg
    with acl_rule(one, f"#{bob.id} {acl_kind}/* CREATE"):
        for cid in (cluster, -1):
            shown = cluster if cid != -1 else 0
            msg = bob.one.fails(AUTHORIZATION, method, *args(cid))
            assert msg == (f"[one.{method}] User [{bob.id}] : "
                           f"Not authorized to perform ADMIN CLUSTER [{shown}]."), msg
        assert pool_ids(one, pool) == before, "a refused allocate created something"
        with acl_rule(one, f"#{bob.id} CLUSTER/#{cluster} ADMIN"):
            if kind == "vn":
                # past the cluster check, VN_MAD is a restricted attribute for users
                msg = bob.one.fails(AUTHORIZATION, method, *args(cluster))
                assert msg.endswith("VNET Template includes a restricted attribute VN_MAD."), msg
                return
            oid = getattr(bob.one, kind).allocate(*args(cluster))
            try:
                info = one.xml(f"{kind}.info", oid)
                ids = [int(c.text) for c in info.findall("CLUSTERS/ID")] or \
                    [int(info.findtext("CLUSTER_ID"))]
                assert ids == [cluster], ids
                # the default cluster is still refused
                bob.one.fails(AUTHORIZATION, method, *args(-1))
            finally:
                getattr(one, kind).delete(oid)
