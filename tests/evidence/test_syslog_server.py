"""The syslog receiver: RFC 6587 framing (per connection), batching with a memory bound, back-pressure
on TCP and counted drops on UDP, and the real ``syslog_receiver`` process storing everything it
accepted when SIGTERM arrives, and surviving malformed frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from evidence import ingestion, services
from evidence.models import Event, EvidenceSource, IngestionJob, RejectedRecord
from evidence.syslog_framing import MAX_FRAME, Framer, Framing, one_line
from evidence.syslog_server import Batcher, ConnectionLimit, ReceiverStats, serve

ROOT = Path(__file__).resolve().parents[2]


def octet(message: bytes) -> bytes:
    return b"%d %s" % (len(message), message)


def sshd(user: str, n: int = 1) -> bytes:
    """An RFC 5424 message that the parsers turn into one successful logon of ``user``."""
    return b"<38>1 2026-03-01T10:00:%02dZ web1 sshd %d - - Accepted publickey for %s from 192.0.2.%d port 22 ssh2" % (
        n % 60,
        1000 + n,
        user.encode(),
        n % 250 + 1,
    )


def feed_in_pieces(framer: Framer, data: bytes, sizes: Iterator[int]) -> list[bytes]:
    frames, position = [], 0
    while position < len(data):
        step = next(sizes)
        frames += framer.feed(data[position : position + step])
        position += step
    return frames


# --- framer --------------------------------------------------------------------------------------


class TestFramer:
    def test_octet_counted_frames_split_at_every_byte(self) -> None:
        messages = [b"<13>hello", b"<13>multi\nline", sshd("alice"), b"<13>" + b"x" * 300]
        data = b"".join(octet(m) for m in messages)
        framer = Framer()
        assert feed_in_pieces(framer, data, iter(lambda: 1, 0)) == messages
        assert framer.framing is Framing.OCTET_COUNTING
        assert not framer.malformed
        assert not framer.buffer

    def test_octet_counted_frames_split_at_random_places(self) -> None:
        shuffle = random.Random(5)
        messages = [b"<13>message %d %s" % (n, b"y" * shuffle.randint(0, 500)) for n in range(200)]
        data = b"".join(octet(m) for m in messages)
        framer = Framer()
        assert feed_in_pieces(framer, data, iter(lambda: shuffle.randint(1, 700), 0)) == messages

    def test_lf_framing_waits_for_the_trailer(self) -> None:
        framer = Framer()
        assert framer.feed(b"<13>first\n<13>sec") == [b"<13>first"]
        assert framer.framing is Framing.NON_TRANSPARENT
        assert framer.feed(b"ond\n\n<13>third\n") == [b"<13>second", b"<13>third"]

    def test_crlf_trailers_are_not_part_of_the_message(self) -> None:
        assert Framer().feed(b"<13>one\r\n<13>two\r\n\r\n") == [b"<13>one", b"<13>two"]

    def test_nul_bytes_end_lf_frames_but_stay_inside_octet_frames(self) -> None:
        assert Framer().feed(b"<13>one\x00<13>two\x00\x00<13>three\n") == [b"<13>one", b"<13>two", b"<13>three"]
        assert Framer().feed(octet(b"<13>bin\x00ary") + octet(b"<13>next")) == [b"<13>bin\x00ary", b"<13>next"]

    def test_lf_line_starting_with_digits_and_a_space_is_not_a_count(self) -> None:
        """The connection started with ``<``: it is LF framed, so ``12 short`` is a message, and it
        does not swallow the 12 bytes of the next one."""
        framer = Framer()
        frames = framer.feed(b"<13>first\n12 short message\n<13>third message\n")
        assert frames == [b"<13>first", b"12 short message", b"<13>third message"]
        assert not framer.malformed

    def test_lf_line_starting_with_digits_in_a_later_read(self) -> None:
        framer = Framer()
        assert framer.feed(b"<13>first\n") == [b"<13>first"]
        assert framer.feed(b"12 ") == []
        assert framer.feed(b"short\n<13>next\n") == [b"12 short", b"<13>next"]

    def test_a_first_line_of_digits_without_a_space_means_lf_framing(self) -> None:
        framer = Framer()
        assert framer.feed(b"2026-03-01T10:00:00Z web1 sshd: hello\n12 x\n") == [
            b"2026-03-01T10:00:00Z web1 sshd: hello",
            b"12 x",
        ]
        assert framer.framing is Framing.NON_TRANSPARENT

    def test_absurd_octet_count_is_kept_as_a_line_and_framing_goes_on(self) -> None:
        framer = Framer()
        data = octet(b"<13>before") + b"999999999999 not really that long\n" + octet(b"<13>after")
        assert framer.feed(data) == [b"<13>before", b"999999999999 not really that long", b"<13>after"]
        assert framer.malformed == {"bad_octet_count": 1}
        assert framer.framing is Framing.OCTET_COUNTING

    def test_absurd_octet_count_first_leaves_the_framing_undecided(self) -> None:
        framer = Framer()
        assert framer.feed(b"999999999999 \n") == [b"999999999999 "]
        assert framer.framing is Framing.UNDECIDED
        assert framer.feed(b"<13>x\n12 y\n") == [b"<13>x", b"12 y"]
        assert framer.framing is Framing.NON_TRANSPARENT

    def test_leading_zero_count_is_malformed(self) -> None:
        framer = Framer()
        assert framer.feed(octet(b"<13>a") + b"05 <13>b\n" + octet(b"<13>c")) == [b"<13>a", b"05 <13>b", b"<13>c"]
        assert framer.malformed == {"bad_octet_count": 1}

    def test_octet_frame_over_the_cap_is_cut_for_rejection_and_the_next_frame_survives(self) -> None:
        framer = Framer(max_frame=100)
        oversized = b"<13>" + b"z" * 5000
        data = octet(b"<13>before") + octet(oversized) + octet(b"<13>after")
        frames: list[bytes] = []
        for position in range(0, len(data), 333):
            frames += framer.feed(data[position : position + 333])
            assert len(framer.buffer) <= 100 + 333 + 20  # one frame, one read and a header at most
        assert frames == [b"<13>before", oversized[:101], b"<13>after"]
        assert framer.malformed == {"frame_too_long": 1}

    def test_lf_line_over_the_cap_is_cut_and_the_rest_discarded(self) -> None:
        framer = Framer(max_frame=100)
        frames = framer.feed(b"<13>ok\n")
        for _ in range(50):
            frames += framer.feed(b"w" * 1000)
            assert len(framer.buffer) <= 100
        frames += framer.feed(b"w\n<13>next\n")
        assert frames == [b"<13>ok", b"w" * 101, b"<13>next"]
        assert framer.malformed == {"frame_too_long": 1}

    def test_default_cap_makes_the_parser_reject_the_line(self) -> None:
        from evidence.parsers.base import MAX_LINE_BYTES

        framer = Framer()
        (cut,) = framer.feed(octet(b"<13>" + b"q" * (2 * MAX_FRAME)))
        assert len(cut) == MAX_LINE_BYTES + 1  # one byte more than any line the parser accepts

    def test_garbage_bytes_never_break_the_framer(self) -> None:
        rng = random.Random(27)
        alphabet = b"0123456789 <>\n\r\x00\xffab"
        for _ in range(300):
            framer = Framer(max_frame=64)
            for _ in range(40):
                framer.feed(bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 100))))
                assert len(framer.buffer) <= 64 + 100 + 21
            framer.close()
            assert not framer.buffer

    def test_binary_garbage_then_messages_on_one_connection(self) -> None:
        framer = Framer()
        frames = framer.feed(b"\xff\xfe\x01garbage\x02\n<13>valid\n")
        assert frames == [b"\xff\xfe\x01garbage\x02", b"<13>valid"]  # kept: the parser rejects it

    def test_closed_mid_octet_frame_keeps_what_arrived_and_counts_it(self) -> None:
        framer = Framer()
        assert framer.feed(octet(b"<13>complete") + b"40 <13>cut sh") == [b"<13>complete"]
        assert framer.close() == [b"<13>cut sh"]
        assert framer.malformed == {"truncated_frame": 1}

    def test_closed_mid_header(self) -> None:
        framer = Framer()
        assert framer.feed(octet(b"<13>complete") + b"4") == [b"<13>complete"]
        assert framer.close() == [b"4"]
        assert framer.malformed == {"truncated_frame": 1}

    def test_unterminated_last_lf_message_is_complete_at_close(self) -> None:
        framer = Framer()
        assert framer.feed(b"<13>one\n<13>last without trailer\r") == [b"<13>one"]
        assert framer.close() == [b"<13>last without trailer"]
        assert not framer.malformed
        assert framer.close() == []

    def test_close_while_discarding_an_oversized_frame_adds_nothing(self) -> None:
        framer = Framer(max_frame=10)
        assert framer.feed(octet(b"x" * 50)[:30]) == [b"x" * 11]
        assert framer.close() == []


def test_one_line_escapes_embedded_newlines() -> None:
    assert one_line(b"<13>a\nb\r\nc\n") == b"<13>a#012b#012c\n"
    assert one_line(b"<13>plain") == b"<13>plain\n"


# --- batcher -------------------------------------------------------------------------------------


class Store:
    """A flush target in memory: records batches; can be held (blocks) or made to fail."""

    def __init__(self, failures: int = 0) -> None:
        self.batches: list[bytes] = []
        self.failures = failures
        self.release = threading.Event()
        self.release.set()

    def __call__(self, batch: bytes) -> str:
        if not self.release.wait(timeout=10):
            raise TimeoutError("store held too long")
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database is down")
        self.batches.append(batch)
        return f"job-{len(self.batches)}"

    @property
    def lines(self) -> list[bytes]:
        return b"".join(self.batches).splitlines()


class Transport:
    """The two calls the batcher makes on a TCP transport."""

    def __init__(self) -> None:
        self.reading = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return False


def batcher_for(store: Store, **options: Any) -> Batcher:
    defaults: dict[str, Any] = {"flush_bytes": 10**6, "flush_seconds": 3600, "max_buffer": 10**7}
    return Batcher(store, stats=ReceiverStats(), retry_seconds=(0.01, 0.05), **{**defaults, **options})


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


class TestBatcher:
    def test_a_full_batch_is_stored_and_the_rest_waits_for_the_drain(self) -> None:
        store = Store()

        async def scenario() -> Batcher:
            batcher = batcher_for(store, flush_bytes=100)
            for n in range(10):
                batcher.add(b"<13>message %d" % n)  # 14 bytes a line: 8 lines make a batch
            await until(lambda: len(store.batches) == 1)
            assert store.lines == [b"<13>message %d" % n for n in range(8)]
            assert await batcher.drain(timeout=5)
            return batcher

        batcher = asyncio.run(scenario())
        assert store.lines == [b"<13>message %d" % n for n in range(10)]
        assert (batcher.stats.messages, batcher.stats.messages_stored, batcher.stats.jobs) == (
            10,
            10,
            ["job-1", "job-2"],
        )

    def test_the_ticker_flushes_a_partial_batch(self) -> None:
        store = Store()

        async def scenario() -> None:
            batcher = batcher_for(store, flush_seconds=0.05)
            ticker = asyncio.create_task(batcher.ticker())
            batcher.add(b"<13>lonely")
            await until(lambda: store.lines == [b"<13>lonely"])
            ticker.cancel()

        asyncio.run(scenario())

    def test_batches_are_cut_below_the_bound_even_with_a_large_flush_size(self) -> None:
        store = Store()

        async def scenario() -> None:
            batcher = batcher_for(store, flush_bytes=10**9, max_buffer=1000)
            for n in range(100):
                batcher.add(b"<13>%04d" % n)
            await batcher.drain(timeout=5)

        asyncio.run(scenario())
        assert all(len(batch) <= 500 + 10 for batch in store.batches)
        assert len(store.lines) == 100

    def test_a_held_store_pauses_tcp_and_drops_udp_within_the_bound(self, caplog) -> None:
        store = Store()
        store.release.clear()
        caplog.set_level(logging.WARNING, logger="evidence.syslog_server")

        async def scenario() -> Batcher:
            batcher = batcher_for(store, flush_bytes=100, max_buffer=1000)
            transport = Transport()
            accepted = 0
            for n in range(500):
                if batcher.offer(b"<13>udp %04d" % n):
                    accepted += 1
                assert len(batcher.lines) + batcher.waiting <= 1000 + 20  # one message over, at most
            assert batcher.over_limit
            assert batcher.stats.udp_dropped == 500 - accepted > 0
            batcher.add(b"<13>tcp")
            batcher.pause(transport)
            assert not transport.reading
            store.release.set()
            await until(lambda: transport.reading)
            assert await batcher.drain(timeout=5)
            assert batcher.stats.messages_stored == accepted + 1
            return batcher

        batcher = asyncio.run(scenario())
        assert batcher.stats.paused == 1
        assert any("dropped" in r.getMessage() and "UDP" in r.getMessage() for r in caplog.records)

    def test_a_failed_batch_is_retried_in_order_and_counts_against_the_bound(self) -> None:
        store = Store(failures=3)

        async def scenario() -> Batcher:
            batcher = batcher_for(store, flush_bytes=50, max_buffer=200)
            sent = []
            for n in range(200):
                message = b"<13>n%03d" % n
                if batcher.offer(message):
                    sent.append(message)
                assert len(batcher.lines) + batcher.waiting <= 200 + 10
                await asyncio.sleep(0)
            await until(lambda: store.failures == 0)
            assert await batcher.drain(timeout=5)
            assert store.lines == sent  # nothing lost, nothing twice, in order
            return batcher

        batcher = asyncio.run(scenario())
        assert batcher.stats.flush_failures == 3
        assert batcher.stats.udp_dropped > 0
        assert batcher.stats.messages_stored == batcher.stats.messages

    def test_drain_gives_up_after_its_timeout_and_reports_the_loss(self) -> None:
        store = Store(failures=10**6)

        async def scenario() -> tuple[bool, Batcher]:
            batcher = batcher_for(store)
            for n in range(7):
                batcher.add(b"<13>%d" % n)
            return await batcher.drain(timeout=0.2), batcher

        stored, batcher = asyncio.run(scenario())
        assert not stored
        assert batcher.stats.lost_at_exit == 7
        assert batcher.stats.messages_stored == 0


# --- the server in this process, with real sockets -----------------------------------------------


@contextlib.contextmanager
def running_server(store: Store, **options: Any) -> Iterator[dict[str, Any]]:
    """``serve`` in a thread; yields the bound addresses and, at the end, its statistics."""
    result: dict[str, Any] = {}
    started = threading.Event()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        result["stop"] = lambda: loop.call_soon_threadsafe(stop.set)

        def ready(bound: dict[str, Any]) -> None:
            result.update(bound)
            started.set()

        result["stats"] = await serve(
            store, tcp="127.0.0.1:0", udp="127.0.0.1:0", ready=ready, stop=stop, install_signals=False, **options
        )

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield result
    finally:
        store.release.set()
        result["stop"]()
        thread.join(30)
        assert not thread.is_alive()


class TestServer:
    def test_tcp_back_pressure_while_the_store_is_held_then_no_loss(self) -> None:
        store = Store()
        store.release.clear()
        messages = [b"<13>pressure %06d %s" % (n, b"p" * 180) for n in range(120_000)]
        data = b"".join(octet(m) for m in messages)  # 24 MB: far above the bound and the kernel buffers
        bound = 256 * 1024
        with running_server(store, max_buffer=bound, flush_bytes=64 * 1024) as server:
            client = socket.create_connection(server["tcp"])
            client.setblocking(False)
            sent, deadline = 0, time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    sent += client.send(data[sent : sent + 65536])
                except BlockingIOError:
                    if not select.select([], [client], [], 0.5)[1]:
                        break  # the receiver stopped reading: the kernel buffers are full
            assert 0 < sent < len(data)  # held back before the end
            store.release.set()
            client.setblocking(True)
            client.sendall(data[sent:])
            client.close()
            deadline = time.monotonic() + 20
            while len(store.lines) < len(messages) and time.monotonic() < deadline:
                time.sleep(0.02)
        stats: ReceiverStats = server["stats"]
        assert store.lines == messages
        assert stats.paused >= 1
        assert stats.messages == stats.messages_stored == len(messages)
        assert stats.peak_buffered <= bound + 256 * 1024  # the bound, overshot by one socket read at most

    def test_udp_drops_when_full_are_counted_and_the_rest_stored(self) -> None:
        store = Store()
        store.release.clear()
        with running_server(store, max_buffer=1024, flush_bytes=256) as server:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                for n in range(300):
                    client.sendto(b"<13>datagram %04d\n" % n, server["udp"])
                    time.sleep(0.0002)
            store.release.set()
        stats: ReceiverStats = server["stats"]
        assert stats.udp_dropped > 0
        assert stats.messages == stats.messages_stored == len(store.lines)
        assert stats.messages + stats.udp_dropped <= 300
        assert store.lines == sorted(store.lines)  # in the order sent

    def test_kernel_drops_are_read_and_every_datagram_is_accounted_for(self, caplog) -> None:
        """A receive buffer far too small for the burst: the kernel drops datagrams, and the receiver
        reads exactly how many (sent = accepted + dropped by us + dropped by the kernel)."""
        caplog.set_level(logging.WARNING, logger="evidence.syslog_server")
        store, sent = Store(), 20_000
        with (
            running_server(store, udp_receive_buffer=4096) as server,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c,
        ):
            for n in range(sent):
                c.sendto(b"<13>burst %05d" % n, server["udp"])
        stats: ReceiverStats = server["stats"]
        assert stats.udp_receive_buffer < 64 * 1024
        assert stats.udp_kernel_dropped > 0
        assert stats.messages + stats.udp_dropped + stats.udp_kernel_dropped == sent
        assert stats.lost == sent - len(store.lines)
        assert any("dropped by the kernel" in r.getMessage() for r in caplog.records)

    def test_a_burst_fits_the_default_receive_buffer(self) -> None:
        store, sent = Store(), 10_000
        with running_server(store) as server, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for n in range(sent):
                client.sendto(b"<13>burst %05d %s" % (n, b"x" * 100), server["udp"])
        stats: ReceiverStats = server["stats"]
        assert (stats.udp_kernel_dropped, stats.udp_dropped) == (0, 0)
        assert len(store.lines) == stats.messages_stored == sent

    def test_losses_are_reported_to_the_source_once_each(self) -> None:
        reported: list[int] = []
        store = Store()
        options: dict[str, Any] = {"udp_receive_buffer": 4096, "flush_seconds": 0.05, "on_loss": reported.append}
        with running_server(store, **options) as server, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for n in range(20_000):
                client.sendto(b"<13>burst %05d" % n, server["udp"])
        stats: ReceiverStats = server["stats"]
        assert sum(reported) == stats.lost > 0

    def test_connections_beyond_the_cap_are_closed_and_counted(self) -> None:
        store = Store()
        with running_server(store, limit=ConnectionLimit(max_connections=2)) as server:
            first, second = (socket.create_connection(server["tcp"]) for _ in range(2))
            first.sendall(b"<13>from the first\n")
            second.sendall(b"<13>from the second\n")
            third = socket.create_connection(server["tcp"])  # accepted after the first two
            third.settimeout(5)
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                third.sendall(b"<13>one too many\n")
                assert third.recv(1) == b""  # closed by the receiver
            third.close()
            first.close()  # a slot is free again (once the receiver has seen the close)
            time.sleep(0.2)
            fourth = socket.create_connection(server["tcp"])
            fourth.sendall(b"<13>after a slot freed\n")
            fourth.close()
            second.close()
            time.sleep(0.2)
        stats: ReceiverStats = server["stats"]
        assert stats.tcp_refused == 1
        assert sorted(store.lines) == [b"<13>after a slot freed", b"<13>from the first", b"<13>from the second"]

    def test_an_idle_connection_makes_room_for_a_new_one(self) -> None:
        store = Store()
        with running_server(store, limit=ConnectionLimit(max_connections=1, evict_idle_seconds=0.2)) as server:
            idle = socket.create_connection(server["tcp"])
            idle.sendall(b"<13>said once, then silent\n<13>unterminated")
            time.sleep(0.4)
            fresh = socket.create_connection(server["tcp"])
            fresh.sendall(b"<13>the new sender\n")
            idle.settimeout(5)
            assert idle.recv(1) == b""  # closed by the receiver to make room
            fresh.close()
            idle.close()
            time.sleep(0.2)
        stats: ReceiverStats = server["stats"]
        assert (stats.tcp_evicted, stats.tcp_refused) == (1, 0)
        assert sorted(store.lines) == [b"<13>said once, then silent", b"<13>the new sender", b"<13>unterminated"]

    def test_stop_takes_an_unterminated_message_of_an_open_connection(self) -> None:
        store = Store()
        with running_server(store, flush_seconds=3600) as server:
            client = socket.create_connection(server["tcp"])
            client.sendall(b"<13>first\n12 short message\n<13>last, no trailer")
            octets = socket.create_connection(server["tcp"])
            octets.sendall(octet(b"<13>counted") + octet(b"<13>counted again"))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.sendto(b"<13>by udp", server["udp"])
            # stopped right away, with both connections still open
        client.close()
        octets.close()
        assert sorted(store.lines) == sorted(
            [
                b"<13>first",
                b"12 short message",
                b"<13>last, no trailer",
                b"<13>counted",
                b"<13>counted again",
                b"<13>by udp",
            ]
        )
        assert len(store.batches) == 1  # everything in the flush at stop
        assert server["stats"].malformed_frames == 0


# --- the real process ----------------------------------------------------------------------------


class ReceiverProcess:
    """``python manage.py syslog_receiver`` on the test database, listening on free ports."""

    def __init__(self, log: Path, *options: str) -> None:
        from django.db import connection

        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "ismsapp.settings.base",
            "ISMS_EVIDENCE_SIGNING_KEY": str(settings.EVIDENCE_SIGNING_KEY),
            "ISMS_EVIDENCE_CHECKPOINT_JOURNAL": str(settings.EVIDENCE_CHECKPOINT_JOURNAL),
            "ISMS_BLOB_ROOT": str(settings.BLOB_ROOT),
            "DATABASE_URL": (
                f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
                if connection.vendor == "postgresql"
                else f"sqlite:///{db['NAME']}"
            ),
        }
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "syslog_receiver", "--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0", *options],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log.open("wb"),
            text=True,
        )
        ready = select.select([self.process.stdout], [], [], 60)[0]
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            raise RuntimeError(f"the receiver did not start:\n{log.read_text()}")
        listening = json.loads(line)["listening"]
        self.tcp, self.udp = tuple(listening["tcp"]), tuple(listening["udp"])

    def stop(self) -> dict[str, Any]:
        """SIGTERM; the exit statistics (the last stdout line)."""
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, self.log.read_text()
        return json.loads(out.strip().splitlines()[-1])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def receiver_process(tmp_path: Path) -> Iterator[Callable[..., ReceiverProcess]]:
    started: list[ReceiverProcess] = []

    def start(*options: str) -> ReceiverProcess:
        started.append(ReceiverProcess(tmp_path / f"receiver-{len(started)}.log", *options))
        return started[-1]

    yield start
    for process in started:
        process.kill()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_sigterm_stores_everything_accepted_before_any_periodic_flush(isms_admin_tx, receiver_process) -> None:
    services.create_source(actor=None, name="syslog-sigterm", owner=isms_admin_tx)
    receiver = receiver_process("--source", "syslog-sigterm", "--inline", "--flush-seconds", "3600")
    counted = [sshd(f"octet{n}", n) for n in range(40)]
    framed = [sshd(f"lf{n}", n) for n in range(40)]
    datagrams = [sshd(f"udp{n}", n) for n in range(10)]
    with socket.create_connection(receiver.tcp) as connection:
        connection.sendall(b"".join(octet(m) for m in counted))
    open_connection = socket.create_connection(receiver.tcp)
    open_connection.sendall(b"\n".join(framed))  # the last one has no trailer, and the connection stays open
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for message in datagrams:
            udp.sendto(message, receiver.udp)
    assert not IngestionJob.objects.exists()  # nothing flushed yet
    try:
        stats = receiver.stop()
    finally:
        open_connection.close()
    total = len(counted) + len(framed) + len(datagrams)
    assert (stats["messages"], stats["messages_stored"], stats["lost_at_exit"]) == (total, total, 0)
    assert IngestionJob.objects.filter(receiver="syslog").count() == len(stats["jobs"]) == 1
    users = set(Event.objects.filter(source__name="syslog-sigterm").values_list("user", flat=True))
    assert users == {f"octet{n}" for n in range(40)} | {f"lf{n}" for n in range(40)} | {f"udp{n}" for n in range(10)}
    assert Event.objects.filter(source__name="syslog-sigterm", action="logon").count() == total


@pytest.mark.django_db(transaction=True)
def test_receiver_survives_malformed_frames_and_keeps_serving(isms_admin_tx, receiver_process) -> None:
    services.create_source(actor=None, name="syslog-bad", owner=isms_admin_tx)
    receiver = receiver_process("--source", "syslog-bad", "--inline", "--flush-seconds", "0.2")
    events = Event.objects.filter(source__name="syslog-bad")
    with socket.create_connection(receiver.tcp) as connection:
        connection.sendall(
            octet(sshd("before", 1))
            + b"999999999999 absurd count\n"
            + octet(b"<38>1 2026-03-01T10:00:00Z web1 sshd - - - " + b"L" * (2 * MAX_FRAME))
            + octet(sshd("between", 2))
            + b"30 <38>1 cut short"
        )
    with socket.create_connection(receiver.tcp) as connection:
        rng = random.Random(3)
        garbage = bytes(rng.randrange(256) for _ in range(5000))
        connection.sendall(b"\xff" + garbage + b"\n")  # not ``<`` nor a digit: LF framing
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"\xff\xfe\x00 not syslog", receiver.udp)
    wait_for(lambda: events.filter(user__in=["before", "between"]).count() == 2)
    with socket.create_connection(receiver.tcp) as connection:  # still serving
        connection.sendall(sshd("after", 3) + b"\n")
    wait_for(lambda: events.filter(user="after").exists())
    stats = receiver.stop()
    assert stats["malformed_by_reason"] == {"bad_octet_count": 1, "frame_too_long": 1, "truncated_frame": 1}
    assert set(events.values_list("user", flat=True)) == {"before", "between", "after"}
    rejected = RejectedRecord.objects.filter(chunk__job__source__name="syslog-bad")
    kept = {bytes(raw)[:20]: reason for reason, raw in rejected.values_list("reason", "raw")}
    assert kept[b"999999999999 absurd "] == "bad_timestamp"  # the bad count's line, kept
    assert kept[b"<38>1 2026-03-01T10:"] == "line_too_long"  # the oversized frame
    assert kept[b"<38>1 cut short"] == "bad_header"  # the frame cut by the closed connection
    assert kept[b"\xff\xfe\x00 not syslog"] == "binary_data"  # the UDP garbage
    summaries = [ingestion.job_summary(job) for job in IngestionJob.objects.filter(source__name="syslog-bad")]
    read = sum(s["lines_read"] for s in summaries)
    assert read == stats["messages"] == stats["messages_stored"]
    assert read == sum(s["events_stored"] + s["rejected"] + s["records_empty"] for s in summaries)  # none vanished


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("receive_buffer", "expect_loss"), [(None, False), ("4096", True)])
def test_udp_burst_from_logger_is_stored_or_its_loss_shown_on_the_source(
    isms_admin_tx, receiver_process, tmp_path, receive_buffer, expect_loss
) -> None:
    """10,000 messages sent at once by util-linux ``logger`` over UDP: with the default receive
    buffer all are stored; with a tiny one, what the kernel dropped is counted, and sent = stored +
    lost, on the receiver's statistics and on the source."""
    if shutil.which("logger") is None:
        pytest.skip("util-linux logger is not installed")
    name = f"syslog-burst-{expect_loss}"
    services.create_source(actor=None, name=name, owner=isms_admin_tx)
    options = ["--source", name, "--flush-seconds", "0.5", "--inline"]
    if receive_buffer:
        options += ["--udp-receive-buffer", receive_buffer]
    receiver = receiver_process(*options)
    sent = 10_000
    lines = tmp_path / "burst.txt"
    lines.write_text("".join(f"Failed password for burst{n} from 192.0.2.9 port 22 ssh2\n" for n in range(sent)))
    subprocess.run(
        [
            "logger",
            "--udp",
            "--rfc3164",
            "-n",
            receiver.udp[0],
            "-P",
            str(receiver.udp[1]),
            "-t",
            "sshd",
            "-f",
            str(lines),
        ],
        check=True,
        timeout=60,
    )
    stats = receiver.stop()
    stored = Event.objects.filter(source__name=name).count()
    lost = stats["udp_dropped"] + stats["udp_kernel_dropped"]
    assert stored == stats["messages_stored"] == stats["messages"]
    assert stored + lost == sent
    assert (lost > 0) is expect_loss
    source = EvidenceSource.objects.get(name=name)
    assert source.messages_lost == lost
    assert (source.last_loss_at is not None) is expect_loss
