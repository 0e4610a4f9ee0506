"""SoA exports: PDF (rendered in the background), XLSX and CSV. Every control of the edition appears,
then the status of clauses 4-10 (CSV: a second table after a blank line; XLSX: a "Clauses" sheet
after each version's sheet). A published version is read only if its snapshot is intact."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from openpyxl import Workbook

from controls.models import Edition, SoAVersion
from controls.services import check_version_integrity
from controls.soa import ClauseRow, SoARow, SoAView, draft_view, version_view
from ismsapp.audit import acting_as
from ismsapp.exports import add_sheet, neutralise_cell, new_workbook, workbook_bytes
from ismsapp.models import Organisation, User
from ismsapp.pdf import render_pdf
from ismsapp.services import reports

Column = tuple[str, Callable[[Any], Any], int]  # header, value of a row, XLSX width

COLUMNS: list[Column] = [
    ("Control", lambda r: r.ref, 10),
    ("Title", lambda r: r.title, 45),
    ("Domain / theme", lambda r: f"{r.section_ref} {r.section_title}", 30),
    ("Applicable", lambda r: "Yes" if r.applicable else "No", 11),
    ("Inclusion reasons", lambda r: "; ".join(r.reason_labels), 28),
    ("Justification", lambda r: r.justification, 45),
    ("Implementation status", lambda r: r.status_label, 22),
    ("Owner", lambda r: r.owner_name, 22),
    ("Implementation notes", lambda r: r.implementation_notes, 45),
    ("Last reviewed", lambda r: r.last_reviewed or "", 13),
    ("Review needed", lambda r: "Yes" if r.review_needed else "", 13),
]

# Clause headings (e.g. "4 Context of the organization") carry no status of their own.
CLAUSE_COLUMNS: list[Column] = [
    ("Clause", lambda r: r.ref, 10),
    ("Title", lambda r: r.title, 45),
    ("Implementation status", lambda r: "" if r.is_heading else r.status_label, 22),
    ("Owner", lambda r: "" if r.is_heading else r.owner_name, 22),
    ("Implementation notes", lambda r: "" if r.is_heading else r.implementation_notes, 45),
    ("Last reviewed", lambda r: "" if r.is_heading else r.last_reviewed or "", 13),
]


def published_version(edition: str, number: int) -> SoAVersion:
    """A published version with an intact snapshot: ``ValidationError`` if it does not exist,
    ``AlteredVersionError`` (recorded in the audit trail) if its snapshot was altered."""
    version = SoAVersion.objects.filter(edition=edition, number=number).select_related("approver").first()
    if version is None:
        raise ValidationError({"version": f"There is no published version {number} of the {edition} SoA."})
    check_version_integrity(version)
    return version


def soa_view_for(edition: str, version_number: int | None, *, with_attributes: bool = True) -> SoAView:
    """The draft, or a published version (``ValidationError`` if it does not exist or was altered)."""
    if edition not in Edition.values:
        raise ValidationError({"edition": f"Unknown edition {edition!r}: use 2013 or 2022."})
    if version_number is None:
        return draft_view(edition, with_attributes=with_attributes)
    return version_view(published_version(edition, version_number))


def export_basename(view: SoAView) -> str:
    label = "draft" if view.is_draft else f"v{view.version.number}"
    return f"soa-{view.edition}-{label}"


def _table(columns: list[Column], rows: list[SoARow] | list[ClauseRow]) -> list[list[Any]]:
    """Header and neutralised values of ``rows``."""
    return [
        [name for name, _, _ in columns],
        *([neutralise_cell(value(row)) for _, value, _ in columns] for row in rows),
    ]


def soa_csv(view: SoAView) -> bytes:
    """The controls table, a blank line, then the clauses table (with its own header)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(_table(COLUMNS, view.rows))
    writer.writerow([])
    writer.writerows(_table(CLAUSE_COLUMNS, view.clauses))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _sheet(workbook: Workbook, title: str, columns: list[Column], rows: list[SoARow] | list[ClauseRow]) -> None:
    add_sheet(
        workbook,
        title,
        [name for name, _, _ in columns],
        ([value(row) for _, value, _ in columns] for row in rows),
        widths=[width for _, _, width in columns],
    )


def _version_sheets(workbook: Workbook, view: SoAView, title: str | None = None) -> None:
    """The controls sheet of ``view`` (named ``title`` or its label), then its clauses sheet."""
    label = "draft" if view.is_draft else f"v{view.version.number}"
    _sheet(workbook, title or view.label, COLUMNS, view.rows)
    _sheet(workbook, f"Clauses {label}", CLAUSE_COLUMNS, view.clauses)


def soa_xlsx(edition: str, selected: SoAView) -> bytes:
    """Two sheets per version (controls, then clauses 4-10): the selected version first, then the
    draft and every published version. A published version whose snapshot was altered refuses the
    whole workbook (``AlteredVersionError``)."""
    workbook = new_workbook()
    _version_sheets(workbook, selected)
    if not selected.is_draft:
        _version_sheets(workbook, draft_view(edition), title="Working draft")
    for version in SoAVersion.objects.filter(edition=edition).select_related("approver").order_by("-number"):
        if selected.version is None or version.pk != selected.version.pk:
            check_version_integrity(version)
            _version_sheets(workbook, version_view(version), title=f"Version {version.number}")
    return workbook_bytes(workbook)


def pdf_context(view: SoAView) -> dict[str, Any]:
    organisation = Organisation.current()
    return {
        "organisation": organisation.name if organisation else "",
        "view": view,
        "edition_label": dict(Edition.choices)[view.edition],
        "sections": view.sections(),
        "summary": view.summary(),
        "clauses": list(view.clauses),
        "generated_at": timezone.now(),
    }


def soa_pdf(view: SoAView) -> bytes:
    return render_pdf("controls/soa_pdf.html", pdf_context(view))


def _validate(params: dict[str, Any], user: User) -> dict[str, Any]:
    edition = str(params.get("edition", ""))
    raw = params.get("version")
    try:
        number = int(raw) if raw not in (None, "", "draft") else None
    except (TypeError, ValueError) as exc:
        raise ValidationError({"version": f"Version must be a number, not {raw!r}."}) from exc
    soa_view_for(edition, number)  # raises if it does not exist
    return {"edition": edition, "version": number}


def _title(params: dict[str, Any]) -> str:
    label = "working draft" if params["version"] is None else f"version {params['version']}"
    return f"Statement of Applicability {params['edition']} ({label}), PDF"


def _build(params: dict[str, Any], user: User) -> reports.RenderedFile:
    with acting_as(user):  # a refused (altered) version is recorded against the requester
        view = soa_view_for(params["edition"], params["version"])
    return reports.RenderedFile(f"{export_basename(view)}.pdf", "application/pdf", soa_pdf(view))


def register_reports() -> None:
    reports.register(reports.ReportKind("soa_pdf", "controls.view_soaentry", _title, _build, _validate))
