"""Passkeys (django-otp-webauthn) beside an authenticator app: who may register, when the login
accepts one, removal and reset. The full ceremony runs in Chromium (tests/e2e/test_mfa.py)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django_otp_webauthn.models import WebAuthnCredential

from ismsapp.models import AuditEntry
from ismsapp.services import mfa
from tests.conftest import PASSWORD, confirm_identity, totp_code

pytestmark = pytest.mark.django_db


def add_app(client: Client):
    client.get(reverse("mfa_totp_enrol"))
    user = client.get(reverse("mfa")).wsgi_request.user
    device = mfa.pending_enrolment(user).device
    client.post(reverse("mfa_totp_enrol"), {"otp_code": totp_code(device)})
    device.refresh_from_db()
    return device


def passkey_for(user, name: str = "Laptop") -> WebAuthnCredential:
    return WebAuthnCredential.objects.create(
        user=user, name=name, confirmed=True, credential_id=name.encode(), public_key=b"\x00", sign_count=0
    )


def begin_registration(client: Client):
    return client.post(reverse("otp_webauthn:credential-registration-begin"), content_type="application/json")


def test_registration_needs_an_app_and_a_recent_confirmation(client_for, risk_owner, settings) -> None:
    client = confirm_identity(client_for("risk_owner"))
    assert begin_registration(client).status_code == 403  # no authenticator app yet
    add_app(client)
    assert begin_registration(client).status_code == 200
    settings.ISMS_REAUTH_MINUTES = 0
    refused = begin_registration(client)
    assert refused.status_code == 403
    assert "confirm it's you" in refused.json()["detail"]


def test_the_passkey_login_step_needs_a_pending_login(client_for, risk_owner) -> None:
    url = reverse("otp_webauthn:credential-authentication-begin")
    assert Client().post(url, content_type="application/json").status_code == 400  # no password given
    assert client_for("risk_owner").post(url, content_type="application/json").status_code == 403  # logged in
    device = add_app(confirm_identity(client_for("risk_owner")))
    passkey_for(risk_owner)
    client = Client()
    client.post(reverse("login"), {"username": "risk_owner", "password": PASSWORD})
    assert b"Use a passkey" in client.get(reverse("login_verify")).content
    options = client.post(url, content_type="application/json")
    assert options.status_code == 200
    assert options.json()["allowCredentials"]  # only this user's passkeys are offered
    assert device.confirmed


def test_passkeys_are_removed_by_their_owner_only_and_go_with_the_last_app(client_for, risk_owner) -> None:
    owner = confirm_identity(client_for("risk_owner"))
    device = add_app(owner)
    first, second = passkey_for(risk_owner, "one"), passkey_for(risk_owner, "two")
    confirm_identity(client_for("internal_auditor")).post(reverse("mfa_passkey_remove", args=[first.pk]))
    assert WebAuthnCredential.objects.filter(pk=first.pk).exists()
    owner.post(reverse("mfa_passkey_remove", args=[first.pk]))
    assert not WebAuthnCredential.objects.filter(pk=first.pk).exists()
    assert AuditEntry.objects.filter(additional_data__event="passkey removed").exists()
    owner.post(reverse("mfa_totp_remove", args=[device.pk]))
    assert not WebAuthnCredential.objects.filter(pk=second.pk).exists()


def test_an_admin_reset_removes_passkeys_too(client_for, risk_owner, isms_admin) -> None:
    add_app(confirm_identity(client_for("risk_owner")))
    passkey_for(risk_owner)
    confirm_identity(client_for("isms_admin")).post(reverse("user_mfa_reset", args=[risk_owner.pk]))
    assert not WebAuthnCredential.objects.filter(user=risk_owner).exists()
