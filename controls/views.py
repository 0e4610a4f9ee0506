"""Pages of the catalogue and the Statement of Applicability (htmx for inline row edits)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View

from controls import services
from controls.forms import ClauseEntryForm, PublishForm, SoAEntryForm, SoAFilterForm, TransitionForm
from controls.models import Clause, ClauseEntry, Control, ControlMapping, Edition, SoAEntry, SoAVersion
from controls.reports import export_basename, published_version, soa_csv, soa_view_for, soa_xlsx
from controls.services import transition_2013_to_2022
from controls.soa import SoAView, clause_rows, diff_views, soa_rows
from ismsapp.downloads import attachment
from ismsapp.forms import add_service_errors
from ismsapp.identity import IdentityConfirmedMixin
from ismsapp.services.reports import request_report

EDITIONS = dict(Edition.choices)


def _version_param(request: HttpRequest, name: str = "version") -> int | None:
    raw = request.GET.get(name, "") or request.POST.get(name, "")
    if raw in ("", "draft"):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise Http404(f"No such version: {raw!r}") from exc


def _view_or_404(edition: str, number: int | None, *, with_attributes: bool = True) -> SoAView:
    try:
        return soa_view_for(edition, number, with_attributes=with_attributes)
    except services.AlteredVersionError:
        raise
    except ValidationError as exc:
        raise Http404(" ".join(exc.messages)) from exc


class RefuseAlteredVersionMixin:
    """Pages showing or exporting a published version answer 409 with an explanation when its
    snapshot was altered after publication (the refusal is already in the audit trail)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        except services.AlteredVersionError as exc:
            return render(
                request,
                "controls/altered_version.html",
                {"message": str(exc), "version": exc.version},
                status=409,
            )


class CatalogueView(PermissionRequiredMixin, View):
    permission_required = "controls.view_control"

    def get(self, request: HttpRequest) -> HttpResponse:
        edition = request.GET.get("edition", Edition.ISO27001_2022)
        if edition not in EDITIONS:
            edition = Edition.ISO27001_2022
        query = request.GET.get("q", "").strip()[:100]
        other = "control_2013" if edition == Edition.ISO27001_2022 else "control_2022"
        mine = "control_2022" if other == "control_2013" else "control_2013"
        controls = (
            Control.objects.for_user(request.user, "view")
            .filter(edition=edition)
            .select_related("section", "objective")
            .prefetch_related(
                "attributes",
                Prefetch(
                    "mapped_from" if mine == "control_2022" else "mapped_to",
                    queryset=ControlMapping.objects.select_related(other),
                    to_attr="mappings",
                ),
            )
            .order_by("position")
        )
        if query:
            controls = controls.filter(Q(ref__icontains=query) | Q(title__icontains=query))
        rows = [(control, [getattr(m, other) for m in control.mappings]) for control in controls]
        return render(
            request,
            "controls/catalogue.html",
            {
                "edition": edition,
                "edition_label": EDITIONS[edition],
                "editions": EDITIONS,
                "rows": rows,
                "q": query,
            },
        )


class SoAPageView(RefuseAlteredVersionMixin, PermissionRequiredMixin, View):
    permission_required = "controls.view_soaentry"

    def get(self, request: HttpRequest, edition: str) -> HttpResponse:
        view = _view_or_404(edition, _version_param(request), with_attributes=False)
        form = SoAFilterForm(request.GET or None, rows=view.rows, edition=edition)
        rows = form.apply(view.rows)
        return render(
            request,
            "controls/soa.html",
            {
                "view": view,
                "edition_label": EDITIONS[edition],
                "editions": EDITIONS,
                "form": form,
                "sections": view.sections(rows),
                "shown": len(rows),
                "summary": view.summary(),
                "versions": SoAVersion.objects.for_user(request.user, "view")
                .filter(edition=edition)
                .only("number", "approved_on"),
                "can_edit": view.is_draft and request.user.has_perm("controls.change_soaentry"),
                "can_edit_clauses": view.is_draft and request.user.has_perm("controls.change_clauseentry"),
                "can_publish": request.user.has_perm("controls.publish_soaversion"),
            },
        )


def soa_default(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("controls.view_soaentry"):
        raise Http404
    return HttpResponseRedirect(reverse("controls:soa", args=[Edition.ISO27001_2022]))


class _RowEditView(PermissionRequiredMixin, View):
    """Inline edit of one tracked row: GET the form, POST to save; 400 with field errors,
    409 when someone saved the row since it was opened. Works without htmx as a plain page."""

    model: type[SoAEntry] | type[ClauseEntry]
    form_class: type[SoAEntryForm] | type[ClauseEntryForm]
    row_template: str
    form_template: str

    def entry(self, request: HttpRequest, pk: int) -> Any:
        return get_object_or_404(self.model.objects.for_user(request.user, "change"), pk=pk)

    def row(self, entry: Any) -> Any:
        raise NotImplementedError

    def save(self, request: HttpRequest, entry: Any, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def render_row(self, request: HttpRequest, entry: Any, status: int = 200) -> HttpResponse:
        return render(request, self.row_template, {"row": self.row(entry), "can_edit": True}, status=status)

    def render_form(
        self, request: HttpRequest, entry: Any, form: Any, status: int = 200, conflict: str = ""
    ) -> HttpResponse:
        template = self.form_template if request.htmx else "controls/row_edit_page.html"
        return render(
            request,
            template,
            {"row": self.row(entry), "form": form, "conflict": conflict, "row_template": self.form_template},
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        entry = self.entry(request, pk)
        return self.render_form(request, entry, self.form_class(initial=self.form_class.initial_from(self.row(entry))))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        entry = self.entry(request, pk)
        form = self.form_class(request.POST)
        if not form.is_valid():
            return self.render_form(request, entry, form, status=400)
        try:
            saved = self.save(request, entry, form.cleaned_data)
        except services.EditConflict as conflict:
            current = self.form_class(initial=self.form_class.initial_from(self.row(conflict.current)))
            return self.render_form(request, conflict.current, current, status=409, conflict=str(conflict))
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.render_form(request, entry, form, status=400)
        if request.htmx:
            return self.render_row(request, saved)
        messages.success(request, f"{self.row(saved).ref} saved.")
        return HttpResponseRedirect(self.page_url(saved))

    def page_url(self, entry: Any) -> str:
        raise NotImplementedError


def _soa_row(entry: SoAEntry) -> Any:
    return soa_rows(SoAEntry.objects.filter(pk=entry.pk))[0]


class SoAEntryEditView(_RowEditView):
    permission_required = "controls.change_soaentry"
    model = SoAEntry
    form_class = SoAEntryForm
    row_template = "controls/soa_row.jinja"
    form_template = "controls/_soa_row_form.html"

    def entry(self, request: HttpRequest, pk: int) -> SoAEntry:
        return get_object_or_404(
            SoAEntry.objects.for_user(request.user, "change").select_related("control", "owner"), pk=pk
        )

    def row(self, entry: SoAEntry) -> Any:
        return _soa_row(entry)

    def save(self, request: HttpRequest, entry: SoAEntry, data: dict[str, Any]) -> SoAEntry:
        expected = data.pop("row_version")
        return services.update_soa_entry(actor=request.user, entry=entry, expected_version=expected, **data)

    def page_url(self, entry: SoAEntry) -> str:
        return reverse("controls:soa", args=[entry.control.edition]) + f"#control-{entry.control.ref}"


class SoAEntryRowView(PermissionRequiredMixin, View):
    """One SoA row in view mode (the "Cancel" of an inline edit)."""

    permission_required = "controls.view_soaentry"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        entry = get_object_or_404(SoAEntry.objects.for_user(request.user, "view").select_related("control"), pk=pk)
        return render(
            request,
            "controls/soa_row.jinja",
            {
                "row": _soa_row(entry),
                "can_edit": request.user.has_perm("controls.change_soaentry"),
            },
        )


class ConfirmReviewView(PermissionRequiredMixin, View):
    permission_required = "controls.change_soaentry"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        entry = get_object_or_404(SoAEntry.objects.for_user(request.user, "change").select_related("control"), pk=pk)
        try:
            expected = int(request.POST.get("row_version", ""))
            entry = services.confirm_review(actor=request.user, entry=entry, expected_version=expected)
        except (ValueError, services.EditConflict) as exc:
            message = str(exc) if isinstance(exc, services.EditConflict) else "The form was incomplete; reload."
            if request.htmx:
                return render(
                    request,
                    "controls/soa_row.jinja",
                    {"row": _soa_row(entry), "can_edit": True, "error": message},
                    status=409,
                )
            messages.error(request, message)
        if request.htmx:
            return render(request, "controls/soa_row.jinja", {"row": _soa_row(entry), "can_edit": True})
        return HttpResponseRedirect(reverse("controls:soa", args=[entry.control.edition]))


def _clause_row(entry: ClauseEntry) -> Any:
    return clause_rows(Clause.objects.filter(pk=entry.clause_id))[0]


class ClauseEntryEditView(_RowEditView):
    permission_required = "controls.change_clauseentry"
    model = ClauseEntry
    form_class = ClauseEntryForm
    row_template = "controls/clause_row.jinja"
    form_template = "controls/_clause_row_form.html"

    def entry(self, request: HttpRequest, pk: int) -> ClauseEntry:
        return get_object_or_404(ClauseEntry.objects.for_user(request.user, "change").select_related("clause"), pk=pk)

    def row(self, entry: ClauseEntry) -> Any:
        return _clause_row(entry)

    def save(self, request: HttpRequest, entry: ClauseEntry, data: dict[str, Any]) -> ClauseEntry:
        expected = data.pop("row_version")
        return services.update_clause_entry(actor=request.user, entry=entry, expected_version=expected, **data)

    def page_url(self, entry: ClauseEntry) -> str:
        return reverse("controls:soa", args=[entry.clause.edition]) + f"#clause-{entry.clause.ref}"


class ClauseEntryRowView(PermissionRequiredMixin, View):
    permission_required = "controls.view_clauseentry"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        entry = get_object_or_404(ClauseEntry.objects.for_user(request.user, "view").select_related("clause"), pk=pk)
        return render(
            request,
            "controls/clause_row.jinja",
            {
                "row": _clause_row(entry),
                "can_edit": request.user.has_perm("controls.change_clauseentry"),
            },
        )


def _versions_page(
    request: HttpRequest, edition: str, form: PublishForm | None = None, status: int = 200
) -> HttpResponse:
    if edition not in EDITIONS:
        raise Http404
    versions = (
        SoAVersion.objects.for_user(request.user, "view")
        .filter(edition=edition)
        .select_related("approver", "published_by")
        .defer("snapshot")
    )
    return render(
        request,
        "controls/versions.html",
        {
            "edition": edition,
            "edition_label": EDITIONS[edition],
            "versions": versions,
            "form": form or PublishForm(),
            "can_publish": request.user.has_perm("controls.publish_soaversion"),
        },
        status=status,
    )


class VersionListView(PermissionRequiredMixin, View):
    permission_required = "controls.view_soaversion"

    def get(self, request: HttpRequest, edition: str) -> HttpResponse:
        return _versions_page(request, edition)


class PublishView(PermissionRequiredMixin, IdentityConfirmedMixin, View):
    permission_required = "controls.publish_soaversion"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, edition: str) -> HttpResponse:
        if edition not in EDITIONS:
            raise Http404
        form = PublishForm(request.POST)
        if form.is_valid():
            try:
                version = services.publish_soa(actor=request.user, edition=edition, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Version {version.number} of the {edition} SoA published.")
                return HttpResponseRedirect(reverse("controls:soa_versions", args=[edition]))
        return _versions_page(request, edition, form=form, status=400)


class DiffView(RefuseAlteredVersionMixin, PermissionRequiredMixin, View):
    permission_required = "controls.view_soaversion"

    def get(self, request: HttpRequest, edition: str) -> HttpResponse:
        before = _view_or_404(edition, _version_param(request, "from"))
        after = _view_or_404(edition, _version_param(request, "to"))
        return render(
            request,
            "controls/diff.html",
            {
                "edition": edition,
                "edition_label": EDITIONS[edition],
                "before": before,
                "after": after,
                "changes": diff_views(before, after),
                "versions": SoAVersion.objects.for_user(request.user, "view").filter(edition=edition).only("number"),
            },
        )


class ExportView(RefuseAlteredVersionMixin, PermissionRequiredMixin, View):
    """CSV and XLSX are built at once; the PDF is rendered in the background (POST)."""

    permission_required = "controls.view_soaentry"

    def get(self, request: HttpRequest, edition: str, fmt: str) -> HttpResponse:
        if fmt == "pdf":
            return HttpResponse(
                "Request the PDF with POST; it is rendered in the background.", status=405, content_type="text/plain"
            )
        view = _view_or_404(edition, _version_param(request))
        name = export_basename(view)
        if fmt == "csv":
            return attachment(request, soa_csv(view), filename=f"{name}.csv", content_type="text/csv; charset=utf-8")
        return attachment(
            request,
            soa_xlsx(edition, view),
            filename=f"{name}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    def post(self, request: HttpRequest, edition: str, fmt: str) -> HttpResponse:
        if fmt != "pdf":
            return self.get(request, edition, fmt)
        number = _version_param(request)
        try:
            if number is not None:
                # Checked here, outside the report request's transaction, so that the refusal of
                # an altered version stays in the audit trail.
                published_version(edition, number)
            params = {"edition": edition, "version": "" if number is None else number}
            report = request_report(actor=request.user, kind="soa_pdf", params=params)
        except services.AlteredVersionError:
            raise
        except ValidationError as exc:
            raise Http404(" ".join(exc.messages)) from exc
        return HttpResponseRedirect(reverse("report_status", args=[report.pk]))


class TransitionView(PermissionRequiredMixin, View):
    permission_required = ("controls.change_soaentry", "controls.view_soaentry")

    def get(self, request: HttpRequest, form: TransitionForm | None = None, status: int = 200) -> HttpResponse:
        edited = SoAEntry.objects.filter(control__edition=Edition.ISO27001_2022, row_version__gt=0).count()
        return render(
            request, "controls/transition.html", {"form": form or TransitionForm(), "edited": edited}, status=status
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TransitionForm(request.POST)
        if form.is_valid():
            number = form.cleaned_data["source_version"]
            try:
                if number is not None:  # checked outside the transition's transaction, so that the
                    published_version(Edition.ISO27001_2013, number)  # refusal of an altered one is kept
                result = transition_2013_to_2022(
                    actor=request.user, overwrite=form.cleaned_data["overwrite"], version=number
                )
            except ValidationError as exc:
                add_service_errors(form, exc, rename={"version": "source_version"}, rest="overwrite")
            else:
                messages.success(
                    request,
                    f"2022 SoA pre-filled: {result.copied} rows copied, {result.merged} merged "
                    f"and {result.new} new controls, flagged for review where needed.",
                )
                return HttpResponseRedirect(reverse("controls:soa", args=[Edition.ISO27001_2022]) + "?review=needed")
        return self.get(request, form=form, status=400)
