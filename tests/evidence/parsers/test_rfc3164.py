"""The RFC 3164 (BSD syslog) parser on hand-written lines (made-up hosts and users, RFC 5737 addresses)."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from evidence.parsers.base import MAX_LINE_BYTES, Action, Event, Outcome, ParseContext, ParseError, Rejected
from evidence.parsers.base import parse_stream as base_parse_stream
from evidence.parsers.rfc3164 import PARSER, decode_octal_escapes, parse_message, syslog_priority

REFERENCE = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
CONTEXT = ParseContext(reference_time=REFERENCE, default_host="collector")


def event(line: str, context: ParseContext = CONTEXT) -> Event:
    (result,) = parse_message(line, context)
    return result


def rejection(line: str, context: ParseContext = CONTEXT) -> str:
    with pytest.raises(ParseError) as caught:
        PARSER.parse(next(PARSER.records(io.BytesIO(line.encode()))), context)
    return caught.value.reason


def parse_stream(data: bytes, context: ParseContext = CONTEXT) -> list[Event | Rejected]:
    return list(base_parse_stream(PARSER, io.BytesIO(data), context))


def test_a_complete_line():
    result = event("<38>Jun 14 09:05:03 web-01 sshd[4242]: Accepted password for alice from 192.0.2.10 port 50122 ssh2")
    assert result.time == datetime(2025, 6, 14, 9, 5, 3, tzinfo=UTC)
    assert (result.host, result.program, result.pid) == ("web-01", "sshd", 4242)
    assert result.message == "Accepted password for alice from 192.0.2.10 port 50122 ssh2"
    assert (result.extra["facility"], result.extra["severity"]) == ("auth", "info")
    assert (result.action, result.outcome, result.user, result.source_ip) == (
        Action.LOGON,
        Outcome.SUCCESS,
        "alice",
        "192.0.2.10",
    )
    assert result.extra["auth_event"] == "ssh_accepted"


def test_a_line_without_pri_has_no_facility():
    result = event("Jun 14 09:05:03 web-01 CRON[77]: (root) CMD (run-parts /etc/cron.hourly)")
    assert not {"facility", "severity"} & result.extra.keys()
    assert (result.action, result.user, result.command) == (Action.COMMAND, "root", "run-parts /etc/cron.hourly")


@pytest.mark.parametrize(
    ("pri", "facility", "severity"),
    [("0", "kern", "emerg"), ("13", "user", "notice"), ("86", "authpriv", "info"), ("191", "local7", "debug")],
)
def test_pri_is_split_into_facility_and_severity(pri, facility, severity):
    assert syslog_priority(pri) == {"facility": facility, "severity": severity}


def test_a_pri_above_191_is_rejected():
    assert rejection("<192>Jun 14 09:05:03 web-01 app: hello") == "bad_pri"


@pytest.mark.parametrize(
    "line",
    [
        "Jun  4 09:05:03 web-01 app: padded",  # the usual: day padded with a space
        "Jun 4 09:05:03 web-01 app: padded",  # one space only
        "<13> Jun  4 09:05:03 web-01 app: padded",  # a space after PRI
        "JUN  4 09:05:03 web-01 app: padded",  # upper-case month
        "Jun  4 09:05:03: web-01 app: padded",  # a colon after the time
    ],
)
def test_single_digit_days_and_other_liberties(line):
    result = event(line)
    assert result.time == datetime(2025, 6, 4, 9, 5, 3, tzinfo=UTC)
    assert (result.host, result.program, result.message) == ("web-01", "app", "padded")


def test_a_year_in_the_line_is_used():
    assert event("Mar  7 2008 19:06:53 web-01 app: old").time == datetime(2008, 3, 7, 19, 6, 53, tzinfo=UTC)


def context_at(reference: datetime, zone: str = "UTC") -> ParseContext:
    return ParseContext(reference_time=reference, timezone_name=zone)


@pytest.mark.parametrize(
    ("reference", "line_time", "year"),
    [
        (datetime(2025, 6, 15, 12, 0, tzinfo=UTC), "Jun 15 11:59:59", 2025),
        (datetime(2025, 6, 15, 12, 0, tzinfo=UTC), "Jan  1 00:00:00", 2025),
        (datetime(2025, 1, 2, 8, 0, tzinfo=UTC), "Dec 31 23:59:59", 2024),  # a December line read in January
        (datetime(2025, 1, 1, 0, 30, tzinfo=UTC), "Dec 31 23:45:00", 2024),
        (datetime(2025, 6, 15, 12, 0, tzinfo=UTC), "Jun 16 11:00:00", 2025),  # less than a day ahead: clock skew
        (datetime(2025, 6, 15, 12, 0, tzinfo=UTC), "Jun 16 12:01:00", 2024),  # more than a day ahead: last year
        (datetime(2025, 6, 15, 12, 0, tzinfo=UTC), "Aug  1 00:00:00", 2024),
        (datetime(2025, 12, 31, 23, 0, tzinfo=UTC), "Jan  1 00:10:00", 2026),  # a sender already in the new year
        (datetime(2025, 6, 15, 12, 0, tzinfo=UTC), "Feb 29 10:00:00", 2024),  # the latest February 29th
        (datetime(2027, 6, 15, 12, 0, tzinfo=UTC), "Feb 29 10:00:00", 2024),
    ],
)
def test_the_missing_year_is_inferred_from_the_reference_time(reference, line_time, year):
    result = event(f"{line_time} web-01 app: x", context_at(reference))
    assert result.time is not None
    assert result.time.year == year


def test_the_reference_defaults_to_the_received_time():
    context = ParseContext(received_at=datetime(2031, 1, 3, tzinfo=UTC))
    assert event("Dec 30 10:00:00 web-01 app: x", context).time == datetime(2030, 12, 30, 10, tzinfo=UTC)


def test_the_time_zone_of_the_context_is_converted_to_utc():
    winter = context_at(datetime(2025, 3, 1, tzinfo=UTC), "Europe/Paris")
    assert event("Jan 10 09:00:00 web-01 app: x", winter).time == datetime(2025, 1, 10, 8, 0, tzinfo=UTC)
    summer = context_at(datetime(2025, 8, 1, tzinfo=UTC), "Europe/Paris")
    assert event("Jul 10 09:00:00 web-01 app: x", summer).time == datetime(2025, 7, 10, 7, 0, tzinfo=UTC)
    new_york = context_at(datetime(2025, 1, 2, 3, 0, tzinfo=UTC), "America/New_York")  # Jan 1, 22:00 there
    assert event("Jan  1 21:00:00 web-01 app: x", new_york).time == datetime(2025, 1, 2, 2, 0, tzinfo=UTC)


def test_the_repeated_hour_at_the_end_of_summer_time_is_read_as_its_first_occurrence():
    context = context_at(datetime(2025, 11, 1, tzinfo=UTC), "Europe/Paris")
    assert event("Oct 26 02:30:00 web-01 app: x", context).time == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)


def test_the_year_is_inferred_in_the_local_zone():
    # 2025-01-01 02:00 UTC is still New Year's Eve in New York: a "Dec 31" line there belongs to 2024, not 2023.
    context = context_at(datetime(2025, 1, 1, 2, 0, tzinfo=UTC), "America/New_York")
    assert event("Dec 31 20:00:00 web-01 app: x", context).time == datetime(2025, 1, 1, 1, 0, tzinfo=UTC)


def test_an_unknown_time_zone_rejects_the_record():
    assert rejection("Jun 14 09:05:03 web-01 app: x", ParseContext(timezone_name="Mars/Olympus_Mons")) == "bad_timezone"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2025-06-14T09:05:03.123456+00:00 web-01 app: x", datetime(2025, 6, 14, 9, 5, 3, 123456, tzinfo=UTC)),
        ("2025-06-14T13:01:15.412+01:30 web-01 app: x", datetime(2025, 6, 14, 11, 31, 15, 412000, tzinfo=UTC)),
        ("<13>2025-06-14T09:05:03Z web-01 app: x", datetime(2025, 6, 14, 9, 5, 3, tzinfo=UTC)),
        ("2025-06-14T09:05:03.123456789-02:00 web-01 app: x", datetime(2025, 6, 14, 11, 5, 3, 123456, tzinfo=UTC)),
    ],
)
def test_rfc3339_timestamps_replace_the_bsd_one(line, expected):
    result = event(line)
    assert result.time == expected
    assert (result.host, result.program, result.message) == ("web-01", "app", "x")


def test_an_rfc3339_timestamp_without_offset_is_in_the_context_zone():
    context = ParseContext(timezone_name="Europe/Paris")
    result = event(
        "2025-06-14T10:40:20.912134 web-01 sudo: pam_unix(sudo-i:session): session opened for user "
        "root(uid=0) by alice(uid=1000)",
        context,
    )
    assert result.time == datetime(2025, 6, 14, 8, 40, 20, 912134, tzinfo=UTC)
    assert (result.action, result.user, result.target_user) == (Action.SESSION_START, "alice", "root")


@pytest.mark.parametrize(
    ("rest", "host", "program", "pid", "message"),
    [
        ("web-01 sshd[77]: hello", "web-01", "sshd", 77, "hello"),
        ("web-01 su: hello", "web-01", "su", None, "hello"),
        ("web-01 kernel: [ 12.5] eth0: up", "web-01", "kernel", None, "[ 12.5] eth0: up"),
        ("web-01 tag hello without colon", "web-01", "tag", None, "hello without colon"),
        (
            "web-01 sshd(pam_unix)[77]: session closed for user bob",
            "web-01",
            "sshd(pam_unix)",
            77,
            "session closed for user bob",
        ),
        ("192.0.2.30 %ASA-6-605005: Login permitted", "192.0.2.30", "%ASA-6-605005", None, "Login permitted"),
        ("2001:db8::30 app: v6 sender", "2001:db8::30", "app", None, "v6 sender"),
        ("sshd[77]: no host name", "collector", "sshd", 77, "no host name"),
        ("su: no host name either", "collector", "su", None, "no host name either"),
        ("web-01", "web-01", "", None, ""),
        ("", "collector", "", None, ""),
        ("web-01 ", "web-01", "", None, ""),
        ("web-01 -- MARK --", "web-01", "--", None, "MARK --"),
    ],
)
def test_host_and_tag_forms(rest, host, program, pid, message):
    result = event(f"Jun 14 09:05:03 {rest}")
    assert (result.host, result.program, result.pid, result.message) == (host, program, pid, message)


def test_a_pid_that_is_not_a_number_is_kept_in_extra():
    result = event("Jun 14 09:05:03 web-01 app[main]: started")
    assert (result.program, result.pid, result.extra["procid"]) == ("app", None, "main")


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("col1#011col2#011col3", "col1\tcol2\tcol3"),
        ("line one#015#012line two", "line one\r\nline two"),
        ("delete #177 char", "delete \x7f char"),
        ("issue #123 and #011x", "issue #123 and \tx"),  # only control characters are escapes
        ("never a NUL: #000", "never a NUL: #000"),
        ("no escapes", "no escapes"),
    ],
)
def test_rsyslog_octal_escapes_are_decoded(raw, decoded):
    assert decode_octal_escapes(raw) == decoded


def test_octal_escapes_are_decoded_in_the_message_only():
    result = event("Jun 14 09:05:03 web-01 MSWinEventLog#0111: Security#011528#011Success Audit")
    assert result.program == "MSWinEventLog#0111"
    assert result.message == "Security\t528\tSuccess Audit"


def test_crlf_line_endings_and_a_missing_final_newline():
    lines = [
        b"Jun 14 09:05:03 web-01 sshd[1]: Invalid user guest from 203.0.113.9 port 4022",
        b"Jun 14 09:05:04 web-01 sshd[1]: Connection closed by invalid user guest 203.0.113.9 port 4022 [preauth]",
        b"Jun 14 09:05:05 web-01 app: last line",
    ]
    data = b"\r\n".join(lines)
    results = parse_stream(data)
    assert all(isinstance(result, Event) for result in results)
    assert [result.message.endswith(("4022", "[preauth]", "last line")) for result in results] == [True] * 3
    assert [result.raw_length for result in results] == [len(lines[0]) + 2, len(lines[1]) + 2, len(lines[2])]
    assert (results[1].action, results[1].outcome) == (Action.LOGON, Outcome.FAILURE)


def test_blank_lines_give_no_event_and_no_rejection():
    data = b"\n  \n\r\nJun 14 09:05:03 web-01 app: x\n\n"
    records = list(PARSER.records(io.BytesIO(data)))
    assert [PARSER.parse(record, CONTEXT) for record in records[:3]] == [[], [], []]
    assert len(parse_stream(data)) == 1
    assert sum(record.length for record in records) == len(data)


@pytest.mark.parametrize(
    "line",
    [
        "hello world",
        "<0>x",
        "Foo 14 09:05:03 web-01 app: unknown month",
        "Feb 30 09:05:03 web-01 app: no such day",
        "Jun 14 25:05:03 web-01 app: no such hour",
        "Jun 14 09:05:60 web-01 app: no leap seconds in BSD time",
        "2025-13-14T09:05:03Z web-01 app: no such month",
        "[Sat Jun 14 09:05:03 2025] [error] an Apache error log line",
        "2025-06-14 09:05:03, Info CBS a Windows servicing log line",
    ],
)
def test_lines_without_a_usable_timestamp_are_rejected(line):
    assert rejection(line) == "bad_timestamp"


def test_nul_bytes_are_rejected_and_invalid_utf8_is_escaped_and_flagged():
    data = (
        b"Jun 14 09:05:03 web-01 app: a\x00b\n"
        b"Jun 14 09:05:03 web-01 app: caf\xe9\n"  # Latin-1, not UTF-8
        b"Jun 14 09:05:03 web-01 app: caf\xc3\xa9\n"
    )
    results = parse_stream(data)
    assert [result.reason for result in results if isinstance(result, Rejected)] == ["binary_data"]
    events = [result for result in results if isinstance(result, Event)]
    assert [(event.message, event.extra.get("invalid_utf8")) for event in events] == [
        ("caf\\xe9", True),
        ("café", None),
    ]


@pytest.mark.parametrize(
    ("line", "user"),
    [
        (b"sshd[1]: Failed password for \xff\xferoot from 203.0.113.9 port 22 ssh2", "\\xff\\xferoot"),
        (b"sshd[1]: Invalid user caf\xe9 from 203.0.113.9 port 22", "caf\\xe9"),
        (b"sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
         b"rhost=203.0.113.9  user=\xc3(", "\\xc3("),
    ],
)  # fmt: skip
def test_a_failed_login_with_an_invalid_utf8_user_name_is_still_a_failure_with_its_peer(line, user):
    (event,) = parse_stream(b"Jun 14 09:05:03 web-01 " + line + b"\n")
    assert isinstance(event, Event)
    assert (event.outcome, event.user, event.source_ip) == ("failure", user, "203.0.113.9")
    assert event.extra["invalid_utf8"] is True


def test_a_utf8_bom_at_the_start_is_ignored():
    assert parse_stream(b"\xef\xbb\xbfJun 14 09:05:03 web-01 app: x\n")[0].host == "web-01"


def ten_mb_line_then_a_short_one() -> Iterator[bytes]:
    yield b"Jun 14 09:05:03 web-01 app: "
    chunk = b"x" * 65536
    for _ in range(160):  # 10 MiB
        yield chunk
    yield b"\nJun 14 09:05:04 web-01 app: after\n"


class GeneratedStream(io.RawIOBase):
    """A stream over generated chunks, so the test never holds the whole input."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.pending = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        while not self.pending:
            self.pending = next(self.chunks, b"")
            if not self.pending:
                return 0
        size = min(len(buffer), len(self.pending))
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        return size


def test_a_10_mb_line_is_rejected_in_bounded_memory_and_the_next_line_still_parses():
    expected_size = sum(len(chunk) for chunk in ten_mb_line_then_a_short_one())
    tracemalloc.start()
    stream = io.BufferedReader(GeneratedStream(ten_mb_line_then_a_short_one()))
    results = list(base_parse_stream(PARSER, stream, CONTEXT))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rejected, after = results
    assert isinstance(rejected, Rejected)
    assert rejected.reason == "line_too_long"
    assert len(rejected.record.data) == MAX_LINE_BYTES
    assert isinstance(after, Event)
    assert after.message == "after"
    assert rejected.record.length + after.raw_length == expected_size > 10 * 1024 * 1024
    assert after.raw_offset == rejected.record.length
    assert peak < 4 * 1024 * 1024  # the line alone is 10 MiB


def test_offsets_and_lengths_cover_the_input_exactly():
    data = (
        b"<86>Jun 14 09:05:03 web-01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id\n"
        b"garbage without a timestamp\r\n"
        b"\n"
        b"Jun 14 09:05:05 web-01 systemd-logind[600]: New session 12 of user alice.\n"
        b"Jun 14 09:05:06 web-01 app: truncated li"
    )
    records = list(PARSER.records(io.BytesIO(data)))
    assert [record.offset for record in records] == [sum(r.length for r in records[:i]) for i in range(len(records))]
    assert sum(record.length for record in records) == len(data)
    results = parse_stream(data)
    assert [type(result).__name__ for result in results] == ["Event", "Rejected", "Event", "Event"]
    sudo, _, logind, truncated = results
    assert (sudo.action, sudo.user, sudo.target_user, sudo.command) == (
        Action.PRIVILEGE_USE,
        "alice",
        "root",
        "/usr/bin/id",
    )
    assert (logind.action, logind.session_id, logind.user) == (Action.SESSION_START, "12", "alice")
    assert truncated.message == "truncated li"


def test_eight_bit_characters_are_kept():
    result = event("Aug 10 22:18:24 web-01 app: Grüße aus Köln")
    assert result.message == "Grüße aus Köln"
