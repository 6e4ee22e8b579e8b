"""Where images may be imported from (issue 12 D, docs/security.md "Image imports").

The attacks of the finding, through pyone against a real nubod with its default
configuration: copying nubod's own environment (/proc/self/environ, which holds
NUBO_ADMIN_PASSWORD), its home's .one/one_auth or its data directory into an image, by
a symlink or `..` too, and downloading from services on this machine. Users import only
from SAFE_DIRS (/var/tmp); the oneadmin group from anywhere but the private places; the
overrides of nubod's [images] section lift the rules they name."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from onehelpers import ALLOCATE, Nubod, connect, uniq, wait_for

READY = 1


@pytest.fixture(scope="module")
def cloud():
    """A nubod with the default configuration, its default datastore usable by all, and
    a user in the users group: (nubod, oneadmin, user)."""
    d = Nubod().start()
    admin = d.admin()
    admin.datastore.chmod(1, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    uid = admin.call("user.allocate", "mallory", "pw-mallory", "core")
    assert uid > 0
    user = connect(d.endpoint, "mallory:pw-mallory")
    # What an attacker wants: oneadmin's credentials where OpenNebula's tools keep them.
    one_dir = d.tmp / "home" / ".one"
    one_dir.mkdir(parents=True, exist_ok=True)
    (one_dir / "one_auth").write_text(d.admin_session + "\n")
    yield d, admin, user
    d.stop()


@pytest.fixture
def safe_dir():
    """A directory in /var/tmp, OpenNebula's default SAFE_DIRS."""
    with tempfile.TemporaryDirectory(prefix="nubo-compat-", dir="/var/tmp") as d:
        os.chmod(d, 0o755)
        yield Path(d)


def stored(d: Nubod, admin) -> tuple[int, int]:
    """Images in the pool and files in the default datastore's directory."""
    images = len(admin.xml("imagepool.info", -2, -1, -1).findall("IMAGE"))
    ds_dir = d.tmp / "data" / "datastores" / "1"
    files = len(list(ds_dir.iterdir())) if ds_dir.is_dir() else 0
    return images, files


def refused(d: Nubod, admin, who, path: str, why: str) -> str:
    """`who` registering PATH `path` fails with ALLOCATE, naming the path and `why`, leaking
    nothing of nubod's secrets, and storing nothing."""
    before = stored(d, admin)
    msg = who.fails(ALLOCATE, "image.allocate",
                    f'NAME="{uniq("steal")}"\nTYPE="DATABLOCK"\nPATH="{path}"', 1)
    assert path in msg and why in msg, msg
    assert d.admin_password not in msg and "NUBO_ADMIN_PASSWORD" not in msg, msg
    assert stored(d, admin) == before, f"{path}: nothing is stored"
    return msg


def imported(admin, who, path: str) -> bytes:
    """`who` registers PATH `path`; the bytes of the image's file once READY."""
    iid = who.image.allocate(f'NAME="{uniq("ok")}"\nTYPE="DATABLOCK"\nPATH="{path}"', 1)
    wait_for(lambda: admin.image.info(iid).STATE == READY, what="image READY")
    return Path(admin.image.info(iid).SOURCE).read_bytes()


def test_a_user_cannot_copy_nubods_secrets_into_an_image(cloud, safe_dir, tmp_path):
    d, admin, user = cloud
    msg = refused(d, admin, user, "/proc/self/environ", "under /proc")
    assert "Not allowed to copy image file" in msg
    refused(d, admin, user, str(d.tmp / "home" / ".one" / "one_auth"), "nubod's own files")
    refused(d, admin, user, str(d.tmp / "data" / "host.key"), "nubod's own files")
    refused(d, admin, user, "/proc/self/root/proc/self/environ", "under /proc")
    refused(d, admin, user, f"{safe_dir}/../../../proc/self/environ", "under /proc")
    (safe_dir / "environ").symlink_to("/proc/self/environ")
    refused(d, admin, user, str(safe_dir / "environ"), "under /proc")
    (safe_dir / "auth").symlink_to(d.tmp / "home" / ".one" / "one_auth")
    refused(d, admin, user, str(safe_dir / "auth"), "nubod's own files")
    # Outside SAFE_DIRS (RESTRICTED_DIRS="/" for users), directly or by a planted symlink.
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\3" * 4096)
    msg = refused(d, admin, user, str(disk), "restricted directory of datastore 1")
    assert 'SAFE_DIRS="/var/tmp"' in msg, msg
    (safe_dir / "disk").symlink_to(disk)
    refused(d, admin, user, str(safe_dir / "disk"), "restricted directory")
    refused(d, admin, user, "/etc/passwd", "restricted directory")
    # A file in SAFE_DIRS is what users import.
    ok = safe_dir / "mine.raw"
    ok.write_bytes(b"\4" * 8192)
    ok.chmod(0o644)
    assert imported(admin, user, str(ok)) == b"\4" * 8192


def test_oneadmin_cannot_either(cloud, tmp_path):
    d, admin, _ = cloud
    refused(d, admin, admin, "/proc/self/environ", "under /proc")
    refused(d, admin, admin, "/proc/1/environ", "under /proc")
    refused(d, admin, admin, str(d.tmp / "home" / ".one" / "one_auth"), "nubod's own files")
    refused(d, admin, admin, str(d.tmp / "data" / "host.key"), "nubod's own files")
    refused(d, admin, admin, "/dev/zero", "under /dev")
    # The oneadmin group imports from anywhere else (but /etc), as the other tests do.
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\5" * 4096)
    assert imported(admin, admin, str(disk)) == b"\5" * 4096


@pytest.mark.parametrize("who", ["user", "oneadmin"])
def test_urls_cannot_reach_this_machine(cloud, who):
    d, admin, user = cloud
    caller = admin if who == "oneadmin" else user
    for url in [f"http://127.0.0.1:{d.port}/RPC2", f"http://localhost:{d.port}/RPC2",
                f"http://[::1]:{d.port}/RPC2", f"http://0.0.0.0:{d.port}/RPC2",
                f"http://[::ffff:127.0.0.1]:{d.port}/RPC2", "http://169.254.169.254/latest"]:
        msg = refused(d, admin, caller, url, "Not allowed to download")
        assert "local addresses" in msg, msg


def test_the_overrides_lift_only_what_they_name():
    d = Nubod(config="[images]\nallow_private_paths = true\n").start()
    try:
        admin = d.admin()
        admin.datastore.chmod(1, 1, 1, 0, 1, 0, 0, 1, 0, 0)
        admin.call("user.allocate", "eve", "pw-eve", "core")
        user = connect(d.endpoint, "eve:pw-eve")
        # The administrator asked for it: oneadmin may read nubod's environment...
        assert d.admin_password.encode() in imported(admin, admin, "/proc/self/environ")
        # ...users still import from SAFE_DIRS only, and URLs stay off this machine.
        refused(d, admin, user, "/proc/self/environ", "restricted directory")
        refused(d, admin, admin, f"http://127.0.0.1:{d.port}/RPC2", "Not allowed to download")
    finally:
        d.stop()
