"""The contract every evidence parser follows, and the streaming helpers they share.

A parser turns a byte stream into *records* (a line, a multi-line auditd event, an EVTX record,
a whole session recording) and each record into zero or more normalised ``Event`` objects, or a
``ParseError`` with a short machine-readable reason. The ingestion pipeline (not the parser)
stamps the source, the received time and the job, and keeps rejected records with their reason
and raw bytes, so that for every input ``stored + duplicates + rejected == read``.

Parsers never load a whole file: ``records`` reads the stream incrementally and must keep
memory bounded whatever the input (a 10 MB line is rejected as ``line_too_long`` without being
held in memory).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, ClassVar, Protocol

from evidence.parsers.years import YearPlan

MAX_LINE_BYTES = 64 * 1024  # longer lines are rejected (and skipped in constant memory)
# Keys of ``Event.extra`` that say how many occurrences an event counts for (see ``evidence.counting``).
REPEATED = "repeated"  # the line stands for N occurrences (a syslog daemon's "message repeated N times")
SAME_ATTEMPT_AS = "same_attempt_as"  # position, in the chunk, of the event already recording the attempt
COUNTING_MARKERS = (REPEATED, SAME_ATTEMPT_AS)
READ_BLOCK = 256 * 1024


class Action(enum.StrEnum):
    """What happened, in the ISMS vocabulary used by the control-mapping rules."""

    LOGON = "logon"
    LOGOFF = "logoff"
    AUTHENTICATION = "authentication"  # a credential check that is not itself a session (e.g. su, kerberos)
    PRIVILEGE_USE = "privilege_use"  # sudo, su to root, Windows special privileges
    COMMAND = "command"  # a command or process execution
    ACCOUNT_CHANGE = "account_change"  # user/group created, deleted, modified, password changed
    LOG_CLEARED = "log_cleared"
    CLOCK_CHANGE = "clock_change"
    SESSION_START = "session_start"
    SESSION_END = "session_end"
    SERVICE = "service"  # a daemon started/stopped
    NETWORK = "network"  # connection accepted/refused, bind, listen
    CONFIG_CHANGE = "config_change"  # audit rules changed, policy changed
    OTHER = "other"


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


@dataclass(slots=True)
class Event:
    """One normalised event. Empty strings (not None) for unknown text fields."""

    time: datetime | None  # timezone-aware UTC; None only if the record carries no time at all
    host: str = ""
    program: str = ""
    pid: int | None = None
    user: str = ""
    target_user: str = ""
    source_ip: str = ""
    action: Action = Action.OTHER
    outcome: Outcome = Outcome.UNKNOWN
    session_id: str = ""
    command: str = ""
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable values only
    # Filled in by ``Parser.parse_stream`` from the record: where the raw bytes are in the input.
    raw_offset: int = 0
    raw_length: int = 0


# The descriptive fields of an Event, in the order every listing of them uses (canonical hash
# input, database columns, CSV export, API).
DESCRIPTIVE_FIELDS = (
    "host", "program", "pid", "user", "target_user", "source_ip", "action", "outcome", "session_id", "command",
    "message",
)  # fmt: skip


@dataclass(slots=True)
class Record:
    """A unit of input: its byte offset and length in the stream, its bytes, its first line number."""

    offset: int
    data: bytes
    line: int = 0
    length: int = -1  # bytes consumed from the stream (defaults to len(data))

    def __post_init__(self) -> None:
        if self.length < 0:
            self.length = len(self.data)


class ParseError(ValueError):
    """A record that cannot be used. ``reason`` is a short code (counted per job), ``detail`` prose."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class Rejected:
    """A record that produced no event, with why."""

    record: Record
    reason: str
    detail: str = ""


@dataclass(slots=True)
class ParseContext:
    """What a parser may need to know beyond the bytes."""

    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # RFC 3164 has no year: the year is inferred relative to this reference (received time or file mtime).
    reference_time: datetime | None = None
    # ... and, for a whole file, decided across it (evidence.parsers.years): the plan, and what it
    # says of the record being parsed (set by the caller for each record)
    year_plan: YearPlan | None = None
    year: int | None = None
    time_doubt: str = ""
    default_host: str = ""
    timezone_name: str = "UTC"  # zone of timestamps without an offset (RFC 3164), IANA name


class Parser(Protocol):
    """What every format module exposes as ``PARSER``."""

    name: ClassVar[str]  # the --format value, e.g. "rfc3164"
    description: ClassVar[str]

    def records(self, stream: BinaryIO, start_offset: int = 0) -> Iterator[Record]:
        """Split the stream into records, reading incrementally. Oversized or unsplittable input
        is yielded as a ``Record`` whose parse raises ``ParseError``; nothing is silently dropped."""
        ...

    def parse(self, record: Record, context: ParseContext) -> list[Event]:
        """Events of one record (possibly none, e.g. a blank line), or raise ``ParseError``."""
        ...


class OversizedRecord(Record):
    """Marker for a record that exceeded its size limit; only its head is kept."""


def iter_lines(stream: BinaryIO, start_offset: int = 0, max_line: int = MAX_LINE_BYTES) -> Iterator[Record]:
    """Yield each LF-terminated line (without CR/LF) with its offset, in bounded memory.

    A line longer than ``max_line`` is yielded once as an ``OversizedRecord`` holding only its
    first ``max_line`` bytes but with ``length`` covering the whole line, so offsets stay exact
    and the next line starts where it should. A last line without LF is yielded too.
    """
    line_no, line_start = 0, start_offset
    kept, skipped = bytearray(), 0  # at most max_line + 1 bytes kept; the rest only counted

    def finish(length: int) -> Record:
        if len(kept) > max_line:
            return OversizedRecord(line_start, bytes(kept[:max_line]), line_no, length)
        data = bytes(kept[:-1]) if kept.endswith(b"\r") else bytes(kept)
        return Record(line_start, data, line_no, length)

    while block := stream.read(READ_BLOCK):
        position = 0
        while position < len(block):
            newline = block.find(b"\n", position)
            end = newline if newline >= 0 else len(block)
            room = max_line + 1 - len(kept)
            if end - position <= room:
                kept += block[position:end]
            else:
                kept += block[position : position + room]
                skipped += end - position - room
            if newline < 0:
                break
            line_no += 1
            record = finish(len(kept) + skipped + 1)
            yield record
            line_start += record.length
            kept, skipped = bytearray(), 0
            position = newline + 1
    if kept or skipped:
        line_no += 1
        yield finish(len(kept) + skipped)


def check_record(record: Record) -> None:
    """Raise the common rejections: oversized record, NUL bytes (binary garbage)."""
    if isinstance(record, OversizedRecord):
        raise ParseError("line_too_long", f"record of {record.length} bytes exceeds {MAX_LINE_BYTES}")
    if b"\x00" in record.data:
        raise ParseError("binary_data", "record contains NUL bytes")


def decode_text(data: bytes) -> str:
    """UTF-8 (with an optional BOM); invalid UTF-8 is rejected, never guessed."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("invalid_utf8", f"byte {exc.start}: {data[exc.start : exc.start + 4]!r}") from exc


def parse_stream(parser: Parser, stream: BinaryIO, context: ParseContext) -> Iterator[Event | Rejected]:
    """Every record of ``stream`` as its events, or as one ``Rejected`` (convenience for tests and
    the ingestion pipeline's chunk workers)."""
    for record in parser.records(stream):
        try:
            events = parser.parse(record, context)
        except ParseError as exc:
            yield Rejected(record, exc.reason, exc.detail)
            continue
        for event in events:
            event.raw_offset, event.raw_length = record.offset, record.length
            yield event
