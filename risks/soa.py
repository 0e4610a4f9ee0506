"""What the risk register adds to the SoA: the risks each control treats (one query for all rows)."""

from __future__ import annotations

from collections import defaultdict

from controls.soa import SoARow
from risks.models import Risk


def add_treated_risks(rows: list[SoARow]) -> None:
    """Fill ``row.risks`` with the references of the open risks that select the row's control."""
    by_control: dict[int, list[str]] = defaultdict(list)
    links = (
        Risk.controls.through.objects.filter(control_id__in=[row.control_id for row in rows if row.control_id])
        .exclude(risk__status=Risk.Status.CLOSED)
        .order_by("risk__reference")
        .values_list("control_id", "risk__reference")
    )
    for control_id, reference in links:
        by_control[control_id].append(reference)
    for row in rows:
        row.risks = by_control.get(row.control_id, [])
