"""Risk register and treatment plan (PDF and XLSX) and the signed-off acceptance record (PDF)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.utils import timezone

from ismsapp.exports import add_sheet, new_workbook, workbook_bytes
from ismsapp.models import Organisation, User
from ismsapp.pdf import render_pdf
from ismsapp.services import reports
from risks.heatmap import count_cells, heatmap_svg
from risks.models import Risk, RiskAcceptance, TreatmentAction
from risks.services import RISK_READERS, current_methodology, visible_acceptances, visible_actions, visible_risks

PDF_ROW_CAP = 2000  # bulk data belongs in the XLSX export, not in a PDF

REGISTER_COLUMNS: list[tuple[str, Callable[[Risk], Any]]] = [
    ("Reference", lambda r: r.reference),
    ("Title", lambda r: r.title),
    ("Owner", lambda r: r.owner.get_full_name() or r.owner.username),
    ("Assets", lambda r: ", ".join(a.name for a in r.assets.all())),
    ("Threat", lambda r: r.threat),
    ("Vulnerability", lambda r: r.vulnerability),
    ("C/I/A", lambda r: r.affected_cia),
    ("Inherent L", lambda r: r.inherent_likelihood),
    ("Inherent I", lambda r: r.inherent_impact),
    ("Inherent level", lambda r: r.inherent_level),
    ("Treatment", lambda r: r.get_treatment_option_display()),
    ("Controls", lambda r: ", ".join(f"{c.edition}:{c.ref}" for c in r.controls.all())),
    ("Residual L", lambda r: r.residual_likelihood),
    ("Residual I", lambda r: r.residual_impact),
    ("Residual level", lambda r: r.residual_level),
    ("Status", lambda r: r.get_status_display()),
    ("Next review", lambda r: r.next_review.isoformat() if r.next_review else ""),
    ("Methodology version", lambda r: r.methodology.version),
]
PLAN_COLUMNS: list[tuple[str, Callable[[TreatmentAction], Any]]] = [
    ("Risk", lambda a: a.risk.reference),
    ("Risk title", lambda a: a.risk.title),
    ("Treatment", lambda a: a.risk.get_treatment_option_display()),
    ("Action", lambda a: a.description),
    ("Action owner", lambda a: a.owner.get_full_name() or a.owner.username),
    ("Due date", lambda a: a.due_date.isoformat()),
    ("Status", lambda a: a.get_status_display()),
    ("Residual level", lambda a: a.risk.residual_level),
]


def register_queryset(user: User) -> QuerySet[Risk]:
    return (
        visible_risks(user)
        .select_related("owner", "methodology")
        .prefetch_related("assets", "controls")
        .order_by("reference")
    )


def plan_queryset(user: User) -> QuerySet[TreatmentAction]:
    return visible_actions(user).select_related("risk", "owner").order_by("due_date", "risk__reference")


def _workbook(title: str, columns: list[tuple[str, Callable[[Any], Any]]], rows: QuerySet) -> bytes:
    workbook = new_workbook()
    items = rows.iterator(chunk_size=500) if not rows._prefetch_related_lookups else rows
    add_sheet(workbook, title, [name for name, _ in columns], ([value(item) for _, value in columns] for item in items))
    return workbook_bytes(workbook)


def register_xlsx(user: User) -> bytes:
    return _workbook("Risk register", REGISTER_COLUMNS, register_queryset(user))


def plan_xlsx(user: User) -> bytes:
    return _workbook("Risk treatment plan", PLAN_COLUMNS, plan_queryset(user))


def heatmaps(risks: QuerySet[Risk]) -> tuple[Any, Any]:
    """Inherent and residual heatmaps of ``risks`` on the current methodology's matrix."""
    methodology = current_methodology()
    open_risks = risks.exclude(status=Risk.Status.CLOSED).order_by()
    inherent = count_cells(open_risks.values_list("inherent_likelihood", "inherent_impact").annotate(n=Count("pk")))
    residual = count_cells(open_risks.values_list("residual_likelihood", "residual_impact").annotate(n=Count("pk")))
    return (heatmap_svg(methodology, inherent, "Inherent risk"), heatmap_svg(methodology, residual, "Residual risk"))


def _base_context(title: str) -> dict[str, Any]:
    organisation = Organisation.current()
    return {"organisation": organisation.name if organisation else "", "title": title, "generated_at": timezone.now()}


def register_pdf(user: User) -> bytes:
    risks = register_queryset(user)
    total = risks.count()
    inherent, residual = heatmaps(visible_risks(user))
    return render_pdf(
        "risks/register_pdf.html",
        {
            **_base_context("Risk register"),
            "risks": risks[:PDF_ROW_CAP],
            "total": total,
            "cap": PDF_ROW_CAP,
            "inherent_heatmap": inherent,
            "residual_heatmap": residual,
            "methodology": current_methodology(),
        },
    )


def plan_pdf(user: User) -> bytes:
    actions = plan_queryset(user)
    return render_pdf(
        "risks/plan_pdf.html",
        {
            **_base_context("Risk treatment plan"),
            "actions": actions[:PDF_ROW_CAP],
            "total": actions.count(),
            "cap": PDF_ROW_CAP,
        },
    )


def acceptance_pdf(acceptance: RiskAcceptance) -> bytes:
    return render_pdf(
        "risks/acceptance_pdf.html",
        {
            **_base_context(f"Residual risk acceptance {acceptance.risk.reference}"),
            "acceptance": acceptance,
            "snapshot": acceptance.snapshot,
        },
    )


# --- background report kinds ---------------------------------------------------------------------


def _no_params(params: dict[str, Any], user: User) -> dict[str, Any]:
    return {}


def _acceptance_params(params: dict[str, Any], user: User) -> dict[str, Any]:
    try:
        acceptance_id = int(params.get("acceptance", ""))
    except (TypeError, ValueError) as exc:
        raise ValidationError({"acceptance": "Give the acceptance's id."}) from exc
    if not visible_acceptances(user).filter(pk=acceptance_id).exists():
        raise ValidationError({"acceptance": "No such acceptance is visible to you."})
    return {"acceptance": acceptance_id}


def _build_acceptance(params: dict[str, Any], user: User) -> reports.RenderedFile:
    acceptance = (
        visible_acceptances(user).select_related("risk", "accepted_by", "second_approver").get(pk=params["acceptance"])
    )
    return reports.RenderedFile(
        f"acceptance-{acceptance.risk.reference}-{acceptance.pk}.pdf", "application/pdf", acceptance_pdf(acceptance)
    )


def register_reports() -> None:
    reports.register(
        reports.ReportKind(
            "risk_register_pdf",
            RISK_READERS,
            lambda p: "Risk register, PDF",
            lambda p, user: reports.RenderedFile("risk-register.pdf", "application/pdf", register_pdf(user)),
            _no_params,
        )
    )
    reports.register(
        reports.ReportKind(
            "risk_plan_pdf",
            RISK_READERS,
            lambda p: "Risk treatment plan, PDF",
            lambda p, user: reports.RenderedFile("risk-treatment-plan.pdf", "application/pdf", plan_pdf(user)),
            _no_params,
        )
    )
    reports.register(
        reports.ReportKind(
            "risk_acceptance_pdf",
            RISK_READERS,
            lambda p: f"Risk acceptance record #{p['acceptance']}",
            _build_acceptance,
            _acceptance_params,
        )
    )
