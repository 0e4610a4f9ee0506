"""The named checks of the audits app. Services call them before any change; views, the API and
templates call the ``can_*`` predicates to decide what to offer. No rule is typed twice."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audits.models import Audit, AuditReport, ChecklistItem, CorrectiveAction, ImpartialityOverride, Nonconformity
from audits.models.report import final_report_error
from controls.models import Clause, ClauseEntry, Control, SoAEntry
from risks.models import Risk, TreatmentAction

# --- who may do what ------------------------------------------------------------------------------


def holds(user: Any, perm: str) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.has_perm(perm))


def require(user: Any, perm: str, doing: str) -> None:
    """``PermissionDenied`` naming what was refused unless ``user`` holds ``perm``."""
    if not holds(user, perm):
        raise PermissionDenied(f"You are not allowed to {doing}.")


def is_audit_member(user: Any, audit: Audit) -> bool:
    """The lead auditor or a team member of ``audit``, still holding the auditor's permission."""
    if not holds(user, "audits.conduct_audit"):
        return False
    return audit.lead_auditor_id == user.pk or audit.team.filter(pk=user.pk).exists()


def require_audit_member(user: Any, audit: Audit, doing: str) -> None:
    if not is_audit_member(user, audit):
        raise PermissionDenied(f"Only the auditors assigned to {audit} may {doing}.")


def can_manage_audit(user: Any, audit: Audit) -> bool:
    """Compliance officers change any audit; the lead auditor runs the workflow of their own."""
    return holds(user, "audits.change_audit") or (
        holds(user, "audits.conduct_audit") and audit.lead_auditor_id == user.pk
    )


def require_audit_manager(user: Any, audit: Audit) -> None:
    if not can_manage_audit(user, audit):
        raise PermissionDenied(f"Only a compliance officer or the lead auditor may change the status of {audit}.")


def can_record_results(user: Any, audit: Audit) -> bool:
    return audit.status == Audit.Status.IN_PROGRESS and is_audit_member(user, audit)


def can_complete_action(user: Any, action: CorrectiveAction) -> bool:
    return action.is_open and user is not None and user.is_authenticated and action.owner_id == user.pk


def implementers(nonconformity: Nonconformity) -> set[int]:
    """Who implemented the corrective actions: their owners."""
    return set(nonconformity.corrective_actions.values_list("owner_id", flat=True))


def can_verify(user: Any, nonconformity: Nonconformity) -> bool:
    return (
        nonconformity.status == Nonconformity.Status.AWAITING_VERIFICATION
        and holds(user, "audits.add_effectivenessverification")
        and user.pk not in implementers(nonconformity)
    )


def can_close(user: Any, nonconformity: Nonconformity) -> bool:
    return nonconformity.status == Nonconformity.Status.VERIFIED and holds(user, "audits.close_nonconformity")


# --- the finalised report -------------------------------------------------------------------------

REPORTABLE_STATUSES = (Audit.Status.REPORTING, Audit.Status.CLOSED)


def report_is_final(audit: Audit) -> bool:
    return AuditReport.objects.filter(audit_id=audit.pk).exists()


def require_report_not_final(audit: Audit) -> None:
    """What a finalised report shows (scope, criteria, team, overrides, checklist, the findings'
    statements, the audit's dates and status) cannot change once it is final."""
    if report_is_final(audit):
        raise final_report_error(audit)


def can_finalise_report(user: Any, audit: Audit) -> bool:
    """The lead auditor or a compliance officer, once the fieldwork is over, and only once."""
    return audit.status in REPORTABLE_STATUSES and can_manage_audit(user, audit) and not report_is_final(audit)


# --- values ---------------------------------------------------------------------------------------


def require_active_user(field: str, user: Any, role_perm: str | None = None, role_label: str = "") -> None:
    if user is None:
        raise ValidationError({field: "This field is required."})
    if not user.is_active:
        raise ValidationError({field: f"{user.get_username()} is not an active user."})
    if role_perm and not user.has_perm(role_perm):
        raise ValidationError({field: f"{user.get_username()} does not hold the {role_label} role."})


def require_not_future(field: str, value: date | None) -> None:
    if value is not None and value > timezone.localdate():
        raise ValidationError({field: f"The date {value:%Y-%m-%d} is in the future."})


def require_same_edition(edition: str, controls: Iterable[Control], clauses: Iterable[Clause]) -> None:
    """An audit's scope is taken from the edition its programme follows."""
    for field, items in (("controls", controls), ("clauses", clauses)):
        strangers = [f"{item.ref}" for item in items if item.edition != edition]
        if strangers:
            raise ValidationError(
                {field: f"{', '.join(strangers[:5])} not of the {edition} edition that the programme follows."}
            )


def in_scope(item: ChecklistItem) -> bool:
    audit = item.audit
    if item.control_id:
        return audit.controls.filter(pk=item.control_id).exists()
    return audit.clauses.filter(pk=item.clause_id).exists()


def require_in_scope(item: ChecklistItem) -> None:
    if not in_scope(item):
        raise ValidationError(
            {
                "control" if item.control_id else "clause": (
                    f"{item.requirement_label} is outside the scope of {item.audit}; no result can be recorded for it."
                )
            }
        )


# --- impartiality (clause 9.2 c) ------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    """``auditor`` is involved with a requirement of the scope: ``reason`` says how."""

    auditor_id: int
    auditor_name: str
    control_id: int | None
    clause_id: int | None
    requirement: str
    reason: str

    @property
    def key(self) -> tuple[int, int | None, int | None]:
        return (self.auditor_id, self.control_id, self.clause_id)

    def __str__(self) -> str:
        return f"{self.auditor_name} cannot audit {self.requirement}: {self.reason}"


def impartiality_conflicts(
    *, auditors: Iterable[Any], controls: Iterable[Control], clauses: Iterable[Clause]
) -> list[Conflict]:
    """Every conflict of ``auditors`` with the requirements (four queries whatever the sizes).

    Nobody audits a control they own in the SoA, a control treating a risk they own, or a control
    treating a risk for which they own a treatment action; nor a clause they own.
    """
    auditor_ids = {user.pk for user in auditors if user is not None}
    control_ids = {control.pk for control in controls}
    clause_ids = {clause.pk for clause in clauses}
    if not auditor_ids:
        return []
    names: dict[int, str] = {}
    found: dict[tuple[int, int | None, int | None], Conflict] = {}

    def add(user_id: int, username: str, control: tuple[int, str, str] | None, clause: Any, reason: str) -> None:
        names[user_id] = username
        if control is not None:
            key, label = (user_id, control[0], None), f"control {control[1]} {control[2]}"
        else:
            key, label = (user_id, None, clause[0]), f"clause {clause[1]} {clause[2]}"
        if key not in found:
            found[key] = Conflict(user_id, username, key[1], key[2], label, reason)

    if control_ids:
        for row in SoAEntry.objects.filter(control_id__in=control_ids, owner_id__in=auditor_ids).values_list(
            "owner_id", "owner__username", "control_id", "control__ref", "control__title"
        ):
            add(row[0], row[1], row[2:], None, "they own this control in the Statement of Applicability")
        treats = Risk.controls.through.objects.filter(control_id__in=control_ids)
        for row in treats.filter(risk__owner_id__in=auditor_ids).values_list(
            "risk__owner_id", "risk__owner__username", "control_id", "control__ref", "control__title", "risk__reference"
        ):
            add(row[0], row[1], row[2:5], None, f"they own risk {row[5]}, which this control treats")
        for row in (
            TreatmentAction.objects.filter(owner_id__in=auditor_ids, risk__controls__in=control_ids)
            .values_list(
                "owner_id",
                "owner__username",
                "risk__controls__id",
                "risk__controls__ref",
                "risk__controls__title",
                "risk__reference",
            )
            .distinct()
        ):
            add(
                row[0],
                row[1],
                row[2:5],
                None,
                f"they own a treatment action of risk {row[5]}, which this control treats",
            )
    if clause_ids:
        for row in ClauseEntry.objects.filter(clause_id__in=clause_ids, owner_id__in=auditor_ids).values_list(
            "owner_id", "owner__username", "clause_id", "clause__ref", "clause__title"
        ):
            add(row[0], row[1], None, row[2:], "they own this clause in the Statement of Applicability")
    return sorted(found.values(), key=lambda c: (c.auditor_name, c.requirement))


def unresolved_conflicts(audit: Audit, conflicts: list[Conflict]) -> list[Conflict]:
    """The conflicts that no override of ``audit`` covers."""
    if not conflicts or audit.pk is None:
        return conflicts
    overridden = {
        (row[0], row[1], row[2])
        for row in ImpartialityOverride.objects.filter(audit=audit).values_list("auditor_id", "control_id", "clause_id")
    }
    return [conflict for conflict in conflicts if conflict.key not in overridden]


def conflict_error(field: str, conflicts: list[Conflict]) -> ValidationError:
    listed = "; ".join(str(conflict) for conflict in conflicts[:10])
    more = f" (and {len(conflicts) - 10} more)" if len(conflicts) > 10 else ""
    return ValidationError(
        {
            field: (
                f"Impartiality conflict: {listed}{more}. Choose another auditor, or a compliance officer "
                "may override with a written justification."
            )
        },
        code="impartiality",
    )
