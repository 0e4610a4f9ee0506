"""Pages of account security: the login's second step, "confirm it's you", second factors,
resetting another user's factors and deciding role grants. Rules live in ``ismsapp.services.mfa``,
``ismsapp.identity`` and ``ismsapp.services``."""

from __future__ import annotations

import time
from typing import Any

import segno
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views import View
from django_otp import login as otp_login

from ismsapp import identity, passkeys, services
from ismsapp.forms import ConfirmIdentityForm, SecondFactorForm, add_service_errors
from ismsapp.models import User
from ismsapp.services import mfa
from ismsapp.services.identity import count_failure, is_locked_out, mark_confirmed

PENDING_LOGIN = "isms_mfa_pending_login"


def _safe_next(request: HttpRequest, url: str | None) -> str:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse(settings.LOGIN_REDIRECT_URL)


# --- login, second step -----------------------------------------------------------------------


def start_second_step(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    """After a correct password: remember who is half logged in and ask for the code."""
    request.session[PENDING_LOGIN] = {
        "user": user.pk,
        "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[1]),
        "next": next_url,
        "at": time.time(),
    }
    return HttpResponseRedirect(reverse("login_verify"))


def _pending_user(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    pending = request.session.get(PENDING_LOGIN)
    if (
        not isinstance(pending, dict)
        or time.time() - float(pending.get("at", 0)) > settings.ISMS_MFA_LOGIN_MINUTES * 60
    ):
        return None
    user = User.objects.filter(pk=pending.get("user"), is_active=True).first()
    return (user, pending) if user is not None else None


def finish_login(request: HttpRequest, user: User, device: Any) -> str:
    """The second factor passed (code or passkey): log in, mark the session verified and just
    authenticated; returns where to go next."""
    pending = request.session.pop(PENDING_LOGIN)
    auth_login(request, user, backend=pending["backend"])
    otp_login(request, device)
    mark_confirmed(request)
    return _safe_next(request, pending.get("next"))


@method_decorator(login_not_required, name="dispatch")
class LoginVerifyView(View):
    """Second step of the login for users with a second factor: the code (or a recovery code).
    Wrong codes count towards the same django-axes lockout as wrong passwords."""

    template_name = "registration/login_verify.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        found = _pending_user(request)
        context = {"form": SecondFactorForm(), "expired": found is None}
        context["has_passkey"] = found is not None and passkeys.passkeys_of(found[0]).exists()
        return render(request, self.template_name, context)

    def post(self, request: HttpRequest) -> HttpResponse:
        found = _pending_user(request)
        if found is None:
            messages.info(request, "Your login took too long: enter your password again.")
            return HttpResponseRedirect(reverse("login"))
        user = found[0]
        if is_locked_out(request, user.get_username()):
            request.session.pop(PENDING_LOGIN, None)
            return get_lockout_response(request, credentials={"username": user.get_username()})
        form = SecondFactorForm(request.POST)
        device = mfa.verify_code(user, form.data.get("otp_code")) if form.is_valid() else None
        if device is None:
            count_failure(request, user.get_username(), "second factor")
            if not form.errors:
                form.add_error("otp_code", "This code is not correct. Try the next code shown by your app.")
            return render(request, self.template_name, {"form": form}, status=400)
        return HttpResponseRedirect(finish_login(request, user, device))


# --- confirm it's you -------------------------------------------------------------------------


class ConfirmIdentityView(View):
    """Re-enter the password (and code) before a sensitive step; valid ISMS_REAUTH_MINUTES."""

    template_name = "registration/confirm_identity.html"

    def _render(self, request: HttpRequest, form: ConfirmIdentityForm, status: int = 200) -> HttpResponse:
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "next": _safe_next(request, request.GET.get("next") or request.POST.get("next")),
                "minutes": settings.ISMS_REAUTH_MINUTES,
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, ConfirmIdentityForm(needs_code=mfa.has_factor(request.user)))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ConfirmIdentityForm(request.POST, needs_code=mfa.has_factor(request.user))
        if form.is_valid():
            try:
                identity.confirm_identity(
                    actor=request.user,
                    request=request,
                    password=form.cleaned_data["password"],
                    otp_code=form.cleaned_data.get("otp_code", ""),
                )
            except identity.IdentityLockedOut:
                return get_lockout_response(request, credentials={"username": request.user.get_username()})
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                return HttpResponseRedirect(_safe_next(request, request.POST.get("next")))
        return self._render(request, form, status=400)


# --- second factors ---------------------------------------------------------------------------


class MFAView(View):
    """Your second factors: status, authenticator apps, recovery codes."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        return render(
            request,
            "accounts/mfa.html",
            {
                "status": mfa.status_label(user),
                "required": mfa.factor_required(user),
                "forced": mfa.needs_enrolment(user),
                "role_requires": mfa.role_requires_factor(user),
                "devices": mfa.totp_devices(user),
                "passkeys": passkeys.passkeys_of(user),
                "may_add_passkey": mfa.has_factor(user) and identity.recently_confirmed(request),
                "recovery_left": mfa.recovery_codes_left(user),
            },
        )


class TOTPEnrolView(identity.IdentityConfirmedMixin, View):
    """Add an authenticator app: scan the QR code (or type the secret), confirm with a code."""

    identity_methods = ("GET", "POST")

    def _render(
        self, request: HttpRequest, enrolment: mfa.Enrolment, form: SecondFactorForm, status: int = 200
    ) -> HttpResponse:
        qr = segno.make(enrolment.config_url, error="m")
        svg = qr.svg_inline(scale=5, border=2, title="QR code of your new authenticator secret")
        return render(
            request,
            "accounts/mfa_enrol.html",
            {"form": form, "secret": enrolment.secret, "qr_svg": mark_safe(svg)},
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        enrolment = mfa.pending_enrolment(request.user) or mfa.start_totp_enrolment(actor=request.user)
        return self._render(request, enrolment, SecondFactorForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = SecondFactorForm(request.POST)
        enrolment = mfa.pending_enrolment(request.user)
        if enrolment is None:
            return HttpResponseRedirect(reverse("mfa_totp_enrol"))
        if form.is_valid():
            try:
                codes = mfa.confirm_totp_enrolment(
                    actor=request.user, code=form.cleaned_data["otp_code"], request=request
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                otp_login(request, mfa.totp_devices(request.user).order_by("-pk").first())
                messages.success(request, "Authenticator app added: from now on you log in with a code.")
                if codes:
                    return render(request, "accounts/mfa_recovery_codes.html", {"codes": codes})
                return HttpResponseRedirect(reverse("mfa"))
        return self._render(request, enrolment, form, status=400)


class RecoveryCodesView(identity.IdentityConfirmedMixin, View):
    """New recovery codes, shown once; the old ones stop working."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            codes = mfa.regenerate_recovery_codes(actor=request.user, request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(reverse("mfa"))
        return render(request, "accounts/mfa_recovery_codes.html", {"codes": codes})


class TOTPRemoveView(identity.IdentityConfirmedMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            mfa.remove_totp_device(actor=request.user, device_id=pk, request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Authenticator app removed.")
        return HttpResponseRedirect(reverse("mfa"))


class PasskeyRemoveView(identity.IdentityConfirmedMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            mfa.remove_passkey(actor=request.user, device_id=pk, request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Passkey removed.")
        return HttpResponseRedirect(reverse("mfa"))


class UserMFAResetView(PermissionRequiredMixin, identity.IdentityConfirmedMixin, View):
    """An ISMS admin removes another user's second factors (lost phone); audit-trailed."""

    permission_required = "ismsapp.change_user"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        user = get_object_or_404(User.objects.for_user(request.user, "change"), pk=pk)
        try:
            removed = mfa.reset_factors(actor=request.user, user=user, request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Second factors of {user.username} reset ({removed} removed).")
        return HttpResponseRedirect(reverse("user_update", args=[user.pk]))


class RoleGrantDecisionView(PermissionRequiredMixin, identity.IdentityConfirmedMixin, View):
    """A second ISMS admin approves or rejects a pending grant of the ISMS admin role."""

    permission_required = "ismsapp.change_user"
    http_method_names = ["post"]
    decision = "approve"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        grant = get_object_or_404(services.pending_role_grants(request.user), pk=pk)
        decide = services.approve_role_grant if self.decision == "approve" else services.reject_role_grant
        try:
            decide(actor=request.user, grant=grant)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            verb = "approved" if self.decision == "approve" else "rejected"
            messages.success(request, f"Grant of {grant.role.replace('_', ' ')} to {grant.user.username} {verb}.")
        return HttpResponseRedirect(reverse("users"))
