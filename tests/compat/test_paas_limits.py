"""The PaaS's limits on a build that runs forever: with `[paas] build_timeout_s` set low, a
build whose `bin/build` never ends is stopped at the limit and fails with the reason, its
container and source image go, and the app keeps its release. A cloud of its own (the
limit is nubod's configuration); the same needs as test_paas.py (root, runc, the stack)."""

from __future__ import annotations

import pytest

from onehelpers import uniq, wait_for
from resthelpers import Rest
from test_paas import build, git_repo, paas_cloud

LIMIT_S = 20


@pytest.fixture(scope="module")
def cloud():
    with paas_cloud(config=f"[paas]\nbuild_timeout_s = {LIMIT_S}\n") as d:
        yield d


def test_a_build_that_runs_forever_is_stopped_at_the_limit(cloud):
    name, password = uniq("dev"), uniq("pw")
    cloud.admin().user.allocate(name, password, "core")
    rest = Rest(cloud.api, name, password)
    app = uniq("forever").lower()
    url = git_repo(cloud.work / app,
                   {"bin/build": "#!/bin/sh\necho building forever\nsleep 100000\n"})
    assert rest.post("/apps", json={"name": app}).status_code == 201
    done = build(rest, app, url)
    assert done["status"] == "failed", done.get("log", "")[-2000:]
    assert done["reason"] == f"the build took more than {LIMIT_S} s and was stopped", done
    assert "building forever" in done["log"], done["log"][-2000:]
    assert rest.get(f"/apps/{app}").json()["release"] == 1
    one = cloud.admin()
    wait_for(lambda: not [vm for vm in one.vmpool.info(-2, -1, -1, -1).VM
                          if vm.NAME.startswith(f"build-{app}-")], timeout=60,
             what="the build container gone")
    wait_for(lambda: not [i for i in one.imagepool.info(-2, -1, -1).IMAGE
                          if i.NAME.startswith(f"build-{app}-")], timeout=60,
             what="the source image gone")
    assert rest.delete(f"/apps/{app}").status_code == 204
