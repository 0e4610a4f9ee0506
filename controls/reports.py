"""SoA exports: PDF (rendered in the background), XLSX and CSV. Every control of the edition appears."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from controls.models import Edition, SoAVersion
from controls.soa import SoAView, draft_view, version_view
from ismsapp import reports
from ismsapp.exports import neutralise_cell
from ismsapp.models import Organisation, User
from ismsapp.pdf import render_pdf

COLUMNS = [
    ("Control", lambda r: r.ref),
    ("Title", lambda r: r.title),
    ("Domain / theme", lambda r: f"{r.section_ref} {r.section_title}"),
    ("Applicable", lambda r: "Yes" if r.applicable else "No"),
    ("Inclusion reasons", lambda r: "; ".join(r.reason_labels)),
    ("Justification", lambda r: r.justification),
    ("Implementation status", lambda r: r.status_label),
    ("Owner", lambda r: r.owner_name),
    ("Implementation notes", lambda r: r.implementation_notes),
    ("Last reviewed", lambda r: r.last_reviewed or ""),
    ("Review needed", lambda r: "Yes" if r.review_needed else ""),
]


def soa_view_for(edition: str, version_number: int | None, *, with_attributes: bool = True) -> SoAView:
    """The draft, or a published version (``ValidationError`` if it does not exist)."""
    if edition not in Edition.values:
        raise ValidationError({"edition": f"Unknown edition {edition!r}: use 2013 or 2022."})
    if version_number is None:
        return draft_view(edition, with_attributes=with_attributes)
    version = SoAVersion.objects.filter(edition=edition, number=version_number).select_related("approver").first()
    if version is None:
        raise ValidationError({"version": f"There is no published version {version_number} of the {edition} SoA."})
    return version_view(version)


def export_basename(view: SoAView) -> str:
    label = "draft" if view.is_draft else f"v{view.version.number}"
    return f"soa-{view.edition}-{label}"


def _row_values(view: SoAView) -> list[list[Any]]:
    return [[neutralise_cell(value(row)) for _, value in COLUMNS] for row in view.rows]


def soa_csv(view: SoAView) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([name for name, _ in COLUMNS])
    writer.writerows(_row_values(view))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _sheet(workbook: Workbook, title: str, view: SoAView) -> None:
    sheet = workbook.create_sheet(title)
    header = [name for name, _ in COLUMNS]
    sheet.append(header)
    for values in _row_values(view):
        sheet.append(values)
    for cell in sheet[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="17324F")
        cell.alignment = Alignment(vertical="top", wrap_text=True)
    widths = [10, 45, 30, 11, 28, 45, 22, 22, 45, 13, 13]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(view.rows) + 1}"


def soa_xlsx(edition: str, selected: SoAView) -> bytes:
    """One sheet per version: the selected one first, then the draft and every published version."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    _sheet(workbook, selected.label[:31], selected)
    if not selected.is_draft:
        _sheet(workbook, "Working draft", draft_view(edition))
    for version in SoAVersion.objects.filter(edition=edition).select_related("approver").order_by("-number"):
        if selected.version is None or version.pk != selected.version.pk:
            _sheet(workbook, f"Version {version.number}", version_view(version))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


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
    view = soa_view_for(params["edition"], params["version"])
    return reports.RenderedFile(f"{export_basename(view)}.pdf", "application/pdf", soa_pdf(view))


def register_reports() -> None:
    reports.register(reports.ReportKind("soa_pdf", "controls.view_soaentry", _title, _build, _validate))
