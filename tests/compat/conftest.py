"""Fixtures for the OpenNebula XML-RPC compatibility suite.

One nubod serves the whole session (``nubod``); tests isolate themselves by
creating uniquely named objects. Modules that need pristine bootstrap state
start their own with ``fresh_nubod``.

Environment:
  NUBOD_BIN            path of the nubod binary (default target/debug/nubod)
  NUBO_TEST_DATABASE   postgres URL; each nubod then gets a fresh database
  NUBO_XSD_DIR         OpenNebula XSD directory (default ../shared/spec/opennebula-xsd)
  NUBO_COMPAT_KEEP     keep nubod's temp dir (data, logs) after the run
  NUBO_CRASH_SEED      seed of test_crash.py (kill moments, VMs terminated); printed by it
"""

from __future__ import annotations

import pytest

from onehelpers import Nubod, TestUser, connect, uniq


@pytest.fixture(scope="session")
def nubod():
    d = Nubod().start()
    yield d
    alive = d.alive()
    tail = d.stderr_tail()
    d.stop()
    if not alive:
        pytest.fail(f"nubod died during the session\n--- nubod stderr ---\n{tail}", pytrace=False)


@pytest.fixture(scope="session")
def endpoint(nubod) -> str:
    return nubod.endpoint


@pytest.fixture(scope="session")
def admin_password(nubod) -> str:
    return nubod.admin_password


@pytest.fixture
def one(nubod):
    """pyone OneServer for oneadmin; every XML reply is XSD-validated."""
    return nubod.admin()


@pytest.fixture
def make_user(nubod):
    """Factory: make_user(groups=None, password=None, name=None) -> TestUser.

    Creates a core-driver user as oneadmin (default group: users) and returns
    it with a validating OneServer that authenticates as that user.
    """
    admin = nubod.admin()

    def _make(groups=None, password=None, name=None) -> TestUser:
        name = name or uniq("u")
        password = password or ("p-" + uniq("pw"))
        args = [name, password, "core"]
        if groups is not None:
            args.append(list(groups))
        uid = admin.call("user.allocate", *args)
        assert isinstance(uid, int) and uid >= 0
        return TestUser(uid, name, password, connect(nubod.endpoint, f"{name}:{password}"))

    return _make


@pytest.fixture
def session_for(nubod):
    """Factory: session_for("user:secret") -> validating OneServer."""
    return lambda session: connect(nubod.endpoint, session)


@pytest.fixture(scope="module")
def fresh_nubod():
    """A dedicated nubod for one test module (pristine bootstrap state)."""
    d = Nubod().start()
    yield d
    d.stop()
