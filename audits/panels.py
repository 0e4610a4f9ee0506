"""Dashboard panel: next audits, open nonconformities by severity, overdue corrective actions
(four queries whatever the amount of data)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from audits.models import Audit, CorrectiveAction, Nonconformity
from ismsapp.dashboard import Panel, register

PANEL_READERS = ("audits.view_audit", "audits.view_nonconformity", "risks.own_risk")


def _audits(user: Any) -> dict[str, Any]:
    today = timezone.localdate()
    upcoming = list(
        Audit.objects.for_user(user)
        .filter(status__in=[Audit.Status.PLANNED, Audit.Status.IN_PROGRESS])
        .order_by("planned_start", "pk")
        .values("pk", "title", "planned_start", "status")[:5]
    )
    visible = Nonconformity.objects.for_user(user).values("pk")
    by_severity = dict(
        Nonconformity.objects.filter(pk__in=visible)
        .exclude(status=Nonconformity.Status.CLOSED)
        .values_list("severity")
        .annotate(n=Count("pk"))
    )
    open_action = Q(status__in=CorrectiveAction.OPEN_STATUSES)
    overdue = CorrectiveAction.objects.for_user(user).filter(open_action, due_date__lt=today).count()
    mine = CorrectiveAction.objects.owned_by(user).aggregate(
        open=Count("pk", filter=open_action), overdue=Count("pk", filter=open_action & Q(due_date__lt=today))
    )
    return {
        "upcoming": [{**audit, "status_label": Audit.Status(audit["status"]).label} for audit in upcoming],
        "major": by_severity.get(Nonconformity.Severity.MAJOR, 0),
        "minor": by_severity.get(Nonconformity.Severity.MINOR, 0),
        "overdue": overdue,
        "mine_open": mine["open"],
        "mine_overdue": mine["overdue"],
    }


def register_panels() -> None:
    register(Panel("audits", "Audits", "dashboard/panel_audits.html", _audits, PANEL_READERS, order=30))
