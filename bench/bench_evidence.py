"""Evidence ingestion on 1,000,000 generated auth.log lines.

Figures: parse-only lines/s on one core; end to end (file -> events in PostgreSQL, with hash
chain and signed checkpoint) with real Celery workers, one per core; a plain psycopg binary COPY of
the same normalised rows into a copy of the events table, measured in the same run; their ratio;
peak memory of ingesting 100k and 1M lines in one process; the syslog receiver over TCP on
loopback with ``loggen`` (syslog-ng) as the load generator, checked for zero loss.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import ROOT, emit

LINES = int(os.environ.get("BENCH_EVIDENCE_LINES", "1000000"))


def generate(path: Path, lines: int) -> None:
    """Realistic auth.log traffic (logins, failures, sudo, sessions, cron), ending about now."""
    from evidence.synthetic import auth_log_lines

    step = timedelta(seconds=0.05)
    with path.open("w") as out:
        out.writelines(auth_log_lines(lines, start=datetime.now(UTC) - step * lines, step=step))


def parse_only(path: Path) -> float:
    from evidence.parsers.base import ParseContext, ParseError
    from evidence.parsers.rfc3164 import PARSER

    context = ParseContext()
    started = time.process_time()
    lines = 0
    with path.open("rb") as handle:
        for record in PARSER.records(handle):
            lines += 1
            with contextlib.suppress(ParseError):
                PARSER.parse(record, context)
    return lines / (time.process_time() - started)


def _database_url() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _env(queue: str) -> dict[str, str]:
    from django.conf import settings

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ismsapp.settings.base",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.TEST_REDIS_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "ISMS_BLOB_ROOT": str(settings.BLOB_ROOT),
        "ISMS_EVIDENCE_SIGNING_KEY": str(settings.EVIDENCE_SIGNING_KEY),
        "ISMS_EVIDENCE_CHECKPOINT_JOURNAL": str(settings.EVIDENCE_CHECKPOINT_JOURNAL),
        "LOG_LEVEL": "WARNING",
    }


def end_to_end(path: Path, owner) -> tuple[float, int, int]:
    """Seconds from ``create_job`` to the last chunk committed, with one Celery worker per core."""
    from django.db import close_old_connections

    from evidence import ingestion, services
    from evidence.models import IngestionChunk

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "ismsapp",
            "worker",
            f"--concurrency={os.environ.get('BENCH_WORKERS') or os.cpu_count() or 2}",
            "--loglevel=WARNING",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=_env(queue),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(6)  # worker start-up is not part of the figure
        source, _ = services.create_source(actor=None, name=f"bench-{queue}", owner=owner)
        from ismsapp.celery import app

        started = time.perf_counter()
        with path.open("rb") as stream:
            job = ingestion.create_job(actor=None, source=source, fmt="rfc3164", stream=stream, enqueue=False)
        with app.connection_for_write() as connection:
            from evidence.tasks import process_chunk_task

            for chunk_id in job.chunks.values_list("pk", flat=True):
                process_chunk_task.apply_async((chunk_id,), queue=queue, connection=connection)
        while IngestionChunk.objects.filter(job=job).exclude(status="done").exists():
            time.sleep(0.2)
            close_old_connections()
        elapsed = time.perf_counter() - started
        summary = ingestion.job_summary(job)
        return elapsed, summary["events_stored"], job.chunks_total
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)


def plain_copy(path: Path, owner, indexes: bool = True) -> tuple[float, int]:
    """The same normalised rows (parsed first, not timed) COPYed into a plain table with the events
    table's columns and indexes, one committed COPY per chunk as the pipeline commits, without
    de-duplication, hashing or parsing: the fastest PostgreSQL takes them on this machine. Without
    ``indexes`` the table has the columns only: what the indexes the events table needs cost."""
    from django.db import connection, transaction
    from psycopg.types.json import set_json_dumps

    from evidence import ingestion, services, writer
    from evidence.models import Event
    from evidence.parsers.base import ParseContext
    from evidence.parsers.rfc3164 import PARSER

    source, _ = services.create_source(actor=None, name=f"copy-{uuid.uuid4().hex[:6]}", owner=owner)
    job = ingestion.create_job(actor=None, source=source, fmt="rfc3164", stream=io.BytesIO(b"\n"), enqueue=False)
    chunk = job.chunks.get()
    copy_sql = f"COPY bench_copy ({writer._quoted(writer.COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    elapsed, copied = 0.0, 0
    with connection.cursor() as cursor:
        including = "ALL" if indexes else "DEFAULTS INCLUDING IDENTITY"
        cursor.execute(f"CREATE TABLE bench_copy (LIKE {Event._meta.db_table} INCLUDING {including})")
    try:
        with path.open("rb") as handle:
            while lines := handle.readlines(ingestion.CHUNK_BYTES):
                builder = ingestion.ChunkBuilder(chunk, source, job.created_at)
                ingestion.parse_records(PARSER, io.BytesIO(b"".join(lines)), 0, builder, ParseContext())
                rows = [list(row) for row in builder.result.rows]  # the extra fields as JSON text
                for position, row in enumerate(rows):
                    row[writer.COLUMNS.index("position")] = copied + position
                began = time.perf_counter()
                with transaction.atomic(), connection.cursor() as cursor:
                    set_json_dumps(str, context=cursor.cursor)
                    with cursor.cursor.copy(copy_sql) as copy:
                        copy.set_types(writer.COPY_TYPES)
                        for row in rows:
                            copy.write_row(row)
                elapsed += time.perf_counter() - began
                copied += len(rows)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_copy")
    return elapsed, copied


MEMORY_SNIPPET = """
import io, resource, sys
import django
django.setup()
from evidence import ingestion, services
from ismsapp.models import User
owner = User.objects.get(username="bench-evidence")
source, _ = services.create_source(actor=None, name=sys.argv[2], owner=owner)
with open(sys.argv[1], "rb") as stream:
    job = ingestion.create_job(actor=None, source=source, fmt="rfc3164", stream=stream, enqueue=False)
for chunk_id in job.chunks.values_list("pk", flat=True):
    ingestion.process_chunk(chunk_id)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_mb(path: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SNIPPET, str(path), f"mem-{uuid.uuid4().hex[:6]}"],
        cwd=ROOT,
        env=_env("unused"),
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.split()[-1]) / 1024


@contextlib.contextmanager
def _receiver(name: str, *listen: str) -> Iterator[dict[str, Any]]:
    """``manage.py syslog_receiver`` for source ``name``; yields its free port, then (after SIGTERM)
    its exit statistics under ``"stats"``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = [*(f"{option}127.0.0.1:{port}" for option in listen), "--source", name, "--owner", "bench-evidence"]
    receiver = subprocess.Popen(
        [sys.executable, "manage.py", "syslog_receiver", *options, "--flush-seconds", "1"],
        cwd=ROOT,
        env=_env(f"receiver-{name}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    state: dict[str, Any] = {"port": port}
    try:
        json.loads(receiver.stdout.readline())  # listening
        yield state
    finally:
        receiver.send_signal(signal.SIGTERM)
        out, _ = receiver.communicate(timeout=120)
        state["stats"] = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}


def _stored_lines(name: str) -> int:
    from evidence.models import EvidenceSource, IngestionJob
    from ismsapp.blobs import blob_path

    source = EvidenceSource.objects.get(name=name)
    return sum(
        blob_path(sha).read_bytes().count(b"\n")
        for sha in IngestionJob.objects.filter(source=source).values_list("blob_sha256", flat=True)
    )


def syslog_receiver(messages: int = 400_000) -> tuple[float, int, int]:
    """loggen sends ``messages`` over one TCP connection (LF framing) as fast as the receiver takes
    them; returns messages stored per second (from loggen's start to the receiver's exit after
    SIGTERM, so the last batch counts), how many loggen says it sent (its own ``count=`` summary on
    stderr) and how many lines the receiver's ingestion jobs hold: sent - stored is the loss."""
    name = f"loggen-{uuid.uuid4().hex[:6]}"
    with _receiver(name, "--tcp=") as receiver:
        started = time.perf_counter()
        load = ["--inet", "--stream", "--rate", "1000000", "--size", "200", "--number", str(messages), "--quiet"]
        loggen = subprocess.run(
            ["loggen", *load, "127.0.0.1", str(receiver["port"])],
            check=True,
            timeout=300,
            capture_output=True,
            text=True,
        )
    elapsed = time.perf_counter() - started
    counts = [field for field in loggen.stderr.replace(",", " ").split() if field.startswith("count=")]
    if not counts:  # --quiet still prints the summary line: "average rate = ..., count=N, ..."
        raise RuntimeError(f"loggen did not report how many messages it sent: {loggen.stderr!r}")
    sent = int(counts[-1].removeprefix("count="))
    stored_lines = _stored_lines(name)
    return stored_lines / elapsed, sent, stored_lines


def syslog_udp_burst(messages: int = 10_000) -> tuple[int, int, int]:
    """util-linux ``logger`` sends ``messages`` UDP datagrams at once; returns (sent, stored, lost as
    the receiver reports it: its own drops plus the kernel's)."""
    name = f"udp-burst-{uuid.uuid4().hex[:6]}"
    with tempfile.NamedTemporaryFile("w", suffix=".log") as lines, _receiver(name, "--udp=") as receiver:
        lines.write("".join(f"Failed password for burst{n} from 192.0.2.9 port 22 ssh2\n" for n in range(messages)))
        lines.flush()
        udp = ["--udp", "--rfc3164", "-n", "127.0.0.1", "-P", str(receiver["port"]), "-t", "sshd", "-f", lines.name]
        subprocess.run(["logger", *udp], check=True, timeout=120)
    stats = receiver["stats"]
    return messages, _stored_lines(name), stats.get("udp_dropped", 0) + stats.get("udp_kernel_dropped", 0)


def run() -> None:
    from django.conf import settings
    from django.db import connection

    from ismsapp import services as platform

    if connection.vendor != "postgresql" or not settings.TEST_SERVICES.get("redis"):
        print("# evidence benchmarks need PostgreSQL and Redis: skipped", flush=True)
        return
    from evidence import integrity

    integrity.create_key(integrity.key_path())
    owner = platform.create_user(actor=None, username="bench-evidence", password="Bench-passphrase-123")
    workdir = Path(tempfile.mkdtemp(prefix="isms-bench-"))
    try:
        big, small = workdir / "auth-1m.log", workdir / "auth-100k.log"
        generate(big, LINES)
        generate(small, LINES // 10)
        emit("evidence_input_lines", LINES, "lines")
        emit("evidence_parse_only_one_core", parse_only(big), "lines/s")
        copy_seconds, copied = plain_copy(big, owner)
        emit("evidence_plain_copy", copied / copy_seconds, "rows/s")
        bare_seconds, bare = plain_copy(big, owner, indexes=False)
        emit("evidence_plain_copy_without_indexes", bare / bare_seconds, "rows/s")
        e2e_seconds, stored, chunks = end_to_end(big, owner)
        emit("evidence_end_to_end", stored / e2e_seconds, "events/s")
        emit("evidence_end_to_end_chunks", chunks, "chunks")
        emit("ingest_vs_copy_ratio", (stored / e2e_seconds) / (copied / copy_seconds), "x")
        connection.close()
        emit("evidence_peak_rss_100k_lines", peak_rss_mb(small), "MB")
        emit("evidence_peak_rss_1m_lines", peak_rss_mb(big), "MB")
        if shutil.which("loggen"):
            rate, received, stored_lines = syslog_receiver()
            emit("syslog_receiver_tcp", rate, "messages/s")
            emit("syslog_receiver_messages_sent", received, "messages")
            emit("syslog_receiver_lost", received - stored_lines, "messages")
        else:
            print("# loggen (syslog-ng-core) is not installed: syslog receiver benchmark skipped", flush=True)
        if shutil.which("logger"):
            sent, stored_lines, reported = syslog_udp_burst()
            emit("syslog_udp_burst_sent", sent, "messages")
            emit("syslog_udp_burst_lost", sent - stored_lines, "messages")
            emit("syslog_udp_burst_loss_reported", reported, "messages")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
