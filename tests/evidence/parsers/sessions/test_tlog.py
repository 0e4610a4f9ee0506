"""tlog recordings: timing decoding, message ordering, gap detection, journal wrappers."""

from __future__ import annotations

import hashlib
import io
import json
import struct
from datetime import UTC, datetime, timedelta

import pytest

from evidence.parsers.base import ParseError
from evidence.parsers.sessions import CommandLine, Frame, to_asciicast_v2, warning_codes
from evidence.parsers.sessions.asciicast import parse_asciicast
from evidence.parsers.sessions.tlog import TimingOp, find_gaps, parse_timing, parse_tlog

REC = "0a1b2c3d4e5f-1f2-abc"
START = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def message(msg_id: int, pos: int, timing: str, out_txt: str = "", in_txt: str = "", **fields: object) -> dict:
    return {
        "ver": "2.2",
        "host": "web1.example.test",
        "rec": REC,
        "user": "carol",
        "term": "xterm",
        "session": 42,
        "id": msg_id,
        "pos": pos,
        "timing": timing,
        "in_txt": in_txt,
        "in_bin": [],
        "out_txt": out_txt,
        "out_bin": [],
        **fields,
    }


def json_lines(*messages: dict) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in messages)


def parse_one(data: bytes) -> object:
    recordings = parse_tlog(io.BytesIO(data))
    assert len(recordings) == 1
    return recordings[0]


# --- timing strings -----------------------------------------------------------------------------


def test_parse_timing_all_record_kinds() -> None:
    assert parse_timing("=80x24<5+10>6[1/2+3]4/5") == [
        TimingOp(0, "=", 80, 24),
        TimingOp(0, "<", 5),
        TimingOp(10, ">", 6),
        TimingOp(0, "[", 1, 2),
        TimingOp(3, "]", 4, 5),
    ]
    assert parse_timing("") == []


@pytest.mark.parametrize("timing", ["0", "+5", ">", "=80", "<1+", "++1>1", ">1 ", "<-1", ">9999999999999"])
def test_parse_timing_rejects_invalid_strings(timing: str) -> None:
    with pytest.raises(ValueError):
        parse_timing(timing)


@pytest.mark.parametrize(
    ("ids", "gaps"),
    [([1, 2, 3], []), ([1, 3], [[2, 2]]), ([2, 3, 7], [[1, 1], [4, 6]]), ([], [])],
)
def test_find_gaps(ids: list[int], gaps: list[list[int]]) -> None:
    assert find_gaps(ids) == gaps


# --- rebuilding recordings ----------------------------------------------------------------------


def test_single_message_frames_commands_and_window() -> None:
    data = json_lines(
        message(1, 0, "=80x24>2+100<2+5>2+200<1+1>2+50=100x30", out_txt="$ id\r\n", in_txt="id\r", time=1714555800.0)
    )
    recording = parse_one(data)
    assert recording.format == "tlog"
    assert (recording.user, recording.host, recording.session_id) == ("carol", "web1.example.test", REC)
    assert (recording.width, recording.height) == (80, 24)
    assert recording.frames == [
        Frame(0.0, "o", "$ "),
        Frame(0.1, "i", "id"),
        Frame(0.105, "o", "id"),
        Frame(0.305, "i", "\r"),
        Frame(0.306, "o", "\r\n"),
        Frame(0.356, "r", "100x30"),
    ]
    assert recording.commands == [CommandLine(0.305, "id")]
    assert recording.started_at == START
    assert recording.extra["start_time_source"] == "tlog-time"
    assert recording.extra["audit_session"] == 42
    assert recording.sha256 == hashlib.sha256(data).hexdigest()
    assert recording.warnings == []


def test_messages_are_ordered_by_id_and_positioned_by_pos() -> None:
    data = json_lines(message(2, 1000, ">1+500>1", out_txt="cd"), message(1, 0, "=80x24>1+10>1", out_txt="ab"))
    recording = parse_one(data)
    assert [(frame.at, frame.data) for frame in recording.frames] == [(0.0, "a"), (0.01, "b"), (1.0, "c"), (1.5, "d")]
    assert recording.extra["messages"] == 2
    assert recording.duration == 1.5


def test_unchanged_window_size_in_later_messages_is_not_a_resize() -> None:
    data = json_lines(message(1, 0, "=80x24>1", out_txt="a"), message(2, 10, "=80x24>1", out_txt="b"))
    assert [frame.kind for frame in parse_one(data).frames] == ["o", "o"]


def test_missing_message_is_reported_as_a_gap() -> None:
    data = json_lines(
        message(1, 0, ">1", out_txt="a"), message(2, 10, ">1", out_txt="b"), message(5, 40, ">1", out_txt="e")
    )
    recording = parse_one(data)
    assert recording.extra["gaps"] == [[3, 4]]
    assert "missing_messages: ids 3-4 missing: the recording has a gap" in recording.warnings
    assert [frame.data for frame in recording.frames] == ["a", "b", "e"]


def test_missing_first_message_is_a_gap_too() -> None:
    recording = parse_one(json_lines(message(2, 500, ">1", out_txt="b")))
    assert recording.extra["gaps"] == [[1, 1]]


def test_duplicate_and_backwards_messages_are_warned_about() -> None:
    data = json_lines(
        message(1, 0, ">1", out_txt="a"),
        message(2, 500, ">1", out_txt="b"),
        message(2, 500, ">1", out_txt="b"),
        message(3, 100, ">1", out_txt="c"),
    )
    recording = parse_one(data)
    assert {"duplicate_message", "pos_went_backwards", "time_went_backwards"} <= set(warning_codes(recording))
    assert [frame.data for frame in recording.frames] == ["a", "b", "c"]


def test_bad_timing_keeps_the_text_at_pos() -> None:
    data = json_lines(message(1, 0, ">1", out_txt="a"), message(2, 2000, "0", out_txt="lost?"))
    recording = parse_one(data)
    assert recording.frames[-1] == Frame(2.0, "o", "lost?")
    assert recording.warnings[0].startswith("bad_timing: message 2: invalid timing at character 0")


def test_timing_asking_for_more_text_than_there_is_is_bad_timing() -> None:
    recording = parse_one(json_lines(message(1, 0, ">10", out_txt="short")))
    assert "bad_timing" in warning_codes(recording)
    assert recording.frames == [Frame(0.0, "o", "short")]


def test_text_not_covered_by_timing_is_kept_with_a_warning() -> None:
    recording = parse_one(json_lines(message(1, 0, ">2+30>1", out_txt="abcdef")))
    assert recording.frames == [Frame(0.0, "o", "ab"), Frame(0.03, "o", "c"), Frame(0.03, "o", "def")]
    assert "timing_text_mismatch" in warning_codes(recording)


def test_binary_records_use_the_replacement_characters() -> None:
    data = json_lines(message(1, 0, ">1]1/2>1", out_txt="a\ufffdb", out_bin=[0xC3, 0x28]))
    assert [frame.data for frame in parse_one(data).frames] == ["a", "\ufffd", "b"]


def test_binary_record_beyond_the_byte_array_is_bad_timing() -> None:
    recording = parse_one(json_lines(message(1, 0, "]1/5", out_txt="\ufffd", out_bin=[0xFF])))
    assert "bad_timing" in warning_codes(recording)


def test_output_only_recording_warns_that_commands_are_unknown() -> None:
    assert "no_input_stream" in warning_codes(parse_one(json_lines(message(1, 0, ">1", out_txt="a"))))


def test_several_recordings_in_one_input() -> None:
    other = {**message(1, 0, ">1", out_txt="x"), "rec": "other-rec", "user": "dave"}
    recordings = parse_tlog(io.BytesIO(json_lines(message(1, 0, ">1", out_txt="a"), other)))
    assert [(item.session_id, item.user) for item in recordings] == [(REC, "carol"), ("other-rec", "dave")]
    assert recordings[0].sha256 == recordings[1].sha256
    assert recordings[0].extra["recordings_in_input"] == 2


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        json.dumps({**message(1, 0, ">1"), "ver": "1"}),
        json.dumps({**message(1, 0, ">1"), "id": 0}),
        json.dumps({key: value for key, value in message(1, 0, ">1").items() if key != "rec"}),
        json.dumps({**message(1, 0, ">1"), "out_bin": [256]}),
        json.dumps({**message(1, 0, ">1"), "session": True}),
    ],
)
def test_bad_messages_are_skipped_with_a_warning(bad: str) -> None:
    data = json_lines(message(1, 0, ">1", out_txt="a")) + bad.encode() + b"\n"
    assert "bad_message" in warning_codes(parse_one(data))


def test_input_without_messages_is_rejected() -> None:
    with pytest.raises(ParseError) as caught:
        parse_tlog(io.BytesIO(b'{"MESSAGE": "Started session"}\n'))
    assert caught.value.reason == "no_recording"


def test_unrecognised_input_is_rejected() -> None:
    with pytest.raises(ParseError) as caught:
        parse_tlog(io.BytesIO(b"<xml/>"))
    assert caught.value.reason == "unrecognised_format"


# --- journal wrappers ---------------------------------------------------------------------------


def journal_json_entry(item: dict, realtime_us: int, as_bytes: bool = False) -> dict:
    text = json.dumps(item)
    return {
        "__REALTIME_TIMESTAMP": str(realtime_us),
        "_HOSTNAME": "web1",
        "SYSLOG_IDENTIFIER": "-tlog-rec-session",
        "MESSAGE": list(text.encode()) if as_bytes else text,
    }


def test_journalctl_json_lines_with_string_and_byte_array_messages() -> None:
    start_us = int(START.timestamp() * 1_000_000)
    entries = [
        {"MESSAGE": "sshd: Accepted publickey", "__REALTIME_TIMESTAMP": "1"},
        journal_json_entry(message(1, 0, ">1+250>1", out_txt="ab"), start_us + 250_000),
        journal_json_entry(message(2, 300, ">1", out_txt="c"), start_us + 400_000, as_bytes=True),
    ]
    recording = parse_one(b"".join(json.dumps(entry).encode() + b"\n" for entry in entries))
    assert [frame.data for frame in recording.frames] == ["a", "b", "c"]
    assert recording.extra["source"] == "journal-json"
    assert recording.extra["ignored_entries"] == 1
    # the journal received message 1 after its last event (250 ms): the start is estimated from that
    assert recording.started_at == START
    assert recording.extra["start_time_source"] == "journal-estimate"


def export_entry(fields: dict[str, str], binary: dict[str, bytes] | None = None) -> bytes:
    out = b"".join(f"{key}={value}\n".encode() for key, value in fields.items())
    for key, value in (binary or {}).items():
        out += key.encode() + b"\n" + struct.pack("<Q", len(value)) + value + b"\n"
    return out + b"\n"


def test_journal_export_format_with_text_and_binary_message_fields() -> None:
    start_us = int(START.timestamp() * 1_000_000)
    first = json.dumps(message(1, 0, ">1", out_txt="a"))
    second = json.dumps(message(2, 1000, ">1<2", out_txt="b", in_txt="\r\n")).encode()
    data = (
        export_entry({"__CURSOR": "s=1", "__REALTIME_TIMESTAMP": "5", "MESSAGE": "unrelated"})
        + export_entry({"__REALTIME_TIMESTAMP": str(start_us), "MESSAGE": first})
        + export_entry({"__REALTIME_TIMESTAMP": str(start_us + 1_000_000)}, {"MESSAGE": second, "BLOB": b"\x00\n\x01"})
    )
    recording = parse_one(data)
    assert [frame.data for frame in recording.frames] == ["a", "b", "\r\n"]
    assert recording.extra["source"] == "journal-export"
    assert recording.extra["ignored_entries"] == 1
    assert recording.started_at == START
    assert recording.ended_at == START + timedelta(seconds=1)


def test_journal_export_cut_inside_a_binary_field_is_rejected() -> None:
    data = b"__REALTIME_TIMESTAMP=1\nMESSAGE\n" + struct.pack("<Q", 100) + b"short"
    with pytest.raises(ParseError) as caught:
        parse_tlog(io.BytesIO(data))
    assert caught.value.reason == "truncated_journal"


def test_journal_export_oversized_binary_field_is_skipped() -> None:
    huge = b"x" * (1024 * 1024 + 1)
    data = export_entry({"__REALTIME_TIMESTAMP": "1"}, {"MESSAGE": huge}) + export_entry(
        {"MESSAGE": json.dumps(message(1, 0, ">1", out_txt="a"))}
    )
    recording = parse_one(data)
    assert "oversized_journal_field" in warning_codes(recording)
    assert len(recording.frames) == 1


def test_tlog_recording_round_trips_through_asciicast_v2() -> None:
    data = json_lines(
        message(1, 0, "=80x24>2+100<1+1>1", out_txt="$ ll", in_txt="l"), message(2, 400, ">1", out_txt="!")
    )
    recording = parse_one(data)
    back = parse_asciicast(io.BytesIO(to_asciicast_v2(recording)))
    assert back.frames == recording.frames
    assert (back.width, back.height) == (80, 24)
