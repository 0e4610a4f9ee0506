"""tlog session recordings (Scribery tlog-rec / tlog-rec-session).

tlog writes a recording as a series of JSON messages (format 2.x, see tlog's ``log_format.md``)::

    {"ver": "2.2", "host", "rec", "user", "term", "session", "id", "pos", ["time",]
     "timing": "=80x24<5+1>6", "in_txt", "in_bin", "out_txt", "out_bin"}

``rec`` identifies the recording, ``id`` numbers its messages from 1, ``pos`` is the message's
start in milliseconds from the start of the recording and ``timing`` distributes the text in time:
``+N`` waits N ms, ``<N``/``>N`` take N characters of input/output text, ``[N/M``/``]N/M`` skip N
replacement characters and take M raw bytes, ``=WxH`` is a window size.

Accepted inputs (detected from the first bytes):

- tlog JSON messages, one per line (tlog's file writer);
- ``journalctl -o json`` lines, the tlog message in ``MESSAGE`` (a string or a byte array);
- ``journalctl -o export`` (journal export format: ``KEY=VALUE`` lines, binary fields as
  ``KEY\\n<64-bit LE size><bytes>\\n``, entries separated by a blank line).

Other journal entries are ignored (counted in ``extra["ignored_entries"]``). One input may hold
several recordings; each becomes a ``SessionRecording`` (messages grouped by ``rec``, ordered by
``id``), all sharing the input's SHA-256 (``extra["sha256_of"] == "input"``).

Integrity findings are warnings, not rejections, because a damaged recording is still evidence:
``missing_messages`` (gaps in ``id``, listed in ``extra["gaps"]``), ``duplicate_message``,
``pos_went_backwards``, ``bad_timing`` (unparsable timing: the message's text is kept at its
``pos``) and ``timing_text_mismatch`` (timing and text disagree).
"""

from __future__ import annotations

import io
import itertools
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, BinaryIO, NamedTuple

from evidence.parsers.base import READ_BLOCK, OversizedRecord, ParseError, decode_text, iter_lines
from evidence.parsers.sessions import (
    MAX_BAD_LINES,
    MAX_SESSION_SECONDS,
    FrameBuilder,
    MeteredReader,
    SessionRecording,
    WarningLog,
    build_recording,
    epoch_to_utc,
    is_number,
    loads_json,
)

MAX_FIELD_BYTES = 1024 * 1024  # one journal field / one JSON line; tlog messages are a few KB
_TIMING_TOKEN = re.compile(r"(?:\+(\d{1,12}))?(?:([<>])(\d{1,12})|([\[\]])(\d{1,12})/(\d{1,12})|=(\d{1,5})x(\d{1,5}))")
_REQUIRED = {
    "ver": str,
    "host": str,
    "rec": str,
    "user": str,
    "term": str,
    "session": int,
    "id": int,
    "pos": int,
    "timing": str,
}
_OP_KIND = {"<": "i", "[": "i", ">": "o", "]": "o"}
_KEPT_JOURNAL_FIELDS = frozenset(
    {b"MESSAGE", b"__REALTIME_TIMESTAMP", b"_SOURCE_REALTIME_TIMESTAMP", b"_HOSTNAME", b"SYSLOG_IDENTIFIER"}
)


class TimingOp(NamedTuple):
    """One timing record: ``delay_ms`` before it, ``op`` (``< > [ ] =``) and its two numbers."""

    delay_ms: int
    op: str
    first: int
    second: int = 0


def parse_timing(timing: str) -> list[TimingOp]:
    """Decode a ``timing`` string; ``ValueError`` (with the offending position) if it is not valid."""
    ops: list[TimingOp] = []
    position = 0
    while position < len(timing):
        match = _TIMING_TOKEN.match(timing, position)
        if match is None:
            raise ValueError(f"invalid timing at character {position}: {timing[position : position + 12]!r}")
        delay, io_op, count, bin_op, skip, take, width, height = match.groups()
        delay_ms = int(delay or 0)
        if io_op:
            ops.append(TimingOp(delay_ms, io_op, int(count)))
        elif bin_op:
            ops.append(TimingOp(delay_ms, bin_op, int(skip), int(take)))
        else:
            ops.append(TimingOp(delay_ms, "=", int(width), int(height)))
        position = match.end()
    return ops


@dataclass(slots=True)
class TlogMessage:
    """One validated tlog message, with the journal's receive time when it came from the journal."""

    rec: str
    id: int
    pos: int
    host: str
    user: str
    term: str
    session: int
    ver: str
    timing: str
    in_txt: str = ""
    in_bin: list[int] = field(default_factory=list)
    out_txt: str = ""
    out_bin: list[int] = field(default_factory=list)
    time: float | None = None  # tlog >= 2.3: wall-clock time of ``pos``
    journal_time: float | None = None  # when the journal received the message (after its last event)


def message_from_json(value: object) -> TlogMessage:
    """Validate a decoded tlog message; ``ValueError`` says what is wrong."""
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    for name, kind in _REQUIRED.items():
        if not isinstance(value.get(name), kind) or isinstance(value.get(name), bool):
            raise ValueError(f"field {name!r} missing or not {kind.__name__}")
    if not str(value["ver"]).startswith("2"):
        raise ValueError(f"unsupported tlog format version {value['ver']!r}")
    if value["id"] < 1 or value["pos"] < 0:
        raise ValueError("id must be >= 1 and pos >= 0")
    texts = {name: value.get(name, "") for name in ("in_txt", "out_txt")}
    bins = {name: value.get(name, []) for name in ("in_bin", "out_bin")}
    if not all(isinstance(text, str) for text in texts.values()):
        raise ValueError("in_txt and out_txt must be strings")
    if not all(isinstance(items, list) and all(_is_byte(item) for item in items) for items in bins.values()):
        raise ValueError("in_bin and out_bin must be arrays of bytes")
    time = value.get("time")
    return TlogMessage(
        **{name: value[name] for name in _REQUIRED},
        **texts,
        **bins,
        time=float(time) if is_number(time) else None,
    )


def _is_byte(item: object) -> bool:
    return isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 255


# --- reading the input --------------------------------------------------------------------------


@dataclass(slots=True)
class _Input:
    """Everything read from one input: tlog messages by recording, and input-level findings."""

    source: str = ""
    recordings: dict[str, list[TlogMessage]] = field(default_factory=dict)
    warnings: WarningLog = field(default_factory=WarningLog)
    ignored_entries: int = 0
    bad_lines: int = 0

    def add_candidate(self, payload: bytes | str, journal: dict[bytes, bytes] | None, where: str) -> None:
        """A JSON text that may be a tlog message (journal entries that are not are ignored)."""
        try:
            value = loads_json(payload)
            message = message_from_json(value)
        except ValueError as exc:
            if journal is not None and not _looks_like_tlog(payload):
                self.ignored_entries += 1
                return
            self.bad(where, str(exc))
            return
        if journal is not None:
            message.journal_time = _journal_time(journal)
        self.recordings.setdefault(message.rec, []).append(message)

    def bad(self, where: str, why: str) -> None:
        self.bad_lines += 1
        self.warnings.add("bad_message", f"{where}: {why}")
        if self.bad_lines > MAX_BAD_LINES:
            raise ParseError("too_many_bad_lines", f"more than {MAX_BAD_LINES} malformed messages")


def _looks_like_tlog(payload: bytes | str) -> bool:
    text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
    return text.lstrip().startswith("{") and '"timing"' in text and '"rec"' in text


def _journal_time(entry: dict[bytes, bytes]) -> float | None:
    for name in (b"_SOURCE_REALTIME_TIMESTAMP", b"__REALTIME_TIMESTAMP"):
        value = entry.get(name, b"")
        if value.isdigit():
            return int(value) / 1_000_000
    return None


def _read_input(reader: io.BufferedReader[Any]) -> _Input:
    head = reader.peek(64).lstrip()
    if head.startswith(b"{"):
        return _read_json_lines(reader)
    if re.match(rb"[A-Za-z_][A-Za-z0-9_]*[=\n]", head):
        return _read_export(reader)
    raise ParseError("unrecognised_format", "neither tlog/journal JSON lines nor journal export format")


def _read_json_lines(reader: io.BufferedReader[Any]) -> _Input:
    found = _Input()
    for record in iter_lines(reader, max_line=MAX_FIELD_BYTES):
        where = f"line {record.line}"
        if isinstance(record, OversizedRecord):
            found.bad(where, f"longer than {MAX_FIELD_BYTES} bytes")
        elif record.data.strip():
            _read_json_line(found, record.data, where)
    return found


def _read_json_line(found: _Input, line: bytes, where: str) -> None:
    try:
        value = loads_json(decode_text(line))
    except ValueError as exc:
        found.bad(where, f"not JSON: {exc}")
        return
    if not (isinstance(value, dict) and "MESSAGE" in value):
        found.source = "tlog-json"
        found.add_candidate(line, None, where)
        return
    found.source = "journal-json"
    message = value["MESSAGE"]
    if isinstance(message, list) and all(_is_byte(item) for item in message):
        message = bytes(message)
    if not isinstance(message, str | bytes):
        found.ignored_entries += 1
        return
    journal = {key.encode(): str(item).encode() for key, item in value.items() if key.endswith("REALTIME_TIMESTAMP")}
    found.add_candidate(message, journal, where)


def _read_export(reader: io.BufferedReader[Any]) -> _Input:
    found = _Input(source="journal-export")
    for number, entry in enumerate(_export_entries(reader, found.warnings), start=1):
        message = entry.get(b"MESSAGE")
        if message is None:
            found.ignored_entries += 1
        else:
            found.add_candidate(message, entry, f"entry {number}")
    return found


def _export_entries(reader: io.BufferedReader[Any], warnings: WarningLog) -> Iterator[dict[bytes, bytes]]:
    """The entries of a journal export stream, keeping only the fields this parser uses."""
    entry: dict[bytes, bytes] = {}
    while line := reader.readline(MAX_FIELD_BYTES):
        if line == b"\n":
            if entry:
                yield entry
            entry = {}
            continue
        if not line.endswith(b"\n") and len(line) >= MAX_FIELD_BYTES:
            warnings.add("oversized_journal_field", f"field {line[:40]!r}... skipped")
            _skip_line(reader)
            continue
        name, equals, text_value = line.rstrip(b"\n").partition(b"=")
        value = text_value if equals else _binary_field(reader, name, warnings)
        if name in _KEPT_JOURNAL_FIELDS and value is not None:
            entry[name] = value
    if entry:
        yield entry


def _skip_line(reader: io.BufferedReader[Any]) -> None:
    while (chunk := reader.readline(MAX_FIELD_BYTES)) and not chunk.endswith(b"\n"):
        pass


def _binary_field(reader: io.BufferedReader[Any], name: bytes, warnings: WarningLog) -> bytes | None:
    """A binary export field: 64-bit little-endian size, the bytes, a newline."""
    size_bytes = reader.read(8)
    if len(size_bytes) < 8:
        raise ParseError("truncated_journal", f"field {name[:40]!r} ends before its size")
    (size,) = struct.unpack("<Q", size_bytes)
    if size > MAX_FIELD_BYTES:
        warnings.add("oversized_journal_field", f"binary field {name[:40]!r} of {size} bytes skipped")
        _discard(reader, size + 1)
        return None
    data = reader.read(size + 1)
    if len(data) < size + 1 or not data.endswith(b"\n"):
        raise ParseError("truncated_journal", f"binary field {name[:40]!r} is cut short")
    return data[:-1]


def _discard(reader: io.BufferedReader[Any], size: int) -> None:
    while size > 0:
        chunk = reader.read(min(size, READ_BLOCK))
        if not chunk:
            raise ParseError("truncated_journal", "binary field is cut short")
        size -= len(chunk)


# --- rebuilding a recording ---------------------------------------------------------------------


@dataclass(slots=True)
class _Replay:
    """The state carried from message to message while rebuilding one recording."""

    builder: FrameBuilder
    warnings: WarningLog
    width: int | None = None
    height: int | None = None
    size: tuple[int, int] | None = None  # the current window size


class _Cursor:
    """Takes characters from a message's text and bytes from its byte array, in timing order."""

    def __init__(self, text: str, raw: list[int]) -> None:
        self.text, self.raw = text, raw
        self.at_text = self.at_raw = 0

    def take_text(self, count: int) -> str:
        chunk = self.text[self.at_text : self.at_text + count]
        if len(chunk) < count:
            raise ValueError("timing takes more characters than the text holds")
        self.at_text += count
        return chunk

    def take_raw(self, skip: int, count: int) -> str:
        replaced = self.take_text(skip)
        if self.at_raw + count > len(self.raw):
            raise ValueError("timing takes more bytes than the byte array holds")
        raw = bytes(self.raw[self.at_raw : self.at_raw + count])
        self.at_raw += count
        return replaced or raw.decode("utf-8", "replace")

    def rest(self) -> str:
        rest = self.text[self.at_text :]
        self.at_text = len(self.text)
        return rest

    def exhausted(self) -> bool:
        return self.at_text == len(self.text) and self.at_raw == len(self.raw)


def _message_events(message: TlogMessage) -> tuple[list[tuple[int, str, str]], int]:
    """The ``(ms, kind, data)`` events of a message and its end (ms); ``ValueError`` if its timing
    does not fit its text (left-over text is a mismatch the caller reports)."""
    cursors = {"i": _Cursor(message.in_txt, message.in_bin), "o": _Cursor(message.out_txt, message.out_bin)}
    events: list[tuple[int, str, str]] = []
    now = message.pos
    for op in parse_timing(message.timing):
        now += op.delay_ms
        if now > MAX_SESSION_SECONDS * 1000:
            raise ValueError(f"time {now} ms is out of range")
        if op.op == "=":
            events.append((now, "=", f"{op.first}x{op.second}"))
            continue
        kind = _OP_KIND[op.op]
        cursor = cursors[kind]
        data = cursor.take_text(op.first) if op.op in "<>" else cursor.take_raw(op.first, op.second)
        events.append((now, kind, data))
    leftovers = [(now, kind, cursor.rest()) for kind, cursor in cursors.items() if not cursor.exhausted()]
    if leftovers:
        raise _Mismatch(events, leftovers)
    return events, now


class _Mismatch(ValueError):
    """The timing did not use up the text: the events so far, and what was left over."""

    def __init__(self, events: list[tuple[int, str, str]], leftovers: list[tuple[int, str, str]]) -> None:
        super().__init__("timing does not account for all of the message's text")
        self.events, self.leftovers = events, leftovers


def _replay_message(replay: _Replay, message: TlogMessage) -> int:
    """Add one message's frames; return its end (ms from the start)."""
    try:
        events, end = _message_events(message)
    except _Mismatch as exc:
        replay.warnings.add("timing_text_mismatch", f"message {message.id}: {exc}; the rest is kept at its end")
        events = exc.events + exc.leftovers
        end = max((at for at, _, _ in events), default=message.pos)
    except ValueError as exc:
        replay.warnings.add("bad_timing", f"message {message.id}: {exc}; its text is kept at pos {message.pos} ms")
        events = [(message.pos, "i", message.in_txt), (message.pos, "o", message.out_txt)]
        end = message.pos
    for at, kind, data in events:
        if kind == "=":
            _window(replay, at, data)
        else:
            replay.builder.add(at / 1000, kind, data)
    return end


def _window(replay: _Replay, at: int, size_text: str) -> None:
    width, height = (int(part) for part in size_text.split("x"))
    if replay.size is None and not replay.builder.frames:
        replay.width, replay.height = width, height
    elif replay.size != (width, height):
        replay.builder.add(at / 1000, "r", size_text)
    replay.size = (width, height)


def _ordered(messages: list[TlogMessage], warnings: WarningLog) -> list[TlogMessage]:
    """Messages by id, duplicates dropped (with a warning)."""
    unique: dict[int, TlogMessage] = {}
    for message in sorted(messages, key=lambda item: item.id):
        if message.id in unique:
            warnings.add("duplicate_message", f"id {message.id} appears more than once; the first is kept")
        else:
            unique[message.id] = message
    return list(unique.values())


def find_gaps(ids: list[int]) -> list[list[int]]:
    """The missing ``[first, last]`` id ranges in a sorted list of message ids that should start at 1."""
    gaps, expected = [], 1
    for message_id in ids:
        if message_id > expected:
            gaps.append([expected, message_id - 1])
        expected = max(expected, message_id + 1)
    return gaps


def _check_sequence(ordered: list[TlogMessage], warnings: WarningLog) -> list[list[int]]:
    gaps = find_gaps([message.id for message in ordered])
    for first, last in gaps:
        which = f"id {first}" if first == last else f"ids {first}-{last}"
        warnings.add("missing_messages", f"{which} missing: the recording has a gap")
    for previous, message in itertools.pairwise(ordered):
        if message.pos < previous.pos:
            warnings.add("pos_went_backwards", f"message {message.id} pos {message.pos} < {previous.pos}")
    origin = ordered[0]
    for message in ordered[1:]:
        if (message.host, message.user, message.term, message.session) != (
            origin.host,
            origin.user,
            origin.term,
            origin.session,
        ):
            warnings.add("inconsistent_metadata", f"message {message.id} differs in host/user/term/session")
    return gaps


def _start_time(first: TlogMessage, first_end_ms: int) -> tuple[datetime | None, str]:
    """The recording's start: exact from tlog's ``time`` (2.3+), else estimated from the journal's
    receive time of the first message (flushed after its last event, so at most that early)."""
    if first.time is not None and (start := epoch_to_utc(first.time)) is not None:
        return start - timedelta(milliseconds=first.pos), "tlog-time"
    if first.journal_time is not None and (received := epoch_to_utc(first.journal_time)) is not None:
        return received - timedelta(milliseconds=first_end_ms), "journal-estimate"
    return None, "unknown"


def _build(rec: str, messages: list[TlogMessage], found: _Input, sha256: str) -> SessionRecording:
    warnings = WarningLog()
    warnings.extend(found.warnings)
    ordered = _ordered(messages, warnings)
    gaps = _check_sequence(ordered, warnings)
    replay = _Replay(FrameBuilder(warnings), warnings)
    ends = [_replay_message(replay, message) for message in ordered]
    for end in ends:
        replay.builder.reach(end / 1000)
    first = ordered[0]
    started_at, start_source = _start_time(first, ends[0])
    extra: dict[str, Any] = {
        "sha256_of": "input",
        "source": found.source,
        "rec": rec,
        "term": first.term,
        "audit_session": first.session,
        "tlog_version": first.ver,
        "messages": len(ordered),
        "gaps": gaps,
        "start_time_source": start_source,
        "recordings_in_input": len(found.recordings),
        "ignored_entries": found.ignored_entries,
    }
    return build_recording(
        fmt="tlog",
        sha256=sha256,
        builder=replay.builder,
        warnings=warnings,
        session_id=rec,
        started_at=started_at,
        extra=extra,
        user=first.user,
        host=first.host,
        width=replay.width,
        height=replay.height,
    )


def parse_tlog(stream: BinaryIO) -> list[SessionRecording]:
    """Every tlog recording in ``stream`` (tlog JSON lines, journal JSON lines or journal export)."""
    metered = MeteredReader(stream)
    reader = io.BufferedReader(metered, READ_BLOCK)
    found = _read_input(reader)
    sha256 = metered.drain()
    if not found.recordings:
        raise ParseError("no_recording", f"no tlog message found ({found.ignored_entries} other entries)")
    return [_build(rec, messages, found, sha256) for rec, messages in found.recordings.items()]
