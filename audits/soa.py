"""What the internal audits add to the SoA and to risks: the last audit result of each control and
its open nonconformities (a fixed number of queries for all rows)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import F

from audits.models import ChecklistItem, Nonconformity
from controls.soa import SoARow


def last_results(control_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Per control, the result recorded by the most recent audit that recorded one (one query)."""
    latest: dict[int, dict[str, Any]] = {}
    items = (
        ChecklistItem.objects.filter(control_id__in=list(control_ids))
        .exclude(result="")
        .order_by("control_id", F("audit__actual_start").desc(nulls_last=True), "-updated_at", "-pk")
        .values_list("control_id", "result", "audit_id", "audit__title", "audit__actual_start")
    )
    for control_id, result, audit_id, title, started in items:
        if control_id not in latest:
            latest[control_id] = {
                "result": result,
                "label": ChecklistItem.Result(result).label,
                "audit_id": audit_id,
                "audit_title": title,
                "on": started,
                "is_nonconformity": result in (ChecklistItem.Result.MAJOR_NC, ChecklistItem.Result.MINOR_NC),
            }
    return latest


def open_nonconformities(control_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Per control, its nonconformities that are not closed, oldest first (one query)."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (
        Nonconformity.objects.filter(control_id__in=list(control_ids))
        .exclude(status=Nonconformity.Status.CLOSED)
        .order_by("control_id", "pk")
        .values_list("control_id", "pk", "severity", "status")
    )
    for control_id, pk, severity, status in rows:
        found[control_id].append(
            {
                "pk": pk,
                "reference": f"NC-{pk:04d}",
                "severity": severity,
                "status": Nonconformity.Status(status).label,
            }
        )
    return found


def add_audit_findings(rows: list[SoARow]) -> None:
    """Set ``row.audit`` = {last, open} for the controls that were audited or have open
    nonconformities (two queries for all rows, whatever their number)."""
    control_ids = [row.control_id for row in rows if row.control_id]
    if not control_ids:
        return
    last, open_ = last_results(control_ids), open_nonconformities(control_ids)
    for row in rows:
        if row.control_id in last or row.control_id in open_:
            row.audit = {"last": last.get(row.control_id), "open": open_.get(row.control_id, [])}


def risk_nonconformities(user: Any, risk: Any) -> dict[str, Any] | None:
    """The nonconformities ``user`` may see that were raised against the risk's treatment
    controls (open ones first); ``None`` when the risk has no treatment control."""
    control_ids = list(risk.controls.values_list("pk", flat=True))
    if not control_ids:
        return None
    nonconformities = list(
        Nonconformity.objects.for_user(user)
        .filter(control_id__in=control_ids)
        .select_related("control", "audit")
        .order_by(F("closed_on").asc(nulls_first=True), "-raised_on", "-pk")[:100]
    )
    return {"nonconformities": nonconformities}


def register_risk_section() -> None:
    from risks.sections import RiskSection, register

    register(RiskSection("audits", "audits/_risk_nonconformities.html", risk_nonconformities))
