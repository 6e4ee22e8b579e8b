"""Auto-deploy on real containers: an app's webhook follows branch main of a git repository
served from this machine (file://). A GitHub-style signed push builds the pushed commit and
the router serves the new code; a badly signed one gets 401 and builds nothing; a push
while a build runs is kept and built when it ends; and with a poll interval (10 s) a commit
nobody announced is found and built. The same needs as test_paas.py (root, runc, the
stack)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time
from pathlib import Path

import pytest
import requests

from onehelpers import uniq, wait_for
from resthelpers import Rest, problem
from test_paas import git_repo, instances, paas_cloud, routed

ENV = {"GIT_CONFIG_GLOBAL": "/dev/null", "PATH": "/usr/bin:/bin"}


@pytest.fixture(scope="module")
def cloud():
    with paas_cloud() as d:
        yield d


def commit(repo: Path, text: str) -> str:
    """Commits `text` as index.html on main; the new commit."""
    (repo / "index.html").write_text(text)
    env = dict(ENV, HOME=str(repo))
    for cmd in (["git", "add", "-A"],
                ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", text]):
        subprocess.run(cmd, cwd=repo, check=True, env=env, capture_output=True)
    return head(repo)


def head(repo: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, env=ENV,
                          capture_output=True, text=True).stdout.strip()


def github_push(cloud, app: str, secret: str, sha: str) -> requests.Response:
    body = json.dumps({"ref": "refs/heads/main", "after": sha,
                       "repository": {"clone_url": "https://example.org/x.git"}}).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return requests.post(f"{cloud.api}/apps/{app}/webhook", data=body, timeout=30,
                         headers={"Content-Type": "application/json", "X-GitHub-Event": "push",
                                  "X-Hub-Signature-256": f"sha256={signature}"})


def builds(rest: Rest, app: str) -> list:
    return rest.get(f"/apps/{app}/builds").json()


def serves(cloud, app: str, text: str, what: str):
    wait_for(lambda: routed(cloud, app) == (200, text), timeout=240, what=what)


@pytest.fixture
def site(cloud):
    name, password = uniq("dev"), uniq("pw")
    cloud.admin().user.allocate(name, password, "core")
    rest = Rest(cloud.api, name, password)
    app = uniq("hook").lower()
    repo = cloud.work / app
    url = git_repo(repo, {"index.html": "v1\n"})
    assert rest.post("/apps", json={"name": app}).status_code == 201
    return rest, app, repo, url


def test_signed_pushes_deploy_and_bad_ones_build_nothing(cloud, site):
    rest, app, repo, url = site
    made = rest.request("PUT", f"/apps/{app}/webhook", json={"url": url, "branch": "main"})
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    # The first push: v1 is built, released and served.
    reply = github_push(cloud, app, secret, head(repo))
    assert reply.status_code == 202 and reply.json()["status"] == "queued", reply.text
    serves(cloud, app, "v1\n", "v1 served")
    assert [b["status"] for b in builds(rest, app)] == ["succeeded"]
    # v2 committed; a push signed with another secret builds nothing.
    v2 = commit(repo, "v2\n")
    problem(github_push(cloud, app, "0" * 64, v2), 401)
    assert len(builds(rest, app)) == 1
    # Signed: v2 is built from that commit and replaces v1.
    reply = github_push(cloud, app, secret, v2)
    assert reply.status_code == 202, reply.text
    assert reply.json()["build"]["source_ref"] == v2
    serves(cloud, app, "v2\n", "v2 served")
    newest = builds(rest, app)[0]
    assert (newest["status"], newest["commit"]) == ("succeeded", v2), newest
    # Two pushes at once: the second waits for the first build and is built after it.
    v3 = commit(repo, "v3\n")
    first = github_push(cloud, app, secret, v3)
    v4 = commit(repo, "v4\n")
    second = github_push(cloud, app, secret, v4)
    assert first.json()["status"] == "queued", first.text
    assert second.status_code == 202 and second.json() == {"status": "pending", "commit": v4}
    assert rest.get(f"/apps/{app}/webhook").json()["pending"] == v4
    serves(cloud, app, "v4\n", "v4 served after v3's build")
    assert [b["commit"] for b in builds(rest, app)][:2] == [v4, v3]
    hook = rest.get(f"/apps/{app}/webhook").json()
    assert hook["last_commit"] == v4 and hook["pending"] is None, hook
    wait_for(lambda: [i["release"] for i in instances(rest, app)] == [
        rest.get(f"/apps/{app}").json()["release"]], timeout=120, what="one instance left")
    assert rest.delete(f"/apps/{app}").status_code == 204


def test_a_polled_branch_deploys_its_new_commits(cloud, site):
    rest, app, repo, url = site
    # An app built by hand from main: setting the webhook's polling does not build it again.
    reply = rest.post(f"/apps/{app}/builds",
                      json={"source": {"type": "git", "url": url, "ref": "main"}})
    assert reply.status_code == 202, reply.text
    serves(cloud, app, "v1\n", "v1 served")
    made = rest.request("PUT", f"/apps/{app}/webhook",
                        json={"url": url, "branch": "main", "poll_interval": 10})
    assert made.status_code == 201, made.text
    assert made.json()["last_commit"] == head(repo), made.text
    # A commit nobody announces is found within the interval and deployed.
    v2 = commit(repo, "v2\n")
    wait_for(lambda: any(b["source_ref"] == v2 for b in builds(rest, app)), timeout=40,
             what="the polled commit's build")
    serves(cloud, app, "v2\n", "v2 served")
    assert rest.get(f"/apps/{app}/webhook").json()["last_commit"] == v2
    log = rest.get(f"/apps/{app}/logs", params={"source": "nubo"}).text
    assert "started by a poll of main" in log, log
    # Polling off: a new commit stays unbuilt.
    rest.request("PUT", f"/apps/{app}/webhook", json={"url": url, "branch": "main"})
    count = len(builds(rest, app))
    commit(repo, "v3\n")
    time.sleep(15)
    assert len(builds(rest, app)) == count
    assert rest.delete(f"/apps/{app}").status_code == 204
