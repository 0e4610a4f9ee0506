""" "Confirm it's you": sensitive steps need a recent password (and code) confirmation, whose
failures count towards the same django-axes lockout as the login and go to the audit trail."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from controls.models import SoAVersion
from evidence import services as evidence_services
from ismsapp import identity
from ismsapp.models import AuditEntry
from tests.conftest import PASSWORD, confirm_identity

pytestmark = pytest.mark.django_db
IP = "192.0.2.44"


def publish_data(officer) -> dict:
    return {"approver": officer.pk, "approved_on": "2026-02-01", "note": ""}


def confirm(client, password: str):
    return client.post(reverse("confirm_identity"), {"password": password, "next": "/"}, REMOTE_ADDR=IP)


def test_publishing_needs_a_recent_confirmation(catalogue, client_for, compliance_officer) -> None:
    client = client_for("compliance_officer")
    url = reverse("controls:soa_publish", args=["2022"])
    versions_page = reverse("controls:soa_versions", args=["2022"])
    response = client.post(url, publish_data(compliance_officer), HTTP_REFERER=f"http://testserver{versions_page}")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("confirm_identity"))
    assert "versions" in response["Location"]  # next: back to the form
    assert not SoAVersion.objects.exists()

    # The form carries the fields itself while no confirmation is recent: one submission does both.
    assert b'name="identity_password"' in client.get(versions_page).content
    response = client.post(url, {**publish_data(compliance_officer), "identity_password": PASSWORD})
    assert response.status_code == 302
    assert SoAVersion.objects.count() == 1
    assert b'name="identity_password"' not in client.get(versions_page).content  # confirmed for a while
    assert AuditEntry.objects.filter(action=AuditEntry.Action.IDENTITY_CONFIRMED, actor=compliance_officer).exists()


def test_the_confirmation_expires(catalogue, client_for, compliance_officer, settings) -> None:
    client = confirm_identity(client_for("compliance_officer"))
    settings.ISMS_REAUTH_MINUTES = 0
    response = client.post(reverse("controls:soa_publish", args=["2022"]), publish_data(compliance_officer))
    assert response["Location"].startswith(reverse("confirm_identity"))
    assert not SoAVersion.objects.exists()


def test_the_confirmation_belongs_to_the_user_who_gave_it(client_for, isms_admin) -> None:
    client = confirm_identity(client_for("isms_admin"))
    request = client.get(reverse("dashboard")).wsgi_request
    assert identity.recently_confirmed(request)
    request.user = client_for("compliance_officer").get(reverse("dashboard")).wsgi_request.user
    assert not identity.recently_confirmed(request)


def test_token_rotation_needs_a_confirmation(client_for, isms_admin) -> None:
    source, token = evidence_services.create_source(actor=isms_admin, name="guarded", owner=isms_admin)
    response = client_for("isms_admin").post(reverse("evidence:rotate_token", args=[source.pk]))
    assert response["Location"].startswith(reverse("confirm_identity"))
    source.refresh_from_db()
    assert source.token_matches(token)


def test_wrong_passwords_are_recorded_and_lock_out_like_the_login(client_for, risk_owner) -> None:
    client = client_for("risk_owner")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = confirm(client, "wrong-password")
        assert response.status_code == 400
        assert b"The password is not correct" in response.content
    locked = confirm(client, "wrong-password")
    assert locked.status_code == 429
    assert b"Too many failed login attempts" in locked.content
    # Even the right password is refused now, here and at the login, from this address.
    assert confirm(client, PASSWORD).status_code == 429
    login = Client().post(reverse("login"), {"username": "risk_owner", "password": PASSWORD}, REMOTE_ADDR=IP)
    assert login.status_code == 429
    failed = AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_FAILED, additional_data__step="confirm identity")
    assert failed.count() >= settings.AXES_FAILURE_LIMIT - 1
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LOCKED_OUT).exists()


def test_login_and_confirmation_failures_share_one_counter(client, client_for, risk_owner) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(reverse("login"), {"username": "risk_owner", "password": "nope"}, REMOTE_ADDR=IP)
    assert confirm(client_for("risk_owner"), "still-wrong").status_code == 429


def test_odd_passwords_are_refused_without_a_500(client_for, risk_owner) -> None:
    client = client_for("risk_owner")
    for value in ("pass\x00word", "\x01", "x" * 100_000):
        assert confirm(client, value).status_code == 400
    assert client.post(reverse("confirm_identity"), {"next": "/"}).status_code == 400  # missing


def test_next_never_leaves_the_site(client_for) -> None:
    client = client_for("risk_owner")
    response = client.post(reverse("confirm_identity"), {"password": PASSWORD, "next": "https://evil.example/"})
    assert response["Location"] == reverse("dashboard")


class TestAPI:
    url = "/api/soa-versions/publish/"

    def body(self, **extra) -> dict:
        return {"edition": "2022", "approver": "compliance_officer", "approved_on": "2026-01-01", **extra}

    def client(self, user) -> APIClient:
        client = APIClient(REMOTE_ADDR=IP)
        client.force_authenticate(user)
        return client

    def test_a_token_client_sends_its_password(self, catalogue, compliance_officer) -> None:
        client = self.client(compliance_officer)
        missing = client.post(self.url, self.body(), format="json")
        assert missing.status_code == 400
        assert "password" in missing.json()
        wrong = client.post(self.url, self.body(password="wrong"), format="json")
        assert wrong.status_code == 400
        assert "password" in wrong.json()
        assert not SoAVersion.objects.exists()
        assert client.post(self.url, self.body(password=PASSWORD), format="json").status_code == 201

    def test_api_failures_lock_out(self, catalogue, compliance_officer) -> None:
        client = self.client(compliance_officer)
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert client.post(self.url, self.body(password="wrong"), format="json").status_code == 400
        assert client.post(self.url, self.body(password="wrong"), format="json").status_code == 429
        locked = client.post(self.url, self.body(password=PASSWORD), format="json")
        assert locked.status_code == 429
        assert "Too many failed attempts" in locked.json()["detail"]
        assert not SoAVersion.objects.exists()

    def test_a_confirmed_browser_session_needs_no_password(self, catalogue, client_for) -> None:
        client = confirm_identity(client_for("compliance_officer"))
        response = client.post(self.url, self.body(), content_type="application/json")
        assert response.status_code == 201


def test_services_without_a_request_check_the_same_password(risk_owner) -> None:
    """Commands and the demo set-up (no client address, so no lockout) use the same check."""
    from django.core.exceptions import ValidationError

    identity.confirm_identity(actor=risk_owner, request=None, password=PASSWORD)
    with pytest.raises(ValidationError) as refused:
        identity.confirm_identity(actor=risk_owner, request=None, password="wrong")
    assert "password" in refused.value.message_dict
