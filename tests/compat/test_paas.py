"""The PaaS end to end on real containers: `nubod --local-host --api --router` builds apps
from git repositories served from this machine (file://) in containers on the Debian
stack, with their dependencies from PyPI, runs them as instances and routes HTTP to them
by host name; config changes make releases that replace the instances; scaling starts and
stops instances; deleting an app removes everything of it.

Needs root, runc, mke2fs and the Debian stack (scripts/build-stack.sh; NUBO_TEST_STACK);
skipped without them unless NUBO_REQUIRE_GUESTS=1. Runs in the SQLite pass only."""

from __future__ import annotations

import contextlib
import http.client
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import pytest

from onehelpers import Nubod, free_port, uniq, wait_for
from resthelpers import Rest, problem
from test_local_host import (_bridge_exists, _nat_table, _need_guests, _remove_apps_network,
                             _stack, _sweep_containers)
from test_rest_api import get_through, nubo_router

DOMAIN = "apps.localhost"

PYTHON_APP = {
    "requirements.txt": "six==1.16.0\n",
    "Procfile": "web: python3 app.py\nworker: python3 worker.py\n",
    "app.py": '''\
import os, socket, six
from http.server import HTTPServer, BaseHTTPRequestHandler

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = "hello from {} six={} host={}".format(
            os.environ.get("GREETING", "nubo"), six.__version__, socket.gethostname()).encode()
        sick = self.path == "/health" and os.environ.get("HEALTHY", "yes") != "yes"
        self.send_response(503 if sick else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
''',
    "worker.py": "import time\nprint('worker up', flush=True)\nwhile True:\n    time.sleep(1)\n",
}


def git_repo(where: Path, files: dict) -> str:
    """A git repository of `files` on branch main; its file:// URL."""
    where.mkdir(parents=True)
    for name, text in files.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text)
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "PATH": "/usr/bin:/bin", "HOME": str(where)}
    for cmd in (["git", "init", "-q", "-b", "main", "."], ["git", "add", "-A"],
                ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "app"]):
        subprocess.run(cmd, cwd=where, check=True, env=env, capture_output=True)
    return f"file://{where}"


@contextlib.contextmanager
def paas_cloud(config: str = ""):
    """A nubod with its local host, router and the Debian stack, with `config` (TOML)."""
    _need_guests()
    work = Path(tempfile.mkdtemp(prefix="nubo-paas-"))
    stack = _stack(work)
    if stack is None or "debian" not in stack.name:
        shutil.rmtree(work, ignore_errors=True)
        pytest.skip("the PaaS needs the Debian stack (scripts/build-stack.sh)")
    had_network = _bridge_exists(), _nat_table() is not None
    router_port = free_port()
    d = Nubod(extra_args=["--local-host", "--stack", str(stack),
                          "--router", f"127.0.0.1:{router_port}"], config=config).start()
    d.tmp.chmod(0o711)
    d.router_port = router_port
    d.work = work
    admin = Rest(d.api, "oneadmin", d.admin_password)
    wait_for(lambda: any(s["name"] == "debian-12" for s in admin.get("/stacks").json()),
             timeout=120, what="the stack registered with the PaaS")
    try:
        yield d
        # Apps a failed test left would start their instances again: deleted first.
        for app in admin.get("/apps").json()["items"]:
            admin.delete(f"/apps/{app['name']}")
        one = d.admin()
        for vm in one.vmpool.info(-2, -1, -1, -1).VM:
            try:
                one.vm.action("terminate-hard", vm.ID)
            except Exception:  # noqa: BLE001 - best effort
                pass
        try:
            wait_for(lambda: not one.vmpool.info(-2, -1, -1, -1).VM, timeout=120,
                     what="VMs gone")
        except BaseException:
            left = [(vm.ID, vm.NAME, vm.STATE, vm.LCM_STATE)
                    for vm in one.vmpool.info(-2, -1, -1, -1).VM]
            pytest.fail(f"VMs not gone within 120 s: {left}\n--- nubod stderr ---\n"
                        f"{d.stderr_tail(4000)}", pytrace=False)
    finally:
        # Always: a cloud left running would hand out the apps network's addresses twice.
        d.halt()
        left = _sweep_containers(d)
        if left:
            warnings.warn(f"containers left running after the cloud stopped: {left}")
        d.stop()
        shutil.rmtree(work, ignore_errors=True)
        _remove_apps_network(*had_network)


@pytest.fixture(scope="module")
def cloud():
    with paas_cloud() as d:
        yield d


@pytest.fixture
def user(cloud):
    name, password = uniq("dev"), uniq("pw")
    cloud.admin().user.allocate(name, password, "core")
    return Rest(cloud.api, name, password)


def routed(cloud, app: str, path: str = "/") -> tuple[int, str]:
    """GET through the router with Host: <app>.<domain>."""
    conn = http.client.HTTPConnection("127.0.0.1", cloud.router_port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": f"{app}.{DOMAIN}"})
        reply = conn.getresponse()
        return reply.status, reply.read().decode(errors="replace")
    finally:
        conn.close()


def build(rest: Rest, app: str, url: str, ref: str | None = None) -> dict:
    """Builds `app` from `url`, following its log to the end; the finished build."""
    source = {"type": "git", "url": url} | ({"ref": ref} if ref else {})
    reply = rest.post(f"/apps/{app}/builds", json={"source": source})
    assert reply.status_code == 202, reply.text
    bid = reply.json()["id"]
    log = rest.get(f"/apps/{app}/builds/{bid}/log", params={"follow": "true"}, timeout=900)
    assert log.status_code == 200
    done = rest.get(f"/apps/{app}/builds/{bid}").json()
    assert done["status"] in ("succeeded", "failed"), done
    done["log"] = log.text
    return done


def instances(rest: Rest, app: str, state: str | None = None, kind: str | None = None) -> list:
    return [i for i in rest.get(f"/apps/{app}/instances").json()
            if (state is None or i["state"] == state) and (kind is None or i["type"] == kind)]


def test_a_python_app_is_built_released_routed_configured_scaled_and_deleted(cloud, user):
    rest = user
    app = uniq("py").lower()
    url = git_repo(cloud.work / app, PYTHON_APP)
    assert rest.post("/apps", json={"name": app}).status_code == 201
    assert routed(cloud, app)[0] == 503  # no instance yet

    done = build(rest, app, url, "main")
    assert done["status"] == "succeeded", done["log"][-3000:]
    assert done["buildpack"] == "Python"
    assert done["process_types"] == {"web": "python3 app.py", "worker": "python3 worker.py"}
    assert done["slug"]["size"] > 0 and len(done["slug"]["sha256"]) == 64
    assert "-----> Fetching" in done["log"] and "nubo-build: succeeded" in done["log"]
    assert "six" in done["log"]
    assert done["release"] == 2
    shown = rest.get(f"/apps/{app}").json()
    assert shown["release"] == 2 and shown["formation"] == {"web": 1}

    wait_for(lambda: instances(rest, app, "up", "web"), timeout=180, what="web instance up")
    status, body = routed(cloud, app)
    assert status == 200, body
    assert body.startswith("hello from nubo six=1.16.0"), body
    # The same router run as its own process: nubo-router, its routes over the REST API.
    with nubo_router(cloud, cloud.work) as (port, _):
        host = f"{app}.{DOMAIN}"
        wait_for(lambda: get_through(port, host, "/via-nubo-router")[0] == 200, timeout=30,
                 what="the app through nubo-router")
        status, body = get_through(port, host)
        assert status == 200 and body.startswith("hello from nubo six=1.16.0"), body
        assert get_through(port, f"nobody.{DOMAIN}")[0] == 404
        wait_for(lambda: 'path="/via-nubo-router" status=200' in rest.get(
            f"/apps/{app}/logs", params={"source": "router"}).text, timeout=30,
            what="nubo-router's line in the app's log")

    # A config change: a new release whose instance replaces the old one.
    assert rest.patch(f"/apps/{app}/config-vars", json={"GREETING": "world"}).status_code == 200
    assert rest.get(f"/apps/{app}").json()["release"] == 3
    wait_for(lambda: routed(cloud, app)[1].startswith("hello from world"), timeout=180,
             what="the new release serving")
    wait_for(lambda: [i["release"] for i in instances(rest, app)] == [3], timeout=120,
             what="the old release's instance gone")

    # Scale up: two web instances, both served; a worker.
    assert rest.patch(f"/apps/{app}/formation", json={"web": 2, "worker": 1}).json() == {
        "web": 2, "worker": 1}
    wait_for(lambda: len(instances(rest, app, "up", "web")) == 2, timeout=180,
             what="two web instances up")
    wait_for(lambda: instances(rest, app, "up", "worker"), timeout=120, what="worker up")
    hosts = {routed(cloud, app)[1].split("host=")[1] for _ in range(8)}
    assert len(hosts) == 2, hosts

    # The app's log: the router's lines, what the instances printed (http.server logs each
    # request on stderr), the platform's events; by source, and the last lines only.
    def log(**params) -> str:
        reply = rest.get(f"/apps/{app}/logs", params=params)
        assert reply.status_code == 200, reply.text
        return reply.text
    wait_for(lambda: '"GET / HTTP/1.1" 200' in log(source="web"), timeout=30,
             what="the instances' output in the log")
    router_lines = log(source="router", lines=1000).splitlines()
    assert sum("status=200" in l for l in router_lines) >= 9, router_lines
    assert all(" router: method=GET " in l for l in router_lines)
    events = log(source="nubo")
    assert "Release v3 created by" in events and "Scaled to web=2 worker=1" in events, events
    assert "Build " in events and "succeeded: release v2" in events, events
    assert len(log(lines=3).splitlines()) == 3
    wait_for(lambda: "worker up" in log(source="worker.1"), timeout=30, what="the worker's line")
    assert log(source="web.9") == ""
    # Followed: a new request shows up on the open stream.
    with rest.session.get(f"{rest.base}/apps/{app}/logs", params={"follow": "true", "lines": 0,
                          "source": "router"}, stream=True, timeout=30) as stream:
        routed(cloud, app, "/followed")
        got = b""
        for piece in stream.iter_content(chunk_size=None):
            got += piece
            if b"/followed" in got:
                break
        assert b'path="/followed" status=200' in got, got
    # Scale down.
    rest.patch(f"/apps/{app}/formation", json={"web": 1, "worker": 0})
    wait_for(lambda: len(instances(rest, app)) == 1, timeout=120, what="scaled down")

    # One-off runs: the release's code and config, the output, the exit status.
    reply = rest.post(f"/apps/{app}/runs", json={
        "command": "echo \"$GREETING\"; python3 -c 'import six; print(six.__version__)'; "
                   "echo to-stderr >&2; exit 3"})
    assert reply.status_code == 202, reply.text
    run = reply.json()
    assert run["release"] == 3 and run["status"] in ("starting", "running")
    output = rest.get(f"/apps/{app}/runs/{run['id']}/log", params={"follow": "true"},
                      timeout=300).text
    assert "world\n1.16.0\n" in output and "to-stderr" in output, output
    assert output.rstrip().endswith("nubo-run: exit 3"), output
    done = rest.get(f"/apps/{app}/runs/{run['id']}").json()
    assert (done["status"], done["exit_code"]) == ("failed", 3), done
    ok = rest.post(f"/apps/{app}/runs", json={"command": "true"}).json()
    wait_for(lambda: rest.get(f"/apps/{app}/runs/{ok['id']}").json()["status"] == "succeeded",
             timeout=180, what="a run that succeeds")
    one = cloud.admin()
    wait_for(lambda: not [vm for vm in one.vmpool.info(-2, -1, -1, -1).VM
                          if "-run-" in vm.NAME], timeout=120, what="the runs' containers gone")

    # Restart: a new instance replaces the old one, which serves until it is up.
    before = instances(rest, app)[0]["vm_id"]
    assert rest.post(f"/apps/{app}/processes/restart", params={"type": "web"}).status_code == 202
    statuses = set()
    def replaced():
        statuses.add(routed(cloud, app)[0])
        now = instances(rest, app)
        return len(now) == 1 and now[0]["vm_id"] != before and now[0]["state"] == "up"
    wait_for(replaced, timeout=180, interval=0.2, what="the web instance replaced")
    assert statuses == {200}, statuses
    # Stop keeps the quantity; start brings the instance back.
    stopped = rest.post(f"/apps/{app}/processes/stop").json()
    assert stopped["stopped"] == ["web", "worker"] and stopped["formation"] == {"web": 1, "worker": 0}
    wait_for(lambda: not instances(rest, app), timeout=120, what="stopped")
    assert routed(cloud, app)[0] == 503
    rest.post(f"/apps/{app}/processes/start")
    wait_for(lambda: instances(rest, app, "up", "web"), timeout=180, what="started again")

    # Delete, while a build and a run go on: instances, build and run containers, source
    # images and slugs go, the route goes.
    bid = rest.post(f"/apps/{app}/builds", json={"source": {"type": "git", "url": url}}).json()["id"]
    wait_for(lambda: "Starting the build container" in
             rest.get(f"/apps/{app}/builds/{bid}/log").text, timeout=120,
             what="the build container starting")
    long_run = rest.post(f"/apps/{app}/runs", json={"command": "sleep 600"}).json()
    wait_for(lambda: rest.get(f"/apps/{app}/runs/{long_run['id']}").json()["status"] == "running",
             timeout=120, what="a long run running")
    assert rest.delete(f"/apps/{app}").status_code == 204
    one = cloud.admin()
    wait_for(lambda: not [vm.NAME for vm in one.vmpool.info(-2, -1, -1, -1).VM
                          if vm.USER_TEMPLATE.get("NUBO_APP") is not None
                          and (vm.NAME.startswith(app) or vm.NAME.startswith(f"build-{app}-"))],
             timeout=120, what="the app's containers gone")
    wait_for(lambda: not [i.NAME for i in one.imagepool.info(-2, -1, -1).IMAGE
                          if i.NAME.startswith((f"slug-{app}-", f"build-{app}-"))],
             timeout=120, what="the app's images gone")
    assert routed(cloud, app)[0] == 404


def test_a_failing_build_says_why_and_keeps_the_release(cloud, user):
    rest = user
    app = uniq("bad").lower()
    url = git_repo(cloud.work / app, {"requirements.txt": "no-such-package-nubo-xyz==9.9\n",
                                      "app.py": "print('x')\n"})
    assert rest.post("/apps", json={"name": app}).status_code == 201
    done = build(rest, app, url)
    assert done["status"] == "failed"
    assert "pip" in done["reason"], done["reason"]
    assert "nubo-build: failed" in done["log"]
    assert rest.get(f"/apps/{app}").json()["release"] == 1
    problem(rest.patch(f"/apps/{app}/formation", json={"web": 1}), 422)
    one = cloud.admin()
    wait_for(lambda: not [vm for vm in one.vmpool.info(-2, -1, -1, -1).VM
                          if vm.NAME.startswith(f"build-{app}")],
             timeout=120, what="the build container gone")


NODE_APP = {
    "package.json": '{"name": "hello", "version": "1.0.0", "private": true,\n'
                    ' "scripts": {"start": "node server.js"},\n'
                    ' "dependencies": {"is-number": "7.0.0"}}\n',
    "server.js": '''\
const http = require("http");
const isNumber = require("is-number");
http.createServer((req, res) => {
  res.end(`node is-number=${isNumber(process.env.PORT)} greeting=${process.env.GREETING || "none"}`);
}).listen(Number(process.env.PORT), "0.0.0.0");
''',
}


def tarball(files: dict, top: str = "") -> bytes:
    """A .tar.gz of `files` (under directory `top` when given)."""
    import io
    import tarfile
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}" if top else name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_a_node_app_from_a_tarball_and_a_static_site_from_git(cloud, user):
    rest = user
    node = uniq("node").lower()
    assert rest.post("/apps", json={"name": node}).status_code == 201
    rest.patch(f"/apps/{node}/config-vars", json={"GREETING": "it's \"quoted\" $HOME"})
    reply = rest.post(f"/apps/{node}/builds", data=tarball(NODE_APP, top="hello-1.0"),
                      headers={"Content-Type": "application/gzip"})
    assert reply.status_code == 202, reply.text
    assert reply.json()["source_archive"]["size"] > 0
    bid = reply.json()["id"]
    rest.get(f"/apps/{node}/builds/{bid}/log", params={"follow": "true"}, timeout=900)
    done = rest.get(f"/apps/{node}/builds/{bid}").json()
    assert done["status"] == "succeeded", rest.get(f"/apps/{node}/builds/{bid}/log").text[-3000:]
    assert done["buildpack"] == "Node.js" and done["process_types"] == {"web": "npm start"}
    wait_for(lambda: instances(rest, node, "up", "web"), timeout=180, what="node web up")
    status, body = routed(cloud, node)
    assert (status, body) == (200, "node is-number=true greeting=it's \"quoted\" $HOME"), body

    site = uniq("site").lower()
    url = git_repo(cloud.work / site, {"index.html": "<h1>static nubo</h1>\n"})
    assert rest.post("/apps", json={"name": site}).status_code == 201
    done = build(rest, site, url)
    assert done["status"] == "succeeded", done["log"][-3000:]
    assert done["buildpack"] == "static"
    wait_for(lambda: instances(rest, site, "up", "web"), timeout=180, what="static web up")
    assert routed(cloud, site) == (200, "<h1>static nubo</h1>\n")
    for app in (node, site):
        assert rest.delete(f"/apps/{app}").status_code == 204


def test_nubod_killed_during_a_build_and_a_deploy_recovers(cloud, user):
    rest = user
    app = uniq("crash").lower()
    url = git_repo(cloud.work / app, PYTHON_APP)
    assert rest.post("/apps", json={"name": app}).status_code == 201
    bid = rest.post(f"/apps/{app}/builds",
                    json={"source": {"type": "git", "url": url}}).json()["id"]
    wait_for(lambda: "Starting the build container" in
             rest.get(f"/apps/{app}/builds/{bid}/log").text, timeout=120,
             what="the build container starting")
    cloud.kill()
    cloud.restart()
    rest = Rest(cloud.api, *rest.session.auth)
    done = wait_for(lambda: (b := rest.get(f"/apps/{app}/builds/{bid}").json())["status"]
                    in ("succeeded", "failed") and b, timeout=600, what="the build to end")
    assert done["status"] == "succeeded", rest.get(f"/apps/{app}/builds/{bid}/log").text[-3000:]
    # Killed again at once, while the build's container and source image are being removed:
    # the restarted nubod finishes that clean-up.
    cloud.kill()
    cloud.restart()
    rest = Rest(cloud.api, *rest.session.auth)
    wait_for(lambda: instances(rest, app, "up", "web"), timeout=180, what="web up")
    # A deploy cut short: the config change's release replaces the instance all the same.
    rest.patch(f"/apps/{app}/config-vars", json={"GREETING": "after"})
    cloud.kill()
    cloud.restart()
    rest = Rest(cloud.api, *rest.session.auth)
    wait_for(lambda: routed(cloud, app)[1].startswith("hello from after"), timeout=180,
             what="the new release serving after the restart")
    wait_for(lambda: [(i["type"], i["index"], i["release"]) for i in instances(rest, app)]
             == [("web", 1, 3)], timeout=120, what="exactly one instance, of the new release")
    # No build container or source image was left behind.
    one = cloud.admin()
    wait_for(lambda: not [vm for vm in one.vmpool.info(-2, -1, -1, -1).VM
                          if vm.NAME.startswith("build-")], timeout=60, what="no build container")
    wait_for(lambda: not [i for i in one.imagepool.info(-2, -1, -1).IMAGE
                          if i.NAME.endswith("-source")], timeout=60, what="no source image")
    assert rest.delete(f"/apps/{app}").status_code == 204


def test_a_web_process_that_never_listens_fails_its_release_and_the_old_one_serves(cloud, user):
    rest = user
    app = uniq("deaf").lower()
    url = git_repo(cloud.work / app, PYTHON_APP)
    assert rest.post("/apps", json={"name": app}).status_code == 201
    assert build(rest, app, url)["status"] == "succeeded"
    wait_for(lambda: instances(rest, app, "up", "web"), timeout=180, what="v2 up")
    events = lambda: rest.get(f"/apps/{app}/logs", params={"source": "nubo"}).text
    # An HTTP health check: v3 listens, but its /health answers 503.
    checks = {"web": {"type": "http", "path": "/health", "timeout": 10, "interval": 2,
                      "failures": 3}}
    worker = {"type": "process", "timeout": 60, "interval": 2, "failures": 3}
    assert rest.patch(f"/apps/{app}/health-checks", json=checks).json() == dict(checks,
                                                                               worker=worker)
    rest.patch(f"/apps/{app}/config-vars", json={"HEALTHY": "no"})
    wait_for(lambda: "Release v3 failed to start" in events(), timeout=120,
             what="v3's failed health check in the app's log")
    assert ("did not answer GET /health on port 5000 ($PORT) with 2xx within 10 s "
            "(last: GET /health answered 503 Service Unavailable)") in events(), events()
    status, body = routed(cloud, app)
    assert status == 200 and body.startswith("hello from nubo"), body
    wait_for(lambda: [i["release"] for i in instances(rest, app)] == [2], timeout=120,
             what="only v2's instance left")
    # Rolled back: v3's deployment FAILED with the reason, the app is on v2 and its config.
    failed = rest.get(f"/apps/{app}/deployments").json()[0]
    assert (failed["release"], failed["from_release"], failed["state"]) == (3, 2, "FAILED"), failed
    assert "GET /health answered 503 Service Unavailable" in failed["reason"], failed
    assert "Deployment %d of v3 failed; v2 serves on" % failed["id"] in events(), events()
    shown = rest.get(f"/apps/{app}").json()
    assert shown["release"] == 2, shown
    assert rest.get(f"/apps/{app}/config-vars").json() == {}
    # v4 answers 200 on /health: it replaces v2.
    rest.patch(f"/apps/{app}/config-vars", json={"HEALTHY": "yes"})
    wait_for(lambda: [(i["release"], i["state"]) for i in instances(rest, app)] == [(4, "up")],
             timeout=120, what="v4 up and alone")
    assert rest.patch(f"/apps/{app}/health-checks", json={"web": None}).json() == {
        "web": {"type": "port", "timeout": 60, "interval": 2, "failures": 3}, "worker": worker}
    # v5: its web process runs but never listens on $PORT.
    bad = dict(PYTHON_APP, Procfile="web: python3 worker.py\n")
    bad_url = git_repo(cloud.work / f"{app}-bad", bad)
    done = build(rest, app, bad_url)
    assert done["status"] == "succeeded" and done["release"] == 5, done.get("log", "")[-2000:]
    wait_for(lambda: "Release v5 failed to start" in events(), timeout=150,
             what="the release's failure in the app's log")
    assert "did not accept connections on port 5000 ($PORT) within 60 s" in events(), events()
    assert "its output ends: worker up" in events(), events()
    # The old release serves on; the failed instance is stopped.
    status, body = routed(cloud, app)
    assert status == 200 and body.startswith("hello from nubo"), body
    wait_for(lambda: [i["release"] for i in instances(rest, app)] == [4], timeout=120,
             what="only v4's instance left")
    # v6: a Procfile command that does not exist; the reason quotes the shell's complaint.
    rest.patch(f"/apps/{app}/health-checks", json={"web": {"type": "port", "timeout": 10}})
    missing = dict(PYTHON_APP, Procfile="web: nubo-no-such-command --port $PORT\n")
    done = build(rest, app, git_repo(cloud.work / f"{app}-missing", missing))
    assert done["status"] == "succeeded" and done["release"] == 6, done.get("log", "")[-2000:]
    wait_for(lambda: "Release v6 failed to start" in events(), timeout=120,
             what="v6's failure in the app's log")
    failure = [line for line in events().splitlines() if "Release v6 failed" in line][0]
    assert "within 10 s" in failure and "nubo-no-such-command: not found" in failure, failure
    assert routed(cloud, app)[1].startswith("hello from nubo")
    assert rest.delete(f"/apps/{app}").status_code == 204


def test_a_build_that_fills_its_disk_fails_with_the_reason_and_other_apps_serve(cloud, user):
    rest = user
    site = uniq("site").lower()
    assert rest.post("/apps", json={"name": site}).status_code == 201
    done = build(rest, site, git_repo(cloud.work / site, {"index.html": "still here\n"}))
    assert done["status"] == "succeeded", done.get("log", "")[-2000:]
    wait_for(lambda: instances(rest, site, "up", "web"), timeout=180, what="the site up")
    # A build writing 4000 MB into /tmp: its root filesystem holds 2048 MB of its writes.
    hog = uniq("hog").lower()
    url = git_repo(cloud.work / hog,
                   {"bin/build": "#!/bin/sh\ndd if=/dev/zero of=/tmp/fill bs=1M count=4000\n"})
    assert rest.post("/apps", json={"name": hog}).status_code == 201
    done = build(rest, hog, url)
    assert done["status"] == "failed", done.get("log", "")[-2000:]
    assert "No space left on device" in done["log"], done["log"][-2000:]
    assert "No space left on device" in done["reason"], done["reason"]
    assert "2048 MB besides /app" in done["reason"], done["reason"]
    status, body = routed(cloud, site)
    assert status == 200 and "still here" in body, body
    for app in (site, hog):
        assert rest.delete(f"/apps/{app}").status_code == 204
