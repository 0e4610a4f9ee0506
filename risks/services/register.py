"""State changes of the risk register: methodology versions, assets, risks, treatment actions.

Acceptance of residual risk lives in ``risks.services.acceptance``, the permission rules in
``risks.services.rules``. Every function takes a keyword-only ``actor``, checks the rules itself
(so pages, API and imports obey the same separation of duties), runs in one transaction and is
captured by the audit trail.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from ismsapp.audit import acting_as, record_event
from ismsapp.models import AuditEntry, User
from risks.defaults import default_methodology
from risks.models import Asset, Risk, RiskAcceptance, RiskMethodology, TreatmentAction
from risks.services import rules

Result = TypeVar("Result")


def refusals_recorded(event: str) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Write a refused attempt (``PermissionDenied``) to the audit trail, after the service's
    transaction has rolled back, so the record stays (when the caller holds no transaction)."""

    def decorate(service: Callable[..., Result]) -> Callable[..., Result]:
        @functools.wraps(service)
        def guarded(*, actor: User | None, **kwargs: Any) -> Result:
            try:
                return service(actor=actor, **kwargs)
            except PermissionDenied as exc:
                record_event(
                    AuditEntry.Action.ACCESS_DENIED,
                    actor=actor,
                    obj=kwargs.get("risk") or kwargs.get("asset"),
                    detail={"event": event, "reason": str(exc)[:500]},
                )
                raise

        return guarded

    return decorate


OWNER_PERMISSIONS = ("risks.view_risk", "risks.change_risk", "risks.accept_risk")
RISK_FIELDS = (
    "title",
    "description",
    "threat",
    "vulnerability",
    "affects_confidentiality",
    "affects_integrity",
    "affects_availability",
    "owner",
    "inherent_likelihood",
    "inherent_impact",
    "treatment_option",
    "residual_likelihood",
    "residual_impact",
    "next_review",
)


# --- methodology --------------------------------------------------------------------------------


@refusals_recorded("risk methodology change refused")
@transaction.atomic
def create_methodology_version(*, actor: User | None, **definition: Any) -> RiskMethodology:
    """Add a version of the methodology and make it the current one (risks keep theirs).
    ``actor=None``: the system installing the default methodology."""
    if actor is not None and not rules.can_define_methodology(actor):
        raise PermissionDenied("Your role cannot define the risk methodology.")
    number = (RiskMethodology.objects.aggregate(n=Max("version"))["n"] or 0) + 1
    with acting_as(actor):
        methodology = RiskMethodology(version=number, created_by=actor, **definition)
        methodology.full_clean(exclude=["is_current"])
        RiskMethodology.objects.filter(is_current=True).update(is_current=False)
        methodology.is_current = True
        methodology.save()
    return methodology


def current_methodology() -> RiskMethodology:
    methodology = RiskMethodology.objects.filter(is_current=True).first()
    if methodology is None:
        methodology = create_methodology_version(actor=None, **default_methodology())
    return methodology


# --- assets -------------------------------------------------------------------------------------

ASSET_FIELDS = (
    "name",
    "asset_type",
    "owner",
    "confidentiality",
    "integrity",
    "availability",
    "location",
    "description",
)


@refusals_recorded("asset change refused")
@transaction.atomic
def save_asset(*, actor: User, asset: Asset | None = None, **values: Any) -> Asset:
    """Create (``asset=None``) or update an asset; ``ValidationError`` names the bad field."""
    if not rules.can_manage_assets(actor):
        raise PermissionDenied("Your role cannot manage assets.")
    with acting_as(actor):
        asset = asset or Asset()
        for name in ASSET_FIELDS:
            if name in values:
                setattr(asset, name, values[name])
        if asset.owner_id and not asset.owner.is_active:
            raise ValidationError({"owner": "The owner must be an active user."})
        asset.full_clean()
        asset.save()
    return asset


# --- risks --------------------------------------------------------------------------------------


def _check_owner(owner: User | None) -> None:
    if owner is None:
        raise ValidationError({"owner": "Every risk needs an owner."})
    if not rules.may_own_risks(owner):
        raise ValidationError({"owner": f"{owner.get_username()} does not hold the Risk owner role."})


def _score(risk: Risk) -> None:
    """Levels from the risk's methodology; ``ValidationError`` for values outside its scales."""
    methodology = risk.methodology
    for prefix in ("inherent", "residual"):
        likelihood, impact = getattr(risk, f"{prefix}_likelihood"), getattr(risk, f"{prefix}_impact")
        if (likelihood is None) != (impact is None):
            raise ValidationError(
                {
                    f"{prefix}_impact"
                    if impact is None
                    else f"{prefix}_likelihood": f"Give both {prefix} likelihood and impact, or neither."
                }
            )
        if likelihood is None:
            level, rank = "", None
        else:
            try:
                level = methodology.level(likelihood, impact)
            except ValidationError as exc:
                raise ValidationError({f"{prefix}_{k}": v for k, v in exc.message_dict.items()}) from exc
            rank = methodology.level_rank(level)
        setattr(risk, f"{prefix}_level", level)
        setattr(risk, f"{prefix}_rank", rank)


def derive_status(risk: Risk) -> str:
    """Where the risk stands in its lifecycle (closed stays closed)."""
    if risk.status == Risk.Status.CLOSED:
        return Risk.Status.CLOSED
    acceptances = list(risk.acceptances.all()) if risk.pk else []
    if any(a.status == RiskAcceptance.Status.ACTIVE for a in acceptances):
        return Risk.Status.ACCEPTED
    if risk.inherent_level == "":
        return Risk.Status.IDENTIFIED
    if not risk.treatment_option:
        return Risk.Status.ASSESSED
    open_actions = (
        risk.pk
        and risk.actions.exclude(status__in=[TreatmentAction.Status.DONE, TreatmentAction.Status.CANCELLED]).exists()
    )
    if open_actions or risk.residual_level == "":
        return Risk.Status.TREATMENT_PLANNED
    if acceptances:  # it was accepted before (voided, expired, revoked) or awaits a second approval
        return Risk.Status.ACCEPTANCE_REQUIRED
    return Risk.Status.TREATED


def refresh_status(risk: Risk) -> Risk:
    status = derive_status(risk)
    if status != risk.status:
        risk.status = status
        risk.save(update_fields=["status", "updated_at"])
    return risk


def _grant_owner(risk: Risk, previous_owner: User | None) -> None:
    if previous_owner is not None and previous_owner.pk != risk.owner_id:
        for perm in OWNER_PERMISSIONS:
            remove_perm(perm, previous_owner, risk)
    for perm in OWNER_PERMISSIONS:
        assign_perm(perm, risk.owner, risk)


def next_reference() -> str:
    numbers = [
        int(m.group(1))
        for ref in Risk.objects.values_list("reference", flat=True)
        if (m := re.fullmatch(r"R-(\d+)", ref))
    ]
    return f"R-{max(numbers, default=0) + 1:04d}"


def _record_residual_assessor(risk: Risk, actor: User | None) -> None:
    """Who scored the residual risk now in force (nobody when it is unscored)."""
    scored = risk.residual_likelihood is not None
    risk.residual_assessed_by = actor if scored else None
    risk.residual_assessed_at = timezone.now() if scored else None


@refusals_recorded("risk registration refused")
@transaction.atomic
def create_risk(*, actor: User, assets: Iterable[Asset] = (), controls: Iterable[Any] = (), **values: Any) -> Risk:
    """Register a risk scored with the current methodology and grant its owner access to it."""
    if not rules.can_register_risk(actor):
        raise PermissionDenied("Your role cannot register risks.")
    unknown = set(values) - set(RISK_FIELDS) - {"reference"}
    if unknown:
        raise ValidationError(f"Unknown risk fields: {', '.join(sorted(unknown))}.")
    _check_owner(values.get("owner"))
    with acting_as(actor):
        risk = Risk(
            methodology=current_methodology(), reference=values.pop("reference", None) or next_reference(), **values
        )
        _score(risk)
        _record_residual_assessor(risk, actor)
        risk.full_clean(exclude=["status"])
        risk.save()
        risk.assets.set(assets)
        risk.controls.set(controls)
        _grant_owner(risk, None)
        refresh_status(risk)
    return risk


def _changed_fields(
    risk: Risk, values: dict[str, Any], assets: Iterable[Asset] | None, controls: Iterable[Any] | None
) -> set[str]:
    """The fields and relations the update would really change (a PUT repeats the rest)."""
    changed = {name for name, value in values.items() if getattr(risk, name) != value}
    for name, wanted in (("assets", assets), ("controls", controls)):
        if wanted is not None and {item.pk for item in wanted} != set(getattr(risk, name).values_list("pk", flat=True)):
            changed.add(name)
    return changed


def ensure_may_change_risk(actor: User, risk: Risk, changed: set[str]) -> None:
    """``PermissionDenied`` naming what ``actor`` may not change (the owner: the assessment)."""
    if not rules.can_edit_risk(actor, risk):
        raise PermissionDenied("You cannot change this risk.")
    refused = changed - rules.editable_risk_fields(actor, risk)
    if refused:
        raise PermissionDenied(
            "The risk owner cannot change the assessment, treatment or owner of a risk "
            f"(refused: {', '.join(sorted(refused))}); ask a compliance officer."
        )


def material_change(risk: Risk, before: dict[str, Any], removed_controls: set[int]) -> str:
    """Why the change voids an acceptance, or ``""`` if it does not."""
    reasons = []
    if before["residual_rank"] is not None and (
        risk.residual_rank is None or risk.residual_rank > before["residual_rank"]
    ):
        reasons.append(
            f"residual level raised from {before['residual_level'] or 'unscored'} to "
            f"{risk.residual_level or 'unscored'}"
        )
    if before["treatment_option"] != risk.treatment_option:
        reasons.append(
            f"treatment changed from {before['treatment_option'] or 'none'} to {risk.treatment_option or 'none'}"
        )
    if removed_controls:
        reasons.append(f"{len(removed_controls)} treatment control(s) removed")
    return "; ".join(reasons)


@refusals_recorded("risk change refused")
@transaction.atomic
def update_risk(
    *,
    actor: User,
    risk: Risk,
    assets: Iterable[Asset] | None = None,
    controls: Iterable[Any] | None = None,
    **values: Any,
) -> Risk:
    """Change a risk. A material change (higher residual level, another treatment, a removed
    control) voids its open acceptance and the risk needs a new one."""
    from risks.services.acceptance import void_open_acceptance

    unknown = set(values) - set(RISK_FIELDS) - {"status"}
    if unknown:
        raise ValidationError(f"Unknown risk fields: {', '.join(sorted(unknown))}.")
    risk = Risk.objects.select_for_update().get(pk=risk.pk)
    assets = list(assets) if assets is not None else None
    controls = list(controls) if controls is not None else None
    changed = _changed_fields(risk, values, assets, controls)
    ensure_may_change_risk(actor, risk, changed)
    before = {
        "residual_rank": risk.residual_rank,
        "residual_level": risk.residual_level,
        "treatment_option": risk.treatment_option,
    }
    previous_owner = risk.owner
    if "owner" in values:
        _check_owner(values["owner"])
    if values.get("status") not in (None, Risk.Status.CLOSED, risk.status):
        raise ValidationError({"status": "Only closing a risk is a manual status change; the rest follows the risk."})
    with acting_as(actor):
        for name, value in values.items():
            setattr(risk, name, value)
        _score(risk)
        if changed & {"residual_likelihood", "residual_impact"}:
            _record_residual_assessor(risk, actor)
        risk.full_clean(exclude=["status"])
        risk.save()
        if assets is not None:
            risk.assets.set(assets)
        removed: set[int] = set()
        if controls is not None:
            wanted = {control.pk for control in controls}
            removed = set(risk.controls.values_list("pk", flat=True)) - wanted
            risk.controls.set(controls)
        _grant_owner(risk, previous_owner)
        reason = material_change(risk, before, removed)
        if reason or previous_owner.pk != risk.owner_id:
            void_open_acceptance(risk, reason or "the risk owner changed", actor=actor)
        refresh_status(risk)
    return risk


# --- treatment actions --------------------------------------------------------------------------


ACTION_FIELDS = ("description", "owner", "due_date", "status", "progress_note")
PROGRESS_NOTE_MAX = 2_000


def _clean_progress_note(value: Any) -> str:
    text = str(value or "").strip()
    if any((ord(char) < 32 and char not in "\t\n\r") or ord(char) == 127 for char in text):
        raise ValidationError({"progress_note": "The progress note holds a control character; remove it."})
    if len(text) > PROGRESS_NOTE_MAX:
        raise ValidationError(
            {"progress_note": f"The progress note is {len(text)} characters long; at most {PROGRESS_NOTE_MAX}."}
        )
    return text


def ensure_may_change_action(
    actor: User, risk: Risk, action: TreatmentAction | None, changed: set[str], status: str | None
) -> None:
    """Planning (adding, describing, assigning, scheduling, cancelling) is the managers'; the
    risk's owner reports progress. ``PermissionDenied`` names what was refused."""
    if action is None:
        if not rules.can_plan_treatment(actor, risk):
            raise PermissionDenied("Only a compliance officer or an ISMS admin can add treatment actions.")
        return
    if not rules.can_update_action_progress(actor, action):
        raise PermissionDenied("You cannot change the treatment of this risk.")
    refused = changed - rules.editable_action_fields(actor, action, risk)
    if refused:
        raise PermissionDenied(
            f"The risk owner reports progress only (refused: {', '.join(sorted(refused))}); "
            "a compliance officer plans the treatment."
        )
    if "status" in changed and status not in rules.progress_statuses(actor, action, risk):
        raise PermissionDenied("Only a compliance officer or an ISMS admin can cancel a treatment action.")


@refusals_recorded("treatment action change refused")
@transaction.atomic
def save_action(*, actor: User, risk: Risk, action: TreatmentAction | None = None, **values: Any) -> TreatmentAction:
    """Add (``action=None``) or change a treatment action of ``risk``; the risk's status follows.

    ``values``: any of ``description``, ``owner``, ``due_date``, ``status``, ``progress_note``;
    for a change, only the fields given (and different) are changed and checked.
    """
    unknown = set(values) - set(ACTION_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown treatment action fields: {', '.join(sorted(unknown))}.")
    if "progress_note" in values:
        values["progress_note"] = _clean_progress_note(values["progress_note"])
    if isinstance(values.get("description"), str):
        values["description"] = values["description"].strip()
    # the stored action, not the caller's instance (a bound model form has already changed that)
    current = (
        TreatmentAction.objects.select_for_update().get(pk=action.pk)
        if action is not None
        else TreatmentAction(risk=risk)
    )
    if current.risk_id != risk.pk:
        raise ValidationError("This action belongs to another risk.")
    stored = current if action is not None else None
    changed = {name for name, value in values.items() if stored is None or getattr(current, name) != value}
    ensure_may_change_action(actor, risk, stored, changed, values.get("status"))
    owner = values.get("owner")
    if "owner" in changed and (owner is None or not rules.may_carry_treatment_actions(owner)):
        raise ValidationError(
            {"owner": "Treatment actions are carried by active compliance officers, ISMS admins or risk owners."}
        )
    with acting_as(actor):
        for name in changed:
            setattr(current, name, values[name])
        current.full_clean()
        current.save()
        refresh_status(Risk.objects.get(pk=risk.pk))
    return current
