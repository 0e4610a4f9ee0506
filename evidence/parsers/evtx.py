"""Windows event log files (``.evtx``), one record per event record, rendered by ``evtx`` (pyevtx-rs).

Input: ``records(stream)`` needs the *whole file* as a seekable binary stream (an open file, a
``BytesIO``...): ``evtx.PyEvtxParser`` accepts a file-like object, so no path is needed. A stream
that cannot seek (a pipe, a decompressor) is first spooled to a temporary file on disk.

Byte accounting. An EVTX file is a 4 KiB file header followed by 64 KiB chunks, each a 512-byte
chunk header, the event records (binary XML, each starting with ``**\\0\\0`` and its size) and
unused space. This module walks the record headers itself, chunk by chunk, next to the Rust
parser, and pairs the rendered records with them by EventRecordID, so that:

* a rendered record's ``Record`` has ``offset`` = the position of its binary record in the file,
  ``length`` = the binary record's size and ``data`` = a small JSON document (``{"record_id",
  "chunk", "checksum_ok", "written", "event"}``, ``event`` being pyevtx-rs's JSON rendering):
  ``parse`` needs nothing but ``data``;
* a binary record the Rust parser skipped (corrupt chunk or record) is an ``EvtxUnreadable``
  record with its raw bytes, rejected with a reason; so is non-zero data that is not a walkable
  record (e.g. a truncated chunk at the end of the file), one record per unreadable region;
* what is neither (file header, chunk headers, unused space and all-zero chunks) is reported by
  one final ``EvtxOverhead`` record (``offset`` = the stream's start, ``data`` empty, ``length`` =
  the overhead bytes) which ``parse`` maps to no event.

So the lengths of all records sum to the file size, as for the line formats, although EVTX records
are not contiguous. Should the Rust parser render a record the walk did not find, it is still
yielded, with ``offset`` = its EventRecordID and ``length`` 0 (``"offset_is_record_id": true``).

A file that does not start with the EVTX magic, or whose header cannot be read, is one
``not_evtx`` record covering the whole input (only its first 64 KiB are kept).
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import struct
import tempfile
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, BinaryIO, ClassVar

import evtx

from evidence.parsers.base import Action, Event, Outcome, ParseContext, ParseError, Record

FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"\x2a\x2a\x00\x00"
FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
RECORD_HEADER_SIZE = 24  # magic, size, record id, written time; the size is repeated at the end
KEPT_HEAD = 64 * 1024  # bytes kept of an unreadable region or of a non-EVTX input

_RECORD_HEADER = struct.Struct("<4sIQQ")
_CHUNK_RECORD_IDS = struct.Struct("<QQ")  # first and last EventRecordID of a chunk, at offset 24
_AUDIT_SUCCESS, _AUDIT_FAILURE = 0x0020000000000000, 0x0010000000000000


@dataclass(slots=True)
class EvtxUnreadable(Record):
    """Bytes of an EVTX file that could not be rendered; ``parse`` rejects them with ``reason``."""

    reason: str = "corrupt_record"
    detail: str = ""


@dataclass(slots=True)
class EvtxOverhead(Record):
    """The bytes of an EVTX file that are not event records (headers, unused space); no events."""


# --- walking the file -------------------------------------------------------------------------


@dataclass(slots=True)
class _Span:
    """A binary event record found by the walk: where it is in its chunk, and its EventRecordID."""

    offset: int
    size: int
    record_id: int


@dataclass(slots=True)
class _Gap:
    """Bytes of a chunk that are not a well-formed record."""

    start: int
    end: int


@dataclass(slots=True)
class _Rendered:
    record_id: int
    json: str
    written: str


class _RenderedRecords:
    """pyevtx-rs's records, one at a time, with parse errors collected instead of raised."""

    MAX_CONSECUTIVE_ERRORS = 1000

    def __init__(self, source: IO[bytes]) -> None:
        self._iterator = evtx.PyEvtxParser(source, number_of_threads=1).records_json()
        self._peeked: _Rendered | None = None
        self._done = False
        self.errors: deque[str] = deque(maxlen=3)  # the latest parse errors, for rejection details

    def peek(self) -> _Rendered | None:
        if self._peeked is None and not self._done:
            self._peeked = self._next()
        return self._peeked

    def pop(self) -> _Rendered | None:
        item = self.peek()
        self._peeked = None
        return item

    def _next(self) -> _Rendered | None:
        for _ in range(self.MAX_CONSECUTIVE_ERRORS):
            try:
                item = next(self._iterator)
            except StopIteration:
                break
            except (RuntimeError, OSError, ValueError) as exc:  # a corrupt chunk or record
                self.errors.append(str(exc)[:300])
                continue
            return _Rendered(int(item["event_record_id"]), item["data"], str(item.get("timestamp", "")))
        self._done = True
        return None


def _read_at(source: IO[bytes], offset: int, size: int) -> bytes:
    """Read without disturbing the position the Rust parser relies on."""
    position = source.tell()
    try:
        source.seek(offset)
        return source.read(size)
    finally:
        source.seek(position)


def _record_size(chunk: bytes, position: int, end: int) -> int:
    """The size of the well-formed record at ``position`` (its size is repeated at its end), else 0."""
    if position + RECORD_HEADER_SIZE > end:
        return 0
    magic, size, _, _ = _RECORD_HEADER.unpack_from(chunk, position)
    if magic != RECORD_MAGIC or size < RECORD_HEADER_SIZE + 4 or position + size > end:
        return 0
    return size if chunk[position + size - 4 : position + size] == size.to_bytes(4, "little") else 0


def _next_record(chunk: bytes, position: int, end: int) -> int:
    """Where the next well-formed record after ``position`` starts (``end`` if none)."""
    found = chunk.find(RECORD_MAGIC, position + 1, end)
    while found >= 0 and not _record_size(chunk, found, end):
        found = chunk.find(RECORD_MAGIC, found + 1, end)
    return end if found < 0 else found


def _walk(chunk: bytes, start: int, end: int) -> list[_Span | _Gap]:
    """``chunk[start:end]`` as records and, around damaged bytes, gaps (offsets relative to the chunk)."""
    pieces: list[_Span | _Gap] = []
    position = start
    while position < end:
        size = _record_size(chunk, position, end)
        if size:
            record_id = _RECORD_HEADER.unpack_from(chunk, position)[2]
            pieces.append(_Span(position, size, record_id))
            position += size
        else:
            resume = _next_record(chunk, position, end)
            pieces.append(_Gap(position, resume))
            position = resume
    return pieces


def _chunk_record_ids(chunk: bytes) -> range:
    first, last = _CHUNK_RECORD_IDS.unpack_from(chunk, 24)
    return range(first, last + 1)


def _checksum_ok(chunk: bytes, free: int) -> bool:
    header_crc, records_crc = struct.unpack_from("<I", chunk, 124)[0], struct.unpack_from("<I", chunk, 52)[0]
    return zlib.crc32(chunk[:120] + chunk[128:CHUNK_HEADER_SIZE]) == header_crc and (
        zlib.crc32(chunk[CHUNK_HEADER_SIZE:free]) == records_crc
    )


class _EvtxWalker:
    """Pairs the walk of the binary records with the rendered ones (see the module docstring)."""

    def __init__(self, source: IO[bytes], size: int, start_offset: int) -> None:
        self.source, self.size, self.base = source, size, start_offset
        self.rendered = _RenderedRecords(source)
        self.overhead = FILE_HEADER_SIZE
        self.ordinal = 0

    def records(self) -> Iterator[Record]:
        for index, offset in enumerate(range(FILE_HEADER_SIZE, self.size, CHUNK_SIZE)):
            chunk = _read_at(self.source, offset, CHUNK_SIZE)
            yield from self._chunk(index, offset, chunk)
        while (item := self.rendered.pop()) is not None:  # rendered but not found by the walk
            yield self._record_id_fallback(item)
        yield EvtxOverhead(self.base, b"", 0, self.overhead)

    def _chunk(self, index: int, offset: int, chunk: bytes) -> Iterator[Record]:
        if not any(chunk):  # never used
            self.overhead += len(chunk)
            return
        has_header = chunk.startswith(CHUNK_MAGIC) and len(chunk) >= CHUNK_HEADER_SIZE
        start = CHUNK_HEADER_SIZE if has_header else 0
        end = min(max(struct.unpack_from("<I", chunk, 48)[0], start), len(chunk)) if has_header else len(chunk)
        self.overhead += start + len(chunk) - end  # chunk header, unused space
        pieces = _walk(chunk, start, end)
        checksum = has_header and _checksum_ok(chunk, end)
        wanted = {piece.record_id for piece in pieces if isinstance(piece, _Span)}
        id_range = _chunk_record_ids(chunk) if has_header else range(0)
        rendered, strays = self._take_rendered(wanted, id_range)
        reason = self._reason(chunk)
        for piece in pieces:
            if isinstance(piece, _Gap):
                yield from self._gap(offset, chunk, piece, reason)
            elif (item := rendered.get(piece.record_id)) is not None:
                head = {"chunk": index, "checksum_ok": checksum}
                yield self._rendered_record(item, head, self.base + offset + piece.offset, piece.size)
            else:
                data = chunk[piece.offset : piece.offset + piece.size]
                yield self._unreadable(offset + piece.offset, data, reason, self._render_errors())
        for item in strays:
            yield self._record_id_fallback(item)

    def _take_rendered(self, wanted: set[int], id_range: range) -> tuple[dict[int, _Rendered], list[_Rendered]]:
        """The rendered records of the chunk being walked (the Rust parser goes chunk by chunk too):
        those the walk found, and those of the chunk's record-id range that it did not find."""
        rendered: dict[int, _Rendered] = {}
        strays: list[_Rendered] = []
        while (item := self.rendered.peek()) is not None:
            if item.record_id in wanted and item.record_id not in rendered:
                rendered[item.record_id] = item
            elif item.record_id in id_range:
                strays.append(item)
            else:
                break
            self.rendered.pop()
        return rendered, strays

    def _gap(self, offset: int, chunk: bytes, gap: _Gap, reason: str) -> Iterator[Record]:
        data = chunk[gap.start : gap.end]
        if any(data):
            yield self._unreadable(offset + gap.start, data, reason, "not a well-formed event record")
        else:
            self.overhead += len(data)

    def _render_errors(self) -> str:
        return "; ".join(self.rendered.errors) or "not rendered by the EVTX parser"

    @staticmethod
    def _reason(chunk: bytes) -> str:
        if len(chunk) < CHUNK_SIZE:
            return "truncated_chunk"
        return "corrupt_record" if chunk.startswith(CHUNK_MAGIC) else "corrupt_chunk"

    def _rendered_record(self, item: _Rendered, head: dict[str, Any], offset: int, size: int) -> Record:
        self.ordinal += 1
        head = {"record_id": item.record_id, "written": item.written} | head
        data = json.dumps(head)[:-1] + ', "event": ' + item.json + "}"
        return Record(offset, data.encode(), self.ordinal, size)

    def _record_id_fallback(self, item: _Rendered) -> Record:
        return self._rendered_record(item, {"offset_is_record_id": True}, item.record_id, 0)

    def _unreadable(self, offset: int, data: bytes, reason: str, detail: str) -> Record:
        self.ordinal += 1
        return EvtxUnreadable(self.base + offset, data[:KEPT_HEAD], self.ordinal, len(data), reason, detail)


def _seekable(stream: BinaryIO) -> tuple[IO[bytes], bool]:
    """The stream itself if it can seek, else a temporary copy (and whether it is one)."""
    try:
        if stream.seekable():
            return stream, False
    except (AttributeError, OSError):
        pass
    copy = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the caller
    shutil.copyfileobj(stream, copy)
    copy.seek(0)
    return copy, True


def _not_evtx(source: IO[bytes], size: int, start_offset: int, detail: str) -> Record:
    return EvtxUnreadable(start_offset, _read_at(source, 0, KEPT_HEAD), 1, size, "not_evtx", detail)


def _evtx_records(source: IO[bytes], start_offset: int) -> Iterator[Record]:
    source.seek(0, 2)
    size = source.tell()
    source.seek(0)
    if size == 0:
        return
    if _read_at(source, 0, len(FILE_MAGIC)) != FILE_MAGIC:
        yield _not_evtx(source, size, start_offset, "no EVTX file header magic")
        return
    try:
        walker = _EvtxWalker(source, size, start_offset)
    except (RuntimeError, OSError, ValueError) as exc:
        yield _not_evtx(source, size, start_offset, str(exc)[:300])
        return
    yield from walker.records()


# --- mapping ----------------------------------------------------------------------------------

_SUBJECT = ("SubjectUserName",)
_TARGET = ("TargetUserName",)
_NO_VALUE = frozenset({"", "-", "%%1793", "NULL SID"})
_IPV4_RE = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_SYSTEM_TIME_RE = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?(?:Z|[+-]00:?00)?")


@dataclass(frozen=True, slots=True)
class _Rule:
    """How one event ID maps to an ``Event``: EventData keys tried in order for each field."""

    action: Action
    title: str
    outcome: Outcome | None = None  # None: from Status when present, else from the audit keywords
    user: tuple[str, ...] = _SUBJECT
    domain: tuple[str, ...] = ("SubjectDomainName",)
    target: tuple[str, ...] = ()
    session: tuple[str, ...] = ("SubjectLogonId",)
    source_ip: tuple[str, ...] = ("IpAddress",)
    command: tuple[str, ...] = ()
    pid: tuple[str, ...] = ("ProcessId",)
    positional: tuple[str, ...] = ()  # names for unnamed <Data> strings (classic event sources)


def _logon(title: str, outcome: Outcome | None = None) -> _Rule:
    return _Rule(Action.LOGON, title, outcome, _TARGET, ("TargetDomainName",), session=("TargetLogonId",))


def _logoff(title: str) -> _Rule:
    return _Rule(Action.LOGOFF, title, Outcome.SUCCESS, _TARGET, ("TargetDomainName",), session=("TargetLogonId",))


def _account(title: str, target: tuple[str, ...] = _TARGET) -> _Rule:
    return _Rule(Action.ACCOUNT_CHANGE, title, target=target)


def _credential(title: str, outcome: Outcome | None = None) -> _Rule:
    return _Rule(Action.AUTHENTICATION, title, outcome, _TARGET, ("TargetDomainName",), session=())


_MEMBER = ("MemberName", "MemberSid")
_SECURITY_RULES: dict[int, _Rule] = {
    4624: _logon("An account was successfully logged on", Outcome.SUCCESS),
    4625: _logon("An account failed to log on", Outcome.FAILURE),
    4634: _logoff("An account was logged off"),
    4647: _logoff("User initiated logoff"),
    4648: _Rule(Action.AUTHENTICATION, "A logon was attempted using explicit credentials", target=_TARGET),
    4672: _Rule(Action.PRIVILEGE_USE, "Special privileges assigned to new logon"),
    4673: _Rule(Action.PRIVILEGE_USE, "A privileged service was called"),
    4674: _Rule(Action.PRIVILEGE_USE, "An operation was attempted on a privileged object"),
    4703: _Rule(Action.PRIVILEGE_USE, "A token right was adjusted", target=_TARGET),
    4688: _Rule(
        Action.COMMAND,
        "A new process has been created",
        command=("CommandLine", "NewProcessName"),
        pid=("NewProcessId",),
    ),
    4720: _account("A user account was created"),
    4722: _account("A user account was enabled"),
    4723: _account("An attempt was made to change an account's password"),
    4724: _account("An attempt was made to reset an account's password"),
    4725: _account("A user account was disabled"),
    4726: _account("A user account was deleted"),
    4738: _account("A user account was changed"),
    4740: _account("A user account was locked out"),
    4767: _account("A user account was unlocked"),
    4781: _account("The name of an account was changed", ("OldTargetUserName",)),
    4728: _account("A member was added to a security-enabled global group", _MEMBER),
    4729: _account("A member was removed from a security-enabled global group", _MEMBER),
    4732: _account("A member was added to a security-enabled local group", _MEMBER),
    4733: _account("A member was removed from a security-enabled local group", _MEMBER),
    4756: _account("A member was added to a security-enabled universal group", _MEMBER),
    4757: _account("A member was removed from a security-enabled universal group", _MEMBER),
    4731: _account("A security-enabled local group was created"),
    4735: _account("A security-enabled local group was changed"),
    1102: _Rule(Action.LOG_CLEARED, "The audit log was cleared", Outcome.SUCCESS),
    1100: _Rule(Action.SERVICE, "The event logging service has shut down", Outcome.SUCCESS),
    4608: _Rule(Action.SERVICE, "Windows is starting up", Outcome.SUCCESS),
    4609: _Rule(Action.SERVICE, "Windows is shutting down", Outcome.SUCCESS),
    4616: _Rule(Action.CLOCK_CHANGE, "The system time was changed"),
    4719: _Rule(Action.CONFIG_CHANGE, "System audit policy was changed"),
    4739: _Rule(Action.CONFIG_CHANGE, "Domain Policy was changed"),
    4907: _Rule(Action.CONFIG_CHANGE, "Auditing settings on object were changed"),
    4768: _credential("A Kerberos authentication ticket (TGT) was requested"),
    4769: _credential("A Kerberos service ticket was requested"),
    4771: _credential("Kerberos pre-authentication failed", Outcome.FAILURE),
    4776: _credential("The computer attempted to validate the credentials for an account"),
}
_RDP_CHANNEL = "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"
_RULES: dict[tuple[str, int], _Rule] = {
    **{("Security", event_id): rule for event_id, rule in _SECURITY_RULES.items()},
    ("System", 104): _Rule(Action.LOG_CLEARED, "The log file was cleared", Outcome.SUCCESS, session=()),
    ("System", 7045): _Rule(Action.SERVICE, "A service was installed in the system", Outcome.SUCCESS, ("AccountName",)),
    ("System", 7036): _Rule(Action.SERVICE, "A service entered a new state", Outcome.SUCCESS),
    ("System", 7040): _Rule(Action.CONFIG_CHANGE, "The start type of a service was changed", Outcome.SUCCESS),
    ("System", 1): _Rule(Action.CLOCK_CHANGE, "The system time has changed", Outcome.SUCCESS),
    (_RDP_CHANNEL, 1149): _Rule(
        Action.AUTHENTICATION,
        "Remote Desktop Services: User authentication succeeded",
        Outcome.SUCCESS,
        ("Param1",),
        ("Param2",),
        session=(),
        source_ip=("Param3",),
    ),
    ("Application", 18456): _Rule(
        Action.AUTHENTICATION,
        "SQL Server login failed",
        Outcome.FAILURE,
        ("UserName",),
        (),
        session=(),
        source_ip=("Client",),
        positional=("UserName", "Reason", "Client"),
    ),
}
# Only these providers own the event IDs above outside the Security log.
_PROVIDERS: dict[tuple[str, int], str] = {
    ("System", 104): "Microsoft-Windows-Eventlog",
    ("System", 7045): "Service Control Manager",
    ("System", 7036): "Service Control Manager",
    ("System", 7040): "Service Control Manager",
    ("System", 1): "Microsoft-Windows-Kernel-General",
    ("Application", 18456): "MSSQL",
}


def _text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("#text", "")
    if isinstance(value, list):
        return " ".join(_text(item) for item in value)
    return "" if value is None else str(value).strip()


def _attribute(node: Any, name: str) -> str:
    return _text(node.get("#attributes", {}).get(name)) if isinstance(node, dict) else ""


def _event_data(event: dict[str, Any], rule: _Rule | None) -> dict[str, Any]:
    """The named fields of <EventData> or of the single element of <UserData>."""
    data = event.get("EventData")
    if data is None:
        user_data = event.get("UserData") or {}
        data = next(iter(user_data.values()), None) if isinstance(user_data, dict) and len(user_data) == 1 else None
    if not isinstance(data, dict):
        return {}
    fields = {key: value for key, value in data.items() if key != "#attributes"}
    strings = fields.get("Data")
    if isinstance(strings, dict) and "#text" in strings:
        values = strings["#text"]
        fields["Data"] = values if isinstance(values, list) else [values]
        if rule and rule.positional:
            fields |= {name: _text(value) for name, value in zip(rule.positional, fields["Data"], strict=False)}
    return fields


def _first(data: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = _text(data.get(key))
        if value not in _NO_VALUE:
            return value
    return ""


def _ip(value: str) -> str:
    value = value.strip().removeprefix("::ffff:")
    if not value:
        return ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        found = _IPV4_RE.search(value)
        return found[0] if found else ""


def _int(value: str) -> int | None:
    try:
        return int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        return None


def _time(system: dict[str, Any]) -> datetime | None:
    value = _attribute(system.get("TimeCreated"), "SystemTime")
    match = _SYSTEM_TIME_RE.fullmatch(value)
    if match is None:
        return None
    micros = (match[3] or "0")[:6].ljust(6, "0")
    return datetime.fromisoformat(f"{match[1]}T{match[2]}.{micros}").replace(tzinfo=UTC)


def _outcome(rule: _Rule | None, data: dict[str, Any], keywords: str) -> Outcome:
    if rule is not None and rule.outcome is not None:
        return rule.outcome
    status = _int(_text(data.get("Status"))) if "Status" in data else None
    if status is not None:
        return Outcome.SUCCESS if status == 0 else Outcome.FAILURE
    flags = _int(keywords) or 0
    if flags & _AUDIT_FAILURE:
        return Outcome.FAILURE
    return Outcome.SUCCESS if flags & _AUDIT_SUCCESS else Outcome.UNKNOWN


def _event_id(system: dict[str, Any]) -> int:
    value = _int(_text(system.get("EventID")))
    if value is None:
        raise ParseError("bad_evtx_event", "no EventID")
    return value


def _rule(channel: str, provider: str, event_id: int) -> _Rule | None:
    rule = _RULES.get((channel, event_id))
    owner = _PROVIDERS.get((channel, event_id), "")
    return rule if rule is not None and provider.startswith(owner) else None


def map_event(document: dict[str, Any], context: ParseContext) -> Event:
    """An ``Event`` from pyevtx-rs's JSON rendering of one record (``{"Event": {"System": ...}}``)."""
    event = document.get("Event")
    if not isinstance(event, dict) or not isinstance(event.get("System"), dict):
        raise ParseError("bad_evtx_event", "no Event/System element")
    system = event["System"]
    event_id, channel = _event_id(system), _text(system.get("Channel"))
    provider = _attribute(system.get("Provider"), "Name")
    rule = _rule(channel, provider, event_id)
    data = _event_data(event, rule)
    fields = rule or _Rule(Action.OTHER, "", user=(), domain=(), session=(), source_ip=(), pid=())
    pid = _int(_first(data, fields.pid)) if fields.pid else None
    extra: dict[str, Any] = {
        "event_id": event_id,
        "channel": channel,
        "provider": provider,
        "computer": _text(system.get("Computer")),
        "event_record_id": _int(_text(system.get("EventRecordID"))),
        "level": _int(_text(system.get("Level"))),
        "keywords": _text(system.get("Keywords")),
        "security_user_id": _attribute(system.get("Security"), "UserID"),
        "data": data,
    }
    if domain := _first(data, fields.domain):
        extra["user_domain"] = domain
    return Event(
        time=_time(system),
        host=_text(system.get("Computer")) or context.default_host,
        program=provider,
        pid=pid if pid is not None else _int(_attribute(system.get("Execution"), "ProcessID")),
        user=_first(data, fields.user),
        target_user=_first(data, fields.target),
        source_ip=_ip(_first(data, fields.source_ip)),
        action=fields.action,
        outcome=_outcome(rule, data, extra["keywords"]),
        session_id=_first(data, fields.session),
        command=_first(data, fields.command),
        message=f"{event_id} {fields.title}".strip() if fields.title else f"{provider} event {event_id}",
        extra=extra,
    )


class EvtxParser:
    """``--format evtx``: Windows .evtx files (whole files, seekable streams)."""

    name: ClassVar[str] = "evtx"
    description: ClassVar[str] = "Windows event log file (.evtx), rendered by pyevtx-rs"

    def records(self, stream: BinaryIO, start_offset: int = 0) -> Iterator[Record]:
        source, is_copy = _seekable(stream)
        try:
            yield from _evtx_records(source, start_offset)
        finally:
            if is_copy:
                source.close()

    def parse(self, record: Record, context: ParseContext) -> list[Event]:
        if isinstance(record, EvtxUnreadable):
            raise ParseError(record.reason, record.detail)
        if isinstance(record, EvtxOverhead) or not record.data:
            return []
        try:
            wrapper = json.loads(record.data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ParseError("not_evtx_record", str(exc)[:120]) from exc
        if not isinstance(wrapper, dict) or not isinstance(wrapper.get("event"), dict):
            raise ParseError("not_evtx_record", "no rendered event")
        event = map_event(wrapper["event"], context)
        event.extra["chunk_checksum_ok"] = wrapper.get("checksum_ok")
        if wrapper.get("offset_is_record_id"):
            event.extra["offset_is_record_id"] = True
        return [event]


PARSER = EvtxParser()
