"""API authentication, object permissions on lists and details, schema and docs."""

from __future__ import annotations

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from ismsapp.models import AuditEntry
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/", "/api/me/", "/api/audit-entries/", "/api/users/"])
def test_unauthenticated_calls_get_401_json(url) -> None:
    response = APIClient().get(url, HTTP_ACCEPT="text/html,application/json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == "Token"


def test_bad_token_gets_401_json() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


def test_token_flow(risk_owner) -> None:
    client = APIClient()
    response = client.post(reverse("api-token"), {"username": "risk_owner", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    me = client.get("/api/me/").json()
    assert me["username"] == "risk_owner"
    assert me["roles"] == ["risk_owner"]
    # Writes made with a token are attributed to its user in the audit trail.
    assert client.get("/api/audit-entries/").status_code == 403
    refused = AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS_DENIED).latest("seq")
    assert refused.actor == risk_owner


def test_token_endpoint_rejects_bad_credentials_with_a_message(risk_owner) -> None:
    response = APIClient().post(reverse("api-token"), {"username": "risk_owner"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()


def test_audit_entries_api_filters_and_pages(isms_admin) -> None:
    from ismsapp import services

    for index in range(5):
        services.save_organisation(actor=isms_admin, name=f"Org {index}")
    client = APIClient()
    client.force_authenticate(isms_admin)
    response = client.get("/api/audit-entries/", {"object_type": "ismsapp.organisation", "page_size": 2})
    body = response.json()
    assert [row["object_repr"] for row in body["results"]] == ["Org 4", "Org 3"]
    assert body["next"]
    assert "cursor=" in body["next"]
    assert "count" not in body  # cursor pagination: no COUNT(*)
    bad = client.get("/api/audit-entries/", {"since": "yesterday"})
    assert bad.status_code == 400
    assert "since" in bad.json()


def test_list_and_detail_follow_object_permissions(personas) -> None:
    outsider, risk_owner, auditor = personas["outsider"], personas["risk_owner"], personas["internal_auditor"]
    client = APIClient()
    client.force_authenticate(outsider)
    assert client.get("/api/users/").json()["results"] == []
    assign_perm("ismsapp.view_user", outsider, risk_owner)
    listed = client.get("/api/users/").json()["results"]
    assert [row["username"] for row in listed] == ["risk_owner"]
    assert client.get(f"/api/users/{risk_owner.pk}/").status_code == 200
    assert client.get(f"/api/users/{auditor.pk}/").status_code == 404
    # A role-wide permission shows everybody.
    client.force_authenticate(auditor)
    assert len(client.get("/api/users/").json()["results"]) == len(personas)


def test_schema_and_docs_are_served_without_external_assets(client_for) -> None:
    client = client_for("compliance_officer")
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/audit-entries/" in paths
    assert "/api/me/" in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html


def test_the_schema_documents_the_error_answers_of_every_operation(client_for) -> None:
    """401/403 wherever credentials are checked, 404 wherever an id or a page is asked for, 400 and
    415 wherever input is taken, 429 where throttled (ismsapp/api/schema.py)."""
    schema = client_for("isms_admin").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = {
        f"{method.upper()} {path}": operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    for label, operation in operations.items():
        codes = set(operation["responses"])
        parameters = operation.get("parameters", [])
        # the push and the token exchange take their credentials in the request itself (401 / 400)
        assert {"401", "403"} <= codes or label in ("POST /api/ingest/{source}/", "POST /api/auth/token/"), label
        if any(parameter["in"] == "path" for parameter in parameters):
            assert "404" in codes, label
        if "requestBody" in operation:
            assert {"400", "415"} <= codes, label
    assert "404" in operations["GET /api/risks/"]["responses"]  # a page out of range
    assert "429" in operations["POST /api/auth/token/"]["responses"]
    assert {"401", "413", "415"} <= set(operations["POST /api/ingest/{source}/"]["responses"])
    error = operations["GET /api/risks/{id}/"]["responses"]["404"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]


@pytest.mark.parametrize("path", ["/api/risks/1.5/", "/api/risks/1/nothing-here/", "/api/no-such-thing/"])
def test_an_api_path_no_route_matches_answers_json(client_for, path) -> None:
    response = client_for("isms_admin").get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}
    assert "html" in client_for("isms_admin").get("/risks/1.5/")["Content-Type"]  # pages keep their page
