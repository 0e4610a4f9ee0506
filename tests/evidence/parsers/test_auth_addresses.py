"""Issue 13, item 2: the recorded peer address is where the daemon wrote it, never text the client chose.

Every row of the coverage table that records an address and a user is replayed with user names that carry
"from", "port", addresses (IPv4, IPv6, v4-mapped), line-end markers and the text that follows an address in other
messages; the address must not move and the user must come out whole. Client text after the address (certificate
IDs, hostbased client names, disconnect reasons, banners) must not move it either: where the address could be in
two places the event keeps the failure, flags ``peer_ambiguous`` and records no address rather than a chosen one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evidence.parsers.auth_coverage import COVERAGE, FP, HEADER
from evidence.parsers.auth_messages import is_ip_address
from evidence.parsers.base import Action, Outcome, ParseContext, Record
from evidence.parsers.syslog import PARSER

CONTEXT = ParseContext(received_at=datetime(2026, 12, 5, tzinfo=UTC))
DECOYS = ("10.9.9.9", "10.10.1.2", "2001:db8::bad", "::ffff:10.9.9.9")

CHOSEN_USERS = (
    "admin 10.9.9.9 port 1",
    "x from 10.9.9.9 port 1",
    "x from 10.9.9.9 port 1 ssh2",
    f"x from 10.9.9.9 port 1 ssh2: RSA {FP}",
    "x from 10.9.9.9 port 1 ssh2 [preauth]",
    "x from 10.9.9.9",
    "x from 2001:db8::bad port 1 ssh2",
    "x from ::ffff:10.9.9.9 port 1 ssh1",
    "a 10.9.9.9 port 1: Too many authentication failures",
    "x via 10.9.9.9",
    "x rhost=10.9.9.9",
    "x' from 10.9.9.9:1",
    "x' from `10.9.9.9",
    "x: 7 (Authentication failure)",
    "from",
    "port 22",
    "[preauth]",
)

ADDRESS_ROWS = [
    row
    for row in COVERAGE
    if row.rule and row.peer and is_ip_address(row.peer) and row.user and row.message.count(row.user) == 1
]


def parse(line: str):
    (event,) = PARSER.parse(Record(0, line.encode()), CONTEXT)
    return event


def test_the_suite_covers_every_rule_that_records_an_address_and_a_user():
    assert {row.rule for row in ADDRESS_ROWS} >= {
        "ssh_accepted", "ssh_failed", "ssh_partial", "ssh_postponed", "ssh_invalid_user", "ssh_max_auth_attempts",
        "ssh_too_many_failures", "ssh_pam_failure", "ssh_auth_aborted", "ssh_disconnected_user", "pam_auth_failure",
        "pam_more_auth_failures", "pam_access_denied", "login_failed", "login_failed_solaris",
        "dropbear_bad_password", "dropbear_invalid_user", "dropbear_password_succeeded", "dropbear_pubkey_succeeded",
        "dropbear_bad_pubkey", "dropbear_exit",
    }  # fmt: skip


@pytest.mark.parametrize("chosen", CHOSEN_USERS)
@pytest.mark.parametrize("row", ADDRESS_ROWS, ids=[f"{row.rule}:{row.message[:50]}" for row in ADDRESS_ROWS])
def test_a_chosen_user_name_never_moves_the_address(row, chosen):
    event = parse(HEADER + f"{row.program}[4242]: " + row.message.replace(row.user, chosen))
    assert event.source_ip not in DECOYS
    assert event.extra.get("source_host") not in DECOYS
    if event.extra.get("auth_event") == row.rule:
        assert (event.source_ip, event.user) == (row.peer, chosen)
    else:  # a rule whose user is a local account name (no spaces) does not read a chosen one at all
        assert event.source_ip in ("", row.peer), event.extra


@pytest.mark.parametrize(
    ("program", "message", "peer"),
    [
        ("sshd", "Received disconnect from 203.0.113.9 port 1:11: from 10.9.9.9 port 2 [preauth]", "203.0.113.9"),
        ("sshd", "Received disconnect from 203.0.113.9: 11: x 10.9.9.9: 3: y", "203.0.113.9"),
        ("sshd", "Bad protocol version identification 'SSH-2.0 from 10.9.9.9 port 3' from 203.0.113.9 port 4",
         "203.0.113.9"),
        ("sshd", "Unable to negotiate with 203.0.113.9 port 5: no matching cipher found. Their offer: from 10.9.9.9",
         "203.0.113.9"),
        ("sshd", f"Accepted publickey for alice from 203.0.113.9 port 5 ssh2: RSA-CERT {FP} ID from 10.10.1.2 port 6 "
         f"(serial 1) CA RSA {FP}", "203.0.113.9"),
        ("sshd", 'Failed hostbased for bob from 203.0.113.9 port 7 ssh2: client user "from 10.10.1.2", client host '
         '"10.10.1.2 port 8"', "203.0.113.9"),
        ("sshd", "Failed password for x] from 10.9.9.9 port 1 ssh2 from 203.0.113.9 port 9 ssh2", "203.0.113.9"),
        ("dropbear", "Exit before auth from <203.0.113.9:1>: (user 'root', 3 fails): from <10.9.9.9:2>", "203.0.113.9"),
        ("dropbear", "Exit (alice) from <203.0.113.9:1>: from <10.9.9.9:2>", "203.0.113.9"),
        ("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9"
         "  user=x  user=y rhost=10.9.9.9", "203.0.113.9"),
        ("in.telnetd", "refused connect from 203.0.113.9", "203.0.113.9"),
    ],
)  # fmt: skip
def test_client_text_after_the_address_never_moves_it(program, message, peer):
    event = parse(HEADER + f"{program}[4242]: {message}")
    assert event.source_ip == peer, event.extra


def test_repeated_wrapper_keeps_the_address_where_sshd_wrote_it():
    event = parse(HEADER + "sshd[1]: message repeated 2 times: [ Failed password for x] from 10.9.9.9 port 1 ssh2 "
                  "from 203.0.113.9 port 9 ssh2]")  # fmt: skip
    assert (event.source_ip, event.user, event.extra["repeated"]) == (
        "203.0.113.9",
        "x] from 10.9.9.9 port 1 ssh2",
        2,
    )


@pytest.mark.parametrize(
    "message",
    [
        # the user and the certificate ID both hold an address where sshd puts one
        f"Failed publickey for x from 10.9.9.9 port 1 ssh2: RSA-CERT {FP} ID y from 203.0.113.9 port 2 ssh2: "
        f"RSA-CERT {FP} ID z (serial 1) CA RSA {FP}",
        f"Failed publickey for alice from 203.0.113.9 port 2 ssh2: RSA-CERT {FP} ID z from 10.10.1.2 port 1 ssh2: "
        f"RSA-CERT {FP} ID w (serial 1) CA RSA {FP}",
        'Failed hostbased for bob from 203.0.113.9 port 7 ssh2: client user "u from 10.10.1.2 port 8 ssh2", '
        'client host "h"',
    ],
)
def test_an_address_that_could_be_in_two_places_is_flagged_not_guessed(message):
    event = parse(HEADER + f"sshd[1]: {message}")
    assert (event.action, event.outcome, event.source_ip, event.user) == (Action.LOGON, Outcome.FAILURE, "", "")
    assert event.extra["peer_ambiguous"] is True


def test_a_ruser_with_spaces_makes_the_pam_peer_ambiguous_not_chosen():
    event = parse(HEADER + "rlogind[1]: pam_unix(rlogin:auth): authentication failure; logname= uid=0 euid=0 "
                  "tty=rlogin ruser=a rhost=10.9.9.9 rhost=203.0.113.9  user=b")  # fmt: skip
    assert (event.outcome, event.source_ip, event.extra["peer_ambiguous"]) == (Outcome.FAILURE, "", True)


# Messages whose last part after the address is the client's text (a disconnect reason, the algorithms it offered,
# dropbear's exit reason, which may quote the client): appending there is what a client can do.
CLIENT_TEXT_LAST = {
    "ssh_received_disconnect", "ssh_client_gave_up", "ssh_unable_to_negotiate", "dropbear_exit_after_failures",
    "dropbear_exit_before_auth", "dropbear_exit",
}  # fmt: skip
PEER_ROWS = [row for row in COVERAGE if row.rule in CLIENT_TEXT_LAST and row.peer]
TRAILERS = (" from 10.9.9.9 port 1", " 10.9.9.9 port 1", " [10.9.9.9]", " rhost=10.9.9.9", " via 10.9.9.9",
            " from <10.9.9.9:1>", " from ::ffff:10.9.9.9 port 1 ssh2", " from 2001:db8::bad")  # fmt: skip


@pytest.mark.parametrize("trailer", TRAILERS)
@pytest.mark.parametrize("row", PEER_ROWS, ids=[f"{row.rule}:{row.message[:50]}" for row in PEER_ROWS])
def test_client_text_at_the_end_never_becomes_the_address(row, trailer):
    event = parse(HEADER + f"{row.program}[4242]: {row.message}{trailer}")
    assert (event.extra["auth_event"], event.source_ip) == (row.rule, row.peer)
