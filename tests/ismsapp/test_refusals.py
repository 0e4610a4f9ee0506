"""Every refused access is in the audit trail: the 404s of object scoping (pages and API), refused
pushes (401), and a flood of refusals leaves a bounded trail that still counts what it left out."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from evidence import services as evidence_services
from evidence.models import IngestionJob
from ismsapp import services as platform
from ismsapp.models import AuditEntry, RefusalCounter
from ismsapp.roles import Role
from risks import services
from risks import services as risk_services
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def refusals(**filters: object) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS_DENIED, **filters).order_by("seq"))


@pytest.fixture
def accepted_risk(catalogue, compliance_officer, risk_owner):
    """A risk of ``risk_owner`` with an active residual-risk acceptance."""
    risk = risk_services.create_risk(
        actor=compliance_officer,
        title="Laptop theft",
        owner=risk_owner,
        inherent_likelihood=3,
        inherent_impact=4,
        treatment_option="modify",
        residual_likelihood=2,
        residual_impact=3,
        threat="Theft",
        vulnerability="Unencrypted disks",
        affects_confidentiality=True,
    )
    accepted = services.accept_residual_risk(
        actor=risk_owner, risk=risk, password=PASSWORD, justification="Disks are encrypted; the rest is insured."
    )
    return risk, accepted


@pytest.fixture
def other_owner(personas):
    return platform.create_user(actor=None, username="other_owner", password=PASSWORD, roles=[Role.RISK_OWNER])


def test_another_owners_risk_page_api_and_acceptance_pdf_are_refused_and_recorded(accepted_risk, other_owner):
    risk, accepted = accepted_risk
    client = Client()
    client.force_login(other_owner)
    api = APIClient()
    api.force_authenticate(other_owner)
    before = len(refusals())
    tries = [
        ("risks:detail", client.get(reverse("risks:detail", args=[risk.pk]))),
        ("risk-detail", api.get(f"/api/risks/{risk.pk}/")),
        ("risks:acceptance_pdf", client.post(reverse("risks:acceptance_pdf", args=[accepted.pk]))),
        ("riskacceptance-detail", api.get(f"/api/risk-acceptances/{accepted.pk}/")),
    ]
    assert [response.status_code for _, response in tries] == [404] * 4
    entries = refusals()[before:]
    assert [entry.additional_data["route"] for entry in entries] == [route for route, _ in tries]
    for entry in entries:
        assert entry.actor_id == other_owner.pk
        assert entry.additional_data["status"] == 404
        assert entry.additional_data["refusal"] == "not found or not yours"
    assert entries[0].additional_data["path"] == reverse("risks:detail", args=[risk.pk])


def test_a_missing_id_looks_like_a_hidden_one_and_both_are_recorded(accepted_risk, other_owner):
    risk, _ = accepted_risk
    api = APIClient()
    api.force_authenticate(other_owner)
    hidden = api.get(f"/api/risks/{risk.pk}/")
    missing = api.get(f"/api/risks/{risk.pk + 10_000}/")
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())
    assert [entry.additional_data["path"] for entry in refusals()] == [
        f"/api/risks/{risk.pk}/",
        f"/api/risks/{risk.pk + 10_000}/",
    ]


def test_a_mistyped_url_is_not_a_refusal(risk_owner):
    client = Client()
    client.force_login(risk_owner)
    assert client.get("/risks/no-such-page/").status_code == 404
    assert client.get(reverse("risks:export", args=["nothing", "xlsx"])).status_code == 404
    assert refusals() == []


def test_a_view_that_records_its_own_refusal_is_not_recorded_twice(accepted_risk, other_owner):
    risk, _ = accepted_risk
    api = APIClient()
    api.force_authenticate(other_owner)
    response = api.post(f"/api/risks/{risk.pk}/accept/", {"password": PASSWORD, "justification": "x"}, format="json")
    assert response.status_code == 404
    entries = refusals()
    assert len(entries) == 1
    assert entries[0].additional_data["event"] == "residual risk acceptance refused"


def push(name: str, token: str | None) -> int:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post(f"/api/ingest/{name}/", data=b"line\n", content_type="text/plain", **headers).status_code


def test_a_refused_push_is_recorded(isms_admin):
    _, token = evidence_services.create_source(actor=isms_admin, name="fw", owner=isms_admin)
    assert push("fw", None) == 401
    assert push("fw", "isms_wrong-token") == 401
    assert push("fw", token) == 202
    entries = refusals()
    assert len(entries) == 2
    for entry in entries:
        assert entry.actor_id is None
        assert entry.remote_addr == "127.0.0.1"
        assert entry.additional_data["status"] == 401
        assert entry.additional_data["route"] == "evidence-ingest"
        assert entry.additional_data["path"] == "/api/ingest/fw/"
    assert "wrong-token" not in str(entries[1].additional_data)  # the guessed secret is not kept


def test_a_flood_of_bad_pushes_leaves_a_bounded_trail_that_counts_the_rest(isms_admin, settings):
    settings.ISMS_REFUSALS_AUDITED_PER_MINUTE = 10
    evidence_services.create_source(actor=isms_admin, name="fw", owner=isms_admin)
    statuses = {push("fw", f"isms_guess-{n}") for n in range(1000)}
    assert statuses == {401}
    assert not IngestionJob.objects.exists()
    entries = refusals()
    # The bound holds per minute: the run may straddle a minute boundary, giving two windows.
    assert 10 <= len(entries) <= 20
    counter = RefusalCounter.objects.get(key="401:ip:127.0.0.1")
    assert "limit_reached" in entries[9].additional_data
    carried = sum(entry.additional_data.get("suppressed", 0) for entry in entries)
    assert len(entries) + carried + counter.suppressed == 1000
    # The next refusal in a later minute carries the count of those left out.
    left_out = counter.suppressed
    RefusalCounter.objects.filter(pk=counter.pk).update(window_start=counter.window_start.replace(year=2000))
    assert push("fw", "isms_one-more") == 401
    last = refusals()[-1]
    assert last.additional_data["suppressed"] == left_out > 0
    counter.refresh_from_db()
    assert (counter.recorded, counter.suppressed) == (1, 0)


def test_the_bound_is_per_actor_and_kind(accepted_risk, other_owner, risk_owner, settings):
    settings.ISMS_REFUSALS_AUDITED_PER_MINUTE = 2
    risk, _ = accepted_risk
    api = APIClient()
    api.force_authenticate(other_owner)
    for _ in range(5):
        assert api.get(f"/api/risks/{risk.pk}/").status_code == 404
    assert api.get("/api/evidence-sources/").status_code == 403
    owner = Client()
    owner.force_login(risk_owner)
    assert owner.get(reverse("risks:detail", args=[risk.pk + 10_000])).status_code == 404
    by_actor = [(entry.actor_id, entry.additional_data["status"]) for entry in refusals()]
    assert by_actor == [(other_owner.pk, 404), (other_owner.pk, 404), (other_owner.pk, 403), (risk_owner.pk, 404)]
