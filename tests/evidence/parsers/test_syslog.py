"""The auto-detecting syslog parser and the network frame helper (made-up hosts, RFC 5737 addresses)."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime

import pytest

from evidence.parsers.base import MAX_LINE_BYTES, Action, Event, ParseContext, ParseError, Rejected, parse_stream
from evidence.parsers.syslog import PARSER, parse_syslog_frame

CONTEXT = ParseContext(reference_time=datetime(2025, 6, 15, tzinfo=UTC), default_host="collector")
RFC5424_LINE = b"<38>1 2025-06-14T09:05:03Z web-01 sshd 77 - - Invalid user guest from 203.0.113.9 port 4022"
RFC3164_LINE = b"<38>Jun 14 09:05:03 web-02 sshd[78]: Invalid user guest from 203.0.113.9 port 4023"


def test_each_line_is_parsed_in_its_own_format():
    data = b"\n".join([RFC5424_LINE, RFC3164_LINE, b"<13>2025-06-14T09:05:03Z web-03 app: rsyslog high precision"])
    modern, legacy, precise = parse_stream(PARSER, io.BytesIO(data), CONTEXT)
    assert isinstance(modern, Event)
    assert isinstance(legacy, Event)
    assert isinstance(precise, Event)
    assert (modern.host, modern.pid, modern.extra.get("sd", "absent")) == ("web-01", 77, "absent")
    assert (legacy.host, legacy.pid) == ("web-02", 78)
    assert (precise.host, precise.program, precise.message) == ("web-03", "app", "rsyslog high precision")
    assert {event.action for event in (modern, legacy)} == {Action.LOGON}
    assert modern.time == legacy.time == precise.time == datetime(2025, 6, 14, 9, 5, 3, tzinfo=UTC)
    assert sum(event.raw_length for event in (modern, legacy, precise)) == len(data)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"<13>2 2025-06-14T09:05:03Z web-01 app - - - a future version", "bad_version"),  # goes to RFC 5424
        (b"<13>1 2025-06-14T09:05:03Z web-01 app - - x", "bad_structured_data"),
        (b"<13>Jux 14 09:05:03 web-01 app: x", "bad_timestamp"),  # goes to RFC 3164
        (b"plain text", "bad_timestamp"),
    ],
)
def test_rejections_come_from_the_detected_format(line, reason):
    (result,) = parse_stream(PARSER, io.BytesIO(line), CONTEXT)
    assert isinstance(result, Rejected)
    assert result.reason == reason


@pytest.mark.parametrize("trailer", [b"", b"\n", b"\r\n", b"\x00", b"\n\x00"])
def test_a_frame_loses_its_trailer_and_its_events_cover_the_whole_frame(trailer):
    frame = RFC3164_LINE + trailer
    (event,) = parse_syslog_frame(frame, CONTEXT)
    assert event.message == "Invalid user guest from 203.0.113.9 port 4023"
    assert (event.raw_offset, event.raw_length) == (0, len(frame))
    assert (event.action, event.user, event.source_ip) == (Action.LOGON, "guest", "203.0.113.9")


def test_a_frame_may_carry_a_multi_line_message():
    frame = b"<13>1 2025-06-14T09:05:03Z web-01 app - - - first line\nsecond line\n"
    (event,) = parse_syslog_frame(frame, CONTEXT)
    assert event.message == "first line\nsecond line"
    (legacy,) = parse_syslog_frame(b"<13>Jun 14 09:05:03 web-01 app: one\ntwo", CONTEXT)
    assert legacy.message == "one\ntwo"


def test_an_empty_frame_has_no_event():
    assert parse_syslog_frame(b"\n", CONTEXT) == []


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"<13>1 - web-01 app - - - " + b"x" * MAX_LINE_BYTES, "line_too_long"),
        (b"<13>Jun 14 09:05:03 web-01 app: nul \x00 inside", "binary_data"),
        (b"<999>Jun 14 09:05:03 web-01 app: x", "bad_pri"),
    ],
)
def test_a_bad_frame_raises_a_parse_error(frame, reason):
    with pytest.raises(ParseError) as caught:
        parse_syslog_frame(frame, CONTEXT)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "frame",
    [
        b"<38>Jun 14 09:05:03 web-01 sshd[7]: Failed password for caf\xe9 from 203.0.113.9 port 22 ssh2",
        b"<38>1 2025-06-14T09:05:03Z web-01 sshd 7 - - Failed password for caf\xe9 from 203.0.113.9 port 22 ssh2",
    ],
)
def test_a_frame_with_invalid_utf8_is_kept_escaped_flagged_and_classified(frame):
    (event,) = parse_syslog_frame(frame, CONTEXT)
    assert (event.outcome, event.user, event.source_ip) == ("failure", "caf\\xe9", "203.0.113.9")
    assert event.extra["invalid_utf8"] is True


def test_random_token_soup_only_ever_raises_parse_errors():
    pieces = [
        *b"<13>|<999>|1 |2 |- |Jun| 14 |09:05:03|2025-06-14T09:05:03|.5Z|+01:30| web-01 |sshd[|12".split(b"|"),
        *b"]: |su: |[|]|=".split(b"|"),
        *b'"|\\|#011| |\xff|\xc3\xa9|\xc2\xb2|\x00|\r|\xef\xbb\xbf|pam_unix(sshd:auth): '.split(b"|"),
        b"message repeated 3 times: [ ",
        b"Accepted password for ",
        b"from 192.0.2.1 port 22 ssh2",
        b"session opened for user root by alice(uid=1000)",
        b"9" * 5000,
    ]
    generator = random.Random(20250614)
    for _ in range(5000):
        frame = b"".join(generator.choice(pieces) for _ in range(generator.randint(0, 12)))
        try:
            events = parse_syslog_frame(frame, CONTEXT)
        except ParseError:
            continue
        assert all(isinstance(event, Event) for event in events)
