"""The authorization matrix of the REST API: a row for every operation of the OpenAPI
document (docs/openapi.json, which a Rust test keeps equal to the generated one, so an
endpoint added without a row fails here). For each operation:

- ``test_unauthenticated``: no credentials and a wrong password get 401 problem+json;
- ``test_refused``: bob (group users, like alice) acts on alice's app (permissions 600) or,
  for the stacks, on what only the oneadmin group may change: 403, or for listings 200
  without alice's app.

Around every call alice's app (itself, config vars, formation, releases, domains, health
checks) and the stacks are read as their owners see them: a refused call changes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import requests

from onehelpers import REPO_ROOT, uniq, wait_for
from resthelpers import Rest, problem, register_stack

DOC = json.loads((REPO_ROOT / "docs" / "openapi.json").read_text())
OPERATIONS = sorted((method.upper(), path) for path, item in DOC["paths"].items()
                    for method in item)


@dataclass
class Row:
    """How bob calls an operation: the body, and what he must get."""
    body: object = None
    status: int = 403
    # for listings: a key under which alice's app name must not appear
    listing: bool = False


ROWS = {
    ("GET", "/apps"): Row(status=200, listing=True),
    ("POST", "/apps"): None,  # anyone in users may create apps: no refusal to test
    ("GET", "/apps/{app}"): Row(),
    ("DELETE", "/apps/{app}"): Row(),
    ("GET", "/apps/{app}/config-vars"): Row(),
    ("PATCH", "/apps/{app}/config-vars"): Row(body={"EVIL": "1", "SECRET": None}),
    ("GET", "/apps/{app}/formation"): Row(),
    ("PATCH", "/apps/{app}/formation"): Row(body={"web": 0}),
    ("GET", "/apps/{app}/releases"): Row(),
    ("GET", "/apps/{app}/releases/{version}"): Row(),
    ("POST", "/apps/{app}/rollback"): Row(body={"release": 1}),
    ("GET", "/apps/{app}/instances"): Row(),
    ("GET", "/apps/{app}/deployments"): Row(),
    ("POST", "/apps/{app}/deployments"): Row(body={"max_in_flight": 2}),
    ("GET", "/apps/{app}/deployments/{deployment}"): Row(),
    ("POST", "/apps/{app}/deployments/{deployment}/{action}"): Row(),
    ("GET", "/apps/{app}/rollout"): Row(),
    ("GET", "/apps/{app}/autoscaling"): Row(),
    ("PATCH", "/apps/{app}/autoscaling"): Row(
        body={"web": {"min": 1, "max": 9, "metric": "cpu", "target": 10}}),
    ("PATCH", "/apps/{app}/rollout"): Row(body={"strategy": "recreate"}),
    ("GET", "/apps/{app}/logs"): Row(),
    ("GET", "/apps/{app}/metrics"): Row(),
    ("GET", "/apps/{app}/metrics/history"): Row(),
    ("GET", "/apps/{app}/events"): Row(),
    ("GET", "/apps/{app}/domains"): Row(),
    ("GET", "/apps/{app}/health-checks"): Row(),
    ("PATCH", "/apps/{app}/health-checks"): Row(body={"web": None, "worker": {"type": "process"}}),
    ("POST", "/apps/{app}/processes/{action}"): Row(),
    ("POST", "/apps/{app}/runs"): Row(body={"command": "id"}),
    ("GET", "/apps/{app}/runs/{run}"): Row(),
    ("GET", "/apps/{app}/runs/{run}/log"): Row(),
    ("POST", "/apps/{app}/domains"): Row(body={"hostname": "bob.example.com"}),
    ("DELETE", "/apps/{app}/domains/{hostname}"): Row(),
    ("GET", "/apps/{app}/builds"): Row(),
    ("POST", "/apps/{app}/builds"): Row(body={"source": {"type": "git", "url": "file:///srv/x.git"}}),
    ("GET", "/apps/{app}/builds/{build}"): Row(),
    ("GET", "/apps/{app}/builds/{build}/log"): Row(),
    ("GET", "/apps/{app}/webhook"): Row(),
    ("PUT", "/apps/{app}/webhook"): Row(body={"url": "file:///srv/evil.git", "branch": "main"}),
    ("DELETE", "/apps/{app}/webhook"): Row(),
    ("POST", "/apps/{app}/webhook/rotate"): Row(),
    # Deliveries know no users: bob's credentials count for nothing, only the webhook's
    # secret would (401 without it, as for no credentials at all).
    ("POST", "/apps/{app}/webhook"): Row(status=401, body={"ref": "refs/heads/main"}),
    ("GET", "/stacks"): Row(status=200),
    ("POST", "/stacks"): Row(body={"name": "bobs", "version": "1", "image_id": 0}),
    ("GET", "/stacks/{stack}"): Row(status=200),
    ("PATCH", "/stacks/{stack}"): Row(body={"state": "DISABLED"}),
    ("GET", "/router/routes"): Row(),  # the oneadmin group only
    ("POST", "/router/log"): Row(body={"lines": [{"app": "any", "line": "bob was here"}]}),
}


def test_every_operation_has_a_row():
    assert sorted(ROWS) == OPERATIONS


@pytest.fixture(scope="module")
def world(nubod):
    admin = Rest(nubod.api, "oneadmin", nubod.admin_password)
    stack = register_stack(nubod.admin(), admin)
    users = []
    for _ in range(2):
        name, password = uniq("u"), uniq("pw")
        nubod.admin().user.allocate(name, password, "core")
        users.append(Rest(nubod.api, name, password))
    alice, bob = users
    app = uniq("app")
    assert alice.post("/apps", json={"name": app}).status_code == 201
    assert alice.patch(f"/apps/{app}/config-vars", json={"SECRET": "s3cr3t"}).status_code == 200
    # A build that fails at once (no such repository), so the app has one to refuse.
    build = alice.post(f"/apps/{app}/builds",
                       json={"source": {"type": "git", "url": "file:///no/such/repo.git"}})
    assert build.status_code == 202, build.text
    build_id = build.json()["id"]
    wait_for(lambda: alice.get(f"/apps/{app}/builds/{build_id}").json()["status"] == "failed",
             what="the build to fail")
    hook = alice.request("PUT", f"/apps/{app}/webhook",
                         json={"url": "file:///no/such/repo.git", "branch": "main"})
    assert hook.status_code == 201, hook.text
    domain = f"{app}.example.org"
    assert alice.post(f"/apps/{app}/domains", json={"hostname": domain}).status_code == 201
    assert alice.patch(f"/apps/{app}/health-checks",
                       json={"web": {"type": "http", "path": "/up"}}).status_code == 200
    return {"build": build_id, "domain": domain,"admin": admin, "alice": alice, "bob": bob, "app": app, "stack": stack,
            "api": nubod.api}


def seen(world) -> dict:
    alice, admin, app = world["alice"], world["admin"], world["app"]
    return {
        "app": alice.get(f"/apps/{app}").json(),
        "config": alice.get(f"/apps/{app}/config-vars").json(),
        "formation": alice.get(f"/apps/{app}/formation").json(),
        "releases": alice.get(f"/apps/{app}/releases").json(),
        "builds": alice.get(f"/apps/{app}/builds").json(),
        "domains": alice.get(f"/apps/{app}/domains").json(),
        "health": alice.get(f"/apps/{app}/health-checks").json(),
        "webhook": alice.get(f"/apps/{app}/webhook").json(),
        "rollout": alice.get(f"/apps/{app}/rollout").json(),
        "autoscaling": alice.get(f"/apps/{app}/autoscaling").json(),
        "deployments": alice.get(f"/apps/{app}/deployments").json(),
        "stacks": admin.get("/stacks").json(),
    }


def concrete(path: str, world) -> str:
    return (path.replace("{app}", world["app"]).replace("{version}", "1")
            .replace("{build}", str(world["build"]))
            .replace("{hostname}", world["domain"]).replace("{action}", "stop")
            .replace("{run}", "1").replace("{deployment}", "1")
            .replace("{stack}", world["stack"]))


@pytest.mark.parametrize("op", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_unauthenticated(world, op):
    method, path = op
    before = seen(world)
    row = ROWS[op] or Row(body={"name": uniq("app")})
    for auth in [None, ("oneadmin", "wrong")]:
        client = Rest(world["api"], "", "")
        client.session.auth = auth
        problem(client.request(method, concrete(path, world), json=row.body), 401)
    assert seen(world) == before


@pytest.mark.parametrize("op", [op for op in OPERATIONS if ROWS[op] is not None],
                         ids=[f"{m} {p}" for m, p in OPERATIONS if ROWS[m, p] is not None])
def test_refused(world, op):
    method, path = op
    row = ROWS[op]
    before = seen(world)
    reply = world["bob"].request(method, concrete(path, world), json=row.body)
    if row.status == 200:
        assert reply.status_code == 200, reply.text
        if row.listing:
            assert world["app"] not in reply.text
    else:
        body = problem(reply, row.status)
        assert "s3cr3t" not in json.dumps(body)
    assert seen(world) == before


def test_metrics_are_for_the_oneadmin_group(nubod):
    """/metrics, on the API listener but not an operation of the OpenAPI document
    (docs/metrics.md): no credentials 401, a user of group users 403, oneadmin 200."""
    url = nubod.api.removesuffix("/api/v1") + "/metrics"
    assert "/metrics" not in DOC["paths"]
    name, password = uniq("u"), uniq("pw")
    nubod.admin().user.allocate(name, password, "core")
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, auth=("oneadmin", "wrong"), timeout=10).status_code == 401
    refused = requests.get(url, auth=(name, password), timeout=10)
    assert refused.status_code == 403 and "nubo_" not in refused.text
    assert requests.get(url, auth=("oneadmin", nubod.admin_password), timeout=10).status_code == 200
