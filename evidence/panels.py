"""Dashboard panel: machine evidence at a glance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone

from evidence.models import ChainLink, EvidenceSource, IngestionJob, RejectedRecord
from ismsapp.dashboard import Panel, register


def _evidence(user: Any) -> dict[str, Any]:
    now = timezone.now()
    sources = list(EvidenceSource.objects.for_user(user, "view").only("name", "cadence_minutes", "last_event_at"))
    stale = [s.name for s in sources if not s.is_fresh(now)]
    jobs = IngestionJob.objects.filter(created_at__gte=now - timedelta(days=1)).aggregate(
        jobs=Count("pk"), failed=Count("pk", filter=Q(status=IngestionJob.Status.FAILED))
    )
    return {
        "sources": len(sources),
        "stale": stale,
        "events": ChainLink.objects.aggregate(n=Sum("count"))["n"] or 0,
        "jobs": jobs["jobs"],
        "failed": jobs["failed"],
        "rejected_today": RejectedRecord.objects.filter(chunk__job__created_at__gte=now - timedelta(days=1)).count(),
    }


def register_panels() -> None:
    register(
        Panel(
            "evidence",
            "Machine evidence",
            "dashboard/panel_evidence.html",
            _evidence,
            "evidence.view_evidencesource",
            order=30,
        )
    )
