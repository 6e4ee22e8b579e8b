"""The OASIS CAMP 1.1 API (/camp on the REST API's listener) with a real HTTP client
(requests): discovery, type/attribute/parameter definitions, extensions, services; plans
registered by value (YAML, zip/tar PDPs, multipart), by reference, shown, replaced with
select_attr, patched with JSON Patch, deleted (409 while used); assemblies deployed by
reference and by value as PaaS apps whose builds start (and fail here: no container is
needed for a repository that does not exist); hostile PDPs (bad digests, `..`, a zip bomb);
every status code of camp.md §1.7; and other users seeing nothing of it."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile

import pytest
import requests

from onehelpers import Nubod, uniq, wait_for
from resthelpers import Rest, register_stack

YAML = "application/x-yaml"
PATCH = "application/json-patch+json"


class Camp:
    """A user's view of CAMP: absolute URLs or paths under /camp/v1_1."""

    def __init__(self, nubod, user: str | None, password: str | None):
        self.root = nubod.api.removesuffix("/api/v1")
        self.session = requests.Session()
        if user is not None:
            self.session.auth = (user, password)

    def url(self, path: str) -> str:
        if path.startswith("http"):
            return path
        if path.startswith("/"):
            return self.root + path
        return f"{self.root}/camp/v1_1/{path}"

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 60)
        return self.session.request(method, self.url(path), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, ops, content_type=PATCH, **kw):
        return self.request("PATCH", path, data=json.dumps(ops),
                            headers={"Content-Type": content_type}, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def yaml(self, path, text: str):
        return self.post(path, data=text.encode(), headers={"Content-Type": YAML})


def error(reply: requests.Response, status: int) -> dict:
    """Asserts a CAMP error `{code, title, detail}` with `status`; returns it."""
    assert reply.status_code == status, (reply.status_code, reply.text)
    assert reply.headers["content-type"] == "application/json", reply.headers
    body = reply.json()
    assert body["code"] == status and body["title"] and body["detail"], body
    return body


def ok(reply: requests.Response, status: int = 200) -> dict:
    assert reply.status_code == status, (reply.status_code, reply.text)
    return reply.json() if reply.content else {}


def plan_yaml(name: str, artifacts: str = "", extra: str = "") -> str:
    return f"camp_version: CAMP 1.1\nname: {name}\ndescription: a test plan\ntags: [t1]\n{extra}{artifacts}"


def git_artifact(url: str = "file:///no/such/repo.git#main") -> str:
    return f"artifacts:\n  - name: source\n    artifact_type: org.nubo:Git\n    content: {{href: '{url}'}}\n"


def zip_pdp(files: dict[str, bytes], manifest: bool = True, bad: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
        if manifest:
            lines = []
            for name, data in files.items():
                digest = "0" * 64 if name == bad else hashlib.sha256(data).hexdigest()
                lines.append(f"SHA256({name})= {digest}\n")
            z.writestr("camp.mf", "".join(lines))
    return out.getvalue()


def tar_pdp(files: dict[str, bytes], gz: bool = True) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gz else "w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture(scope="module")
def stack(nubod) -> str:
    admin = Rest(nubod.api, "oneadmin", nubod.admin_password)
    return register_stack(nubod.admin(), admin)


@pytest.fixture
def user(nubod, make_user, stack):
    def _make() -> Camp:
        u = make_user()
        return Camp(nubod, u.name, u.password)
    return _make


def test_discovery_is_open_and_the_rest_needs_credentials(nubod):
    anonymous = Camp(nubod, None, None)
    endpoints = ok(anonymous.get("/camp/platform_endpoints"))
    assert endpoints["type"] == "platform_endpoints"
    assert endpoints["uri"] == anonymous.url("/camp/platform_endpoints")
    [link] = endpoints["platform_endpoint_links"]
    endpoint = ok(anonymous.get(link["href"]))
    assert endpoint["type"] == "platform_endpoint"
    assert endpoint["specification_version"] == "CAMP 1.1"
    assert endpoint["auth_scheme"] == "HTTP-Basic"
    assert endpoint["platform_uri"] == anonymous.url("platform")
    body = error(anonymous.get(endpoint["platform_uri"]), 401)
    assert "Basic" in anonymous.get("platform").headers["www-authenticate"], body
    error(Camp(nubod, "nobody-" + uniq("x"), "x").get("plans"), 401)
    error(anonymous.get("/camp/v1_1/no-such-thing"), 404)


def test_every_platform_resource_is_served(user, stack):
    camp = user()
    platform = ok(camp.get("platform"))
    assert platform["type"] == "platform" and platform["specification_version"] == "CAMP 1.1"
    for key in ["supported_formats_uri", "extensions_uri", "type_definitions_uri",
                "platform_endpoints_uri", "assemblies_uri", "services_uri", "plans_uri"]:
        assert platform[key].startswith(camp.root + "/camp/"), (key, platform[key])
        ok(camp.get(platform[key]))
    formats = ok(camp.get(platform["supported_formats_uri"]))
    [fmt] = formats["format_links"]
    assert ok(camp.get(fmt["href"]))["mime_type"] == "application/json"
    error(camp.get("formats/xml"), 404)
    types = ok(camp.get(platform["type_definitions_uri"]))
    names = {l["target_name"] for l in types["type_definition_links"]}
    assert {"assembly", "component", "plan", "platform", "camp_resource"} <= names
    attributes = set()
    for l in types["type_definition_links"]:
        t = ok(camp.get(l["href"]))
        assert t["type"] == "type_definition" and t["uri"] == l["href"]
        for parent in t.get("inherits_from", []):
            assert parent["href"].startswith(camp.url("type_definitions/"))
        attributes.update(a["href"] for a in t["attribute_definition_links"])
    assert attributes
    for href in attributes:
        a = ok(camp.get(href))
        assert a["type"] == "attribute_definition" and a["attribute_type"], a
    error(camp.get("type_definitions/nope"), 404)
    error(camp.get("attribute_definitions/nope"), 404)
    plans = ok(camp.get(platform["plans_uri"]))
    params = ok(camp.get(plans["parameter_definitions_uri"]))
    got = {l["target_name"]: l for l in params["parameter_definition_links"]}
    assert set(got) == {"pdp_uri", "plan_uri", "pdp_file", "plan_file"}
    for l in got.values():
        assert l["required"] is False
        assert ok(camp.get(l["href"]))["type"] == "parameter_definition"
    extensions = ok(camp.get(platform["extensions_uri"]))
    ext_names = {l["target_name"] for l in extensions["extension_links"]}
    assert ext_names == {"builds", "releases", "logs", "process_types"}
    for l in extensions["extension_links"]:
        e = ok(camp.get(l["href"]))
        assert e["type"] == "extension" and e["rest_uri"].startswith(camp.root + "/api/v1/")
    services = ok(camp.get(platform["services_uri"]))
    hrefs = [l["href"] for l in services["service_links"] if l["target_name"] == stack]
    assert hrefs, services
    service = ok(camp.get(hrefs[0]))
    assert service["type"] == "service" and service["name"] == stack
    assert service["characteristics"][0]["characteristic_type"] == "org.nubo:Stack"
    error(camp.get("services/no-such-stack"), 404)


def test_plans_by_value_show_put_patch_and_delete(user):
    camp = user()
    name = uniq("Plan")
    reply = camp.yaml("plans", plan_yaml(name, extra="origin: http://ide.example\n"))
    plan = ok(reply, 201)
    assert reply.headers["location"] == plan["uri"]
    assert plan["type"] == "plan" and plan["camp_version"] == "CAMP 1.1" and plan["name"] == name
    assert plan["uri"] in [l["href"] for l in ok(camp.get("plans"))["plan_links"]]
    assert ok(camp.get(plan["uri"])) == plan
    assert ok(camp.get(plan["uri"] + "?select_attr=name&select_attr=tags")) == {"name": name, "tags": ["t1"]}
    # PUT: partial with select_attr, then whole.
    put = ok(camp.put(plan["uri"] + "?select_attr=description", json={"description": "changed", "name": "ignored"}))
    assert put["description"] == "changed" and put["name"] == name
    whole = dict(put, tags=["a", "b"])
    assert ok(camp.put(plan["uri"], json=whole))["tags"] == ["a", "b"]
    error(camp.put(plan["uri"], json=dict(whole, camp_version="CAMP 1.0")), 403)
    error(camp.put(plan["uri"], data="x", headers={"Content-Type": YAML}), 415)
    # PATCH.
    patched = ok(camp.patch(plan["uri"], [{"op": "replace", "path": "/description", "value": "patched"},
                                          {"op": "add", "path": "/tags/-", "value": "c"}]))
    assert patched["description"] == "patched" and patched["tags"] == ["a", "b", "c"]
    error(camp.patch(plan["uri"], [{"op": "replace", "path": "/description"}]), 400)
    error(camp.patch(plan["uri"], [{"op": "add", "value": 1}]), 400)
    error(camp.patch(plan["uri"], [{"op": "remove", "path": "/nope"}]), 422)
    error(camp.patch(plan["uri"], [{"op": "replace", "path": "/camp_version", "value": "X"}]), 403)
    error(camp.patch(plan["uri"], [], content_type="application/json"), 415)
    # 404 comes before 415.
    error(camp.patch("plans/999999", [], content_type="text/plain"), 404)
    error(camp.put("plans/999999", data="x", headers={"Content-Type": "text/plain"}), 404)
    assert ok(camp.get(plan["uri"]))["description"] == "patched"
    assert camp.delete(plan["uri"]).status_code == 204
    error(camp.get(plan["uri"]), 404)
    error(camp.delete(plan["uri"]), 404)


@pytest.mark.parametrize("text", [
    "",
    "name: no-version\n",
    "camp_version: CAMP 1.0\n",
    "camp_version: [CAMP 1.1\n",
    "- a list\n",
    "camp_version: CAMP 1.1\ntags: notalist\n",
    "camp_version: CAMP 1.1\n---\ncamp_version: CAMP 1.1\n",
])
def test_bad_plans_are_400(user, text):
    error(user().yaml("plans", text), 400)


def test_alias_bombs_and_deep_plans_are_400(user):
    camp = user()
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i-1}'] * 10)}]\n" for i in range(1, 12))
    assert "more than" in error(camp.yaml("plans", "camp_version: CAMP 1.1\n" + bomb), 400)["detail"]
    deep = "camp_version: CAMP 1.1\nx: " + "[" * 60 + "]" * 60 + "\n"
    error(camp.yaml("plans", deep), 400)
    huge = "camp_version: CAMP 1.1\nx: '" + "y" * (300 * 1024) + "'\n"
    assert camp.yaml("plans", huge).status_code == 413


def test_plan_registration_media_types_and_references(user):
    camp = user()
    error(camp.post("plans", data="x", headers={"Content-Type": "text/plain"}), 415)
    error(camp.post("plans", data=b"x"), 415)
    source = ok(camp.yaml("plans", plan_yaml(uniq("src"))), 201)
    copy = ok(camp.post("plans", json={"plan_uri": source["uri"]}), 201)
    assert copy["uri"] != source["uri"] and copy["name"] == source["name"]
    relative = source["uri"].split("/camp/v1_1")[1]
    ok(camp.post("plans", json={"plan_uri": "/camp/v1_1" + relative}), 201)
    error(camp.post("plans", json={"pdp_uri": "http://elsewhere/x.zip"}), 501)
    error(camp.post("plans", json={"plan_uri": "http://elsewhere.example/camp/v1_1/plans/1"}), 501)
    error(camp.post("plans", json={}), 400)
    error(camp.post("plans", json={"plan_uri": "plans/999999"}), 404)
    # multipart plan_file
    reply = camp.post("plans", files={"plan_file": ("camp.yaml", plan_yaml(uniq("mp")).encode(), YAML)})
    ok(reply, 201)
    error(camp.post("plans", files={"other": ("x", b"y")}), 400)


def test_pdps_are_verified(user):
    camp = user()
    plan = plan_yaml(uniq("pdp"), artifacts="artifacts:\n  - name: tree\n    artifact_type: org.nubo:PDP\n").encode()
    files = {"camp.yaml": plan, "app.py": b"print('hi')\n"}
    good = ok(camp.post("plans", data=zip_pdp(files), headers={"Content-Type": "application/zip"}), 201)
    assert good["artifacts"][0]["artifact_type"] == "org.nubo:PDP"
    ok(camp.post("plans", data=tar_pdp(files), headers={"Content-Type": "application/gzip"}), 201)
    ok(camp.post("plans", data=tar_pdp(files, gz=False), headers={"Content-Type": "application/x-tar"}), 201)
    ok(camp.post("plans", files={"pdp_file": ("p.zip", zip_pdp(files), "application/zip")}), 201)
    bad = error(camp.post("plans", data=zip_pdp(files, bad="app.py"),
                          headers={"Content-Type": "application/zip"}), 400)
    assert "app.py" in bad["detail"], bad
    error(camp.post("plans", data=zip_pdp({"other.txt": b"x"}, manifest=False),
                    headers={"Content-Type": "application/zip"}), 400)
    # A manifest naming a file the package lacks.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("camp.yaml", plan)
        z.writestr("camp.mf", "SHA256(gone.txt)= " + "0" * 64 + "\n")
    assert "gone.txt" in error(camp.post("plans", data=out.getvalue(),
                                         headers={"Content-Type": "application/zip"}), 400)["detail"]


def test_hostile_pdps_are_400(user):
    camp = user()
    plan = plan_yaml(uniq("evil")).encode()
    # `..` in a zip and in a tarball.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("camp.yaml", plan)
        z.writestr(zipfile.ZipInfo("../evil.txt"), b"x")
    assert "outside" in error(camp.post("plans", data=out.getvalue(),
                                        headers={"Content-Type": "application/zip"}), 400)["detail"]
    error(camp.post("plans", data=tar_pdp({"camp.yaml": plan, "../evil.txt": b"x"}),
                    headers={"Content-Type": "application/gzip"}), 400)
    # A symbolic link out of a tarball.
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        info = tarfile.TarInfo("camp.yaml")
        info.size = len(plan)
        t.addfile(info, io.BytesIO(plan))
        link = tarfile.TarInfo("passwd")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        t.addfile(link)
    error(camp.post("plans", data=out.getvalue(), headers={"Content-Type": "application/x-tar"}), 400)
    # A zip bomb: ~300 KB that inflates past the 256 MiB limit.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("camp.yaml", plan)
        with z.open("zeros", "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(300):
                f.write(chunk)
    assert len(out.getvalue()) < 2 << 20
    assert "more than" in error(camp.post("plans", data=out.getvalue(),
                                          headers={"Content-Type": "application/zip"}), 400)["detail"]
    error(camp.post("plans", data=b"not an archive", headers={"Content-Type": "application/zip"}), 400)


def wait_build_end(camp: Camp, uri: str) -> dict:
    return wait_for(lambda: (a := ok(camp.get(uri))).get("last_build", {}).get("status") in ("failed", "succeeded") and a,
                    what="the assembly's build to end", timeout=120)


def test_deploy_by_reference_is_an_app_with_a_build(nubod, user):
    camp = user()
    name = uniq("Shop")
    plan = ok(camp.yaml("plans", plan_yaml(name, git_artifact())), 201)
    reply = camp.post("assemblies", json={"plan_uri": plan["uri"]})
    assembly = ok(reply, 201)
    assert reply.headers["location"] == assembly["uri"]
    assert assembly["type"] == "assembly" and assembly["plan_uri"] == plan["uri"]
    assert assembly["representation_skew"] in ("CREATING", "NONE")
    assert assembly["name"] == name.lower().replace("_", "-")
    assert assembly["description"] == "a test plan" and assembly["tags"] == ["t1"]
    assert assembly["uri"] in [l["href"] for l in ok(camp.get("assemblies"))["assembly_links"]]
    # The same object through the REST API.
    rest = Rest(nubod.api, *camp.session.auth)
    app = rest.get(f"/apps/{assembly['name']}")
    assert app.status_code == 200, app.text
    builds = rest.get(f"/apps/{assembly['name']}/builds").json()
    assert builds and builds[0]["source_ref"] == "main"
    done = wait_build_end(camp, assembly["uri"])
    assert done["last_build"]["status"] == "failed"
    assert "cannot fetch the source" in done["last_build"]["reason"]
    assert done["representation_skew"] == "NONE" and done["components"] == []
    assert camp.get(done["logs_uri"]).status_code == 200
    # A second deploy of the same plan gets a numeric suffix.
    second = ok(camp.post("assemblies", json={"plan_uri": plan["uri"]}), 201)
    assert second["name"] == assembly["name"] + "-2"
    # The plan is in use.
    assert "still used" in error(camp.delete(plan["uri"]), 409)["detail"]
    assert camp.delete(assembly["uri"]).status_code == 204
    error(camp.get(assembly["uri"]), 404)
    assert rest.get(f"/apps/{assembly['name']}").status_code == 404
    error(camp.delete(plan["uri"]), 409)
    assert camp.delete(second["uri"]).status_code == 204
    assert camp.delete(plan["uri"]).status_code == 204


def test_deploy_by_value(user):
    camp = user()
    # Plan YAML.
    a = ok(camp.yaml("assemblies", plan_yaml(uniq("val"), git_artifact())), 201)
    assert "plan_uri" not in a and a["last_build"]["status"] in ("queued", "building", "failed")
    # Multipart plan_file.
    b = ok(camp.post("assemblies", files={"plan_file": ("camp.yaml", plan_yaml(uniq("mp"), git_artifact()).encode())}), 201)
    # A PDP whose tree is the source, and one with a tarball member.
    tree_plan = plan_yaml(uniq("tree"), "artifacts:\n  - name: t\n    artifact_type: org.nubo:PDP\n").encode()
    c = ok(camp.post("assemblies", data=zip_pdp({"camp.yaml": tree_plan, "app.py": b"print(1)\n"}),
                     headers={"Content-Type": "application/zip"}), 201)
    assert c["last_build"]["id"] > 0
    member = tar_pdp({"app.py": b"print(2)\n"})
    tar_plan = plan_yaml(uniq("tgz"), "artifacts:\n  - name: t\n    artifact_type: org.nubo:Tarball\n"
                                      "    content: {href: src/app.tgz}\n").encode()
    d = ok(camp.post("assemblies", files={"pdp_file": ("p.tgz", tar_pdp({"camp.yaml": tar_plan, "src/app.tgz": member}),
                                                         "application/gzip")}), 201)
    assert d["last_build"]["id"] > 0
    # Without artifacts: an app with nothing to build.
    e = ok(camp.yaml("assemblies", plan_yaml(uniq("bare"))), 201)
    assert "last_build" not in e and e["representation_skew"] == "NONE"
    # PDPs registered as plans deploy by reference too.
    registered = ok(camp.post("plans", data=zip_pdp({"camp.yaml": tree_plan, "app.py": b"x"}),
                              headers={"Content-Type": "application/zip"}), 201)
    f = ok(camp.post("assemblies", json={"plan_uri": registered["uri"]}), 201)
    assert f["last_build"]["id"] > 0
    for x in (a, b, c, d, e, f):
        assert camp.delete(x["uri"]).status_code == 204


def test_deploy_errors(user):
    camp = user()
    before = len(ok(camp.get("assemblies"))["assembly_links"])
    unknown = plan_yaml(uniq("zip"), "artifacts:\n  - name: z\n    artifact_type: com.example:ZIP\n")
    assert "not supported" in error(camp.yaml("assemblies", unknown), 422)["detail"]
    error(camp.yaml("assemblies", plan_yaml(uniq("ssh"), git_artifact("ssh://host/repo.git"))), 422)
    tarball_without_pdp = plan_yaml(uniq("t"), "artifacts:\n  - name: t\n    artifact_type: org.nubo:Tarball\n"
                                               "    content: {href: app.tgz}\n")
    error(camp.yaml("assemblies", tarball_without_pdp), 422)
    missing_member = plan_yaml(uniq("m"), "artifacts:\n  - name: t\n    artifact_type: org.nubo:Tarball\n"
                                          "    content: {href: nope.tgz}\n").encode()
    error(camp.post("assemblies", data=zip_pdp({"camp.yaml": missing_member}),
                    headers={"Content-Type": "application/zip"}), 422)
    error(camp.yaml("assemblies", "camp_version: CAMP 2\n"), 400)
    error(camp.post("assemblies", data=b"{}"), 415)
    error(camp.post("assemblies", json={}), 400)
    error(camp.post("assemblies", json={"pdp_uri": "http://x/p.zip"}), 501)
    error(camp.post("assemblies", json={"plan_uri": "http://elsewhere.example/camp/v1_1/plans/1"}), 501)
    error(camp.post("assemblies", json={"plan_uri": "plans/999999"}), 404)
    assert len(ok(camp.get("assemblies"))["assembly_links"]) == before


def test_assemblies_patch_and_components(user):
    camp = user()
    a = ok(camp.yaml("assemblies", plan_yaml(uniq("pat"))), 201)
    new_name = uniq("renamed").lower().replace("_", "-")
    patched = ok(camp.patch(a["uri"], [{"op": "replace", "path": "/name", "value": new_name},
                                       {"op": "replace", "path": "/description", "value": "d2"},
                                       {"op": "add", "path": "/tags/-", "value": "t2"}]))
    assert patched["name"] == new_name and patched["description"] == "d2" and patched["tags"] == ["t1", "t2"]
    assert patched["uri"] == a["uri"]
    error(camp.patch(a["uri"], [{"op": "replace", "path": "/representation_skew", "value": "NONE!"}]), 403)
    error(camp.patch(a["uri"], [{"op": "replace", "path": "/name", "value": "Not A Label"}]), 422)
    error(camp.patch(a["uri"], [{"op": "remove", "path": "/nope"}]), 422)
    error(camp.patch(a["uri"], [{"path": "/name"}]), 400)
    error(camp.patch(a["uri"], [], content_type="application/json"), 415)
    error(camp.patch("assemblies/999999", [], content_type="text/plain"), 404)
    assert ok(camp.get(a["uri"] + "?select_attr=name"))["name"] == new_name
    error(camp.get("components/999999-web"), 404)
    error(camp.get(a["uri"].replace("assemblies", "components") + "-web"), 404)
    assert camp.delete(a["uri"]).status_code == 204
    error(camp.delete(a["uri"]), 404)


def test_other_users_see_nothing(user):
    owner, other = user(), user()
    plan = ok(owner.yaml("plans", plan_yaml(uniq("mine"))), 201)
    assembly = ok(owner.post("assemblies", json={"plan_uri": plan["uri"]}), 201)
    for uri in (plan["uri"], assembly["uri"]):
        error(other.get(uri), 404)
        error(other.delete(uri), 404)
        error(other.patch(uri, [{"op": "replace", "path": "/description", "value": "x"}]), 404)
    error(other.put(plan["uri"], json={"description": "x"}), 404)
    error(other.post("assemblies", json={"plan_uri": plan["uri"]}), 404)
    error(other.post("plans", json={"plan_uri": plan["uri"]}), 404)
    assert plan["uri"] not in [l["href"] for l in ok(other.get("plans"))["plan_links"]]
    assert assembly["uri"] not in [l["href"] for l in ok(other.get("assemblies"))["assembly_links"]]
    assert ok(owner.get(plan["uri"]))["description"] == "a test plan"
    assert owner.delete(assembly["uri"]).status_code == 204
    assert owner.delete(plan["uri"]).status_code == 204


def test_plans_and_their_links_survive_kill_9():
    d = Nubod().start()
    try:
        admin = Rest(d.api, "oneadmin", d.admin_password)
        register_stack(d.admin(), admin)
        camp = Camp(d, "oneadmin", d.admin_password)
        files = {"camp.yaml": plan_yaml(uniq("kept"), "artifacts:\n  - name: t\n    artifact_type: org.nubo:PDP\n").encode(),
                 "app.py": b"print(1)\n"}
        plan = ok(camp.post("plans", data=zip_pdp(files), headers={"Content-Type": "application/zip"}), 201)
        assembly = ok(camp.post("assemblies", json={"plan_uri": plan["uri"]}), 201)
        d.kill()
        d.restart()
        camp = Camp(d, "oneadmin", d.admin_password)
        assert ok(camp.get(plan["uri"])) == plan
        again = ok(camp.get(assembly["uri"]))
        assert again["plan_uri"] == plan["uri"] and again["tags"] == ["t1"]
        error(camp.delete(plan["uri"]), 409)
        # The kept PDP deploys again after the restart.
        ok(camp.post("assemblies", json={"plan_uri": plan["uri"]}), 201)
        newer = ok(camp.yaml("plans", plan_yaml(uniq("newer"))), 201)
        assert int(newer["uri"].rsplit("/", 1)[1]) > int(plan["uri"].rsplit("/", 1)[1])
    finally:
        d.stop()
