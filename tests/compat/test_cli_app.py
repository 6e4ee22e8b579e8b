"""`nubo app`, the PaaS's command line, driven as a user would drive it: the built `nubo`
binary against nubod's REST API (NUBO_API), with the credentials of ONE_AUTH.

Without containers (the session's nubod): apps created, listed, shown and deleted; config
vars with hostile values set, read back and removed, each change a release; scaling a
process type no release declares refused; --json is the API's JSON; bad credentials, a
missing app, an unreachable API and a wrong URL say so and exit non-zero; a deploy of a
repository that does not exist streams the fetch failure and exits 1; `deploy --dir`
refuses a symbolic link leading out of the directory before uploading anything.

With containers (test_paas.py's `cloud` fixture, imported: root, runc and the Debian
stack, else skipped unless NUBO_REQUIRE_GUESTS=1): `nubo app deploy --dir` of a small
Python app streams its build and exits 0, `nubo app ps` shows web up, and the app answers
through the router."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from onehelpers import uniq, wait_for
from resthelpers import Rest, register_stack
from test_paas import cloud, routed  # noqa: F401 - `cloud` is a fixture used below

# Exit codes (crates/cli/src/exit.rs).
REFUSED, USAGE, UNREACHABLE = 1, 2, 3


class NuboApp:
    """The `nubo` binary as one user, against one API."""

    def __init__(self, binary: Path, api: str, user: str, password: str, tmp: Path):
        tmp.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.auth = tmp / "one_auth"
        self.auth.write_text(f"{user}:{password}\n")
        self.auth.chmod(0o600)
        home = tmp / "home"
        home.mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("ONE_", "NUBO_API"))}
        self.env.update({"NUBO_API": api, "ONE_AUTH": str(self.auth), "HOME": str(home)})

    def run(self, *args, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.binary), "app", *map(str, args)],
                              env=self.env | (env or {}), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def ok(self, *args, **kw) -> str:
        p = self.run(*args, **kw)
        assert p.returncode == 0, f"nubo app {args} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p.stdout

    def json(self, *args):
        return json.loads(self.ok(*args, "--json"))

    def fails(self, code: int, *args, **kw) -> str:
        """Runs a command that must fail with `code`; its one-line error (stderr)."""
        p = self.run(*args, **kw)
        assert p.returncode == code, f"nubo app {args} -> {p.returncode}, not {code}\n{p.stdout}\n{p.stderr}"
        lines = p.stderr.strip().splitlines()
        assert lines and lines[-1].startswith("nubo: "), p.stderr
        return lines[-1]


def nubo_binary(nubod) -> Path:
    binary = nubod.binary.parent / "nubo"
    if not binary.is_file():
        pytest.fail(f"{binary} not found: cargo build -p nubo-cli", pytrace=False)
    return binary


@pytest.fixture(scope="module")
def stack(nubod) -> str:
    return register_stack(nubod.admin(), Rest(nubod.api, "oneadmin", nubod.admin_password))


@pytest.fixture
def cli(nubod, make_user, stack, tmp_path) -> NuboApp:
    """`nubo app` as a new user (of group users)."""
    u = make_user()
    c = NuboApp(nubo_binary(nubod), nubod.api, u.name, u.password, tmp_path / "cli")
    c.rest = Rest(nubod.api, u.name, u.password)
    return c


def app_name() -> str:
    return uniq("cli")


def table(out: str) -> list[list[str]]:
    """The rows of a table (split on runs of two spaces or more), heading first."""
    import re
    return [re.split(r"\s{2,}", line.strip()) for line in out.strip().splitlines()]


def test_create_list_show_and_delete(cli, stack):
    name = app_name()
    assert f"Created app {name} on stack {stack} (release v1)" in cli.ok("create", name)
    assert "already taken" in cli.fails(REFUSED, "create", name)
    assert "not a DNS label" in cli.fails(REFUSED, "create", "Not_A_Label")
    rows = table(cli.ok("list"))
    assert rows[0] == ["ID", "NAME", "STACK", "RELEASE", "FORMATION", "UPDATED"]
    mine = [r for r in rows if name in r]
    assert len(mine) == 1 and mine[0][2:4] == [stack, "v1"], rows
    shown = cli.ok("show", name)
    assert f"NAME        : {name}" in shown and "RELEASE     : v1" in shown, shown
    assert cli.json("show", name) == cli.rest.get(f"/apps/{name}").json()
    listed = cli.json("list")
    assert listed == {"items": cli.rest.get("/apps", params={"limit": 500}).json()["items"]}
    # Not a terminal: deleted without asking, as the other nouns' deletes.
    assert f"Deleted app {name}" in cli.ok("delete", name)
    assert name not in cli.ok("list")
    missing = cli.fails(REFUSED, "show", name)
    assert name in missing and "not found" in missing, missing
    assert "not found" in cli.fails(REFUSED, "delete", name, "--yes")


def test_config_vars_with_hostile_values_make_releases(cli):
    name = app_name()
    cli.ok("create", name)
    hostile = {
        "QUOTES": "it's \"quoted\" 'twice'",
        "LINES": "first line\nsecond line\n",
        "DOLLAR": "$HOME ${PATH} $(rm -rf /) `id`",
        "EQUALS": "a=b=c",
        "SPACES": "  padded  ",
        "EMPTY": "",
    }
    out = cli.ok("config", "set", name, *[f"{k}={v}" for k, v in hostile.items()])
    assert f"Config vars of {name} (release v2)" in out, out
    assert cli.rest.get(f"/apps/{name}/config-vars").json() == hostile
    assert cli.json("config", name) == hostile
    for key, value in hostile.items():
        assert cli.ok("config", "get", name, key) == value + "\n", key
    # The listing is KEY=VALUE with values quoted for a shell: it reads back exactly.
    listing = cli.ok("config", name)
    script = "set -e\n" + listing + "\nprintf '%s\\0' " + " ".join(
        f'"${k}"' for k in sorted(hostile)) + "\n"
    back = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert back.stdout.split("\0")[:-1] == [hostile[k] for k in sorted(hostile)]

    cli.ok("config", "unset", name, "DOLLAR", "EMPTY")
    left = {k: v for k, v in hostile.items() if k not in ("DOLLAR", "EMPTY")}
    assert cli.json("config", name) == left
    rows = table(cli.ok("releases", name))
    assert rows[0] == ["VERSION", "BUILD", "CREATED", "DESCRIPTION"], rows
    versions = [r[0] for r in rows[1:]]
    assert versions == ["v3*", "v2", "v1"], rows
    assert "Remove DOLLAR, EMPTY config vars" in rows[1][-1], rows
    assert cli.json("releases", name) == cli.rest.get(f"/apps/{name}/releases").json()
    assert cli.json("show", name)["release"] == 3

    assert "KEY=VALUE" in cli.fails(USAGE, "config", "set", name, "NOEQUALS")
    assert "twice" in cli.fails(USAGE, "config", "set", name, "A=1", "A=2")
    assert "not a config var name" in cli.fails(USAGE, "config", "unset", name, "A=1")
    assert "no config var NOPE" in cli.fails(REFUSED, "config", "get", name, "NOPE")
    assert cli.json("show", name)["release"] == 3


def test_scale_refuses_a_process_type_the_release_does_not_declare(cli):
    name = app_name()
    cli.ok("create", name)
    err = cli.fails(REFUSED, "scale", name, "web=1", "worker=2")
    assert "no process type" in err and "v1" in err, err
    assert cli.json("show", name)["formation"] == {}
    assert "TYPE=COUNT" in cli.fails(USAGE, "scale", name, "web=-1")
    assert "TYPE=COUNT" in cli.fails(USAGE, "scale", name, "web")
    assert table(cli.ok("ps", name)) == [
        ["NAME", "TYPE", "RELEASE", "STATE", "IP", "VM", "CPU", "MEM", "RESTARTS", "REASON"]]
    assert cli.json("ps", name) == []


def test_health_checks_are_listed_set_and_reset(cli):
    name = app_name()
    cli.ok("create", name)
    head = ["TYPE", "CHECK", "TIMEOUT", "INTERVAL", "FAILURES"]
    assert table(cli.ok("health", name)) == [head]
    rows = table(cli.ok("health", name, "web", "--http", "/health", "--timeout", "30",
                        "--status", "204", "--interval", "5", "--failures", "2"))
    assert rows == [head, ["web", "http /health = 204", "30 s", "5 s", "2"]], rows
    assert cli.json("health", name) == {"web": {"type": "http", "path": "/health", "timeout": 30,
                                                "status": 204, "interval": 5, "failures": 2}}
    assert cli.json("health", name, "web", "--port", "--timeout", "90") == {
        "web": {"type": "port", "timeout": 90, "interval": 2, "failures": 3}}
    assert cli.json("health", name, "web", "--default") == {}
    # A command check, for any type: shown with its command.
    rows = table(cli.ok("health", name, "worker", "--command", "test -f /tmp/ready"))
    assert rows == [head, ["worker", "command test -f /tmp/ready", "60 s", "2 s", "3"]], rows
    assert cli.json("health", name)["worker"] == {
        "type": "command", "command": "test -f /tmp/ready", "timeout": 60, "interval": 2,
        "failures": 3}
    assert "one line of at most 4096 bytes" in cli.fails(
        REFUSED, "health", name, "worker", "--command", "a\nb")
    assert cli.json("health", name, "worker", "--default") == {}
    assert "only web processes get a $PORT" in cli.fails(
        REFUSED, "health", name, "worker", "--http", "/health")
    assert "timeout" in cli.fails(REFUSED, "health", name, "web", "--port", "--timeout", "0")
    assert "interval" in cli.fails(REFUSED, "health", name, "web", "--port", "--interval", "0")
    # --status goes with --http only.
    assert "only an http health check expects a status" in cli.fails(
        REFUSED, "health", name, "web", "--port", "--status", "200")
    # A type needs a check; one check at a time; --timeout needs a type.
    for args in [("web",), ("web", "--port", "--process"), ("--timeout", "5"), ("--port",),
                 ("web", "--command", "true", "--http", "/")]:
        p = cli.run("health", name, *args)
        assert p.returncode == USAGE and "Usage: nubo app health" in p.stderr, (args, p.stderr)
    assert cli.json("health", name) == {}
    cli.ok("delete", name)


def test_credentials_missing_apps_and_wrong_urls_are_reported(cli, tmp_path):
    name = app_name()
    bad = tmp_path / "bad_auth"
    bad.write_text("oneadmin:not-the-password\n")
    err = cli.fails(REFUSED, "list", env={"ONE_AUTH": str(bad)})
    assert "wrong user name or password" in err, err
    err = cli.fails(UNREACHABLE, "list", env={"ONE_AUTH": str(tmp_path / "none")})
    assert "no credentials" in err, err
    for verb in (["show", name], ["config", name], ["releases", name], ["builds", name],
                 ["ps", name], ["logs", name], ["scale", name, "web=1"],
                 ["metrics", name], ["metrics", name, "--history", "5"], ["events", name],
                 ["config", "set", name, "A=1"], ["deploy", name, "--git", "file:///x"]):
        err = cli.fails(REFUSED, *verb)
        assert name in err and "not found" in err, (verb, err)
    err = cli.fails(UNREACHABLE, "list", "--api", "http://127.0.0.1:1/api/v1")
    assert "cannot reach http://127.0.0.1:1/api/v1" in err, err
    api = cli.env["NUBO_API"]
    err = cli.fails(UNREACHABLE, "list", "--api", api.removesuffix("/api/v1"))
    assert "NUBO_API" in err, err
    assert "https is not supported" in cli.fails(UNREACHABLE, "list", "--api", "https://x/api/v1")
    assert "--json" in cli.fails(USAGE, "list", "--xml")
    assert "NUBO_API" in cli.fails(USAGE, "list", "--endpoint", "http://x/RPC2")
    # --user/--password win over ONE_AUTH, as for the XML-RPC nouns.
    assert cli.fails(REFUSED, "list", "--user", "oneadmin", "--password", "nope")


def test_a_deploy_of_a_missing_repository_streams_the_failure_and_exits_1(cli):
    name = app_name()
    cli.ok("create", name)
    p = cli.run("deploy", name, "--git", "file:///no/such/repo.git@main", timeout=120)
    assert p.returncode == REFUSED, (p.stdout, p.stderr)
    # Build ids are the cloud's, not the app's: take this one's from the API.
    [listed] = cli.rest.get(f"/apps/{name}/builds").json()
    bid = listed["id"]
    assert f"-----> Build {bid} of {name} started" in p.stdout, p.stdout
    assert "-----> Fetching file:///no/such/repo.git at main" in p.stdout, p.stdout
    assert "Build failed: cannot fetch the source" in p.stdout, p.stdout
    assert p.stderr.strip().startswith(f"nubo: build {bid} of {name} failed: cannot fetch the source")
    build = cli.rest.get(f"/apps/{name}/builds/{bid}").json()
    assert build["status"] == "failed" and build["source_ref"] == "main"
    # --json: the log goes to stderr, the build's JSON to stdout.
    p = cli.run("deploy", name, "--git", "file:///no/such/repo.git", "--json")
    assert p.returncode == REFUSED
    second = cli.rest.get(f"/apps/{name}/builds").json()[0]["id"]
    assert second > bid
    assert json.loads(p.stdout) == cli.rest.get(f"/apps/{name}/builds/{second}").json()
    assert "Fetching file:///no/such/repo.git" in p.stderr
    rows = table(cli.ok("builds", name))
    assert [r[:3] for r in rows[1:]] == [[str(second), "failed", "file:///no/such/repo.git"],
                                         [str(bid), "failed", "file:///no/such/repo.git@main"]], rows
    assert cli.json("builds", name) == cli.rest.get(f"/apps/{name}/builds").json()
    # logs: the latest build's, a given build's, its tail, followed to its end.
    assert "Fetching file:///no/such/repo.git\n" in cli.ok("logs", name, "--build", "latest")
    assert cli.ok("logs", name, "--build", str(bid)) == cli.rest.get(f"/apps/{name}/builds/{bid}/log").text
    assert cli.ok("logs", name, "--build", "latest", "-n", "1").startswith("-----> Build failed")
    assert cli.ok("logs", name, "-f", "--build", str(bid)) == cli.rest.get(f"/apps/{name}/builds/{bid}/log").text
    assert "not found" in cli.fails(REFUSED, "logs", name, "--build", "999999")
    assert "--build takes" in cli.fails(USAGE, "logs", name, "--build", "x")
    # The app's log: the platform's events (the failed builds), by source, the last lines.
    events = cli.ok("logs", name, "--type", "nubo")
    assert f"nubo: Build {bid} failed: cannot fetch the source" in events, events
    assert cli.ok("logs", name, "-n", "1") == cli.rest.get(f"/apps/{name}/logs", params={"lines": 1}).text
    assert cli.ok("logs", name, "--type", "web") == ""
    assert cli.json("show", name)["release"] == 1


def test_deploy_dir_refuses_links_leading_outside_before_uploading(cli, tmp_path):
    name = app_name()
    cli.ok("create", name)
    src = tmp_path / "src"
    src.mkdir()
    (src / "requirements.txt").write_text("")
    (src / "app.py").write_text("print('hi')\n")
    (src / "conf").mkdir()
    (src / "conf" / "secrets").symlink_to("../../outside")
    err = cli.fails(REFUSED, "deploy", name, "--dir", src)
    assert "conf/secrets -> ../../outside" in err and "outside the directory" in err, err
    (src / "conf" / "secrets").unlink()
    (src / "passwd").symlink_to("/etc/passwd")
    err = cli.fails(REFUSED, "deploy", name, "--dir", src)
    assert "passwd -> /etc/passwd" in err, err
    assert cli.rest.get(f"/apps/{name}/builds").json() == []
    p = cli.run("deploy", name)  # no source: clap's usage error
    assert p.returncode == USAGE and "--git" in p.stderr and "--dir" in p.stderr, p.stderr


def test_deploy_dir_builds_runs_and_routes_a_python_app(cloud, tmp_path):  # noqa: F811
    name, password = uniq("dev"), uniq("pw")
    cloud.admin().user.allocate(name, password, "core")
    cli = NuboApp(nubo_binary(cloud), cloud.api, name, password, tmp_path / "cli")
    app = uniq("dir").lower()
    src = tmp_path / app
    src.mkdir()
    (src / "requirements.txt").write_text("")
    (src / "Procfile").write_text("web: python3 app.py\n")
    (src / "app.py").write_text('''\
import os
from http.server import HTTPServer, BaseHTTPRequestHandler

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = open(os.path.join(os.path.dirname(__file__), "greeting")).read().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
''')
    (src / "data").mkdir()
    (src / "data" / "greeting.txt").write_text("hello from a directory")
    (src / "greeting").symlink_to("data/greeting.txt")  # a link inside: packed as a link
    (src / ".git").mkdir()
    (src / ".git" / "HEAD").write_text("not sent\n")

    cli.ok("create", app)
    p = cli.run("deploy", app, "--dir", src, timeout=900)
    assert p.returncode == 0, (p.stdout[-4000:], p.stderr)
    out = p.stdout
    assert f"-----> Uploading {src}" in out, out[:2000]
    assert "-----> Unpacking the uploaded source" in out, out[:2000]
    assert "nubo-build: succeeded" in out, out[-3000:]
    assert re.search(rf"=====> Build \d+ of {app} succeeded: release v2", out), out[-3000:]
    assert cli.json("show", app)["formation"] == {"web": 1}

    def web_up():
        rows = table(cli.ok("ps", app))
        return [r for r in rows[1:] if r[1] == "web" and r[3] == "up"]

    wait_for(web_up, timeout=180, what="web up in nubo app ps")
    status, body = routed(cloud, app)
    assert (status, body) == (200, "hello from a directory"), (status, body)
    assert "v2" in web_up()[0][2]
    assert f"Deleted app {app}" in cli.ok("delete", app, "--yes")


def test_runs_process_actions_and_domains(cli):
    name = app_name()
    cli.ok("create", name)
    err = cli.fails(REFUSED, "run", name, "--", "echo", "hi there")
    assert "deploy a build first" in err, err
    usage = cli.run("run", name)
    assert usage.returncode == USAGE and "required arguments" in usage.stderr, usage.stderr
    for action in ("restart", "stop", "start"):
        assert "of " + name in cli.ok(action, name)
    assert "no process type web" in cli.fails(REFUSED, "restart", name, "--type", "web")
    domain = f"{name}.example.net"
    assert domain in cli.ok("domains", "add", name, domain)
    listed = cli.ok("domains", name)
    assert f"{name}.apps.localhost (default)" in listed and domain in listed, listed
    cli.ok("domains", "remove", name, domain)
    assert domain not in cli.ok("domains", name)
    assert "not found" in cli.fails(REFUSED, "domains", "remove", name, domain)


def test_rollout_policy_and_deployments_of_an_app_without_a_build(cli):
    name = app_name()
    cli.ok("create", name)
    assert table(cli.ok("rollout", name)) == [["STRATEGY", "MAX IN FLIGHT", "CANARY"],
                                              ["rolling", "1", "10%"]]
    assert cli.json("rollout", name, "--strategy", "canary", "--canary-percent", "20") == {
        "strategy": "canary", "max_in_flight": 1, "canary_percent": 20}
    assert "max_in_flight must be 1 to 100" in cli.fails(
        REFUSED, "rollout", name, "--max-in-flight", "0")
    assert cli.json("rollout", name)["canary_percent"] == 20
    assert cli.json("deployments", name) == []
    assert table(cli.ok("deployments", name))[0][:4] == ["ID", "RELEASE", "STRATEGY", "STATE"]
    assert "no deployment under way" in cli.fails(REFUSED, "cancel", name)
    assert "no build yet" in cli.fails(REFUSED, "redeploy", name)
    assert "not found" in cli.fails(REFUSED, "promote", name, "12345")
    cli.ok("delete", name)


def test_autoscaling_policies_are_set_listed_and_removed(cli):
    name = app_name()
    cli.ok("create", name)
    head = ["TYPE", "MIN", "MAX", "TARGET PER INSTANCE"]
    assert table(cli.ok("autoscale", name)) == [head]
    rows = table(cli.ok("autoscale", name, "web", "--requests", "50", "--min", "1", "--max", "5"))
    assert rows == [head, ["web", "1", "5", "50 requests/s"]], rows
    assert cli.json("autoscale", name, "worker", "--cpu", "60", "--min", "0", "--max", "2") == {
        "web": {"min": 1, "max": 5, "metric": "requests", "target": 50},
        "worker": {"min": 0, "max": 2, "metric": "cpu", "target": 60}}
    assert "only web gets requests" in cli.fails(
        REFUSED, "autoscale", name, "worker", "--requests", "5", "--min", "1", "--max", "2")
    assert "min <= max" in cli.fails(
        REFUSED, "autoscale", name, "web", "--cpu", "5", "--min", "3", "--max", "2")
    # A type needs a target and bounds; --off takes none.
    for args in [("web",), ("web", "--cpu", "50"), ("web", "--off", "--min", "1"), ("--off",)]:
        p = cli.run("autoscale", name, *args)
        assert p.returncode == USAGE and "Usage: nubo app autoscale" in p.stderr, (args, p.stderr)
    assert cli.json("autoscale", name, "worker", "--off") == {
        "web": {"min": 1, "max": 5, "metric": "requests", "target": 50}}
    cli.ok("delete", name)
