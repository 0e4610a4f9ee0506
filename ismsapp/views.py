"""Platform pages: login, dashboard, audit trail, users and roles, health."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.http import require_GET
from django.views.generic import TemplateView

from ismsapp import identity, services
from ismsapp.blobs import blob_path
from ismsapp.dashboard import panels_for
from ismsapp.downloads import attachment
from ismsapp.exports import csv_lines
from ismsapp.forms import AuditTrailFilterForm, UserCreateForm, UserUpdateForm, add_service_errors
from ismsapp.models import AuditEntry, GeneratedReport, User
from ismsapp.pagination import keyset_page, parse_cursor
from ismsapp.permissions import allowed
from ismsapp.roles import roles_of
from ismsapp.security_views import start_second_step
from ismsapp.services import mfa
from ismsapp.services.identity import mark_confirmed
from ismsapp.services.reports import REPORT_KINDS


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    """The password; users with a second factor then give its code (``LoginVerifyView``)."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if mfa.has_factor(user):
            return start_second_step(self.request, user, self.get_success_url())
        response = super().form_valid(form)
        mark_confirmed(self.request)  # a fresh login counts as "confirm it's you"
        return response


class DashboardView(TemplateView):
    template_name = "dashboard/index.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "panels": panels_for(self.request.user)}


class AuditTrailView(PermissionRequiredMixin, View):
    permission_required = "ismsapp.view_auditentry"
    page_size = 50

    def get(self, request: HttpRequest) -> HttpResponse:
        form = AuditTrailFilterForm(request.GET or None)
        entries = form.filter(AuditEntry.objects.for_user(request.user, "view"))
        page = keyset_page(entries, key="seq", before=parse_cursor(request.GET.get("before")), size=self.page_size)
        query = request.GET.copy()
        query.pop("before", None)
        return render(
            request,
            "audit/trail.html",
            {
                "form": form,
                "page": page,
                "filter_query": query.urlencode(),
                "can_export": request.user.has_perm("ismsapp.export_auditentry"),
            },
        )


class AuditTrailExportView(PermissionRequiredMixin, View):
    permission_required = ("ismsapp.view_auditentry", "ismsapp.export_auditentry")
    header = (
        "seq",
        "timestamp_utc",
        "action",
        "actor",
        "client_ip",
        "object_type",
        "object_id",
        "object",
        "changes",
        "details",
        "entry_hash",
    )

    def get(self, request: HttpRequest) -> HttpResponse:
        form = AuditTrailFilterForm(request.GET or None)
        if form.is_bound and not form.is_valid():
            return HttpResponse(f"Invalid filter: {form.errors.as_text()}", status=400, content_type="text/plain")
        entries = form.filter(AuditEntry.objects.for_user(request.user, "view")).order_by("seq")
        rows = (
            (
                e.seq,
                e.timestamp.isoformat(),
                e.get_action_display(),
                e.actor_label,
                e.remote_addr,
                e.object_type,
                e.object_pk,
                e.object_repr,
                e.changes or "",
                e.additional_data or "",
                e.entry_hash,
            )
            for e in entries.iterator(chunk_size=2000)
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        return attachment(
            request,
            csv_lines(self.header, rows),
            filename=f"audit-trail-{stamp}.csv",
            content_type="text/csv; charset=utf-8",
            detail={"filters": form.data.dict() if form.is_bound else {}},
        )


class UserListView(PermissionRequiredMixin, View):
    permission_required = "ismsapp.view_user"

    def get(self, request: HttpRequest) -> HttpResponse:
        users = User.objects.for_user(request.user, "view").prefetch_related("groups").order_by("username")
        return render(
            request,
            "accounts/user_list.html",
            {
                "users": users,
                "locked": services.locked_out_usernames(),
                "can_change": request.user.has_perm("ismsapp.change_user"),
                "can_add": request.user.has_perm("ismsapp.add_user"),
                "pending_grants": services.pending_role_grants(request.user),
            },
        )


class UserCreateView(PermissionRequiredMixin, identity.IdentityConfirmedMixin, View):
    permission_required = "ismsapp.add_user"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "accounts/user_form.html", {"form": UserCreateForm(), "creating": True})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = UserCreateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = services.create_user(actor=request.user, **data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"User {user.username} created.")
                _announce_pending_grants(request, user)
                return HttpResponseRedirect(reverse("users"))
        return render(request, "accounts/user_form.html", {"form": form, "creating": True}, status=400)


def _announce_pending_grants(request: HttpRequest, user: User) -> None:
    for grant in services.pending_role_grants(request.user).filter(user=user):
        messages.info(
            request,
            f"The {grant.role.replace('_', ' ')} role of {user.username} waits for a second ISMS admin's approval.",
        )


class UserUpdateView(PermissionRequiredMixin, identity.IdentityConfirmedMixin, View):
    permission_required = "ismsapp.change_user"

    def _user(self, request: HttpRequest, pk: int) -> User:
        return get_object_or_404(User.objects.for_user(request.user, "change"), pk=pk)

    def _form(self, request: HttpRequest, user: User, data: Any = None) -> UserUpdateForm:
        form = UserUpdateForm(
            data,
            initial={
                "first_name": user.first_name,
                "last_name": user.last_name,
                "email": user.email,
                "is_active": user.is_active,
                "roles": [role.value for role in roles_of(user)],
            },
        )
        if user.pk == request.user.pk:  # nobody changes their own roles
            form.fields["roles"].disabled = True
            form.fields["roles"].help_text = "You cannot change your own roles; another ISMS admin can."
        return form

    def _render(self, request: HttpRequest, user: User, form: UserUpdateForm, status: int = 200) -> HttpResponse:
        return render(
            request,
            "accounts/user_form.html",
            {
                "form": form,
                "subject": user,
                "mfa_status": mfa.status_label(user),
                "can_reset_mfa": user.pk != request.user.pk and mfa.has_factor(user),
                "pending_grants": services.pending_role_grants(request.user).filter(user=user),
            },
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        user = self._user(request, pk)
        return self._render(request, user, self._form(request, user))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        user = self._user(request, pk)
        form = self._form(request, user, request.POST)
        if form.is_valid():
            try:
                services.update_user(actor=request.user, user=user, **form.cleaned_data)
            except (ValueError, ValidationError) as exc:
                add_service_errors(form, exc if isinstance(exc, ValidationError) else ValidationError(str(exc)))
            else:
                messages.success(request, f"User {user.username} updated.")
                _announce_pending_grants(request, user)
                return HttpResponseRedirect(reverse("users"))
        return self._render(request, user, form, status=400)


class UserUnlockView(PermissionRequiredMixin, View):
    permission_required = "ismsapp.change_user"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        user = get_object_or_404(User.objects.for_user(request.user, "change"), pk=pk)
        cleared = services.unlock_user(actor=request.user, user=user, request=request)
        messages.success(request, f"Lockout of {user.username} lifted ({cleared} failed attempts cleared).")
        return HttpResponseRedirect(reverse("users"))


class ReportStatusView(View):
    """Where a requested report stands; polled by htmx until it is ready."""

    def get(self, request: HttpRequest, pk: str) -> HttpResponse:
        report = _own_report(request, pk)
        template = "reports/status_fragment.html" if request.htmx else "reports/status.html"
        return render(request, template, {"report": report})


class ReportDownloadView(View):
    def get(self, request: HttpRequest, pk: str) -> HttpResponse:
        report = _own_report(request, pk)
        if report.status != GeneratedReport.Status.DONE:
            return HttpResponse("This report is not ready.", status=409, content_type="text/plain")
        return attachment(
            request,
            blob_path(report.sha256).read_bytes(),
            filename=report.filename,
            content_type=report.content_type,
            obj=report,
            detail={"sha256": report.sha256},
        )


def _own_report(request: HttpRequest, pk: str) -> GeneratedReport:
    """The report if it was shared with this user and their role still allows its kind."""
    report = get_object_or_404(GeneratedReport.objects.for_user(request.user, "view"), pk=pk)
    kind = REPORT_KINDS.get(report.kind)
    if kind is None or not allowed(request.user, kind.permission):
        raise PermissionDenied("Your role no longer allows this report.")
    return report


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness and database readiness for load balancers (no data disclosed)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return JsonResponse({"status": "ok"})
    except Exception:  # noqa: BLE001 - any database failure means "not ready"
        return JsonResponse({"status": "database unavailable"}, status=503)


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/403.html", {"reason": str(exception or "")}, status=403)


def _api_path(request: HttpRequest) -> bool:
    """Under /api/ clients expect JSON, also from errors that happen before DRF has a view (a path
    no API route matches, e.g. ``/api/risks/1.5/``) or outside it."""
    return request.path_info.startswith("/api/")


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api_path(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "errors/404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    if _api_path(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return render(request, "errors/500.html", status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(
        request,
        "errors/403.html",
        {"reason": "The form's security token was missing or invalid. Reload the page and try again."},
        status=403,
    )
