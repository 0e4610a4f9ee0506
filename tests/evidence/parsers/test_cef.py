"""The CEF parser on hand-written lines (made-up vendors, hosts and users, RFC 5737 IPs)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from evidence.parsers.base import (
    MAX_LINE_BYTES,
    Action,
    Event,
    Outcome,
    ParseContext,
    ParseError,
    Rejected,
    parse_stream,
)
from evidence.parsers.cef import PARSER, parse_cef_time, parse_extension, parse_line, split_header

CONTEXT = ParseContext(reference_time=datetime(2024, 3, 10, 12, 0, tzinfo=UTC), default_host="collector")
LOGIN_FAILED = (
    "CEF:0|Example Corp|Gatekeeper|4.2|1001|Login failed|7|rt=1709035872345 suser=alice duser=admin "
    "shost=ws17.example.test dhost=vpn01.example.test src=192.0.2.44 act=Blocked outcome=Failure "
    "cat=/Authentication/Verify spriv=User dpriv=Administrator"
)


def event(text: str, context: ParseContext = CONTEXT) -> Event:
    return parse_line(text, context)


def test_a_complete_line_maps_to_an_event():
    result = event(LOGIN_FAILED)
    assert result.time == datetime(2024, 2, 27, 12, 11, 12, 345000, tzinfo=UTC)
    assert (result.user, result.target_user, result.source_ip) == ("alice", "admin", "192.0.2.44")
    assert result.host == "vpn01.example.test"
    assert (result.action, result.outcome) == (Action.AUTHENTICATION, Outcome.FAILURE)
    assert result.program == "Gatekeeper"
    assert result.message == "Login failed"
    assert (result.extra["spriv"], result.extra["dpriv"]) == ("User", "Administrator")
    cef = result.extra["cef"]
    assert (cef["version"], cef["device_vendor"], cef["signature_id"], cef["severity"]) == (
        "0",
        "Example Corp",
        "1001",
        "7",
    )
    assert cef["extension"]["shost"] == "ws17.example.test"


def test_header_escapes():
    header, extension = split_header(r"0|Acme\|Labs|Path\\Finder|1.0|sig\|1|Name with \\ and \||3|a=b")
    assert header["device_vendor"] == "Acme|Labs"
    assert header["device_product"] == "Path\\Finder"
    assert header["signature_id"] == "sig|1"
    assert header["name"] == "Name with \\ and |"
    assert extension == "a=b"


def test_extension_escapes_and_values_with_spaces():
    fields, stray = parse_extension(r"msg=Line one\nline two\r with a\=b and c\\d cs1Label=Ticket note cs1=x = y  ")
    assert fields == {"msg": "Line one\nline two\r with a=b and c\\d", "cs1Label": "Ticket note", "cs1": "x = y"}
    assert stray == ""


def test_trailing_whitespace_and_an_empty_extension():
    result = event("CEF:0|Acme|Box|1|7|Heartbeat|1|src=198.51.100.8 msg=all good     ")
    assert result.extra["cef"]["extension"] == {"src": "198.51.100.8", "msg": "all good"}
    assert event("CEF:0|Acme|Box|1|7|Heartbeat|1|").extra["cef"]["extension"] == {}
    assert event("CEF:0|Acme|Box|1|7|Heartbeat|1").extra["cef"]["severity"] == "1"  # last pipe missing


def test_text_before_the_first_key_is_kept():
    assert event("CEF:0|Acme|Box|1|7|Odd|1|stray words src=192.0.2.1").extra["extension_prefix"] == "stray words"


def test_syslog_header_gives_host_and_time_when_the_extension_does_not():
    result = event("<134>Mar  9 08:30:00 fw02.example.test CEF:0|Acme|Wall|2|44|Logon|3|suser=bob")
    assert result.host == "fw02.example.test"
    assert result.time == datetime(2024, 3, 9, 8, 30, tzinfo=UTC)
    assert result.action is Action.LOGON
    assert result.extra["syslog_prefix"].startswith("<134>")


def test_a_line_without_any_host_uses_the_default_host():
    assert event("CEF:0|Acme|Box|1|7|Ping|1|").host == "collector"
    assert event("CEF:0|Acme|Box|1|7|Ping|1|").time is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1709035872345", datetime(2024, 2, 27, 12, 11, 12, 345000, tzinfo=UTC)),
        ("Feb 27 2024 12:11:12", datetime(2024, 2, 27, 12, 11, 12, tzinfo=UTC)),
        ("Feb 27 2024 12:11:12.5 UTC", datetime(2024, 2, 27, 12, 11, 12, 500000, tzinfo=UTC)),
        ("Feb 27 2024 13:11:12 Europe/Paris", datetime(2024, 2, 27, 12, 11, 12, tzinfo=UTC)),
        ("Feb 27 2024 14:11:12 +02:00", datetime(2024, 2, 27, 12, 11, 12, tzinfo=UTC)),
        ("Feb 27 12:11:12", datetime(2024, 2, 27, 12, 11, 12, tzinfo=UTC)),
        ("Dec 31 23:00:00", datetime(2023, 12, 31, 23, 0, tzinfo=UTC)),  # before the reference: last year
        ("2024-02-27T12:11:12Z", datetime(2024, 2, 27, 12, 11, 12, tzinfo=UTC)),
        ("Feb 27 2024 12:11:12 PST", None),  # ambiguous abbreviations are not guessed
        ("99999999999999999999", None),
        ("yesterday", None),
        ("Foo 27 2024 12:11:12", None),
    ],
)
def test_cef_times(value: str, expected: datetime | None):
    assert parse_cef_time(value, CONTEXT) == expected


def test_local_time_zone_of_the_context():
    context = ParseContext(reference_time=CONTEXT.reference_time, timezone_name="America/New_York")
    assert parse_cef_time("Feb 27 2024 07:11:12", context) == datetime(2024, 2, 27, 12, 11, 12, tzinfo=UTC)


def test_end_and_start_are_fallbacks_for_rt_and_bad_times_are_kept():
    assert event("CEF:0|A|B|1|2|N|3|end=1709035872000 start=1000").time == datetime(2024, 2, 27, 12, 11, 12, tzinfo=UTC)
    assert event("CEF:0|A|B|1|2|N|3|start=1709035872000").time == datetime(2024, 2, 27, 12, 11, 12, tzinfo=UTC)
    result = event("CEF:0|A|B|1|2|N|3|rt=not a time")
    assert result.time is None
    assert result.extra["unreadable_time"] == "not a time"


def test_full_key_names_are_understood_and_kept_as_written():
    result = event(
        "CEF:0|A|B|1|2|User logged off|3|sourceUserName=carol destinationHostName=app01.example.test "
        "sourceAddress=203.0.113.5 eventOutcome=success receiptTime=1709035872000"
    )
    assert (result.user, result.host, result.source_ip) == ("carol", "app01.example.test", "203.0.113.5")
    assert (result.action, result.outcome) == (Action.LOGOFF, Outcome.SUCCESS)
    assert "sourceUserName" in result.extra["cef"]["extension"]


@pytest.mark.parametrize(
    ("name", "extension", "action", "outcome"),
    [
        ("Web request", "act=allowed", Action.OTHER, Outcome.SUCCESS),
        ("User password changed", "", Action.ACCOUNT_CHANGE, Outcome.UNKNOWN),
        ("Audit log cleared", "", Action.LOG_CLEARED, Outcome.UNKNOWN),
        ("Sudo session", "outcome=denied", Action.PRIVILEGE_USE, Outcome.FAILURE),
        ("Process started", "", Action.COMMAND, Outcome.UNKNOWN),
        ("Something", "cat=/Authentication/Login outcome=/Success", Action.LOGON, Outcome.SUCCESS),
        ("Something", "cat=Kerberos", Action.AUTHENTICATION, Outcome.UNKNOWN),
    ],
)
def test_action_and_outcome_keywords(name: str, extension: str, action: Action, outcome: Outcome):
    result = event(f"CEF:0|A|B|1|2|{name}|3|{extension}")
    assert (result.action, result.outcome) == (action, outcome)


def test_an_invalid_source_address_is_not_a_source_ip():
    result = event("CEF:0|A|B|1|2|N|3|src=not-an-ip")
    assert result.source_ip == ""
    assert result.extra["cef"]["extension"]["src"] == "not-an-ip"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("CEF:0|Acme|Box|1.0|Name", "bad_cef_header"),
        ("CEF:zero|Acme|Box|1.0|7|Name|3|a=b", "bad_cef_header"),
        ("CEF:", "bad_cef_header"),
        ("Mar  9 08:30:00 host sshd[12]: Accepted password for bob", "not_cef"),
    ],
)
def test_malformed_lines_are_rejected(text: str, reason: str):
    with pytest.raises(ParseError) as raised:
        parse_line(text, CONTEXT)
    assert raised.value.reason == reason


def test_stream_accounting_and_common_rejections():
    lines = [
        LOGIN_FAILED.encode(),
        b"",
        b"CEF:0|Acme|Box|1|7|Name|3|msg=\xff\xfe",
        b"CEF:0|Acme|Box|1|7|Name|3|msg=a\x00b",
        b"CEF:0|Acme|Box|1|7|Name|3|msg=" + b"x" * (MAX_LINE_BYTES + 10),
        b"CEF:0|Acme|Box|1|7|Heartbeat|1|",
    ]
    data = b"\r\n".join(lines) + b"\n"
    items = list(parse_stream(PARSER, io.BytesIO(data), CONTEXT))
    reasons = [item.reason for item in items if isinstance(item, Rejected)]
    assert reasons == ["invalid_utf8", "binary_data", "line_too_long"]
    assert [item.message for item in items if isinstance(item, Event)] == ["Login failed", "Heartbeat"]
    assert sum(record.length for record in PARSER.records(io.BytesIO(data))) == len(data)
