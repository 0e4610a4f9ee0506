"""Dashboard panel: the risk register at a glance, and the decisions waiting for this user."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from ismsapp.dashboard import Panel, register
from risks.models import Risk, RiskAcceptance
from risks.services import RISK_READERS, can_give_second_approval, visible_acceptances, visible_risks


def _risks(user: Any) -> dict[str, Any]:
    visible = visible_risks(user)
    today = timezone.localdate()
    figures = visible.aggregate(
        total=Count("pk", filter=~Q(status=Risk.Status.CLOSED)),
        acceptance_required=Count("pk", filter=Q(status__in=[Risk.Status.TREATED, Risk.Status.ACCEPTANCE_REQUIRED])),
        accepted=Count("pk", filter=Q(status=Risk.Status.ACCEPTED)),
        overdue_review=Count("pk", filter=Q(next_review__lt=today) & ~Q(status=Risk.Status.CLOSED)),
        mine_to_decide=Count(
            "pk", filter=Q(owner=user, status__in=[Risk.Status.TREATED, Risk.Status.ACCEPTANCE_REQUIRED])
        ),
    )
    by_level = dict(visible.exclude(status=Risk.Status.CLOSED).values_list("residual_level").annotate(n=Count("pk")))
    acceptances = visible_acceptances(user)
    expiring = acceptances.filter(
        status=RiskAcceptance.Status.ACTIVE, expires_on__lte=today + timedelta(days=30)
    ).count()
    pending = (
        acceptances.filter(status=RiskAcceptance.Status.PENDING_APPROVAL).exclude(accepted_by=user).count()
        if can_give_second_approval(user)
        else 0
    )
    return {
        **figures,
        "by_level": sorted(by_level.items(), key=lambda item: item[0] or ""),
        "expiring": expiring,
        "pending_approval": pending,
    }


def register_panels() -> None:
    register(Panel("risks", "Risks", "dashboard/panel_risks.html", _risks, RISK_READERS, order=20))
