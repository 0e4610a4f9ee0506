"""API tokens: hashed, named, expiring, shown once; listed and revoked by their owner and ISMS admins."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from ismsapp import services
from ismsapp.models import ApiToken, AuditEntry
from ismsapp.roles import Role
from ismsapp.services.tokens import create_token
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle() -> None:
    """The password-for-token endpoint allows 10 calls a minute; each test starts afresh."""
    from django.core.cache import cache

    cache.clear()


def issue(username: str = "risk_owner", **extra: object) -> dict:
    response = APIClient().post(
        reverse("api-token"), {"username": username, "password": PASSWORD, **extra}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def api(key: str | None = None, user: object = None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    if user is not None:
        client.force_authenticate(user)
    return client


def test_the_key_is_stored_only_as_its_hash(risk_owner) -> None:
    body = issue()
    key = body["token"]
    token = ApiToken.objects.get(pk=body["id"])
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(token.prefix)
    assert len(token.prefix) < len(key) // 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM ismsapp_apitoken")
        assert key not in repr(cursor.fetchall())
    assert not any(key in repr(row) for row in AuditEntry.objects.values_list("changes", "additional_data"))
    created = AuditEntry.objects.get(additional_data__event="API token created")
    assert (created.actor, created.object_pk) == (risk_owner, str(token.pk))
    assert api(key).get("/api/me/").json()["username"] == "risk_owner"


def test_the_key_is_shown_once(risk_owner) -> None:
    key = issue(name="CI pipeline")["token"]
    listed = api(key).get("/api/tokens/").json()["results"]
    assert [row["name"] for row in listed] == ["CI pipeline"]
    assert "token" not in listed[0]
    assert key not in api(key).get(f"/api/tokens/{listed[0]['id']}/").content.decode()


def test_token_endpoint_names_and_dates_the_token(risk_owner, settings) -> None:
    settings.ISMS_API_TOKEN_DEFAULT_DAYS = 90
    body = issue()
    assert body["name"].startswith("API token ")
    expires = ApiToken.objects.get(pk=body["id"]).expires_at
    assert timedelta(days=89, hours=23) < expires - timezone.now() <= timedelta(days=90)
    assert issue(name="Short", expires_in_days=7)["status"] == "active"


def test_create_through_the_api_with_a_session_or_token(risk_owner) -> None:
    response = api(user=risk_owner).post("/api/tokens/", {"name": "SIEM", "expires_in_days": 30}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("ismsapi_")
    assert (body["user"], body["name"], body["status"], body["last_used_at"]) == ("risk_owner", "SIEM", "active", None)


def test_expired_token_is_refused(risk_owner) -> None:
    body = issue()
    ApiToken.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api(body["token"]).get("/api/me/")
    assert response.status_code == 401
    assert response.json()["detail"] == "This token has expired."


def test_token_of_an_inactive_user_is_refused(risk_owner) -> None:
    key = issue()["token"]
    type(risk_owner).objects.filter(pk=risk_owner.pk).update(is_active=False)
    assert api(key).get("/api/me/").status_code == 401


def test_owner_revokes_a_token(risk_owner) -> None:
    first, second = issue(name="one"), issue(name="two")
    response = api(second["token"]).post(f"/api/tokens/{first['id']}/revoke/")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    refused = api(first["token"]).get("/api/me/")
    assert (refused.status_code, refused.json()["detail"]) == (401, "This token was revoked.")
    assert api(second["token"]).get("/api/me/").status_code == 200
    entry = AuditEntry.objects.get(additional_data__event="API token revoked")
    assert (entry.actor, entry.object_pk, entry.additional_data["reason"]) == (
        risk_owner,
        str(first["id"]),
        "revoked by its owner",
    )


def test_admin_lists_and_revokes_every_users_tokens(risk_owner, isms_admin) -> None:
    body = issue(name="owner's")
    admin = api(user=isms_admin)
    assert [row["user"] for row in admin.get("/api/tokens/").json()["results"]] == ["risk_owner"]
    assert admin.post(f"/api/tokens/{body['id']}/revoke/").status_code == 200
    token = ApiToken.objects.get(pk=body["id"])
    assert (token.revoked_by, token.revoke_reason) == (isms_admin, "revoked by an ISMS admin")
    assert api(body["token"]).get("/api/me/").status_code == 401


def test_admin_revokes_from_the_account_page(client_for, risk_owner) -> None:
    body = issue(name="Nightly export")
    admin = client_for("isms_admin")
    page = admin.get(reverse("account:index")).content.decode()
    assert "Tokens of other users" in page
    assert "Nightly export" in page
    response = admin.post(reverse("account:token_revoke", args=[body["id"]]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("account:index")  # no open redirect
    assert ApiToken.objects.get(pk=body["id"]).revoked_at is not None


def test_another_user_can_neither_see_nor_revoke_your_tokens(risk_owner, compliance_officer, client_for) -> None:
    body = issue(name="private")
    officer = api(user=compliance_officer)
    assert officer.get("/api/tokens/").json()["results"] == []
    assert officer.get(f"/api/tokens/{body['id']}/").status_code == 404
    assert officer.post(f"/api/tokens/{body['id']}/revoke/").status_code == 404
    page = client_for("compliance_officer")
    assert "private" not in page.get(reverse("account:index")).content.decode()
    assert page.post(reverse("account:token_revoke", args=[body["id"]])).status_code == 404
    assert ApiToken.objects.get(pk=body["id"]).revoked_at is None


def test_last_used_is_written_at_most_once_a_minute(risk_owner) -> None:
    body = issue()
    client = api(body["token"])
    assert ApiToken.objects.get(pk=body["id"]).last_used_at is None
    client.get("/api/me/")
    first_use = ApiToken.objects.get(pk=body["id"]).last_used_at
    assert first_use is not None
    client.get("/api/me/")
    assert ApiToken.objects.get(pk=body["id"]).last_used_at == first_use
    ApiToken.objects.filter(pk=body["id"]).update(last_used_at=first_use - timedelta(minutes=2))
    client.get("/api/me/")
    assert ApiToken.objects.get(pk=body["id"]).last_used_at > first_use - timedelta(seconds=1)


def test_password_change_and_deactivation_revoke_tokens(risk_owner, internal_auditor, isms_admin) -> None:
    owner_key, auditor_key = issue()["token"], issue("internal_auditor")["token"]
    services.set_password(actor=risk_owner, user=risk_owner, password="Another-Long-Passphrase-93")
    assert api(owner_key).get("/api/me/").status_code == 401
    services.update_user(
        actor=isms_admin,
        user=internal_auditor,
        roles=[Role.INTERNAL_AUDITOR],
        email="",
        first_name="",
        last_name="",
        is_active=False,
    )
    assert ApiToken.objects.get(user=internal_auditor).revoke_reason == "account deactivated"
    assert api(auditor_key).get("/api/me/").status_code == 401
    reasons = AuditEntry.objects.filter(additional_data__event="API tokens revoked").values_list(
        "additional_data__reason", flat=True
    )
    assert sorted(reasons) == ["account deactivated", "password changed"]


def test_a_key_of_the_old_authtoken_format_is_refused() -> None:
    response = api("0123456789abcdef0123456789abcdef01234567").get("/api/me/")
    assert (response.status_code, response.json()["detail"]) == (401, "Invalid token.")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "bad\x00name"}, "name", "control character (U+0000)"),
        ({"name": "bad\x01name"}, "name", "control character (U+0001)"),
        ({"name": "tab\tname"}, "name", "control characters"),
        ({"name": "x" * 101}, "name", "no more than 100"),
        ({"name": "   "}, "name", "name"),
        ({"name": "ok", "expires_in_days": 0}, "expires_in_days", "greater than or equal to 1"),
        ({"name": "ok", "expires_in_days": 366}, "expires_in_days", "between 1 and 365"),
        ({"name": "ok", "expires_in_days": 10**30}, "expires_in_days", ""),
        ({"name": "ok", "expires_in_days": "soon"}, "expires_in_days", "valid integer"),
        ({"name": ["a", "b"]}, "name", "valid string"),
    ],
)
def test_bad_input_through_the_api_names_the_field(risk_owner, settings, data, field, message) -> None:
    settings.ISMS_API_TOKEN_MAX_DAYS = 365
    response = api(user=risk_owner).post("/api/tokens/", data, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors
    assert message.lower() in " ".join(errors[field]).lower()
    assert not ApiToken.objects.exists()


def test_duplicate_active_name_is_refused_but_a_revoked_name_is_free(risk_owner) -> None:
    first = create_token(actor=risk_owner, name="deploy")
    response = api(user=risk_owner).post("/api/tokens/", {"name": "deploy"}, format="json")
    assert response.status_code == 400
    assert "already have an active token" in response.json()["name"][0]
    api(user=risk_owner).post(f"/api/tokens/{first.token.pk}/revoke/")
    assert api(user=risk_owner).post("/api/tokens/", {"name": "deploy"}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "bad\x00", "expires_in_days": "30"}, "name"),
        ({"name": "bad\x1b", "expires_in_days": "30"}, "name"),
        ({"name": "x" * 5000, "expires_in_days": "30"}, "name"),
        ({"name": "ok", "expires_in_days": "99999999999999999999"}, "expires_in_days"),
        ({"name": "ok", "expires_in_days": "-1"}, "expires_in_days"),
    ],
)
def test_bad_input_on_the_account_page_names_the_field(client_for, data, field) -> None:
    response = client_for("risk_owner").post(reverse("account:token_create"), data)
    assert response.status_code == 400
    assert field in response.context["token_form"].errors
    assert not ApiToken.objects.exists()


def test_account_page_creates_a_token_and_shows_its_key_once(client_for, risk_owner) -> None:
    client = client_for("risk_owner")
    response = client.post(reverse("account:token_create"), {"name": "Laptop script", "expires_in_days": "30"})
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    key = response.context["issued"].key
    assert key in response.content.decode()
    later = client.get(reverse("account:index")).content.decode()
    assert "Laptop script" in later
    assert key not in later
    assert api(key).get("/api/me/").status_code == 200


def test_refused_token_calls_do_not_touch_last_used(risk_owner) -> None:
    body = issue()
    ApiToken.objects.filter(pk=body["id"]).update(revoked_at=timezone.now())
    api(body["token"]).get("/api/me/")
    assert ApiToken.objects.get(pk=body["id"]).last_used_at is None
