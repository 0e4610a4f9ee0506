"""Read model of the SoA: the same rows whether they come from the working draft or a published
version's snapshot, so pages, exports and diffs have one code path for both."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from typing import Any

from django.db.models import QuerySet

from controls.models import Clause, ImplementationStatus, InclusionReason, SoAEntry, SoAVersion

STATUS_LABELS = dict(ImplementationStatus.choices)
REASON_LABELS = dict(InclusionReason.choices)


@dataclass
class SoARow:
    """One control's SoA row."""

    ref: str
    title: str
    section_ref: str
    section_title: str
    edition: str = ""
    objective_ref: str = ""
    objective_title: str = ""
    is_new: bool = False
    attributes: dict[str, list[str]] = field(default_factory=dict)
    applicable: bool = True
    inclusion_reasons: list[str] = field(default_factory=list)
    justification: str = ""
    implementation_status: str = ImplementationStatus.NOT_STARTED
    owner: str = ""  # username
    owner_name: str = ""
    implementation_notes: str = ""
    last_reviewed: str | None = None  # ISO date
    review_needed: bool = False
    review_note: str = ""
    # working draft only (not part of a snapshot)
    entry_id: int | None = None
    row_version: int = 0
    owner_id: int | None = None

    SNAPSHOT_EXCLUDE = frozenset({"entry_id", "row_version", "owner_id"})
    DIFF_FIELDS = (
        "applicable",
        "inclusion_reasons",
        "justification",
        "implementation_status",
        "owner",
        "implementation_notes",
        "last_reviewed",
        "review_needed",
    )

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.implementation_status, self.implementation_status)

    @property
    def reason_labels(self) -> list[str]:
        return [REASON_LABELS.get(reason, reason) for reason in self.inclusion_reasons]

    @property
    def all_attributes(self) -> list[str]:
        return [value for values in self.attributes.values() for value in values]

    def to_snapshot(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in self.SNAPSHOT_EXCLUDE}

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> SoARow:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class ClauseRow:
    """One management-system clause's status row (headings carry no status)."""

    ref: str
    title: str
    edition: str = ""
    is_heading: bool = False
    implementation_status: str = ImplementationStatus.NOT_STARTED
    owner: str = ""
    owner_name: str = ""
    implementation_notes: str = ""
    last_reviewed: str | None = None
    entry_id: int | None = None
    row_version: int = 0
    owner_id: int | None = None

    SNAPSHOT_EXCLUDE = frozenset({"entry_id", "row_version", "owner_id"})
    DIFF_FIELDS = ("implementation_status", "owner", "implementation_notes", "last_reviewed")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.implementation_status, self.implementation_status)

    def to_snapshot(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in self.SNAPSHOT_EXCLUDE}

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> ClauseRow:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Section:
    ref: str
    title: str
    rows: list[SoARow]

    @property
    def applicable(self) -> int:
        return sum(row.applicable for row in self.rows)

    @property
    def implemented(self) -> int:
        return sum(
            row.applicable and row.implementation_status == ImplementationStatus.IMPLEMENTED for row in self.rows
        )


@dataclass
class SoAView:
    """An edition's SoA as the working draft (``version is None``) or as a published version."""

    edition: str
    rows: list[SoARow]
    clauses: list[ClauseRow]
    version: SoAVersion | None = None

    @property
    def is_draft(self) -> bool:
        return self.version is None

    @property
    def label(self) -> str:
        if self.version is None:
            return "Working draft"
        return f"Version {self.version.number}"

    def sections(self, rows: list[SoARow] | None = None) -> list[Section]:
        grouped: dict[tuple[str, str], list[SoARow]] = defaultdict(list)
        for row in self.rows if rows is None else rows:
            grouped[(row.section_ref, row.section_title)].append(row)
        return [Section(ref, title, items) for (ref, title), items in grouped.items()]

    def summary(self) -> dict[str, int]:
        applicable = [row for row in self.rows if row.applicable]
        by_status = dict.fromkeys(ImplementationStatus.values, 0)
        for row in applicable:
            by_status[row.implementation_status] = by_status.get(row.implementation_status, 0) + 1
        return {
            "controls": len(self.rows),
            "applicable": len(applicable),
            "excluded": len(self.rows) - len(applicable),
            "without_owner": sum(1 for row in applicable if not row.owner),
            "review_needed": sum(1 for row in self.rows if row.review_needed),
            **by_status,
        }

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "edition": self.edition,
            "controls": [row.to_snapshot() for row in self.rows],
            "clauses": [clause.to_snapshot() for clause in self.clauses],
        }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _owner(user: Any) -> tuple[str, str, int | None]:
    if user is None:
        return "", "", None
    return user.username, user.get_full_name() or user.username, user.pk


def soa_rows(entries: QuerySet[SoAEntry]) -> list[SoARow]:
    """SoA rows of the given entries, in a fixed number of queries whatever their number."""
    entries = (
        entries.select_related("control__section", "control__objective", "owner")
        .prefetch_related("control__attributes")
        .order_by("control__position")
    )
    rows = []
    for entry in entries:
        control = entry.control
        attributes: dict[str, list[str]] = defaultdict(list)
        for attribute in control.attributes.all():
            attributes[attribute.kind].append(attribute.value)
        owner, owner_name, owner_id = _owner(entry.owner)
        rows.append(
            SoARow(
                ref=control.ref,
                title=control.title,
                section_ref=control.section.ref,
                section_title=control.section.title,
                edition=control.edition,
                objective_ref=control.objective.ref if control.objective else "",
                objective_title=control.objective.title if control.objective else "",
                is_new=control.is_new,
                attributes=dict(attributes),
                applicable=entry.applicable,
                inclusion_reasons=list(entry.inclusion_reasons),
                justification=entry.justification,
                implementation_status=entry.implementation_status,
                owner=owner,
                owner_name=owner_name,
                implementation_notes=entry.implementation_notes,
                last_reviewed=_iso(entry.last_reviewed),
                review_needed=entry.review_needed,
                review_note=entry.review_note,
                entry_id=entry.pk,
                row_version=entry.row_version,
                owner_id=owner_id,
            )
        )
    return rows


def clause_rows(clauses: QuerySet[Clause]) -> list[ClauseRow]:
    """Clause rows (headings included) with their tracked status."""
    rows = []
    for clause in clauses.select_related("entry__owner").order_by("position"):
        entry = getattr(clause, "entry", None)
        owner, owner_name, owner_id = _owner(entry.owner if entry else None)
        rows.append(
            ClauseRow(
                ref=clause.ref,
                title=clause.title,
                edition=clause.edition,
                is_heading=clause.is_heading,
                implementation_status=entry.implementation_status if entry else ImplementationStatus.NOT_STARTED,
                owner=owner,
                owner_name=owner_name,
                implementation_notes=entry.implementation_notes if entry else "",
                last_reviewed=_iso(entry.last_reviewed) if entry else None,
                entry_id=entry.pk if entry else None,
                row_version=entry.row_version if entry else 0,
                owner_id=owner_id,
            )
        )
    return rows


def draft_view(edition: str) -> SoAView:
    """The working draft of an edition."""
    return SoAView(
        edition,
        soa_rows(SoAEntry.objects.filter(control__edition=edition)),
        clause_rows(Clause.objects.filter(edition=edition)),
    )


def version_view(version: SoAVersion) -> SoAView:
    snapshot = version.snapshot
    return SoAView(
        version.edition,
        [SoARow.from_snapshot(row) for row in snapshot["controls"]],
        [ClauseRow.from_snapshot(row) for row in snapshot["clauses"]],
        version,
    )


@dataclass(frozen=True)
class RowChange:
    kind: str  # "control" or "clause"
    ref: str
    title: str
    changes: dict[str, tuple[Any, Any]]  # field -> (before, after); a missing row is ("absent", ...)


def diff_views(before: SoAView, after: SoAView) -> list[RowChange]:
    """What changed, per control and per clause, from ``before`` to ``after``."""
    result: list[RowChange] = []
    for kind, old_rows, new_rows in (("control", before.rows, after.rows), ("clause", before.clauses, after.clauses)):
        old = {row.ref: row for row in old_rows}
        new = {row.ref: row for row in new_rows}
        for ref in [*old, *(r for r in new if r not in old)]:
            a, b = old.get(ref), new.get(ref)
            if a is None or b is None:
                present = a or b
                result.append(
                    RowChange(
                        kind,
                        ref,
                        present.title,
                        {"row": ("absent" if a is None else "present", "absent" if b is None else "present")},
                    )
                )
                continue
            changes = {
                name: (getattr(a, name), getattr(b, name))
                for name in a.DIFF_FIELDS
                if getattr(a, name) != getattr(b, name)
            }
            if changes:
                result.append(RowChange(kind, ref, b.title, changes))
    return result
