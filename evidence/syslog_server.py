"""The syslog receiver: TCP (RFC 6587 octet counting or LF framing) and UDP, into ingestion jobs.

Messages are appended, one per line, to an in-memory batch that becomes an ingestion job every
``flush_seconds`` or ``flush_bytes``; parsing happens in the Celery chunk tasks like for any other
job. Memory is bounded: above ``max_buffer`` bytes waiting to be flushed, TCP connections stop
being read (the senders' kernels then hold back, which is back-pressure, not loss). A malformed
frame is kept as a line (it will be rejected with its reason by the parser) and the connection
goes on. On SIGTERM or SIGINT the receiver stops listening, flushes what it accepted, and exits.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

logger = logging.getLogger(__name__)
MAX_FRAME = 64 * 1024


@dataclass
class ReceiverStats:
    messages: int = 0
    bytes: int = 0
    malformed_frames: int = 0
    tcp_connections: int = 0
    jobs: list[str] = field(default_factory=list)
    paused: int = 0


def one_line(message: bytes) -> bytes:
    """A message as one LF-terminated line: embedded LFs become rsyslog's ``#012``."""
    message = message.rstrip(b"\r\n")
    if b"\n" in message:
        message = message.replace(b"\r\n", b"\n").replace(b"\n", b"#012")
    return message + b"\n"


class Framer:
    """Splits a TCP byte stream into syslog messages (RFC 6587): octet counting when a frame
    starts with ``<digits> ``, otherwise LF (or NUL) terminated."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.malformed = 0

    def _octet_frame(self, start: int, end: int) -> tuple[bytes | None, int] | None:
        """(frame, next start) for an octet-counted frame at ``start``; ``(None, start)`` if more
        bytes are needed; ``None`` if these bytes are not an octet-counted frame."""
        buffer = self.buffer
        space = buffer.find(b" ", start, min(end, start + 7))
        if space < 0:
            return (None, start) if end - start < 7 and bytes(buffer[start:end]).isdigit() else None
        digits = bytes(buffer[start:space])
        if not digits.isdigit():
            return None
        length = int(digits)
        if length > MAX_FRAME:
            self.malformed += 1
            return None
        if space + 1 + length > end:
            return (None, start)
        return bytes(buffer[space + 1 : space + 1 + length]), space + 1 + length

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        buffer, frames, start, end = self.buffer, [], 0, len(self.buffer)
        while start < end:
            if buffer[start] in (0x0A, 0x0D, 0x00):
                start += 1  # separators between frames
                continue
            if 0x30 <= buffer[start] <= 0x39:
                found = self._octet_frame(start, end)
                if found is not None:
                    frame, following = found
                    if frame is None:
                        break  # incomplete: wait for more bytes
                    frames.append(frame)
                    start = following
                    continue
            newline, nul = buffer.find(b"\n", start, end), buffer.find(b"\x00", start, end)
            stops = [x for x in (newline, nul) if x >= 0]
            if not stops:
                break
            frames.append(bytes(buffer[start : min(stops)]))
            start = min(stops) + 1
        del buffer[:start]
        if len(buffer) > MAX_FRAME:  # a line that never ends: cut it, keep the bytes
            self.malformed += 1
            frames.append(bytes(buffer[:MAX_FRAME]))
            del buffer[:MAX_FRAME]
        return frames

    def close(self) -> list[bytes]:
        """What is left when the peer closes: an unterminated last line is still a message."""
        rest = bytes(self.buffer).strip(b"\r\n\x00")
        self.buffer.clear()
        return [rest] if rest else []


class Batcher:
    """Collects lines and hands full batches to ``flush`` (a blocking call, run in a thread)."""

    def __init__(
        self,
        flush: Callable[[bytes], str],
        *,
        flush_bytes: int,
        flush_seconds: float,
        max_buffer: int,
        stats: ReceiverStats,
    ) -> None:
        self.flush_blocking, self.flush_bytes, self.flush_seconds = flush, flush_bytes, flush_seconds
        self.max_buffer, self.stats = max_buffer, stats
        self.lines = bytearray()
        self.waiting = 0  # bytes handed to a flush that is not finished yet
        self.paused_transports: set[Any] = set()
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def over_limit(self) -> bool:
        return len(self.lines) + self.waiting >= self.max_buffer

    def add(self, message: bytes) -> None:
        self.lines += one_line(message)
        self.stats.messages += 1
        self.stats.bytes += len(message)
        if len(self.lines) >= self.flush_bytes:
            self.schedule_flush()

    def schedule_flush(self) -> None:
        if not self.lines:
            return
        batch, self.lines = bytes(self.lines), bytearray()
        self.waiting += len(batch)
        task = asyncio.get_running_loop().create_task(self._flush(batch))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _flush(self, batch: bytes) -> None:
        try:
            async with self.lock:  # one job at a time keeps the order of batches
                job = await asyncio.to_thread(self.flush_blocking, batch)
            self.stats.jobs.append(job)
        except Exception:
            logger.exception("syslog batch of %d bytes could not be stored; keeping it for the next flush", len(batch))
            self.lines = bytearray(batch) + self.lines
        finally:
            self.waiting -= len(batch)
            self.resume()

    def pause(self, transport: Any) -> None:
        if transport not in self.paused_transports:
            transport.pause_reading()
            self.paused_transports.add(transport)
            self.stats.paused += 1

    def resume(self) -> None:
        if not self.over_limit:
            for transport in list(self.paused_transports):
                if not transport.is_closing():
                    transport.resume_reading()
            self.paused_transports.clear()

    async def ticker(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            self.schedule_flush()

    async def drain(self) -> None:
        self.schedule_flush()
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
            if self.lines:
                self.schedule_flush()


class TcpProtocol(asyncio.Protocol):
    def __init__(self, batcher: Batcher) -> None:
        self.batcher, self.framer, self.transport = batcher, Framer(), None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.batcher.stats.tcp_connections += 1

    def data_received(self, data: bytes) -> None:
        for frame in self.framer.feed(data):
            self.batcher.add(frame)
        self.batcher.stats.malformed_frames += self.framer.malformed
        self.framer.malformed = 0
        if self.batcher.over_limit:
            self.batcher.pause(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        for frame in self.framer.close():
            self.batcher.add(frame)
        self.batcher.paused_transports.discard(self.transport)


class UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, batcher: Batcher) -> None:
        self.batcher = batcher

    def datagram_received(self, data: bytes, addr: Any) -> None:
        message = data.strip(b"\r\n\x00")
        if message:
            self.batcher.add(message[:MAX_FRAME])


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - the operator chooses where to listen


async def serve(
    flush: Callable[[bytes], str],
    *,
    tcp: str | None,
    udp: str | None,
    flush_bytes: int = 4 * 1024**2,
    flush_seconds: float = 2.0,
    max_buffer: int = 64 * 1024**2,
    ready: Callable[[dict[str, Any]], None] | None = None,
) -> ReceiverStats:
    """Listen until SIGTERM/SIGINT, then flush what was accepted and return the statistics."""
    stats = ReceiverStats()
    batcher = Batcher(flush, flush_bytes=flush_bytes, flush_seconds=flush_seconds, max_buffer=max_buffer, stats=stats)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    servers: list[Any] = []
    bound: dict[str, Any] = {}
    if tcp:
        host, port = _address(tcp)
        server = await loop.create_server(lambda: TcpProtocol(batcher), host, port, reuse_address=True)
        servers.append(server)
        bound["tcp"] = server.sockets[0].getsockname()[:2]
    if udp:
        host, port = _address(udp)
        transport, _ = await loop.create_datagram_endpoint(lambda: UdpProtocol(batcher), local_addr=(host, port))
        servers.append(transport)
        bound["udp"] = transport.get_extra_info("sockname")[:2]
    if ready:
        ready(bound)
    ticker = loop.create_task(batcher.ticker())
    await stop.wait()
    ticker.cancel()
    for server in servers:
        server.close()
    await batcher.drain()
    return stats


def stats_json(stats: ReceiverStats) -> str:
    return json.dumps(asdict(stats))


def job_writer(source: Any, *, enqueue: bool = True) -> Callable[[bytes], str]:
    """The blocking flush: one batch of lines becomes one ingestion job (format ``syslog``)."""
    from django.db import close_old_connections

    from evidence import ingestion
    from evidence.models import IngestionJob

    def flush(batch: bytes) -> str:
        close_old_connections()
        job = ingestion.create_job(
            actor=None,
            source=source,
            fmt="syslog",
            stream=io.BytesIO(batch),
            filename="syslog-receiver",
            receiver=IngestionJob.Receiver.SYSLOG,
            enqueue=enqueue,
        )
        if not enqueue:
            for chunk_id in job.chunks.values_list("pk", flat=True):
                ingestion.process_chunk(chunk_id)
        return str(job.pk)

    return flush
