"""Pages of the risk register: register and heatmaps, my risks, risk detail and editing,
residual-risk acceptance, assets, methodology, exports and imports."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import UserPassesTestMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from ismsapp import identity
from ismsapp.downloads import attachment
from ismsapp.forms import add_service_errors
from ismsapp.services.reports import request_report
from risks import services
from risks.forms import (
    AcceptForm,
    ActionForm,
    ApprovalForm,
    AssetForm,
    ImportForm,
    ReasonForm,
    RegisterFilterForm,
    RiskForm,
    default_expiry,
)
from risks.models import Asset, Risk, RiskAcceptance, RiskMethodology, TreatmentAction
from risks.reports import heatmaps, plan_xlsx, register_xlsx
from risks.sections import sections_for
from risks.services import imports

PAGE_SIZE = 50


class RuleRequiredMixin(UserPassesTestMixin):
    """A page for the users a named rule of ``risks.services`` admits (others: 403; anonymous: login)."""

    rule: Any  # staticmethod(services.can_...)

    def test_func(self) -> bool:
        return bool(self.rule(self.request.user))


class RiskReaderMixin(RuleRequiredMixin):
    """Risk owners (their own risks), and roles that read the whole register."""

    rule = staticmethod(services.can_read_risk_register)
    permission_denied_message = "Your role has no access to the risk register."


class RegisterView(RiskReaderMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        visible = services.visible_risks(request.user)
        form = RegisterFilterForm(request.GET or None)
        risks = form.apply(visible.select_related("owner"))
        page = Paginator(risks, PAGE_SIZE).get_page(request.GET.get("page"))
        inherent, residual = heatmaps(visible)
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "risks/register.html",
            {
                "form": form,
                "page": page,
                "filter_query": query.urlencode(),
                "inherent_heatmap": inherent,
                "residual_heatmap": residual,
                "can_add": services.can_register_risk(request.user),
            },
        )


class MyRisksView(RuleRequiredMixin, View):
    rule = staticmethod(services.may_own_risks)

    def get(self, request: HttpRequest) -> HttpResponse:
        mine = (
            services.visible_risks(request.user)
            .filter(owner=request.user)
            .select_related("owner")
            .prefetch_related(
                Prefetch(
                    "acceptances",
                    queryset=RiskAcceptance.objects.filter(status__in=RiskAcceptance.OPEN),
                    to_attr="open_acceptances",
                )
            )
        )
        to_decide = [r for r in mine if r.status in (Risk.Status.TREATED, Risk.Status.ACCEPTANCE_REQUIRED)]
        soon = timezone.localdate() + timezone.timedelta(days=60)
        expiring = (
            services.visible_acceptances(request.user)
            .filter(risk__owner=request.user, status=RiskAcceptance.Status.ACTIVE, expires_on__lte=soon)
            .select_related("risk")
            .order_by("expires_on")
        )
        return render(
            request,
            "risks/my_risks.html",
            {
                "risks": mine,
                "to_decide": to_decide,
                "expiring": expiring,
            },
        )


class RiskDetailView(RiskReaderMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        risk = get_object_or_404(
            services.visible_risks(request.user)
            .select_related("owner", "methodology", "residual_assessed_by")
            .prefetch_related("assets", "controls__soa_entry"),
            pk=pk,
        )
        user = request.user
        acceptances = [
            (
                acceptance,
                services.can_give_second_approval(user, acceptance),
                services.can_revoke_acceptance(user, acceptance),
            )
            for acceptance in risk.acceptances.select_related("accepted_by", "second_approver")
        ]
        return render(
            request,
            "risks/detail.html",
            {
                "risk": risk,
                "actions": risk.actions.select_related("owner"),
                "acceptances": acceptances,
                "controls": [(c, getattr(c, "soa_entry", None)) for c in risk.controls.all()],
                "can_edit": services.can_edit_risk(user, risk),
                "can_plan": services.can_plan_treatment(user, risk),
                "can_report_progress": services.can_report_progress(user, risk),
                "can_accept": services.can_accept_residual_risk(user, risk) and services.awaits_acceptance(risk),
                "methodology": risk.methodology,
                "sections": sections_for(user, risk),
            },
        )


class RiskEditView(View):
    """Create (``pk`` absent; compliance officers, ISMS admins) or change a risk. Its owner changes
    the description only; the assessment is shown to them read-only."""

    def risk(self, request: HttpRequest, pk: int | None) -> Risk | None:
        if pk is None:
            if not services.can_register_risk(request.user):
                raise PermissionDenied("Your role cannot register risks.")
            return None
        risk = get_object_or_404(services.visible_risks(request.user).select_related("owner", "methodology"), pk=pk)
        if not services.can_edit_risk(request.user, risk):
            raise PermissionDenied("You cannot change this risk.")
        return risk

    def build_form(self, request: HttpRequest, risk: Risk | None, data: Any = None) -> RiskForm:
        methodology = risk.methodology if risk else services.current_methodology()
        form = RiskForm(
            data,
            initial=RiskForm.initial_from(risk) if risk else {},
            methodology=methodology,
            editable=services.editable_risk_fields(request.user, risk),
        )
        if "assets" in form.fields:
            form.fields["assets"].queryset = Asset.objects.for_user(request.user, "view").order_by("name")
        return form

    def render_form(self, request: HttpRequest, risk: Risk | None, form: RiskForm, status: int = 200) -> HttpResponse:
        locked = risk is not None and not services.can_change_risk_assessment(request.user, risk)
        return render(request, "risks/form.html", {"risk": risk, "form": form, "locked": locked}, status=status)

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        risk = self.risk(request, pk)
        return self.render_form(request, risk, self.build_form(request, risk))

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        risk = self.risk(request, pk)
        form = self.build_form(request, risk, request.POST)
        if form.is_valid():
            values, assets, controls = form.risk_values()
            try:
                if risk is None:
                    risk = services.create_risk(
                        actor=request.user, assets=assets or (), controls=controls or (), **values
                    )
                else:
                    risk = services.update_risk(
                        actor=request.user, risk=risk, assets=assets, controls=controls, **values
                    )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{risk.reference} saved.")
                return HttpResponseRedirect(reverse("risks:detail", args=[risk.pk]))
        return self.render_form(request, risk, form, status=400)


class ActionEditView(View):
    """Managers plan a treatment action; the risk's owner reports its progress (status, note)."""

    def get_objects(self, request: HttpRequest, pk: int, action_pk: int | None) -> tuple[Risk, TreatmentAction | None]:
        risk = get_object_or_404(services.visible_risks(request.user), pk=pk)
        action = (
            get_object_or_404(services.visible_actions(request.user).filter(risk=risk), pk=action_pk)
            if action_pk
            else None
        )
        allowed = (
            services.can_plan_treatment(request.user, risk)
            if action is None
            else services.can_update_action_progress(request.user, action)
        )
        if not allowed:
            raise PermissionDenied("You cannot change the treatment of this risk.")
        return risk, action

    def build_form(
        self, request: HttpRequest, risk: Risk, action: TreatmentAction | None, data: Any = None
    ) -> ActionForm:
        return ActionForm(
            data,
            instance=action,
            editable=services.editable_action_fields(request.user, action, risk),
            statuses=services.progress_statuses(request.user, action, risk),
        )

    def render_form(
        self, request: HttpRequest, risk: Risk, action: TreatmentAction | None, form: ActionForm, status: int = 200
    ) -> HttpResponse:
        context = {
            "risk": risk,
            "action": action,
            "form": form,
            "planning": services.can_plan_treatment(request.user, risk),
        }
        return render(request, "risks/action_form.html", context, status=status)

    def get(self, request: HttpRequest, pk: int, action_pk: int | None = None) -> HttpResponse:
        risk, action = self.get_objects(request, pk, action_pk)
        return self.render_form(request, risk, action, self.build_form(request, risk, action))

    def post(self, request: HttpRequest, pk: int, action_pk: int | None = None) -> HttpResponse:
        risk, action = self.get_objects(request, pk, action_pk)
        form = self.build_form(request, risk, action, request.POST)
        if form.is_valid():
            try:
                services.save_action(actor=request.user, risk=risk, action=action, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Treatment action saved.")
                return HttpResponseRedirect(reverse("risks:detail", args=[risk.pk]))
        return self.render_form(request, risk, action, form, status=400)


class AcceptView(View):
    """The owner accepts the residual risk: password, justification, expiry."""

    def get_risk(self, request: HttpRequest, pk: int) -> Risk:
        return get_object_or_404(services.visible_risks(request.user).select_related("methodology"), pk=pk)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        risk = self.get_risk(request, pk)
        services.ensure_owner(request.user, risk, request)
        form = AcceptForm(initial={"expires_on": default_expiry(risk)}, user=request.user)
        return render(request, "risks/accept.html", {"risk": risk, "form": form, "terms": services.terms_for(risk)})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        risk = self.get_risk(request, pk)
        services.ensure_owner(request.user, risk, request)
        form = AcceptForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                acceptance = services.accept_residual_risk(
                    actor=request.user, risk=risk, request=request, **form.cleaned_data
                )
            except identity.IdentityLockedOut as exc:
                return identity.handle_identity_refusal(request, exc)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                text = (
                    "Residual risk accepted."
                    if acceptance.status == RiskAcceptance.Status.ACTIVE
                    else "Residual risk accepted; it is above the risk appetite, so it counts once an ISMS admin "
                    "gives the second approval."
                )
                messages.success(request, text)
                return HttpResponseRedirect(reverse("risks:detail", args=[risk.pk]))
        return render(
            request,
            "risks/accept.html",
            {"risk": risk, "form": form, "terms": services.terms_for(risk)},
            status=400,
        )


def _acceptance(request: HttpRequest, pk: int) -> RiskAcceptance:
    return get_object_or_404(services.visible_acceptances(request.user).select_related("risk"), pk=pk)


class ApproveView(RuleRequiredMixin, identity.IdentityConfirmedMixin, View):
    http_method_names = ["post"]
    rule = staticmethod(services.can_give_second_approval)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        acceptance = _acceptance(request, pk)
        form = ApprovalForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose to approve or refuse.")
        else:
            try:
                services.decide_second_approval(
                    actor=request.user,
                    acceptance=acceptance,
                    approve=form.cleaned_data["decision"] == "approve",
                    note=form.cleaned_data["note"],
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, "Second approval recorded.")
        return HttpResponseRedirect(reverse("risks:detail", args=[acceptance.risk_id]))


class RevokeView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        acceptance = _acceptance(request, pk)
        form = ReasonForm(request.POST)
        try:
            if not form.is_valid():
                raise ValidationError({"reason": "Say why the acceptance is revoked."})
            services.revoke_acceptance(actor=request.user, acceptance=acceptance, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Acceptance revoked: the risk needs a new decision.")
        return HttpResponseRedirect(reverse("risks:detail", args=[acceptance.risk_id]))


class AcceptancePdfView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        acceptance = _acceptance(request, pk)
        report = request_report(actor=request.user, kind="risk_acceptance_pdf", params={"acceptance": acceptance.pk})
        return HttpResponseRedirect(reverse("report_status", args=[report.pk]))


class ExportView(RiskReaderMixin, View):
    """XLSX at once; PDF in the background (POST)."""

    BUILDERS = {"register": register_xlsx, "plan": plan_xlsx}
    PDF_KINDS = {"register": "risk_register_pdf", "plan": "risk_plan_pdf"}

    def get(self, request: HttpRequest, what: str, fmt: str) -> HttpResponse:
        if what not in self.BUILDERS or fmt != "xlsx":
            raise Http404
        name = "risk-register" if what == "register" else "risk-treatment-plan"
        return attachment(
            request,
            self.BUILDERS[what](request.user),
            filename=f"{name}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    def post(self, request: HttpRequest, what: str, fmt: str) -> HttpResponse:
        if what not in self.PDF_KINDS or fmt != "pdf":
            raise Http404
        report = request_report(actor=request.user, kind=self.PDF_KINDS[what], params={})
        return HttpResponseRedirect(reverse("report_status", args=[report.pk]))


class AssetListView(RuleRequiredMixin, View):
    rule = staticmethod(services.can_read_assets)

    def get(self, request: HttpRequest) -> HttpResponse:
        assets = (
            Asset.objects.for_user(request.user, "view")
            .select_related("owner")
            .annotate(risk_count=Count("risks", filter=~Q(risks__status=Risk.Status.CLOSED)))
        )
        return render(
            request, "risks/assets.html", {"assets": assets, "can_change": services.can_manage_assets(request.user)}
        )


class AssetEditView(RuleRequiredMixin, View):
    rule = staticmethod(services.can_manage_assets)

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        asset = get_object_or_404(Asset.objects.for_user(request.user, "change"), pk=pk) if pk else None
        return render(request, "risks/asset_form.html", {"asset": asset, "form": AssetForm(instance=asset)})

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        asset = get_object_or_404(Asset.objects.for_user(request.user, "change"), pk=pk) if pk else None
        form = AssetForm(request.POST, instance=asset)
        if form.is_valid():
            try:
                services.save_asset(actor=request.user, asset=asset, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Asset {form.cleaned_data['name']} saved.")
                return HttpResponseRedirect(reverse("risks:assets"))
        return render(request, "risks/asset_form.html", {"asset": asset, "form": form}, status=400)


class ImportView(RuleRequiredMixin, View):
    """Import assets (CSV/XLSX) or risks (XLSX): all rows or none, with a per-row report."""

    IMPORTERS = {"assets": imports.import_assets, "risks": imports.import_risks}
    rule = staticmethod(services.can_import_into_register)

    def get(self, request: HttpRequest, what: str) -> HttpResponse:
        if what not in self.IMPORTERS:
            raise Http404
        return render(
            request, "risks/import.html", {"what": what, "form": ImportForm(), "columns": imports.COLUMNS[what]}
        )

    def post(self, request: HttpRequest, what: str) -> HttpResponse:
        if what not in self.IMPORTERS:
            raise Http404
        form = ImportForm(request.POST, request.FILES)
        report = None
        if form.is_valid():
            report = self.IMPORTERS[what](actor=request.user, upload=form.cleaned_data["file"])
            if report.ok:
                messages.success(request, f"{report.created} {what} imported.")
                return HttpResponseRedirect(reverse("risks:assets" if what == "assets" else "risks:register"))
        return render(
            request,
            "risks/import.html",
            {"what": what, "form": form, "report": report, "columns": imports.COLUMNS[what]},
            status=400,
        )


class MethodologyView(RuleRequiredMixin, View):
    rule = staticmethod(services.can_read_methodology)

    def get(self, request: HttpRequest) -> HttpResponse:
        current = services.current_methodology()
        rows = [
            (
                step,
                [
                    current.level_info(current.matrix[f"{step['value']},{impact['value']}"])
                    for impact in current.impact_scale
                ],
            )
            for step in reversed(current.likelihood_scale)
        ]
        return render(
            request,
            "risks/methodology.html",
            {
                "methodology": current,
                "rows": rows,
                "versions": RiskMethodology.objects.for_user(request.user, "view")
                .annotate(risk_count=Count("risks"))
                .order_by("-version"),
            },
        )
