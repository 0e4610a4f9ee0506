"""Demo audit data (every nonconformity state, one override) and the dashboard's audits panel."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audits import services
from audits.models import Audit, AuditReport, CorrectiveAction, ImpartialityOverride, Nonconformity
from audits.panels import _audits

pytestmark = pytest.mark.django_db


def test_demo_audits_cover_every_state_and_are_loaded_once(catalogue, settings, tmp_path, client):
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    call_command("setup_demo", stdout=out)
    assert "demo audit programme with 3 audits" in out.getvalue()
    assert set(Audit.objects.values_list("status", flat=True)) == {"closed", "in_progress", "planned"}
    assert AuditReport.objects.get().audit.status == "closed"  # the closed audit's report is final
    assert set(Nonconformity.objects.values_list("status", flat=True)) == set(Nonconformity.Status.values)
    reopened = CorrectiveAction.objects.get(status="reopened")
    assert "Contractors leave outside the HR workflow" in reopened.reopen_reason
    override = ImpartialityOverride.objects.get()
    assert (override.auditor.username, override.clause.ref) == ("auditor", "9.2")
    programme_span = Audit.objects.first().programme
    assert programme_span.period_end.year - programme_span.period_start.year == 2
    again = io.StringIO()
    call_command("setup_demo", stdout=again)
    assert "demo audits not added" in again.getvalue()
    assert Audit.objects.count() == 3


def test_the_panel_counts_with_a_fixed_number_of_queries(
    client_for, compliance_officer, action_owner, controls_2022, make_audit
):
    make_audit()
    today = timezone.localdate()

    def raise_one(severity: str, due: date) -> None:
        nc = services.raise_nonconformity(
            actor=compliance_officer,
            statement="s",
            severity=severity,
            origin="other",
            control=controls_2022[0],
            raised_on=today - timedelta(days=30),
        )
        services.add_corrective_action(
            actor=compliance_officer, nonconformity=nc, description="d", owner=action_owner, due_date=due
        )

    raise_one("major", today - timedelta(days=1))
    with CaptureQueriesContext(connection) as one:
        figures = _audits(compliance_officer)
    assert (figures["major"], figures["minor"], figures["overdue"]) == (1, 0, 1)
    assert figures["upcoming"][0]["title"] == "Access control audit"
    for _ in range(4):
        raise_one("minor", today + timedelta(days=5))
    with CaptureQueriesContext(connection) as five:
        figures = _audits(compliance_officer)
    assert (figures["major"], figures["minor"], figures["overdue"]) == (1, 4, 1)
    assert len(one) == len(five)
    mine = _audits(action_owner)
    assert (mine["mine_open"], mine["mine_overdue"], mine["major"]) == (5, 1, 1)
    page = client_for("compliance_officer").get(reverse("dashboard")).content.decode()
    assert 'data-figure="audits-overdue"' in page
