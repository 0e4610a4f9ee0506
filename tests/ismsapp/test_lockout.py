"""Failed-login lockout keyed on username and IP, with a clear message, logged."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from ismsapp.models import AuditEntry
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def attempt(client, password: str, ip: str = "192.0.2.10", username: str = "risk_owner"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_repeated_wrong_password_locks_out_with_a_clear_message(client, risk_owner) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = attempt(client, "wrong-password")
        assert response.status_code == 200
        assert b"did not match" in response.content
    locked = attempt(client, "wrong-password")
    assert locked.status_code == 429
    assert b"Account locked" in locked.content
    assert b"Too many failed login attempts" in locked.content

    # Even the right password is refused while locked.
    again = attempt(client, PASSWORD)
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session

    assert AuditEntry.objects.filter(action=AuditEntry.Action.LOCKED_OUT).exists()
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_FAILED).count() >= settings.AXES_FAILURE_LIMIT


def test_lockout_is_per_username_and_address(client, risk_owner, internal_auditor) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "wrong-password")
    assert attempt(client, PASSWORD).status_code == 429
    # Same user from another address, and another user from the same address, may still log in.
    assert attempt(client, PASSWORD, ip="192.0.2.99").status_code == 302
    client.logout()
    assert attempt(client, PASSWORD, username="internal_auditor").status_code == 302


def test_admin_lifts_the_lockout(client, client_for, risk_owner, isms_admin) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "wrong-password")
    users_page = client_for("isms_admin").get(reverse("users"))
    assert b"locked out" in users_page.content
    response = client_for("isms_admin").post(reverse("user_unlock", args=[risk_owner.pk]))
    assert response.status_code == 302
    assert attempt(client, PASSWORD).status_code == 302
    lifted = AuditEntry.objects.get(additional_data__event="lockout lifted")
    assert (lifted.actor, lifted.object_pk) == (isms_admin, str(risk_owner.pk))


def test_api_token_endpoint_counts_towards_lockout(client, risk_owner) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("api-token"), {"username": "risk_owner", "password": "bad"}, REMOTE_ADDR="192.0.2.10")
    response = client.post(
        reverse("api-token"), {"username": "risk_owner", "password": PASSWORD}, REMOTE_ADDR="192.0.2.10"
    )
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.json()["detail"]
    assert "token" not in response.json()
