"""Reminders to the owners of corrective actions, before and after the due date: each threshold
reminds once (``ActionReminder``), and an action that is late already gets only the latest
threshold it has reached, never a burst of the earlier ones."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from audits.models import ActionReminder, CorrectiveAction

THRESHOLDS = (-7, 0, 7, 30)  # days from the due date: a week before, on the day, a week and a month late


def reached_threshold(due_date: date, today: date) -> int | None:
    """The latest threshold reached on ``today`` (``None`` if it is earlier than the first)."""
    days = (today - due_date).days
    reached = [threshold for threshold in THRESHOLDS if days >= threshold]
    return reached[-1] if reached else None


def _message(action: CorrectiveAction, threshold: int) -> tuple[str, str]:
    nc = action.nonconformity
    due = action.due_date.isoformat()
    if threshold < 0:
        when = f"is due in {-threshold} days ({due})"
    elif threshold == 0:
        when = f"is due today ({due})"
    else:
        when = f"is {threshold} days overdue (it was due on {due})"
    url = f"{settings.ISMS_BASE_URL}{reverse('audits:my_actions')}"
    subject = f"[ISMS] Corrective action for {nc.reference} {when.split(' (')[0]}"
    body = (
        f"Your corrective action for the nonconformity {nc.reference} {when}:\n\n{action.description}\n\n"
        f"Record your progress or mark it done on your actions page:\n{url}\n"
    )
    return subject, body


def send_action_reminders(today: date | None = None) -> int:
    """Remind each owner of an open action once per threshold reached; returns how many were sent."""
    today = today or timezone.localdate()
    horizon = today - timedelta(days=THRESHOLDS[0])  # due within the first threshold, or earlier
    sent = 0
    candidates = (
        CorrectiveAction.objects.filter(status__in=CorrectiveAction.OPEN_STATUSES, due_date__lte=horizon)
        .exclude(owner__email="")
        .select_related("owner", "nonconformity")
        .order_by("due_date", "pk")
    )
    already = set(
        ActionReminder.objects.filter(action__in=candidates).values_list("action_id", "due_date", "threshold")
    )
    for action in candidates:
        threshold = reached_threshold(action.due_date, today)
        if threshold is None or (action.pk, action.due_date, threshold) in already:
            continue
        subject, body = _message(action, threshold)
        try:
            with transaction.atomic():
                ActionReminder.objects.create(
                    action=action,
                    due_date=action.due_date,
                    threshold=threshold,
                    sent_to=action.owner.email,
                    sent_on=today,
                )
                recipient = action.owner.email
                transaction.on_commit(
                    lambda s=subject, b=body, r=recipient: send_mail(s, b, settings.DEFAULT_FROM_EMAIL, [r])
                )
        except IntegrityError:
            continue  # another run sent this one at the same moment
        sent += 1
    return sent
