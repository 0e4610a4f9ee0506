""" "Confirm it's you": the one re-authentication mechanism for sensitive steps (its rules; the
pages' and the API's side of it is ``ismsapp.identity``).

``confirm_identity`` checks the password (and the second factor when the user has one) through
Django's ``authenticate``, so django-axes counts every failure towards the same lockout as the
login (username + client address) and a locked-out user is refused with the lockout message.
A success marks the session as recently confirmed for ``settings.ISMS_REAUTH_MINUTES``.

Users of it:

- pages: ``IdentityConfirmedMixin`` (class-based views) or ``@identity_confirmed`` (functions);
  a POST carrying ``identity_password``/``identity_otp_code`` (``{% confirm_identity_fields %}``
  in the form) confirms in the same step, otherwise the visitor is sent to the "Confirm it's
  you" page and comes back;
- the API: ``require_identity_for_api(request)`` at the top of the action; a token client (no
  session) sends ``password`` and ``otp_code`` in the body (``IdentityFieldsSerializer``);
- services that must not run without it can call ``require_identity(request, data)`` directly.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from ismsapp.audit import record_event

SESSION_KEY = "isms_identity_confirmed"
STEP = "confirm identity"
LOCKED_OUT_MESSAGE = (
    "Too many failed attempts for this username from your address. "
    "Try again later or ask an ISMS admin to lift the lock."
)


class IdentityConfirmationRequired(Exception):
    """The step needs a recent "confirm it's you" and none was given."""


class IdentityLockedOut(Exception):
    """Too many failures (login and confirmations together) for this username and address."""


def _now() -> float:
    return time.time()


def recently_confirmed(request: HttpRequest) -> bool:
    """Whether this session's user confirmed their identity within ``ISMS_REAUTH_MINUTES``."""
    session = getattr(request, "session", None)
    user = getattr(request, "user", None)
    if session is None or user is None or not user.is_authenticated:
        return False
    mark = session.get(SESSION_KEY)
    if not isinstance(mark, dict) or mark.get("user") != user.pk:
        return False
    return _now() - float(mark.get("at", 0)) < settings.ISMS_REAUTH_MINUTES * 60


def mark_confirmed(request: HttpRequest) -> None:
    """Record in the session that its user has just authenticated (login or confirmation)."""
    request.session[SESSION_KEY] = {"user": request.user.pk, "at": _now()}


def confirmation_expires_in(request: HttpRequest) -> int:
    """Seconds left of the current confirmation (0 when there is none)."""
    if not recently_confirmed(request):
        return 0
    return int(settings.ISMS_REAUTH_MINUTES * 60 - (_now() - float(request.session[SESSION_KEY]["at"])))


def is_locked_out(request: HttpRequest, username: str) -> bool:
    return AxesProxyHandler.is_locked(request, credentials={"username": username})


def count_failure(request: HttpRequest, username: str, step: str) -> None:
    """Count a failed step towards django-axes' lockout and record it as a failed login."""
    user_login_failed.send(sender=__name__, credentials={"username": username, "step": step}, request=request)


def confirm_identity(*, actor: Any, request: HttpRequest | None, password: str, otp_code: str = "") -> None:
    """Check ``actor``'s password and, if they have a second factor, ``otp_code``.

    Raises ``IdentityLockedOut`` when axes locks them out (before or because of this attempt),
    ``ValidationError`` naming ``password`` or ``otp_code`` when one is wrong. On success the
    session (if any) is marked confirmed and the confirmation goes to the audit trail.
    ``request=None`` (management commands, the demo set-up: no client address to lock) checks
    the same password and code without the lockout.
    """
    from ismsapp.models import AuditEntry
    from ismsapp.services import mfa

    if request is None:
        if not isinstance(password, str) or not password or not actor.check_password(password):
            raise ValidationError({"password": "The password is not correct."})
        if mfa.has_factor(actor) and mfa.verify_code(actor, otp_code) is None:
            raise ValidationError({"otp_code": "The code from your authenticator app is not correct."})
        record_event(AuditEntry.Action.IDENTITY_CONFIRMED, actor=actor, obj=actor)
        return
    username = actor.get_username()
    if is_locked_out(request, username):
        raise IdentityLockedOut(LOCKED_OUT_MESSAGE)
    if not isinstance(password, str) or not password or "\x00" in password:
        count_failure(request, username, STEP)
        _raise_if_locked(request)
        raise ValidationError({"password": "Enter your password to confirm it's you."})
    # authenticate() runs django-axes: a failure is counted (signal user_login_failed) and a
    # locked-out username is refused before the password is even checked.
    user = authenticate(request, username=username, password=password, step=STEP)
    if user is None or user.pk != actor.pk:
        _raise_if_locked(request)
        raise ValidationError({"password": "The password is not correct."})
    if mfa.has_factor(actor) and mfa.verify_code(actor, otp_code) is None:
        count_failure(request, username, f"{STEP}: second factor")
        _raise_if_locked(request)
        raise ValidationError({"otp_code": "The code from your authenticator app (or a recovery code) is not correct."})
    AxesProxyHandler.reset_attempts(username=username, ip_address=getattr(request, "axes_ip_address", None))
    session = getattr(request, "session", None)
    if session is not None and session.get("_auth_user_id") == str(actor.pk):  # a browser session, not a token
        session[SESSION_KEY] = {"user": actor.pk, "at": _now()}
    record_event(AuditEntry.Action.IDENTITY_CONFIRMED, request=request, actor=actor, obj=actor)


def _raise_if_locked(request: HttpRequest) -> None:
    if getattr(request, "axes_locked_out", False):
        raise IdentityLockedOut(LOCKED_OUT_MESSAGE)


# Names of the fields a page form carries to confirm in the same step (distinct from a form's own
# ``password``, e.g. the new user's password when an admin creates an account).
PAGE_FIELDS = ("identity_password", "identity_otp_code")


def require_identity(request: HttpRequest, data: Mapping[str, Any], fields: tuple[str, str] = PAGE_FIELDS) -> None:
    """Pass if the session is recently confirmed, else confirm with the password and code in
    ``data`` (under ``fields``); raise ``IdentityConfirmationRequired`` when there is none."""
    if recently_confirmed(request):
        return
    password = data.get(fields[0])
    if not password:
        raise IdentityConfirmationRequired("Confirm it's you first.")
    confirm_identity(actor=request.user, request=request, password=password, otp_code=str(data.get(fields[1]) or ""))
