"""Machine evidence per control on the SoA: events in the period, last seen, and health."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.db.models import Max, Q, Sum
from django.utils import timezone

from controls.soa import SoARow
from evidence import rules
from evidence.models import ControlEvidence

PERIOD_DAYS = 30


def add_machine_evidence(rows: list[SoARow]) -> None:
    """Set ``row.evidence`` = {events, last_seen, health, rules} for controls that rules map to.

    Health: *fresh* if the latest matching event is within the slowest cadence of the sources that
    supplied it, *stale* if older, *missing* if no source ever supplied one. One query for all rows.
    """
    if not rows:
        return
    edition = rows[0].edition
    since = timezone.localdate() - timedelta(days=PERIOD_DAYS)
    per_rule: dict[str, dict[str, Any]] = defaultdict(lambda: {"events": 0, "last_seen": None, "cadence": 0})
    for item in ControlEvidence.objects.values("rule", "source__cadence_minutes").annotate(
        recent=Sum("events", filter=Q(day__gte=since)), last=Max("last_seen")
    ):
        entry = per_rule[item["rule"]]
        entry["events"] += item["recent"] or 0
        if item["last"] and (entry["last_seen"] is None or item["last"] > entry["last_seen"]):
            entry["last_seen"] = item["last"]
        entry["cadence"] = max(entry["cadence"], item["source__cadence_minutes"])
    now = timezone.now()
    for row in rows:
        mapped = [rule.key for rule in rules.rules_for_control(edition, row.ref)]
        if not mapped:
            continue
        found = [per_rule[key] for key in mapped if key in per_rule]
        last_seen = max((f["last_seen"] for f in found if f["last_seen"]), default=None)
        cadence = max((f["cadence"] for f in found), default=0)
        if last_seen is None:
            health = "missing"
        elif now - last_seen <= timedelta(minutes=cadence):
            health = "fresh"
        else:
            health = "stale"
        row.evidence = {
            "events": sum(f["events"] for f in found),
            "last_seen": last_seen,
            "health": health,
            "rules": mapped,
        }
