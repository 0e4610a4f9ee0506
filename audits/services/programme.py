"""State changes of the audit programme and its audits: planning, auditors (impartiality),
checklists, results and the audit's status. Keyword-only ``actor``, one transaction each, the
audit trail written inside (field-level changes through django-auditlog)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from audits.models import Audit, AuditProgramme, ChecklistItem, ImpartialityOverride
from audits.models.text import reject_control_characters
from audits.services.rules import (
    can_manage_audit,
    conflict_error,
    impartiality_conflicts,
    is_audit_member,
    require,
    require_active_user,
    require_audit_manager,
    require_audit_member,
    require_in_scope,
    require_not_future,
    require_report_not_final,
    require_same_edition,
    unresolved_conflicts,
)
from controls.models import Clause, Control
from controls.services import EditConflict
from ismsapp.audit import acting_as
from ismsapp.models import User

PROGRAMME_FIELDS = ("title", "edition", "period_start", "period_end", "objectives", "methods", "owner")
AUDIT_FIELDS = (
    "title",
    "audit_type",
    "processes",
    "sites",
    "criteria",
    "planned_start",
    "planned_end",
)
MIN_JUSTIFICATION = 20


def _clean_text(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value.strip() if isinstance(value, str) else value for name, value in values.items()}


def _unknown(values: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = set(values) - set(allowed)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")


# --- programme ------------------------------------------------------------------------------------


@transaction.atomic
def save_programme(*, actor: User, programme: AuditProgramme | None = None, **values: Any) -> AuditProgramme:
    """Create (``programme=None``) or change an audit programme."""
    creating = programme is None
    require(actor, f"audits.{'add' if creating else 'change'}_auditprogramme", "plan audit programmes")
    _unknown(values, PROGRAMME_FIELDS)
    values = _clean_text(values)
    if "owner" in values or creating:
        require_active_user("owner", values.get("owner"))
    with acting_as(actor):
        if programme is None:
            programme = AuditProgramme()
        else:
            programme = AuditProgramme.objects.select_for_update().get(pk=programme.pk)
            if "edition" in values and values["edition"] != programme.edition and programme.audits.exists():
                raise ValidationError({"edition": "The programme already has audits; its edition cannot change."})
        for name, value in values.items():
            setattr(programme, name, value)
        programme.full_clean()
        programme.save()
    return programme


def create_programme(*, actor: User, **values: Any) -> AuditProgramme:
    return save_programme(actor=actor, **values)


def update_programme(*, actor: User, programme: AuditProgramme, **values: Any) -> AuditProgramme:
    return save_programme(actor=actor, programme=programme, **values)


# --- auditors and impartiality --------------------------------------------------------------------


def _check_justification(justification: str) -> str:
    justification = justification.strip()
    try:
        reject_control_characters(justification)
    except ValidationError as exc:
        raise ValidationError({"override_justification": exc.messages}) from exc
    if len(justification) < MIN_JUSTIFICATION:
        raise ValidationError(
            {"override_justification": f"Write a justification of at least {MIN_JUSTIFICATION} characters."}
        )
    if len(justification) > 5_000:
        raise ValidationError({"override_justification": "At most 5,000 characters."})
    return justification


def _settle_conflicts(*, actor: User, audit: Audit, justification: str, field: str | None = None) -> None:
    """Refuse the audit's team if a conflict is not overridden; with a justification (compliance
    officers only), record an override for each conflict instead."""
    auditors = [audit.lead_auditor, *audit.team.all()]
    conflicts = unresolved_conflicts(
        audit,
        impartiality_conflicts(auditors=auditors, controls=audit.controls.all(), clauses=audit.clauses.all()),
    )
    if not conflicts:
        return
    if field is None:
        field = "lead_auditor" if any(c.auditor_id == audit.lead_auditor_id for c in conflicts) else "team"
    if not justification.strip():
        raise conflict_error(field, conflicts)
    require(actor, "audits.override_impartiality", "override an impartiality conflict")
    justification = _check_justification(justification)
    for conflict in conflicts:
        override = ImpartialityOverride(
            audit=audit,
            auditor_id=conflict.auditor_id,
            control_id=conflict.control_id,
            clause_id=conflict.clause_id,
            conflict=str(conflict)[:500],
            justification=justification,
            granted_by=actor,
        )
        override.full_clean()
        override.save()


def _check_team(lead_auditor: User | None, team: Iterable[User]) -> list[User]:
    require_active_user("lead_auditor", lead_auditor, "audits.conduct_audit", "Internal auditor")
    members = []
    for member in team:
        require_active_user("team", member, "audits.conduct_audit", "Internal auditor")
        if member.pk != lead_auditor.pk and member not in members:
            members.append(member)
    return members


@transaction.atomic
def assign_auditors(
    *, actor: User, audit: Audit, lead_auditor: User, team: Iterable[User] = (), override_justification: str = ""
) -> Audit:
    """Set the lead auditor and the team, refusing any impartiality conflict that is neither
    overridden already nor overridden now by a compliance officer's written justification."""
    require(actor, "audits.change_audit", "assign auditors")
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    if audit.status == Audit.Status.CLOSED:
        raise ValidationError({"status": "The audit is closed; its team cannot change."})
    require_report_not_final(audit)
    members = _check_team(lead_auditor, team)
    with acting_as(actor):
        audit.lead_auditor = lead_auditor
        audit.save()
        audit.team.set(members)
        _settle_conflicts(actor=actor, audit=audit, justification=override_justification)
    return audit


# --- audits ---------------------------------------------------------------------------------------


def _check_period(programme: AuditProgramme, audit: Audit) -> None:
    if audit.planned_start and audit.planned_start < programme.period_start:
        raise ValidationError(
            {"planned_start": f"The audit starts before its programme ({programme.period_start:%Y-%m-%d})."}
        )
    if audit.planned_end and audit.planned_end > programme.period_end:
        raise ValidationError({"planned_end": f"The audit ends after its programme ({programme.period_end:%Y-%m-%d})."})


@transaction.atomic
def create_audit(
    *,
    actor: User,
    programme: AuditProgramme,
    lead_auditor: User,
    team: Iterable[User] = (),
    controls: Iterable[Control] = (),
    clauses: Iterable[Clause] = (),
    override_justification: str = "",
    **values: Any,
) -> Audit:
    """Plan an audit of ``programme``: scope from the programme's edition, auditors impartial."""
    require(actor, "audits.add_audit", "plan audits")
    _unknown(values, AUDIT_FIELDS)
    controls, clauses = list(controls), list(clauses)
    require_same_edition(programme.edition, controls, clauses)
    if not controls and not clauses:
        raise ValidationError({"controls": "An audit's scope names at least one control or clause."})
    members = _check_team(lead_auditor, team)
    with acting_as(actor):
        audit = Audit(programme=programme, lead_auditor=lead_auditor, **_clean_text(values))
        audit.full_clean()
        _check_period(programme, audit)
        audit.save()
        audit.controls.set(controls)
        audit.clauses.set(clauses)
        audit.team.set(members)
        _settle_conflicts(actor=actor, audit=audit, justification=override_justification)
    return audit


@transaction.atomic
def update_audit(
    *,
    actor: User,
    audit: Audit,
    controls: Iterable[Control] | None = None,
    clauses: Iterable[Clause] | None = None,
    override_justification: str = "",
    **values: Any,
) -> Audit:
    """Change an audit's plan or scope (not once closed); a wider scope is checked for conflicts."""
    require(actor, "audits.change_audit", "change audits")
    _unknown(values, AUDIT_FIELDS)
    audit = Audit.objects.select_for_update().select_related("programme").get(pk=audit.pk)
    if audit.status == Audit.Status.CLOSED:
        raise ValidationError({"status": "The audit is closed; it cannot change."})
    require_report_not_final(audit)
    with acting_as(actor):
        for name, value in _clean_text(values).items():
            setattr(audit, name, value)
        audit.full_clean()
        _check_period(audit.programme, audit)
        audit.save()
        if controls is not None or clauses is not None:
            new_controls = list(controls) if controls is not None else list(audit.controls.all())
            new_clauses = list(clauses) if clauses is not None else list(audit.clauses.all())
            require_same_edition(audit.programme.edition, new_controls, new_clauses)
            if not new_controls and not new_clauses:
                raise ValidationError({"controls": "An audit's scope names at least one control or clause."})
            audit.controls.set(new_controls)
            audit.clauses.set(new_clauses)
            _settle_conflicts(
                actor=actor,
                audit=audit,
                justification=override_justification,
                field="controls" if controls is not None else "clauses",
            )
    return audit


TRANSITIONS: dict[str, tuple[str, ...]] = {
    Audit.Status.PLANNED: (Audit.Status.IN_PROGRESS,),
    Audit.Status.IN_PROGRESS: (Audit.Status.REPORTING,),
    Audit.Status.REPORTING: (Audit.Status.IN_PROGRESS, Audit.Status.CLOSED),
    Audit.Status.CLOSED: (),
}


@transaction.atomic
def change_audit_status(*, actor: User, audit: Audit, status: str, on: date | None = None) -> Audit:
    """planned -> in progress (fieldwork starts, checklist generated) -> reporting (every item of
    the scope has a result) -> closed; reporting may go back to in progress."""
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    require_audit_manager(actor, audit)
    if status != Audit.Status.CLOSED:
        require_report_not_final(audit)  # only closing is left once the report is final
    if status not in TRANSITIONS.get(audit.status, ()):
        allowed = ", ".join(Audit.Status(s).label for s in TRANSITIONS.get(audit.status, ())) or "none"
        raise ValidationError(
            {"status": f"{audit.get_status_display()} cannot move to {status!r}; allowed next: {allowed}."}
        )
    on = on or timezone.localdate()
    with acting_as(actor):
        if status == Audit.Status.IN_PROGRESS and audit.status == Audit.Status.PLANNED:
            require_not_future("actual_start", on)
            audit.actual_start = on
        elif status == Audit.Status.IN_PROGRESS:
            audit.actual_end = None  # back from reporting: the fieldwork goes on
        if status == Audit.Status.REPORTING:
            require_not_future("actual_end", on)
            missing = [item.requirement_label for item in in_scope_items(audit) if not item.result]
            if missing:
                raise ValidationError(
                    {"status": f"{len(missing)} checklist item(s) have no result yet, e.g. {missing[0]}."}
                )
            audit.actual_end = on
        audit.status = status
        audit.full_clean()
        audit.save()
        if status == Audit.Status.IN_PROGRESS:
            _generate(audit)
    return audit


# --- checklist ------------------------------------------------------------------------------------


def default_question(requirement: Control | Clause) -> str:
    if isinstance(requirement, Control):
        return (
            f"Is control {requirement.ref} ({requirement.title}) implemented as the Statement of Applicability "
            "states, and is it effective? Which records show it?"
        )
    return f"Does the ISMS meet clause {requirement.ref} ({requirement.title})? Which documented information shows it?"


def in_scope_items(audit: Audit) -> list[ChecklistItem]:
    """The items whose control or clause is in the audit's current scope (two queries)."""
    control_ids = set(audit.controls.values_list("pk", flat=True))
    clause_ids = set(audit.clauses.values_list("pk", flat=True))
    return [
        item
        for item in audit.checklist.select_related("control", "clause", "updated_by")
        if item.control_id in control_ids or item.clause_id in clause_ids
    ]


def _generate(audit: Audit) -> int:
    have_controls = set(audit.checklist.exclude(control=None).values_list("control_id", flat=True))
    have_clauses = set(audit.checklist.exclude(clause=None).values_list("clause_id", flat=True))
    created = 0
    for clause in audit.clauses.order_by("position"):
        if clause.pk not in have_clauses:
            ChecklistItem.objects.create(
                audit=audit, clause=clause, position=clause.position, question=default_question(clause)
            )
            created += 1
    for control in audit.controls.order_by("position"):
        if control.pk not in have_controls:
            ChecklistItem.objects.create(
                audit=audit, control=control, position=10_000 + control.position, question=default_question(control)
            )
            created += 1
    return created


@transaction.atomic
def generate_checklist(*, actor: User, audit: Audit) -> int:
    """One item per control and clause of the scope that has none yet; returns how many were added."""
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    if not (can_manage_audit(actor, audit) or is_audit_member(actor, audit)):
        raise PermissionDenied(f"Only the auditors of {audit} or a compliance officer may generate its checklist.")
    if audit.status not in (Audit.Status.PLANNED, Audit.Status.IN_PROGRESS):
        raise ValidationError({"status": f"The audit is {audit.get_status_display().lower()}; its checklist is set."})
    require_report_not_final(audit)
    with acting_as(actor):
        return _generate(audit)


def require_impartial_on(actor: User, item: ChecklistItem) -> None:
    """The recorder of a result must be impartial on the item, unless an override covers them."""
    conflicts = unresolved_conflicts(
        item.audit,
        impartiality_conflicts(
            auditors=[actor],
            controls=[item.control] if item.control_id else [],
            clauses=[item.clause] if item.clause_id else [],
        ),
    )
    if conflicts:
        raise PermissionDenied(f"Impartiality conflict: {conflicts[0]}.")


@transaction.atomic
def record_checklist_result(
    *,
    actor: User,
    item: ChecklistItem,
    expected_version: int,
    result: str,
    notes: str = "",
    sample_description: str = "",
    sample_size: int | None = None,
    question: str | None = None,
) -> ChecklistItem:
    """Record the result of one checklist item (in-place editing); a stale ``expected_version``
    raises ``EditConflict`` naming who changed it and when."""
    current = (
        ChecklistItem.objects.select_for_update(of=("self",))
        .select_related("audit", "control", "clause", "updated_by")
        .get(pk=item.pk)
    )
    audit = current.audit
    require_audit_member(actor, audit, "record checklist results")
    if audit.status != Audit.Status.IN_PROGRESS:
        raise ValidationError(
            {"result": f"Results are recorded while the audit is in progress; it is {audit.get_status_display()}."}
        )
    require_report_not_final(audit)
    require_in_scope(current)
    require_impartial_on(actor, current)
    if current.row_version != expected_version:
        raise EditConflict(current)
    with acting_as(actor):
        current.result = result
        current.notes = notes.strip()
        current.sample_description = sample_description.strip()
        current.sample_size = sample_size
        if question is not None:
            current.question = question.strip()
        current.full_clean()
        current.row_version += 1
        current.updated_by = actor
        current.save()
    return current
