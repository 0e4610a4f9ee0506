"""Residual-risk acceptance (clause 6.1.3 f): the owner's signed, dated, expiring decision.

- Only the risk's owner accepts, re-entering their password, with a justification and an expiry
  (default and maximum from the methodology). The decision keeps an immutable snapshot.
- A residual level above the appetite, or a residual assessment the acceptor made themselves (or
  that nobody is recorded as having made), needs a second approval by another ISMS admin.
- A material change voids the acceptance; a periodic task expires acceptances and reminds
  owners before they expire. Refused attempts are written to the audit trail.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from ismsapp.audit import acting_as, record_event
from ismsapp.models import AuditEntry, User
from ismsapp.services import identity
from risks.models import Risk, RiskAcceptance, TreatmentAction
from risks.services import rules
from risks.services.register import refresh_status


def _refuse(actor: User, risk: Risk, request: HttpRequest | None, why: str) -> None:
    """Record a refused attempt. Called before any transaction is opened here, so the record is
    kept although the caller then raises (views and API call this outside a transaction)."""
    record_event(
        AuditEntry.Action.ACCESS_DENIED,
        request=request,
        actor=actor,
        obj=risk,
        detail={"event": "residual risk acceptance refused", "reason": why},
    )


def snapshot_of(risk: Risk) -> dict[str, Any]:
    """What exactly is being accepted, frozen in the acceptance record."""
    methodology = risk.methodology
    return {
        "risk": {
            "reference": risk.reference,
            "title": risk.title,
            "description": risk.description,
            "threat": risk.threat,
            "vulnerability": risk.vulnerability,
            "affected_cia": risk.affected_cia,
            "owner": risk.owner.get_username(),
        },
        "assets": sorted(asset.name for asset in risk.assets.all()),
        "inherent": {
            "likelihood": risk.inherent_likelihood,
            "impact": risk.inherent_impact,
            "level": risk.inherent_level,
        },
        "residual": {
            "likelihood": risk.residual_likelihood,
            "impact": risk.residual_impact,
            "level": risk.residual_level,
        },
        "residual_assessed_by": risk.residual_assessed_by.get_username() if risk.residual_assessed_by else None,
        "treatment_option": risk.treatment_option,
        "controls": [f"{c.edition}:{c.ref}" for c in risk.controls.order_by("edition", "position")],
        "actions": [
            {
                "description": a.description,
                "owner": a.owner.get_username(),
                "due_date": a.due_date.isoformat(),
                "status": a.status,
            }
            for a in risk.actions.select_related("owner")
        ],
        "methodology": {"version": methodology.version, "name": methodology.name, "appetite": methodology.appetite},
    }


def digest(snapshot: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class AcceptanceTerms:
    default_expiry: date
    latest_expiry: date


def terms_for(risk: Risk, today: date | None = None) -> AcceptanceTerms:
    today = today or timezone.localdate()
    methodology = risk.methodology
    return AcceptanceTerms(
        today + relativedelta(months=methodology.default_acceptance_months),
        today + relativedelta(months=methodology.max_acceptance_months),
    )


def ensure_owner(actor: User, risk: Risk, request: HttpRequest | None = None) -> None:
    """Refuse (and record) anyone but the risk's owner holding the object permission to accept."""
    if not rules.can_accept_residual_risk(actor, risk):
        _refuse(actor, risk, request, "not the risk owner")
        raise PermissionDenied("Only the owner of this risk can accept its residual risk.")


def accept_residual_risk(
    *,
    actor: User,
    risk: Risk,
    password: str,
    justification: str,
    expires_on: date | None = None,
    otp_code: str = "",
    request: HttpRequest | None = None,
) -> RiskAcceptance:
    """The owner accepts ``risk``'s residual risk until ``expires_on``.

    Raises ``PermissionDenied`` for anyone but the owner, ``identity.IdentityLockedOut`` once wrong
    passwords or codes (here and at the login together) lock them out, and ``ValidationError``
    (naming the field) for a wrong password or code, a missing justification, an expiry out of bounds, or a risk not
    ready to be accepted. Refusals are written to the audit trail; nothing else is stored.
    """
    ensure_owner(actor, risk, request)
    try:  # "confirm it's you": the password (and code) sign the decision; failures count to the lockout
        identity.confirm_identity(actor=actor, request=request, password=password, otp_code=otp_code)
    except ValidationError:
        _refuse(actor, risk, request, "identity not confirmed")
        raise
    with transaction.atomic():
        risk = (
            Risk.objects.select_for_update(of=("self",))
            .select_related("methodology", "owner", "residual_assessed_by")
            .get(pk=risk.pk)
        )
        terms = terms_for(risk)
        expires_on = expires_on or terms.default_expiry
        errors = {}
        if len(justification.strip()) < 10:
            errors["justification"] = "Explain in a few words why the residual risk is acceptable."
        if expires_on <= timezone.localdate():
            errors["expires_on"] = "The expiry date must be in the future."
        elif expires_on > terms.latest_expiry:
            errors["expires_on"] = (
                f"The acceptance may last at most {risk.methodology.max_acceptance_months} "
                f"months (until {terms.latest_expiry.isoformat()})."
            )
        if risk.status == Risk.Status.CLOSED:
            errors["risk"] = "A closed risk cannot be accepted."
        elif not risk.residual_level or not risk.treatment_option:
            errors["risk"] = "Score the residual risk and choose a treatment before accepting it."
        elif risk.actions.exclude(status__in=[TreatmentAction.Status.DONE, TreatmentAction.Status.CANCELLED]).exists():
            errors["risk"] = "Treatment actions are still open: finish or cancel them before accepting."
        if errors:
            raise ValidationError(errors)
        snapshot = snapshot_of(risk)
        second_approval = rules.needs_second_approval(risk, actor)
        with acting_as(actor):
            for previous in risk.acceptances.filter(status__in=RiskAcceptance.OPEN):
                _close(previous, RiskAcceptance.Status.VOIDED, "superseded by a new acceptance")
            acceptance = RiskAcceptance.objects.create(
                risk=risk,
                accepted_by=actor,
                justification=justification.strip(),
                expires_on=expires_on,
                residual_level=risk.residual_level,
                needs_second_approval=second_approval,
                status=RiskAcceptance.Status.PENDING_APPROVAL if second_approval else RiskAcceptance.Status.ACTIVE,
                snapshot=snapshot,
                snapshot_sha256=digest(snapshot),
            )
            refresh_status(risk)
        if second_approval:
            _notify_approvers(acceptance)
    return acceptance


def _close(acceptance: RiskAcceptance, status: str, reason: str) -> None:
    acceptance.status, acceptance.end_reason, acceptance.ended_at = status, reason[:500], timezone.now()
    acceptance.save(update_fields=["status", "end_reason", "ended_at"])


@transaction.atomic
def decide_second_approval(*, actor: User, acceptance: RiskAcceptance, approve: bool, note: str = "") -> RiskAcceptance:
    """An ISMS admin other than the owner approves (or refuses) an acceptance above the appetite."""
    acceptance = RiskAcceptance.objects.select_for_update().select_related("risk").get(pk=acceptance.pk)
    if not rules.can_give_second_approval(actor):
        raise PermissionDenied("Only an ISMS admin can give the second approval.")
    if not rules.can_give_second_approval(actor, acceptance):
        raise ValidationError({"second_approver": "The second approval must come from another person."})
    if acceptance.status != RiskAcceptance.Status.PENDING_APPROVAL:
        raise ValidationError(f"This acceptance is {acceptance.get_status_display().lower()}, not awaiting approval.")
    with acting_as(actor):
        acceptance.second_approver, acceptance.second_approved_at = actor, timezone.now()
        if approve:
            acceptance.status = RiskAcceptance.Status.ACTIVE
            acceptance.save(update_fields=["second_approver", "second_approved_at", "status"])
        else:
            acceptance.save(update_fields=["second_approver", "second_approved_at"])
            _close(acceptance, RiskAcceptance.Status.REJECTED, note or "second approval refused")
        refresh_status(acceptance.risk)
    return acceptance


@transaction.atomic
def revoke_acceptance(*, actor: User, acceptance: RiskAcceptance, reason: str) -> RiskAcceptance:
    """The owner (or a compliance officer / ISMS admin) withdraws an open acceptance."""
    acceptance = RiskAcceptance.objects.select_for_update().select_related("risk").get(pk=acceptance.pk)
    risk = acceptance.risk
    if not rules.can_revoke_acceptance(actor, acceptance):
        raise PermissionDenied("Only the risk owner, a compliance officer or an ISMS admin can revoke.")
    if not acceptance.is_open:
        raise ValidationError("Only an active or pending acceptance can be revoked.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the acceptance is revoked."})
    with acting_as(actor):
        _close(acceptance, RiskAcceptance.Status.REVOKED, reason.strip())
        refresh_status(risk)
    return acceptance


def void_open_acceptance(risk: Risk, reason: str, *, actor: User | None = None) -> int:
    """Called by ``update_risk`` inside its transaction when the accepted risk changed materially."""
    voided = 0
    for acceptance in risk.acceptances.select_for_update().filter(status__in=RiskAcceptance.OPEN):
        _close(acceptance, RiskAcceptance.Status.VOIDED, f"voided: {reason}")
        voided += 1
    return voided


@transaction.atomic
def expire_acceptances(today: date | None = None) -> int:
    """End every acceptance whose expiry date has passed; their risks need acceptance again."""
    today = today or timezone.localdate()
    expired = 0
    for acceptance in (
        RiskAcceptance.objects.select_for_update()
        .select_related("risk")
        .filter(status__in=RiskAcceptance.OPEN, expires_on__lt=today)
    ):
        _close(acceptance, RiskAcceptance.Status.EXPIRED, f"expired on {acceptance.expires_on.isoformat()}")
        refresh_status(acceptance.risk)
        expired += 1
    return expired


def _mail(subject: str, body: str, recipients: list[str]) -> None:
    recipients = [address for address in recipients if address]
    if recipients:
        transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients))


def _risk_url(risk: Risk) -> str:
    return f"{settings.ISMS_BASE_URL}{reverse('risks:detail', args=[risk.pk])}"


@transaction.atomic
def send_expiry_reminders(today: date | None = None) -> int:
    """E-mail the owner once when an acceptance enters the methodology's reminder window."""
    today = today or timezone.localdate()
    sent = 0
    for acceptance in (
        RiskAcceptance.objects.select_for_update()
        .select_related("risk__owner", "risk__methodology")
        .filter(status=RiskAcceptance.Status.ACTIVE, reminder_sent_on__isnull=True)
    ):
        risk = acceptance.risk
        days_left = (acceptance.expires_on - today).days
        if days_left > risk.methodology.reminder_days:
            continue
        _mail(
            f"[ISMS] Residual risk acceptance of {risk.reference} expires on {acceptance.expires_on.isoformat()}",
            f'Your acceptance of the residual risk "{risk.reference} {risk.title}" expires in {days_left} days '
            f"({acceptance.expires_on.isoformat()}). Review the risk and accept it again if it is still "
            f"acceptable:\n{_risk_url(risk)}\n",
            [risk.owner.email],
        )
        acceptance.reminder_sent_on = today
        acceptance.save(update_fields=["reminder_sent_on"])
        sent += 1
    return sent


def _notify_approvers(acceptance: RiskAcceptance) -> None:
    risk = acceptance.risk
    approvers = [
        user.email
        for user in User.objects.filter(is_active=True).exclude(pk=acceptance.accepted_by_id)
        if rules.can_give_second_approval(user, acceptance)
    ]
    why = (
        f"above the risk appetite ({risk.methodology.appetite})"
        if not risk.methodology.within_appetite(risk.residual_level)
        else "on a residual assessment the acceptor made themselves (or that nobody is recorded as having made)"
    )
    _mail(
        f"[ISMS] Second approval needed: residual risk {risk.reference} ({risk.residual_level})",
        f'{acceptance.accepted_by} accepted the residual risk "{risk.reference} {risk.title}" at level '
        f"{risk.residual_level}, {why}. It counts only once "
        f"another ISMS admin approves it:\n{_risk_url(risk)}\n",
        approvers,
    )
