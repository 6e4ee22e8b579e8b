"""Monitoring figures clients show, as OpenNebula 7.4 gives them: a host's MONITORING
carries its CAPACITY (FREE_CPU, FREE_MEMORY, USED_CPU, USED_MEMORY) in host.info and
hostpool.info (as `onehost show` prints them); datastores report TOTAL_MB, FREE_MB and
USED_MB of the filesystem their directory is on; zone 0's ENDPOINT is where nubod serves
XML-RPC, or the configured public endpoint."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from onehelpers import Nubod, wait_for
from test_vm import host

CAPACITY = ("FREE_CPU", "FREE_MEMORY", "USED_CPU", "USED_MEMORY")


@pytest.fixture(scope="module")
def hid(nubod):
    return host(nubod.admin())


def capacity(root):
    cap = root.find("MONITORING/CAPACITY")
    assert cap is not None, "no MONITORING/CAPACITY"
    return {k: int(cap.findtext(k)) for k in CAPACITY}


def test_host_info_carries_the_latest_capacity(one, hid):
    wait_for(lambda: one.xml("host.info", hid).find("MONITORING/CAPACITY") is not None,
             what="a monitoring sample in host.info")
    h = one.xml("host.info", hid)
    mon = h.find("MONITORING")
    assert int(mon.findtext("ID")) == hid and int(mon.findtext("TIMESTAMP")) > 0
    cap = capacity(h)
    total_cpu = int(h.findtext("HOST_SHARE/TOTAL_CPU"))
    total_mem = int(h.findtext("HOST_SHARE/TOTAL_MEM"))
    assert cap["FREE_CPU"] + cap["USED_CPU"] == total_cpu > 0, (cap, total_cpu)
    assert cap["FREE_MEMORY"] + cap["USED_MEMORY"] == total_mem > 0, (cap, total_mem)
    # the same figures host.monitoring has as its latest sample
    samples = one.xml("host.monitoring", hid).findall("MONITORING")
    latest = max(samples, key=lambda m: int(m.findtext("TIMESTAMP")))
    assert int(latest.findtext("TIMESTAMP")) >= int(mon.findtext("TIMESTAMP"))
    # and every host of the pool carries its own
    pool = one.xml("hostpool.info")
    mine = [x for x in pool.findall("HOST") if int(x.findtext("ID")) == hid]
    assert len(mine) == 1 and set(capacity(mine[0])) == set(CAPACITY)
    assert int(mine[0].findtext("MONITORING/ID")) == hid


def test_onedatastore_show_prints_capacity(nubod, one, tmp_path):
    """opennebula-cli's onedatastore shows the figures (its onehost shows no MONITORING)."""
    wait_for(lambda: int(one.xml("datastore.info", 1).findtext("TOTAL_MB")) > 0,
             what="datastore 1 monitored")
    exe = Path(sys.executable).with_name("onedatastore")
    if not exe.exists():
        pytest.fail("opennebula-cli's onedatastore is not installed (tests/compat/requirements.txt)")
    auth = tmp_path / "one_auth"
    auth.write_text(nubod.admin_session + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONE_", "OPENNEBULA_"))}
    env.update({"ONE_XMLRPC": nubod.endpoint, "ONE_AUTH": str(auth), "HOME": str(tmp_path),
                "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"})
    p = subprocess.run([str(exe), "--output", "json", "show", "1"], env=env,
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    shown = json.loads(p.stdout)
    total = int(one.xml("datastore.info", 1).findtext("TOTAL_MB"))
    assert shown["total_mb"] == total > 0 and 0 <= shown["free_mb"] <= total, shown


def df(path):
    """(TOTAL_MB, FREE_MB, USED_MB) as `df -B1M` counts them."""
    while not os.path.exists(path):
        path = os.path.dirname(path)
    st = os.statvfs(path)
    mb = lambda blocks: blocks * st.f_frsize // (1024 * 1024)  # noqa: E731
    return mb(st.f_blocks), mb(st.f_bavail), mb(st.f_blocks - st.f_bfree)


@pytest.mark.parametrize("ds_id", [0, 1, 2])
def test_datastores_report_their_filesystem(one, ds_id):
    wait_for(lambda: int(one.xml("datastore.info", ds_id).findtext("TOTAL_MB")) > 0,
             what=f"datastore {ds_id} monitored")
    d = one.xml("datastore.info", ds_id)
    got = tuple(int(d.findtext(k)) for k in ("TOTAL_MB", "FREE_MB", "USED_MB"))
    want = df(d.findtext("BASE_PATH"))
    assert got[0] == want[0], (got, want)
    # free and used move as files come and go: within 1 GB of what df says now
    assert abs(got[1] - want[1]) < 1024 and abs(got[2] - want[2]) < 1024, (got, want)
    assert got[1] + got[2] <= got[0]
    pool = {int(x.findtext("ID")): x for x in one.xml("datastorepool.info").findall("DATASTORE")}
    assert int(pool[ds_id].findtext("TOTAL_MB")) == got[0]


def test_datastore_figures_are_refreshed(nubod, one):
    """A file written into the datastore's filesystem shows in FREE_MB at a later round."""
    base = one.xml("datastore.info", 1).findtext("BASE_PATH")
    wait_for(lambda: int(one.xml("datastore.info", 1).findtext("TOTAL_MB")) > 0,
             what="datastore 1 monitored")
    os.makedirs(base, exist_ok=True)
    blob = os.path.join(base, "monitoring-probe")
    free_before = int(one.xml("datastore.info", 1).findtext("FREE_MB"))
    with open(blob, "wb") as f:
        f.truncate(0)
        chunk = b"\0" * (1 << 20)
        for _ in range(300):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    try:
        wait_for(lambda: int(one.xml("datastore.info", 1).findtext("FREE_MB")) <= free_before - 200,
                 timeout=30, what="FREE_MB to drop by the file's 300 MB")
    finally:
        os.unlink(blob)


def test_zone_endpoint_is_where_nubod_serves(one, nubod):
    z = one.xml("zone.info", 0)
    assert z.findtext("TEMPLATE/ENDPOINT") == nubod.endpoint
    pool = one.xml("zonepool.info")
    assert pool.find("ZONE").findtext("TEMPLATE/ENDPOINT") == nubod.endpoint


def test_zone_endpoint_can_be_configured():
    d = Nubod(config='[xmlrpc]\npublic_endpoint = "https://cloud.example.org/RPC2"\n').start()
    try:
        one = d.admin()
        assert one.xml("zone.info", 0).findtext("TEMPLATE/ENDPOINT") == \
            "https://cloud.example.org/RPC2"
        # without it again, the next start records the bound address
        d.kill()
        d.config = ""
        d.restart()
        one = d.admin()
        assert one.xml("zone.info", 0).findtext("TEMPLATE/ENDPOINT") == d.endpoint
    finally:
        d.stop()
