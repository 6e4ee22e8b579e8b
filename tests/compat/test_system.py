"""one.system.version / one.system.config."""

import pyone
import pytest

from onehelpers import AUTHENTICATION, connect


def test_version_is_7_4_0(one):
    assert one.system.version() == "7.4.0"
    # plain string, not XML, with a 3-element success array
    assert one.last_response == [True, "7.4.0", 0]


def test_version_as_regular_user(make_user):
    u = make_user()
    assert u.one.system.version() == "7.4.0"


@pytest.mark.parametrize("session", ["oneadmin:wrong-password", "nocolon", "nosuchuser:x", ""])
def test_version_bad_session(endpoint, session):
    srv = connect(endpoint, session)
    msg = srv.fails(AUTHENTICATION, "system.version")
    assert msg == "[one.system.version] User couldn't be authenticated, aborting call."
    assert srv.last_response[3] == -1 and srv.last_response[4] == -1


def test_config_as_admin(one):
    root = one.xml("system.config")
    assert root.tag == "OPENNEBULA_CONFIGURATION"
    # pyone parsed it into its binding class (not the HISTORY_RECORDS fallback)
    assert type(one.system.config()).__name__.startswith("OPENNEBULA_CONFIGURATION")


def test_config_as_user(make_user):
    u = make_user()
    root = u.one.xml("system.config")
    assert root.tag == "OPENNEBULA_CONFIGURATION"


def test_config_bad_session(endpoint):
    connect(endpoint, "oneadmin:nope").fails(AUTHENTICATION, "system.config")


def test_pyone_exception_class_for_bad_session(endpoint):
    with pytest.raises(pyone.OneAuthenticationException):
        connect(endpoint, "oneadmin:nope").system.config()
