"""The audits API: the same services behind it, refusals as 400 (naming the field), 403 and 409."""

from __future__ import annotations

from datetime import date

import pytest
from rest_framework.test import APIClient

from audits import services
from audits.models import Nonconformity
from controls.models import SoAEntry

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_schema_covers_the_audit_endpoints_and_workflow_steps(client_for):
    schema = client_for("compliance_officer").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = schema.json()["paths"]
    for path in (
        "/api/audit-programmes/",
        "/api/audits/{id}/status/",
        "/api/audits/{id}/assign-auditors/",
        "/api/audits/{id}/finalise/",
        "/api/checklist-items/{id}/",
        "/api/nonconformities/{id}/verify/",
        "/api/nonconformities/{id}/close/",
        "/api/corrective-actions/{id}/complete/",
        "/api/effectiveness-verifications/",
    ):
        assert path in paths, path


def test_creating_an_audit_with_a_conflicted_lead_is_refused_naming_the_field(
    programme, compliance_officer, internal_auditor, controls_2022
):
    SoAEntry.objects.filter(control=controls_2022[0]).update(owner=internal_auditor)
    body = {
        "programme": programme.pk,
        "title": "API audit",
        "criteria": "ISO/IEC 27001:2022",
        "planned_start": "2026-05-04",
        "planned_end": "2026-05-05",
        "lead_auditor": "internal_auditor",
        "controls": [f"2022:{controls_2022[0].ref}"],
    }
    response = api(compliance_officer).post("/api/audits/", body, format="json")
    assert response.status_code == 400
    assert "they own this control" in response.json()["lead_auditor"][0]
    body["override_justification"] = "Only trained auditor; ownership is nominal until the April reorganisation."
    created = api(compliance_officer).post("/api/audits/", body, format="json")
    assert created.status_code == 201
    assert created.json()["impartiality_overrides"][0]["auditor"] == "internal_auditor"
    assert api(internal_auditor).post("/api/audits/", body, format="json").status_code == 403


def test_checklist_patch_refuses_a_stale_version_with_409(audit_in_progress, internal_auditor):
    item = audit_in_progress.checklist.first()
    client = api(internal_auditor)
    url = f"/api/checklist-items/{item.pk}/"
    assert client.patch(url, {"result": "conforming", "row_version": 0}, format="json").status_code == 200
    stale = client.patch(url, {"result": "observation", "row_version": 0}, format="json")
    assert stale.status_code == 409
    assert "internal_auditor changed this row" in stale.json()["detail"]
    assert stale.json()["current"]["result"] == "conforming"
    bad = client.patch(url, {"notes": "\x1b[2J", "row_version": 1}, format="json")
    assert bad.status_code == 400
    assert "control character" in bad.json()["notes"][0]


def test_nonconformity_workflow_through_the_api(
    compliance_officer, internal_auditor, second_auditor, action_owner, controls_2022
):
    officer = api(compliance_officer)
    nul = officer.post(
        "/api/nonconformities/",
        {"statement": "bad\x00", "severity": "minor", "origin": "complaint", "control": f"2022:{controls_2022[0].ref}"},
        format="json",
    )
    assert nul.status_code == 400
    assert "statement" in nul.json()
    created = officer.post(
        "/api/nonconformities/",
        {
            "statement": "Badge leak",
            "severity": "minor",
            "origin": "complaint",
            "control": f"2022:{controls_2022[0].ref}",
        },
        format="json",
    )
    assert created.status_code == 201
    nc_id = created.json()["id"]
    early = officer.post(
        "/api/corrective-actions/",
        {"nonconformity": nc_id, "description": "Fix", "owner": "action_owner", "due_date": "2000-01-01"},
        format="json",
    )
    assert early.status_code == 400
    assert "due_date" in early.json()
    action = officer.post(
        "/api/corrective-actions/",
        {"nonconformity": nc_id, "description": "Fix", "owner": "second_auditor", "due_date": date.today().isoformat()},
        format="json",
    ).json()
    refused = api(internal_auditor).post(f"/api/corrective-actions/{action['id']}/complete/", {}, format="json")
    assert refused.status_code == 403
    assert (
        api(second_auditor).post(f"/api/corrective-actions/{action['id']}/complete/", {}, format="json").status_code
        == 200
    )
    close = officer.post(f"/api/nonconformities/{nc_id}/close/", {}, format="json")
    assert close.status_code == 400
    assert "cannot close before a verification" in close.json()["status"][0]
    own = api(second_auditor).post(
        f"/api/nonconformities/{nc_id}/verify/", {"method": "m", "result": "effective"}, format="json"
    )
    assert own.status_code == 403
    verified = api(internal_auditor).post(
        f"/api/nonconformities/{nc_id}/verify/", {"method": "Records", "result": "effective"}, format="json"
    )
    assert verified.status_code == 201
    assert officer.post(f"/api/nonconformities/{nc_id}/close/", {}, format="json").status_code == 200
    assert Nonconformity.objects.get(pk=nc_id).status == "closed"
    assert (
        api(action_owner).get("/api/nonconformities/").json()["results"] == []
        if isinstance(api(action_owner).get("/api/nonconformities/").json(), dict)
        else api(action_owner).get("/api/nonconformities/").json() == []
    )


def test_audit_status_is_moved_by_the_lead_only(make_audit, internal_auditor, second_auditor):
    audit = make_audit()
    assert api(second_auditor).post(f"/api/audits/{audit.pk}/status/", {"status": "in_progress"}).status_code == 403
    moved = api(internal_auditor).post(f"/api/audits/{audit.pk}/status/", {"status": "in_progress", "on": "2026-03-02"})
    assert moved.status_code == 200
    assert moved.json()["status"] == "in_progress"
    assert services.generate_checklist(actor=internal_auditor, audit=audit) == 0
