"""The programme's coverage view: which applicable controls and which clauses 4-10 of the
programme's edition are planned, audited or never touched across the cycle, and which controls
treating a risk above the appetite are not planned in every year. A fixed number of queries
(nine) whatever the number of audits, controls or risks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q

from audits.models import Audit, AuditProgramme, ChecklistItem
from controls.models import Clause, SoAEntry
from risks.models import Risk, RiskMethodology

AUDITED_RESULTS = tuple(value for value in ChecklistItem.Result.values if value != ChecklistItem.Result.NOT_AUDITED)


@dataclass
class CoverageRow:
    kind: str  # "control" or "clause"
    pk: int
    ref: str
    title: str
    planned_years: set[int] = field(default_factory=set)
    audited: bool = False
    above_appetite_risks: list[str] = field(default_factory=list)
    missing_years: list[int] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.audited:
            return "audited"
        return "planned" if self.planned_years else "never"

    @property
    def state_label(self) -> str:
        return {"audited": "Audited", "planned": "Planned", "never": "Never touched"}[self.state]


@dataclass
class Coverage:
    years: list[int]
    controls: list[CoverageRow]
    clauses: list[CoverageRow]

    def count(self, rows: list[CoverageRow], state: str) -> int:
        return sum(1 for row in rows if row.state == state)

    @property
    def summary(self) -> dict[str, int]:
        return {
            f"{kind}_{state}": self.count(rows, state)
            for kind, rows in (("controls", self.controls), ("clauses", self.clauses))
            for state in ("audited", "planned", "never")
        } | {"controls": len(self.controls), "clauses": len(self.clauses), "gaps": len(self.yearly_gaps)}

    @property
    def yearly_gaps(self) -> list[CoverageRow]:
        return [row for row in self.controls if row.missing_years]


def above_appetite_risks_by_control(control_ids: set[int]) -> dict[int, list[str]]:
    """Open risks whose residual level is above their methodology's appetite, per treating control."""
    ranks = {
        pk: next((i for i, level in enumerate(levels) if level.get("key") == appetite), None)
        for pk, levels, appetite in RiskMethodology.objects.values_list("pk", "levels", "appetite")
    }
    above = Q(pk__in=[])
    for methodology_id, rank in ranks.items():
        if rank is not None:
            above |= Q(risk__methodology_id=methodology_id, risk__residual_rank__gt=rank)
    rows = (
        Risk.controls.through.objects.filter(above, control_id__in=control_ids)
        .exclude(risk__status=Risk.Status.CLOSED)
        .values_list("control_id", "risk__reference")
        .order_by("risk__reference")
    )
    found: dict[int, list[str]] = defaultdict(list)
    for control_id, reference in rows:
        found[control_id].append(reference)
    return found


def programme_coverage(programme: AuditProgramme) -> Coverage:
    years = list(range(programme.period_start.year, programme.period_end.year + 1))
    controls = {
        pk: CoverageRow("control", pk, ref, title)
        for pk, ref, title in SoAEntry.objects.filter(control__edition=programme.edition, applicable=True)
        .order_by("control__position")
        .values_list("control_id", "control__ref", "control__title")
    }
    clauses = {
        pk: CoverageRow("clause", pk, ref, title)
        for pk, ref, title in Clause.objects.filter(edition=programme.edition, is_heading=False)
        .order_by("position")
        .values_list("pk", "ref", "title")
    }
    audit_years = dict(Audit.objects.filter(programme=programme).values_list("pk", "planned_start__year"))
    for audit_id, control_id in Audit.controls.through.objects.filter(audit__programme=programme).values_list(
        "audit_id", "control_id"
    ):
        if control_id in controls:
            controls[control_id].planned_years.add(audit_years[audit_id])
    for audit_id, clause_id in Audit.clauses.through.objects.filter(audit__programme=programme).values_list(
        "audit_id", "clause_id"
    ):
        if clause_id in clauses:
            clauses[clause_id].planned_years.add(audit_years[audit_id])
    for control_id, clause_id in ChecklistItem.objects.filter(
        audit__programme=programme, result__in=AUDITED_RESULTS
    ).values_list("control_id", "clause_id"):
        row = controls.get(control_id) if control_id else clauses.get(clause_id)
        if row is not None:
            row.audited = True
    for control_id, references in above_appetite_risks_by_control(set(controls)).items():
        row = controls[control_id]
        row.above_appetite_risks = references
        row.missing_years = [year for year in years if year not in row.planned_years]
    return Coverage(years=years, controls=list(controls.values()), clauses=list(clauses.values()))
