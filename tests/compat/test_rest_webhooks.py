"""Auto-deploy over the REST API, without containers: an app's webhook configured
(`GET|PUT|DELETE /apps/{app}/webhook`, `POST …/rotate`), its secret shown once, and
deliveries (`POST /apps/{app}/webhook`) authenticated by their signature alone — GitHub's,
Gitea's, GitLab's and the plain one — with a bad signature and an unknown app refused
alike; secrets kept by no cache nor Idempotency-Key replay; a webhook survives kill -9. The builds started fail at once (the repository does not exist); that a build is
started, of the pushed commit, is what is checked here (tests/compat/test_paas_webhooks.py
builds and serves for real)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest
import requests

from onehelpers import Nubod, uniq, wait_for
from resthelpers import Rest, problem, register_stack

REPO = "file:///no/such/webhook-repo.git"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def admin(nubod) -> Rest:
    return Rest(nubod.api, "oneadmin", nubod.admin_password)


@pytest.fixture(scope="module")
def stack(nubod, admin) -> str:
    return register_stack(nubod.admin(), admin)


@pytest.fixture
def owner(nubod, make_user, stack) -> tuple[Rest, str]:
    u = make_user()
    rest = Rest(nubod.api, u.name, u.password)
    app = uniq("app")
    assert rest.post("/apps", json={"name": app}).status_code == 201
    return rest, app


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(nubod, app: str, body: bytes, headers: dict) -> requests.Response:
    """A delivery as GitHub and the others make it: no HTTP authentication."""
    return requests.post(f"{nubod.api}/apps/{app}/webhook", data=body, timeout=30,
                         headers={"Content-Type": "application/json", **headers})


def github(secret: str, body: bytes, event: str = "push") -> dict:
    return {"X-Hub-Signature-256": "sha256=" + sign(secret, body), "X-GitHub-Event": event}


def push(ref: str = "refs/heads/main", after: str = COMMIT) -> bytes:
    return json.dumps({"ref": ref, "after": after, "checkout_sha": after,
                       "repository": {"clone_url": "https://evil.example/x.git"}}).encode()


def make_hook(rest: Rest, app: str, **extra) -> str:
    reply = rest.request("PUT", f"/apps/{app}/webhook",
                         json={"url": REPO, "branch": "main", **extra})
    assert reply.status_code == 201, reply.text
    return reply.json()["secret"]


def wait_builds_ended(rest: Rest, app: str):
    wait_for(lambda: all(b["status"] in ("succeeded", "failed")
                         for b in rest.get(f"/apps/{app}/builds").json()),
             what="the app's builds to end")


def test_webhook_is_configured_and_its_secret_shown_once(nubod, owner):
    rest, app = owner
    problem(rest.get(f"/apps/{app}/webhook"), 404)
    reply = rest.request("PUT", f"/apps/{app}/webhook",
                         json={"url": REPO, "branch": "main"})
    assert reply.status_code == 201, reply.text
    made = reply.json()
    secret = made["secret"]
    assert re.fullmatch(r"[0-9a-f]{64}", secret), made
    assert made["secret_set"] is True and made["poll_interval"] is None
    assert made["delivery_url"] == f"/api/v1/apps/{app}/webhook"
    shown = rest.get(f"/apps/{app}/webhook").json()
    assert "secret" not in shown and shown["secret_set"] is True
    assert secret not in json.dumps(shown)
    # A change keeps the secret and does not show it.
    reply = rest.request("PUT", f"/apps/{app}/webhook",
                         json={"url": REPO, "branch": "prod", "poll_interval": 60})
    assert reply.status_code == 200, reply.text
    assert "secret" not in reply.json() and reply.json()["poll_interval"] == 60
    assert reply.json()["branch"] == "prod"
    # Rotation: a new secret, once; the old one is refused.
    rotated = rest.post(f"/apps/{app}/webhook/rotate")
    assert rotated.status_code == 200, rotated.text
    fresh = rotated.json()["secret"]
    assert fresh != secret and re.fullmatch(r"[0-9a-f]{64}", fresh)
    body = push("refs/heads/prod")
    problem(deliver(nubod, app, body, github(secret, body)), 401)
    assert "secret" not in rest.get(f"/apps/{app}/webhook").json()
    # Bad settings.
    for bad in [{"url": "ssh://h/x.git", "branch": "main"},
                {"url": REPO, "branch": "-x"},
                {"url": REPO, "branch": "main", "poll_interval": 5},
                {"url": REPO, "branch": "main", "poll_interval": 86401}]:
        problem(rest.request("PUT", f"/apps/{app}/webhook", json=bad), 422)
    problem(rest.request("PUT", f"/apps/{app}/webhook", json={"url": REPO}), 400)
    # Removed: deliveries are refused, the webhook is gone.
    assert rest.delete(f"/apps/{app}/webhook").status_code == 204
    problem(rest.get(f"/apps/{app}/webhook"), 404)
    problem(rest.delete(f"/apps/{app}/webhook"), 404)
    problem(deliver(nubod, app, body, github(fresh, body)), 401)
    # Secrets are never logged.
    tail = nubod.stderr_tail(1 << 20)
    assert secret not in tail and fresh not in tail


def test_others_may_not_configure_it(nubod, owner, make_user):
    rest, app = owner
    make_hook(rest, app)
    u = make_user()
    other = Rest(nubod.api, u.name, u.password)
    problem(other.get(f"/apps/{app}/webhook"), 403)
    problem(other.request("PUT", f"/apps/{app}/webhook",
                          json={"url": "file:///srv/evil.git", "branch": "main"}), 403)
    problem(other.post(f"/apps/{app}/webhook/rotate"), 403)
    problem(other.delete(f"/apps/{app}/webhook"), 403)
    assert rest.get(f"/apps/{app}/webhook").json()["url"] == REPO


def test_bad_signatures_and_unknown_apps_are_refused_alike(nubod, owner):
    rest, app = owner
    secret = make_hook(rest, app)
    body = push()
    answers = [
        deliver(nubod, app, body, {}),
        deliver(nubod, app, body, github("0" * 64, body)),
        deliver(nubod, app, body, {"X-Hub-Signature-256": sign(secret, body)}),  # no prefix
        deliver(nubod, app, body, {"X-Hub-Signature-256": "sha256=" + sign(secret, body)[:-2]}),
        deliver(nubod, app, body + b" ", github(secret, body)),  # another body
        deliver(nubod, app, body, {"X-Gitea-Signature": "sha256=" + sign(secret, body)}),
        deliver(nubod, app, body, {"X-Gitlab-Token": secret[:-1]}),
        deliver(nubod, app, body, {"X-Nubo-Signature-256": "sha256=" + sign("x", body)}),
        deliver(nubod, uniq("noapp"), body, github(secret, body)),
        deliver(nubod, "Not An App", body, github(secret, body)),
    ]
    details = set()
    for reply in answers:
        details.add(problem(reply, 401)["detail"])
    other = uniq("app")
    assert rest.post("/apps", json={"name": other}).status_code == 201  # no webhook
    details.add(problem(deliver(nubod, other, body, github(secret, body)), 401)["detail"])
    assert len(details) == 1, details
    assert rest.get(f"/apps/{app}/builds").json() == []


def test_signed_pushes_build_the_pushed_commit(nubod, owner):
    rest, app = owner
    secret = make_hook(rest, app)
    # A ping: 200, nothing built.
    reply = deliver(nubod, app, b"{}", github(secret, b"{}", "ping"))
    assert reply.status_code == 200 and reply.json()["status"] == "pong", reply.text
    # Another branch, a tag, another event: ignored.
    for body, event in [(push("refs/heads/dev"), "push"), (push("refs/tags/main"), "push"),
                        (push(), "issues")]:
        reply = deliver(nubod, app, body, github(secret, body, event))
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "ignored", reply.text
    assert rest.get(f"/apps/{app}/builds").json() == []
    # Signed but not JSON, or no ref: 400.
    for body in [b"payload=%7B%7D", b"{}"]:
        problem(deliver(nubod, app, body, github(secret, body)), 400)
    # GitHub: the pushed commit of the configured repository (not the payload's).
    body = push()
    reply = deliver(nubod, app, body, github(secret, body))
    assert reply.status_code == 202, reply.text
    answer = reply.json()
    assert answer["status"] == "queued", answer
    build = answer["build"]
    assert (build["source_url"], build["source_ref"]) == (REPO, COMMIT), build
    assert reply.headers["location"] == f"/api/v1/apps/{app}/builds/{build['id']}"
    wait_builds_ended(rest, app)
    hook = rest.get(f"/apps/{app}/webhook").json()
    assert hook["last_commit"] == COMMIT and hook["last_build"] == build["id"], hook
    # Gitea, GitLab and the plain one.
    gitea_commit, gitlab_commit = "1" * 40, "2" * 40
    deliveries = [
        (push(after=gitea_commit), lambda b: {"X-Gitea-Signature": sign(secret, b),
                                              "X-Gitea-Event": "push"}, gitea_commit),
        (json.dumps({"ref": "refs/heads/main", "before": "0" * 40, "after": "3" * 40,
                     "checkout_sha": gitlab_commit}).encode(),
         lambda b: {"X-Gitlab-Token": secret, "X-Gitlab-Event": "Push Hook"}, gitlab_commit),
        (b"", lambda b: {"X-Nubo-Signature-256": "sha256=" + sign(secret, b)}, "main"),
        (json.dumps({"ref": "main", "commit": "4" * 40}).encode(),
         lambda b: {"X-Nubo-Signature-256": "sha256=" + sign(secret, b)}, "4" * 40),
    ]
    for body, headers, ref in deliveries:
        reply = deliver(nubod, app, body, headers(body))
        assert reply.status_code == 202, reply.text
        assert reply.json()["build"]["source_ref"] == ref, reply.text
        wait_builds_ended(rest, app)
    # A deleted branch is no push to build.
    body = push(after="0" * 40)
    reply = deliver(nubod, app, body, github(secret, body))
    assert reply.json()["status"] == "ignored", reply.text
    assert len(rest.get(f"/apps/{app}/builds").json()) == 5
    # The app's log says what started each build.
    log = rest.get(f"/apps/{app}/logs").text
    assert "started by a GitHub push of main" in log, log
    assert secret not in log


def test_large_bodies_are_refused(nubod, owner):
    rest, app = owner
    secret = make_hook(rest, app)
    body = b'{"ref": "refs/heads/main", "pad": "' + b"x" * (1 << 20) + b'"}'
    reply = deliver(nubod, app, body, github(secret, body))
    assert reply.status_code == 413, reply.text
    assert rest.get(f"/apps/{app}/builds").json() == []


def test_deleting_the_app_deletes_its_webhook(nubod, owner):
    rest, app = owner
    secret = make_hook(rest, app)
    assert rest.delete(f"/apps/{app}").status_code == 204
    assert rest.post("/apps", json={"name": app}).status_code == 201
    problem(rest.get(f"/apps/{app}/webhook"), 404)
    body = push()
    problem(deliver(nubod, app, body, github(secret, body)), 401)


def test_secrets_are_kept_by_no_cache_and_no_replay(nubod, owner):
    rest, app = owner
    made = rest.request("PUT", f"/apps/{app}/webhook", json={"url": REPO, "branch": "main"})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store", made.headers
    # An Idempotency-Key does not keep the answer that holds the secret: the same key again
    # rotates again rather than showing the secret a second time.
    key = {"Idempotency-Key": uniq("key")}
    first = rest.post(f"/apps/{app}/webhook/rotate", json={}, headers=key)
    again = rest.post(f"/apps/{app}/webhook/rotate", json={}, headers=key)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.headers["cache-control"] == "no-store"
    assert "idempotency-replayed" not in again.headers
    assert first.json()["secret"] != again.json()["secret"]


def test_a_webhook_survives_kill_9():
    d = Nubod().start()
    try:
        admin = Rest(d.api, "oneadmin", d.admin_password)
        register_stack(d.admin(), admin)
        app = uniq("app")
        assert admin.post("/apps", json={"name": app}).status_code == 201
        secret = make_hook(admin, app, poll_interval=3600)
        before = admin.get(f"/apps/{app}/webhook").json()
        d.kill()
        d.restart()
        admin = Rest(d.api, "oneadmin", d.admin_password)
        assert admin.get(f"/apps/{app}/webhook").json() == before
        reply = deliver(d, app, b"{}", github(secret, b"{}", "ping"))
        assert reply.status_code == 200 and reply.json()["status"] == "pong", reply.text
    finally:
        d.stop()
