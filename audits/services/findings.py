"""State changes of nonconformities (clause 10.2): raising, analysis, corrective actions, their
completion by their owners, effectiveness verification by someone else, and closure."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audits.models import Audit, ChecklistItem, CorrectiveAction, EffectivenessVerification, Nonconformity
from audits.services.rules import (
    can_complete_action,
    implementers,
    require,
    require_active_user,
    require_audit_member,
    require_in_scope,
    require_not_future,
    require_report_not_final,
)
from controls.models import Clause, Control
from ismsapp.audit import acting_as
from ismsapp.models import User

ANALYSIS_FIELDS = ("statement", "evidence", "correction", "root_cause")
REPORTED_FIELDS = ("statement", "evidence")  # printed in the audit report: frozen once it is final
SEVERITY_OF_RESULT = {
    ChecklistItem.Result.MAJOR_NC: Nonconformity.Severity.MAJOR,
    ChecklistItem.Result.MINOR_NC: Nonconformity.Severity.MINOR,
}


def _locked(nonconformity: Nonconformity) -> Nonconformity:
    return Nonconformity.objects.select_for_update().get(pk=nonconformity.pk)


def _require_not_closed(nonconformity: Nonconformity) -> None:
    if nonconformity.status == Nonconformity.Status.CLOSED:
        raise ValidationError({"status": f"{nonconformity.reference} is closed; it cannot change."})


@transaction.atomic
def raise_nonconformity(
    *,
    actor: User,
    statement: str,
    severity: str | None = None,
    checklist_item: ChecklistItem | None = None,
    origin: str = "",
    control: Control | None = None,
    clause: Clause | None = None,
    evidence: str = "",
    correction: str = "",
    root_cause: str = "",
    raised_on: date | None = None,
) -> Nonconformity:
    """From a checklist item recorded as a major or minor nonconformity (by the audit's auditors),
    or directly, with its origin (management, complaint, monitoring, other) and requirement."""
    raised_on = raised_on or timezone.localdate()
    require_not_future("raised_on", raised_on)
    nonconformity = Nonconformity(
        statement=statement.strip(),
        evidence=evidence.strip(),
        correction=correction.strip(),
        root_cause=root_cause.strip(),
        raised_on=raised_on,
        raised_by=actor,
    )
    if checklist_item is not None:
        item = ChecklistItem.objects.select_related("audit").get(pk=checklist_item.pk)
        require_audit_member(actor, item.audit, "raise nonconformities from its checklist")
        if item.audit.status not in (Audit.Status.IN_PROGRESS, Audit.Status.REPORTING):
            raise ValidationError(
                {"checklist_item": f"The audit is {item.audit.get_status_display().lower()}; no finding can be added."}
            )
        require_report_not_final(item.audit)
        require_in_scope(item)
        if item.result not in SEVERITY_OF_RESULT:
            raise ValidationError(
                {"checklist_item": "Record a major or minor nonconformity as the item's result first."}
            )
        if origin or control is not None or clause is not None:
            raise ValidationError({"origin": "A nonconformity from the checklist takes its requirement from the item."})
        expected = SEVERITY_OF_RESULT[item.result]
        if severity not in (None, expected):
            raise ValidationError(
                {"severity": f"The item records a {item.get_result_display().lower()}; the severity must match."}
            )
        nonconformity.severity = expected
        nonconformity.source = Nonconformity.Source.CHECKLIST
        nonconformity.checklist_item, nonconformity.audit = item, item.audit
        nonconformity.control_id, nonconformity.clause_id = item.control_id, item.clause_id
    else:
        require(actor, "audits.add_nonconformity", "raise nonconformities")
        if not origin:
            raise ValidationError({"origin": "Say where the nonconformity comes from."})
        nonconformity.severity = severity or ""
        nonconformity.source = Nonconformity.Source.DIRECT
        nonconformity.origin = origin
        nonconformity.control, nonconformity.clause = control, clause
    with acting_as(actor):
        nonconformity.full_clean()
        nonconformity.save()
    return nonconformity


@transaction.atomic
def update_nonconformity(*, actor: User, nonconformity: Nonconformity, **values: Any) -> Nonconformity:
    """Record the correction taken, the root-cause analysis, the statement or the evidence."""
    require(actor, "audits.change_nonconformity", "change nonconformities")
    unknown = set(values) - set(ANALYSIS_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    nonconformity = _locked(nonconformity)
    _require_not_closed(nonconformity)
    if nonconformity.audit_id and set(values) & set(REPORTED_FIELDS):
        require_report_not_final(nonconformity.audit)
    with acting_as(actor):
        for name, value in values.items():
            setattr(nonconformity, name, value.strip() if isinstance(value, str) else value)
        nonconformity.full_clean()
        nonconformity.save()
    return nonconformity


def _check_due_date(nonconformity: Nonconformity, due_date: date | None) -> None:
    if due_date is None:
        raise ValidationError({"due_date": "This field is required."})
    if due_date < nonconformity.raised_on:
        raise ValidationError(
            {
                "due_date": (
                    f"The due date {due_date:%Y-%m-%d} is before the nonconformity was raised "
                    f"({nonconformity.raised_on:%Y-%m-%d})."
                )
            }
        )


def _refresh_status(nonconformity: Nonconformity) -> None:
    """Open while an action is open (or none exists); awaiting verification once all are done."""
    if nonconformity.status in (Nonconformity.Status.CLOSED, Nonconformity.Status.VERIFIED):
        return
    statuses = list(nonconformity.corrective_actions.values_list("status", flat=True))
    done = bool(statuses) and all(s == CorrectiveAction.Status.DONE for s in statuses)
    status = Nonconformity.Status.AWAITING_VERIFICATION if done else Nonconformity.Status.OPEN
    if status != nonconformity.status:
        nonconformity.status = status
        nonconformity.save()


@transaction.atomic
def add_corrective_action(
    *, actor: User, nonconformity: Nonconformity, description: str, owner: User | None, due_date: date | None
) -> CorrectiveAction:
    """Plan a corrective action, owned by any active user; due on or after the day it was raised."""
    require(actor, "audits.add_correctiveaction", "plan corrective actions")
    nonconformity = _locked(nonconformity)
    _require_not_closed(nonconformity)
    if nonconformity.status == Nonconformity.Status.VERIFIED:
        raise ValidationError({"status": f"{nonconformity.reference} was verified effective; close it instead."})
    require_active_user("owner", owner)
    _check_due_date(nonconformity, due_date)
    with acting_as(actor):
        action = CorrectiveAction(
            nonconformity=nonconformity, description=description.strip(), owner=owner, due_date=due_date
        )
        action.full_clean()
        action.save()
        _refresh_status(nonconformity)
    return action


@transaction.atomic
def update_corrective_action(
    *, actor: User, action: CorrectiveAction, description: str, owner: User | None, due_date: date | None
) -> CorrectiveAction:
    """Change what an open action is, who owns it or when it is due."""
    require(actor, "audits.change_correctiveaction", "change corrective actions")
    action = CorrectiveAction.objects.select_for_update().select_related("nonconformity").get(pk=action.pk)
    _require_not_closed(action.nonconformity)
    if not action.is_open:
        raise ValidationError({"status": "The action is done; a verification reopens it if it was not effective."})
    require_active_user("owner", owner)
    _check_due_date(action.nonconformity, due_date)
    with acting_as(actor):
        action.description, action.owner, action.due_date = description.strip(), owner, due_date
        action.full_clean()
        action.save()
    return action


def _require_owner(actor: User, action: CorrectiveAction) -> None:
    if not can_complete_action(actor, action):
        if action.owner_id != getattr(actor, "pk", None):
            raise PermissionDenied(f"Only the action's owner, {action.owner.get_username()}, may update it.")
        raise ValidationError({"status": f"The action is {action.get_status_display().lower()}."})


@transaction.atomic
def report_action_progress(*, actor: User, action: CorrectiveAction, progress_note: str) -> CorrectiveAction:
    """The owner says where their action stands (it moves to "in progress")."""
    action = CorrectiveAction.objects.select_for_update().select_related("owner").get(pk=action.pk)
    _require_owner(actor, action)
    with acting_as(actor):
        action.progress_note = progress_note.strip()
        action.status = CorrectiveAction.Status.IN_PROGRESS
        action.full_clean()
        action.save()
    return action


@transaction.atomic
def complete_action(
    *, actor: User, action: CorrectiveAction, completed_on: date | None = None, progress_note: str | None = None
) -> CorrectiveAction:
    """Only the owner completes their action; when all are done the nonconformity awaits verification."""
    action = CorrectiveAction.objects.select_for_update().select_related("owner", "nonconformity").get(pk=action.pk)
    _require_owner(actor, action)
    completed_on = completed_on or timezone.localdate()
    require_not_future("completed_on", completed_on)
    if completed_on < action.nonconformity.raised_on:
        raise ValidationError({"completed_on": "The action cannot be completed before the nonconformity was raised."})
    with acting_as(actor):
        action.status = CorrectiveAction.Status.DONE
        action.completed_on = completed_on
        if progress_note is not None:
            action.progress_note = progress_note.strip()
        action.full_clean()
        action.save()
        _refresh_status(_locked(action.nonconformity))
    return action


@transaction.atomic
def verify_effectiveness(
    *,
    actor: User,
    nonconformity: Nonconformity,
    method: str,
    result: str,
    reason: str = "",
    verified_on: date | None = None,
) -> EffectivenessVerification:
    """An auditor who implemented none of the actions reviews their effectiveness. Ineffective:
    the actions reopen with the reason and the nonconformity is open again."""
    require(actor, "audits.add_effectivenessverification", "verify the effectiveness of corrective actions")
    nonconformity = _locked(nonconformity)
    if nonconformity.status != Nonconformity.Status.AWAITING_VERIFICATION:
        raise ValidationError(
            {
                "nonconformity": (
                    f"{nonconformity.reference} is {nonconformity.get_status_display().lower()}: "
                    "verification follows the completion of all its corrective actions."
                )
            }
        )
    if actor.pk in implementers(nonconformity):
        raise PermissionDenied(
            f"You implemented a corrective action of {nonconformity.reference}; another auditor must verify it."
        )
    verified_on = verified_on or timezone.localdate()
    require_not_future("verified_on", verified_on)
    last_done = nonconformity.corrective_actions.aggregate(last=Max("completed_on"))["last"]
    if last_done and verified_on < last_done:
        raise ValidationError(
            {"verified_on": f"The verification cannot precede the last completed action ({last_done:%Y-%m-%d})."}
        )
    with acting_as(actor):
        verification = EffectivenessVerification(
            nonconformity=nonconformity,
            verifier=actor,
            verified_on=verified_on,
            method=method.strip(),
            result=result,
            reason=reason.strip(),
        )
        verification.full_clean()
        verification.save()
        if result == EffectivenessVerification.Result.EFFECTIVE:
            nonconformity.status = Nonconformity.Status.VERIFIED
            nonconformity.save()
        else:
            for action in nonconformity.corrective_actions.select_for_update():
                action.status = CorrectiveAction.Status.REOPENED
                action.completed_on = None
                action.reopen_reason = verification.reason
                action.save()
            nonconformity.status = Nonconformity.Status.OPEN
            nonconformity.save()
    return verification


@transaction.atomic
def close_nonconformity(*, actor: User, nonconformity: Nonconformity, closed_on: date | None = None) -> Nonconformity:
    """Close a nonconformity whose latest verification found its actions effective."""
    require(actor, "audits.close_nonconformity", "close nonconformities")
    nonconformity = _locked(nonconformity)
    _require_not_closed(nonconformity)
    if nonconformity.status != Nonconformity.Status.VERIFIED:
        raise ValidationError(
            {
                "status": (
                    f"{nonconformity.reference} cannot close before a verification found its corrective "
                    "actions effective."
                )
            }
        )
    closed_on = closed_on or timezone.localdate()
    require_not_future("closed_on", closed_on)
    if closed_on < nonconformity.raised_on:
        raise ValidationError({"closed_on": "A nonconformity cannot close before it was raised."})
    with acting_as(actor):
        nonconformity.status = Nonconformity.Status.CLOSED
        nonconformity.closed_on, nonconformity.closed_by = closed_on, actor
        nonconformity.full_clean()
        nonconformity.save()
    return nonconformity
