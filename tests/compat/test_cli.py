"""opennebula-cli 7.4.0 (`one` command) driven against nubod.

The CLI reads ONE_XMLRPC and ONE_AUTH (a file holding `user:password`),
authenticates with one.system.version and refuses servers that are not 7.0/7.4.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from onehelpers import uniq, wait_for


def one_cli() -> str:
    exe = Path(sys.executable).with_name("one")
    if exe.exists():
        return str(exe)
    found = shutil.which("one")
    if not found:
        pytest.fail("opennebula-cli's `one` command is not installed (tests/compat/requirements.txt)")
    return found


@pytest.fixture
def cli(nubod, tmp_path):
    auth = tmp_path / "one_auth"
    auth.write_text(nubod.admin_session + "\n")
    auth.chmod(0o600)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONE_", "OPENNEBULA_"))}
    env.update({
        "ONE_XMLRPC": nubod.endpoint,
        "ONE_AUTH": str(auth),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "NO_COLOR": "1",
        "TERM": "dumb",
        "COLUMNS": "200",
    })

    def run(*args, auth_file=None, check=True):
        e = dict(env)
        if auth_file is not None:
            e["ONE_AUTH"] = str(auth_file)
        p = subprocess.run([one_cli(), "--output", "json", *args], env=e, capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL)
        if check:
            assert p.returncode == 0, f"one {' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    return run


def test_version_gate_and_doctor(cli):
    out = json.loads(cli("doctor").stdout)
    assert out["healthy"] is True
    assert out["xmlrpc"]["authenticated"] is True
    assert out["xmlrpc"]["server_version"] == "7.4.0"
    assert out["xmlrpc"]["profile"] == "7.4"


def test_capabilities(cli):
    out = json.loads(cli("capabilities").stdout)
    assert out["server"]["version"] == "7.4.0"
    assert "one.system.version" in out["capabilities"]


def test_user_list_and_show(cli):
    users = json.loads(cli("user", "list").stdout)
    by_id = {u["id"]: u for u in users}
    assert by_id[0]["name"] == "oneadmin" and by_id[1]["name"] == "serveradmin"
    assert by_id[0]["auth_driver"] == "core" and by_id[0]["enabled"] is True
    show = json.loads(cli("user", "show", "0").stdout)
    assert show["name"] == "oneadmin" and show["group"] == "oneadmin"


def test_host_create_and_list(cli, one):
    name = uniq("clihost")
    out = json.loads(cli("host", "create", name, "--im-mad", "dummy", "--vmm-mad", "dummy").stdout)
    hid = out["id"]
    info = one.xml("host.info", hid)
    assert info.findtext("NAME") == name
    assert info.findtext("IM_MAD") == "dummy" and info.findtext("VM_MAD") == "dummy"
    hosts = json.loads(cli("host", "list").stdout)
    assert name in [h["name"] for h in hosts]
    shown = json.loads(cli("host", "show", str(hid)).stdout)
    assert shown["id"] == hid and shown["name"] == name


def test_image_create_and_list(cli, one):
    name = uniq("cliimg")
    out = json.loads(cli("image", "create", "--name", name, "--type", "DATABLOCK", "--size", "10",
                         "--datastore", "1").stdout)
    iid = out["id"]
    info = one.xml("image.info", iid)
    assert info.findtext("NAME") == name and info.findtext("TYPE") == "2"
    assert info.findtext("SIZE") == "10"
    wait_for(lambda: one.xml("image.info", iid).findtext("STATE") == "1", what="image READY")
    images = json.loads(cli("image", "list").stdout)
    assert iid in [i["id"] for i in images]
    shown = json.loads(cli("image", "show", str(iid)).stdout)
    assert shown["name"] == name and shown["datastore_id"] == 1


def test_bad_credentials_fail(cli, tmp_path):
    bad = tmp_path / "bad_auth"
    bad.write_text("oneadmin:definitely-wrong\n")
    p = cli("user", "list", auth_file=bad, check=False)
    assert p.returncode != 0
    assert p.stdout.strip() == "" or "oneadmin" not in p.stdout
