"""Every permission rule of the risk register, each written once and named.

Pages, the API, templates (through booleans the views pass), exports and the other services call
these functions; nothing else in ``risks`` re-types who may do what.

Separation of duties (ISO/IEC 27001 A.5.3 / A.6.1.2): the people who manage the register
(compliance officers and ISMS admins, holding the role-wide ``risks.change_risk``) assess risks,
choose their treatment and plan treatment actions. A risk owner decides whether to accept the
residual risk of their own risks, reports the progress of their treatment actions and keeps the
description current, but cannot change the assessment their acceptance is judged against.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission
from django.db.models import Q, QuerySet

from ismsapp.models import User
from ismsapp.permissions import allowed, user_has
from ismsapp.roles import Role
from risks.models import Risk, RiskAcceptance, TreatmentAction

# Reading the register at all: the role-wide view permission, or owning risks (then only one's own).
RISK_READERS = ("risks.view_risk", "risks.own_risk")

# What only the register's managers change: the assessment, the treatment decision and the owner.
# ``status`` is here because the only manual status change is closing a risk.
ASSESSMENT_FIELDS = frozenset(
    {
        "owner",
        "inherent_likelihood",
        "inherent_impact",
        "treatment_option",
        "residual_likelihood",
        "residual_impact",
        "status",
    }
)
ASSESSMENT_RELATIONS = frozenset({"controls"})  # the treatment controls
# What the risk's owner may also change: the description of the risk itself.
DESCRIPTION_FIELDS = frozenset(
    {
        "title",
        "description",
        "threat",
        "vulnerability",
        "affects_confidentiality",
        "affects_integrity",
        "affects_availability",
        "next_review",
    }
)
DESCRIPTION_RELATIONS = frozenset({"assets"})

# Who may carry (be the owner of) a treatment action; never an external auditor.
TREATMENT_ACTION_CARRIER_ROLES = (Role.COMPLIANCE_OFFICER, Role.ISMS_ADMIN, Role.RISK_OWNER)
# What an action's progress is: the rest of an action (what, who, by when, cancelling) is planning.
PROGRESS_FIELDS = frozenset({"status", "progress_note"})
PROGRESS_STATUSES = frozenset(
    {TreatmentAction.Status.PLANNED, TreatmentAction.Status.IN_PROGRESS, TreatmentAction.Status.DONE}
)


def _active(user: Any) -> bool:
    return user is not None and user.is_authenticated and user.is_active


# --- reading ------------------------------------------------------------------------------------


def can_read_risk_register(user: Any) -> bool:
    """The register pages and exports (risk owners: narrowed to their own risks by ``for_user``)."""
    return _active(user) and allowed(user, RISK_READERS)


def may_own_risks(user: Any) -> bool:
    """Holds the Risk owner role (``My risks``; may be named the owner of a risk)."""
    return _active(user) and user.has_perm("risks.own_risk")


def risk_owner_candidates() -> QuerySet[User]:
    """Active users who may own risks (the choices of a risk's owner; ``may_own_risks`` as a query)."""
    permission = Permission.objects.get(content_type__app_label="risks", codename="own_risk")
    return (
        User.objects.filter(is_active=True)
        .filter(Q(groups__permissions=permission) | Q(user_permissions=permission) | Q(is_superuser=True))
        .distinct()
        .order_by("username")
    )


def can_read_assets(user: Any) -> bool:
    return _active(user) and user_has(user, "risks.view_asset")


def can_read_methodology(user: Any) -> bool:
    return _active(user) and user_has(user, "risks.view_riskmethodology")


def visible_risks(user: Any) -> QuerySet[Risk]:
    return Risk.objects.for_user(user, "view")


def visible_actions(user: Any) -> QuerySet[TreatmentAction]:
    return TreatmentAction.objects.for_user(user, "view")


def visible_acceptances(user: Any) -> QuerySet[RiskAcceptance]:
    return RiskAcceptance.objects.for_user(user, "view")


# --- the register and its assessment --------------------------------------------------------------


def manages_risk_register(user: Any) -> bool:
    """Compliance officers and ISMS admins: the role-wide permission to change every risk."""
    return _active(user) and user.has_perm("risks.change_risk")


def can_register_risk(user: Any) -> bool:
    return _active(user) and user_has(user, "risks.add_risk")


def is_owner_of(user: Any, risk: Risk) -> bool:
    """The risk's owner, still holding the object permissions granted with the ownership."""
    return _active(user) and risk.owner_id == user.pk and user.has_perm("risks.change_risk", risk)


def can_edit_risk(user: Any, risk: Risk) -> bool:
    """Open the risk's edit page at all (its description); the owner too."""
    return manages_risk_register(user) or is_owner_of(user, risk)


def can_change_risk_assessment(user: Any, risk: Risk) -> bool:
    """Scores, treatment option, treatment controls, owner and closing: never the risk's owner
    alone, whose acceptance is judged against them (a manager who also owns the risk may, and
    then their acceptance needs a second approval, see ``needs_second_approval``)."""
    return manages_risk_register(user)


def editable_risk_fields(user: Any, risk: Risk | None) -> frozenset[str]:
    """The risk fields and relations ``user`` may set on ``risk`` (``None``: a new risk)."""
    if risk is None:
        return (
            ASSESSMENT_FIELDS | ASSESSMENT_RELATIONS | DESCRIPTION_FIELDS | DESCRIPTION_RELATIONS
            if can_register_risk(user)
            else frozenset()
        )
    fields: frozenset[str] = frozenset()
    if can_edit_risk(user, risk):
        fields |= DESCRIPTION_FIELDS | DESCRIPTION_RELATIONS
    if can_change_risk_assessment(user, risk):
        fields |= ASSESSMENT_FIELDS | ASSESSMENT_RELATIONS
    return fields


# --- treatment actions ----------------------------------------------------------------------------


def treatment_action_carriers() -> QuerySet[User]:
    """Active users whose role may carry treatment actions (the one definition of that rule)."""
    carriers = [role.label for role in TREATMENT_ACTION_CARRIER_ROLES]
    return (
        User.objects.filter(is_active=True, groups__name__in=carriers)
        .exclude(groups__name=Role.EXTERNAL_AUDITOR.label)
        .distinct()
        .order_by("username")
    )


def may_carry_treatment_actions(user: Any) -> bool:
    return user is not None and user.pk is not None and treatment_action_carriers().filter(pk=user.pk).exists()


def can_plan_treatment(user: Any, risk: Risk) -> bool:
    """Add treatment actions, change what they are, who carries them and when, cancel them."""
    return manages_risk_register(user)


def can_report_progress(user: Any, risk: Risk) -> bool:
    """Report the progress of ``risk``'s treatment actions: the register's managers and its owner."""
    return can_plan_treatment(user, risk) or is_owner_of(user, risk)


def can_update_action_progress(user: Any, action: TreatmentAction) -> bool:
    return can_report_progress(user, action.risk)


def editable_action_fields(user: Any, action: TreatmentAction | None, risk: Risk) -> frozenset[str]:
    if can_plan_treatment(user, risk):
        return frozenset({"description", "owner", "due_date"}) | PROGRESS_FIELDS
    if action is not None and can_update_action_progress(user, action):
        return PROGRESS_FIELDS
    return frozenset()


def progress_statuses(user: Any, action: TreatmentAction | None, risk: Risk) -> frozenset[str]:
    """The statuses ``user`` may set: cancelling (or reviving a cancelled action) is planning."""
    if can_plan_treatment(user, risk):
        return frozenset(TreatmentAction.Status.values)
    if action is not None and action.status == TreatmentAction.Status.CANCELLED:
        return frozenset()
    return PROGRESS_STATUSES


# --- residual-risk acceptance ---------------------------------------------------------------------


def can_accept_residual_risk(user: Any, risk: Risk) -> bool:
    """Only the risk's owner, holding the object permission to accept it."""
    return _active(user) and risk.owner_id == user.pk and user.has_perm("risks.accept_risk", risk)


def awaits_acceptance(risk: Risk) -> bool:
    return risk.status in (Risk.Status.TREATED, Risk.Status.ACCEPTANCE_REQUIRED)


def can_give_second_approval(user: Any, acceptance: RiskAcceptance | None = None) -> bool:
    """An ISMS admin, never the person who accepted (``None``: may approve any at all)."""
    if not (_active(user) and user_has(user, "risks.approve_riskacceptance")):
        return False
    return acceptance is None or acceptance.accepted_by_id != user.pk


def can_revoke_acceptance(user: Any, acceptance: RiskAcceptance) -> bool:
    """The risk's owner, or the register's managers."""
    risk = acceptance.risk
    return manages_risk_register(user) or (_active(user) and risk.owner_id == user.pk)


def needs_second_approval(risk: Risk, acceptor: Any) -> bool:
    """Above the appetite, or judged on an assessment the acceptor made themselves (or that
    nobody is recorded as having made): another person must approve."""
    if not risk.methodology.within_appetite(risk.residual_level):
        return True
    return risk.residual_assessed_by_id is None or risk.residual_assessed_by_id == acceptor.pk


# --- assets ---------------------------------------------------------------------------------------


def can_manage_assets(user: Any) -> bool:
    return _active(user) and user_has(user, "risks.add_asset") and user_has(user, "risks.change_asset")


def can_import_into_register(user: Any) -> bool:
    """The import page takes assets and risks: both rights are needed."""
    return can_manage_assets(user) and can_register_risk(user)


# --- methodology ----------------------------------------------------------------------------------


def can_define_methodology(user: Any) -> bool:
    return _active(user) and user_has(user, "risks.add_riskmethodology")
