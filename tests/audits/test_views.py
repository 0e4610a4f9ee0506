"""The audit pages: coverage (constant queries), in-place checklist editing with conflicts, the
nonconformity cycle through the pages, the register and "My actions"."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audits import services
from audits.models import Audit, CorrectiveAction, Nonconformity
from controls.models import Control, SoAEntry

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def _count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_coverage_shows_planned_audited_never_and_yearly_gaps(
    client_for, programme, make_audit, make_risk, internal_auditor, controls_2022
):
    audit = make_audit()
    services.change_audit_status(actor=internal_auditor, audit=audit, status="in_progress", on=date(2026, 3, 2))
    item = audit.checklist.get(control=controls_2022[0])
    services.record_checklist_result(actor=internal_auditor, item=item, expected_version=0, result="conforming")
    risky = Control.objects.get(edition="2022", ref="8.5")
    risk = make_risk(controls=[risky], residual_likelihood=5, residual_impact=5)
    make_audit(
        title="Authentication 2027", controls=[risky], planned_start=date(2027, 3, 1), planned_end=date(2027, 3, 2)
    )

    url = reverse("audits:programme", args=[programme.pk])
    response = client_for("compliance_officer").get(url)
    body = response.content.decode()
    coverage = response.context["coverage"]
    assert coverage.summary["controls_audited"] == 1
    assert coverage.summary["controls_planned"] == 3  # two more of the first audit, 8.5 in 2027
    assert coverage.summary["controls_never"] == coverage.summary["controls"] - 4
    gaps = {row.ref: row for row in coverage.yearly_gaps}
    assert list(gaps) == ["8.5"]
    assert gaps["8.5"].missing_years == [2026, 2028]
    assert risk.reference in gaps["8.5"].above_appetite_risks
    assert "not planned every year" in body
    gap_page = client_for("compliance_officer").get(url, {"show": "gaps"})
    assert [row.ref for row in gap_page.context["rows"]] == ["8.5"]


def test_coverage_and_audit_pages_use_a_constant_number_of_queries(
    client_for, programme, make_audit, internal_auditor, catalogue
):
    client = client_for("compliance_officer")
    first = make_audit()
    services.change_audit_status(actor=internal_auditor, audit=first, status="in_progress")
    first_item = first.checklist.first()
    services.record_checklist_result(actor=internal_auditor, item=first_item, expected_version=0, result="conforming")
    programme_url = reverse("audits:programme", args=[programme.pk])
    audit_url = reverse("audits:audit", args=[first.pk])
    before = (_count_queries(client, programme_url), _count_queries(client, audit_url))
    controls = list(Control.objects.filter(edition="2022").order_by("position")[:40])
    for month in range(4, 9):
        make_audit(
            title=f"Audit {month}",
            controls=controls,
            planned_start=date(2026, month, 1),
            planned_end=date(2026, month, 2),
        )
    services.update_audit(actor=first.programme.owner, audit=first, controls=controls)
    services.generate_checklist(actor=internal_auditor, audit=first)
    for item in first.checklist.filter(result="")[:5]:
        services.record_checklist_result(actor=internal_auditor, item=item, expected_version=0, result="observation")
    assert (_count_queries(client, programme_url), _count_queries(client, audit_url)) == before


def test_checklist_row_is_edited_in_place_and_conflicts_name_who(
    client_for, audit_in_progress, compliance_officer, internal_auditor, second_auditor
):
    services.assign_auditors(
        actor=compliance_officer, audit=audit_in_progress, lead_auditor=internal_auditor, team=[second_auditor]
    )
    item = audit_in_progress.checklist.exclude(control=None).first()
    edit_url = reverse("audits:item_edit", args=[item.pk])
    lead = client_for("internal_auditor")
    form = lead.get(edit_url, **HX)
    assert form.status_code == 200
    assert 'class="checklist-row editing"' in form.content.decode()
    data = {
        "result": "minor_nc",
        "question": item.question,
        "notes": "Two of ten leavers kept access.",
        "sample_description": "Leavers of Q1",
        "sample_size": "10",
        "row_version": "0",
    }
    saved = lead.post(edit_url, data, **HX)
    assert saved.status_code == 200
    assert "Minor nonconformity" in saved.content.decode()
    assert "Raise nonconformity" in saved.content.decode()

    other = client_for(None)
    other.force_login(second_auditor)
    conflict = other.post(edit_url, {**data, "result": "conforming"}, **HX)
    assert conflict.status_code == 409
    assert "internal_auditor changed this row at" in conflict.content.decode()
    bad = lead.post(edit_url, {**data, "notes": "bell\x07", "row_version": "1"}, **HX)
    assert bad.status_code == 400
    assert "Auditor notes: Contains a control character" in bad.content.decode()
    nul = lead.post(edit_url, {**data, "sample_description": "a\x00b", "row_version": "1"}, **HX)
    assert nul.status_code == 400
    assert "Null characters are not allowed" in nul.content.decode()
    item.refresh_from_db()
    assert (item.result, item.row_version) == ("minor_nc", 1)
    assert client_for("compliance_officer").get(edit_url, **HX).status_code == 403


def test_the_nonconformity_cycle_through_the_pages(
    client_for, audit_in_progress, internal_auditor, second_auditor, action_owner
):
    item = audit_in_progress.checklist.exclude(control=None).first()
    services.record_checklist_result(actor=internal_auditor, item=item, expected_version=0, result="major_nc")
    lead = client_for("internal_auditor")
    response = lead.post(reverse("audits:item_raise", args=[item.pk]), {"statement": "No review.", "evidence": "Log."})
    nc = Nonconformity.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("audits:nonconformity", args=[nc.pk])
    nc_url = reverse("audits:nonconformity", args=[nc.pk])
    too_early = lead.post(
        reverse("audits:action_create", args=[nc.pk]),
        {"description": "Review", "owner": action_owner.pk, "due_date": (nc.raised_on - timedelta(days=1)).isoformat()},
    )
    assert too_early.status_code == 400
    assert "before the nonconformity was raised" in too_early.content.decode()
    lead.post(
        reverse("audits:action_create", args=[nc.pk]),
        {"description": "Review", "owner": action_owner.pk, "due_date": nc.raised_on.isoformat()},
    )
    action = CorrectiveAction.objects.get()
    closing = lead.post(reverse("audits:close", args=[nc.pk]), follow=True)
    assert "cannot close before a verification" in closing.content.decode()

    owner = client_for(None)
    owner.force_login(action_owner)
    mine = owner.get(reverse("audits:my_actions"))
    assert nc.reference in mine.content.decode()
    owner.post(reverse("audits:action_update", args=[action.pk]), {"progress_note": "Done.", "complete": "on"})
    action.refresh_from_db()
    assert action.status == "done"
    assert lead.post(reverse("audits:action_update", args=[action.pk]), {"complete": "on"}).status_code == 403

    verifier = client_for(None)
    verifier.force_login(second_auditor)
    assert "Verify the actions" in verifier.get(nc_url).content.decode()
    verifier.post(reverse("audits:verify", args=[nc.pk]), {"method": "Sampled records", "result": "effective"})
    lead.post(reverse("audits:close", args=[nc.pk]))
    nc.refresh_from_db()
    assert nc.status == "closed"


def test_register_filters_and_who_sees_it(
    client_for, audit_in_progress, compliance_officer, action_owner, controls_2022
):
    late = services.raise_nonconformity(
        actor=compliance_officer,
        statement="Late one",
        severity="major",
        origin="management",
        control=controls_2022[0],
        raised_on=date(2026, 1, 5),
    )
    services.raise_nonconformity(
        actor=compliance_officer, statement="Minor one", severity="minor", origin="complaint", control=controls_2022[1]
    )
    services.add_corrective_action(
        actor=compliance_officer, nonconformity=late, description="Fix", owner=action_owner, due_date=date(2026, 1, 10)
    )
    client = client_for("compliance_officer")
    url = reverse("audits:register")
    assert len(client.get(url).context["nonconformities"]) == 2
    assert [nc.pk for nc in client.get(url, {"overdue": "on"}).context["nonconformities"]] == [late.pk]
    assert [nc.pk for nc in client.get(url, {"severity": "minor"}).context["nonconformities"]] != [late.pk]
    assert [nc.pk for nc in client.get(url, {"requirement": controls_2022[0].ref}).context["nonconformities"]] == [
        late.pk
    ]
    assert client.get(url, {"status": "nonsense"}).status_code == 200
    assert list(client_for("risk_owner").get(url).context["nonconformities"]) == []
    assert client_for("external_auditor").get(url).status_code == 403


def test_navigation_shows_audit_entries_by_role(client_for):
    officer = client_for("compliance_officer").get(reverse("dashboard")).content.decode()
    assert reverse("audits:programmes") in officer
    assert reverse("audits:register") in officer
    outsider = client_for("outsider").get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("audits:programmes")}"' not in outsider
    assert reverse("audits:my_actions") in outsider


def test_programme_and_audit_forms_show_refusals_on_their_fields(
    client_for, programme, internal_auditor, controls_2022
):
    client = client_for("compliance_officer")
    bad = client.post(
        reverse("audits:programme_create"),
        {
            "title": "t" * 201,
            "edition": "2022",
            "period_start": "2026-01-01",
            "period_end": "2025-01-01",
            "objectives": "o\x07",
            "owner": internal_auditor.pk,
        },
    )
    assert bad.status_code == 400
    assert set(bad.context["form"].errors) >= {"title"}
    control_chars = client.post(
        reverse("audits:programme_create"),
        {
            "title": "Cycle",
            "edition": "2022",
            "period_start": "2026-01-01",
            "period_end": "2027-01-01",
            "objectives": "o\x07",
            "owner": internal_auditor.pk,
        },
    )
    assert control_chars.status_code == 400
    assert "control character" in " ".join(control_chars.context["form"].errors["objectives"])
    SoAEntry.objects.filter(control=controls_2022[0]).update(owner=internal_auditor)
    conflicted = client.post(
        reverse("audits:audit_create", args=[programme.pk]),
        {
            "title": "Conflicted",
            "audit_type": "internal",
            "controls": [controls_2022[0].pk],
            "criteria": "c",
            "planned_start": "2026-05-04",
            "planned_end": "2026-05-05",
            "lead_auditor": internal_auditor.pk,
        },
    )
    assert conflicted.status_code == 400
    assert "they own this control" in " ".join(conflicted.context["form"].errors["lead_auditor"])
    assert not Audit.objects.filter(title="Conflicted").exists()
