"""Every *_FAILURE state the simulated driver can reach, table-driven: the VM is brought
to a phase, the host is told to fail one operation, an action starts it, the VM lands in
the failure state with the driver's message, and a recover op settles it."""

import pytest

from onehelpers import tmpl, uniq
from test_vm import ACTIVE, DONE, POWEROFF, RUNNING, STOPPED, SUSPENDED, UNDEPLOYED, host, wait_state

SUCCESS, RETRY, DELETE, DELETE_RECREATE = 1, 2, 3, 4

# LCM_STATE codes of the failure states.
BOOT_FAILURE, BOOT_MIGRATE_FAILURE, PROLOG_MIGRATE_FAILURE = 36, 37, 38
PROLOG_FAILURE, EPILOG_FAILURE, EPILOG_STOP_FAILURE, EPILOG_UNDEPLOY_FAILURE = 39, 40, 41, 42
PROLOG_MIGRATE_POWEROFF_FAILURE, PROLOG_MIGRATE_SUSPEND_FAILURE = 44, 46
BOOT_UNDEPLOY_FAILURE, BOOT_STOPPED_FAILURE = 47, 48
PROLOG_RESUME_FAILURE, PROLOG_UNDEPLOY_FAILURE = 49, 50


def to_running(one, vid):
    wait_state(one, vid, ACTIVE, RUNNING)


def to_stopped(one, vid):
    to_running(one, vid)
    one.vm.action("stop", vid)
    wait_state(one, vid, STOPPED)


def to_undeployed(one, vid):
    to_running(one, vid)
    one.vm.action("undeploy", vid)
    wait_state(one, vid, UNDEPLOYED)


def to_poweroff(one, vid):
    to_running(one, vid)
    one.vm.action("poweroff", vid)
    wait_state(one, vid, POWEROFF)


def to_suspended(one, vid):
    to_running(one, vid)
    one.vm.action("suspend", vid)
    wait_state(one, vid, SUSPENDED)


def action(name):
    return lambda one, vid, hosts: one.vm.action(name, vid)


def migrate(one, vid, hosts):
    one.vm.migrate(vid, hosts[1], False, False, -1, 0)


# (name, bring the VM to its phase, failing operation, on which host (0 source, 1 target),
#  what starts it, the failure state, the recover op once the host works again, where the
#  VM ends: (STATE, LCM or None for any))
CASES = [
    ("prolog", None, "PROLOG", 0, None, PROLOG_FAILURE, RETRY, (ACTIVE, RUNNING)),
    ("boot", None, "DEPLOY", 0, None, BOOT_FAILURE, RETRY, (ACTIVE, RUNNING)),
    ("epilog", to_running, "EPILOG", 0, action("terminate"), EPILOG_FAILURE, RETRY, (DONE, None)),
    ("epilog-stop", to_running, "EPILOG", 0, action("stop"), EPILOG_STOP_FAILURE, SUCCESS,
     (STOPPED, None)),
    ("epilog-undeploy", to_running, "EPILOG", 0, action("undeploy"), EPILOG_UNDEPLOY_FAILURE,
     SUCCESS, (UNDEPLOYED, None)),
    ("prolog-resume", to_stopped, "PROLOG", 0, action("resume"), PROLOG_RESUME_FAILURE, RETRY,
     (ACTIVE, RUNNING)),
    ("boot-stopped", to_stopped, "RESTORE", 0, action("resume"), BOOT_STOPPED_FAILURE, RETRY,
     (ACTIVE, RUNNING)),
    ("prolog-undeploy", to_undeployed, "PROLOG", 0, action("resume"), PROLOG_UNDEPLOY_FAILURE,
     RETRY, (ACTIVE, RUNNING)),
    ("boot-undeploy", to_undeployed, "DEPLOY", 0, action("resume"), BOOT_UNDEPLOY_FAILURE, RETRY,
     (ACTIVE, RUNNING)),
    ("prolog-migrate", to_running, "PROLOG_MIGRATE", 1, migrate, PROLOG_MIGRATE_FAILURE, RETRY,
     (ACTIVE, RUNNING)),
    ("boot-migrate", to_running, "RESTORE", 1, migrate, BOOT_MIGRATE_FAILURE, RETRY,
     (ACTIVE, RUNNING)),
    ("prolog-migrate-poweroff", to_poweroff, "PROLOG_MIGRATE", 1, migrate,
     PROLOG_MIGRATE_POWEROFF_FAILURE, RETRY, (POWEROFF, None)),
    ("prolog-migrate-suspend", to_suspended, "PROLOG_MIGRATE", 1, migrate,
     PROLOG_MIGRATE_SUSPEND_FAILURE, RETRY, (SUSPENDED, None)),
    ("boot-delete", None, "DEPLOY", 0, None, BOOT_FAILURE, DELETE, (DONE, None)),
    ("boot-recreate", None, "DEPLOY", 0, None, BOOT_FAILURE, DELETE_RECREATE, (ACTIVE, RUNNING)),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_failure_state_and_recovery(one, case):
    _, prepare, op, on, start, failure, recover, end = case
    hosts = [host(one), host(one)]
    req = f"ID = {hosts[0]}" if start is not migrate else f"ID = {hosts[0]} | ID = {hosts[1]}"
    if prepare is None:
        one.host.update(hosts[on], f'SIM_{op}="failure"', 1)
    vid = one.vm.allocate(f'NAME="{uniq("vm")}"\nCPU="0.1"\nMEMORY="64"\nSCHED_REQUIREMENTS="{req}"',
                          prepare is not None and start is migrate)
    if prepare is not None and start is migrate:
        one.vm.deploy(vid, hosts[0], False, -1)
    if prepare is not None:
        prepare(one, vid)
        one.host.update(hosts[on], f'SIM_{op}="failure"', 1)
        start(one, vid, hosts)
    wait_state(one, vid, ACTIVE, failure)
    assert op.split("_")[0] in tmpl(one.xml("vm.info", vid), "ERROR", "USER_TEMPLATE")
    one.host.update(hosts[on], f'SIM_{op}="success"', 1)
    one.vm.recover(vid, recover)
    wait_state(one, vid, *end)
    if end[0] != DONE:
        one.vm.recover(vid, 5)   # delete-db: gone whatever the phase
        wait_state(one, vid, DONE)
