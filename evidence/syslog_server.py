"""The syslog receiver: TCP (RFC 6587 octet counting or LF framing) and UDP, into ingestion jobs.

TCP framing (RFC 6587 octet counting or LF framing, decided per connection) is ``evidence.syslog_framing``.

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

On SIGTERM or SIGINT the receiver stops listening, reads what has already arrived on open
connections (for at most ``shutdown_read_seconds``), takes an unterminated last LF-framed message as
complete (RFC 6587 allows a missing trailer when the connection ends), stores everything it
accepted (for at most ``drain_seconds``), and exits.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import socket
import struct
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evidence.syslog_framing import MAX_FRAME, Framer, one_line

logger = logging.getLogger(__name__)

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
