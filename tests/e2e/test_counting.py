"""In Chromium: the events explorer shows what a line counts for, "x5" on a reduced "message repeated"
line and "same attempt" on sshd's line of an attempt pam_unix already recorded (issue 13, item 5)."""

from __future__ import annotations

import os

import pytest

from tests.e2e.evidence_pages import auditor_with_ingested_log

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgresql]

LOG = (
    b"Dec  4 10:00:01 bastion sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2\n"
    b"Dec  4 10:00:31 bastion sshd[1]: message repeated 5 times: [ Failed password for root from 203.0.113.9 "
    b"port 1 ssh2]\n"
    b"Dec  4 10:01:00 bastion sshd[2]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
    b"tty=ssh ruser= rhost=198.51.100.7  user=alice\n"
    b"Dec  4 10:01:02 bastion sshd[2]: Failed password for alice from 198.51.100.7 port 3 ssh2\n"
)


@pytest.mark.parametrize("width", [1440, 390])
def test_the_explorer_marks_repetitions_and_second_records_of_an_attempt(page, width) -> None:
    auditor_with_ingested_log(page, LOG, width)

    page.goto("/evidence/events/")
    rows = page.locator("main table tbody tr")
    assert rows.count() == 4
    assert rows.nth(2).locator("[data-count]").inner_text() == "\u00d75"  # newest first: the reduced line
    assert rows.first.locator("[data-same-attempt-of]").inner_text() == "same attempt"
    assert rows.nth(1).locator("[data-same-attempt-of]").count() == 0
    if os.environ.get("SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['SCREENSHOTS']}/counting-{width}.png", full_page=True)
    assert not page.console_errors
