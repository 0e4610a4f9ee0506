"""sudo I/O logs: session directories, and uploaded archives including hostile ones."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import struct
import tarfile
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evidence.parsers import archive
from evidence.parsers.archive import safe_member_name
from evidence.parsers.base import ParseError
from evidence.parsers.sessions import CommandLine, Frame, to_asciicast_v2, warning_codes
from evidence.parsers.sessions import sudo_iolog as sudo
from evidence.parsers.sessions.asciicast import parse_asciicast
from evidence.parsers.sessions.sudo_iolog import (
    TimingEntry,
    parse_delay,
    parse_log_json,
    parse_log_legacy,
    parse_sudo_iolog_archive,
    parse_sudo_iolog_dir,
    parse_timing_line,
)

MiB = 1024 * 1024
START = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
LOG = b"1714555800:alice:root:wheel:/dev/pts/3:24:80\n/home/alice\n/bin/bash -l\n"
PROMPT_OUT = b"\r\nuid=0(root)\r\n# "
SESSION = {
    "log": LOG,
    "timing": (
        b"4 0.100000000 2\n"  # "# "
        b"3 0.500000000 1\n4 0.010000000 1\n"  # "i" typed and echoed
        b"3 0.200000000 1\n4 0.010000000 1\n"  # "d"
        b"3 0.300000000 1\n"  # Enter
        b"4 0.010000000 %d\n"
        b"5 0.500000000 30 100\n"  # window resized to 100x30
        b"7 0.100000000 TSTP\n7 0.200000000 CONT\n" % len(PROMPT_OUT)
    ),
    "ttyin": b"id\r",
    "ttyout": b"# id" + PROMPT_OUT,
}


def write_session(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


def reason(call: Callable[[], object]) -> str:
    with pytest.raises(ParseError) as caught:
        call()
    return caught.value.reason


# --- log, log.json, timing ----------------------------------------------------------------------


def test_parse_log_legacy() -> None:
    info = parse_log_legacy(LOG)
    assert (info.started_at, info.user, info.runas_user, info.runas_group) == (START, "alice", "root", "wheel")
    assert (info.tty, info.cwd, info.command) == ("/dev/pts/3", "/home/alice", "/bin/bash -l")
    assert (info.rows, info.cols) == (24, 80)


def test_parse_log_legacy_without_size_and_with_latin1_command() -> None:
    info = parse_log_legacy(b"1714555800:bob:root::/dev/console\n/\n/usr/bin/vi caf\xe9.txt\n")
    assert (info.rows, info.cols, info.runas_group) == (None, None, "")
    assert info.command == "/usr/bin/vi caf\ufffd.txt"
    assert info.extra == {"log_invalid_utf8": True}


@pytest.mark.parametrize("data", [b"", b"1714555800:alice\n/\n", b"yesterday:alice:root::tty\n/\n/bin/id\n"])
def test_parse_log_legacy_rejects_bad_files(data: bytes) -> None:
    assert reason(lambda: parse_log_legacy(data)) == "bad_log"


def test_parse_log_json() -> None:
    document = {
        "timestamp": {"seconds": 1714555800, "nanoseconds": 250000000},
        "submituser": "alice",
        "submithost": "db1.example.test",
        "runuser": "root",
        "command": "/usr/bin/systemctl",
        "runargv": ["systemctl", "restart", "nginx"],
        "runenv": ["SECRET_TOKEN=abc"],
        "lines": 40,
        "columns": 132,
        "ttyname": "/dev/pts/1",
        "submitcwd": "/root",
        "uuid": "1f2e3d4c",
        "exit_value": 0,
    }
    info = parse_log_json(json.dumps(document).encode())
    assert info.started_at == START.replace(microsecond=250000)
    assert (info.user, info.host, info.runas_user) == ("alice", "db1.example.test", "root")
    assert info.command == "/usr/bin/systemctl restart nginx"
    assert (info.rows, info.cols) == (40, 132)
    assert info.extra["uuid"] == "1f2e3d4c"
    assert "runenv" not in info.extra  # the environment may hold secrets


@pytest.mark.parametrize("data", [b"[]", b"{", b"NaN"])
def test_parse_log_json_rejects_bad_files(data: bytes) -> None:
    assert reason(lambda: parse_log_json(data)) == "bad_log"


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [("0.000000001", 1), ("1.5", 1_500_000_000), ("2,25", 2_250_000_000), ("0.1234567891234", 123456789)],
)
def test_parse_delay(text: str, nanoseconds: int) -> None:
    assert parse_delay(text) == nanoseconds


@pytest.mark.parametrize(
    ("line", "entry"),
    [
        ("4 0.5 12", TimingEntry(4, 500_000_000, size=12)),
        ("5 0.25 30 100", TimingEntry(5, 250_000_000, rows=30, cols=100)),
        ("7 1.0 TSTP", TimingEntry(7, 1_000_000_000, signal="TSTP")),
        ("0  0.1  3", TimingEntry(0, 100_000_000, size=3)),
    ],
)
def test_parse_timing_line(line: str, entry: TimingEntry) -> None:
    assert parse_timing_line(line) == entry


@pytest.mark.parametrize("line", ["8 0.1 1", "4 1 12", "4 0.1", "4 0.1 x", "5 0.1 30", "x 0.1 1", "4 0.1 999999999999"])
def test_parse_timing_line_rejects(line: str) -> None:
    with pytest.raises(ValueError):
        parse_timing_line(line)


# --- session directories ------------------------------------------------------------------------


def test_session_directory(tmp_path: Path) -> None:
    recording = parse_sudo_iolog_dir(write_session(tmp_path / "session", SESSION))
    assert recording.format == "sudo-iolog"
    assert (recording.user, recording.command, recording.started_at) == ("alice", "/bin/bash -l", START)
    assert (recording.width, recording.height) == (80, 24)
    assert recording.extra["runas_user"] == "root"
    assert recording.frames == [
        Frame(0.1, "o", "# "),
        Frame(0.6, "i", "i"),
        Frame(0.61, "o", "i"),
        Frame(0.81, "i", "d"),
        Frame(0.82, "o", "d"),
        Frame(1.12, "i", "\r"),
        Frame(1.13, "o", PROMPT_OUT.decode()),
        Frame(1.63, "r", "100x30"),
        Frame(1.73, "m", "SIGTSTP"),
        Frame(1.93, "m", "SIGCONT"),
    ]
    assert recording.commands == [CommandLine(1.12, "id")]
    assert recording.duration == 1.93
    assert recording.warnings == []
    files = recording.extra["files"]
    assert files["ttyin"] == {"sha256": hashlib.sha256(b"id\r").hexdigest(), "bytes": 3}
    manifest = "".join(f"{name} {files[name]['sha256']}\n" for name in sorted(files))
    assert recording.sha256 == hashlib.sha256(manifest.encode()).hexdigest()
    assert recording.session_id == recording.sha256[:16]
    json.dumps(recording.extra)


def test_sequence_directory_gives_the_sudo_tsid(tmp_path: Path) -> None:
    recording = parse_sudo_iolog_dir(write_session(tmp_path / "00" / "0A" / "1Z", SESSION))
    assert recording.session_id == "000A1Z"


def test_log_json_wins_and_gzip_streams_are_read(tmp_path: Path) -> None:
    document = {"timestamp": {"seconds": 1714555800}, "submituser": "alice", "submithost": "db1", "uuid": "u-1"}
    files = {name: gzip.compress(data) for name, data in SESSION.items() if name != "log"}
    files["log.json"] = json.dumps(document).encode()
    files["log"] = LOG
    recording = parse_sudo_iolog_dir(write_session(tmp_path / "s", files))
    assert (recording.host, recording.session_id) == ("db1", "u-1")
    assert recording.command == "/bin/bash -l"  # filled in from the classic log
    assert recording.commands == [CommandLine(1.12, "id")]


def test_multibyte_characters_split_across_events_are_rejoined(tmp_path: Path) -> None:
    files = {"log": LOG, "timing": b"4 0.1 1\n4 0.1 2\n", "ttyout": "żx".encode()}
    recording = parse_sudo_iolog_dir(write_session(tmp_path / "s", files))
    assert recording.frames == [Frame(0.2, "o", "żx")]


def test_sudo_1_8_7_event_numbers_are_shifted(tmp_path: Path) -> None:
    files = {"log": LOG, "timing": b"6 0.1 1\n5 0.1 1\n", "ttyout": b"$", "ttyin": b"q"}
    recording = parse_sudo_iolog_dir(write_session(tmp_path / "s", files))
    assert recording.frames == [Frame(0.1, "o", "$"), Frame(0.2, "i", "q")]


def test_stream_problems_are_warnings(tmp_path: Path) -> None:
    files = {
        "log": LOG,
        "timing": b"4 0.1 2\nnonsense\n3 0.1 1\n1 0.1 5\n",
        "ttyout": b"$ ",
        "stdout": b"ab",  # the timing asks for 5 bytes
        "stderr": b"never timed",
    }
    recording = parse_sudo_iolog_dir(write_session(tmp_path / "s", files))
    assert set(warning_codes(recording)) == {
        "bad_timing",
        "missing_stream",
        "truncated_stream",
        "untimed_stream_data",
        "no_input_stream",
    }
    assert [frame.data for frame in recording.frames] == ["$ ", "ab"]


def test_missing_files_are_rejected(tmp_path: Path) -> None:
    no_log = write_session(tmp_path / "a", {"timing": b"", "ttyout": b""})
    no_timing = write_session(tmp_path / "b", {"log": LOG})
    assert reason(lambda: parse_sudo_iolog_dir(no_log)) == "missing_log"
    assert reason(lambda: parse_sudo_iolog_dir(no_timing)) == "missing_timing"
    assert reason(lambda: parse_sudo_iolog_dir(tmp_path / "absent")) == "not_a_directory"


def test_symlinked_stream_is_refused(tmp_path: Path) -> None:
    directory = write_session(tmp_path / "s", {"log": LOG, "timing": b"4 0.1 4\n"})
    secret = write_session(tmp_path / "elsewhere", {"secret": b"root:x:0:0"}) / "secret"
    (directory / "ttyout").symlink_to(secret)
    assert reason(lambda: parse_sudo_iolog_dir(directory)) == "link_in_session"


def test_too_many_bad_timing_lines_reject(tmp_path: Path) -> None:
    files = {"log": LOG, "timing": b"bad\n" * (sudo.MAX_BAD_LINES + 1)}
    assert reason(lambda: parse_sudo_iolog_dir(write_session(tmp_path / "s", files))) == "too_many_bad_lines"


def test_session_round_trips_through_asciicast_v2(tmp_path: Path) -> None:
    recording = parse_sudo_iolog_dir(write_session(tmp_path / "s", SESSION))
    back = parse_asciicast(io.BytesIO(to_asciicast_v2(recording)))
    assert back.frames == recording.frames
    assert back.commands == recording.commands


# --- archives -----------------------------------------------------------------------------------


def gz(data: bytes, level: int = 9) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def tar_bytes(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode, format=tarfile.PAX_FORMAT) as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                archive.addfile(info, io.BytesIO(member[1]))
    return buffer.getvalue()


def zip_bytes(members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def tree(*directories: str) -> list[tuple[str, bytes]]:
    members = [("README", b"exported with tar")]
    for directory in directories:
        members += [(f"{directory}/{name}", data) for name, data in SESSION.items()]
    return members


def parse_archive(data: bytes) -> list:
    return parse_sudo_iolog_archive(io.BytesIO(data))


@pytest.mark.parametrize(
    ("kind", "build"),
    [
        ("tar", lambda members: tar_bytes(members)),
        ("tar.gz", lambda members: tar_bytes(members, "w:gz")),
        ("zip", zip_bytes),
    ],
)
def test_archive_with_several_sessions(kind: str, build: Callable[[list], bytes]) -> None:
    data = build(tree("./alice/00/00/01", "alice/00/00/02"))
    recordings = parse_archive(data)
    assert [item.session_id for item in recordings] == ["000001", "000002"]
    for recording in recordings:
        assert recording.user == "alice"
        assert recording.commands == [CommandLine(1.12, "id")]
        assert recording.extra["archive_sha256"] == hashlib.sha256(data).hexdigest()
        assert recording.extra["archive_format"] == kind
    assert recordings[0].extra["archive_path"] == "alice/00/00/01"


def test_archive_from_a_non_seekable_stream() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._source = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:
            data = self._source.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)

    recordings = parse_sudo_iolog_archive(Pipe(zip_bytes(tree("s"))))  # type: ignore[arg-type]
    assert len(recordings) == 1


def test_broken_session_in_an_archive_names_the_directory() -> None:
    data = tar_bytes([*tree("ok"), ("bad/log", b"garbage"), ("bad/timing", b"")])
    with pytest.raises(ParseError) as caught:
        parse_archive(data)
    assert (caught.value.reason, caught.value.detail.split(":")[0]) == ("bad_log", "session bad")


def test_archive_without_sessions() -> None:
    assert reason(lambda: parse_archive(tar_bytes([("README", b"nothing here")]))) == "no_session"


@pytest.mark.parametrize(
    "name", ["../timing", "/etc/timing", "a/../../timing", "C:/timing", "a\\timing", "a/\x00/timing", "x/" * 40 + "t"]
)
def test_safe_member_name_refuses(name: str) -> None:
    assert reason(lambda: safe_member_name(name)) == "unsafe_path"


def test_safe_member_name_normalises() -> None:
    assert safe_member_name("./a//b/./timing") == "a/b/timing"


# --- hostile archives: each is refused with its reason, quickly, in bounded memory ---------------

ZERO_MEMBER = gz(bytes(MiB))  # 1 MiB of zeros as one ~1 KiB gzip member


def zeros_tar_gz(members: list[tuple[str, int]]) -> bytes:
    """A tar.gz whose members are ``size_mib`` MiB of zeros each, built from repeated gzip members
    (a concatenation of gzip members is one valid gzip stream) without ever holding the zeros."""
    parts: list[bytes] = []
    for name, size_mib in members:
        info = tarfile.TarInfo(name)
        info.size = size_mib * MiB
        parts.append(gz(info.tobuf(format=tarfile.GNU_FORMAT)))
        parts.extend([ZERO_MEMBER] * size_mib)
    parts.append(gz(bytes(2 * tarfile.BLOCKSIZE)))
    return b"".join(parts)


def streamed_zeros_zip(name: str, size_mib: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w") as member:
        chunk = bytes(MiB)
        for _ in range(size_mib):
            member.write(chunk)
    return buffer.getvalue()


def link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def special(name: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info


def zip_symlink() -> bytes:
    info = zipfile.ZipInfo("s/ttyout")
    info.create_system = 3
    info.external_attr = (0o120777 << 16) & 0xFFFF0000
    return zip_bytes([*tree("s")[:-1], (info, b"/etc/shadow")])


def encrypted_zip() -> bytes:
    """A zip whose last member has the "encrypted" flag set (zipfile cannot write one, so the flag
    is set afterwards in the member's local header and central directory entry)."""
    data = bytearray(zip_bytes(tree("s")))
    central = data.rfind(b"PK\x01\x02")
    (local,) = struct.unpack("<L", data[central + 42 : central + 46])
    for flags_at in (central + 8, local + 6):
        data[flags_at] |= 0x1
    return bytes(data)


def oversized_pax_header() -> bytes:
    info = tarfile.TarInfo("s/timing")
    info.pax_headers = {"comment": "x" * (archive.MAX_EXTENDED_HEADER_BYTES + 1)}
    return tar_bytes([info])


HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "dot-dot path": (lambda: tar_bytes([("s/../../etc/timing", b"")]), "unsafe_path"),
    "absolute path": (lambda: tar_bytes([("/var/log/sudo-io/timing", b"")]), "unsafe_path"),
    "zip dot-dot path": (lambda: zip_bytes([("../../timing", b"")]), "unsafe_path"),
    "zip absolute path": (lambda: zip_bytes([("/timing", b"")]), "unsafe_path"),
    "symlink": (lambda: tar_bytes([link("s/ttyout", "/etc/shadow", tarfile.SYMTYPE)]), "link_in_archive"),
    "hardlink": (lambda: tar_bytes([link("s/ttyout", "etc/shadow", tarfile.LNKTYPE)]), "link_in_archive"),
    "zip symlink": (zip_symlink, "link_in_archive"),
    "character device": (lambda: tar_bytes([special("s/ttyout", tarfile.CHRTYPE)]), "special_member"),
    "fifo": (lambda: tar_bytes([special("s/ttyin", tarfile.FIFOTYPE)]), "special_member"),
    "duplicate member": (lambda: tar_bytes([("s/timing", b""), ("./s/timing", b"4 0.1 9\n")]), "duplicate_member"),
    "encrypted zip member": (encrypted_zip, "encrypted_member"),
    "1 GiB member": (lambda: zeros_tar_gz([("s/ttyout", 1024)]), "member_too_large"),
    "gzip bomb": (lambda: zeros_tar_gz([(f"s{index}/ttyout", 32) for index in range(32)]), "decompression_bomb"),
    "zip bomb": (lambda: streamed_zeros_zip("s/ttyout", 40), "decompression_bomb"),
    "oversized pax header": (oversized_pax_header, "member_too_large"),
    "truncated gzip": (lambda: tar_bytes(tree("s"), "w:gz")[:-30], "truncated_archive"),
    "truncated tar": (lambda: tar_bytes([("s/ttyout", bytes(5000))])[:3000], "truncated_archive"),
    "gzip of garbage": (lambda: gz(b"this is not a tar archive" * 40), "corrupt_archive"),
    "not an archive": (lambda: b"MZ\x90\x00 a program", "unsupported_archive"),
    "empty upload": (lambda: b"", "unsupported_archive"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_archive_is_refused_quickly_in_bounded_memory(case: str) -> None:
    build, expected = HOSTILE[case]
    data = build()
    tracemalloc.start()
    started = time.monotonic()
    try:
        assert reason(lambda: parse_archive(data)) == expected
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 10
    assert peak < 64 * MiB


@pytest.mark.parametrize("build", [lambda n: tar_bytes(n, "w:gz"), zip_bytes])
def test_too_many_members(monkeypatch: pytest.MonkeyPatch, build: Callable[[list], bytes]) -> None:
    monkeypatch.setattr(archive, "MAX_ARCHIVE_MEMBERS", 5)
    data = build([(f"s/f{index}", b"") for index in range(6)])
    assert reason(lambda: parse_archive(data)) == "too_many_members"


def test_member_larger_than_declared_cap_while_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 1000)
    assert reason(lambda: parse_archive(tar_bytes([("s/ttyout", bytes(1001))]))) == "member_too_large"
    assert reason(lambda: parse_archive(zip_bytes([("s/ttyout", os.urandom(1001))]))) == "member_too_large"


def test_total_uncompressed_size_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    data = tar_bytes(tree("a", "b", "c"))
    monkeypatch.setattr(archive, "MAX_ARCHIVE_BYTES", len(data) - 1)
    assert reason(lambda: parse_archive(data)) == "archive_too_large"
    monkeypatch.setattr(archive, "MAX_ARCHIVE_BYTES", len(data) + 1)
    zipped = zip_bytes([(f"f{index}", os.urandom(len(data) // 4)) for index in range(5)])
    assert reason(lambda: parse_archive(zipped)) == "archive_too_large"


def test_gzip_bomb_inside_a_session_directory(tmp_path: Path) -> None:
    bomb = b"".join([ZERO_MEMBER] * 40)  # 40 MiB of zeros, sudo-compressed ttyout
    files = {"log": LOG, "timing": b"4 0.1 %d\n" % (40 * MiB), "ttyout": bomb}
    directory = write_session(tmp_path / "s", files)
    tracemalloc.start()
    try:
        assert reason(lambda: parse_sudo_iolog_dir(directory)) == "decompression_bomb"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * MiB
