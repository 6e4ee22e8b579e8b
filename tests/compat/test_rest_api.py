"""The REST/JSON API (`nubod --api`, /api/v1) with a real HTTP client (requests): apps,
config vars, releases, formation, stacks; authentication, problem+json errors, ETag and
If-Match, paging; the OpenAPI document served is the one checked in; and what was
acknowledged survives kill -9 of nubod."""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from onehelpers import REPO_ROOT, Nubod, connect, free_port, uniq, wait_for
from resthelpers import PROBLEM, Rest, problem, register_stack


@pytest.fixture(scope="module")
def admin(nubod) -> Rest:
    return Rest(nubod.api, "oneadmin", nubod.admin_password)


@pytest.fixture(scope="module")
def stack(nubod, admin) -> str:
    return register_stack(nubod.admin(), admin)


@pytest.fixture
def user(nubod, make_user):
    def _make():
        u = make_user()
        return Rest(nubod.api, u.name, u.password)
    return _make


def app_name() -> str:
    return uniq("app")


def test_calls_need_credentials(nubod, make_user):
    anonymous = Rest(nubod.api, "", "")
    anonymous.session.auth = None
    body = problem(anonymous.get("/apps"), 401)
    assert "Basic" in anonymous.get("/apps").headers["www-authenticate"]
    assert body["code"] == "unauthenticated"
    u = make_user()
    problem(Rest(nubod.api, u.name, "wrong").get("/apps"), 401)
    problem(Rest(nubod.api, "nobody-" + uniq("x"), "x").get("/apps"), 401)
    reply = Rest(nubod.api, u.name, u.password).get("/apps")
    assert reply.status_code == 200, reply.text


def test_create_show_and_delete_an_app(stack, user):
    rest = user()
    name = app_name()
    reply = rest.post("/apps", json={"name": name, "stack": stack})
    assert reply.status_code == 201, reply.text
    assert reply.headers["location"] == f"/api/v1/apps/{name}"
    created = reply.json()
    assert created["name"] == name and created["stack"] == stack
    assert created["release"] == 1 and created["formation"] == {}
    assert created["permissions"] == "600"
    assert reply.headers["etag"] == f'"{created["revision"]}"'

    shown = rest.get(f"/apps/{name}")
    assert shown.status_code == 200
    assert shown.json() == created
    assert shown.headers["etag"] == reply.headers["etag"]

    problem(rest.post("/apps", json={"name": name}), 409)
    releases = rest.get(f"/apps/{name}/releases").json()
    assert [(r["version"], r["description"], r["current"]) for r in releases] == [
        (1, "Initial release", True)]

    problem(rest.delete(f"/apps/{name}", headers={"If-Match": '"999"'}), 412)
    assert rest.delete(f"/apps/{name}", headers={"If-Match": reply.headers["etag"]}).status_code == 204
    problem(rest.get(f"/apps/{name}"), 404)
    problem(rest.get(f"/apps/{name}/releases"), 404)
    # The name is free again.
    assert rest.post("/apps", json={"name": name}).status_code == 201


@pytest.mark.parametrize("bad", ["", "Shop", "2shop", "a_b", "a.b", "-a", "a-", "x" * 64,
                                 "<b>", "a b", "é", "a\nb"])
def test_app_names_are_dns_labels(stack, user, bad):
    body = problem(user().post("/apps", json={"name": bad}), 422)
    assert "DNS label" in body["detail"]


def test_malformed_requests_get_problems(stack, user):
    rest = user()
    problem(rest.post("/apps", data="{not json", headers={"Content-Type": "application/json"}), 400)
    problem(rest.post("/apps", data="name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415)
    problem(rest.post("/apps", data=b"{}"), 415)
    problem(rest.post("/apps", json={"name": app_name(), "extra": 1}), 400)
    problem(rest.post("/apps", json={"name": 5}), 400)
    problem(rest.post("/apps", json=[]), 400)
    deep = "[" * 10000 + "]" * 10000
    problem(rest.post("/apps", data=deep, headers={"Content-Type": "application/json"}), 400)
    # Over the body limit: 413 — or the connection closed once the answer is written, when
    # the client is still sending (the server does not read a refused body to its end).
    try:
        reply = rest.post("/apps", data=b"x" * (2 * 1024 * 1024),
                          headers={"Content-Type": "application/json"})
        problem(reply, 413)
    except requests.exceptions.ConnectionError:
        pass
    problem(rest.get("/apps?limit=0"), 400)
    problem(rest.get("/apps?limit=abc"), 400)
    problem(rest.get("/apps?bogus=1"), 400)
    assert problem(rest.get("/no/such/thing"), 404)["code"] == "no_route"
    assert problem(rest.get(f"/apps/{app_name()}"), 404)["code"] == "not_found"
    problem(rest.request("PUT", "/apps"), 405)
    problem(rest.get("/apps/x/releases/notanumber"), 400)


def test_config_vars_make_releases(stack, user):
    rest = user()
    name = app_name()
    etag0 = rest.post("/apps", json={"name": name}).headers["etag"]
    reply = rest.patch(f"/apps/{name}/config-vars", json={"B": "2", "A": "1"})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"A": "1", "B": "2"}
    assert reply.headers["nubo-release"] == "2"
    etag1 = reply.headers["etag"]
    assert etag1 != etag0
    # Stale and current If-Match.
    problem(rest.patch(f"/apps/{name}/config-vars", json={"A": "x"},
                       headers={"If-Match": etag0}), 412)
    reply = rest.patch(f"/apps/{name}/config-vars", json={"A": None, "C": "line1\nline2 ü"},
                       headers={"If-Match": etag1})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"B": "2", "C": "line1\nline2 ü"}
    # Nothing changes: no release.
    assert rest.patch(f"/apps/{name}/config-vars", json={"B": "2", "Z": None}).status_code == 200
    got = rest.get(f"/apps/{name}/config-vars")
    assert got.json() == {"B": "2", "C": "line1\nline2 ü"}
    releases = rest.get(f"/apps/{name}/releases").json()
    assert [(r["version"], r["description"]) for r in releases] == [
        (3, "Set C config vars; Remove A config vars"),
        (2, "Set A, B config vars"),
        (1, "Initial release"),
    ]
    assert releases[0]["config_var_names"] == ["B", "C"] and releases[0]["current"]
    assert "A" not in json.dumps(releases[0]["config_var_names"])
    one = rest.get(f"/apps/{name}/releases/2").json()
    assert one["version"] == 2 and one["config_var_names"] == ["A", "B"] and not one["current"]
    problem(rest.get(f"/apps/{name}/releases/99"), 404)
    assert rest.get(f"/apps/{name}").json()["release"] == 3
    for bad in [{"PORT": "1"}, {"NUBO_X": "1"}, {"1A": "x"}, {"A-B": "x"}, {"A": "x\u0000y"},
                {"A": "x" * (32 * 1024 + 1)}]:
        problem(rest.patch(f"/apps/{name}/config-vars", json=bad), 422)
    problem(rest.patch(f"/apps/{name}/config-vars", json={"A": 1}), 400)
    assert rest.get(f"/apps/{name}").json()["release"] == 3


def test_formation_needs_a_process_type(stack, user):
    rest = user()
    name = app_name()
    rest.post("/apps", json={"name": name})
    assert rest.get(f"/apps/{name}/formation").json() == {}
    body = problem(rest.patch(f"/apps/{name}/formation", json={"web": 1}), 422)
    assert "deploy a build first" in body["detail"]
    problem(rest.patch(f"/apps/{name}/formation", json={"Web": 0}), 422)
    problem(rest.patch(f"/apps/{name}/formation", json={"web": -1}), 400)
    problem(rest.patch(f"/apps/{name}/formation", json={"web": 101}), 422)
    assert rest.patch(f"/apps/{name}/formation", json={"web": 0}).json() == {"web": 0}


def test_health_checks_are_set_checked_and_reset(stack, user):
    rest = user()
    name = app_name()
    rest.post("/apps", json={"name": name})
    url = f"/apps/{name}/health-checks"
    reply = rest.get(url)
    assert reply.status_code == 200 and reply.json() == {}, reply.text
    etag = reply.headers["ETag"]
    reply = rest.patch(url, json={"web": {"type": "http", "path": "/health?deep=1", "timeout": 30,
                                          "status": 204, "interval": 5, "failures": 4},
                                  "worker": {"type": "process"}})
    assert reply.status_code == 200, reply.text
    # worker's is its default: not kept as a setting.
    web = {"type": "http", "path": "/health?deep=1", "timeout": 30, "status": 204, "interval": 5,
           "failures": 4}
    assert reply.json() == {"web": web}
    assert reply.headers["ETag"] != etag
    problem(rest.patch(url, json={"web": None}, headers={"If-Match": etag}), 412)
    for bad in [{"web": {"type": "http"}},
                {"web": {"type": "http", "path": "health"}},
                {"web": {"type": "http", "path": "/a b"}},
                {"web": {"type": "http", "path": "/" + "a" * 1024}},
                {"web": {"type": "port", "path": "/health"}},
                {"web": {"type": "port", "timeout": 0}},
                {"web": {"type": "port", "timeout": 601}},
                {"web": {"type": "port", "interval": 0}},
                {"web": {"type": "port", "interval": 601}},
                {"web": {"type": "port", "failures": 0}},
                {"web": {"type": "port", "failures": 101}},
                {"web": {"type": "port", "status": 200}},
                {"web": {"type": "http", "path": "/", "status": 99}},
                {"web": {"type": "http", "path": "/", "status": 600}},
                {"worker": {"type": "http", "path": "/health"}},
                {"worker": {"type": "command"}},
                {"worker": {"type": "command", "command": "  "}},
                {"worker": {"type": "command", "command": "a\nb"}},
                {"worker": {"type": "command", "command": "x" * 4097}},
                {"web": {"type": "port", "command": "true"}},
                {"Web!": {"type": "port"}}]:
        body = problem(rest.patch(url, json=bad), 422)
        assert body["detail"], bad
    for malformed in [{"web": {"type": "tcp"}}, {"web": {"type": "port", "extra": 1}},
                      {"web": {"type": "port", "timeout": -1}}, {"web": "port"}, ["web"]]:
        problem(rest.patch(url, json=malformed), 400)
    problem(rest.patch(url, json={f"t{i}": {"type": "process", "timeout": 5} for i in range(33)}),
            422)
    # Nothing refused changed anything; null resets to the default.
    assert rest.get(url).json() == {"web": web}
    assert rest.patch(url, json={"web": None}).json() == {}
    # A command check, on any type.
    worker = {"type": "command", "command": 'test "$(cat /tmp/state)" = ok', "timeout": 60,
              "interval": 2, "failures": 3}
    assert rest.patch(url, json={"worker": worker}).json() == {"worker": worker}
    assert rest.patch(url, json={"worker": None}).json() == {}
    events = rest.get(f"/apps/{name}/logs", params={"source": "nubo"}).text
    assert "a new instance is up once it can answer GET /health?deep=1 on port 5000 ($PORT) with 204" in events, events


def test_listing_pages_by_name(stack, nubod, user):
    rest = user()
    names = sorted(app_name() for _ in range(5))
    for name in names:
        assert rest.post("/apps", json={"name": name}).status_code == 201
    first = rest.get("/apps?limit=2").json()
    assert [a["name"] for a in first["items"]] == names[:2]
    second = rest.get("/apps", params={"limit": 2, "after": first["next"]}).json()
    assert [a["name"] for a in second["items"]] == names[2:4]
    last = rest.get("/apps", params={"limit": 2, "after": second["next"]}).json()
    assert [a["name"] for a in last["items"]] == names[4:]
    assert "next" not in last
    # Another user sees none of them; oneadmin sees them all.
    assert user().get("/apps").json()["items"] == []
    admin = Rest(nubod.api, "oneadmin", nubod.admin_password)
    seen = {a["name"] for a in admin.get("/apps?limit=500").json()["items"]}
    assert set(names) <= seen


def test_stacks(nubod, admin, stack, user):
    rest = user()
    names = [s["name"] for s in rest.get("/stacks").json()]
    assert stack in names
    shown = rest.get(f"/stacks/{stack}").json()
    assert shown["state"] == "ACTIVE" and shown["version"] == "1"
    problem(rest.post("/stacks", json={"name": "mine", "version": "1", "image_id": shown["image_id"]}), 403)
    problem(rest.patch(f"/stacks/{stack}", json={"state": "DISABLED"}), 403)
    problem(admin.patch(f"/stacks/{stack}", json={"state": "GONE"}), 422)
    problem(admin.post("/stacks", json={"name": stack, "version": "2", "image_id": shown["image_id"]}), 409)
    problem(admin.post("/stacks", json={"name": uniq("s"), "version": "1", "image_id": 999999}), 404)
    other = register_stack(nubod.admin(), admin)
    assert admin.patch(f"/stacks/{other}", json={"state": "DEPRECATED"}).json()["state"] == "DEPRECATED"
    body = problem(rest.post("/apps", json={"name": app_name(), "stack": other}), 409)
    assert "DEPRECATED" in body["detail"]
    problem(rest.post("/apps", json={"name": app_name(), "stack": "no-such-stack"}), 404)
    # The newest ACTIVE stack is the default.
    made = rest.post("/apps", json={"name": app_name()}).json()
    assert made["stack"] != other


def _stack_image(one, public: bool = True) -> int:
    """A READY image for a stack version; `public`: usable by every user (604)."""
    image = one.image.allocate(f'NAME="{uniq("stack-img")}"\nTYPE="DATABLOCK"\nSIZE="1"\n', 1)
    wait_for(lambda: one.image.info(image).STATE == 1, what="image READY")
    if public:
        one.image.chmod(image, 1, 1, 0, 0, 0, 0, 1, 0, 0)
    return image


def test_stack_patching_is_checked_and_lists_the_apps_on_a_stack(nubod, admin, stack, user):
    """Without containers: who may patch a stack and what is refused; the stack's versions
    and its apps (as each caller may see them), `GET /apps?stack=`. An app without a slug
    gets no release (test_paas_stack_patch.py rolls built apps out on real containers)."""
    one = nubod.admin()
    name = register_stack(one, admin)
    first = admin.get(f"/stacks/{name}").json()
    assert first["previous_versions"] == [] and first["apps"] == [], first
    alice, bob = user(), user()
    mine = app_name()
    assert alice.post("/apps", json={"name": mine, "stack": name}).status_code == 201
    assert bob.post("/apps", json={"name": app_name(), "stack": stack}).status_code == 201
    two = _stack_image(one)
    # Only the oneadmin group patches; a refused call changes nothing.
    problem(alice.patch(f"/stacks/{name}", json={"version": "2", "image_id": two}), 403)
    for body in ({"version": "2"}, {"image_id": two}, {}, {"version": "", "image_id": two},
                 {"version": "x" * 65, "image_id": two}):
        problem(admin.patch(f"/stacks/{name}", json=body), 422)
    problem(admin.patch(f"/stacks/{name}", json={"version": "2", "image_id": 999999}), 404)
    problem(admin.patch(f"/stacks/{name}", json={"version": "2", "image": two}), 400)
    body = problem(admin.patch(f"/stacks/{name}", json={"version": "1", "image_id": two}), 409)
    assert "already had version 1" in body["detail"], body
    body = problem(admin.patch(f"/stacks/{name}",
                               json={"version": "2", "image_id": first["image_id"]}), 409)
    assert "is already stack" in body["detail"], body
    # An image the apps' owners may not use is refused, naming one.
    private = _stack_image(one, public=False)
    body = problem(admin.patch(f"/stacks/{name}", json={"version": "2", "image_id": private}), 409)
    assert f"owner of app {mine}" in body["detail"] and "604" in body["detail"], body
    assert admin.get(f"/stacks/{name}").json()["version"] == "1"
    # Patched: the old version is remembered; the app (no slug yet) keeps its release.
    reply = admin.patch(f"/stacks/{name}", json={"version": "2026.12.2", "image_id": two})
    assert reply.status_code == 200, reply.text
    patched = reply.json()
    assert (patched["version"], patched["image_id"]) == ("2026.12.2", two), patched
    [old] = patched["previous_versions"]
    assert (old["version"], old["image_id"]) == ("1", first["image_id"]) and old["replaced_at"] > 0
    assert patched["apps"] == [{"name": mine, "release": 1, "stack_image_id": None,
                                "stack_version": None}], patched["apps"]
    assert len(alice.get(f"/apps/{mine}/releases").json()) == 1
    # The same again changes nothing.
    again = admin.patch(f"/stacks/{name}", json={"version": "2026.12.2", "image_id": two})
    assert again.status_code == 200 and len(again.json()["previous_versions"]) == 1, again.text
    # Everyone sees the stack, and only the apps on it they may see.
    assert [a["name"] for a in alice.get(f"/stacks/{name}").json()["apps"]] == [mine]
    assert bob.get(f"/stacks/{name}").json()["apps"] == []
    assert "apps" not in bob.get("/stacks").json()[0]
    # A version and a state at once: deprecated, its apps listed.
    three = _stack_image(one)
    done = admin.patch(f"/stacks/{name}",
                       json={"state": "DEPRECATED", "version": "3", "image_id": three}).json()
    assert (done["state"], done["version"]) == ("DEPRECATED", "3"), done
    assert [v["version"] for v in done["previous_versions"]] == ["1", "2026.12.2"], done
    assert [a["name"] for a in alice.get("/apps", params={"stack": name}).json()["items"]] == [mine]
    assert bob.get("/apps", params={"stack": name}).json()["items"] == []
    assert admin.get("/apps", params={"stack": "no-such-stack"}).json()["items"] == []
    problem(admin.patch("/stacks/no-such-stack", json={"version": "2", "image_id": two}), 404)


def test_the_served_openapi_document_is_the_checked_in_one(nubod):
    reply = Rest(nubod.api, "", "").get("/openapi.json")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.text == (REPO_ROOT / "docs" / "openapi.json").read_text()


def test_acknowledged_changes_survive_kill_9():
    d = Nubod().start()
    try:
        admin = Rest(d.api, "oneadmin", d.admin_password)
        register_stack(d.admin(), admin)
        name = app_name()
        assert admin.post("/apps", json={"name": name}).status_code == 201
        assert admin.patch(f"/apps/{name}/config-vars", json={"K": "v"}).status_code == 200
        keyed, key = app_name(), {"Idempotency-Key": uniq("key")}
        first = admin.post("/apps", json={"name": keyed}, headers=key)
        assert first.status_code == 201, first.text
        before = admin.get(f"/apps/{name}").json()
        d.kill()
        d.restart()
        admin = Rest(d.api, "oneadmin", d.admin_password)
        assert admin.get(f"/apps/{name}").json() == before
        # The answer to a request with an Idempotency-Key is given again after the restart.
        again = admin.post("/apps", json={"name": keyed}, headers=key)
        assert (again.status_code, again.json()) == (201, first.json()), again.text
        assert again.headers["idempotency-replayed"] == "true"
        assert again.headers["location"] == first.headers["location"]
        problem(admin.post("/apps", json={"name": app_name()}, headers=key), 422)
        assert admin.get(f"/apps/{name}/config-vars").json() == {"K": "v"}
        assert len(admin.get(f"/apps/{name}/releases").json()) == 2
        # Ids go on after a restart.
        other = app_name()
        assert admin.post("/apps", json={"name": other}).json()["id"] > before["id"]
    finally:
        d.stop()


def test_builds_of_missing_repositories_fail_with_the_reason(stack, user):
    from onehelpers import wait_for
    rest = user()
    name = app_name()
    rest.post("/apps", json={"name": name})
    for bad in [{"type": "git", "url": "ssh://host/repo.git"},
                {"type": "git", "url": "file:///x", "ref": "-u"},
                {"type": "git", "url": "file:///x", "ref": "a..b"}]:
        problem(rest.post(f"/apps/{name}/builds", json={"source": bad}), 422)
    problem(rest.post(f"/apps/{name}/builds", json={"source": {"type": "svn", "url": "x"}}), 400)
    reply = rest.post(f"/apps/{name}/builds",
                      json={"source": {"type": "git", "url": "file:///no/such/repo.git", "ref": "main"}})
    assert reply.status_code == 202, reply.text
    build = reply.json()
    assert build["status"] in ("queued", "building") and build["source_ref"] == "main"
    assert reply.headers["location"] == f"/api/v1/apps/{name}/builds/{build['id']}"
    done = wait_for(lambda: (b := rest.get(f"/apps/{name}/builds/{build['id']}").json())["status"] == "failed" and b,
                    what="the build to fail")
    assert "cannot fetch the source" in done["reason"], done
    assert done["finished_at"] >= done["started_at"] > 0
    log = rest.get(f"/apps/{name}/builds/{build['id']}/log")
    assert log.headers["content-type"].startswith("text/plain")
    assert "-----> Fetching file:///no/such/repo.git at main" in log.text
    assert "Build failed: cannot fetch the source" in log.text
    assert int(log.headers["nubo-log-next"]) == len(log.content)
    tail = rest.get(f"/apps/{name}/builds/{build['id']}/log", params={"offset": 10})
    assert tail.content == log.content[10:]
    followed = rest.get(f"/apps/{name}/builds/{build['id']}/log", params={"follow": "true"}, timeout=30)
    assert followed.content == log.content
    assert [b["id"] for b in rest.get(f"/apps/{name}/builds").json()] == [build["id"]]
    problem(rest.get(f"/apps/{name}/builds/999999"), 404)
    # No release came of it.
    assert rest.get(f"/apps/{name}").json()["release"] == 1


def test_another_users_vm_tagged_as_an_apps_instance_is_not_one(nubod, stack, user):
    """NUBO_* tags anyone may write: a VM of another user that claims to be an app's
    instance is neither listed nor routed to (only the app owner's VMs count)."""
    alice, bob_rest = user(), user()
    name = app_name()
    created = alice.post("/apps", json={"name": name}).json()
    bob = bob_rest.session.auth
    one = connect(nubod.endpoint, f"{bob[0]}:{bob[1]}")
    vm = one.vm.allocate(f'NAME="spoof"\nCPU="0.1"\nMEMORY="64"\nNUBO_APP="{created["id"]}"\n'
                         'NUBO_PROCESS="web"\nNUBO_INDEX="1"\nNUBO_RELEASE="1"\n', True)
    try:
        assert alice.get(f"/apps/{name}/instances").json() == []
    finally:
        one.vm.action("terminate-hard", vm)


def test_custom_domains_route_to_their_app(nubod, stack, user):
    import http.client

    def routed(host: str) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", nubod.router_port, timeout=10)
        try:
            conn.request("GET", "/", headers={"Host": host})
            reply = conn.getresponse()
            return reply.status, reply.read().decode()
        finally:
            conn.close()

    rest, other = user(), user()
    name, second = app_name(), app_name()
    rest.post("/apps", json={"name": name})
    other.post("/apps", json={"name": second})
    shown = rest.get(f"/apps/{name}").json()
    assert shown["hostname"] == f"{name}.apps.localhost"
    assert rest.get(f"/apps/{name}/domains").json() == {"default": f"{name}.apps.localhost",
                                                        "custom": []}
    domain = f"{name}.example.com"
    reply = rest.post(f"/apps/{name}/domains", json={"hostname": domain.upper() + "."})
    assert reply.status_code == 201, reply.text
    assert reply.json()["custom"] == [domain]
    assert reply.headers["location"] == f"/api/v1/apps/{name}/domains/{domain}"
    # Adding it again changes nothing; another app cannot take it.
    assert rest.post(f"/apps/{name}/domains", json={"hostname": domain}).status_code == 201
    problem(other.post(f"/apps/{second}/domains", json={"hostname": domain}), 409)
    for bad in ["localhost", "a..b", "-x.com", "x y.com", f"x.{name}.apps.localhost", "apps.localhost"]:
        problem(rest.post(f"/apps/{name}/domains", json={"hostname": bad}), 422)
    # The router knows the app by either name (no instance yet: 503 naming the app).
    for host in (f"{name}.apps.localhost", domain, f"{domain}:8000"):
        status, body = routed(host)
        assert status == 503 and name in body, (host, status, body)
    assert routed("nobody.example.com")[0] == 404
    assert rest.delete(f"/apps/{name}/domains/{domain}").status_code == 204
    problem(rest.delete(f"/apps/{name}/domains/{domain}"), 404)
    # The router keeps a route a quarter of a second.
    wait_for(lambda: routed(domain)[0] == 404, timeout=5, what="the domain unrouted")
    # The domain is free again.
    assert other.post(f"/apps/{second}/domains", json={"hostname": domain}).status_code == 201


def test_process_actions_without_a_build(stack, user):
    rest = user()
    name = app_name()
    rest.post("/apps", json={"name": name})
    for action in ("restart", "stop", "start"):
        reply = rest.post(f"/apps/{name}/processes/{action}")
        assert reply.status_code == 202, reply.text
        problem(rest.post(f"/apps/{name}/processes/{action}", params={"type": "web"}), 422)
    problem(rest.post(f"/apps/{name}/processes/explode"), 404)
    problem(rest.post(f"/apps/{name}/processes/stop", params={"bogus": "1"}), 400)
    assert "stopped" not in rest.get(f"/apps/{name}").json()


def test_runs_need_a_built_release_and_a_command(stack, user):
    rest = user()
    name = app_name()
    rest.post("/apps", json={"name": name})
    body = problem(rest.post(f"/apps/{name}/runs", json={"command": "echo hi"}), 409)
    assert "deploy a build first" in body["detail"]
    for bad in ["", "   ", "x" * (16 * 1024 + 1), "a\u0000b"]:
        problem(rest.post(f"/apps/{name}/runs", json={"command": bad}), 422)
    problem(rest.post(f"/apps/{name}/runs", json={"cmd": "x"}), 400)
    problem(rest.get(f"/apps/{name}/runs/1"), 404)


def test_idempotency_keys_make_creates_happen_once(stack, user):
    rest, other = user(), user()
    name = app_name()
    key = {"Idempotency-Key": uniq("key")}
    first = rest.post("/apps", json={"name": name}, headers=key)
    assert first.status_code == 201, first.text
    again = rest.post("/apps", json={"name": name}, headers=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotency-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    # Without the key (or with another) the create happens again: the name is taken.
    problem(rest.post("/apps", json={"name": name}), 409)
    # The key with another body; the key of another user is another key.
    problem(rest.post("/apps", json={"name": app_name()}, headers=key), 422)
    assert other.post("/apps", json={"name": app_name()}, headers=key).status_code == 201
    # A refusal is kept too: the same request with the key gets the same refusal.
    bad = {"Idempotency-Key": uniq("key")}
    assert problem(rest.post("/apps", json={"name": "Bad Name"}, headers=bad), 422)
    replay = rest.post("/apps", json={"name": "Bad Name"}, headers=bad)
    assert replay.status_code == 422 and replay.headers["idempotency-replayed"] == "true"
    problem(rest.post("/apps", json={"name": app_name()}, headers={"Idempotency-Key": "x" * 256}), 400)
    assert len([a for a in rest.get("/apps").json()["items"] if a["name"] == name]) == 1


def test_bearer_tokens_from_user_login(nubod, stack, make_user):
    u = make_user()
    token = u.one.user.login(u.name, "", 3600, -1)
    assert isinstance(token, str) and len(token) >= 16
    bearer = Rest(nubod.api, "", "")
    bearer.session.auth = None
    bearer.session.headers["Authorization"] = f"Bearer {token}"
    name = app_name()
    created = bearer.post("/apps", json={"name": name})
    assert created.status_code == 201, created.text
    assert created.json()["owner_id"] == u.id
    for bad in ["Bearer " + "0" * 40, "Bearer short", f"Bearer {u.name}:{token}"]:
        bearer.session.headers["Authorization"] = bad
        problem(bearer.get("/apps"), 401)
    # The token also stands in for the password in HTTP Basic.
    assert Rest(nubod.api, u.name, token).get(f"/apps/{name}").status_code == 200


def test_the_router_serves_https_with_a_configured_certificate(tmp_path):
    import http.client
    import ssl
    import subprocess
    key, cert = tmp_path / "router.key", tmp_path / "router.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=apps.localhost",
                    "-addext", "subjectAltName=DNS:*.apps.localhost"],
                   check=True, capture_output=True, timeout=60)
    d = Nubod(config=f'[router]\ntls_cert = "{cert}"\ntls_key = "{key}"\n').start()
    try:
        admin = Rest(d.api, "oneadmin", d.admin_password)
        register_stack(d.admin(), admin)
        name = app_name()
        admin.post("/apps", json={"name": name})
        context = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", d.router_port, timeout=10,
                                           context=context)
        context.check_hostname = False
        conn.request("GET", "/", headers={"Host": f"{name}.apps.localhost"})
        reply = conn.getresponse()
        assert reply.status == 503 and name in reply.read().decode()
        conn.close()
        # Plain HTTP on the HTTPS port gets no page.
        plain = http.client.HTTPConnection("127.0.0.1", d.router_port, timeout=10)
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            plain.request("GET", "/", headers={"Host": f"{name}.apps.localhost"})
            plain.getresponse().read()
    finally:
        d.stop()


@contextlib.contextmanager
def nubo_router(d, work: Path):
    """`nubo-router` (built beside nubod) on a free port, polling `d`'s REST API as
    oneadmin every 50 ms; yields (port, its log file). Stopped by SIGTERM, which it must
    obey with status 0."""
    binary = Path(d.binary).parent / "nubo-router"
    if not binary.is_file():
        pytest.fail(f"nubo-router not found at {binary}; run `cargo build -p nubo-router-agent`",
                    pytrace=False)
    auth = work / "router-one_auth"
    auth.write_text(f"oneadmin:{d.admin_password}\n")
    auth.chmod(0o600)
    port = free_port()
    log_path = work / "nubo-router.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(binary), "--listen", f"127.0.0.1:{port}", "--api", d.api,
                                 "--auth", str(auth), "--refresh-ms", "50"],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        def listening():
            assert proc.poll() is None, log_path.read_text()
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0
        wait_for(listening, timeout=30, what="nubo-router listening")
        yield port, log_path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=30) == 0, log_path.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def get_through(port: int, host: str, path: str = "/") -> tuple[int, str]:
    """GET through a router on `port` with `Host: host`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host})
        reply = conn.getresponse()
        return reply.status, reply.read().decode(errors="replace")
    finally:
        conn.close()


def test_the_route_table_and_log_for_routers_run_apart(nubod, stack, admin, user, tmp_path):
    """What `nubo-router` reads and writes: GET /router/routes (every app, its host names
    and instances up; an ETag, 304 while unchanged) and POST /router/log (lines into the
    apps' logs); both for the oneadmin group only. Then the real nubo-router over it."""
    rest = user()
    name = app_name()
    assert rest.post("/apps", json={"name": name}).status_code == 201
    domain = f"{name}.example.net"
    assert rest.post(f"/apps/{name}/domains", json={"hostname": domain}).status_code == 201
    reply = admin.get("/router/routes")
    assert reply.status_code == 200, reply.text
    table = reply.json()
    assert table["apps_domain"] == "apps.localhost"
    assert [a for a in table["apps"] if a["app"] == name] == [
        {"app": name, "hosts": [f"{name}.apps.localhost", domain], "backends": []}]
    etag = reply.headers["etag"]
    same = admin.get("/router/routes", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
    assert admin.get("/router/routes", headers={"If-None-Match": '"other"'}).status_code == 200

    # Only the oneadmin group: not even the app's owner.
    assert problem(rest.get("/router/routes"), 403)["code"] == "forbidden"
    problem(rest.post("/router/log", json={"lines": [{"app": name, "line": "forged line"}]}), 403)

    def router_log() -> str:
        return rest.get(f"/apps/{name}/logs", params={"source": "router"}).text

    reply = admin.post("/router/log", json={"lines": [
        {"app": name, "line": "method=GET path=\"/from-afar\" status=200"},
        {"app": "no-such-app-" + uniq("x").lower(), "line": "skipped"}]})
    assert reply.status_code == 204, reply.text
    wait_for(lambda: "/from-afar" in router_log(), what="the line in the app's log")
    assert "forged line" not in router_log()
    # Bounds: 1000 lines of 8 KiB at most a call, 1 MiB a body, no unknown members.
    line = {"app": name, "line": "x"}
    problem(admin.post("/router/log", json={"lines": [line] * 1001}), 422)
    problem(admin.post("/router/log", json={"lines": [{"app": name, "line": "x" * 8193}]}), 422)
    problem(admin.post("/router/log", json={"lines": [{"app": name, "line": "x" * 8000}] * 200}),
            413)
    problem(admin.post("/router/log", json={"lines": [], "more": 1}), 400)
    assert "x" * 100 not in router_log()

    # A change of the table changes its ETag.
    assert rest.delete(f"/apps/{name}/domains/{domain}").status_code == 204
    changed = admin.get("/router/routes", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert rest.post(f"/apps/{name}/domains", json={"hostname": domain}).status_code == 201

    # The real nubo-router: the app by either name (no instance: 503), no app: 404, its
    # line in the app's log; the password never in its log.
    with nubo_router(nubod, tmp_path) as (port, log):
        for host in (f"{name}.apps.localhost", domain):
            wait_for(lambda: get_through(port, host)[0] == 503, what=f"{host} routed")
            assert name in get_through(port, host)[1]
        assert get_through(port, "nobody.apps.localhost")[0] == 404
        wait_for(lambda: "status=503" in router_log(), what="nubo-router's line in the app's log")
    assert nubod.admin_password not in log.read_text()


def test_nubo_router_refuses_credentials_that_are_not_oneadmins(nubod, make_user, tmp_path):
    u = make_user()
    auth = tmp_path / "auth"
    auth.write_text(f"{u.name}:{u.password}\n")
    binary = Path(nubod.binary).parent / "nubo-router"
    done = subprocess.run([str(binary), "--listen", f"127.0.0.1:{free_port()}", "--api",
                           nubod.api, "--auth", str(auth)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0 and "oneadmin" in done.stderr, done.stderr
    assert u.password not in done.stderr
