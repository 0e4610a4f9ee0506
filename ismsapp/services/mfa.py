"""Multi-factor authentication (django-otp): TOTP authenticator apps, one-time recovery codes and
passkeys (django-otp-webauthn, see ``ismsapp.passkeys``) beside an app.

Every change of a user's factors is a service here, in one transaction, with its audit entry
(the device tables themselves are kept out of django-auditlog: they hold secrets).

Which users must have a factor: members of a role in ``settings.ISMS_MFA_REQUIRED_ROLES``
(ISMS admins, compliance officers and external auditors by default) unless the user carries an
``mfa_exemption`` (the demo users of ``make run``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from ismsapp.audit import acting_as, record_event
from ismsapp.roles import roles_of
from ismsapp.services.sessions import end_sessions

RECOVERY_CODE_COUNT = 10
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
CODE_MAX_LENGTH = 20


@dataclass(frozen=True)
class Enrolment:
    """A TOTP secret waiting for its first code (the device is stored unconfirmed)."""

    device: TOTPDevice

    @property
    def secret(self) -> str:
        """The base32 secret, for typing into an app that cannot scan."""
        from base64 import b32encode

        return b32encode(self.device.bin_key).decode()

    @property
    def config_url(self) -> str:
        return self.device.config_url


def required_roles() -> set[str]:
    return {role.strip() for role in settings.ISMS_MFA_REQUIRED_ROLES if role.strip()}


def role_requires_factor(user: Any) -> bool:
    """Whether one of ``user``'s roles requires a second factor (exemptions aside)."""
    wanted = required_roles()
    return bool(wanted) and any(role.value in wanted for role in roles_of(user))


def factor_required(user: Any) -> bool:
    """Whether ``user`` must have a second factor to use the app (their role, no exemption)."""
    return bool(user.is_authenticated and not user.mfa_exemption and role_requires_factor(user))


def totp_devices(user: Any) -> Any:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True)


def has_factor(user: Any) -> bool:
    """A confirmed authenticator app (recovery codes alone are not a factor)."""
    return totp_devices(user).exists()


def needs_enrolment(user: Any) -> bool:
    return factor_required(user) and not has_factor(user)


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def status_label(user: Any) -> str:
    """One honest phrase for pages: "on", "required, not set up", "exempt (demo)", "off"."""
    if has_factor(user):
        return "on"
    if role_requires_factor(user) and user.mfa_exemption:
        return f"exempt ({user.mfa_exemption})"
    if role_requires_factor(user):
        return "required, not set up"
    return "off"


def _clean_code(code: Any) -> str:
    if not isinstance(code, str):
        return ""
    code = "".join(code.split())  # apps show "123 456"; recovery codes are typed with spaces too
    if not code or len(code) > CODE_MAX_LENGTH or not code.isalnum():
        return ""
    return code.lower()


def verify_code(user: Any, code: Any) -> Any:
    """The device that accepts ``code`` (a TOTP code, or a recovery code, which is used up), or
    None. django-otp refuses a replayed TOTP code and throttles repeated failures per device."""
    code = _clean_code(code)
    if not code:
        return None
    for device in list(totp_devices(user)) + list(StaticDevice.objects.devices_for_user(user, confirmed=True)):
        if device.verify_is_allowed()[0] and device.verify_token(code):
            if isinstance(device, StaticDevice):
                record_event(_action(), actor=user, obj=user, detail={"event": "recovery code used"})
            return device
    return None


def _action() -> int:
    from ismsapp.models import AuditEntry

    return AuditEntry.Action.MFA_CHANGED


@transaction.atomic
def start_totp_enrolment(*, actor: Any) -> Enrolment:
    """A new unconfirmed authenticator-app secret for ``actor`` (earlier unconfirmed ones go)."""
    TOTPDevice.objects.filter(user=actor, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=actor, name=TOTP_NAME, confirmed=False)
    return Enrolment(device)


def pending_enrolment(actor: Any) -> Enrolment | None:
    device = TOTPDevice.objects.filter(user=actor, confirmed=False).order_by("-pk").first()
    return Enrolment(device) if device else None


@transaction.atomic
def confirm_totp_enrolment(*, actor: Any, code: Any, request: Any = None) -> list[str]:
    """Confirm the pending authenticator app with its first code. Returns fresh recovery codes
    when the user had none (shown once)."""
    enrolment = pending_enrolment(actor)
    if enrolment is None:
        raise ValidationError({"otp_code": "Start again: no authenticator app is waiting for its first code."})
    if not _clean_code(code) or not enrolment.device.verify_token(_clean_code(code)):
        raise ValidationError(
            {"otp_code": "This code is not correct. Check the time on your phone and try the next code."}
        )
    enrolment.device.confirmed = True
    enrolment.device.save(update_fields=["confirmed"])
    with acting_as(actor):
        record_event(_action(), request=request, actor=actor, obj=actor, detail={"event": "authenticator app added"})
    end_other_sessions(actor, request, actor=actor)
    if recovery_codes_left(actor) == 0:
        return _new_recovery_codes(actor, request)
    return []


def end_other_sessions(user: Any, request: Any, *, actor: Any) -> None:
    """A change of second factors ends the user's sessions, but the one that made it (if it is theirs)."""
    session = getattr(request, "session", None)
    keep = session.session_key if session is not None and getattr(request, "user", None) == user else None
    end_sessions(user, keep_session_key=keep, reason="second factors changed", actor=actor)


def _new_recovery_codes(user: Any, request: Any) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODE_COUNT)]  # 10 hex digits each
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    record_event(_action(), request=request, actor=user, obj=user, detail={"event": "recovery codes generated"})
    return codes


@transaction.atomic
def regenerate_recovery_codes(*, actor: Any, request: Any = None) -> list[str]:
    """New recovery codes (the old ones stop working); only with an authenticator app enrolled."""
    if not has_factor(actor):
        raise ValidationError("Add an authenticator app first: recovery codes stand in for it.")
    codes = _new_recovery_codes(actor, request)
    end_other_sessions(actor, request, actor=actor)
    return codes


@transaction.atomic
def remove_totp_device(*, actor: Any, device_id: int, request: Any = None) -> None:
    """Remove one of ``actor``'s own authenticator apps (recovery codes go with the last one)."""
    device = TOTPDevice.objects.filter(user=actor, pk=device_id).first()
    if device is None:
        raise ValidationError("This authenticator app is not yours or no longer exists.")
    device.delete()
    if not has_factor(actor):  # recovery codes and passkeys stand beside an app, not alone
        StaticDevice.objects.filter(user=actor).delete()
        WebAuthnCredential.objects.filter(user=actor).delete()
    record_event(_action(), request=request, actor=actor, obj=actor, detail={"event": "authenticator app removed"})
    end_other_sessions(actor, request, actor=actor)


@transaction.atomic
def remove_passkey(*, actor: Any, device_id: int, request: Any = None) -> None:
    """Remove one of ``actor``'s own passkeys."""
    if not WebAuthnCredential.objects.filter(user=actor, pk=device_id).delete()[0]:
        raise ValidationError("This passkey is not yours or no longer exists.")
    record_event(_action(), request=request, actor=actor, obj=actor, detail={"event": "passkey removed"})
    end_other_sessions(actor, request, actor=actor)


@transaction.atomic
def reset_factors(*, actor: Any, user: Any, request: Any = None) -> int:
    """An ISMS admin removes every second factor of another user (lost phone). Returns how many."""
    if not actor.has_perm("ismsapp.change_user"):
        raise ValidationError("Only an ISMS admin can reset another user's second factors.")
    if actor.pk == user.pk:
        raise ValidationError("Remove your own factors on your security page, not by a reset.")
    kinds = (TOTPDevice, StaticDevice, WebAuthnCredential)
    removed = sum(kind.objects.filter(user=user).count() for kind in kinds)
    for kind in kinds:
        kind.objects.filter(user=user).delete()
    record_event(
        _action(), request=request, actor=actor, obj=user, detail={"event": "second factors reset", "devices": removed}
    )
    end_sessions(user, reason="second factors reset", actor=actor)
    return removed


@transaction.atomic
def set_exemption(*, actor: Any, user: Any, reason: str) -> None:
    """Exempt ``user`` from the second factor their role requires (``reason`` blank: lift it)."""
    with acting_as(actor):
        user.mfa_exemption = reason
        user.full_clean()
        user.save(update_fields=["mfa_exemption"])
