"""Passkeys (WebAuthn, django-otp-webauthn) as a second factor beside the authenticator app.

A passkey is added once the user has an authenticator app and has just confirmed it's them; at
the login it replaces typing the code (password first, then a touch). "Confirm it's you" keeps
asking for a code from the app or a recovery code. No passwordless login.

The library's JSON endpoints are subclassed here so that: registration needs a recent
confirmation and writes its audit entry; authentication finishes *our* pending login (see
``ismsapp.security_views``) instead of logging in a user by itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest
from django.urls import path
from django.utils.decorators import method_decorator
from django.views.i18n import JavaScriptCatalog
from django_otp_webauthn import exceptions
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from ismsapp import identity
from ismsapp.audit import record_event
from ismsapp.services import mfa
from ismsapp.services.identity import LOCKED_OUT_MESSAGE, is_locked_out


def relying_party_id(request: HttpRequest) -> str:
    """The host name the browser used (``get_host`` has checked it against ALLOWED_HOSTS).
    Browsers refuse IP addresses here: use ``localhost`` rather than 127.0.0.1 for passkeys."""
    return urlsplit(f"//{request.get_host()}").hostname or "localhost"


class PasskeyHelper(WebAuthnHelper):
    """Origins: ``ISMS_WEBAUTHN_ORIGINS`` and the request's own origin when it is https or
    http://localhost (the only origins where browsers offer WebAuthn)."""

    def get_allowed_origins(self) -> list[str]:
        own = f"{self.request.scheme}://{self.request.get_host()}"
        secure = own.startswith("https://") or own.startswith("http://localhost")
        return [*settings.OTP_WEBAUTHN_ALLOWED_ORIGINS, *([own] if secure else [])]


def passkeys_of(user: Any) -> Any:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True)


class ConfirmFirst(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "confirm_identity"
    default_detail = "Set up an authenticator app and confirm it's you (within the last minutes) first."


class NoPendingLogin(exceptions.OTPWebAuthnApiError):
    status_code = 400  # a step out of order, as the library's InvalidState
    default_code = "no_pending_login"
    default_detail = "Enter your username and password first."


class AlreadyLoggedIn(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "already_logged_in"
    default_detail = "You are already logged in."


class RegistrationBegin(BeginCredentialRegistrationView):
    def check_can_register(self) -> None:
        if not (mfa.has_factor(self.request.user) and identity.recently_confirmed(self.request)):
            raise ConfirmFirst()


class RegistrationComplete(CompleteCredentialRegistrationView):
    def check_can_register(self) -> None:
        RegistrationBegin.check_can_register(self)  # type: ignore[arg-type]

    def post(self, *args: Any, **kwargs: Any) -> Any:
        with transaction.atomic():
            response = super().post(*args, **kwargs)
            record_event(
                mfa._action(),
                request=self.request,
                actor=self.request.user,
                obj=self.request.user,
                detail={"event": "passkey added"},
            )
            mfa.end_other_sessions(self.request.user, self.request, actor=self.request.user)
        return response


def _pending(request: HttpRequest) -> Any:
    from ismsapp.security_views import _pending_user

    found = _pending_user(request)
    return found[0] if found else None


@method_decorator(login_not_required, name="dispatch")
class AuthenticationBegin(BeginCredentialAuthenticationView):
    """The second step of the login with a passkey: only for a user half logged in."""

    def get_user(self) -> Any:
        return None if self.request.user.is_authenticated else _pending(self.request)

    def check_can_authenticate(self) -> None:
        if self.request.user.is_authenticated:
            raise AlreadyLoggedIn()
        user = self.get_user()
        if user is None:
            raise NoPendingLogin()
        if is_locked_out(self.request, user.get_username()):
            raise exceptions.UserDisabled(detail=LOCKED_OUT_MESSAGE)


@method_decorator(login_not_required, name="dispatch")
class AuthenticationComplete(CompleteCredentialAuthenticationView):
    get_user = AuthenticationBegin.get_user
    check_can_authenticate = AuthenticationBegin.check_can_authenticate

    def complete_auth(self, device: Any) -> Any:
        from ismsapp.security_views import finish_login

        if device.user_id != self.get_user().pk:
            raise exceptions.CredentialUserMismatch()
        self._next = finish_login(self.request, device.user, device)
        return device.user

    def get_success_url(self) -> str:
        return getattr(self, "_next", None) or super().get_success_url()


# Named as the library's template tags expect (namespace "otp_webauthn").
app_name = "otp_webauthn"
urlpatterns = [
    path("registration/begin/", RegistrationBegin.as_view(), name="credential-registration-begin"),
    path("registration/complete/", RegistrationComplete.as_view(), name="credential-registration-complete"),
    path("authentication/begin/", AuthenticationBegin.as_view(), name="credential-authentication-begin"),
    path("authentication/complete/", AuthenticationComplete.as_view(), name="credential-authentication-complete"),
    path(
        "jsi18n/",
        login_not_required(JavaScriptCatalog.as_view(packages=["django_otp_webauthn"])),
        name="js-i18n-catalog",
    ),
]
