"""Planning: programmes, audits, auditors chosen for impartiality (clause 9.2)."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from audits import services
from audits.models import Audit, AuditProgramme, ImpartialityOverride
from controls.models import ClauseEntry, Control, SoAEntry
from ismsapp.models import AuditEntry
from ismsapp.roles import Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _programme_values(owner, **overrides):
    values = {
        "title": "Cycle",
        "edition": "2022",
        "period_start": date(2026, 1, 1),
        "period_end": date(2028, 12, 31),
        "objectives": "Cover every applicable control.",
        "owner": owner,
    }
    values.update(overrides)
    return values


def _field_error(excinfo, field: str) -> str:
    assert field in excinfo.value.message_dict, excinfo.value.message_dict
    return " ".join(excinfo.value.message_dict[field])


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("period_end", date(2025, 12, 31), "end after it starts"),
        ("title", "Cycle\x00 2026", "control character"),
        ("objectives", "Objectives\x07", "control character"),
        ("title", "x" * 201, "at most 200"),
        ("methods", "m" * 10_001, "at most 10000"),
        ("objectives", "   ", "cannot be blank"),
    ],
)
def test_bad_programme_values_are_refused_naming_the_field(catalogue, compliance_officer, field, value, expected):
    with pytest.raises(ValidationError) as excinfo:
        services.create_programme(actor=compliance_officer, **_programme_values(compliance_officer, **{field: value}))
    assert expected in _field_error(excinfo, field)
    assert not AuditProgramme.objects.exists()


def test_only_compliance_officers_plan_programmes(catalogue, internal_auditor, risk_owner, compliance_officer):
    for intruder in (internal_auditor, risk_owner):
        with pytest.raises(PermissionDenied):
            services.create_programme(actor=intruder, **_programme_values(compliance_officer))
    programme = services.create_programme(actor=compliance_officer, **_programme_values(compliance_officer))
    entry = AuditEntry.objects.filter(object_type="audits.auditprogramme", object_pk=str(programme.pk)).get()
    assert entry.actor == compliance_officer


def test_an_audit_ending_before_it_starts_is_refused(make_audit):
    with pytest.raises(ValidationError) as excinfo:
        make_audit(planned_start=date(2026, 3, 6), planned_end=date(2026, 3, 2))
    assert "cannot end before it starts" in _field_error(excinfo, "planned_end")
    assert not Audit.objects.exists()


def test_audit_scope_and_dates_follow_the_programme(make_audit, catalogue):
    control_2013 = Control.objects.filter(edition="2013").first()
    with pytest.raises(ValidationError) as excinfo:
        make_audit(controls=[control_2013])
    assert "2022 edition" in _field_error(excinfo, "controls")
    with pytest.raises(ValidationError) as excinfo:
        make_audit(planned_start=date(2025, 12, 1))
    assert "before its programme" in _field_error(excinfo, "planned_start")
    with pytest.raises(ValidationError) as excinfo:
        make_audit(controls=[], clauses=[])
    _field_error(excinfo, "controls")


def test_the_lead_auditor_holds_the_auditor_role(make_audit, risk_owner):
    with pytest.raises(ValidationError) as excinfo:
        make_audit(lead_auditor=risk_owner)
    assert "Internal auditor role" in _field_error(excinfo, "lead_auditor")


def test_an_auditor_who_owns_a_control_in_the_soa_is_refused(make_audit, compliance_officer, internal_auditor):
    audit = make_audit()
    control = audit.controls.first()
    SoAEntry.objects.filter(control=control).update(owner=internal_auditor)
    with pytest.raises(ValidationError) as excinfo:
        make_audit(title="Second")
    message = _field_error(excinfo, "lead_auditor")
    assert f"control {control.ref}" in message
    assert "own this control in the Statement of Applicability" in message
    assert Audit.objects.count() == 1


def test_clause_owner_is_refused(make_audit, internal_auditor, clause_2022):
    ClauseEntry.objects.filter(clause=clause_2022).update(owner=internal_auditor)
    with pytest.raises(ValidationError) as excinfo:
        make_audit()
    assert f"clause {clause_2022.ref}" in _field_error(excinfo, "lead_auditor")


@pytest.fixture
def auditor_and_risk_owner(personas):
    from ismsapp import services as accounts

    return accounts.create_user(
        actor=None, username="dual", password=PASSWORD, roles=[Role.INTERNAL_AUDITOR, Role.RISK_OWNER]
    )


def test_owning_a_risk_the_control_treats_or_its_treatment_action_is_a_conflict(
    make_audit, compliance_officer, risk_owner, auditor_and_risk_owner, controls_2022
):
    from risks import services as risk_services

    control = controls_2022[1]
    risk = risk_services.create_risk(
        actor=compliance_officer,
        title="Stolen credentials",
        owner=auditor_and_risk_owner,
        controls=[control],
        inherent_likelihood=3,
        inherent_impact=3,
    )
    with pytest.raises(ValidationError) as excinfo:
        make_audit(team=[auditor_and_risk_owner])
    message = _field_error(excinfo, "team")
    assert f"they own risk {risk.reference}, which this control treats" in message
    assert "dual cannot audit" in message

    risk_services.update_risk(actor=compliance_officer, risk=risk, owner=risk_owner)
    risk_services.save_action(
        actor=compliance_officer,
        risk=risk,
        description="Roll out MFA",
        owner=auditor_and_risk_owner,
        due_date=date(2026, 6, 1),
    )
    with pytest.raises(ValidationError) as excinfo:
        make_audit(team=[auditor_and_risk_owner])
    assert f"treatment action of risk {risk.reference}" in _field_error(excinfo, "team")


def test_a_compliance_officer_overrides_only_with_a_written_justification(
    make_audit, compliance_officer, internal_auditor, controls_2022
):
    SoAEntry.objects.filter(control=controls_2022[0]).update(owner=internal_auditor)
    with pytest.raises(ValidationError) as excinfo:
        make_audit(override_justification="ok")
    assert "at least 20 characters" in _field_error(excinfo, "override_justification")
    with pytest.raises(ValidationError) as excinfo:
        make_audit(override_justification="Only auditor with \x00 the skills for this control.")
    _field_error(excinfo, "override_justification")
    assert not Audit.objects.exists()

    why = "The only auditor trained on this control; the owner role is nominal since March."
    audit = make_audit(override_justification=why)
    override = ImpartialityOverride.objects.get(audit=audit)
    assert (override.auditor, override.control, override.granted_by) == (
        internal_auditor,
        controls_2022[0],
        compliance_officer,
    )
    assert override.justification == why
    assert f"control {controls_2022[0].ref}" in override.conflict
    assert AuditEntry.objects.filter(object_type="audits.impartialityoverride", actor=compliance_officer).exists()


def test_assigning_auditors_is_for_compliance_officers_and_checks_impartiality(
    make_audit, compliance_officer, internal_auditor, second_auditor, controls_2022
):
    audit = make_audit()
    with pytest.raises(PermissionDenied):
        services.assign_auditors(actor=internal_auditor, audit=audit, lead_auditor=second_auditor)
    SoAEntry.objects.filter(control=controls_2022[2]).update(owner=second_auditor)
    with pytest.raises(ValidationError) as excinfo:
        services.assign_auditors(
            actor=compliance_officer, audit=audit, lead_auditor=internal_auditor, team=[second_auditor]
        )
    assert "second_auditor cannot audit" in _field_error(excinfo, "team")
    audit.refresh_from_db()
    assert list(audit.team.all()) == []
    services.assign_auditors(
        actor=compliance_officer,
        audit=audit,
        lead_auditor=internal_auditor,
        team=[second_auditor],
        override_justification="Second auditor took ownership last week; the handover is pending.",
    )
    audit.refresh_from_db()
    assert list(audit.team.all()) == [second_auditor]
    assert audit.impartiality_overrides.get().auditor == second_auditor


def test_widening_the_scope_checks_the_team_again(make_audit, compliance_officer, internal_auditor, catalogue):
    audit = make_audit()
    owned = Control.objects.filter(edition="2022").order_by("-position").first()
    SoAEntry.objects.filter(control=owned).update(owner=internal_auditor)
    with pytest.raises(ValidationError) as excinfo:
        services.update_audit(actor=compliance_officer, audit=audit, controls=[*audit.controls.all(), owned])
    assert owned.ref in _field_error(excinfo, "controls")
    assert not audit.controls.filter(pk=owned.pk).exists()


def test_scope_and_team_changes_reach_the_audit_trail(make_audit, compliance_officer, second_auditor, controls_2022):
    audit = make_audit()
    services.update_audit(actor=compliance_officer, audit=audit, controls=controls_2022[:1])
    services.assign_auditors(
        actor=compliance_officer, audit=audit, lead_auditor=audit.lead_auditor, team=[second_auditor]
    )
    entries = AuditEntry.objects.filter(object_type="audits.audit", object_pk=str(audit.pk), actor=compliance_officer)
    changed = {field for entry in entries for field in (entry.changes or {})}
    assert {"controls", "team"} <= changed, changed


def test_duplicate_and_lead_entries_in_the_team_are_folded(make_audit, second_auditor, internal_auditor):
    audit = make_audit(team=[second_auditor, second_auditor, internal_auditor])
    assert list(audit.team.all()) == [second_auditor]
    controls = list(audit.controls.all())
    services.update_audit(actor=audit.programme.owner, audit=audit, controls=[*controls, *controls])
    assert audit.controls.count() == len(controls)
