"""Separation of duties in the risk register (issue 10): the risk owner decides on the residual
risk and reports progress, but cannot change what their decision is judged against. Checked in
the services, so the pages and the API obey alike."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from controls.models import Control
from ismsapp import services as platform
from ismsapp.models import AuditEntry
from ismsapp.roles import Role
from risks import services
from risks.models import Risk, RiskAcceptance, TreatmentAction
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
JUSTIFICATION = "Disks are encrypted; the remaining exposure is insured."
DUE = (date.today() + timedelta(days=30)).isoformat()


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def another_owner(username: str = "other_owner"):
    return platform.create_user(actor=None, username=username, password=PASSWORD, roles=[Role.RISK_OWNER])


@pytest.fixture
def planned(make_risk, compliance_officer):
    """A risk above the appetite (residual 4x4 = high) with an open treatment action."""
    control = Control.objects.get(edition="2022", ref="8.24")
    risk = make_risk(residual_likelihood=4, residual_impact=4, controls=[control])
    action = services.save_action(
        actor=compliance_officer,
        risk=risk,
        description="Encrypt every laptop",
        owner=compliance_officer,
        due_date=date.today() + timedelta(days=30),
    )
    return Risk.objects.get(pk=risk.pk), action


def assessment(risk: Risk) -> tuple:
    risk.refresh_from_db()
    return (
        risk.owner_id,
        risk.inherent_likelihood,
        risk.inherent_impact,
        risk.treatment_option,
        risk.residual_likelihood,
        risk.residual_impact,
        sorted(risk.controls.values_list("pk", flat=True)),
        risk.status,
    )


# --- the risk's assessment ------------------------------------------------------------------------

ASSESSMENT_CHANGES = [
    pytest.param({"residual_likelihood": 1, "residual_impact": 1}, id="lower-residual"),
    pytest.param({"inherent_likelihood": 1, "inherent_impact": 1}, id="lower-inherent"),
    pytest.param({"treatment_option": "retain"}, id="treatment"),
    pytest.param({"controls": []}, id="controls"),
    pytest.param({"owner": "other_owner"}, id="hand-over"),
    pytest.param({"status": "closed"}, id="close"),
]


@pytest.mark.parametrize("change", ASSESSMENT_CHANGES)
def test_the_risk_owner_cannot_change_the_assessment_through_the_api(planned, risk_owner, change) -> None:
    another_owner()
    risk, _ = planned
    before = assessment(risk)
    response = api_for(risk_owner).patch(f"/api/risks/{risk.pk}/", change, format="json")
    assert response.status_code == 403, response.json()
    assert assessment(risk) == before
    refused = AuditEntry.objects.get(
        action=AuditEntry.Action.ACCESS_DENIED, additional_data__event="risk change refused"
    )
    assert (refused.actor, refused.object_pk) == (risk_owner, str(risk.pk))


@pytest.mark.parametrize("change", ASSESSMENT_CHANGES)
def test_the_risk_owner_cannot_change_the_assessment_through_the_pages(planned, client_for, change) -> None:
    other = another_owner()
    risk, _ = planned
    before = assessment(risk)
    form = {
        "title": risk.title,
        "owner": risk.owner_id,
        "inherent_likelihood": risk.inherent_likelihood,
        "inherent_impact": risk.inherent_impact,
        "treatment_option": risk.treatment_option,
        "controls": list(risk.controls.values_list("pk", flat=True)),
        "residual_likelihood": risk.residual_likelihood,
        "residual_impact": risk.residual_impact,
        **{k: (other.pk if k == "owner" else v) for k, v in change.items()},
    }
    client_for("risk_owner").post(reverse("risks:edit", args=[risk.pk]), form)
    assert assessment(risk) == before


def test_the_risk_owner_cannot_change_the_assessment_through_the_services(planned, risk_owner) -> None:
    risk, _ = planned
    with pytest.raises(PermissionDenied):
        services.update_risk(actor=risk_owner, risk=risk, residual_likelihood=1, residual_impact=1)


def test_the_risk_owner_still_describes_their_risk_and_sees_the_assessment_read_only(planned, client_for) -> None:
    risk, _ = planned
    client = client_for("risk_owner")
    page = client.get(reverse("risks:edit", args=[risk.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for field in ("owner", "inherent_likelihood", "treatment_option", "controls", "residual_impact", "status"):
        assert f'name="{field}"' not in html, field
    assert 'name="description"' in html
    assert "A compliance officer or an ISMS admin sets these" in html
    response = client.post(
        reverse("risks:edit", args=[risk.pk]), {"title": "Laptop theft on trips", "description": "On trains too."}
    )
    assert response.status_code == 302
    risk.refresh_from_db()
    assert (risk.title, risk.description) == ("Laptop theft on trips", "On trains too.")
    # a full PUT that repeats the assessment unchanged is a description change
    api = api_for(risk.owner)
    body = api.get(f"/api/risks/{risk.pk}/").json()
    body["description"] = "Through the API."
    assert api.put(f"/api/risks/{risk.pk}/", body, format="json").status_code == 200


def test_a_manager_who_also_owns_the_risk_may_reassess_it(compliance_officer, catalogue) -> None:
    dual = platform.create_user(
        actor=None, username="dual", password=PASSWORD, roles=[Role.COMPLIANCE_OFFICER, Role.RISK_OWNER]
    )
    risk = services.create_risk(
        actor=compliance_officer, title="Dual", owner=dual, inherent_likelihood=3, inherent_impact=3
    )
    risk = services.update_risk(
        actor=dual, risk=risk, treatment_option="retain", residual_likelihood=2, residual_impact=2
    )
    assert (risk.residual_level, risk.residual_assessed_by) == ("low", dual)


# --- treatment actions ----------------------------------------------------------------------------


def test_the_risk_owner_cannot_add_actions(planned, risk_owner, client_for) -> None:
    risk, _ = planned
    body = {"risk": risk.reference, "description": "Mine", "owner": "risk_owner", "due_date": DUE}
    assert api_for(risk_owner).post("/api/treatment-actions/", body, format="json").status_code == 403
    client = client_for("risk_owner")
    assert client.get(reverse("risks:action_create", args=[risk.pk])).status_code == 403
    form = {"description": "Mine", "owner": risk_owner.pk, "due_date": DUE, "status": "done"}
    assert client.post(reverse("risks:action_create", args=[risk.pk]), form).status_code == 403
    assert risk.actions.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"status": "cancelled"}, id="cancel"),
        pytest.param({"owner": "internal_auditor"}, id="reassign"),
        pytest.param({"description": "Nothing to do"}, id="redescribe"),
        pytest.param({"due_date": "2099-01-01"}, id="postpone"),
    ],
)
def test_the_risk_owner_cannot_re_plan_or_cancel_actions_through_the_api(planned, risk_owner, change) -> None:
    _, action = planned
    response = api_for(risk_owner).patch(f"/api/treatment-actions/{action.pk}/", change, format="json")
    assert response.status_code == 403, response.json()
    fresh = TreatmentAction.objects.get(pk=action.pk)
    assert (fresh.status, fresh.owner_id, fresh.description, fresh.due_date) == (
        "planned",
        action.owner_id,
        action.description,
        action.due_date,
    )


def test_the_risk_owner_cannot_cancel_actions_through_the_pages(planned, client_for) -> None:
    risk, action = planned
    client = client_for("risk_owner")
    page = client.get(reverse("risks:action_edit", args=[risk.pk, action.pk]))
    assert page.status_code == 200
    assert set(page.context["form"].fields) == {"status", "progress_note"}
    assert "cancelled" not in dict(page.context["form"].fields["status"].choices)
    form = {"description": "x", "owner": action.owner_id, "due_date": "2099-01-01", "status": "cancelled"}
    client.post(reverse("risks:action_edit", args=[risk.pk, action.pk]), form)
    fresh = TreatmentAction.objects.get(pk=action.pk)
    assert (fresh.status, fresh.description, fresh.due_date) == ("planned", action.description, action.due_date)


def test_the_risk_owner_reports_progress(planned, risk_owner, client_for) -> None:
    risk, action = planned
    response = api_for(risk_owner).patch(
        f"/api/treatment-actions/{action.pk}/",
        {"status": "in_progress", "progress_note": "Half the fleet is encrypted."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    response = client_for("risk_owner").post(
        reverse("risks:action_edit", args=[risk.pk, action.pk]),
        {"status": "done", "progress_note": "All laptops encrypted.\nChecked by IT."},
    )
    assert response.status_code == 302
    fresh = TreatmentAction.objects.get(pk=action.pk)
    assert (fresh.status, fresh.progress_note) == ("done", "All laptops encrypted.\nChecked by IT.")
    detail = client_for("risk_owner").get(reverse("risks:detail", args=[risk.pk]))
    assert b"All laptops encrypted." in detail.content
    assert b"Add a treatment action" not in detail.content


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("stopped\x00here", "progress_note"),
        ("bell\x07", "progress_note"),
        ("x" * 2_001, "progress_note"),
    ],
)
def test_a_bad_progress_note_is_refused_naming_the_field(planned, risk_owner, client_for, value, message) -> None:
    risk, action = planned
    response = api_for(risk_owner).patch(
        f"/api/treatment-actions/{action.pk}/", {"progress_note": value}, format="json"
    )
    assert response.status_code == 400
    assert message in response.json()
    page = client_for("risk_owner").post(
        reverse("risks:action_edit", args=[risk.pk, action.pk]), {"status": "planned", "progress_note": value}
    )
    assert page.status_code == 400
    assert page.context["form"].errors.get(message)
    assert TreatmentAction.objects.get(pk=action.pk).progress_note == ""


@pytest.mark.parametrize("carrier", ["external_auditor", "internal_auditor", "outsider", "inactive"])
def test_actions_go_only_to_users_whose_role_may_carry_them(planned, personas, compliance_officer, carrier) -> None:
    risk, action = planned
    if carrier == "inactive":
        user = platform.create_user(actor=None, username="left", password=PASSWORD, roles=[Role.COMPLIANCE_OFFICER])
        type(user).objects.filter(pk=user.pk).update(is_active=False)
        user.refresh_from_db()
    else:
        user = personas[carrier]
    assert not services.may_carry_treatment_actions(user)
    with pytest.raises(ValidationError) as error:
        services.save_action(
            actor=compliance_officer, risk=risk, description="Audit it", owner=user, due_date=date.today()
        )
    assert "owner" in error.value.message_dict
    api = api_for(compliance_officer)
    body = {"risk": risk.reference, "description": "Audit it", "owner": user.username, "due_date": DUE}
    response = api.post("/api/treatment-actions/", body, format="json")
    assert response.status_code == 400
    assert "owner" in response.json()
    assert api.patch(f"/api/treatment-actions/{action.pk}/", {"owner": user.username}, format="json").status_code == 400
    assert risk.actions.count() == 1
    assert TreatmentAction.objects.get(pk=action.pk).owner == compliance_officer


def test_officers_admins_and_risk_owners_carry_actions(planned, personas, compliance_officer) -> None:
    risk, _ = planned
    for name in ("compliance_officer", "isms_admin", "risk_owner"):
        assert services.may_carry_treatment_actions(personas[name])
        services.save_action(
            actor=compliance_officer, risk=risk, description=f"For {name}", owner=personas[name], due_date=date.today()
        )
    assert set(services.treatment_action_carriers().values_list("username", flat=True)) == {
        "compliance_officer",
        "isms_admin",
        "risk_owner",
    }


def test_an_action_on_a_missing_or_an_invisible_risk_answers_the_same(make_risk, risk_owner, personas) -> None:
    theirs = make_risk(title="Theirs", owner=another_owner())
    api = api_for(risk_owner)
    answers = []
    for reference in ("R-9999", theirs.reference):
        body = {"risk": reference, "description": "Probe", "owner": "risk_owner", "due_date": DUE}
        response = api.post("/api/treatment-actions/", body, format="json")
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 404
    assert not TreatmentAction.objects.exists()


# --- the exploit of the report, end to end -------------------------------------------------------


def test_the_owner_cannot_talk_an_above_appetite_risk_down_to_an_acceptance_without_approval(
    planned, risk_owner, compliance_officer
) -> None:
    """The report's path: lower the residual scores, cancel the open actions, accept at "low"."""
    risk, action = planned
    api = api_for(risk_owner)
    lowered = api.patch(f"/api/risks/{risk.pk}/", {"residual_likelihood": 1, "residual_impact": 1}, format="json")
    assert lowered.status_code == 403
    cancelled = api.patch(f"/api/treatment-actions/{action.pk}/", {"status": "cancelled"}, format="json")
    assert cancelled.status_code == 403
    services.save_action(actor=compliance_officer, risk=risk, action=action, status="done")  # the real work
    body = {"password": PASSWORD, "justification": JUSTIFICATION}
    first = api.post(f"/api/risks/{risk.pk}/accept/", body, format="json")
    assert (first.status_code, first.json()["status"], first.json()["residual_level"]) == (
        201,
        "pending_approval",
        "high",
    )
    again = api.post(f"/api/risks/{risk.pk}/accept/", body, format="json")
    assert (again.status_code, again.json()["status"]) == (201, "pending_approval")
    assert not RiskAcceptance.objects.filter(status=RiskAcceptance.Status.ACTIVE).exists()


# --- who made the assessment decides the second approval -----------------------------------------


def test_the_residual_assessor_is_recorded(make_risk, compliance_officer, isms_admin) -> None:
    risk = make_risk()
    assert risk.residual_assessed_by == compliance_officer
    assert risk.residual_assessed_at is not None
    risk = services.update_risk(actor=isms_admin, risk=risk, description="Only words")
    assert risk.residual_assessed_by == compliance_officer
    risk = services.update_risk(actor=isms_admin, risk=risk, residual_likelihood=1)
    assert risk.residual_assessed_by == isms_admin


def test_an_acceptance_on_ones_own_assessment_needs_the_second_approval(compliance_officer, personas) -> None:
    dual = platform.create_user(
        actor=None, username="dual", password=PASSWORD, roles=[Role.COMPLIANCE_OFFICER, Role.RISK_OWNER]
    )
    risk = services.create_risk(
        actor=dual,
        title="Scored and accepted by one person",
        owner=dual,
        inherent_likelihood=3,
        inherent_impact=3,
        treatment_option="retain",
        residual_likelihood=1,
        residual_impact=1,  # low: within the appetite
    )
    accepted = services.accept_residual_risk(actor=dual, risk=risk, password=PASSWORD, justification=JUSTIFICATION)
    assert (accepted.status, accepted.needs_second_approval) == (RiskAcceptance.Status.PENDING_APPROVAL, True)
    assert accepted.snapshot["residual_assessed_by"] == "dual"
    approved = services.decide_second_approval(actor=personas["isms_admin"], acceptance=accepted, approve=True)
    assert approved.status == RiskAcceptance.Status.ACTIVE


def test_an_acceptance_on_an_unrecorded_assessment_needs_the_second_approval(make_risk, risk_owner) -> None:
    risk = make_risk()  # medium: within the appetite
    Risk.objects.filter(pk=risk.pk).update(residual_assessed_by=None, residual_assessed_at=None)
    accepted = services.accept_residual_risk(
        actor=risk_owner, risk=risk, password=PASSWORD, justification=JUSTIFICATION
    )
    assert (accepted.status, accepted.needs_second_approval) == (RiskAcceptance.Status.PENDING_APPROVAL, True)


def test_an_acceptance_on_anothers_assessment_within_appetite_counts_at_once(make_risk, risk_owner) -> None:
    accepted = services.accept_residual_risk(
        actor=risk_owner, risk=make_risk(), password=PASSWORD, justification=JUSTIFICATION
    )
    assert (accepted.status, accepted.needs_second_approval) == (RiskAcceptance.Status.ACTIVE, False)


def test_another_owners_action_is_not_found_through_ones_own_risk(planned, make_risk, risk_owner, client_for) -> None:
    risk, _ = planned
    theirs = make_risk(title="Theirs", owner=another_owner())
    foreign = services.save_action(
        actor=services.treatment_action_carriers().get(username="compliance_officer"),
        risk=theirs,
        description="Theirs to do",
        owner=theirs.owner,
        due_date=date.today(),
    )
    client = client_for("risk_owner")
    assert client.get(reverse("risks:action_edit", args=[risk.pk, foreign.pk])).status_code == 404
    assert client.post(reverse("risks:action_edit", args=[risk.pk, foreign.pk]), {"status": "done"}).status_code == 404
    api = api_for(risk_owner)
    assert api.patch(f"/api/treatment-actions/{foreign.pk}/", {"status": "done"}, format="json").status_code == 404
    assert TreatmentAction.objects.get(pk=foreign.pk).status == "planned"


def test_the_api_takes_assets_by_name_among_the_visible_ones(compliance_officer, catalogue) -> None:
    services.save_asset(
        actor=compliance_officer,
        name="Laptops",
        asset_type="hardware",
        owner=compliance_officer,
        confidentiality=3,
        integrity=3,
        availability=3,
    )
    api = api_for(compliance_officer)
    body = {"title": "With assets", "owner": "risk_owner", "assets": ["Laptops"]}
    created = api.post("/api/risks/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["assets"] == ["Laptops"]
    unknown = api.post("/api/risks/", {**body, "assets": ["Nowhere"]}, format="json")
    assert unknown.status_code == 400
    assert "assets" in unknown.json()


@pytest.mark.parametrize("persona", ["risk_owner", "internal_auditor", "external_auditor", "outsider"])
def test_the_services_refuse_register_work_to_other_roles(personas, catalogue, persona) -> None:
    from risks.defaults import default_methodology

    actor = personas[persona]
    with pytest.raises(PermissionDenied):
        services.create_risk(actor=actor, title="Mine", owner=personas["risk_owner"])
    with pytest.raises(PermissionDenied):
        services.save_asset(
            actor=actor, name="Mine", asset_type="other", owner=actor, confidentiality=1, integrity=1, availability=1
        )
    with pytest.raises(PermissionDenied):
        services.create_methodology_version(actor=actor, **default_methodology())
    assert not Risk.objects.exists()


def test_the_service_judges_the_stored_action_not_the_callers_copy(planned, risk_owner) -> None:
    """A bound model form changes its instance before the service runs: the service must compare
    with what is stored, or a cancelled status would slip through as "unchanged"."""
    risk, action = planned
    action.status = "cancelled"
    with pytest.raises(PermissionDenied):
        services.save_action(actor=risk_owner, risk=risk, action=action, status="cancelled")
    assert TreatmentAction.objects.get(pk=action.pk).status == "planned"
