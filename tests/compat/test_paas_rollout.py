"""Deployments on real containers, under a steady load through the router: a rolling
deploy of 4 instances gives no failed request and never has more than `max_in_flight`
new instances starting; a release whose web process never listens is rolled back on its
own while the old release serves; a deployment is cancelled mid-rollout; a canary takes
its share until promoted; `recreate` stops the old first; a crash loop backs off; an
instance that fails its liveness check leaves the routes and is replaced; nubod killed
mid-rollout resumes it without losing or doubling an instance.

Needs what test_paas.py needs (root, runc, the Debian stack); its own cloud."""

from __future__ import annotations

import http.client
import os
import threading
import time

import pytest

from onehelpers import uniq, wait_for
from resthelpers import Rest, problem
from test_paas import DOMAIN, build, git_repo, instances, paas_cloud, routed

# A web app with no packages (no pip: fast builds) that says its greeting and host name;
# START_DELAY makes it slow to listen, NEVER_LISTEN keeps it from listening, GET /sicken
# makes its /health answer 503 from then on.
APP = {
    "requirements.txt": "",
    "Procfile": "web: python3 app.py\n",
    "app.py": '''\
import os, socket, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

time.sleep(float(os.environ.get("START_DELAY", "0")))
while os.environ.get("NEVER_LISTEN"):
    time.sleep(1)
SICK = "/tmp/sick"

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/sicken":
            open(SICK, "w").close()
        sick = self.path == "/health" and os.path.exists(SICK)
        body = "{} {}".format(os.environ.get("GREETING", "v-one"), socket.gethostname()).encode()
        self.send_response(503 if sick else 200)
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
    with paas_cloud() as d:
        yield d


@pytest.fixture
def user(cloud):
    name, password = uniq("dev"), uniq("pw")
    cloud.admin().user.allocate(name, password, "core")
    return Rest(cloud.api, name, password)


class Load:
    """A bounded loop of requests through the router (two clients) while it runs: every
    status and body, and the app's instances as the API showed them meanwhile."""

    def __init__(self, cloud, rest: Rest, app: str, limit: int = 20000):
        self.cloud, self.rest, self.app, self.limit = cloud, rest, app, limit
        self.results: list[tuple[int, str]] = []
        self.snapshots: list[list] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def _client(self):
        while not self.stop.is_set() and len(self.results) < self.limit:
            conn = http.client.HTTPConnection("127.0.0.1", self.cloud.router_port, timeout=15)
            try:
                conn.request("GET", "/", headers={"Host": f"{self.app}.{DOMAIN}"})
                reply = conn.getresponse()
                result = (reply.status, reply.read().decode(errors="replace"))
            except OSError as e:
                result = (0, repr(e))
            finally:
                conn.close()
            with self.lock:
                self.results.append(result)

    def _watcher(self):
        while not self.stop.is_set():
            self.snapshots.append(instances(self.rest, self.app))
            time.sleep(0.2)

    def __enter__(self) -> "Load":
        self.threads = [threading.Thread(target=t, daemon=True)
                        for t in (self._client, self._client, self._watcher)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def failures(self) -> list:
        return [r for r in self.results if r[0] != 200]

    def bodies(self) -> set[str]:
        return {body.split()[0] for status, body in self.results if status == 200}


def deployment(rest: Rest, app: str) -> dict:
    return rest.get(f"/apps/{app}/deployments").json()[0]


def settled(rest: Rest, app: str, state: str = "DEPLOYED", timeout: float = 300) -> dict:
    """The app's last deployment once it is in `state`; on a time-out, what it was, the
    instances and the app's events say why."""
    last = {}

    def reached():
        last["deployment"] = deployment(rest, app)
        return last["deployment"]["state"] == state and last["deployment"]

    try:
        return wait_for(reached, timeout=timeout, interval=0.5, what=f"the deployment {state}")
    except BaseException:
        events = rest.get(f"/apps/{app}/logs", params={"source": "nubo"}).text[-4000:]
        pytest.fail(f"the deployment was not {state} within {timeout} s: last seen "
                    f"{last.get('deployment')}\ninstances: {instances(rest, app)}\n"
                    f"events:\n{events}", pytrace=False)


def serving(rest: Rest, app: str, release: int, count: int) -> list:
    return [i for i in instances(rest, app, "up", "web") if i["release"] == release][:count]


def new_app(cloud, rest: Rest, web: int, files: dict = APP) -> str:
    """An app built from `files`, scaled to `web` instances, all up."""
    app = uniq("roll").lower()
    assert rest.post("/apps", json={"name": app}).status_code == 201
    done = build(rest, app, git_repo(cloud.work / app, files))
    assert done["status"] == "succeeded", done.get("log", "")[-2000:]
    assert rest.patch(f"/apps/{app}/formation", json={"web": web}).status_code == 200
    wait_for(lambda: len(instances(rest, app, "up", "web")) == web, timeout=300,
             what=f"{web} web instances up")
    settled(rest, app)
    return app


def test_a_rolling_deploy_of_four_instances_fails_no_request(cloud, user):
    rest = user
    app = new_app(cloud, rest, 4)
    assert rest.get(f"/apps/{app}/rollout").json() == {
        "strategy": "rolling", "max_in_flight": 1, "canary_percent": 10}
    with Load(cloud, rest, app) as load:
        time.sleep(1)
        assert rest.patch(f"/apps/{app}/config-vars",
                          json={"GREETING": "v-two"}).status_code == 200
        d = deployment(rest, app)
        assert (d["release"], d["from_release"], d["state"]) == (3, 2, "DEPLOYING"), d
        assert d["rollout"]["strategy"] == "rolling"
        done = settled(rest, app)
        time.sleep(1)
    assert done["id"] == d["id"] and done.get("reason") is None, done
    assert load.failures() == [], load.failures()[:5]
    assert len(load.results) > 50, len(load.results)
    assert load.bodies() == {"v-one", "v-two"}, load.bodies()
    # One new instance in flight at a time: never two of v3 starting at once.
    for snapshot in load.snapshots:
        starting = [i for i in snapshot if i["release"] == 3 and i["state"] == "starting"]
        assert len(starting) <= 1, snapshot
    final = instances(rest, app)
    assert sorted((i["index"], i["release"], i["state"]) for i in final) == [
        (n, 3, "up") for n in range(1, 5)], final
    events = rest.get(f"/apps/{app}/logs", params={"source": "nubo"}).text
    assert f"Deployment {d['id']} of v3 done" in events, events
    # Two at a time: a redeploy with max_in_flight 2 replaces every instance.
    before = {i["vm_id"] for i in final}
    reply = rest.post(f"/apps/{app}/deployments", json={"max_in_flight": 2})
    assert reply.status_code == 201, reply.text
    redeploy = reply.json()
    assert (redeploy["release"], redeploy["from_release"], redeploy["cause"]) == (3, 3, "Redeploy")
    assert redeploy["rollout"]["max_in_flight"] == 2
    assert rest.get(f"/apps/{app}/rollout").json()["max_in_flight"] == 1
    settled(rest, app)
    after = instances(rest, app)
    assert len(after) == 4 and not before & {i["vm_id"] for i in after}, after
    assert rest.delete(f"/apps/{app}").status_code == 204


def test_a_release_that_never_listens_is_rolled_back_while_the_old_one_serves(cloud, user):
    rest = user
    app = new_app(cloud, rest, 2)
    rest.patch(f"/apps/{app}/health-checks", json={"web": {"type": "port", "timeout": 8}})
    with Load(cloud, rest, app) as load:
        rest.patch(f"/apps/{app}/config-vars", json={"NEVER_LISTEN": "1", "GREETING": "bad"})
        failed = settled(rest, app, "FAILED", timeout=120)
        wait_for(lambda: sorted(i["release"] for i in instances(rest, app)) == [2, 2],
                 timeout=120, what="only v2's instances left")
    assert (failed["release"], failed["from_release"]) == (3, 2), failed
    assert "did not accept connections on port 5000 ($PORT) within 8 s" in failed["reason"], failed
    assert load.failures() == [] and load.bodies() == {"v-one"}, load.failures()[:5]
    shown = rest.get(f"/apps/{app}").json()
    assert shown["release"] == 2 and rest.get(f"/apps/{app}/config-vars").json() == {}, shown
    # The next change is v4, from v2's config.
    rest.patch(f"/apps/{app}/config-vars", json={"GREETING": "v-four"})
    d = settled(rest, app)
    assert (d["release"], d["from_release"]) == (4, 2), d
    assert routed(cloud, app)[1].startswith("v-four")
    assert rest.delete(f"/apps/{app}").status_code == 204


def test_command_checks_gate_a_rollout_and_replace_an_instance_that_fails_them(cloud, user):
    rest = user
    files = dict(APP, Procfile="web: python3 app.py\n"
                 "worker: sh -c 'touch /tmp/ready; sleep 6; rm /tmp/ready; exec sleep 100000'\n")
    app = new_app(cloud, rest, 2, files)
    events = lambda: rest.get(f"/apps/{app}/logs", params={"source": "nubo"}).text
    # A web check command that v2's instances pass and v3's never do (it reads the
    # instance's environment): v3 fails and is rolled back, v2 serves throughout.
    command = 'test "$GREETING" != bad || { echo not ready; exit 7; }'
    never = {"web": {"type": "command", "command": command, "timeout": 8}}
    reply = rest.patch(f"/apps/{app}/health-checks", json=never)
    assert reply.status_code == 200 and reply.json()["web"]["command"] == command
    with Load(cloud, rest, app) as load:
        rest.patch(f"/apps/{app}/config-vars", json={"GREETING": "bad"})
        failed = settled(rest, app, "FAILED", timeout=120)
        wait_for(lambda: sorted(i["release"] for i in instances(rest, app)) == [2, 2],
                 timeout=120, what="only v2's instances left")
    assert (failed["release"], failed["from_release"]) == (3, 2), failed
    assert f"did not pass its check command ({command}) within 8 s" in failed["reason"], failed
    assert "(last: the command exited 7: not ready)" in failed["reason"], failed
    assert load.failures() == [] and load.bodies() == {"v-one"}, load.failures()[:5]
    # One that passes in the instance's environment ($PORT and a config var): v4 serves.
    passing = {"web": {"type": "command", "timeout": 30,
                       "command": 'test "$PORT" = 5000 && test "$GREETING" != bad'}}
    assert rest.patch(f"/apps/{app}/health-checks", json=passing).status_code == 200
    rest.patch(f"/apps/{app}/config-vars", json={"GREETING": "v-four"})
    d = settled(rest, app, timeout=120)
    assert (d["release"], d["from_release"]) == (4, 2), d
    assert routed(cloud, app)[1].startswith("v-four")
    # A worker whose check passes, then fails twice in a row, is replaced.
    worker = {"worker": {"type": "command", "command": "test -f /tmp/ready", "timeout": 30,
                         "interval": 1, "failures": 2}}
    assert rest.patch(f"/apps/{app}/health-checks", json=worker).status_code == 200
    rest.patch(f"/apps/{app}/formation", json={"worker": 1})
    wait_for(lambda: instances(rest, app, "up", "worker"), timeout=120, what="the worker up")
    [first] = instances(rest, app, "up", "worker")
    wait_for(lambda: "worker.1 failed its health check 2 times in a row (last: the command "
             "exited 1): replacing it" in events(), timeout=60, what="the worker replaced")
    wait_for(lambda: any(i["vm_id"] != first["vm_id"]
                         for i in instances(rest, app, "up", "worker")),
             timeout=120, what="a new worker up in its place")
    assert "worker.1 failed its health check (the command exited 1)" in events()
    assert rest.delete(f"/apps/{app}").status_code == 204


def test_a_deployment_is_cancelled_mid_rollout_and_the_old_release_gets_every_instance(cloud,
                                                                                       user):
    rest = user
    app = new_app(cloud, rest, 3)
    with Load(cloud, rest, app) as load:
        rest.patch(f"/apps/{app}/config-vars", json={"GREETING": "v-new", "START_DELAY": "3"})
        d = deployment(rest, app)
        wait_for(lambda: serving(rest, app, 3, 1), timeout=120, what="the first new instance up")
        reply = rest.post(f"/apps/{app}/deployments/{d['id']}/cancel")
        assert reply.status_code == 202 and reply.json()["state"] == "CANCELING", reply.text
        problem(rest.post(f"/apps/{app}/deployments/{d['id']}/cancel"), 409)
        done = settled(rest, app, "CANCELED", timeout=180)
        wait_for(lambda: sorted((i["index"], i["release"]) for i in instances(rest, app))
                 == [(1, 2), (2, 2), (3, 2)], timeout=120, what="v2 on every index again")
    assert done["reason"].startswith("cancelled by"), done
    assert load.failures() == [], load.failures()[:5]
    assert rest.get(f"/apps/{app}").json()["release"] == 2
    # Nothing under way: nothing to cancel or promote; bad actions and ids are refused.
    problem(rest.post(f"/apps/{app}/deployments/{d['id']}/cancel"), 409)
    problem(rest.post(f"/apps/{app}/deployments/{d['id']}/promote"), 409)
    problem(rest.post(f"/apps/{app}/deployments/{d['id']}/explode"), 404)
    problem(rest.post(f"/apps/{app}/deployments/999999/cancel"), 404)
    assert rest.delete(f"/apps/{app}").status_code == 204


def test_a_canary_takes_its_share_until_promoted_and_recreate_stops_the_old_first(cloud, user):
    rest = user
    app = new_app(cloud, rest, 3)
    reply = rest.patch(f"/apps/{app}/rollout", json={"strategy": "canary", "canary_percent": 25})
    assert reply.json() == {"strategy": "canary", "max_in_flight": 1, "canary_percent": 25}
    problem(rest.patch(f"/apps/{app}/rollout", json={"canary_percent": 100}), 422)
    problem(rest.patch(f"/apps/{app}/rollout", json={"max_in_flight": 0}), 422)
    problem(rest.patch(f"/apps/{app}/rollout", json={"strategy": "yolo"}), 400)
    rest.patch(f"/apps/{app}/config-vars", json={"GREETING": "v-canary"})
    d = deployment(rest, app)
    wait_for(lambda: serving(rest, app, 3, 1), timeout=120, what="the canary up")
    time.sleep(1)
    bodies = [routed(cloud, app)[1].split()[0] for _ in range(200)]
    share = bodies.count("v-canary") / len(bodies)
    assert 0.15 <= share <= 0.35, share
    # Waiting: three old instances and the canary, the deployment still DEPLOYING.
    assert sorted(i["release"] for i in instances(rest, app)) == [2, 2, 2, 3]
    assert deployment(rest, app)["state"] == "DEPLOYING"
    reply = rest.post(f"/apps/{app}/deployments/{d['id']}/promote")
    assert reply.status_code == 202 and reply.json()["promoted"] is True, reply.text
    settled(rest, app)
    assert {routed(cloud, app)[1].split()[0] for _ in range(10)} == {"v-canary"}
    # recreate: every old instance stops before a new one starts.
    rest.patch(f"/apps/{app}/rollout", json={"strategy": "recreate"})
    with Load(cloud, rest, app) as load:
        rest.patch(f"/apps/{app}/config-vars", json={"GREETING": "v-recreated"})
        settled(rest, app)
    for snapshot in load.snapshots:
        releases = {i["release"] for i in snapshot if i["state"] in ("starting", "up")}
        assert len(releases) <= 1, snapshot
    assert load.bodies() <= {"v-canary", "v-recreated"} and load.failures(), \
        "recreate has a gap in service"
    assert rest.delete(f"/apps/{app}").status_code == 204


def test_a_crash_loop_backs_off_and_a_sick_instance_leaves_the_routes_and_is_replaced(cloud,
                                                                                      user):
    rest = user
    crashing = dict(APP, Procfile="web: python3 app.py\nworker: sh -c 'echo crashing; exit 3'\n")
    app = new_app(cloud, rest, 2, crashing)
    events = lambda: rest.get(f"/apps/{app}/logs", params={"source": "nubo"}).text
    rest.patch(f"/apps/{app}/formation", json={"worker": 1})
    wait_for(lambda: "worker.1 exited (crash 4 in a row): starting it again in 30 s" in events(),
             timeout=120, what="the fourth crash waiting 30 s")
    text = events()
    for n in (1, 2, 3):
        assert f"worker.1 exited (crash {n} in a row): starting it again now" in text, text
    assert "its output ends: crashing" in text, text
    noticed = time.monotonic()
    # Not started again before its 30 s are up.
    time.sleep(20)
    assert "(crash 5 in a row)" not in events()
    wait_for(lambda: "worker.1 exited (crash 5 in a row): starting it again in 60 s" in events(),
             timeout=60, what="the fifth crash waiting 60 s")
    assert time.monotonic() - noticed >= 25
    rest.patch(f"/apps/{app}/formation", json={"worker": 0})

    # Liveness: web.1's /health answers 503 from now on; it leaves the routes at its first
    # failed check and is replaced after three.
    checks = {"web": {"type": "http", "path": "/health", "timeout": 30, "interval": 1,
                      "failures": 3}}
    assert rest.patch(f"/apps/{app}/health-checks", json=checks).status_code == 200
    up = instances(rest, app, "up", "web")
    sick = up[0]
    conn = http.client.HTTPConnection(sick["ip"], 5000, timeout=5)
    conn.request("GET", "/sicken")
    assert conn.getresponse().status == 200
    conn.close()
    wait_for(lambda: f"web.{sick['index']} failed its health check" in events(), timeout=30,
             what="the failed check in the app's log")
    with Load(cloud, rest, app) as load:
        wait_for(lambda: f"web.{sick['index']} failed its health check 3 times in a row" in
                 events(), timeout=30, what="the instance replaced")
        wait_for(lambda: len(instances(rest, app, "up", "web")) == 2 and sick["vm_id"] not in
                 {i["vm_id"] for i in instances(rest, app)}, timeout=120,
                 what="a new instance in its place")
    assert load.failures() == [], load.failures()[:5]
    assert rest.delete(f"/apps/{app}").status_code == 204


def test_nubod_killed_mid_rollout_resumes_without_a_lost_or_doubled_instance(cloud, user):
    rest = user
    app = new_app(cloud, rest, 4)
    rest.patch(f"/apps/{app}/config-vars", json={"GREETING": "v-after", "START_DELAY": "2"})
    wait_for(lambda: serving(rest, app, 3, 1), timeout=120, what="the first new instance up")
    cloud.kill()
    cloud.restart()
    rest = Rest(cloud.api, *rest.session.auth)
    done = settled(rest, app, timeout=300)
    assert done["release"] == 3, done
    wait_for(lambda: sorted((i["type"], i["index"], i["release"]) for i in instances(rest, app))
             == [("web", n, 3) for n in range(1, 5)], timeout=120,
             what="exactly four instances, of the new release")
    assert {routed(cloud, app)[1].split()[0] for _ in range(8)} == {"v-after"}
    # The host's agent restarting with nubod is not a lost host: no instance was replaced
    # (and deleted without its host, leaving its container running with its address).
    events = rest.get(f"/apps/{app}/logs", params={"source": "nubo"}).text
    assert "stopped answering" not in events, events
    assert rest.delete(f"/apps/{app}").status_code == 204
    wait_for(lambda: not processes_of(app), timeout=60, what="no process of the app left")


def processes_of(app: str) -> list[int]:
    """The processes on this machine that run as an instance of `app` (by environment)."""
    mark = f"NUBO_APP={app}\0".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if mark in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_autoscaling_adds_instances_under_load_within_its_bounds(cloud, user):
    rest = user
    app = new_app(cloud, rest, 1)
    url = f"/apps/{app}/autoscaling"
    assert rest.get(url).json() == {}
    for bad in [{"web": {"min": 3, "max": 2, "metric": "requests", "target": 5}},
                {"web": {"min": 0, "max": 101, "metric": "cpu", "target": 50}},
                {"web": {"min": 1, "max": 2, "metric": "cpu", "target": 0}},
                {"worker": {"min": 1, "max": 2, "metric": "requests", "target": 5}}]:
        problem(rest.patch(url, json=bad), 422)
    for malformed in [{"web": {"min": 1, "max": 2, "metric": "bytes", "target": 5}},
                      {"web": {"min": 1, "max": 2, "metric": "cpu"}},
                      {"web": {"min": -1, "max": 2, "metric": "cpu", "target": 5}}]:
        problem(rest.patch(url, json=malformed), 400)
    policy = {"min": 1, "max": 3, "metric": "requests", "target": 2}
    assert rest.patch(url, json={"web": policy}).json() == {"web": policy}
    with Load(cloud, rest, app) as load:
        wait_for(lambda: rest.get(f"/apps/{app}/formation").json()["web"] == 3, timeout=150,
                 what="autoscaled to its max, 3")
        wait_for(lambda: len(instances(rest, app, "up", "web")) == 3, timeout=120,
                 what="three web instances up")
    assert load.failures() == [], load.failures()[:5]
    events = rest.get(f"/apps/{app}/logs", params={"source": "nubo"}).text
    assert "Autoscaled web from 1 to 3 (" in events and "for 2 requests/s per instance" in events
    # Never above max, however high the load was.
    assert rest.get(f"/apps/{app}/formation").json()["web"] == 3
    # Without its policy the type keeps its instances.
    assert rest.patch(url, json={"web": None}).json() == {}
    assert rest.get(f"/apps/{app}/formation").json()["web"] == 3
    assert rest.delete(f"/apps/{app}").status_code == 204
