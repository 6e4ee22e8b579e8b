"""`nubo app webhook` against the session's nubod (no containers): made with its secret
printed once, shown without it, its polling set and unset with the rest kept, its secret
rotated, removed; conflicting flags refused."""

from __future__ import annotations

import re

from test_cli_app import REFUSED, USAGE, app_name, cli, stack  # noqa: F401 - fixtures

URL = "file:///no/such/cli-webhook.git"


def secret_of(out: str) -> str | None:
    found = re.search(r"^Secret:\s+([0-9a-f]{64})$", out, re.M)
    return found.group(1) if found else None


def test_webhook_is_made_shown_changed_rotated_and_removed(cli):
    app = app_name()
    cli.ok("create", app)
    assert "not found" in cli.fails(REFUSED, "webhook", app)
    assert "not found" in cli.fails(REFUSED, "webhook", app, "--poll", "60")
    made = cli.ok("webhook", app, "--git", URL, "--branch", "main")
    secret = secret_of(made)
    assert secret, made
    assert re.search(rf"^Delivery URL:\s+http://\S+/api/v1/apps/{app}/webhook$", made, re.M), made
    shown = cli.ok("webhook", app)
    assert secret_of(shown) is None and secret not in shown, shown
    assert re.search(r"^Repository:\s+" + re.escape(URL) + "$", shown, re.M), shown
    assert re.search(r"^Polling:\s+off$", shown, re.M), shown
    polled = cli.ok("webhook", app, "--poll", "30")
    assert re.search(r"^Polling:\s+every 30 s$", polled, re.M), polled
    assert URL in polled and secret_of(polled) is None, polled
    assert "poll interval is 10 to 86400" in cli.fails(REFUSED, "webhook", app, "--poll", "5")
    other = cli.ok("webhook", app, "--branch", "prod", "--no-poll")
    assert re.search(r"^Branch:\s+prod$", other, re.M) and "Polling:       off" in other, other
    as_json = cli.json("webhook", app)
    assert as_json["secret_set"] is True and "secret" not in as_json, as_json
    assert (as_json["url"], as_json["branch"]) == (URL, "prod"), as_json
    rotated = secret_of(cli.ok("webhook", app, "--rotate"))
    assert rotated and rotated != secret
    for flags in [("--rotate", "--git", URL), ("--poll", "30", "--no-poll"),
                  ("--delete", "--rotate")]:
        refused = cli.run("webhook", app, *flags)
        assert refused.returncode == USAGE and "cannot be used with" in refused.stderr, refused
    assert f"Removed the webhook of {app}" in cli.ok("webhook", app, "--delete")
    assert "not found" in cli.fails(REFUSED, "webhook", app)
