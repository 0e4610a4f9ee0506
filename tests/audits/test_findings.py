"""Nonconformities (clause 10.2): raised from an item or directly, corrective actions completed by
their owners only, verified by someone who did not implement them, closed only when effective."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audits import services
from audits.models import CorrectiveAction, EffectivenessVerification, Nonconformity

pytestmark = pytest.mark.django_db
RAISED = date(2026, 3, 4)


def _errors(excinfo, field: str) -> str:
    assert field in excinfo.value.message_dict, excinfo.value.message_dict
    return " ".join(excinfo.value.message_dict[field])


@pytest.fixture
def nc_item(audit_in_progress, internal_auditor):
    item = audit_in_progress.checklist.exclude(control=None).first()
    return services.record_checklist_result(
        actor=internal_auditor, item=item, expected_version=0, result="major_nc", notes="No access reviews since 2024."
    )


@pytest.fixture
def nonconformity(nc_item, internal_auditor):
    return services.raise_nonconformity(
        actor=internal_auditor,
        checklist_item=nc_item,
        statement="User access rights were not reviewed in 2025.",
        evidence="Review log empty for 2025.",
        raised_on=RAISED,
    )


@pytest.fixture
def action(nonconformity, compliance_officer, action_owner):
    return services.add_corrective_action(
        actor=compliance_officer,
        nonconformity=nonconformity,
        description="Run quarterly access reviews and keep the record.",
        owner=action_owner,
        due_date=RAISED + timedelta(days=30),
    )


def test_a_nonconformity_from_an_item_takes_its_requirement_and_severity(nonconformity, nc_item):
    assert (nonconformity.severity, nonconformity.source, nonconformity.control_id, nonconformity.audit_id) == (
        "major",
        "checklist",
        nc_item.control_id,
        nc_item.audit_id,
    )
    assert nonconformity.status == Nonconformity.Status.OPEN


def test_an_item_must_record_a_nonconformity_first(audit_in_progress, internal_auditor, second_auditor, nc_item):
    conforming = audit_in_progress.checklist.exclude(pk=nc_item.pk).first()
    with pytest.raises(ValidationError) as excinfo:
        services.raise_nonconformity(actor=internal_auditor, checklist_item=conforming, statement="s")
    assert "major or minor" in _errors(excinfo, "checklist_item")
    with pytest.raises(ValidationError) as excinfo:
        services.raise_nonconformity(actor=internal_auditor, checklist_item=nc_item, statement="s", severity="minor")
    _errors(excinfo, "severity")
    with pytest.raises(PermissionDenied):
        services.raise_nonconformity(actor=second_auditor, checklist_item=nc_item, statement="s")
    assert not Nonconformity.objects.exists()


def test_direct_nonconformities_need_origin_and_one_requirement(compliance_officer, controls_2022, clause_2022):
    base = {"actor": compliance_officer, "statement": "Complaint about leaked badge.", "severity": "minor"}
    with pytest.raises(ValidationError) as excinfo:
        services.raise_nonconformity(**base, control=controls_2022[0])
    _errors(excinfo, "origin")
    with pytest.raises(ValidationError) as excinfo:
        services.raise_nonconformity(**base, origin="complaint")
    _errors(excinfo, "control")
    with pytest.raises(ValidationError) as excinfo:
        services.raise_nonconformity(**base, origin="complaint", control=controls_2022[0], clause=clause_2022)
    _errors(excinfo, "control")
    with pytest.raises(ValidationError) as excinfo:
        services.raise_nonconformity(
            **base, origin="complaint", control=controls_2022[0], raised_on=timezone.localdate() + timedelta(days=1)
        )
    assert "future" in _errors(excinfo, "raised_on")
    nc = services.raise_nonconformity(**base, origin="complaint", clause=clause_2022)
    assert (nc.source, nc.origin, nc.clause) == ("direct", "complaint", clause_2022)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("statement", "Leak\x00", "control character"),
        ("statement", "s" * 5_001, "at most 5000"),
        ("statement", "  ", "cannot be blank"),
        ("evidence", "\x08", "control character"),
        ("severity", "critical", "not a valid choice"),
        ("origin", "rumour", "not a valid choice"),
    ],
)
def test_bad_nonconformity_values_are_refused(compliance_officer, controls_2022, field, value, message):
    values = {"statement": "Badge leaked.", "severity": "minor", "origin": "complaint", "control": controls_2022[0]}
    values[field] = value
    with pytest.raises(ValidationError) as excinfo:
        services.raise_nonconformity(actor=compliance_officer, **values)
    assert message in _errors(excinfo, field)
    assert not Nonconformity.objects.exists()


def test_a_due_date_before_the_nonconformity_was_raised_is_refused(nonconformity, compliance_officer, action_owner):
    with pytest.raises(ValidationError) as excinfo:
        services.add_corrective_action(
            actor=compliance_officer,
            nonconformity=nonconformity,
            description="Too early",
            owner=action_owner,
            due_date=RAISED - timedelta(days=1),
        )
    assert "before the nonconformity was raised (2026-03-04)" in _errors(excinfo, "due_date")
    assert not CorrectiveAction.objects.exists()


def test_only_the_owner_updates_and_completes_their_action(action, compliance_officer, internal_auditor, action_owner):
    for intruder in (compliance_officer, internal_auditor):
        with pytest.raises(PermissionDenied, match="Only the action's owner, action_owner"):
            services.complete_action(actor=intruder, action=action)
    services.report_action_progress(actor=action_owner, action=action, progress_note="First review planned.")
    done = services.complete_action(actor=action_owner, action=action, completed_on=RAISED + timedelta(days=5))
    assert (done.status, done.completed_on) == ("done", RAISED + timedelta(days=5))
    assert Nonconformity.objects.get().status == Nonconformity.Status.AWAITING_VERIFICATION


def test_closing_without_an_effective_verification_is_refused(action, internal_auditor, action_owner):
    nonconformity = action.nonconformity
    with pytest.raises(ValidationError) as excinfo:
        services.close_nonconformity(actor=internal_auditor, nonconformity=nonconformity)
    assert "cannot close before a verification" in _errors(excinfo, "status")
    with pytest.raises(ValidationError) as excinfo:
        services.verify_effectiveness(
            actor=internal_auditor, nonconformity=nonconformity, method="m", result="effective"
        )
    _errors(excinfo, "nonconformity")


def test_verifying_ones_own_actions_is_refused(nonconformity, compliance_officer, second_auditor):
    own = services.add_corrective_action(
        actor=compliance_officer,
        nonconformity=nonconformity,
        description="Second auditor fixes it",
        owner=second_auditor,
        due_date=RAISED,
    )
    services.complete_action(actor=second_auditor, action=own, completed_on=RAISED)
    with pytest.raises(PermissionDenied, match="another auditor must verify"):
        services.verify_effectiveness(
            actor=second_auditor, nonconformity=nonconformity, method="Record review", result="effective"
        )
    assert not EffectivenessVerification.objects.exists()


def test_the_whole_cycle_with_an_ineffective_verification(
    action, action_owner, second_auditor, internal_auditor, compliance_officer
):
    nonconformity = action.nonconformity
    services.complete_action(actor=action_owner, action=action, completed_on=RAISED + timedelta(days=3))
    with pytest.raises(ValidationError) as excinfo:
        services.verify_effectiveness(
            actor=second_auditor, nonconformity=nonconformity, method="Sampled Q2 reviews", result="ineffective"
        )
    assert "not effective" in _errors(excinfo, "reason")
    with pytest.raises(ValidationError) as excinfo:
        services.verify_effectiveness(
            actor=second_auditor,
            nonconformity=nonconformity,
            method="Sampled",
            result="effective",
            verified_on=RAISED + timedelta(days=1),
        )
    assert "last completed action" in _errors(excinfo, "verified_on")

    services.verify_effectiveness(
        actor=second_auditor,
        nonconformity=nonconformity,
        method="Sampled Q2 reviews",
        result="ineffective",
        reason="Only one of four teams ran the review.",
        verified_on=RAISED + timedelta(days=10),
    )
    action.refresh_from_db()
    nonconformity.refresh_from_db()
    assert (action.status, action.completed_on, action.reopen_reason) == (
        "reopened",
        None,
        "Only one of four teams ran the review.",
    )
    assert nonconformity.status == Nonconformity.Status.OPEN
    with pytest.raises(ValidationError):
        services.close_nonconformity(actor=compliance_officer, nonconformity=nonconformity)

    services.complete_action(actor=action_owner, action=action, completed_on=RAISED + timedelta(days=20))
    services.verify_effectiveness(
        actor=internal_auditor,
        nonconformity=nonconformity,
        method="All four teams' review records",
        result="effective",
        verified_on=RAISED + timedelta(days=21),
    )
    closed = services.close_nonconformity(
        actor=compliance_officer, nonconformity=nonconformity, closed_on=RAISED + timedelta(days=22)
    )
    assert (closed.status, closed.closed_by) == ("closed", compliance_officer)
    with pytest.raises(ValidationError) as excinfo:
        services.update_nonconformity(actor=compliance_officer, nonconformity=closed, root_cause="late")
    assert "is closed" in _errors(excinfo, "status")


def test_who_sees_nonconformities_and_actions(
    nonconformity, action, make_risk, risk_owner, action_owner, external_auditor, outsider, internal_auditor
):
    assert list(Nonconformity.objects.for_user(internal_auditor)) == [nonconformity]
    for nobody in (external_auditor, outsider, risk_owner):
        assert not Nonconformity.objects.for_user(nobody).exists()
        assert not CorrectiveAction.objects.for_user(nobody).exists()
    make_risk(controls=[nonconformity.control])
    assert list(Nonconformity.objects.for_user(risk_owner)) == [nonconformity]
    assert list(Nonconformity.objects.for_user(action_owner)) == [nonconformity]
    assert list(CorrectiveAction.objects.for_user(action_owner)) == [action]
    assert not Nonconformity.objects.for_user(risk_owner, "change").exists()
