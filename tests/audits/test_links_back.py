"""Links back from the SoA and the risks to the audits: the SoA row of a control shows its last
audit result and its open nonconformities (no extra query per row), and a risk's page lists the
nonconformities raised against its treatment controls (as far as the reader may see them)."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audits import services
from controls.models import Control

pytestmark = pytest.mark.django_db
RAISED = date(2026, 3, 4)


def soa_queries(client) -> tuple[int, str]:
    url = reverse("controls:soa", args=["2022"])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_soa_rows_show_last_audit_result_and_open_nonconformities_in_constant_queries(
    audit_in_progress, internal_auditor, compliance_officer, client_for
):
    client = client_for("compliance_officer")
    before, html = soa_queries(client)
    assert "Last audit:" not in html
    items = list(audit_in_progress.checklist.exclude(control=None).order_by("position"))
    services.record_checklist_result(actor=internal_auditor, item=items[0], expected_version=0, result="major_nc")
    services.record_checklist_result(actor=internal_auditor, item=items[1], expected_version=0, result="conforming")
    nc = services.raise_nonconformity(
        actor=internal_auditor, checklist_item=items[0], statement="No reviews.", raised_on=RAISED
    )
    others = list(Control.objects.filter(edition="2022").order_by("position")[10:20])
    for control in others:  # direct nonconformities on ten more controls
        services.raise_nonconformity(
            actor=compliance_officer,
            statement="Seen in monitoring.",
            severity="minor",
            origin="monitoring",
            control=control,
            raised_on=RAISED,
        )
    after, html = soa_queries(client)
    assert after == before
    row = html[html.index(f'id="control-{items[0].control.ref}"') :]
    row = row[: row.index("</tr>")]
    assert "Last audit:" in row
    assert "Major nonconformity" in row
    assert f"{nc.reference} (major)" in row
    second = html[html.index(f'id="control-{items[1].control.ref}"') :]
    assert "Conforming" in second[: second.index("</tr>")]


def test_published_snapshots_do_not_carry_audit_findings(audit_in_progress, internal_auditor, compliance_officer):
    from controls import services as soa_services

    item = audit_in_progress.checklist.exclude(control=None).first()
    services.record_checklist_result(actor=internal_auditor, item=item, expected_version=0, result="minor_nc")
    version = soa_services.publish_soa(
        actor=compliance_officer, edition="2022", approver=compliance_officer, approved_on=date(2026, 1, 5)
    )
    assert all("audit" not in row for row in version.snapshot["controls"])


def test_risk_page_lists_nonconformities_on_its_treatment_controls(
    compliance_officer, make_risk, controls_2022, clause_2022, client_for
):
    risk = make_risk(controls=[controls_2022[0]])
    treated = services.raise_nonconformity(
        actor=compliance_officer,
        statement="Treatment control not operated.",
        severity="major",
        origin="monitoring",
        control=controls_2022[0],
        raised_on=RAISED,
    )
    elsewhere = services.raise_nonconformity(
        actor=compliance_officer,
        statement="Unrelated finding.",
        severity="minor",
        origin="complaint",
        control=controls_2022[1],
        raised_on=RAISED,
    )
    for persona in ("risk_owner", "compliance_officer"):
        html = client_for(persona).get(reverse("risks:detail", args=[risk.pk])).content.decode()
        assert "Nonconformities on its treatment controls" in html
        assert treated.reference in html
        assert "Treatment control not operated." in html
        assert elsewhere.reference not in html
    untreated = make_risk(title="No controls", treatment_option="retain", controls=[])
    html = client_for("compliance_officer").get(reverse("risks:detail", args=[untreated.pk])).content.decode()
    assert "Nonconformities on its treatment controls" not in html
