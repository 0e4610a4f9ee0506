"""The shared session model: keystroke replay, frames, asciicast v2 export, events."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from evidence.parsers import sessions
from evidence.parsers.base import Action, Outcome, ParseContext, ParseError
from evidence.parsers.sessions import (
    CommandLine,
    Frame,
    FrameBuilder,
    MeteredReader,
    SessionRecording,
    WarningLog,
    build_recording,
    epoch_to_utc,
    loads_json,
    reconstruct_commands,
    redact_hidden_input,
    replay_input,
    session_events,
    to_asciicast_v2,
    warning_codes,
)
from evidence.parsers.sessions.asciicast import parse_asciicast

START = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def typed(*keys: str, step: float = 0.1) -> list[Frame]:
    """One input frame per key string, ``step`` seconds apart (no output: echo unknown)."""
    return [Frame(round(step * (index + 1), 6), "i", key) for index, key in enumerate(keys)]


def texts(frames: list[Frame]) -> list[str]:
    return [line.text for line in reconstruct_commands(frames)]


# --- keystroke replay ---------------------------------------------------------------------------


def test_plain_typing_gives_one_command_at_enter_time() -> None:
    assert reconstruct_commands(typed("l", "s", " ", "-", "l", "\r")) == [CommandLine(0.6, "ls -l")]


@pytest.mark.parametrize("erase", ["\x7f", "\x08"])
def test_backspace_and_delete_remove_the_last_character(erase: str) -> None:
    assert texts(typed("l", "s", "s", erase, "\r")) == ["ls"]


def test_backspace_on_an_empty_line_is_harmless() -> None:
    assert texts(typed("\x7f\x7fid\r")) == ["id"]


def test_ctrl_u_kills_the_line() -> None:
    assert texts(typed("rm -rf /tmp/x", "\x15", "pwd\r")) == ["pwd"]


def test_ctrl_w_kills_the_previous_word() -> None:
    assert texts(typed("echo foo bar  ", "\x17", "baz\r")) == ["echo foo baz"]


def test_ctrl_c_cancels_the_line() -> None:
    assert texts(typed("rm -rf /", "\x03", "whoami\r")) == ["whoami"]


def test_arrow_keys_and_ss3_keys_are_ignored() -> None:
    assert texts(typed("ls\x1b[A\x1b[D\x1bOB -l\x1b[1;5C\r")) == ["ls -l"]


def test_escape_sequence_split_across_frames_is_still_skipped() -> None:
    # sudo logs one byte per frame: ESC, "[", "A" arrive separately.
    assert texts(typed("\x1b", "[", "A", "i", "d", "\r")) == ["id"]


def test_a_lone_escape_does_not_swallow_enter() -> None:
    assert texts(typed("ls", "\x1b", "\r", "id\x1b[\r")) == ["ls", "id"]


def test_bracketed_paste_and_terminal_replies_are_skipped() -> None:
    frames = typed("\x1b]11;rgb:0000/0000/0000\x07", "\x1b[12;1R", "\x1b[200~uptime\x1b[201~", "\r")
    assert texts(frames) == ["uptime"]


def test_several_lines_in_one_frame_and_crlf() -> None:
    assert reconstruct_commands(typed("date\r\nuname -a\n")) == [CommandLine(0.1, "date"), CommandLine(0.1, "uname -a")]


def test_blank_lines_and_an_unfinished_line_give_no_command() -> None:
    assert texts(typed("\r", "   \r", "reboot")) == []


def test_control_characters_are_dropped_and_tab_is_kept() -> None:
    assert texts(typed("sys\ttemctl\x00\x1a status\r")) == ["sys\ttemctl status"]


def test_unechoed_line_is_hidden_not_a_command() -> None:
    frames = [
        Frame(0.1, "o", "Password: "),
        *[Frame(0.2 + index / 10, "i", char) for index, char in enumerate("hunter2")],
        Frame(1.0, "i", "\r"),
        Frame(1.01, "o", "\r\n$ "),
        Frame(1.5, "i", "l"),
        Frame(1.51, "o", "l"),
        Frame(1.6, "i", "s"),
        Frame(1.61, "o", "s"),
        Frame(1.7, "i", "\r"),
        Frame(1.71, "o", "\r\nfile\r\n"),
    ]
    replay = replay_input(frames)
    assert replay.commands == [CommandLine(1.7, "ls")]
    assert replay.hidden_at == [1.0]
    assert replay.hidden_frames == list(range(1, 8))


def test_pasted_line_with_echo_counts_as_echoed() -> None:
    frames = [Frame(0.1, "i", "date\r"), Frame(0.11, "o", "date\r\nThu\r\n")]
    assert texts(frames) == ["date"]


def test_redact_hidden_input_masks_only_the_secret() -> None:
    frames = [Frame(0.1, "o", "Password:"), Frame(0.2, "i", "s"), Frame(0.3, "i", "3"), Frame(0.4, "i", "\r")]
    frames += [Frame(0.5, "o", "$ "), Frame(0.6, "i", "id"), Frame(0.61, "o", "id"), Frame(0.7, "i", "\r")]
    recording = SessionRecording(format="asciicast-v2", session_id="x", sha256="0" * 64, frames=frames)
    redacted = redact_hidden_input(recording)
    assert [frame.data for frame in redacted.frames if frame.kind == "i"] == ["*", "*", "\r", "id", "\r"]
    assert redacted.extra["redacted_frames"] == 2
    assert reconstruct_commands(redacted.frames) == [CommandLine(0.7, "id")]
    assert recording.frames[1].data == "s"  # the original is untouched


def test_redact_without_hidden_input_returns_the_same_recording() -> None:
    recording = SessionRecording(format="tlog", session_id="x", sha256="0", frames=typed("id\r"))
    assert redact_hidden_input(recording) is recording


# --- frames, warnings, helpers ------------------------------------------------------------------


def test_frame_builder_clamps_backwards_times_and_warns() -> None:
    warnings = WarningLog()
    builder = FrameBuilder(warnings)
    builder.add(2.0, "o", "a")
    builder.add(1.0, "o", "b")
    builder.add(3.0, "o", "")  # empty data is not a frame
    assert builder.frames == [Frame(2.0, "o", "a"), Frame(2.0, "o", "b")]
    assert builder.end == 2.0
    assert warnings.count("time_went_backwards") == 1


def test_frame_builder_rounds_to_microseconds_and_scrubs_lone_surrogates() -> None:
    builder = FrameBuilder(WarningLog())
    builder.add(0.1 + 0.2, "o", "a\ud800b")
    assert builder.frames == [Frame(0.3, "o", "a\ufffdb")]


@pytest.mark.parametrize("at", [-1.0, float("nan"), float("inf"), 1e12])
def test_frame_builder_rejects_impossible_times(at: float) -> None:
    with pytest.raises(ParseError) as caught:
        FrameBuilder(WarningLog()).add(at, "o", "x")
    assert caught.value.reason == "bad_time"


def test_frame_builder_caps_the_number_of_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "MAX_FRAMES", 3)
    builder = FrameBuilder(WarningLog())
    for index in range(3):
        builder.add(index, "o", "x")
    with pytest.raises(ParseError) as caught:
        builder.add(4, "o", "x")
    assert caught.value.reason == "session_too_large"


def test_warning_log_keeps_a_bounded_number_of_details(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "MAX_WARNINGS_PER_CODE", 2)
    warnings = WarningLog()
    for index in range(5):
        warnings.add("bad_event_line", f"line {index}")
    warnings.add("missing_messages", "id 4")
    assert warnings.as_list() == [
        "bad_event_line: line 0",
        "bad_event_line: line 1",
        "missing_messages: id 4",
        "bad_event_line: 3 more not listed",
    ]
    assert warnings.count("bad_event_line") == 5


def test_metered_reader_hashes_counts_and_caps() -> None:
    reader = MeteredReader(io.BytesIO(b"abcdef"), limit=10)
    assert reader.read(2) == b"ab"
    assert reader.drain() == "bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721"
    assert reader.count == 6
    with pytest.raises(ParseError) as caught:
        MeteredReader(io.BytesIO(b"x" * 11), limit=10).drain()
    assert caught.value.reason == "session_too_large"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (1714555800.5, START + timedelta(seconds=0.5)),
        (-1, None),
        (1e20, None),
        ("1714555800", None),
        (True, None),
        (None, None),
    ],
)
def test_epoch_to_utc(value: object, expected: datetime | None) -> None:
    assert epoch_to_utc(value) == expected


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", "[" * 100_000])
def test_loads_json_refuses_non_finite_and_deep_nesting(text: str) -> None:
    with pytest.raises(ValueError):
        loads_json(text)


# --- recordings, asciicast export, events -------------------------------------------------------


def make_recording(started_at: datetime | None = START) -> SessionRecording:
    warnings = WarningLog()
    builder = FrameBuilder(warnings)
    for at, kind, data in [
        (0.5, "o", "$ "),
        (1.0, "i", "i"),
        (1.01, "o", "i"),
        (1.2, "i", "d"),
        (1.21, "o", "d"),
        (1.5, "i", "\r"),
        (1.6, "o", "\r\nuid=0(root)\r\n$ "),
        (2.0, "r", "100x30"),
        (2.5, "m", "checkpoint"),
    ]:
        builder.add(at, kind, data)
    builder.reach(3.25)
    return build_recording(
        fmt="sudo-iolog",
        sha256="ab" * 32,
        builder=builder,
        warnings=warnings,
        session_id="000001",
        started_at=started_at,
        extra={"runas_user": "root", "env": {"TERM": "xterm", "LANG": None}, "exit_status": 0},
        user="alice",
        host="db1.example.test",
        width=90,
        height=25,
        command="/bin/bash",
        title="maintenance",
    )


def test_build_recording_reconstructs_commands_and_the_end() -> None:
    recording = make_recording()
    assert recording.commands == [CommandLine(1.5, "id")]
    assert recording.duration == 3.25
    assert recording.ended_at == START + timedelta(seconds=3.25)
    assert recording.warnings == []


def test_build_recording_without_input_warns() -> None:
    warnings = WarningLog()
    builder = FrameBuilder(warnings)
    builder.add(1.0, "o", "hello")
    recording = build_recording(fmt="tlog", sha256="cd" * 32, builder=builder, warnings=warnings)
    assert recording.commands == []
    assert warning_codes(recording) == ["no_input_stream"]
    assert recording.session_id == "cd" * 8
    assert recording.ended_at is None


def test_to_asciicast_v2_writes_a_header_and_one_line_per_frame() -> None:
    recording = make_recording()
    lines = to_asciicast_v2(recording).decode("utf-8").splitlines()
    assert json.loads(lines[0]) == {
        "version": 2,
        "width": 90,
        "height": 25,
        "timestamp": int(START.timestamp()),
        "duration": 3.25,
        "command": "/bin/bash",
        "title": "maintenance",
        "env": {"TERM": "xterm"},
    }
    assert [json.loads(line) for line in lines[1:]] == [list(frame) for frame in recording.frames]


def test_to_asciicast_v2_defaults_the_size_and_keeps_unicode_readable() -> None:
    builder = FrameBuilder(WarningLog())
    builder.add(0.25, "o", "żółć \x1b[1m")
    recording = build_recording(fmt="tlog", sha256="0" * 64, builder=builder, warnings=WarningLog())
    document = to_asciicast_v2(recording)
    assert json.loads(document.splitlines()[0])["width"] == 80
    assert "żółć".encode() in document


def test_asciicast_v2_export_round_trips() -> None:
    recording = make_recording()
    back = parse_asciicast(io.BytesIO(to_asciicast_v2(recording)))
    assert back.frames == recording.frames
    assert back.commands == recording.commands
    assert (back.width, back.height, back.duration) == (90, 25, 3.25)
    assert back.started_at == START
    assert back.title == "maintenance"


def test_session_events_start_commands_end() -> None:
    recording = make_recording()
    events = session_events(recording)
    assert [event.action for event in events] == [Action.SESSION_START, Action.COMMAND, Action.SESSION_END]
    start, command, end = events
    assert start.time == START
    assert start.command == "/bin/bash"
    assert start.program == "sudo"
    assert command.time == START + timedelta(seconds=1.5)
    assert command.command == "id"
    assert command.outcome == Outcome.UNKNOWN
    assert end.time == START + timedelta(seconds=3.25)
    assert end.extra["exit_status"] == 0
    for event in events:
        assert (event.user, event.host, event.session_id, event.target_user) == (
            "alice",
            "db1.example.test",
            "000001",
            "root",
        )
        json.dumps(event.extra)


def test_session_events_without_a_start_time_have_no_end_and_use_the_default_host() -> None:
    recording = dataclasses.replace(make_recording(started_at=None), host="")
    events = session_events(recording, ParseContext(default_host="fallback"))
    assert [event.action for event in events] == [Action.SESSION_START, Action.COMMAND]
    assert all(event.time is None for event in events)
    assert all(event.host == "fallback" for event in events)
    assert events[1].extra["offset"] == 1.5
