"""GET /metrics on nubod's API listener (docs/metrics.md), scraped with requests and read
with the real parsers of the prometheus-client package: Prometheus' text format by default,
OpenMetrics when asked for. Calls made through pyone (XML-RPC), boto3 (EC2) and the REST
API move the API counters by exactly what was called, under bounded labels (hostile method
names are one `unknown`); histograms agree with the counters; hosts and VMs by state match
what the XML-RPC pools say; the scheduler's placements and the router's requests are
counted; and only oneadmin's group or the configured bearer token may scrape."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as prometheus

from ec2helpers import boto3_for_new_user
from onehelpers import Nubod, connect, free_port, raw_call, uniq, wait_for
from resthelpers import Rest, register_stack

TOKEN = "scrape-" + "0123456789abcdef"


@pytest.fixture(scope="module")
def cloud():
    ec2_port = free_port()
    d = Nubod(extra_args=["--ec2", f"127.0.0.1:{ec2_port}"],
              config=f'[metrics]\ntoken = "{TOKEN}"\n').start()
    d.ec2_url = f"http://127.0.0.1:{ec2_port}"
    one = d.admin()
    d.host = one.host.allocate(uniq("mh"), "dummy", "dummy", -1)
    wait_for(lambda: one.host.info(d.host).STATE == 2, what="host MONITORED")
    yield d
    alive = d.alive()
    tail = d.stderr_tail()
    d.stop()
    assert alive, f"nubod died\n{tail}"


def new_user(d, groups: list) -> tuple[str, str]:
    """A new user of `d` in `groups` (none: users); its name and password."""
    name, password = uniq("mu"), "pw-" + uniq("p")
    d.admin().user.allocate(name, password, "core", groups)
    return name, password


def metrics_url(d) -> str:
    return f"http://127.0.0.1:{d.api_port}/metrics"


def scrape(d, accept: str | None = None) -> dict:
    """Every sample as {(name, sorted labels): value}, parsed by the text-format parser."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if accept:
        headers["Accept"] = accept
    r = requests.get(metrics_url(d), headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    parse = openmetrics if accept else prometheus
    out = {}
    for family in parse(r.text):
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, f"sample {key} twice"
            out[key] = s.value
    return out


def total(samples: dict, name: str, **labels) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == v2 for k, v2 in labels.items()))


def series(samples: dict, name: str) -> dict:
    return {ls: v for (n, ls), v in samples.items() if n == name}


def api(samples, interface, operation, result=None) -> float:
    labels = {"interface": interface, "operation": operation}
    if result:
        labels["result"] = result
    return total(samples, "nubo_api_requests_total", **labels)


def test_only_the_oneadmin_group_or_the_token_may_scrape(cloud):
    url = metrics_url(cloud)
    anonymous = requests.get(url, timeout=10)
    assert anonymous.status_code == 401
    assert "Basic" in anonymous.headers["www-authenticate"]
    assert requests.get(url, headers={"Authorization": "Bearer not-the-token-at-all"},
                        timeout=10).status_code == 401
    assert requests.get(url, auth=("oneadmin", "wrong"), timeout=10).status_code == 401
    refused = requests.get(url, auth=new_user(cloud, []), timeout=10)
    assert refused.status_code == 403, refused.text
    assert "nubo_" not in refused.text
    # A user whose group is oneadmin's may; so may oneadmin and the token.
    for auth, headers in [(new_user(cloud, [0]), {}), (("oneadmin", cloud.admin_password), {}),
                          (None, {"Authorization": f"Bearer {TOKEN}"})]:
        r = requests.get(url, auth=auth, headers=headers, timeout=10)
        assert r.status_code == 200, (auth, r.text)
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "nubo_hosts" in r.text


def test_api_calls_are_counted_by_interface_operation_and_result(cloud):
    before = scrape(cloud)
    one = cloud.admin()
    for _ in range(3):
        one.hostpool.info()
    name, password = new_user(cloud, [])
    ret = raw_call(cloud.endpoint, "one.vm.info", f"{name}:{password}", 999_999)
    assert ret[0] is False
    hostile = [f"one.{uniq('x')}.evil", "x" * 300, "one.vm.info.\u00e9"]
    for method in hostile:
        try:
            raw_call(cloud.endpoint, method, cloud.admin_session)
        except Exception:  # noqa: BLE001 - a fault is an answer too
            pass
    ec2 = boto3_for_new_user(cloud, cloud.ec2_url)
    for _ in range(2):
        ec2.describe_regions()
    r = requests.post(cloud.ec2_url, data={"Action": "NoSuchAction" + uniq("a")}, timeout=10)
    assert r.status_code >= 400
    rest = Rest(cloud.api, "oneadmin", cloud.admin_password)
    for _ in range(2):
        assert rest.get("/apps").status_code == 200
    assert rest.get("/apps/" + uniq("none")).status_code == 404
    assert rest.get("/no/such/" + uniq("path")).status_code == 404
    after = scrape(cloud)

    def delta(*args):
        return api(after, *args) - api(before, *args)

    assert delta("xmlrpc", "one.hostpool.info", "ok") == 3
    assert delta("xmlrpc", "one.vm.info", "error") == 1
    assert delta("xmlrpc", "unknown", "error") == len(hostile)
    assert delta("ec2", "DescribeRegions", "ok") == 2
    assert delta("ec2", "unknown", "error") == 1
    assert delta("rest", "GET /api/v1/apps", "ok") == 2
    assert delta("rest", "GET /api/v1/apps/{app}", "error") == 1
    assert delta("rest", "unmatched", "error") == 1
    assert total(after, "nubo_api_requests_total", interface="rest",
                 operation="GET /api/v1/apps/{app}", status="4xx") >= 1
    # No label value is made of what clients sent.
    operations = {dict(ls)["operation"] for ls in series(after, "nubo_api_requests_total")}
    assert not [o for o in operations if "evil" in o or "xxx" in o or "none" in o or "such" in o]
    assert "unknown" in operations


def test_histograms_agree_with_the_counters(cloud):
    cloud.admin().vmpool.info(-2, -1, -1, -1)
    samples = scrape(cloud)
    calls = Counter()
    for ls, v in series(samples, "nubo_api_requests_total").items():
        labels = dict(ls)
        calls[(labels["interface"], labels["operation"], labels["result"])] += v
    counts = {}
    for ls, v in series(samples, "nubo_api_request_duration_seconds_count").items():
        labels = dict(ls)
        counts[(labels["interface"], labels["operation"], labels["result"])] = v
    assert counts and counts == dict(calls)
    for name in ["nubo_api_request_duration_seconds", "nubo_scheduler_placement_duration_seconds"]:
        buckets = {}
        for ls, v in series(samples, name + "_bucket").items():
            labels = dict(ls)
            le = labels.pop("le")
            buckets.setdefault(tuple(sorted(labels.items())), []).append((float(le), v))
        assert buckets, name
        for labels, bs in buckets.items():
            bs.sort()
            values = [v for _, v in bs]
            assert values == sorted(values), (name, labels, bs)
            assert bs[-1][0] == math.inf
            assert samples[(name + "_count", labels)] == bs[-1][1]
            assert samples[(name + "_sum", labels)] >= 0


def test_hosts_and_vms_by_state_match_the_pools(cloud):
    one = cloud.admin()
    before = scrape(cloud)
    template = f'NAME="{uniq("mvm")}"\nCPU="0.5"\nMEMORY="64"\nSCHED_REQUIREMENTS="ID = {cloud.host}"'
    held = [one.vm.allocate(template, True) for _ in range(2)]
    started = [one.vm.allocate(template, False) for _ in range(3)]
    wait_for(lambda: all(one.vm.info(v).LCM_STATE == 3 for v in started), what="VMs RUNNING")
    # Each VM's use shows once monitoring has seen it (a round a second).
    wait_for(lambda: all(((("vm", one.vm.info(v).NAME), ("vm_id", str(v))))
                         in series(scrape(cloud), "nubo_vm_memory_bytes") for v in started),
             what="the running VMs' monitoring in the metrics")
    after = scrape(cloud)
    vms = one.vmpool.info(-2, -1, -1, -1).VM
    want = Counter()
    for vm in vms:
        state = ["INIT", "PENDING", "HOLD", "ACTIVE", "STOPPED", "SUSPENDED", "DONE", "FAILED",
                 "POWEROFF", "UNDEPLOYED", "CLONING", "CLONING_FAILURE"][vm.STATE]
        lcm = "RUNNING" if (vm.STATE, vm.LCM_STATE) == (3, 3) else None
        want[(state, lcm)] += 1
    got = {(dict(ls)["state"], dict(ls)["lcm_state"]): v for ls, v in series(after, "nubo_vms").items()}
    for (state, lcm), n in want.items():
        if lcm:
            assert got[(state, "RUNNING")] == n
        else:
            assert sum(v for (s, _), v in got.items() if s == state) == n, state
    assert got[("HOLD", "LCM_INIT")] >= len(held)
    assert got[("POWEROFF", "LCM_INIT")] == 0  # every state is there, empty ones as 0
    assert total(after, "nubo_scheduler_pending_vms") == want[("PENDING", None)]
    placed = total(after, "nubo_scheduler_placement_duration_seconds_count") - \
        total(before, "nubo_scheduler_placement_duration_seconds_count")
    assert placed == len(started)

    hosts = one.hostpool.info().HOST
    by_state = series(after, "nubo_hosts")
    assert by_state[(("state", "MONITORED"),)] == sum(1 for h in hosts if h.STATE == 2)
    assert sum(by_state.values()) == len(hosts)
    host = one.host.info(cloud.host)
    key = (("host", host.NAME), ("host_id", str(cloud.host)))
    share = host.HOST_SHARE
    assert series(after, "nubo_host_cpu_capacity_cores")[key] == share.MAX_CPU / 100
    assert series(after, "nubo_host_cpu_allocated_cores")[key] == share.CPU_USAGE / 100
    assert series(after, "nubo_host_memory_capacity_bytes")[key] == share.MAX_MEM * 1024
    assert series(after, "nubo_host_memory_allocated_bytes")[key] == share.MEM_USAGE * 1024
    assert series(after, "nubo_host_running_vms")[key] == share.RUNNING_VMS
    assert key in series(after, "nubo_host_memory_used_bytes")
    # Only VMs with a monitoring sample have usage series; the held ones have none.
    vm_ids = {dict(ls)["vm_id"] for ls in series(after, "nubo_vm_cpu_cores")}
    assert {str(v) for v in started} <= vm_ids
    assert not {str(v) for v in held} & vm_ids
    for v in started:
        labels = (("vm", one.vm.info(v).NAME), ("vm_id", str(v)))
        assert (("nubo_vm_network_receive_bytes_total", labels)) in after


def test_apps_and_router_requests_are_counted(cloud):
    one = cloud.admin()
    admin = Rest(cloud.api, "oneadmin", cloud.admin_password)
    stack = register_stack(one, admin)
    before = scrape(cloud)
    name = uniq("mapp").lower().replace("_", "-")
    r = admin.post("/apps", json={"name": name, "stack": stack})
    assert r.status_code == 201, r.text
    # No instance is up: the router answers 503 for the app, and counts it.
    for _ in range(2):
        r = requests.get(f"http://127.0.0.1:{cloud.router_port}/", timeout=10,
                         headers={"Host": f"{name}.apps.localhost"})
        assert r.status_code == 503, r.text
    # A host no app has is no label value.
    requests.get(f"http://127.0.0.1:{cloud.router_port}/", timeout=10,
                 headers={"Host": f"{uniq('stray')}.apps.localhost"})
    after = scrape(cloud)
    assert total(after, "nubo_apps") - total(before, "nubo_apps") == 1
    assert total(after, "nubo_apps") == len(admin.get("/apps").json())
    assert total(after, "nubo_router_requests_total", app=name, status="5xx") == 2
    assert total(after, "nubo_router_request_duration_seconds_count", app=name) == 2
    apps = {dict(ls)["app"] for ls in series(after, "nubo_router_requests_total")}
    assert apps == {name}
    assert total(after, "nubo_api_requests_total", interface="rest",
                 operation="POST /api/v1/apps", result="ok") >= 1


def test_openmetrics_when_asked_for(cloud):
    r = requests.get(metrics_url(cloud), timeout=10,
                     headers={"Authorization": f"Bearer {TOKEN}",
                              "Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert r.text.endswith("# EOF\n")
    # The strict parser checks names, histograms (buckets, +Inf, count) and the EOF.
    names = {f.name for f in openmetrics(r.text)}
    assert {"nubo_hosts", "nubo_vms", "nubo_api_requests",
            "nubo_scheduler_placement_duration_seconds"} <= names
    assert scrape(cloud, accept="application/openmetrics-text")
