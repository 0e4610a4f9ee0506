"""The audit report to management (clause 9.2): its content, the PDF, and the background report
kind through which a draft is rendered (``ismsapp.reports``: status page and download).

A draft can be rendered at any time; the final report is rendered once by
``audits.services.finalise_audit_report`` and kept, frozen, as an ``AuditReport``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils import timezone

from audits.models import Audit, ChecklistItem, CorrectiveAction, Nonconformity
from audits.services.programme import in_scope_items
from ismsapp.models import Organisation, User
from ismsapp.pdf import render_pdf
from ismsapp.services import reports

FINDING_ORDER = (
    ChecklistItem.Result.MAJOR_NC,
    ChecklistItem.Result.MINOR_NC,
    ChecklistItem.Result.OBSERVATION,
    ChecklistItem.Result.IMPROVEMENT,
)


@dataclass(frozen=True)
class Finalisation:
    """Who finalised the report and when (``None`` in a draft)."""

    by: User
    at: datetime


def person(user: User | None) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def report_filename(audit: Audit, *, final: bool) -> str:
    return f"audit-report-{audit.pk}-{'final' if final else 'draft'}.pdf"


def report_context(audit: Audit, final: Finalisation | None = None) -> dict[str, Any]:
    """Everything the report prints, read in a fixed number of queries."""
    audit = Audit.objects.select_related("programme", "lead_auditor").get(pk=audit.pk)
    items = in_scope_items(audit)
    open_actions = CorrectiveAction.objects.select_related("owner")
    nonconformities = list(
        Nonconformity.objects.filter(audit=audit)
        .select_related("control", "clause", "closed_by")
        .prefetch_related(Prefetch("corrective_actions", queryset=open_actions))
        .order_by("severity", "pk")
    )
    results: dict[str, int] = dict.fromkeys(ChecklistItem.Result.labels, 0)
    unrecorded = 0
    for item in items:
        if item.result:
            results[item.get_result_display()] += 1
        else:
            unrecorded += 1
    findings = [
        (ChecklistItem.Result(result).label, [item for item in items if item.result == result])
        for result in FINDING_ORDER
    ]
    organisation = Organisation.current()
    return {
        "organisation": organisation.name if organisation else "",
        "audit": audit,
        "lead_auditor": person(audit.lead_auditor),
        "team": [person(member) for member in audit.team.order_by("username")],
        "controls": list(audit.controls.order_by("position")),
        "clauses": list(audit.clauses.order_by("position")),
        "overrides": list(
            audit.impartiality_overrides.select_related("auditor", "granted_by", "control", "clause").order_by("pk")
        ),
        "items": items,
        "results": results,
        "unrecorded": unrecorded,
        "findings": findings,
        "nonconformities": nonconformities,
        "nonconformity_counts": {
            "major": sum(1 for nc in nonconformities if nc.severity == Nonconformity.Severity.MAJOR),
            "minor": sum(1 for nc in nonconformities if nc.severity == Nonconformity.Severity.MINOR),
            "open": sum(1 for nc in nonconformities if nc.status != Nonconformity.Status.CLOSED),
        },
        "final": final,
        "finalised_by": person(final.by) if final else "",
        "generated_at": final.at if final else timezone.now(),
    }


def audit_report_pdf(audit: Audit, final: Finalisation | None = None) -> bytes:
    return render_pdf("audits/report_pdf.html", report_context(audit, final))


# --- the draft, rendered in the background --------------------------------------------------------


def _audit_param(params: dict[str, Any]) -> int:
    try:
        return int(params.get("audit"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValidationError({"audit": f"Not an audit id: {params.get('audit')!r}."}) from exc


def _validate(params: dict[str, Any], user: User) -> dict[str, Any]:
    pk = _audit_param(params)
    if not Audit.objects.for_user(user).filter(pk=pk).exists():
        raise ValidationError({"audit": "There is no such audit."})
    return {"audit": pk}


def _title(params: dict[str, Any]) -> str:
    title = Audit.objects.filter(pk=params["audit"]).values_list("title", flat=True).first() or ""
    return f"Audit report (draft): {title}"[:200]


def _build(params: dict[str, Any], user: User) -> reports.RenderedFile:
    audit = Audit.objects.for_user(user).get(pk=params["audit"])
    return reports.RenderedFile(report_filename(audit, final=False), "application/pdf", audit_report_pdf(audit))


def register_reports() -> None:
    reports.register(reports.ReportKind("audit_report_pdf", "audits.view_audit", _title, _build, _validate))
