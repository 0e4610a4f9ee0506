"""The register: scoring against the methodology, owners and object permissions, the status
lifecycle, treatment actions, methodology versions, and the SoA integration."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from controls import services as soa_services
from controls.models import Control, SoAEntry
from risks import services
from risks.defaults import default_methodology
from risks.models import Risk, RiskMethodology

pytestmark = pytest.mark.django_db


def test_levels_come_from_the_methodology_matrix(make_risk) -> None:
    risk = make_risk(inherent_likelihood=5, inherent_impact=5, residual_likelihood=1, residual_impact=2)
    assert (risk.inherent_level, risk.residual_level) == ("critical", "low")
    assert (risk.inherent_rank, risk.residual_rank) == (3, 0)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"inherent_likelihood": 6}, "inherent_likelihood"),
        ({"inherent_impact": 0}, "inherent_impact"),
        ({"residual_likelihood": 3, "residual_impact": None}, "residual_impact"),
    ],
)
def test_values_outside_the_scale_are_refused_naming_the_field(make_risk, values, field) -> None:
    with pytest.raises(ValidationError) as error:
        make_risk(**values)
    assert field in error.value.message_dict
    assert not Risk.objects.exists()


def test_the_owner_must_hold_the_risk_owner_role(make_risk, personas) -> None:
    with pytest.raises(ValidationError) as error:
        make_risk(owner=personas["internal_auditor"])
    assert "owner" in error.value.message_dict


def test_owner_change_moves_the_object_permissions(make_risk, compliance_officer, risk_owner) -> None:
    from ismsapp import services as platform
    from ismsapp.roles import Role

    risk = make_risk()
    assert risk_owner.has_perm("risks.accept_risk", risk)
    successor = platform.create_user(
        actor=None, username="successor", password="Long-enough-pass-1", roles=[Role.RISK_OWNER]
    )
    services.update_risk(actor=compliance_officer, risk=risk, owner=successor)
    risk_owner = type(risk_owner).objects.get(pk=risk_owner.pk)  # fresh permission cache
    successor = type(successor).objects.get(pk=successor.pk)
    assert not risk_owner.has_perm("risks.view_risk", risk)
    assert successor.has_perm("risks.accept_risk", risk)
    assert list(Risk.objects.for_user(risk_owner, "view")) == []
    assert list(Risk.objects.for_user(successor, "view")) == [risk]


def test_status_follows_the_work(make_risk, compliance_officer, isms_admin) -> None:
    risk = make_risk(
        inherent_likelihood=None,
        inherent_impact=None,
        treatment_option="",
        residual_likelihood=None,
        residual_impact=None,
    )
    assert risk.status == Risk.Status.IDENTIFIED
    risk = services.update_risk(actor=compliance_officer, risk=risk, inherent_likelihood=3, inherent_impact=3)
    assert risk.status == Risk.Status.ASSESSED
    risk = services.update_risk(actor=compliance_officer, risk=risk, treatment_option="modify")
    assert risk.status == Risk.Status.TREATMENT_PLANNED
    action = services.save_action(
        actor=compliance_officer,
        risk=risk,
        description="Encrypt disks",
        owner=isms_admin,
        due_date=date.today() + timedelta(days=30),
    )
    risk = services.update_risk(actor=compliance_officer, risk=risk, residual_likelihood=1, residual_impact=3)
    assert risk.status == Risk.Status.TREATMENT_PLANNED  # an action is still open
    services.save_action(
        actor=compliance_officer,
        risk=risk,
        action=action,
        description="Encrypt disks",
        owner=isms_admin,
        due_date=action.due_date,
        status="done",
    )
    risk.refresh_from_db()
    assert risk.status == Risk.Status.TREATED
    with pytest.raises(ValidationError):
        services.update_risk(actor=compliance_officer, risk=risk, status=Risk.Status.ACCEPTED)
    risk = services.update_risk(actor=compliance_officer, risk=risk, status=Risk.Status.CLOSED)
    assert risk.status == Risk.Status.CLOSED


def test_a_new_methodology_version_leaves_old_risks_alone(make_risk, compliance_officer) -> None:
    old = make_risk()
    definition = default_methodology()
    definition.update(name="Strict", appetite="low", matrix=dict.fromkeys(definition["matrix"], "high"))
    new = services.create_methodology_version(actor=compliance_officer, **definition)
    assert new.is_current
    assert RiskMethodology.objects.filter(is_current=True).count() == 1
    old.refresh_from_db()
    assert (old.methodology.version, old.residual_level) == (1, "medium")
    fresh = make_risk(title="Scored with the new version")
    assert (fresh.methodology, fresh.residual_level) == (new, "high")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"appetite": "extreme"}, "appetite"),
        ({"matrix": {"1,1": "low"}}, "matrix"),
        ({"likelihood_scale": [{"value": 2, "label": "x"}]}, "likelihood_scale"),
        ({"default_acceptance_months": 30}, "default_acceptance_months"),
    ],
)
def test_a_broken_methodology_is_refused(compliance_officer, change, field) -> None:
    definition = {**default_methodology(), **change}
    with pytest.raises(ValidationError) as error:
        services.create_methodology_version(actor=compliance_officer, **definition)
    assert field in error.value.message_dict


def test_soa_shows_treated_risks_and_flags_excluded_treatment_controls(
    make_risk, client_for, compliance_officer
) -> None:
    control = Control.objects.get(edition="2022", ref="8.24")
    risk = make_risk(controls=[control])
    client = client_for("compliance_officer")
    page = client.get(reverse("controls:soa", args=["2022"]))
    row = next(r for section in page.context["sections"] for r in section.rows if r.ref == "8.24")
    assert row.risks == [risk.reference]
    assert "Risk treatment" in row.reason_labels
    assert not row.inconsistent
    export = client.get(reverse("controls:soa_export", args=["2022", "csv"]))
    rows = {r["Control"]: r for r in csv.DictReader(io.StringIO(export.content.decode("utf-8-sig")))}
    assert "Risk treatment" in rows["8.24"]["Inclusion reasons"]
    entry = SoAEntry.objects.get(control=control)
    soa_services.update_soa_entry(
        actor=compliance_officer,
        entry=entry,
        expected_version=entry.row_version,
        applicable=False,
        inclusion_reasons=[],
        justification="Not needed",
        implementation_status="not_started",
        owner=None,
    )
    page = client.get(reverse("controls:soa", args=["2022"]))
    assert b"inconsistent" in page.content
    detail = client.get(reverse("risks:detail", args=[risk.pk]))
    assert b"inconsistent: excluded in the SoA" in detail.content


def test_risk_owners_see_only_their_risks(make_risk, client_for, personas) -> None:
    from ismsapp import services as platform
    from ismsapp.roles import Role

    mine = make_risk(title="Mine")
    other_owner = platform.create_user(
        actor=None, username="someone_else", password="Long-enough-pass-1", roles=[Role.RISK_OWNER]
    )
    theirs = make_risk(title="Theirs", owner=other_owner)
    client = client_for("risk_owner")
    register = client.get(reverse("risks:register"))
    assert [r.reference for r in register.context["page"]] == [mine.reference]
    assert client.get(reverse("risks:detail", args=[theirs.pk])).status_code == 404
    api = APIClient()
    api.force_authenticate(personas["risk_owner"])
    assert [r["reference"] for r in api.get("/api/risks/").json()["results"]] == [mine.reference]
    assert api.get(f"/api/risks/{theirs.pk}/").status_code == 404
    assert api.patch(f"/api/risks/{theirs.pk}/", {"title": "x"}, format="json").status_code == 404
    # the owner may change their own risk
    assert api.patch(f"/api/risks/{mine.pk}/", {"description": "Updated"}, format="json").status_code == 200
    auditor = client_for("internal_auditor").get(reverse("risks:register"))
    assert auditor.context["page"].paginator.count == 2
    assert client_for("external_auditor").get(reverse("risks:register")).status_code == 403


def test_register_filters_sorting_heatmaps_and_constant_queries(make_risk, client_for) -> None:
    for likelihood in range(1, 6):
        make_risk(title=f"Risk {likelihood}", residual_likelihood=likelihood, residual_impact=4)
    client = client_for("compliance_officer")
    page = client.get(reverse("risks:register"), {"sort": "-residual"})
    assert [r.residual_level for r in page.context["page"]][:2] == ["critical", "high"]
    assert client.get(reverse("risks:register"), {"level": "high"}).context["page"].paginator.count == 2
    assert client.get(reverse("risks:register"), {"q": "Risk 3"}).context["page"].paginator.count == 1
    html = page.content.decode()
    assert html.count("<svg") == 2
    assert "Likelihood 3, impact 4: High, 1 risk" in html
    assert "Likelihood 3, impact 4: High, 5 risks" in html  # inherent 3x4 for all five
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("risks:register"))
    for index in range(20):
        make_risk(title=f"More {index}")
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("risks:register"))
    assert len(many) == len(few)


def test_api_creates_risks_and_actions(personas, catalogue) -> None:
    api = APIClient()
    api.force_authenticate(personas["compliance_officer"])
    created = api.post(
        "/api/risks/",
        {
            "title": "API risk",
            "owner": "risk_owner",
            "inherent_likelihood": 2,
            "inherent_impact": 2,
            "treatment_option": "modify",
            "controls": ["2022:8.15", "2013:A.12.4.1"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["inherent_level"] == "low"
    assert sorted(created.json()["controls"]) == ["2013:A.12.4.1", "2022:8.15"]
    bad = api.post(
        "/api/risks/",
        {"title": "x", "owner": "risk_owner", "inherent_likelihood": 9, "inherent_impact": 1},
        format="json",
    )
    assert bad.status_code == 400
    assert "inherent_likelihood" in bad.json()
    unknown = api.post("/api/risks/", {"title": "x", "owner": "risk_owner", "controls": ["2022:99.9"]}, format="json")
    assert unknown.status_code == 400
    action = api.post(
        "/api/treatment-actions/",
        {"risk": created.json()["reference"], "description": "Do it", "owner": "isms_admin", "due_date": "2027-01-01"},
        format="json",
    )
    assert action.status_code == 201, action.json()
    api.force_authenticate(personas["internal_auditor"])
    assert api.post("/api/risks/", {"title": "x", "owner": "risk_owner"}, format="json").status_code == 403
    methodology = api.post("/api/risk-methodologies/", default_methodology(), format="json")
    assert methodology.status_code == 403
    api.force_authenticate(personas["isms_admin"])
    assert api.post("/api/risk-methodologies/", default_methodology(), format="json").status_code == 201
