"""Real Celery workers on Redis: a chunk delivered twice, and a worker killed mid-job."""

from __future__ import annotations

import io
import time

import pytest

from evidence import ingestion, services
from evidence.models import ChainLink, Event, IngestionChunk
from evidence.tasks import process_chunk_task, requeue_stalled_chunks
from evidence.verification import verify_source
from tests.evidence.test_pipeline import auth_log

pytestmark = [pytest.mark.redis, pytest.mark.postgresql]


def wait_until(predicate, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def queued_job(owner, name: str, lines: int, monkeypatch, chunk_bytes: int):
    monkeypatch.setattr(ingestion, "CHUNK_BYTES", chunk_bytes)
    source, _ = services.create_source(actor=None, name=name, owner=owner)
    job = ingestion.create_job(
        actor=None, source=source, fmt="syslog", stream=io.BytesIO(auth_log(lines)), enqueue=False
    )
    return source, job


def test_a_chunk_delivered_twice_is_stored_once(celery_worker_process, isms_admin_tx, monkeypatch) -> None:
    source, job = queued_job(isms_admin_tx, "twice", 3000, monkeypatch, chunk_bytes=10**9)
    chunk = job.chunks.get()
    worker = celery_worker_process()
    worker.send(process_chunk_task, chunk.pk)
    worker.send(process_chunk_task, chunk.pk)
    assert wait_until(lambda: IngestionChunk.objects.get(pk=chunk.pk).status == "done"), worker.stop()
    time.sleep(1)  # let the second delivery run too
    log = worker.stop()
    assert Event.objects.filter(source=source).count() == 3000, log
    assert ChainLink.objects.filter(source=source).count() == 1
    assert verify_source(source).intact


def test_a_job_whose_worker_is_killed_ends_as_if_uninterrupted(
    celery_worker_process, isms_admin_tx, monkeypatch
) -> None:
    lines = 20_000
    source, job = queued_job(isms_admin_tx, "killed", lines, monkeypatch, chunk_bytes=100_000)
    chunk_ids = list(job.chunks.order_by("index").values_list("pk", flat=True))
    assert len(chunk_ids) >= 10
    first = celery_worker_process()
    for chunk_id in chunk_ids:
        first.send(process_chunk_task, chunk_id)
    assert wait_until(lambda: IngestionChunk.objects.filter(job=job, status="done").count() >= 2), first.stop()
    first.kill()  # mid-job, probably mid-chunk
    done_before = IngestionChunk.objects.filter(job=job, status="done").count()
    assert done_before < len(chunk_ids)
    second = celery_worker_process(first.queue)
    # The broker would hand the unacknowledged task back after its visibility timeout; the periodic
    # requeue task does it sooner (here: at once). Either way the chunk is processed again safely.
    second.send(requeue_stalled_chunks, 0)
    assert wait_until(
        lambda: not IngestionChunk.objects.filter(job=job).exclude(status="done").exists(), timeout=180
    ), second.stop()
    second.stop()
    job.refresh_from_db()
    summary = ingestion.job_summary(job)
    assert (summary["status"], summary["lines_read"], summary["events_stored"], summary["duplicates"]) == (
        "done",
        lines,
        lines,
        0,
    )
    assert Event.objects.filter(source=source).count() == lines
    assert ChainLink.objects.filter(source=source).count() == len(chunk_ids)
    assert verify_source(source).intact
