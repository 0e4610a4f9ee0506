"""Evidence tasks (thin: they call the ingestion services)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from ismsapp.audit import audit_context


@shared_task(
    name="evidence.tasks.process_chunk",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=900,
    time_limit=960,
)
def process_chunk_task(chunk_id: int) -> dict[str, int]:
    """Parse and store one chunk; idempotent (a redelivered chunk that already committed is a no-op)."""
    from evidence.ingestion import mark_chunk_failed, process_chunk

    with audit_context(label="task:process_chunk"):
        try:
            chunk = process_chunk(chunk_id)
        except OperationalError:
            raise
        except Exception as exc:
            mark_chunk_failed(chunk_id, f"{type(exc).__name__}: {exc}")
            raise
    return {"chunk": chunk.pk, "events_stored": chunk.events_stored, "rejected": chunk.rejected}


@shared_task(name="evidence.tasks.sign_checkpoints")
def sign_checkpoints() -> int:
    """Sign every source's chain head that is not signed yet (belt and braces beside job ends)."""
    from django.db import transaction

    from evidence.ingestion import sign_checkpoint
    from evidence.models import EvidenceSource

    signed = 0
    for source_id in EvidenceSource.objects.values_list("pk", flat=True):
        with transaction.atomic():
            signed += sign_checkpoint(EvidenceSource.objects.select_for_update().get(pk=source_id)) is not None
    return signed


@shared_task(name="evidence.tasks.requeue_stalled_chunks")
def requeue_stalled_chunks(older_than_seconds: float = 600) -> int:
    """Re-queue chunks left pending (a worker killed mid-chunk): the job then ends as if uninterrupted."""
    from evidence.ingestion import requeue_stalled

    return requeue_stalled(older_than_seconds)
