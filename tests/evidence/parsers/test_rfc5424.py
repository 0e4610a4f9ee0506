"""The RFC 5424 parser on hand-written messages (made-up hosts and users, RFC 5737 addresses)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from evidence.parsers.base import Action, Event, Outcome, ParseContext, ParseError, Rejected, parse_stream
from evidence.parsers.rfc5424 import PARSER, parse_message, parse_structured_data

CONTEXT = ParseContext(default_host="collector")
BOM = "\ufeff"


def event(text: str, context: ParseContext = CONTEXT) -> Event:
    (result,) = parse_message(text, context)
    return result


def rejection(text: str) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_message(text, CONTEXT)
    return caught.value


def test_a_complete_message():
    result = event(
        "<86>1 2025-06-14T09:05:03.123456+02:00 web-01.example.test sshd 4242 AUTH "
        '[meta@32473 sequenceId="17" sysUpTime="3721"][origin ip="192.0.2.5" software="sshd"] '
        f"{BOM}Failed password for root from 203.0.113.9 port 60222 ssh2"
    )
    assert result.time == datetime(2025, 6, 14, 7, 5, 3, 123456, tzinfo=UTC)
    assert (result.host, result.program, result.pid) == ("web-01.example.test", "sshd", 4242)
    assert result.message == "Failed password for root from 203.0.113.9 port 60222 ssh2"
    assert result.extra["sd"] == {
        "meta@32473": {"sequenceId": "17", "sysUpTime": "3721"},
        "origin": {"ip": "192.0.2.5", "software": "sshd"},
    }
    assert (result.extra["facility"], result.extra["severity"], result.extra["msgid"]) == ("authpriv", "info", "AUTH")
    assert (result.action, result.outcome, result.user, result.source_ip) == (
        Action.LOGON,
        Outcome.FAILURE,
        "root",
        "203.0.113.9",
    )


def test_every_header_field_may_be_nil():
    result = event("<13>1 - - - - - - only a message")
    assert (result.time, result.host, result.program, result.pid) == (None, "collector", "", None)
    assert result.message == "only a message"
    assert result.extra == {"facility": "user", "severity": "notice"}


def test_no_message_at_all():
    assert event("<13>1 2025-06-14T09:05:03Z web-01 app - - -").message == ""
    assert event('<13>1 2025-06-14T09:05:03Z web-01 app - - [a b="c"]').extra["sd"] == {"a": {"b": "c"}}


def test_a_bom_is_removed_only_at_the_start_of_the_message():
    assert event(f"<13>1 - web-01 app - - - {BOM}Grüße{BOM}").message == f"Grüße{BOM}"


def test_a_procid_that_is_not_a_number_is_kept_in_extra():
    result = event("<13>1 - web-01 app worker-3 - - started")
    assert (result.pid, result.extra["procid"]) == (None, "worker-3")


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2025-06-14T09:05:03Z", datetime(2025, 6, 14, 9, 5, 3, tzinfo=UTC)),
        ("2025-06-14T09:05:03.5Z", datetime(2025, 6, 14, 9, 5, 3, 500000, tzinfo=UTC)),
        ("2025-06-14T09:05:03.000003-07:00", datetime(2025, 6, 14, 16, 5, 3, 3, tzinfo=UTC)),
        ("2025-06-14T01:05:03+05:45", datetime(2025, 6, 13, 19, 20, 3, tzinfo=UTC)),
        ("2025-01-01T00:30:00+01:00", datetime(2024, 12, 31, 23, 30, tzinfo=UTC)),
    ],
)
def test_timestamps_are_converted_to_utc(timestamp, expected):
    assert event(f"<13>1 {timestamp} web-01 app - - - x").time == expected


@pytest.mark.parametrize(
    ("sd", "expected"),
    [
        ('[id a="1"]', {"id": {"a": "1"}}),
        ("[id]", {"id": {}}),
        (r'[id q="say \"hi\"" b="back\\slash" c="a\]b"]', {"id": {"q": 'say "hi"', "b": "back\\slash", "c": "a]b"}}),
        (r'[id other="C:\temp"]', {"id": {"other": "C:\\temp"}}),  # other backslashes are kept
        ('[id a="1" a="2" a="3"]', {"id": {"a": ["1", "2", "3"]}}),  # a repeated parameter
        ('[id a="1"][id b="2"]', {"id": {"a": "1", "b": "2"}}),  # a repeated element, merged
        ('[id a="x]y"]', {"id": {"a": "x]y"}}),  # an unescaped "]" in a value is tolerated
        ('[id a= "1"]', {"id": {"a": "1"}}),  # the space of RFC 5424's own example 3
        ('[id a=""]', {"id": {"a": ""}}),
        (
            '[timeQuality tzKnown="1" isSynced="1"][origin ip="192.0.2.1" ip="192.0.2.2"]',
            {"timeQuality": {"tzKnown": "1", "isSynced": "1"}, "origin": {"ip": ["192.0.2.1", "192.0.2.2"]}},
        ),
    ],
)
def test_structured_data(sd, expected):
    parsed, end = parse_structured_data(sd + " rest", 0)
    assert parsed == expected
    assert end == len(sd)
    assert event(f"<13>1 - web-01 app - - {sd} msg").extra["sd"] == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no pri at all", "bad_pri"),
        ("<>1 - - - - - - x", "bad_pri"),
        ("<192>1 - - - - - - x", "bad_pri"),
        ("<13>2 - - - - - - x", "bad_version"),
        ("<13>10 - - - - - - x", "bad_version"),
        ("<13>1 - - - -", "bad_header"),
        ("<13>1 2025-06-14 09:05:03Z web-01 app - - - x", "bad_timestamp"),
        ("<13>1 2025-06-14T09:05:03 web-01 app - - - x", "bad_timestamp"),  # no offset
        ("<13>1 2025-06-14T09:05:60Z web-01 app - - - x", "bad_timestamp"),  # no leap seconds
        ("<13>1 2025-02-30T09:05:03Z web-01 app - - - x", "bad_timestamp"),
        ("<13>1 2025-06-14T09:05:03.1234567Z web-01 app - - - x", "bad_timestamp"),  # at most 6 digits
        ("<13>1 - web-01 app - -", "bad_structured_data"),  # no SD at all
        ("<13>1 - web-01 app - - x", "bad_structured_data"),
        ("<13>1 - web-01 app - - -x", "bad_structured_data"),
        ('<13>1 - web-01 app - - [id a="1"]x', "bad_structured_data"),
        ("<13>1 - web-01 app - - [id a=1] x", "bad_structured_data"),
        ('<13>1 - web-01 app - - [id a="1" x', "bad_structured_data"),
        ('<13>1 - web-01 app - - [id a="unterminated] x', "bad_structured_data"),
        ('<13>1 - web-01 app - - [ a="1"] x', "bad_structured_data"),
        ('<13>1 - web-01 app - - [an_sd_id_that_is_much_longer_than_32_chars a="1"] x', "bad_structured_data"),
    ],
)
def test_malformed_messages_are_rejected_with_a_specific_reason(text, reason):
    assert rejection(text).reason == reason


def test_records_blank_lines_invalid_utf8_and_accounting():
    data = (
        b"<86>1 2025-06-14T09:05:03Z web-01 sudo - - - alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
        b"COMMAND=/usr/bin/id\r\n"
        b"\n"
        b"<13>1 - web-01 app - - - caf\xe9\n"
        b"<13>1 - web-01 app - - - nul\x00byte\n"
        b"<13>1 - web-01 app - - - no final newline"
    )
    records = list(PARSER.records(io.BytesIO(data)))
    assert sum(record.length for record in records) == len(data)
    results = list(parse_stream(PARSER, io.BytesIO(data), CONTEXT))
    assert [result.reason for result in results if isinstance(result, Rejected)] == ["binary_data"]
    sudo, latin1, last = (result for result in results if isinstance(result, Event))
    assert (latin1.message, latin1.extra["invalid_utf8"]) == ("caf\\xe9", True)
    assert (sudo.action, sudo.user, sudo.target_user, sudo.command) == (
        Action.PRIVILEGE_USE,
        "alice",
        "root",
        "/usr/bin/id",
    )
    assert last.message == "no final newline"
    assert (last.raw_offset, last.raw_length) == (records[-1].offset, records[-1].length)
