"""Rollback on demand (`POST /apps/{app}/rollback`, `nubo app rollback`) and release
retention (`[paas] releases_kept`).

Without containers (the session's nubod): what cannot be rolled back to is refused with a
problem — an unknown release (404), the current release, a release without a slug and no
earlier release with one (409), a malformed body (400, 415) — and another user is refused
(403); nothing changes meanwhile. The CLI says the same and exits non-zero.

With containers (a cloud of its own, `releases_kept = 2`; root, runc and the Debian stack,
else skipped unless NUBO_REQUIRE_GUESTS=1): a rollback to an earlier release serves its code
with its config vars through the router, over the API and the CLI; with more releases than
kept, the oldest slug is deleted (its build `slug_pruned`, its image gone), its release stays
listed, and a rollback to it is refused with the reason."""

from __future__ import annotations

import pytest

from onehelpers import uniq, wait_for
from resthelpers import Rest, problem, register_stack
from test_cli_app import REFUSED, USAGE, NuboApp, nubo_binary
from test_paas import build, git_repo, instances, paas_cloud, routed


@pytest.fixture(scope="module")
def stack(nubod) -> str:
    return register_stack(nubod.admin(), Rest(nubod.api, "oneadmin", nubod.admin_password))


def user_rest(nubod, make_user) -> Rest:
    u = make_user()
    rest = Rest(nubod.api, u.name, u.password)
    rest.user = u
    return rest


def test_rollback_refuses_what_it_cannot_roll_back_to(nubod, make_user, stack):
    rest = user_rest(nubod, make_user)
    app = uniq("rb").lower()
    assert rest.post("/apps", json={"name": app, "stack": stack}).status_code == 201
    assert rest.patch(f"/apps/{app}/config-vars", json={"GREETING": "two"}).status_code == 200
    before = rest.get(f"/apps/{app}/releases").json()
    assert [r["version"] for r in before] == [2, 1]

    body = problem(rest.post(f"/apps/{app}/rollback", json={"release": 9}), 404)
    assert "release v9" in body["detail"], body
    body = problem(rest.post(f"/apps/{app}/rollback", json={"release": 2}), 409)
    assert "current release" in body["detail"], body
    body = problem(rest.post(f"/apps/{app}/rollback", json={"release": 1}), 409)
    assert "no slug" in body["detail"], body
    # The default: the release before the current one with a slug; there is none.
    for kw in [{}, {"json": {}}, {"json": None}, {"json": {"release": None}}]:
        body = problem(rest.post(f"/apps/{app}/rollback", **kw), 409)
        assert "no release before v2 with a slug" in body["detail"], (kw, body)
    problem(rest.post(f"/apps/{app}/rollback", json={"release": "v1"}), 400)
    problem(rest.post(f"/apps/{app}/rollback", json={"release": -1}), 400)
    problem(rest.post(f"/apps/{app}/rollback", json={"version": 1}), 400)
    problem(rest.post(f"/apps/{app}/rollback", data="release=1",
                      headers={"Content-Type": "text/plain"}), 415)
    problem(rest.post(f"/apps/{uniq('nope').lower()}/rollback", json={"release": 1}), 404)

    other = user_rest(nubod, make_user)
    body = problem(other.post(f"/apps/{app}/rollback", json={"release": 1}), 403)
    assert body["code"] == "forbidden", body
    assert rest.get(f"/apps/{app}/releases").json() == before
    assert rest.get(f"/apps/{app}/config-vars").json() == {"GREETING": "two"}


def test_the_cli_refuses_what_it_cannot_roll_back_to(nubod, make_user, stack, tmp_path):
    u = make_user()
    cli = NuboApp(nubo_binary(nubod), nubod.api, u.name, u.password, tmp_path / "cli")
    app = uniq("rbcli").lower()
    cli.ok("create", app)
    assert "release v9 of app" in cli.fails(REFUSED, "rollback", app, "v9")
    assert "current release" in cli.fails(REFUSED, "rollback", app, "1")
    assert "no release before v1" in cli.fails(REFUSED, "rollback", app)
    assert "is no release" in cli.fails(USAGE, "rollback", app, "latest")
    assert "is no release" in cli.fails(USAGE, "rollback", app, "v0")
    assert cli.json("show", app)["release"] == 1


# With containers.

KEPT = 2


@pytest.fixture(scope="module")
def cloud():
    with paas_cloud(config=f"[paas]\nreleases_kept = {KEPT}\n") as d:
        yield d


@pytest.fixture
def dev(cloud):
    name, password = uniq("dev"), uniq("pw")
    cloud.admin().user.allocate(name, password, "core")
    rest = Rest(cloud.api, name, password)
    rest.name, rest.password = name, password
    return rest


def code(version: str) -> dict:
    """A web app on the standard library that answers `<version> <GREETING>`."""
    return {
        "requirements.txt": "# nothing to install\n",
        "Procfile": "web: python3 app.py\n",
        "app.py": f'''\
import os
from http.server import HTTPServer, BaseHTTPRequestHandler

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = "{version} {{}}".format(os.environ.get("GREETING", "none")).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
''',
    }


def deploy(cloud, rest: Rest, app: str, version: str) -> dict:
    url = git_repo(cloud.work / f"{app}-{version}", code(version))
    done = build(rest, app, url)
    assert done["status"] == "succeeded", done["log"][-3000:]
    return done


def serves(cloud, rest: Rest, app: str, text: str, release: int):
    """Waits until the router answers `text` and only `release`'s instances are left."""
    wait_for(lambda: routed(cloud, app) == (200, text), timeout=180,
             what=f"{app} answering {text!r}")
    wait_for(lambda: [i["release"] for i in instances(rest, app)] == [release], timeout=120,
             what=f"only release v{release}'s instance left")


def test_a_rollback_serves_the_earlier_code_with_its_config(cloud, dev):
    rest, app = dev, uniq("rollback").lower()
    assert rest.post("/apps", json={"name": app}).status_code == 201
    assert rest.patch(f"/apps/{app}/config-vars", json={"GREETING": "one"}).status_code == 200
    first = deploy(cloud, rest, app, "code1")
    assert first["release"] == 3
    serves(cloud, rest, app, "code1 one", 3)
    assert rest.patch(f"/apps/{app}/config-vars", json={"GREETING": "two"}).status_code == 200
    second = deploy(cloud, rest, app, "code2")
    assert second["release"] == 5
    serves(cloud, rest, app, "code2 two", 5)

    reply = rest.post(f"/apps/{app}/rollback", json={"release": 3})
    assert reply.status_code == 201, reply.text
    made = reply.json()
    assert (made["version"], made["description"], made["build_id"], made["current"]) == (
        6, "Rollback to v3", first["id"], True), made
    assert made["config_var_names"] == ["GREETING"]
    assert reply.headers["location"] == f"/api/v1/apps/{app}/releases/6"
    assert reply.headers["nubo-release"] == "6"
    assert rest.get(f"/apps/{app}/config-vars").json() == {"GREETING": "one"}
    assert rest.get(f"/apps/{app}").json()["release"] == 6
    serves(cloud, rest, app, "code1 one", 6)
    assert "rollback to v3" in rest.get(f"/apps/{app}/logs", params={"source": "nubo"}).text

    # The CLI, by default back to the previous release (v6 → v5: code2 with "two").
    cli = NuboApp(nubo_binary(cloud), cloud.api, rest.name, rest.password, cloud.work / app)
    out = cli.ok("rollback", app)
    assert f"Rolled back {app}: release v7 (Rollback to v6" not in out
    assert f"Rolled back {app}: release v7 (Rollback to v5), build {second['id']}" in out, out
    serves(cloud, rest, app, "code2 two", 7)
    assert rest.delete(f"/apps/{app}").status_code == 204


def test_retention_deletes_old_slugs_and_refuses_rolling_back_to_them(cloud, dev):
    rest, app = dev, uniq("retain").lower()
    assert rest.post("/apps", json={"name": app}).status_code == 201
    builds = [deploy(cloud, rest, app, f"code{n}") for n in (1, 2, 3)]
    assert [b["release"] for b in builds] == [2, 3, 4]
    serves(cloud, rest, app, "code3 none", 4)
    oldest = builds[0]
    one = cloud.admin()

    def pruned() -> bool:
        return rest.get(f"/apps/{app}/builds/{oldest['id']}").json().get("slug_pruned", False)
    wait_for(pruned, timeout=90, what="the oldest build's slug pruned")
    image = oldest["slug"]["image_id"]
    wait_for(lambda: image not in [i.ID for i in one.imagepool.info(-2, -1, -1).IMAGE],
             timeout=60, what="the pruned slug's image gone")
    # The kept ones keep theirs.
    images = [i.ID for i in one.imagepool.info(-2, -1, -1).IMAGE]
    assert all(b["slug"]["image_id"] in images for b in builds[1:]), images
    assert [r["version"] for r in rest.get(f"/apps/{app}/releases").json()] == [4, 3, 2, 1]
    assert f"Slug of build {oldest['id']} deleted" in rest.get(
        f"/apps/{app}/logs", params={"source": "nubo"}).text

    body = problem(rest.post(f"/apps/{app}/rollback", json={"release": 2}), 409)
    assert "deleted by retention" in body["detail"], body
    assert rest.get(f"/apps/{app}").json()["release"] == 4
    reply = rest.post(f"/apps/{app}/rollback", json={"release": 3})
    assert reply.status_code == 201, reply.text
    serves(cloud, rest, app, "code2 none", 5)
    assert rest.delete(f"/apps/{app}").status_code == 204
