"""The journald JSON parser on hand-written entries (made-up hosts, users and ids, RFC 5737 addresses)."""

from __future__ import annotations

import io
import json
import random
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import pytest

from evidence.parsers.base import Action, Event, Outcome, ParseContext, ParseError, Record, Rejected, parse_stream
from evidence.parsers.journald import MAX_ENTRY_BYTES, PARSER

CONTEXT = ParseContext(default_host="collector")
SSH_ENTRY: dict[str, Any] = {
    "__CURSOR": "s=0f3c;i=1a2b;b=9e8d;m=1f;t=62a1;x=77",
    "__REALTIME_TIMESTAMP": "1749891903123456",
    "__MONOTONIC_TIMESTAMP": "8812345",
    "_BOOT_ID": "9e8d7c6b5a4f4e3d2c1b0a9f8e7d6c5b",
    "PRIORITY": "6",
    "SYSLOG_FACILITY": "10",
    "SYSLOG_IDENTIFIER": "sshd-session",
    "_COMM": "sshd-session",
    "_PID": "4242",
    "_UID": "0",
    "_HOSTNAME": "web-01",
    "_SYSTEMD_UNIT": "ssh.service",
    "MESSAGE": "Accepted publickey for alice from 192.0.2.10 port 50122 ssh2: ED25519 SHA256:q3x0bVb0kqS9",
}


def results_of(data: bytes) -> list[Event | Rejected]:
    return list(parse_stream(PARSER, io.BytesIO(data), CONTEXT))


def records_of(data: bytes) -> list[Record]:
    records = list(PARSER.records(io.BytesIO(data)))
    assert [record.offset for record in records] == [sum(r.length for r in records[:i]) for i in range(len(records))]
    assert sum(record.length for record in records) == len(data)
    return records


def entry_event(entry: dict[str, Any]) -> Event:
    (event,) = results_of(json.dumps(entry).encode())
    assert isinstance(event, Event)
    return event


def test_an_entry_becomes_a_classified_event():
    event = entry_event(SSH_ENTRY)
    assert event.time == datetime(2025, 6, 14, 9, 5, 3, 123456, tzinfo=UTC)
    assert (event.host, event.program, event.pid) == ("web-01", "sshd-session", 4242)
    assert event.message == SSH_ENTRY["MESSAGE"]
    assert (event.action, event.outcome, event.user, event.source_ip) == (
        Action.LOGON,
        Outcome.SUCCESS,
        "alice",
        "192.0.2.10",
    )
    assert (event.extra["severity"], event.extra["facility"]) == ("info", "authpriv")
    journal = event.extra["journal"]
    assert journal["_SYSTEMD_UNIT"] == "ssh.service"
    assert journal["__CURSOR"] == SSH_ENTRY["__CURSOR"]
    assert not {"MESSAGE", "_HOSTNAME", "_PID", "__REALTIME_TIMESTAMP"} & journal.keys()


def test_one_entry_per_line():
    logind = {
        "__REALTIME_TIMESTAMP": "1749891904000000",
        "SYSLOG_IDENTIFIER": "systemd-logind",
        "_PID": "612",
        "_HOSTNAME": "web-01",
        "MESSAGE": "New session 12 of user alice.",
    }
    data = f"{json.dumps(SSH_ENTRY)}\n{json.dumps(logind)}\n".encode()
    records_of(data)
    first, second = results_of(data)
    assert isinstance(first, Event)
    assert isinstance(second, Event)
    assert (second.action, second.session_id, second.user) == (Action.SESSION_START, "12", "alice")
    assert second.raw_offset == first.raw_length


def test_pretty_printed_entries_spanning_lines_with_braces_inside_strings():
    tricky = {
        "__REALTIME_TIMESTAMP": "1749891905000000",
        "_COMM": "python3",
        "MESSAGE": 'config {"a": [1, 2]} closed } and opened { and a quote \\" and a [ bracket',
        "CODE_FUNC": "}",
    }
    data = (json.dumps(SSH_ENTRY, indent=8) + "\n" + json.dumps(tricky, indent=8) + "\n").encode()
    records = records_of(data)
    assert len(records) == 2
    ssh, python = results_of(data)
    assert isinstance(ssh, Event)
    assert ssh.action == Action.LOGON
    assert isinstance(python, Event)
    assert (python.program, python.message) == ("python3", tricky["MESSAGE"])


def test_byte_array_values_are_decoded_with_replacement_and_noted():
    entry = {
        "__REALTIME_TIMESTAMP": "1749891906000000",
        "_COMM": "app",
        "MESSAGE": list(b"line one\rline two \xff end"),
        "EXTRA_FIELD": list(b"ok"),
    }
    event = entry_event(entry)
    assert event.message == "line one\rline two \ufffd end"
    assert event.extra["binary_fields"] == ["MESSAGE", "EXTRA_FIELD"]
    assert event.extra["journal"]["EXTRA_FIELD"] == "ok"


def test_null_values_are_kept_as_none():
    event = entry_event(
        {
            "__REALTIME_TIMESTAMP": "1749891906000000",
            "_COMM": "systemd-coredump",
            "MESSAGE": None,
            "COREDUMP_PROC_MOUNTINFO": None,
        }
    )
    assert event.message == ""
    assert event.extra["journal"] == {"_COMM": "systemd-coredump", "MESSAGE": None, "COREDUMP_PROC_MOUNTINFO": None}


def test_repeated_fields_keep_every_value():
    event = entry_event(
        {
            "__REALTIME_TIMESTAMP": "1749891906000000",
            "SYSLOG_IDENTIFIER": ["app", "app-alias"],
            "MESSAGE": ["first", "second"],
            "TAG": [list(b"a\xff"), "b"],
        }
    )
    assert (event.program, event.message) == ("app", "first")
    journal = event.extra["journal"]
    assert journal["MESSAGE"] == ["first", "second"]
    assert journal["SYSLOG_IDENTIFIER"] == ["app", "app-alias"]
    assert journal["TAG"] == ["a\ufffd", "b"]
    assert event.extra["binary_fields"] == ["TAG"]


def test_program_falls_back_to_comm_and_host_to_the_context():
    event = entry_event({"__REALTIME_TIMESTAMP": "1749891906000000", "_COMM": "cron", "_PID": "x"})
    assert (event.program, event.host, event.pid, event.message) == ("cron", "collector", None, "")


def test_an_entry_without_time_has_none():
    assert entry_event({"MESSAGE": "no time"}).time is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"MESSAGE": "unterminated}', "bad_json"),
        (b'{"MESSAGE": "x",}', "bad_json"),
        (b"not json at all", "bad_json"),
        (b"[1, 2, 3]", "not_an_object"),
        (b'"a string"', "not_an_object"),
        (b"42", "not_an_object"),
        (b"null", "not_an_object"),
        (b'{"__REALTIME_TIMESTAMP": "yesterday"}', "bad_timestamp"),
        (b'{"__REALTIME_TIMESTAMP": "99999999999999999999999"}', "bad_timestamp"),
        (b'{"MESSAGE": "caf\xe9"}', "invalid_utf8"),
        (b'{"MESSAGE": "nul\x00"}', "binary_data"),
        (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "bad_json"),  # too deep for the decoder
    ],
)
def test_bad_records_are_rejected_with_a_reason(line, reason):
    (result,) = results_of(line + b"\n")
    assert isinstance(result, Rejected)
    assert result.reason == reason


def test_blank_lines_are_records_without_events():
    data = b"\n\n" + json.dumps(SSH_ENTRY).encode() + b"\n   \n"
    records = records_of(data)
    assert [PARSER.parse(record, CONTEXT) == [] for record in records] == [True, True, False, True]


def test_a_truncated_entry_is_rejected_and_the_next_one_still_parses():
    pretty = json.dumps(SSH_ENTRY, indent=2).encode()
    cut = pretty[: len(pretty) // 2].rsplit(b"\n", 1)[0]  # the input ends (or the export was cut) mid-entry
    data = cut + b"\n" + pretty + b"\n" + cut
    records = records_of(data)
    assert len(records) == 3
    results = results_of(data)
    assert [type(result).__name__ for result in results] == ["Rejected", "Event", "Rejected"]
    assert {result.reason for result in results if isinstance(result, Rejected)} == {"bad_json"}


def test_an_unterminated_string_ends_the_entry_at_its_line():
    data = b'{\n  "MESSAGE": "broken\n}\n' + json.dumps(SSH_ENTRY).encode() + b"\n"
    results = results_of(data)
    assert [type(result).__name__ for result in results] == ["Rejected", "Rejected", "Event"]


def test_an_oversized_entry_is_rejected_in_bounded_memory():
    big_line = b'  "BIG": "' + b"x" * 60_000 + b'",\n'
    count = MAX_ENTRY_BYTES * 3 // len(big_line)
    data = b"{\n" + big_line * count + b'  "MESSAGE": "end"\n}\n' + json.dumps(SSH_ENTRY).encode() + b"\n"
    tracemalloc.start()
    results = results_of(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    oversized, after = results
    assert isinstance(oversized, Rejected)
    assert oversized.reason == "line_too_long"
    assert oversized.record.length == len(data) - after.raw_length
    assert isinstance(after, Event)
    assert peak < 3 * MAX_ENTRY_BYTES  # the entry is 3 MiB; at most one MiB of it is held


def test_a_10_mb_single_line_is_rejected():
    data = b'{"MESSAGE": "' + b"x" * (10 * 1024 * 1024) + b'"}\n' + json.dumps(SSH_ENTRY).encode()
    too_long, after = results_of(data)
    assert isinstance(too_long, Rejected)
    assert too_long.reason == "line_too_long"
    assert isinstance(after, Event)
    assert too_long.record.length + after.raw_length == len(data)


def test_parse_rejects_an_oversized_record_directly():
    with pytest.raises(ParseError) as caught:
        PARSER.parse(next(PARSER.records(io.BytesIO(b"{" + b" " * (MAX_ENTRY_BYTES + 1) + b"}"))), CONTEXT)
    assert caught.value.reason == "line_too_long"


def test_random_json_soup_is_accounted_for_and_only_ever_raises_parse_errors():
    pieces = [
        *b'{|}|[|]|"|"MESSAGE"|:|,|1|null|\\|\\"|\n|  |[1,2,255]|\xff|\x00'.split(b"|"),
        b'"__REALTIME_TIMESTAMP": "123"',
        b'"_PID": "x"',
        b'"PRIORITY": 6',
        b'"SYSLOG_FACILITY": [1]',
        b'"MESSAGE": {"nested": true}',
    ]
    generator = random.Random(20250614)
    for _ in range(3000):
        data = b"".join(generator.choice(pieces) for _ in range(generator.randint(0, 30)))
        records_of(data)
        for result in results_of(data):
            assert isinstance(result, Event | Rejected)
