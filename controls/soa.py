"""Read model of the SoA: the same rows whether they come from the working draft or a published
version's snapshot, so pages, exports and diffs have one code path for both."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from typing import Any

from django.db.models import QuerySet

from controls.models import Clause, Control, ImplementationStatus, InclusionReason, SoAEntry, SoAVersion
from ismsapp.links import pk_url

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
    risks: list[str] = field(default_factory=list)  # references of the open risks it treats
    # working draft only (not part of a snapshot)
    entry_id: int | None = None
    row_version: int = 0
    owner_id: int | None = None
    control_id: int | None = None
    evidence: dict[str, Any] | None = None  # machine evidence: events, last_seen, health, rules
    audit: dict[str, Any] | None = None  # internal audits: last result, open nonconformities

    SNAPSHOT_EXCLUDE = frozenset({"entry_id", "row_version", "owner_id", "control_id", "evidence", "audit"})
    DIFF_FIELDS = (
        "risks",
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
    def effective_reasons(self) -> list[str]:
        """The recorded reasons, plus "risk treatment" whenever a risk selects this control."""
        reasons = list(self.inclusion_reasons)
        if self.risks and InclusionReason.RISK_TREATMENT not in reasons:
            reasons.insert(0, InclusionReason.RISK_TREATMENT)
        return reasons if self.applicable else []

    @property
    def reason_labels(self) -> list[str]:
        return [REASON_LABELS.get(reason, reason) for reason in self.effective_reasons]

    @property
    def inconsistent(self) -> bool:
        """Excluded in the SoA although a risk relies on it as treatment."""
        return not self.applicable and bool(self.risks)

    def __getitem__(self, name: str) -> Any:
        # Django templates try item lookup before attributes; answering it directly spares an
        # exception per variable on pages that render every row.
        return getattr(self, name)

    @property
    def edit_url(self) -> str:
        return pk_url("controls:soa_entry_edit", self.entry_id) if self.entry_id else ""

    @property
    def row_url(self) -> str:
        return pk_url("controls:soa_entry_row", self.entry_id) if self.entry_id else ""

    @property
    def confirm_url(self) -> str:
        return pk_url("controls:soa_confirm_review", self.entry_id) if self.entry_id else ""

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

    __getitem__ = SoARow.__getitem__

    @property
    def edit_url(self) -> str:
        return pk_url("controls:clause_entry_edit", self.entry_id) if self.entry_id else ""

    @property
    def row_url(self) -> str:
        return pk_url("controls:clause_entry_row", self.entry_id) if self.entry_id else ""

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


def _owner_name(first: str | None, last: str | None, username: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or (username or "")


RowEnricher = Callable[[list["SoARow"]], None]
ROW_ENRICHERS: list[RowEnricher] = []


def register_enricher(enricher: RowEnricher) -> None:
    """Let another app add what it knows to draft rows (risks treated, machine evidence), in one
    query per app for all the rows."""
    if enricher not in ROW_ENRICHERS:
        ROW_ENRICHERS.append(enricher)


SOA_FIELDS = (
    "pk",
    "applicable",
    "inclusion_reasons",
    "justification",
    "implementation_status",
    "implementation_notes",
    "last_reviewed",
    "review_needed",
    "review_note",
    "row_version",
    "owner_id",
    "owner__username",
    "owner__first_name",
    "owner__last_name",
    "control_id",
    "control__ref",
    "control__title",
    "control__edition",
    "control__is_new",
    "control__section__ref",
    "control__section__title",
    "control__objective__ref",
    "control__objective__title",
)


def soa_rows(entries: QuerySet[SoAEntry], *, with_attributes: bool = True) -> list[SoARow]:
    """SoA rows of the given entries in one or two queries whatever their number (plain values, no
    model instances: this is the hot path of the SoA page, which needs no 27002 attributes)."""
    values = list(entries.order_by("control__position").values(*SOA_FIELDS))
    attributes: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    if with_attributes:
        links = Control.attributes.through.objects.filter(control_id__in=[v["control_id"] for v in values])
        for control_id, kind, value in links.order_by("controlattribute__kind", "controlattribute__value").values_list(
            "control_id", "controlattribute__kind", "controlattribute__value"
        ):
            attributes[control_id][kind].append(value)
    rows = [
        SoARow(
            ref=v["control__ref"],
            title=v["control__title"],
            section_ref=v["control__section__ref"],
            section_title=v["control__section__title"],
            edition=v["control__edition"],
            objective_ref=v["control__objective__ref"] or "",
            objective_title=v["control__objective__title"] or "",
            is_new=v["control__is_new"],
            attributes=dict(attributes.get(v["control_id"], {})),
            applicable=v["applicable"],
            inclusion_reasons=list(v["inclusion_reasons"]),
            justification=v["justification"],
            implementation_status=v["implementation_status"],
            owner=v["owner__username"] or "",
            owner_name=_owner_name(v["owner__first_name"], v["owner__last_name"], v["owner__username"]),
            implementation_notes=v["implementation_notes"],
            last_reviewed=_iso(v["last_reviewed"]),
            review_needed=v["review_needed"],
            review_note=v["review_note"],
            entry_id=v["pk"],
            row_version=v["row_version"],
            owner_id=v["owner_id"],
            control_id=v["control_id"],
        )
        for v in values
    ]
    for enrich in ROW_ENRICHERS:
        enrich(rows)
    return rows


CLAUSE_FIELDS = (
    "ref",
    "title",
    "edition",
    "is_heading",
    "entry__pk",
    "entry__implementation_status",
    "entry__implementation_notes",
    "entry__last_reviewed",
    "entry__row_version",
    "entry__owner_id",
    "entry__owner__username",
    "entry__owner__first_name",
    "entry__owner__last_name",
)


def clause_rows(clauses: QuerySet[Clause]) -> list[ClauseRow]:
    """Clause rows (headings included) with their tracked status, in one query."""
    return [
        ClauseRow(
            ref=v["ref"],
            title=v["title"],
            edition=v["edition"],
            is_heading=v["is_heading"],
            implementation_status=v["entry__implementation_status"] or ImplementationStatus.NOT_STARTED,
            owner=v["entry__owner__username"] or "",
            owner_name=_owner_name(
                v["entry__owner__first_name"], v["entry__owner__last_name"], v["entry__owner__username"]
            ),
            implementation_notes=v["entry__implementation_notes"] or "",
            last_reviewed=_iso(v["entry__last_reviewed"]),
            entry_id=v["entry__pk"],
            row_version=v["entry__row_version"] or 0,
            owner_id=v["entry__owner_id"],
        )
        for v in clauses.order_by("position").values(*CLAUSE_FIELDS)
    ]


def draft_view(edition: str, *, with_attributes: bool = True) -> SoAView:
    """The working draft of an edition."""
    return SoAView(
        edition,
        soa_rows(SoAEntry.objects.filter(control__edition=edition), with_attributes=with_attributes),
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
