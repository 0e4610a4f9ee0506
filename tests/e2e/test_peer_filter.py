"""In Chromium: an auditor finds the failed logins of a peer the daemon logged by host name, with the same
"Peer address or host" filter as addresses (issue 13, item 2)."""

from __future__ import annotations

import os

import pytest

from tests.e2e.evidence_pages import auditor_with_ingested_log

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgresql]

LOG = (
    b"Dec  4 10:00:01 bastion sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2\n"
    b"Dec  4 10:00:02 bastion sshd[2]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
    b"ruser= rhost=dsl-7.example.net  user=alice\n"
    b"Dec  4 10:00:03 bastion sshd[3]: Failed password for admin 203.0.113.9 port 1 from 198.51.100.7 port 3 ssh2\n"
)


@pytest.mark.parametrize("width", [1440, 390])
def test_the_peer_filter_finds_host_names_and_ignores_chosen_user_names(page, width) -> None:
    auditor_with_ingested_log(page, LOG, width)

    page.goto("/evidence/events/")
    page.get_by_label("Peer address or host").fill("dsl-7.example.net")
    page.get_by_label("Peer address or host").press("Enter")
    page.wait_for_url("**source_ip=dsl-7.example.net**")
    rows = page.locator("main table tbody tr")
    assert rows.count() == 1
    assert "alice" in rows.first.inner_text()
    assert rows.first.locator("td").nth(7).inner_text() == "dsl-7.example.net"  # the From column
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['SCREENSHOTS']}/peer-filter-{width}.png", full_page=True)

    page.goto("/evidence/events/?source_ip=203.0.113.9")
    assert page.locator("main table tbody tr").count() == 1  # root, not the user named "admin 203.0.113.9 port 1"
    assert "root" in page.locator("main table tbody tr").first.inner_text()
    assert not page.console_errors
