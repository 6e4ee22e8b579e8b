"""CAMP operations and sensors on real containers (docs/camp.md): an app built from the fast
Python app of test_paas_rollout.py (no packages) is found as an assembly; its web
component is scaled, restarted, stopped and started through its operations, the assembly
is redeployed, rolled back (to the previous release and to a given one), its deployment
under way cancelled, scaled, stopped and started; each time the REST API shows the change
(formation, instances, deployments, releases) and the router serves what it should. The
sensors read the instances and the router's requests. Another user is refused (404) by
every operation of the running app and nothing changes.

Needs what test_paas.py needs (root, runc, the Debian stack); its own cloud. Run with
`flock /tmp/nubo-local-host.lock env NUBOD_BIN=target/debug/nubod NUBO_REQUIRE_GUESTS=1
.venv/bin/pytest -q tests/compat/test_paas_camp_operations.py`."""

from __future__ import annotations

import pytest

from onehelpers import uniq, wait_for
from test_camp import Camp, error, ok
from test_camp_operations import (ASSEMBLY_OPERATIONS, COMPONENT_OPERATIONS, check_operations,
                                  check_sensors)
from test_paas import instances, paas_cloud, routed
from test_paas_rollout import deployment, new_app, settled, user  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def cloud():
    # Monitored every 2 s, so that the CPU and memory sensors have figures soon.
    with paas_cloud("[runtime]\nmonitor_interval_s = 2\n") as d:
        yield d


def assembly_of(camp: Camp, app: str) -> dict:
    [link] = [l for l in ok(camp.get("assemblies"))["assembly_links"] if l["target_name"] == app]
    return ok(camp.get(link["href"]))


def vm_ids(rest, app: str) -> set[int]:
    return {i["vm_id"] for i in instances(rest, app)}


def sensor(camp: Camp, target: dict, name: str):
    return ok(camp.get(f"{target['sensors_uri']}/{name}"))["value"]


def test_a_component_is_scaled_restarted_stopped_and_started_through_its_operations(cloud, user):
    rest = user
    camp = Camp(cloud, *rest.session.auth)
    app = new_app(cloud, rest, 1)
    a = assembly_of(camp, app)
    [link] = a["components"]
    assert link["target_name"] == "web"
    web = ok(camp.get(link["href"]))
    assert web["operations_uri"] == web["uri"] + "/operations"
    ops = check_operations(camp, web, COMPONENT_OPERATIONS)
    uri = {name: op["uri"] for name, op in ops.items()}

    # scale
    reply = camp.post(uri["scale"], json={"quantity": 2})
    done = ok(reply, 202)
    assert reply.headers["location"] == web["uri"] and done["quantities"] == {"web": 2}, done
    assert rest.get(f"/apps/{app}/formation").json()["web"] == 2
    wait_for(lambda: len(instances(rest, app, "up", "web")) == 2, timeout=120,
             what="two web instances up")
    settled(rest, app)
    sensors = check_sensors(camp, web)
    assert sensors["instances_desired"]["value"] == 2, sensors
    assert isinstance(sensors["cpu"]["value"], (int, float)), sensors
    assert isinstance(sensors["memory"]["value"], int), sensors
    wait_for(lambda: sensor(camp, web, "instances_up") == 2, timeout=30, what="instances_up 2")
    # The router's requests reach the assembly's and the web component's sensors.
    for _ in range(10):
        assert routed(cloud, app)[0] == 200
    wait_for(lambda: (sensor(camp, a, "request_rate") or 0) > 0, timeout=30,
             what="a request rate")
    assert (sensor(camp, web, "request_rate") or 0) > 0
    assert sensor(camp, a, "error_rate") == 0
    assert sensor(camp, a, "latency_p50") is not None
    assert sensor(camp, a, "latency_p99") >= sensor(camp, a, "latency_p50")
    assert check_sensors(camp, a)["instances_up"]["value"] == 2
    # CPU and memory come with the VMs' monitoring samples; the REST API shows the same.
    wait_for(lambda: sensor(camp, web, "memory") > 0, timeout=60, what="the memory sensor")
    assert sensor(camp, a, "memory") > 0 and sensor(camp, a, "cpu") >= 0
    figures = rest.get(f"/apps/{app}/metrics").json()
    assert figures["desired"] == sensor(camp, a, "instances_desired") == 2, figures

    # restart: every instance replaced, as a deployment
    before = vm_ids(rest, app)
    reply = camp.post(uri["restart"])
    d = ok(reply, 202)["deployment"]
    assert d["cause"] == "Restart of web" and d["release"] == d["from_release"], d
    assert reply.headers["location"] == d["rest_uri"]
    assert d["rest_uri"].endswith(f"/api/v1/apps/{app}/deployments/{d['id']}")
    assert rest.get(f"/apps/{app}/deployments/{d['id']}").status_code == 200
    assert settled(rest, app)["id"] == d["id"]
    wait_for(lambda: len(instances(rest, app, "up", "web")) == 2 and not vm_ids(rest, app) & before,
             timeout=120, what="both instances replaced")

    # stop: the instances go, the quantity stays; start brings them back
    ok(camp.post(uri["stop"]), 202)
    wait_for(lambda: not instances(rest, app), timeout=120, what="no instance left")
    assert rest.get(f"/apps/{app}/formation").json()["web"] == 2
    wait_for(lambda: ok(camp.get(web["uri"]))["status"] == "STOPPED", timeout=30,
             what="the component STOPPED")
    assert sensor(camp, web, "instances_desired") == 0
    ok(camp.post(uri["start"], json={}), 202)
    wait_for(lambda: len(instances(rest, app, "up", "web")) == 2, timeout=120,
             what="two web instances up again")
    wait_for(lambda: ok(camp.get(web["uri"]))["status"] == "RUNNING", timeout=30,
             what="the component RUNNING")

    # refusals
    error(camp.post(uri["scale"], json={"quantity": -1}), 400)
    error(camp.post(uri["scale"], json={"quantities": {"web": 1}}), 400)
    error(camp.post(uri["scale"], json={"quantity": 100000}), 422)
    error(camp.post(f"{web['operations_uri']}/redeploy"), 404)
    error(camp.post(f"{web['operations_uri']}/rollback"), 404)

    # Another user: every operation of the running app is 404 and nothing changes.
    bob_name, bob_password = uniq("bob"), uniq("pw")
    cloud.admin().user.allocate(bob_name, bob_password, "core")
    bob = Camp(cloud, bob_name, bob_password)
    seen = lambda: (vm_ids(rest, app), rest.get(f"/apps/{app}").json(),
                    rest.get(f"/apps/{app}/deployments").json())
    before = seen()
    for op, body in [("start", None), ("stop", None), ("restart", None),
                     ("scale", {"quantity": 0})]:
        error(bob.post(uri[op], json=body), 404)
    for op, body in [("stop", None), ("restart", None), ("scale", {"quantities": {"web": 0}}),
                     ("redeploy", {}), ("rollback", {}), ("cancel", {})]:
        error(bob.post(f"{a['operations_uri']}/{op}", json=body), 404)
    for path in (a["sensors_uri"], web["sensors_uri"], f"{web['sensors_uri']}/cpu",
                 a["operations_uri"], web["operations_uri"]):
        error(bob.get(path), 404)
    assert seen() == before
    assert rest.delete(f"/apps/{app}").status_code == 204


def test_an_assembly_is_redeployed_rolled_back_cancelled_scaled_stopped_and_started(cloud, user):
    rest = user
    camp = Camp(cloud, *rest.session.auth)
    app = new_app(cloud, rest, 2)
    a = assembly_of(camp, app)
    ops = check_operations(camp, a, ASSEMBLY_OPERATIONS)
    uri = {name: op["uri"] for name, op in ops.items()}

    # redeploy, two at a time
    before = vm_ids(rest, app)
    reply = camp.post(uri["redeploy"], json={"max_in_flight": 2})
    d = ok(reply, 202)["deployment"]
    assert (d["cause"], d["release"], d["from_release"]) == ("Redeploy", 2, 2), d
    assert reply.headers["location"] == d["rest_uri"]
    assert rest.get(f"/apps/{app}/deployments").json()[0]["rollout"]["max_in_flight"] == 2
    assert settled(rest, app)["id"] == d["id"]
    wait_for(lambda: len(instances(rest, app, "up", "web")) == 2 and not vm_ids(rest, app) & before,
             timeout=120, what="both instances replaced")
    error(camp.post(uri["redeploy"], json={"max_in_flight": 0}), 422)
    error(camp.post(uri["redeploy"], json={"strategy": "yolo"}), 400)

    # rollback to the previous release, then to a given one
    assert rest.patch(f"/apps/{app}/config-vars", json={"GREETING": "v-two"}).status_code == 200
    settled(rest, app)
    assert routed(cloud, app)[1].startswith("v-two")
    done = ok(camp.post(uri["rollback"]), 202)
    assert done["release"] == 4 and done["deployment"]["release"] == 4, done
    assert settled(rest, app)["release"] == 4
    shown = rest.get(f"/apps/{app}").json()
    assert shown["release"] == 4, shown
    assert rest.get(f"/apps/{app}/releases").json()[0]["description"] == "Rollback to v2"
    wait_for(lambda: {routed(cloud, app)[1].split()[0] for _ in range(4)} == {"v-one"},
             timeout=60, what="v2's code and config serving")
    done = ok(camp.post(uri["rollback"], json={"release": 3}), 202)
    assert done["release"] == 5, done
    settled(rest, app)
    wait_for(lambda: {routed(cloud, app)[1].split()[0] for _ in range(4)} == {"v-two"},
             timeout=60, what="v3's config serving")
    error(camp.post(uri["rollback"], json={"release": 5}), 409)
    error(camp.post(uri["rollback"], json={"release": 1}), 409)
    error(camp.post(uri["rollback"], json={"release": 99}), 422)

    # cancel the deployment under way: v5 gets its instances back
    assert rest.patch(f"/apps/{app}/config-vars",
                      json={"GREETING": "v-new", "START_DELAY": "3"}).status_code == 200
    under_way = deployment(rest, app)
    assert under_way["state"] == "DEPLOYING" and under_way["release"] == 6, under_way
    reply = camp.post(uri["cancel"])
    d = ok(reply, 202)["deployment"]
    assert d["id"] == under_way["id"] and d["state"] == "CANCELING", d
    assert reply.headers["location"] == d["rest_uri"]
    done = settled(rest, app, "CANCELED", timeout=180)
    assert done["reason"].startswith("cancelled by"), done
    assert rest.get(f"/apps/{app}").json()["release"] == 5
    wait_for(lambda: sorted((i["index"], i["release"], i["state"]) for i in instances(rest, app))
             == [(1, 5, "up"), (2, 5, "up")], timeout=120, what="v5 on both indexes")
    assert "under way" in error(camp.post(uri["cancel"]), 409)["detail"]
    error(camp.post(uri["cancel"], json={"deployment": under_way["id"]}), 409)

    # scale, stop and start the whole assembly
    done = ok(camp.post(uri["scale"], json={"quantities": {"web": 1}}), 202)
    assert done["quantities"] == {"web": 1}, done
    wait_for(lambda: len(instances(rest, app)) == 1, timeout=120, what="one instance left")
    assert check_sensors(camp, a)["instances_desired"]["value"] == 1
    error(camp.post(uri["scale"], json={"quantities": {"worker": 1}}), 422)
    ok(camp.post(uri["stop"]), 202)
    wait_for(lambda: not instances(rest, app), timeout=120, what="no instance left")
    wait_for(lambda: routed(cloud, app)[0] == 503, timeout=30, what="nothing served")
    ok(camp.post(uri["start"]), 202)
    wait_for(lambda: len(instances(rest, app, "up", "web")) == 1, timeout=120,
             what="the instance back")
    wait_for(lambda: routed(cloud, app)[0] == 200, timeout=30, what="the app served again")
    assert rest.delete(f"/apps/{app}").status_code == 204
