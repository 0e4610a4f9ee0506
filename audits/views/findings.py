"""Pages of nonconformities (register, exports, raising, each step of clause 10.2) and "My actions"."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from audits import forms, registers, services
from audits.models import (
    CorrectiveAction,
    Nonconformity,
)
from audits.services import rules
from audits.views.common import call_service, require_register_reader
from ismsapp.downloads import attachment

# --- nonconformities ------------------------------------------------------------------------------


class RegisterView(View):
    """The nonconformity register: everything for the audit roles, the risk owner's own (those on
    controls treating their risks)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        require_register_reader(request.user)
        today = timezone.localdate()
        form = forms.RegisterFilterForm(request.GET or None)
        nonconformities = registers.register_nonconformities(request.user, form, today)[:500]
        return render(
            request,
            "audits/register.html",
            {
                "form": form,
                "nonconformities": nonconformities,
                "today": today,
                "can_raise": request.user.has_perm("audits.add_nonconformity"),
                "query": request.GET.urlencode(),
            },
        )


class RegisterExportView(View):
    """The register with the page's filters and visibility, as CSV (streamed) or XLSX."""

    def get(self, request: HttpRequest, fmt: str) -> HttpResponse:
        require_register_reader(request.user)
        if fmt not in ("csv", "xlsx"):
            raise Http404("Export as csv or xlsx.")
        today = timezone.localdate()
        form = forms.RegisterFilterForm(request.GET or None)
        if form.is_bound and not form.is_valid():
            return HttpResponse(
                "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()),
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        name = f"nonconformity-register-{today:%Y-%m-%d}"
        if fmt == "csv":
            return attachment(
                request,
                registers.register_csv(request.user, form, today),
                filename=f"{name}.csv",
                content_type="text/csv; charset=utf-8",
            )
        return attachment(
            request,
            registers.register_xlsx(request.user, form, today),
            filename=f"{name}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )


class RaiseDirectView(PermissionRequiredMixin, View):
    permission_required = "audits.add_nonconformity"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "audits/raise.html", {"item": None, "form": forms.DirectNonconformityForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = forms.DirectNonconformityForm(request.POST)
        if form.is_valid():
            nc = call_service(form, services.raise_nonconformity, actor=request.user, **form.cleaned_data)
            if nc is not None:
                messages.success(request, f"{nc.reference} raised.")
                return HttpResponseRedirect(reverse("audits:nonconformity", args=[nc.pk]))
        return render(request, "audits/raise.html", {"item": None, "form": form}, status=400)


def _nonconformity(request: HttpRequest, pk: int) -> Nonconformity:
    return get_object_or_404(
        Nonconformity.objects.for_user(request.user).select_related(
            "control", "clause", "audit", "checklist_item", "raised_by", "closed_by"
        ),
        pk=pk,
    )


class NonconformityView(View):
    """The nonconformity with its analysis, actions and verifications; the forms of the next step
    are offered only to who may take it (the services decide again on submit)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self.page(request, _nonconformity(request, pk))

    def page(self, request: HttpRequest, nc: Nonconformity, status: int = 200, **forms_: Any) -> HttpResponse:
        user = request.user
        actions = list(nc.corrective_actions.select_related("owner"))
        can_change = user.has_perm("audits.change_nonconformity") and nc.status != Nonconformity.Status.CLOSED
        context = {
            "nc": nc,
            "actions": actions,
            "today": timezone.localdate(),
            "verifications": nc.verifications.select_related("verifier"),
            "can_change": can_change,
            "can_add_action": user.has_perm("audits.add_correctiveaction")
            and nc.status in (Nonconformity.Status.OPEN, Nonconformity.Status.AWAITING_VERIFICATION),
            "can_verify": rules.can_verify(user, nc),
            "can_close": rules.can_close(user, nc),
            "analysis_form": forms_.get("analysis_form")
            or forms.AnalysisForm(initial={name: getattr(nc, name) for name in forms.AnalysisForm.base_fields}),
            "action_form": forms_.get("action_form") or forms.CorrectiveActionForm(),
            "verification_form": forms_.get("verification_form") or forms.VerificationForm(),
        }
        return render(request, "audits/nonconformity.html", context, status=status)


class NonconformityStepView(NonconformityView):
    """POST one step of the nonconformity's life: ``analysis``, ``action``, ``verify``, ``close``."""

    http_method_names = ["post"]
    step = ""
    STEP_PERMISSIONS = {
        "analysis": ("audits.change_nonconformity", "record the analysis of nonconformities"),
        "action": ("audits.add_correctiveaction", "plan corrective actions"),
        "verify": ("audits.add_effectivenessverification", "verify corrective actions"),
        "close": ("audits.close_nonconformity", "close nonconformities"),
    }

    # step -> (its form, the service it calls, the message on success, the form's name on the page)
    FORM_STEPS: dict[str, tuple[type[Any], Any, str, str]] = {
        "analysis": (forms.AnalysisForm, services.update_nonconformity, "Analysis saved.", "analysis_form"),
        "action": (
            forms.CorrectiveActionForm,
            services.add_corrective_action,
            "Corrective action added.",
            "action_form",
        ),
        "verify": (
            forms.VerificationForm,
            services.verify_effectiveness,
            "Verification recorded.",
            "verification_form",
        ),
    }

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        nc = _nonconformity(request, pk)
        user = request.user
        rules.require(user, *self.STEP_PERMISSIONS[self.step])
        if self.step in self.FORM_STEPS:
            form_class, service, success, name = self.FORM_STEPS[self.step]
            form = form_class(request.POST)
            if form.is_valid() and call_service(form, service, actor=user, nonconformity=nc, **form.cleaned_data):
                return self.done(request, nc, success)
            return self.page(request, nc, status=400, **{name: form})
        try:
            services.close_nonconformity(actor=user, nonconformity=nc)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(reverse("audits:nonconformity", args=[nc.pk]))
        return self.done(request, nc, f"{nc.reference} closed.")

    def done(self, request: HttpRequest, nc: Nonconformity, message: str) -> HttpResponse:
        messages.success(request, message)
        return HttpResponseRedirect(reverse("audits:nonconformity", args=[nc.pk]))


# --- my actions -----------------------------------------------------------------------------------


class MyActionsView(View):
    """Every user given a corrective action updates it here (whatever their role)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        actions = (
            CorrectiveAction.objects.owned_by(request.user)
            .select_related("nonconformity", "nonconformity__control", "nonconformity__clause")
            .order_by("status", "due_date", "pk")
        )
        return render(
            request,
            "audits/my_actions.html",
            {"actions": actions, "today": timezone.localdate(), "form": forms.ActionProgressForm()},
        )


class ActionUpdateView(View):
    """The owner reports progress on, or completes, their action."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        action = get_object_or_404(CorrectiveAction.objects.for_user(request.user).select_related("owner"), pk=pk)
        form = forms.ActionProgressForm(request.POST)
        if not form.is_valid():
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
            return HttpResponseRedirect(reverse("audits:my_actions"))
        data = form.cleaned_data
        try:
            if data["complete"]:
                services.complete_action(
                    actor=request.user,
                    action=action,
                    completed_on=data["completed_on"],
                    progress_note=data["progress_note"],
                )
                messages.success(request, "Action completed; an auditor will verify its effectiveness.")
            else:
                services.report_action_progress(actor=request.user, action=action, progress_note=data["progress_note"])
                messages.success(request, "Progress saved.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return HttpResponseRedirect(reverse("audits:my_actions"))
