"""The syslog receiver: TCP (RFC 6587 octet counting or LF framing) and UDP, into ingestion jobs.

Framing is decided per TCP connection from its first frame, as rsyslog-style receivers do: a frame
starting with ``<`` (or anything but ``digits SP``) means non-transparent framing (LF, CRLF or NUL
trailers) for the whole connection; ``digits SP`` means octet counting. An LF-framed line that
happens to start with ``12 `` is therefore never taken for a count.

Messages are appended, one per line, to an in-memory batch that becomes an ingestion job every
``flush_seconds`` or ``flush_bytes``; parsing happens in the Celery chunk tasks like for any other
job. Memory is bounded: with ``max_buffer`` bytes accepted but not stored (including a batch whose
storing failed and is being retried), TCP connections stop being read (the senders' kernels then
hold back: back-pressure, not loss) and UDP datagrams are dropped, counted, logged and reported
(UDP cannot push back). The UDP socket's kernel receive buffer is sized for bursts
(``udp_receive_buffer``), and what the kernel itself drops when that buffer overflows is read from the
socket (``SO_RXQ_OVFL`` with every datagram on Linux, and ``/proc/net/udp`` at each tick and on exit)
and reported like the receiver's own drops: in the statistics, in the log and, through ``on_loss``,
on the source. Each TCP connection holds at most one partial frame, and at most
``max_connections`` are open at once: a new connection beyond that takes the place of the one idle
longest, if it has sent nothing for ``evict_idle_seconds`` (what it sent is kept), or is closed at
once; both are counted.

Malformed frames never stop a connection. A frame above ``MAX_FRAME`` keeps its first
``MAX_FRAME + 1`` bytes, so the parser rejects it as ``line_too_long`` (kept with its reason); a bad
octet count is read as an LF-terminated line instead (rsyslog does the same), so its bytes are kept.
Both are counted in ``malformed_by_reason``.

On SIGTERM or SIGINT the receiver stops listening, reads what has already arrived on open
connections (for at most ``shutdown_read_seconds``), takes an unterminated last LF-framed message as
complete (RFC 6587 allows a missing trailer when the connection ends), stores everything it
accepted (for at most ``drain_seconds``), and exits.
"""

from __future__ import annotations

import asyncio
import enum
import io
import json
import logging
import re
import signal
import socket
import struct
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evidence.parsers.base import MAX_LINE_BYTES

logger = logging.getLogger(__name__)

MAX_FRAME = MAX_LINE_BYTES  # a longer message is cut to MAX_FRAME + 1 bytes: the parser rejects it
MAX_OCTET_COUNT = 16 * 1024 * 1024  # larger counts are nonsense: the frame is read as a line instead
HEADER_DIGITS = 20  # a longer run of digits is not an octet count at all
SEPARATORS = frozenset(b"\r\n\x00")
_TRAILERS = re.compile(rb"[\n\x00]")
DROP_REPORT_SECONDS = 10.0
# Large enough for a burst of 10,000 syslog datagrams on loopback (each costs the kernel ~1-2 KB).
UDP_RECEIVE_BUFFER = 32 * 1024**2
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux: the socket's drop counter with each datagram
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux, CAP_NET_ADMIN: above net.core.rmem_max
UDP_READS_PER_WAKEUP = 256  # datagrams read per readiness callback, so TCP connections are served too


@dataclass
class ReceiverStats:
    messages: int = 0  # accepted (TCP frames and UDP datagrams)
    bytes: int = 0  # of accepted messages
    bytes_received: int = 0  # read from the sockets, framing included
    messages_stored: int = 0  # in ingestion jobs
    malformed_frames: int = 0
    malformed_by_reason: dict[str, int] = field(default_factory=dict)
    tcp_connections: int = 0
    tcp_refused: int = 0  # connections closed at once: max_connections were already open and busy
    tcp_evicted: int = 0  # idle connections closed to make room for a new one
    paused: int = 0  # times a TCP connection stopped being read (back-pressure)
    peak_buffered: int = 0  # most bytes accepted but not yet stored at once (the memory bound at work)
    udp_dropped: int = 0  # datagrams dropped because the buffer was full
    udp_kernel_dropped: int = 0  # datagrams the kernel dropped: the socket's receive buffer overflowed
    udp_receive_buffer: int = 0  # the receive buffer the kernel granted (bytes)
    flush_failures: int = 0
    lost_at_exit: int = 0  # accepted messages that could not be stored before the drain deadline
    jobs: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Messages that reached this host and were not accepted (never stored)."""
        return self.udp_dropped + self.udp_kernel_dropped

    def count_malformed(self, reasons: Counter[str]) -> None:
        for reason, count in reasons.items():
            self.malformed_frames += count
            self.malformed_by_reason[reason] = self.malformed_by_reason.get(reason, 0) + count


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


# --- batching ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    data: bytes
    messages: int


class Batcher:
    """Collects lines and hands batches to ``flush`` (a blocking call, run in a thread), one at a
    time and in order. A failed batch stays first in line and is retried with a growing delay; it
    keeps counting against ``max_buffer``, so a store that is down means back-pressure, never an
    unbounded queue."""

    def __init__(
        self,
        flush: Callable[[bytes], str],
        *,
        flush_bytes: int,
        flush_seconds: float,
        max_buffer: int,
        stats: ReceiverStats,
        retry_seconds: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.flush_blocking, self.flush_bytes, self.flush_seconds = flush, flush_bytes, flush_seconds
        self.max_buffer, self.stats = max_buffer, stats
        self.retry_first, self.retry_max = retry_seconds
        self.batch_bytes = max(1, min(flush_bytes, max_buffer // 2))  # a full buffer is always being written
        self.lines = bytearray()
        self.line_count = 0
        self.pending: deque[Batch] = deque()
        self.waiting = 0  # bytes of the pending batches
        self.paused_transports: set[Any] = set()
        self.writer: asyncio.Task[None] | None = None
        self._drops_unreported = 0
        self._drops_reported_at = 0.0

    @property
    def over_limit(self) -> bool:
        return len(self.lines) + self.waiting >= self.max_buffer

    @property
    def unstored_messages(self) -> int:
        return self.line_count + sum(batch.messages for batch in self.pending)

    def add(self, message: bytes) -> None:
        """Accept a message (TCP: the caller pauses its transport when ``over_limit``)."""
        self.lines += one_line(message)
        self.line_count += 1
        self.stats.messages += 1
        self.stats.bytes += len(message)
        self.stats.peak_buffered = max(self.stats.peak_buffered, len(self.lines) + self.waiting)
        if len(self.lines) >= self.batch_bytes:
            self.schedule_flush()

    def offer(self, message: bytes) -> bool:
        """Accept a message unless the buffer is full (UDP: dropped, counted and reported)."""
        if self.over_limit:
            self.stats.udp_dropped += 1
            self._drops_unreported += 1
            self.report_drops()
            return False
        self.add(message)
        return True

    def count_kernel_drops(self, total: int) -> None:
        """The socket's cumulative drop counter as the kernel reports it (it only grows)."""
        if total > self.stats.udp_kernel_dropped:
            self._drops_unreported += total - self.stats.udp_kernel_dropped
            self.stats.udp_kernel_dropped = total
            self.report_drops()

    def report_drops(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._drops_unreported and (force or now - self._drops_reported_at >= DROP_REPORT_SECONDS):
            logger.warning(
                "syslog receiver lost %d UDP messages (%d in all: %d with its buffer of %d bytes full, "
                "%d dropped by the kernel with the socket's receive buffer of %d bytes full)",
                self._drops_unreported,
                self.stats.lost,
                self.stats.udp_dropped,
                self.max_buffer,
                self.stats.udp_kernel_dropped,
                self.stats.udp_receive_buffer,
            )
            self._drops_unreported, self._drops_reported_at = 0, now

    def schedule_flush(self) -> None:
        if self.lines:
            batch = Batch(bytes(self.lines), self.line_count)
            self.lines, self.line_count = bytearray(), 0
            self.pending.append(batch)
            self.waiting += len(batch.data)
        if self.pending and (self.writer is None or self.writer.done()):
            self.writer = asyncio.get_running_loop().create_task(self._write_pending())

    async def _write_pending(self) -> None:
        delay = self.retry_first
        while self.pending:
            batch = self.pending[0]
            try:
                job = await asyncio.to_thread(self.flush_blocking, batch.data)
            except Exception:
                self.stats.flush_failures += 1
                logger.exception(
                    "syslog batch of %d messages could not be stored; retrying in %.1fs", batch.messages, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            delay = self.retry_first
            self.pending.popleft()
            self.waiting -= len(batch.data)
            self.stats.jobs.append(job)
            self.stats.messages_stored += batch.messages
            self.resume()

    def pause(self, transport: Any) -> None:
        if transport not in self.paused_transports:
            transport.pause_reading()
            self.paused_transports.add(transport)
            self.stats.paused += 1

    def resume(self) -> None:
        if self.over_limit:
            return
        for transport in self.paused_transports:
            if not transport.is_closing():
                transport.resume_reading()
        self.paused_transports.clear()

    async def ticker(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            self.schedule_flush()
            self.report_drops()

    async def drain(self, timeout: float) -> bool:
        """Store everything accepted; False (and ``stats.lost_at_exit``) if that took too long."""
        self.schedule_flush()
        self.report_drops(force=True)
        if self.writer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.writer), timeout)
            except TimeoutError:
                self.writer.cancel()
        lost = self.unstored_messages
        if lost:
            self.stats.lost_at_exit = lost
            logger.error("syslog receiver exiting with %d accepted messages not stored", lost)
        return not lost


# --- network -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionLimit:
    max_connections: int = 512
    evict_idle_seconds: float = 60.0


class TcpProtocol(asyncio.Protocol):
    def __init__(self, batcher: Batcher, connections: set[TcpProtocol], limit: ConnectionLimit) -> None:
        self.batcher, self.connections, self.framer = batcher, connections, Framer()
        self.limit = limit
        self.transport: Any = None
        self.finished = False
        self.last_active = time.monotonic()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        if len(self.connections) >= self.limit.max_connections and not self._evict_idle():
            self.finished = True  # nothing was read from it: nothing to keep
            self.batcher.stats.tcp_refused += 1
            transport.abort()
            return
        self.connections.add(self)
        self.batcher.stats.tcp_connections += 1
        if self.batcher.over_limit:
            self.batcher.pause(transport)

    def _evict_idle(self) -> bool:
        """Close the connection idle longest (not one paused by back-pressure) to make room."""
        paused = self.batcher.paused_transports
        idle = [c for c in self.connections if c.transport not in paused]
        oldest = min(idle, key=lambda connection: connection.last_active, default=None)
        if oldest is None or time.monotonic() - oldest.last_active < self.limit.evict_idle_seconds:
            return False
        oldest.finish()
        oldest.transport.close()
        self.batcher.stats.tcp_evicted += 1
        return True

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        self.batcher.stats.bytes_received += len(data)
        self._accept(self.framer.feed(data))
        if self.batcher.over_limit:
            self.batcher.pause(self.transport)

    def _accept(self, frames: list[bytes]) -> None:
        for frame in frames:
            self.batcher.add(frame)
        if self.framer.malformed:
            self.batcher.stats.count_malformed(self.framer.malformed)
            self.framer.malformed.clear()

    def finish(self) -> None:
        """The connection ends (peer closed, or shutdown): what is left in the framer is accepted."""
        if not self.finished:
            self.finished = True
            self._accept(self.framer.close())
            self.connections.discard(self)
            self.batcher.paused_transports.discard(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.finish()


class UdpProtocol(asyncio.DatagramProtocol):
    """One datagram is one message (RFC 5426); trailing LF/CR/NUL are not part of it."""

    def __init__(self, batcher: Batcher) -> None:
        self.batcher = batcher

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.batcher.stats.bytes_received += len(data)
        message = data.rstrip(b"\r\n\x00")
        if message:
            self.batcher.offer(message[: MAX_FRAME + 1])


def size_receive_buffer(sock: socket.socket, wanted: int) -> int:
    """Ask for ``wanted`` bytes of receive buffer (beyond ``net.core.rmem_max`` where privileged)
    and return what the kernel granted; a smaller grant is logged with the way to raise it."""
    for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, wanted)
            break
        except OSError:
            continue
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if granted < wanted:  # Linux reports twice what was set: bookkeeping included
        logger.warning(
            "UDP receive buffer is %d bytes, %d were asked for: bursts may be dropped by the kernel "
            "(raise net.core.rmem_max or run with CAP_NET_ADMIN)",
            granted,
            wanted,
        )
    return granted


def proc_drops(sock: socket.socket, proc: Path = Path("/proc/net")) -> int | None:
    """The kernel's drop counter of ``sock`` from /proc/net/udp(6) (last column), or None."""
    inode = str(Path(f"/proc/self/fd/{sock.fileno()}").stat().st_ino) if proc.exists() else ""
    for table in ("udp", "udp6"):
        try:
            lines = (proc / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            columns = line.split()
            if len(columns) >= 13 and columns[9] == inode:
                return int(columns[-1])
    return None


class UdpListener:
    """A UDP socket read with ``recvmsg`` by the event loop, so that the kernel's count of datagrams
    it dropped (``SO_RXQ_OVFL``) arrives with each datagram; asyncio's datagram endpoints do not
    pass ancillary data on."""

    def __init__(self, batcher: Batcher, host: str, port: int, receive_buffer: int) -> None:
        self.batcher, self.protocol = batcher, UdpProtocol(batcher)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setblocking(False)
            batcher.stats.udp_receive_buffer = size_receive_buffer(self.sock, receive_buffer)
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
            except OSError:
                logger.warning("this system does not report kernel UDP drops per datagram (SO_RXQ_OVFL)")
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.ancillary = socket.CMSG_SPACE(4)
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.sock.fileno(), self.read)

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()[:2]

    def read(self) -> None:
        for _ in range(UDP_READS_PER_WAKEUP):
            try:
                data, ancillary, _flags, addr = self.sock.recvmsg(65535, self.ancillary)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                logger.exception("UDP receive failed")
                return
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                    self.batcher.count_kernel_drops(struct.unpack("=I", value[:4])[0])
            self.protocol.datagram_received(data, addr)

    def read_drops(self) -> None:
        """Catch drops after the last datagram (the per-datagram counter only comes with the next)."""
        dropped = proc_drops(self.sock)
        if dropped is not None:
            self.batcher.count_kernel_drops(dropped)

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self.read_drops()
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - the operator chooses where to listen


async def _read_what_arrived(stats: ReceiverStats, batcher: Batcher, seconds: float) -> None:
    """Let the loop accept and read what the kernel already holds (connections in the listen backlog,
    bytes and datagrams in socket buffers): until three passes in a row bring no new connection and
    no byte, and no connection waits for back-pressure to end; or until ``seconds`` pass."""
    loop = asyncio.get_running_loop()
    deadline, quiet = loop.time() + seconds, 0
    seen = (stats.bytes_received, stats.tcp_connections)
    while quiet < 3 and loop.time() < deadline:
        await asyncio.sleep(0.01 if batcher.paused_transports else 0)
        now = (stats.bytes_received, stats.tcp_connections)
        quiet, seen = (0 if now != seen or batcher.paused_transports else quiet + 1), now


async def _listen(
    batcher: Batcher,
    connections: set[TcpProtocol],
    tcp: str | None,
    udp: str | None,
    limit: ConnectionLimit,
    udp_receive_buffer: int,
) -> tuple[list[Any], dict[str, Any]]:
    loop = asyncio.get_running_loop()
    listeners: list[Any] = []
    bound: dict[str, Any] = {}
    if tcp:
        host, port = _address(tcp)
        server = await loop.create_server(
            lambda: TcpProtocol(batcher, connections, limit), host, port, reuse_address=True
        )
        listeners.append(server)
        bound["tcp"] = server.sockets[0].getsockname()[:2]
    if udp:
        host, port = _address(udp)
        listener = UdpListener(batcher, host, port, udp_receive_buffer)
        listeners.append(listener)
        bound["udp"] = listener.address
    return listeners, bound


async def serve(
    flush: Callable[[bytes], str],
    *,
    tcp: str | None,
    udp: str | None,
    flush_bytes: int = 4 * 1024**2,
    flush_seconds: float = 2.0,
    max_buffer: int = 64 * 1024**2,
    shutdown_read_seconds: float = 2.0,
    drain_seconds: float = 60.0,
    limit: ConnectionLimit | None = None,
    ready: Callable[[dict[str, Any]], None] | None = None,
    stop: asyncio.Event | None = None,
    install_signals: bool = True,
    udp_receive_buffer: int = UDP_RECEIVE_BUFFER,
    on_loss: Callable[[int], None] | None = None,
) -> ReceiverStats:
    """Listen until SIGTERM/SIGINT (or ``stop`` is set), then store what was accepted and return the
    statistics (``lost_at_exit`` > 0 if storing did not finish within ``drain_seconds``). Signal
    handlers need the main thread: pass ``install_signals=False`` (and a ``stop``) elsewhere.
    ``on_loss(n)`` (blocking, run in a thread) hears of every ``n`` messages lost since its last call,
    at each tick and on exit."""
    stats = ReceiverStats()
    batcher = Batcher(flush, flush_bytes=flush_bytes, flush_seconds=flush_seconds, max_buffer=max_buffer, stats=stats)
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT) if install_signals else ()
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    connections: set[TcpProtocol] = set()
    listeners, bound = await _listen(batcher, connections, tcp, udp, limit or ConnectionLimit(), udp_receive_buffer)
    if ready:
        ready(bound)
    losses = LossReporter(stats, on_loss)
    ticker = loop.create_task(batcher.ticker())
    watcher = loop.create_task(
        losses.watch([item for item in listeners if isinstance(item, UdpListener)], flush_seconds)
    )
    await stop.wait()
    ticker.cancel()
    watcher.cancel()
    await _read_what_arrived(stats, batcher, shutdown_read_seconds)
    for listener in listeners:
        listener.close()
    for connection in list(connections):
        connection.finish()
        connection.transport.close()
    await batcher.drain(drain_seconds)
    await losses.report()
    for signum in signals:
        loop.remove_signal_handler(signum)
    return stats


class LossReporter:
    """Hands the messages lost since the last report to ``on_loss`` (the source's health)."""

    def __init__(self, stats: ReceiverStats, on_loss: Callable[[int], None] | None) -> None:
        self.stats, self.on_loss, self.reported = stats, on_loss, 0

    async def report(self) -> None:
        lost = self.stats.lost - self.reported
        if lost <= 0 or self.on_loss is None:
            return
        try:
            await asyncio.to_thread(self.on_loss, lost)
        except Exception:
            logger.exception("could not record %d lost messages on the source; retried at the next tick", lost)
        else:
            self.reported += lost

    async def watch(self, listeners: list[UdpListener], seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            for listener in listeners:
                listener.read_drops()
            await self.report()


def stats_json(stats: ReceiverStats) -> str:
    return json.dumps(asdict(stats))


def job_writer(source: Any, *, enqueue: bool = True) -> Callable[[bytes], str]:
    """The blocking flush: one batch of lines becomes one ingestion job (format ``syslog``). Once
    the job exists the batch is stored; parsing it in this process (``enqueue=False``) failing is
    logged and leaves the chunk pending for ``requeue_stalled``, it does not make a second job."""
    from django.db import close_old_connections

    from evidence import ingestion
    from evidence.models import IngestionJob

    def flush(batch: bytes) -> str:
        close_old_connections()
        job = ingestion.create_job(
            actor=None,
            inflate=False,  # a batch of messages, not a file: bytes that look like gzip are a message
            source=source,
            fmt="syslog",
            stream=io.BytesIO(batch),
            filename="syslog-receiver",
            receiver=IngestionJob.Receiver.SYSLOG,
            enqueue=enqueue,
        )
        if not enqueue:
            for chunk_id in job.chunks.values_list("pk", flat=True):
                try:
                    ingestion.process_chunk(chunk_id)
                except Exception:
                    logger.exception("syslog job %s: chunk %s could not be parsed here", job.pk, chunk_id)
        return str(job.pk)

    return flush


def loss_recorder(source: Any) -> Callable[[int], None]:
    """The blocking ``on_loss``: adds lost messages to the source, where its page shows them."""
    from django.db import close_old_connections

    from evidence import services

    def record(lost: int) -> None:
        close_old_connections()
        services.record_receiver_loss(source_id=source.pk, lost=lost)

    return record
