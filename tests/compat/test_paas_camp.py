"""CAMP end to end on real containers: a PDP holding a Python app (its own tree is the
source, artifact type org.nubo:PDP) is deployed through /camp on `nubod --local-host`,
built in a container on the Debian stack, run and routed; its components follow the
instances (RUNNING, STOPPED), a JSON Patch of a component's quantity scales it, and
DELETE removes the app with its containers.

Same needs as test_paas.py (root, runc, mke2fs, the Debian stack), whose `cloud` fixture it
uses; skipped without them unless NUBO_REQUIRE_GUESTS=1. Runs in the SQLite pass only."""

from __future__ import annotations

from onehelpers import uniq, wait_for
from test_camp import Camp, error, ok, zip_pdp
from test_paas import PYTHON_APP, cloud, routed, user  # noqa: F401 - fixtures

PLAN = "camp_version: CAMP 1.1\nname: {name}\nartifacts:\n  - name: src\n    artifact_type: org.nubo:PDP\n"


def test_a_pdp_deployed_through_camp_runs_scales_and_is_deleted(cloud, user):
    camp = Camp(cloud, *user.session.auth)
    files = {"camp.yaml": PLAN.format(name=uniq("Campy")).encode()}
    files |= {name: text.encode() for name, text in PYTHON_APP.items()}
    assembly = ok(camp.post("assemblies", data=zip_pdp(files),
                            headers={"Content-Type": "application/zip"}), 201)
    assert assembly["representation_skew"] == "CREATING", assembly
    app = assembly["name"]

    def ended():
        a = ok(camp.get(assembly["uri"]))
        return a.get("last_build", {}).get("status") in ("succeeded", "failed") and a
    done = wait_for(ended, timeout=900, what="the assembly's build to end")
    log = camp.get(done["logs_uri"]).text
    assert done["last_build"]["status"] == "succeeded", log[-3000:]
    components = {c["target_name"]: c["href"] for c in done["components"]}
    assert set(components) == {"web", "worker"}, done

    def status(kind: str) -> str:
        return ok(camp.get(components[kind]))["status"]
    wait_for(lambda: status("web") == "RUNNING", timeout=180, what="the web component running")
    wait_for(lambda: ok(camp.get(assembly["uri"]))["representation_skew"] == "NONE", timeout=60,
             what="the assembly settled")
    code, body = routed(cloud, app)
    assert code == 200 and body.startswith("hello from nubo six=1.16.0"), body
    worker = ok(camp.get(components["worker"]))
    assert worker["status"] == "STOPPED" and worker["quantity"] == 0, worker

    # Scaling is a JSON Patch of the component's quantity.
    scaled = ok(camp.patch(components["worker"], [{"op": "replace", "path": "/quantity", "value": 1}]))
    assert scaled["quantity"] == 1
    wait_for(lambda: status("worker") == "RUNNING", timeout=180, what="the worker running")
    error(camp.patch(components["web"], [{"op": "replace", "path": "/status", "value": "STOPPED"}]), 403)
    ok(camp.patch(components["worker"], [{"op": "replace", "path": "/quantity", "value": 0}]))
    wait_for(lambda: status("worker") == "STOPPED" and not ok(camp.get(components["worker"]))["instances"],
             timeout=120, what="the worker stopped")

    assert camp.delete(assembly["uri"]).status_code == 204
    error(camp.get(assembly["uri"]), 404)
    one = cloud.admin()
    wait_for(lambda: not [vm for vm in one.vmpool.info(-2, -1, -1, -1).VM
                          if vm.USER_TEMPLATE.get("NUBO_APP") is not None and vm.NAME.startswith(app)],
             timeout=120, what="the app's containers gone")
    assert routed(cloud, app)[0] == 404
