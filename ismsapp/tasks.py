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


@shared_task(name="ismsapp.tasks.render_report", soft_time_limit=300, time_limit=330)
def render_report(report_id: str) -> str:
    """Render a queued report (PDF) and store it; idempotent on redelivery."""
    from ismsapp.reports import build_report

    with audit_context(label="task:render_report"):
        return build_report(report_id).status
