"""CAMP operations and sensors (docs/camp.md) with a real HTTP client (requests), on a plain
nubod (no container: the assemblies here have no build, so they have no components; the
container test is test_paas_camp_operations.py): an assembly's operations_uri and
sensors_uri, the operation and sensor resources with the attributes the CAMP type
definitions require, the parameter definitions, invocations the PaaS refuses and their CAMP
status codes, and the authorization rows: every new endpoint refuses anonymous callers
(401) and another user (404, as for the assembly itself) and changes nothing."""

from __future__ import annotations

import json
import re

import pytest

from onehelpers import uniq
from resthelpers import Rest
from test_camp import Camp, error, ok, plan_yaml, stack  # noqa: F401 - fixture

ASSEMBLY_OPERATIONS = {"start", "stop", "restart", "scale", "redeploy", "rollback", "cancel"}
COMPONENT_OPERATIONS = {"start", "stop", "restart", "scale"}
SENSORS = {"request_rate", "error_rate", "latency_p50", "latency_p99", "instances_desired",
           "instances_up", "cpu", "memory", "restarts"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def required_attributes(camp: Camp, type_name: str) -> set[str]:
    """The attributes the type definition (and what it inherits from) requires."""
    t = ok(camp.get(f"type_definitions/{type_name}"))
    names = {l["href"].rsplit("/", 1)[1] for l in t["attribute_definition_links"]
             if l.get("required")}
    for parent in t.get("inherits_from", []):
        names |= required_attributes(camp, parent["href"].rsplit("/", 1)[1])
    return names


def valid(camp: Camp, resource: dict, type_name: str) -> dict:
    """Asserts `resource` is a `type_name` with every required attribute; returns it."""
    assert resource["type"] == type_name, resource
    missing = required_attributes(camp, type_name) - set(resource)
    assert not missing, (type_name, missing, resource)
    return resource


def check_operations(camp: Camp, target: dict, expected: set[str]) -> dict[str, dict]:
    """The target's operations, each valid; by name."""
    listing = valid(camp, ok(camp.get(target["operations_uri"])), "operations")
    assert listing["uri"] == target["operations_uri"]
    assert listing["target_resource"] == target["uri"]
    assert {l["target_name"] for l in listing["operation_links"]} == expected
    found = {}
    for link in listing["operation_links"]:
        op = valid(camp, ok(camp.get(link["href"])), "operation")
        assert op["uri"] == link["href"] and op["name"] == link["target_name"]
        assert op["target_resource"] == target["uri"] and op["description"]
        assert op["rest_uri"].startswith(camp.root + "/api/v1/apps/")
        found[op["name"]] = op
    return found


def check_sensors(camp: Camp, target: dict) -> dict[str, dict]:
    """The target's sensors, each valid, with a value and a timestamp; by name."""
    listing = valid(camp, ok(camp.get(target["sensors_uri"])), "sensors")
    assert listing["target_resource"] == target["uri"]
    assert {l["target_name"] for l in listing["sensor_links"]} == SENSORS
    found = {}
    for link in listing["sensor_links"]:
        s = valid(camp, ok(camp.get(link["href"])), "sensor")
        assert s["uri"] == link["href"] and s["target_resource"] == target["uri"]
        assert s["sensor_type"].startswith("org.nubo:"), s
        assert "value" in s and TIMESTAMP.match(s["timestamp"]), s
        assert s["rest_uri"] == listing["rest_uri"] and s["rest_uri"].endswith("/metrics"), s
        assert s["rest_uri"] == listing["rest_uri"] and s["rest_uri"].endswith("/metrics"), s
        found[s["name"]] = s
    return found


@pytest.fixture
def owner(nubod, make_user, stack):
    u = make_user()
    return Camp(nubod, u.name, u.password)


def bare_assembly(camp: Camp) -> dict:
    """An assembly without artifacts: an app with nothing built."""
    return ok(camp.yaml("assemblies", plan_yaml(uniq("ops"))), 201)


def test_an_assembly_lists_its_operations_and_their_parameters(owner):
    camp = owner
    a = bare_assembly(camp)
    assert a["operations_uri"] == a["uri"] + "/operations"
    assert a["sensors_uri"] == a["uri"] + "/sensors"
    ops = check_operations(camp, a, ASSEMBLY_OPERATIONS)
    assert "parameter_definitions_uri" not in ops["restart"]
    expected = {"scale": {"quantities": True}, "redeploy": {"strategy": False, "max_in_flight": False,
                                                            "canary_percent": False},
                "rollback": {"release": False}, "cancel": {"deployment": False}}
    for name, params in expected.items():
        defs = valid(camp, ok(camp.get(ops[name]["parameter_definitions_uri"])),
                     "parameter_definitions")
        got = {l["target_name"]: l["required"] for l in defs["parameter_definition_links"]}
        assert got == params, (name, got)
        for link in defs["parameter_definition_links"]:
            d = valid(camp, ok(camp.get(link["href"])), "parameter_definition")
            assert d["name"] == link["target_name"] and d["parameter_type"], d
    assert ok(camp.get(ops["scale"]["uri"] + "?select_attr=name")) == {"name": "scale"}
    error(camp.get(a["operations_uri"] + "/explode"), 404)
    error(camp.get("parameter_definitions/operations/assembly/restart"), 404)
    error(camp.get("parameter_definitions/operations/plan/scale"), 404)
    error(camp.get(ops["scale"]["parameter_definitions_uri"] + "/nope"), 404)
    # Neither the collection nor an operation takes other methods.
    error(camp.post(a["operations_uri"], json={}), 405)
    error(camp.put(ops["stop"]["uri"], json={}), 405)
    error(camp.delete(ops["stop"]["uri"]), 405)
    assert camp.delete(a["uri"]).status_code == 204
    error(camp.get(a["operations_uri"]), 404)
    error(camp.post(ops["stop"]["uri"]), 404)


def test_invocations_and_their_status_codes(nubod, owner):
    camp = owner
    a = bare_assembly(camp)
    rest = Rest(nubod.api, *camp.session.auth)
    ops = {name: f"{a['operations_uri']}/{name}" for name in ASSEMBLY_OPERATIONS}
    # Scaling to zero a type the release does not declare is fine; above zero it is not.
    reply = camp.post(ops["scale"], json={"quantities": {"web": 0}})
    done = ok(reply, 202)
    assert reply.headers["location"] == a["uri"]
    assert done["name"] == "scale" and done["target_resource"] == a["uri"], done
    assert done["operation"] == ops["scale"] and done["quantities"] == {"web": 0}, done
    assert rest.get(f"/apps/{a['name']}/formation").json().get("web", 0) == 0
    assert "no process type web" in error(camp.post(ops["scale"], json={"quantities": {"web": 2}}),
                                          422)["detail"]
    # Stop and start (nothing runs yet: they are accepted and change nothing that runs).
    stopped = ok(camp.post(ops["stop"]), 202)
    assert "deployment" not in stopped, stopped
    ok(camp.post(ops["start"], data=b"", headers={"Content-Type": "application/json"}), 202)
    ok(camp.post(ops["restart"], json={}), 202)
    # The PaaS refuses what cannot be done: 409.
    assert "no build" in error(camp.post(ops["redeploy"]), 409)["detail"]
    error(camp.post(ops["rollback"]), 409)
    assert "under way" in error(camp.post(ops["cancel"]), 409)["detail"]
    # Releases and deployments a parameter names that do not exist: 422 (the operation does).
    error(camp.post(ops["rollback"], json={"release": 99}), 422)
    error(camp.post(ops["cancel"], json={"deployment": 999999}), 422)
    error(camp.post(ops["redeploy"], json={"max_in_flight": 0}), 409)
    # Malformed bodies: 400; other media types: 415; unknown operations: 404.
    for op, body in [("scale", {}), ("scale", {"quantities": {"web": -1}}),
                     ("scale", {"quantities": {}}), ("scale", {"quantities": [1]}),
                     ("scale", {"quantity": 1}), ("restart", {"force": True}),
                     ("redeploy", {"strategy": "yolo"}), ("redeploy", {"max_in_flight": "2"}),
                     ("rollback", {"release": "v1"}), ("rollback", {"release": -1})]:
        error(camp.post(ops[op], json=body), 400)
    for raw in [b"[]", b"{", b"null", b'"x"']:
        error(camp.post(ops["stop"], data=raw, headers={"Content-Type": "application/json"}), 400)
    error(camp.post(ops["stop"], data=b"{}", headers={"Content-Type": "text/plain"}), 415)
    error(camp.post(ops["stop"], data=b"{}"), 415)
    error(camp.post(ops["scale"], data=b"x" * (300 * 1024),
                    headers={"Content-Type": "application/json"}), 413)
    error(camp.post(f"{a['operations_uri']}/explode"), 404)
    error(camp.post("assemblies/999999/operations/stop"), 404)
    error(camp.post("components/999999-web/operations/stop"), 404)
    error(camp.get(a["uri"].replace("assemblies", "components") + "-web/operations"), 404)
    assert camp.delete(a["uri"]).status_code == 204


def test_an_assembly_without_instances_has_its_sensors(owner):
    camp = owner
    a = bare_assembly(camp)
    sensors = check_sensors(camp, a)
    assert sensors["instances_desired"]["value"] == 0
    assert sensors["instances_up"]["value"] == 0
    assert sensors["restarts"]["value"] == 0
    error(camp.get(a["sensors_uri"] + "/nope"), 404)
    error(camp.post(a["sensors_uri"] + "/cpu", json={}), 405)
    error(camp.put(a["sensors_uri"] + "/cpu", json={"value": 1}), 405)
    assert camp.delete(a["uri"]).status_code == 204


# The authorization rows: every new endpoint, as (method, path under the assembly or its
# would-be component, body).
ROWS = [
    ("GET", "{assembly}/operations", None),
    ("GET", "{assembly}/operations/stop", None),
    ("GET", "{component}/operations", None),
    ("GET", "{component}/operations/stop", None),
    ("GET", "{assembly}/sensors", None),
    ("GET", "{assembly}/sensors/instances_up", None),
    ("GET", "{component}/sensors", None),
    ("GET", "{component}/sensors/instances_up", None),
] + [("POST", "{assembly}/operations/" + name, body) for name, body in [
    ("start", None), ("stop", None), ("restart", None), ("scale", {"quantities": {"web": 0}}),
    ("redeploy", {}), ("rollback", {"release": 1}), ("cancel", {})]
] + [("POST", "{component}/operations/" + name, body) for name, body in [
    ("start", None), ("stop", None), ("restart", None), ("scale", {"quantity": 0})]]


@pytest.fixture(scope="module")
def world(nubod, stack):
    users = []
    for _ in range(2):
        name, password = uniq("u"), uniq("pw")
        nubod.admin().user.allocate(name, password, "core")
        users.append(Camp(nubod, name, password))
    alice, bob = users
    a = ok(alice.yaml("assemblies", plan_yaml(uniq("authz"))), 201)
    rest = Rest(nubod.api, *alice.session.auth)
    assert rest.patch(f"/apps/{a['name']}/config-vars", json={"SECRET": "s3cr3t"}).status_code == 200
    return {"alice": alice, "bob": bob, "assembly": a, "rest": rest, "nubod": nubod}


def seen(world) -> dict:
    rest, app = world["rest"], world["assembly"]["name"]
    return {path: rest.get(f"/apps/{app}{path}").json()
            for path in ["", "/config-vars", "/formation", "/releases", "/deployments",
                         "/instances", "/rollout"]}


def concrete(path: str, world) -> str:
    uri = world["assembly"]["uri"]
    return path.format(assembly=uri, component=uri.replace("/assemblies/", "/components/") + "-web")


@pytest.mark.parametrize("row", ROWS, ids=[f"{m} {p}" for m, p, _ in ROWS])
def test_unauthenticated_callers_are_refused(world, row):
    method, path, body = row
    before = seen(world)
    for auth in [None, ("oneadmin", "wrong")]:
        anonymous = Camp(world["nubod"], None, None)
        anonymous.session.auth = auth
        error(anonymous.request(method, concrete(path, world), json=body), 401)
    assert seen(world) == before


@pytest.mark.parametrize("row", ROWS, ids=[f"{m} {p}" for m, p, _ in ROWS])
def test_another_user_is_refused_and_nothing_changes(world, row):
    method, path, body = row
    before = seen(world)
    reply = world["bob"].request(method, concrete(path, world), json=body)
    # The assembly's own rows: 404 as for the assembly; its component does not exist
    # (nothing is built), which bob must not be able to tell apart either.
    found = error(reply, 404)
    assert "s3cr3t" not in json.dumps(found)
    assert seen(world) == before


# The parameter definitions are the platform's, not an app's: any user reads them.
SHARED = ["parameter_definitions/operations/assembly/scale",
          "parameter_definitions/operations/assembly/scale/quantities",
          "parameter_definitions/operations/component/scale/quantity"]


@pytest.mark.parametrize("path", SHARED)
def test_parameter_definitions_need_a_user_and_are_anyones(world, path):
    anonymous = Camp(world["nubod"], None, None)
    error(anonymous.get(path), 401)
    assert ok(world["bob"].get(path))["uri"] == world["bob"].url(path)
