"""The session parsers over the shared sample corpus (../shared/samples; see each README.txt).

- asciinema/: asciinema's own test casts (v1, v2, v3, nulls, a real fish session).
- tlog/: tlog's journal export fixtures: a good recording, one with an invalid timing ("0") and
  one with message id 4 missing.
- sudo/: sudo's I/O log regression directories (iolog_filter/test1-3, with ``ttyin.filtered``,
  sudo's own password-masked copy of the input) and fuzz seeds for log, log.json and timing.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from evidence.parsers.sessions import Frame, SessionRecording, WarningLog, session_events, to_asciicast_v2
from evidence.parsers.sessions.asciicast import parse_asciicast
from evidence.parsers.sessions.sudo_iolog import (
    iter_timing,
    parse_log_json,
    parse_log_legacy,
    parse_sudo_iolog_archive,
    parse_sudo_iolog_dir,
)
from evidence.parsers.sessions.tlog import parse_tlog
from tests.conftest import SAMPLES

pytestmark = pytest.mark.samples

ASCIINEMA = SAMPLES / "asciinema"
TLOG = SAMPLES / "tlog"
SUDO = SAMPLES / "sudo"
SEEDS = SUDO / "lib" / "iolog" / "regress" / "corpus" / "seed"


def sample_files(directory: Path, *patterns: str) -> list[Path]:
    return sorted(path for pattern in patterns for path in directory.glob(pattern)) if directory.is_dir() else []


def sudo_session_dirs() -> list[Path]:
    return sorted(path.parent for path in SUDO.rglob("timing") if path.is_file()) if SUDO.is_dir() else []


def check_recording(recording: SessionRecording) -> None:
    """What holds for every recording: ordered frames, a lossless asciicast v2 round trip, events."""
    times = [frame.at for frame in recording.frames]
    assert times == sorted(times)
    assert all(frame.kind in "oirm" and frame.data for frame in recording.frames)
    back = parse_asciicast(io.BytesIO(to_asciicast_v2(recording)))
    assert back.frames == recording.frames
    assert back.commands == recording.commands
    json.dumps(recording.extra)
    events = session_events(recording)
    assert events[0].action == "session_start"
    assert sum(event.action == "command" for event in events) == len(recording.commands)


# --- asciinema ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sample_files(ASCIINEMA, "*.cast", "*.json"), ids=lambda path: path.name)
def test_every_asciinema_sample_parses(path: Path) -> None:
    with path.open("rb") as stream:
        recording = parse_asciicast(stream)
    expected_version = 1 if path.suffix == ".json" else 3 if "v3" in path.name else 2
    assert recording.format == f"asciicast-v{expected_version}"
    assert recording.frames
    assert not any(code.startswith("bad_") for code in recording.warnings)
    check_recording(recording)


def test_asciinema_full_v2_and_v3_payloads_and_times() -> None:
    with (ASCIINEMA / "full-v2.cast").open("rb") as v2_stream, (ASCIINEMA / "full-v3.cast").open("rb") as v3_stream:
        v2, v3 = parse_asciicast(v2_stream), parse_asciicast(v3_stream)
    payloads = [("o", "ż"), ("o", "ółć"), ("i", "\n"), ("r", "80x40"), ("o", "\r\n")]
    for recording in (v2, v3):
        assert [(frame.kind, frame.data) for frame in recording.frames] == payloads
        assert (recording.width, recording.height, recording.command) == (100, 50, "/bin/bash")
        assert recording.started_at is not None
        assert int(recording.started_at.timestamp()) == 1509091818
    # README: v2 times are absolute, v3 ones are intervals (so the two files are not time-equivalent).
    assert [frame.at for frame in v2.frames] == [0.000001, 1.0, 2.3, 5.600001, 10.5]
    assert [frame.at for frame in v3.frames] == [0.000001, 1.000001, 1.300001, 2.900002, 13.400002]


def test_asciinema_nulls_are_tolerated() -> None:
    with (ASCIINEMA / "nulls-v2.cast").open("rb") as stream:
        recording = parse_asciicast(stream)
    assert recording.extra["env"] == {"TERM": None, "SHELL": "/bin/bash"}
    assert recording.frames == [Frame(1.23, "o", "hello")]


def test_asciinema_demo_session_commands() -> None:
    with (ASCIINEMA / "demo.cast").open("rb") as stream:
        recording = parse_asciicast(stream)
    assert (recording.width, recording.height) == (75, 18)
    assert recording.commands[0].text == "vim"


# --- tlog ---------------------------------------------------------------------------------------

TLOG_EXPECTED = {
    # file: (rec id, messages, gaps, warning codes beyond no_input_stream)
    "journal-good.txt": ("6211b985bd1e49908726bd24cd514099-600-b0b9", 7, [], set()),
    "journal-bad-timing.txt": ("6211b985bd1e49908726bd24cd514099-72d-df52", 4, [], {"bad_timing"}),
    "journal-missing-entry.txt": ("6211b985bd1e49908726bd24cd514099-786-11109", 15, [[4, 4]], {"missing_messages"}),
}


@pytest.mark.parametrize("name", sorted(TLOG_EXPECTED))
def test_tlog_journal_samples(name: str) -> None:
    rec, messages, gaps, codes = TLOG_EXPECTED[name]
    with (TLOG / name).open("rb") as stream:
        recordings = parse_tlog(stream)
    assert len(recordings) == 1
    recording = recordings[0]
    assert (recording.session_id, recording.user, recording.host) == (rec, "localuser1", "mytesthost.example.test")
    assert (recording.width, recording.height) == (103, 27)
    assert recording.extra["source"] == "journal-export"
    assert recording.extra["messages"] == messages
    assert recording.extra["gaps"] == gaps
    assert recording.extra["start_time_source"] == "journal-estimate"
    assert {item.partition(":")[0] for item in recording.warnings} == codes | {"no_input_stream"}
    assert recording.commands == []  # tlog recorded output only (in_txt is empty)
    check_recording(recording)


def test_tlog_good_sample_shows_the_typed_commands_in_its_output() -> None:
    with (TLOG / "journal-good.txt").open("rb") as stream:
        (recording,) = parse_tlog(stream)
    output = "".join(frame.data for frame in recording.frames if frame.kind == "o")
    assert "ps -ef" in output
    assert "su -\r\nPassword: \r\nsu: Authentication failure" in output


# --- sudo ---------------------------------------------------------------------------------------


def expected_hidden_lines(directory: Path) -> int:
    """Lines sudo itself masked in ``ttyin.filtered`` (typed with echo off): our hidden lines."""
    filtered = (directory / "ttyin.filtered").read_bytes().split(b"\r")[:-1]
    return sum(1 for line in filtered if line and set(line) == {ord("*")})


def test_sudo_session_directories_are_found() -> None:
    assert [path.name for path in sudo_session_dirs()] == ["test1", "test2", "test3"]


@pytest.mark.parametrize("directory", sudo_session_dirs(), ids=lambda path: path.name)
def test_every_sudo_session_directory_parses(directory: Path) -> None:
    recording = parse_sudo_iolog_dir(directory)
    info_line, cwd, command = (directory / "log").read_text().splitlines()[:3]
    timestamp, user, runas_user = info_line.split(":")[:3]
    assert (recording.user, recording.command, recording.extra["cwd"]) == (user, command, cwd)
    assert recording.extra["runas_user"] == runas_user
    assert recording.started_at is not None
    assert int(recording.started_at.timestamp()) == int(timestamp)
    assert (recording.width, recording.height) == (80, 24)
    assert len(recording.extra.get("hidden_input_at", [])) == expected_hidden_lines(directory)
    assert not [code for code in recording.warnings if not code.startswith("unechoed_input")]
    typed_in = "".join(frame.data for frame in recording.frames if frame.kind == "i")
    assert typed_in.encode() == (directory / "ttyin").read_bytes()
    check_recording(recording)


def test_sudo_su_session_command_and_password() -> None:
    directory = next(path for path in sudo_session_dirs() if path.name == "test2")
    recording = parse_sudo_iolog_dir(directory)
    assert [line.text for line in recording.commands] == ["echo hi there!"]
    assert len(recording.extra["hidden_input_at"]) == 1  # the su password, kept out of the commands


def test_sudo_session_directory_through_a_tar_gz_archive() -> None:
    directory = sudo_session_dirs()[0]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(directory, arcname=f"iolog/{directory.name}")
    (from_archive,) = parse_sudo_iolog_archive(io.BytesIO(buffer.getvalue()))
    from_directory = parse_sudo_iolog_dir(directory)
    assert from_archive.frames == from_directory.frames
    assert from_archive.sha256 == from_directory.sha256
    assert from_archive.extra["archive_path"] == f"iolog/{directory.name}"
    check_recording(from_archive)


@pytest.mark.parametrize("path", sample_files(SEEDS / "log_legacy", "*.log"), ids=lambda path: path.name)
def test_sudo_legacy_log_seeds(path: Path) -> None:
    info = parse_log_legacy(path.read_bytes())
    first, cwd, command = path.read_text().splitlines()[:3]
    assert (info.user, info.cwd, info.command) == (first.split(":")[1], cwd, command)
    assert info.started_at is not None
    assert (info.rows, info.cols) in {(24, 80), (64, 128)}


@pytest.mark.parametrize("path", sample_files(SEEDS / "log_json", "*.json"), ids=lambda path: path.name)
def test_sudo_log_json_seeds(path: Path) -> None:
    info = parse_log_json(path.read_bytes())
    assert info.host == "xerxes.sudo.ws"
    assert info.runas_user == "root"
    assert info.started_at is not None
    legacy = SEEDS / "log_legacy" / f"{path.stem}.log"
    if legacy.exists():  # the same session in both forms
        old = parse_log_legacy(legacy.read_bytes())
        assert (info.user, info.command) == (old.user, old.command)
        assert int(info.started_at.timestamp()) == int(old.started_at.timestamp())


@pytest.mark.parametrize("path", sample_files(SEEDS / "timing", "timing.*"), ids=lambda path: path.name)
def test_sudo_timing_seeds(path: Path) -> None:
    warnings = WarningLog()
    with path.open("rb") as stream:
        entries = list(iter_timing(stream, warnings))
    assert warnings.as_list() == []
    assert len(entries) == sum(1 for line in path.read_bytes().splitlines() if line.strip())
    assert {entry.event for entry in entries} <= {0, 1, 2, 3, 4, 5, 7}
