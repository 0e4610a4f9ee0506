"""SoA API: catalogue filters, entry updates with optimistic locking, publish and diff."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from controls.models import SoAEntry, SoAVersion
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


CONFIRM = {"password": PASSWORD}  # token clients confirm it's them in the body of sensitive actions


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_catalogue_filters(catalogue, risk_owner) -> None:
    body = api(risk_owner).get("/api/controls/", {"edition": "2022", "theme": "8", "page_size": 200}).json()
    assert body["count"] == 34
    assert {row["section"] for row in body["results"]} == {"8"}
    control = next(row for row in body["results"] if row["ref"] == "8.15")
    assert control["attributes"]["control_type"] == ["Detective"]
    assert api(risk_owner).get("/api/controls/", {"edition": "1999"}).status_code == 400
    assert api(risk_owner).get("/api/controls/", {"edition": "2013", "page_size": 200}).json()["count"] == 114


def test_update_entry_and_conflict(catalogue, compliance_officer, second_officer, isms_admin) -> None:
    target = SoAEntry.objects.get(control__edition="2022", control__ref="5.1")
    url = f"/api/soa-entries/{target.pk}/"
    ok = api(compliance_officer).patch(
        url,
        {
            "implementation_status": "implemented",
            "owner": "isms_admin",
            "inclusion_reasons": ["contractual"],
            "row_version": 0,
        },
        format="json",
    )
    assert ok.status_code == 200, ok.json()
    assert ok.json()["row_version"] == 1
    assert ok.json()["owner"] == "isms_admin"
    stale = api(second_officer).patch(url, {"implementation_status": "planned", "row_version": 0}, format="json")
    assert stale.status_code == 409
    assert stale.json()["current"]["implementation_status"] == "implemented"
    target.refresh_from_db()
    assert target.implementation_status == "implemented"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"applicable": False, "justification": ""}, "justification"),
        ({"implementation_status": "sort of"}, "implementation_status"),
        ({"owner": "nobody-by-that-name"}, "owner"),
        ({"inclusion_reasons": ["fun"]}, "inclusion_reasons"),
        ({}, "row_version"),
    ],
)
def test_bad_updates_name_the_field_and_save_nothing(catalogue, compliance_officer, payload, field) -> None:
    target = SoAEntry.objects.get(control__edition="2022", control__ref="5.2")
    body = {"row_version": 0, **payload} if field != "row_version" else payload
    response = api(compliance_officer).patch(f"/api/soa-entries/{target.pk}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    target.refresh_from_db()
    assert target.row_version == 0


def test_readers_cannot_update(catalogue, internal_auditor) -> None:
    target = SoAEntry.objects.get(control__edition="2022", control__ref="5.2")
    response = api(internal_auditor).patch(
        f"/api/soa-entries/{target.pk}/", {"implementation_status": "implemented", "row_version": 0}, format="json"
    )
    assert response.status_code == 403


def test_publish_list_diff_and_immutability(catalogue, compliance_officer, isms_admin) -> None:
    client = api(compliance_officer)
    missing = client.post(
        "/api/soa-versions/publish/", {**CONFIRM, "edition": "2022", "approved_on": "2026-01-01"}, format="json"
    )
    assert missing.status_code == 400
    assert "approver" in missing.json()
    published = client.post(
        "/api/soa-versions/publish/",
        {**CONFIRM, "edition": "2022", "approver": "isms_admin", "approved_on": "2026-01-01"},
        format="json",
    )
    assert published.status_code == 201
    assert published.json()["number"] == 1
    target = SoAEntry.objects.get(control__edition="2022", control__ref="8.15")
    client.patch(
        f"/api/soa-entries/{target.pk}/", {"implementation_status": "implemented", "row_version": 0}, format="json"
    )
    diff = client.get("/api/soa-versions/diff/", {"edition": "2022", "from_version": "1", "to_version": "draft"})
    assert diff.status_code == 200
    assert diff.json() == [
        {
            "kind": "control",
            "ref": "8.15",
            "title": "Logging",
            "changes": {"implementation_status": ["not_started", "implemented"]},
        }
    ]
    version_id = published.json()["id"]
    detail = client.get(f"/api/soa-versions/{version_id}/").json()
    assert len(detail["snapshot"]["controls"]) == 93
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(f"/api/soa-versions/{version_id}/", {}, format="json").status_code == 405
    assert SoAVersion.objects.count() == 1
    # Only compliance officers publish.
    assert (
        api(isms_admin)
        .post(
            "/api/soa-versions/publish/",
            {**CONFIRM, "edition": "2022", "approver": "isms_admin", "approved_on": "2026-01-01"},
            format="json",
        )
        .status_code
        == 403
    )
    bad = client.get("/api/soa-versions/diff/", {"edition": "2022", "from_version": "9"})
    assert bad.status_code == 400


def test_editing_a_published_version_is_refused_naming_the_version_field(
    catalogue, compliance_officer, internal_auditor
) -> None:
    client = api(compliance_officer)
    for day in (1, 2):
        client.post(
            "/api/soa-versions/publish/",
            {**CONFIRM, "edition": "2022", "approver": "compliance_officer", "approved_on": f"2026-01-0{day}"},
            format="json",
        )
    version = SoAVersion.objects.get(edition="2022", number=2)
    expected = {"version": ["Published version 2 is immutable; edit the working draft and publish a new version."]}
    for user in (compliance_officer, internal_auditor):
        for method in ("put", "patch", "delete"):
            response = getattr(api(user), method)(f"/api/soa-versions/{version.pk}/", {"note": "x"}, format="json")
            assert response.status_code == 405, (user, method)
            assert response.json() == expected
            assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert client.patch("/api/soa-versions/999999/", {}, format="json").status_code == 404
    assert client.put("/api/soa-versions/", {}, format="json").status_code == 405  # the list: DRF's own answer
    assert SoAVersion.objects.get(pk=version.pk).note == ""
    assert SoAVersion.objects.count() == 2


def test_confirm_review_through_the_api(catalogue, compliance_officer, isms_admin, risk_owner) -> None:
    from controls.services import transition_2013_to_2022

    transition_2013_to_2022(actor=compliance_officer)
    target = SoAEntry.objects.get(control__edition="2022", control__ref="5.7")  # new in 2022
    url = f"/api/soa-entries/{target.pk}/confirm-review/"
    assert api(compliance_officer).post(url, {}, format="json").json() == {"row_version": ["This field is required."]}
    for reader in (risk_owner, isms_admin):
        assert api(reader).post(url, {"row_version": target.row_version}, format="json").status_code == 403
    done = api(compliance_officer).post(url, {"row_version": target.row_version}, format="json")
    assert done.status_code == 200
    assert (done.json()["review_needed"], done.json()["row_version"]) == (False, target.row_version + 1)
    stale = api(compliance_officer).post(url, {"row_version": target.row_version}, format="json")
    assert stale.status_code == 409
    assert stale.json()["current"]["row_version"] == target.row_version + 1
