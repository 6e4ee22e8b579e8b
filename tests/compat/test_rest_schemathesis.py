"""The REST API against its own OpenAPI document, with schemathesis (`st run`): for every
operation, generated requests (valid and invalid) as a normal user and as oneadmin, and
every response checked: no 5xx, a declared status code, the declared content type, a body
that matches the declared schema, the declared headers, and invalid input refused with a
4xx. The data it works on is made first (an app with config vars, a failed build, stacks),
and the path parameters point at it, so that the answers are not all 404s.

The run is bounded: a fixed seed, deterministic generation, a few examples per operation,
no shrinking and no stateful phase. DELETE /apps/{app} runs last, on an app of its own,
so that the data the other operations read does not vanish mid-run.

A nubod of its own serves it (free ports); the schemathesis report of a failing run is in
the assertion message. Failures accepted until their fix lands are listed, with the request
and the fix, in schemathesis-baseline.json (none today; each would have a strict xfail here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from xml.etree import ElementTree

import pytest

from onehelpers import Nubod, uniq
from resthelpers import Rest, register_stack

# The checks every run makes (schemathesis names them so).
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
])
# Seed and size of the run: deterministic and well under two minutes on 2 cores.
SEED = 20261207
MAX_EXAMPLES = 60
# The failures accepted for now (schemathesis `--baseline`), each with the request, the
# answer, what is expected and the fix; any other failure fails the run, and the entries
# expire (none today).
BASELINE = Path(__file__).with_name("schemathesis-baseline.json")
# One schemathesis run must end within this (seconds); the whole module is bounded too.
RUN_TIMEOUT = 150


def st_binary() -> str:
    """`st` from the venv pytest runs in."""
    st = Path(sys.executable).parent / "st"
    if not st.is_file():
        pytest.fail(f"schemathesis is not installed ({st}); it is in tests/compat/requirements.txt",
                    pytrace=False)
    return str(st)


@pytest.fixture(scope="module")
def served():
    d = Nubod().start()
    yield d
    alive = d.alive()
    tail = d.stderr_tail()
    d.stop()
    if not alive:
        pytest.fail(f"nubod died during the schemathesis run\n--- nubod stderr ---\n{tail}",
                    pytrace=False)


def make_user(d: Nubod) -> tuple[str, str]:
    name, password = uniq("st"), "p-" + uniq("pw")
    uid = d.admin().call("user.allocate", name, password, "core")
    assert isinstance(uid, int) and uid >= 0
    return name, password


def wait_failed_build(rest: Rest, app: str, build: int) -> dict:
    deadline = time.monotonic() + 60
    while True:
        shown = rest.get(f"/apps/{app}/builds/{build}").json()
        if shown["status"] == "failed":
            return shown
        assert shown["status"] in ("queued", "building"), shown
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)


def app_with_data(rest: Rest, stack: str) -> tuple[str, int]:
    """An app with config vars (two releases) and a failed build; its name and the build."""
    app = uniq("st-app").lower().replace("_", "-")
    reply = rest.post("/apps", json={"name": app, "stack": stack})
    assert reply.status_code == 201, reply.text
    reply = rest.patch(f"/apps/{app}/config-vars", json={"DATABASE_URL": "postgres://db/x",
                                                         "GREETING": "hé"})
    assert reply.status_code == 200, reply.text
    missing = f"file:///nonexistent/{uniq('repo')}.git"
    reply = rest.post(f"/apps/{app}/builds", json={"source": {"type": "git", "url": missing}})
    assert reply.status_code == 202, reply.text
    build = reply.json()["id"]
    assert wait_failed_build(rest, app, build)["reason"]
    return app, build


def st_run(d: Nubod, tmp: Path, label: str, auth: tuple[str, str], parameters: dict,
           filters: list[str], max_examples: int = MAX_EXAMPLES, min_operations: int = 20) -> float:
    """Runs schemathesis against the served document; fails with its report. Its time."""
    config = tmp / f"{label}.toml"
    # TOML: its strings, integers and booleans are written as JSON writes them.
    lines = ["[parameters]"] + [f"{json.dumps(key)} = {json.dumps(value)}"
                                for key, value in parameters.items()]
    # A request whose If-Match names no revision is refused with 412 before its body is
    # read (RFC 9110 evaluates preconditions before the content): a refusal too.
    lines += ["[checks.negative_data_rejection]",
              'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "412", '
              '"413", "415", "422", "428", "429"]']
    config.write_text("\n".join(lines) + "\n")
    args = [st_binary(), "--config-file", str(config), "run", f"{d.api}/openapi.json",
            "--url", d.api,
            "--auth", f"{auth[0]}:{auth[1]}",
            "--checks", CHECKS,
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(max_examples),
            "--seed", str(SEED), "--generation-deterministic", "--no-shrink",
            "--workers", "1",
            "--request-timeout", "20",
            "--max-failures", "50",
            "--suppress-health-check", "all",
            # Every request carries the credentials (ignored_auth tests without them).
            "--generation-with-security-parameters", "false",
            "--baseline", str(BASELINE),
            "--report", "junit", "--report-dir", str(tmp / label),
            "--no-color", *filters]
    env = dict(os.environ, NO_COLOR="1", COLUMNS="160")
    env.pop("SCHEMATHESIS_HOOKS", None)
    start = time.monotonic()
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                              env=env, stdin=subprocess.DEVNULL, cwd=tmp)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"schemathesis ({label}) did not finish within {RUN_TIMEOUT}s\n"
                    f"{(e.stdout or b'')[-20000:]!s}", pytrace=False)
    took = time.monotonic() - start
    print(f"schemathesis ({label}): {took:.1f}s\n{done.stdout[-3000:]}")
    assert d.alive(), f"nubod died during schemathesis ({label})\n{d.stderr_tail()}"
    assert done.returncode == 0, (
        f"schemathesis ({label}) found problems (exit {done.returncode}):\n"
        f"{done.stdout[-25000:]}\n{done.stderr[-3000:]}")
    # Failures the baseline accepts are said in the pytest summary, not only in the log.
    known = [line.strip() for line in done.stdout.splitlines()
             if line.strip().startswith("Known failures:") and not line.strip().endswith(" 0")]
    if known:
        warnings.warn(f"schemathesis ({label}): {known[0]} (accepted in {BASELINE.name})",
                      stacklevel=1)
    # It tested operations: a run that tested nothing would pass too.
    reports = list((tmp / label).glob("junit*.xml"))
    assert len(reports) == 1, reports
    tested = ElementTree.parse(reports[0]).getroot().iter("testcase")
    assert len(list(tested)) >= min_operations, done.stdout
    return took


@pytest.fixture(scope="module")
def world(served, tmp_path_factory):
    d = served
    admin = Rest(d.api, "oneadmin", d.admin_password)
    stack = register_stack(d.admin(), admin)
    admin_stack = register_stack(d.admin(), admin)
    user = make_user(d)
    rest = Rest(d.api, *user)
    user_app, user_build = app_with_data(rest, stack)
    admin_app, admin_build = app_with_data(admin, stack)
    doomed = uniq("st-doomed").lower().replace("_", "-")
    assert rest.post("/apps", json={"name": doomed, "stack": stack}).status_code == 201
    return {"tmp": tmp_path_factory.mktemp("schemathesis"), "user": user, "stack": stack,
            "admin_stack": admin_stack, "user_app": user_app, "user_build": user_build,
            "admin_app": admin_app, "admin_build": admin_build, "doomed": doomed}


def params_for(app: str, build: int, stack: str) -> dict:
    # `follow` keeps a log response open as long as the app lives: the run reads what is
    # there (follow is tested in test_paas.py).
    # (A string: schemathesis would write a boolean as Python does, `False`.)
    return {"path.app": app, "path.build": build, "path.stack": stack, "query.follow": "false"}


def test_every_operation_as_a_user(served, world):
    took = st_run(served, world["tmp"], "user", world["user"],
                  params_for(world["user_app"], world["user_build"], world["stack"]),
                  ["--exclude-operation-id", "delete_app"])
    assert took < 120, took


def test_every_operation_as_oneadmin(served, world):
    # oneadmin changes the state of a stack of its own, so that the user's app keeps its.
    took = st_run(served, world["tmp"], "oneadmin", ("oneadmin", served.admin_password),
                  params_for(world["admin_app"], world["admin_build"], world["admin_stack"]),
                  ["--exclude-operation-id", "delete_app"])
    assert took < 120, took


def test_deleting_an_app_last(served, world):
    st_run(served, world["tmp"], "delete", world["user"],
           params_for(world["doomed"], world["user_build"], world["stack"]),
           ["--include-operation-id", "delete_app"], max_examples=5, min_operations=1)
    # The data the other runs read is still there.
    rest = Rest(served.api, *world["user"])
    assert rest.get(f"/apps/{world['user_app']}").status_code == 200


def test_documented_bounds_of_query_parameters_are_accepted(served, world):
    """What the served document allows is not refused: the bounds of `limit` (GET /apps)
    and `lines` (GET /apps/{app}/logs) are the ones the handlers enforce."""
    doc = Rest(served.api, *world["user"]).get("/openapi.json").json()
    rest = Rest(served.api, *world["user"])
    app = world["user_app"]
    for path, name, url in [("/apps", "limit", "/apps"),
                            ("/apps/{app}/logs", "lines", f"/apps/{app}/logs")]:
        [param] = [p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == name]
        low, high = param["schema"].get("minimum"), param["schema"].get("maximum")
        assert low is not None and high is not None, param
        for value in (low, high):
            reply = rest.get(url, params={name: value})
            assert reply.status_code == 200, (path, name, value, reply.text)
        for value in (low - 1, high + 1):
            reply = rest.get(url, params={name: value})
            assert reply.status_code == 400, (path, name, value, reply.text)


def test_build_log_offset_past_the_largest_file_offset(served, world):
    """An offset past the end of a log (even past i64::MAX, which cannot be sought) reads
    nothing; schemathesis found it answered 500."""
    rest = Rest(served.api, *world["user"])
    reply = rest.get(f"/apps/{world['user_app']}/builds/{world['user_build']}/log",
                     params={"offset": 2**63})
    assert reply.status_code in (200, 400), (reply.status_code, reply.text)
