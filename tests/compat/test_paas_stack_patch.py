"""Stack patching on real containers, under a steady load through the router: a new
version of the stack (a copy of the Debian stack with `/etc/nubo-stack-version` written
into it) re-layers the app's slug and rolls it out without a build and without a failed
request; a rollback afterwards runs on the current stack image; a broken version (no
python3) fails its deployment and the app goes back, by itself, to the release and image
that served; a version back on the image that worked leaves it as it is.

Without containers (the session's nubod): `nubo app stack` lists the stacks, shows one
with its apps, and patches one as oneadmin only; `nubo app list --stack`.

With containers: needs what test_paas.py needs (root, runc, the Debian stack) and
debugfs; its own cloud."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from onehelpers import uniq, wait_for
from resthelpers import Rest, problem, register_stack
from test_cli_app import REFUSED, USAGE, NuboApp, nubo_binary
from test_local_host import _stack
from test_paas import paas_cloud, routed
from test_paas_rollout import Load, deployment, instances, new_app, settled

STACK = "debian-12"

# A web app with no packages (fast builds) that answers with the stack version the
# container's root has (`none` on the stack as built) and its host name.
APP = {
    "requirements.txt": "",
    "Procfile": "web: python3 app.py\n",
    "app.py": '''\
import os, socket
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            with open("/etc/nubo-stack-version") as f:
                version = f.read().strip()
        except OSError:
            version = "none"
        body = "{} {}".format(version, socket.gethostname()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
''',
}


@pytest.fixture(scope="module")
def cloud():
    if shutil.which("debugfs") is None:
        pytest.skip("debugfs (e2fsprogs) makes the stack's new versions")
    with paas_cloud() as d:
        yield d


@pytest.fixture(scope="module")
def admin(cloud) -> Rest:
    return Rest(cloud.api, "oneadmin", cloud.admin_password)


@pytest.fixture
def user(cloud):
    name, password = uniq("dev"), uniq("pw")
    cloud.admin().user.allocate(name, password, "core")
    return Rest(cloud.api, name, password)


def test_the_cli_lists_shows_and_patches_stacks(nubod, make_user, tmp_path):
    one = nubod.admin()
    admin_rest = Rest(nubod.api, "oneadmin", nubod.admin_password)
    name = register_stack(one, admin_rest)
    u = make_user()
    cli = NuboApp(nubo_binary(nubod), nubod.api, u.name, u.password, tmp_path / "user")
    admin = NuboApp(nubo_binary(nubod), nubod.api, "oneadmin", nubod.admin_password,
                    tmp_path / "admin")
    app = uniq("cli").lower()
    cli.ok("create", app, "--stack", name)
    assert any(line.split()[:2] == [name, "1"] for line in cli.ok("stack").splitlines())
    shown = cli.ok("stack", name)
    assert "VERSION     : 1" in shown and "APPS" in shown, shown
    assert any(line.split()[:2] == [app, "v1"] for line in shown.splitlines()), shown
    assert cli.json("stack", name) == Rest(nubod.api, u.name, u.password).get(
        f"/stacks/{name}").json()
    image = one.image.allocate(f'NAME="{uniq("stack-img")}"\nTYPE="DATABLOCK"\nSIZE="1"\n', 1)
    wait_for(lambda: one.image.info(image).STATE == 1, what="image READY")
    one.image.chmod(image, 1, 1, 0, 0, 0, 0, 1, 0, 0)
    refused = cli.fails(REFUSED, "stack", name, "--patch", "2", "--image", image)
    assert "only the oneadmin group may patch a stack" in refused, refused
    p = cli.run("stack", name, "--patch", "2")
    assert p.returncode == USAGE and "--image" in p.stderr, p.stderr
    out = admin.ok("stack", name, "--patch", "2", "--image", image, "--state", "deprecated")
    assert "VERSION     : 2" in out and "STATE       : DEPRECATED" in out, out
    assert "EARLIER VERSIONS" in out and app in out, out
    listed = cli.ok("list", "--stack", name).splitlines()
    assert len(listed) == 2 and app in listed[1], listed
    assert cli.json("list", "--stack", "no-such-stack") == {"items": []}
    cli.ok("delete", app)


def stack_image(cloud, label: str, commands: list[str]) -> int:
    """A new image of the stack: a copy of its file changed by debugfs `commands`,
    registered by oneadmin, READY and usable by every user (604, as the stack's)."""
    source = _stack(cloud.work)
    copy = cloud.work / f"stack-{label}.raw"
    subprocess.run(["cp", "--sparse=always", str(source), str(copy)], check=True)
    script = cloud.work / f"stack-{label}.debugfs"
    script.write_text("\n".join(commands) + "\n")
    done = subprocess.run(["debugfs", "-w", "-f", str(script), str(copy)],
                          capture_output=True, text=True, check=True)
    assert "rror" not in done.stderr.replace("debugfs", ""), done.stderr
    one = cloud.admin()
    image = one.image.allocate(
        f'NAME="{STACK}-{label}"\nTYPE="OS"\nPERSISTENT="NO"\nFORMAT="raw"\nPATH="{copy}"\n', 1)
    wait_for(lambda: one.image.info(image).STATE == 1, timeout=300, what="the image READY")
    one.image.chmod(image, 1, 1, 0, 0, 0, 0, 1, 0, 0)
    copy.unlink()
    return image


def versioned(cloud, label: str, content: str) -> int:
    """The stack with `/etc/nubo-stack-version` holding `content`."""
    file = cloud.work / f"version-{label}"
    file.write_text(content + "\n")
    file.chmod(0o644)
    return stack_image(cloud, label, ["cd /etc", f"write {file} nubo-stack-version"])


def version_seen(cloud, app: str) -> str:
    status, body = routed(cloud, app)
    assert status == 200, (status, body)
    return body.split()[0]


def test_a_patch_rolls_the_app_out_on_the_new_image_without_a_build(cloud, admin, user):
    rest = user
    original = admin.get(f"/stacks/{STACK}").json()
    two = versioned(cloud, "two", "2")
    app = new_app(cloud, rest, 2, APP)
    assert version_seen(cloud, app) == "none"
    builds = rest.get(f"/apps/{app}/builds").json()
    [built] = builds
    assert built["stack_image_id"] == original["image_id"], built
    v2 = rest.get(f"/apps/{app}/releases/2").json()
    assert v2["stack_image_id"] == original["image_id"], v2
    # Only the oneadmin group patches.
    problem(rest.patch(f"/stacks/{STACK}", json={"version": "2", "image_id": two}), 403)
    with Load(cloud, rest, app) as load:
        time.sleep(1)
        reply = admin.patch(f"/stacks/{STACK}", json={"version": "2", "image_id": two})
        assert reply.status_code == 200, reply.text
        patched = reply.json()
        d = deployment(rest, app)
        done = settled(rest, app)
        time.sleep(1)
    assert (patched["version"], patched["image_id"]) == ("2", two), patched
    assert patched["previous_versions"][-1]["image_id"] == original["image_id"], patched
    assert {"name": app, "release": 3, "stack_image_id": two,
            "stack_version": "2"} in patched["apps"], patched["apps"]
    assert (d["release"], d["from_release"]) == (3, 2), d
    assert "Stack debian-12 patched to 2" in d["cause"], d
    assert done["id"] == d["id"] and done["state"] == "DEPLOYED", done
    assert load.failures() == [], load.failures()[:5]
    assert len(load.results) > 50, len(load.results)
    assert load.bodies() == {"none", "2"}, load.bodies()
    assert version_seen(cloud, app) == "2"
    # No build: the same slug, process types and config vars on the new image.
    assert rest.get(f"/apps/{app}/builds").json() == builds
    v3 = rest.get(f"/apps/{app}/releases/3").json()
    assert v3["description"] == "Stack debian-12 patched to 2", v3
    assert (v3["build_id"], v3["process_types"], v3["stack_image_id"]) == (
        v2["build_id"], v2["process_types"], two), v3
    assert sorted((i["release"], i["state"]) for i in instances(rest, app)) == [
        (3, "up"), (3, "up")]
    events = rest.get(f"/apps/{app}/logs", params={"source": "nubo"}).text
    assert "stack debian-12 patched to 2" in events, events
    # A rollback to the release from before the patch runs its slug on the current image
    # (a rollback undoes an app's change, not the stack's security fixes).
    reply = rest.post(f"/apps/{app}/rollback", json={"release": 2})
    assert reply.status_code == 201, reply.text
    assert reply.json()["stack_image_id"] == two, reply.json()
    settled(rest, app)
    assert version_seen(cloud, app) == "2"
    # The same patch again changes nothing.
    again = admin.patch(f"/stacks/{STACK}", json={"version": "2", "image_id": two}).json()
    assert rest.get(f"/apps/{app}").json()["release"] == 4, again
    # Listed as on the stack, on version 2.
    mine = [a for a in rest.get(f"/stacks/{STACK}").json()["apps"]]
    assert mine == [{"name": app, "release": 4, "stack_image_id": two,
                     "stack_version": "2"}], mine
    assert [a["name"] for a in rest.get("/apps", params={"stack": STACK}).json()["items"]] == [app]
    assert rest.delete(f"/apps/{app}").status_code == 204


def test_a_broken_version_is_rolled_back_by_itself(cloud, admin, user):
    rest = user
    app = new_app(cloud, rest, 2, APP)
    rest.patch(f"/apps/{app}/health-checks", json={"web": {"type": "port", "timeout": 8}})
    before = version_seen(cloud, app)
    served = rest.get(f"/apps/{app}").json()["release"]
    stack = admin.get(f"/stacks/{STACK}").json()
    broken = stack_image(cloud, "broken", ["cd /usr/bin", "rm python3"])
    with Load(cloud, rest, app) as load:
        time.sleep(1)
        reply = admin.patch(f"/stacks/{STACK}", json={"version": "broken", "image_id": broken})
        assert reply.status_code == 200, reply.text
        failed = settled(rest, app, "FAILED", timeout=180)
        wait_for(lambda: sorted(i["release"] for i in instances(rest, app)) == [served] * 2,
                 timeout=120, what="only the served release's instances left")
    assert (failed["release"], failed["from_release"]) == (served + 1, served), failed
    assert "patched to broken" in failed["cause"], failed
    assert load.failures() == [] and load.bodies() == {before}, load.failures()[:5]
    # Back on the release, and the image, that served.
    shown = rest.get(f"/apps/{app}").json()
    assert shown["release"] == served, shown
    assert rest.get(f"/apps/{app}/releases/{served}").json()["stack_image_id"] == stack["image_id"]
    assert version_seen(cloud, app) == before
    listed = {a["name"]: a for a in admin.get(f"/stacks/{STACK}").json()["apps"]}
    assert listed[app]["stack_image_id"] == stack["image_id"], listed
    # The administrator patches again, here back to the image that worked as a new
    # version: the app already runs on it, so it keeps its release (no deployment).
    reply = admin.patch(f"/stacks/{STACK}", json={"version": "fixed", "image_id": stack["image_id"]})
    assert reply.status_code == 200, reply.text
    listed = {a["name"]: a for a in reply.json()["apps"]}
    assert listed[app] == {"name": app, "release": served, "stack_image_id": stack["image_id"],
                           "stack_version": "fixed"}, listed
    assert deployment(rest, app)["id"] == failed["id"]
    assert version_seen(cloud, app) == before
    assert rest.delete(f"/apps/{app}").status_code == 204
