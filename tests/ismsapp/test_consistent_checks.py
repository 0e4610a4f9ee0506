"""The integrity checks read one consistent snapshot: run while writers commit continuously, they
say "intact" every time, and they still catch a real alteration made while the writers go on."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

from evidence import ingestion, services
from evidence.models import Event
from evidence.verification import verify_source
from ismsapp import services as platform
from ismsapp.audit import verify_chain
from ismsapp.models import AuditEntry
from tests.evidence.test_pipeline import auth_log
from tests.tampering import tamper

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgresql]
RUNS = 25
WRITES = 30


def verdicts_while(written: list[int], check: Callable[[], object]) -> list[object]:
    """``check()`` again and again until the writer has committed ``WRITES`` times meanwhile."""
    verdicts: list[object] = []
    while len(verdicts) < RUNS or (len(written) < WRITES and len(verdicts) < 2000):
        verdicts.append(check())
    assert len(written) >= WRITES, "the writer did not run alongside"
    return verdicts


@contextmanager
def writing_continuously(write: Callable[[int], None]) -> Iterator[list[int]]:
    """``write(n)`` in a loop in another thread (its own connection, each call committed)."""
    stop, done = threading.Event(), []

    def loop() -> None:
        try:
            while not stop.is_set():
                write(len(done))
                done.append(1)
        finally:
            connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield done
    finally:
        stop.set()
        thread.join(60)


def test_audit_trail_check_stays_right_while_entries_are_written(isms_admin_tx) -> None:
    def write(n: int) -> None:
        platform.save_organisation(actor=isms_admin_tx, name=f"Org {n}")

    with writing_continuously(write) as written:
        verdicts = verdicts_while(written, verify_chain)
        assert all(v.intact for v in verdicts), [v.detail for v in verdicts if not v.intact]
        victim = AuditEntry.objects.order_by("seq")[2]
        tamper(f"UPDATE {AuditEntry._meta.db_table} SET object_repr = %s WHERE id = %s", ["forged", victim.pk])
        broken = verify_chain()
    assert not broken.intact
    assert broken.first_bad_seq == victim.seq


def test_evidence_check_stays_right_while_chunks_are_committed(isms_admin_tx) -> None:
    source, _ = services.create_source(actor=isms_admin_tx, name="busy", owner=isms_admin_tx)

    def write(n: int) -> None:
        data = auth_log(5).replace(b"web1", f"host{n}".encode())
        job = ingestion.create_job(actor=None, source=source, fmt="syslog", stream=io.BytesIO(data), enqueue=False)
        for chunk_id in job.chunks.values_list("pk", flat=True):
            ingestion.process_chunk(chunk_id)

    write(-1)
    with writing_continuously(write) as written:
        verdicts = verdicts_while(written, lambda: verify_source(source))
        assert all(v.intact for v in verdicts), [v.detail for v in verdicts if not v.intact]
        victim = Event.objects.filter(source=source).order_by("id").first()
        tamper(f"UPDATE {Event._meta.db_table} SET message = %s WHERE id = %s", ["forged", victim.pk])
        broken = verify_source(source)
    assert not broken.intact
    assert f"event id {victim.pk}" in broken.first_bad
