"""Checklists: generated from the scope, results recorded by the audit's own auditors only, inside
the scope, with edit conflicts refused naming who and when."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from audits import services
from audits.models import Audit, ChecklistItem
from controls.models import SoAEntry
from controls.services import EditConflict

pytestmark = pytest.mark.django_db


def _record(item, actor, **overrides):
    values = {"result": "conforming", "notes": "Sampled 10 accounts.", "sample_size": 10}
    values.update(overrides)
    return services.record_checklist_result(
        actor=actor, item=item, expected_version=values.pop("expected_version", item.row_version), **values
    )


def test_starting_the_audit_generates_one_item_per_control_and_clause(audit_in_progress, controls_2022, clause_2022):
    items = list(audit_in_progress.checklist.all())
    assert [item.clause for item in items[:1]] == [clause_2022]
    assert [item.control for item in items[1:]] == controls_2022
    assert all(controls_2022[0].ref in items[1].question for _ in [0])
    assert audit_in_progress.actual_start == date(2026, 3, 2)
    # generating again adds nothing
    assert services.generate_checklist(actor=audit_in_progress.lead_auditor, audit=audit_in_progress) == 0


def test_only_the_audits_auditors_record_results(audit_in_progress, second_auditor, compliance_officer):
    item = audit_in_progress.checklist.first()
    for intruder in (second_auditor, compliance_officer):
        with pytest.raises(PermissionDenied):
            _record(item, intruder)
    item.refresh_from_db()
    assert (item.result, item.row_version) == ("", 0)


def test_results_are_recorded_only_while_the_audit_is_in_progress(make_audit, internal_auditor):
    audit = make_audit()
    services.generate_checklist(actor=internal_auditor, audit=audit)
    with pytest.raises(ValidationError) as excinfo:
        _record(audit.checklist.first(), internal_auditor)
    assert "in progress" in " ".join(excinfo.value.message_dict["result"])


def test_an_item_outside_the_scope_is_refused(audit_in_progress, compliance_officer, internal_auditor, controls_2022):
    services.update_audit(actor=compliance_officer, audit=audit_in_progress, controls=controls_2022[:2])
    item = audit_in_progress.checklist.get(control=controls_2022[2])
    with pytest.raises(ValidationError) as excinfo:
        _record(item, internal_auditor)
    assert "outside the scope" in " ".join(excinfo.value.message_dict["control"])


def test_a_stale_edit_is_refused_naming_who_and_when(
    audit_in_progress, internal_auditor, second_auditor, compliance_officer
):
    services.assign_auditors(
        actor=compliance_officer, audit=audit_in_progress, lead_auditor=internal_auditor, team=[second_auditor]
    )
    item = audit_in_progress.checklist.first()
    _record(item, second_auditor, result="observation")
    with pytest.raises(EditConflict) as excinfo:
        _record(item, internal_auditor, result="conforming", expected_version=0)
    assert "second_auditor changed this row at" in str(excinfo.value)
    item.refresh_from_db()
    assert (item.result, item.row_version, item.updated_by) == ("observation", 1, second_auditor)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("result", "excellent", "not a valid choice"),
        ("notes", "ok\x00", "control character"),
        ("notes", "n" * 10_001, "at most 10000"),
        ("sample_description", "\x1b[31mred", "control character"),
        ("sample_size", 2**40, "less than or equal"),
        ("sample_size", -1, "greater than or equal"),
    ],
)
def test_bad_results_are_refused_naming_the_field(audit_in_progress, internal_auditor, field, value, message):
    item = audit_in_progress.checklist.first()
    with pytest.raises(ValidationError) as excinfo:
        _record(item, internal_auditor, **{field: value})
    assert message in " ".join(excinfo.value.message_dict[field])
    item.refresh_from_db()
    assert (item.result, item.row_version) == ("", 0)


def test_a_recorder_who_became_owner_of_the_control_is_refused(audit_in_progress, internal_auditor, controls_2022):
    SoAEntry.objects.filter(control=controls_2022[0]).update(owner=internal_auditor)
    item = audit_in_progress.checklist.get(control=controls_2022[0])
    with pytest.raises(PermissionDenied, match="own this control"):
        _record(item, internal_auditor)


def test_reporting_needs_every_item_of_the_scope_to_have_a_result(audit_in_progress, internal_auditor):
    with pytest.raises(ValidationError) as excinfo:
        services.change_audit_status(actor=internal_auditor, audit=audit_in_progress, status="reporting")
    assert "4 checklist item(s) have no result" in " ".join(excinfo.value.message_dict["status"])
    for item in audit_in_progress.checklist.all():
        _record(item, internal_auditor, result="not_audited" if item.clause_id else "conforming")
    audit = services.change_audit_status(
        actor=internal_auditor, audit=audit_in_progress, status="reporting", on=date(2026, 3, 6)
    )
    assert audit.actual_end == date(2026, 3, 6)
    with pytest.raises(ValidationError) as excinfo:
        services.change_audit_status(actor=internal_auditor, audit=audit, status="planned")
    assert "allowed next" in " ".join(excinfo.value.message_dict["status"])
    back = services.change_audit_status(actor=internal_auditor, audit=audit, status="in_progress")
    assert (back.actual_start, back.actual_end) == (date(2026, 3, 2), None)
    audit = services.change_audit_status(actor=internal_auditor, audit=back, status="reporting", on=date(2026, 3, 6))
    audit = services.change_audit_status(actor=internal_auditor, audit=audit, status="closed")
    assert audit.status == Audit.Status.CLOSED


def test_an_audit_cannot_end_before_it_started(audit_in_progress, internal_auditor):
    for item in audit_in_progress.checklist.all():
        _record(item, internal_auditor)
    with pytest.raises(ValidationError) as excinfo:
        services.change_audit_status(
            actor=internal_auditor, audit=audit_in_progress, status="reporting", on=date(2026, 3, 1)
        )
    assert "cannot end before it starts" in " ".join(excinfo.value.message_dict["actual_end"])


def test_only_the_lead_or_an_officer_moves_the_audit(make_audit, second_auditor):
    audit = make_audit()
    with pytest.raises(PermissionDenied):
        services.change_audit_status(actor=second_auditor, audit=audit, status="in_progress")
    assert ChecklistItem.objects.count() == 0
