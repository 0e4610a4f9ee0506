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

What the rendered events mean (event IDs to logons, privilege use, account changes...) is in
``evtx_events``.

A file that does not start with the EVTX magic, or whose header cannot be read, is one
``not_evtx`` record covering the whole input (only its first 64 KiB are kept).
"""

from __future__ import annotations

import json
import shutil
import struct
import tempfile
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, ClassVar

import evtx

from evidence.parsers.base import Event, ParseContext, ParseError, Record
from evidence.parsers.evtx_events import map_event

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
