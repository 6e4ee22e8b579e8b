"""Monitoring figures clients show, as OpenNebula 7.4 gives them: a host's MONITORING
carries its CAPACITY (FREE_CPU, FREE_MEMORY, USED_CPU, USED_MEMORY) in host.info and
hostpool.info (as `onehost show` prints them); datastores report TOTAL_MB, FREE_MB and
USED_MB of the filesystem their directory is on; zone 0's ENDPOINT is where nubod serves
XML-RPC, or the configured public endpoint."""

import json
import os
import subprocess
import sys
import time
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


# How far a recorded figure may lie outside the df readings that bracket the round that
# measured it: the filesystem may move both ways between two readings.
SLACK_MB = 32
# How long before a reading the round that recorded a datastore's figures may have run
# (rounds run every second in the tests).
WINDOW_S = 3.0


def recorded(one, ds_id):
    d = one.xml("datastore.info", ds_id)
    return tuple(int(d.findtext(k)) for k in ("TOTAL_MB", "FREE_MB", "USED_MB"))


def wait_bracketed(one, ds_id, path, not_before=0.0, timeout=30.0):
    """Waits until the recorded (TOTAL_MB, FREE_MB, USED_MB) of `ds_id` are a df reading of
    `path` taken at some moment of the last few seconds (after `not_before`, a monotonic
    time): TOTAL_MB as df says, FREE_MB and USED_MB between the lowest and highest of the
    df readings taken around it (give or take SLACK_MB). Whatever else writes to the
    filesystem meanwhile, a recorded figure that is a fresh reading matches sooner or
    later; one that is stale, or computed wrongly, does not."""
    samples = []
    last = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples.append((time.monotonic(), df(path)))
        got = recorded(one, ds_id)
        samples.append((time.monotonic(), df(path)))
        since = max(not_before, time.monotonic() - WINDOW_S)
        window = [s for t, s in samples if t >= since]
        lo = [min(s[i] for s in window) - SLACK_MB for i in range(3)]
        hi = [max(s[i] for s in window) + SLACK_MB for i in range(3)]
        last = (got, window[0], window[-1])
        if abs(got[0] - window[-1][0]) <= 1 and all(lo[i] <= got[i] <= hi[i] for i in (1, 2)):
            return got
        time.sleep(0.2)
    pytest.fail(f"datastore {ds_id}'s figures never matched df of {path} "
                f"(recorded, first and last df reading: {last})", pytrace=False)


@pytest.mark.parametrize("ds_id", [0, 1, 2])
def test_datastores_report_their_filesystem(one, ds_id):
    wait_for(lambda: recorded(one, ds_id)[0] > 0, what=f"datastore {ds_id} monitored")
    base = one.xml("datastore.info", ds_id).findtext("BASE_PATH")
    got = wait_bracketed(one, ds_id, base)
    assert got[1] + got[2] <= got[0], got
    pool = {int(x.findtext("ID")): x for x in one.xml("datastorepool.info").findall("DATASTORE")}
    assert abs(int(pool[ds_id].findtext("TOTAL_MB")) - got[0]) <= 1


def test_datastore_figures_are_refreshed(nubod, one):
    """After 300 MB of random data is written into the datastore's filesystem, the recorded
    figures are those of df taken after the write: a later round measured them again."""
    base = one.xml("datastore.info", 1).findtext("BASE_PATH")
    wait_for(lambda: recorded(one, 1)[0] > 0, what="datastore 1 monitored")
    os.makedirs(base, exist_ok=True)
    blob = os.path.join(base, "monitoring-probe")
    before = recorded(one, 1)
    try:
        with open(blob, "wb") as f:
            for _ in range(300):
                f.write(os.urandom(1 << 20))
            f.flush()
            os.fsync(f.fileno())
        written = time.monotonic()
        moved = abs(df(base)[1] - before[1])
        got = wait_bracketed(one, 1, base, not_before=written)
        if moved > 2 * SLACK_MB:
            # the write moved df beyond the slack: the figures matched are new ones
            assert got != before, (got, before)
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
