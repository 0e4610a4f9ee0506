"""sudo I/O logs (``log_output``/``log_input``, sudo_logsrvd): one directory per session.

A session directory holds:

- ``log``: ``time:user:runas_user:runas_group:tty[:lines:cols]``, then the cwd, then the command
  line; and/or ``log.json`` (sudo >= 1.9: ``timestamp``, ``submituser``, ``runuser``,
  ``submithost``, ``command``, ``runargv``, ``lines``, ``columns`` ...). ``log.json`` wins.
- ``timing``: one event per line, ``<event> <delay> <bytes>`` for the streams (0 stdin, 1 stdout,
  2 stderr, 3 ttyin, 4 ttyout), ``5 <delay> <rows> <cols>`` (window size) and ``7 <delay>
  <signal>`` (suspend/resume). As in sudo, an event type 6 (written by sudo 1.8.7's bug) shifts
  the types of it and every later line down by two. The delay is ``seconds.fraction`` since the
  previous event (a comma is accepted as in sudo < 1.7.4).
- the streams ``stdin stdout stderr ttyin ttyout`` (each possibly gzip-compressed, detected by
  magic, whatever the name), read sequentially as the timing consumes them.

``parse_sudo_iolog_dir`` reads one such directory, ``parse_sudo_iolog_archive`` every session
directory (any directory with a ``timing`` file) of an uploaded ``.tar``, ``.tar.gz`` or ``.zip``
through ``evidence.parsers.archive`` (nothing extracted; its rejections apply), plus ``no_session``
for an archive without one. A session directory that cannot be parsed rejects the archive too (the
detail names the directory): partial evidence from an upload is worse than a clear refusal.

``SessionRecording.sha256`` of a session is the SHA-256 of its manifest (one ``name sha256`` line
per session file, sorted); the per-file hashes are in ``extra["files"]`` and, for archives, the
hash of the upload itself in ``extra["archive_sha256"]``.
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import io
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO, NamedTuple, Protocol

from evidence.parsers import archive
from evidence.parsers.base import READ_BLOCK, OversizedRecord, ParseError, decode_text, iter_lines
from evidence.parsers.inflate import Budget, open_maybe_gzip
from evidence.parsers.sessions import (
    MAX_BAD_LINES,
    MAX_SESSION_BYTES,
    MAX_SESSION_SECONDS,
    FrameBuilder,
    SessionRecording,
    WarningLog,
    build_recording,
    epoch_to_utc,
    is_number,
    loads_json,
)

# --- limits -------------------------------------------------------------------------------------

MAX_LOG_BYTES = 1024 * 1024  # log / log.json
MAX_TIMING_LINE = 256

STREAMS = ("stdin", "stdout", "stderr", "ttyin", "ttyout")  # indexed by timing event type
SESSION_FILES = frozenset({"log", "log.json", "timing", *STREAMS})
_EVENT_WINSIZE, _EVENT_TTYOUT_1_8_7, _EVENT_SUSPEND = 5, 6, 7
_STREAM_KINDS = {"stdin": "i", "stdout": "o", "stderr": "o", "ttyin": "i", "ttyout": "o"}
_DELAY = re.compile(r"(\d{1,12})[.,](\d{1,30})")
_SEQUENCE_PART = re.compile(r"[0-9A-Z]{2}")


# --- session metadata: log / log.json -----------------------------------------------------------


@dataclass(slots=True)
class LogInfo:
    """What sudo's ``log`` / ``log.json`` says about a session."""

    started_at: datetime | None = None
    user: str = ""
    runas_user: str = ""
    runas_group: str = ""
    tty: str = ""
    cwd: str = ""
    command: str = ""
    host: str = ""
    rows: int | None = None
    cols: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _decode_lenient(data: bytes) -> tuple[str, bool]:
    """UTF-8 text, invalid bytes replaced (file names in commands need not be UTF-8); and whether
    anything had to be replaced."""
    try:
        return decode_text(data), False
    except ParseError:
        return data.decode("utf-8", "replace"), True


def parse_log_legacy(data: bytes) -> LogInfo:
    """The classic ``log`` file (three lines), as sudo's ``iolog_parse_loginfo`` reads it."""
    text, replaced = _decode_lenient(data)
    lines = text.split("\n")
    if len(lines) < 3:
        raise ParseError("bad_log", "log needs three lines: info, cwd, command")
    fields = lines[0].split(":", 5)
    if len(fields) < 5 or not fields[0].isdigit():
        raise ParseError("bad_log", f"bad info line {lines[0][:80]!r}")
    size = fields[5].split(":") if len(fields) == 6 else []
    return LogInfo(
        started_at=epoch_to_utc(int(fields[0])),
        user=fields[1],
        runas_user=fields[2],
        runas_group=fields[3],
        tty=fields[4],
        cwd=lines[1],
        command=lines[2],
        rows=_positive(size[0]) if size else None,
        cols=_positive(size[1]) if len(size) > 1 else None,
        extra={"log_invalid_utf8": True} if replaced else {},
    )


def parse_log_json(data: bytes) -> LogInfo:
    """The ``log.json`` file of sudo >= 1.9 (and sudo_logsrvd)."""
    try:
        value = loads_json(_decode_lenient(data)[0])
    except ValueError as exc:
        raise ParseError("bad_log", f"log.json: {exc}") from exc
    if not isinstance(value, dict):
        raise ParseError("bad_log", "log.json is not an object")
    text = _text_getter(value)
    argv = value.get("runargv")
    argv = [str(item) for item in argv] if isinstance(argv, list) else []
    command = " ".join([text("command"), *argv[1:]]).strip()
    return LogInfo(
        started_at=_json_time(value.get("timestamp") or value.get("submit_time")),
        user=text("submituser"),
        runas_user=text("runuser"),
        runas_group=text("rungroup"),
        tty=text("ttyname"),
        cwd=text("runcwd") or text("submitcwd"),
        command=command,
        host=text("submithost"),
        rows=_positive(value.get("lines")),
        cols=_positive(value.get("columns")),
        extra=_json_extras(value),
    )


def _text_getter(value: dict[str, Any]) -> Callable[[str], str]:
    def text(name: str) -> str:
        item = value.get(name)
        return item if isinstance(item, str) else ""

    return text


def _json_time(value: object) -> datetime | None:
    if not isinstance(value, dict) or not is_number(value.get("seconds")):
        return None
    start = epoch_to_utc(value["seconds"])
    nanoseconds = value.get("nanoseconds")
    if start is not None and isinstance(nanoseconds, int) and 0 <= nanoseconds < 1_000_000_000:
        start += timedelta(microseconds=nanoseconds // 1000)
    return start


def _json_extras(value: dict[str, Any]) -> dict[str, Any]:
    """Scalar log.json fields worth keeping (the environment is left out: it may hold secrets)."""
    names = ("uuid", "runuid", "rungid", "submitcwd", "runcwd", "source", "exit_value", "signal", "dumped_core")
    kept = {name: value[name] for name in names if isinstance(value.get(name), str | int | bool)}
    if isinstance(value.get("runargv"), list):
        kept["runargv"] = [str(item) for item in value["runargv"]]
    return kept


def _positive(value: object) -> int | None:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000 else None


# --- timing -------------------------------------------------------------------------------------


class TimingEntry(NamedTuple):
    """One line of a timing file: the event (after the 1.8.7 adjustment), its delay and payload."""

    event: int
    delay_ns: int
    size: int = 0  # bytes, for the streams
    rows: int = 0  # window size
    cols: int = 0
    signal: str = ""  # suspend/resume


def parse_delay(text: str) -> int:
    """``seconds.fraction`` as integer nanoseconds (extra precision truncated, as sudo does)."""
    match = _DELAY.fullmatch(text)
    if match is None:
        raise ValueError(f"bad delay {text[:30]!r}")
    seconds, fraction = match.groups()
    return int(seconds) * 1_000_000_000 + int(fraction[:9].ljust(9, "0"))


def parse_timing_line(line: str, adjust: int = 0) -> TimingEntry:
    """One timing line; ``adjust`` is 2 once a sudo 1.8.7 event 6 has been seen. ``ValueError``
    describes a bad line."""
    parts = line.split()
    if len(parts) < 3 or not parts[0].isdigit():
        raise ValueError(f"bad timing line {line[:60]!r}")
    event = int(parts[0]) - adjust
    if not 0 <= event <= _EVENT_SUSPEND:
        raise ValueError(f"unknown event type {parts[0]}")
    delay = parse_delay(parts[1])
    if event == _EVENT_SUSPEND and len(parts) == 3:
        return TimingEntry(event, delay, signal=parts[2])
    if event == _EVENT_WINSIZE and len(parts) == 4 and parts[2].isdigit() and parts[3].isdigit():
        return TimingEntry(event, delay, rows=int(parts[2]), cols=int(parts[3]))
    if event < len(STREAMS) and len(parts) == 3 and parts[2].isdigit() and int(parts[2]) <= MAX_SESSION_BYTES:
        return TimingEntry(event, delay, size=int(parts[2]))
    raise ValueError(f"bad fields for event {event}: {line[:60]!r}")


def iter_timing(stream: BinaryIO, warnings: WarningLog) -> Iterator[TimingEntry]:
    """The entries of a timing file; bad lines are warned about and skipped (``MAX_BAD_LINES``)."""
    adjust, bad = 0, 0
    for record in iter_lines(stream, max_line=MAX_TIMING_LINE):
        try:
            if isinstance(record, OversizedRecord):
                raise ValueError("line too long")
            line = record.data.decode("ascii").strip()
            if not line:
                continue
            if line.split(maxsplit=1)[0] == str(_EVENT_TTYOUT_1_8_7):
                adjust = 2
            yield parse_timing_line(line, adjust)
        except (ValueError, UnicodeDecodeError) as exc:
            bad += 1
            warnings.add("bad_timing", f"line {record.line}: {exc}")
            if bad > MAX_BAD_LINES:
                raise ParseError("too_many_bad_lines", f"more than {MAX_BAD_LINES} bad timing lines") from exc


# --- session files: a directory or archive members ------------------------------------------------


class SessionFiles(Protocol):
    """Read access to the files of one session directory."""

    label: str

    def names(self) -> set[str]:
        """The session files present (a subset of ``SESSION_FILES``)."""
        ...

    def open(self, name: str) -> io.BufferedReader[Any]:
        """The raw (possibly compressed) bytes of one of them."""
        ...


class DirectoryFiles:
    """A session directory on disk; symbolic links are refused rather than followed."""

    def __init__(self, path: Path) -> None:
        self.path, self.label = path, str(path)
        self._names: set[str] = set()
        for name in SESSION_FILES:
            try:
                mode = (path / name).lstat().st_mode
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(mode):
                raise ParseError("link_in_session", f"{path / name} is a symbolic link")
            if stat.S_ISREG(mode):
                self._names.add(name)

    def names(self) -> set[str]:
        return self._names

    def open(self, name: str) -> io.BufferedReader[Any]:
        descriptor = os.open(self.path / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        return os.fdopen(descriptor, "rb")


class _Slice(io.RawIOBase):
    """A read-only window on the spool file."""

    def __init__(self, spool: IO[bytes], offset: int, length: int) -> None:
        super().__init__()
        self._spool, self._offset, self._left = spool, offset, length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._left)
        if size <= 0:
            return 0
        self._spool.seek(self._offset)
        data = self._spool.read(size)
        buffer[: len(data)] = data
        self._offset += len(data)
        self._left -= len(data)
        return len(data)


class SpooledFiles:
    """The files of one session directory of an archive, as ranges of the spool file."""

    def __init__(self, spool: IO[bytes], ranges: dict[str, tuple[int, int]], label: str) -> None:
        self._spool, self._ranges, self.label = spool, ranges, label

    def names(self) -> set[str]:
        return set(self._ranges)

    def open(self, name: str) -> io.BufferedReader[Any]:
        return io.BufferedReader(_Slice(self._spool, *self._ranges[name]))


# --- parsing one session ------------------------------------------------------------------------


class _Streams:
    """The stream files, opened lazily and read sequentially as the timing asks for bytes."""

    def __init__(self, files: SessionFiles, budget: Budget, warnings: WarningLog) -> None:
        self._files, self._budget, self._warnings = files, budget, warnings
        self._open: dict[str, io.BufferedReader[Any]] = {}
        self._decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in STREAMS}
        self._flagged: set[str] = set()  # streams already warned about (missing or short)

    def read(self, name: str, size: int) -> str:
        reader = self._reader(name)
        if reader is None:
            self._warn_once(name, "missing_stream", f"timing refers to {name}, which is absent")
            return ""
        data = _read_up_to(reader, size)
        if len(data) < size:
            self._warn_once(name, "truncated_stream", f"{name} ends before the timing file says it should")
        return self._decoders[name].decode(data)

    def _reader(self, name: str) -> io.BufferedReader[Any] | None:
        if name not in self._open and name in self._files.names():
            self._open[name] = open_maybe_gzip(self._files.open(name), self._budget)
        return self._open.get(name)

    def _warn_once(self, name: str, code: str, detail: str) -> None:
        if name not in self._flagged:
            self._flagged.add(name)
            self._warnings.add(code, detail)

    def finish(self) -> dict[str, str]:
        """Undecodable tails of the streams; warns about stream data the timing never reached."""
        for name in sorted(self._files.names() & set(STREAMS)):
            reader = self._reader(name)
            if reader is not None and name not in self._flagged and reader.read(1):
                self._warnings.add("untimed_stream_data", f"{name} holds data not covered by the timing file")
        tails = {name: decoder.decode(b"", final=True) for name, decoder in self._decoders.items()}
        return {name: tail for name, tail in tails.items() if tail}

    def __enter__(self) -> _Streams:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for reader in self._open.values():
            reader.close()


def _read_up_to(reader: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes, read in blocks so that a cap trips before a large buffer is allocated."""
    blocks: list[bytes] = []
    while size > 0 and (block := reader.read(min(size, READ_BLOCK))):
        blocks.append(block)
        size -= len(block)
    return b"".join(blocks)


def _read_log(files: SessionFiles, budget: Budget) -> LogInfo:
    names = files.names()
    legacy = parse_log_legacy(_read_small(files, "log", budget)) if "log" in names else None
    if "log.json" not in names:
        if legacy is None:
            raise ParseError("missing_log", f"{files.label}: neither log nor log.json")
        return legacy
    info = parse_log_json(_read_small(files, "log.json", budget))
    if legacy is not None:  # fill what log.json lacks from the classic log
        for name in ("started_at", "user", "runas_user", "runas_group", "tty", "cwd", "command", "rows", "cols"):
            if not getattr(info, name):
                setattr(info, name, getattr(legacy, name))
    return info


def _read_small(files: SessionFiles, name: str, budget: Budget) -> bytes:
    with open_maybe_gzip(files.open(name), budget) as reader:
        data = _read_up_to(reader, MAX_LOG_BYTES + 1)
    if len(data) > MAX_LOG_BYTES:
        raise ParseError("bad_log", f"{name} is larger than {MAX_LOG_BYTES} bytes")
    return data


def _manifest(files: SessionFiles) -> tuple[str, dict[str, dict[str, Any]]]:
    """The SHA-256 of the session's manifest, and each file's own hash and size (the files as
    stored, compressed or not, at most ``MAX_SESSION_BYTES`` in all)."""
    described: dict[str, dict[str, Any]] = {}
    budget = Budget(MAX_SESSION_BYTES, "session_too_large")
    for name in sorted(files.names()):
        digest, size = hashlib.sha256(), 0
        with files.open(name) as raw:
            while block := raw.read(READ_BLOCK):
                budget.produced(len(block))
                digest.update(block)
                size += len(block)
        described[name] = {"sha256": digest.hexdigest(), "bytes": size}
    manifest = "".join(f"{name} {item['sha256']}\n" for name, item in described.items())
    return hashlib.sha256(manifest.encode()).hexdigest(), described


def _session_id(label: str, info: LogInfo, sha256: str) -> str:
    """sudo's TSID (``00/00/01`` -> ``000001``) when the path is a sequence path, else log.json's
    uuid, else the manifest hash prefix."""
    parts = PurePosixPath(label.replace(os.sep, "/")).parts[-3:]
    if len(parts) == 3 and all(_SEQUENCE_PART.fullmatch(part) for part in parts):
        return "".join(parts)
    uuid = info.extra.get("uuid")
    return uuid if isinstance(uuid, str) and uuid else sha256[:16]


def _replay_timing(files: SessionFiles, info: LogInfo, budget: Budget, warnings: WarningLog) -> FrameBuilder:
    builder = FrameBuilder(warnings)
    size = (info.cols, info.rows)
    now_ns = 0
    with _Streams(files, budget, warnings) as streams, open_maybe_gzip(files.open("timing"), budget) as timing:
        for entry in iter_timing(timing, warnings):
            now_ns += entry.delay_ns
            if now_ns > MAX_SESSION_SECONDS * 1_000_000_000:
                raise ParseError("bad_time", f"{files.label}: the timing runs past {MAX_SESSION_SECONDS} s")
            at = now_ns / 1e9
            if entry.event < len(STREAMS):
                name = STREAMS[entry.event]
                builder.add(at, _STREAM_KINDS[name], streams.read(name, entry.size))
            elif entry.event == _EVENT_WINSIZE and (entry.cols, entry.rows) != size:
                size = (entry.cols, entry.rows)
                builder.add(at, "r", f"{entry.cols}x{entry.rows}")
            elif entry.event == _EVENT_SUSPEND:
                builder.add(at, "m", _signal_label(entry.signal))
            builder.reach(at)
        for name, tail in streams.finish().items():
            builder.add(builder.end, _STREAM_KINDS[name], tail)
    return builder


def _signal_label(signal: str) -> str:
    return f"signal {signal}" if signal.isdigit() else f"SIG{signal.removeprefix('SIG')}"


def parse_session(files: SessionFiles) -> SessionRecording:
    """One sudo I/O log session from its files."""
    if "timing" not in files.names():
        raise ParseError("missing_timing", f"{files.label}: no timing file")
    budget = Budget(MAX_SESSION_BYTES, "session_too_large")
    warnings = WarningLog()
    info = _read_log(files, budget)
    builder = _replay_timing(files, info, budget, warnings)
    sha256, described = _manifest(files)
    extra: dict[str, Any] = {
        "sha256_of": "manifest",
        "files": described,
        "runas_user": info.runas_user,
        "runas_group": info.runas_group,
        "tty": info.tty,
        "cwd": info.cwd,
        **info.extra,
    }
    if "exit_value" in info.extra:
        extra["exit_status"] = info.extra["exit_value"]
    return build_recording(
        fmt="sudo-iolog",
        sha256=sha256,
        builder=builder,
        warnings=warnings,
        session_id=_session_id(files.label, info, sha256),
        started_at=info.started_at,
        extra=extra,
        user=info.user,
        host=info.host,
        width=info.cols,
        height=info.rows,
        command=info.command,
    )


def parse_sudo_iolog_dir(path: str | os.PathLike[str]) -> SessionRecording:
    """One sudo I/O log session directory (the one holding ``timing``)."""
    directory = Path(path)
    if not directory.is_dir():
        raise ParseError("not_a_directory", str(directory))
    return parse_session(DirectoryFiles(directory))


def parse_sudo_iolog_archive(fileobj: BinaryIO) -> list[SessionRecording]:
    """Every sudo I/O log session (a directory holding a ``timing`` file) of an uploaded ``.tar``,
    ``.tar.gz`` or ``.zip``, read through ``evidence.parsers.archive`` (see there for the checks)."""
    with archive.spooled_archive(fileobj, wanted=lambda name: PurePosixPath(name).name in SESSION_FILES) as upload:
        recordings = [
            _parse_spooled(SpooledFiles(upload.spool.file, ranges, directory), upload.sha256, upload.kind)
            for directory, ranges in upload.spool.directories()
            if "timing" in ranges
        ]
    if not recordings:
        raise ParseError("no_session", "the archive holds no directory with a timing file")
    return recordings


def _parse_spooled(files: SpooledFiles, archive_sha256: str, kind: str) -> SessionRecording:
    try:
        recording = parse_session(files)
    except ParseError as exc:
        raise ParseError(exc.reason, f"session {files.label}: {exc.detail}") from exc
    origin = {"archive_sha256": archive_sha256, "archive_format": kind, "archive_path": files.label}
    return dataclasses.replace(recording, extra={**recording.extra, **origin})
