"""A host that fails under a running app: the cloud has the local container host and a
second one (another nubo-hostd on this machine, on the same apps bridge); an app's two
web instances are spread over both (striping). The second host's agent and its
containers are killed: under a steady load through the router, its instance leaves the
routes at its first failed check and is started again on the host that is left; the lost
one is deleted without its host. Its own cloud (host monitoring every 2 s).

Needs what test_paas.py needs (root, runc, the Debian stack)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from hostd import hostd_binary
from onehelpers import free_port, uniq, wait_for
from resthelpers import Rest
from test_local_host import sweep_agent
from test_paas import instances, paas_cloud
from test_paas_rollout import Load, new_app



@pytest.fixture(scope="module")
def cloud():
    config = '[runtime]\nmonitor_interval_s = 2\nsched_policy = "striping"\n'
    with paas_cloud(config) as d:
        yield d


class SpareHost:
    """A second container host: nubo-hostd on this machine, registered under a name of its
    own (spare-…)."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.name = uniq("spare")
        self.tmp = Path(tempfile.mkdtemp(prefix="nubo-spare-"))
        self.tmp.chmod(0o711)
        self.state = self.tmp / "state"
        self.state.mkdir(mode=0o711)
        self.state.chmod(0o711)
        self.port = free_port()
        secret = subprocess.run(
            [str(cloud.binary), "--data-dir", str(cloud.tmp / "data"), "host-secret", self.name],
            capture_output=True, text=True, check=True, timeout=30).stdout.strip()
        self.secret = self.tmp / "secret"
        self.secret.write_text(secret + "\n")
        self.secret.chmod(0o600)
        self.log = open(self.tmp / "hostd.log", "ab")
        self.start()
        one = cloud.admin()
        self.id = one.host.allocate(self.name, "lxc", "lxc", -1)
        wait_for(lambda: one.host.info(self.id).STATE == 2, timeout=60,
                 what="the spare host MONITORED")

    def start(self):
        """Its agent (again: its containers and their state are kept)."""
        cloud = self.cloud
        self.proc = subprocess.Popen(
            [str(hostd_binary()), "--name", self.name, "--driver", "lxc",
             "--listen", f"127.0.0.1:{self.port}", "--advertise", f"http://127.0.0.1:{self.port}",
             "--secret-file", str(self.secret), "--state-dir", str(self.state),
             "--nubod", f"http://{cloud.host_api}", "--shutdown-timeout", "5"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, start_new_session=True)

    def vms(self) -> set[int]:
        ids = self.cloud.admin().host.info(self.id).VMS.ID
        return set(ids if isinstance(ids, list) else [ids] if ids is not None else [])

    def containers(self) -> list[Path]:
        """The runtime's state files of the host's containers (directories may vanish)."""
        found = []
        for root, _dirs, files in os.walk(self.state):
            if "state.json" in files:
                found.append(Path(root) / "state.json")
        return found

    def fail(self):
        """The host dies: its agent, then every container it ran (kill -9)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=15)
        for state in self.containers():
            root, cid = state.parent.parent, state.parent.name
            subprocess.run(["runc", "--root", str(root), "kill", cid, "KILL"],
                           capture_output=True, timeout=30)

    def remove(self):
        one = self.cloud.admin()
        for vm in self.vms():
            try:
                one.vm.recover(vm, 3)
            except Exception:  # noqa: BLE001 - best effort
                pass
        for state in self.containers():
            root, cid = state.parent.parent, state.parent.name
            subprocess.run(["runc", "--root", str(root), "delete", "--force", cid],
                           capture_output=True, timeout=30)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=15)
        # What a dead agent could not clean: its containers' mounts, network namespaces.
        sweep_agent(self.state, self.tmp)
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def rest(cloud) -> Rest:
    """A new user's REST client."""
    name, password = uniq("dev"), uniq("pw")
    cloud.admin().user.allocate(name, password, "core")
    return Rest(cloud.api, name, password)


def test_instances_of_a_failed_host_are_started_elsewhere_and_leave_the_routes(cloud, rest):
    spare = SpareHost(cloud)
    try:
        app = new_app(cloud, rest, 2)
        on_spare = [i for i in instances(rest, app) if i["vm_id"] in spare.vms()]
        assert len(on_spare) == 1, (instances(rest, app), spare.vms())
        lost = on_spare[0]
        admin = Rest(cloud.api, "oneadmin", cloud.admin_password)

        def routed_ips() -> set[str]:
            table = admin.get("/router/routes").json()
            return {b.split(":")[0] for a in table["apps"] if a["app"] == app
                    for b in a["backends"]}
        assert lost["ip"] in routed_ips()
        with Load(cloud, rest, app) as load:
            time.sleep(1)
            spare.fail()
            wait_for(lambda: lost["ip"] not in routed_ips(), timeout=30, interval=0.2,
                     what="the lost instance out of the routes")
            try:
                wait_for(lambda: len(instances(rest, app, "up", "web")) == 2
                         and lost["vm_id"] not in {i["vm_id"] for i in instances(rest, app)},
                         timeout=180, what="a new instance in its place and the lost one gone")
            except BaseException:
                one = cloud.admin()
                vm = one.vm.info(lost["vm_id"])
                print("instances:", instances(rest, app))
                print("lost VM:", vm.STATE, vm.LCM_STATE, "host", one.host.info(spare.id).STATE)
                print(rest.get(f"/apps/{app}/logs", params={"source": "nubo"}).text)
                raise
        now = instances(rest, app)
        assert not spare.vms() & {i["vm_id"] for i in now}, (now, spare.vms())
        assert sorted(i["index"] for i in now) == [1, 2], now
        one = cloud.admin()
        assert one.host.info(spare.id).STATE == 3  # ERROR
        assert one.vm.info(lost["vm_id"]).STATE == 6  # DONE, deleted without its host
        events = rest.get(f"/apps/{app}/logs", params={"source": "nubo"}).text
        assert (f"web.{lost['index']} failed its health check" in events
                or f"web.{lost['index']}'s host {spare.id} stopped answering" in events), events
        # Requests to the lost instance failed only until it left the routes: the router
        # tries the next instance when one does not take the connection.
        failed = load.failures()
        assert len(failed) <= 3, failed[:5]
        assert len(load.results) > 20
        assert rest.delete(f"/apps/{app}").status_code == 204
    finally:
        spare.remove()


def test_a_host_that_comes_back_drops_the_instances_the_cloud_deleted_without_it(cloud, rest):
    """Only the agent dies: its containers run on. The lost instance is replaced and deleted
    without its host; when the agent is back, its report names the deleted VM's container
    and the cloud has it dropped (it would keep an address the network gave back)."""
    spare = SpareHost(cloud)
    try:
        app = new_app(cloud, rest, 2)
        [lost] = [i for i in instances(rest, app) if i["vm_id"] in spare.vms()]
        spare.proc.send_signal(signal.SIGKILL)
        spare.proc.wait(timeout=15)
        one = cloud.admin()
        wait_for(lambda: one.vm.info(lost["vm_id"]).STATE == 6, timeout=180,
                 what="the lost instance deleted without its host")
        wait_for(lambda: len(instances(rest, app, "up", "web")) == 2, timeout=180,
                 what="a new instance in its place")
        assert len(spare.containers()) == 1, spare.containers()
        spare.start()
        wait_for(lambda: one.host.info(spare.id).STATE == 2, timeout=60,
                 what="the spare host MONITORED again")
        wait_for(lambda: not spare.containers(), timeout=120,
                 what="the deleted VM's container dropped")
        assert one.vm.info(lost["vm_id"]).STATE == 6
        now = instances(rest, app, "up", "web")
        assert len(now) == 2 and lost["vm_id"] not in {i["vm_id"] for i in now}, now
        assert rest.delete(f"/apps/{app}").status_code == 204
    finally:
        spare.remove()
