"""Periodic tasks of the audits app (thin: they call the services)."""

from __future__ import annotations

from celery import shared_task

from ismsapp.audit import audit_context


@shared_task(name="audits.tasks.remind_corrective_actions")
def remind_corrective_actions() -> dict[str, int]:
    """Remind owners of open corrective actions before and after the due date, once per threshold.
    Idempotent: safe to run any number of times a day."""
    from audits.services.reminders import send_action_reminders

    with audit_context(label="task:remind_corrective_actions"):
        return {"reminded": send_action_reminders()}
