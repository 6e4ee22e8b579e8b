"""Monitoring of apps on real containers: requests through the router (some answered 404
and 500 by the app) show in `GET /apps/{app}/metrics` as a request rate, the 5xx share
sent and p50 ≤ p99; instances desired and up are the formation's and what runs, each
instance has its CPU and memory from the VM monitoring; `…/metrics/history` has the
minute's points; `GET /apps/{app}/events` lists the build, the deployment and the scaling
with their types; `nubo app metrics`, `events` and `ps` show the same; a crash counts as
a restart of its instance and is a `crash` event.

Needs what test_paas.py needs (root, runc, the Debian stack); its own cloud, monitored
every 2 s."""

from __future__ import annotations

import http.client

import pytest

from onehelpers import uniq, wait_for
from resthelpers import Rest
from test_cli_app import NuboApp, nubo_binary, table
from test_paas import DOMAIN, instances, paas_cloud
from test_paas_rollout import new_app

# A web app with no packages: 500 on /boom, 404 on /missing, its process ends on /crash,
# 200 otherwise.
APP = {
    "requirements.txt": "",
    "Procfile": "web: python3 app.py\n",
    "app.py": '''\
import os
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/crash":
            os._exit(3)
        status = {"/boom": 500, "/missing": 404}.get(self.path, 200)
        body = b"ok" if status == 200 else b"no"
        self.send_response(status)
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
    with paas_cloud("[runtime]\nmonitor_interval_s = 2\n") as d:
        yield d


@pytest.fixture
def user(cloud):
    name, password = uniq("dev"), uniq("pw")
    cloud.admin().user.allocate(name, password, "core")
    rest = Rest(cloud.api, name, password)
    rest.name, rest.password = name, password
    return rest


def send(cloud, app: str, paths: list[str]) -> dict[int, int]:
    """GETs `paths` through the router on one connection; how many got each status."""
    got: dict[int, int] = {}
    conn = http.client.HTTPConnection("127.0.0.1", cloud.router_port, timeout=15)
    try:
        for path in paths:
            conn.request("GET", path, headers={"Host": f"{app}.{DOMAIN}"})
            reply = conn.getresponse()
            reply.read()
            got[reply.status] = got.get(reply.status, 0) + 1
            if reply.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", cloud.router_port, timeout=15)
    finally:
        conn.close()
    return got


def test_an_apps_requests_usage_history_and_events_are_shown(cloud, user):
    rest = user
    app = new_app(cloud, rest, 1, APP)
    assert rest.patch(f"/apps/{app}/formation", json={"web": 2}).status_code == 200
    wait_for(lambda: len(instances(rest, app, "up", "web")) == 2, timeout=300,
             what="2 web instances up")

    got = send(cloud, app, ["/"] * 240 + ["/boom"] * 30 + ["/missing"] * 30)
    assert got == {200: 240, 500: 30, 404: 30}, got

    m = rest.get(f"/apps/{app}/metrics").json()
    assert m["app"] == app
    r = m["requests"]
    assert r["requests"] == 300, r
    assert r["errors_5xx"] == 30, r
    assert r["error_share"] == pytest.approx(0.1, abs=0.001), r
    assert r["requests_per_second"] > 0 and r["errors_per_second"] > 0, r
    assert 0 < r["latency_p50_ms"] <= r["latency_p99_ms"], r
    [web] = m["process_types"]
    assert (web["process_type"], web["desired"], web["up"]) == ("web", 2, 2), web
    assert web["requests"]["requests"] == 300
    assert (m["desired"], m["up"], m["restarts"]) == (2, 2, 0), m
    assert sorted((i["process_type"], i["index"], i["state"]) for i in m["instances"]) == [
        ("web", 1, "up"), ("web", 2, "up")]

    # CPU and memory come with the VMs' monitoring samples (every 2 s here).
    def sampled():
        m = rest.get(f"/apps/{app}/metrics").json()
        ok = all(i.get("cpu_percent") is not None and i.get("memory_bytes", 0) > 0
                 for i in m["instances"])
        return ok and m
    m = wait_for(sampled, timeout=60, what="CPU and memory of every instance")
    assert m["memory_bytes"] == sum(i["memory_bytes"] for i in m["instances"])
    assert m["process_types"][0]["memory_bytes"] == m["memory_bytes"]

    # History: the minute(s) of the load, with the instances' usage sampled in.
    def history():
        points = rest.get(f"/apps/{app}/metrics/history", params={"minutes": 10}).json()
        typed = [p for p in points if p["process_types"]
                 and p["process_types"][0]["up"] == 2 and p["memory_bytes"] > 0]
        return typed and points
    points = wait_for(history, timeout=60, what="history points with usage")
    assert sum(p["requests"]["requests"] for p in points) == 300, points
    assert sum(p["requests"]["errors_5xx"] for p in points) == 30, points
    assert all(p["at"] % 60 == 0 and p["minutes"] == 1 for p in points), points
    assert [p["at"] for p in points] == sorted(p["at"] for p in points)
    coarse = rest.get(f"/apps/{app}/metrics/history",
                      params={"minutes": 60, "resolution": 60}).json()
    assert 1 <= len(coarse) <= 2 and sum(p["requests"]["requests"] for p in coarse) == 300
    for bad in ({"minutes": 1441}, {"minutes": 0}, {"resolution": 61}):
        reply = rest.get(f"/apps/{app}/metrics/history", params=bad)
        assert reply.status_code == 400, (bad, reply.text)
        assert reply.headers["Content-Type"].startswith("application/problem+json")

    # Events: the build, its deployment, the scaling — typed, oldest first.
    events = rest.get(f"/apps/{app}/events").json()
    kinds = [(e["type"], e["message"]) for e in events]
    assert any(k == "build" and "succeeded: release v2" in t for k, t in kinds), kinds
    assert any(k == "deploy" and t.startswith("Deployment ") and t.endswith(" done")
               for k, t in kinds), kinds
    assert ("scale", f"Scaled to web=2 by {rest.name}") in kinds, kinds
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    assert all(e["at"].endswith("Z") for e in events)
    last = rest.get(f"/apps/{app}/events", params={"limit": 1}).json()
    assert last == events[-1:], (last, events[-1:])
    assert rest.get(f"/apps/{app}/events",
                    params={"since": events[-1]["time"] + 3600}).json() == []
    assert rest.get(f"/apps/{app}/events", params={"limit": 1001}).status_code == 400

    # The CLI shows the same figures.
    cli = NuboApp(nubo_binary(cloud), cloud.api, rest.name, rest.password, cloud.work / app)
    rows = table(cli.ok("metrics", app))
    assert rows[0] == ["TYPE", "DESIRED", "UP", "CPU", "MEM", "REQ/S", "5XX", "P50", "P99",
                       "RESTARTS"], rows
    [web_row] = [row for row in rows if row[0] == "web"]
    assert web_row[1:3] == ["2", "2"] and web_row[6] == "10.0%", web_row
    assert cli.json("metrics", app)["app"] == app
    ps = table(cli.ok("ps", app))
    assert ps[0][6:9] == ["CPU", "MEM", "RESTARTS"], ps
    assert all(row[6].endswith("%") and row[8] == "0" for row in ps[1:]), ps
    ev = table(cli.ok("events", app))
    assert ev[0] == ["TIME", "TYPE", "MESSAGE"]
    assert ["scale", f"Scaled to web=2 by {rest.name}"] in [row[1:] for row in ev[1:]], ev
    assert cli.json("events", app) == rest.get(f"/apps/{app}/events").json()

    # A crash: the instance is started again, a restart and a `crash` event.
    assert send(cloud, app, ["/crash"]).keys() <= {502, 503}
    def restarted():
        m = rest.get(f"/apps/{app}/metrics").json()
        return m["restarts"] == 1 and m["up"] == 2 and m
    m = wait_for(restarted, timeout=120, what="the crashed instance started again")
    assert sorted(i["restarts"] for i in m["instances"]) == [0, 1], m["instances"]
    assert m["process_types"][0]["restarts"] == 1
    crashes = [e for e in rest.get(f"/apps/{app}/events").json() if e["type"] == "crash"]
    assert len(crashes) == 1 and "exited (crash 1 in a row)" in crashes[0]["message"], crashes
    ps = table(cli.ok("ps", app))
    assert sorted(row[8] for row in ps[1:]) == ["0", "1"], ps

    # Gone with the app.
    assert rest.delete(f"/apps/{app}").status_code in (200, 202, 204)
    assert rest.get(f"/apps/{app}/metrics").status_code == 404
