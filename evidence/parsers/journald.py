"""systemd journal entries as ``journalctl -o json`` (one object per line) or ``-o json-pretty`` writes them.

Records: a line that opens an object starts an entry, which ends on the line where its braces balance
(strings are skipped, so braces inside values do not count; JSON strings never span lines). An entry that
never closes ends where the next line starts with ``{`` in column 0 (json-pretty's entry start) or at the
end of the input, and is rejected as ``bad_json``; one longer than ``MAX_ENTRY_BYTES`` as ``line_too_long``.
Blank lines are records without events; any other line is a record of its own.

Fields: a value is a string; an array of byte values when it is not printable UTF-8 (decoded here with
replacement characters and listed in ``extra["binary_fields"]``); ``null`` when it was too large to
export (kept as ``None``); or an array of those when the field is repeated. The event takes its time from
``__REALTIME_TIMESTAMP`` (microseconds since the epoch), host from ``_HOSTNAME``, program from
``SYSLOG_IDENTIFIER`` or ``_COMM``, pid from ``_PID``, message from ``MESSAGE``; every other field is kept
in ``extra["journal"]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, ClassVar

from evidence.parsers.auth_messages import apply_classification
from evidence.parsers.base import (
    Event,
    OversizedRecord,
    ParseContext,
    ParseError,
    Record,
    check_record,
    decode_text,
    iter_lines,
)
from evidence.parsers.rfc3164 import FACILITIES, SEVERITIES, small_number

MAX_ENTRY_BYTES = 1024 * 1024  # json-pretty entries with every field of a core dump stay well below
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECONDS = re.compile(r"[0-9]{1,20}")
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: no regex stack growth on long strings

FieldValue = str | None | list[str | None]


def _brace_balance(line: bytes) -> int | None:
    """Opened minus closed braces and brackets outside strings; ``None`` if a string is left open."""
    if b"\\" in line:  # escaped quotes possible: strings are found by the regex
        structure = _JSON_STRING.sub(b"", line)
        if b'"' in structure:
            return None
    else:  # no escapes: every other piece between quotes is outside the strings
        pieces = line.split(b'"')
        if len(pieces) % 2 == 0:
            return None
        structure = b"".join(pieces[::2])
    return structure.count(b"{") + structure.count(b"[") - structure.count(b"}") - structure.count(b"]")


def _line_balance(line: Record) -> int | None:
    return None if isinstance(line, OversizedRecord) else _brace_balance(line.data)


@dataclass(slots=True)
class _Entry:
    """An entry being assembled from lines, holding at most ``MAX_ENTRY_BYTES`` of them."""

    first: Record
    depth: int
    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    length: int = 0
    oversized: bool = False

    def add(self, line: Record) -> None:
        self.length += line.length
        self.size += len(line.data) + 1
        self.oversized = self.oversized or isinstance(line, OversizedRecord) or self.size > MAX_ENTRY_BYTES
        if not self.oversized:
            self.parts.append(line.data)

    def record(self) -> Record:
        data = b"\n".join(self.parts)
        if self.oversized:
            return OversizedRecord(self.first.offset, data[:MAX_ENTRY_BYTES], self.first.line, self.length)
        return Record(self.first.offset, data, self.first.line, self.length)


def split_entries(stream: BinaryIO, start_offset: int = 0) -> Iterator[Record]:
    """The records of a journalctl JSON export, read incrementally (see the module docstring)."""
    entry: _Entry | None = None
    for line in iter_lines(stream, start_offset, max_line=MAX_ENTRY_BYTES):
        if entry is not None and line.data.startswith(b"{"):
            yield entry.record()  # the previous entry never closed: a new one starts here
            entry = None
        if entry is None:
            balance = _line_balance(line)
            if not balance or balance < 0 or not line.data.lstrip().startswith((b"{", b"[")):
                yield line  # complete (json lines), blank, oversized or not JSON: a record of its own
                continue
            entry = _Entry(line, balance)
            entry.add(line)
            continue
        entry.add(line)
        balance = _line_balance(line)
        entry.depth = 0 if balance is None else entry.depth + balance  # a broken line ends the entry
        if entry.depth <= 0:
            yield entry.record()
            entry = None
    if entry is not None:
        yield entry.record()


def _field_value(value: Any) -> tuple[FieldValue, bool]:
    """A field's value as text (``None`` for null) and whether it had to be decoded from bytes."""
    if isinstance(value, str) or value is None:
        return value, False
    if isinstance(value, list):
        if all(isinstance(byte, int) and 0 <= byte <= 255 for byte in value):
            return bytes(value).decode("utf-8", errors="replace"), True
        values = [_field_value(item) for item in value]  # a repeated field
        return [_first(text) for text, _ in values], any(binary for _, binary in values)
    return json.dumps(value), False  # journalctl writes no other types; keep whatever it is as text


def _first(value: FieldValue) -> str | None:
    return value[0] if isinstance(value, list) else value


def _realtime(value: str | None) -> datetime | None:
    if value is None:
        return None
    if not _MICROSECONDS.fullmatch(value):
        raise ParseError("bad_timestamp", f"__REALTIME_TIMESTAMP {value[:40]!r} is not microseconds")
    try:
        return _EPOCH + timedelta(microseconds=int(value))
    except OverflowError as exc:
        raise ParseError("bad_timestamp", f"__REALTIME_TIMESTAMP {value[:40]!r} is out of range") from exc


def _syslog_levels(fields: dict[str, FieldValue]) -> dict[str, str]:
    levels = {}
    priority, facility = (
        small_number(_first(fields.get("PRIORITY"))),
        small_number(_first(fields.get("SYSLOG_FACILITY"))),
    )
    if priority is not None and priority < len(SEVERITIES):
        levels["severity"] = SEVERITIES[priority]
    if facility is not None and facility < len(FACILITIES):
        levels["facility"] = FACILITIES[facility]
    return levels


def _normalise(fields: dict[str, Any]) -> list[str]:
    """Turn the values that are not plain strings into text, in place; the names of those decoded from bytes."""
    binary_fields = []
    for name in [name for name, value in fields.items() if value.__class__ is not str]:
        fields[name], binary = _field_value(fields[name])
        if binary:
            binary_fields.append(name)
    return binary_fields


def _take(fields: dict[str, FieldValue], name: str) -> str | None:
    """The (first) value of an event field; a plain string is taken out of ``fields``, anything else stays."""
    value = fields.get(name)
    if isinstance(value, str):
        del fields[name]
        return value
    return _first(value)


def entry_event(entry: dict[str, Any], context: ParseContext) -> Event:
    """The event of one decoded journal entry (``entry`` becomes ``extra["journal"]``)."""
    binary_fields = _normalise(entry)
    pid = small_number(_take(entry, "_PID"))
    extra: dict[str, Any] = _syslog_levels(entry)
    event = Event(
        time=_realtime(_take(entry, "__REALTIME_TIMESTAMP")),
        host=_take(entry, "_HOSTNAME") or context.default_host,
        program=_first(entry.get("SYSLOG_IDENTIFIER")) or _first(entry.get("_COMM")) or "",
        pid=pid,
        message=_take(entry, "MESSAGE") or "",
        extra=extra,
    )
    extra["journal"] = entry
    if binary_fields:
        extra["binary_fields"] = binary_fields
    return apply_classification(event)


class JournaldParser:
    name: ClassVar[str] = "journald"
    description: ClassVar[str] = "systemd journal export: journalctl -o json or -o json-pretty"

    def records(self, stream: BinaryIO, start_offset: int = 0) -> Iterator[Record]:
        return split_entries(stream, start_offset)

    def parse(self, record: Record, context: ParseContext) -> list[Event]:
        check_record(record)
        text = decode_text(record.data)
        if not text or text.isspace():
            return []
        try:
            entry = json.loads(text)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, or an integer too long to convert
            raise ParseError("bad_json", str(exc)[:200]) from exc
        if not isinstance(entry, dict):
            raise ParseError("not_an_object", f"a JSON {type(entry).__name__}, not an object")
        return [entry_event(entry, context)]


PARSER = JournaldParser()
