"""The coverage table (evidence/parsers/auth_coverage.py) is a test: each row's line, parsed as a whole syslog
line, gets the stated classification, user and peer; a row without a rule stays unclassified."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evidence.parsers.auth_coverage import COVERAGE, Coverage
from evidence.parsers.auth_messages import RULES, is_ip_address
from evidence.parsers.base import Action, ParseContext, Record
from evidence.parsers.syslog import PARSER

CONTEXT = ParseContext(received_at=datetime(2026, 12, 5, tzinfo=UTC))


def parse_line(line: str):
    (event,) = PARSER.parse(Record(0, line.encode()), CONTEXT)
    return event


@pytest.mark.parametrize(
    "row", COVERAGE, ids=[f"{row.rule or 'ignored'}:{row.message or row.raw}"[:90] for row in COVERAGE]
)
def test_each_row_parses_to_its_classification_user_and_peer(row: Coverage):
    event = parse_line(row.line)
    if row.rule is None:
        assert row.note, "a deliberately ignored message says why"
        assert (event.action, event.extra.get("auth_event")) == (Action.OTHER, None)
        return
    assert (event.extra.get("auth_event"), event.action, event.outcome) == (row.rule, row.action, row.outcome)
    assert event.user == row.user
    if row.peer and not is_ip_address(row.peer):
        assert (event.source_ip, event.extra.get("source_host")) == ("", row.peer)
    else:
        assert event.source_ip == row.peer
    if row.note.startswith("the client chose") or "ambiguous" in row.rule:
        assert event.extra["peer_ambiguous"] is True


def test_the_table_covers_every_authentication_rule():
    covered = {row.rule for row in COVERAGE}
    auth_actions = {Action.LOGON, Action.LOGOFF, Action.AUTHENTICATION, Action.PRIVILEGE_USE}
    missing = {rule.name for rule in RULES if rule.action in auth_actions} - covered
    assert not missing - {"login_root", "kerberos_login_failed", "kerberos_login_refused", "gdm_failed",
                          "ftp_anonymous_login", "su_failed_solaris", "su_succeeded_solaris", "su_failed_bsd",
                          "su_succeeded_bsd", "su_succeeded", "su_failed_shadow", "su_succeeded_shadow_root",
                          "su_failed_shadow_root", "su_session_opened", "su_failed_root"}, missing  # fmt: skip
