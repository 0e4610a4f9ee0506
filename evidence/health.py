"""Machine evidence per control on the SoA: events in the period, last seen, and health."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.db.models import Max, Q, Sum
from django.utils import timezone

from controls.soa import SoARow
from evidence import rules
from evidence.models import ControlEventCount
from evidence.models.sources import delivered_within_cadence

PERIOD_DAYS = 30


def add_machine_evidence(rows: list[SoARow]) -> None:
    """Set ``row.evidence`` = {events, last_seen, health, rules} for controls that rules map to.

    Health: *fresh* if at least one source delivered a matching event within that source's own
    cadence, *stale* if every source that supplied one is overdue, *missing* if no source ever
    supplied one. One query for all rows.
    """
    if not rows:
        return
    edition = rows[0].edition
    since = timezone.localdate() - timedelta(days=PERIOD_DAYS)
    per_control: dict[str, list[dict[str, Any]]] = defaultdict(list)  # control -> one entry per source
    counts = ControlEventCount.objects.filter(edition=edition)
    for item in counts.values("control", "source_id", "source__cadence_minutes").annotate(
        recent=Sum("events", filter=Q(day__gte=since)), last=Max("last_seen")
    ):
        per_control[item["control"]].append(item)
    now = timezone.now()
    for row in rows:
        mapped = [rule.key for rule in rules.rules_for_control(edition, row.ref)]
        if not mapped:
            continue
        found = per_control.get(row.ref, [])
        last_seen = max((f["last"] for f in found if f["last"]), default=None)
        if last_seen is None:
            health = "missing"
        elif any(delivered_within_cadence(f["last"], f["source__cadence_minutes"], now) for f in found):
            health = "fresh"
        else:
            health = "stale"
        row.evidence = {
            "events": sum(f["recent"] or 0 for f in found),
            "last_seen": last_seen,
            "health": health,
            "rules": mapped,
        }
