"""one.image.*, one.imagepool.info"""

import shutil
import subprocess

import pytest

from onehelpers import (ACTION, ALLOCATE, AUTHENTICATION, AUTHORIZATION, INTERNAL, LOCAL_URLS,
                        LOCKED, NO_EXISTS, RPC_API, Nubod, connect, id_list, ids, outsider, perms, tmpl,
                        uniq, wait_for)

READY, USED, DISABLED, LOCKED_STATE, ERROR = 1, 2, 3, 4, 5
OS, CDROM, DATABLOCK = 0, 1, 2


def datablock(one, ds=1, size=10, fmt="raw", name=None, **extra):
    name = name or uniq("img")
    lines = [f'NAME="{name}"', 'TYPE="DATABLOCK"', f'SIZE="{size}"', f'FORMAT="{fmt}"']
    lines += [f'{k}="{v}"' for k, v in extra.items()]
    return one.image.allocate("\n".join(lines), ds), name


def wait_ready(one, iid, timeout=30):
    def state():
        s = int(one.xml("image.info", iid).findtext("STATE"))
        assert s != ERROR, f"image {iid} went to ERROR: {one.xml('image.info', iid).find('TEMPLATE/ERROR')}"
        return s == READY
    wait_for(state, timeout=timeout, what=f"image {iid} READY")
    return one.xml("image.info", iid)


def test_allocate_datablock_raw(one):
    iid, name = datablock(one, size=10, fmt="raw")
    info = wait_ready(one, iid)
    assert info.findtext("NAME") == name
    assert int(info.findtext("TYPE")) == DATABLOCK
    assert info.findtext("SIZE") == "10"
    assert info.findtext("FORMAT") == "raw"
    assert info.findtext("DATASTORE_ID") == "1" and info.findtext("DATASTORE") == "default"
    assert info.findtext("PERSISTENT") == "0"
    assert info.findtext("UID") == "0" and info.findtext("GID") == "0"
    assert perms(info) == (1, 1, 0, 0, 0, 0, 0, 0, 0)
    assert iid in id_list(one.xml("datastore.info", 1).find("IMAGES"))
    assert one.image.info(iid).NAME == name


def test_allocate_datablock_qcow2(one):
    iid, _ = datablock(one, size=20, fmt="qcow2")
    info = wait_ready(one, iid)
    assert info.findtext("FORMAT") == "qcow2" and info.findtext("SIZE") == "20"


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img not installed")
def test_allocate_from_file(one, tmp_path):
    path = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(path), "10M"], check=True,
                   capture_output=True)
    path.chmod(0o644)
    tmp_path.chmod(0o755)
    name = uniq("file")
    iid = one.image.allocate(f'NAME="{name}"\nPATH="{path}"', 1)
    info = wait_ready(one, iid)
    assert info.findtext("FORMAT") == "qcow2"
    assert info.findtext("SIZE") == "10"
    assert int(info.findtext("TYPE")) == OS
    assert info.findtext("PATH") == str(path)
    assert info.findtext("SOURCE")  # where the datastore keeps it


def test_allocate_errors(one, make_user):
    iid, name = datablock(one)
    # same owner + same name -> ALLOCATE
    msg = one.fails(ALLOCATE, "image.allocate", f'NAME="{name}"\nTYPE="DATABLOCK"\nSIZE="1"', 1)
    assert msg.startswith("[one.image.allocate] Error allocating a new image.")
    # no PATH and not a DATABLOCK: the size cannot be determined
    nopath = uniq("nopath")
    # semantics: oned fails this in stat ("Cannot parse image SIZE") -> INTERNAL; ALLOCATE accepted
    one.fails({INTERNAL, ALLOCATE}, "image.allocate", f'NAME="{nopath}"\nTYPE="OS"', 1)
    # system datastores do not hold images
    one.fails(ALLOCATE, "image.allocate", f'NAME="{uniq("s")}"\nTYPE="DATABLOCK"\nSIZE="1"', 0)
    one.fails(NO_EXISTS, "image.allocate", f'NAME="{uniq("s")}"\nTYPE="DATABLOCK"\nSIZE="1"', 99999)
    one.fails({ALLOCATE, INTERNAL}, "image.allocate", 'NAME="broken\nTYPE=', 1)
    # a user outside the default VDC may not use the datastore
    other = uniq("u")
    outsider(one, make_user, "DATASTORE").one.fails(AUTHORIZATION, "image.allocate",
                                                    f'NAME="{other}"\nTYPE="DATABLOCK"\nSIZE="1"', 1)
    connect(one.uri, "oneadmin:x").fails(AUTHENTICATION, "image.allocate",
                                         f'NAME="{other}"\nTYPE="DATABLOCK"\nSIZE="1"', 1)
    names = [i.findtext("NAME") for i in one.xml("imagepool.info", -2, -1, -1).findall("IMAGE")]
    assert names.count(name) == 1 and nopath not in names and other not in names


def test_info_errors(one, make_user):
    iid, _ = datablock(one)
    one.fails(NO_EXISTS, "image.info", 99999)
    make_user().one.fails(AUTHORIZATION, "image.info", iid)
    connect(one.uri, "a:b").fails(AUTHENTICATION, "image.info", iid)


def test_persistent(one, make_user):
    iid, _ = datablock(one)
    wait_ready(one, iid)
    one.image.persistent(iid, True)
    assert one.xml("image.info", iid).findtext("PERSISTENT") == "1"
    one.image.persistent(iid, False)
    assert one.xml("image.info", iid).findtext("PERSISTENT") == "0"
    one.fails(NO_EXISTS, "image.persistent", 99999, True)
    make_user().one.fails(AUTHORIZATION, "image.persistent", iid, True)
    assert one.xml("image.info", iid).findtext("PERSISTENT") == "0"


def test_enable_disable(one, make_user):
    iid, _ = datablock(one)
    wait_ready(one, iid)
    one.image.enable(iid, False)
    assert int(one.xml("image.info", iid).findtext("STATE")) == DISABLED
    make_user().one.fails(AUTHORIZATION, "image.enable", iid, True)
    one.image.enable(iid, True)
    assert int(one.xml("image.info", iid).findtext("STATE")) == READY
    one.fails(NO_EXISTS, "image.enable", 99999, True)


def test_chtype(one, make_user):
    iid, _ = datablock(one)
    wait_ready(one, iid)
    one.image.chtype(iid, "CDROM")
    assert int(one.xml("image.info", iid).findtext("TYPE")) == CDROM
    one.image.chtype(iid, "OS")
    assert int(one.xml("image.info", iid).findtext("TYPE")) == OS
    # OS/DATABLOCK/CDROM cannot become KERNEL/RAMDISK/CONTEXT
    one.fails(ACTION, "image.chtype", iid, "KERNEL")
    assert int(one.xml("image.info", iid).findtext("TYPE")) == OS
    one.fails(NO_EXISTS, "image.chtype", 99999, "OS")
    make_user().one.fails(AUTHORIZATION, "image.chtype", iid, "CDROM")


def test_clone(one, make_user):
    iid, name = datablock(one, size=12, fmt="qcow2", DESCRIPTION="orig")
    wait_ready(one, iid)
    cname = uniq("clone")
    cid = one.image.clone(iid, cname)
    assert cid != iid
    info = wait_ready(one, cid)
    assert info.findtext("NAME") == cname
    assert info.findtext("SIZE") == "12" and int(info.findtext("TYPE")) == DATABLOCK
    assert info.findtext("DATASTORE_ID") == "1"
    assert tmpl(info, "DESCRIPTION") == "orig"
    # the source image records the clone relation while cloning; after it both exist
    assert {iid, cid} <= set(ids(one.xml("imagepool.info", -2, -1, -1), "IMAGE"))
    one.fails(NO_EXISTS, "image.clone", 99999, uniq("c"))
    # a clone into a system datastore is refused
    one.fails(ACTION, "image.clone", iid, uniq("c"), 0)
    make_user().one.fails(AUTHORIZATION, "image.clone", iid, uniq("c"))


def test_rename_update(one, make_user):
    iid, _ = datablock(one)
    other, other_name = datablock(one)
    new = uniq("ren")
    one.image.rename(iid, new)
    assert one.xml("image.info", iid).findtext("NAME") == new
    one.fails(ACTION, "image.rename", iid, other_name)
    one.fails(NO_EXISTS, "image.rename", 99999, uniq("x"))
    one.image.update(iid, 'DESCRIPTION="d1"\nLABEL="l"', 1)
    info = one.xml("image.info", iid)
    assert tmpl(info, "DESCRIPTION") == "d1" and tmpl(info, "LABEL") == "l"
    one.image.update(iid, 'ONLY="o"', 0)
    info = one.xml("image.info", iid)
    assert tmpl(info, "LABEL") is None and tmpl(info, "ONLY") == "o"
    one.fails(RPC_API, "image.update", iid, 'A="1"', 4)
    one.fails(NO_EXISTS, "image.update", 99999, 'A="1"', 1)
    u = make_user()
    u.one.fails(AUTHORIZATION, "image.update", iid, 'A="1"', 1)
    u.one.fails(AUTHORIZATION, "image.rename", iid, uniq("x"))


def test_chmod_chown_reflected(one, make_user):
    iid, _ = datablock(one)
    u = make_user()
    one.image.chmod(iid, -1, -1, -1, 1, 0, 0, 1, 0, 0)
    assert perms(one.xml("image.info", iid)) == (1, 1, 0, 1, 0, 0, 1, 0, 0)
    assert int(u.one.xml("image.info", iid).findtext("ID")) == iid
    u.one.fails(AUTHORIZATION, "image.update", iid, 'X="1"', 1)
    one.image.chown(iid, u.id, 1)
    info = one.xml("image.info", iid)
    assert (int(info.findtext("UID")), info.findtext("UNAME")) == (u.id, u.name)
    assert (info.findtext("GID"), info.findtext("GNAME")) == ("1", "users")
    u.one.image.update(iid, 'X="mine"', 1)
    assert tmpl(one.xml("image.info", iid), "X") == "mine"
    one.fails(NO_EXISTS, "image.chown", iid, 99999, -1)
    one.fails(NO_EXISTS, "image.chmod", 99999, 1, 1, 1, 1, 1, 1, 1, 1, 1)


def test_lock_blocks_changes(one):
    iid, _ = datablock(one)
    one.image.lock(iid, 1, False)
    info = one.xml("image.info", iid)   # info is not blocked by a lock
    assert info.find("LOCK") is not None and info.findtext("LOCK/LOCKED") == "1"
    msg = one.fails({AUTHORIZATION, LOCKED}, "image.update", iid, 'X="1"', 1)
    assert "locked" in msg.lower()
    one.fails({AUTHORIZATION, LOCKED}, "image.rename", iid, uniq("x"))
    one.image.unlock(iid)
    assert one.xml("image.info", iid).find("LOCK") is None
    one.image.update(iid, 'X="1"', 1)
    one.fails(NO_EXISTS, "image.lock", 99999, 1, False)
    one.fails(NO_EXISTS, "image.unlock", 99999)


def test_snapshot_methods_without_snapshots(one):
    iid, _ = datablock(one)
    wait_ready(one, iid)
    for m in ("snapshotdelete", "snapshotrevert", "snapshotflatten"):
        one.fails(ACTION, f"image.{m}", iid, 0)
        one.fails(NO_EXISTS, f"image.{m}", 99999, 0)


def test_restore_of_non_backup_image(one):
    iid, _ = datablock(one)
    wait_ready(one, iid)
    # semantics: only BACKUP images can be restored -> ACTION
    one.fails(ACTION, "image.restore", iid, 1, "")
    one.fails(NO_EXISTS, "image.restore", 99999, 1, "")


def test_delete(one, make_user):
    iid, _ = datablock(one)
    wait_ready(one, iid)
    make_user().one.fails(AUTHORIZATION, "image.delete", iid)
    connect(one.uri, "oneadmin:x").fails(AUTHENTICATION, "image.delete", iid)
    assert one.image.info(iid).ID == iid
    one.image.delete(iid)

    def gone():
        try:
            one.image.info(iid)
            return False
        except Exception:  # noqa: BLE001
            return one.last_response is not None and one.last_response[2] == NO_EXISTS
    wait_for(gone, what=f"image {iid} deleted")
    assert iid not in ids(one.xml("imagepool.info", -2, -1, -1), "IMAGE")
    assert iid not in id_list(one.xml("datastore.info", 1).find("IMAGES"))
    one.fails(NO_EXISTS, "image.delete", iid)


def test_pool(one, make_user):
    a, _ = datablock(one)
    b, _ = datablock(one)
    got = ids(one.xml("imagepool.info", -2, -1, -1), "IMAGE")
    assert {a, b} <= set(got) and got == sorted(got)
    assert ids(one.xml("imagepool.info", -2, a, a), "IMAGE") == [a]
    # Ruby sends a 4th parameter; extra parameters are ignored
    assert ids(one.xml("imagepool.info", -2, -1, -1, -1), "IMAGE") == got
    one.fails(RPC_API, "imagepool.info", -5, -1, -1)
    # a fresh user sees none of oneadmin's mode-600 objects (other tests may have made
    # some objects world-readable, so only these two are checked)
    assert not {a, b} & set(ids(make_user().one.xml("imagepool.info", -2, -1, -1), "IMAGE"))
    connect(one.uri, "a:b").fails(AUTHENTICATION, "imagepool.info", -2, -1, -1)


def test_allocate_from_an_http_url(tmp_path):
    """From a server on 127.0.0.1, which needs nubod's allow_local_urls (see
    test_image_sources.py for the refusals without it)."""
    import hashlib
    import http.server
    import threading
    qemu_img = shutil.which("qemu-img")
    if qemu_img is None:
        pytest.skip("qemu-img is not installed")
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", str(tmp_path / "web.qcow2"), "20M"],
                   check=True)
    sha = hashlib.sha256((tmp_path / "web.qcow2").read_bytes()).hexdigest()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    d = Nubod(config=LOCAL_URLS).start()
    one = d.admin()
    try:
        iid = one.image.allocate(
            f'NAME="{uniq("web")}"\nTYPE="OS"\nPATH="{base}/web.qcow2"\nSHA256="{sha}"', 1)
        img = one.image.info(iid)
        assert (img.STATE, img.FORMAT, img.SIZE) == (1, "qcow2", 20)
        assert hashlib.sha256(open(img.SOURCE, "rb").read()).hexdigest() == sha
        msg = one.fails(ALLOCATE, "image.allocate",
                        f'NAME="{uniq("w")}"\nTYPE="OS"\nPATH="{base}/nope.qcow2"', 1)
        assert "404" in msg
        msg = one.fails(ALLOCATE, "image.allocate",
                        f'NAME="{uniq("w")}"\nTYPE="OS"\nPATH="{base}/web.qcow2"\nSHA256="{"0" * 64}"', 1)
        assert "SHA-256" in msg
    finally:
        server.shutdown()
        d.stop()
