"""Periodic risk tasks (thin: they call the acceptance services)."""

from __future__ import annotations

from celery import shared_task

from ismsapp.audit import audit_context


@shared_task(name="risks.tasks.expire_acceptances")
def expire_acceptances() -> dict[str, int]:
    """Expire acceptances past their date (their risks need a new decision) and remind owners
    of acceptances entering the reminder window. Idempotent: safe to run any number of times."""
    from risks import services

    with audit_context(label="task:expire_acceptances"):
        return {"expired": services.expire_acceptances(), "reminded": services.send_expiry_reminders()}
