"""Pages of audit programmes, audits, their reports and checklists (htmx in-place rows, as the SoA)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View

from audits import forms, services
from audits.coverage import programme_coverage
from audits.models import (
    Audit,
    AuditProgramme,
    AuditReport,
    ChecklistItem,
    Nonconformity,
)
from audits.services import rules
from audits.services.programme import in_scope_items
from audits.views.common import call_service
from controls.services import EditConflict
from ismsapp.blobs import blob_path
from ismsapp.downloads import attachment
from ismsapp.forms import add_service_errors
from ismsapp.identity import IdentityConfirmedMixin
from ismsapp.services.reports import request_report

# --- programmes -----------------------------------------------------------------------------------


class ProgrammeListView(PermissionRequiredMixin, View):
    permission_required = "audits.view_auditprogramme"

    def get(self, request: HttpRequest) -> HttpResponse:
        programmes = AuditProgramme.objects.for_user(request.user).select_related("owner").annotate(n=Count("audits"))
        return render(
            request,
            "audits/programmes.html",
            {"programmes": programmes, "can_add": request.user.has_perm("audits.add_auditprogramme")},
        )


class ProgrammeEditView(View):
    def programme(self, request: HttpRequest, pk: int | None) -> AuditProgramme | None:
        verb = "change" if pk else "add"
        if not request.user.has_perm(f"audits.{verb}_auditprogramme"):
            raise PermissionDenied("Your role does not plan audit programmes.")
        return get_object_or_404(AuditProgramme.objects.for_user(request.user, "change"), pk=pk) if pk else None

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        programme = self.programme(request, pk)
        form = forms.ProgrammeForm(
            initial=forms.ProgrammeForm.initial_from(programme) if programme else {"owner": request.user}
        )
        return render(request, "audits/programme_form.html", {"programme": programme, "form": form})

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        programme = self.programme(request, pk)
        form = forms.ProgrammeForm(request.POST)
        if form.is_valid():
            saved = call_service(
                form, services.programme.save_programme, actor=request.user, programme=programme, **form.cleaned_data
            )
            if saved is not None:
                messages.success(request, f"Programme “{saved}” saved.")
                return HttpResponseRedirect(reverse("audits:programme", args=[saved.pk]))
        return render(request, "audits/programme_form.html", {"programme": programme, "form": form}, status=400)


class ProgrammeDetailView(PermissionRequiredMixin, View):
    permission_required = "audits.view_auditprogramme"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        programme = get_object_or_404(AuditProgramme.objects.for_user(request.user).select_related("owner"), pk=pk)
        audits = (
            Audit.objects.for_user(request.user)
            .filter(programme=programme)
            .select_related("lead_auditor")
            .annotate(n_controls=Count("controls", distinct=True), n_clauses=Count("clauses", distinct=True))
        )
        coverage = programme_coverage(programme)
        show = request.GET.get("show", "")
        rows = coverage.controls + coverage.clauses
        if show in ("audited", "planned", "never"):
            rows = [row for row in rows if row.state == show]
        elif show == "gaps":
            rows = coverage.yearly_gaps
        return render(
            request,
            "audits/programme.html",
            {
                "programme": programme,
                "audits": audits,
                "coverage": coverage,
                "rows": rows,
                "show": show,
                "can_change": request.user.has_perm("audits.change_auditprogramme"),
                "can_add_audit": request.user.has_perm("audits.add_audit"),
            },
        )


# --- audits ---------------------------------------------------------------------------------------


class AuditListView(PermissionRequiredMixin, View):
    permission_required = "audits.view_audit"

    def get(self, request: HttpRequest) -> HttpResponse:
        audits = (
            Audit.objects.for_user(request.user)
            .select_related("programme", "lead_auditor")
            .annotate(open_ncs=Count("nonconformities", filter=~Q(nonconformities__status="closed")))
            .order_by("-planned_start", "pk")
        )
        status = request.GET.get("status", "")
        if status in Audit.Status.values:
            audits = audits.filter(status=status)
        mine = request.GET.get("mine") == "1"
        if mine:
            audits = audits.filter(pk__in=Audit.objects.assigned_to(request.user).values("pk"))
        return render(
            request,
            "audits/audits.html",
            {"audits": audits, "statuses": Audit.Status.choices, "status": status, "mine": mine},
        )


class AuditEditView(View):
    """Plan an audit of a programme (``programme_pk``) or change an audit's plan and scope (``pk``)."""

    def objects(
        self, request: HttpRequest, programme_pk: int | None, pk: int | None
    ) -> tuple[AuditProgramme, Audit | None]:
        verb = "change" if pk else "add"
        if not request.user.has_perm(f"audits.{verb}_audit"):
            raise PermissionDenied("Your role does not plan audits.")
        if pk:
            audit = get_object_or_404(Audit.objects.for_user(request.user, "change").select_related("programme"), pk=pk)
            return audit.programme, audit
        return get_object_or_404(AuditProgramme.objects.for_user(request.user), pk=programme_pk), None

    def form(self, programme: AuditProgramme, audit: Audit | None, data: Any = None) -> forms.AuditForm:
        initial = forms.AuditForm.initial_from(audit) if audit else {}
        return forms.AuditForm(data, initial=initial, edition=programme.edition, with_auditors=audit is None)

    def render(
        self, request: HttpRequest, programme: AuditProgramme, audit: Audit | None, form: Any, status: int = 200
    ) -> HttpResponse:
        return render(
            request, "audits/audit_form.html", {"programme": programme, "audit": audit, "form": form}, status=status
        )

    def get(self, request: HttpRequest, programme_pk: int | None = None, pk: int | None = None) -> HttpResponse:
        programme, audit = self.objects(request, programme_pk, pk)
        return self.render(request, programme, audit, self.form(programme, audit))

    def post(self, request: HttpRequest, programme_pk: int | None = None, pk: int | None = None) -> HttpResponse:
        programme, audit = self.objects(request, programme_pk, pk)
        form = self.form(programme, audit, request.POST)
        if form.is_valid():
            if audit is None:
                saved = call_service(
                    form, services.create_audit, actor=request.user, programme=programme, **form.cleaned_data
                )
            else:
                saved = call_service(form, services.update_audit, actor=request.user, audit=audit, **form.cleaned_data)
            if saved is not None:
                messages.success(request, f"Audit “{saved}” saved.")
                return HttpResponseRedirect(reverse("audits:audit", args=[saved.pk]))
        return self.render(request, programme, audit, form, status=400)


class AssignAuditorsView(View):
    def audit(self, request: HttpRequest, pk: int) -> Audit:
        if not request.user.has_perm("audits.change_audit"):
            raise PermissionDenied("Only compliance officers assign auditors.")
        return get_object_or_404(Audit.objects.for_user(request.user, "change"), pk=pk)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        audit = self.audit(request, pk)
        form = forms.AssignAuditorsForm(initial={"lead_auditor": audit.lead_auditor, "team": list(audit.team.all())})
        return render(request, "audits/assign.html", {"audit": audit, "form": form})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        audit = self.audit(request, pk)
        form = forms.AssignAuditorsForm(request.POST)
        if form.is_valid() and call_service(
            form, services.assign_auditors, actor=request.user, audit=audit, **form.cleaned_data
        ):
            messages.success(request, "Auditors assigned.")
            return HttpResponseRedirect(reverse("audits:audit", args=[audit.pk]))
        return render(request, "audits/assign.html", {"audit": audit, "form": form}, status=400)


class AuditDetailView(PermissionRequiredMixin, View):
    permission_required = "audits.view_audit"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        audit = get_object_or_404(
            Audit.objects.for_user(request.user).select_related("programme", "lead_auditor"), pk=pk
        )
        items = in_scope_items(audit)
        findings = (
            Nonconformity.objects.for_user(request.user)
            .filter(audit=audit)
            .select_related("control", "clause")
            .order_by("pk")
        )
        final_report = AuditReport.objects.filter(audit=audit).select_related("finalised_by").first()
        can_record = final_report is None and rules.can_record_results(request.user, audit)
        by_result: dict[str, int] = {}
        for item in items:
            label = item.get_result_display() if item.result else "not recorded"
            by_result[label] = by_result.get(label, 0) + 1
        return render(
            request,
            "audits/audit.html",
            {
                "audit": audit,
                "team": list(audit.team.all()),
                "controls": list(audit.controls.order_by("position")),
                "clauses": list(audit.clauses.order_by("position")),
                "overrides": audit.impartiality_overrides.select_related("auditor", "granted_by", "control", "clause"),
                "items": [item_row(item) for item in items],
                "by_result": by_result,
                "findings": findings,
                "can_record": can_record,
                "can_manage": rules.can_manage_audit(request.user, audit),
                "can_change": request.user.has_perm("audits.change_audit")
                and audit.status != Audit.Status.CLOSED
                and final_report is None,
                "can_generate": audit.status in (Audit.Status.PLANNED, Audit.Status.IN_PROGRESS)
                and (rules.can_manage_audit(request.user, audit) or rules.is_audit_member(request.user, audit)),
                "next_statuses": [
                    (status, Audit.Status(status).label)
                    for status in services.programme.TRANSITIONS[audit.status]
                    if final_report is None or status == Audit.Status.CLOSED
                ],
                "final_report": final_report,
                "can_finalise": final_report is None and rules.can_finalise_report(request.user, audit),
            },
        )


class AuditStatusView(PermissionRequiredMixin, View):
    permission_required = "audits.view_audit"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        audit = get_object_or_404(Audit.objects.for_user(request.user), pk=pk)
        try:
            audit = services.change_audit_status(actor=request.user, audit=audit, status=request.POST.get("status", ""))
            messages.success(request, f"The audit is now {audit.get_status_display().lower()}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return HttpResponseRedirect(reverse("audits:audit", args=[audit.pk]))


# --- the audit report -----------------------------------------------------------------------------


class ReportDraftView(PermissionRequiredMixin, View):
    """Render the draft report in the background; the status page offers the download."""

    permission_required = "audits.view_audit"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        audit = get_object_or_404(Audit.objects.for_user(request.user), pk=pk)
        report = request_report(actor=request.user, kind="audit_report_pdf", params={"audit": audit.pk})
        return HttpResponseRedirect(reverse("report_status", args=[report.pk]))


class FinaliseGate(PermissionRequiredMixin):
    """Refuse whoever may not finalise before asking them to confirm it's them."""

    permission_required = "audits.view_audit"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and request.user.has_perm(self.permission_required):
            self.audit = get_object_or_404(Audit.objects.for_user(request.user), pk=kwargs["pk"])
            if not rules.can_manage_audit(request.user, self.audit):
                raise PermissionDenied("Only a compliance officer or the lead auditor may finalise the report.")
        return super().dispatch(request, *args, **kwargs)


class ReportFinaliseView(FinaliseGate, IdentityConfirmedMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            report = services.finalise_audit_report(actor=request.user, audit=self.audit)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"The report is final; the SHA-256 of its PDF begins {report.sha256[:12]}.")
        return HttpResponseRedirect(reverse("audits:audit", args=[pk]) + "#report")


class FinalReportDownloadView(PermissionRequiredMixin, View):
    """The frozen PDF, served only if its bytes still have the digest recorded at finalisation."""

    permission_required = "audits.view_audit"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        audit = get_object_or_404(Audit.objects.for_user(request.user), pk=pk)
        report = AuditReport.objects.filter(audit=audit).first()
        if report is None:
            return HttpResponse("The report of this audit is not final yet.", status=409, content_type="text/plain")
        content = blob_path(report.sha256).read_bytes()
        if hashlib.sha256(content).hexdigest() != report.sha256:
            return HttpResponse(
                "The stored PDF no longer matches the SHA-256 recorded when the report was finalised.",
                status=409,
                content_type="text/plain",
            )
        return attachment(
            request,
            content,
            filename=report.filename,
            content_type="application/pdf",
            obj=report,
            detail={"sha256": report.sha256},
        )


class GenerateChecklistView(PermissionRequiredMixin, View):
    permission_required = "audits.view_audit"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        audit = get_object_or_404(Audit.objects.for_user(request.user), pk=pk)
        try:
            added = services.generate_checklist(actor=request.user, audit=audit)
            messages.success(request, f"{added} checklist item(s) added from the scope.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return HttpResponseRedirect(reverse("audits:audit", args=[audit.pk]) + "#checklist")


# --- checklist rows (htmx) ------------------------------------------------------------------------


def item_row(item: ChecklistItem) -> dict[str, Any]:
    """What a checklist row shows (plain values for the Jinja2 row template)."""
    return {
        "pk": item.pk,
        "ref": item.requirement.ref,
        "title": item.requirement.title,
        "kind": "control" if item.control_id else "clause",
        "question": item.question,
        "result": item.result,
        "result_label": item.get_result_display() if item.result else "Not recorded",
        "is_nonconformity": item.is_nonconformity,
        "notes": item.notes,
        "sample_description": item.sample_description,
        "sample_size": item.sample_size,
        "row_version": item.row_version,
        "updated_by": item.updated_by.get_username() if item.updated_by_id else "",
        "row_url": reverse("audits:item_row", args=[item.pk]),
        "edit_url": reverse("audits:item_edit", args=[item.pk]),
        "raise_url": reverse("audits:item_raise", args=[item.pk]),
    }


def _item(request: HttpRequest, pk: int) -> ChecklistItem:
    return get_object_or_404(
        ChecklistItem.objects.for_user(request.user).select_related("audit", "control", "clause", "updated_by"), pk=pk
    )


class ChecklistItemRowView(PermissionRequiredMixin, View):
    """One checklist row in view mode (the "Cancel" of an inline edit)."""

    permission_required = "audits.view_checklistitem"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        item = _item(request, pk)
        can_record = rules.can_record_results(request.user, item.audit)
        return render(request, "audits/checklist_row.jinja", {"row": item_row(item), "can_record": can_record})


class ChecklistItemEditView(PermissionRequiredMixin, View):
    """In-place edit of one checklist item: 400 with field errors, 409 when someone saved it since."""

    permission_required = "audits.view_checklistitem"

    def item(self, request: HttpRequest, pk: int) -> ChecklistItem:
        item = _item(request, pk)
        rules.require_audit_member(request.user, item.audit, "record checklist results")
        return item

    def render_form(
        self, request: HttpRequest, item: ChecklistItem, form: Any, status: int = 200, conflict: str = ""
    ) -> HttpResponse:
        context = {"row": item_row(item), "form": form, "conflict": conflict, "audit": item.audit}
        template = "audits/_checklist_row_form.html" if request.htmx else "audits/checklist_edit_page.html"
        return render(request, template, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        item = self.item(request, pk)
        return self.render_form(
            request, item, forms.ChecklistResultForm(initial=forms.ChecklistResultForm.initial_from(item))
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        item = self.item(request, pk)
        form = forms.ChecklistResultForm(request.POST)
        if not form.is_valid():
            return self.render_form(request, item, form, status=400)
        data = dict(form.cleaned_data)
        expected = data.pop("row_version")
        try:
            saved = services.record_checklist_result(actor=request.user, item=item, expected_version=expected, **data)
        except EditConflict as conflict:
            current = forms.ChecklistResultForm(initial=forms.ChecklistResultForm.initial_from(conflict.current))
            return self.render_form(request, conflict.current, current, status=409, conflict=str(conflict))
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.render_form(request, item, form, status=400)
        if request.htmx:
            return render(request, "audits/checklist_row.jinja", {"row": item_row(saved), "can_record": True})
        messages.success(request, f"{saved.requirement.ref} saved.")
        return HttpResponseRedirect(reverse("audits:audit", args=[saved.audit_id]) + f"#item-{saved.pk}")


class RaiseFromItemView(PermissionRequiredMixin, View):
    permission_required = "audits.view_checklistitem"

    def item(self, request: HttpRequest, pk: int) -> ChecklistItem:
        item = _item(request, pk)
        rules.require_audit_member(request.user, item.audit, "raise nonconformities from its checklist")
        return item

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        item = self.item(request, pk)
        form = forms.FindingForm(initial={"evidence": item.notes})
        return render(request, "audits/raise.html", {"item": item, "form": form})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        item = self.item(request, pk)
        form = forms.FindingForm(request.POST)
        if form.is_valid():
            nc = call_service(
                form, services.raise_nonconformity, actor=request.user, checklist_item=item, **form.cleaned_data
            )
            if nc is not None:
                messages.success(request, f"{nc.reference} raised.")
                return HttpResponseRedirect(reverse("audits:nonconformity", args=[nc.pk]))
        return render(request, "audits/raise.html", {"item": item, "form": form}, status=400)
