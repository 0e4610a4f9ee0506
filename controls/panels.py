"""Dashboard panel: SoA progress per edition and theme/domain."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, Q

from controls.models import ImplementationStatus, SoAEntry
from ismsapp.dashboard import Panel, register


def _soa_progress(user: Any) -> dict[str, Any]:
    rows = (
        SoAEntry.objects.for_user(user, "view")
        .values("control__edition", "control__section__ref", "control__section__title")
        .annotate(
            n_total=Count("pk"),
            n_applicable=Count("pk", filter=Q(applicable=True)),
            n_implemented=Count(
                "pk", filter=Q(applicable=True, implementation_status=ImplementationStatus.IMPLEMENTED)
            ),
            n_without_owner=Count("pk", filter=Q(applicable=True, owner__isnull=True)),
            n_review_needed=Count("pk", filter=Q(review_needed=True)),
        )
        .order_by("control__edition", "control__section__position")
    )
    editions: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"sections": [], "applicable": 0, "implemented": 0, "without_owner": 0, "review_needed": 0, "total": 0}
    )
    for row in rows:
        edition = editions[row["control__edition"]]
        edition["sections"].append(
            {
                "ref": row["control__section__ref"],
                "title": row["control__section__title"],
                "applicable": row["n_applicable"],
                "implemented": row["n_implemented"],
            }
        )
        for key in ("applicable", "implemented", "without_owner", "review_needed", "total"):
            edition[key] += row[f"n_{key}"]
    return {"editions": sorted(editions.items(), reverse=True)}


def register_panels() -> None:
    register(
        Panel(
            "soa",
            "Statement of Applicability",
            "dashboard/panel_soa.html",
            _soa_progress,
            "controls.view_soaentry",
            order=10,
        )
    )
