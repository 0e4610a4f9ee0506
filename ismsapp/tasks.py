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
    from ismsapp.services.reports import build_report

    with audit_context(label="task:render_report"):
        return build_report(report_id).status


@shared_task(name="ismsapp.tasks.nightly_backup", soft_time_limit=6 * 3600, time_limit=6 * 3600 + 60)
def nightly_backup() -> dict[str, object]:
    """A backup into ISMS_BACKUP_DIR keeping the newest ISMS_BACKUP_KEEP; nothing when it is unset."""
    from pathlib import Path

    from django.conf import settings

    from ismsapp import backup

    if not settings.ISMS_BACKUP_DIR:
        return {"skipped": "ISMS_BACKUP_DIR is not set"}
    summary, removed = backup.run_scheduled_backup(
        Path(settings.ISMS_BACKUP_DIR),
        keep=settings.ISMS_BACKUP_KEEP,
        include_secrets=settings.ISMS_BACKUP_INCLUDE_SECRETS,
    )
    return {"backup": str(summary.path), "removed": [str(path) for path in removed]}
