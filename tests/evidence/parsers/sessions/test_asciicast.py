"""asciicast v1/v2/v3 parsing, on recordings written here."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime

import pytest

from evidence.parsers import sessions
from evidence.parsers.base import ParseError
from evidence.parsers.sessions import MAX_BAD_LINES, Frame, to_asciicast_v2, warning_codes
from evidence.parsers.sessions.asciicast import parse_asciicast


def cast(header: object, *events: object, raw_lines: tuple[str, ...] = ()) -> bytes:
    lines = [json.dumps(header), *(json.dumps(event) for event in events), *raw_lines]
    return ("\n".join(lines) + "\n").encode("utf-8")


def parse(data: bytes) -> sessions.SessionRecording:
    return parse_asciicast(io.BytesIO(data))


def reason_of(data: bytes) -> str:
    with pytest.raises(ParseError) as caught:
        parse(data)
    return caught.value.reason


V2_HEADER = {
    "version": 2,
    "width": 120,
    "height": 40,
    "timestamp": 1714555800,
    "title": "patching db1",
    "command": "/bin/bash -l",
    "idle_time_limit": 1.5,
    "env": {"TERM": "xterm-256color", "SHELL": None, "USER": "ops"},
}


def test_v2_header_and_events() -> None:
    data = cast(
        V2_HEADER,
        [0.5, "o", "$ "],
        [1.0, "i", "u"],
        [1.001, "o", "u"],
        [1.2, "i", "ptime\r"],
        [1.21, "o", "ptime\r\n up 3 days\r\n"],
        [2.0, "r", "100x30"],
        [2.5, "m", "done"],
    )
    recording = parse(data)
    assert recording.format == "asciicast-v2"
    assert (recording.width, recording.height) == (120, 40)
    assert recording.started_at == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert recording.title == "patching db1"
    assert recording.command == "/bin/bash -l"
    assert recording.user == "ops"
    assert recording.extra["env"] == {"TERM": "xterm-256color", "SHELL": None, "USER": "ops"}
    assert recording.extra["idle_time_limit"] == 1.5
    assert recording.frames[0] == Frame(0.5, "o", "$ ")
    assert recording.frames[-2:] == [Frame(2.0, "r", "100x30"), Frame(2.5, "m", "done")]
    assert [line.text for line in recording.commands] == ["uptime"]
    assert recording.duration == 2.5
    assert recording.sha256 == hashlib.sha256(data).hexdigest()
    assert recording.session_id == recording.sha256[:16]
    assert recording.warnings == []


def test_v2_minimal_header_with_nulls() -> None:
    recording = parse(cast({"version": 2, "width": 80, "height": 24, "title": None, "env": None}, [1.5, "o", "hi"]))
    assert recording.started_at is None
    assert recording.ended_at is None
    assert recording.title == ""
    assert recording.frames == [Frame(1.5, "o", "hi")]


def test_v3_relative_intervals_comments_and_exit() -> None:
    data = cast(
        {"version": 3, "term": {"cols": 90, "rows": 20, "type": "xterm"}, "timestamp": 1714555800, "tags": ["prod"]},
        [0.5, "o", "# "],
        [0.25, "i", "w\r"],
        [0.25, "o", "w\r\n"],
        [1.0, "x", "3"],
        raw_lines=("# a comment line",),
    )
    recording = parse(data)
    assert recording.format == "asciicast-v3"
    assert (recording.width, recording.height) == (90, 20)
    assert [frame.at for frame in recording.frames] == [0.5, 0.75, 1.0]
    assert recording.extra["exit_status"] == 3
    assert recording.extra["term"] == "xterm"
    assert recording.extra["tags"] == ["prod"]
    assert recording.duration == 2.0
    assert [line.text for line in recording.commands] == ["w"]


def test_v1_pretty_printed_document() -> None:
    document = {
        "version": 1,
        "width": 80,
        "height": 25,
        "duration": 3.0,
        "command": "/bin/sh",
        "title": None,
        "env": {"TERM": "vt100"},
        "stdout": [[0.5, "$ "], [1.0, "exit\r\n"]],
    }
    recording = parse(json.dumps(document, indent=2).encode())
    assert recording.format == "asciicast-v1"
    assert recording.frames == [Frame(0.5, "o", "$ "), Frame(1.5, "o", "exit\r\n")]
    assert recording.duration == 3.0
    assert recording.command == "/bin/sh"
    assert "no_input_stream" in warning_codes(recording)


def test_v1_document_on_one_long_line() -> None:
    document = {"version": 1, "width": 80, "height": 25, "stdout": [[0.001, "x" * 1000]] * 100}
    recording = parse(json.dumps(document).encode())
    assert len(recording.frames) == 100


def test_v1_bad_items_are_skipped_with_warnings() -> None:
    document = {"version": 1, "width": 80, "height": 25, "stdout": [[0.5, "a"], ["x", "b"], [0.5, 7], [0.5, "c"]]}
    recording = parse(json.dumps(document).encode())
    assert [frame.data for frame in recording.frames] == ["a", "c"]
    assert warning_codes(recording) == ["bad_event_line", "no_input_stream"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n\n",
        b"not json\n",
        b"[2, 80, 24]\n",
        b'{"version": 4, "width": 80, "height": 24}\n',
        b'{"version": "2", "width": 80, "height": 24}\n',
        b'{"version": 3, "width": 80}\n',
        b'{"version": 2, "width": 80\n',
        b'{"version": 2}\xff\n',
        b'{\n"version": 2, "width": 80, "height": 24}\n',
    ],
)
def test_bad_headers_are_rejected(data: bytes) -> None:
    assert reason_of(data) == "bad_header"


def test_missing_terminal_size_is_a_warning() -> None:
    recording = parse(cast({"version": 2}, [0.1, "o", "x"]))
    assert (recording.width, recording.height) == (None, None)
    assert "missing_terminal_size" in warning_codes(recording)


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        '[1.0, "o"]',
        '[-1.0, "o", "x"]',
        '[NaN, "o", "x"]',
        '[1.0, "o", null]',
        '[1.0, "z", "x"]',
        '[1.0, "r", "wide"]',
        '[1e300, "o", "x"]',
        '{"t": 1}',
    ],
)
def test_bad_event_lines_are_skipped_with_a_warning(line: str) -> None:
    recording = parse(cast(V2_HEADER, [0.5, "o", "a"], raw_lines=(line, json.dumps([1.5, "o", "b"]))))
    assert [frame.data for frame in recording.frames] == ["a", "b"]
    assert recording.warnings[0].startswith("bad_event_line: line 3:")  # the header is line 1


def test_invalid_utf8_event_line_is_a_bad_line() -> None:
    data = cast(V2_HEADER, [0.5, "o", "a"]) + b'[1.0, "o", "\xff"]\n'
    assert warning_codes(parse(data)) == ["bad_event_line", "no_input_stream"]


def test_a_truncated_last_line_is_tolerated() -> None:
    data = cast(V2_HEADER, [0.5, "o", "a"]) + b'[1.0, "o", "hal'
    recording = parse(data)
    assert len(recording.frames) == 1
    assert warning_codes(recording) == ["bad_event_line", "no_input_stream"]


def test_too_many_bad_lines_reject_the_recording() -> None:
    data = cast(V2_HEADER, raw_lines=("garbage",) * (MAX_BAD_LINES + 1))
    assert reason_of(data) == "too_many_bad_lines"


def test_times_going_backwards_are_clamped() -> None:
    recording = parse(cast(V2_HEADER, [2.0, "o", "a"], [1.0, "o", "b"]))
    assert [frame.at for frame in recording.frames] == [2.0, 2.0]
    assert "time_went_backwards" in warning_codes(recording)


def test_lone_surrogates_are_replaced() -> None:
    data = cast(V2_HEADER) + b'[0.5, "o", "a\\ud800b"]\n'
    assert parse(data).frames == [Frame(0.5, "o", "a\ufffdb")]


def test_oversized_event_line_is_skipped_in_bounded_memory() -> None:
    data = cast(V2_HEADER, [0.5, "o", "a"]) + b'[1.0, "o", "' + b"x" * (2 * 1024 * 1024) + b'"]\n'
    recording = parse(data)
    assert len(recording.frames) == 1
    assert "longer than" in recording.warnings[0]


def test_session_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "MAX_SESSION_BYTES", 1000)
    data = cast(V2_HEADER, *([0.5, "o", "a" * 50] for _ in range(30)))
    assert reason_of(data) == "session_too_large"


def test_too_many_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "MAX_FRAMES", 5)
    assert reason_of(cast(V2_HEADER, *([0.5, "o", "a"] for _ in range(6)))) == "session_too_large"


@pytest.mark.parametrize("version", [2, 3])
def test_conversion_to_v2_round_trips(version: int) -> None:
    header = V2_HEADER if version == 2 else {"version": 3, "term": {"cols": 120, "rows": 40}, "timestamp": 1714555800}
    events = [[0.1, "o", "żółw 🐢\x1b[0m"], [0.2, "i", "q"], [0.3, "r", "80x24"], [0.4, "m", ""], [0.5, "m", "x"]]
    original = parse(cast(header, *events))
    back = parse(to_asciicast_v2(original))
    assert back.format == "asciicast-v2"
    assert back.frames == original.frames
    assert back.duration == original.duration
    assert (back.width, back.height, back.started_at) == (original.width, original.height, original.started_at)
