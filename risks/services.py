"""State changes of the risk register: methodology versions, assets, risks, treatment actions.

Acceptance of residual risk lives in ``risks.acceptance``. Every function takes a keyword-only
``actor``, runs in one transaction and is captured by the audit trail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from guardian.shortcuts import assign_perm, remove_perm

from ismsapp.audit import acting_as
from ismsapp.models import User
from risks.defaults import default_methodology
from risks.models import Asset, Risk, RiskAcceptance, RiskMethodology, TreatmentAction

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


@transaction.atomic
def create_methodology_version(*, actor: User | None, **definition: Any) -> RiskMethodology:
    """Add a version of the methodology and make it the current one (risks keep theirs)."""
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


@transaction.atomic
def save_asset(*, actor: User, asset: Asset | None = None, **values: Any) -> Asset:
    """Create (``asset=None``) or update an asset; ``ValidationError`` names the bad field."""
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
    if not owner.is_active or not owner.has_perm("risks.own_risk"):
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


@transaction.atomic
def create_risk(*, actor: User, assets: Iterable[Asset] = (), controls: Iterable[Any] = (), **values: Any) -> Risk:
    """Register a risk scored with the current methodology and grant its owner access to it."""
    unknown = set(values) - set(RISK_FIELDS) - {"reference"}
    if unknown:
        raise ValidationError(f"Unknown risk fields: {', '.join(sorted(unknown))}.")
    _check_owner(values.get("owner"))
    with acting_as(actor):
        risk = Risk(
            methodology=current_methodology(), reference=values.pop("reference", None) or next_reference(), **values
        )
        _score(risk)
        risk.full_clean(exclude=["status"])
        risk.save()
        risk.assets.set(assets)
        risk.controls.set(controls)
        _grant_owner(risk, None)
        refresh_status(risk)
    return risk


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
    from risks.acceptance import void_open_acceptance

    unknown = set(values) - set(RISK_FIELDS) - {"status"}
    if unknown:
        raise ValidationError(f"Unknown risk fields: {', '.join(sorted(unknown))}.")
    risk = Risk.objects.select_for_update().get(pk=risk.pk)
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
        risk.full_clean(exclude=["status"])
        risk.save()
        if assets is not None:
            risk.assets.set(assets)
        removed: set[int] = set()
        if controls is not None:
            wanted = {control.pk for control in controls}
            removed = set(risk.controls.values_list("pk", flat=True)) - wanted
            risk.controls.set(list(controls))
        _grant_owner(risk, previous_owner)
        reason = material_change(risk, before, removed)
        if reason or previous_owner.pk != risk.owner_id:
            void_open_acceptance(risk, reason or "the risk owner changed", actor=actor)
        refresh_status(risk)
    return risk


# --- treatment actions --------------------------------------------------------------------------


@transaction.atomic
def save_action(
    *,
    actor: User,
    risk: Risk,
    action: TreatmentAction | None = None,
    description: str,
    owner: User,
    due_date: date,
    status: str = TreatmentAction.Status.PLANNED,
) -> TreatmentAction:
    """Add or change a treatment action of ``risk``; the risk's status follows."""
    if not owner.is_active:
        raise ValidationError({"owner": "The action owner must be an active user."})
    with acting_as(actor):
        action = action or TreatmentAction(risk=risk)
        if action.risk_id != risk.pk:
            raise ValidationError("This action belongs to another risk.")
        action.description, action.owner, action.due_date, action.status = description.strip(), owner, due_date, status
        action.full_clean()
        action.save()
        refresh_status(Risk.objects.get(pk=risk.pk))
    return action
