"""Second factors (django-otp): enrolment, login with a code or a recovery code, lockout on
wrong codes, required per role with the demo exemption, removal and an admin's reset."""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ismsapp.demo import load_demo_people
from ismsapp.models import AuditEntry, User
from ismsapp.services import mfa
from tests.conftest import PASSWORD, confirm_identity, totp_code

pytestmark = pytest.mark.django_db
IP = "192.0.2.77"
REQUIRED = ["isms_admin", "compliance_officer", "external_auditor"]


def enrol(client: Client) -> tuple[TOTPDevice, list[str]]:
    """Set up an authenticator app through the pages; returns the device and recovery codes."""
    page = client.get(reverse("mfa_totp_enrol"))
    assert page.status_code == 200
    assert b"<svg" in page.content  # the QR code, inline SVG
    user = page.wsgi_request.user
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert mfa.pending_enrolment(user).secret.encode() in page.content
    done = client.post(reverse("mfa_totp_enrol"), {"otp_code": totp_code(device)})
    assert done.status_code == 200
    codes = re.findall(rb"<li><code>([0-9a-f]{10})</code></li>", done.content)
    device.refresh_from_db()
    assert device.confirmed
    return device, [code.decode() for code in codes]


def log_in(client: Client, username: str, password: str = PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=IP)


def verify(client: Client, code: str):
    return client.post(reverse("login_verify"), {"otp_code": code}, REMOTE_ADDR=IP)


def test_enrolment_then_login_asks_for_the_code(client_for, risk_owner) -> None:
    device, codes = enrol(confirm_identity(client_for("risk_owner")))
    assert len(codes) == mfa.RECOVERY_CODE_COUNT
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.MFA_CHANGED, additional_data__event="authenticator app added"
    ).exists()

    client = Client()
    response = log_in(client, "risk_owner")
    assert response["Location"] == reverse("login_verify")
    assert "_auth_user_id" not in client.session  # the password alone does not log in
    assert client.get(reverse("dashboard"))["Location"].startswith(reverse("login"))

    wrong = verify(client, "000000" if totp_code(device, 1) != "000000" else "111111")
    assert wrong.status_code == 400
    assert b"This code is not correct" in wrong.content
    time.sleep(1.1)  # django-otp also throttles the device: 1 s after one failure, doubling after each
    done = verify(client, totp_code(device, 1))
    assert done.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    assert client.session["_auth_user_id"] == str(risk_owner.pk)


def test_a_recovery_code_works_once(client_for, risk_owner) -> None:
    _, codes = enrol(confirm_identity(client_for("risk_owner")))
    first = Client()
    log_in(first, "risk_owner")
    assert verify(first, codes[0].upper()).status_code == 302  # typed in capitals: still fine
    second = Client()
    log_in(second, "risk_owner")
    assert verify(second, codes[0]).status_code == 400
    assert StaticToken.objects.filter(device__user=risk_owner).count() == mfa.RECOVERY_CODE_COUNT - 1


def test_wrong_codes_lock_out_like_wrong_passwords(client_for, risk_owner) -> None:
    device, _ = enrol(confirm_identity(client_for("risk_owner")))
    client = Client()
    log_in(client, "risk_owner")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert verify(client, "12345x").status_code == 400
    assert verify(client, "999999" if totp_code(device, 1) != "999999" else "888888").status_code == 429
    assert verify(client, totp_code(device, 1)).status_code == 429  # even the right code now
    assert log_in(Client(), "risk_owner").status_code == 429
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.LOGIN_FAILED, additional_data__step="second factor"
    ).exists()


def test_odd_codes_are_refused_without_a_500(client_for, risk_owner) -> None:
    enrol(confirm_identity(client_for("risk_owner")))
    client = Client()
    log_in(client, "risk_owner")
    for value in ("\x00", "12\x0134", "9" * 5000, ""):
        assert verify(client, value).status_code == 400


def test_the_code_step_expires(client_for, risk_owner, settings) -> None:
    device, _ = enrol(confirm_identity(client_for("risk_owner")))
    client = Client()
    log_in(client, "risk_owner")
    settings.ISMS_MFA_LOGIN_MINUTES = 0
    assert verify(client, totp_code(device, 1))["Location"] == reverse("login")
    assert "_auth_user_id" not in client.session


def test_confirming_identity_asks_for_the_code_too(client_for, risk_owner) -> None:
    device, _ = enrol(confirm_identity(client_for("risk_owner")))
    client = client_for("risk_owner")
    without = client.post(reverse("confirm_identity"), {"password": PASSWORD, "next": "/"})
    assert without.status_code == 400
    assert "otp_code" in without.context["form"].errors
    assert confirm_identity(client, otp_code=totp_code(device, 1))


def test_enrolment_needs_a_confirmation_and_the_right_code(client_for, risk_owner) -> None:
    client = client_for("risk_owner")
    assert client.get(reverse("mfa_totp_enrol"))["Location"].startswith(reverse("confirm_identity"))
    confirm_identity(client)
    client.get(reverse("mfa_totp_enrol"))
    refused = client.post(reverse("mfa_totp_enrol"), {"otp_code": "abc\x00"})
    assert refused.status_code == 400
    assert not mfa.has_factor(risk_owner)


class TestRequiredPerRole:
    @pytest.fixture(autouse=True)
    def _required(self, settings) -> None:
        settings.ISMS_MFA_REQUIRED_ROLES = REQUIRED

    def test_a_user_without_a_factor_is_sent_to_enrolment(self, client_for, isms_admin) -> None:
        client = client_for("isms_admin")
        for name in ("dashboard", "users", "audit_trail"):
            response = client.get(reverse(name))
            assert response["Location"] == f"{reverse('mfa')}?required=1", name
        page = client.get(reverse("mfa"))
        assert b"Your role requires a second factor" in page.content
        assert client.get("/api/me/").status_code == 403
        # The risk owner's role does not require one.
        assert client_for("risk_owner").get(reverse("dashboard")).status_code == 200

    def test_after_enrolling_the_user_gets_through(self, client_for, isms_admin) -> None:
        client = confirm_identity(client_for("isms_admin"))
        enrol(client)
        assert client.get(reverse("dashboard")).status_code == 200

    def test_after_a_password_login_the_forced_enrolment_needs_no_second_password(self, isms_admin) -> None:
        client = Client()
        assert log_in(client, "isms_admin").status_code == 302
        assert client.get(reverse("dashboard"))["Location"].startswith(reverse("mfa"))
        device, _ = enrol(client)
        assert device.user == isms_admin

    def test_demo_users_are_exempt_and_told_so(self, client) -> None:
        people = {c.username: c.password for c in load_demo_people()}
        response = log_in(client, "admin", people["admin"])
        assert response.status_code == 302
        dashboard = client.get(reverse("dashboard"))
        assert dashboard.status_code == 200
        assert b"exempt (demo)" in dashboard.content
        assert b"Set up an authenticator app" in dashboard.content
        assert User.objects.get(username="admin").mfa_exemption == "demo"

    def test_the_setting_comes_from_the_environment(self) -> None:
        assert mfa.required_roles() == set(REQUIRED)


def test_the_default_requires_admins_officers_and_external_auditors() -> None:
    import ast
    from pathlib import Path

    source = (Path(settings.BASE_DIR) / "ismsapp" / "settings" / "base.py").read_text()
    assert '"isms_admin,compliance_officer,external_auditor"' in source
    assert ast.parse(source)


def test_removing_a_factor_needs_a_confirmation_and_only_ones_own(client_for, risk_owner, internal_auditor) -> None:
    device, _ = enrol(confirm_identity(client_for("risk_owner")))
    other = confirm_identity(client_for("internal_auditor"))
    other.post(reverse("mfa_totp_remove", args=[device.pk]))
    assert mfa.has_factor(risk_owner)  # not theirs

    client = client_for("risk_owner")  # a fresh session: not confirmed
    assert client.post(reverse("mfa_totp_remove", args=[device.pk]))["Location"].startswith(reverse("confirm_identity"))
    assert mfa.has_factor(risk_owner)
    confirm_identity(client, otp_code=totp_code(device, 1))
    client.post(reverse("mfa_totp_remove", args=[device.pk]))
    assert not mfa.has_factor(risk_owner)
    assert mfa.recovery_codes_left(risk_owner) == 0


def test_new_recovery_codes_replace_the_old_ones(client_for, risk_owner) -> None:
    client = confirm_identity(client_for("risk_owner"))
    _, old = enrol(client)
    page = client.post(reverse("mfa_recovery_codes"))
    new = re.findall(rb"<li><code>([0-9a-f]{10})</code></li>", page.content)
    assert len(new) == mfa.RECOVERY_CODE_COUNT
    assert not set(old) & {code.decode() for code in new}
    assert mfa.verify_code(risk_owner, old[0]) is None


def test_an_admin_resets_another_users_factors(client_for, risk_owner, isms_admin) -> None:
    enrol(confirm_identity(client_for("risk_owner")))
    page = client_for("isms_admin").get(reverse("user_update", args=[risk_owner.pk]))
    assert b"Reset second factors" in page.content
    admin = confirm_identity(client_for("isms_admin"))
    response = admin.post(reverse("user_mfa_reset", args=[risk_owner.pk]))
    assert response.status_code == 302
    assert not mfa.has_factor(risk_owner)
    assert mfa.recovery_codes_left(risk_owner) == 0
    entry = AuditEntry.objects.get(additional_data__event="second factors reset")
    assert (entry.actor, entry.object_pk, entry.additional_data["devices"]) == (isms_admin, str(risk_owner.pk), 2)
    # Others may not; and an admin does not reset their own this way.
    assert client_for("compliance_officer").post(reverse("user_mfa_reset", args=[risk_owner.pk])).status_code == 403
    assert admin.post(reverse("user_mfa_reset", args=[isms_admin.pk])).status_code == 302
    assert not AuditEntry.objects.filter(additional_data__event="second factors reset", object_pk=str(isms_admin.pk))


def test_the_device_secrets_stay_out_of_the_audit_trail(client_for, risk_owner) -> None:
    device, _ = enrol(confirm_identity(client_for("risk_owner")))
    assert not AuditEntry.objects.filter(object_type__startswith="otp_").exists()
    dumped = "".join(str(e.changes) + str(e.additional_data) for e in AuditEntry.objects.all())
    assert device.key not in dumped


def test_a_change_of_factors_ends_the_users_other_sessions(risk_owner, isms_admin) -> None:
    """Enrolling, new recovery codes, removing: the other browsers sign in again; an admin's
    reset ends every session of that user."""
    from tests.ismsapp.test_sessions import sent_to_login, signed_in

    laptop, phone = signed_in("risk_owner"), signed_in("risk_owner")
    device, _ = enrol(confirm_identity(laptop))
    assert sent_to_login(phone.get(reverse("dashboard")))
    assert laptop.get(reverse("dashboard")).status_code == 200
    phone = Client()
    assert log_in(phone, "risk_owner")["Location"] == reverse("login_verify")
    verify(phone, totp_code(device, steps_ahead=1))
    assert phone.get(reverse("dashboard")).status_code == 200
    mfa.regenerate_recovery_codes(actor=risk_owner, request=laptop.get(reverse("dashboard")).wsgi_request)
    assert sent_to_login(phone.get(reverse("dashboard")))
    assert laptop.get(reverse("dashboard")).status_code == 200
    admin = confirm_identity(signed_in("isms_admin"))
    admin.post(reverse("user_mfa_reset", args=[risk_owner.pk]))
    assert sent_to_login(laptop.get(reverse("dashboard")))
    reasons = set(
        AuditEntry.objects.filter(additional_data__event="sessions ended").values_list(
            "additional_data__reason", flat=True
        )
    )
    assert reasons == {"second factors changed", "second factors reset"}


def test_the_security_page_title_is_plain_text(client_for, risk_owner) -> None:
    enrol(confirm_identity(client_for("risk_owner")))
    page = client_for("risk_owner").get(reverse("mfa")).content.decode()
    title = page[page.index("<title>") : page.index("</title>")]
    assert "Two-factor authentication" in title
    assert "<section" not in title
    assert page.count('id="mfa-passkeys-title"') == 1
