"""Syslog over TCP, message by message (RFC 6587): octet counting or non-transparent framing.

Framing is decided per TCP connection from its first frame, as rsyslog-style receivers do: a frame
starting with ``<`` (or anything but ``digits SP``) means non-transparent framing (LF, CRLF or NUL
trailers) for the whole connection; ``digits SP`` means octet counting. An LF-framed line that
happens to start with ``12 `` is therefore never taken for a count. Malformed frames never stop a
connection: a frame above ``MAX_FRAME`` keeps its first ``MAX_FRAME + 1`` bytes (so the parser
rejects it as ``line_too_long``), a bad octet count is read as a line; both are counted.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from dataclasses import dataclass

from evidence.parsers.base import MAX_LINE_BYTES

MAX_FRAME = MAX_LINE_BYTES  # a longer message is cut to MAX_FRAME + 1 bytes: the parser rejects it
MAX_OCTET_COUNT = 16 * 1024 * 1024  # larger counts are nonsense: the frame is read as a line instead
HEADER_DIGITS = 20  # a longer run of digits is not an octet count at all
SEPARATORS = frozenset(b"\r\n\x00")
_TRAILERS = re.compile(rb"[\n\x00]")


def one_line(message: bytes) -> bytes:
    """A message as one LF-terminated line: embedded LFs become rsyslog's ``#012``."""
    message = message.rstrip(b"\r\n")
    if b"\n" in message:
        message = message.replace(b"\r\n", b"\n").replace(b"\n", b"#012")
    return message + b"\n"


# --- framing -------------------------------------------------------------------------------------


class Framing(enum.Enum):
    UNDECIDED = "undecided"
    OCTET_COUNTING = "octet-counting"
    NON_TRANSPARENT = "non-transparent"


@dataclass(frozen=True)
class Header:
    """What the bytes at a frame start say: ``count`` (a valid ``MSG-LEN SP``), ``bad`` (digits and
    a space but an impossible length), ``none`` (not a count at all) or ``incomplete``."""

    kind: str
    length: int = 0
    payload: int = 0  # where the message starts


class Framer:
    """Splits one TCP connection's byte stream into syslog messages (RFC 6587), in bounded memory:
    the buffer never holds more than one frame (at most ``max_frame`` + a header) plus one read."""

    def __init__(self, max_frame: int = MAX_FRAME, max_count: int = MAX_OCTET_COUNT) -> None:
        self.max_frame, self.max_count = max_frame, max_count
        self.buffer = bytearray()
        self.framing = Framing.UNDECIDED
        self.malformed: Counter[str] = Counter()
        self._skip = 0  # bytes of an oversized octet-counted frame still to discard
        self._skip_line = False  # discarding the rest of an oversized line, up to its trailer
        self._as_line = False  # the current frame had a bad count: read it up to its trailer

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        frames: list[bytes] = []
        position = 0
        while (following := self._next(position, frames)) is not None:
            position = following
        del self.buffer[:position]
        return frames

    def close(self) -> list[bytes]:
        """What is left when the connection ends. An unterminated LF-framed message is complete
        (RFC 6587 allows a missing trailer at close); a cut octet-counted frame is kept and counted
        as ``truncated_frame``."""
        rest = bytes(self.buffer).lstrip(b"\r\n\x00")
        self.buffer.clear()
        skipping, self._skip, self._skip_line = bool(self._skip or self._skip_line), 0, False
        if not rest or skipping:
            return []
        if self.framing is Framing.OCTET_COUNTING and not self._as_line:
            self.malformed["truncated_frame"] += 1
            header = self._header(rest, 0)
            rest = rest[header.payload :] if header.kind == "count" else rest
        message = rest.rstrip(b"\r\n\x00")
        return [message] if message else []

    # One step: the position after what was consumed, or None when more bytes are needed.
    def _next(self, position: int, frames: list[bytes]) -> int | None:
        if self._skip:
            return self._discard(position)
        if self._skip_line:
            return self._discard_line(position)
        if self.framing is Framing.NON_TRANSPARENT:
            return self._lines(position, frames)
        if self._as_line:
            return self._line(position, frames)
        if position >= len(self.buffer):
            return None
        if self.buffer[position] in SEPARATORS:  # trailers some senders add between frames
            return position + 1
        return self._counted(position, frames)

    def _counted(self, position: int, frames: list[bytes]) -> int | None:
        """At a frame start on a connection that is octet counting or still undecided."""
        header = self._header(self.buffer, position)
        undecided = self.framing is Framing.UNDECIDED
        if header.kind == "incomplete":
            return None
        if header.kind == "none" and undecided:
            self.framing = Framing.NON_TRANSPARENT  # ``<PRI>`` or anything else: LF framing
            return position
        if header.kind != "count":
            self.malformed["bad_octet_count"] += 1
            self._as_line = True  # keep its bytes: read it as a line (rsyslog does the same)
            return position
        self.framing = Framing.OCTET_COUNTING
        return self._octets(header, frames)

    def _header(self, buffer: bytes | bytearray, position: int) -> Header:
        end, cursor = len(buffer), position
        limit = min(end, position + HEADER_DIGITS + 1)
        while cursor < limit and 0x30 <= buffer[cursor] <= 0x39:
            cursor += 1
        digits = cursor - position
        if digits == 0 or digits > HEADER_DIGITS:
            return Header("none")
        if cursor == end:
            return Header("incomplete")
        if buffer[cursor] != 0x20:
            return Header("none")
        length = int(buffer[position:cursor])
        if buffer[position] == 0x30 or length > self.max_count:  # MSG-LEN = NONZERO-DIGIT *DIGIT
            return Header("bad", length, cursor + 1)
        return Header("count", length, cursor + 1)

    def _octets(self, header: Header, frames: list[bytes]) -> int | None:
        available = len(self.buffer) - header.payload
        if header.length <= self.max_frame:
            if available < header.length:
                return None
            end = header.payload + header.length
            frames.append(bytes(self.buffer[header.payload : end]))
            return end
        kept = self.max_frame + 1  # enough for the parser to reject it as line_too_long
        if available < kept:
            return None
        self.malformed["frame_too_long"] += 1
        frames.append(bytes(self.buffer[header.payload : header.payload + kept]))
        self._skip = header.length - kept
        return header.payload + kept

    def _line(self, position: int, frames: list[bytes]) -> int | None:
        """One LF- or NUL-terminated frame (after a bad octet count)."""
        trailer = _TRAILERS.search(self.buffer, position)
        if trailer is None:
            return self._overlong(position, frames)
        self._as_line = False
        self._append_line(bytes(self.buffer[position : trailer.start()]), frames)
        return trailer.end()

    def _lines(self, position: int, frames: list[bytes]) -> int | None:
        """Every complete LF- or NUL-terminated frame at once (non-transparent framing)."""
        last = max(self.buffer.rfind(b"\n", position), self.buffer.rfind(b"\x00", position))
        if last < 0:
            return self._overlong(position, frames)
        complete = bytes(self.buffer[position:last])
        for line in _TRAILERS.split(complete) if b"\x00" in complete else complete.split(b"\n"):
            self._append_line(line, frames)
        return last + 1

    def _append_line(self, line: bytes, frames: list[bytes]) -> None:
        line = line.rstrip(b"\r")
        if len(line) > self.max_frame:
            self.malformed["frame_too_long"] += 1
            line = line[: self.max_frame + 1]
        if line:
            frames.append(line)

    def _overlong(self, position: int, frames: list[bytes]) -> int | None:
        """No trailer yet: wait, unless the line is already too long to be a message."""
        if len(self.buffer) - position <= self.max_frame:
            return None
        self.malformed["frame_too_long"] += 1
        frames.append(bytes(self.buffer[position : position + self.max_frame + 1]))
        self._as_line, self._skip_line = False, True
        return position + self.max_frame + 1

    def _discard(self, position: int) -> int | None:
        count = min(self._skip, len(self.buffer) - position)
        self._skip -= count
        return position + count if count else None

    def _discard_line(self, position: int) -> int | None:
        trailer = _TRAILERS.search(self.buffer, position)
        if trailer is None:
            end = len(self.buffer)
            return end if end > position else None
        self._skip_line = False
        return trailer.end()
