"""Periodic and background tasks of the platform (thin: they call services)."""

from __future__ import annotations

from celery import shared_task

from ismsapp.audit import audit_context


@shared_task(name="ismsapp.tasks.verify_audit_trail")
def verify_audit_trail() -> dict[str, object]:
    """Re-verify the whole audit chain and keep the result (shown on the dashboard)."""
    from ismsapp import services

    with audit_context(label="task:verify_audit_trail"):
        result, record = services.verify_audit_trail()
    return {
        "intact": result.intact,
        "entries_checked": result.entries_checked,
        "first_bad_seq": result.first_bad_seq,
        "verification_id": record.pk,
    }
