"""Helpers for the REST API tests: a `requests` session per user, problem+json checks, and
a stack registered over the API so that apps can be created."""

from __future__ import annotations

import requests

from onehelpers import uniq

PROBLEM = "application/problem+json"


class Rest:
    """A user's view of the REST API: `rest.get("/apps")` and so on, with HTTP Basic."""

    def __init__(self, base: str, user: str, password: str):
        self.base = base
        self.session = requests.Session()
        self.session.auth = (user, password)

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        return self.session.request(method, self.base + path, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw) -> requests.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.request("DELETE", path, **kw)


def problem(reply: requests.Response, status: int) -> dict:
    """Asserts that `reply` is an RFC 9457 problem with `status`; returns it."""
    assert reply.status_code == status, (reply.status_code, reply.text)
    assert reply.headers["content-type"] == PROBLEM, reply.headers
    body = reply.json()
    assert body["status"] == status, body
    assert body["title"] and body["detail"] and body["type"], body
    return body


def register_stack(one, admin: Rest) -> str:
    """Registers a stack (its image a small datablock) as oneadmin; returns its name."""
    image = one.image.allocate(f'NAME="{uniq("stack-img")}"\nTYPE="DATABLOCK"\nSIZE="1"\n', 1)
    name = uniq("stack").lower().replace("_", "-")
    reply = admin.post("/stacks", json={"name": name, "version": "1", "image_id": image})
    assert reply.status_code == 201, reply.text
    return name
